#!/usr/bin/env bash
# Throughput through the worker as it is given event loops (http.io_threads),
# measured with wrk (a client we did not write) at several connection counts.
#   bash bench/loops.sh                 # ~2 min here; needs root (runc)
# Env: LOOPS ("0 1 2": http.io_threads values; 0 = the one core loop serves
# HTTP; "L+A": io_threads L and oci.agent_threads A, e.g. "0 2 2+2"), CONNS
# ("1 2 4 8"), REPS (3), SECONDS_PER_RUN (4), WRK_THREADS
# (min(conns, online CPUs)), OUT (bench/results/loops-<date>).
# For each io_threads value a private worker starts (log level warn, its own
# port, state dir and cgroup parent), registers bench/functions/noop and
# prewarms max(CONNS) containers, so every connection finds a warm one. Each
# repetition runs every connection count once, the settings alternating.
# Per run it records wrk's requests/s, non-2xx answers, the worker process's
# CPU (all its threads, /proc/PID/stat) per invocation, that of its core loop
# alone (the main thread: what bounds the worker however many I/O loops it
# has), and how many of the machine's CPUs were busy (/proc/stat: worker,
# agents and wrk together).
# Prints medians over repetitions with [min-max].
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
[ "$(id -u)" = 0 ] || { echo "bench/loops.sh: the OCI runtime needs root" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench/loops.sh: needs wrk (apt-get install wrk)" >&2; exit 1; }
. bench/lib.sh
bench_build loops.sh "worker" "the worker" build/iluvatar_worker

loops=${LOOPS:-0 1 2}
conns=${CONNS:-1 2 4 8}
reps=${REPS:-3}
secs=${SECONDS_PER_RUN:-4}
out=${OUT:-$root/bench/results/loops-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
maxc=1
for c in $conns; do [ "$c" -gt "$maxc" ] && maxc=$c; done
ncpu=$(nproc)

cat >"$out/invoke.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"function_name":"noop","function_version":"1","json_args":"{}"}'
wrk.headers["Content-Type"] = "application/json"
LUA

workers=()
cleanup() {
    for pid in "${workers[@]}"; do
        kill -INT "$pid" 2>/dev/null || true
    done
    for pid in "${workers[@]}"; do
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$out"/state-*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_worker L: a worker with http.io_threads=L (L+A: and oci.agent_threads=A), maxc warm noop containers
declare -A port_of pid_of
for l in $loops; do
    port=$(bench_free_port)
    state="$out/state-$l"
    mkdir -p "$state"
    io=${l%%+*}
    agents=0
    [[ $l == *+* ]] && agents=${l#*+}
    ILUVATAR_WORKER__port=$port \
    ILUVATAR_WORKER__http__io_threads=$io \
    ILUVATAR_WORKER__oci__agent_threads=$agents \
    ILUVATAR_WORKER__oci__state_dir=$state \
    ILUVATAR_WORKER__oci__rootfs_dir=$state/rootfs \
    ILUVATAR_WORKER__oci__cgroup_parent=ilu-bench-loops-$$-${l/+/-} \
    ILUVATAR_WORKER__functions_dirs=$root/functions:$root/bench/functions \
    ILUVATAR_WORKER__logging__level=warn \
    ILUVATAR_WORKER__container_resources__memory_mb=$(((maxc + 2) * 128)) \
    ILUVATAR_WORKER__container_resources__cpu_count=$((maxc + 2)) \
        build/iluvatar_worker -c config/worker.json 2>"$out/worker-$l.log" &
    pid_of[$l]=$!
    port_of[$l]=$port
    workers+=("$!")
    for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/ping" && break; sleep 0.05; done
    url="http://127.0.0.1:$port"
    curl -sf -o /dev/null -H 'Content-Type: application/json' "$url/register" -d \
        "{\"function_name\":\"noop\",\"function_version\":\"1\",\"image_name\":\"$root/bench/functions/noop\",\"memory\":128,\"cpus\":1}" ||
        { echo "loops.sh: cannot register on the worker with io_threads=$l; its log:" >&2; cat "$out/worker-$l.log" >&2; exit 1; }
    for _ in $(seq "$maxc"); do
        curl -sf -o /dev/null -H 'Content-Type: application/json' "$url/prewarm" \
            -d '{"function_name":"noop","function_version":"1"}' || { echo "loops.sh: prewarm failed" >&2; exit 1; }
    done
    curl -sf -o /dev/null -H 'Content-Type: application/json' "$url/invoke" \
        -d '{"function_name":"noop","function_version":"1","json_args":"{}"}'
done

proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }        # clock ticks, all threads
core_cpu() { awk '{print $14 + $15}' "/proc/$1/task/$1/stat"; } # the main thread: the core loop
busy_idle() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }

echo "loops conns rep inv_per_s non2xx worker_cpu_us_per_inv busy_cpus core_loop_cpu_us_per_inv" >"$out/runs.txt"
for rep in $(seq "$reps"); do
    for c in $conns; do
        for l in $loops; do
            t=$((c < ncpu ? c : ncpu))
            t=${WRK_THREADS:-$t}
            c0=$(proc_cpu "${pid_of[$l]}")
            k0=$(core_cpu "${pid_of[$l]}")
            read -r b0 i0 < <(busy_idle)
            wrk -t"$t" -c"$c" -d"${secs}s" -s "$out/invoke.lua" "http://127.0.0.1:${port_of[$l]}/invoke" \
                >"$out/wrk-$l-$c-$rep.txt"
            read -r b1 i1 < <(busy_idle)
            c1=$(proc_cpu "${pid_of[$l]}")
            k1=$(core_cpu "${pid_of[$l]}")
            /usr/bin/python3 - "$out/wrk-$l-$c-$rep.txt" "$l" "$c" "$rep" "$c0" "$c1" "$b0" "$b1" "$i0" "$i1" \
                "$(getconf CLK_TCK)" "$secs" "$k0" "$k1" >>"$out/runs.txt" <<'PY'
import re, sys
path, l, c, rep = sys.argv[1:5]
c0, c1, b0, b1, i0, i1, hz, secs, k0, k1 = (float(x) for x in sys.argv[5:15])
text = open(path).read()
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
total = rate * secs
cpu_us = (c1 - c0) / hz * 1e6 / total if total else float("nan")
busy = (b1 - b0) / ((b1 - b0) + (i1 - i0)) if (b1 - b0) + (i1 - i0) else 0
import os
core_us = (k1 - k0) / hz * 1e6 / total if total else float("nan")
print(l, c, rep, f"{rate:.0f}", m.group(1) if m else 0, f"{cpu_us:.1f}", f"{busy * os.cpu_count():.2f}", f"{core_us:.1f}")
PY
        done
    done
done

/usr/bin/python3 - "$out/runs.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
def cell(vals):
    m = statistics.median(vals)
    return f"{m:.1f} [{min(vals):.1f}-{max(vals):.1f}]" if m < 1000 else f"{m:.0f} [{min(vals):.0f}-{max(vals):.0f}]"
groups = {}
for l, c, rep, rate, bad, cpu, busy, core in rows:
    groups.setdefault((int(c), l), []).append((float(rate), int(bad), float(cpu), float(busy), float(core)))
base = {}
print(f"{'conns':>5} {'io[+agent]':>10} {'inv/s':>22} {'vs io 0':>7} {'worker CPU us/inv':>22} "
      f"{'core loop us/inv':>20} {'busy CPUs':>18} {'inv/s per busy CPU':>22} non-2xx")
def order(key):  # by connections, then io_threads, then agent_threads
    c, l = key
    io, _, agents = l.partition("+")
    return c, int(io), int(agents or 0)
for (c, l), runs in sorted(groups.items(), key=lambda kv: order(kv[0])):
    rates = [r[0] for r in runs]
    med = statistics.median(rates)
    if l == "0":
        base[c] = med
    ratio = f"{med / base[c]:.2f}" if c in base and base[c] else "-"
    per_cpu = [r[0] / r[3] for r in runs if r[3] > 0]
    print(f"{c:>5} {l:>10} {cell(rates):>22} {ratio:>7} {cell([r[2] for r in runs]):>22} "
          f"{cell([r[4] for r in runs]):>20} {cell([r[3] for r in runs]):>18} {cell(per_cpu):>22} "
          f"{sum(r[1] for r in runs)}")
PY
echo "runs: $out/runs.txt"
