#!/usr/bin/env bash
# Latency the controller adds over invoking the worker directly.
#   bash bench/controller_overhead.sh [ctl_bench options...]   e.g. --reps 3 --requests 1000
# Starts a private controller (free port, SQLite store in a temp dir, log level
# warn) and a private worker registered with it (free port, own oci.state_dir,
# rootfs_dir and cgroup parent, log level warn, load_balancer_url = the
# controller), waits until GET /workers shows the worker HEALTHY, then runs
# build/bench/ctl_bench (register bench/functions/noop at the controller, warm
# it, warm no-op invocations closed-loop with 1 libcurl keep-alive client
# through the controller and directly to the worker, interleaved per
# repetition). Stops both with SIGINT and removes the temp dir.
# Env: BENCH_TIMEOUT (seconds for ctl_bench, default 600). Needs root (runc).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
[ "$(id -u)" = 0 ] || { echo "bench/controller_overhead.sh: the OCI runtime needs root" >&2; exit 1; }
make -j2 build/iluvatar_worker build/iluvatar_controller build/bench/ctl_bench >/dev/null

. bench/lib.sh
cport=$(bench_free_port)
wport=$(bench_free_port)
while [ "$wport" = "$cport" ]; do wport=$(bench_free_port); done
tmp=$(mktemp -d /tmp/ilu-ctl-overhead.XXXXXX)
chmod 711 "$tmp" # containers run as an unprivileged host id: they pass through to the root
ctl_url=http://127.0.0.1:$cport
wrk_url=http://127.0.0.1:$wport
controller='' worker=''
stop_one() { # pid: SIGINT, wait up to 15 s, then SIGKILL
    [ -n "$1" ] || return 0
    if kill -0 "$1" 2>/dev/null; then
        kill -INT "$1" 2>/dev/null || true
        for _ in $(seq 150); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$1" 2>/dev/null || true
    fi
    wait "$1" 2>/dev/null || true
}
stop() {
    stop_one "$worker"      # first: it removes its containers and cgroups
    stop_one "$controller"
    rm -rf "$tmp"
}
show_logs() { echo "--- controller log:" >&2; cat "$tmp/controller.log" >&2; echo "--- worker log:" >&2; cat "$tmp/worker.log" >&2; }
trap stop EXIT
trap 'exit 130' INT TERM

ILUVATAR_CONTROLLER__port=$cport \
ILUVATAR_CONTROLLER__store__db_path=$tmp/c.db \
ILUVATAR_CONTROLLER__logging__level=warn \
    build/iluvatar_controller -c config/controller.json >"$tmp/controller.log" 2>&1 &
controller=$!
# the worker registers at start-up: start it once the controller answers (else it logs a retry)
for _ in $(seq 200); do
    curl -s -o /dev/null "$ctl_url/ping" && break
    kill -0 "$controller" 2>/dev/null || break
    sleep 0.05
done
ILUVATAR_WORKER__name=ctl-overhead-$$ \
ILUVATAR_WORKER__port=$wport \
ILUVATAR_WORKER__oci__state_dir=$tmp/state \
ILUVATAR_WORKER__functions_dirs=$root/functions:$root/bench/functions \
ILUVATAR_WORKER__oci__rootfs_dir=$tmp/rootfs \
ILUVATAR_WORKER__oci__cgroup_parent=ilu-ctl-overhead-$$ \
ILUVATAR_WORKER__logging__level=warn \
ILUVATAR_WORKER__load_balancer_url=$ctl_url \
    build/iluvatar_worker -c config/worker.json >"$tmp/worker.log" 2>&1 &
worker=$!

healthy=0
for _ in $(seq 200); do
    if curl -s "$ctl_url/workers" 2>/dev/null | grep -Eq '"health": ?"HEALTHY"'; then healthy=1; break; fi
    { kill -0 "$worker" && kill -0 "$controller"; } 2>/dev/null || break
    sleep 0.05
done
[ "$healthy" = 1 ] || { echo "the worker did not become HEALTHY at the controller" >&2; show_logs; exit 1; }

rc=0
timeout --signal=INT "${BENCH_TIMEOUT:-600}" build/bench/ctl_bench --controller "$ctl_url" --worker "$wrk_url" \
    --function-dir "$root/bench/functions/noop" \
    --controller-pid "$controller" --worker-pid "$worker" "$@" || rc=$?
if [ "$rc" != 0 ] || [ -s "$tmp/controller.log" ] || [ -s "$tmp/worker.log" ]; then show_logs; fi
exit "$rc"
