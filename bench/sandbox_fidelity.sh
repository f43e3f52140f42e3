#!/usr/bin/env bash
# Does the simulator predict cold starts on pre-started sandboxes? One small
# trace of the bundled synthetic function, run live against a private worker
# with container_resources.sandbox_pool_size set (LIVE_RUNS times, a fresh
# worker each) and simulated (`--setup simulation`) with the SAME config file.
# Functions are kept alive TTL_SEC only, so cold starts recur: some find a
# sandbox ready (pooled), some arrive while the pool refills (fresh). Prints,
# live (median [min-max] over runs) and simulated: cold starts by kind, their
# median container_start_ms, and the cold rows' e2e p50 and p99.
#   bash bench/sandbox_fidelity.sh        # ~2 min; needs root (runc)
# Env: LIVE_RUNS (3), SECONDS_PER_RUN (30), POOL (2), TTL_SEC (1), SEED (1),
# NETWORK_US (300), START_MS (85: simulation.container_start_ms),
# ASSIGN_US (1900: simulation.sandbox_assign_us), KEEP=1 keeps the work dir.
set -euo pipefail
cd "$(dirname "$0")/.."
LIVE_RUNS=${LIVE_RUNS:-3} SECS=${SECONDS_PER_RUN:-30} POOL=${POOL:-2} TTL_SEC=${TTL_SEC:-1} SEED=${SEED:-1}
NET=${NETWORK_US:-300} START_MS=${START_MS:-85} ASSIGN_US=${ASSIGN_US:-1900}
. bench/lib.sh
bench_worker_setup sandbox_fidelity ilu-sbfidelity # sets tmp and port
cat >"$tmp/worker.json" <<JSON
{"port": $port,
 "functions_dirs": "$PWD/functions",
 "logging": {"level": "warn", "directory": "", "stdout": false},
 "invocation": {"queue_policy": "fcfs", "max_queue_len": 1000},
 "container_resources": {"memory_mb": 2048, "cpu_count": 2, "eviction": "TTL", "ttl_sec": $TTL_SEC,
                         "pool_freq_ms": 100, "sandbox_pool_size": $POOL, "backend": "oci"},
 "oci": {"state_dir": "$tmp/state", "rootfs_dir": "$tmp/rootfs", "cgroup_parent": "ilu-sbfidelity-$$"},
 "simulation": {"container_start_ms": $START_MS, "sandbox_assign_us": $ASSIGN_US, "invoke_overhead_us": 400,
                "jitter_pct": 0, "seed": 1}}
JSON
# name rate/s cold_ms warm_ms mem_mb: rare enough that their containers expire
bench_poisson_trace "$tmp" "$SECS" "$SEED" >&2 <<'FNS'
f0 0.6 20 10 128
f1 0.5 20 10 128
f2 0.4 20 10 128
f3 0.3 20 10 128
f4 0.3 20 10 128
f5 0.2 20 10 128
FNS
for run in $(seq "$LIVE_RUNS"); do
    bench_live_trace sandbox_fidelity "$tmp/worker.json" "$tmp/live-$run" "live run $run/$LIVE_RUNS ($SECS s)..."
done
bench_sim_trace "$tmp/worker.json" "$tmp/sim" "$NET"
/usr/bin/python3 - "$tmp" "$LIVE_RUNS" <<'PY'
import csv, math, statistics, sys
tmp, runs = sys.argv[1], int(sys.argv[2])

def figures(path):
    rows = [r for r in csv.DictReader(open(f"{path}/invocations.csv")) if r["container_state"] == "cold"]
    out = {}
    for kind in ("pooled", "fresh"):
        k = [r for r in rows if r["sandbox"] == kind]
        out[f"{kind} cold starts"] = len(k)
        out[f"{kind} container_start_ms p50"] = statistics.median(float(r["container_start_ms"]) for r in k) if k else math.nan
    e2e = sorted(float(r["e2e_ms"]) for r in rows)
    out["cold e2e_ms p50"] = e2e[math.ceil(0.5 * len(e2e)) - 1] if e2e else math.nan
    out["cold e2e_ms p99"] = e2e[math.ceil(0.99 * len(e2e)) - 1] if e2e else math.nan
    return out

live = [figures(f"{tmp}/live-{i}") for i in range(1, runs + 1)]
sim = figures(f"{tmp}/sim")
print(f"{'':34}{'live median [min-max] of ' + str(runs):>36}{'simulated':>12}{'sim/live':>10}")
for key in sim:
    vals = [d[key] for d in live]
    med = statistics.median(vals)
    ratio = sim[key] / med if med else math.nan
    print(f"{key:34}{med:14.2f} [{min(vals):8.2f} - {max(vals):8.2f}]{sim[key]:12.2f}{ratio:10.2f}")
PY
