#!/usr/bin/env bash
# Local Apache Pulsar standalone broker for tests, resolved from Maven Central.
#
#   bash tools/pulsar/pulsar.sh start [--auth]|stop|status|smoke|resolve|clean
#
# start    resolve jars into .pulsar/lib if needed (mvn), launch the broker in the
#          background (pid in .pulsar/broker.pid, log in .pulsar/broker.log) and
#          return once a WebSocket produce/consume round trip works. Idempotent.
#          --auth (or PULSAR_AUTH=token): token authentication and authorization on;
#          the secret key and tokens are generated once under $PULSAR_STATE_DIR/auth
#          (mode 600) and the client token's path is printed (export PULSAR_TOKEN).
# stop     SIGTERM, then SIGKILL after PULSAR_STOP_TIMEOUT seconds; removes the pid file.
# status   prints running/stopped; exit 0 if running, 1 if stopped.
# smoke    one WebSocket round trip against the running broker (tools/pulsar/ws-smoke.mjs).
# resolve  only download/copy the jars.
# clean    delete the broker data (.pulsar/data); the broker must be stopped.
#
# Environment (all optional):
#   PULSAR_WEB_PORT (8080)  PULSAR_BROKER_PORT (6650)  PULSAR_BOOKIE_PORT (3181)
#   PULSAR_START_TIMEOUT (180 s)  PULSAR_STOP_TIMEOUT (30 s)
#   PULSAR_JAVA_HOME  JDK to run the broker with (default: newest JDK 21..25 under /usr/lib/jvm,
#                     else newest >= 17)
#   PULSAR_MEM        heap/direct memory flags (default "-Xms256m -Xmx1g -XX:MaxDirectMemorySize=512m")
#   PULSAR_EXTRA_OPTS extra JVM flags
#   PULSAR_STATE_DIR  state folder (default <repo>/.pulsar)
#   PULSAR_LIB_DIR    jar folder (default $PULSAR_STATE_DIR/lib): another instance's lib
#                     saves copying 235 MB for a second broker
#   PULSAR_AUTH       token | none (default none); `start --auth` is PULSAR_AUTH=token
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/pom.xml"
BASE_CONF="$SCRIPT_DIR/standalone.conf"
SMOKE="$SCRIPT_DIR/ws-smoke.mjs"
AUTH_TOOL="$SCRIPT_DIR/auth-tokens.mjs"

STATE_DIR="${PULSAR_STATE_DIR:-$ROOT/.pulsar}"
LIB_DIR="${PULSAR_LIB_DIR:-$STATE_DIR/lib}"
AUTH_DIR="$STATE_DIR/auth"
CLIENT_ROLE=saga-client
DATA_DIR="$STATE_DIR/data"
PID_FILE="$STATE_DIR/broker.pid"
LOG_FILE="$STATE_DIR/broker.log"
EFFECTIVE_CONF="$STATE_DIR/standalone.effective.conf"
LOG4J_CONF="$STATE_DIR/log4j2.properties"

WEB_PORT="${PULSAR_WEB_PORT:-8080}"
BROKER_PORT="${PULSAR_BROKER_PORT:-6650}"
BOOKIE_PORT="${PULSAR_BOOKIE_PORT:-3181}"
START_TIMEOUT="${PULSAR_START_TIMEOUT:-180}"
STOP_TIMEOUT="${PULSAR_STOP_TIMEOUT:-30}"
AUTH_MODE="${PULSAR_AUTH:-none}"
PULSAR_MEM="${PULSAR_MEM:--Xms256m -Xmx1g -XX:MaxDirectMemorySize=512m}"
MIN_JAVA=21            # Pulsar 4.0.x LTS: Java 21 is the documented broker runtime (bytecode targets 17)
MAX_PREFERRED_JAVA=25  # newest JDK this setup was verified with (Temurin 25)

log() { printf 'pulsar.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

pulsar_version() {
  sed -n 's:.*<pulsar.version>\(.*\)</pulsar.version>.*:\1:p' "$POM" | head -n1
}

# --- Java selection ---------------------------------------------------------
java_major() { # $1 = JAVA_HOME
  local v=""
  if [[ -f "$1/release" ]]; then
    v="$(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "$1/release")"
  fi
  if [[ -z "$v" && -x "$1/bin/java" ]]; then
    v="$("$1/bin/java" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
  fi
  v="${v#1.}"
  echo "${v%%[.+-]*}"
}

pick_java_home() {
  # PULSAR_JAVA_HOME wins; else the newest JDK 21..25 under /usr/lib/jvm (or
  # $JAVA_HOME); else the newest JDK >= 17 (Pulsar 4.0.x is compiled for 17 and
  # starts on it, but 21 is the supported broker runtime for the 4.0 LTS line).
  if [[ -n "${PULSAR_JAVA_HOME:-}" ]]; then
    [[ -x "$PULSAR_JAVA_HOME/bin/java" ]] || die "PULSAR_JAVA_HOME=$PULSAR_JAVA_HOME has no bin/java"
    echo "$PULSAR_JAVA_HOME"; return
  fi
  local pref="" pref_major=0 any="" any_major=0 d m
  for d in /usr/lib/jvm/*/ ${JAVA_HOME:+"$JAVA_HOME/"}; do
    d="${d%/}"
    [[ -x "$d/bin/java" && ! -L "$d" ]] || continue
    m="$(java_major "$d")"
    [[ "$m" =~ ^[0-9]+$ ]] || continue
    if (( m >= MIN_JAVA && m <= MAX_PREFERRED_JAVA && m > pref_major )); then pref="$d"; pref_major="$m"; fi
    if (( m >= 17 && m > any_major )); then any="$d"; any_major="$m"; fi
  done
  if [[ -n "$pref" ]]; then echo "$pref"; return; fi
  [[ -n "$any" ]] || die "no JDK >= 17 found under /usr/lib/jvm (set PULSAR_JAVA_HOME)"
  (( any_major >= MIN_JAVA )) || log "WARNING: no JDK >= $MIN_JAVA found, running Pulsar on Java $any_major ($any)"
  echo "$any"
}

# --- process helpers --------------------------------------------------------
read_pid() { [[ -f "$PID_FILE" ]] && tr -dc '0-9' < "$PID_FILE" || true; }

is_running() { # a live process with our pid that really is the standalone broker
  local pid; pid="$(read_pid)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'PulsarStandaloneStarter'
}

port_busy() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

# --- jars ---------------------------------------------------------------------
resolve_jars() {
  local version marker
  version="$(pulsar_version)"
  marker="$LIB_DIR/.resolved-$version"
  if [[ -f "$marker" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found (needed once to resolve Pulsar $version jars)"
  log "resolving Pulsar $version jars from Maven Central into $LIB_DIR (first run only) ..."
  rm -rf "$LIB_DIR"
  mkdir -p "$LIB_DIR"
  if ! mvn -q -B -f "$POM" -Dpulsar.lib.dir="$LIB_DIR" process-resources >"$STATE_DIR/mvn.log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$STATE_DIR/mvn.log" | grep -v '^\s*$' | tail -n 30 >&2 || true
    rm -rf "$LIB_DIR"
    die "mvn failed to resolve Pulsar $version (full output: $STATE_DIR/mvn.log)"
  fi
  ls "$LIB_DIR"/pulsar-broker-"$version".jar >/dev/null 2>&1 || die "pulsar-broker-$version.jar missing after mvn"
  touch "$marker"
  log "resolved $(ls "$LIB_DIR"/*.jar | wc -l) jars ($(du -sh "$LIB_DIR" | cut -f1))"
}

# --- token authentication -----------------------------------------------------
# The mode the running broker was started with (from its generated config).
running_auth() {
  if [[ -f "$EFFECTIVE_CONF" ]] && grep -q '^authenticationEnabled=true' "$EFFECTIVE_CONF"; then echo token; else echo none; fi
}

# Generates (once) the HS256 secret key and the admin and client tokens, mode 600.
ensure_auth_files() {
  command -v node >/dev/null || die "node not found (needed to generate the auth tokens)"
  node "$AUTH_TOOL" init "$AUTH_DIR"
}

# Overrides that turn token authentication and authorization on. The standalone broker
# validates tokens with the secret key; its own internal client (which also serves the
# WebSocket API's producers and consumers, and creates public/default at first start) uses
# the admin token, a superuser. The WebSocket service is part of the broker, so it checks
# the same settings: a client without a valid token gets HTTP 401 on the upgrade.
auth_overrides() {
  cat <<CONF
authenticationEnabled=true
authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken
tokenSecretKey=file://$AUTH_DIR/secret.key
authorizationEnabled=true
superUserRoles=admin
brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken
brokerClientAuthenticationParameters=file://$AUTH_DIR/admin.token
CONF
}

# curl against the admin API, as the superuser when authentication is on.
admin_curl() {
  if [[ "$(running_auth)" == token ]]; then
    curl -H "Authorization: Bearer $(cat "$AUTH_DIR/admin.token")" "$@"
  else
    curl "$@"
  fi
}

# The client role may produce and consume in public/default (idempotent).
grant_client() {
  admin_curl -sf -m 5 -X POST -H 'Content-Type: application/json' -d '["produce","consume"]' \
    "http://127.0.0.1:$WEB_PORT/admin/v2/namespaces/public/default/permissions/$CLIENT_ROLE" >/dev/null
}

# --- config files generated at start ----------------------------------------
write_runtime_files() {
  mkdir -p "$DATA_DIR"
  { cat "$BASE_CONF"
    printf '\n### --- overrides written by pulsar.sh --- ###\n'
    printf 'webServicePort=%s\nbrokerServicePort=%s\n' "$WEB_PORT" "$BROKER_PORT"
    if [[ "$AUTH_MODE" == token ]]; then auth_overrides; fi
  } > "$EFFECTIVE_CONF"
  cat > "$LOG4J_CONF" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} [%t] %-5level %logger{1.} - %msg%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.zk.name = org.apache.zookeeper
logger.zk.level = warn
logger.bkproto.name = org.apache.bookkeeper.proto
logger.bkproto.level = warn
EOF
}

# --- readiness ----------------------------------------------------------------
admin_ready() {
  admin_curl -sf -m 3 "http://127.0.0.1:$WEB_PORT/admin/v2/clusters" 2>/dev/null | grep -q standalone
}

run_smoke() { # $1 = timeout ms
  command -v node >/dev/null || die "node not found (needed for the WebSocket smoke test)"
  local -a tokens=()
  if [[ "$(running_auth)" == token ]]; then
    # The round trip as the client role, the admin API calls as the superuser.
    tokens=(--token-file "$AUTH_DIR/client.token" --admin-token-file "$AUTH_DIR/admin.token")
  fi
  (cd "$ROOT" && PULSAR_WEB_PORT="$WEB_PORT" node "$SMOKE" --web "127.0.0.1:$WEB_PORT" --timeout "${1:-15000}" "${tokens[@]}")
}

wait_ready() { # $1 = deadline (epoch seconds); returns 0 when a round trip worked
  local deadline="$1" pid last_err=""
  pid="$(read_pid)"
  while :; do
    if ! is_running; then
      log "ERROR: the broker process (pid $pid) exited during startup; last log lines:"
      tail -n 60 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      return 2
    fi
    if admin_ready; then
      if [[ "$(running_auth)" == token ]] && ! grant_client; then
        last_err="could not grant $CLIENT_ROLE produce/consume on public/default"
      elif last_err="$(run_smoke 15000 2>&1 >/dev/null)"; then
        return 0
      fi
    fi
    if (( $(date +%s) >= deadline )); then
      log "ERROR: broker not ready within ${START_TIMEOUT}s${last_err:+ (last smoke error: $last_err)}; last log lines:"
      tail -n 60 "$LOG_FILE" >&2 || true
      return 1
    fi
    sleep 1
  done
}

# --- commands -----------------------------------------------------------------
cmd_start() {
  local t0 java_home major pid deadline rc
  t0="$(date +%s)"
  mkdir -p "$STATE_DIR"
  deadline=$(( t0 + START_TIMEOUT ))
  if is_running; then
    [[ "$(running_auth)" == "$AUTH_MODE" ]] \
      || die "already running (pid $(read_pid)) with authentication '$(running_auth)', not '$AUTH_MODE'; stop it first to change"
    log "already running (pid $(read_pid)); checking it is ready ..."
    wait_ready "$deadline" || die "running broker is not healthy"
    log "already running and ready (pid $(read_pid)) on ws://127.0.0.1:$WEB_PORT / pulsar://127.0.0.1:$BROKER_PORT"
    print_auth_hint
    return 0
  fi
  rm -f "$PID_FILE"
  for p in "$WEB_PORT" "$BROKER_PORT" "$BOOKIE_PORT"; do
    port_busy "$p" && die "port $p is already in use by another process (see: ss -ltnp 'sport = :$p')"
  done

  resolve_jars
  if [[ "$AUTH_MODE" == token ]]; then ensure_auth_files; fi
  write_runtime_files
  java_home="$(pick_java_home)"
  major="$(java_major "$java_home")"

  local -a opts
  # shellcheck disable=SC2206  # PULSAR_MEM / PULSAR_EXTRA_OPTS are word-split on purpose
  opts=(
    $PULSAR_MEM
    -XX:+UseG1GC -XX:+PerfDisableSharedMem -XX:+ExitOnOutOfMemoryError
    -Djava.net.preferIPv4Stack=true
    -Dlog4j.configurationFile="$LOG4J_CONF" -Dlog4j2.is.webapp=false -Dlog4j.shutdownHookEnabled=false
    -Dio.netty.tryReflectionSetAccessible=true -Dio.netty.recycler.maxCapacityPerThread=4096
    -Dpulsar.allocator.exit_on_oom=true
    -Dbookkeeper.metadata.bookie.drivers=org.apache.pulsar.metadata.bookkeeper.PulsarMetadataBookieDriver
    -Dbookkeeper.metadata.client.drivers=org.apache.pulsar.metadata.bookkeeper.PulsarMetadataClientDriver
    --add-opens java.base/java.io=ALL-UNNAMED --add-opens java.base/java.util.zip=ALL-UNNAMED
    --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/jdk.internal.misc=ALL-UNNAMED
    --add-opens java.base/sun.net=ALL-UNNAMED --add-opens java.management/sun.management=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/jdk.internal.platform=ALL-UNNAMED
  )
  if (( major >= 24 )); then
    # JNI (RocksDB, netty epoll) and sun.misc.Unsafe (netty) warnings on JDK 24+.
    opts+=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow)
  fi
  # shellcheck disable=SC2206
  opts+=(${PULSAR_EXTRA_OPTS:-})

  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  log "starting Pulsar $(pulsar_version) standalone with Java $major ($java_home); log: $LOG_FILE"
  (
    cd "$ROOT"
    exec 9>&-   # do not let the broker inherit the lock held by this script
    exec setsid "$java_home/bin/java" "${opts[@]}" -cp "$LIB_DIR/*" \
      org.apache.pulsar.PulsarStandaloneStarter \
      --config "$EFFECTIVE_CONF" \
      --no-functions-worker --no-stream-storage \
      --metadata-dir "$DATA_DIR/metadata" \
      --bookkeeper-dir "$DATA_DIR/bookkeeper" \
      --zookeeper-dir "$DATA_DIR/zookeeper-unused" \
      --bookkeeper-port "$BOOKIE_PORT" \
      --advertised-address 127.0.0.1
  ) </dev/null >"$LOG_FILE" 2>&1 &
  pid=$!
  echo "$pid" > "$PID_FILE"
  sleep 0.5
  rc=0
  wait_ready "$deadline" || rc=$?
  if (( rc == 0 )); then
    log "ready in $(( $(date +%s) - t0 ))s (pid $pid): http://127.0.0.1:$WEB_PORT ws://127.0.0.1:$WEB_PORT/ws/v2 pulsar://127.0.0.1:$BROKER_PORT"
    print_auth_hint
    return 0
  fi
  if (( rc == 1 )); then
    log "stopping the unhealthy broker"
    cmd_stop >/dev/null 2>&1 || true
  fi
  exit 1
}

print_auth_hint() {
  [[ "$(running_auth)" == token ]] || return 0
  log "token authentication is on; client token (role $CLIENT_ROLE, produce+consume on public/default): $AUTH_DIR/client.token"
  log "  export PULSAR_TOKEN=\"\$(cat $AUTH_DIR/client.token)\""
  log "superuser token (admin API, other namespaces): $AUTH_DIR/admin.token"
}

cmd_stop() {
  local pid i
  pid="$(read_pid)"
  if [[ -z "$pid" ]] || ! is_running; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid (SIGTERM, SIGKILL after ${STOP_TIMEOUT}s) ..."
  kill -TERM "$pid" 2>/dev/null || true
  for (( i = 0; i < STOP_TIMEOUT * 10; i++ )); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for (( i = 0; i < 50; i++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  if is_running; then
    echo "running (pid $(read_pid)) http://127.0.0.1:$WEB_PORT pulsar://127.0.0.1:$BROKER_PORT auth=$(running_auth)"
    if [[ "$(running_auth)" == token ]]; then echo "client token: $AUTH_DIR/client.token"; fi
    return 0
  fi
  [[ -f "$PID_FILE" ]] && rm -f "$PID_FILE"   # stale pid file
  echo "stopped"
  return 1
}

cmd_clean() {
  is_running && die "broker is running; stop it first"
  rm -rf "$DATA_DIR"
  log "removed $DATA_DIR"
}

lock_state() { # serialize start/stop/clean of the same state dir (e.g. parallel test runners)
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  flock -w $(( START_TIMEOUT + STOP_TIMEOUT + 600 )) 9 || die "could not lock $STATE_DIR/.lock"
}

case "${1:-}" in
  start)
    case "${2:-}" in
      --auth) AUTH_MODE=token ;;
      '') ;;
      *) echo "usage: $0 start [--auth]" >&2; exit 2 ;;
    esac
    [[ "$AUTH_MODE" == token || "$AUTH_MODE" == none ]] || die "PULSAR_AUTH must be token or none, got '$AUTH_MODE'"
    lock_state; cmd_start ;;
  stop)    lock_state; cmd_stop ;;
  status)  cmd_status ;;
  smoke)   is_running || die "broker is not running"; run_smoke 15000 ;;
  resolve) mkdir -p "$STATE_DIR"; resolve_jars ;;
  clean)   lock_state; cmd_clean ;;
  *) echo "usage: $0 start [--auth]|stop|status|smoke|resolve|clean" >&2; exit 2 ;;
esac
