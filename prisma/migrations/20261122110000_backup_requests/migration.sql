-- Backups requested through the API (POST /api/v1/backups) wait as 'queued' until a worker picks them up.
-- The existing (status, started_at) index serves the worker's pick-up query. The new value is not used in this
-- migration: PostgreSQL refuses a value added in the same transaction.
ALTER TYPE "backup_status" ADD VALUE IF NOT EXISTS 'queued';
