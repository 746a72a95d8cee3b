# syntax=docker/dockerfile:1
# Multi-stage image of the time-stamp server. `docker compose up` builds and runs it (docs/deployment.md).

# Node 24 LTS (Node 20 reached end of life in April 2026); docs/deployment.md, Node versions.
# build: every dependency, compile TypeScript to dist/.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json openapi.yaml ./
COPY src ./src
RUN npm run build
# What `timestamp-server version` and timestamp_authority_build_info report (make up passes them).
ARG GIT_VERSION=devel
ARG GIT_COMMIT=unknown
ARG GIT_TREE_STATE=unknown
ARG BUILD_DATE=unknown
RUN printf '{"gitVersion":"%s","gitCommit":"%s","gitTreeState":"%s","buildDate":"%s"}\n' \
  "$GIT_VERSION" "$GIT_COMMIT" "$GIT_TREE_STATE" "$BUILD_DATE" > build-info.json

# loadtest: the build stage plus the load test (docker-compose's loadtest service).
FROM build AS loadtest
COPY test/loadtest ./test/loadtest
# A client needs no root: the files stay root's, read-only to it.
USER node
ENTRYPOINT ["npm", "run", "--silent", "loadtest", "--"]

# deps: production dependencies only, in their own layer. Install scripts stay off except for
# pkcs11js (the PKCS#11 signer's native binding), which has no prebuilt binaries and is compiled here.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm rebuild pkcs11js

# deploy: the runtime, as the unprivileged `node` user.
FROM node:24-bookworm-slim AS deploy
ENV NODE_ENV=production
# The container's only default that differs from the server's (a container must listen on every
# interface). An image default, neither HOST nor a flag: HOST would beat a mounted --config's
# `host:` (the environment wins over the file) and a flag in CMD would beat `docker run -e` too;
# TIMESTAMP_SERVER_DEFAULT_HOST is below both (docs/configuration.md). Port 3000 and the memory
# signer are the server's own defaults.
ENV TIMESTAMP_SERVER_DEFAULT_HOST=0.0.0.0
# chrony: chronyc for --time-source chrony, and chronyd for the optional NTS sidecar (same image);
# ca-certificates: the trust store chronyd checks NTS servers' certificates against;
# /run/chrony-shared: where a volume shared with the sidecar is mounted (node's, so a fresh
# Docker volume is too).
RUN apt-get update \
  && apt-get install -y --no-install-recommends chrony ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && install -d -o node -g node /run/chrony-shared
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/build-info.json ./
COPY package.json openapi.yaml LICENSE NOTICE ./
USER node
EXPOSE 3000 2112
# /livez, not /ping: /ping is 503 while the clock is drifted, and a restart would not fix the clock.
# The port is $PORT's (the server's default 3000), so `-e PORT=8080` moves the check with it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/livez').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli/timestamp-server.js"]
# No option flags: they would beat -e variables and a mounted config file (docs/deployment.md).
CMD ["serve"]
