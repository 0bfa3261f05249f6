#!/bin/bash
# The read replica: on an empty volume, a base backup of the primary (pg_basebackup -R writes standby.signal and
# primary_conninfo), streaming through the slot 03-replication.sh created; then PostgreSQL as a hot standby. A
# replica that was promoted (a failover) keeps its data: to make it a replica again, empty its volume.
set -euo pipefail
: "${POSTGRES_REPLICATION_PASSWORD:?set POSTGRES_REPLICATION_PASSWORD in docker/.env}"
export PGPASSWORD="$POSTGRES_REPLICATION_PASSWORD"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h "$PRIMARY_HOST" -p 5432 -q; do echo "waiting for the primary at $PRIMARY_HOST"; sleep 1; done
  pg_basebackup -h "$PRIMARY_HOST" -p 5432 -U replicator -D "$PGDATA" -R -X stream -S agenthub_replica --progress
  chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on -c wal_receiver_status_interval=1s -c max_connections=200
