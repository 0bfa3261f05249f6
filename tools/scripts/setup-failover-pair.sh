#!/usr/bin/env bash
# Creates a FRESH throwaway primary + streaming standby pair for one failover drill (issue 16 item 4,
# apps/api/test/failover.e2e-spec.ts). Every run starts from scratch: a drill stops the primary and promotes the
# standby, so the previous pair is of no use; dropping and recreating it takes a few seconds.
#
#   15/drill         on 127.0.0.1:5434  the primary, with the database agenthub_drill (+ pgvector), trust auth on
#                                       127.0.0.1 (the main cluster's pg_hba.conf)
#   15/drillstandby  on 127.0.0.1:5435  its hot standby, built by tools/scripts/setup-replica.sh (pg_basebackup,
#                                       physical slot drill_standby)
#
# Replication is SYNCHRONOUS (synchronous_standby_names = '*' on the primary, synchronous_commit on): a commit
# returns only once the standby has flushed its WAL. With asynchronous streaming, a commit acknowledged just before
# the primary is stopped with -m immediate can be missing on the promoted standby — PostgreSQL losing an
# acknowledged write, which the drill would blame on the API. DRILL_SYNCHRONOUS=off builds an asynchronous pair.
# The setting lives in the primary's conf.d (not in its data directory), so the standby, once promoted, does not
# wait for a standby of its own.
#
# The API reaches the pair with a libpq-style multi-host URL (printed at the end):
#   postgresql://postgres@127.0.0.1:5434,127.0.0.1:5435/agenthub_drill?target_session_attrs=read-write
#
# Only clusters this script (or setup-replica.sh) created are dropped: each carries a marker file in its conf.d.
# The main cluster (15/main, 5432) and the test replica (15/replica, 5433) are refused as names and ports.
#
# Usage: setup-failover-pair.sh            drop the pair if it exists, then create, start and verify a fresh one
#        setup-failover-pair.sh --remove   stop and drop both clusters (the slot goes with the primary)
#
# Env: DRILL_PORT (5434), DRILL_STANDBY_PORT (5435), DRILL_CLUSTER (drill), DRILL_STANDBY_CLUSTER (drillstandby),
#      DRILL_SLOT (drill_standby), DRILL_DATABASE (agenthub_drill), DRILL_SYNCHRONOUS (on), PG_MAJOR (15),
#      HBA_SOURCE (the pg_hba.conf to copy; default the one of 15/main).
# Needs: root (or sudo), PostgreSQL $PG_MAJOR with pgvector installed server-wide, pg_createcluster & co.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
PRIMARY_CLUSTER=${DRILL_CLUSTER:-drill}
PRIMARY_PORT=${DRILL_PORT:-5434}
STANDBY_CLUSTER=${DRILL_STANDBY_CLUSTER:-drillstandby}
STANDBY_PORT=${DRILL_STANDBY_PORT:-5435}
SLOT=${DRILL_SLOT:-drill_standby}
DATABASE=${DRILL_DATABASE:-agenthub_drill}
SYNCHRONOUS=${DRILL_SYNCHRONOUS:-on}
HBA_SOURCE=${HBA_SOURCE:-/etc/postgresql/$PG_MAJOR/main/pg_hba.conf}
HOST=127.0.0.1
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STARTED=$(date +%s%N)

log() { printf '[setup-failover-pair] %s\n' "$*"; }
die() { printf '[setup-failover-pair] ERROR: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Names end up in SQL, file paths and pg_lsclusters filters: keep them boring.
for pair in "DRILL_CLUSTER=$PRIMARY_CLUSTER" "DRILL_STANDBY_CLUSTER=$STANDBY_CLUSTER"; do
  [[ ${pair#*=} =~ ^[A-Za-z0-9_.-]+$ ]] || die "${pair%%=*} must be a plain name (got '${pair#*=}')"
done
[[ $SLOT =~ ^[a-z0-9_]+$ ]] || die "DRILL_SLOT must match [a-z0-9_]+ (got '$SLOT')"
[[ $DATABASE =~ ^[a-z0-9_]+$ ]] || die "DRILL_DATABASE must match [a-z0-9_]+ (got '$DATABASE')"
[[ $SYNCHRONOUS =~ ^(on|off)$ ]] || die "DRILL_SYNCHRONOUS must be on or off (got '$SYNCHRONOUS')"
# Never the clusters other tests use, whatever the overrides say.
for name in "$PRIMARY_CLUSTER" "$STANDBY_CLUSTER"; do
  case $name in main | replica) die "refusing to use cluster $PG_MAJOR/$name: it belongs to the other tests" ;; esac
done
for port in "$PRIMARY_PORT" "$STANDBY_PORT"; do
  [[ $port =~ ^[0-9]+$ ]] || die "ports must be numbers (got '$port')"
  case $port in 5432 | 5433) die "refusing port $port: the main cluster and the test replica use it" ;; esac
done
[ "$PRIMARY_CLUSTER" != "$STANDBY_CLUSTER" ] || die "DRILL_CLUSTER and DRILL_STANDBY_CLUSTER must differ"
[ "$PRIMARY_PORT" != "$STANDBY_PORT" ] || die "DRILL_PORT and DRILL_STANDBY_PORT must differ"

PRIMARY_MARKER=/etc/postgresql/$PG_MAJOR/$PRIMARY_CLUSTER/conf.d/50-agenthub-drill.conf
SYNC_CONF=/etc/postgresql/$PG_MAJOR/$PRIMARY_CLUSTER/conf.d/60-agenthub-drill-sync.conf
# What tools/scripts/setup-replica.sh writes into the clusters it creates.
STANDBY_MARKER=/etc/postgresql/$PG_MAJOR/$STANDBY_CLUSTER/conf.d/50-agenthub-replica.conf

# Bounded: a statement that waits (e.g. for a synchronous standby that is not there) must not hang the script.
primary_sql() { timeout 60 psql -X -h "$HOST" -p "$PRIMARY_PORT" -U postgres -d "${2:-postgres}" -v ON_ERROR_STOP=1 -Atqc "$1"; }
standby_sql() { timeout 60 psql -X -h "$HOST" -p "$STANDBY_PORT" -U postgres -d "${2:-postgres}" -v ON_ERROR_STOP=1 -Atqc "$1"; }

cluster_exists() { pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" -v c="$1" '$1==v && $2==c {found=1} END {exit !found}'; }

wait_ready() { # port seconds
  for _ in $(seq 1 "$2"); do pg_isready -q -h "$HOST" -p "$1" && return 0; sleep 1; done
  pg_isready -q -h "$HOST" -p "$1"
}

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

drop_cluster() { # name marker
  local etc=/etc/postgresql/$PG_MAJOR/$1
  if cluster_exists "$1"; then
    [ -f "$2" ] || die "cluster $PG_MAJOR/$1 exists but was not created for the drill ($2 missing); not touching it"
    log "stopping and dropping cluster $PG_MAJOR/$1"
    # Stopped first with -m immediate (it is thrown away, no checkpoint needed), whatever its state: running,
    # stopped by a drill, promoted. --stop then finds it down.
    as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$1" stop -m immediate >/dev/null 2>&1 || true
    as_root pg_dropcluster --stop "$PG_MAJOR" "$1"
  fi
  # pg_dropcluster removes only the files pg_createcluster wrote: conf.d with our markers stays behind, and
  # pg_createcluster reuses the directory. A leftover 60-agenthub-drill-sync.conf would make the new primary wait
  # for a synchronous standby that does not exist yet (CREATE DATABASE hangs), so nothing of it may survive.
  if [ -d "$etc" ]; then
    [ -f "$2" ] || die "$etc is left over from a cluster that was not created for the drill ($2 missing); not touching it"
    as_root rm -rf "$etc"
  fi
}

remove_pair() {
  # The standby first: its walreceiver would otherwise keep reconnecting to a primary being dropped. The slot
  # lives in the primary's data directory and goes with it (a promoted standby has no copy: slots are not
  # replicated in PostgreSQL 15).
  drop_cluster "$STANDBY_CLUSTER" "$STANDBY_MARKER"
  drop_cluster "$PRIMARY_CLUSTER" "$PRIMARY_MARKER"
}

case "${1:-}" in
  "") ;;
  --remove)
    remove_pair
    log "removed: $PG_MAJOR/$PRIMARY_CLUSTER and $PG_MAJOR/$STANDBY_CLUSTER (with slot $SLOT) are gone"
    exit 0
    ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (use --remove or nothing)" ;;
esac

# 1. Nothing left of the previous drill.
remove_pair
for port in "$PRIMARY_PORT" "$STANDBY_PORT"; do
  port_free "$port" || die "port $port is in use by something else ($(ss -Htlnp "sport = :$port" | grep -o 'users:.*' | head -1))"
done
[ -r "$HBA_SOURCE" ] || die "cannot read $HBA_SOURCE (set HBA_SOURCE to a pg_hba.conf with trust for 127.0.0.1)"

# 2. The primary.
log "creating cluster $PG_MAJOR/$PRIMARY_CLUSTER on port $PRIMARY_PORT"
# manual: a throwaway cluster is not started at boot by the init script.
as_root pg_createcluster --start-conf=manual "$PG_MAJOR" "$PRIMARY_CLUSTER" -p "$PRIMARY_PORT" >/dev/null
{
  printf '# Written by tools/scripts/setup-failover-pair.sh: the failover drill primary (dropped by its next run).\n'
  printf "listen_addresses = '%s'\n" "$HOST"
} | as_root tee "$PRIMARY_MARKER" >/dev/null
as_root chown postgres:postgres "$PRIMARY_MARKER"
# The default pg_hba.conf wants passwords over TCP; the main cluster's allows trust (and replication) on 127.0.0.1.
as_root install -o postgres -g postgres -m 640 "$HBA_SOURCE" "/etc/postgresql/$PG_MAJOR/$PRIMARY_CLUSTER/pg_hba.conf"
as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$PRIMARY_CLUSTER" start
wait_ready "$PRIMARY_PORT" 30 || die "$PG_MAJOR/$PRIMARY_CLUSTER did not start; see /var/log/postgresql/postgresql-$PG_MAJOR-$PRIMARY_CLUSTER.log"

log "creating database $DATABASE with the vector extension"
primary_sql "create database $DATABASE"
primary_sql "create extension if not exists vector" "$DATABASE"

# 3. The standby, by setup-replica.sh (it clones the primary, database included).
PRIMARY_CLUSTER=$PRIMARY_CLUSTER PRIMARY_PORT=$PRIMARY_PORT REPLICA_CLUSTER=$STANDBY_CLUSTER REPLICA_PORT=$STANDBY_PORT \
  SLOT=$SLOT PG_MAJOR=$PG_MAJOR bash "$SCRIPT_DIR/setup-replica.sh"
[ -f "$STANDBY_MARKER" ] || die "setup-replica.sh did not leave $STANDBY_MARKER"
echo manual | as_root tee "/etc/postgresql/$PG_MAJOR/$STANDBY_CLUSTER/start.conf" >/dev/null

# 4. Synchronous commit, now that the standby streams (earlier, every commit would wait for a standby to come).
if [ "$SYNCHRONOUS" = on ]; then
  log "primary: synchronous replication to the standby (synchronous_standby_names = '*')"
  {
    printf '# Written by tools/scripts/setup-failover-pair.sh: a commit returns once the standby has flushed it, so a\n'
    printf '# promoted standby has every acknowledged write. In /etc (not the data directory): the standby lacks it.\n'
    printf "synchronous_standby_names = '*'\n"
    printf 'synchronous_commit = on\n'
  } | as_root tee "$SYNC_CONF" >/dev/null
  as_root chown postgres:postgres "$SYNC_CONF"
  as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$PRIMARY_CLUSTER" reload
fi

# 5. Verify: the standby is in recovery, streams through the slot, in the expected sync state, and has the database.
want_state=$([ "$SYNCHRONOUS" = on ] && echo sync || echo async)
state=
for _ in $(seq 1 20); do
  state=$(primary_sql "select r.sync_state from pg_replication_slots s join pg_stat_replication r on r.pid = s.active_pid
                        where s.slot_name = '$SLOT' and r.state = 'streaming'")
  [ "$state" = "$want_state" ] && break
  sleep 0.5
done
[ "$state" = "$want_state" ] || die "the standby streams as '${state:-nothing}', not '$want_state'"
# A write on the primary that must be visible on the standby: proves the whole path, sync commit included.
primary_sql "create table if not exists drill_probe (at timestamptz); insert into drill_probe values (now())" "$DATABASE"
probe=0
for _ in $(seq 1 20); do
  probe=$(standby_sql "select count(*) from drill_probe" "$DATABASE" 2>/dev/null || echo 0)
  [ "$probe" = 1 ] && break
  sleep 0.25
done
[ "$probe" = 1 ] || die "a row written on the primary did not reach the standby"
primary_sql "drop table drill_probe" "$DATABASE"
[ "$(standby_sql "select pg_is_in_recovery()")" = t ] || die "the standby is not in recovery"
vector=$(standby_sql "select extversion from pg_extension where extname = 'vector'" "$DATABASE")
[ -n "$vector" ] || die "the vector extension is missing on the standby"

elapsed_ms=$(( ($(date +%s%N) - STARTED) / 1000000 ))
elapsed=$(printf '%d.%d' $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100)))
log "ready in ${elapsed}s: primary $PG_MAJOR/$PRIMARY_CLUSTER $HOST:$PRIMARY_PORT -> standby $PG_MAJOR/$STANDBY_CLUSTER $HOST:$STANDBY_PORT (slot $SLOT, $want_state, vector $vector); DATABASE_URL=postgresql://postgres@$HOST:$PRIMARY_PORT,$HOST:$STANDBY_PORT/$DATABASE?target_session_attrs=read-write"
