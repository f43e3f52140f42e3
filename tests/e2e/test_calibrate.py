"""Calibration (tools/calibrate/calibrate.py, docs/simulation.md
"Calibration"): measured against a live worker, it writes the measurements,
the fitted simulation keys and the start-up factors, and a worker config the
simulator reads; the simulation then draws start-ups from the factors
(varied, reproducible) and records what it used. A missing or malformed
calibration file is refused, naming the key."""
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import unittest

from harness import REPO, WorkerTestCase
from test_simulation import LOAD_GEN, PYTHON, VERIFY, read_rows, write_trace

CALIBRATE = os.path.join(REPO, "tools", "calibrate", "calibrate.py")
SOLO = 4


class CalibrateTest(WorkerTestCase):
    CONFIG = {"container_resources": {"cpu_count": 4, "memory_mb": 1024}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="ilu-calibrate-")
        cls.base = os.path.join(cls.tmp, "base.json")
        with open(cls.base, "w") as f:
            json.dump({"container_resources": {"cpu_count": 2, "memory_mb": 1024}}, f)
        cls.out = os.path.join(cls.tmp, "calibration.json")
        cls.written = os.path.join(cls.tmp, "calibrated.json")
        cls.calibrated = subprocess.run(
            [PYTHON, CALIBRATE, "--port", str(cls.worker.port), "--out", cls.out, "--solo", str(SOLO), "--reps", "1",
             "--concurrency", "2", "--cpu-ms", "50", "--cpus", "2", "--exec-cpu-pct", "5", "--worker-config", cls.base,
             "--write-config", cls.written], capture_output=True, text=True, timeout=300)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if os.environ.get("ILU_E2E_KEEP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def calibration(self):
        self.assertEqual(self.calibrated.returncode, 0, self.calibrated.stderr[-3000:])
        with open(self.out) as f:
            return json.load(f)

    def test_measurements_fit_and_factors(self):
        c = self.calibration()
        m = c["measurements"]
        self.assertEqual(len(m["solo_start_ms"]), SOLO)
        self.assertTrue(all(s > 1 for s in m["solo_start_ms"]), m)
        self.assertEqual(len(m["concurrent_start_ms"]["2"]), 2)
        self.assertEqual(sorted(m["cpu_bound_exec_ms"]), ["1", "2"])
        # a 50 ms busy loop takes at least its CPU time
        self.assertGreaterEqual(min(m["cpu_bound_exec_ms"]["1"]), 45, m)
        sim = c["simulation"]
        self.assertEqual(sim["container_start_ms"], max(1, round(statistics.median(m["solo_start_ms"]))))
        self.assertEqual(sim["host_cpus"], 2)
        self.assertEqual(sim["exec_cpu_pct"], 5)  # --exec-cpu-pct wins over the CPU-bound fit
        self.assertTrue(1 <= sim["start_cpu_pct"] <= 400, sim)
        f = c["start_factors"]
        self.assertEqual(f, sorted(f))
        self.assertEqual(len(f), SOLO)
        self.assertAlmostEqual(statistics.median(f), 1.0, places=2)

    def test_written_config_is_the_base_with_the_fit(self):
        c = self.calibration()
        with open(self.written) as f:
            cfg = json.load(f)
        self.assertEqual(cfg["container_resources"], {"cpu_count": 2, "memory_mb": 1024})
        self.assertEqual(cfg["simulation"]["calibration_file"], os.path.abspath(self.out))
        for k, v in c["simulation"].items():
            self.assertEqual(cfg["simulation"][k], v)

    def simulate(self, cfg_path, name):
        trace, meta = write_trace(self.tmp, [(f"f{i}", i * 1000.0) for i in range(12)],
                                  [(f"f{i}", 60, 20, 64, 0) for i in range(12)])
        out = os.path.join(self.tmp, name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_WORKER__")}
        return out, subprocess.run(
            [LOAD_GEN, "--setup", "simulation", "--out", out, "--no-plots", "--quiet", "trace", "--input", trace,
             "--metadata", meta, "--worker-config", cfg_path], capture_output=True, text=True, timeout=120,
            cwd=REPO, env=env)

    def test_simulation_draws_start_ups_from_the_factors(self):
        c = self.calibration()
        runs = []
        for name in ("sim-a", "sim-b"):
            out, r = self.simulate(self.written, name)
            self.assertEqual(r.returncode, 0, r.stderr[-3000:])
            v = subprocess.run([PYTHON, VERIFY, out], capture_output=True, text=True, timeout=120)
            self.assertEqual(v.returncode, 0, v.stdout[-2000:])
            with open(os.path.join(out, "invocations.csv")) as f:
                runs.append(f.read())
            with open(os.path.join(out, "summary.json")) as f:
                used = json.load(f)["inputs"]["simulation"]
            self.assertEqual(used["start_factors"], SOLO)
            self.assertEqual(used["calibration_file"], os.path.abspath(self.out))
            self.assertEqual(used["container_start_ms"], c["simulation"]["container_start_ms"])
        self.assertEqual(runs[0], runs[1])  # seeded: the same results
        starts = [float(r["container_start_ms"]) for r in read_rows(os.path.join(self.tmp, "sim-a", "invocations.csv"))]
        self.assertEqual(len(starts), 12)  # 12 functions, each cold once
        lo, hi = min(c["start_factors"]), max(c["start_factors"])
        med = c["simulation"]["container_start_ms"]
        for s in starts:  # within the measured spread (1 ms for rounding)
            self.assertGreaterEqual(s, lo * med - 1)
            self.assertLessEqual(s, hi * med + 1)
        if hi - lo > 0.01:
            self.assertGreater(len(set(starts)), 1, starts)

    def test_bad_calibration_files_are_refused(self):
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            json.dump({"measurements": {}}, f)
        for path, says in ((os.path.join(self.tmp, "missing.json"), "cannot read"),
                           (bad, "no \"start_factors\" array")):
            cfg = os.path.join(self.tmp, "bad-worker.json")
            with open(cfg, "w") as f:
                json.dump({"simulation": {"calibration_file": path}}, f)
            _, r = self.simulate(cfg, "bad")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("simulation.calibration_file", r.stderr)
            self.assertIn(says, r.stderr)


if __name__ == "__main__":
    unittest.main()
