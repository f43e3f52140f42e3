#!/usr/bin/env bash
# Keep-alive and queue policies compared in the simulator (issue 9): one
# Azure-format trace (tools/azure/make_trace.py on the shipped synthetic
# sample data/azure-sample, with its three hottest functions thinned) replayed
# by `iluvatar_load_gen --setup simulation` on the real worker core:
#   1. keep-alive: LRU, TTL (ttl_sec 600), LFU, GreedyDual, HYBRID_HISTOGRAM
#      at three memory sizes (fractions of the trace's working set, measured
#      on an unconstrained reference run), keepalive_sec 0 so the policies
#      decide;
#   2. queueing: fcfs, minheap, minheap_ed, minheap_iat, cold_pri, mqfq at
#      four core counts (container_resources.cpu_count), ample memory.
#   bash bench/policy_compare.sh      # ~1 min; no root, no containers
# Env: OUT (results/policy_compare), PLOT_DIR (OUT; docs/img for the docs),
# START_MINUTE (480), MINUTES (240), HOT_DIVISOR (100: the functions invoked
# over HOT_PER_DAY (1000000) times in the day have every minute's count
# divided by it, with a carry), KA_CPUS (8), MEM_PCT ("25 50 100": % of the
# working set), QUEUE_CORES ("3 4 6 8"), QUEUE_MEMORY_MB (16384),
# NETWORK_US (300), ILU_BUILD_DIR (build).
# Prints the tables (also OUT/tables.md) and writes PLOT_DIR/policy_compare_
# keepalive.png and PLOT_DIR/policy_compare_queue.png. docs/policies.md
# ("Comparison (simulated)") shows one run's output. Runs are deterministic.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/policy_compare}
PLOT_DIR=${PLOT_DIR:-$OUT}
START=${START_MINUTE:-480} MINUTES=${MINUTES:-240} HOT_DIV=${HOT_DIVISOR:-100} HOT_PER_DAY=${HOT_PER_DAY:-1000000}
KA_CPUS=${KA_CPUS:-8} MEM_PCT=${MEM_PCT:-25 50 100} QUEUE_CORES=${QUEUE_CORES:-3 4 6 8}
QUEUE_MEM=${QUEUE_MEMORY_MB:-16384} NET=${NETWORK_US:-300}
BUILD=${ILU_BUILD_DIR:-build}
LOAD_GEN=$BUILD/iluvatar_load_gen
KA_POLICIES=(LRU TTL LFU GreedyDual HYBRID_HISTOGRAM)
Q_POLICIES=(fcfs minheap minheap_ed minheap_iat cold_pri mqfq)
. bench/lib.sh
bench_build policy_compare "$LOAD_GEN" "the load generator" BUILD="$BUILD" "$LOAD_GEN"
rm -rf "$OUT/ka" "$OUT/queue" "$OUT/ref"
mkdir -p "$OUT/dataset" "$OUT/ka" "$OUT/queue" "$PLOT_DIR"
: >"$OUT/load_gen.log"

# The dataset: the sample's three hottest functions get 2-6 M invocations a
# day (thousands a minute); left as they are, they make 94 % of the window's
# 2 M invocations, are always warm, and make a simulation run take seconds
# instead of a fraction of one. make_trace's --max-rate --scale would thin
# every function alike and drop the rare ones that keep-alive is about, so
# only the hot ones are thinned here, in the dataset's own format.
/usr/bin/python3 - data/azure-sample "$OUT/dataset" "$HOT_PER_DAY" "$HOT_DIV" <<'PY'
import csv, shutil, sys
src, dst, hot, div = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for n in ("function_durations_percentiles", "app_memory_percentiles"):
    shutil.copyfile(f"{src}/{n}.anon.d01.csv", f"{dst}/{n}.anon.d01.csv")
thinned = 0
with open(f"{src}/invocations_per_function_md.anon.d01.csv", newline="") as f, \
     open(f"{dst}/invocations_per_function_md.anon.d01.csv", "w", newline="") as g:
    r, w = csv.reader(f), csv.writer(g, lineterminator="\n")
    w.writerow(next(r))
    for row in r:
        counts = [int(x) for x in row[4:]]
        if sum(counts) > hot:
            thinned += 1
            carry, out = 0, []
            for c in counts:  # divide with a carry: the day's total is kept / div
                carry += c
                out.append(carry // div)
                carry -= out[-1] * div
            counts = out
        w.writerow(row[:4] + counts)
print(f"dataset: {thinned} function(s) with over {hot} invocations a day thinned by 1/{div}", file=sys.stderr)
PY
/usr/bin/python3 tools/azure/make_trace.py --dataset "$OUT/dataset" --functions 1000 \
    --start-minute "$START" --duration-min "$MINUTES" --out "$OUT/trace" 2>"$OUT/make_trace.log" >>"$OUT/make_trace.log"

worker_json() { # memory_mb cpu_count eviction queue_policy keepalive_sec
    cat <<EOF
{"logging": {"level": "warn"},
 "invocation": {"queue_policy": "$4", "max_queue_len": 100000},
 "container_resources": {"memory_mb": $1, "cpu_count": $2, "eviction": "$3", "ttl_sec": 600, "keepalive_sec": $5},
 "simulation": {"container_start_ms": 85, "invoke_overhead_us": 400, "jitter_pct": 0, "seed": 1}}
EOF
}
simulate() { # out_dir worker.json
    "$LOAD_GEN" --quiet --no-plots --setup simulation --out "$1" trace --input "$OUT/trace/trace.csv" \
        --metadata "$OUT/trace/metadata.csv" --worker-config "$2" --sim-network-us "$NET" 2>>"$OUT/load_gen.log"
}

# Working set: an LRU run with memory to spare (64 GB, nothing ever evicted
# or expired) at KA_CPUS; the working set is the sum over functions of
# memory x the most containers of it busy at once (docs/policies.md).
echo "reference run (64 GB)..." >&2
worker_json 65536 "$KA_CPUS" LRU fcfs 0 >"$OUT/ref.json"
simulate "$OUT/ref" "$OUT/ref.json"
WS=$(/usr/bin/python3 bench/plot_policy_compare.py working-set --trace "$OUT/trace" "$OUT/ref")
MEMS=$(for p in $MEM_PCT; do echo $(((WS * p / 100 + 63) / 64 * 64)); done)
echo "working set $WS MB; keep-alive memory sizes: $MEMS MB" >&2
echo "$WS" >"$OUT/working_set_mb"

for mem in $MEMS; do
    for p in "${KA_POLICIES[@]}"; do
        echo "keep-alive $p, $mem MB..." >&2
        worker_json "$mem" "$KA_CPUS" "$p" fcfs 0 >"$OUT/ka/$p-$mem.json"
        simulate "$OUT/ka/$p-$mem" "$OUT/ka/$p-$mem.json"
    done
done
for cores in $QUEUE_CORES; do
    for q in "${Q_POLICIES[@]}"; do
        echo "queue $q, $cores CPUs..." >&2
        worker_json "$QUEUE_MEM" "$cores" LRU "$q" 600 >"$OUT/queue/$q-$cores.json"
        simulate "$OUT/queue/$q-$cores" "$OUT/queue/$q-$cores.json"
    done
done

/usr/bin/python3 bench/plot_policy_compare.py report --trace "$OUT/trace" --working-set "$WS" \
    --ka-dir "$OUT/ka" --ka-policies "${KA_POLICIES[*]}" --mems "$(echo $MEMS)" \
    --queue-dir "$OUT/queue" --queue-policies "${Q_POLICIES[*]}" --cores "$QUEUE_CORES" \
    --plot-dir "$PLOT_DIR" | tee "$OUT/tables.md"
echo "trace: $(tail -n 1 "$OUT/make_trace.log")" >&2
echo "results in $OUT; plots $PLOT_DIR/policy_compare_keepalive.png, $PLOT_DIR/policy_compare_queue.png" >&2
