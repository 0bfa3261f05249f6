-- CreateTable
CREATE TABLE "langgraph_threads" (
    "organization_id" UUID NOT NULL,
    "thread_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "langgraph_threads_pkey" PRIMARY KEY ("organization_id","thread_id")
);

-- CreateTable
CREATE TABLE "langgraph_checkpoints" (
    "organization_id" UUID NOT NULL,
    "thread_id" TEXT NOT NULL,
    "checkpoint_ns" TEXT NOT NULL DEFAULT '',
    "checkpoint_id" TEXT NOT NULL,
    "parent_checkpoint_id" TEXT,
    "checkpoint" JSONB NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "langgraph_checkpoints_pkey" PRIMARY KEY ("organization_id","thread_id","checkpoint_ns","checkpoint_id")
);

-- CreateTable
CREATE TABLE "langgraph_checkpoint_blobs" (
    "organization_id" UUID NOT NULL,
    "thread_id" TEXT NOT NULL,
    "checkpoint_ns" TEXT NOT NULL DEFAULT '',
    "channel" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "blob" BYTEA,

    CONSTRAINT "langgraph_checkpoint_blobs_pkey" PRIMARY KEY ("organization_id","thread_id","checkpoint_ns","channel","version")
);

-- CreateTable
CREATE TABLE "langgraph_checkpoint_writes" (
    "organization_id" UUID NOT NULL,
    "thread_id" TEXT NOT NULL,
    "checkpoint_ns" TEXT NOT NULL DEFAULT '',
    "checkpoint_id" TEXT NOT NULL,
    "task_id" TEXT NOT NULL,
    "idx" INTEGER NOT NULL,
    "channel" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "blob" BYTEA NOT NULL,
    "task_path" TEXT NOT NULL DEFAULT '',

    CONSTRAINT "langgraph_checkpoint_writes_pkey" PRIMARY KEY ("organization_id","thread_id","checkpoint_ns","checkpoint_id","task_id","idx")
);

-- CreateIndex
CREATE INDEX "langgraph_threads_organization_id_updated_at_idx" ON "langgraph_threads"("organization_id", "updated_at");

-- CreateIndex
CREATE INDEX "langgraph_checkpoints_organization_id_checkpoint_id_idx" ON "langgraph_checkpoints"("organization_id", "checkpoint_id");

-- AddForeignKey
ALTER TABLE "langgraph_threads" ADD CONSTRAINT "langgraph_threads_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "langgraph_checkpoints" ADD CONSTRAINT "langgraph_checkpoints_organization_id_thread_id_fkey" FOREIGN KEY ("organization_id", "thread_id") REFERENCES "langgraph_threads"("organization_id", "thread_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "langgraph_checkpoint_blobs" ADD CONSTRAINT "langgraph_checkpoint_blobs_organization_id_thread_id_fkey" FOREIGN KEY ("organization_id", "thread_id") REFERENCES "langgraph_threads"("organization_id", "thread_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "langgraph_checkpoint_writes" ADD CONSTRAINT "langgraph_checkpoint_writes_organization_id_thread_id_fkey" FOREIGN KEY ("organization_id", "thread_id") REFERENCES "langgraph_threads"("organization_id", "thread_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Hand-written: checkpoint ids are compared and ordered as bytes (they are time-ordered uuid6 text, and "before"
-- and "newest" must not depend on the database's locale).
ALTER TABLE "langgraph_checkpoints" ALTER COLUMN "checkpoint_id" TYPE TEXT COLLATE "C";
ALTER TABLE "langgraph_checkpoints" ALTER COLUMN "parent_checkpoint_id" TYPE TEXT COLLATE "C";
ALTER TABLE "langgraph_checkpoint_writes" ALTER COLUMN "checkpoint_id" TYPE TEXT COLLATE "C";

-- Row-level security, as on every tenant table (see 20261122100000_row_level_security_and_conversation_events).
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['langgraph_threads', 'langgraph_checkpoints', 'langgraph_checkpoint_blobs', 'langgraph_checkpoint_writes']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (organization_id = nullif(current_setting(''app.organization_id'', true), '''')::uuid)',
      t);
  END LOOP;
END
$$;
