#!/usr/bin/env bash
# The SQL ceiling of an append on this machine, without Node: pgbench runs (a) the raw single-row INSERT of the `api`
# suite's baseline and (b) the API's append transaction statement for statement (BEGIN, the tenant settings, the
# append CTE with its message.created event, the audit entry, COMMIT; the audit sealing that follows each commit is
# left out, so (b) is an upper bound for the API), side by side at the same concurrency, alternating rounds.
# Whatever the API's own CPU, its appends/s cannot exceed (b) here; issue 10's p50 ≤ 20 ms at 16 concurrent
# needs ≥ 16 / 0.020 = 800 appends/s.
#   bash tools/bench/sql/append-floor.sh [clients=16] [seconds=10] [rounds=3]
# Uses the `api` suite's bench database (run `npx tsx tools/bench/src/api.main.ts --quick` once to fill it): one
# organization with 8 active conversations. Writes rows there (the bench truncates that database on its next run).
set -euo pipefail
db=${BENCH_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/agenthub_bench}
clients=${1:-16}; seconds=${2:-10}; rounds=${3:-3}
org=$(psql "$db" -Atc "select organization_id from conversations c where status = 'active' and not exists (select 1 from messages m where m.conversation_id = c.id and m.seq > c.last_seq) group by 1 having count(*) >= 8 limit 1")
[ -n "$org" ] || { echo "no organization with 8 conversations in $db: run the api bench once" >&2; exit 1; }
psql "$db" -q <<SQL
drop table if exists bench_floor_convs;
-- Conversations whose counters match their messages: the api suite's raw side INSERTs messages without moving
-- last_seq, and an append there would collide with them (and pgbench would abort those clients).
create table bench_floor_convs as
  select row_number() over (order by id) as i, id from conversations c
   where organization_id = '$org' and status = 'active'
     and not exists (select 1 from messages m where m.conversation_id = c.id and m.seq > c.last_seq)
   limit 8;
create unique index on bench_floor_convs (i);
grant select on bench_floor_convs to agenthub_app;
create sequence if not exists bench_floor_seq start 1000000000;
SQL
dir=$(mktemp -d); trap "rm -rf $dir" EXIT
. "$(dirname "$0")/append-sql.sh"
write_raw_sql "$dir/raw.sql" "$org"
write_append_sql "$dir/api.sql" "$org" 1 1 1
run() {
  local out tps lat
  out=$(pgbench -n -M prepared -c "$clients" -j 2 -T "$seconds" -f "$dir/$1.sql" "$db" 2>&1) || true
  tps=$(echo "$out" | awk '/^tps/ {print $3}'); lat=$(echo "$out" | awk '/latency average/ {print $4}')
  # A client whose statement fails is aborted and its transactions stop counting: such a run measures nothing.
  if [ -z "$tps" ] || echo "$out" | grep -q "aborted"; then echo "pgbench ($1) failed:" >&2; echo "$out" | grep -m3 -i error >&2; echo "$out" | tail -4 >&2; exit 1; fi
  echo "$1 $tps $lat"
}
echo "clients=$clients seconds=$seconds rounds=$rounds organization=$org"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then a=$(run raw); b=$(run api); else b=$(run api); a=$(run raw); fi
  echo "round $r: raw INSERT ${a#raw } | API transaction ${b#api } (tps, latency avg ms)"
done
