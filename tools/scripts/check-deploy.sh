#!/usr/bin/env bash
# Validates everything under deploy/ that can be checked without a cluster:
#   - every YAML file parses; Kubernetes manifests have their required fields
#     and agree with each other (selectors, probes, ports, grace period);
#     compose and Kubernetes set SSE_WORKERS and keep metrics on; every
#     Prometheus scrape job reads /metricsz;
#   - the Grafana dashboard is valid JSON, uses only the datasource variable,
#     and queries only metrics documented in docs/operations.md;
#   - the configuration table of docs/operations.md lists exactly the variables
#     apps/sse/src/config.ts reads (plus ones marked "Not implemented yet");
#   - nginx accepts the load balancer config (nginx -t, upstream hosts mapped
#     to 127.0.0.1 because compose service names do not resolve here);
#   - nats-server accepts the NATS config (nats-server -t);
#   - promtool accepts the alert rules and their unit tests pass.
# Needs python3 with PyYAML (Debian: python3-yaml). nginx, nats-server and
# promtool (Debian: prometheus) are used when installed; a missing one is
# reported as NOT CHECKED and makes the script fail unless ALLOW_MISSING=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
failed=0
missing=0
ok() { printf 'ok       %s\n' "$*"; }
bad() {
  printf 'FAILED   %s\n' "$*"
  failed=1
}
skip() {
  printf 'NOT CHECKED %s\n' "$*"
  missing=1
}

# ---------------------------------------------------------------- YAML + k8s
if python3 - <<'EOF'; then ok "YAML files and Kubernetes manifests"; else bad "YAML files and Kubernetes manifests"; fi
import glob, json, re, sys
import yaml

errors = []
docs = {}
for path in sorted(glob.glob("deploy/**/*.y*ml", recursive=True)):
    try:
        docs[path] = [d for d in yaml.safe_load_all(open(path)) if d is not None]
    except yaml.YAMLError as e:
        errors.append(f"{path}: {e}")

k8s = {}
for path, items in docs.items():
    if not path.startswith("deploy/kubernetes/") or path.endswith("nats-values.yaml"):
        continue
    for d in items:
        for field in ("apiVersion", "kind"):
            if field not in d:
                errors.append(f"{path}: missing {field}")
        if d.get("kind") != "Kustomization" and not d.get("metadata", {}).get("name"):
            errors.append(f"{path}: missing metadata.name")
        k8s[(d.get("kind"), path)] = d

def one(kind):
    found = [d for (k, _), d in k8s.items() if k == kind]
    if len(found) != 1:
        errors.append(f"expected one {kind}, found {len(found)}")
        return {}
    return found[0]

dep, svc, pdb, cm = one("Deployment"), one("Service"), one("PodDisruptionBudget"), one("ConfigMap")
kus = one("Kustomization")
if dep:
    spec = dep["spec"]
    labels = spec["template"]["metadata"]["labels"]
    sel = spec["selector"]["matchLabels"]
    if any(labels.get(k) != v for k, v in sel.items()):
        errors.append("Deployment selector does not match its pod labels")
    for other, name in ((svc.get("spec", {}).get("selector", {}), "Service"),
                        (pdb.get("spec", {}).get("selector", {}).get("matchLabels", {}), "PodDisruptionBudget")):
        if not other or any(labels.get(k) != v for k, v in other.items()):
            errors.append(f"{name} selector does not match the Deployment's pods")
    pod = spec["template"]["spec"]
    c = pod["containers"][0]
    if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
        errors.append("readinessProbe must GET /readyz")
    if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/livez":
        errors.append("livenessProbe must GET /livez")
    port_names = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    if port_names.get("http") != 8088:
        errors.append("container port http must be 8088")
    env = {e["name"]: e for e in c.get("env", [])}
    tok = env.get("SSE_AUTHENTICATION_TOKEN", {}).get("valueFrom", {}).get("secretKeyRef")
    if not tok:
        errors.append("SSE_AUTHENTICATION_TOKEN must come from a Secret")
    sc = c.get("securityContext", {})
    psc = pod.get("securityContext", {})
    if not (sc.get("readOnlyRootFilesystem") and (sc.get("runAsNonRoot") or psc.get("runAsNonRoot"))):
        errors.append("container must run as non-root with a read-only root filesystem")
    if sc.get("allowPrivilegeEscalation") is not False:
        errors.append("allowPrivilegeEscalation must be false")
    res = c.get("resources", {})
    if not res.get("requests") or not res.get("limits"):
        errors.append("container needs resource requests and limits")
    # Grace period must cover the preStop pause plus the drain window.
    grace = pod.get("terminationGracePeriodSeconds", 30)
    pre = c.get("lifecycle", {}).get("preStop", {})
    pause = int(pre.get("exec", {}).get("command", ["sleep", "0"])[-1]) if "exec" in pre else \
        pre.get("sleep", {}).get("seconds", 0)
    drain = cm.get("data", {}).get("DRAIN_WINDOW") or env.get("DRAIN_WINDOW", {}).get("value")
    if drain is None:  # the server's default, in milliseconds
        src = open("packages/server/src/options.ts").read()
        m = re.search(r"DEFAULT_DRAIN_WINDOW_MS = ([\d_]+)", src)
        drain_s = int(m.group(1).replace("_", "")) / 1000 if m else 30
    else:  # DRAIN_WINDOW is in seconds
        drain_s = float(drain)
    if grace <= pause + drain_s + 5:
        errors.append(f"terminationGracePeriodSeconds {grace} must exceed preStop {pause}s + drain {drain_s}s + 5s")
if kus:
    for r in kus.get("resources", []):
        if not glob.glob(f"deploy/kubernetes/{r}"):
            errors.append(f"kustomization lists missing file {r}")

# nats/nats chart values: cluster of 3 with JetStream file storage.
nv = docs.get("deploy/kubernetes/nats-values.yaml", [{}])[0]
cfg = nv.get("config", {})
if cfg.get("cluster", {}).get("replicas") != 3 or not cfg.get("cluster", {}).get("enabled"):
    errors.append("nats-values.yaml: cluster of 3 expected")
js = cfg.get("jetstream", {})
if not (js.get("enabled") and js.get("fileStore", {}).get("enabled") and js["fileStore"].get("pvc", {}).get("enabled")):
    errors.append("nats-values.yaml: JetStream file storage on a PVC expected")

# SSE_WORKERS set explicitly wherever the image runs with NATS (its default
# counts the host's CPUs, not the container's), and metrics left on.
compose = docs.get("deploy/compose/compose.yaml", [{}])[0]
k8s_env = dict(cm.get("data", {}))
if dep:
    k8s_env.update({e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0].get("env", [])})
places = [(f"compose service {n}", svc_.get("environment", {})) for n, svc_ in compose.get("services", {}).items()
          if "NATS_URL" in (svc_.get("environment") or {})]
places.append(("the Kubernetes ConfigMap/Deployment", k8s_env))
for where, env in places:
    if not str(env.get("SSE_WORKERS", "")).isdigit():
        errors.append(f"{where}: SSE_WORKERS must be set (the default counts the host's CPUs)")
    if str(env.get("METRICS_ENABLED", "true")).lower() == "false":
        errors.append(f"{where}: METRICS_ENABLED=false leaves Prometheus without /metricsz")

# Every scrape job reads /metricsz (the service serves no /metrics).
for path in ("deploy/prometheus/prometheus.yml", "deploy/prometheus/scrape-example.yml"):
    for d in docs.get(path, []):
        for job in d.get("scrape_configs", []):
            if job.get("metrics_path") != "/metricsz":
                errors.append(f"{path}: job {job.get('job_name')} must set metrics_path: /metricsz")

for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF

# -------------------------------------------------------------------- Grafana
if python3 - <<'EOF'; then ok "Grafana dashboard"; else bad "Grafana dashboard"; fi
import json, re, sys
errors = []
d = json.load(open("deploy/grafana/flagsmith-rt-sse.json"))
names = [v["name"] for v in d["templating"]["list"]]
if "datasource" not in names or d["templating"]["list"][0]["type"] != "datasource":
    errors.append("first variable must be the datasource variable")
ops = open("docs/operations.md").read()
documented = set(re.findall(r"`((?:flagsmith_sse|process|nodejs)_[a-z0-9_]+)", ops))
ids = set()
for p in d["panels"]:
    if p["id"] in ids:
        errors.append(f"duplicate panel id {p['id']}")
    ids.add(p["id"])
    if p["type"] == "row":
        continue
    if p.get("datasource", {}).get("uid") != "${datasource}":
        errors.append(f"panel {p['title']!r} does not use the datasource variable")
    for t in p["targets"]:
        if t.get("datasource", {}).get("uid") != "${datasource}":
            errors.append(f"panel {p['title']!r} target does not use the datasource variable")
        for m in re.findall(r"\b((?:flagsmith_sse|process|nodejs)_[a-z0-9_]+)", t["expr"]):
            base = re.sub(r"_(bucket|sum|count)$", "", m)
            if m not in documented and base not in documented:
                errors.append(f"panel {p['title']!r} queries {m}, which docs/operations.md does not document")
for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF

# ------------------------------------------------- configuration reference
if python3 - <<'EOF'; then ok "docs/operations.md configuration table matches apps/sse/src/config.ts"; else bad "docs/operations.md configuration table vs apps/sse/src/config.ts"; fi
import re, sys
code = open("apps/sse/src/config.ts").read()
# Every variable is read as read.<kind>('NAME', ...); names with an underscore are read elsewhere too.
in_code = set(re.findall(r"'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'", code))
in_code |= set(re.findall(r"read\.\w+\(\s*'([A-Z][A-Z0-9_]*)'", code))
doc = open("docs/operations.md").read()
table = doc[doc.index("<!-- config-table:start -->"):doc.index("<!-- config-table:end -->")]
in_doc, planned = set(), set()
for line in table.splitlines()[3:]:
    first = line.split("|")[1]
    names = set(re.findall(r"`([A-Z0-9_]+)`", first))
    in_doc |= names
    if "Not implemented yet" in line:
        planned |= names
errors = [f"{v} is read by config.ts but not documented" for v in sorted(in_code - in_doc)]
errors += [f"{v} is documented but config.ts does not read it (mark it 'Not implemented yet')"
           for v in sorted(in_doc - in_code - planned)]
errors += [f"{v} is marked 'Not implemented yet' but config.ts reads it" for v in sorted(planned & in_code)]
for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF

# ---------------------------------------------------------------------- nginx
if command -v nginx >/dev/null 2>&1; then
  tmp="$(mktemp -d)"
  sed -E 's/server sse-[0-9]+:8088/server 127.0.0.1:8088/' deploy/compose/nginx/nginx.conf >"$tmp/nginx.conf"
  if nginx -t -q -p "$tmp" -c "$tmp/nginx.conf" -g "pid $tmp/nginx.pid;" 2>"$tmp/err"; then
    ok "nginx -t deploy/compose/nginx/nginx.conf"
  else
    cat "$tmp/err"
    bad "nginx -t deploy/compose/nginx/nginx.conf"
  fi
  rm -rf "$tmp"
else
  skip "nginx config (nginx not installed)"
fi

# ----------------------------------------------------------------------- NATS
if command -v nats-server >/dev/null 2>&1; then
  if SERVER_NAME=check nats-server -c deploy/compose/nats/nats.conf -t >/dev/null 2>&1; then
    ok "nats-server -t deploy/compose/nats/nats.conf"
  else
    bad "nats-server -t deploy/compose/nats/nats.conf"
  fi
else
  skip "NATS config (nats-server not installed)"
fi

# ----------------------------------------------------------------- Prometheus
if command -v promtool >/dev/null 2>&1; then
  if promtool check rules deploy/prometheus/alerts.yml >/dev/null &&
    (cd deploy/prometheus && promtool test rules alerts.test.yml >/dev/null); then
    ok "promtool check/test rules deploy/prometheus/alerts.yml"
  else
    bad "promtool check/test rules deploy/prometheus/alerts.yml"
  fi
  tmp="$(mktemp -d)"
  cp deploy/prometheus/alerts.yml "$tmp/alerts.yml"
  sed "s#/etc/prometheus/alerts.yml#$tmp/alerts.yml#" deploy/prometheus/prometheus.yml >"$tmp/prometheus.yml"
  if promtool check config "$tmp/prometheus.yml" >/dev/null; then
    ok "promtool check config deploy/prometheus/prometheus.yml"
  else
    bad "promtool check config deploy/prometheus/prometheus.yml"
  fi
  rm -rf "$tmp"
else
  skip "Prometheus rules and config (promtool not installed)"
fi

if [[ "$failed" == 1 ]]; then
  exit 1
fi
if [[ "$missing" == 1 && "${ALLOW_MISSING:-0}" != 1 ]]; then
  echo "some checks could not run (install nginx, nats-server, prometheus, or set ALLOW_MISSING=1)" >&2
  exit 1
fi
