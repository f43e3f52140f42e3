"""scripts/compare_results.py (docs/compare.md) on real results folders made by
iluvatar_load_gen --setup simulation (no worker needed): its counts and
nearest-rank percentiles equal each folder's summary.json exactly, the
"X vs A" differences are (X - A) / A * 100 of those, a function missing from
a run is blank, a repetitions folder (rep-1 .. rep-N) gives medians and the
order-statistic 95 % CI of the median (n/a below 6 repetitions), the overlay
CDF is drawn, and malformed input is refused with exit 2 naming the file and
line."""
import csv
import importlib.util
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import unittest

from harness import BUILD, REPO

LOAD_GEN = os.path.join(BUILD, "iluvatar_load_gen")
SCRIPT = os.path.join(REPO, "scripts", "compare_results.py")
PYTHON = "/usr/bin/python3"

# name, cold_dur_ms, warm_dur_ms, mem_mb
FUNCS = [("fa", 100, 20, 128), ("fb", 200, 50, 200), ("fc", 150, 30, 100)]
ROOMY = {"container_resources": {"cpu_count": 2, "memory_mb": 2048}}
# 256 MB cannot keep the three functions: evictions, many more cold starts
TIGHT = {"container_resources": {"cpu_count": 2, "memory_mb": 256}}
COUNTS = ("invocations", "successes", "failures")
STATES = ("cold", "prewarm", "warm")
LATENCY = ("p50", "p90", "p99", "mean", "max")


def load_script():
    spec = importlib.util.spec_from_file_location("compare_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def events(n, names, seed):
    """n trace rows, one every ~200 ms, functions drawn with a fixed seed."""
    rng = random.Random(seed)
    return [(rng.choice(names), round(i * 200 + rng.uniform(0, 150), 3)) for i in range(n)]


def expected(summary, function, metric):
    """A figure as summary.json has it (None where the function is absent)."""
    block = summary if function is None else summary["per_function"].get(function)
    if block is None:
        return None
    if metric in COUNTS:
        return block[metric]
    if metric in STATES:
        return block["container_states"][metric]
    return block["latency_ms"][metric]


def csv_metric(metric):
    return metric + "_ms" if metric in LATENCY else metric


class CompareTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(LOAD_GEN, os.X_OK):
            raise unittest.SkipTest(f"{LOAD_GEN} is missing; build it with `make`")
        cls.tmp = tempfile.mkdtemp(prefix="ilu-compare-")
        cls.cmp = load_script()
        names = [f[0] for f in FUNCS]
        cls.trace = cls.write_trace("trace", events(300, names, 3), FUNCS)
        # run C: the same load without fc, so fc is missing from it
        cls.trace_ab = cls.write_trace("trace_ab", events(280, names[:2], 4), FUNCS[:2])
        cls.a = cls.simulate("a", cls.trace, ROOMY)
        cls.b = cls.simulate("b", cls.trace, TIGHT)
        cls.c = cls.simulate("c", cls.trace_ab, ROOMY)
        # repetitions folders as `--repeat N` lays them out: rep-1 .. rep-N
        # (different jitter seeds, so the repetitions differ) and an aggregate
        # summary.json beside them (its content is not used by compare)
        cls.reps3 = cls.repetitions("reps3", 3)
        cls.reps6 = cls.repetitions("reps6", 6)

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("ILU_E2E_KEEP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def write_trace(cls, name, rows, funcs):
        trace = os.path.join(cls.tmp, name + ".csv")
        meta = os.path.join(cls.tmp, name + "_meta.csv")
        with open(trace, "w") as f:
            f.write("func_name,invoke_time_ms\n")
            f.writelines(f"{n},{t}\n" for n, t in rows)
        with open(meta, "w") as f:
            f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\n")
            f.writelines(f"{n},{c},{w},{m}\n" for n, c, w, m in funcs)
        return trace, meta

    @classmethod
    def simulate(cls, out_name, trace, config):
        out = os.path.join(cls.tmp, out_name)
        cfg = os.path.join(cls.tmp, out_name.replace(os.sep, "_") + ".worker.json")
        with open(cfg, "w") as f:
            json.dump(config, f)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_WORKER__")}
        r = subprocess.run([LOAD_GEN, "--setup", "simulation", "--out", out, "--no-plots", "trace",
                            "--input", trace[0], "--metadata", trace[1], "--worker-config", cfg],
                           capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
        if r.returncode != 0:
            raise AssertionError(f"simulation {out_name} failed ({r.returncode}):\n{r.stderr[-3000:]}")
        return out

    @classmethod
    def repetitions(cls, name, n):
        folder = os.path.join(cls.tmp, name)
        for i in range(1, n + 1):
            cfg = json.loads(json.dumps(TIGHT))
            cfg["simulation"] = {"jitter_pct": 20, "seed": i}
            cls.simulate(os.path.join(name, f"rep-{i}"), cls.trace, cfg)
        with open(os.path.join(folder, "summary.json"), "w") as f:
            json.dump({"mode": "trace", "setup": "simulation", "repetitions": n}, f)
        return folder

    @staticmethod
    def summary(folder):
        with open(os.path.join(folder, "summary.json")) as f:
            return json.load(f)

    def compare(self, *args, out=None):
        out = out or tempfile.mkdtemp(prefix="out-", dir=self.tmp)
        r = subprocess.run([PYTHON, SCRIPT, *args, "--out", out], capture_output=True, text=True, timeout=300)
        return out, r

    def compare_ok(self, *args):
        out, r = self.compare(*args)
        self.assertEqual(r.returncode, 0, f"stdout:\n{r.stdout[-2000:]}\nstderr:\n{r.stderr[-2000:]}")
        with open(os.path.join(out, "compare.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        table = {(row["label"], row["function"], row["metric"]): row for row in rows}
        return out, r, table

    # ---- the project's percentile rule ----------------------------------------------

    def test_nearest_rank_is_the_projects_rule(self):
        for n in range(1, 400):
            values = list(range(n))
            for p in (0.1, 1, 25, 50, 90, 95, 99, 99.9, 100):
                rank = min(max(math.ceil(p / 100.0 * n), 1), n)
                self.assertEqual(values[self.cmp.nearest_rank_index(n, p)], values[rank - 1], (n, p))
        # the CSV's 3-decimal milliseconds are read as whole µs, as the load generator keeps them
        self.assertEqual(self.cmp.parse_us("185.700"), 185700)
        self.assertEqual(self.cmp.parse_us("0.001"), 1)
        self.assertEqual(self.cmp.parse_us("5"), 5000)
        self.assertEqual(self.cmp.parse_us("1e-3"), 1)
        self.assertIsNone(self.cmp.parse_us("nan"))
        self.assertIsNone(self.cmp.parse_us("x.yz"))
        # mean: the µs sum over n, rounded to the µs (ilu_dist_mean, then the JSON's rounding)
        self.assertEqual(self.cmp.mean_ms(1000 + 1001 + 1001, 3), 1.001)
        self.assertEqual(self.cmp.mean_ms(1, 2), 0.001)

    def test_figures_equal_each_summary_exactly(self):
        """In memory (no formatting) and through compare.csv: counts and
        p50/p90/p99/mean/max equal summary.json's, overall and per function."""
        for folder in (self.a, self.b, self.c, os.path.join(self.reps3, "rep-2")):
            summary = self.summary(folder)
            self.assertTrue(summary["latency_ms"]["exact"])
            res = self.cmp.read_one(folder)
            self.assertEqual(sorted(res["functions"]), sorted(summary["per_function"]))
            for function in [None] + sorted(summary["per_function"]):
                got = res["overall"] if function is None else res["functions"][function]
                for metric in COUNTS + STATES + LATENCY:
                    self.assertEqual(got[metric], expected(summary, function, metric), (folder, function, metric))
        _, _, table = self.compare_ok(self.a, self.b, self.c, "--no-plot")
        for label, folder in (("a", self.a), ("b", self.b), ("c", self.c)):
            summary = self.summary(folder)
            for function in (None, "fa", "fb", "fc"):
                for metric in COUNTS + STATES + LATENCY:
                    row = table[(label, function or "", csv_metric(metric))]
                    want = expected(summary, function, metric)
                    if want is None:
                        self.assertEqual(row["value"], "", (label, function, metric))
                    elif metric in LATENCY:
                        self.assertEqual(float(row["value"]), want, (label, function, metric))
                    else:
                        self.assertEqual(int(row["value"]), want, (label, function, metric))
        # the two configurations do differ (the comparison is not of equal runs)
        self.assertGreater(int(table[("b", "", "cold")]["value"]), 10 * int(table[("a", "", "cold")]["value"]))

    def test_differences_are_percent_of_the_first_run(self):
        out, r, table = self.compare_ok(self.a, self.b, self.c, "--no-plot", "--labels", "roomy,tight,two")
        sa = self.summary(self.a)
        checked = 0
        for label, folder in (("tight", self.b), ("two", self.c)):
            s = self.summary(folder)
            for function in (None, "fa", "fb", "fc"):
                for metric in COUNTS + STATES + LATENCY:
                    row = table[(label, function or "", csv_metric(metric))]
                    base, value = expected(sa, function, metric), expected(s, function, metric)
                    if value is None:
                        self.assertEqual(row["diff_pct_vs_first"], "")
                        continue
                    if base == 0:
                        self.assertEqual(row["diff_pct_vs_first"], "0.0000" if value == 0 else "n/a")
                        continue
                    by_hand = (value - base) / base * 100.0
                    self.assertAlmostEqual(float(row["diff_pct_vs_first"]), by_hand, delta=5e-5,
                                           msg=(label, function, metric))
                    checked += 1
            # the first run has no difference column of its own
            self.assertEqual(table[("roomy", "", "p50_ms")]["diff_pct_vs_first"], "")
        self.assertGreater(checked, 50)
        # the printed table: "tight vs roomy" column, one decimal and a sign
        header, rows = self.cmp.table([self.cmp.read_run(f) for f in (self.a, self.b, self.c)],
                                      ["roomy", "tight", "two"], None)
        self.assertEqual(header, ["metric", "roomy", "tight", "tight vs roomy", "two", "two vs roomy"])
        p99 = {row[0]: row for row in rows}["p99_ms"]
        sb = self.summary(self.b)
        by_hand = (sb["latency_ms"]["p99"] - sa["latency_ms"]["p99"]) / sa["latency_ms"]["p99"] * 100
        self.assertEqual(p99[1:4], [f"{sa['latency_ms']['p99']:.3f}", f"{sb['latency_ms']['p99']:.3f}",
                                    f"{by_hand:+.1f}%"])
        self.assertIn("tight vs roomy", r.stdout)
        self.assertIn('"X vs roomy" = (X - roomy) / roomy * 100', r.stdout)
        with open(os.path.join(out, "compare.md")) as f:
            self.assertIn("| metric | roomy | tight | tight vs roomy | two | two vs roomy |", f.read())

    def test_function_missing_from_a_run_is_blank(self):
        runs = [self.cmp.read_run(f) for f in (self.a, self.c)]
        header, rows = self.cmp.table(runs, ["a", "c"], "fc")
        for row in rows:
            self.assertNotEqual(row[1], "", row)      # a has fc
            self.assertEqual(row[2:], ["", ""], row)  # c has not: no value, no difference
        # c's functions the other way round: a function only in the second run has no base
        header, rows = self.cmp.table(runs[::-1], ["c", "a"], "fc")
        for row in rows:
            self.assertEqual((row[1], row[3]), ("", ""), row)

    def test_three_repetitions_show_medians_and_no_ci(self):
        out, r, table = self.compare_ok(self.a, self.reps3, "--no-plot")
        reps = [self.summary(os.path.join(self.reps3, f"rep-{i}")) for i in (1, 2, 3)]
        for function in (None, "fa", "fb", "fc"):
            for metric in COUNTS + STATES + LATENCY:
                row = table[("reps3", function or "", csv_metric(metric))]
                values = [expected(s, function, metric) for s in reps]
                self.assertEqual(row["reps"], "3")
                self.assertEqual(float(row["value"]), statistics.median(values), (function, metric))
                self.assertEqual((row["ci_low"], row["ci_high"], row["ci_level"]), ("", "", ""))
                self.assertEqual([float(x) for x in row["rep_values"].split(";")], values)
        # the repetitions do differ (jitter with another seed each)
        self.assertEqual(len({s["latency_ms"]["p50"] for s in reps}), 3)
        self.assertIn("3 repetitions", r.stdout)
        self.assertIn("n/a below 6 repetitions", r.stdout)
        p50 = [line for line in r.stdout.splitlines() if line.startswith("p50_ms")][0]
        self.assertIn(f"{statistics.median(s['latency_ms']['p50'] for s in reps):.3f} [n/a]", p50)

    def test_six_repetitions_give_the_min_max_interval(self):
        # n = 6: [x(1), x(6)] covers the median with 1 - 2/64 = 96.9 % (x(2), x(5) only 78 %)
        out, r, table = self.compare_ok(self.a, self.reps6, "--no-plot")
        reps = [self.summary(os.path.join(self.reps6, f"rep-{i}")) for i in range(1, 7)]
        for function in (None, "fa", "fb", "fc"):
            for metric in ("cold", "p50", "p90", "p99", "mean"):
                row = table[("reps6", function or "", csv_metric(metric))]
                values = sorted(expected(s, function, metric) for s in reps)
                # the median of an even count is the mean of the middle two, then printed to 3 decimals
                self.assertAlmostEqual(float(row["value"]), statistics.median(values), delta=0.0005001)
                self.assertEqual(float(row["ci_low"]), values[0], (function, metric))
                self.assertEqual(float(row["ci_high"]), values[-1], (function, metric))
                self.assertEqual(row["ci_level"], "0.9688")
                base = expected(self.summary(self.a), function, metric)
                if base:
                    self.assertAlmostEqual(float(row["diff_pct_vs_first"]),
                                           (statistics.median(values) - base) / base * 100.0, delta=5e-5)
        self.assertIn("coverage 96.9%", r.stdout)
        lo, hi = sorted(s["latency_ms"]["p99"] for s in reps)[::5]
        p99 = [line for line in r.stdout.splitlines() if line.startswith("p99_ms")][0]
        self.assertIn(f"[{lo:.3f}, {hi:.3f}]", p99)
        # the rule itself, against a table of the binomial
        self.assertEqual([self.cmp.ci_rank(n) and self.cmp.ci_rank(n)[0] for n in range(1, 21)],
                         [None] * 5 + [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 5, 6])

    def test_overlay_cdf_is_drawn(self):
        try:
            subprocess.run([PYTHON, "-c", "import matplotlib"], check=True, capture_output=True)
        except subprocess.CalledProcessError:
            self.skipTest("python3-matplotlib is not installed")
        out, r, _ = self.compare_ok(self.a, self.b, self.reps3)
        png = os.path.join(out, "compare_cdf.png")
        self.assertGreater(os.path.getsize(png), 1000)
        out2, r2, _ = self.compare_ok(self.a, self.b, "--no-plot")
        self.assertFalse(os.path.exists(os.path.join(out2, "compare_cdf.png")))

    def bad_copy(self, name, src=None):
        folder = os.path.join(self.tmp, name)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(src or self.a, folder)
        return folder

    def assert_refused(self, args, *needles, code=2):
        _, r = self.compare(*args, "--no-plot")
        self.assertEqual(r.returncode, code, f"stdout:\n{r.stdout[-1000:]}\nstderr:\n{r.stderr[-2000:]}")
        self.assertNotIn("Traceback", r.stderr)
        for needle in needles:
            self.assertIn(needle, r.stderr)

    def test_malformed_input_is_refused_naming_file_and_line(self):
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty, exist_ok=True)
        self.assert_refused([self.a, empty], "not a results folder", os.path.join(empty, "invocations.csv"))
        self.assert_refused([self.a, os.path.join(self.tmp, "nowhere")], "nowhere", "not a directory")

        bad = self.bad_copy("bad_e2e")
        path = os.path.join(bad, "invocations.csv")
        with open(path) as f:
            lines = f.readlines()
        cols = lines[4].split(",")
        cols[7] = "fast"  # e2e_ms of line 5
        lines[4] = ",".join(cols)
        with open(path, "w") as f:
            f.writelines(lines)
        self.assert_refused([self.a, bad], f"{path}:5", "e2e_ms", "'fast'")

        bad = self.bad_copy("bad_fields")
        path = os.path.join(bad, "invocations.csv")
        with open(path) as f:
            lines = f.readlines()
        lines[6] = lines[6].rstrip("\n") + ",extra\n"
        with open(path, "w") as f:
            f.writelines(lines)
        self.assert_refused([self.a, bad], f"{path}:7", "23 fields")

        bad = self.bad_copy("bad_header")
        path = os.path.join(bad, "invocations.csv")
        with open(path, "w") as f:
            f.write("a,b,c\n1,2,3\n")
        self.assert_refused([bad, self.a], f"{path}:1", "e2e_ms")

        bad = self.bad_copy("bad_json")
        path = os.path.join(bad, "summary.json")
        with open(path, "w") as f:
            f.write('{"mode": ')
        self.assert_refused([self.a, bad], path, "not valid JSON")

        bad = self.bad_copy("bad_count")  # summary.json of another run
        shutil.copy(os.path.join(self.c, "summary.json"), os.path.join(bad, "summary.json"))
        self.assert_refused([self.a, bad], "says 280 invocations", "has 300 rows", "files of different runs")

        bad = self.bad_copy("bad_reps", self.reps3)
        os.remove(os.path.join(bad, "rep-2", "invocations.csv"))
        self.assert_refused([self.a, bad], os.path.join(bad, "rep-2", "invocations.csv"), "rep-2")

        bad = self.bad_copy("bad_reps_line", self.reps3)
        path = os.path.join(bad, "rep-3", "invocations.csv")
        with open(path) as f:
            lines = f.readlines()
        cols = lines[9].split(",")
        cols[15] = "yes"  # success of line 10
        lines[9] = ",".join(cols)
        with open(path, "w") as f:
            f.writelines(lines)
        self.assert_refused([self.a, bad], f"{path}:10", "success")

        self.assert_refused([self.a, self.b, "--labels", "only-one"], "--labels has 1 labels for 2 runs")
        self.assert_refused([self.a, self.b, "--labels", "x,x"], "distinct")

    def test_large_run_is_exact_and_fast(self):
        """Past 65,536 values summary.json's percentiles come from a histogram
        (within 1/2048); compare's are the exact nearest-rank ones, within
        that bound of the summary's; counts and the mean stay exact."""
        n, n_fns = 100000, 8
        rng = random.Random(7)
        funcs = [(f"s{i}", 100 + 10 * i, 5 + 5 * i, 64 + 16 * i) for i in range(n_fns)]
        times = sorted(round(rng.uniform(0, 1000 * 1000), 3) for _ in range(n))
        trace = self.write_trace("big", [(funcs[rng.randrange(n_fns)][0], t) for t in times], funcs)
        cfg = {"container_resources": {"cpu_count": 64, "memory_mb": 8192}, "simulation": {"jitter_pct": 10, "seed": 1}}
        big = self.simulate("big", trace, cfg)
        summary = self.summary(big)
        self.assertFalse(summary["latency_ms"]["exact"])
        t0 = time.monotonic()
        _, _, table = self.compare_ok(big, self.a, "--no-plot")
        wall = time.monotonic() - t0
        print(f"\n    compare of a {n}-row run: {wall:.2f} s")
        self.assertLess(wall, 60.0, "pathologically slow")
        for metric in COUNTS + STATES + ("mean", "max"):
            self.assertEqual(float(table[("big", "", csv_metric(metric))]["value"]), expected(summary, None, metric))
        with open(os.path.join(big, "invocations.csv"), newline="") as f:
            e2e = sorted(float(row["e2e_ms"]) for row in csv.DictReader(f) if row["success"] == "1")
        for metric, p in (("p50", 50), ("p90", 90), ("p99", 99)):
            got = float(table[("big", "", csv_metric(metric))]["value"])
            self.assertEqual(got, e2e[min(max(math.ceil(p / 100 * len(e2e)), 1), len(e2e)) - 1])
            self.assertLessEqual(abs(got - summary["latency_ms"][metric]), got / 2048 + 0.0015)


if __name__ == "__main__":
    unittest.main()
