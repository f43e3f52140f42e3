#!/usr/bin/env bash
# Cold starts on pre-started generic sandboxes against fresh containers and
# warm calls, two private workers side by side (bench/sandbox_cold.py says
# what is measured).
#   bash bench/sandbox_cold.sh            # needs root
#   PAIRS=20 BURST=20 BENCH_JSON=out.json bash bench/sandbox_cold.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_build sandbox_cold "binaries in build/" "the worker" build/iluvatar_worker
exec /usr/bin/python3 bench/sandbox_cold.py
