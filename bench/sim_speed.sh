#!/usr/bin/env bash
# Speed and peak memory of `iluvatar_load_gen trace --setup simulation`, end
# to end (reading the trace, simulating, writing invocations.csv and
# summary.json), on Azure-like traces of three sizes:
#   1m    the first 1,000,000 rows of the day below
#   day   a whole day of 192 functions (tools/azure sample dataset, thinned to
#         50/s in the busiest minute): 3,147,063 invocations
#   100m  the day with every function copied 32 times (same times): 100.7 M
#         invocations of 6,144 functions on a worker 32 times as large
#   bash bench/sim_speed.sh                # SIZES="1m 100m"; ~5 min once the traces exist
#   SIZES=day RUNS=5 PROFILE=1 bash bench/sim_speed.sh
# Env: SIZES ("1m 100m"), RUNS (3; the 100m size runs RUNS_100M, default 1,
# times), CPUS (32) and MEMORY_MB (32768) of the worker (x32 for 100m),
# QUEUE_POLICY (fcfs) and EVICTION (LRU): the policies simulated
# (bench/sim_speed_policies.sh runs every registered one), SIM_SPEED_DIR (work
# dir, default /tmp/ilu-simspeed: traces are kept and reused; the 100m trace
# takes 3 GB and its results 14 GB), PROFILE=1 (one more run of the first size
# under `perf record`, self time split by bench/perf_phases.py into reading,
# simulating and results), PLOTS=1 (one more run of the first size with the
# plots, timed).
# No root, no containers: the simulation runs the worker core in-process.
set -euo pipefail
cd "$(dirname "$0")/.."
QUEUE_POLICY=${QUEUE_POLICY:-fcfs} EVICTION=${EVICTION:-LRU}
SIZES=${SIZES:-"1m 100m"} RUNS=${RUNS:-3} RUNS_100M=${RUNS_100M:-1} CPUS=${CPUS:-32} MEM=${MEMORY_MB:-32768}
W=${SIM_SPEED_DIR:-/tmp/ilu-simspeed}
. bench/lib.sh
bench_build sim_speed build/iluvatar_load_gen build/iluvatar_load_gen build/iluvatar_load_gen
mkdir -p "$W"
day="$W/day-f300-r50"
if [ ! -s "$day/trace.csv" ]; then
    # 400 synthetic functions over a day (~16 M invocations), 300 chosen
    # (quantiles: hot to rare), thinned so the busiest minute is 50/s
    /usr/bin/python3 tools/azure/make_sample_dataset.py --functions 400 --seed 1 --out "$W/dataset" >/dev/null
    /usr/bin/python3 tools/azure/make_trace.py --dataset "$W/dataset" --functions 300 --duration-min 1440 \
        --max-rate 50 --scale --out "$day"
fi

# trace_of SIZE: the folder of SIZE's trace.csv and metadata.csv (made once)
trace_of() {
    local d="$W/$1"
    case $1 in
    day) echo "$day"; return ;;
    1m) [ -s "$d/trace.csv" ] || { mkdir -p "$d"; head -n 1000001 "$day/trace.csv" >"$d/trace.csv"; cp "$day/metadata.csv" "$d/"; } ;;
    100m)
        if [ ! -s "$d/trace.csv" ]; then
            echo "sim_speed: making the 100m trace (32 copies of every function of the day)..." >&2
            mkdir -p "$d"
            awk -F, 'NR == 1 { print; next } { for (j = 0; j < 32; j++) print $1 "-" j "," $2 }' \
                "$day/trace.csv" >"$d/trace.csv.tmp" && mv "$d/trace.csv.tmp" "$d/trace.csv"
            awk -F, 'BEGIN { OFS = "," } NR == 1 { print; next } { n = $1; for (j = 0; j < 32; j++) { $1 = n "-" j; print } }' \
                "$day/metadata.csv" >"$d/metadata.csv"
        fi
        ;;
    *) echo "sim_speed: unknown size $1 (1m, day, 100m)" >&2; exit 1 ;;
    esac
    echo "$d"
}

# The day's mean concurrency (sum of warm times / day) is ~21: 16 CPUs would
# leave it overloaded all day, so 32; memory so that most containers stay
# warm but the pool fills. 100m is 32 such workers' load on one worker.
worker_config() {
    local k=$2
    cat >"$1" <<EOF
{"logging": {"level": "warn"},
 "invocation": {"queue_policy": "$QUEUE_POLICY", "max_queue_len": $((100000 * k))},
 "container_resources": {"memory_mb": $((MEM * k)), "cpu_count": $((CPUS * k)), "eviction": "$EVICTION", "keepalive_sec": 600},
 "simulation": {"container_start_ms": 85, "invoke_overhead_us": 400, "jitter_pct": 0, "seed": 1}}
EOF
}

first=
for size in $SIZES; do
    t=$(trace_of "$size")
    k=1
    [ "$size" = 100m ] && k=32
    worker_config "$W/worker-$size.json" "$k"
    runs=$RUNS
    [ "$size" = 100m ] && runs=$RUNS_100M
    for run in $(seq "$runs"); do
        rm -rf "$W/out-$size-$run"
        sync # the previous run's results on disk first: its writeback would throttle this one
        /usr/bin/time -f "%e %M %U %S" -o "$W/run-$size-$run.time" build/iluvatar_load_gen --no-plots --setup simulation \
            --out "$W/out-$size-$run" trace --input "$t/trace.csv" --metadata "$t/metadata.csv" \
            --worker-config "$W/worker-$size.json" 2>"$W/run-$size-$run.err"
        du -b "$W/out-$size-$run/invocations.csv" | cut -f1 >"$W/run-$size-$run.csv-bytes"
        [ "$size" = 100m ] && rm -f "$W/out-$size-$run/invocations.csv" # 14 GB: sized, then removed
    done
    [ -n "$first" ] || first=$size
    /usr/bin/python3 - "$W" "$size" "$runs" "$k" <<'PY'
import json, re, statistics, sys
W, size, runs, k = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
r = []
for i in range(1, runs + 1):
    err = open(f"{W}/run-{size}-{i}.err").read()
    wall, rss_kb, user, sys_s = open(f"{W}/run-{size}-{i}.time").read().split()[-4:]
    m = re.search(r"simulated (\d+) invocations \(([\d.]+) s of trace\)", err)
    if not m:
        sys.exit(f"{size} run {i}: no 'simulated ...' line in {W}/run-{size}-{i}.err:\n{err[-2000:]}")
    s = json.load(open(f"{W}/out-{size}-{i}/summary.json"))
    r.append(dict(n=int(m.group(1)), sim_s=float(m.group(2)), wall=float(wall), rss=int(rss_kb) / 1024,
                  cpu=float(user) + float(sys_s), sys=float(sys_s),
                  csv=int(open(f"{W}/run-{size}-{i}.csv-bytes").read()), cold=s["container_states"]["cold"],
                  failures=s["failures"], p50=s["latency_ms"]["p50"], p99=s["latency_ms"]["p99"]))
x = r[0]
print(f"== {size}: {x['n']:,} invocations, {x['sim_s'] / 3600:.1f} h simulated; worker cpu_count x{k}, memory x{k}; "
      f"{x['cold']} cold starts, {x['failures']} failures, latency p50 {x['p50']} p99 {x['p99']} ms; "
      f"invocations.csv {x['csv'] / 1e6:,.0f} MB")
if len({(y['n'], y['cold'], y['p50'], y['p99']) for y in r}) != 1:
    print("WARNING: the runs disagree (the simulation should be deterministic)")
def row(label, f, unit, fmt="{:,.2f}"):
    v = [f(y) for y in r]
    print(f"  {label:44s} {fmt.format(statistics.median(v)):>12} [{fmt.format(min(v))} - {fmt.format(max(v))}] {unit}"
          f"  ({runs} run{'s' if runs > 1 else ''})")
row("wall time, whole process", lambda y: y["wall"], "s")
row("invocations/s end to end (read, simulate, write)", lambda y: y["n"] / y["wall"], "inv/s", "{:,.0f}")
row("invocations per CPU-second (user + system)", lambda y: y["n"] / y["cpu"], "inv/s", "{:,.0f}")
row("  of which system time (writing the results)", lambda y: y["sys"], "s")
row("simulated time / wall time", lambda y: y["sim_s"] / y["wall"], "x", "{:,.0f}")
row("peak memory (RSS)", lambda y: y["rss"], "MB", "{:,.1f}")
PY
done

if [ "${PROFILE:-0}" = 1 ]; then
    t=$(trace_of "$first")
    rm -rf "$W/out-perf"
    perf record -q -F 999 -o "$W/perf.data" -- build/iluvatar_load_gen --quiet --no-plots --setup simulation \
        --out "$W/out-perf" trace --input "$t/trace.csv" --metadata "$t/metadata.csv" \
        --worker-config "$W/worker-$first.json" 2>/dev/null
    perf report -i "$W/perf.data" -n --no-children --sort symbol --stdio 2>/dev/null >"$W/perf.txt"
    n=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["invocations"])' "$W/out-perf/summary.json")
    echo "profile of $first (perf record -F 999, self time; $W/perf.data):"
    /usr/bin/python3 bench/perf_phases.py "$W/perf.txt" "$n" 999
fi
if [ "${PLOTS:-0}" = 1 ]; then
    t=$(trace_of "$first")
    rm -rf "$W/out-plots"
    s=$(date +%s.%N)
    build/iluvatar_load_gen --setup simulation --out "$W/out-plots" trace --input "$t/trace.csv" \
        --metadata "$t/metadata.csv" --worker-config "$W/worker-$first.json" 2>"$W/run-plots.err"
    e=$(date +%s.%N)
    echo "with plots ($first): $(echo "$e - $s" | bc) s"
fi
