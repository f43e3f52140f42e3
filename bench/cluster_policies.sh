#!/usr/bin/env bash
# Load-balancing policies compared on a simulated cluster: one Azure-sample
# trace (tools/azure/make_trace.py on data/azure-sample) replayed by
# `iluvatar_load_gen --setup simulation --target controller` on WORKERS
# simulated workers under RoundRobin, LeastLoaded and CH-BL, each worker with
# little memory so that where a function runs decides whether it runs warm.
#   bash bench/cluster_policies.sh        # a few seconds; no root, no containers
# Env: WORKERS (4), CPUS (4, per worker), MEMORY_MB (1024, per worker),
# FUNCTIONS (24, asked of make_trace; fewer survive --max-rate scaling),
# MINUTES (30), START_MINUTE (600), MAX_RATE (30 invocations/s), COLD_CAP_MS
# (5000), NETWORK_US (300: --sim-network-us), PREWARM (0: containers per
# function prewarmed through the controller before the trace starts),
# OUT (results/cluster_policies),
# PLOT (OUT/cluster_policies.png; docs/img/cluster_policies.png for the docs),
# ILU_BUILD_DIR (build).
# Prints a table (also OUT/table.md) and writes the plot; docs/cluster_policies.md
# shows one run's output.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-4} CPUS=${CPUS:-4} MEM=${MEMORY_MB:-1024} FUNCTIONS=${FUNCTIONS:-24} MINUTES=${MINUTES:-30}
START=${START_MINUTE:-600} MAX_RATE=${MAX_RATE:-30} COLD_CAP=${COLD_CAP_MS:-5000} NET=${NETWORK_US:-300}
OUT=${OUT:-results/cluster_policies}
PLOT=${PLOT:-$OUT/cluster_policies.png}
BUILD=${ILU_BUILD_DIR:-build}
LOAD_GEN=$BUILD/iluvatar_load_gen
POLICIES=(RoundRobin LeastLoaded CH-BL)
. bench/lib.sh
bench_build cluster_policies "$LOAD_GEN" "the load generator" BUILD="$BUILD" "$LOAD_GEN"
mkdir -p "$OUT"

/usr/bin/python3 tools/azure/make_trace.py --dataset data/azure-sample --functions "$FUNCTIONS" \
    --start-minute "$START" --duration-min "$MINUTES" --max-rate "$MAX_RATE" --scale --cold-cap-ms "$COLD_CAP" \
    --out "$OUT/trace" 2>"$OUT/make_trace.log" >&2

cat >"$OUT/worker.json" <<EOF
{"invocation": {"queue_policy": "fcfs"},
 "container_resources": {"memory_mb": $MEM, "cpu_count": $CPUS, "eviction": "LRU", "keepalive_sec": 600},
 "simulation": {"container_start_ms": 85, "invoke_overhead_us": 400, "jitter_pct": 0, "seed": 1}}
EOF

for policy in "${POLICIES[@]}"; do
    echo "simulating $policy on $WORKERS workers..." >&2
    ILUVATAR_CONTROLLER__load_balancer__algorithm=$policy \
        "$LOAD_GEN" --quiet --no-plots --setup simulation --target controller --out "$OUT/$policy" --force \
        trace --workers "$WORKERS" --prewarm "${PREWARM:-0}" --worker-config "$OUT/worker.json" --sim-network-us "$NET" \
        --input "$OUT/trace/trace.csv" --metadata "$OUT/trace/metadata.csv" 2>>"$OUT/load_gen.log"
done

/usr/bin/python3 - "$OUT" "${POLICIES[@]}" <<'PY' | tee "$OUT/table.md"
import csv, json, math, os, sys
out, policies = sys.argv[1], sys.argv[2:]
print("| policy | invocations | cold starts | warm | latency p50 (ms) | latency p99 (ms) | p99 after the first minute (ms) | per-worker invocations (min / max) | per-worker cold starts |")
print("|---|---:|---:|---:|---:|---:|---:|---|---|")
for p in policies:
    with open(os.path.join(out, p, "summary.json")) as f:
        s = json.load(f)
    st, lat, per = s["container_states"], s["latency_ms"], s["inputs"]["per_worker"]
    with open(os.path.join(out, p, "invocations.csv"), newline="") as f:
        later = sorted(float(r["e2e_ms"]) for r in csv.DictReader(f)
                       if r["success"] == "1" and float(r["scheduled_ms"]) >= 60000)
    p99_later = later[max(math.ceil(0.99 * len(later)), 1) - 1] if later else float("nan")  # nearest rank
    inv = [w["invocations"] for w in per.values()]
    cold = " ".join(str(w["cold"]) for w in per.values())
    print(f"| {p} | {s['invocations']} | {st['cold']} | {st['warm'] + st['prewarm']} | {lat['p50']:.1f} | "
          f"{lat['p99']:.1f} | {p99_later:.1f} | {min(inv)} / {max(inv)} | {cold} |")
PY
mkdir -p "$(dirname "$PLOT")"
/usr/bin/python3 bench/plot_cluster_policies.py --out "$PLOT" $(for p in "${POLICIES[@]}"; do echo "$OUT/$p/summary.json"; done)
echo "trace: $(cat "$OUT/make_trace.log" | tail -n 1)" >&2
echo "results in $OUT; plot $PLOT" >&2
