#!/usr/bin/python3
"""Tables and plots of bench/policy_compare.sh (keep-alive and queue policies
in the simulator), from each run's summary.json and invocations.csv.

usage:
  plot_policy_compare.py working-set --trace TRACE_DIR RUN_DIR
      prints the working set in MB: the sum over functions of memory x the
      most invocations of the function running at once in RUN_DIR (an
      unconstrained run), i.e. the memory that holds every function's peak
      number of busy containers.
  plot_policy_compare.py report --trace TRACE_DIR --working-set MB
      --ka-dir DIR --ka-policies "P ..." --mems "MB ..."
      --queue-dir DIR --queue-policies "Q ..." --cores "N ..." --plot-dir DIR
      prints markdown tables, writes policy_compare_keepalive.png and
      policy_compare_queue.png into --plot-dir.

Definitions (all from invocations.csv; times in ms as written there):
- an invocation's start at the worker = send_ms + queue_ms; its container is
  busy from then until end_ms (the 150 us half network is ignored);
- memory of a function = max(mem_mb, 32), as the load generator registers it;
- cold-start time lost = sum over cold rows of container_start_ms;
- cold penalty = sum over cold and prewarm rows of container_start_ms +
  exec_ms - warm_dur_ms of the function: the start-up plus the extra time of
  a first call in a container (the synthetic function's cold_dur_ms);
- idle memory-time (lower bound) = sum over warm rows of memory x (start -
  the latest end_ms of an earlier invocation of the same function, at or
  before start). The container that served a warm row went idle at the end
  of one of those invocations, so its idle period was at least this long.
  Not counted (the results folder does not give them): idle time that ended
  in an eviction or expiry, idle time after the last call, and the idle time
  of pre-warmed containers before their first call.
- mean queue time = mean queue_ms over successful rows (a row that timed out
  while queued is written with queue_ms 0, so failures are left out).
"""
import argparse
import csv
import heapq
import json
import math
import os
import sys
from collections import defaultdict

MIN_MB = 32


def metadata(trace):
    with open(os.path.join(trace, "metadata.csv"), newline="") as f:
        return {r["func_name"]: (max(MIN_MB, int(r["mem_mb"])), float(r["warm_dur_ms"]))
                for r in csv.DictReader(f)}


def rows(run):
    with open(os.path.join(run, "invocations.csv"), newline="") as f:
        yield from csv.DictReader(f)


def working_set(trace, run):
    meta = metadata(trace)
    ev = defaultdict(list)
    for r in rows(run):
        if r["success"] != "1":
            continue
        s = float(r["send_ms"]) + float(r["queue_ms"] or 0)
        ev[r["function_name"]] += [(s, 1), (float(r["end_ms"]), -1)]
    total = 0
    for fn, e in ev.items():
        e.sort()  # an end at the same instant as a start comes first
        cur = peak = 0
        for _, d in e:
            cur += d
            peak = max(peak, cur)
        total += peak * meta[fn][0]
    return total


def run_stats(trace_meta, run):
    with open(os.path.join(run, "summary.json")) as f:
        s = json.load(f)
    per_fn = defaultdict(list)
    cold = prewarm = 0
    lost_ms = penalty_ms = queue_sum = 0.0
    nq = 0
    for r in rows(run):
        st = r["container_state"]
        if r["success"] != "1":
            continue
        queue_sum += float(r["queue_ms"] or 0)
        nq += 1
        mem, warm = trace_meta[r["function_name"]]
        start = float(r["send_ms"]) + float(r["queue_ms"] or 0)
        if st in ("cold", "prewarm"):
            cs = float(r["container_start_ms"] or 0)
            penalty_ms += cs + float(r["exec_ms"]) - warm
            if st == "cold":
                cold += 1
                lost_ms += cs
            else:
                prewarm += 1
        per_fn[r["function_name"]].append((start, float(r["end_ms"]), st == "warm", mem))
    idle_mb_ms = 0.0
    for inv in per_fn.values():
        inv.sort()
        ends, last_end = [], None
        for start, end, warm, mem in inv:
            while ends and ends[0] <= start:
                e = heapq.heappop(ends)
                last_end = e if last_end is None else max(last_end, e)
            if warm and last_end is not None:
                idle_mb_ms += mem * (start - last_end)
            heapq.heappush(ends, end)
    n = s["invocations"]
    states = s["container_states"]
    return dict(n=n, failures=s["failures"], cold=states["cold"], prewarm=states["prewarm"],
                cold_ok=cold, cold_pct=100.0 * states["cold"] / n, lost_s=lost_ms / 1000, penalty_s=penalty_ms / 1000,
                p50=s["latency_ms"]["p50"], p99=s["latency_ms"]["p99"], mean_queue_ms=queue_sum / nq if nq else math.nan,
                idle_gbs=idle_mb_ms / 1024 / 1000)


def trace_line(trace, meta):
    n, last = 0, 0.0
    count = defaultdict(int)
    with open(os.path.join(trace, "trace.csv"), newline="") as f:
        for r in csv.DictReader(f):
            n += 1
            count[r["func_name"]] += 1
            last = float(r["invoke_time_ms"])
    cpu = sum(count[fn] * meta[fn][1] for fn in meta) / max(last, 1)
    mem = sum(m for m, _ in meta.values())
    return (f"{n} invocations of {len(meta)} functions over {last / 60000:.0f} min "
            f"({n / (last / 1000):.2f}/s on average); warm execution time needs {cpu:.2f} CPUs on average; "
            f"one container of every function: {mem} MB")


def fmt(v, d=1):
    return "nan" if v != v else f"{v:,.{d}f}"


def report(a):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = metadata(a.trace)
    ka_pol, mems = a.ka_policies.split(), [int(m) for m in a.mems.split()]
    q_pol, cores = a.queue_policies.split(), [int(c) for c in a.cores.split()]
    print(f"trace: {trace_line(a.trace, meta)}; working set {a.working_set} MB\n")
    ka = {(p, m): run_stats(meta, os.path.join(a.ka_dir, f"{p}-{m}")) for m in mems for p in ka_pol}
    print("### Keep-alive\n")
    print("| memory | policy | cold starts | cold % | prewarm starts | cold-start time lost (s) | cold penalty (s) "
          "| p50 (ms) | p99 (ms) | idle memory-time, lower bound (GB·s) | failures |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in mems:
        for p in ka_pol:
            r = ka[p, m]
            print(f"| {m} MB ({100 * m / a.working_set:.0f} %) | {p} | {r['cold']} | {r['cold_pct']:.2f} | {r['prewarm']} "
                  f"| {fmt(r['lost_s'])} | {fmt(r['penalty_s'])} | {fmt(r['p50'])} | {fmt(r['p99'])} "
                  f"| {fmt(r['idle_gbs'], 0)} | {r['failures']} |")
    q = {(p, c): run_stats(meta, os.path.join(a.queue_dir, f"{p}-{c}")) for c in cores for p in q_pol}
    print("\n### Queueing\n")
    print("| CPUs | policy | p50 (ms) | p99 (ms) | mean queue time (ms) | cold starts | failures |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for c in cores:
        for p in q_pol:
            r = q[p, c]
            print(f"| {c} | {p} | {fmt(r['p50'])} | {fmt(r['p99'])} | {fmt(r['mean_queue_ms'])} | {r['cold']} "
                  f"| {r['failures']} |")

    markers = "osD^vx"
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    x = [100 * m / a.working_set for m in mems]
    for i, p in enumerate(ka_pol):
        for ax, key in zip(axes, ("cold_pct", "penalty_s", "p99")):
            ax.plot(x, [ka[p, m][key] for m in mems], marker=markers[i % len(markers)], label=p)
    for ax, title in zip(axes, ("cold starts (% of invocations)", "cold penalty (s, sum)", "latency p99 (ms)")):
        ax.set_title(title)
        ax.set_xlabel(f"memory (% of the {a.working_set} MB working set)")
        ax.set_xticks(x, [f"{v:.0f}\n{m} MB" for v, m in zip(x, mems)])
        ax.set_yscale("log")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].legend(fontsize=8)
    n = ka[ka_pol[0], mems[0]]["n"]
    fig.suptitle(f"keep-alive policies, simulated: {n} invocations, {len(meta)} functions, keepalive_sec 0")
    fig.tight_layout()
    fig.savefig(os.path.join(a.plot_dir, "policy_compare_keepalive.png"), dpi=100)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for i, p in enumerate(q_pol):
        for ax, key in zip(axes, ("p50", "p99", "mean_queue_ms")):
            ax.plot(cores, [q[p, c][key] for c in cores], marker=markers[i % len(markers)], label=p)
    for ax, title in zip(axes, ("latency p50 (ms)", "latency p99 (ms)", "mean queue time (ms)")):
        ax.set_title(title)
        ax.set_xlabel("CPUs (container_resources.cpu_count)")
        ax.set_xticks(cores)
        ax.set_yscale("log")
        ax.spines[["top", "right"]].set_visible(False)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"queue policies, simulated: {n} invocations, memory to spare")
    fig.tight_layout()
    fig.savefig(os.path.join(a.plot_dir, "policy_compare_queue.png"), dpi=100)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("working-set")
    w.add_argument("--trace", required=True)
    w.add_argument("run")
    r = sub.add_parser("report")
    for k in ("--trace", "--ka-dir", "--ka-policies", "--mems", "--queue-dir", "--queue-policies", "--cores",
              "--plot-dir"):
        r.add_argument(k, required=True)
    r.add_argument("--working-set", type=int, required=True)
    a = ap.parse_args()
    if a.cmd == "working-set":
        print(working_set(a.trace, a.run))
    else:
        report(a)


if __name__ == "__main__":
    sys.exit(main())
