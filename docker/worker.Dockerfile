# AgentHub worker (scheduled backups, queued backup requests, retention jobs) and the `agenthub` command line.
#   docker build -f docker/worker.Dockerfile -t agenthub-worker .
#   docker run --env-file docker/.env agenthub-worker                      # the worker
#   docker run --env-file docker/.env agenthub-worker node apps/worker/bin/agenthub.js backups list
# Runs TypeScript through @swc-node/register (decorator metadata for NestJS), so the image ships sources, not a build.

FROM node:24.22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/worker/package.json apps/worker/package.json
COPY apps/api/package.json apps/api/package.json
COPY libs/db/package.json libs/db/package.json
# The locked versions, as `npm ci` would install them. Not `npm ci` itself: the registry these builds reach
# serves only this platform's builds of packages with native parts (@swc/core-*, @nx/nx-*), so the lock file cannot
# list the other platforms' optional packages and `npm ci` refuses it (see tools/scripts/setup.sh).
# --ignore-scripts and no compiler: nothing here needs an install script (the importers read SQLite through
# node:sqlite, which is part of Node; the Prisma client is generated below). All dependencies: @swc/core runs the
# TypeScript and the prisma CLI applies migrations on restore, both devDependencies.
RUN npm install --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM node:24.22-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    SWC_NODE_PROJECT=apps/worker/tsconfig.json \
    AGENTHUB_DATA_DIR=/data \
    PRISMA_HIDE_UPDATE_MESSAGE=1
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.base.json prisma.config.ts ./
COPY prisma ./prisma
COPY libs/db ./libs/db
# the ADK importer maps events with @agenthub/adk's mapping (the same rule as the live session service)
COPY libs/adk ./libs/adk
COPY apps/worker ./apps/worker
# The Prisma client is generated into libs/db/src/generated at build time, as root; the worker runs as a system user
# that cannot write to /app (only to /data).
RUN node node_modules/prisma/build/index.js generate \
 && groupadd --system agenthub && useradd --system --gid agenthub --home /app agenthub \
 && mkdir -p /data && chown agenthub:agenthub /data
USER agenthub
VOLUME ["/data"]
CMD ["node", "-r", "@swc-node/register", "apps/worker/src/main.ts"]
