# One image for every service of the saga (coordinator, vuelos, pagos, gds, notificaciones);
# docker-compose.yml runs it once per service, each with its own `command`.
#
#   docker build -t aeroalpes-sagas .
#   docker run --rm aeroalpes-sagas                     # the coordinator (see CMD)
#
# Node 20 is the runtime the project is tested on (package.json: engines.node >= 20.17.0).

# --- build: dependencies, with the tools sqlite3's native addon needs when no prebuilt
# binary fits (node-gyp: python3, make, g++). The runtime stage does not carry them.
FROM node:20.20.2-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Exactly the lockfile; no devDependencies (tsx, the TypeScript runner, is a dependency).
RUN npm ci --omit=dev --no-audit --no-fund

# --- runtime
FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production
# `npx tsx …` runs tsx through npm's script shell. With the default (/bin/sh, dash) the shell
# stays in between and dies on SIGTERM, leaving the service running until Docker kills it;
# bash execs tsx, so npm's forwarded SIGTERM reaches it and the service shuts down cleanly.
ENV NPM_CONFIG_SCRIPT_SHELL=/bin/bash \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY machines ./machines
COPY runtime ./runtime
COPY db ./db
COPY services ./services
# The sources stay root-owned and read-only for the app; only ./data (the SQLite default,
# unused when DATABASE_URL names MySQL) is writable. `node` (uid 1000) comes with the image.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000 3001 3002 3003 3004
# A small young and old generation and two malloc arenas keep each service under 150 MB of RSS
# (services/config.ts SERVICE_NODE_ARGS and SERVICE_ENV).
ENV NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=96" MALLOC_ARENA_MAX=2
CMD ["npx", "tsx", "services/service-main.ts", "coordinator"]
