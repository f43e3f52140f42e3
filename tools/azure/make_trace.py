#!/usr/bin/python3
"""Make a load-generator trace (trace.csv + metadata.csv, docs/load_gen.md)
from one day of the Azure Functions 2019 dataset (real, or the synthetic
sample in data/azure-sample/). See docs/azure_traces.md.

Reads, from --dataset DIR, for day NN (--day, two digits):
  invocations_per_function_md.anon.dNN.csv     per-minute invocation counts
  function_durations_percentiles.anon.dNN.csv  duration percentiles (ms)
  app_memory_percentiles.anon.dNN.csv          per-app memory (MB; --memory-day)
(a NAME.csv.gz is read when NAME.csv is absent.)

Window: dataset minutes [S, S+M) with S = --start-minute (0-based: minute 0
is column "1") and M = --duration-min. Trace times are relative to the
window's start: an invocation counted in window minute m (0-based) gets a
time in [m*60000, (m+1)*60000) ms. A minute is 60000 ms.

Eligible functions: a durations row, a memory row for its app, and at least
one invocation in the window. They are ranked by total invocations in the
window (most first; ties by HashFunction, then HashApp, HashOwner).
Selection (--select):
  quantiles  (default) n eligible, N wanted: ranks floor(j*(n-1)/(N-1)),
             j = 0..N-1 (rank 0 = most invoked), so the sample spans from the
             most popular to the rarest function.
  top        ranks 0..N-1, the N most invoked.
  random     N functions drawn uniformly without replacement with --seed.
If fewer than N are eligible, all are taken (and said so on stderr).

Spreading (--spread) of a minute's k invocations of one function:
  even     (default) at (i + u) * 60000/k ms, i = 0..k-1, into the minute,
           u uniform in [0,1) drawn per function and minute: evenly spaced
           with a random phase (keeps the per-minute count's regularity).
  uniform  k independent uniform times in the minute (Poisson-like).
Random numbers come from random.Random("<seed>:<HashFunction>"), drawn in
minute order, so a function's times do not depend on which other functions
were chosen. Times are truncated to whole microseconds (3 decimals).

Metadata (one row per chosen function):
  func_name   first 10 characters of HashFunction (as Ilúvatar); if two chosen
              functions share them, "-" + first 6 of HashApp is added, then
              "-2", "-3" ... if still equal.
  warm_dur_ms percentile_Average_50, rounded to whole ms, at least 1.
  cold_dur_ms Maximum (as Ilúvatar; percentile_Average_100 when Maximum is
              empty or 0), capped at --cold-cap-ms (default 30000), at least
              warm_dur_ms, rounded to whole ms.
  mem_mb      the app's AverageAllocatedMb_pct50 divided by the number of the
              app's functions in the invocations file (as Ilúvatar), rounded,
              at least 16.
  mean_iat    window length (M*60000 ms) / the function's invocations in the
              window, in ms (3 decimals).

--max-fn-rate R (invocations/s): first, every function's count in every
minute is capped at 60R (the hot functions are thinned, the rest kept as
they are), so that no function is dropped by the overall cap below. For "N
functions at about R invocations/s": --functions N --max-fn-rate R/N
--max-rate R --scale. The number of capped minutes is printed.

--max-rate R (invocations/s): the busiest window minute's total / 60 must be
<= R. If not, the tool refuses (exit 1) unless --scale is given; then every
function's per-minute counts are multiplied by f = 60R / busiest-minute count,
rounded down with a carry kept per function across minutes (so rare
functions keep some invocations); if that still exceeds the cap, plain
rounding down is used. Functions left with no invocation are dropped. The
factor and the result are printed.

Errors in input (missing file or column, bad number, short row) are reported
as FILE:LINE: message, exit status 1, and no output is written: both files
are written to temporary names in --out and renamed at the end.
"""
import argparse
import csv
import gzip
import math
import os
import random
import sys
from fractions import Fraction

MINUTE_MS = 60000
MINUTE_US = 60000000
INV_FIXED = ["HashOwner", "HashApp", "HashFunction", "Trigger"]
DUR_NEED = ["HashOwner", "HashApp", "HashFunction", "Maximum", "percentile_Average_50",
            "percentile_Average_100"]
MEM_NEED = ["HashOwner", "HashApp", "AverageAllocatedMb_pct50"]


class InputError(Exception):
    pass


def fail_at(path, line, msg):
    raise InputError(f"{path}:{line}: {msg}")


def open_dataset_file(dataset, name):
    path = os.path.join(dataset, name)
    if os.path.isfile(path):
        return path, open(path, newline="", encoding="utf-8")
    if os.path.isfile(path + ".gz"):
        return path + ".gz", gzip.open(path + ".gz", "rt", newline="", encoding="utf-8")
    raise InputError(f"{path}: no such file (nor {name}.gz) in --dataset {dataset}")


def read_header(path, reader, need):
    try:
        header = next(reader)
    except StopIteration:
        fail_at(path, 1, "empty file (no header)")
    header = [h.strip() for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    index = {}
    for i, h in enumerate(header):
        index.setdefault(h, i)
    missing = [c for c in need if c not in index]
    if missing:
        fail_at(path, 1, f"missing column(s) {', '.join(repr(c) for c in missing)}")
    return header, index


def number(path, line, col, text, allow_empty=False):
    t = text.strip()
    if t == "" and allow_empty:
        return None
    try:
        v = float(t)
    except ValueError:
        fail_at(path, line, f"column {col!r}: not a number: {text!r}")
    if not math.isfinite(v) or v < 0:
        fail_at(path, line, f"column {col!r}: not a finite number >= 0: {text!r}")
    return v


def count(path, line, col, text):
    t = text.strip()
    if not t.isdigit():
        fail_at(path, line, f"column {col!r}: invocation count is not a whole number >= 0: {text!r}")
    return int(t)


def row_checked(path, reader, row, width):
    if len(row) != width:
        fail_at(path, reader.line_num, f"{len(row)} fields, the header has {width}")


def scan_invocations(dataset, name, start, dur):
    """Pass 1: check every row; return {key: (trigger, window total)}, the
    number of functions per app and the file path."""
    path, fh = open_dataset_file(dataset, name)
    with fh:
        reader = csv.reader(fh)
        header, idx = read_header(path, reader, INV_FIXED)
        minute_cols = [h for h in header if h.isdigit()]
        last = max((int(h) for h in minute_cols), default=0)
        need = [str(m + 1) for m in range(start, start + dur)]
        missing = [c for c in need if c not in idx]
        if missing:
            fail_at(path, 1, f"missing minute column(s) {missing[0]!r}"
                    f"{' .. ' + repr(missing[-1]) if len(missing) > 1 else ''} for the window "
                    f"[{start}, {start + dur}) (the file has minutes 1..{last})")
        wcols = [idx[c] for c in need]
        allcols = [idx[c] for c in minute_cols]
        io, ia, iff, it = (idx[c] for c in INV_FIXED)
        width = len(header)
        funcs, app_funcs = {}, {}
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            line = reader.line_num
            row_checked(path, reader, row, width)
            for i in allcols:
                c = row[i]
                if not c.isdigit():
                    count(path, line, header[i], c)
            key = (row[io], row[ia], row[iff])
            if not all(key):
                fail_at(path, line, "empty HashOwner, HashApp or HashFunction")
            total = sum(int(row[i]) for i in wcols)
            if key in funcs:  # same function twice (e.g. two triggers): add them up
                trig, t0 = funcs[key]
                funcs[key] = (trig, t0 + total)
            else:
                funcs[key] = (row[it], total)
                app_funcs[(key[0], key[1])] = app_funcs.get((key[0], key[1]), 0) + 1
    return path, funcs, app_funcs


def window_counts(path, name_dataset, name, start, dur, keys):
    """Pass 2: the window's per-minute counts of the chosen functions."""
    _, fh = open_dataset_file(name_dataset, name)
    out = {k: [0] * dur for k in keys}
    with fh:
        reader = csv.reader(fh)
        header, idx = read_header(path, reader, INV_FIXED)
        wcols = [idx[str(m + 1)] for m in range(start, start + dur)]
        io, ia, iff = idx["HashOwner"], idx["HashApp"], idx["HashFunction"]
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            key = (row[io], row[ia], row[iff])
            if key in out:
                acc = out[key]
                for j, i in enumerate(wcols):
                    acc[j] += int(row[i])
    return out


def read_durations(dataset, name):
    path, fh = open_dataset_file(dataset, name)
    durs, dups = {}, 0
    with fh:
        reader = csv.reader(fh)
        header, idx = read_header(path, reader, DUR_NEED)
        width = len(header)
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            line = reader.line_num
            row_checked(path, reader, row, width)
            key = (row[idx["HashOwner"]], row[idx["HashApp"]], row[idx["HashFunction"]])
            p50 = number(path, line, "percentile_Average_50", row[idx["percentile_Average_50"]])
            mx = number(path, line, "Maximum", row[idx["Maximum"]], allow_empty=True)
            p100 = number(path, line, "percentile_Average_100", row[idx["percentile_Average_100"]],
                          allow_empty=True)
            if key in durs:
                dups += 1
                continue  # first row wins
            durs[key] = (p50, mx, p100)
    return path, durs, dups


def read_memory(dataset, name):
    path, fh = open_dataset_file(dataset, name)
    mem, dups = {}, 0
    with fh:
        reader = csv.reader(fh)
        header, idx = read_header(path, reader, MEM_NEED)
        width = len(header)
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            line = reader.line_num
            row_checked(path, reader, row, width)
            key = (row[idx["HashOwner"]], row[idx["HashApp"]])
            v = number(path, line, "AverageAllocatedMb_pct50", row[idx["AverageAllocatedMb_pct50"]])
            if key in mem:
                dups += 1
                continue
            mem[key] = v
    return path, mem, dups


def rank_key(item):
    (owner, app, func), total = item
    return (-total, func, app, owner)


def select(eligible, n, rule, seed):
    """eligible: {key: window total}. Returns the chosen keys, in rank order."""
    ranked = [k for k, _ in sorted(eligible.items(), key=rank_key)]
    if n >= len(ranked):
        return ranked
    if rule == "top":
        return ranked[:n]
    if rule == "quantiles":
        if n == 1:
            return ranked[:1]
        return [ranked[j * (len(ranked) - 1) // (n - 1)] for j in range(n)]
    if rule == "random":
        pool = sorted(ranked, key=lambda k: (k[2], k[1], k[0]))
        picked = set(random.Random(f"select:{seed}").sample(pool, n))
        return [k for k in ranked if k in picked]
    raise ValueError(rule)


def names_for(keys):
    names = {k: k[2][:10] for k in keys}
    by = {}
    for k, nm in names.items():
        by.setdefault(nm, []).append(k)
    for nm, ks in by.items():
        if len(ks) > 1:
            for k in ks:
                names[k] = f"{nm}-{k[1][:6]}"
    seen = {}
    for k in sorted(keys, key=lambda k: (k[2], k[1], k[0])):
        nm = names[k]
        if nm in seen:
            seen[nm] += 1
            names[k] = f"{nm}-{seen[nm]}"
        else:
            seen[nm] = 1
    return names


def rnd(x):
    return int(math.floor(x + 0.5))


def metadata_for(key, durs, mem, app_funcs, cold_cap):
    p50, mx, p100 = durs[key]
    warm = max(1, rnd(p50))
    cold_src = mx if mx else (p100 if p100 else p50)
    cold = max(warm, rnd(min(cold_src, cold_cap)))
    mem_mb = max(16, rnd(mem[(key[0], key[1])] / app_funcs[(key[0], key[1])]))
    return warm, cold, mem_mb


def scale_counts(counts, cap):
    """counts: {key: [per-minute]}. Scale so every minute's total <= cap."""
    dur = len(next(iter(counts.values())))
    peak = max(sum(c[m] for c in counts.values()) for m in range(dur))
    f = Fraction(cap, peak)
    scaled = {}
    for k, c in counts.items():
        carry, out = Fraction(0), []
        for v in c:
            carry += v * f
            w = math.floor(carry)
            carry -= w
            out.append(w)
        scaled[k] = out
    new_peak = max(sum(c[m] for c in scaled.values()) for m in range(dur))
    how = "rounded down with a carry per function"
    if new_peak > cap:
        scaled = {k: [math.floor(v * f) for v in c] for k, c in counts.items()}
        how = "rounded down (the carry overshot the cap)"
    return scaled, f, how


def spread(key, counts, seed, how):
    """Yield (time_us, key) for every invocation."""
    rng = random.Random(f"{seed}:{key[2]}")
    for m, k in enumerate(counts):
        if k == 0:
            continue
        base = m * MINUTE_US
        if how == "even":
            u = rng.random()
            for i in range(k):
                yield base + min(MINUTE_US - 1, int(math.floor((i + u) * MINUTE_US / k))), key
        else:
            for t in sorted(min(MINUTE_US - 1, int(rng.random() * MINUTE_US)) for _ in range(k)):
                yield base + t, key


def fmt_us(us):
    return f"{us // 1000}.{us % 1000:03d}"


def write_outputs(out, trace_rows, meta_rows):
    os.makedirs(out, exist_ok=True)
    final = [os.path.join(out, "trace.csv"), os.path.join(out, "metadata.csv")]
    tmps = [p + f".tmp-{os.getpid()}" for p in final]
    try:
        with open(tmps[0], "w", newline="") as fh:
            fh.write("func_name,invoke_time_ms\n")
            fh.writelines(f"{name},{fmt_us(us)}\n" for us, name in trace_rows)
        with open(tmps[1], "w", newline="") as fh:
            fh.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb,mean_iat\n")
            for r in meta_rows:
                fh.write(",".join(str(x) for x in r) + "\n")
        for t, f in zip(tmps, final):
            os.replace(t, f)
    finally:
        for t in tmps:
            if os.path.exists(t):
                os.unlink(t)
    return final


def build(a):
    dd = f"d{a.day:02d}"
    md = f"d{(a.memory_day or a.day):02d}"
    inv_name = f"invocations_per_function_md.anon.{dd}.csv"
    inv_path, funcs, app_funcs = scan_invocations(a.dataset, inv_name, a.start_minute, a.duration_min)
    dur_path, durs, ddup = read_durations(a.dataset, f"function_durations_percentiles.anon.{dd}.csv")
    mem_path, mem, mdup = read_memory(a.dataset, f"app_memory_percentiles.anon.{md}.csv")
    notes = []
    if ddup:
        notes.append(f"{dur_path}: {ddup} duplicate function row(s), first kept")
    if mdup:
        notes.append(f"{mem_path}: {mdup} duplicate app row(s), first kept")

    invoked = {k: t for k, (_, t) in funcs.items() if t > 0}
    eligible = {k: t for k, t in invoked.items() if k in durs and (k[0], k[1]) in mem}
    if not eligible:
        raise InputError(f"{inv_path}: no function has an invocation in minutes "
                         f"[{a.start_minute}, {a.start_minute + a.duration_min}) and a durations "
                         f"and memory row")
    chosen = select(eligible, a.functions, a.select, a.seed)
    if len(chosen) < a.functions:
        notes.append(f"only {len(eligible)} eligible function(s) (of {len(invoked)} invoked in the "
                     f"window, {len(funcs)} in the file); taking all")
    counts = window_counts(inv_path, a.dataset, inv_name, a.start_minute, a.duration_min, chosen)

    cap_note = None
    if a.max_fn_rate is not None:
        fn_cap = math.floor(a.max_fn_rate * 60)
        if fn_cap < 1:
            raise InputError(f"--max-fn-rate {a.max_fn_rate:g}/s is below one invocation a minute")
        capped = sum(1 for c in counts.values() for v in c if v > fn_cap)
        counts = {k: [min(v, fn_cap) for v in c] for k, c in counts.items()}
        notes.append(f"--max-fn-rate {a.max_fn_rate:g}/s: capped {capped} function-minute(s) at {fn_cap} invocations")
    if a.max_rate is not None:
        cap = math.floor(a.max_rate * 60)
        peak = max(sum(c[m] for c in counts.values()) for m in range(a.duration_min))
        if peak > cap:
            msg = (f"the busiest minute has {peak} invocations ({peak / 60:.1f}/s), over "
                   f"--max-rate {a.max_rate:g}/s ({cap} a minute)")
            if not a.scale:
                raise InputError(msg + "; pass --scale to scale the counts down, or choose "
                                 "fewer/other functions (--functions, --select)")
            if cap < 1:
                raise InputError(msg + "; the cap is below one invocation a minute")
            counts, f, how = scale_counts(counts, cap)
            dropped = [k for k in chosen if sum(counts[k]) == 0]
            chosen = [k for k in chosen if sum(counts[k]) > 0]
            cap_note = (f"{msg}: scaled every count by {float(f):.6f} ({how})"
                        + (f"; {len(dropped)} function(s) left with no invocation dropped" if dropped else ""))
            if not chosen:
                raise InputError(msg + "; scaling left no invocation")

    names = names_for(chosen)
    window_ms = a.duration_min * MINUTE_MS
    meta = []
    for k in sorted(chosen, key=lambda k: names[k]):
        warm, cold, mem_mb = metadata_for(k, durs, mem, app_funcs, a.cold_cap_ms)
        n = sum(counts[k])
        meta.append((names[k], cold, warm, mem_mb, f"{window_ms / n:.3f}"))
    rows = []
    for k in chosen:
        nm = names[k]
        rows.extend((us, nm) for us, _ in spread(k, counts[k], a.seed, a.spread))
    rows.sort()
    return rows, meta, counts, notes, cap_note


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="make_trace.py", description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, help="directory with the dataset's CSV files")
    ap.add_argument("--day", type=int, default=1, help="day of the dataset, 1..14 (default 1)")
    ap.add_argument("--memory-day", type=int, default=None,
                    help="day of the memory file (default --day; the real data has d01..d12 only)")
    ap.add_argument("--functions", type=int, default=20, help="functions to choose (default 20)")
    ap.add_argument("--start-minute", type=int, default=0,
                    help="first minute of the window, 0-based (0 = column \"1\"; default 0)")
    ap.add_argument("--duration-min", type=int, default=60, help="window length in minutes (default 60)")
    ap.add_argument("--select", choices=["quantiles", "top", "random"], default="quantiles",
                    help="selection rule (default quantiles; see below)")
    ap.add_argument("--spread", choices=["even", "uniform"], default="even",
                    help="placement within a minute (default even; see below)")
    ap.add_argument("--seed", default="1", help="seed for spreading and --select random (default 1)")
    ap.add_argument("--cold-cap-ms", type=float, default=30000.0,
                    help="upper bound of cold_dur_ms (default 30000)")
    ap.add_argument("--max-rate", type=float, default=None,
                    help="invocations/s the busiest minute may average; refuse above (see --scale)")
    ap.add_argument("--max-fn-rate", type=float,
                    help="invocations/s any one function may average in any minute: hotter minutes are thinned "
                         "(keeps every function; see below)")
    ap.add_argument("--scale", action="store_true",
                    help="with --max-rate: scale the counts down instead of refusing")
    ap.add_argument("--out", required=True, help="output directory for trace.csv and metadata.csv")
    a = ap.parse_args(argv)
    if not 1 <= a.day <= 14 or (a.memory_day is not None and not 1 <= a.memory_day <= 14):
        ap.error("--day and --memory-day must be in 1..14")
    if a.functions < 1:
        ap.error("--functions must be >= 1")
    if a.duration_min < 1 or a.start_minute < 0 or a.start_minute + a.duration_min > 1440:
        ap.error("need --duration-min >= 1, --start-minute >= 0 and start + duration <= 1440")
    if a.max_rate is not None and a.max_rate <= 0:
        ap.error("--max-rate must be > 0")
    if a.cold_cap_ms < 1:
        ap.error("--cold-cap-ms must be >= 1")
    if a.max_fn_rate is not None and not a.max_fn_rate > 0:
        ap.error("--max-fn-rate must be positive")
    if a.scale and a.max_rate is None:
        ap.error("--scale needs --max-rate")
    try:
        rows, meta, counts, notes, cap_note = build(a)
    except InputError as e:
        print(f"make_trace: error: {e}", file=sys.stderr)
        return 1
    for n in notes:
        print(f"make_trace: note: {n}", file=sys.stderr)
    if cap_note:
        print(f"make_trace: note: {cap_note}", file=sys.stderr)
    paths = write_outputs(a.out, rows, meta)
    secs = a.duration_min * 60
    peak = max(sum(c[m] for c in counts.values()) for m in range(a.duration_min))
    print(f"wrote {paths[0]} and {paths[1]}: {len(rows)} invocations of {len(meta)} functions "
          f"over {a.duration_min} min (minutes {a.start_minute}..{a.start_minute + a.duration_min - 1} "
          f"of day {a.day}, --select {a.select}); mean {len(rows) / secs:.2f}/s, "
          f"busiest minute {peak} ({peak / 60:.2f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
