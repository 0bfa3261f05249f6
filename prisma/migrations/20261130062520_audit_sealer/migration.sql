-- AlterTable
ALTER TABLE "audit_logs" ADD COLUMN     "mac" TEXT,
ADD COLUMN     "sealed_at" TIMESTAMPTZ(3),
ALTER COLUMN "seq" DROP NOT NULL,
ALTER COLUMN "prev_hash" DROP NOT NULL,
ALTER COLUMN "hash" DROP NOT NULL;

-- CreateIndex
CREATE INDEX "audit_logs_organization_id_at_id_idx" ON "audit_logs"("organization_id", "at", "id");

-- Hand-written: the audit sealer (AuditLogRepository, AuditSealer in libs/db).
-- A request inserts its audit entry pending (no seq, prev_hash or hash) with a MAC of its content, and the sealer
-- chains committed entries shortly afterwards, so writes of one organization no longer queue on the head row.
-- Rows sealed before this migration have no MAC. Every row is either sealed (seq, prev_hash and hash together)
-- or pending with a MAC.
ALTER TABLE "audit_logs" ADD CONSTRAINT "audit_logs_sealed_or_mac_check" CHECK (seq IS NOT NULL OR mac IS NOT NULL);
ALTER TABLE "audit_logs" ADD CONSTRAINT "audit_logs_sealed_together_check"
  CHECK ((seq IS NULL AND prev_hash IS NULL AND hash IS NULL) OR (seq IS NOT NULL AND prev_hash IS NOT NULL AND hash IS NOT NULL));

-- What the sealer reads: an organization's pending entries in (at, id) order. Small, as entries leave it when sealed.
CREATE INDEX "audit_logs_pending_idx" ON "audit_logs" ("organization_id", "at", "id") WHERE seq IS NULL;

-- The sealer's sweep finds organizations with entries left pending (by a process that crashed before sealing, or
-- by another replica). The API's role sees only one organization's rows under row-level security, so this
-- function, run with its owner's rights, answers that one question and returns nothing but organization ids.
CREATE FUNCTION audit_pending_organizations(min_age interval) RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT organization_id FROM audit_logs WHERE seq IS NULL AND at <= now() - min_age
$$;
REVOKE ALL ON FUNCTION audit_pending_organizations(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_pending_organizations(interval) TO agenthub_app;
