# PgBouncer in transaction pooling mode, from Debian's package (the version AgentHub's tests run through:
# tools/scripts/setup-pgbouncer.sh). Configured from the environment at start (docker/pgbouncer/entrypoint.sh).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends pgbouncer postgresql-client \
 && rm -rf /var/lib/apt/lists/*
COPY docker/pgbouncer/entrypoint.sh /usr/local/bin/pgbouncer-entrypoint
USER postgres
EXPOSE 6432
ENTRYPOINT ["/usr/local/bin/pgbouncer-entrypoint"]
