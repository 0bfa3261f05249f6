#!/usr/bin/env bash
# The main job as a newcomer runs it: `npm start` on the embedded default, in the background; waits until the API
# is ready, uses the generated admin token (kept in the data directory) to create an organization, and with its
# key an agent, a conversation and a message; then stops it with SIGTERM and expects a clean exit.
# Run twice on the same AGENTHUB_DATA_DIR, it proves the start is idempotent (migrations, token, data survive).
#   AGENTHUB_DATA_DIR=$(mktemp -d) bash tools/scripts/smoke-start.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${AGENTHUB_DATA_DIR:?set AGENTHUB_DATA_DIR to a scratch directory}"
export AGENTHUB_DATA_DIR
unset DATABASE_URL AGENTHUB_ADMIN_TOKEN
PORT=${PORT:-$(node -e "const s=require('net').createServer().listen(0,()=>{console.log(s.address().port);s.close()})")}
export PORT
log=$(mktemp)
npm start >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 120); do
  if curl -fsS "$base/health/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 $pid 2>/dev/null; then echo "[smoke] npm start exited:"; cat "$log"; exit 1; fi
  sleep 0.5
done
curl -fsS "$base/health/ready" >/dev/null || { echo "[smoke] not ready:"; cat "$log"; exit 1; }
grep -E "listening on|docs|admin token" "$log" | sed 's/aha_[A-Za-z0-9_-]*/aha_…/' | sed 's/^/[smoke] /'
token=$(cat "$AGENTHUB_DATA_DIR/admin-token")
json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const v=JSON.parse(s);console.log($1)})"; }
post() { curl -fsS -X POST "$base$1" -H "authorization: Bearer $2" -H 'content-type: application/json' -d "$3"; }
org=$(post /api/v1/organizations "$token" "{\"name\":\"smoke $(date +%s%N)\",\"ownerEmail\":\"owner@smoke.test\"}")
key=$(echo "$org" | json v.apiKey.key)
agent=$(post /api/v1/agents "$key" '{"name":"smoke agent"}' | json v.id)
conversation=$(post /api/v1/conversations "$key" "{\"agentId\":\"$agent\",\"initialMessage\":{\"role\":\"user\",\"content\":\"hello\"}}" | json v.id)
seq=$(post "/api/v1/conversations/$conversation/messages" "$key" '{"role":"assistant","content":"hi there"}' | json 'v.data[0].seq')
[ "$seq" = 2 ] || { echo "[smoke] expected seq 2, got $seq"; exit 1; }
orgs=$(curl -fsS "$base/api/v1/organizations?limit=200" -H "authorization: Bearer $token" | json v.data.length)
curl -fsS "$base/api/docs-json" | json 'Object.keys(v.paths).length' | sed 's/^/[smoke] OpenAPI paths: /'
echo "[smoke] organizations now: $orgs; conversation $conversation has 2 messages"
# SIGTERM to the API process itself, as an orchestrator does (npm only relays it).
api_pid=$(pgrep -P $pid -f 'apps/api/src/main.ts' || true)
kill -TERM "${api_pid:-$pid}"
wait $pid && status=0 || status=$?
grep -E "SIGTERM|stopped" "$log" | sed 's/^/[smoke] /' || true
[ "$status" = 0 ] || { echo "[smoke] npm start exited with $status after SIGTERM:"; tail -20 "$log"; exit 1; }
echo "[smoke] stopped cleanly"
