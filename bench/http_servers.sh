#!/usr/bin/env bash
# HTTP/1.1 servers side by side: what one keep-alive POST /invoke costs the
# server in CPU with libevent's evhttp (as the worker uses it), libh2o's
# HTTP/1 server (libh2o-evloop), and a lean server on libevent bufferevents
# with nodejs' http-parser. The three are in bench/http_servers/*.c; each
# reads the whole request body and answers the same 35-byte JSON body.
#   bash bench/http_servers.sh          # ~3 min here; no root needed
# Env: CONNS ("1 2 8": wrk connections), REPS (5), SECONDS_PER_RUN (4),
# SERVERS ("evhttp h2o lean"), SERVER_CPU / WRK_CPU (the CPUs to pin them to;
# default: the server on the last CPU, wrk on CPU 0; unpinned on one CPU;
# "none" for both unpinned), CC (cc), OUT (bench/results/http_servers-<date>).
# Needs wrk and libevent's headers. h2o and http-parser are bench-only
# dependencies, not the project's: a server whose library is missing is
# skipped with a message (apt-get install libh2o-evloop-dev libhttp-parser-dev).
# The servers are built here into build/http_servers/, not by `make`.
# Each server runs as its own process for the whole bench; each repetition
# runs every connection count once and every server once per count, the
# servers' order rotating between repetitions. Per run: `wrk -t1 -cN` for
# SECONDS_PER_RUN with a small JSON POST, requests/s and request count from
# wrk, and the server's CPU (utime+stime, /proc/PID/stat) over the run
# divided by the requests. wrk runs on the same machine as the servers.
# Prints medians over repetitions with [min-max], and each server's figures
# relative to evhttp's at the same connection count.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
name=http_servers.sh
command -v wrk >/dev/null || { echo "$name: needs wrk (apt-get install wrk)" >&2; exit 1; }

conns=${CONNS:-1 2 8}
reps=${REPS:-5}
secs=${SECONDS_PER_RUN:-4}
want=${SERVERS:-evhttp h2o lean}
cc=${CC:-cc}
out=${OUT:-$root/bench/results/http_servers-$(date -u +%Y%m%dT%H%M%SZ)}
bin=$root/build/http_servers
mkdir -p "$out" "$bin"
ncpu=$(nproc)
if [ "$ncpu" -gt 1 ]; then
    server_cpu=${SERVER_CPU:-$((ncpu - 1))}
    wrk_cpu=${WRK_CPU:-0}
else
    server_cpu=${SERVER_CPU:-none}
    wrk_cpu=${WRK_CPU:-none}
fi
# "${server_pin[@]}" CMD / "${wrk_pin[@]}" CMD: CMD on that CPU (taskset execs
# CMD, so $! of a background one is CMD's own pid)
server_pin=() wrk_pin=()
[ "$server_cpu" = none ] || server_pin=(taskset -c "$server_cpu")
[ "$wrk_cpu" = none ] || wrk_pin=(taskset -c "$wrk_cpu")

# build_server NAME PKG-CONFIG-NAMES... [-- EXTRA-LIBS]: build NAME, or say why not
cflags="-std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE"
build_server() {
    local s=$1 pkgs=() extra=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do pkgs+=("$1"); shift; done
    [ $# -gt 0 ] && shift && extra=("$@")
    local p
    for p in "${pkgs[@]}"; do
        pkg-config --exists "$p" || { echo "$name: skipping $s: pkg-config finds no $p" >&2; return 1; }
    done
    # shellcheck disable=SC2046,SC2086
    if ! $cc $cflags -o "$bin/$s" "bench/http_servers/$s.c" $(pkg-config --cflags --libs "${pkgs[@]}") "${extra[@]}" \
        2>"$out/build-$s.log"; then
        echo "$name: skipping $s: it does not build here (log: $out/build-$s.log)" >&2
        return 1
    fi
}
servers=()
for s in $want; do
    case $s in
    evhttp) build_server evhttp libevent && servers+=(evhttp) ;;
    h2o)
        if ! pkg-config --exists libh2o-evloop; then
            echo "$name: skipping h2o: libh2o-evloop is not installed (apt-get install libh2o-evloop-dev)" >&2
        else
            build_server h2o libh2o-evloop && servers+=(h2o)
        fi
        ;;
    lean)
        if [ ! -e /usr/include/http_parser.h ]; then
            echo "$name: skipping lean: http-parser is not installed (apt-get install libhttp-parser-dev)" >&2
        else
            build_server lean libevent -- -lhttp_parser && servers+=(lean)
        fi
        ;;
    *) echo "$name: unknown server $s (evhttp, h2o, lean)" >&2 ;;
    esac
done
[ ${#servers[@]} -gt 0 ] || { echo "$name: no server to measure" >&2; exit 0; }

cat >"$out/post.lua" <<'LUA'
wrk.method = "POST"
wrk.path = "/invoke"
wrk.body = '{"function_name":"noop","function_version":"1","json_args":"{}"}'
wrk.headers["Content-Type"] = "application/json"
LUA

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A port_of pid_of
for s in "${servers[@]}"; do
    port=$(free_port)
    "${server_pin[@]}" "$bin/$s" "$port" 2>"$out/server-$s.log" &
    pid_of[$s]=$!
    port_of[$s]=$port
    pids+=("$!")
    up=0
    for _ in $(seq 100); do
        if curl -sf -o /dev/null -X POST -d '{}' "http://127.0.0.1:$port/invoke"; then
            up=1
            break
        fi
        sleep 0.05
    done
    [ $up = 1 ] || { echo "$name: $s does not answer on port $port; its log:" >&2; cat "$out/server-$s.log" >&2; exit 1; }
    "${wrk_pin[@]}" wrk -t1 -c2 -d1s -s "$out/post.lua" "http://127.0.0.1:$port/invoke" >/dev/null # warm-up
done

echo "$name: ${servers[*]}; wrk and the servers share this machine's $ncpu CPUs" \
    "(server on CPU $server_cpu, wrk on CPU $wrk_cpu); $reps x ${secs}s per point; output in $out" >&2
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks, utime + stime
hz=$(getconf CLK_TCK)
echo "server conns rep req_per_s requests errors server_cpu_us_per_req" >"$out/runs.txt"
n=${#servers[@]}
for rep in $(seq "$reps"); do
    for c in $conns; do
        for i in $(seq 0 $((n - 1))); do
            s=${servers[$(((i + rep - 1) % n))]} # the order rotates between repetitions
            c0=$(proc_cpu "${pid_of[$s]}")
            "${wrk_pin[@]}" wrk -t1 -c"$c" -d"${secs}s" -s "$out/post.lua" "http://127.0.0.1:${port_of[$s]}/invoke" \
                >"$out/wrk-$s-$c-$rep.txt"
            c1=$(proc_cpu "${pid_of[$s]}")
            /usr/bin/python3 - "$out/wrk-$s-$c-$rep.txt" "$s" "$c" "$rep" "$c0" "$c1" "$hz" >>"$out/runs.txt" <<'PY'
import re, sys
path, s, c, rep = sys.argv[1:5]
c0, c1, hz = (float(x) for x in sys.argv[5:8])
text = open(path).read()
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
total = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = (int(bad.group(1)) if bad else 0) + (sum(int(x) for x in sock.groups()) if sock else 0)
cpu_us = (c1 - c0) / hz * 1e6 / total if total else float("nan")
print(s, c, rep, f"{rate:.0f}", total, errors, f"{cpu_us:.2f}")
PY
        done
    done
done

/usr/bin/python3 - "$out/runs.txt" "$hz" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
groups, order = {}, []
for s, c, rep, rate, total, errors, cpu in rows:
    if s not in order:
        order.append(s)
    groups.setdefault((int(c), s), []).append((float(rate), int(errors), float(cpu)))
def cell(vals, digits):
    m = statistics.median(vals)
    return f"{m:.{digits}f} [{min(vals):.{digits}f}-{max(vals):.{digits}f}]"
order.sort(key=lambda s: (s != "evhttp", s))
print(f"{'server':<7} {'conns':>5} {'req/s':>24} {'vs evhttp':>9} {'server CPU us/req':>22} {'vs evhttp':>9} errors")
for c in sorted({c for c, _ in groups}):
    base = groups.get((c, "evhttp"))
    for s in order:
        runs = groups.get((c, s))
        if not runs:
            continue
        rate = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[2] for r in runs)
        vr = f"{rate / statistics.median(r[0] for r in base):.2f}" if base else "-"
        vc = f"{cpu / statistics.median(r[2] for r in base):.2f}" if base else "-"
        print(f"{s:<7} {c:>5} {cell([r[0] for r in runs], 0):>24} {vr:>9} {cell([r[2] for r in runs], 1):>22} "
              f"{vc:>9} {sum(r[1] for r in runs)}")
print(f"CPU from /proc/PID/stat in 1/{sys.argv[2]} s ticks; medians of repetitions [min-max]")
PY
echo "runs: $out/runs.txt"
