"""tools/sweep/sweep.py (docs/simulation.md, "Sweeps"): a 2x2 grid (eviction
LRU/TTL x memory 256/1024 MB) simulated on a small trace whose cold starts
are known: 4 functions of 128 MB called round robin every 500 ms, so 1024 MB
holds all four (exactly 4 cold starts) and 256 MB only two (more). Point
folders, sweep.csv, commands.txt and the Slurm array, a point rerun alone
(by its commands.txt line, and as Slurm array task) byte-identical, a failed
point named, and unknown keys refused. No worker is started."""
import csv
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BUILD, REPO

PYTHON = "/usr/bin/python3"
SWEEP = os.path.join(REPO, "tools", "sweep", "sweep.py")
LOAD_GEN = os.path.join(BUILD, "iluvatar_load_gen")
WORKER = os.path.join(BUILD, "iluvatar_worker")
FUNCS = ["fa", "fb", "fc", "fd"]
ROUNDS = 10
AXES = {"container_resources.eviction": ["LRU", "TTL"], "container_resources.memory_mb": [256, 1024]}


def sweep(*args, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_WORKER__")}
    return subprocess.run([PYTHON, SWEEP, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class SweepTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for b in (LOAD_GEN, WORKER):
            if not os.access(b, os.X_OK):
                raise unittest.SkipTest(f"{b} is missing; build it with `make`")
        cls.tmp = tempfile.mkdtemp(prefix="ilu-sweep-e2e-")
        with open(os.path.join(cls.tmp, "trace.csv"), "w") as f:
            f.write("func_name,invoke_time_ms\n")
            f.writelines(f"{n},{(r * len(FUNCS) + i) * 500}\n"
                         for r in range(ROUNDS) for i, n in enumerate(FUNCS))
        with open(os.path.join(cls.tmp, "meta.csv"), "w") as f:
            f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\n")
            f.writelines(f"{n},100,20,128\n" for n in FUNCS)
        with open(os.path.join(cls.tmp, "base.json"), "w") as f:
            json.dump({"container_resources": {"cpu_count": 2}}, f)
        cls.grid = cls.write_grid("grid.json", {"worker_config": "base.json", "axes": AXES})
        cls.out = os.path.join(cls.tmp, "sweep")
        cls.run_result = sweep("run", cls.grid, "--out", cls.out, "--jobs", "2")

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("ILU_E2E_KEEP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def write_grid(cls, name, extra):
        path = os.path.join(cls.tmp, name)
        with open(path, "w") as f:
            json.dump({"trace": "trace.csv", "metadata": "meta.csv", **extra}, f)
        return path

    def require_sweep(self):
        r = self.run_result
        self.assertEqual(r.returncode, 0, f"sweep.py run: exit {r.returncode}\n{r.stdout[-2000:]}{r.stderr[-3000:]}")

    def rows(self, out=None):
        with open(os.path.join(out or self.out, "sweep.csv"), newline="") as f:
            return list(csv.DictReader(f))

    def test_one_folder_per_point_with_its_config(self):
        self.require_sweep()
        points = sorted(os.listdir(os.path.join(self.out, "points")))
        self.assertEqual(points, ["000", "001", "002", "003"])
        expected = [("LRU", 256), ("LRU", 1024), ("TTL", 256), ("TTL", 1024)]  # first axis slowest
        for pid, (eviction, memory) in zip(points, expected):
            d = os.path.join(self.out, "points", pid)
            with open(os.path.join(d, "worker.json")) as f:
                cfg = json.load(f)
            self.assertEqual(cfg["container_resources"],
                             {"cpu_count": 2, "eviction": eviction, "memory_mb": memory}, pid)
            with open(os.path.join(d, "point.json")) as f:
                self.assertEqual(json.load(f)["values"], {"container_resources.eviction": eviction,
                                                          "container_resources.memory_mb": memory})
            for name in ("invocations.csv", "summary.json"):
                self.assertTrue(os.path.isfile(os.path.join(d, "out", name)), f"{pid}/out/{name}")

    def test_sweep_csv_has_a_row_per_point_with_the_axis_values(self):
        self.require_sweep()
        rows = self.rows()
        self.assertEqual(len(rows), 4)
        self.assertEqual([(r["point"], r["container_resources.eviction"], r["container_resources.memory_mb"])
                          for r in rows],
                         [("000", "LRU", "256"), ("001", "LRU", "1024"), ("002", "TTL", "256"),
                          ("003", "TTL", "1024")])
        for r in rows:
            self.assertEqual(r["status"], "ok")
            self.assertEqual(r["invocations"], str(ROUNDS * len(FUNCS)))
            self.assertEqual(r["failures"], "0")
            self.assertNotEqual(r["latency_p99_ms"], "")
        self.assertTrue(read_bytes(os.path.join(self.out, "sweep.png")).startswith(b"\x89PNG"))

    def test_less_memory_means_more_cold_starts(self):
        self.require_sweep()
        cold = {(r["container_resources.eviction"], r["container_resources.memory_mb"]): int(r["cold"])
                for r in self.rows()}
        for eviction in ("LRU", "TTL"):
            # 1024 MB holds one container of each function: one cold start each
            self.assertEqual(cold[(eviction, "1024")], len(FUNCS), cold)
            # 256 MB holds two of the four: the round robin must cold-start again
            self.assertGreater(cold[(eviction, "256")], cold[(eviction, "1024")], cold)

    def test_commands_and_run_scripts(self):
        self.require_sweep()
        with open(os.path.join(self.out, "commands.txt")) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 4)
        for i, line in enumerate(lines):
            self.assertIn(f"--out {self.out}/points/{i:03d}/out", line)
            self.assertIn("--quiet", line)
            self.assertIn("--no-plots", line)
            self.assertIn(f"--input {self.tmp}/trace.csv", line)
        with open(os.path.join(self.out, "sweep.sbatch")) as f:
            sbatch = f.read()
        self.assertIn("#SBATCH --array=0-3\n", sbatch)
        self.assertIn("SLURM_ARRAY_TASK_ID + 1", sbatch)
        with open(os.path.join(self.out, "run_parallel_ssh.sh")) as f:
            self.assertIn("--sshloginfile", f.read())
        with open(os.path.join(self.out, "run_local.sh")) as f:
            local = f.read()
        self.assertIn("parallel", local)
        self.assertIn('xargs -0 -n 1 -P "$JOBS"', local)
        with open(os.path.join(self.out, "grid.json")) as f:
            self.assertEqual(list(json.load(f)["axes"]), list(AXES))

    def test_a_point_rerun_alone_is_byte_identical(self):
        self.require_sweep()
        with open(os.path.join(self.out, "commands.txt")) as f:
            lines = f.read().splitlines()
        for pid, how in (("001", "line"), ("002", "sbatch")):
            csv_path = os.path.join(self.out, "points", pid, "out", "invocations.csv")
            before = read_bytes(csv_path)
            if how == "line":
                r = subprocess.run(["bash", "-c", lines[int(pid)]], capture_output=True, text=True, timeout=60)
            else:  # the Slurm array task, run here by hand
                r = subprocess.run(["bash", os.path.join(self.out, "sweep.sbatch")], capture_output=True,
                                   text=True, timeout=60, env={**os.environ, "SLURM_ARRAY_TASK_ID": pid})
            self.assertEqual(r.returncode, 0, f"{how} of point {pid}: {r.stderr}")
            self.assertEqual(read_bytes(csv_path), before, f"point {pid} rerun by {how} differs")

    def test_unknown_key_is_refused(self):
        grid = self.write_grid("typo.json", {"axes": {"container_resources.memroy_mb": [256]}})
        out = os.path.join(self.tmp, "typo")
        r = sweep("plan", grid, "--out", out)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("'container_resources.memroy_mb': unknown worker config key", r.stderr)
        self.assertIn("did you mean container_resources.memory_mb", r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertFalse(os.path.exists(out))
        # a value the worker's own checks refuse names the point
        grid = self.write_grid("badvalue.json", {"axes": {"container_resources.eviction": ["LRU", "FOO"]}})
        r = sweep("plan", grid, "--out", os.path.join(self.tmp, "badvalue"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("point 001", r.stderr)
        self.assertIn('container_resources.eviction "FOO" is not one of', r.stderr)

    def test_a_failed_point_is_named_and_left_empty(self):
        # the load generator refuses "abc" at run time (exit 64): point 001 fails
        grid = self.write_grid("fails.json", {"worker_config": "base.json",
                                              "axes": {"--sim-network-us": [300, "abc"]}})
        out = os.path.join(self.tmp, "fails")
        r = sweep("run", grid, "--out", out)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("1 of 2 points failed: 001", r.stderr)
        rows = self.rows(out)
        self.assertEqual([(x["point"], x["status"]) for x in rows], [("000", "ok"), ("001", "failed")])
        self.assertEqual(rows[1]["cold"], "")
        self.assertEqual(rows[1]["latency_p99_ms"], "")
        self.assertIn("exit 64", rows[1]["error"])


if __name__ == "__main__":
    unittest.main()
