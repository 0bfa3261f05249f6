-- DropForeignKey
ALTER TABLE "conversation_events" DROP CONSTRAINT "conversation_events_organization_id_fkey";

-- DropIndex
DROP INDEX "conversation_events_organization_id_idx";

-- Hand-written note: events are deleted with their conversation (conversation_events_conversation_id_fkey,
-- ON DELETE CASCADE), and conversations with their organization. The organization's own foreign key made every
-- append take a key-share lock on the organization row, and its index was written on every append and read by nothing
