#!/bin/bash
# Streaming replication for the read replica (docker/compose.yml: service postgres-replica): a login role that may
# only replicate, a physical slot so the primary keeps the WAL the replica has not received yet, and a pg_hba line
# that lets that role replicate over the compose network with its password. Runs once, when the data volume is
# initialised.
set -euo pipefail
: "${POSTGRES_REPLICATION_PASSWORD:?set POSTGRES_REPLICATION_PASSWORD in docker/.env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v replication_password="$POSTGRES_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator LOGIN REPLICATION NOSUPERUSER PASSWORD :'replication_password';
SELECT pg_create_physical_replication_slot('agenthub_replica') WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = 'agenthub_replica');
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
