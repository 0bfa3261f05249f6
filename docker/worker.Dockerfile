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
COPY prisma ./prisma
COPY prisma.config.ts ./
# All dependencies: @swc/core (runs the TypeScript) and prisma (restore applies migrations) are devDependencies.
# No install script and no compiler: the importers read SQLite through node:sqlite, which is part of Node.
RUN npm ci --ignore-scripts --no-audit --no-fund

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
COPY apps/worker ./apps/worker
# The Prisma client is generated into libs/db/src/generated at build time.
RUN node node_modules/prisma/build/index.js generate \
 && groupadd --system agenthub && useradd --system --gid agenthub --home /app agenthub \
 && mkdir -p /data && chown agenthub:agenthub /data
USER agenthub
VOLUME ["/data"]
CMD ["node", "-r", "@swc-node/register", "apps/worker/src/main.ts"]
