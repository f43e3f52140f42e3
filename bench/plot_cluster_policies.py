#!/usr/bin/python3
"""Cold starts and latency p99 per load-balancing policy, from the
summary.json of simulated-cluster runs (bench/cluster_policies.sh).

usage: /usr/bin/python3 bench/plot_cluster_policies.py --out PLOT.png SUMMARY.json...
Each summary's inputs.cluster.load_balancer names its bar."""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("summaries", nargs="+")
    args = ap.parse_args()
    names, cold, p99, workers = [], [], [], None
    for path in args.summaries:
        with open(path) as f:
            s = json.load(f)
        cluster = s["inputs"]["cluster"]
        names.append(cluster["load_balancer"])
        cold.append(s["container_states"]["cold"])
        p99.append(s["latency_ms"]["p99"])
        workers = (cluster["workers"], s["inputs"]["simulation"]["memory_mb"], s["invocations"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.4))
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"][: len(names)]
    for ax, values, title, fmt in ((a, cold, "cold starts", "{:.0f}"), (b, p99, "latency p99 (ms)", "{:.0f}")):
        bars = ax.bar(names, values, color=colors)
        ax.set_title(title)
        ax.bar_label(bars, labels=[fmt.format(v) for v in values], padding=2)
        ax.set_ylim(0, max(values) * 1.18 if max(values) > 0 else 1)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"{workers[2]} invocations on {workers[0]} simulated workers, {workers[1]} MB each")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
