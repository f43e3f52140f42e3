#!/usr/bin/env bash
# Speed of `iluvatar_load_gen trace --setup simulation` on a day-long,
# Azure-like trace (synthetic dataset from tools/azure/make_sample_dataset.py).
#   bash bench/sim_speed.sh            # RUNS=3; ~1 min after the trace is made
#   RUNS=5 PROFILE=1 PLOTS=1 bash bench/sim_speed.sh
# Env: RUNS (3), CPUS (32), MEMORY_MB (32768), MAX_RATE (50 invocations/s in
# the busiest minute), FUNCTIONS (300 asked of make_trace.py), SIM_SPEED_DIR
# (work dir, default /tmp/ilu-simspeed; the trace is kept there and reused),
# PROFILE=1 (one more run under `perf record`, split into phases by
# bench/perf_phases.py), PLOTS=1 (one more run with the plots, timed),
# QUEUE_POLICY (fcfs) and EVICTION (LRU): the policies simulated
# (bench/sim_speed_policies.sh runs every registered one).
# No root, no containers: the simulation runs the worker core in-process.
set -euo pipefail
cd "$(dirname "$0")/.."
QUEUE_POLICY=${QUEUE_POLICY:-fcfs} EVICTION=${EVICTION:-LRU}
RUNS=${RUNS:-3} CPUS=${CPUS:-32} MEM=${MEMORY_MB:-32768} MAX_RATE=${MAX_RATE:-50} FNS=${FUNCTIONS:-300}
W=${SIM_SPEED_DIR:-/tmp/ilu-simspeed}
. bench/lib.sh
bench_build sim_speed build/iluvatar_load_gen build/iluvatar_load_gen build/iluvatar_load_gen
mkdir -p "$W"
trace="$W/day-f$FNS-r$MAX_RATE"
if [ ! -s "$trace/trace.csv" ]; then
    # 400 synthetic functions over a day (~16 M invocations), 300 chosen
    # (quantiles: hot to rare), thinned so the busiest minute is MAX_RATE/s
    /usr/bin/python3 tools/azure/make_sample_dataset.py --functions 400 --seed 1 --out "$W/dataset" >/dev/null
    /usr/bin/python3 tools/azure/make_trace.py --dataset "$W/dataset" --functions "$FNS" --duration-min 1440 \
        --max-rate "$MAX_RATE" --scale --out "$trace"
fi
# The trace's mean concurrency (sum of warm times / day) is ~21 with the
# defaults: 16 CPUs would leave it overloaded all day (queue growing without
# bound), so 32; memory so that most containers stay warm but the pool fills.
cat >"$W/worker.json" <<EOF
{"logging": {"level": "warn"},
 "invocation": {"queue_policy": "$QUEUE_POLICY", "max_queue_len": 100000},
 "container_resources": {"memory_mb": $MEM, "cpu_count": $CPUS, "eviction": "$EVICTION", "keepalive_sec": 600},
 "simulation": {"container_start_ms": 85, "invoke_overhead_us": 400, "jitter_pct": 0, "seed": 1}}
EOF
lg=(build/iluvatar_load_gen --no-plots --setup simulation)
targs=(trace --input "$trace/trace.csv" --metadata "$trace/metadata.csv" --worker-config "$W/worker.json")
# Each run: total wall time around the process; the load generator's own
# lines give the simulation's wall time (reading the trace included) and the
# results writing; the progress lines (every 10%) give the rate of the
# event loop alone.
for run in $(seq "$RUNS"); do
    rm -rf "$W/out-$run"
    s=$(date +%s.%N)
    "${lg[@]}" --out "$W/out-$run" "${targs[@]}" 2>"$W/run-$run.err"
    e=$(date +%s.%N)
    echo "$s $e" >"$W/run-$run.time"
done
if [ "${PLOTS:-0}" = 1 ]; then
    rm -rf "$W/out-plots"
    s=$(date +%s.%N)
    build/iluvatar_load_gen --setup simulation --out "$W/out-plots" "${targs[@]}" 2>"$W/run-plots.err"
    e=$(date +%s.%N)
    echo "$s $e" >"$W/run-plots.time"
fi
/usr/bin/python3 - "$W" "$RUNS" "$trace" "$CPUS" "$MEM" <<'PY'
import json, os, re, statistics, sys
W, runs, trace, cpus, mem = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def parse(tag):
    err = open(f"{W}/run-{tag}.err").read()
    s, e = map(float, open(f"{W}/run-{tag}.time").read().split())
    m = re.search(r"simulated (\d+) invocations \(([\d.]+) s of trace\) in ([\d.]+) s of wall time", err)
    wr = re.search(r"writing the results took ([\d.]+) s", err)
    prog = [(int(a), float(t)) for a, t in re.findall(r"simulation: +\d+% (\d+)/\d+, \d+ errors, ([\d.]+) s", err)]
    if not m:
        sys.exit(f"run {tag}: no 'simulated ...' line in {W}/run-{tag}.err:\n{err}")
    n, sim_s, wall = int(m.group(1)), float(m.group(2)), float(m.group(3))
    # event-loop rate from the 10%..100% progress lines (the first lines
    # straddle the end of reading); reading = the rest of `wall`
    loop_rate = None
    if len(prog) >= 3:
        (a, ta), (b, tb) = prog[1], prog[-1]
        loop_rate = (b - a) / (tb - ta) if tb > ta else None
    loop_s = n / loop_rate if loop_rate else float("nan")
    summ = json.load(open(f"{W}/out-{tag}/summary.json"))
    return dict(n=n, sim_s=sim_s, wall=wall, write=float(wr.group(1)) if wr else float("nan"),
                total=e - s, loop_s=loop_s, setup_s=wall - loop_s, cold=summ["container_states"]["cold"],
                failures=summ["failures"], p50=summ["latency_ms"]["p50"], p99=summ["latency_ms"]["p99"])
r = [parse(i) for i in range(1, runs + 1)]
x = r[0]
print(f"trace {trace}: {x['n']} invocations, {x['sim_s']:.0f} s simulated ({x['sim_s']/3600:.1f} h); "
      f"worker cpu_count {cpus}, memory_mb {mem}; {x['cold']} cold starts, {x['failures']} failures, "
      f"latency p50 {x['p50']} p99 {x['p99']} ms")
if len({(y['n'], y['cold'], y['p50'], y['p99']) for y in r}) != 1:
    print("WARNING: the runs disagree (the simulation should be deterministic)")
print(f"{runs} runs, median [min - max]:")
def row(label, f, unit, fmt="{:.3f}"):
    v = [f(y) for y in r]
    print(f"  {label:48s} {fmt.format(statistics.median(v)):>12} [{fmt.format(min(v))} - {fmt.format(max(v))}] {unit}")
row("wall, whole process", lambda y: y["total"], "s")
row("  reading trace + setting up records", lambda y: y["setup_s"], "s")
row("  event loop (simulation proper)", lambda y: y["loop_s"], "s")
row("  writing invocations.csv + summary.json", lambda y: y["write"], "s")
row("invocations/s of wall, whole process", lambda y: y["n"] / y["total"], "inv/s", "{:,.0f}")
row("invocations/s, simulation incl. reading (tool)", lambda y: y["n"] / y["wall"], "inv/s", "{:,.0f}")
row("invocations/s, event loop alone", lambda y: y["n"] / y["loop_s"], "inv/s", "{:,.0f}")
row("simulated time / wall time (whole process)", lambda y: y["sim_s"] / y["total"], "x", "{:,.0f}")
if os.path.exists(f"{W}/run-plots.time"):
    p = parse("plots")
    print(f"with plots (one run): whole process {p['total']:.1f} s, of which results writing + plots {p['write']:.1f} s")
PY
if [ "${PROFILE:-0}" = 1 ]; then
    rm -rf "$W/out-perf"
    perf record -q -F 999 -g -o "$W/perf.data" -- "${lg[@]}" --quiet --out "$W/out-perf" "${targs[@]}" 2>/dev/null
    perf script -i "$W/perf.data" -F time,ip,sym 2>/dev/null >"$W/perf.txt"
    echo "profile (perf record -F 999, self time per phase; $W/perf.data):"
    /usr/bin/python3 bench/perf_phases.py "$W/perf.txt" 12
fi
