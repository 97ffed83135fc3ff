#!/usr/bin/env python3
"""Runs every query of the Grafana dashboard against a live Prometheus.

    tools/scripts/dashboard-queries.py PROMETHEUS_URL [DASHBOARD_JSON] [--rate-interval 1m]
                                       [--require-data] [--json OUT]

Grafana's variables are replaced the way Grafana would with "All" selected
($job, $instance -> .*) and $__rate_interval -> --rate-interval (Grafana uses
max(4 x scrape interval, step + scrape interval): 1m at a 15 s scrape).
Prints one line per query: the panel, the legend, and what came back
(series and their values, "no data", or NaN for a quantile of no samples),
then the alerts Prometheus has pending or firing.
Exit 1 if a query does not parse, if no alert rules are loaded, or, with
--require-data, if a query returns no series.
"""

import argparse
import json
import math
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=5) as res:
        return json.load(res)


def main():
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser()
    ap.add_argument("prometheus")
    ap.add_argument("dashboard", nargs="?", default=f"{here}/deploy/grafana/flagsmith-rt-sse.json")
    ap.add_argument("--rate-interval", default="1m")
    ap.add_argument("--require-data", action="store_true")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args()

    dash = json.load(open(args.dashboard))
    rows, bad = [], []
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            expr = (
                t["expr"]
                .replace("$__rate_interval", args.rate_interval)
                .replace("$job", ".*")
                .replace("$instance", ".*")
            )
            url = args.prometheus + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            try:
                result = get(url)["data"]["result"]
            except urllib.error.HTTPError as e:  # 400: the expression does not parse
                bad.append(f"{panel['title']}: {expr}: {e} {e.read().decode(errors='replace')}")
                continue
            series = []
            for r in result:
                labels = ",".join(f"{k}={v}" for k, v in sorted(r["metric"].items()) if k != "__name__")
                value = float(r["value"][1])
                series.append((labels, value))
            rows.append(
                {"panel": panel["title"], "legend": t.get("legendFormat", ""), "expr": expr, "series": series}
            )

    def fmt(v):
        if math.isnan(v):
            return "NaN"
        return f"{v:.6g}"

    with_data = nonzero = 0
    for row in rows:
        s = row["series"]
        if not s:
            shown = "no data"
        else:
            with_data += 1
            if any(not math.isnan(v) and v != 0 for _, v in s):
                nonzero += 1
            shown = "; ".join(f"{{{labels}}} {fmt(v)}" for labels, v in s)
        print(f"  {row['panel']} [{row['legend']}]: {shown}")
    rules = get(args.prometheus + "/api/v1/rules")["data"]["groups"]
    n_rules = sum(len(g["rules"]) for g in rules)
    total = len(rows) + len(bad)
    print(
        f"{total} dashboard queries ran: {with_data} returned series "
        f"({nonzero} with a non-zero value), {len(rows) - with_data} no data, "
        f"{len(bad)} errors; {n_rules} alert rules loaded"
    )
    alerts = get(args.prometheus + "/api/v1/alerts")["data"]["alerts"]
    active = [f"{a['labels'].get('alertname')} ({a['state']})" for a in alerts]
    print(f"alerts pending or firing: {', '.join(active) if active else 'none'}")
    for b in bad:
        print(f"  QUERY ERROR: {b}")
    if args.json:
        json.dump({"rows": rows, "errors": bad, "rules": n_rules, "alerts": active}, open(args.json, "w"), indent=1)
    failed = bool(bad) or n_rules == 0 or (args.require_data and with_data < len(rows))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
