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
make -j"$(nproc)" build/iluvatar_worker build/iluvatar_load_gen build/iluvatar_worker_cli >/dev/null 2>&1 ||
    { [ -x build/iluvatar_worker ] && [ -x build/iluvatar_load_gen ] && [ -x build/iluvatar_worker_cli ] &&
        echo "keepalive_fidelity: make failed; using the existing binaries in build/" >&2; } ||
    { echo "keepalive_fidelity: cannot build the worker and load generator" >&2; exit 1; }
tmp=$(mktemp -d /tmp/ilu-kafidelity.XXXXXX)
chmod 711 "$tmp" # containers run as an unprivileged host id: they pass through to the root
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
worker=
stop_worker() {
    if [ -n "$worker" ]; then kill -INT "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true; worker=; fi
}
trap 'stop_worker; [ "${KEEP:-0}" = 1 ] && echo "kept $tmp" >&2 || rm -rf "$tmp"' EXIT

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

/usr/bin/python3 - "$tmp" "$SECS" "$SEED" <<'PY'
import random, sys
out, secs, seed = sys.argv[1], float(sys.argv[2]), sys.argv[3]
#        name  rate/s cold_ms warm_ms mem_mb
fns = [("big0", 3.0,   40,  30, 256),
       ("big1", 2.0,   40,  30, 256),
       ("mid0", 2.0,  200,  60, 128),
       ("mid1", 1.0,  200,  60, 128),
       ("exp0", 0.4,  900,  50,  64),
       ("exp1", 0.3,  900,  50,  64)]
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
print(f"trace: {len(rows)} invocations of {len(fns)} functions over {secs:.0f} s", file=sys.stderr)
PY

# Live runs, the policies interleaved so that drift in the machine's load hits
# both alike; a fresh worker per run: every run starts with an empty pool.
for run in $(seq "$LIVE_RUNS"); do
    for pol in "${POLS[@]}"; do
        build/iluvatar_worker -c "$tmp/worker-$pol.json" 2>>"$tmp/worker.log" &
        worker=$!
        up=0
        for _ in $(seq 200); do
            build/iluvatar_worker_cli --port "$port" ping >/dev/null 2>&1 && { up=1; break; }
            sleep 0.05
        done
        [ $up = 1 ] || { echo "keepalive_fidelity: the worker did not come up; see $tmp/worker.log" >&2; KEEP=1; exit 1; }
        echo "live $pol run $run/$LIVE_RUNS ($SECS s)..." >&2
        build/iluvatar_load_gen --quiet --no-plots --port "$port" --out "$tmp/live-$pol-$run" trace \
            --input "$tmp/trace.csv" --metadata "$tmp/metadata.csv" 2>>"$tmp/loadgen.log"
        stop_worker
    done
done
for pol in "${POLS[@]}"; do
    build/iluvatar_load_gen --quiet --no-plots --setup simulation --out "$tmp/sim-$pol" trace \
        --input "$tmp/trace.csv" --metadata "$tmp/metadata.csv" --worker-config "$tmp/worker-$pol.json" \
        --sim-network-us "$NET" 2>>"$tmp/loadgen.log"
done

/usr/bin/python3 bench/keepalive_fidelity_report.py "$tmp"
