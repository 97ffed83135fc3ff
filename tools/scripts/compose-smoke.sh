#!/usr/bin/env bash
# Runs deploy/compose/compose.yaml with podman-compose on a host that cannot
# pull images, and checks the stack works: three NATS nodes, two SSE
# instances, nginx, Prometheus (Grafana is left out: no image can be made
# for it here).
#
# The third-party images are replaced by local stand-ins built from this
# host's binaries on the base image of tools/scripts/build-image.sh:
#   nats:2.10-alpine        -> /usr/sbin/nats-server (Debian, 2.9.x) + wget
#   nginx:1.27-alpine       -> Debian's nginx-light (apt, over --network host)
#   prom/prometheus:v2.54.1 -> /usr/bin/prometheus (Debian)
# The SSE service uses the real image (localhost/flagsmith-rt/sse:dev).
# Everything else (commands, config mounts, volumes, healthchecks, networks,
# ports) comes from compose.yaml unchanged; the override only swaps images and
# sets ulimits this host can grant.
#
#   tools/scripts/compose-smoke.sh
#
# After the stack checks: Prometheus scrapes both instances' /metricsz (targets
# up, sum(flagsmith_sse_subscribers) = the 4 open streams), then, after a few
# live publishes, every query of the Grafana dashboard is run against it
# (tools/scripts/dashboard-queries.py; DASHBOARD_RESULTS=file keeps them).
#
# Needs: apt-get install -y podman-compose nats-server prometheus; the base and
# app images (tools/scripts/build-image.sh). Uses host ports 8088 and 9090.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BASE_IMAGE="${BASE_IMAGE:-localhost/flagsmith-rt/node-base:24-bookworm}"
APP_IMAGE="${APP_IMAGE:-localhost/flagsmith-rt/sse:dev}"
WORK="$(mktemp -d /tmp/fsrt-compose.XXXXXX)"
COMPOSE_FILE="$REPO_ROOT/deploy/compose/compose.yaml"
PROJECT="fsrt-compose-smoke"
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)
LIMITS=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
readers=()
delays=()

pass() { printf 'PASS %s\n' "$*"; }
fail() {
  printf 'FAIL %s\n' "$*" >&2
  exit 1
}
wait_for() {
  local what="$1" timeout="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "$what (waited ${timeout}s)"
    sleep 0.5
  done
}

# all_streams_got VALUE TIMEOUT: polls the 4 stream files every 20 ms until each
# has the update; prints how many ms that took (from the call, i.e. the 2xx).
all_streams_got() {
  local value="$1" timeout="$2" t0 i left pending=(1 2 3 4)
  t0="$(date +%s%N)"
  until ((${#pending[@]} == 0)); do
    left=()
    for i in "${pending[@]}"; do
      grep -qF "data: {\"updated_at\": $value}" "$WORK/stream-$i" || left+=("$i")
    done
    pending=("${left[@]}")
    (($(date +%s%N) - t0 < timeout * 1000000000)) || fail "update $value missing on streams ${pending[*]} after $timeout s"
    ((${#pending[@]} == 0)) || sleep 0.02
  done
  echo "$((($(date +%s%N) - t0) / 1000000))"
}

# podman-compose calls plain `podman`: point it at runc and cgroupfs (no systemd).
cat >"$WORK/containers.conf" <<'EOF'
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF="$WORK/containers.conf"
SSE_AUTHENTICATION_TOKEN="compose-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export SSE_AUTHENTICATION_TOKEN
compose() {
  podman-compose -p "$PROJECT" -f "$COMPOSE_FILE" -f "$WORK/override.yaml" "$@" >>"$WORK/compose.log" 2>&1
}

cleanup() {
  local rc=$?
  for p in "${readers[@]}"; do kill "$p" 2>/dev/null || true; done
  compose down -v || true
  "${PODMAN[@]}" network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true
  if [[ $rc -ne 0 ]]; then echo "logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

for image in "$BASE_IMAGE" "$APP_IMAGE"; do
  "${PODMAN[@]}" image exists "$image" || fail "no image $image: run tools/scripts/build-image.sh"
done

echo "== stand-in images for nats, nginx, prometheus"
cp "$(command -v nats-server)" "$(command -v prometheus)" "$WORK/"
cat >"$WORK/Containerfile.nats" <<EOF
FROM $BASE_IMAGE
RUN apt-get update && apt-get install -y --no-install-recommends wget && rm -rf /var/lib/apt/lists/*
COPY nats-server /usr/local/bin/nats-server
ENTRYPOINT ["nats-server"]
EOF
cat >"$WORK/Containerfile.nginx" <<EOF
FROM $BASE_IMAGE
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light && rm -rf /var/lib/apt/lists/*
STOPSIGNAL SIGQUIT
ENTRYPOINT ["nginx", "-g", "daemon off;"]
EOF
cat >"$WORK/Containerfile.prometheus" <<EOF
FROM $BASE_IMAGE
COPY prometheus /bin/prometheus
RUN mkdir -p /prometheus && chown nobody:nogroup /prometheus
USER nobody
WORKDIR /prometheus
ENTRYPOINT ["/bin/prometheus"]
EOF
for n in nats nginx prometheus; do
  "${PODMAN[@]}" build -q --network host "${LIMITS[@]}" -f "$WORK/Containerfile.$n" \
    -t "localhost/fsrt-standin/$n:dev" "$WORK" >>"$WORK/build.log" 2>&1 ||
    fail "building the $n stand-in (see $WORK/build.log)"
done
pass "stand-in images built"

cat >"$WORK/override.yaml" <<EOF
x-limits: &limits
  nofile: { soft: 20000, hard: 20000 }
  nproc: { soft: 32768, hard: 32768 }
services:
  nats-1: { image: localhost/fsrt-standin/nats:dev, ulimits: *limits }
  nats-2: { image: localhost/fsrt-standin/nats:dev, ulimits: *limits }
  nats-3: { image: localhost/fsrt-standin/nats:dev, ulimits: *limits }
  sse-1: { image: $APP_IMAGE, ulimits: *limits }
  sse-2: { image: $APP_IMAGE, ulimits: *limits }
  lb: { image: localhost/fsrt-standin/nginx:dev, ulimits: *limits }
  prometheus: { image: localhost/fsrt-standin/prometheus:dev, ulimits: *limits }
EOF

echo "== podman-compose up (all services but grafana)"
compose up -d --no-build nats-1 nats-2 nats-3 sse-1 sse-2 lb prometheus || fail "compose up (see $WORK/compose.log)"
# podman-compose 1.0 does not wait for depends_on conditions and podman has no
# systemd to run health checks on a timer: run each container's check here.
for s in nats-1 nats-2 nats-3 sse-1 sse-2; do
  wait_for "$s healthy (its compose/image healthcheck)" 60 \
    "${PODMAN[@]}" healthcheck run "${PROJECT}_${s}_1"
done
pass "healthchecks pass: nats-1..3 (wget /healthz?js-enabled-only=true), sse-1..2 (image HEALTHCHECK)"
wait_for "load balancer /readyz" 30 curl -fsS -m 2 http://127.0.0.1:8088/readyz
pass "nginx on :8088 -> /readyz 200"

for i in 1 2 3 4; do
  curl -sN -m 600 http://127.0.0.1:8088/sse/environments/composeEnv/stream >"$WORK/stream-$i" &
  readers+=($!)
done
sleep 1
status="$(curl -s -o "$WORK/publish" -w '%{http_code}' -X POST \
  http://127.0.0.1:8088/sse/environments/composeEnv/queue-change \
  -H "Authorization: Token $SSE_AUTHENTICATION_TOKEN" -H 'Content-Type: application/json' \
  -d '{"updated_at": "2024-12-26T16:18:08.760000+00:00"}')"
[[ "$status" == 200 || "$status" == 202 ]] || fail "publish through nginx: $status $(cat "$WORK/publish")"
ms="$(all_streams_got 1735229888.76 10)"
pass "4 streams through nginx (least_conn over sse-1 and sse-2) got the update published once, $ms ms after the 2xx"

sse1="$("${PODMAN[@]}" logs "${PROJECT}_sse-1_1" 2>&1 | grep -c '"broker":"jetstream"' || true)"
if [[ "$sse1" -ge 1 ]]; then
  pass "sse-1 uses the JetStream broker (NATS_URL from compose.yaml)"
else
  fail "sse-1 does not log the JetStream broker"
fi

echo "== stop nats-2: publishing continues"
compose stop nats-2
start=$SECONDS
until [[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
  http://127.0.0.1:8088/sse/environments/composeEnv/queue-change \
  -H "Authorization: Token $SSE_AUTHENTICATION_TOKEN" -H 'Content-Type: application/json' \
  -d '{"updated_at": 1735229999.5}')" =~ ^2 ]]; do
  ((SECONDS - start < 30)) || fail "publishing did not recover within 30 s of stopping nats-2"
  sleep 0.5
done
pass "with nats-2 stopped, publishing answered 2xx after $((SECONDS - start)) s"
ms="$(all_streams_got 1735229999.5 30)"
pass "with nats-2 stopped, the 4 streams got that update $ms ms after the 2xx"
# What each instance's broker logged about the lost node (warnings and consumer changes).
for s in sse-1 sse-2; do
  "${PODMAN[@]}" logs "${PROJECT}_${s}_1" 2>&1 | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        r = json.loads(line)
    except ValueError:
        continue
    m = r.get("msg", "")
    if r.get("level", 0) >= 40 or "onsumer" in m or "ollow" in m:
        print(f"  {sys.argv[1]} log: {m} " + json.dumps({k: v for k, v in r.items() if k not in ("msg", "time", "pid", "hostname", "level")})[:200])
' "$s" || true
done

echo "== Prometheus on :9090 (deploy/prometheus/prometheus.yml)"
wait_for "Prometheus ready" 30 curl -fsS -m 2 http://127.0.0.1:9090/-/ready
targets_up() {
  curl -fsS http://127.0.0.1:9090/api/v1/targets | python3 -c '
import json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
for t in targets:
    print("  target", t["labels"]["instance"], t["health"], t["lastError"])
sys.exit(0 if len(targets) == 2 and all(t["health"] == "up" for t in targets) else 1)
'
}
# The first scrape comes within one scrape interval (15 s).
deadline=$((SECONDS + 45))
until targets_up >"$WORK/targets"; do
  if ((SECONDS > deadline)); then
    cat "$WORK/targets"
    fail "Prometheus targets not all up"
  fi
  sleep 1
done
cat "$WORK/targets"
rules="$(curl -fsS http://127.0.0.1:9090/api/v1/rules | python3 -c 'import json,sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')"
pass "Prometheus scrapes sse-1 and sse-2 (/metricsz): both targets up; $rules alert rules loaded"

# prom_query EXPR -> "labels value" lines of an instant query.
prom_query() {
  curl -fsS -G http://127.0.0.1:9090/api/v1/query --data-urlencode "query=$1" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["data"]["result"]:
    labels = ",".join(f"{k}={v}" for k, v in sorted(r["metric"].items()) if k != "__name__")
    print(labels or "-", r["value"][1])
'
}
# The 4 streams opened above are still open (over both instances).
subscribers_are() { [[ "$(prom_query 'sum(flagsmith_sse_subscribers)')" == "- $1" ]]; }
wait_for "Prometheus: sum(flagsmith_sse_subscribers) = 4" 45 subscribers_are 4
split="$(prom_query 'flagsmith_sse_subscribers' | cut -d' ' -f2 | tr '\n' ' ')"
[[ "$split" == "2 2 " ]] || fail "nginx least_conn spread the 4 streams as $split, expected 2 and 2"
pass "Prometheus: sum(flagsmith_sse_subscribers) = 4, 2 on sse-1 and 2 on sse-2 (nginx least_conn, shared zone)"

echo "== live traffic, then every Grafana dashboard query against this Prometheus"
# 4 more publishes, 5 s apart (over a few 15 s scrapes), each received by the 4 streams.
for k in 1 2 3 4; do
  status="$(curl -s -o "$WORK/publish" -w '%{http_code}' -X POST \
    http://127.0.0.1:8088/sse/environments/composeEnv/queue-change \
    -H "Authorization: Token $SSE_AUTHENTICATION_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"updated_at\": 173523000$k.5}")"
  [[ "$status" =~ ^2 ]] || fail "publish $k: $status $(cat "$WORK/publish")"
  ms="$(all_streams_got "173523000$k.5" 10)"
  delays+=("${ms}ms")
  sleep 5 # spread the publishes over scrapes (15 s interval)
done
echo "  publish 2xx -> all 4 streams: ${delays[*]}"
# 1 + 1 (after nats-2 stopped) + 4 = 6 accepted (a publish retried while
# nats-2 was lost may come back as a duplicate of one stored despite a 503).
accepted='sum(flagsmith_sse_publishes_total{result=~"published|duplicate"})'
published_reached() { [[ "$(prom_query "$accepted")" == "- 6" ]]; }
wait_for "Prometheus: the 6 accepted publishes scraped" 45 published_reached
pass "4 more publishes reached the 4 streams; Prometheus: 6 accepted ($(prom_query 'sum by (result) (flagsmith_sse_publishes_total) > 0' | tr '\n' ' '))"
# Delivery latency observations per instance and scrape (raw samples of the
# histogram's _count and _sum over the run): which instance saw slow fan-outs, when.
curl -fsS -G http://127.0.0.1:9090/api/v1/query \
  --data-urlencode 'query={__name__=~"flagsmith_sse_delivery_latency_seconds_(count|sum)"}[10m]' |
  python3 -c '
import json, sys
series = {}
for r in json.load(sys.stdin)["data"]["result"]:
    series[(r["metric"]["instance"], r["metric"]["__name__"].rsplit("_", 1)[1])] = r["values"]
for inst in sorted({i for i, _ in series}):
    counts, sums = series.get((inst, "count"), []), series.get((inst, "sum"), [])
    t0, steps, prev = float(counts[0][0]) if counts else 0, [], (0.0, 0.0)
    for (t, c), (_, s) in zip(counts, sums):
        c, s = float(c), float(s)
        if c != prev[0]:
            steps.append(f"+{c - prev[0]:.0f} obs {1000 * (s - prev[1]):.0f}ms @{float(t) - t0:.0f}s")
        prev = (c, s)
    print(f"  delivery latency observations, {inst}: " + "; ".join(steps))
'
python3 "$REPO_ROOT/tools/scripts/dashboard-queries.py" http://127.0.0.1:9090 --rate-interval 1m \
  --json "${DASHBOARD_RESULTS:-$WORK/dashboard.json}" || fail "dashboard queries"
pass "every dashboard query ran against the compose stack's Prometheus"

echo "== all compose checks passed"
