#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed, for one thing only: the Studio browser test (tools/studio/test), which
# drives it through playwright-core. Nothing at run time needs a browser, and we never let Playwright download one
# of its own builds (`playwright install` fetches from a CDN these machines cannot reach).
#
# Idempotent: a second run only checks. Needs apt-get and root (or sudo without a password); without them it says
# so and changes nothing: the test is then skipped locally, and fails under CI (CI=true), which must run it.
#
# Env: AGENTHUB_CHROMIUM (/usr/bin/chromium): the browser the test starts; set it to use another Chromium.
set -euo pipefail

BROWSER=${AGENTHUB_CHROMIUM:-/usr/bin/chromium}
log() { printf '[setup-chromium] %s\n' "$*"; }

if [ -x "$BROWSER" ]; then
  log "Chromium present for the Studio browser test: $("$BROWSER" --version 2>/dev/null || echo "$BROWSER")"
  exit 0
fi
if [ "$BROWSER" != /usr/bin/chromium ]; then
  log "AGENTHUB_CHROMIUM=$BROWSER is not an executable: fix the path or unset it to use Debian's chromium" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  log "skipped: no apt-get here. The Studio browser test needs a Chromium: set AGENTHUB_CHROMIUM=/path/to/it"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  log "skipped: installing Debian's chromium needs root or sudo without a password (apt-get install chromium)"
  exit 0
fi

install() { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
log "installing Debian's chromium for the Studio browser test (apt-get install chromium)"
if ! install; then
  # A fresh machine may have no package lists yet, or stale ones naming versions the archive no longer has.
  log "refreshing the package lists (apt-get update) and trying again"
  "${as_root[@]}" apt-get update -qq
  install
fi
log "installed: $("$BROWSER" --version 2>/dev/null || echo "$BROWSER")"
