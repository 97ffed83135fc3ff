#!/usr/bin/env bash
# CPU per queue-change at one offered load: one apps/sse process against SSE_WORKERS=2 on the
# same nats-server, each at the same fixed rates (`loadgen publish --rate`), so what a second
# worker costs per publish shows apart from what the machine's cores allow (BENCHMARKS.md,
# issue #16 goal 4). Unpaced (rate 0) is the bench's mix: as fast as the answers come.
#
#   tools/scripts/paced-mix.sh OUT_DIR ENVS ROUNDS RATE [RATE ...]
#
# ENVS 1 is the hot-environment mix, 100 the spread one. Each run is 10 s at concurrency 64;
# the order within a rate is 1 process, then 2 workers. One JSON per run in OUT_DIR
# (r<round>-e<envs>-rate<rate>-w<workers>.json) and a summary of the medians on stdout.
# Needs: a built workspace (pnpm build), nats-server, curl; SERVER_NODE picks the node binary
# of apps/sse (default: .cache/node24/bin/node if setup.sh installed it, else node).
set -euo pipefail

if [ $# -lt 4 ]; then
  echo "usage: $0 OUT_DIR ENVS ROUNDS RATE [RATE ...]" >&2
  exit 2
fi
out=$(realpath -m "$1")
envs=$2
rounds=$3
shift 3
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
server_node=${SERVER_NODE:-}
if [ -z "$server_node" ]; then
  if [ -x .cache/node24/bin/node ]; then server_node=.cache/node24/bin/node; else server_node=node; fi
fi
command -v nats-server >/dev/null || { echo "nats-server is not installed (setup.sh --test)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed (setup.sh --test)" >&2; exit 1; }
mkdir -p "$out"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
nats_port=$(free_port)
nats_dir=$(mktemp -d)
nats-server -js -sd "$nats_dir" -a 127.0.0.1 -p "$nats_port" >"$nats_dir.log" 2>&1 &
nats_pid=$!
sse_pid=
cleanup() {
  [ -n "$sse_pid" ] && kill -TERM "$sse_pid" 2>/dev/null && wait "$sse_pid" 2>/dev/null
  kill "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null
  rm -rf "$nats_dir" "$nats_dir.log"
}
trap cleanup EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null && break; sleep 0.1; done

for round in $(seq "$rounds"); do
  for rate in "$@"; do
    for workers in 1 2; do
      port=$(free_port)
      PORT=$port HOST=127.0.0.1 SSE_WORKERS=$workers SSE_AUTHENTICATION_TOKEN=paced LOG_LEVEL=warn \
        NATS_URL="nats://127.0.0.1:$nats_port" "$server_node" apps/sse/dist/main.js >/dev/null 2>&1 &
      sse_pid=$!
      for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.1; done
      # The whole service (with its workers), each worker alone, then nats-server.
      pids=(--pid "$sse_pid")
      if [ "$workers" -gt 1 ]; then
        for child in $(pgrep -P "$sse_pid"); do pids+=(--pid "$child"); done
      fi
      pids+=(--pid "$nats_pid")
      pace=()
      [ "$rate" != 0 ] && pace=(--rate "$rate")
      SSE_AUTHENTICATION_TOKEN=paced pnpm -s loadgen publish --target "http://127.0.0.1:$port" \
        --concurrency 64 --duration 10s --envs "$envs" "${pace[@]}" "${pids[@]}" \
        --label "$workers worker(s), rate $rate, round $round" \
        --json "$out/r$round-e$envs-rate$rate-w$workers.json" >/dev/null
      curl -sf "http://127.0.0.1:$port/metricsz" | grep -E '^flagsmith_sse_nats_(writes_total|read_backs_total)' \
        >"$out/r$round-e$envs-rate$rate-w$workers.metrics" || true
      kill -TERM "$sse_pid"
      wait "$sse_pid" || true
      sse_pid=
    done
  done
done

node - "$out" "$envs" <<'JS'
const { readdirSync, readFileSync } = require('node:fs');
const [dir, envs] = process.argv.slice(2);
const runs = new Map();
for (const file of readdirSync(dir)) {
  const m = new RegExp(`^r\\d+-e${envs}-rate(\\d+)-w(\\d)\\.json$`).exec(file);
  if (!m) continue;
  const r = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8'));
  const key = `${m[1]} ${m[2]}`;
  const us = (ms) => (1000 * ms) / r.requests;
  const byPid = r.serverCpuMsByPid;
  const metrics = (() => {
    try {
      return readFileSync(`${dir}/${file.replace(/\.json$/, '.metrics')}`, 'utf8');
    } catch {
      return '';
    }
  })();
  const counter = (result) =>
    Number(new RegExp(`nats_writes_total\\{result="${result}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  const stored = counter('stored') + counter('duplicate');
  const conflicts = counter('conflict');
  if (!runs.has(key)) runs.set(key, []);
  runs.get(key).push({
    rps: r.requestsPerSecond,
    sse: us(byPid[0]),
    // Without the workers (they are the pids between the first and nats-server's).
    primary: us(byPid[0] - byPid.slice(1, -1).reduce((a, b) => a + b, 0)),
    nats: us(byPid[byPid.length - 1]),
    writes: (1000 * stored) / r.requests,
    refused: stored + conflicts > 0 ? conflicts / (stored + conflicts) : 0,
    loadgen: us(r.clientCpuMs),
    p99: r.latency.p99,
    failed: r.failed,
  });
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log('| offered rate | workers | runs | requests/s, median (range) | µs of CPU per publish: apps/sse (all processes; the primary alone) / nats-server / load generator, medians | JetStream writes per 1,000 publishes / refused share, medians | p99 ms | failed |');
console.log('|---|---|---|---|---|---|---|---|');
const keys = [...runs.keys()].sort((a, b) => {
  const [ra, wa] = a.split(' ').map(Number);
  const [rb, wb] = b.split(' ').map(Number);
  return (ra || Infinity) - (rb || Infinity) || wa - wb;
});
for (const key of keys) {
  const [rate, workers] = key.split(' ');
  const v = runs.get(key);
  const rps = v.map((x) => x.rps);
  console.log(
    `| ${rate === '0' ? 'unpaced' : `${Number(rate).toLocaleString('en')}/s`} | ${workers} | ${v.length} | ` +
      `${Math.round(median(rps)).toLocaleString('en')} (${Math.round(Math.min(...rps)).toLocaleString('en')}–${Math.round(Math.max(...rps)).toLocaleString('en')}) | ` +
      `${median(v.map((x) => x.sse)).toFixed(1)}${workers === '1' ? '' : ` (${median(v.map((x) => x.primary)).toFixed(1)})`} / ` +
      `${median(v.map((x) => x.nats)).toFixed(1)} / ${median(v.map((x) => x.loadgen)).toFixed(1)} | ` +
      `${median(v.map((x) => x.writes)).toFixed(1)} / ${(100 * median(v.map((x) => x.refused))).toFixed(0)} % | ` +
      `${median(v.map((x) => x.p99)).toFixed(2)} | ${v.reduce((a, x) => a + x.failed, 0)} |`,
  );
}
JS
