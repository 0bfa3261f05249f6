# AgentHub REST API (NestJS + Fastify) on port 3000; OpenAPI UI at /api/docs.
#   docker build -f docker/api.Dockerfile -t agenthub-api .
#   docker run -p 3000:3000 -e DATABASE_URL=postgresql://… -e AGENTHUB_ADMIN_TOKEN=… agenthub-api
# Applies pending migrations on start (AGENTHUB_MIGRATE_ON_START=false to leave that to `nx run migrate`).
# Runs TypeScript through @swc-node/register (decorator metadata for NestJS), so the image ships sources, not a build.

FROM node:24.22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/api/package.json apps/api/package.json
COPY apps/worker/package.json apps/worker/package.json
COPY libs/db/package.json libs/db/package.json
# The locked versions, as `npm ci` would install them. Not `npm ci` itself: the registry these builds reach
# serves only this platform's builds of packages with native parts (@swc/core-*, @nx/nx-*), so the lock file cannot
# list the other platforms' optional packages and `npm ci` refuses it (see tools/scripts/setup.sh).
# --ignore-scripts: the API needs no install script (the Prisma client is generated below). All dependencies:
# @swc/core runs the TypeScript and the prisma CLI applies migrations at start, both devDependencies.
RUN npm install --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM node:24.22-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    SWC_NODE_PROJECT=apps/api/tsconfig.json \
    HOST=0.0.0.0 \
    PORT=3000 \
    AGENTHUB_DATA_DIR=/data \
    PRISMA_HIDE_UPDATE_MESSAGE=1
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.base.json prisma.config.ts ./
COPY prisma ./prisma
COPY libs/db ./libs/db
COPY apps/api ./apps/api
# The Prisma client is generated into libs/db/src/generated at build time, as root; the app runs as a system user
# that cannot write to /app.
RUN node node_modules/prisma/build/index.js generate \
 && groupadd --system agenthub && useradd --system --gid agenthub --home /app agenthub \
 && mkdir -p /data && chown agenthub:agenthub /data
USER agenthub
EXPOSE 3000
# No curl in the slim image: Node's fetch asks the readiness route (200 only with the database up and migrated).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is the process that receives SIGTERM and runs the graceful shutdown (SHUTDOWN_GRACE_MS).
CMD ["node", "-r", "@swc-node/register", "apps/api/src/main.ts"]
