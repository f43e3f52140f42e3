#!/usr/bin/env bash
# Fidelity of the simulator: one small trace of the bundled synthetic function
# run live against a private worker (LIVE_RUNS times, a fresh worker each
# time) and simulated (`--setup simulation`) with the SAME worker config file,
# compared per function and overall: cold and warm counts, latency p50/p99.
#   bash bench/sim_fidelity.sh            # ~8 min; needs root (runc)
# Env: LIVE_RUNS (3), SECONDS_PER_RUN (150), CPUS (2), MEMORY_MB (640),
# SEED (1), NETWORK_US (300: --sim-network-us), START_MS (85: simulation.
# container_start_ms), KEEP=1 keeps the work dir (report again with
# bench/sim_fidelity_report.py DIR LIVE_RUNS CPUS MEM NET START_MS).
# The trace: 4 functions, Poisson arrivals at different rates, cold/warm
# wall times 50-500 / 10-250 ms, 128-256 MB each; the pool (MEMORY_MB) cannot
# hold them all, so LRU eviction happens, and concurrent calls of one function
# make extra containers.
set -euo pipefail
cd "$(dirname "$0")/.."
LIVE_RUNS=${LIVE_RUNS:-3} SECS=${SECONDS_PER_RUN:-150} CPUS=${CPUS:-2} MEM=${MEMORY_MB:-640}
SEED=${SEED:-1} NET=${NETWORK_US:-300} START_MS=${START_MS:-85}
. bench/lib.sh
bench_worker_setup sim_fidelity ilu-fidelity # sets tmp and port

# One config for both: the live worker reads it with -c, the simulation with
# --worker-config (which ignores port, oci and logging).
cat >"$tmp/worker.json" <<EOF
{"port": $port,
 "logging": {"level": "warn", "directory": "", "stdout": false},
 "invocation": {"queue_policy": "fcfs", "max_queue_len": 1000},
 "container_resources": {"memory_mb": $MEM, "cpu_count": $CPUS, "eviction": "LRU", "keepalive_sec": 600,
                         "backend": "oci"},
 "oci": {"state_dir": "$tmp/state", "rootfs_dir": "$tmp/rootfs", "cgroup_parent": "ilu-fidelity-$$"},
 "simulation": {"container_start_ms": $START_MS, "invoke_overhead_us": 400, "jitter_pct": 0, "seed": 1}}
EOF

# name rate/s cold_ms warm_ms mem_mb
bench_poisson_trace "$tmp" "$SECS" "$SEED" <<'FNS'
fid0 8.0 60 20 128
fid1 4.0 300 100 128
fid2 1.0 500 250 256
fid3 0.2 50 10 256
FNS

for run in $(seq "$LIVE_RUNS"); do
    # a fresh worker per run: every run starts with an empty pool
    bench_live_trace sim_fidelity "$tmp/worker.json" "$tmp/live-$run" "live run $run/$LIVE_RUNS ($SECS s)..."
done
bench_sim_trace "$tmp/worker.json" "$tmp/sim" "$NET"

/usr/bin/python3 bench/sim_fidelity_report.py "$tmp" "$LIVE_RUNS" "$CPUS" "$MEM" "$NET" "$START_MS"
