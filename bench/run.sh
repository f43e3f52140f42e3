#!/usr/bin/env bash
# Start a private worker (own port, state dir, cgroup parent, log level warn
# unless BENCH_LOG_LEVEL),
# run build/bench/bench_worker against it, stop the worker with SIGINT.
#   bash bench/run.sh [bench_worker options...]   e.g. --reps 3 --cold 5
# Env: BENCH_JSON (default bench/results/bench-<date>.json), BENCH_TIMEOUT
# (seconds, default 600), BENCH_TASKSET (e.g. "0" or "0-1": pin the worker
# with taskset, for experiments only), BENCH_LOG_LEVEL (the worker's, default
# warn; info writes a line per invocation), BENCH_FUNCTIONS_DIR (one more
# folder the worker may take functions and images from).
# With --functions N the worker's container pool is raised to hold the N warm
# containers (128 MB each, as bench_worker registers them) plus the two of
# the one-function bench: container_resources.memory_mb = (N + 4) x 128 if
# that is above the config's 2048.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: the OCI runtime needs root" >&2; exit 1; }
make -j2 build/iluvatar_worker build/bench/bench_worker >/dev/null

. bench/lib.sh
port=$(bench_free_port)
state=$(mktemp -d /tmp/ilu-bench-worker.XXXXXX)
cgparent="ilu-bench-$$"
log="$root/bench/results/worker-$$.log"
mkdir -p bench/results
json=${BENCH_JSON:-$root/bench/results/bench-$(date -u +%Y%m%dT%H%M%SZ).json}

nfn=1
prev=
for a in "$@"; do
    [ "$prev" = --functions ] && nfn=$a
    case $a in --functions=*) nfn=${a#--functions=} ;; esac
    prev=$a
done
mem=()
[[ "$nfn" =~ ^[0-9]+$ ]] && [ $(((nfn + 4) * 128)) -gt 2048 ] &&
    mem=(env "ILUVATAR_WORKER__container_resources__memory_mb=$(((nfn + 4) * 128))")

pin=()
[ -n "${BENCH_TASKSET:-}" ] && pin=(taskset -c "$BENCH_TASKSET")
ILUVATAR_WORKER__port=$port \
ILUVATAR_WORKER__oci__state_dir=$state \
ILUVATAR_WORKER__functions_dirs=$root/functions:$root/bench/functions${BENCH_FUNCTIONS_DIR:+:$BENCH_FUNCTIONS_DIR} \
ILUVATAR_WORKER__oci__rootfs_dir=$state/rootfs \
ILUVATAR_WORKER__oci__cgroup_parent=$cgparent \
ILUVATAR_WORKER__logging__level=${BENCH_LOG_LEVEL:-warn} \
    "${mem[@]}" "${pin[@]}" build/iluvatar_worker -c config/worker.json 2>"$log" &
worker=$!
stop() {
    if kill -0 "$worker" 2>/dev/null; then
        kill -INT "$worker" 2>/dev/null || true
        for _ in $(seq 150); do kill -0 "$worker" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$worker" 2>/dev/null || true
    fi
    wait "$worker" 2>/dev/null || true
    rm -rf "$state"
}
trap stop EXIT
trap 'exit 130' INT TERM

for _ in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$port/ping" && break
    kill -0 "$worker" 2>/dev/null || break
    sleep 0.05
done
curl -s -o /dev/null "http://127.0.0.1:$port/ping" || { echo "worker did not start; its log:" >&2; cat "$log" >&2; exit 1; }

timeout --signal=INT "${BENCH_TIMEOUT:-600}" \
    build/bench/bench_worker --host 127.0.0.1 --port "$port" --state-dir "$state" --worker-pid "$worker" --json "$json" "$@"
echo "worker log (level ${BENCH_LOG_LEVEL:-warn}): $log"
echo "JSON results: $json"
