#!/usr/bin/env bash
# npm run setup:native — the native Pulsar driver (SAGA_PULSAR_DRIVER=native) on a machine
# where pulsar-client cannot download its prebuilt library:
#
#   1. Debian build dependencies (apt; skipped when present),
#   2. libpulsar, Apache Pulsar's C++ client, built from the vendored source tarball into a
#      project-local prefix (.native/pulsar-cpp, ignored by git); reused while the tarball's
#      sha256 is the one it was built from, and kept in a per-user cache
#      (~/.cache/xstate-saga-runtime) so a fresh clone on the same machine does not build again,
#   3. the pulsar-client addon built from source against that prefix (rpath to it, so no
#      LD_LIBRARY_PATH is needed), then loaded once to prove it works.
#
# Nothing goes under /usr/local. Each step prints its time.
#
# Environment (optional):
#   PULSAR_CPP_TARBALL  the source tarball (default: ../shared/vendor/ next to the repo, else
#                       /work/shared/vendor/), pulsar-client-cpp-4.2.0.tar.gz
#   NATIVE_JOBS         parallel build jobs (default: the number of cores)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSION=4.2.0
NAME="pulsar-client-cpp-$VERSION"
PREFIX="$ROOT/.native/pulsar-cpp"
BUILD="$ROOT/.native/build"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/xstate-saga-runtime"
JOBS="${NATIVE_JOBS:-$(nproc)}"
DEPS=(g++ make cmake libssl-dev libcurl4-openssl-dev libprotobuf-dev protobuf-compiler libboost-dev zlib1g-dev libzstd-dev libsnappy-dev)

log() { printf 'setup:native: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
step() { # step <label> <command...>: runs it and prints how long it took
  local label="$1" t0=$SECONDS
  shift
  "$@"
  log "$label done in $(( SECONDS - t0 )) s"
}

find_tarball() {
  local candidate
  for candidate in "${PULSAR_CPP_TARBALL:-}" "$ROOT/../shared/vendor/$NAME.tar.gz" "/work/shared/vendor/$NAME.tar.gz"; do
    if [[ -n "$candidate" && -f "$candidate" ]]; then echo "$candidate"; return; fi
  done
  die "no $NAME.tar.gz: set PULSAR_CPP_TARBALL to the source of Apache Pulsar's C++ client $VERSION"
}

install_deps() {
  local missing=() pkg
  for pkg in "${DEPS[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if (( ${#missing[@]} == 0 )); then log "build dependencies present"; return; fi
  local sudo=""
  [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build_libpulsar() { # $1 = tarball, $2 = its sha256
  local src="$BUILD/$NAME"
  rm -rf "$BUILD" "$PREFIX"
  mkdir -p "$BUILD"
  tar xzf "$1" -C "$BUILD"
  cmake -S "$src" -B "$BUILD/out" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DINTEGRATE_VCPKG=OFF -DBUILD_TESTS=OFF -DBUILD_PERF_TOOLS=OFF -DBUILD_STATIC_LIB=OFF \
    -DBUILD_DYNAMIC_LIB=ON -DLINK_STATIC=OFF >"$BUILD/cmake.log" 2>&1 || { tail -n 40 "$BUILD/cmake.log" >&2; die "cmake failed (log: $BUILD/cmake.log)"; }
  cmake --build "$BUILD/out" --target pulsarShared -j "$JOBS" >"$BUILD/build.log" 2>&1 || { tail -n 40 "$BUILD/build.log" >&2; die "build failed (log: $BUILD/build.log)"; }
  mkdir -p "$PREFIX/lib" "$PREFIX/include"
  cp -a "$src/include/pulsar" "$PREFIX/include/"
  cp -a "$BUILD/out/include/pulsar/." "$PREFIX/include/pulsar/" 2>/dev/null || true # generated headers (Version.h)
  cp -a "$BUILD/out/lib/"libpulsar.so* "$PREFIX/lib/"
  echo "$2" >"$PREFIX/.source-sha256"
  rm -rf "$BUILD"
}

libpulsar() { # reuse the prefix, or the cache, or build
  local tarball sha
  tarball="$(find_tarball)"
  sha="$(sha256sum "$tarball" | cut -d' ' -f1)"
  if [[ -f "$PREFIX/.source-sha256" && "$(cat "$PREFIX/.source-sha256")" == "$sha" ]]; then
    log "libpulsar $VERSION already built in $PREFIX"
    return
  fi
  local cached="$CACHE/libpulsar-$VERSION-$sha.tar.gz"
  if [[ -f "$cached" ]]; then
    rm -rf "$PREFIX" && mkdir -p "$PREFIX"
    tar xzf "$cached" -C "$PREFIX"
    log "libpulsar $VERSION restored from $cached"
    return
  fi
  log "building libpulsar $VERSION from $tarball with $JOBS jobs (a few minutes)"
  build_libpulsar "$tarball" "$sha"
  mkdir -p "$CACHE"
  tar czf "$cached.tmp" -C "$PREFIX" . && mv "$cached.tmp" "$cached"
}

addon() { # pulsar-client's install builds its addon from source when the prebuilt download fails
  cd "$ROOT"
  local version
  version="$(node -p "require('./package.json').optionalDependencies['pulsar-client']")"
  export CPLUS_INCLUDE_PATH="$PREFIX/include" LIBRARY_PATH="$PREFIX/lib" LDFLAGS="-Wl,-rpath,$PREFIX/lib"
  export npm_config_nodedir=/usr JOBS="$JOBS"
  if [[ -d node_modules/pulsar-client ]]; then
    npm rebuild pulsar-client --foreground-scripts >"$ROOT/.native/addon.log" 2>&1 || { tail -n 40 "$ROOT/.native/addon.log" >&2; die "the pulsar-client addon did not build (log: .native/addon.log)"; }
  else
    npm install --no-save --no-audit --no-fund --foreground-scripts "pulsar-client@$version" >"$ROOT/.native/addon.log" 2>&1 || { tail -n 40 "$ROOT/.native/addon.log" >&2; die "pulsar-client did not install (log: .native/addon.log)"; }
  fi
  node -e "require('pulsar-client'); console.error('setup:native: pulsar-client loads, linked against ' + process.argv[1])" "$PREFIX/lib"
}

mkdir -p "$ROOT/.native"
t0=$SECONDS
step "build dependencies" install_deps
step "libpulsar" libpulsar
step "pulsar-client addon" addon
log "ready in $(( SECONDS - t0 )) s: SAGA_PULSAR_DRIVER=native uses it"
