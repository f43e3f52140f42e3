#!/usr/bin/env bash
# Cold starts of a function registered as an OCI image, beside the same
# container started by hand from the same unpacked root (bench_worker's cold
# phase copies the worker's own bundle), and the image's one-time unpack.
#   bash bench/image_cold.sh [RUNS] [bench_worker options...]   # needs root
# Builds bench/functions/noop as an image (tools/images/build.sh, the Debian
# base cached under /var/cache/iluvatar/images), then RUNS (default 3) times
# runs bench/run.sh --image oci:<layout>:noop --no-warm against a fresh worker
# (its image cache empty, so each first registration unpacks), and prints the
# medians of the runs with [min-max]: unpack (the registration), cold start
# through the worker, by hand, and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-3}
shift $(($# > 0 ? 1 : 0))
work=$(mktemp -d /tmp/ilu-image-cold.XXXXXX)
trap 'rm -rf "$work"' EXIT
bash tools/images/build.sh --function bench/functions/noop --out "$work/layout:noop" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; exit 1; }
sed -n 's/^\(image\|size\|base\):/  &/p' "$work/build.log"
for i in $(seq "$runs"); do
    BENCH_FUNCTIONS_DIR=$work BENCH_JSON=$work/run-$i.json \
        bash bench/run.sh --image "oci:$work/layout:noop" --no-warm --cold 5 "$@" >"$work/run-$i.log" 2>&1 ||
        { tail -20 "$work/run-$i.log" >&2; exit 1; }
done
/usr/bin/python3 - "$work" "$runs" <<'PY'
import json, statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
docs = [json.load(open(f"{work}/run-{i}.json")) for i in range(1, runs + 1)]
def cell(vals):
    d = 2 if max(vals) < 10 else 1
    return f"{statistics.median(vals):8.{d}f} [{min(vals):.{d}f}-{max(vals):.{d}f}]"
def pick(d, *keys):
    for k in keys:
        d = d.get(k, {}) if isinstance(d, dict) else {}
    return d.get("median") if isinstance(d, dict) and "median" in d else d
print(f"{runs} runs, medians [min-max]")
print(f"  image unpack (first registration, ms)   {cell([d['register_ms'] for d in docs])}")
for label, key in (("cold start through the worker (ms)", "worker_ms"), ("same bundle started by hand (ms)", "by_hand_ms"),
                   ("ratio worker / by hand (per pair)", "ratio_per_pair")):
    vals = [v for v in (pick(d, "cold", key) for d in docs) if isinstance(v, (int, float))]
    if vals:
        print(f"  {label:<40}{cell(vals)}")
PY
