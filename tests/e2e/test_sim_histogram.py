"""The HYBRID_HISTOGRAM keep-alive policy (docs/policies.md) in the
simulator (iluvatar_load_gen --setup simulation trace): a function called
every 5 minutes for 2 hours is cold once under the histogram policy (warm
while its first idle times are gathered, then pre-warmed before each call),
and cold every time under LRU with a 1 minute fixed keep-alive."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import REPO
from test_simulation import LOAD_GEN, PYTHON, VERIFY, read_rows, write_trace

PERIOD_MS = 5 * 60 * 1000
CALLS = 24
FUNCS = [("periodic", 100, 20, 128, PERIOD_MS)]


class SimHistogramTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(LOAD_GEN, os.X_OK):
            raise unittest.SkipTest(f"{LOAD_GEN} is missing; build it with `make`")
        cls.tmp = tempfile.mkdtemp(prefix="ilu-sim-hist-")
        events = [("periodic", i * PERIOD_MS) for i in range(CALLS)]
        cls.trace, cls.meta = write_trace(cls.tmp, events, FUNCS)

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("ILU_E2E_KEEP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def simulate(self, name, container_resources):
        cfg_path = os.path.join(self.tmp, name + ".worker.json")
        with open(cfg_path, "w") as f:
            json.dump({"container_resources": {"cpu_count": 1, "memory_mb": 1024, **container_resources}}, f)
        out = os.path.join(self.tmp, name)
        cmd = [LOAD_GEN, "--setup", "simulation", "--out", out, "--no-plots", "trace", "--input", self.trace,
               "--metadata", self.meta, "--worker-config", cfg_path]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_WORKER__")}
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
        self.assertEqual(r.returncode, 0, f"exit {r.returncode}\nstderr:\n{r.stderr[-3000:]}")
        v = subprocess.run([PYTHON, VERIFY, out], capture_output=True, text=True, timeout=120)
        self.assertEqual(v.returncode, 0, f"verify_results.py {out}:\n{v.stdout[-3000:]}{v.stderr[-2000:]}")
        self.assertEqual(len(read_rows(os.path.join(out, "invocations.csv"))), CALLS)
        with open(os.path.join(out, "summary.json")) as f:
            return json.load(f)["container_states"]

    def test_periodic_function_is_prewarmed_not_cold(self):
        lru = self.simulate("lru", {"eviction": "LRU", "keepalive_sec": 60})
        self.assertEqual(lru["cold"], CALLS, lru)
        hist = self.simulate("hist", {"eviction": "HYBRID_HISTOGRAM", "keepalive_sec": 0})
        self.assertLess(hist["cold"], lru["cold"], hist)
        # cold once; warm for the calls that gather histogram_min_samples (5)
        # idle times; pre-warmed from then on
        self.assertEqual(hist, {"cold": 1, "warm": 5, "prewarm": CALLS - 6, "error": 0})


if __name__ == "__main__":
    unittest.main()
