#!/usr/bin/python3
"""Report of bench/sim_fidelity.sh: live runs (DIR/live-1..N) against the
simulation (DIR/sim), per function and overall, from their summary.json and
invocations.csv.
usage: sim_fidelity_report.py DIR LIVE_RUNS CPUS MEMORY_MB NETWORK_US START_MS
"""
import json
import statistics
import sys

from timing_columns import common_parts, read_rows

tmp, runs, cpus, mem, net, start = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
live = [json.load(open(f"{tmp}/live-{r}/summary.json")) for r in range(1, runs + 1)]
sim = json.load(open(f"{tmp}/sim/summary.json"))
print(f"worker: cpu_count {cpus}, memory_mb {mem}, LRU, keepalive 600 s; simulation: container_start_ms {start}, "
      f"invoke_overhead_us 400, network {net} us, jitter 0")
print(f"live: {runs} runs, each on a fresh worker; failures live {[s['failures'] for s in live]}, "
      f"sim {sim['failures']}; live lateness p99 {[s['lateness_ms']['p99'] for s in live]} ms")
print("live = median over runs [min-max]; live spread = (max-min)/median; sim vs live = (sim - median)/median\n")


def get(s, fn, key):
    d = s if fn == "all" else s["per_function"].get(fn, {})
    if key in ("cold", "warm", "prewarm"):
        return d.get("container_states", {}).get(key, 0)
    return d.get("latency_ms", {}).get(key, float("nan"))


fns = ["all"] + sorted(sim["per_function"])
hdr = f"{'function':9s} {'metric':7s} {'live median [min-max]':>28s} {'spread':>7s} {'sim':>9s} {'sim vs live':>11s}"
print(hdr)
print("-" * len(hdr))
for fn in fns:
    for key, label in (("cold", "cold"), ("warm", "warm"), ("p50", "p50 ms"), ("p99", "p99 ms")):
        v = [get(s, fn, key) for s in live]
        med = statistics.median(v)
        sv = get(sim, fn, key)
        spread = (max(v) - min(v)) / med * 100 if med else float("nan")
        rel = (sv - med) / med * 100 if med else float("nan")
        fmt = (lambda x: f"{x:.0f}") if key in ("cold", "warm") else (lambda x: f"{x:.1f}")
        live_s = f"{fmt(med)} [{fmt(min(v))}-{fmt(max(v))}]"
        print(f"{fn if label == 'cold' else '':9s} {label:7s} {live_s:>28s} {spread:6.0f}% {fmt(sv):>9s} {rel:+10.0f}%")


# Where the difference comes from: the worker's own timings (same columns
# live and simulated), medians over all invocations of a run.
def parts(path):
    rows = read_rows(path)
    return {**common_parts(rows),
            "agent rtt - exec p50": statistics.median(
                [float(r["agent_rtt_ms"]) - float(r["exec_ms"]) for r in rows if r["agent_rtt_ms"] and r["exec_ms"]]
                or [float("nan")]),
            "e2e - worker total p50": statistics.median(
                [float(r["e2e_ms"]) - float(r["worker_total_ms"]) for r in rows if r["e2e_ms"] and r["worker_total_ms"]]
                or [float("nan")])}


print("\nworker-side parts (ms; nearest-rank over all invocations of a run):")
keys = ["start p50", "start p99", "queue p50", "queue p90", "agent rtt - exec p50", "e2e - worker total p50"]
print(f"{'run':8s}" + "".join(f"{k:>24s}" for k in keys))
for tag in [f"live-{r}" for r in range(1, runs + 1)] + ["sim"]:
    p = parts(f"{tmp}/{tag}/invocations.csv")
    print(f"{tag:8s}" + "".join(f"{p[k]:24.1f}" for k in keys))
