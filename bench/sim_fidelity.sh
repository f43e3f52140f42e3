#!/usr/bin/env bash
# Fidelity of the simulator on three traces (docs/simulation.md, "Fidelity"):
# each run live against a private worker LIVE_RUNS times (a fresh worker each
# time) and simulated twice with the same worker config: with the defaults
# (85 ms start-ups, no CPU model) and calibrated (tools/calibrate/calibrate.py
# run on this host just before that trace's live runs: measured start-up
# distribution, processor sharing of this host's CPUs). Compared per trace:
# cold counts, latency p50/p99 overall and per function, against the
# targets (p50 and p99 within 10 % of the live median, cold counts within
# 5 %, per-function p50 within 15 %).
#   bash bench/sim_fidelity.sh            # ~25 min; needs root (runc)
# Env: TRACES ("poisson azure bursty"), LIVE_RUNS (3), SECONDS_PER_RUN (120),
# SEED (1), NETWORK_US (300: --sim-network-us), EXEC_CPU_PCT (5: the
# synthetic function sleeps), KEEP=1 keeps the work dir (report again with
# bench/sim_fidelity_report.py DIR "TRACES" LIVE_RUNS).
# The traces (all on the bundled synthetic function, which sleeps):
#   poisson  4 functions, Poisson arrivals 0.2-8/s, cold/warm 50-500/10-250 ms,
#            128-256 MB; memory_mb 640 cannot hold them all: LRU evictions.
#   azure    6 functions of an Azure-format day (tools/azure: the synthetic
#            sample dataset, minutes 600.., --max-fn-rate 1.5 --max-rate 8).
#   bursty   6 functions called together every 15 s (2 calls each), with
#            keepalive_sec 5: every burst is 12 cold starts at once; cpu_count 4
#            on this host's CPUs, so start-ups contend for them.
set -euo pipefail
cd "$(dirname "$0")/.."
TRACES=${TRACES:-"poisson azure bursty"}
LIVE_RUNS=${LIVE_RUNS:-3} SECS=${SECONDS_PER_RUN:-120} SEED=${SEED:-1} NET=${NETWORK_US:-300}
EXEC_CPU_PCT=${EXEC_CPU_PCT:-5}
. bench/lib.sh
bench_worker_setup sim_fidelity ilu-fidelity # sets tmp and port
root=$tmp

# worker_config FILE STATE_TAG CPUS MEMORY_MB KEEPALIVE_SEC
worker_config() {
    cat >"$1" <<EOF
{"port": $port,
 "logging": {"level": "warn", "directory": "", "stdout": false},
 "invocation": {"queue_policy": "fcfs", "max_queue_len": 1000},
 "container_resources": {"memory_mb": $4, "cpu_count": $3, "eviction": "LRU", "keepalive_sec": $5,
                         "backend": "oci"},
 "oci": {"state_dir": "$root/state-$2", "rootfs_dir": "$root/rootfs", "cgroup_parent": "ilu-fidelity-$$"}}
EOF
}

make_poisson() {
    bench_poisson_trace "$1" "$SECS" "$SEED" <<'FNS'
fid0 8.0 60 20 128
fid1 4.0 300 100 128
fid2 1.0 500 250 256
fid3 0.2 50 10 256
FNS
    worker_config "$1/worker.json" poisson 2 640 600
}

make_azure() {
    [ -d "$root/azure-dataset" ] ||
        /usr/bin/python3 tools/azure/make_sample_dataset.py --functions 60 --seed 3 --out "$root/azure-dataset" >/dev/null
    /usr/bin/python3 tools/azure/make_trace.py --dataset "$root/azure-dataset" --functions 6 \
        --duration-min $(((SECS + 59) / 60)) --start-minute 600 --max-fn-rate 1.5 --max-rate 8 --scale \
        --cold-cap-ms 2000 --seed "$SEED" --out "$1" 2>&1 | grep -v '^make_trace: note' >&2 || true
    worker_config "$1/worker.json" azure 2 1024 600
}

make_bursty() {
    /usr/bin/python3 - "$1" "$SECS" "$SEED" <<'PY'
import random, sys
out, secs, seed = sys.argv[1], float(sys.argv[2]), sys.argv[3]
fns = [("b0", 200, 100), ("b1", 300, 150), ("b2", 150, 50), ("b3", 400, 200), ("b4", 250, 120), ("b5", 180, 60)]
rng = random.Random(f"{seed}:bursty")
rows = []
t = 1000.0
while t < secs * 1000:
    for name, *_ in fns:  # every function twice, within 5 ms of the burst
        rows += [(t + rng.uniform(0, 5), name) for _ in range(2)]
    t += 15000
bg = rng.expovariate(0.5)  # and a light background on b0
while bg < secs:
    rows.append((bg * 1000, "b0"))
    bg += rng.expovariate(0.5)
rows.sort()
with open(f"{out}/trace.csv", "w") as f:
    f.write("func_name,invoke_time_ms\n")
    f.writelines(f"{n},{t:.3f}\n" for t, n in rows)
with open(f"{out}/metadata.csv", "w") as f:
    f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\n")
    f.writelines(f"{n},{c},{w},64\n" for n, c, w in fns)
print(f"trace: {len(rows)} invocations of {len(fns)} functions over {secs:.0f} s", file=sys.stderr)
PY
    worker_config "$1/worker.json" bursty 4 1024 5
}

for name in $TRACES; do
    dir=$root/$name
    mkdir -p "$dir"
    "make_$name" "$dir"
    # calibrate on this host now, on a worker that allows 4 start-ups at once
    worker_config "$dir/calibrate-worker.json" calibrate 4 1024 600
    bench_worker_start sim_fidelity "$dir/calibrate-worker.json" "$dir/worker.log" "$port"
    echo "$name: calibrating..." >&2
    /usr/bin/python3 tools/calibrate/calibrate.py --port "$port" --out "$dir/calibration.json" \
        --exec-cpu-pct "$EXEC_CPU_PCT" --worker-config "$dir/worker.json" \
        --write-config "$dir/worker-calibrated.json" 2>>"$dir/calibrate.log"
    tail -1 "$dir/calibrate.log" >&2
    bench_worker_stop
    for run in $(seq "$LIVE_RUNS"); do
        bench_worker_start sim_fidelity "$dir/worker.json" "$dir/worker.log" "$port"
        echo "$name: live run $run/$LIVE_RUNS ($SECS s)..." >&2
        build/iluvatar_load_gen --quiet --no-plots --port "$port" --out "$dir/live-$run" trace \
            --input "$dir/trace.csv" --metadata "$dir/metadata.csv" 2>>"$dir/loadgen.log"
        bench_worker_stop
    done
    for sim in default calibrated; do
        cfg=$dir/worker.json
        [ "$sim" = calibrated ] && cfg=$dir/worker-calibrated.json
        build/iluvatar_load_gen --quiet --no-plots --setup simulation --out "$dir/sim-$sim" trace \
            --input "$dir/trace.csv" --metadata "$dir/metadata.csv" --worker-config "$cfg" \
            --sim-network-us "$NET" 2>>"$dir/loadgen.log"
    done
done

/usr/bin/python3 bench/sim_fidelity_report.py "$root" "$TRACES" "$LIVE_RUNS"
