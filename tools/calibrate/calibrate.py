#!/usr/bin/python3
"""Measure a live worker's host so the simulator can model it (docs/simulation.md, "Calibration").

usage: /usr/bin/python3 tools/calibrate/calibrate.py --port PORT --out calibration.json
           [--host 127.0.0.1] [--solo 30] [--reps 5] [--concurrency 2,4] [--cpu-ms 150]
           [--cpus C] [--exec-cpu-pct P]
           [--worker-config base.json --write-config calibrated.json]

Drives the worker's HTTP API with the bundled synthetic function
(functions/synthetic, found beside this script's repository):

1. Solo start-ups: --solo cold starts one after another (POST /clean
   between calls, so each is cold): the distribution of the worker's own
   container_start_us. Its median becomes simulation.container_start_ms and
   the sorted samples over the median the start-up factors the simulator
   draws from (simulation.calibration_file).
2. Concurrent start-ups: for each k in --concurrency, --reps rounds of k cold
   starts of k different functions sent at once. Processor sharing over the
   host's cores C says a start-up then takes max(1, k d / C) times its solo
   time, for a CPU demand d (cores) per start-up: d is fitted to the measured
   ratios (least squares over a grid), giving simulation.start_cpu_pct.
3. Execution: the same k warm containers running --cpu-ms of busy loop at
   once: the fitted demand of a CPU-bound call is simulation.exec_cpu_pct
   (--exec-cpu-pct writes another value, for functions that mostly wait:
   docs/simulation.md).

The worker must allow max(--concurrency) invocations at once
(container_resources.cpu_count) and hold that many 64 MB containers.
Writes --out (measurements, fit, factors); with --write-config, also the
worker config --worker-config with the fitted simulation keys and
simulation.calibration_file set (an absolute path to --out).
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request

VERSION = "1"
MEMORY_MB = 64


class WorkerError(Exception):
    pass


class Worker:
    def __init__(self, host, port):
        self.base = f"http://{host}:{port}"

    def call(self, path, body=None):
        data = json.dumps(body if body is not None else {}).encode()
        req = urllib.request.Request(self.base + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            try:
                msg = json.load(e).get("error", "")
            except ValueError:
                msg = ""
            raise WorkerError(f"POST {path}: HTTP {e.code}: {msg}")
        except (urllib.error.URLError, OSError) as e:
            raise WorkerError(f"POST {path}: {e}")

    def register(self, name, image):
        self.call("/register", {"function_name": name, "function_version": VERSION, "image_name": image,
                                "memory": MEMORY_MB, "cpus": 1})

    def invoke(self, name, args):
        a = self.call("/invoke", {"function_name": name, "function_version": VERSION, "json_args": args})
        if not a.get("success"):
            raise WorkerError(f"invoking {name}: {a.get('error_kind')}: {a.get('error')}")
        return a


def at_once(worker, names, args):
    """Invoke every name at the same moment (one thread each); their answers."""
    answers, errors = [None] * len(names), []
    gate = threading.Barrier(len(names))

    def one(i):
        gate.wait()
        try:
            answers[i] = worker.invoke(names[i], args)
        except WorkerError as e:
            errors.append(str(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(names))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise WorkerError(errors[0])
    return answers


def ms(answer, key):
    return answer["timings"][key] / 1000.0


def fit_demand(ratios, cores):
    """d minimising sum (max(1, k d / C) - r_k)^2 over the measured (k, r_k)."""
    best, best_err = None, None
    for i in range(1, 401):  # 0.01 .. 4.00 cores
        d = i / 100.0
        err = sum((max(1.0, k * d / cores) - r) ** 2 for k, r in ratios)
        if best_err is None or err < best_err - 1e-12:
            best, best_err = d, err
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--solo", type=int, default=30)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--concurrency", default="2,4")
    ap.add_argument("--cpu-ms", type=float, default=150)
    ap.add_argument("--cpus", type=float, default=os.cpu_count(), help="the host's cores (default: this machine's)")
    ap.add_argument("--exec-cpu-pct", type=int,
                    help="write this exec_cpu_pct instead of the CPU-bound fit (functions that mostly wait)")
    ap.add_argument("--worker-config")
    ap.add_argument("--write-config")
    o = ap.parse_args()
    levels = sorted({int(k) for k in o.concurrency.split(",") if k.strip()})
    if not levels or min(levels) < 2 or o.solo < 3 or o.reps < 1:
        sys.exit("calibrate: --concurrency needs levels >= 2, --solo >= 3, --reps >= 1")
    if bool(o.worker_config) != bool(o.write_config):
        sys.exit("calibrate: --worker-config and --write-config go together")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    image = os.path.join(repo, "functions", "synthetic")
    w = Worker(o.host, o.port)
    kmax = max(levels)
    names = [f"calibrate-{i}" for i in range(kmax)]
    try:
        for n in names:
            try:
                w.register(n, image)
            except WorkerError as e:
                if "409" not in str(e):  # registered by an earlier calibration: the same function
                    raise
        sleep_args = {"wall_ms": 1}
        solo = []
        for i in range(o.solo):
            w.call("/clean")
            a = w.invoke(names[0], sleep_args)
            if a.get("container_state") != "cold":
                raise WorkerError(f"solo start-up {i}: the call was {a.get('container_state')}, not cold")
            solo.append(ms(a, "container_start_us"))
            print(f"calibrate: solo start-up {i + 1}/{o.solo}: {solo[-1]:.1f} ms", file=sys.stderr)
        concurrent = {}
        for k in levels:
            concurrent[k] = []
            for r in range(o.reps):
                w.call("/clean")
                answers = at_once(w, names[:k], sleep_args)
                concurrent[k] += [ms(a, "container_start_us") for a in answers if a.get("container_state") == "cold"]
            print(f"calibrate: {k} start-ups at once: median {statistics.median(concurrent[k]):.1f} ms",
                  file=sys.stderr)
        burn = {"cpu_ms": o.cpu_ms}
        execs = {}
        for k in [1] + levels:
            w.call("/clean")
            at_once(w, names[:k], {"wall_ms": 1})  # warm containers first
            execs[k] = []
            for r in range(o.reps):
                execs[k] += [ms(a, "exec_us") for a in at_once(w, names[:k], burn)]
            print(f"calibrate: {k} CPU-bound calls at once: median exec {statistics.median(execs[k]):.1f} ms",
                  file=sys.stderr)
        w.call("/clean")
    except WorkerError as e:
        sys.exit(f"calibrate: {e}")

    start_med = statistics.median(solo)
    start_ratios = [(k, statistics.median(v) / start_med) for k, v in concurrent.items() if v]
    exec_med = statistics.median(execs[1])
    exec_ratios = [(k, statistics.median(execs[k]) / exec_med) for k in levels]
    start_d = fit_demand(start_ratios, o.cpus)
    exec_d = fit_demand(exec_ratios, o.cpus)
    fitted = {"container_start_ms": max(1, round(start_med)), "host_cpus": o.cpus,
              "start_cpu_pct": round(start_d * 100),
              "exec_cpu_pct": o.exec_cpu_pct if o.exec_cpu_pct is not None else round(exec_d * 100)}
    result = {
        "host": {"cpus": o.cpus, "kernel": os.uname().release, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                          time.gmtime())},
        "simulation": fitted,
        "start_factors": sorted(round(s / start_med, 4) for s in solo),
        "measurements": {
            "solo_start_ms": solo,
            "concurrent_start_ms": {str(k): v for k, v in concurrent.items()},
            "start_ratio_vs_solo": {str(k): round(r, 4) for k, r in start_ratios},
            "cpu_bound_exec_ms": {str(k): v for k, v in execs.items()},
            "exec_ratio_vs_one": {str(k): round(r, 4) for k, r in exec_ratios},
            "cpu_ms": o.cpu_ms,
        },
    }
    with open(o.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"calibrate: start-up median {start_med:.1f} ms (p90 {sorted(solo)[int(0.9 * (len(solo) - 1))]:.1f}); "
          f"ratios at once {', '.join(f'{k}: {r:.2f}' for k, r in start_ratios)} -> start_cpu_pct "
          f"{fitted['start_cpu_pct']} on {o.cpus} cores; CPU-bound exec ratios "
          f"{', '.join(f'{k}: {r:.2f}' for k, r in exec_ratios)} -> exec_cpu_pct {fitted['exec_cpu_pct']}; "
          f"wrote {o.out}", file=sys.stderr)
    if o.write_config:
        with open(o.worker_config) as f:
            cfg = json.load(f)
        sim = cfg.setdefault("simulation", {})
        sim.update(fitted)
        sim["calibration_file"] = os.path.abspath(o.out)
        with open(o.write_config, "w") as f:
            json.dump(cfg, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
