#!/usr/bin/python3
"""Split the self time of one `iluvatar_load_gen --setup simulation` run
(`perf report -n --no-children --sort symbol --stdio`) into what it was
spent on. The simulation reads the trace, runs the event loop and writes the
results interleaved (streaming), so the parts are told apart by function, not
by time:
  read      parsing trace.csv (line reader, CSV split, number parsing)
  results   invocations.csv rows and the summary's distributions
  kernel    system calls and page cache (mostly writing invocations.csv)
  loop      everything else: the worker core, the simulated backend, the clock
The samples are taken at a fixed rate, so each part's seconds are its
samples / rate, and the event loop's own rate is invocations / loop seconds.
usage: perf_phases.py perf-report.txt INVOCATIONS [RATE_HZ=999] [TOP=8]
"""
import collections
import re
import sys

READ = ("ilu_trace_csv_line", "ilu_csv_split", "ilu_line_reader_next", "lg_trace_plan_peek", "parse_bounded",
        "parse_number", "strtod", "str_to_mpn", "____strtod_l_internal", "round_and_return", "event_row",
        "ilu_trace_fn_index", "memchr")
# memmove (glibc's memcpy) is almost all the copy into the CSV writer's buffers
RESULTS = ("__memmove", "csv_row", "put_ms", "put_str", "put_int", "finalise_oldest", "block_add", "ilu_dist_add", "ilu_report_",
           "csv_flush", "csv_out", "lg_trace_record", "llround", "fwrite", "_IO_", "new_do_write", "csv_text")


def part(sym, kernel):
    if kernel:
        return "kernel"
    if any(sym.startswith(p) or p in sym for p in READ):
        return "read"
    if any(sym.startswith(p) or p in sym for p in RESULTS):
        return "results"
    return "loop"


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    hz = float(sys.argv[3]) if len(sys.argv) > 3 else 999.0
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    parts, syms = collections.Counter(), collections.defaultdict(collections.Counter)
    for line in open(path, errors="replace"):
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+\[(.)\]\s+(\S+)", line)
        if not m:
            continue
        samples, kind, sym = int(m.group(1)), m.group(2), m.group(3)
        p = part(sym, kind == "k")
        parts[p] += samples
        syms[p][sym] += samples
    total = sum(parts.values())
    if not total:
        sys.exit(f"perf_phases: no samples in {path}")
    for p in ("read", "loop", "results", "kernel"):
        s = parts[p]
        line = f"  {p:8s} {s / hz:7.2f} s  {100 * s / total:5.1f} %"
        if p == "loop" and s:
            line += f"   -> event loop alone: {n / (s / hz):,.0f} invocations/s"
        print(line)
        for sym, c in syms[p].most_common(top):
            print(f"      {100 * c / total:5.1f} %  {sym}")
    print(f"  all      {total / hz:7.2f} s -> {n / (total / hz):,.0f} invocations/s on the CPU")


main()
