#!/usr/bin/env bash
# One-time (and repeatable) set-up of a checkout: installs the npm dependencies from the lock file and
# generates the Prisma client. Needs nothing else for the embedded database.
# With --postgres it also makes sure a local PostgreSQL with pgvector runs (tools/scripts/setup-postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

stamp=node_modules/.agenthub-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing npm dependencies from package-lock.json"
  # Not `npm ci`: the registry these machines reach serves only this platform's builds of packages with native
  # parts (@swc/core-*, @nx/nx-*), so the lock file cannot list the other platforms' optional packages, and
  # `npm ci` refuses a lock that lacks them. `npm install` installs the locked versions all the same.
  npm install --no-audit --no-fund
  echo "$want" > "$stamp"
else
  echo "[setup] npm dependencies up to date"
fi
echo "[setup] generating the Prisma client"
npx --no-install prisma generate >/dev/null
if [ "${1:-}" = "--postgres" ]; then
  bash tools/scripts/setup-postgres.sh
fi
echo "[setup] done"
