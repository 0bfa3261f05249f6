-- Live events of a conversation (SSE), written in the transaction of the change and replayed on reconnect.
ALTER TABLE "conversations" ADD COLUMN "last_event_seq" INTEGER NOT NULL DEFAULT 0;

CREATE TABLE "conversation_events" (
    "organization_id" UUID NOT NULL,
    "conversation_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "conversation_events_pkey" PRIMARY KEY ("conversation_id","seq")
);
CREATE INDEX "conversation_events_organization_id_idx" ON "conversation_events"("organization_id");
CREATE INDEX "conversation_events_created_at_idx" ON "conversation_events"("created_at");
ALTER TABLE "conversation_events" ADD CONSTRAINT "conversation_events_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "conversation_events" ADD CONSTRAINT "conversation_events_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Row-level security: the second wall behind the API's own organization scoping (libs/db/src/lib/tenancy.ts).
-- The API runs every tenant transaction as the role agenthub_app (SET LOCAL ROLE), which is not the tables' owner
-- and has no BYPASSRLS, with app.organization_id set for that transaction only. A production login role for the
-- API is made a member of agenthub_app (see prisma/README.md). The migration owner, the worker and the CLI connect
-- as the owner and are not subject to the policies (they work across organizations: backups, imports, retention).
-- Creating the role needs CREATEROLE: where the migration user lacks it, a DBA creates the role beforehand.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agenthub_app') THEN
    CREATE ROLE agenthub_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO agenthub_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO agenthub_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO agenthub_app;
REVOKE INSERT, UPDATE, DELETE ON "_prisma_migrations" FROM agenthub_app;
-- Tables of later migrations (run by the same owner) are granted too.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO agenthub_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO agenthub_app;

-- One policy per tenant table: a row is visible and writable only inside a transaction of its organization.
-- Without app.organization_id nothing is visible (nullif turns the unset setting into NULL, which matches no row).
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'api_keys', 'agents', 'conversations', 'messages', 'memories', 'documents',
    'document_chunks', 'payments', 'refunds', 'analytics_events', 'audit_logs', 'audit_chain_heads',
    'idempotency_keys', 'conversation_events']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (organization_id = nullif(current_setting(''app.organization_id'', true), '''')::uuid)',
      t);
  END LOOP;
END
$$;

-- Authentication looks a key up by its hash before the organization is known: that one lookup may see the key row
-- whose hash the transaction names in app.api_key_hash, and nothing else.
CREATE POLICY api_key_lookup ON "api_keys" FOR SELECT
  USING (key_hash = nullif(current_setting('app.api_key_hash', true), ''));
