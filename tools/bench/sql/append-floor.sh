#!/usr/bin/env bash
# The SQL ceiling of an append on this machine, without Node: pgbench runs (a) the raw single-row INSERT of the `api`
# suite's baseline and (b) the API's append transaction statement for statement (BEGIN, the tenant settings, the
# append CTE with its message.created event, the audit entry, COMMIT; the audit sealing that follows each commit is
# left out, so (b) is an upper bound for the API), side by side at the same concurrency, alternating rounds.
# Whatever the API's own CPU, its appends/s cannot exceed (b) here; issue 10's p50 ≤ 20 ms at 16 concurrent
# needs ≥ 16 / 0.020 = 800 appends/s.
#   bash tools/bench/sql/append-floor.sh [clients=16] [seconds=10] [rounds=3]
# (The time format's colons are spelled chr(58): pgbench would take `:MI` for a variable.)
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
cat > "$dir/raw.sql" <<SQL
\set c random(1, 8)
INSERT INTO messages (id, organization_id, conversation_id, seq, role, content, message_type, is_streaming, is_complete, model, tokens_used, metadata, created_at, updated_at)
  VALUES (gen_random_uuid(), '$org', (SELECT id FROM bench_floor_convs WHERE i = CAST(:c AS bigint)), nextval('bench_floor_seq'), 'user', 'a message of about the size the bench sends, a sentence or two of text from a user to an agent', 'text', false, true, 'gpt-4o', 12, '{"source":"bench"}', now(), now());
SQL
cat > "$dir/api.sql" <<SQL
\set c random(1, 8)
BEGIN ISOLATION LEVEL READ COMMITTED;
SET LOCAL ROLE agenthub_app;
SET LOCAL "app.organization_id" = '$org';
WITH conv AS (
  UPDATE conversations c SET last_seq = c.last_seq + 1, message_count = c.message_count + 1, last_event_seq = c.last_event_seq + 1,
         last_message_at = now(), last_activity_at = now(), updated_at = now()
   WHERE c.id = (SELECT id FROM bench_floor_convs WHERE i = CAST(:c AS bigint)) AND c.organization_id = '$org' AND c.status <> 'deleted'
  RETURNING c.id, c.last_seq, c.last_event_seq
), m AS (
  INSERT INTO messages (id, organization_id, conversation_id, seq, role, content, message_type, tool_name, tool_args, tool_call_id, is_streaming, is_complete, model, tokens_used, client_id, metadata, created_at, updated_at)
  SELECT gen_random_uuid(), '$org', conv.id, conv.last_seq, 'user', 'a message of about the size the bench sends, a sentence or two of text from a user to an agent', 'text', NULL, NULL, NULL, false, true, 'gpt-4o', 12, NULL, '{"source":"bench"}', now(), now() FROM conv
  RETURNING *
), events AS (
  INSERT INTO conversation_events (organization_id, conversation_id, seq, type, payload)
  SELECT m.organization_id, m.conversation_id, (SELECT last_event_seq FROM conv), 'message.created',
         (SELECT to_jsonb(v) FROM (SELECT m.id, m.conversation_id AS "conversationId", m.seq, m.role::text AS role, m.content, m.metadata,
                 to_char(m.created_at AT TIME ZONE 'UTC', replace('YYYY-MM-DD"T"HH24#MI#SS.MS"Z"', '#', chr(58))) AS "createdAt") v)
    FROM m
)
SELECT m.id, m.seq, m.content, m.metadata, to_char(m.created_at AT TIME ZONE 'UTC', replace('YYYY-MM-DD"T"HH24#MI#SS.MS"Z"', '#', chr(58))) AS "createdAt" FROM m;
INSERT INTO audit_logs (id, organization_id, at, actor, action, entity_type, entity_id, before, after, request_id, mac)
  VALUES (gen_random_uuid(), '$org', now(), 'key-bench', 'message.append', 'conversation', (SELECT id FROM bench_floor_convs WHERE i = CAST(:c AS bigint))::text, NULL,
          '{"messages":[{"id":"00000000-0000-4000-8000-000000000000","seq":1,"role":"user"}]}', 'req-bench', 'a-hex-mac-of-64-characters-as-the-api-writes-one-for-each-entry-x');
COMMIT;
SQL
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
