#!/usr/bin/env bash
# Measures the "NATS not there at start" figure of RELIABILITY.md: starts the
# built service (apps/sse/dist/main.js) with NATS_URL pointing at a port where
# nothing listens, starts nats-server on that port DELAY seconds later, and
# prints the time from nats-server accepting connections (its log line
# "Server is ready") to the service being ready (its `listening` line, logged
# once every worker has reached NATS).
#
#   tools/scripts/late-nats.sh [DELAY_SECONDS=10] [SSE_WORKERS=1] [RUNS=3]
#
# Needs: nats-server, curl (both in setup.sh's list), `pnpm build` done.
set -euo pipefail
cd "$(dirname "$0")/../.."
delay=${1:-10}
workers=${2:-1}
runs=${3:-3}
free_port() { node -e "const s=require('node:net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
ms_now() { date +%s%3N; }

for run in $(seq "$runs"); do
  work=$(mktemp -d)
  nats_port=$(free_port)
  port=$(free_port)
  NATS_URL="nats://127.0.0.1:$nats_port" PORT=$port HOST=127.0.0.1 SSE_WORKERS=$workers \
    SSE_AUTHENTICATION_TOKEN=late-nats node apps/sse/dist/main.js >"$work/sse.log" 2>&1 &
  sse=$!
  until curl -fsS "http://127.0.0.1:$port/livez" >/dev/null 2>&1; do sleep 0.05; done
  readyz=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
  sleep "$delay"
  nats-server -js -sd "$work/js" -a 127.0.0.1 -p "$nats_port" >"$work/nats.log" 2>&1 &
  nats=$!
  until grep -q 'Server is ready' "$work/nats.log"; do sleep 0.005; done
  nats_ready=$(ms_now)
  until grep -q '"msg":"listening"' "$work/sse.log"; do sleep 0.005; done
  sse_ready=$(ms_now)
  retry_lines=$(grep -c 'NATS not reachable yet' "$work/sse.log" || true)
  echo "run $run: NATS ${delay} s late, SSE_WORKERS=$workers: /readyz $readyz before NATS; ready $((sse_ready - nats_ready)) ms after NATS was ready; $retry_lines retry log lines"
  kill "$sse" "$nats"
  wait "$sse" "$nats" 2>/dev/null || true
  rm -rf "$work"
done
