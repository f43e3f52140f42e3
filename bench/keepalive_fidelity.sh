#!/usr/bin/env bash
# Fidelity of the simulator for keep-alive policies: one small trace of the
# bundled synthetic function run live against a private worker (LIVE_RUNS
# times per policy, a fresh worker each time) and simulated (`--setup
# simulation`) with the SAME worker config file, for two keep-alive policies
# under a memory limit that forces evictions. Prints, per policy, live cold
# starts (median [min-max] over the live runs, spread), simulated cold starts,
# the ratio sim/live, and p50/p99; then per-function cold starts (where the
# policies differ) and the worker's own timings.
#   bash bench/keepalive_fidelity.sh        # ~6 min; needs root (runc)
# Env: LIVE_RUNS (2), SECONDS_PER_RUN (90), CPUS (2), MEMORY_MB (768), SEED (1),
# NETWORK_US (300: --sim-network-us), START_MS (85: simulation.container_start_ms,
# the idle-machine runc cold start of bench/README.md), POLICIES ("LRU GreedyDual";
# TTL takes TTL_SEC, default 5), KEEP=1 keeps the work dir (report again with
# bench/keepalive_fidelity_report.py DIR).
# The trace: 6 functions, Poisson arrivals: two large cheap ones (256 MB, cold
# 40 / warm 30 ms, 3/s and 2/s), two mid (128 MB, 200 / 60 ms, 2/s and 1/s) and
# two small expensive rare ones (64 MB, 900 / 50 ms, 0.4/s and 0.3/s). One
# container of each is 896 MB, the pool 768 MB: LRU evicts what was used
# longest ago, GreedyDual (priority = clock + uses x cold cost / MB) keeps the
# small expensive containers and sacrifices the large cheap ones.
set -euo pipefail
cd "$(dirname "$0")/.."
LIVE_RUNS=${LIVE_RUNS:-2} SECS=${SECONDS_PER_RUN:-90} CPUS=${CPUS:-2} MEM=${MEMORY_MB:-768}
SEED=${SEED:-1} NET=${NETWORK_US:-300} START_MS=${START_MS:-85} TTL_SEC=${TTL_SEC:-5}
read -r -a POLS <<<"${POLICIES:-LRU GreedyDual}"
. bench/lib.sh
bench_worker_setup keepalive_fidelity ilu-kafidelity # sets tmp and port

# One config per policy, used by both: the live worker reads it with -c, the
# simulation with --worker-config (which ignores port, oci and logging).
for pol in "${POLS[@]}"; do
    cat >"$tmp/worker-$pol.json" <<JSON
{"port": $port,
 "functions_dirs": "$PWD/functions",
 "logging": {"level": "warn", "directory": "", "stdout": false},
 "invocation": {"queue_policy": "fcfs", "max_queue_len": 1000},
 "container_resources": {"memory_mb": $MEM, "cpu_count": $CPUS, "eviction": "$pol", "ttl_sec": $TTL_SEC,
                         "keepalive_sec": 600, "backend": "oci"},
 "oci": {"state_dir": "$tmp/state", "rootfs_dir": "$tmp/rootfs", "cgroup_parent": "ilu-kafidelity-$$"},
 "simulation": {"container_start_ms": $START_MS, "invoke_overhead_us": 400, "jitter_pct": 0, "seed": 1}}
JSON
done
cat >"$tmp/params.json" <<JSON
{"live_runs": $LIVE_RUNS, "policies": "${POLS[*]}", "cpus": $CPUS, "memory_mb": $MEM, "network_us": $NET,
 "start_ms": $START_MS, "ttl_sec": $TTL_SEC, "seconds": $SECS, "seed": $SEED}
JSON

# name rate/s cold_ms warm_ms mem_mb
bench_poisson_trace "$tmp" "$SECS" "$SEED" >&2 <<'FNS'
big0 3.0 40 30 256
big1 2.0 40 30 256
mid0 2.0 200 60 128
mid1 1.0 200 60 128
exp0 0.4 900 50 64
exp1 0.3 900 50 64
FNS

# Live runs, the policies interleaved so that drift in the machine's load hits
# both alike; a fresh worker per run: every run starts with an empty pool.
for run in $(seq "$LIVE_RUNS"); do
    for pol in "${POLS[@]}"; do
        bench_live_trace keepalive_fidelity "$tmp/worker-$pol.json" "$tmp/live-$pol-$run" \
            "live $pol run $run/$LIVE_RUNS ($SECS s)..."
    done
done
for pol in "${POLS[@]}"; do
    bench_sim_trace "$tmp/worker-$pol.json" "$tmp/sim-$pol" "$NET"
done

/usr/bin/python3 bench/keepalive_fidelity_report.py "$tmp"
