"""The GPU queue's batching policies in a simulation (docs/gpu.md "GPU queue
policies"), chosen by the worker config's invocation.gpu_queue_policy: one
simulated GPU of four spots and one running token, x keeping it busy while
a, b, a queue. fcfs batches adjacent invocations only ([a] [b] [a]);
oldest_batch keeps one batch per function ([a a] [b]), run back to back on
one container. Every latency is computed by hand from the simulation's
defaults: container start 85 ms, answer overhead 0.4 ms, network 0.3 ms
(half each way); every function cold 100 ms, warm 20 ms."""
import csv
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BUILD, REPO

LOAD_GEN = os.path.join(BUILD, "iluvatar_load_gen")
TRACE = "func_name,invoke_time_ms\nx,0\na,1\nb,2\na,3\n"
META = "func_name,cold_dur_ms,warm_dur_ms,mem_mb,compute\nx,100,20,128,GPU\na,100,20,128,GPU\nb,100,20,128,GPU\n"


def worker_config(policy):
    return {"invocation": {"gpu_queue_policy": policy},
            "container_resources": {"cpu_count": 1, "memory_mb": 2048,
                                    "gpu_resource": {"count": 1, "memory_mb": 16384, "funcs_per_device": 4,
                                                     "concurrent_running_funcs": 1}}}


class SimGpuPoliciesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(LOAD_GEN, os.X_OK):
            raise unittest.SkipTest(f"{LOAD_GEN} is missing; build it with `make`")
        cls.tmp = tempfile.mkdtemp(prefix="ilu-sim-gpu-pol-")

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("ILU_E2E_KEEP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def simulate(self, policy):
        out = os.path.join(self.tmp, policy)
        shutil.rmtree(out, ignore_errors=True)
        cmd = [LOAD_GEN, "--setup", "simulation", "--out", out, "--no-plots", "trace",
               "--input", self.write(policy + ".trace.csv", TRACE),
               "--metadata", self.write(policy + ".meta.csv", META),
               "--worker-config", self.write(policy + ".worker.json", json.dumps(worker_config(policy)))]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_WORKER__")}
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
        return out, r

    def rows(self, policy):
        out, r = self.simulate(policy)
        self.assertEqual(r.returncode, 0, f"exit {r.returncode}\nstderr:\n{r.stderr[-3000:]}")
        with open(os.path.join(out, "invocations.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 4)
        return rows

    def check(self, row, name, state, e2e, queue):
        self.assertEqual(row["function_name"], name, row)
        self.assertEqual(row["success"], "1", row)
        self.assertEqual(row["container_state"], state, row)
        self.assertAlmostEqual(float(row["e2e_ms"]), e2e, places=3, msg=row)
        self.assertAlmostEqual(float(row["queue_ms"]), queue, places=3, msg=row)

    # x arrives at 0.15 ms and holds the token until 185.55; a cold start
    # takes 185.4 ms at the worker, a warm run 20.4; e2e adds 0.15 back to
    # the client and counts from the trace time

    def test_fcfs_batches_adjacent_invocations_only(self):
        rows = self.rows("fcfs")
        self.check(rows[0], "x", "cold", 185.7, 0)
        self.check(rows[1], "a", "cold", 370.1, 184.4)  # 185.55 -> 370.95
        self.check(rows[2], "b", "cold", 554.5, 368.8)  # 370.95 -> 556.35
        self.check(rows[3], "a", "warm", 573.9, 553.2)  # 556.35 -> 576.75

    def test_oldest_batch_runs_a_function_batch_back_to_back(self):
        rows = self.rows("oldest_batch")
        self.check(rows[1], "a", "cold", 370.1, 184.4)  # 185.55 -> 370.95
        self.check(rows[3], "a", "warm", 388.5, 367.8)  # 370.95 -> 391.35, on a's container
        self.check(rows[2], "b", "cold", 574.9, 389.2)  # 391.35 -> 576.75

    def test_unknown_gpu_policy_is_refused_with_the_names(self):
        out, r = self.simulate("minheap")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('invocation.gpu_queue_policy "minheap" is not one of: fcfs, sjf, eedf, oldest_batch, '
                      'sized_batch, paella, mqfq', r.stderr)


if __name__ == "__main__":
    unittest.main()
