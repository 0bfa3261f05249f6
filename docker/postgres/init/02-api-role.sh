#!/bin/bash
# The API's own login role (docker/compose.yml: service api). It owns nothing and is a member of agenthub_app, the
# role row-level security applies to (migration 20261122100000): the API cannot bypass the policies even with a
# bug in its own scoping. Migrations, the worker and the CLI keep using the owner role (POSTGRES_USER).
# Runs once, when the data volume is initialised.
set -euo pipefail
: "${POSTGRES_API_PASSWORD:?set POSTGRES_API_PASSWORD in docker/.env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v api_password="$POSTGRES_API_PASSWORD" <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agenthub_app') THEN
    CREATE ROLE agenthub_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
END
$$;
CREATE ROLE agenthub_api LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE IN ROLE agenthub_app PASSWORD :'api_password';
SQL
