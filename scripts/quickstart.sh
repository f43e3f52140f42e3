#!/usr/bin/env bash
# First command of the README: install what is missing, build, start a worker,
# register and invoke the bundled hello function (cold, then warm), then stop
# the worker again (it says so): a demonstration, not a worker left running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
make -j"$(nproc)" build/iluvatar_worker build/iluvatar_worker_cli >/dev/null
port=${ILU_PORT:-8079}
log=$(mktemp /tmp/iluvatar-quickstart.XXXXXX.log)
ILUVATAR_WORKER__port=$port build/iluvatar_worker -c config/worker.json 2>"$log" &
worker=$!
echo "== started a worker on port $port (pid $worker); it is stopped again when this script ends"
trap 'kill -INT $worker 2>/dev/null; wait $worker 2>/dev/null || true
      echo "stopped the worker (pid $worker) it started; to keep one running: build/iluvatar_worker -c config/worker.json"' EXIT
cli() { build/iluvatar_worker_cli --port "$port" "$@"; }
for _ in $(seq 100); do cli ping >/dev/null 2>&1 && break; sleep 0.05; done
cli ping >/dev/null || { echo "worker did not start; its log:" >&2; cat "$log" >&2; exit 1; }
echo "== register hello"
cli register --name hello --version 1 --image functions/hello --memory 128 --cpu 1
echo "== invoke (cold)"
cli invoke --name hello --version 1 -a name=Ilúvatar
echo "== invoke (warm)"
cli invoke --name hello --version 1 -a name=again
echo "== status"
cli status
echo "worker log: $log"
