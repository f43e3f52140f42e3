#!/usr/bin/python3
"""Report of bench/keepalive_fidelity.sh: per keep-alive policy, the live runs
(DIR/live-<policy>-1..N) against the simulation (DIR/sim-<policy>), from their
summary.json and invocations.csv; the parameters come from DIR/params.json.
usage: keepalive_fidelity_report.py DIR
"""
import json
import statistics
import sys

from timing_columns import column, common_parts, read_rows

tmp = sys.argv[1]
par = json.load(open(f"{tmp}/params.json"))
runs, pols = par["live_runs"], par["policies"].split()
live = {p: [json.load(open(f"{tmp}/live-{p}-{r}/summary.json")) for r in range(1, runs + 1)] for p in pols}
sim = {p: json.load(open(f"{tmp}/sim-{p}/summary.json")) for p in pols}
ttl = f" (ttl_sec {par['ttl_sec']})" if "TTL" in [p.upper() for p in pols] else ""
print(f"trace: {sim[pols[0]]['invocations']} invocations over {par['seconds']} s (seed {par['seed']}); "
      f"worker: cpu_count {par['cpus']}, memory_mb {par['memory_mb']}, keepalive 600 s, fcfs; "
      f"policies {' '.join(pols)}{ttl}")
print(f"simulation: container_start_ms {par['start_ms']}, invoke_overhead_us 400, network {par['network_us']} us, "
      f"jitter 0; live: {runs} runs per policy, each on a fresh worker, policies interleaved")
for p in pols:
    print(f"  {p}: failures live {[s['failures'] for s in live[p]]}, sim {sim[p]['failures']}; "
          f"live lateness p99 {[s['lateness_ms']['p99'] for s in live[p]]} ms")
print("live = median over runs [min-max]; spread = (max-min)/median; ratio = sim / live median; "
      "cold within 10 %: |ratio - 1| <= 0.10\n")


def get(s, fn, key):
    d = s if fn == "all" else s["per_function"].get(fn, {})
    if key in ("cold", "warm", "prewarm"):
        return d.get("container_states", {}).get(key, 0)
    return d.get("latency_ms", {}).get(key, float("nan"))


hdr = (f"{'policy':11s} {'metric':7s} {'live median [min-max]':>26s} {'spread':>7s} {'sim':>9s} "
       f"{'sim/live':>9s} {'':>6s}")
print(hdr)
print("-" * len(hdr))
for p in pols:
    for key, label in (("cold", "cold"), ("p50", "p50 ms"), ("p99", "p99 ms")):
        v = [get(s, "all", key) for s in live[p]]
        med = statistics.median(v)
        sv = get(sim[p], "all", key)
        spread = (max(v) - min(v)) / med * 100 if med else float("nan")
        ratio = sv / med if med else float("nan")
        fmt = (lambda x: f"{x:.0f}") if key == "cold" else (lambda x: f"{x:.1f}")
        live_s = f"{fmt(med)} [{fmt(min(v))}-{fmt(max(v))}]"
        ok = ("ok" if abs(ratio - 1) <= 0.10 else "NOT") if key == "cold" else ""
        print(f"{p if key == 'cold' else '':11s} {label:7s} {live_s:>26s} {spread:6.0f}% {fmt(sv):>9s} "
              f"{ratio:9.2f} {ok:>6s}")

# Where the policies differ: cold starts per function.
fns = sorted(sim[pols[0]]["per_function"])
print("\ncold starts per function (live median [min-max] / sim):")
print(f"{'function':9s} {'calls':>6s}" + "".join(f"{p:>26s}" for p in pols))
for fn in fns:
    calls = sim[pols[0]]["per_function"][fn]["invocations"]
    cells = []
    for p in pols:
        v = [get(s, fn, "cold") for s in live[p]]
        cells.append(f"{statistics.median(v):.0f} [{min(v)}-{max(v)}] / {get(sim[p], fn, 'cold')}")
    print(f"{fn:9s} {calls:6d}" + "".join(f"{c:>26s}" for c in cells))


# The worker's own timings (same columns live and simulated), nearest rank
# over all invocations of a run.
def parts(path):
    rows = read_rows(path)
    return {**common_parts(rows), "warm exec p50": column(rows, "exec_ms", "warm")}


keys = ["start p50", "start p99", "queue p50", "queue p90", "warm exec p50"]
print("\nworker-side parts (ms):")
print(f"{'run':18s}" + "".join(f"{k:>15s}" for k in keys))
for p in pols:
    for tag in [f"live-{p}-{r}" for r in range(1, runs + 1)] + [f"sim-{p}"]:
        q = parts(f"{tmp}/{tag}/invocations.csv")
        print(f"{tag:18s}" + "".join(f"{q[k]:15.1f}" for k in keys))
