-- DropIndex
DROP INDEX "conversations_organization_id_agent_id_last_activity_at_idx";

-- DropIndex
DROP INDEX "conversations_organization_id_user_id_last_activity_at_idx";

-- DropIndex
DROP INDEX "conversations_agent_id_idx";

-- DropIndex
DROP INDEX "conversations_user_id_idx";

-- CreateIndex
CREATE INDEX "conversations_agent_id_last_activity_at_id_idx" ON "conversations"("agent_id", "last_activity_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "conversations_user_id_last_activity_at_id_idx" ON "conversations"("user_id", "last_activity_at" DESC, "id" DESC);
