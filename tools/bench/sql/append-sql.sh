# Sourced by append-floor.sh and append-cost.sh: the pgbench scripts of the raw INSERT and of the API's append
# transaction, statement for statement, on the 8 conversations of bench_floor_convs (append-floor.sh creates it).
# (The time format's colons are spelled chr(58): pgbench would take `:MI` for a variable.)
BENCH_CONV="(SELECT id FROM bench_floor_convs WHERE i = CAST(:c AS bigint))"
BENCH_ISO_CREATED="to_char(m.created_at AT TIME ZONE 'UTC', replace('YYYY-MM-DD\"T\"HH24#MI#SS.MS\"Z\"', '#', chr(58)))"

# write_raw_sql <file> <organization>: the plain single-row INSERT of the api suite's baseline.
write_raw_sql() {
  cat > "$1" <<SQL
\set c random(1, 8)
INSERT INTO messages (id, organization_id, conversation_id, seq, role, content, message_type, is_streaming, is_complete, model, tokens_used, metadata, created_at, updated_at)
  VALUES (gen_random_uuid(), '$2', $BENCH_CONV, nextval('bench_floor_seq'), 'user', 'a message of about the size the bench sends, a sentence or two of text from a user to an agent', 'text', false, true, 'gpt-4o', 12, '{"source":"bench"}', now(), now());
SQL
}

# write_append_sql <file> <organization> <activity> <event> <audit>: the API's append transaction (BEGIN, the tenant
# settings, the append CTE, the audit entry, COMMIT); 0 for <activity> leaves last_activity_at alone (the conversation
# row can then be updated in place, HOT), 0 for <event> / <audit> leaves the message.created event / the audit entry out.
write_append_sql() {
  local activity="" event="" audit=""
  [ "$3" = 1 ] && activity=", last_activity_at = now()"
  [ "$4" = 1 ] && event=", events AS (
  INSERT INTO conversation_events (organization_id, conversation_id, seq, type, payload)
  SELECT m.organization_id, m.conversation_id, (SELECT last_event_seq FROM conv), 'message.created',
         (SELECT to_jsonb(v) FROM (SELECT m.id, m.conversation_id AS \"conversationId\", m.seq, m.role::text AS role, m.content, m.metadata,
                 $BENCH_ISO_CREATED AS \"createdAt\") v)
    FROM m
)"
  [ "$5" = 1 ] && audit="INSERT INTO audit_logs (id, organization_id, at, actor, action, entity_type, entity_id, before, after, request_id, mac)
  VALUES (gen_random_uuid(), '$2', now(), 'key-bench', 'message.append', 'conversation', $BENCH_CONV::text, NULL,
          '{\"messages\":[{\"id\":\"00000000-0000-4000-8000-000000000000\",\"seq\":1,\"role\":\"user\"}]}', 'req-bench', 'a-hex-mac-of-64-characters-as-the-api-writes-one-for-each-entry-x');"
  cat > "$1" <<SQL
\set c random(1, 8)
BEGIN ISOLATION LEVEL READ COMMITTED;
SET LOCAL ROLE agenthub_app;
SET LOCAL "app.organization_id" = '$2';
WITH conv AS (
  UPDATE conversations c SET last_seq = c.last_seq + 1, message_count = c.message_count + 1, last_event_seq = c.last_event_seq + 1,
         last_message_at = now(), updated_at = now()$activity
   WHERE c.id = $BENCH_CONV AND c.organization_id = '$2' AND c.status <> 'deleted'
  RETURNING c.id, c.last_seq, c.last_event_seq
), m AS (
  INSERT INTO messages (id, organization_id, conversation_id, seq, role, content, message_type, tool_name, tool_args, tool_call_id, is_streaming, is_complete, model, tokens_used, client_id, metadata, created_at, updated_at)
  SELECT gen_random_uuid(), '$2', conv.id, conv.last_seq, 'user', 'a message of about the size the bench sends, a sentence or two of text from a user to an agent', 'text', NULL, NULL, NULL, false, true, 'gpt-4o', 12, NULL, '{"source":"bench"}', now(), now() FROM conv
  RETURNING *
)$event
SELECT m.id, m.seq, m.content, m.metadata, $BENCH_ISO_CREATED AS "createdAt" FROM m;
$audit
COMMIT;
SQL
}
