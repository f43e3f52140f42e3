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
make -j"$(nproc)" build/iluvatar_worker build/iluvatar_load_gen build/iluvatar_worker_cli >/dev/null 2>&1 ||
    { [ -x build/iluvatar_worker ] && [ -x build/iluvatar_load_gen ] && [ -x build/iluvatar_worker_cli ] &&
        echo "sim_fidelity: make failed; using the existing binaries in build/" >&2; } ||
    { echo "sim_fidelity: cannot build the worker and load generator" >&2; exit 1; }
tmp=$(mktemp -d /tmp/ilu-fidelity.XXXXXX)
chmod 711 "$tmp" # containers run as an unprivileged host id: they pass through to the root
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
worker=
stop_worker() {
    if [ -n "$worker" ]; then kill -INT "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true; worker=; fi
}
trap 'stop_worker; [ "${KEEP:-0}" = 1 ] && echo "kept $tmp" >&2 || rm -rf "$tmp"' EXIT

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

/usr/bin/python3 - "$tmp" "$SECS" "$SEED" <<'PY'
import random, sys
out, secs, seed = sys.argv[1], float(sys.argv[2]), sys.argv[3]
#        name  rate/s cold_ms warm_ms mem_mb
fns = [("fid0", 8.0,   60,  20, 128),
       ("fid1", 4.0,  300, 100, 128),
       ("fid2", 1.0,  500, 250, 256),
       ("fid3", 0.2,   50,  10, 256)]
rows = []
for name, rate, *_ in fns:
    rng = random.Random(f"{seed}:{name}")
    t = rng.expovariate(rate)
    while t < secs:
        rows.append((t * 1000.0, name))
        t += rng.expovariate(rate)
rows.sort()
with open(f"{out}/trace.csv", "w") as f:
    f.write("func_name,invoke_time_ms\n")
    f.writelines(f"{n},{t:.3f}\n" for t, n in rows)
with open(f"{out}/metadata.csv", "w") as f:
    f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\n")
    f.writelines(f"{n},{c},{w},{m}\n" for n, _, c, w, m in fns)
print(f"trace: {len(rows)} invocations of {len(fns)} functions over {secs:.0f} s")
PY

for run in $(seq "$LIVE_RUNS"); do
    # a fresh worker per run: every run starts with an empty pool
    build/iluvatar_worker -c "$tmp/worker.json" 2>>"$tmp/worker.log" &
    worker=$!
    up=0
    for _ in $(seq 200); do
        build/iluvatar_worker_cli --port "$port" ping >/dev/null 2>&1 && { up=1; break; }
        sleep 0.05
    done
    [ $up = 1 ] || { echo "sim_fidelity: the worker did not come up; see $tmp/worker.log" >&2; KEEP=1; exit 1; }
    echo "live run $run/$LIVE_RUNS ($SECS s)..." >&2
    build/iluvatar_load_gen --quiet --no-plots --port "$port" --out "$tmp/live-$run" trace \
        --input "$tmp/trace.csv" --metadata "$tmp/metadata.csv" 2>>"$tmp/loadgen.log"
    stop_worker
done
build/iluvatar_load_gen --quiet --no-plots --setup simulation --out "$tmp/sim" trace \
    --input "$tmp/trace.csv" --metadata "$tmp/metadata.csv" --worker-config "$tmp/worker.json" \
    --sim-network-us "$NET" 2>>"$tmp/loadgen.log"

/usr/bin/python3 bench/sim_fidelity_report.py "$tmp" "$LIVE_RUNS" "$CPUS" "$MEM" "$NET" "$START_MS"
