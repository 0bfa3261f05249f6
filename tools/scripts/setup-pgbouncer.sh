#!/usr/bin/env bash
# Makes sure a PgBouncer in transaction pooling mode runs in front of the local PostgreSQL primary, for the tests and
# the bench of pooled connections. Idempotent: every step checks before it acts, so a second run takes ~1 s.
#
# We run our own instance (Debian's pgbouncer 1.18 binary, not its service or /etc/pgbouncer config), so it never
# fights with a system-wide setup and everything it writes lives in one throwaway directory: ini, userlist, pid, log
# and unix socket. The [databases] entry is a wildcard, so every database name works, including the ones tests create
# on the fly. PgBouncer refuses to run as root, so it runs as postgres.
#
# Transaction pooling hands a server connection to a client for one transaction only, so session state (SET,
# LISTEN, advisory locks, and in 1.18 named prepared statements) does not follow the client from one transaction
# to the next. That is the point of testing through it.
#
# Usage: setup-pgbouncer.sh          start it, or rewrite + reload/restart it when the config changed, then verify
#        setup-pgbouncer.sh --stop   stop our instance
#
# Env: PGBOUNCER_PORT (6432), PGHOST (127.0.0.1), PGPORT (5432), PGBOUNCER_DIR (/tmp/agenthub-pgbouncer),
#      POOL_SIZE (20), MAX_CLIENT_CONN (2000), PGBOUNCER_USERS ("postgres agenthub_app"), VERIFY_DB (agenthub_test).
set -euo pipefail

PGBOUNCER_PORT=${PGBOUNCER_PORT:-6432}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGBOUNCER_DIR=${PGBOUNCER_DIR:-/tmp/agenthub-pgbouncer}
POOL_SIZE=${POOL_SIZE:-20}
MAX_CLIENT_CONN=${MAX_CLIENT_CONN:-2000}
USERS=${PGBOUNCER_USERS:-"postgres agenthub_app"}
VERIFY_DB=${VERIFY_DB:-agenthub_test}
LISTEN_ADDR=127.0.0.1

INI=$PGBOUNCER_DIR/pgbouncer.ini
USERLIST=$PGBOUNCER_DIR/userlist.txt
PIDFILE=$PGBOUNCER_DIR/pgbouncer.pid
LOGFILE=$PGBOUNCER_DIR/pgbouncer.log
SOCKET_DIR=$PGBOUNCER_DIR/socket

log() { printf '[setup-pgbouncer] %s\n' "$*"; }
die() { printf '[setup-pgbouncer] ERROR: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { (cd / && if [ "$(id -un)" = postgres ]; then "$@"; else as_root runuser -u postgres -- "$@"; fi); }

# The admin console: the virtual "pgbouncer" database, open to admin_users.
admin() { psql -X -h "$LISTEN_ADDR" -p "$PGBOUNCER_PORT" -U postgres -d pgbouncer "$@"; }

# Pid of our instance: the pidfile names a live pgbouncer started with our ini. Empty otherwise.
our_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 0
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$INI"; then echo "$pid"; fi
}

port_owner() { ss -Htlnp "sport = :$PGBOUNCER_PORT" | grep -o 'users:.*' | head -1 || true; }

stop_ours() {
  local pid
  pid=$(our_pid)
  if [ -z "$pid" ]; then
    as_root rm -f "$PIDFILE" # stale, if any
    return 0
  fi
  log "stopping pgbouncer (pid $pid)"
  # SIGTERM is PgBouncer's immediate shutdown; SIGINT would wait for every client to go away, and tests that
  # leak an idle pool would make that wait forever.
  as_root kill -TERM "$pid"
  for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
  [ ! -d "/proc/$pid" ] || die "pgbouncer (pid $pid) did not stop"
  as_root rm -f "$PIDFILE"
}

case "${1:-}" in
  "") ;;
  --stop) stop_ours; log "pgbouncer on $LISTEN_ADDR:$PGBOUNCER_PORT is stopped"; exit 0 ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (use --stop or nothing)" ;;
esac

# 1. The binary is installed (Debian's package; its service stays unused). It lives in /usr/sbin, which a non-root
# PATH may lack.
find_pgbouncer() { PATH=$PATH:/usr/sbin command -v pgbouncer; }
if ! PGBOUNCER=$(find_pgbouncer); then
  log "installing pgbouncer from Debian's packages"
  apt_updated=0
  apt_update() { if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi; }
  install_pkg() { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; }
  # Refresh the package lists only when they do not know the package, or are so old the download fails.
  candidate=$(apt-cache policy pgbouncer 2>/dev/null | awk '/Candidate:/{print $2}')
  if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then apt_update; fi
  install_pkg || { apt_update; install_pkg; }
  PGBOUNCER=$(find_pgbouncer) || die "pgbouncer is still not on PATH after installing it"
fi
VERSION=$("$PGBOUNCER" --version | awk 'NR==1{print $NF}')

# 2. The upstream server is there (a pooler in front of nothing only produces confusing errors later).
pg_isready -q -h "$PGHOST" -p "$PGPORT" || die "PostgreSQL is not accepting connections on $PGHOST:$PGPORT (run tools/scripts/setup-postgres.sh)"

# 3. Our directory and config.
if [ ! -d "$SOCKET_DIR" ] || [ "$(stat -c %U "$PGBOUNCER_DIR")" != postgres ]; then
  as_root install -d -o postgres -g postgres -m 755 "$PGBOUNCER_DIR" "$SOCKET_DIR"
fi

render_ini() {
  cat <<EOF
;; Written by tools/scripts/setup-pgbouncer.sh; edits are overwritten on its next run.
[databases]
;; Wildcard: any database name is passed through to the same server, with the client's user name.
* = host=$PGHOST port=$PGPORT

[pgbouncer]
listen_addr = $LISTEN_ADDR
listen_port = $PGBOUNCER_PORT
unix_socket_dir = $SOCKET_DIR
logfile = $LOGFILE
pidfile = $PIDFILE

;; trust still requires the user name to be listed in auth_file; the password there is ignored.
auth_type = trust
auth_file = $USERLIST
admin_users = postgres

pool_mode = transaction
max_client_conn = $MAX_CLIENT_CONN
default_pool_size = $POOL_SIZE
;; node-postgres and Prisma send some of these at connect time; PgBouncer rejects unknown startup parameters.
ignore_startup_parameters = extra_float_digits,options,search_path,application_name
;; Nothing to reset in transaction mode: the server connection is released at COMMIT/ROLLBACK.
server_reset_query =
EOF
}
render_userlist() { local u; for u in $USERS; do printf '"%s" ""\n' "$u"; done; }

# Settings that a RELOAD does not apply: the listening socket and the files the daemon opened at start.
restart_keys() { grep -E '^(listen_addr|listen_port|unix_socket_dir|pidfile) ' "$1" 2>/dev/null || true; }

want_ini=$(render_ini)
want_users=$(render_userlist)
changed=0
needs_restart=0
if [ ! -f "$INI" ] || [ "$(cat "$INI")" != "$want_ini" ]; then
  changed=1
  [ "$(restart_keys "$INI")" = "$(printf '%s\n' "$want_ini" | restart_keys /dev/stdin)" ] || needs_restart=1
  printf '%s\n' "$want_ini" | as_root tee "$INI" >/dev/null
  as_root chown postgres:postgres "$INI"
  log "wrote $INI"
fi
if [ ! -f "$USERLIST" ] || [ "$(as_root cat "$USERLIST")" != "$want_users" ]; then
  changed=1
  printf '%s\n' "$want_users" | as_root tee "$USERLIST" >/dev/null
  as_root chown postgres:postgres "$USERLIST"
  as_root chmod 600 "$USERLIST"
  log "wrote $USERLIST (users: $USERS)"
fi

# 4. Our instance runs with that config.
pid=$(our_pid)
if [ -n "$pid" ] && [ "$changed" = 1 ]; then
  if [ "$needs_restart" = 1 ]; then
    log "listen/socket/pid settings changed: restarting"
    stop_ours
    pid=
  else
    log "config changed: RELOAD via the admin console"
    admin -qc RELOAD >/dev/null || die "RELOAD failed; see $LOGFILE"
  fi
fi
if [ -z "$pid" ]; then
  as_root rm -f "$PIDFILE" # a stale pidfile would make pgbouncer refuse to start
  if [ -n "$(port_owner)" ]; then
    die "port $LISTEN_ADDR:$PGBOUNCER_PORT is taken by something else ($(port_owner)); set PGBOUNCER_PORT or stop it"
  fi
  log "starting pgbouncer $VERSION on $LISTEN_ADDR:$PGBOUNCER_PORT (dir $PGBOUNCER_DIR)"
  # max_client_conn needs as many file descriptors, and postgres's login limit is often 1024: raise the soft limit
  # to the hard one for this daemon only.
  as_postgres sh -c 'ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; exec "$0" -d -q "$1"' "$PGBOUNCER" "$INI" ||
    die "pgbouncer did not start; see $LOGFILE"
  for _ in $(seq 1 50); do admin -Atqc 'SHOW VERSION' >/dev/null 2>&1 && break; sleep 0.2; done
  pid=$(our_pid)
  [ -n "$pid" ] || die "pgbouncer exited right after starting; last log lines:$(printf '\n'; tail -5 "$LOGFILE" 2>/dev/null)"
fi

# 5. Verify: a query goes through to the server, and the pool runs in transaction mode.
psql -X "postgresql://postgres@$LISTEN_ADDR:$PGBOUNCER_PORT/$VERIFY_DB" -Atqc 'select 1' | grep -qx 1 ||
  die "select 1 through pgbouncer ($LISTEN_ADDR:$PGBOUNCER_PORT/$VERIFY_DB) failed; see $LOGFILE"
mode=$(admin -AqF'|' -c 'SHOW POOLS' | awk -F'|' -v db="$VERIFY_DB" '
  NR==1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  $col["database"] == db && $col["user"] == "postgres" { print $col["pool_mode"]; exit }')
[ "$mode" = transaction ] || die "SHOW POOLS reports pool_mode '${mode:-none}' for $VERIFY_DB, expected transaction"
log "ready: pgbouncer $VERSION (pid $pid) on $LISTEN_ADDR:$PGBOUNCER_PORT -> $PGHOST:$PGPORT, pool_mode=$mode, default_pool_size=$POOL_SIZE, max_client_conn=$MAX_CLIENT_CONN, dir $PGBOUNCER_DIR"
