"""A mixed simulated cluster (docs/gpu.md, "Simulation"): iluvatar_load_gen
trace --setup simulation --target controller --workers 4 --gpu-workers 2.
worker-0 and worker-1 get the worker config's GPU, worker-2 and worker-3
none; the controller core registers and routes GPU-only functions to the
first two only, under every balancer, while CPU and CPU|GPU functions use
every worker. The GPU functions run in their GPU times (a benchmark JSON
gives GPU and CPU times apart), so each row shows where it ran. No GPU is
needed."""
import csv
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from collections import Counter, defaultdict

from harness import BUILD, REPO

LOAD_GEN = os.path.join(BUILD, "iluvatar_load_gen")
WORKER = {"container_resources": {"cpu_count": 4, "memory_mb": 2048,
                                  "gpu_resource": {"count": 1, "memory_mb": 16384, "funcs_per_device": 4,
                                                   "concurrent_running_funcs": 4}}}
# every function maps to one benchmark entry: CPU cold 200 / warm 50 ms, GPU cold 30 / warm 10 ms
BENCH = {"b": {"image_name": "/sim/b", "resource_data": {
    "CPU": {"warm_results_sec": [0.05], "cold_results_sec": [0.2]},
    "GPU": {"warm_results_sec": [0.01], "cold_results_sec": [0.03]}}}}
FUNCS = [("g", "GPU"), ("h", "GPU"), ("c", "CPU"), ("d", "CPU"), ("p", "CPU|GPU")]
GPU_WORKERS = {"worker-0", "worker-1"}
STEP_MS, DURATION_MS = 20, 20000


class SimClusterGpuTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(LOAD_GEN, os.X_OK):
            raise unittest.SkipTest(f"{LOAD_GEN} is missing; build it with `make`")
        cls.tmp = tempfile.mkdtemp(prefix="ilu-simcluster-gpu-")
        cls.trace = cls.write("trace.csv", "func_name,invoke_time_ms\n" + "".join(
            f"{FUNCS[k % len(FUNCS)][0]},{t}\n" for k, t in enumerate(range(0, DURATION_MS, STEP_MS))))
        cls.meta = cls.write("meta.csv", "func_name,cold_dur_ms,warm_dur_ms,mem_mb,image_name,compute\n" + "".join(
            f"{n},200,50,128,/sim/b,{c}\n" for n, c in FUNCS))
        cls.bench = cls.write("bench.json", json.dumps(BENCH))
        cls.config = cls.write("worker.json", json.dumps(WORKER))
        cls.n_rows = DURATION_MS // STEP_MS

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("ILU_E2E_KEEP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def write(cls, name, text):
        path = os.path.join(cls.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def simulate(self, name, *extra, policy="CH-BL", config=None):
        out = os.path.join(self.tmp, name)
        shutil.rmtree(out, ignore_errors=True)
        cmd = [LOAD_GEN, "--setup", "simulation", "--target", "controller", "--out", out, "--no-plots", "-q",
               "trace", "--input", self.trace, "--metadata", self.meta, "--function-data", self.bench,
               "--worker-config", config or self.config, "--workers", "4", *extra]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("ILUVATAR_WORKER__") and not k.startswith("ILUVATAR_CONTROLLER__")}
        env["ILUVATAR_CONTROLLER__load_balancer__algorithm"] = policy
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
        return out, r

    def test_gpu_functions_only_on_gpu_workers_under_every_policy(self):
        for policy in ("RoundRobin", "LeastLoaded", "CH-BL"):
            with self.subTest(policy=policy):
                out, r = self.simulate("mixed-" + policy, "--gpu-workers", "2", policy=policy)
                self.assertEqual(r.returncode, 0, f"exit {r.returncode}\nstderr:\n{r.stderr[-3000:]}")
                with open(os.path.join(out, "invocations.csv"), newline="") as f:
                    rows = list(csv.DictReader(f))
                with open(os.path.join(out, "workers.csv"), newline="") as f:
                    placed = list(csv.DictReader(f))
                with open(os.path.join(out, "summary.json")) as f:
                    summary = json.load(f)
                self.assertEqual(len(rows), self.n_rows)
                self.assertTrue(all(r["success"] == "1" for r in rows), "an invocation failed")
                self.assertEqual(summary["inputs"]["cluster"]["gpu_workers"], 2)
                by_fn = defaultdict(Counter)
                for w in placed:
                    by_fn[w["function_name"]][w["worker"]] += 1
                compute = dict(FUNCS)
                for fn, where in by_fn.items():
                    if compute[fn] == "GPU":
                        self.assertLessEqual(set(where), GPU_WORKERS, f"{fn} ran on {dict(where)}")
                # CPU and CPU|GPU functions use the workers without GPUs too
                others = Counter()
                for fn in ("c", "d", "p"):
                    others.update(by_fn[fn])
                self.assertTrue(others["worker-2"] + others["worker-3"] > 0, dict(others))
                # per_worker agrees with workers.csv; the workers without
                # GPUs ran no GPU-only invocation
                per_worker = summary["inputs"]["per_worker"]
                self.assertEqual(set(per_worker), {f"worker-{i}" for i in range(4)})
                total = Counter(w["worker"] for w in placed)
                for name, counts in per_worker.items():
                    self.assertEqual(counts["invocations"], total[name], name)
                for name in ("worker-2", "worker-3"):
                    self.assertEqual(per_worker[name]["invocations"],
                                     sum(by_fn[fn][name] for fn in ("c", "d", "p")), name)
                # a GPU-only function ran on a GPU: its GPU times (cold 30, warm 10 ms)
                for row in rows:
                    if compute[row["function_name"]] == "GPU":
                        self.assertIn(round(float(row["exec_ms"])), (10, 30), row)

    def test_without_gpu_workers_every_worker_has_the_config_gpus(self):
        # no --gpu-workers: as before, every worker has the GPU
        out, r = self.simulate("all")
        self.assertEqual(r.returncode, 0, f"exit {r.returncode}\nstderr:\n{r.stderr[-3000:]}")
        with open(os.path.join(out, "summary.json")) as f:
            cluster = json.load(f)["inputs"]["cluster"]
        self.assertNotIn("gpu_workers", cluster)

    def test_bad_gpu_workers_refused(self):
        out, r = self.simulate("none", "--gpu-workers", "0")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("the simulated workers refuse g", r.stderr)
        self.assertIn("compute GPU needs a GPU, and none of the 4 workers has one", r.stderr)
        out, r = self.simulate("five", "--gpu-workers", "5")
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("--gpu-workers 5 is more than --workers 4", r.stderr)
        cpu_only = self.write("cpu.json", json.dumps({"container_resources": {"cpu_count": 4, "memory_mb": 2048}}))
        out, r = self.simulate("nogpu", "--gpu-workers", "2", config=cpu_only)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("its container_resources.gpu_resource.count is 0", r.stderr)


if __name__ == "__main__":
    unittest.main()
