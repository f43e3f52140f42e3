#!/usr/bin/env bash
# Before/after through the worker, side by side: alternate bench/run.sh in two
# checkouts (e.g. a `git worktree` of the base commit and this one), N runs
# each, and print the warm figures of both as medians of the run medians with
# [min-max] across runs (bench/before_after.py).
#   bash bench/before_after.sh BASE_DIR NEW_DIR [RUNS] [bench_worker options...]
# e.g. git worktree add /tmp/base HEAD~3 && bash bench/before_after.sh /tmp/base . 5 --no-cold
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: bench/before_after.sh BASE_DIR NEW_DIR [RUNS] [bench_worker options...]" >&2; exit 2; }
base=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
runs=${3:-5}
shift $(($# < 3 ? $# : 3))
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d /tmp/ilu-before-after.XXXXXX)
for i in $(seq "$runs"); do
    for side in base new; do
        dir=$base
        [ "$side" = new ] && dir=$new
        BENCH_JSON="$out/$side-$i.json" bash "$dir/bench/run.sh" "$@" >"$out/$side-$i.log" 2>&1 ||
            { echo "run $i ($side) failed; see $out/$side-$i.log" >&2; exit 1; }
    done
done
/usr/bin/python3 "$here/before_after.py" "$out" "$(git -C "$base" rev-parse --short HEAD)" \
    "$(git -C "$new" rev-parse --short HEAD)$(git -C "$new" diff --quiet HEAD || echo +changes)"
