#!/usr/bin/env bash
# Build the libFuzzer targets (make fuzz -> build-fuzz/fuzz/) and, for each:
#   1. replay every input under tests/fuzz/regressions/<target>/ (crashes
#      found earlier, kept so they stay fixed), and
#   2. fuzz for FUZZ_SECONDS (default 20) starting from tests/fuzz/corpus/<target>/,
#      on a temporary copy, so a run never writes into the repository.
# A target passes when both finish cleanly. New crash inputs are kept in
# build-fuzz/artifacts/<target>/; copy one into tests/fuzz/regressions/<target>/
# once the bug is fixed (docs/fuzzing.md). Ends with "fuzz: N passed, N failed".
#   FUZZ_SECONDS=60 bash scripts/fuzz.sh [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
passed=0 failed=0
work=$(mktemp -d /tmp/ilu-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

if ! make -j"$(nproc)" fuzz >"$work/build.log" 2>&1; then
    tail -40 "$work/build.log"
    echo "fuzz: build failed (make fuzz)"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi

targets=("$@")
if ((${#targets[@]} == 0)); then
    for src in tests/fuzz/fuzz_*.c; do
        targets+=("$(basename "$src" .c)")
    done
fi

for t in "${targets[@]}"; do
    bin=build-fuzz/fuzz/$t
    artifacts=build-fuzz/artifacts/$t
    mkdir -p "$artifacts" "$work/$t"
    ok=1
    # -rss_limit_mb / -timeout: a slow or memory-hungry input is a finding too
    opts=(-rss_limit_mb=2048 -timeout=10 "-artifact_prefix=$artifacts/")
    regressions=(tests/fuzz/regressions/"$t"/*)
    if [[ -e ${regressions[0]} ]]; then
        if ! "$bin" "${opts[@]}" "${regressions[@]}" >"$work/$t.replay.log" 2>&1; then
            tail -30 "$work/$t.replay.log"
            echo "fuzz: $t: a regression input fails again (see above)"
            ok=0
        fi
    fi
    if [[ -d tests/fuzz/corpus/$t ]]; then
        cp -r tests/fuzz/corpus/"$t"/. "$work/$t/"
    fi
    start=$(date +%s)
    "$bin" "${opts[@]}" -max_total_time="$seconds" -print_final_stats=1 "$work/$t" >"$work/$t.log" 2>&1
    rc=$?
    runs=$(grep -aoE 'stat::number_of_executed_units: *[0-9]+' "$work/$t.log" | grep -oE '[0-9]+$')
    cov=$(grep -aoE 'cov: [0-9]+' "$work/$t.log" | tail -1)
    if ((rc != 0)); then
        tail -40 "$work/$t.log"
        echo "fuzz: $t: FAILED after $(($(date +%s) - start)) s; crash input in $artifacts/"
        ok=0
    fi
    echo "fuzz: $t: ${runs:-?} executions in $(($(date +%s) - start)) s, ${cov:-cov: ?}, corpus $(ls "$work/$t" | wc -l) inputs"
    if ((ok)); then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
