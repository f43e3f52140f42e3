#!/usr/bin/python3
"""Plots of a load generator results folder (docs/load_gen.md).

usage: /usr/bin/python3 scripts/plot_results.py DIR

Reads DIR/invocations.csv and DIR/summary.json and writes, one figure per file:
  latency_cdf.png            e2e latency CDF per function (successful invocations), log x;
                             up to 10 curves: beyond, the 9 most invoked and "others"
  latency_over_time.png      e2e latency vs send time, one colour per container state, log y
  cold_starts_over_time.png  cold starts per second (bars), warm/prewarm per second (lines)
  scaling.png                scaling runs only (CSV `step` has values): throughput and
                             p50/p99 latency vs clients, from summary.json "steps"
  benchmark.png              benchmark runs only: per function, cold and warm e2e latency
                             (median, min-max), up to 40 functions
One function is one entry: a benchmark's "<name>-bench-<i>" registrations are
<name>, a scaling step's versions (one per client) are its "scaling-<T>".
Legends stand right of the plot, the colours of a legend's entries differ,
and every title's second line says live or simulated, the target, the mode
and the main settings summary.json records ("inputs").
An empty run still gets its figures, saying "no data". Exits 1 with a message
when the files are missing or malformed. Needs python3-matplotlib (Debian).
"""
import csv
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_files import BadInput, read_summary  # noqa: E402

REQUIRED = ("function_name", "function_version", "send_ms", "end_ms", "e2e_ms", "container_state", "success")
STATE_COLOURS = {"cold": "tab:blue", "prewarm": "tab:green", "warm": "tab:orange", "error": "tab:red"}
# PNG metadata without the matplotlib version: identical input gives identical bytes.
PNG_META = {"Software": None}



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



BENCH_NAME = re.compile(r"^(.+)-bench-\d+(?:-lg[0-9a-f]+)?$")


def fn_key(rows, summary):
    """row -> the function it measures, so that one function is one entry:
    benchmark runs register "<name>-bench-<i>" (or "<name>-bench-<i>-<run>"
    when that name was taken) per cold iteration, all of them <name>;
    scaling runs register "scaling-<T>" in one version per client, all of
    them one function per step; otherwise the name, or name-version when a
    name has several versions. Worked out once per (name, version)."""
    mode = summary.get("mode")
    versions = {}
    for r in rows:
        versions.setdefault(r["fn"], set()).add(r["version"])
    keys = {}
    for fn, vs in versions.items():
        for v in vs:
            m = BENCH_NAME.match(fn) if mode == "benchmark" else None
            if m:
                keys[(fn, v)] = m.group(1)
            elif mode == "scaling" or len(vs) == 1:
                keys[(fn, v)] = fn
            else:
                keys[(fn, v)] = f"{fn}-{v}"
    return lambda r: keys[(r["fn"], r["version"])]


def no_data(ax, what="no data"):
    ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", fontsize=14, color="grey")


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fmt(v):
    return f"{v:g}" if _num(v) else str(v)


def run_settings(summary):
    """(what ran, run settings, simulated worker settings, their prefix),
    only what summary.json records: ("live worker, trace run", [...], [],
    "") or ("simulated controller (CH-BL) + 3 workers, trace run", [...],
    [...], "each worker ").
    A setting is (text, rank): the title leaves out the highest ranks first
    when its line gets too long."""
    setup, target, mode = summary.get("setup"), summary.get("target"), summary.get("mode")
    inputs = summary.get("inputs") if isinstance(summary.get("inputs"), dict) else {}
    sim = inputs.get("simulation") if isinstance(inputs.get("simulation"), dict) else {}
    cluster = inputs.get("cluster") if isinstance(inputs.get("cluster"), dict) else {}
    where = {"live": "live", "simulation": "simulated"}.get(setup, "live or simulated: not recorded")
    if isinstance(target, str):
        where += f" {target}"
        if target == "controller" and isinstance(cluster.get("load_balancer"), str):
            where += f" ({cluster['load_balancer']})"
    pool = summary.get("pool") if isinstance(summary.get("pool"), dict) else {}
    # a simulated cluster's size, or a live controller's workers (whose
    # status the run read at its end)
    n = cluster.get("workers") if cluster else pool.get("workers") if target == "controller" else None
    if _num(n) and n > 0:
        where += f" + {_fmt(n)} worker{'s' if n != 1 else ''}"
    what = f"{where}, {mode} run" if isinstance(mode, str) else where
    run = []
    if mode == "trace":
        if isinstance(inputs.get("input"), str):
            run.append((os.path.basename(inputs["input"]), 3))
        if isinstance(inputs.get("load_type"), str):
            run.append((f"{inputs['load_type']} load", 2))
        if _num(inputs.get("prewarm")) and inputs["prewarm"] > 0:
            run.append((f"prewarm {_fmt(inputs['prewarm'])}", 1))
    elif mode == "benchmark":
        if isinstance(inputs.get("functions"), list):
            run.append((f"{len(inputs['functions'])} functions", 1))
        c, w = inputs.get("cold_iters"), inputs.get("warm_iters")
        if _num(c) and _num(w):
            run.append((f"{_fmt(c)} cold + {_fmt(c * w)} warm invocations each", 0))
        if _num(inputs.get("memory_mb")):
            run.append((f"{_fmt(inputs['memory_mb'])} MB", 0))
    elif mode == "scaling":
        if _num(inputs.get("threads_from")) and _num(inputs.get("threads_to")):
            run.append((f"{_fmt(inputs['threads_from'])}-{_fmt(inputs['threads_to'])} clients", 0))
        if _num(inputs.get("duration_s")):
            run.append((f"{_fmt(inputs['duration_s'])} s a step", 1))
        if isinstance(inputs.get("function_dir"), str):
            run.append((os.path.basename(inputs["function_dir"].rstrip("/")), 2))
        if _num(inputs.get("memory_mb")):
            run.append((f"{_fmt(inputs['memory_mb'])} MB", 1))
    # the simulated worker's config (each worker's, in a cluster)
    worker = []
    if _num(sim.get("cpu_count")):
        worker.append((f"{_fmt(sim['cpu_count'])} CPUs", 0))
    if _num(sim.get("memory_mb")):
        worker.append((f"{_fmt(sim['memory_mb'])} MB", 0))
    if isinstance(sim.get("queue_policy"), str):
        worker.append((f"queue {sim['queue_policy']}", 0))
    if isinstance(sim.get("eviction"), str):
        worker.append((f"keep-alive {sim['eviction']}", 0))
    if _num(sim.get("keepalive_sec")) and sim["keepalive_sec"] > 0:  # 0: no limit
        worker.append((f"idle limit {_fmt(sim['keepalive_sec'])} s", 1))
    return what, run, worker, "each worker " if cluster else ""


TITLE_LINE = 135  # characters of the settings line at most (about the width of a figure)


def settings_line(summary):
    what, run, worker, each = run_settings(summary)
    while True:
        line = what
        if run:
            line += ": " + ", ".join(t for t, _ in run)
        if worker:
            line += "; " + each + ", ".join(t for t, _ in worker)
        if len(line) <= TITLE_LINE or not (run or worker):
            return line
        # leave out the least important setting (the last of its rank)
        lists = [lst for lst in (run, worker) if lst]
        worst = max(max(r for _, r in lst) for lst in lists)
        for lst in (run, worker):
            idx = [i for i, (_, r) in enumerate(lst) if r == worst]
            if idx:
                del lst[idx[-1]]
                break


def title(summary, text):
    """Two lines: the figure's text; live or simulated, target, mode and the
    main settings summary.json records."""
    return f"{text}\n{settings_line(summary)}"


def set_title(fig, summary, text):
    # over the whole figure: a long settings line is centred where it has
    # room, not over the plot (the legend stands right of it)
    fig.suptitle(title(summary, text), fontsize="medium")


def legend_outside(ax, handles=None, labels=None, **kw):
    """The legend right of the plot: it covers neither the title nor data."""
    args = (handles, labels) if handles is not None else ()
    return ax.legend(*args, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize="small", **kw)


def positive(v):
    # log axes cannot show 0: a 0.000 ms latency is drawn at 1 µs
    return v if v > 0 else 0.001


TOP = 10  # entries in a per-function legend at most, the last one "others"
# distinct colours for the named entries (grey is kept for "others"), then
# line styles when there are more entries than colours
PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
           "tab:cyan", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d",
           "#9edae5")
LINE_STYLES = ("-", "--", "-.", ":")
OTHERS_STYLE = ("tab:grey", "--")


def styles(n):
    """(colour, line style) of n named entries: no colour repeats up to
    len(PALETTE) entries."""
    return [(PALETTE[i % len(PALETTE)], LINE_STYLES[(i // len(PALETTE)) % len(LINE_STYLES)]) for i in range(n)]


def cdf_curves(by_fn):
    """[(label, values)] for the CDF, readable with many functions: up to
    TOP functions a curve each, by name; beyond, the TOP - 1 most invoked
    (by name) and one "others (N functions)" curve of the rest."""
    if len(by_fn) <= TOP:
        return [(k, by_fn[k]) for k in sorted(by_fn)]
    ranked = sorted(by_fn, key=lambda k: (-len(by_fn[k]), k))
    rest = ranked[TOP - 1:]
    return ([(k, by_fn[k]) for k in sorted(ranked[:TOP - 1])] +
            [(f"others ({len(rest)} functions)", [x for k in rest for x in by_fn[k]])])


def cdf_figure(plt, rows, summary):
    fig, ax = plt.subplots(figsize=(11, 5))
    key = fn_key(rows, summary)
    by_fn = {}
    for r in rows:
        if r["success"]:
            by_fn.setdefault(key(r), []).append(positive(r["e2e_ms"]))
    if by_fn:
        curves = cdf_curves(by_fn)
        pooled = len(by_fn) > TOP
        looks = styles(len(curves) - pooled) + ([OTHERS_STYLE] if pooled else [])
        for (name, values), (colour, ls) in zip(curves, looks):
            v = sorted(values)
            n = len(v)
            # at most ~2000 steps per curve: the same picture, drawn in
            # seconds for million-row runs (the last point is always kept)
            step = max(1, n // 2000)
            idx = list(range(step - 1, n, step))
            if idx[-1] != n - 1:
                idx.append(n - 1)
            ax.step([v[i] for i in idx], [(i + 1) / n for i in idx], where="post", color=colour, linestyle=ls,
                    label=f"{name} (n={n})")
        ax.set_xscale("log")
        legend_outside(ax, title=f"{len(by_fn)} functions" if pooled else None, title_fontsize="small")
    else:
        no_data(ax, "no data (no successful invocations)")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("end-to-end latency (ms, log scale)")
    ax.set_ylabel("fraction of successful invocations")
    set_title(fig, summary, "End-to-end latency CDF per function")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


# other container states than STATE_COLOURS's (none today): colours of their own
EXTRA_STATE_COLOURS = ("tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


def over_time_figure(plt, rows, summary):
    fig, ax = plt.subplots(figsize=(11, 5))
    if rows:
        # big runs: every k-th warm point (deterministic), every cold/error one
        k = max(1, len(rows) // 50000)
        extra = sorted({r["state"] for r in rows} - set(STATE_COLOURS))
        colours = dict(STATE_COLOURS)
        colours.update({s: EXTRA_STATE_COLOURS[i % len(EXTRA_STATE_COLOURS)] for i, s in enumerate(extra)})
        for state in list(STATE_COLOURS) + extra:
            pts = [r for r in rows if r["state"] == state]
            if not pts:
                continue
            n = len(pts)
            shown = pts[::k] if state in ("warm", "prewarm") else pts
            note = f", 1 in {k} shown" if len(shown) < n else ""
            ax.scatter([r["send_ms"] / 1000.0 for r in shown], [positive(r["e2e_ms"]) for r in shown], s=6,
                       color=colours[state], label=f"{state} (n={n}{note})",
                       marker="x" if state == "error" else "o", linewidths=0.8)
        ax.set_yscale("log")
        legend_outside(ax, markerscale=2)
    else:
        no_data(ax)
    ax.set_xlabel("send time since the start of the run (s)")
    ax.set_ylabel("end-to-end latency (ms, log scale)")
    set_title(fig, summary, "End-to-end latency over time by container state")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def cold_starts_figure(plt, rows, summary):
    fig, ax = plt.subplots(figsize=(11, 5))
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
        legend_outside(ax)
    else:
        no_data(ax)
    ax.set_xlabel("send time since the start of the run (s; bins of 1 s, or wider for long runs)")
    ax.set_ylabel("invocations per second")
    set_title(fig, summary, "Cold starts per second (bars), warm and prewarm starts (lines)")
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def scaling_figure(plt, summary, path):
    steps = summary.get("steps")
    if not isinstance(steps, list):
        raise BadInput(f"{path}: the CSV has scaling steps but summary.json has no \"steps\" list")
    pts = []
    for i, st in enumerate(steps):
        if not isinstance(st, dict) or not isinstance(st.get("clients"), (int, float)):
            raise BadInput(f"{path}: steps[{i}] has no numeric \"clients\"")
        lat = st.get("latency_ms") if isinstance(st.get("latency_ms"), dict) else {}
        val = lambda v: float(v) if _num(v) else math.nan  # noqa: E731
        pts.append((st["clients"], val(st.get("throughput_per_s")), val(lat.get("p50")), val(lat.get("p99"))))
    pts.sort()
    fig, ax = plt.subplots(figsize=(11, 5))
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
        # right of the latency axis's labels
        ax.legend(h1 + h2, l1 + l2, loc="upper left", bbox_to_anchor=(1.12, 1.0), borderaxespad=0,
                  fontsize="small")
        ax.set_xticks(clients)
    else:
        no_data(ax)
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("throughput (successful invocations/s)")
    set_title(fig, summary, "Throughput and latency vs clients")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


BENCH_ROWS = 40  # functions in the benchmark figure at most (the first by name)


def benchmark_figure(plt, rows, summary):
    """Benchmark runs: per function (all its cold iterations together), the
    cold and the warm/prewarm e2e latency of successful invocations: median
    (marker) and min-max (line)."""
    key = fn_key(rows, summary)
    by_fn = {}
    for r in rows:
        if r["success"]:
            by_fn.setdefault(key(r), ([], []))[0 if r["state"] == "cold" else 1].append(positive(r["e2e_ms"]))
    names = sorted(by_fn)
    shown = names[:BENCH_ROWS]
    fig, ax = plt.subplots(figsize=(11, max(4.0, 1.6 + 0.32 * len(shown))))
    if shown:
        totals = [0, 0]
        for kind, (label, colour, marker, off) in enumerate((("cold", STATE_COLOURS["cold"], "o", -0.15),
                                                             ("warm and prewarm", STATE_COLOURS["warm"], "s", 0.15))):
            ys, med, lo, hi = [], [], [], []
            for i, name in enumerate(shown):
                v = sorted(by_fn[name][kind])
                if not v:
                    continue
                totals[kind] += len(v)
                m = v[(len(v) + 1) // 2 - 1]  # nearest-rank median, as summary.json's p50
                ys.append(i + off)
                med.append(m)
                lo.append(m - v[0])
                hi.append(v[-1] - m)
            if ys:
                ax.errorbar(med, ys, xerr=[lo, hi], fmt=marker, color=colour, ecolor=colour, elinewidth=1.5,
                            capsize=3, markersize=5, label=f"{label}: median, min-max (n={totals[kind]})")
        ax.set_yticks(range(len(shown)))
        ax.set_yticklabels(shown)
        ax.set_ylim(len(shown) - 0.5, -0.5)
        ax.set_xscale("log")
        legend_outside(ax)
    else:
        no_data(ax, "no data (no successful invocations)")
    ax.set_xlabel("end-to-end latency (ms, log scale)")
    more = f" (first {len(shown)} of {len(names)} by name)" if len(shown) < len(names) else ""
    set_title(fig, summary, f"Cold and warm end-to-end latency per function{more}")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    return fig


STATUS_PANELS = (  # (status.csv columns drawn, y label): one panel each, a line per worker and column
    (("cpu_queue_len", "num_running_funcs"), "queued (solid), running (dashed)"),
    (("used_mem_mb",), "container memory (MB)"),
    (("num_containers", "idle_containers"), "containers (solid), idle (dashed)"),
)
STATUS_MAX_POINTS = 2000  # per line: a simulated day has 86,400 samples a worker


def read_status(path):
    """{worker: {"t": [s], column: [values]}} from status.csv (docs/load_gen.md);
    None when the run wrote none. Every k-th row of a long run."""
    if not os.path.exists(path):
        return None
    columns = [c for cols, _ in STATUS_PANELS for c in cols]
    by_worker = {}
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in ["t_ms", "worker"] + columns if c not in (reader.fieldnames or [])]
            if missing:
                raise BadInput(f"{path}: no column {', '.join(missing)}")
            for lineno, r in enumerate(reader, start=2):
                w = by_worker.setdefault(r["worker"], {"t": [], **{c: [] for c in columns}})
                w["t"].append(num(r["t_ms"], "t_ms", path, lineno, True) / 1000.0)
                for c in columns:
                    w[c].append(num(r[c], c, path, lineno, True))
    except csv.Error as e:
        raise BadInput(f"{path}: {e}")
    for w in by_worker.values():
        step = max(1, len(w["t"]) // STATUS_MAX_POINTS)
        for k in w:
            w[k] = w[k][::step]
    return by_worker


def status_figure(plt, status, summary):
    """The workers' queue, memory and containers over the run (status.csv)."""
    fig, axes = plt.subplots(len(STATUS_PANELS), 1, figsize=(11, 8), sharex=True)
    workers = sorted(status)[:TOP]
    for ax, (cols, label) in zip(axes, STATUS_PANELS):
        for (colour, _), w in zip(styles(len(workers)), workers):
            for col, style in zip(cols, ("-", "--")):
                ax.plot(status[w]["t"], status[w][col], color=colour, linestyle=style, drawstyle="steps-post",
                        label=w if col == cols[0] else None)
        ax.set_ylabel(label, fontsize="small")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    more = f" (first {TOP} of {len(status)})" if len(status) > TOP else ""
    legend_outside(axes[0], title=f"worker{more}")
    axes[-1].set_xlabel("time since the start of the run (s)")
    set_title(fig, summary, "Workers' status over the run (status.csv)")
    fig.tight_layout()
    return fig


def save(plt, fig, out):
    try:
        fig.savefig(out, dpi=100, metadata=PNG_META)
    finally:
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
        save(plt, cdf_figure(plt, rows, summary), os.path.join(folder, "latency_cdf.png"))
        save(plt, over_time_figure(plt, rows, summary), os.path.join(folder, "latency_over_time.png"))
        save(plt, cold_starts_figure(plt, rows, summary), os.path.join(folder, "cold_starts_over_time.png"))
        if any(r["step"] is not None for r in rows):
            save(plt, scaling_figure(plt, summary, json_path), os.path.join(folder, "scaling.png"))
        if summary.get("mode") == "benchmark":
            save(plt, benchmark_figure(plt, rows, summary), os.path.join(folder, "benchmark.png"))
        status = read_status(os.path.join(folder, "status.csv"))
        if status:
            save(plt, status_figure(plt, status, summary), os.path.join(folder, "status_over_time.png"))
    except BadInput as e:
        print(f"plot_results: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"plot_results: cannot write a plot in {folder}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
