#!/usr/bin/env bash
# bench/sim_speed.sh once per registered policy: every queue policy with
# LRU, every keep-alive policy with fcfs, on the same day-long trace
# (SIZES=day). Prints each policy's end-to-end rate.
#   bash bench/sim_speed_policies.sh     # RUNS per policy (1), other env as sim_speed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export RUNS=${RUNS:-1} SIZES=${SIZES:-day}
names() { sed -n 's/^ *\.name = "\([^"]*\)".*/\1/p' "$@"; }
# the CPU queue's policies: gpu_*.c are the GPU queue's (docs/gpu.md)
for q in $(names $(ls src/policy/queue/*.c | grep -v '/gpu_')); do
    echo "== queue policy $q (keep-alive LRU)"
    QUEUE_POLICY=$q EVICTION=LRU bash bench/sim_speed.sh 2>&1 | grep -E '^== |end to end' || echo "   failed"
done
for k in $(names src/policy/keepalive/*.c); do
    echo "== keep-alive policy $k (queue fcfs)"
    QUEUE_POLICY=fcfs EVICTION=$k bash bench/sim_speed.sh 2>&1 | grep -E '^== |end to end' || echo "   failed"
done
