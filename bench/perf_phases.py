#!/usr/bin/python3
"""Split a `perf script -F time,ip,sym` dump of one `iluvatar_load_gen
--setup simulation` run into its phases and print, per phase, its length and
the functions where its samples were taken (self time).

The binary is built without frame pointers, so call graphs are unreliable;
the phases are found by time instead, from marker functions that only run
in one phase:
  read      reading trace.csv + metadata.csv   (until the first ilu_report_add)
  records   one result record per invocation  (until the first simulation event)
  simulate  the discrete-event loop            (first..last sample in
            deliver_due / heap_remove / ilu_sim_env_step / on_done / ...)
  summary   percentiles and summary.json      (until the first CSV formatting)
  csv       invocations.csv                    (to the end)
usage: perf_phases.py perf.txt [TOP=12]
"""
import collections
import re
import sys

SIM = ("deliver_due", "heap_remove", "sift_up", "ilu_sim_env_step", "ilu_sim_env_at", "on_done", "on_answered", "send_to_container")
CSV = ("ilu_report_write_csv", "fmt_ms")


def load(path):
    samples, cur = [], None
    for line in open(path, errors="replace"):
        if not line.strip():
            cur = None
            continue
        m = re.match(r"\s*(\d+\.\d+):\s*$", line)
        if m:
            cur = [float(m.group(1)), []]
            samples.append(cur)
            continue
        if cur is not None:
            p = line.split()
            cur[1].append(p[1] if len(p) > 1 else "[unknown]")
    return [(t, st[0] if st else "[unknown]", st) for t, st in samples]


def main():
    samples = load(sys.argv[1])
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    if not samples:
        sys.exit("perf_phases: no samples")
    t0, tend = samples[0][0], samples[-1][0]
    def first(pred, default):
        ts = [t for t, s, _ in samples if pred(s)]
        return min(ts) if ts else default
    def last(pred, default):
        ts = [t for t, s, _ in samples if pred(s)]
        return max(ts) if ts else default
    is_sim = lambda s: s.startswith(SIM)
    is_csv = lambda s: s.startswith(CSV)
    b_rec = first(lambda s: s == "ilu_report_add", t0)
    b_sim = first(is_sim, b_rec)
    e_sim = last(is_sim, b_sim)
    b_csv = first(is_csv, e_sim)
    bounds = [("read", t0, b_rec), ("records", b_rec, b_sim), ("simulate", b_sim, e_sim),
              ("summary", e_sim, b_csv), ("csv", b_csv, tend + 1e-9)]
    total = len(samples)
    print(f"{total} samples over {tend - t0:.2f} s (perf's own overhead included)")
    for name, a, b in bounds:
        inside = [s for t, s, _ in samples if a <= t < b]
        n = len(inside)
        print(f"\n{name:9s} {b - a:6.2f} s  {100.0 * n / total:5.1f}% of samples")
        for sym, c in collections.Counter(inside).most_common(top):
            print(f"    {100.0 * c / max(n, 1):5.1f}%  {sym}")


if __name__ == "__main__":
    main()
