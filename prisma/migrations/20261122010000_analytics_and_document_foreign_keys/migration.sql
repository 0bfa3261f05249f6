-- CreateIndex
CREATE INDEX "documents_agent_id_idx" ON "documents"("agent_id");

-- CreateIndex
CREATE INDEX "analytics_events_organization_id_agent_id_occurred_at_idx" ON "analytics_events"("organization_id", "agent_id", "occurred_at");

-- CreateIndex
CREATE INDEX "analytics_events_conversation_id_idx" ON "analytics_events"("conversation_id");

-- CreateIndex
CREATE INDEX "analytics_events_user_id_idx" ON "analytics_events"("user_id");

-- AddForeignKey
ALTER TABLE "documents" ADD CONSTRAINT "documents_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "analytics_events" ADD CONSTRAINT "analytics_events_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "analytics_events" ADD CONSTRAINT "analytics_events_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

