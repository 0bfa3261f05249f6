-- Written by hand (Prisma's schema cannot state a partial index): a message found by its clientId across the
-- organization (GET /api/v1/messages?clientId=, a framework's storage adapter looking a message up by its own id).
-- Partial: appends without a clientId pay nothing for it.
CREATE INDEX "messages_organization_id_client_id_idx" ON "messages" ("organization_id", "client_id") WHERE "client_id" IS NOT NULL;
