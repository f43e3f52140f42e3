#!/usr/bin/python3
"""Compare load generator results folders side by side (docs/compare.md).

usage: /usr/bin/python3 scripts/compare_results.py RUN [RUN ...] [--out DIR]
                                                   [--labels A,B,...] [--no-plot]
                                                   [--max-functions N]

RUN is a results folder of iluvatar_load_gen (invocations.csv + summary.json,
docs/load_gen.md), or a repetitions folder: subfolders rep-1 ... rep-N, each
an ordinary results folder (what `--repeat N` writes, with an aggregate
summary.json beside them, which is checked to be JSON but not used).

For every run, overall and per function (functions of any run; blank where a
run lacks one): invocations, successes, failures, cold / prewarm / warm
starts, and the e2e latency of successful invocations (p50, p90, p99, mean,
max, in ms). Every figure is recomputed from invocations.csv: percentiles are
nearest-rank (value at 1-based rank ceil(p/100 * n), src/report/dist.c
ilu_nearest_rank) over the µs values the CSV holds, so they equal the
summary.json figures exactly for distributions of up to 65,536 values (above
that summary.json uses a histogram, within 1/2048; these are the exact ones).

Columns "X vs A" give the difference of run X from the FIRST run, in percent
of the first run: (X - A) / A * 100 (n/a when A is 0 and X is not).

A repetitions folder is reported, per figure, as the median over its
repetitions and a distribution-free 95 % confidence interval of that median
from order statistics (binomial): [x_(k), x_(n+1-k)] for the largest k whose
coverage 1 - 2 P(Binomial(n, 1/2) <= k - 1) is at least 95 %. With fewer
than 6 repetitions no such interval exists and "n/a" is shown.

Prints the tables; with --out DIR also writes DIR/compare.csv (one row per
figure, run: long format), DIR/compare.md (the tables in Markdown) and,
unless --no-plot, DIR/compare_cdf.png (overlay CDF of every run's e2e latency;
a repetitions run pools its repetitions). --max-functions N (default 30) caps
the per-function tables printed and in compare.md to the N most invoked
functions; compare.csv always has every function.

Exit status: 0; 2 on bad usage or input that is not a results folder or is
malformed (the message names the file and line); 1 when a file cannot be
written or the plot cannot be made (matplotlib missing: use --no-plot).
"""
import argparse
import csv
import math
import os
import re
import statistics
import sys
from array import array

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_files import BadInput, nearest_rank_index, read_summary  # noqa: E402

REQUIRED = ("function_name", "function_version", "e2e_ms", "container_state", "success")
STATES = ("cold", "prewarm", "warm", "error")
COUNT_METRICS = ("invocations", "successes", "failures", "cold", "prewarm", "warm")
LATENCY_METRICS = ("p50", "p90", "p99", "mean", "max")
METRICS = COUNT_METRICS + LATENCY_METRICS
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0}
CI_LEVEL = 0.95
REP_DIR = re.compile(r"^rep-([0-9]+)$")
CDF_LEGEND_INSIDE = 6   # more curves than this: the legend goes right of the plot
LABEL_MAX = 40          # legend labels are cut to this many characters
PNG_META = {"Software": None}  # no library version in the PNG: same input, same bytes



# ---- the project's rules ------------------------------------------------------



def llround(x):
    """C's llround: to the nearest integer, halves away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def mean_ms(sum_us, n):
    """The mean as summary.json gives it (ilu_dist_mean, then rounded to the µs)."""
    q = abs(sum_us) // n * (1 if sum_us >= 0 else -1)  # C's truncating division
    r = sum_us - q * n
    ms = (float(q) + r / n) / 1000.0
    return llround(ms * 1000.0) / 1000.0


def parse_us(text):
    """A CSV millisecond value as whole µs (the CSV has 3 decimals; others are
    rounded as the load generator rounds). None when it is not a finite number."""
    dot = text.find(".")
    if dot > 0 and len(text) - dot == 4:
        try:
            return int(text[:dot] + text[dot + 1:])
        except ValueError:
            pass
    try:
        v = float(text)
    except ValueError:
        return None
    if not math.isfinite(v) or abs(v) > 9.2e15:
        return None
    return llround(v * 1000.0)


# ---- reading --------------------------------------------------------------------


class Group:
    """What one function (or the whole run) needs: counts and the e2e µs of
    its successful invocations."""
    __slots__ = ("n", "ok", "states", "e2e")

    def __init__(self):
        self.n = 0
        self.ok = 0
        self.states = dict.fromkeys(STATES, 0)
        self.e2e = array("q")


def read_invocations(path):
    """{(function_name, function_version): Group}, streamed (one pass, the e2e
    column kept as 8-byte integers of µs)."""
    try:
        f = open(path, newline="")
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}")
    groups = {}
    with f:
        reader = csv.reader(f)
        lineno = 1
        try:
            header = next(reader, None)
            if header is None:
                raise BadInput(f"{path}: empty file (no header)")
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise BadInput(f"{path}:1: header lacks column(s) {', '.join(missing)} "
                               f"(not an invocations.csv of iluvatar_load_gen?)")
            width = len(header)
            i_fn, i_ver, i_e2e, i_state, i_ok = (header.index(c) for c in REQUIRED)
            for raw in reader:
                lineno = reader.line_num
                if len(raw) != width:
                    raise BadInput(f"{path}:{lineno}: {len(raw)} fields, the header has {width}")
                key = (raw[i_fn], raw[i_ver])
                g = groups.get(key)
                if g is None:
                    if not raw[i_fn]:
                        raise BadInput(f"{path}:{lineno}: function_name is empty")
                    g = groups[key] = Group()
                state = raw[i_state]
                if state not in g.states:
                    raise BadInput(f"{path}:{lineno}: container_state {state!r} is not one of {'|'.join(STATES)}")
                g.states[state] += 1
                g.n += 1
                ok = raw[i_ok]
                if ok == "1":
                    us = parse_us(raw[i_e2e])
                    if us is None:
                        raise BadInput(f"{path}:{lineno}: e2e_ms is not a finite number: {raw[i_e2e]!r}")
                    g.ok += 1
                    g.e2e.append(us)
                elif ok != "0":
                    raise BadInput(f"{path}:{lineno}: success is {ok!r}, expected 0 or 1")
        except csv.Error as e:
            raise BadInput(f"{path}:{reader.line_num}: {e}")
    return groups



def figures(g, values_sorted):
    """The figures of one group; values_sorted: its e2e µs, sorted."""
    n = len(values_sorted)
    out = {"invocations": g.n, "successes": g.ok, "failures": g.n - g.ok,
           "cold": g.states["cold"], "prewarm": g.states["prewarm"], "warm": g.states["warm"]}
    for name, p in PERCENTILES.items():
        out[name] = values_sorted[nearest_rank_index(n, p)] / 1000.0 if n else None
    out["mean"] = mean_ms(sum(values_sorted), n) if n else None
    out["max"] = values_sorted[-1] / 1000.0 if n else None
    return out


def read_one(folder):
    """One results folder -> {"overall": figures, "functions": {label: figures},
    "e2e": sorted array of successful e2e µs, "summary": summary.json}."""
    csv_path = os.path.join(folder, "invocations.csv")
    json_path = os.path.join(folder, "summary.json")
    for p in (csv_path, json_path):
        if not os.path.isfile(p):
            extra = ""
            if p == csv_path and os.path.exists(os.path.join(folder, ".invocations.csv.tmp")):
                extra = " (.invocations.csv.tmp is there: the run did not finish)"
            raise BadInput(f"{folder} is not a results folder: {p} is missing{extra}")
    summary = read_summary(json_path)
    groups = read_invocations(csv_path)
    total = sum(g.n for g in groups.values())
    want = summary.get("invocations")
    if isinstance(want, int) and not isinstance(want, bool) and want != total:
        raise BadInput(f"{json_path}: says {want} invocations, {csv_path} has {total} rows "
                       f"(files of different runs?)")
    # a function's label: its name, or name-version when the run has several
    # versions of that name (as summary.json per_function keys it)
    versions = {}
    for name, version in groups:
        versions[name] = versions.get(name, 0) + 1
    functions = {}
    allg = Group()
    for (name, version), g in sorted(groups.items()):
        label = name if versions[name] == 1 else f"{name}-{version}"
        vals = array("q", sorted(g.e2e))
        g.e2e = vals
        functions[label] = figures(g, vals)
        allg.n += g.n
        allg.ok += g.ok
        for s in STATES:
            allg.states[s] += g.states[s]
    merged = array("q")
    for g in groups.values():
        merged.extend(g.e2e)
        g.e2e = None
    merged = array("q", sorted(merged))
    return {"overall": figures(allg, merged), "functions": functions, "e2e": merged, "summary": summary}


def rep_folders(folder):
    """[(name, path)] of rep-N subfolders, by N; [] when there are none."""
    try:
        names = os.listdir(folder)
    except OSError as e:
        raise BadInput(f"cannot read {folder}: {e.strerror}")
    reps = [(int(m.group(1)), n) for n in names for m in [REP_DIR.match(n)]
            if m and os.path.isdir(os.path.join(folder, n))]
    return [(n, os.path.join(folder, n)) for _, n in sorted(reps)]


def read_run(folder):
    """A run: {"path", "reps": [rep names] or None, "results": [read_one ...]}."""
    if not os.path.isdir(folder):
        raise BadInput(f"{folder} is not a directory")
    reps = rep_folders(folder)
    if not reps:
        return {"path": folder, "reps": None, "results": [read_one(folder)]}
    for name, path in reps:
        for f in ("invocations.csv", "summary.json"):
            if not os.path.isfile(os.path.join(path, f)):
                raise BadInput(f"{folder}: repetition {name} is not a results folder: "
                               f"{os.path.join(path, f)} is missing")
    agg = os.path.join(folder, "summary.json")
    if os.path.exists(agg):
        read_summary(agg)  # must be sound; its figures are recomputed here anyway
    return {"path": folder, "reps": [n for n, _ in reps], "results": [read_one(p) for _, p in reps]}


# ---- statistics over repetitions ---------------------------------------------------


def median_ci(values):
    """(median, ci_low, ci_high, coverage) of values (none None): the
    distribution-free CI of the median from order statistics; the CI fields
    are None when fewer values than make a 95 % interval (n < 6)."""
    v = sorted(values)
    n = len(v)
    med = statistics.median(v)
    rank = ci_rank(n)
    if rank is None:
        return med, None, None, None
    k, coverage = rank
    return med, v[k - 1], v[n - k], coverage


def ci_rank(n):
    """(k, coverage) of the 95 % order-statistic CI of the median of n values:
    the largest k with coverage 1 - 2 P(Binomial(n, 1/2) <= k - 1) >= 95 %
    (the narrowest interval [x_(k), x_(n+1-k)] that reaches it); None when
    even [min, max] falls short (n < 6)."""
    best = None
    cum = 0  # P(Binomial(n, 1/2) <= k - 1) * 2^n, exact
    for k in range(1, n // 2 + 1):
        cum += math.comb(n, k - 1)
        if 2 ** n - 2 * cum >= CI_LEVEL * 2 ** n:
            best = (k, 1.0 - 2.0 * cum / 2.0 ** n)
        else:
            break
    return best


def cell(run, function, metric):
    """One figure of a run: {"value", "ci": (lo, hi, coverage) or None,
    "n": contributing repetitions, "values": per-repetition values}, or None
    when the run has no such function. A repetition without the function
    counts 0 invocations and has no latency."""
    values = []
    present = False
    for res in run["results"]:
        fig = res["overall"] if function is None else res["functions"].get(function)
        if fig is None:
            if metric in COUNT_METRICS:
                values.append(0)
            continue
        present = True
        if fig[metric] is not None:
            values.append(fig[metric])
    if not present:
        return None
    if not values:
        return {"value": None, "ci": None, "n": 0, "values": []}
    if run["reps"] is None:
        return {"value": values[0], "ci": None, "n": 1, "values": values}
    med, lo, hi, cov = median_ci(values)
    return {"value": med, "ci": (lo, hi, cov), "n": len(values), "values": values}


def diff_pct(value, base):
    if value is None or base is None:
        return None
    if base == 0:
        return 0.0 if value == 0 else math.nan
    return (value - base) / base * 100.0


# ---- output ------------------------------------------------------------------------------


def fmt_value(metric, v):
    if v is None:
        return ""
    if metric in COUNT_METRICS:
        return str(int(v)) if float(v).is_integer() else f"{v:.1f}"
    return f"{v:.3f}"


def fmt_pct(d):
    if d is None:
        return ""
    return "n/a" if math.isnan(d) else f"{d:+.1f}%"


def fmt_cell(metric, c, reps):
    if c is None:
        return ""
    text = fmt_value(metric, c["value"])
    if reps and c["value"] is not None:
        lo, hi, _ = c["ci"]
        text += " [n/a]" if lo is None else f" [{fmt_value(metric, lo)}, {fmt_value(metric, hi)}]"
    return text


def table(runs, labels, function):
    """(header, rows) of strings for the overall (function None) or one function."""
    header = ["metric", labels[0]]
    for lab in labels[1:]:
        header += [lab, f"{lab} vs {labels[0]}"]
    rows = []
    for metric in METRICS:
        cells = [cell(r, function, metric) for r in runs]
        base = cells[0]["value"] if cells[0] else None
        row = [metric + ("_ms" if metric in LATENCY_METRICS else ""),
               fmt_cell(metric, cells[0], runs[0]["reps"] is not None)]
        for r, c in zip(runs[1:], cells[1:]):
            row += [fmt_cell(metric, c, r["reps"] is not None), fmt_pct(diff_pct(c["value"] if c else None, base))]
        rows.append(row)
    return header, rows


def render_text(header, rows):
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(  # noqa: E731
        (c.ljust(w) if i == 0 else c.rjust(w)) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def render_md(header, rows):
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    out = ["| " + " | ".join(esc(h) for h in header) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def all_functions(runs):
    """Every function label of any run, with its invocations summed over runs
    (repetitions: their median)."""
    seen = dict.fromkeys((f for r in runs for res in r["results"] for f in res["functions"]), 0)
    for f in seen:
        for r in runs:
            c = cell(r, f, "invocations")
            if c is not None:
                seen[f] += c["value"]
    return seen


def run_lines(runs, labels):
    lines = []
    for lab, r in zip(labels, runs):
        s = r["results"][0]["summary"]
        what = ", ".join(str(s[k]) for k in ("mode", "setup") if isinstance(s.get(k), str))
        if r["reps"] is None:
            extra = f"{r['results'][0]['overall']['invocations']} invocations"
        else:
            n = len(r["reps"])
            expected = [f"rep-{i}" for i in range(1, n + 1)]
            names = "" if r["reps"] == expected else f" ({', '.join(r['reps'])})"
            rank = ci_rank(n)
            ci = (f"95% CI of the median: order statistics x({rank[0]}), x({n + 1 - rank[0]}), "
                  f"coverage {100 * rank[1]:.1f}%" if rank else "95% CI of the median: n/a below 6 repetitions")
            extra = f"{n} repetitions{names}: medians [{ci}]"
        lines.append(f"  {lab}: {r['path']}  ({what + '; ' if what else ''}{extra})")
    return lines


def csv_rows(runs, labels, functions):
    out = [["scope", "function", "metric", "run", "label", "path", "reps", "value", "ci_low", "ci_high",
            "ci_level", "diff_pct_vs_first", "rep_values"]]
    for function in [None] + sorted(functions):
        for metric in METRICS:
            cells = [cell(r, function, metric) for r in runs]
            base = cells[0]["value"] if cells[0] else None
            for i, (lab, r, c) in enumerate(zip(labels, runs, cells)):
                name = metric + ("_ms" if metric in LATENCY_METRICS else "")
                row = ["overall" if function is None else "function", function or "", name, i + 1, lab, r["path"]]
                if c is None:
                    out.append(row + [len(r["results"])] + [""] * 6)
                    continue
                lo = hi = cov = None
                if c["ci"] is not None:
                    lo, hi, cov = c["ci"]
                d = diff_pct(c["value"], base) if i else None
                out.append(row + [c["n"], fmt_value(metric, c["value"]), fmt_value(metric, lo),
                                  fmt_value(metric, hi), "" if cov is None else f"{cov:.4f}",
                                  "" if d is None else ("n/a" if math.isnan(d) else f"{d:.4f}"),
                                  ";".join(fmt_value(metric, v) for v in c["values"]) if r["reps"] else ""])
    return out


def plot_cdf(runs, labels, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise OSError(f"matplotlib is missing ({e}); install python3-matplotlib or pass --no-plot")
    plt.rcdefaults()
    fig, ax = plt.subplots(figsize=(8, 5))
    styles = ("-", "--", "-.", ":")
    drawn = 0
    for i, (lab, r) in enumerate(zip(labels, runs)):
        if r["reps"] is None:
            v = r["results"][0]["e2e"]
            what = ""
        else:
            pooled = array("q")
            for res in r["results"]:
                pooled.extend(res["e2e"])
            v = sorted(pooled)
            what = f", {len(r['reps'])} reps pooled"
        n = len(v)
        name = lab if len(lab) <= LABEL_MAX else lab[:LABEL_MAX - 3] + "..."
        if not n:
            ax.plot([], [], label=f"{name} (no successful invocations)")
            continue
        # at most ~2000 steps per curve: the same picture, drawn fast for million-row runs
        step = max(1, n // 2000)
        idx = list(range(step - 1, n, step))
        if idx[-1] != n - 1:
            idx.append(n - 1)
        xs = [max(v[k], 1) / 1000.0 for k in idx]  # log axis: 0 µs is drawn at 1 µs
        ax.step(xs[:1] + xs, [0.0] + [(k + 1) / n for k in idx], where="post",
                linestyle=styles[(i // 10) % len(styles)], label=f"{name} (n={n}{what})")
        drawn += 1
    if drawn:
        from matplotlib.ticker import FuncFormatter, LogLocator
        ax.set_xscale("log")
        plain = FuncFormatter(lambda x, _: f"{x:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.xaxis.set_minor_formatter(plain)
    if len(runs) > CDF_LEGEND_INSIDE:
        fig.set_size_inches(11, 5)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0,
                  ncol=1 if len(runs) <= 20 else 2)
    else:
        ax.legend(loc="lower right", fontsize="small")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("end-to-end latency (ms, log scale)")
    ax.set_ylabel("fraction of successful invocations")
    ax.set_title("End-to-end latency CDF, all functions, per run")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata=PNG_META)
    plt.close(fig)


def main(argv):
    parser = argparse.ArgumentParser(prog="compare_results.py", description=__doc__.split("\n\n")[0],
                                     epilog='Columns "X vs A": (X - A) / A * 100, A the first run. A repetitions '
                                            'folder (rep-1 .. rep-N) shows medians [95% CI of the median from order '
                                            'statistics; n/a below 6 repetitions]. Exit 2 on bad input, 1 when '
                                            'writing or plotting fails. See docs/compare.md.')
    parser.add_argument("runs", nargs="+", metavar="RUN", help="results folder or repetitions folder")
    parser.add_argument("--out", metavar="DIR", help="write compare.csv, compare.md and compare_cdf.png here")
    parser.add_argument("--labels", metavar="A,B,...", help="one label per run (default: folder names)")
    parser.add_argument("--no-plot", action="store_true", help="no compare_cdf.png")
    parser.add_argument("--max-functions", type=int, default=30, metavar="N",
                        help="per-function tables printed (and in compare.md): the N most invoked (default 30)")
    opts = parser.parse_args(argv[1:])

    if opts.labels is not None:
        labels = [x.strip() for x in opts.labels.split(",")]
        if len(labels) != len(opts.runs):
            print(f"compare_results: --labels has {len(labels)} labels for {len(opts.runs)} runs", file=sys.stderr)
            return 2
    else:
        labels = [os.path.basename(os.path.normpath(p)) or p for p in opts.runs]
        if len(set(labels)) != len(labels):
            labels = [os.path.normpath(p) for p in opts.runs]
    if any(not lab for lab in labels) or len(set(labels)) != len(labels):
        print(f"compare_results: labels must be non-empty and distinct: {','.join(labels)}", file=sys.stderr)
        return 2
    try:
        runs = [read_run(p) for p in opts.runs]
    except BadInput as e:
        print(f"compare_results: {e}", file=sys.stderr)
        return 2

    functions = all_functions(runs)
    shown = sorted(sorted(functions, key=lambda f: (-functions[f], f))[:max(opts.max_functions, 0)])
    rest = len(functions) - len(shown)
    intro = [f"compare_results: {len(runs)} run(s); \"X vs {labels[0]}\" = (X - {labels[0]}) / {labels[0]} * 100, "
             f"relative to the first run"] + run_lines(runs, labels)
    sections = [("overall (latency: e2e ms of successful invocations)", table(runs, labels, None))]
    sections += [(f"function {f}", table(runs, labels, f)) for f in shown]
    note = (f"({rest} more function(s) not shown: raise --max-functions; compare.csv (--out) has every function)"
            if rest else "")

    text = "\n".join(intro) + "\n"
    for title, (header, rows) in sections:
        text += f"\n{title}\n{render_text(header, rows)}\n"
    if note:
        text += f"\n{note}\n"
    sys.stdout.write(text)

    if opts.out:
        try:
            os.makedirs(opts.out, exist_ok=True)
            with open(os.path.join(opts.out, "compare.csv"), "w", newline="") as f:
                csv.writer(f, lineterminator="\n").writerows(csv_rows(runs, labels, functions))
            md = "# Comparison of runs\n\n" + "\n".join("- " + x.strip() for x in intro[1:]) + "\n\n"
            md += f"\"X vs {labels[0]}\" columns: (X - {labels[0]}) / {labels[0]} * 100.\n"
            for title, (header, rows) in sections:
                md += f"\n## {title}\n\n{render_md(header, rows)}\n"
            if note:
                md += f"\n{note}\n"
            with open(os.path.join(opts.out, "compare.md"), "w") as f:
                f.write(md)
            if not opts.no_plot:
                plot_cdf(runs, labels, os.path.join(opts.out, "compare_cdf.png"))
        except OSError as e:
            print(f"compare_results: cannot write in {opts.out}: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
