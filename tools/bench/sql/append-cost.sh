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
conv="(SELECT id FROM bench_floor_convs WHERE i = CAST(:c AS bigint))"
cat > "$dir/raw.sql" <<SQL
\set c random(1, 8)
INSERT INTO messages (id, organization_id, conversation_id, seq, role, content, message_type, is_streaming, is_complete, model, tokens_used, metadata, created_at, updated_at)
  VALUES (gen_random_uuid(), '$org', $conv, nextval('bench_floor_seq'), 'user', 'a message of about the size the bench sends, a sentence or two of text from a user to an agent', 'text', false, true, 'gpt-4o', 12, '{"source":"bench"}', now(), now());
SQL
# variant <name> <activity: 1 = last_activity_at moves> <event: 0/1> <audit: 0/1>
variant() {
  local activity="" event="" audit=""
  [ "$2" = 1 ] && activity=", last_activity_at = now()"
  [ "$3" = 1 ] && event=", events AS (
  INSERT INTO conversation_events (organization_id, conversation_id, seq, type, payload)
  SELECT m.organization_id, m.conversation_id, (SELECT last_event_seq FROM conv), 'message.created',
         (SELECT to_jsonb(v) FROM (SELECT m.id, m.conversation_id AS \"conversationId\", m.seq, m.role::text AS role, m.content, m.metadata) v)
    FROM m
)"
  [ "$4" = 1 ] && audit="INSERT INTO audit_logs (id, organization_id, at, actor, action, entity_type, entity_id, before, after, request_id, mac)
  VALUES (gen_random_uuid(), '$org', now(), 'key-bench', 'message.append', 'conversation', 'x', NULL,
          '{\"messages\":[{\"id\":\"00000000-0000-4000-8000-000000000000\",\"seq\":1,\"role\":\"user\"}]}', 'req-bench', 'a-hex-mac-of-64-characters-as-the-api-writes-one-for-each-entry-x');"
  cat > "$dir/$1.sql" <<SQL
\set c random(1, 8)
BEGIN ISOLATION LEVEL READ COMMITTED;
SET LOCAL ROLE agenthub_app;
SET LOCAL "app.organization_id" = '$org';
WITH conv AS (
  UPDATE conversations c SET last_seq = c.last_seq + 1, message_count = c.message_count + 1, last_event_seq = c.last_event_seq + 1,
         last_message_at = now(), updated_at = now()$activity
   WHERE c.id = $conv AND c.organization_id = '$org' AND c.status <> 'deleted'
  RETURNING c.id, c.last_seq, c.last_event_seq
), m AS (
  INSERT INTO messages (id, organization_id, conversation_id, seq, role, content, message_type, tool_name, tool_args, tool_call_id, is_streaming, is_complete, model, tokens_used, client_id, metadata, created_at, updated_at)
  SELECT gen_random_uuid(), '$org', conv.id, conv.last_seq, 'user', 'a message of about the size the bench sends, a sentence or two of text from a user to an agent', 'text', NULL, NULL, NULL, false, true, 'gpt-4o', 12, NULL, '{"source":"bench"}', now(), now() FROM conv
  RETURNING *
)$event
SELECT m.id, m.seq FROM m;
$audit
COMMIT;
SQL
}
variant full 1 1 1; variant no-audit 1 1 0; variant no-event 1 0 1; variant hot 0 1 1; variant min 0 0 0
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
