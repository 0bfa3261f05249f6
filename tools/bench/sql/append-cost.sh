#!/usr/bin/env bash
# Where the SQL cost of an append lies, without Node: pgbench runs the raw single-row INSERT and variants of the API's
# append transaction, each side by side with the INSERT (alternating, same clients), and prints each variant's rate as
# a ratio of the INSERT's:
#   full      the API's transaction as append-floor.sh runs it (conversation UPDATE, message INSERT, its
#             message.created event, the audit entry), one statement per round trip
#   no-audit  without the audit entry
#   no-event  without the message.created event
#   hot       the conversation UPDATE leaves last_activity_at alone, the one column of it that the conversation list
#             indexes hold: PostgreSQL can update the row in place (HOT) instead of adding an entry to each of its
#             five indexes. Not what the API does: "newest activity first" needs that column current.
#   min       hot, no event, no audit: the counters and the message only
#   bash tools/bench/sql/append-cost.sh [clients=16] [seconds=5] [rounds=3]
# Uses the database and the 8 conversations append-floor.sh sets up (run `bash tools/bench/sql/append-floor.sh` once
# after the api bench). pgbench sends one statement per round trip where the API sends the whole transaction in
# one; the ratios are of the database's work, not the API's.
set -euo pipefail
db=${BENCH_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/agenthub_bench}
clients=${1:-16}; seconds=${2:-5}; rounds=${3:-3}
org=$(psql "$db" -Atc "select c.organization_id from bench_floor_convs b join conversations c on c.id = b.id limit 1" 2>/dev/null || true)
[ -n "$org" ] || { echo "no bench_floor_convs in $db: run tools/bench/sql/append-floor.sh once" >&2; exit 1; }
dir=$(mktemp -d); trap "rm -rf $dir" EXIT
. "$(dirname "$0")/append-sql.sh"
write_raw_sql "$dir/raw.sql" "$org"
for v in "full 1 1 1" "no-audit 1 1 0" "no-event 1 0 1" "hot 0 1 1" "min 0 0 0"; do
  set -- $v; write_append_sql "$dir/$1.sql" "$org" "$2" "$3" "$4"
done
run() {
  local out tps
  out=$(pgbench -n -M prepared -c "$clients" -j 2 -T "$seconds" -f "$dir/$1.sql" "$db" 2>&1) || true
  tps=$(echo "$out" | awk '/^tps/ {print $3}')
  if [ -z "$tps" ] || echo "$out" | grep -q "aborted"; then echo "pgbench ($1) failed:" >&2; echo "$out" | grep -m3 -i error >&2; exit 1; fi
  echo "$tps"
}
echo "clients=$clients seconds=$seconds rounds=$rounds organization=$org (ratio = variant tps / raw INSERT tps, side by side)"
for r in $(seq 1 "$rounds"); do
  line="round $r:"
  for v in full no-audit no-event hot min; do
    if [ $((r % 2)) -eq 1 ]; then a=$(run raw); b=$(run "$v"); else b=$(run "$v"); a=$(run raw); fi
    line="$line $v $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f×", b / a }')"
  done
  echo "$line"
done
