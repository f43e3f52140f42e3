#!/usr/bin/env bash
# Before/after through the controller, side by side: alternate
# bench/controller_overhead.sh in two checkouts (e.g. a `git worktree` of the
# base commit and this one), N runs each, and print the main rows of both as
# medians of the run medians with [min-max] across runs.
#   bash bench/ctl_before_after.sh BASE_DIR NEW_DIR [RUNS] [ctl_bench options...]
# e.g. git worktree add /tmp/base HEAD~3 && bash bench/ctl_before_after.sh /tmp/base . 5
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: bench/ctl_before_after.sh BASE_DIR NEW_DIR [RUNS] [ctl_bench options...]" >&2; exit 2; }
base=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
runs=${3:-5}
shift $(($# < 3 ? $# : 3))
out=$(mktemp -d /tmp/ilu-ctl-before-after.XXXXXX)
for i in $(seq "$runs"); do
    for side in base new; do
        dir=$base
        [ "$side" = new ] && dir=$new
        (cd "$dir" && bash bench/controller_overhead.sh "$@") >"$out/$side-$i.log" 2>&1 ||
            { echo "run $i ($side) failed; see $out/$side-$i.log" >&2; exit 1; }
    done
done
/usr/bin/python3 - "$out" "$(git -C "$base" rev-parse --short HEAD)" \
    "$(git -C "$new" rev-parse --short HEAD)$(git -C "$new" diff --quiet HEAD || echo +changes)" <<'PY'
import glob, os, re, statistics, sys
out, base_name, new_name = sys.argv[1:4]
rows = ["via controller p50", "direct to worker p50", "added p50 (controller - direct)",
        "added p99 (controller - direct)", "controller_us p50 (in controller)", "controller CPU per request",
        "worker CPU per request, via controller"]
def medians(side):
    got = {r: [] for r in rows}
    for f in sorted(glob.glob(os.path.join(out, side + "-*.log"))):
        for line in open(f):
            for r in rows:
                if line.strip().startswith(r):
                    got[r].append(float(line.split()[len(r.split())]))
    return got
b, n = medians("base"), medians("new")
print(f"{len(b[rows[0]])} runs each, medians of run medians [min-max] (logs: {out})")
print(f"{'figure (us)':42} {base_name:>24} {new_name:>24} {'new/base':>8}")
for r in rows:
    if not b[r] or not n[r]:
        continue
    fb, fn = statistics.median(b[r]), statistics.median(n[r])
    cell = lambda v, m: f"{m:.1f} [{min(v):.1f}-{max(v):.1f}]"
    print(f"{r:42} {cell(b[r], fb):>24} {cell(n[r], fn):>24} {fn / fb if fb else float('nan'):8.2f}")
PY
