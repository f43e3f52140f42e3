"""Table of bench/before_after.sh: base-*.json against new-*.json in one
folder. Each figure is the median over runs of each run's own median (the
value bench_worker reports), with [min-max] across runs, and new / base."""
import glob
import json
import os
import statistics
import sys

ROWS = [  # (label, key in warm.configs[i] or a cpu path, clients)
    ("worker CPU per invocation, raw client (us)", ("cpu", "raw_client", "worker"), (1, 2)),
    ("agent CPU per invocation, via worker, libcurl client (us)", ("cpu", "via_worker", "agent"), (1, 2)),
    ("added p50, raw client - direct (us)", "rawclient_added_p50_us", (1, 2)),
    ("added p99, raw client - direct (us)", "rawclient_added_p99_us", (1, 2)),
    ("loopback HTTP floor p50 (us)", "floor_p50_us", (1, 2)),
    ("throughput through the worker, raw client (/s)", "rawclient_worker_throughput_per_s", (1, 2)),
    ("throughput, direct to the agent (/s)", "direct_throughput_per_s", (1, 2)),
]


def figure(cfg, key):
    if isinstance(key, tuple):
        cpu = cfg.get("cpu_us_per_request", {}).get(key[1], {})
        v = cpu.get(key[2])
        return v.get("median") if isinstance(v, dict) else v
    v = cfg.get(key)
    return v.get("median") if isinstance(v, dict) else v


def load(folder, side):
    runs = []
    for path in sorted(glob.glob(os.path.join(folder, side + "-*.json"))):
        with open(path) as f:
            runs.append({c["clients"]: c for c in json.load(f)["warm"]["configs"]})
    return runs


def cell(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-", None
    m = statistics.median(values)
    return f"{m:.1f} [{min(values):.1f}-{max(values):.1f}]", m


def main():
    folder, base_name, new_name = sys.argv[1:4]
    base, new = load(folder, "base"), load(folder, "new")
    print(f"{len(base)} runs each, alternating; median of run medians [min-max]")
    print(f"| figure | clients | {base_name} | {new_name} | new / base |")
    print("|---|---|---|---|---|")
    for label, key, clients in ROWS:
        for n in clients:
            b, bm = cell([figure(r[n], key) for r in base if n in r])
            a, am = cell([figure(r[n], key) for r in new if n in r])
            ratio = f"{am / bm:.2f}" if am is not None and bm else "-"
            print(f"| {label} | {n} | {b} | {a} | {ratio} |")


if __name__ == "__main__":
    main()
