#!/usr/bin/env bash
# Open-loop lateness of iluvatar_load_gen against a live worker: how late each
# invocation leaves against its schedule, at several rates, several runs each.
#   bash bench/lateness.sh [RATES="100 500"] [RUNS=3] [SECONDS=20]
# Prints, per rate, the median over runs (and [min-max]) of lateness p50/p99/max
# and of the achieved throughput. Needs root (the worker runs containers).
set -euo pipefail
cd "$(dirname "$0")/.."
RATES=${RATES:-"100 500"} RUNS=${RUNS:-3} SECS=${SECONDS_PER_RUN:-20}
make -j"$(nproc)" build/iluvatar_worker build/iluvatar_load_gen >/dev/null
tmp=$(mktemp -d /tmp/ilu-lateness.XXXXXX)
chmod 711 "$tmp" # containers run as an unprivileged host id: they pass through to the root
. bench/lib.sh
port=$(bench_free_port)
export ILUVATAR_WORKER__port=$port ILUVATAR_WORKER__logging__level=warn \
       ILUVATAR_WORKER__oci__state_dir=$tmp/state ILUVATAR_WORKER__oci__rootfs_dir=$tmp/rootfs \
       ILUVATAR_WORKER__oci__cgroup_parent=ilu-lateness-$$
build/iluvatar_worker 2>"$tmp/worker.log" &
worker=$!
trap 'kill -INT $worker 2>/dev/null; wait $worker 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do build/iluvatar_worker_cli --port "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

for rate in $RATES; do
    for run in $(seq "$RUNS"); do
        # 4 functions sharing the rate, evenly spaced arrivals; 1 ms warm bodies
        /usr/bin/python3 - "$tmp/t-$rate-$run" "$rate" "$SECS" <<'PY'
import os, sys
out, rate, secs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
os.makedirs(out, exist_ok=True)
n = int(rate * secs)
with open(f"{out}/trace.csv", "w") as f:
    f.write("func_name,invoke_time_ms\n")
    for i in range(n):
        f.write(f"lat{i % 4},{i * 1000.0 / rate:.3f}\n")
with open(f"{out}/metadata.csv", "w") as f:
    f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\n")
    for k in range(4):
        f.write(f"lat{k},1,1,64\n")
PY
        build/iluvatar_load_gen --quiet --port "$port" --out "$tmp/t-$rate-$run/out" trace \
            --input "$tmp/t-$rate-$run/trace.csv" --metadata "$tmp/t-$rate-$run/metadata.csv" --prewarm 2 \
            2>>"$tmp/loadgen.log"
    done
done
/usr/bin/python3 - "$tmp" "$RATES" "$RUNS" <<'PY'
import json, statistics, sys
tmp, rates, runs = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
print(f"load generator lateness, {runs} runs per rate: median [min - max] over runs")
print(f"{'rate/s':>7} {'lateness p50 ms':>24} {'lateness p99 ms':>24} {'lateness max ms':>24} {'throughput/s':>26} {'errors':>7}")
for rate in rates:
    s = [json.load(open(f"{tmp}/t-{rate}-{r}/out/summary.json")) for r in range(1, runs + 1)]
    def col(f):
        v = [f(x) for x in s]
        return f"{statistics.median(v):8.3f} [{min(v):.3f}-{max(v):.3f}]"
    print(f"{rate:>7} {col(lambda x: x['lateness_ms']['p50']):>24} {col(lambda x: x['lateness_ms']['p99']):>24} "
          f"{col(lambda x: x['lateness_ms']['max']):>24} {col(lambda x: x['throughput_per_s']):>26} "
          f"{sum(x['failures'] for x in s):>7}")
PY
