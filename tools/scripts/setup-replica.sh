#!/usr/bin/env bash
# Makes sure a streaming hot-standby replica of the local PostgreSQL primary is running, for the read-replica tests
# and the read-replica bench. Idempotent: every step checks before it acts, so a second run takes ~1 s.
#
# The replica is a second Debian cluster of the same major (default 15/replica on 127.0.0.1:5433), cloned from the
# primary with pg_basebackup and fed through a physical replication slot, so the primary keeps the WAL the replica
# still needs even while the replica is stopped. The same major shares the server's extension dir, so pgvector is
# there too. A replica that is no longer a standby (promoted by a failover drill) or no longer streams from the
# primary is dropped and rebuilt; that is cheap, and far simpler than pg_rewind for a throwaway test replica.
#
# Only a cluster this script created (it carries conf.d/50-agenthub-replica.conf) is ever stopped, dropped or rebuilt.
#
# Usage: setup-replica.sh            create / repair / start the replica, then verify it streams
#        setup-replica.sh --remove   stop and drop the replica cluster and drop its slot on the primary
#
# Env: PRIMARY_PORT (5432), REPLICA_PORT (5433), REPLICA_CLUSTER (replica), SLOT (agenthub_replica),
#      PG_MAJOR (15), PRIMARY_CLUSTER (main).
# Needs: the primary running (tools/scripts/setup-postgres.sh) with trust auth for postgres on 127.0.0.1.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
PRIMARY_CLUSTER=${PRIMARY_CLUSTER:-main}
PRIMARY_PORT=${PRIMARY_PORT:-5432}
REPLICA_PORT=${REPLICA_PORT:-5433}
REPLICA_CLUSTER=${REPLICA_CLUSTER:-replica}
SLOT=${SLOT:-agenthub_replica}
HOST=127.0.0.1

log() { printf '[setup-replica] %s\n' "$*"; }
die() { printf '[setup-replica] ERROR: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# pg_basebackup must write the data dir as the server's owner; cd / so runuser does not complain about root's cwd.
as_postgres() { (cd / && if [ "$(id -un)" = postgres ]; then "$@"; else as_root runuser -u postgres -- "$@"; fi); }

# Names end up inside SQL literals and file paths: keep them boring.
[[ $SLOT =~ ^[a-z0-9_]+$ ]] || die "SLOT must match [a-z0-9_]+ (got '$SLOT')"
[[ $REPLICA_CLUSTER =~ ^[A-Za-z0-9_.-]+$ ]] || die "REPLICA_CLUSTER must be a plain name (got '$REPLICA_CLUSTER')"
# Guard against ever dropping the primary by a mistyped override.
[ "$REPLICA_CLUSTER" != "$PRIMARY_CLUSTER" ] || die "REPLICA_CLUSTER must differ from PRIMARY_CLUSTER ($PRIMARY_CLUSTER)"
[ "$REPLICA_PORT" != "$PRIMARY_PORT" ] || die "REPLICA_PORT must differ from PRIMARY_PORT ($PRIMARY_PORT)"

CONF_DIR=/etc/postgresql/$PG_MAJOR/$REPLICA_CLUSTER
MARKER=$CONF_DIR/conf.d/50-agenthub-replica.conf

# -X: no ~/.psqlrc; -At: bare values. Errors (e.g. "not running") go to stderr and fail the call.
primary_sql() { psql -X -h "$HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -Atqc "$1"; }
replica_sql() { psql -X -h "$HOST" -p "$REPLICA_PORT" -U postgres -d postgres -Atqc "$1"; }

# pg_lsclusters line of the replica: "ver name port status owner datadir logfile", or nothing.
cluster_line() { pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" -v c="$REPLICA_CLUSTER" '$1==v && $2==c' || true; }
cluster_field() { cluster_line | awk -v f="$1" '{print $f}'; }

wait_ready() { # port seconds
  for _ in $(seq 1 "$2"); do pg_isready -q -h "$HOST" -p "$1" && return 0; sleep 1; done
  pg_isready -q -h "$HOST" -p "$1"
}

# ---------------------------------------------------------------------------------------------------------------
# Replication slot on the primary. An inactive leftover slot pins WAL forever, so we never leave one behind.
slot_active() { primary_sql "select active from pg_replication_slots where slot_name = '$SLOT'"; } # t, f or empty

drop_slot() {
  local state
  # A primary cluster that is stopped (the old primary after a failover drill) has no slot to drop now, and dropping
  # that cluster takes the slot with it. Only a stopped cluster: one that is restarting must still lose the slot, or
  # the slot would pin WAL for good.
  if pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" -v c="$PRIMARY_CLUSTER" '$1 == v && $2 == c && $4 == "down" { found = 1 } END { exit !found }'; then
    log "the primary cluster $PG_MAJOR/$PRIMARY_CLUSTER is stopped: leaving its slot $SLOT to go with it"
    return 0
  fi
  state=$(slot_active)
  [ -n "$state" ] || return 0
  # Right after the replica stopped, its walsender may take a moment to exit and release the slot.
  for _ in $(seq 1 10); do [ "$state" = t ] || break; sleep 1; state=$(slot_active); done
  if [ "$state" = t ]; then
    die "slot $SLOT on the primary is in use by pid $(primary_sql "select active_pid from pg_replication_slots where slot_name = '$SLOT'") (another standby?); not dropping it"
  fi
  log "dropping replication slot $SLOT on the primary"
  primary_sql "select pg_drop_replication_slot('$SLOT')" >/dev/null
}

# ---------------------------------------------------------------------------------------------------------------
# The replica's own settings, in a conf.d file that doubles as the "this cluster is ours" marker.
replica_conf() {
  # A hot standby refuses to start if these are lower than on the primary, so mirror the primary's values;
  # shared_preload_libraries too, so e.g. pg_stat_statements works on the replica like on the primary.
  local name
  printf '# Written by tools/scripts/setup-replica.sh: this cluster is the AgentHub test replica (it may be rebuilt).\n'
  printf "listen_addresses = '%s'\n" "$HOST"
  printf 'hot_standby = on\n'
  # Feedback avoids query cancellations on the replica; a 1 s status interval makes replay_lsn on the primary
  # (and so the replay lag the tests and bench look at) current within a second instead of 10 s.
  printf 'hot_standby_feedback = on\n'
  printf 'wal_receiver_status_interval = 1s\n'
  for name in max_connections max_worker_processes max_wal_senders max_prepared_transactions max_locks_per_transaction; do
    printf '%s = %s\n' "$name" "$(primary_sql "show $name")"
  done
  printf "shared_preload_libraries = '%s'\n" "$(primary_sql "show shared_preload_libraries")"
}

write_replica_conf() { # returns 0 if the file changed
  local want
  want=$(replica_conf)
  if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$want" ]; then return 1; fi
  printf '%s\n' "$want" | as_root tee "$MARKER" >/dev/null
  as_root chown postgres:postgres "$MARKER"
  return 0
}

# pg_createcluster's default pg_hba.conf wants passwords over TCP; give the replica the primary's rules instead, so
# the same clients (trust on 127.0.0.1) can read from it.
sync_hba() { # returns 0 if the file changed
  local src dst
  src=$(primary_sql "show hba_file")
  dst=$CONF_DIR/pg_hba.conf
  if as_root cmp -s "$src" "$dst"; then return 1; fi
  as_root install -o postgres -g postgres -m 640 "$src" "$dst"
  return 0
}

start_replica() {
  log "starting cluster $PG_MAJOR/$REPLICA_CLUSTER"
  as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$REPLICA_CLUSTER" start || return 1
  wait_ready "$REPLICA_PORT" 30
}

remove_replica() {
  if [ -n "$(cluster_line)" ]; then
    [ -f "$MARKER" ] || die "cluster $PG_MAJOR/$REPLICA_CLUSTER exists but was not created by this script ($MARKER missing); not touching it"
    log "stopping and dropping cluster $PG_MAJOR/$REPLICA_CLUSTER"
    as_root pg_dropcluster --stop "$PG_MAJOR" "$REPLICA_CLUSTER"
  fi
  drop_slot
}

create_replica() {
  if ss -Htln "sport = :$REPLICA_PORT" | grep -q .; then
    die "port $REPLICA_PORT is already in use by something else ($(ss -Htlnp "sport = :$REPLICA_PORT" | grep -o 'users:.*' | head -1))"
  fi
  log "creating cluster $PG_MAJOR/$REPLICA_CLUSTER on port $REPLICA_PORT"
  as_root pg_createcluster "$PG_MAJOR" "$REPLICA_CLUSTER" -p "$REPLICA_PORT" >/dev/null
  write_replica_conf || true # first thing after creation, so a half-built cluster is still recognised as ours
  sync_hba || true

  local datadir
  datadir=$(cluster_field 6)
  [ -n "$datadir" ] && [ -d "$datadir" ] || die "cannot find the data directory of $PG_MAJOR/$REPLICA_CLUSTER"
  # A slot left by an earlier replica would make -C fail, and its WAL position is of no use to a fresh copy.
  drop_slot
  # pg_createcluster ran initdb; the replica's data dir must instead be a copy of the primary's.
  as_root find "$datadir" -mindepth 1 -delete
  log "cloning the primary ($HOST:$PRIMARY_PORT) into $datadir with pg_basebackup, slot $SLOT"
  # -R writes standby.signal + primary_conninfo, -C -S creates the slot in the same go, -X stream copies the WAL
  # generated during the backup, -c fast avoids waiting for the primary's next checkpoint.
  as_postgres pg_basebackup -h "$HOST" -p "$PRIMARY_PORT" -U postgres -D "$datadir" -R -X stream -C -S "$SLOT" -c fast
  as_root chown -R postgres:postgres "$datadir"
  as_root chmod 700 "$datadir"
  start_replica || die "the new replica did not start; see $(cluster_field 7)"
}

rebuild_replica() { # reason
  log "rebuilding the replica: $1"
  remove_replica
  create_replica
}

# Streaming, as seen from both ends: the replica's walreceiver streams from our primary through our slot, and the
# primary's walsender on that slot is in state "streaming".
is_streaming() {
  [ "$(replica_sql "select count(*) from pg_stat_wal_receiver where status = 'streaming' and sender_port = $PRIMARY_PORT and slot_name = '$SLOT'" 2>/dev/null)" = 1 ] &&
    [ "$(primary_sql "select r.state from pg_replication_slots s join pg_stat_replication r on r.pid = s.active_pid where s.slot_name = '$SLOT'")" = streaming ]
}

wait_streaming() { # seconds
  for _ in $(seq 1 "$1"); do is_streaming && return 0; sleep 1; done
  is_streaming
}

# ---------------------------------------------------------------------------------------------------------------
case "${1:-}" in
  "") ;;
  --remove) remove_replica; log "replica $PG_MAJOR/$REPLICA_CLUSTER and slot $SLOT are gone"; exit 0 ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (use --remove or nothing)" ;;
esac

# 1. The primary is up and can feed a standby.
pg_isready -q -h "$HOST" -p "$PRIMARY_PORT" || die "the primary is not accepting connections on $HOST:$PRIMARY_PORT (run tools/scripts/setup-postgres.sh)"

restart_primary=0
if [ "$(primary_sql "show wal_level")" = minimal ]; then
  log "primary: wal_level is minimal, setting it to replica"
  primary_sql "alter system set wal_level = replica"
  restart_primary=1
fi
for name in max_wal_senders max_replication_slots; do
  if [ "$(primary_sql "show $name")" = 0 ]; then
    log "primary: $name is 0, setting it to 10"
    primary_sql "alter system set $name = 10"
    restart_primary=1
  fi
done
if [ "$restart_primary" = 1 ]; then
  # These three only take effect at server start.
  log "primary: restarting $PG_MAJOR/$PRIMARY_CLUSTER for the new settings"
  as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$PRIMARY_CLUSTER" restart
  wait_ready "$PRIMARY_PORT" 30 || die "the primary did not come back after the restart"
fi

# "host all all ..." does not cover replication connections; they need their own pg_hba line.
HBA=$(primary_sql "show hba_file")
if ! as_root grep -qE '^[[:space:]]*host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust([[:space:]]|$)' "$HBA"; then
  log "primary: allowing local replication connections in $HBA"
  printf '\n# Added by tools/scripts/setup-replica.sh: the local streaming replica.\nhost replication all 127.0.0.1/32 trust\n' | as_root tee -a "$HBA" >/dev/null
  as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$PRIMARY_CLUSTER" reload
fi
log "primary $PG_MAJOR/$PRIMARY_CLUSTER on $HOST:$PRIMARY_PORT is ready for streaming replication"

# 2. The replica exists, runs, is a standby and streams from the primary; otherwise (re)build it.
if [ -z "$(cluster_line)" ]; then
  create_replica
else
  [ -f "$MARKER" ] || die "cluster $PG_MAJOR/$REPLICA_CLUSTER exists but was not created by this script ($MARKER missing); pick another REPLICA_CLUSTER"
  port=$(cluster_field 3)
  if [ "$port" != "$REPLICA_PORT" ]; then
    rebuild_replica "it is configured for port $port, not $REPLICA_PORT"
  else
    if write_replica_conf; then
      log "replica settings changed ($MARKER)"
      if [[ $(cluster_field 4) == online* ]]; then
        log "restarting cluster $PG_MAJOR/$REPLICA_CLUSTER for the new settings"
        as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$REPLICA_CLUSTER" restart || true
      fi
    fi
    if sync_hba; then
      log "replica pg_hba.conf updated from the primary's"
      if [[ $(cluster_field 4) == online* ]]; then
        as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$REPLICA_CLUSTER" reload
      fi
    fi
    if [[ $(cluster_field 4) != online* ]] && ! start_replica; then
      rebuild_replica "it does not start (see $(cluster_field 7))"
    elif [ "$(replica_sql "select pg_is_in_recovery()")" != t ]; then
      rebuild_replica "it is not a standby any more (promoted, e.g. by a failover drill)"
    elif ! wait_streaming 10; then
      rebuild_replica "it is a standby but does not stream from $HOST:$PRIMARY_PORT through slot $SLOT"
    fi
  fi
fi

# 3. Verify from both ends and report.
wait_streaming 20 || die "the replica on $HOST:$REPLICA_PORT is not streaming from the primary after 20 s; see $(cluster_field 7)"
[ "$(replica_sql "select pg_is_in_recovery()")" = t ] || die "the replica on $HOST:$REPLICA_PORT is not in recovery"
IFS='|' read -r state lag < <(primary_sql "select r.state, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint::text, 'unknown')
  from pg_replication_slots s join pg_stat_replication r on r.pid = s.active_pid where s.slot_name = '$SLOT'")
log "ready: primary $HOST:$PRIMARY_PORT -> replica $HOST:$REPLICA_PORT ($PG_MAJOR/$REPLICA_CLUSTER, slot $SLOT): $state, replay lag $lag bytes"
