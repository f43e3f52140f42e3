# Shell functions the bench scripts share; source it from the repository root:
#   . bench/lib.sh
# NAME in the functions' arguments is the calling script's, for its messages.

# bench_build NAME HAVE WHAT MAKE_ARGS...: make the targets quietly; when make
# fails but every target in MAKE_ARGS (the ones without '=') is already built,
# go on with them after "NAME: make failed; using the existing HAVE"; else
# exit after "NAME: cannot build WHAT".
bench_build() {
    local name=$1 have=$2 what=$3 arg
    shift 3
    make -j"$(nproc)" "$@" >/dev/null 2>&1 && return 0
    for arg in "$@"; do
        [[ $arg == *=* || -x $arg ]] || { echo "$name: cannot build $what" >&2; exit 1; }
    done
    echo "$name: make failed; using the existing $have" >&2
}

# A TCP port free on 127.0.0.1 now.
bench_free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_poisson_trace DIR SECONDS SEED: DIR/trace.csv and DIR/metadata.csv of
# the functions read from stdin, one a line: name rate/s cold_ms warm_ms
# mem_mb. Arrivals are Poisson, each function's seeded by SEED and its name,
# so a trace repeats exactly. Prints the number of invocations.
bench_poisson_trace() {
    /usr/bin/python3 -c '
import random, sys
out, secs, seed = sys.argv[1], float(sys.argv[2]), sys.argv[3]
fns = [(n, float(r), int(c), int(w), int(m)) for n, r, c, w, m in (l.split() for l in sys.stdin if l.strip())]
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
print(f"trace: {len(rows)} invocations of {len(fns)} functions over {secs:.0f} s")
' "$@"
}

# bench_worker_setup NAME PREFIX: what a script that runs private workers
# needs first: the worker, load generator and CLI built (bench_build), a work
# dir $tmp (/tmp/PREFIX.XXXXXX, removed on exit unless KEEP=1), a free $port,
# and an EXIT trap that stops the worker.
bench_worker_setup() {
    bench_build "$1" "binaries in build/" "the worker and load generator" \
        build/iluvatar_worker build/iluvatar_load_gen build/iluvatar_worker_cli
    tmp=$(mktemp -d "/tmp/$2.XXXXXX")
    chmod 711 "$tmp" # containers run as an unprivileged host id: they pass through to the root
    port=$(bench_free_port)
    trap 'bench_worker_stop; [ "${KEEP:-0}" = 1 ] && echo "kept $tmp" >&2 || rm -rf "$tmp"' EXIT
}

# A private worker: bench_worker_start NAME CONFIG LOG PORT starts
# build/iluvatar_worker -c CONFIG (stderr appended to LOG), sets $worker to its
# pid and waits until it answers a ping on PORT; if it never does, keeps the
# work dir (KEEP=1) and exits after "NAME: the worker did not come up; see LOG".
# bench_worker_stop stops it with SIGINT and waits for it; safe to call twice
# (and from an EXIT trap).
worker=
bench_worker_start() {
    local name=$1 config=$2 log=$3 port=$4 _
    build/iluvatar_worker -c "$config" 2>>"$log" &
    worker=$!
    for _ in $(seq 200); do
        build/iluvatar_worker_cli --port "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "$name: the worker did not come up; see $log" >&2
    KEEP=1
    exit 1
}
bench_worker_stop() {
    if [ -n "$worker" ]; then kill -INT "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true; worker=; fi
}

# The trace $tmp/trace.csv (with $tmp/metadata.csv) run by the load generator,
# its stderr appended to $tmp/loadgen.log:
# bench_live_trace NAME CONFIG OUT NOTE: live, on a fresh private worker
# started with CONFIG (bench_worker_start; NOTE printed once it is up),
# results in OUT; bench_sim_trace CONFIG OUT NETWORK_US: simulated with the
# worker config CONFIG, results in OUT.
bench_live_trace() {
    bench_worker_start "$1" "$2" "$tmp/worker.log" "$port"
    echo "$4" >&2
    build/iluvatar_load_gen --quiet --no-plots --port "$port" --out "$3" trace \
        --input "$tmp/trace.csv" --metadata "$tmp/metadata.csv" 2>>"$tmp/loadgen.log"
    bench_worker_stop
}
bench_sim_trace() {
    build/iluvatar_load_gen --quiet --no-plots --setup simulation --out "$2" trace \
        --input "$tmp/trace.csv" --metadata "$tmp/metadata.csv" --worker-config "$1" \
        --sim-network-us "$3" 2>>"$tmp/loadgen.log"
}
