"""iluvatar_load_gen trace --setup simulation --target controller: the
controller core routing a trace to N simulated worker cores, all in-process on
one discrete-event clock (DESIGN.md "Simulation from the same code", "The
controller"). No daemon is started.

A small uniform trace on 3 workers: one row per trace row, results that
scripts/verify_results.py accepts, workers.csv and summary.json's per_worker
counts agreeing with each other, CH-BL keeping each function on one worker
while RoundRobin spreads every function evenly, LeastLoaded spreading load,
byte-identical repeats, and bad input refused with exit 64."""
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
VERIFY = os.path.join(REPO, "scripts", "verify_results.py")
PYTHON = "/usr/bin/python3"

WORKERS = 3
# name, cold_dur_ms, warm_dur_ms, mem_mb
FUNCS = [("fa", 120, 20, 128), ("fb", 150, 30, 128), ("fc", 90, 10, 128), ("fd", 200, 40, 128)]
STEP_MS = 50      # one invocation every 50 ms, the functions in strict turn
DURATION_MS = 60000
# room for 3 of the 4 functions' containers: a worker that serves every
# function (round robin) keeps evicting; one that serves its share does not
CONFIG = {"container_resources": {"cpu_count": 4, "memory_mb": 384}}


def write_trace(folder):
    """A uniform trace: fa fb fc fd fa fb ... every STEP_MS. With 4 functions
    and 3 workers in turn, round robin gives each function every worker
    equally often."""
    trace, meta = os.path.join(folder, "trace.csv"), os.path.join(folder, "meta.csv")
    with open(trace, "w") as f:
        f.write("func_name,invoke_time_ms\n")
        for k, t in enumerate(range(0, DURATION_MS, STEP_MS)):
            f.write(f"{FUNCS[k % len(FUNCS)][0]},{t}\n")
    with open(meta, "w") as f:
        f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\n")
        f.writelines(f"{n},{c},{w},{m}\n" for n, c, w, m in FUNCS)
    return trace, meta, DURATION_MS // STEP_MS


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class SimClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(LOAD_GEN, os.X_OK):
            raise unittest.SkipTest(f"{LOAD_GEN} is missing; build it with `make`")
        cls.tmp = tempfile.mkdtemp(prefix="ilu-simcluster-e2e-")
        cls.trace, cls.meta, cls.n_rows = write_trace(cls.tmp)
        cls.config = os.path.join(cls.tmp, "worker.json")
        with open(cls.config, "w") as f:
            json.dump(CONFIG, f)
        cls.runs = {}

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("ILU_E2E_KEEP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def simulate(self, out_name, *extra, policy=None, workers=WORKERS, lg_global=(), timeout=120):
        out = os.path.join(self.tmp, out_name)
        shutil.rmtree(out, ignore_errors=True)
        cmd = [LOAD_GEN, "--setup", "simulation", "--target", "controller", "--out", out, "--no-plots",
               *lg_global, "trace", "--input", self.trace, "--metadata", self.meta, "--worker-config", self.config]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        cmd += list(extra)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("ILUVATAR_WORKER__") and not k.startswith("ILUVATAR_CONTROLLER__")}
        if policy:
            env["ILUVATAR_CONTROLLER__load_balancer__algorithm"] = policy
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)
        return out, r

    def run_policy(self, policy):
        """One run per policy, shared by the tests; checks what every run must satisfy."""
        if policy not in self.runs:
            out, r = self.simulate("out-" + policy, policy=policy)
            self.assertEqual(r.returncode, 0, f"{policy}: exit {r.returncode}\nstderr:\n{r.stderr[-3000:]}")
            self.runs[policy] = out
        out = self.runs[policy]
        rows = read_rows(os.path.join(out, "invocations.csv"))
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        workers = read_rows(os.path.join(out, "workers.csv"))
        return out, rows, summary, workers

    def spread(self, policy):
        """{function: Counter(worker -> invocations)} from workers.csv."""
        _, rows, _, workers = self.run_policy(policy)
        by_fn = defaultdict(Counter)
        for w in workers:
            by_fn[w["function_name"]][w["worker"]] += 1
        return by_fn

    def test_results_folder(self):
        for policy in ("RoundRobin", "LeastLoaded", "CH-BL"):
            with self.subTest(policy=policy):
                out, rows, summary, workers = self.run_policy(policy)
                self.assertEqual(len(rows), self.n_rows)
                self.assertTrue(all(r["success"] == "1" for r in rows), "an invocation failed")
                v = subprocess.run([PYTHON, VERIFY, out], capture_output=True, text=True, timeout=120)
                self.assertEqual(v.returncode, 0, f"verify_results.py {out}:\n{v.stdout[-3000:]}{v.stderr[-2000:]}")
                self.assertEqual(summary["target"], "controller")
                self.assertEqual(summary["setup"], "simulation")
                cluster = summary["inputs"]["cluster"]
                self.assertEqual(cluster["workers"], WORKERS)
                self.assertEqual(cluster["load_balancer"], policy)
                # workers.csv: one row per invocation, in the CSV's order, every one answered
                self.assertEqual([w["tid"] for w in workers], [r["tid"] for r in rows])
                self.assertEqual([w["function_name"] for w in workers], [r["function_name"] for r in rows])
                names = {f"worker-{i}" for i in range(WORKERS)}
                self.assertTrue(all(w["worker"] in names for w in workers))
                # per_worker agrees with workers.csv and the states in the CSV
                per = summary["inputs"]["per_worker"]
                self.assertEqual(set(per), names)
                counts = Counter(w["worker"] for w in workers)
                state_of = {r["tid"]: r["container_state"] for r in rows}
                for name in names:
                    mine = [state_of[w["tid"]] for w in workers if w["worker"] == name]
                    self.assertEqual(per[name]["invocations"], counts[name])
                    self.assertEqual(per[name]["cold"], mine.count("cold"))
                    self.assertEqual(per[name]["warm"], mine.count("warm"))
                    self.assertEqual(per[name]["errors"], 0)
                self.assertEqual(sum(p["cold"] for p in per.values()), summary["container_states"]["cold"])

    def test_ch_bl_keeps_each_function_on_one_worker(self):
        for fn, c in self.spread("CH-BL").items():
            top = c.most_common(1)[0][1]
            self.assertGreater(top / sum(c.values()), 0.8, f"{fn} spread over {dict(c)} under CH-BL")
        # locality pays: far fewer cold starts than round robin on the same memory
        cold = {p: self.run_policy(p)[2]["container_states"]["cold"] for p in ("CH-BL", "RoundRobin")}
        self.assertLess(cold["CH-BL"] * 4, cold["RoundRobin"], cold)

    def test_round_robin_spreads_every_function(self):
        for fn, c in self.spread("RoundRobin").items():
            total = sum(c.values())
            self.assertEqual(len(c), WORKERS, f"{fn} reached only {dict(c)} under RoundRobin")
            for worker, k in c.items():
                self.assertLessEqual(abs(k - total / WORKERS), 0.2 * total / WORKERS, f"{fn}: {dict(c)}")
        _, _, summary, _ = self.run_policy("RoundRobin")
        per = summary["inputs"]["per_worker"]
        for name, p in per.items():
            self.assertLessEqual(abs(p["invocations"] - self.n_rows / WORKERS), 0.2 * self.n_rows / WORKERS, per)
        # every function starts cold on every worker it reaches
        self.assertGreaterEqual(summary["container_states"]["cold"], len(FUNCS) * WORKERS)

    def test_least_loaded_uses_every_worker(self):
        _, _, summary, _ = self.run_policy("LeastLoaded")
        per = summary["inputs"]["per_worker"]
        self.assertTrue(all(p["invocations"] > 0 for p in per.values()), per)

    def test_deterministic(self):
        for policy in ("CH-BL", "LeastLoaded"):
            with self.subTest(policy=policy):
                first, _, _, _ = self.run_policy(policy)
                again, r = self.simulate("again-" + policy, policy=policy)
                self.assertEqual(r.returncode, 0, r.stderr[-2000:])
                for name in ("invocations.csv", "summary.json", "workers.csv"):
                    self.assertEqual(read_bytes(os.path.join(first, name)), read_bytes(os.path.join(again, name)),
                                     f"{name} differs between two identical runs of {policy}")

    def test_controller_config_file_and_prewarm(self):
        cfg = os.path.join(self.tmp, "controller.json")
        with open(cfg, "w") as f:
            json.dump({"load_balancer": {"algorithm": "CH-BL", "bound_pct": 150}, "health": {"status_freq_ms": 100}}, f)
        # the environment overrides the file, as for every program
        out, r = self.simulate("cfgfile", "--controller-config", cfg, "--prewarm", "1", policy="RoundRobin")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        with open(os.path.join(out, "summary.json")) as f:
            self.assertEqual(json.load(f)["inputs"]["cluster"]["load_balancer"], "RoundRobin")
        out, r = self.simulate("cfgfile", "--controller-config", cfg, "--prewarm", "1")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        cluster = summary["inputs"]["cluster"]
        self.assertEqual(cluster["load_balancer"], "CH-BL")
        self.assertEqual(cluster["bound_pct"], 150)
        self.assertEqual(cluster["status_freq_ms"], 100)
        self.assertEqual(cluster["controller_config"], cfg)
        # one prewarmed container per function, placed by the balancer on the
        # function's home worker, where its first call finds it
        self.assertEqual(summary["container_states"]["prewarm"], len(FUNCS))

    def test_bad_input(self):
        # () : --workers is required for a simulated cluster
        for extra in (("--workers", "0"), ("--workers", "x"), ("--workers", "2000"), ()):
            with self.subTest(extra=extra):
                out, r = self.simulate("bad", *extra, workers=None)
                self.assertEqual(r.returncode, 64, f"exit {r.returncode}\nstderr:\n{r.stderr[-2000:]}")
                self.assertIn("--workers", r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertFalse(os.path.exists(os.path.join(out, "summary.json")))
        # --workers means nothing to a single simulated worker
        r = subprocess.run([LOAD_GEN, "--setup", "simulation", "--out", os.path.join(self.tmp, "bad2"), "trace",
                            "--input", self.trace, "--metadata", self.meta, "--workers", "3"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 64, r.stderr)
        # an unknown balancer: a clear refusal naming the choices
        out, r = self.simulate("badlb", policy="Random")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("load_balancer.algorithm", r.stderr)
        self.assertIn("CH-BL", r.stderr)
        self.assertNotIn("Traceback", r.stderr)


if __name__ == "__main__":
    unittest.main()
