"""Cold starts on pre-started sandboxes against fresh containers, side by side
(bench/sandbox_cold.sh runs this; docs/worker.md "Pooled sandboxes").

Two private workers run at once on this host, identical but for
container_resources.sandbox_pool_size: F (0, every cold start is a fresh
container) and P (pooled). Then:

  pairs  PAIRS times: a new function (bench/functions/noop, a fresh
         registration each time so the start is cold) invoked on F, then on P,
         then once more on P (warm); order F/P flipped every pair. Reported:
         client latency and the worker's container_start_us, medians with
         [min-max], and pooled/fresh per pair.
  import the same with bench/functions/import100 (sleeps 100 ms at import):
         a function whose import takes T ms should answer in about T + the
         pooled overhead.
  burst  BURST distinct functions registered, then invoked all at once
         (one thread each) on F, and on P once its pool is full again.

The client is http.client on a keep-alive connection per thread; at
millisecond scale its own cost (~0.1 ms) does not matter.
"""
import http.client
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
WORKER = os.path.join(ROOT, os.environ.get("BUILD", "build"), "iluvatar_worker")
FUNCTIONS = os.path.join(ROOT, "bench", "functions")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Worker:
    def __init__(self, name, tmp, pool):
        self.name, self.port = name, free_port()
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        env = dict(os.environ)
        env.update({
            "ILUVATAR_WORKER__port": str(self.port),
            "ILUVATAR_WORKER__logging__level": "warn",
            "ILUVATAR_WORKER__functions_dirs": f"{FUNCTIONS}:{ROOT}/functions",
            "ILUVATAR_WORKER__oci__state_dir": f"{self.dir}/state",
            "ILUVATAR_WORKER__oci__rootfs_dir": f"{self.dir}/rootfs",
            "ILUVATAR_WORKER__oci__cgroup_parent": f"ilu-sbench-{os.getpid()}-{name}",
            "ILUVATAR_WORKER__container_resources__memory_mb": "65536",
            "ILUVATAR_WORKER__container_resources__cpu_count": "64",
            # finished pairs' containers go: each container holds a session
            # keyring of the one unprivileged host id they all run as, and
            # the kernel's per-user key quota (kernel.keys.maxkeys/maxbytes)
            # stops runc at ~100 live containers
            "ILUVATAR_WORKER__container_resources__keepalive_sec": "2",
            "ILUVATAR_WORKER__container_resources__sandbox_pool_size": str(pool),
            "ILUVATAR_WORKER__container_resources__sandbox_memory_mb": "64",
        })
        self.log = open(os.path.join(self.dir, "worker.log"), "w")
        self.proc = subprocess.Popen([WORKER], env=env, stderr=self.log, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.request("GET", "/ping")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"sandbox_cold: worker {name} did not come up; see {self.dir}/worker.log")
            time.sleep(0.05)
        self.pool = pool

    def request(self, method, path, body=None, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request(method, path, json.dumps(body) if body is not None else None,
                  {"Content-Type": "application/json"} if body is not None else {})
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, json.loads(data) if data else None

    def status(self):
        return self.request("GET", "/status")[1]

    def register(self, name, folder):
        st, body = self.request("POST", "/register", {"function_name": name, "function_version": "1",
                                                      "image_name": os.path.join(FUNCTIONS, folder),
                                                      "memory": 128, "cpus": 1})
        if st != 200:
            raise SystemExit(f"sandbox_cold: register {name} on {self.name}: {st} {body}")

    def invoke(self, name, conn=None):
        t0 = time.perf_counter()
        st, body = self.request("POST", "/invoke", {"function_name": name, "function_version": "1",
                                                    "json_args": "{}"}, conn)
        ms = (time.perf_counter() - t0) * 1000
        if st != 200 or not body.get("success"):
            raise SystemExit(f"sandbox_cold: invoke {name} on {self.name}: {st} {body}")
        return ms, body

    def wait_full(self, timeout=60):
        deadline = time.monotonic() + timeout
        while self.pool and self.status()["sandboxes_ready"] < self.pool:
            if time.monotonic() > deadline:
                raise SystemExit(f"sandbox_cold: {self.name}'s pool did not fill: {self.status()}")
            time.sleep(0.02)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def cell(vals, unit=""):
    if not vals:
        return "-"
    d = 2 if max(vals) < 10 else 1
    return f"{statistics.median(vals):8.{d}f} [{min(vals):.{d}f}-{max(vals):.{d}f}]{unit}"


def pairs(fresh, pooled, folder, n, tag, out):
    rows = {"fresh_ms": [], "pooled_ms": [], "warm_ms": [], "fresh_start_ms": [], "pooled_start_ms": [],
            "ratio": []}
    for i in range(n):
        name = f"{tag}{i}"
        fresh.register(name, folder)
        pooled.register(name, folder)
        pooled.wait_full()
        order = (fresh, pooled) if i % 2 == 0 else (pooled, fresh)
        got = {}
        for w in order:
            got[w.name] = w.invoke(name)
        (f_ms, f_body), (p_ms, p_body) = got["fresh"], got["pooled"]
        if p_body["timings"]["sandbox"] != "pooled" or f_body["timings"]["sandbox"] != "fresh":
            raise SystemExit(f"sandbox_cold: expected fresh/pooled, got {f_body['timings']} / {p_body['timings']}")
        w_ms, _ = pooled.invoke(name)
        rows["fresh_ms"].append(f_ms)
        rows["pooled_ms"].append(p_ms)
        rows["warm_ms"].append(w_ms)
        rows["fresh_start_ms"].append(f_body["timings"]["container_start_us"] / 1000)
        rows["pooled_start_ms"].append(p_body["timings"]["container_start_us"] / 1000)
        rows["ratio"].append(p_ms / f_ms)
    out[tag] = rows
    return rows


def burst(w, names):
    w.wait_full()
    lat, starts, kinds = [None] * len(names), [None] * len(names), [None] * len(names)
    conns = [http.client.HTTPConnection("127.0.0.1", w.port, timeout=120) for _ in names]
    gate = threading.Barrier(len(names))

    def one(i):
        gate.wait()
        ms, body = w.invoke(names[i], conns[i])
        lat[i], starts[i], kinds[i] = ms, body["timings"]["container_start_us"] / 1000, body["timings"]["sandbox"]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(names))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = (time.perf_counter() - t0) * 1000
    for c in conns:
        c.close()
    return {"latency_ms": lat, "start_ms": starts, "sandbox": kinds, "wall_ms": wall}


def main():
    n_pairs = int(os.environ.get("PAIRS", "10"))
    n_burst = int(os.environ.get("BURST", "20"))
    tmp = tempfile.mkdtemp(prefix="ilu-sandbox-cold.")
    os.chmod(tmp, 0o711)  # containers run as an unprivileged host id: they pass through to the root
    workers = []
    results = {}
    try:
        fresh = Worker("fresh", tmp, 0)
        workers.append(fresh)
        pooled = Worker("pooled", tmp, max(n_burst, 2))
        workers.append(pooled)
        pooled.wait_full()
        pairs(fresh, pooled, "noop", n_pairs, "noop", results)
        pairs(fresh, pooled, "import100", max(3, n_pairs // 2), "imp", results)
        names = [f"burst{i}" for i in range(n_burst)]
        for n in names:
            fresh.register(n, "noop")
            pooled.register(n, "noop")
        results["burst_fresh"] = burst(fresh, names)
        results["burst_pooled"] = burst(pooled, names)
        results["pooled_status"] = pooled.status()
    finally:
        for w in workers:
            w.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", file=sys.stderr)

    if os.environ.get("BENCH_JSON"):
        with open(os.environ["BENCH_JSON"], "w") as f:
            json.dump(results, f, indent=1)
    r = results["noop"]
    print(f"cold starts of bench/functions/noop, {n_pairs} pairs (fresh and pooled workers side by side, "
          f"order flipped each pair), medians [min-max]")
    print(f"  fresh container, client latency (ms)        {cell(r['fresh_ms'])}")
    print(f"    its container_start_us (ms)               {cell(r['fresh_start_ms'])}")
    print(f"  pooled sandbox, client latency (ms)         {cell(r['pooled_ms'])}")
    print(f"    its container_start_us (ms)               {cell(r['pooled_start_ms'])}")
    print(f"  warm, client latency (ms)                   {cell(r['warm_ms'])}")
    print(f"  pooled / fresh latency, per pair            {cell(r['ratio'])}")
    if n_pairs >= 20:
        for key, what in (("pooled_ms", "pooled sandbox, client latency"), ("fresh_ms", "fresh container, client latency")):
            v = sorted(r[key])
            label = f"{what} p99 (ms)"
            print(f"  {label:<44}{v[math.ceil(0.99 * len(v)) - 1]:8.2f} (nearest rank of {len(v)})")
    r = results["imp"]
    print(f"bench/functions/import100 (100 ms import), {len(r['ratio'])} pairs")
    print(f"  fresh container, client latency (ms)        {cell(r['fresh_ms'])}")
    print(f"  pooled sandbox, client latency (ms)         {cell(r['pooled_ms'])}")
    print(f"  pooled - 100 ms import (ms)                 {cell([v - 100 for v in r['pooled_ms']])}")
    for kind in ("fresh", "pooled"):
        b = results[f"burst_{kind}"]
        lat = sorted(b["latency_ms"])
        print(f"burst of {n_burst} simultaneous cold starts, {kind}: latency median {statistics.median(lat):.1f} ms, "
              f"max {lat[-1]:.1f} ms, all answered in {b['wall_ms']:.1f} ms; "
              f"sandboxes: {sum(1 for k in b['sandbox'] if k == 'pooled')} pooled, "
              f"{sum(1 for k in b['sandbox'] if k == 'fresh')} fresh")


if __name__ == "__main__":
    main()
