"""GPU functions in a simulation (docs/gpu.md): the trace metadata's compute
column, the serial GPU queue (fcfs) with one simulated GPU of two spots and
one running token, and GPU times from a benchmark's resource_data.GPU. No
GPU is needed. Every latency is computed by hand from the simulation's
defaults: container start 85 ms, answer overhead 0.4 ms, network 0.3 ms
(half each way)."""
import csv
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BUILD, REPO

LOAD_GEN = os.path.join(BUILD, "iluvatar_load_gen")
START, OVH, NET = 85.0, 0.4, 0.3
GPU_WORKER = {"container_resources": {"cpu_count": 1, "memory_mb": 2048,
                                      "gpu_resource": {"count": 1, "memory_mb": 16384, "funcs_per_device": 2,
                                                       "concurrent_running_funcs": 1}}}


class SimGpuTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(LOAD_GEN, os.X_OK):
            raise unittest.SkipTest(f"{LOAD_GEN} is missing; build it with `make`")
        cls.tmp = tempfile.mkdtemp(prefix="ilu-sim-gpu-")

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("ILU_E2E_KEEP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def simulate(self, name, trace, meta, config=GPU_WORKER, extra=()):
        out = os.path.join(self.tmp, name)
        shutil.rmtree(out, ignore_errors=True)
        cmd = [LOAD_GEN, "--setup", "simulation", "--out", out, "--no-plots", "trace", "--input",
               self.write(name + ".trace.csv", trace), "--metadata", self.write(name + ".meta.csv", meta), *extra]
        if config is not None:
            cmd += ["--worker-config", self.write(name + ".worker.json", json.dumps(config))]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_WORKER__")}
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
        return out, r

    def rows(self, out, r):
        self.assertEqual(r.returncode, 0, f"exit {r.returncode}\nstderr:\n{r.stderr[-3000:]}")
        with open(os.path.join(out, "invocations.csv"), newline="") as f:
            return list(csv.DictReader(f))

    def check(self, row, name, state, e2e, queue, exec_ms):
        self.assertEqual(row["function_name"], name, row)
        self.assertEqual(row["success"], "1", row)
        self.assertEqual(row["container_state"], state, row)
        self.assertAlmostEqual(float(row["e2e_ms"]), e2e, places=3, msg=row)
        self.assertAlmostEqual(float(row["queue_ms"]), queue, places=3, msg=row)
        self.assertAlmostEqual(float(row["exec_ms"]), exec_ms, places=3, msg=row)

    def test_serial_gpu_queue_one_token(self):
        # g, g, h on the GPU (one token: one at a time, in arrival order), f on
        # the CPU beside them; every function cold 100 ms, warm 20 ms
        trace = "func_name,invoke_time_ms\ng,0\ng,1\nf,2\nh,3\ng,500\n"
        meta = ("func_name,cold_dur_ms,warm_dur_ms,mem_mb,compute\n"
                "g,100,20,128,GPU\nf,100,20,128,CPU\nh,100,20,128,GPU\n")
        out, r = self.simulate("serial", trace, meta)
        rows = self.rows(out, r)
        self.assertEqual(len(rows), 5)
        cold = START + 100 + OVH  # 185.4 ms at the worker
        # g@0 arrives at 0.15, cold: done at 185.55 (client 185.7)
        self.check(rows[0], "g", "cold", cold + NET, 0, 100)
        # g@1 arrives at 1.15, waits for the token until 185.55, then warm
        # on g's container: done at 205.95, e2e 206.1 - 1
        self.check(rows[1], "g", "warm", 205.1, 184.4, 20)
        # f@2 on the CPU: untouched by the GPU queue
        self.check(rows[2], "f", "cold", cold + NET, 0, 100)
        # h@3 arrives at 3.15, behind g@1 (fcfs): the token is free at
        # 205.95, the second spot too: cold, done at 391.35, e2e 391.5 - 3
        self.check(rows[3], "h", "cold", 388.5, 202.8, 100)
        # g@500: g's container is idle and the token free
        self.check(rows[4], "g", "warm", 20 + OVH + NET, 0, 20)

    def test_gpu_times_from_the_benchmark(self):
        # one benchmark entry measured on CPU (cold 200, warm 50 ms) and GPU
        # (cold 30, warm 10 ms): g registered GPU takes the GPU times, c
        # registered CPU the CPU ones
        bench = {"gbench": {"image_name": "/sim/gbench", "resource_data": {
            "CPU": {"warm_results_sec": [0.05], "cold_results_sec": [0.2]},
            "GPU": {"warm_results_sec": [0.01], "cold_results_sec": [0.03]}}}}
        trace = "func_name,invoke_time_ms\ng,0\nc,0\ng,1000\nc,1000\n"
        meta = ("func_name,cold_dur_ms,warm_dur_ms,mem_mb,image_name,compute\n"
                "g,100,20,128,/sim/gbench,GPU\nc,100,20,128,/sim/gbench,CPU\n")
        out, r = self.simulate("bench", trace, meta,
                               extra=["--function-data", self.write("bench.json", json.dumps(bench))])
        rows = self.rows(out, r)
        self.check(rows[0], "g", "cold", START + 30 + OVH + NET, 0, 30)
        self.check(rows[1], "c", "cold", START + 200 + OVH + NET, 0, 200)
        self.check(rows[2], "g", "warm", 10 + OVH + NET, 0, 10)
        self.check(rows[3], "c", "warm", 50 + OVH + NET, 0, 50)

    def test_bad_compute_and_no_gpu_refused(self):
        trace = "func_name,invoke_time_ms\ng,0\n"
        out, r = self.simulate("tpu", trace, "func_name,cold_dur_ms,warm_dur_ms,mem_mb,compute\ng,100,20,128,TPU\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("tpu.meta.csv:2: field compute must be CPU, GPU or CPU|GPU", r.stderr)
        out, r = self.simulate("nogpu", trace, "func_name,cold_dur_ms,warm_dur_ms,mem_mb,compute\ng,100,20,128,GPU\n",
                               config={"container_resources": {"cpu_count": 1, "memory_mb": 2048}})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("the simulated worker refuses g", r.stderr)
        self.assertIn("compute GPU needs a GPU", r.stderr)


if __name__ == "__main__":
    unittest.main()
