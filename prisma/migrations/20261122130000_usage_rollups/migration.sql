-- Hourly usage per organization and agent, so that GET /analytics/usage reads one row per hour and agent instead of
-- scanning conversations, messages and analytics events. agent_key is the agent, or the all-zero uuid for activity
-- without one (a primary key cannot hold NULL).
--
-- Writers never touch usage_rollups: statement-level triggers INSERT one row per (hour, agent) a statement touched
-- into usage_rollup_deltas, so concurrent writers share no lock. AnalyticsRepository folds an organization's deltas
-- into usage_rollups when its usage is read, and foldUsage() folds every organization (for a scheduled job).
-- Counts are activity as recorded: purging deleted conversations or old events later does not rewrite history.
CREATE TABLE "usage_rollups" (
    "organization_id" UUID NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "agent_key" UUID NOT NULL,
    "conversations" BIGINT NOT NULL DEFAULT 0,
    "messages" BIGINT NOT NULL DEFAULT 0,
    "tokens" BIGINT NOT NULL DEFAULT 0,
    "events" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "usage_rollups_pkey" PRIMARY KEY ("organization_id", "bucket", "agent_key")
);
ALTER TABLE "usage_rollups" ADD CONSTRAINT "usage_rollups_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE TABLE "usage_rollup_deltas" (
    "id" BIGSERIAL NOT NULL,
    "organization_id" UUID NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "agent_key" UUID NOT NULL,
    "conversations" BIGINT NOT NULL DEFAULT 0,
    "messages" BIGINT NOT NULL DEFAULT 0,
    "tokens" BIGINT NOT NULL DEFAULT 0,
    "events" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "usage_rollup_deltas_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "usage_rollup_deltas_organization_id_idx" ON "usage_rollup_deltas"("organization_id");
ALTER TABLE "usage_rollup_deltas" ADD CONSTRAINT "usage_rollup_deltas_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- What exists already.
INSERT INTO "usage_rollups" ("organization_id", "bucket", "agent_key", "conversations", "messages", "tokens", "events")
SELECT organization_id, bucket, agent_key, sum(conversations), sum(messages), sum(tokens), sum(events)
  FROM (
    SELECT organization_id, date_trunc('hour', created_at, 'UTC') AS bucket, agent_id AS agent_key,
           count(*) AS conversations, 0 AS messages, 0 AS tokens, 0 AS events
      FROM conversations GROUP BY 1, 2, 3
    UNION ALL
    SELECT m.organization_id, date_trunc('hour', m.created_at, 'UTC'), c.agent_id, 0, count(*), coalesce(sum(m.tokens_used), 0), 0
      FROM messages m JOIN conversations c ON c.id = m.conversation_id GROUP BY 1, 2, 3
    UNION ALL
    SELECT organization_id, date_trunc('hour', occurred_at, 'UTC'), coalesce(agent_id, '00000000-0000-0000-0000-000000000000'::uuid),
           0, 0, 0, count(*)
      FROM analytics_events GROUP BY 1, 2, 3
  ) activity
 GROUP BY 1, 2, 3;

CREATE FUNCTION usage_rollup_conversations_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_rollup_deltas (organization_id, bucket, agent_key, conversations)
  SELECT organization_id, date_trunc('hour', created_at, 'UTC'), agent_id, count(*)
    FROM new_rows GROUP BY 1, 2, 3;
  RETURN NULL;
END
$$;
CREATE TRIGGER usage_rollup AFTER INSERT ON conversations
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_rollup_conversations_inserted();

-- Messages count towards their conversation's agent.
CREATE FUNCTION usage_rollup_messages_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_rollup_deltas (organization_id, bucket, agent_key, messages, tokens)
  SELECT n.organization_id, date_trunc('hour', n.created_at, 'UTC'), c.agent_id, count(*), coalesce(sum(n.tokens_used), 0)
    FROM new_rows n JOIN conversations c ON c.id = n.conversation_id
   GROUP BY 1, 2, 3;
  RETURN NULL;
END
$$;
CREATE TRIGGER usage_rollup AFTER INSERT ON messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_rollup_messages_inserted();

-- A streamed message gets its token count when it completes. A row trigger with WHEN fires only for that
-- (statement triggers with transition tables cannot be limited to a column).
CREATE FUNCTION usage_rollup_message_tokens_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_rollup_deltas (organization_id, bucket, agent_key, tokens)
  SELECT NEW.organization_id, date_trunc('hour', NEW.created_at, 'UTC'), c.agent_id,
         coalesce(NEW.tokens_used, 0) - coalesce(OLD.tokens_used, 0)
    FROM conversations c WHERE c.id = NEW.conversation_id;
  RETURN NULL;
END
$$;
CREATE TRIGGER usage_rollup_tokens AFTER UPDATE OF tokens_used ON messages
  FOR EACH ROW WHEN (OLD.tokens_used IS DISTINCT FROM NEW.tokens_used) EXECUTE FUNCTION usage_rollup_message_tokens_changed();

CREATE FUNCTION usage_rollup_events_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_rollup_deltas (organization_id, bucket, agent_key, events)
  SELECT organization_id, date_trunc('hour', occurred_at, 'UTC'), coalesce(agent_id, '00000000-0000-0000-0000-000000000000'::uuid), count(*)
    FROM new_rows GROUP BY 1, 2, 3;
  RETURN NULL;
END
$$;
CREATE TRIGGER usage_rollup AFTER INSERT ON analytics_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_rollup_events_inserted();

-- Tenant tables: the same row-level security as every other (migration 20261122100000).
GRANT SELECT, INSERT, UPDATE, DELETE ON "usage_rollups", "usage_rollup_deltas" TO agenthub_app;
GRANT USAGE, SELECT ON SEQUENCE "usage_rollup_deltas_id_seq" TO agenthub_app;
ALTER TABLE "usage_rollups" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "usage_rollup_deltas" ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "usage_rollups"
  USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON "usage_rollup_deltas"
  USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
