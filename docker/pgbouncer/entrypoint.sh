#!/bin/bash
# Writes PgBouncer's configuration from the environment and runs it in the foreground. Transaction pooling: a server
# connection serves a client for one transaction only, so the API runs with `?pgbouncer=true` in DATABASE_URL (no
# server-side prepared statements, settings per transaction) and DATABASE_DIRECT_URL for what needs a session.
# Users and passwords: PGBOUNCER_USERS as "user:password user2:password2" (SCRAM towards the server and the clients).
set -euo pipefail
: "${DB_HOST:?}" "${PGBOUNCER_USERS:?set the users PgBouncer logs in as}"
dir=/tmp/pgbouncer
mkdir -p "$dir"
: > "$dir/userlist.txt"
for pair in $PGBOUNCER_USERS; do
  printf '"%s" "%s"\n' "${pair%%:*}" "${pair#*:}" >> "$dir/userlist.txt"
done
chmod 600 "$dir/userlist.txt"
cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=$DB_HOST port=${DB_PORT:-5432}

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = ${MAX_CLIENT_CONN:-2000}
default_pool_size = ${DEFAULT_POOL_SIZE:-40}
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
INI
exec pgbouncer "$dir/pgbouncer.ini"
