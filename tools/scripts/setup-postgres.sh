#!/usr/bin/env bash
# Makes sure a local PostgreSQL with pgvector is running and the AgentHub databases exist.
# Idempotent: every step checks before it acts, so running it twice is cheap (a second run takes ~1 s).
#
# pgvector is not packaged for Debian 12, and installing another release's *binary* packages would
# upgrade libc and break the machine. So we take Debian's *source* package from the next release
# (deb-src only), and build it against this machine's postgresql-server-dev-<major>.
#
# Env: PGHOST (127.0.0.1), PGPORT (5432), PGUSER (postgres), AGENTHUB_DATABASES (agenthub agenthub_test).
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
DATABASES=${AGENTHUB_DATABASES:-"agenthub agenthub_test"}
SRC_SUITE=${PGVECTOR_SOURCE_SUITE:-trixie}
export PGHOST PGPORT PGUSER

log() { printf '[setup-postgres] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_update() { if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi; }

pg_major() {
  if command -v pg_lsclusters >/dev/null 2>&1 && [ -n "$(pg_lsclusters -h 2>/dev/null)" ]; then
    pg_lsclusters -h | awk 'NR==1{print $1}'
  elif [ -d /etc/postgresql ]; then
    ls /etc/postgresql | sort -n | tail -1
  fi
}

# 1. A PostgreSQL server is installed and running.
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  log "installing PostgreSQL from Debian's packages"
  apt_update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
MAJOR=$(pg_major)
[ -n "$MAJOR" ] || { log "no PostgreSQL cluster found"; exit 1; }

start_cluster() {
  if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
    log "starting PostgreSQL $MAJOR"
    as_root pg_ctlcluster --skip-systemctl-redirect "$MAJOR" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 1; done
  fi
  pg_isready -q -h "$PGHOST" -p "$PGPORT" || { log "PostgreSQL is not accepting connections on $PGHOST:$PGPORT"; exit 1; }
}
start_cluster
log "PostgreSQL $MAJOR is running on $PGHOST:$PGPORT"

# 2. pgvector is installed for that major version.
SHAREDIR=$(/usr/lib/postgresql/"$MAJOR"/bin/pg_config --sharedir 2>/dev/null || echo "/usr/share/postgresql/$MAJOR")
if [ ! -f "$SHAREDIR/extension/vector.control" ]; then
  log "pgvector missing: building it from Debian's $SRC_SUITE source package"
  # Derive the archive address from the machine's own apt sources.
  MIRROR=$(grep -rhoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  SRC_LIST=/etc/apt/sources.list.d/agenthub-pgvector-src.sources
  if [ ! -f "$SRC_LIST" ]; then
    # deb-src only: never binary packages from another release.
    printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$MIRROR" "$SRC_SUITE" | as_root tee "$SRC_LIST" >/dev/null
    apt_updated=0
  fi
  apt_update
  if ! dpkg -s "postgresql-server-dev-$MAJOR" >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-server-dev-$MAJOR" make gcc dpkg-dev >/dev/null
    # Installing the dev package can upgrade the server package: restart so the running server matches.
    as_root pg_ctlcluster --skip-systemctl-redirect "$MAJOR" main restart || true
    start_cluster
  fi
  WORK=$(mktemp -d)
  chmod 755 "$WORK" # apt-get source downloads as the _apt user
  trap 'rm -rf "$WORK"' EXIT
  (cd "$WORK" && apt-get source --download-only -qq pgvector >/dev/null)
  ORIG=$(ls "$WORK"/pgvector_*.orig.tar.* | head -1)
  mkdir -p "$WORK/src"
  tar -xf "$ORIG" -C "$WORK/src" --strip-components=1
  make -s -C "$WORK/src" PG_CONFIG="/usr/lib/postgresql/$MAJOR/bin/pg_config" OPTFLAGS="" >/dev/null
  as_root make -s -C "$WORK/src" PG_CONFIG="/usr/lib/postgresql/$MAJOR/bin/pg_config" install >/dev/null
  log "pgvector $(grep default_version "$SHAREDIR/extension/vector.control" | cut -d"'" -f2) installed"
else
  log "pgvector already installed"
fi

# 3. The databases exist and have the extension.
for db in $DATABASES; do
  if ! psql -d postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1; then
    log "creating database $db"
    createdb "$db"
  fi
  psql -q -d "$db" -c 'create extension if not exists vector' >/dev/null
done
log "ready: databases $DATABASES with pgvector"
