#!/usr/bin/env bash
# GPU figures for docs/gpu.md, on a host with an NVIDIA GPU, in about 3
# minutes (at most 5). Self-contained: it runs from the folder
# bench/gpu/pack.sh made (binaries, their libraries, runc, agent,
# functions), installs nothing and needs no network. As root:
#
#   sudo ./run.sh                      # from the unpacked iluvatar-gpu-bench/
#
# It measures, on GPU 0 of the host, with functions/gpu_synthetic (the CUDA
# driver API through ctypes; no Python packages):
#   1. cold and warm start (REPS reps, median): a cold call starts a GPU
#      container and initialises CUDA in it; warm calls reuse both;
#   2. MPS off and on (use_standalone_mps): those again, and 4 functions
#      each spinning a 200 ms kernel at once (wall time of the batch);
#   3. the GPU queue: fcfs against mqfq on a short trace of 4 GPU functions
#      (TRACE_SEC seconds, Poisson arrivals) with one running token, by the
#      load generator: latency p50/p99/mean, and the GPU's utilisation
#      sampled by nvidia-smi when it is there.
# and prints a table; results (JSON, the load generator's folders, worker
# logs) stay in $OUT.
#
# Environment: ILU_GPU_DRIVER_LIB_DIR (default /usr/local/nvidia/lib64 when
# there, else the loader's path), REPS (5), TRACE_SEC (40), USERNS (0: the
# containers run as host root; 1: in a user namespace, the worker's
# default), OUT (default ./gpu-bench-<UTC time>), KEEP=1 keeps the work
# folder. ILU_GPU_BENCH_DRY=1 runs the plumbing without a GPU (CPU
# containers, functions/synthetic) to check the script itself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
die() {
    echo "run.sh: $*" >&2
    exit 1
}
DRY=${ILU_GPU_BENCH_DRY:-0}
REPS=${REPS:-5}
TRACE_SEC=${TRACE_SEC:-40}
USERNS=${USERNS:-0}
if [[ $DRY != 1 && ! -e /dev/nvidiactl ]]; then
    die "no NVIDIA GPU on this host (/dev/nvidiactl is absent): run it on a GPU host (ILU_GPU_BENCH_DRY=1 checks the script without one)"
fi
[[ $(id -u) == 0 ]] || die "run it as root: the worker runs containers with runc, cgroups and device nodes"
for b in iluvatar_worker iluvatar_load_gen runc; do
    [[ -x $here/bin/$b ]] || die "$here/bin/$b is missing: run the run.sh of the folder bench/gpu/pack.sh made"
done
[[ -x /usr/bin/python3 ]] || die "/usr/bin/python3 is missing: the containers run the functions with the host's Python"
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ! "$here/bin/iluvatar_worker" --version >/dev/null 2>&1; then
    die "the packed worker does not run here: $("$here/bin/iluvatar_worker" --version 2>&1 | head -2) (a glibc older than the build host's?)"
fi

LIB=${ILU_GPU_DRIVER_LIB_DIR:-}
[[ -z $LIB && -d /usr/local/nvidia/lib64 ]] && LIB=/usr/local/nvidia/lib64
tool() { # an NVIDIA tool where the worker looks for it
    local d
    for d in ${LIB:+$LIB/../bin} ${PATH//:/ } /usr/bin /usr/local/nvidia/bin; do
        [[ -x $d/$1 ]] && { echo "$d/$1"; return 0; }
    done
    return 1
}
SMI=$(tool nvidia-smi || true)
MPS=$(tool nvidia-cuda-mps-control || true)
INIT=off
[[ -x /usr/bin/tini ]] && INIT=/usr/bin/tini
OUT=${OUT:-$PWD/gpu-bench-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
work=$(mktemp -d /tmp/ilu-gpu.XXXXXX)
chmod 711 "$work"
worker_pid=
sampler_pid=
cleanup() {
    [[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null
    if [[ -n $worker_pid ]]; then
        kill -INT "$worker_pid" 2>/dev/null
        wait "$worker_pid" 2>/dev/null || true
    fi
    [[ ${KEEP:-0} == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $DRY == 1 ]]; then
    FN=$here/functions/synthetic COMPUTE=CPU GPUS=0
else
    FN=$here/functions/gpu_synthetic COMPUTE=GPU GPUS=1
fi

# The measuring side, in Python (the host has it: the functions need it).
cat >"$work/bench.py" <<'PY'
import concurrent.futures, json, statistics, sys, time, urllib.request

def call(port, path, body=None, timeout=300):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST" if body is not None else "GET",
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b"{}")

def args_for(dry, ms, mb=0, blocks=1):
    return {"wall_ms": ms} if dry else {"ms": ms, "mb": mb, "blocks": blocks}

def register(port, fn, version, image, compute):
    r = call(port, "/register", {"function_name": fn, "function_version": version, "image_name": image,
                                 "memory": 1024, "cpus": 1, "compute": compute})
    if not r.get("success", "error" not in r):
        sys.exit(f"register {fn}-{version}: {r}")

def invoke(port, fn, version, args):
    t = time.perf_counter()
    r = call(port, "/invoke", {"function_name": fn, "function_version": version, "json_args": json.dumps(args)})
    ms = (time.perf_counter() - t) * 1000.0
    if not r.get("success"):
        sys.exit(f"invoke {fn}-{version}: {r}")
    body = json.loads(r["json_result"]).get("body", {})
    return ms, r.get("container_state"), body

def coldwarm(port, image, compute, reps, dry):
    register(port, "gpu_synthetic", "cw", image, compute)
    cold, warm, init = [], [], []
    for _ in range(reps):
        ms, state, body = invoke(port, "gpu_synthetic", "cw", args_for(dry, 50, 16))
        if state != "cold":
            sys.exit(f"expected a cold start, got {state}")
        cold.append(ms)
        init.append(body.get("init_ms", 0.0))
        for _ in range(3):
            ms, state, body = invoke(port, "gpu_synthetic", "cw", args_for(dry, 50, 16))
            warm.append(ms)
        call(port, "/clean", {})
    return {"cold_ms": cold, "warm_ms": warm, "cuda_init_ms": init, "kernel_ms": 50,
            "cold_median": statistics.median(cold), "warm_median": statistics.median(warm),
            "init_median": statistics.median(init)}

def at_once(port, image, compute, n, dry):
    for i in range(n):
        register(port, "gpu_conc", str(i), image, compute)
        invoke(port, "gpu_conc", str(i), args_for(dry, 1))  # cold: container and CUDA ready
    walls = []
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        for _ in range(3):
            t = time.perf_counter()
            list(pool.map(lambda i: invoke(port, "gpu_conc", str(i), args_for(dry, 200)), range(n)))
            walls.append((time.perf_counter() - t) * 1000.0)
    return {"functions": n, "kernel_ms": 200, "batch_wall_ms": walls, "median": statistics.median(walls)}

def trace(out, secs, image, compute):
    import random
    fns = [("gpu_a", 4.0, 20), ("gpu_b", 2.0, 50), ("gpu_c", 1.0, 100), ("gpu_d", 8.0, 10)]
    rows = []
    for name, rate, _ in fns:
        rng, t = random.Random(f"16:{name}"), 0.0
        t = rng.expovariate(rate)
        while t < secs:
            rows.append((t * 1000.0, name))
            t += rng.expovariate(rate)
    rows.sort()
    with open(f"{out}/trace.csv", "w") as f:
        f.write("func_name,invoke_time_ms\n")
        f.writelines(f"{n},{t:.3f}\n" for t, n in rows)
    with open(f"{out}/metadata.csv", "w") as f:
        f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb,mean_iat,image_name,args,prewarms,compute\n")
        for name, rate, ms in fns:
            a = f"wall_ms={ms}" if compute == "CPU" else f"ms={ms};mb=4"
            f.write(f"{name},{ms + 1500},{ms},1024,{1000.0 / rate:.1f},{image},{a},1,{compute}\n")
    return len(rows)

def summary(run_dir, util_file):
    s = json.load(open(f"{run_dir}/summary.json"))
    lat = s.get("latency_ms") or {}
    util = []
    try:
        for line in open(util_file):
            try:
                util.append(float(line.split(",")[0]))
            except ValueError:
                pass
    except OSError:
        pass
    return {"p50": lat.get("p50"), "p99": lat.get("p99"), "mean": lat.get("mean"), "count": lat.get("count"),
            "gpu_util_mean": statistics.mean(util) if util else None, "summary": s}

cmd = sys.argv[1]
if cmd == "wait":
    port, deadline = sys.argv[2], time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
            sys.exit(0)
        except OSError:
            time.sleep(0.1)
    sys.exit(1)
elif cmd == "coldwarm":
    print(json.dumps(coldwarm(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6] == "1")))
elif cmd == "concurrent":
    print(json.dumps(at_once(int(sys.argv[2]), sys.argv[3], sys.argv[4], 4, sys.argv[5] == "1")))
elif cmd == "trace":
    print(trace(sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]))
elif cmd == "summary":
    print(json.dumps(summary(sys.argv[2], sys.argv[3])))
elif cmd == "config":  # base config + JSON overrides (merged one level deep per section)
    base, extra = json.loads(sys.argv[2]), json.loads(sys.argv[3])
    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a
    print(json.dumps(merge(base, extra), indent=2))
elif cmd == "table":
    r = json.load(open(sys.argv[2]))
    f = lambda v: "-" if v is None else f"{v:.1f}"
    print(f"\nGPU bench, {r['when']}: {r['gpu']}; {r['worker']}")
    print(f"gpu_synthetic, median of {r['reps']} reps (client-measured ms; kernel 50 ms, copy 16 MB):")
    print(f"  {'':34} {'MPS off':>10} {'MPS on':>10}")
    off, on = r.get("mps_off", {}), r.get("mps_on", {})
    for label, key in (("cold start", "cold_median"), ("  of which CUDA init (in function)", "init_median"),
                       ("warm start", "warm_median")):
        print(f"  {label:34} {f(off.get(key)):>10} {f(on.get(key)):>10}")
    print(f"  {'4 x 200 ms kernels at once (wall)':34} {f(off.get('concurrent', {}).get('median')):>10} "
          f"{f(on.get('concurrent', {}).get('median')):>10}")
    if not on:
        print(f"  (MPS on: {r.get('mps_note', 'not run')})")
    print(f"GPU queue, trace of 4 functions, {r['trace_sec']:.0f} s, {r.get('trace_invocations')} invocations, "
          f"1 running token (latency ms):")
    print(f"  {'policy':8} {'p50':>9} {'p99':>9} {'mean':>9} {'GPU util %':>11}")
    for pol in ("fcfs", "mqfq"):
        t = r.get("trace", {}).get(pol)
        if not t or "error" in t:
            print(f"  {pol:8} {(t or {}).get('error', 'not run')}")
        else:
            print(f"  {pol:8} {f(t['p50']):>9} {f(t['p99']):>9} {f(t['mean']):>9} {f(t['gpu_util_mean']):>11}")
PY
py() { /usr/bin/python3 "$work/bench.py" "$@"; }

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=$(cat <<JSON
{"name": "gpu-bench", "address": "127.0.0.1", "port": $port, "logging": {"level": "info", "stdout": true},
 "functions_dirs": "$here/functions",
 "oci": {"runtime": "runc", "runtime_path": "$here/bin/runc", "agent_path": "$here/agent/agent.py",
         "init": "$INIT", "user_namespace": $([[ $USERNS == 1 ]] && echo true || echo false),
         "cgroup_parent": "ilu-gpu-bench-$$"},
 "container_resources": {"gpu_resource": {"count": $GPUS, "driver_lib_dir": "$LIB"}}}
JSON
)
# start_worker NAME OVERRIDES_JSON: a worker of its own state, log in $OUT/NAME.log
start_worker() {
    local name=$1 cfg=$work/$1.json
    mkdir -p "$work/$name"
    py config "$base" "$2" >"$cfg"
    py config "$(cat "$cfg")" "{\"oci\": {\"state_dir\": \"$work/$name/state\", \"rootfs_dir\": \"$work/$name/rootfs\"}}" \
        >"$cfg.tmp" && mv "$cfg.tmp" "$cfg"
    "$here/bin/iluvatar_worker" -c "$cfg" >"$OUT/$name.log" 2>&1 &
    worker_pid=$!
    if ! py wait "$port"; then
        echo "run.sh: worker $name did not start; its log:" >&2
        tail -15 "$OUT/$name.log" >&2
        worker_pid=
        return 1
    fi
}
stop_worker() {
    kill -INT "$worker_pid" 2>/dev/null || true
    wait "$worker_pid" 2>/dev/null || true
    worker_pid=
}

gpu_name="no GPU (dry run)"
if [[ -n $SMI ]]; then
    gpu_name=$("$SMI" --query-gpu=name,memory.total,driver_version --format=csv,noheader -i 0 2>/dev/null || echo "nvidia-smi failed")
fi
results=$work/results.json
echo "{}" >"$results"
put() { # put KEY JSON: results[KEY] = JSON
    /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r[sys.argv[2]]=json.loads(sys.argv[3]); json.dump(r, open(sys.argv[1],"w"), indent=1)' "$results" "$1" "$2"
}
put when "\"$(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n), $(nproc) CPUs\""
put gpu "$(/usr/bin/python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$gpu_name")"
put worker "\"$("$here/bin/iluvatar_worker" --version 2>&1 | head -1), runc $("$here/bin/runc" --version | head -1 | awk '{print $3}'), user namespace $USERNS, init $INIT\""
put reps "$REPS"
put trace_sec "$TRACE_SEC"

# 1-2. cold/warm and concurrency, MPS off then on
for mode in mps_off mps_on; do
    if [[ $mode == mps_on ]]; then
        if [[ $DRY == 1 ]]; then put mps_note '"dry run"'; continue; fi
        if [[ -z $MPS ]]; then put mps_note '"no nvidia-cuda-mps-control on this host"'; continue; fi
        mps=true
    else
        mps=false
    fi
    echo "run.sh: cold/warm and 4 at once, ${mode/_/ } ..." >&2
    if ! start_worker "$mode" "{\"container_resources\": {\"gpu_resource\": {\"funcs_per_device\": 4, \"concurrent_running_funcs\": 4, \"use_standalone_mps\": $mps}}}"; then
        put "${mode/_on/_note}" '"the worker did not start (see its log)"'
        continue
    fi
    cw=$(py coldwarm "$port" "$FN" "$COMPUTE" "$REPS" "$DRY")
    conc=$(py concurrent "$port" "$FN" "$COMPUTE" "$DRY")
    put "$mode" "$(/usr/bin/python3 -c 'import json,sys; a=json.loads(sys.argv[1]); a["concurrent"]=json.loads(sys.argv[2]); print(json.dumps(a))' "$cw" "$conc")"
    stop_worker
done

# 3. the GPU queue's policies on one trace
mkdir -p "$work/trace"
n=$(py trace "$work/trace" "$TRACE_SEC" "$FN" "$COMPUTE")
put trace_invocations "$n"
put trace '{}'
for pol in fcfs mqfq; do
    echo "run.sh: trace with gpu_queue_policy $pol ($n invocations, $TRACE_SEC s) ..." >&2
    if ! start_worker "trace-$pol" "{\"invocation\": {\"gpu_queue_policy\": \"$pol\"}, \"container_resources\": {\"gpu_resource\": {\"funcs_per_device\": 4, \"concurrent_running_funcs\": 1}}}"; then
        /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["trace"][sys.argv[2]]={"error": "the worker did not start: " + sys.argv[3]}; json.dump(r, open(sys.argv[1],"w"), indent=1)' \
            "$results" "$pol" "$(tail -1 "$OUT/trace-$pol.log")"
        continue
    fi
    util=$OUT/trace-$pol-util.csv
    : >"$util"
    if [[ -n $SMI && $DRY != 1 ]]; then
        "$SMI" --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -i 0 -lms 250 >"$util" 2>/dev/null &
        sampler_pid=$!
    fi
    rc=0
    "$here/bin/iluvatar_load_gen" trace -i "$work/trace/trace.csv" -m "$work/trace/metadata.csv" -p "$port" \
        -o "$OUT/trace-$pol" --force --no-plots -q --synthetic-dir "$here/functions/synthetic" \
        >"$OUT/trace-$pol.load_gen.log" 2>&1 || rc=$?
    [[ -n $sampler_pid ]] && { kill "$sampler_pid" 2>/dev/null; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=; }
    if [[ $rc == 0 ]]; then
        s=$(py summary "$OUT/trace-$pol" "$util")
    else
        s=$(/usr/bin/python3 -c 'import json,sys; print(json.dumps({"error": "load generator exit " + sys.argv[1] + ": " + sys.argv[2]}))' "$rc" "$(tail -1 "$OUT/trace-$pol.load_gen.log")")
    fi
    /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["trace"][sys.argv[2]]=json.loads(sys.argv[3]); json.dump(r, open(sys.argv[1],"w"), indent=1)' "$results" "$pol" "$s"
    stop_worker
done

cp "$results" "$OUT/results.json"
py table "$OUT/results.json" | tee "$OUT/table.txt"
echo "run.sh: results, logs and the load generator's folders in $OUT" >&2
