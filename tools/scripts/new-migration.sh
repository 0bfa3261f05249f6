#!/usr/bin/env bash
# Writes a new migration from the change to prisma/schema.prisma since a git revision (default HEAD):
#   bash tools/scripts/new-migration.sh add_something [REV]
# It diffs the two *datamodels* (no database, no shadow database), so the objects written by hand in earlier
# migrations (generated tsvector columns, HNSW/GIN indexes, CHECKs) are never seen and never dropped.
# Why not `prisma migrate dev`: its WASM schema engine crashes ("RuntimeError: unreachable") when it
# introspects a database that holds those hand-written objects.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: new-migration.sh <name> [git-rev]}
rev=${2:-HEAD}
old=$(mktemp --suffix=.prisma)
trap 'rm -f "$old"' EXIT
git show "$rev:prisma/schema.prisma" > "$old"
# The diff reads no tables, but the CLI opens its adapter first; give it PostgreSQL (tools/scripts/setup-postgres.sh):
# with the embedded database this command prints its SQL and then never exits (the CLI does not exit by itself).
sql=$(DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/agenthub} npx --no-install prisma migrate diff --from-schema-datamodel "$old" --to-schema-datamodel prisma/schema.prisma --script 2>/dev/null)
if [ -z "$(echo "$sql" | grep -v '^--' | grep -v '^\s*$' || true)" ]; then
  echo "no schema change since $rev"; exit 0
fi
dir="prisma/migrations/$(date -u +%Y%m%d%H%M%S)_${name}"
mkdir -p "$dir"
printf '%s\n' "$sql" > "$dir/migration.sql"
echo "wrote $dir/migration.sql — read it, then apply with: npx nx run migrate"
