#!/usr/bin/env bash
# Second command of the README: the whole test suite.
#   checks, the threaded code's tests under ThreadSanitizer, unit tests
#   (cmocka), end-to-end tests with real containers (again with I/O and agent
#   loops), then both again built with AddressSanitizer + UBSan, then fuzzing.
#   Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1
PY=/usr/bin/python3
passed=0 failed=0
summary=()

count_cmocka() { # $1 = log file
    local p f
    p=$(grep -aoE '^\[  PASSED  \] [0-9]+' "$1" | awk '{s+=$4} END {print s+0}')
    f=$(grep -aoE '^\[  FAILED  \] [0-9]+' "$1" | awk '{s+=$4} END {print s+0}')
    echo "$p $f"
}

run_units() { # name binaries...: run each cmocka binary, count its tests
    local name=$1 t p f crashed=0 log
    shift
    log=$(mktemp)
    for t in "$@"; do
        [[ -x $t ]] || continue
        # a binary that dies (sanitizer abort, crash) prints no cmocka summary:
        # count it as a failure rather than lose its tests silently; one that
        # hangs is stopped after UNIT_TIMEOUT seconds and named
        local rc=0
        timeout -k 10 "${UNIT_TIMEOUT:-120}" "$t" >"$log.one" 2>&1 || rc=$?
        if [[ $rc -eq 124 ]]; then
            echo "$name: $t timed out after ${UNIT_TIMEOUT:-120} s" >>"$log.one"
            crashed=$((crashed + 1))
        elif [[ $rc -ne 0 ]] && ! grep -aq "FAILED TEST" "$log.one"; then
            echo "$name: $t exited $rc without a cmocka summary (a sanitizer's report above, or a crash)" >>"$log.one"
            crashed=$((crashed + 1))
        fi
        cat "$log.one" >>"$log"
    done
    cat "$log"
    read -r p f < <(count_cmocka "$log")
    f=$((f + crashed))
    passed=$((passed + p)); failed=$((failed + f)); summary+=("$name unit: $p passed, $f failed")
    rm -f "$log" "$log.one"
}

run_stage() { # name build-dir [make variable] [env of its e2e pass]
    local name=$1 dir=$2 log
    log=$(mktemp)
    if ! make -j"$(nproc)" ${3:-} all check-core-purity >"$log" 2>&1; then
        cat "$log"; echo "$name: build failed"; failed=$((failed + 1)); summary+=("$name build: FAILED"); return
    fi
    run_units "$name" "$dir"/tests/test_* "$dir"/tests/live/test_*
    # the release stage is the suite's first pass; tests that need one pass only skip the others
    run_e2e "$name" "$dir" "$log.e2e" ${4:-}
    rm -f "$log"
}

run_e2e() { # name build-dir log [extra env...]
    local name=$1 dir=$2 log=$3 line p f
    shift 3
    env ILU_BUILD_DIR="$dir" "$@" $PY tests/e2e/run.py 2>&1 | tee "$log"
    line=$(grep -aE '^e2e: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [[ -z $line ]]; then
        failed=$((failed + 1)); summary+=("$name e2e: runner crashed")
    else
        p=$(sed -E 's/^e2e: ([0-9]+) passed, ([0-9]+) failed.*/\1/' <<<"$line")
        f=$(sed -E 's/^e2e: ([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
        passed=$((passed + p)); failed=$((failed + f)); summary+=("$name e2e: $p passed, $f failed")
    fi
    rm -f "$log"
}

# House rules checked before anything runs (docs/architecture.md): format,
# prefixed exports, a contract on every public prototype, a pure core.
run_checks() {
    local c
    make -j"$(nproc)" build/libiluvatar_core.a build/libiluvatar_live.a >/dev/null 2>&1
    for c in check-format check-symbols check-core-purity check-contracts; do
        if make -s "$c"; then
            passed=$((passed + 1))
        else
            echo "checks: make $c failed"; failed=$((failed + 1)); summary+=("checks: $c FAILED")
        fi
    done
    summary+=("checks: format, symbols, purity, contracts run")
}

# The tests of the code that runs on several threads (agent loops and their
# mailboxes, I/O loops, the background writer) built with ThreadSanitizer: a race report
# fails the binary (halt_on_error), which then counts as a failure.
run_tsan() {
    local log bins=(build-tsan/tests/live/test_agent_protocol build-tsan/tests/live/test_mailbox
        build-tsan/tests/live/test_http_io build-tsan/tests/live/test_bg_writer)
    log=$(mktemp)
    if ! make -j"$(nproc)" TSAN=1 "${bins[@]}" >"$log" 2>&1; then
        cat "$log"; failed=$((failed + 1)); summary+=("tsan build: FAILED"); rm -f "$log"; return
    fi
    rm -f "$log"
    local -x TSAN_OPTIONS="halt_on_error=1 exitcode=66"
    run_units "tsan (threaded code)" "${bins[@]}"
}

run_checks
run_tsan
run_stage release build
# the whole API again with the HTTP work on two I/O loops (http.io_threads)
# and the agent I/O on two agent loops (oci.agent_threads)
run_e2e "release, io_threads 2, agent_threads 2" build "$(mktemp)" ILU_E2E_IO_THREADS=2 ILU_E2E_AGENT_THREADS=2 \
    ILU_E2E_LATER_PASS=1
run_stage asan+ubsan build-asan SAN=1 ILU_E2E_LATER_PASS=1

# libFuzzer targets (tests/fuzz, docs/fuzzing.md): regression inputs replayed,
# then FUZZ_SECONDS (default 20) of fuzzing per target
fuzz_log=$(mktemp)
bash scripts/fuzz.sh 2>&1 | tee "$fuzz_log"
line=$(grep -aE '^fuzz: [0-9]+ passed, [0-9]+ failed' "$fuzz_log" | tail -1)
if [[ -z $line ]]; then
    failed=$((failed + 1)); summary+=("fuzz: runner crashed")
else
    p=$(sed -E 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed.*/\1/' <<<"$line")
    f=$(sed -E 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
    passed=$((passed + p)); failed=$((failed + f)); summary+=("fuzz: $p passed, $f failed")
fi
rm -f "$fuzz_log"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
