#!/usr/bin/python3
"""Plots of a load generator results folder (docs/load_gen.md).

usage: /usr/bin/python3 scripts/plot_results.py DIR

Reads DIR/invocations.csv and DIR/summary.json and writes, one figure per file:
  latency_cdf.png            e2e latency CDF per function (successful invocations), log x
  latency_over_time.png      e2e latency vs send time, one colour per container state, log y
  cold_starts_over_time.png  cold starts per second (bars), warm/prewarm per second (lines)
  scaling.png                scaling runs only (CSV `step` has values): throughput and
                             p50/p99 latency vs clients, from summary.json "steps"
An empty run still gets its figures, saying "no data". Exits 1 with a message
when the files are missing or malformed. Needs python3-matplotlib (Debian).
"""
import csv
import json
import math
import os
import sys

REQUIRED = ("function_name", "function_version", "send_ms", "end_ms", "e2e_ms", "container_state", "success")
STATE_COLOURS = {"cold": "tab:blue", "prewarm": "tab:green", "warm": "tab:orange", "error": "tab:red"}
# PNG metadata without the matplotlib version: identical input gives identical bytes.
PNG_META = {"Software": None}


class BadInput(Exception):
    pass


def num(text, col, path, lineno, required):
    text = (text or "").strip()
    if text == "":
        if required:
            raise BadInput(f"{path}:{lineno}: column {col} is empty")
        return None
    try:
        v = float(text)
    except ValueError:
        raise BadInput(f"{path}:{lineno}: column {col} is not a number: {text!r}")
    if not math.isfinite(v):
        raise BadInput(f"{path}:{lineno}: column {col} is not finite: {text!r}")
    return v


def read_csv(path):
    try:
        f = open(path, newline="")
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}")
    rows = []
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if header is None:
                raise BadInput(f"{path}: empty file (no header)")
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise BadInput(f"{path}:1: header lacks column(s) {', '.join(missing)}")
            idx = {c: i for i, c in enumerate(header)}
            has_step = "step" in idx
            for raw in reader:
                lineno = reader.line_num
                if len(raw) != len(header):
                    raise BadInput(f"{path}:{lineno}: {len(raw)} fields, the header has {len(header)}")
                g = lambda c: raw[idx[c]]  # noqa: E731
                success = g("success").strip()
                if success not in ("0", "1"):
                    raise BadInput(f"{path}:{lineno}: success is {success!r}, expected 0 or 1")
                step = None
                if has_step and g("step").strip():
                    try:
                        step = int(g("step"))
                    except ValueError:
                        raise BadInput(f"{path}:{lineno}: step is not an integer: {g('step')!r}")
                rows.append({
                    "fn": g("function_name"),
                    "version": g("function_version"),
                    "send_ms": num(g("send_ms"), "send_ms", path, lineno, True),
                    "end_ms": num(g("end_ms"), "end_ms", path, lineno, True),
                    "e2e_ms": num(g("e2e_ms"), "e2e_ms", path, lineno, True),
                    "state": g("container_state").strip() or "error",
                    "success": success == "1",
                    "step": step,
                })
        except csv.Error as e:
            raise BadInput(f"{path}:{reader.line_num}: {e}")
    return rows


def read_summary(path):
    try:
        with open(path) as f:
            s = json.load(f)
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}")
    except ValueError as e:
        raise BadInput(f"{path}: not valid JSON: {e}")
    if not isinstance(s, dict):
        raise BadInput(f"{path}: not a JSON object")
    return s


def fn_label(rows):
    """Function label: the name, or name-version when a name has several versions."""
    versions = {}
    for r in rows:
        versions.setdefault(r["fn"], set()).add(r["version"])
    return lambda r: r["fn"] if len(versions[r["fn"]]) == 1 else f"{r['fn']}-{r['version']}"


def no_data(ax, what="no data"):
    ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", fontsize=14, color="grey")


def title(summary, text):
    mode = summary.get("mode")
    return f"{text} ({mode} run)" if isinstance(mode, str) else text


def positive(v):
    # log axes cannot show 0: a 0.000 ms latency is drawn at 1 µs
    return v if v > 0 else 0.001


CDF_TOP = 10           # curves in the latency CDF at most (the last one "others")
CDF_LEGEND_INSIDE = 5  # more curves than this: the legend goes right of the plot


def cdf_curves(by_fn):
    """[(label, values)] for the CDF, readable with many functions: up to
    CDF_TOP functions a curve each, by name; beyond, the CDF_TOP - 1 most
    invoked (by name) and one "others (N functions)" curve of the rest."""
    if len(by_fn) <= CDF_TOP:
        return [(k, by_fn[k]) for k in sorted(by_fn)]
    ranked = sorted(by_fn, key=lambda k: (-len(by_fn[k]), k))
    rest = ranked[CDF_TOP - 1:]
    return ([(k, by_fn[k]) for k in sorted(ranked[:CDF_TOP - 1])] +
            [(f"others ({len(rest)} functions)", [x for k in rest for x in by_fn[k]])])


def plot_cdf(plt, rows, summary, out):
    fig, ax = plt.subplots(figsize=(8, 5))
    label = fn_label(rows)
    by_fn = {}
    for r in rows:
        if r["success"]:
            by_fn.setdefault(label(r), []).append(positive(r["e2e_ms"]))
    if by_fn:
        curves = cdf_curves(by_fn)
        for name, values in curves:
            v = sorted(values)
            n = len(v)
            # at most ~2000 steps per curve: the same picture, drawn in
            # seconds for million-row runs (the last point is always kept)
            step = max(1, n // 2000)
            idx = list(range(step - 1, n, step))
            if idx[-1] != n - 1:
                idx.append(n - 1)
            ax.step([v[i] for i in idx], [(i + 1) / n for i in idx], where="post", label=f"{name} (n={n})")
        ax.set_xscale("log")
        if len(curves) > CDF_LEGEND_INSIDE:
            fig.set_size_inches(11, 5)
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0)
        else:
            ax.legend(loc="lower right", fontsize="small")
    else:
        no_data(ax, "no data (no successful invocations)")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("end-to-end latency (ms, log scale)")
    ax.set_ylabel("fraction of successful invocations")
    ax.set_title(title(summary, "End-to-end latency CDF per function"))
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100, metadata=PNG_META)
    plt.close(fig)


def plot_over_time(plt, rows, summary, out):
    fig, ax = plt.subplots(figsize=(9, 5))
    if rows:
        # big runs: every k-th warm point (deterministic), every cold/error one
        k = max(1, len(rows) // 50000)
        for state in list(STATE_COLOURS) + sorted({r["state"] for r in rows} - set(STATE_COLOURS)):
            pts = [r for r in rows if r["state"] == state]
            if not pts:
                continue
            n = len(pts)
            shown = pts[::k] if state in ("warm", "prewarm") else pts
            note = f", 1 in {k} shown" if len(shown) < n else ""
            ax.scatter([r["send_ms"] / 1000.0 for r in shown], [positive(r["e2e_ms"]) for r in shown], s=6,
                       color=STATE_COLOURS.get(state, "tab:grey"), label=f"{state} (n={n}{note})",
                       marker="x" if state == "error" else "o", linewidths=0.8)
        ax.set_yscale("log")
        ax.legend(loc="upper right", fontsize="small", markerscale=2)
    else:
        no_data(ax)
    ax.set_xlabel("send time since the start of the run (s)")
    ax.set_ylabel("end-to-end latency (ms, log scale)")
    ax.set_title(title(summary, "End-to-end latency over time by container state"))
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100, metadata=PNG_META)
    plt.close(fig)


def plot_cold_starts(plt, rows, summary, out):
    fig, ax = plt.subplots(figsize=(9, 5))
    if rows:
        span_s = max(r["send_ms"] for r in rows) / 1000.0
        width = max(1, int(-(-span_s // 600)))  # at most ~600 bins, whole seconds
        bins = int(span_s // width) + 1
        counts = {s: [0] * bins for s in ("cold", "warm", "prewarm")}
        for r in rows:
            if r["state"] in counts:
                counts[r["state"]][max(0, int(r["send_ms"] // 1000 // width))] += 1
        # per second, whatever the bin width
        counts = {s: [c / width for c in v] for s, v in counts.items()}
        xs = [b * width for b in range(bins)]
        seconds = bins * width
        ax.bar(xs, counts["cold"], width=0.8 * width, align="edge", color=STATE_COLOURS["cold"],
               label=f"cold starts (total {round(sum(counts['cold']) * width)})")
        centres = [x + 0.4 * width for x in xs]
        ax.plot(centres, counts["warm"], color=STATE_COLOURS["warm"], marker=".",
                label=f"warm (total {round(sum(counts['warm']) * width)})")
        ax.plot(centres, counts["prewarm"], color=STATE_COLOURS["prewarm"], marker=".",
                label=f"prewarm (total {round(sum(counts['prewarm']) * width)})")
        ax.set_xlim(0, seconds)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper right", fontsize="small")
    else:
        no_data(ax)
    ax.set_xlabel("send time since the start of the run (s; bins of 1 s, or wider for long runs)")
    ax.set_ylabel("invocations per second")
    ax.set_title(title(summary, "Cold starts per second (bars), warm and prewarm starts (lines)"))
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100, metadata=PNG_META)
    plt.close(fig)


def plot_scaling(plt, summary, path, out):
    steps = summary.get("steps")
    if not isinstance(steps, list):
        raise BadInput(f"{path}: the CSV has scaling steps but summary.json has no \"steps\" list")
    pts = []
    for i, st in enumerate(steps):
        if not isinstance(st, dict) or not isinstance(st.get("clients"), (int, float)):
            raise BadInput(f"{path}: steps[{i}] has no numeric \"clients\"")
        lat = st.get("latency_ms") if isinstance(st.get("latency_ms"), dict) else {}
        val = lambda v: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan  # noqa
        pts.append((st["clients"], val(st.get("throughput_per_s")), val(lat.get("p50")), val(lat.get("p99"))))
    pts.sort()
    fig, ax = plt.subplots(figsize=(8, 5))
    if pts:
        clients = [p[0] for p in pts]
        ax.plot(clients, [p[1] for p in pts], color="tab:blue", marker="o", label="throughput")
        ax.set_ylim(bottom=0)
        ax2 = ax.twinx()
        ax2.plot(clients, [p[2] for p in pts], color="tab:orange", marker="s", label="p50 latency")
        ax2.plot(clients, [p[3] for p in pts], color="tab:red", marker="^", label="p99 latency")
        ax2.set_ylabel("end-to-end latency (ms)")
        ax2.set_ylim(bottom=0)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize="small")
        ax.set_xticks(clients)
    else:
        no_data(ax)
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("throughput (successful invocations/s)")
    ax.set_title(title(summary, "Throughput and latency vs clients"))
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100, metadata=PNG_META)
    plt.close(fig)


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 1
    folder = argv[1]
    if not os.path.isdir(folder):
        print(f"plot_results: {folder} is not a directory", file=sys.stderr)
        return 1
    csv_path = os.path.join(folder, "invocations.csv")
    json_path = os.path.join(folder, "summary.json")
    try:
        rows = read_csv(csv_path)
        summary = read_summary(json_path)
    except BadInput as e:
        print(f"plot_results: {e}", file=sys.stderr)
        return 1
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"plot_results: matplotlib is missing ({e}); install python3-matplotlib", file=sys.stderr)
        return 1
    plt.rcdefaults()
    try:
        plot_cdf(plt, rows, summary, os.path.join(folder, "latency_cdf.png"))
        plot_over_time(plt, rows, summary, os.path.join(folder, "latency_over_time.png"))
        plot_cold_starts(plt, rows, summary, os.path.join(folder, "cold_starts_over_time.png"))
        if any(r["step"] is not None for r in rows):
            plot_scaling(plt, summary, json_path, os.path.join(folder, "scaling.png"))
    except BadInput as e:
        print(f"plot_results: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"plot_results: cannot write a plot in {folder}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
