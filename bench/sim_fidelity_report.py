#!/usr/bin/python3
"""Report of bench/sim_fidelity.sh: for each trace, its live runs
(DIR/TRACE/live-1..N) against its two simulations (DIR/TRACE/sim-default,
DIR/TRACE/sim-calibrated), overall and per function, from their
summary.json and invocations.csv, with the targets checked.
usage: sim_fidelity_report.py DIR "TRACES" LIVE_RUNS
"""
import json
import os
import statistics
import sys

from timing_columns import common_parts, read_rows

root, traces, runs = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
SIMS = ("default", "calibrated")
TARGET = {"p50": 10, "p99": 10, "cold": 5, "fn p50": 15}  # % of the live median


def load(path):
    with open(path) as f:
        return json.load(f)


def get(s, fn, key):
    d = s if fn == "all" else s["per_function"].get(fn, {})
    if key == "cold":
        return d.get("container_states", {}).get("cold", 0)
    if key == "n":
        return d.get("invocations", 0)
    v = d.get("latency_ms", {}).get(key)
    return float("nan") if v is None else v


def rel(sim, med):
    return (sim - med) / med * 100 if med else float("nan")


def fmt(key, x):
    return f"{x:.0f}" if key in ("cold", "n") else f"{x:.1f}"


print("live = median of the runs [min-max]; spread = (max-min)/median; sim: value (sim - live median)/live median")
print(f"targets: p50 and p99 within {TARGET['p50']} %, cold within {TARGET['cold']} %, "
      f"per-function p50 within {TARGET['fn p50']} %\n")
verdicts = []
for name in traces:
    d = os.path.join(root, name)
    live = [load(f"{d}/live-{r}/summary.json") for r in range(1, runs + 1)]
    sims = {s: load(f"{d}/sim-{s}/summary.json") for s in SIMS}
    cal = load(f"{d}/calibration.json")["simulation"]
    print(f"== {name}: {live[0]['invocations']} invocations, {len(sims['default']['per_function'])} functions; "
          f"live failures {[s['failures'] for s in live]}, sim {[sims[s]['failures'] for s in SIMS]}; "
          f"calibrated: container_start_ms {cal['container_start_ms']}, host_cpus {cal['host_cpus']}, "
          f"start_cpu_pct {cal['start_cpu_pct']}, exec_cpu_pct {cal['exec_cpu_pct']}")
    hdr = f"{'function':12s} {'metric':6s} {'live median [min-max]':>26s} {'spread':>7s}" + "".join(
        f" {'sim ' + s:>22s}" for s in SIMS)
    print(hdr)
    print("-" * len(hdr))
    fns = ["all"] + sorted(sims["default"]["per_function"], key=lambda f: -get(live[0], f, "n"))
    errors = {s: {} for s in SIMS}
    for fn in fns:
        for key in ("cold", "p50", "p99"):
            v = [get(s, fn, key) for s in live]
            med = statistics.median(v)
            spread = (max(v) - min(v)) / med * 100 if med else float("nan")
            cells = ""
            for s in SIMS:
                sv = get(sims[s], fn, key)
                e = rel(sv, med)
                cells += f" {fmt(key, sv):>12s} ({e:+6.1f}%)"
                errors[s][(fn, key)] = e
            label = fn if key == "cold" else ""
            n = f" n={fmt('n', statistics.median(get(s, fn, 'n') for s in live))}" if key == "cold" else ""
            print(f"{(label + n)[:12]:12s} {key:6s} {fmt(key, med) + ' [' + fmt(key, min(v)) + '-' + fmt(key, max(v)) + ']':>26s}"
                  f" {spread:6.0f}%{cells}")
    for s in SIMS:
        e = errors[s]
        fn_p50 = [abs(e[(fn, 'p50')]) for fn in fns[1:] if e[(fn, 'p50')] == e[(fn, 'p50')]]
        checks = {"p50": abs(e[("all", "p50")]) <= TARGET["p50"], "p99": abs(e[("all", "p99")]) <= TARGET["p99"],
                  "cold": abs(e[("all", "cold")]) <= TARGET["cold"],
                  "fn p50": bool(fn_p50) and max(fn_p50) <= TARGET["fn p50"]}
        verdicts.append((name, s, e[("all", "p50")], e[("all", "p99")], e[("all", "cold")],
                         max(fn_p50) if fn_p50 else float("nan"), checks))

    def parts(path):
        return common_parts(read_rows(path))

    keys = ["start p50", "start p99", "queue p50", "queue p90"]
    print(f"\n{'worker-side (ms)':18s}" + "".join(f"{k:>12s}" for k in keys))
    for tag in [f"live-{r}" for r in range(1, runs + 1)] + [f"sim-{s}" for s in SIMS]:
        p = parts(f"{d}/{tag}/invocations.csv")
        print(f"{tag:18s}" + "".join(f"{p[k]:12.1f}" for k in keys))
    print()

print("== summary (sim vs live median; * = outside the target)")
print(f"{'trace':9s} {'sim':11s} {'p50':>8s} {'p99':>8s} {'cold':>8s} {'worst fn p50':>13s}")
for name, s, p50, p99, cold, fnp50, ok in verdicts:
    def c(v, k):
        return f"{v:+.1f}%" + ("" if ok[k] else "*")
    print(f"{name:9s} {s:11s} {c(p50, 'p50'):>8s} {c(p99, 'p99'):>8s} {c(cold, 'cold'):>8s} "
          f"{(f'{fnp50:.1f}%' + ('' if ok['fn p50'] else '*')):>13s}")
