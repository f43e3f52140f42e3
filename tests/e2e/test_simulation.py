"""iluvatar_load_gen trace --setup simulation (DESIGN.md "Simulation from the
same code"): the worker's own core run in-process on a discrete-event clock.
No worker is started. Small hand-made traces whose answers are known (cold
starts, states, latencies to the microsecond), byte-identical repeats, seeded
jitter, bad worker configs and functions refused with a clear message, queue
overflow reported as rows, and a loose speed smoke check."""
import csv
import hashlib
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import BUILD, REPO

LOAD_GEN = os.path.join(BUILD, "iluvatar_load_gen")
VERIFY = os.path.join(REPO, "scripts", "verify_results.py")
PYTHON = "/usr/bin/python3"
PLOTS = ("latency_cdf.png", "latency_over_time.png", "cold_starts_over_time.png")

DURATION_MS = 60000
# name, cold_dur_ms, warm_dur_ms, mem_mb, period_ms: each function is called
# every period, far longer than its cold call (85 ms start + cold), so one
# container per function always suffices
FUNCS = [
    ("fa", 100, 20, 128, 400),
    ("fb", 200, 50, 128, 600),
    ("fc", 150, 30, 128, 900),
]
START_MS = 85.0      # simulation.container_start_ms default
OVERHEAD_MS = 0.4    # simulation.invoke_overhead_us default
NETWORK_MS = 0.3     # --sim-network-us default, half each way
BASE_CONFIG = {"container_resources": {"cpu_count": 4, "memory_mb": 2048}}


def make_events():
    events = []
    for name, _, _, _, period in FUNCS:
        offset = {"fa": 0, "fb": 130, "fc": 270}[name]  # never two at once
        events += [(name, t) for t in range(offset, DURATION_MS, period)]
    events.sort(key=lambda e: e[1])
    return events


def write_trace(folder, events, funcs=FUNCS, name="trace.csv"):
    trace = os.path.join(folder, name)
    meta = os.path.join(folder, "meta_" + name)
    with open(trace, "w") as f:
        f.write("func_name,invoke_time_ms\n")
        f.writelines(f"{n},{t}\n" for n, t in events)
    with open(meta, "w") as f:
        f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\n")
        f.writelines(f"{fn[0]},{fn[1]},{fn[2]},{fn[3]}\n" for fn in funcs)
    return trace, meta


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class SimulationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(LOAD_GEN, os.X_OK):
            raise unittest.SkipTest(f"{LOAD_GEN} is missing; build it with `make`")
        cls.tmp = tempfile.mkdtemp(prefix="ilu-sim-e2e-")
        cls.events = make_events()
        cls.trace, cls.meta = write_trace(cls.tmp, cls.events)
        h = subprocess.run([LOAD_GEN, "--help"], capture_output=True, text=True)
        help_text = h.stdout + h.stderr
        cls.no_plots = ["--no-plots"] if "--no-plots" in help_text else []

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("ILU_E2E_KEEP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def config_file(self, cfg, name):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def simulate(self, out_name, *extra, trace=None, meta=None, config=BASE_CONFIG, env_extra=None,
                 plots=False, config_name=None, timeout=120):
        """Run the simulation into tmp/out_name; returns (out_dir, CompletedProcess)."""
        out = os.path.join(self.tmp, out_name)
        shutil.rmtree(out, ignore_errors=True)
        cmd = [LOAD_GEN, "--setup", "simulation", "--out", out]
        if not plots:
            cmd += self.no_plots
        cmd += ["trace", "--input", trace or self.trace, "--metadata", meta or self.meta, *extra]
        if config is not None:
            cmd += ["--worker-config", self.config_file(config, config_name or out_name + ".worker.json")]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_WORKER__")}
        env.update(env_extra or {})
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)
        return out, r

    def assert_ok(self, out, r):
        self.assertEqual(r.returncode, 0, f"exit {r.returncode}\nstderr:\n{r.stderr[-3000:]}")
        v = subprocess.run([PYTHON, VERIFY, out], capture_output=True, text=True, timeout=120)
        self.assertEqual(v.returncode, 0, f"verify_results.py {out}:\n{v.stdout[-3000:]}{v.stderr[-2000:]}")
        rows = read_rows(os.path.join(out, "invocations.csv"))
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        return rows, summary

    def assert_refused(self, r, *needles):
        self.assertNotEqual(r.returncode, 0, f"expected a refusal, got exit 0\nstderr:\n{r.stderr[-2000:]}")
        self.assertNotIn("Traceback", r.stderr)
        self.assertNotIn("AddressSanitizer", r.stderr)
        for needle in needles:
            self.assertIn(needle, r.stderr, f"the error should name {needle!r}; stderr:\n{r.stderr[-2000:]}")

    # ---- known answers ---------------------------------------------------------

    def check_rows_follow_trace(self, rows, events):
        self.assertEqual(len(rows), len(events), "one CSV row per trace row")
        self.assertEqual(len({r["tid"] for r in rows}), len(rows), "tids are unique")
        for row, (name, t) in zip(rows, events):
            self.assertEqual(row["function_name"], name)
            self.assertAlmostEqual(float(row["scheduled_ms"]), t, places=3)
            # the simulated client is never late
            self.assertEqual(float(row["lateness_ms"]), 0.0, row)
            self.assertEqual(row["send_ms"], row["scheduled_ms"], row)

    def test_cold_once_per_function_without_prewarm(self):
        out, r = self.simulate("plain")
        rows, summary = self.assert_ok(out, r)
        self.check_rows_follow_trace(rows, self.events)
        self.assertEqual(summary["setup"], "simulation")
        self.assertEqual(summary["mode"], "trace")
        self.assertEqual(summary["invocations"], len(self.events))
        self.assertEqual(summary["failures"], 0)
        self.assertEqual(summary["lateness_ms"]["max"], 0.0)
        self.assertEqual(summary["container_states"],
                         {"cold": 3, "prewarm": 0, "warm": len(self.events) - 3, "error": 0})
        timings = {name: (cold, warm) for name, cold, warm, _, _ in FUNCS}
        seen = set()
        for row in rows:
            name = row["function_name"]
            cold, warm = timings[name]
            self.assertEqual(row["success"], "1", row)
            self.assertEqual(row["http_status"], "200", row)
            self.assertEqual(float(row["queue_ms"]), 0.0, row)
            if name not in seen:  # the first call of each function, and only it
                seen.add(name)
                self.assertEqual(row["container_state"], "cold", row)
                self.assertAlmostEqual(float(row["container_start_ms"]), START_MS, places=3)
                self.assertAlmostEqual(float(row["exec_ms"]), cold, places=3)
                e2e = START_MS + cold + OVERHEAD_MS + NETWORK_MS
            else:
                self.assertEqual(row["container_state"], "warm", row)
                self.assertAlmostEqual(float(row["exec_ms"]), warm, places=3)
                e2e = warm + OVERHEAD_MS + NETWORK_MS
            self.assertAlmostEqual(float(row["e2e_ms"]), e2e, places=3, msg=row)
            self.assertAlmostEqual(float(row["end_ms"]), float(row["scheduled_ms"]) + e2e, places=3, msg=row)
        sim = summary["inputs"]["simulation"]
        self.assertEqual((sim["cpu_count"], sim["memory_mb"]), (4, 2048))
        for name, *_ in FUNCS:
            self.assertEqual(summary["per_function"][name]["container_states"]["cold"], 1)

    def test_prewarm_one_means_no_cold_start(self):
        out, r = self.simulate("prewarm", "--prewarm", "1")
        rows, summary = self.assert_ok(out, r)
        self.check_rows_follow_trace(rows, self.events)
        self.assertEqual(summary["container_states"],
                         {"cold": 0, "prewarm": 3, "warm": len(self.events) - 3, "error": 0})
        firsts = {}
        for row in rows:
            firsts.setdefault(row["function_name"], row)
        for name, cold, _, _, _ in FUNCS:
            self.assertEqual(firsts[name]["container_state"], "prewarm")
            self.assertAlmostEqual(float(firsts[name]["container_start_ms"]), 0.0, places=3)
            # the container's first call takes the cold time, as the synthetic function does live
            self.assertAlmostEqual(float(firsts[name]["exec_ms"]), cold, places=3)

    def test_lru_in_a_pool_for_one_is_always_cold(self):
        # two 200 MB functions alternating in a 256 MB pool: every call evicts the other
        funcs = [("ga", 50, 10, 200, 0), ("gb", 50, 10, 200, 0)]
        events = [("ga" if i % 2 == 0 else "gb", i * 500) for i in range(40)]
        trace, meta = write_trace(self.tmp, events, funcs, name="lru.csv")
        out, r = self.simulate("lru256", trace=trace, meta=meta,
                               config={"container_resources": {"cpu_count": 1, "memory_mb": 256}})
        rows, summary = self.assert_ok(out, r)
        self.assertEqual(summary["container_states"]["cold"], 40)
        out, r = self.simulate("lru512", trace=trace, meta=meta,
                               config={"container_resources": {"cpu_count": 1, "memory_mb": 512}})
        rows, summary = self.assert_ok(out, r)
        self.assertEqual(summary["container_states"], {"cold": 2, "prewarm": 0, "warm": 38, "error": 0})

    # ---- determinism -----------------------------------------------------------

    def test_same_inputs_give_byte_identical_results(self):
        # the same worker config file too: its path is one of the inputs summary.json records
        out1, r1 = self.simulate("det1", "--prewarm", "1", plots=True, config_name="det.worker.json")
        out2, r2 = self.simulate("det2", "--prewarm", "1", plots=True, config_name="det.worker.json")
        self.assert_ok(out1, r1)
        self.assert_ok(out2, r2)
        for name in ("invocations.csv", "summary.json"):
            self.assertEqual(read_bytes(os.path.join(out1, name)), read_bytes(os.path.join(out2, name)),
                             f"{name} differs between two identical simulations")
        # PNGs are noted, not asserted (they depend on the plotting library)
        same = [p for p in PLOTS if os.path.exists(os.path.join(out1, p)) and os.path.exists(os.path.join(out2, p))
                and read_bytes(os.path.join(out1, p)) == read_bytes(os.path.join(out2, p))]
        print(f"\n    plots byte-identical across the two runs: {len(same)} of {len(PLOTS)} {same}")

    def test_run_json_says_how_the_folder_was_made(self):
        out, r = self.simulate("manifest", "--prewarm", "1")
        self.assert_ok(out, r)
        with open(os.path.join(out, "run.json")) as f:
            m = json.load(f)
        with open(os.path.join(REPO, "VERSION")) as f:
            self.assertEqual(m["version"], f.read().strip())
        self.assertRegex(m["commit"], r"^([0-9a-f]{7,}(-dirty)?|unknown)$")
        self.assertEqual(m["command_line"][0], LOAD_GEN)
        self.assertIn("--prewarm", m["command_line"])
        self.assertEqual(m["command_line"][m["command_line"].index("--input") + 1], self.trace)
        self.assertEqual((m["mode"], m["target"]), ("trace", {"kind": "worker", "setup": "simulation"}))
        self.assertEqual(m["host"]["cpus_online"], os.cpu_count())
        for key, path in (("input", self.trace), ("metadata", self.meta)):
            with open(path, "rb") as f:
                self.assertEqual(m["input_files"][key]["sha256"], hashlib.sha256(f.read()).hexdigest(), key)
        self.assertIn("sha256", m["input_files"]["worker_config"])
        # what each function was simulated with: the metadata's times and the default start-up
        for name, cold, warm, mem, _ in FUNCS:
            fn = m["functions"][name]
            self.assertEqual((fn["cold_exec_ms"], fn["warm_exec_ms"], fn["container_start_ms"], fn["prewarms"]),
                             (cold, warm, START_MS, 1), name)
        cfg = m["simulated_worker_config"]
        self.assertEqual((cfg["container_resources"]["cpu_count"], cfg["container_resources"]["memory_mb"]),
                         (4, 2048))
        self.assertEqual(cfg["simulation"]["container_start_ms"], START_MS)

    def test_status_csv_samples_the_simulated_worker_every_second(self):
        out, r = self.simulate("status", "--prewarm", "1")
        self.assert_ok(out, r)
        rows = read_rows(os.path.join(out, "status.csv"))
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        t = [float(x["t_ms"]) for x in rows]
        # t = 0 (after the prewarms), every simulated second, and the end
        self.assertEqual(t[:3], [0.0, 1000.0, 2000.0])
        self.assertGreaterEqual(t[-1], max(e for _, e in self.events))
        self.assertEqual(len(t), int(t[-2] // 1000) + 2, "one row per second, then the end")
        self.assertEqual({x["worker"] for x in rows}, {"worker"})
        self.assertEqual(rows[0]["num_containers"], str(len(FUNCS)))  # the prewarmed ones
        self.assertEqual(int(rows[-1]["invocations"]) - int(rows[0]["invocations"]), len(self.events))
        self.assertEqual(summary["pool"], {"evictions": 0, "keepalive_removals": 0, "containers_started": 0,
                                           "workers": 1, "status_every_ms": 1000})

    def test_repeat_runs_each_seed_and_summarises_medians_with_a_ci(self):
        jittery = {**BASE_CONFIG, "simulation": {"jitter_pct": 20}}
        out, r = self.simulate("reps", "--repeat", "6", config=jittery, config_name="reps.worker.json")
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        for k in range(1, 7):
            self.assert_ok(os.path.join(out, f"rep-{k}"), r)
        self.assertEqual(sorted(os.listdir(out)), ["rep-1", "rep-2", "rep-3", "rep-4", "rep-5", "rep-6",
                                                   "summary.json"])
        reps = []
        for k in range(1, 7):
            with open(os.path.join(out, f"rep-{k}", "summary.json")) as f:
                reps.append(json.load(f))
            self.assertEqual(reps[-1]["inputs"]["repetition"], k)
            self.assertTrue(os.path.exists(os.path.join(out, f"rep-{k}", "run.json")))
        # repetition k jitters with seed + k - 1: rep-1 is the single run, the others differ
        single, r1 = self.simulate("reps-single", config=jittery, config_name="reps.worker.json")
        self.assert_ok(single, r1)
        self.assertEqual(read_bytes(os.path.join(out, "rep-1", "invocations.csv")),
                         read_bytes(os.path.join(single, "invocations.csv")))
        self.assertNotEqual(read_bytes(os.path.join(out, "rep-1", "invocations.csv")),
                            read_bytes(os.path.join(out, "rep-2", "invocations.csv")))
        with open(os.path.join(out, "summary.json")) as f:
            agg = json.load(f)
        self.assertEqual((agg["repetitions"], agg["setup"], agg["runs"][0]), (6, "simulation", "rep-1"))
        p50 = agg["aggregate"]["latency_ms.p50"]
        values = [x["latency_ms"]["p50"] for x in reps]
        self.assertEqual(p50["values"], values)
        v = sorted(values)
        self.assertAlmostEqual(p50["median"], (v[2] + v[3]) / 2, places=9)
        self.assertEqual(p50["ci95"], [v[0], v[5]])  # six repetitions: the 96.9 % interval is [min, max]
        self.assertAlmostEqual(p50["coverage"], 1 - 2 / 64, places=12)
        self.assertEqual(set(agg["per_function"]), {name for name, *_ in FUNCS})
        # scripts/compare_results.py reads the folder as one run with the same medians
        c = subprocess.run([PYTHON, os.path.join(REPO, "scripts", "compare_results.py"), out, "--no-plot"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(c.returncode, 0, c.stderr)
        self.assertIn("6 repetitions", c.stdout)
        bad, r2 = self.simulate("reps-bad", "--repeat", "0")
        self.assertEqual(r2.returncode, 64, r2.stderr)
        self.assertIn("--repeat must be a number of runs in [1, 1000]", r2.stderr)

    def test_jitter_is_reproducible_with_its_seed(self):
        cfg = json.loads(json.dumps(BASE_CONFIG))
        cfg["simulation"] = {"jitter_pct": 10, "seed": 1}
        out1, r1 = self.simulate("jit1a", config=cfg, config_name="jit.worker.json")
        out2, r2 = self.simulate("jit1b", config=cfg, config_name="jit.worker.json")
        # seed 2 through the environment override, over the same file
        out3, r3 = self.simulate("jit2", config=cfg, env_extra={"ILUVATAR_WORKER__simulation__seed": "2"})
        rows1, s1 = self.assert_ok(out1, r1)
        self.assert_ok(out2, r2)
        rows3, s3 = self.assert_ok(out3, r3)
        self.assertEqual(s1["inputs"]["simulation"]["seed"], 1)
        self.assertEqual(s3["inputs"]["simulation"]["seed"], 2)
        csv1 = read_bytes(os.path.join(out1, "invocations.csv"))
        self.assertEqual(csv1, read_bytes(os.path.join(out2, "invocations.csv")), "same seed, different CSV")
        self.assertNotEqual(csv1, read_bytes(os.path.join(out3, "invocations.csv")), "another seed, same CSV")
        timings = {name: (cold, warm) for name, cold, warm, _, _ in FUNCS}
        execs = []
        for row in rows1 + rows3:
            cold, warm = timings[row["function_name"]]
            base = cold if row["container_state"] == "cold" else warm
            x = float(row["exec_ms"])
            self.assertGreaterEqual(x, base * 0.9 - 0.001, row)
            self.assertLessEqual(x, base * 1.1 + 0.001, row)
            execs.append(x / base)
        self.assertGreater(len({round(e, 4) for e in execs}), len(execs) // 2, "jitter does not vary")

    # ---- bad input ---------------------------------------------------------------

    def test_function_larger_than_the_pool_is_refused_naming_it(self):
        funcs = FUNCS + [("fbig", 100, 20, 512, 0)]
        events = sorted(self.events + [("fbig", 1000)], key=lambda e: e[1])
        trace, meta = write_trace(self.tmp, events, funcs, name="big.csv")
        out, r = self.simulate("big", trace=trace, meta=meta,
                               config={"container_resources": {"cpu_count": 2, "memory_mb": 256}})
        self.assert_refused(r, "fbig", "container_resources.memory_mb")
        self.assertFalse(os.path.exists(os.path.join(out, "invocations.csv")), "nothing written on a refusal")

    def test_unknown_worker_config_key_is_refused_naming_it(self):
        out, r = self.simulate("badkey", config={"container_resources": {"memroy_mb": 512}})
        self.assert_refused(r, "container_resources.memroy_mb")
        out, r = self.simulate("badenv", env_extra={"ILUVATAR_WORKER__simulation__sed": "3"})
        self.assert_refused(r, "simulation.sed")

    def test_backend_that_cannot_be_simulated_is_refused(self):
        out, r = self.simulate("bogus", config={"container_resources": {"backend": "bogus"}})
        self.assert_refused(r, "bogus")

    def test_config_values_out_of_range_are_refused(self):
        out, r = self.simulate("jit100", config={"simulation": {"jitter_pct": 100}})
        self.assert_refused(r, "simulation.jitter_pct")
        out, r = self.simulate("evict", config={"container_resources": {"eviction": "nope"}})
        self.assert_refused(r, "container_resources.eviction")
        out, r = self.simulate("notjson", config=None, env_extra={"ILUVATAR_WORKER__simulation__seed": "x"})
        self.assert_refused(r, "ILUVATAR_WORKER__simulation__seed")

    def test_queue_overflow_is_reported_as_rows(self):
        # one CPU, a queue of 1, 2-second calls 10 ms apart: the first runs,
        # the second waits, the other 4 are dropped at once with 429
        funcs = [("slow", 2000, 2000, 128, 0)]
        events = [("slow", i * 10) for i in range(6)]
        trace, meta = write_trace(self.tmp, events, funcs, name="overflow.csv")
        out, r = self.simulate("overflow", trace=trace, meta=meta,
                               config={"container_resources": {"cpu_count": 1},
                                       "invocation": {"max_queue_len": 1}})
        rows, summary = self.assert_ok(out, r)
        self.assertEqual(len(rows), 6, "every trace row has a result row, drops included")
        self.assertEqual([row["success"] for row in rows], ["1", "1", "0", "0", "0", "0"])
        for row in rows[2:]:
            self.assertEqual(row["error_kind"], "queue_full", row)
            self.assertEqual(row["http_status"], "429", row)
            self.assertTrue(row["error"], row)
        self.assertEqual(summary["failures"], 4)
        self.assertEqual(summary["errors_by_kind"], {"queue_full": 4})
        # the second call waited exactly for the first: 85 ms start + 2000 ms + 0.4 ms, less its 10 ms later arrival
        self.assertAlmostEqual(float(rows[1]["queue_ms"]), START_MS + 2000 + OVERHEAD_MS - 10, places=3)

    # ---- speed --------------------------------------------------------------------

    def test_speed_smoke_200k_rows(self):
        n, n_fns, span_ms = 200000, 20, 4000 * 1000
        rng = random.Random(5)
        funcs = [(f"s{i:02d}", 100 + 10 * i, 5 + 5 * i, 64 + 16 * i, 0) for i in range(n_fns)]
        times = sorted(round(rng.uniform(0, span_ms), 3) for _ in range(n))
        events = [(funcs[rng.randrange(n_fns)][0], t) for t in times]
        trace, meta = write_trace(self.tmp, events, funcs, name="big200k.csv")
        t0 = time.monotonic()
        out, r = self.simulate("speed", "--prewarm", "1", trace=trace, meta=meta,
                               config={"container_resources": {"cpu_count": 4, "memory_mb": 4096}})
        wall = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        rows = read_rows(os.path.join(out, "invocations.csv"))
        self.assertEqual(len(rows), n)
        rate_line = [line for line in r.stderr.splitlines() if "invocations/s" in line]
        print(f"\n    200k-row simulation: {wall:.2f} s wall for the whole run ({n / wall:.0f} rows/s, "
              f"results writing included{', plots off' if self.no_plots else ''})"
              + (f"\n    load_gen says: {rate_line[-1]}" if rate_line else ""))
        self.assertLess(wall, 30.0, "pathologically slow simulation")


if __name__ == "__main__":
    unittest.main()
