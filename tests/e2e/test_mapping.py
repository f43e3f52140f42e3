"""How trace functions map onto the code that runs them (docs/load_gen.md,
trace mode): a trace function mapped onto a benchmarked function whose warm
time is more than --mapping-tolerance times off the trace's is warned about
(one line each, then a total), --strict-mapping refuses such a run before
anything is sent or written, and every run writes mapping.csv (trace
function, function, image, args, trace and mapped warm times, ratio, source,
distorted). Arguments travel through the mapping: a benchmark entry's args
(benchmark --function-file's args column) and the metadata's image_name +
args. The simulation tests need no worker; the benchmark ones run benchmark
mode against a harness worker, whose default set leaves out the platform's
test functions (hello, sleep, synthetic)."""
import csv
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BUILD, BUNDLED_FUNCTIONS, WorkerTestCase

LOAD_GEN = os.path.join(BUILD, "iluvatar_load_gen")
MAPPING_HEADER = ["trace_function", "function", "image_name", "args", "trace_warm_ms", "mapped_warm_ms", "ratio",
                  "source", "distorted"]
SLEEP = os.path.join(BUNDLED_FUNCTIONS, "sleep")
FLOAT = os.path.join(BUNDLED_FUNCTIONS, "float_operation")
SYNTHETIC = os.path.join(BUNDLED_FUNCTIONS, "synthetic")


def entry(image, warm_s, args=None):
    e = {"function_name": "x", "image_name": image,
         "resource_data": {"CPU": {"warm_results_sec": [warm_s] * 3, "cold_results_sec": [warm_s * 1.2]}}}
    if args is not None:
        e["args"] = args
    return e


# warm times 50, 10 and 200 ms; times that are exact in binary, so ratios of
# exactly 2 stay exactly 2
BENCH = {
    "sleep": entry(SLEEP, 0.05),
    "quick": entry(FLOAT, 0.01),
    "slow": entry(FLOAT, 0.2, {"n": "2000000"}),
}

# name, warm_dur_ms -> the closest benchmark, and what mapping.csv says
TRACE = [
    ("fa", 66),    # sleep 50: 0.76, within
    ("fb", 5000),  # slow 200: 25x shorter
    ("fc", 100),   # sleep 50: exactly 2x shorter, within (the boundary)
    ("fd", 4),     # quick 10: 2.5x longer
    ("fe", 400),   # slow 200: exactly 2x shorter, within
    ("ff", 420),   # slow 200: 2.1x shorter
]


def read_mapping(out):
    with open(os.path.join(out, "mapping.csv"), newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return reader.fieldnames, rows


def row(fn, function, image, args, trace_ms, mapped_ms, ratio, source, distorted):
    return {"trace_function": fn, "function": function, "image_name": image, "args": args,
            "trace_warm_ms": trace_ms, "mapped_warm_ms": mapped_ms, "ratio": ratio, "source": source,
            "distorted": distorted}


class MappingSimulationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(LOAD_GEN, os.X_OK):
            raise unittest.SkipTest(f"{LOAD_GEN} is missing; build it with `make`")
        cls.tmp = tempfile.mkdtemp(prefix="ilu-mapping-")
        cls.bench = os.path.join(cls.tmp, "bench.json")
        with open(cls.bench, "w") as f:
            json.dump(BENCH, f)
        cls.trace, cls.meta = cls.write_trace("plain", TRACE)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    @classmethod
    def write_trace(cls, name, fns, extra_header="", extra=None):
        """A trace calling each function once, and its metadata (extra:
        per function the cells after mem_mb)."""
        trace = os.path.join(cls.tmp, f"{name}_trace.csv")
        meta = os.path.join(cls.tmp, f"{name}_meta.csv")
        with open(trace, "w") as f:
            f.write("func_name,invoke_time_ms\n")
            f.writelines(f"{fn},{i * 10}\n" for i, (fn, _) in enumerate(fns))
        with open(meta, "w") as f:
            f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb" + extra_header + "\n")
            f.writelines(f"{fn},{warm * 2},{warm},128{(extra or {}).get(fn, '')}\n" for fn, warm in fns)
        return trace, meta

    def run_sim(self, out, *extra, trace=None, meta=None, cwd=None):
        argv = [LOAD_GEN, "--setup", "simulation", "--no-plots", "--quiet"]
        if out is not None:
            argv += ["--out", os.path.join(self.tmp, out)]
        argv += ["trace", "--input", trace or self.trace, "--metadata", meta or self.meta, *extra]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd)

    def assertExit(self, r, code, what):
        self.assertEqual(r.returncode, code, f"{what}: exit {r.returncode}, expected {code}\nstderr:\n{r.stderr}")

    def test_distorted_functions_warned_and_recorded(self):
        r = self.run_sim("warned", "--function-data", self.bench)
        self.assertExit(r, 0, "a distorting mapping only warns")
        warnings = [line for line in r.stderr.splitlines() if "warning:" in line]
        self.assertEqual(warnings, [
            "iluvatar_load_gen: warning: trace function fb runs slow (benchmark): warm 200.0 ms where the trace "
            "says 5000.0 ms, 25.00x shorter (--mapping-tolerance 2)",
            "iluvatar_load_gen: warning: trace function fd runs quick (benchmark): warm 10.0 ms where the trace "
            "says 4.0 ms, 2.50x longer (--mapping-tolerance 2)",
            "iluvatar_load_gen: warning: trace function ff runs slow (benchmark): warm 200.0 ms where the trace "
            "says 420.0 ms, 2.10x shorter (--mapping-tolerance 2)",
            "iluvatar_load_gen: warning: 3 of 6 trace functions run more than 2x shorter or longer than the "
            "trace says; mapping.csv in the results lists every mapping",
        ])
        header, rows = read_mapping(os.path.join(self.tmp, "warned"))
        self.assertEqual(header, MAPPING_HEADER)
        slow_args = '{"n":"2000000"}'
        expected = [
            row("fa", "sleep", SLEEP, "{}", "66.000", "50.000", "0.757576", "benchmark", "0"),
            row("fb", "slow", FLOAT, slow_args, "5000.000", "200.000", "0.04", "benchmark", "1"),
            row("fc", "sleep", SLEEP, "{}", "100.000", "50.000", "0.5", "benchmark", "0"),
            row("fd", "quick", FLOAT, "{}", "4.000", "10.000", "2.5", "benchmark", "1"),
            row("fe", "slow", FLOAT, slow_args, "400.000", "200.000", "0.5", "benchmark", "0"),
            row("ff", "slow", FLOAT, slow_args, "420.000", "200.000", "0.47619", "benchmark", "1"),
        ]
        for got, want in zip(rows, expected):
            self.assertEqual(got, want, f"mapping.csv row of {want['trace_function']}")
        self.assertEqual(len(rows), len(expected))
        with open(os.path.join(self.tmp, "warned", "summary.json")) as f:
            inputs = json.load(f)["inputs"]
        self.assertEqual(inputs["mapping_tolerance"], 2.0)
        self.assertEqual(inputs["mapping_distorted"], 3)
        self.assertIs(inputs["function_mapping"]["fb"]["distorted"], True, inputs["function_mapping"])
        self.assertIs(inputs["function_mapping"]["fc"]["distorted"], False, inputs["function_mapping"])
        # the benchmark's args go with every call: what run.json says was sent
        with open(os.path.join(self.tmp, "warned", "run.json")) as f:
            functions = json.load(f)["functions"]
        self.assertEqual(functions["fb"]["args"], {"n": "2000000"})
        self.assertEqual(functions["fa"]["args"], {})

    def test_tolerance_is_configurable(self):
        # 2.5x longer is within 2.5 (the boundary); 2.1x and 25x are not
        r = self.run_sim("tol25", "--function-data", self.bench, "--mapping-tolerance", "2.5")
        self.assertExit(r, 0, "--mapping-tolerance 2.5")
        _, rows = read_mapping(os.path.join(self.tmp, "tol25"))
        self.assertEqual([x["trace_function"] for x in rows if x["distorted"] == "1"], ["fb"])
        self.assertIn("1 of 6 trace functions run more than 2.5x shorter or longer", r.stderr)
        # 1.5: the 2x ones are beyond it now, 1.32x (fa) is not
        r = self.run_sim("tol15", "--function-data", self.bench, "--mapping-tolerance", "1.5")
        self.assertExit(r, 0, "--mapping-tolerance 1.5")
        _, rows = read_mapping(os.path.join(self.tmp, "tol15"))
        self.assertEqual([x["trace_function"] for x in rows if x["distorted"] == "1"],
                         ["fb", "fc", "fd", "fe", "ff"])
        # wide enough for all: no warning at all
        r = self.run_sim("tol30", "--function-data", self.bench, "--mapping-tolerance", "30")
        self.assertExit(r, 0, "--mapping-tolerance 30")
        self.assertNotIn("warning:", r.stderr)
        for bad in ("0.5", "x", "-2", "inf", "nan"):
            r = self.run_sim("bad-tol", "--function-data", self.bench, "--mapping-tolerance", bad)
            self.assertExit(r, 64, f"--mapping-tolerance {bad}")
            self.assertIn("--mapping-tolerance must be a factor in [1, 1000000]", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.tmp, "bad-tol")))

    def test_strict_mapping_refuses_before_anything(self):
        for extra, what in ((), "simulation"), (("--target", "controller", "--workers", "2"), "simulated cluster"):
            out = os.path.join(self.tmp, "strict")
            argv = [LOAD_GEN, "--setup", "simulation", "--no-plots", *extra, "--out", out, "trace", "--input",
                    self.trace, "--metadata", self.meta, "--function-data", self.bench, "--strict-mapping"]
            r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            self.assertExit(r, 1, f"--strict-mapping ({what})")
            self.assertIn("--strict-mapping: 3 of 6 trace functions are mapped more than 2x off their trace warm "
                          "time (fb, fd, ff); nothing was run", r.stderr)
            self.assertIn("warning: trace function fb runs slow", r.stderr)
            self.assertFalse(os.path.exists(out), f"a refused run ({what}) created its results folder")
        # within the tolerance, strict runs
        r = self.run_sim("strict-ok", "--function-data", self.bench, "--strict-mapping", "--mapping-tolerance", "25")
        self.assertExit(r, 0, "--strict-mapping with every mapping within 25x")
        self.assertTrue(os.path.isfile(os.path.join(self.tmp, "strict-ok", "mapping.csv")))

    def test_metadata_image_and_args_recorded(self):
        """The metadata's image_name + args point a trace function at a
        FunctionBench function at a size (measured by the benchmark with
        those args: its warm time is compared) or at functions/synthetic
        told its times (nothing measured: no ratio)."""
        fns = [("fg", 180), ("fh", 120), ("fi", 30)]
        extra = {"fg": f",,{FLOAT},n=2000000", "fh": f",,{SYNTHETIC},cold_ms=150;warm_ms=120",
                 "fi": f",,{FLOAT},n=5"}
        trace, meta = self.write_trace("meta", fns, ",mean_iat,image_name,args", extra)
        r = self.run_sim("meta", "--function-data", self.bench, trace=trace, meta=meta)
        self.assertExit(r, 0, "metadata rows with image_name and args")
        self.assertNotIn("warning:", r.stderr)
        _, rows = read_mapping(os.path.join(self.tmp, "meta"))
        self.assertEqual(rows, [
            row("fg", "slow", FLOAT, '{"n":"2000000"}', "180.000", "200.000", "1.11111", "metadata", "0"),
            row("fh", "synthetic", SYNTHETIC, '{"cold_ms":"150","warm_ms":"120"}', "120.000", "", "", "metadata",
                "0"),
            # float_operation with n=5 was not benchmarked: nothing to compare
            row("fi", "float_operation", FLOAT, '{"n":"5"}', "30.000", "", "", "metadata", "0"),
        ])
        with open(os.path.join(self.tmp, "meta", "run.json")) as f:
            functions = json.load(f)["functions"]
        self.assertEqual(functions["fh"]["args"], {"cold_ms": "150", "warm_ms": "120"})
        # measured: the simulation takes the benchmark's times for it
        self.assertEqual(functions["fg"]["warm_exec_ms"], 200.0)
        self.assertEqual(functions["fi"]["warm_exec_ms"], 30.0)
        # a measured metadata row beyond the tolerance is warned about too
        r = self.run_sim("meta-tight", "--function-data", self.bench, "--mapping-tolerance", "1.05", trace=trace,
                         meta=meta)
        self.assertExit(r, 0, "metadata rows, tolerance 1.05")
        self.assertIn("warning: trace function fg runs slow (metadata): warm 200.0 ms where the trace says "
                      "180.0 ms, 1.11x longer (--mapping-tolerance 1.05)", r.stderr)

    def test_synthetic_load_maps_exactly(self):
        r = self.run_sim("synthetic")
        self.assertExit(r, 0, "synthetic load")
        _, rows = read_mapping(os.path.join(self.tmp, "synthetic"))
        self.assertEqual([x["trace_function"] for x in rows], [fn for fn, _ in TRACE])
        for x, (fn, warm) in zip(rows, TRACE):
            self.assertEqual(x, row(fn, "synthetic", SYNTHETIC, json.dumps(
                {"cold_ms": float(warm * 2), "warm_ms": float(warm)}, separators=(",", ":")),
                f"{warm:.3f}", f"{warm:.3f}", "1", "synthetic", "0"))
        self.assertNotIn("warning:", r.stderr)

    def test_many_functions_on_one_benchmark_warned(self):
        fns = [("g1", 40), ("g2", 55), ("g3", 60), ("g4", 9)]
        trace, meta = self.write_trace("collapse", fns)
        r = self.run_sim("collapse", "--function-data", self.bench, trace=trace, meta=meta)
        self.assertExit(r, 0, "three of four on sleep")
        self.assertIn("iluvatar_load_gen: warning: 3 of 4 trace functions run sleep: one function's code stands in "
                      "for most of the trace", r.stderr)
        # half is not most
        fns = [("g1", 40), ("g2", 55), ("g3", 9), ("g4", 11)]
        trace, meta = self.write_trace("half", fns)
        r = self.run_sim("half", "--function-data", self.bench, trace=trace, meta=meta)
        self.assertExit(r, 0, "two of four on sleep")
        self.assertNotIn("stands in", r.stderr)

    def test_default_folder_is_reused(self):
        """mapping.csv is a run file: the default results/trace folder is
        emptied of it by the next run, not refused."""
        cwd = os.path.join(self.tmp, "cwd")
        os.makedirs(cwd, exist_ok=True)
        for i in (1, 2):
            r = self.run_sim(None, cwd=cwd)
            self.assertExit(r, 0, f"run {i} into the default folder")
        self.assertTrue(os.path.isfile(os.path.join(cwd, "results", "trace", "mapping.csv")))


class LiveMappingTest(WorkerTestCase):
    """benchmark --functions-dir leaves out the platform's test functions
    unless --include-test-functions; a --function-file's args column gives
    a function its sizes, recorded in the benchmark JSON; a live trace
    refused by --strict-mapping registers nothing on the worker."""

    def setUp(self):
        if not os.access(LOAD_GEN, os.X_OK):
            self.fail(f"{LOAD_GEN} is missing; build it with `make`")
        # under the worker's own functions folder: folders are registered only from its functions_dirs
        self.tmp = tempfile.mkdtemp(prefix="lg-mapping-", dir=self.worker.functions_root)
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def bench(self, out, *args):
        out = os.path.join(self.tmp, out)
        r = subprocess.run([LOAD_GEN, "--port", str(self.worker.port), "--no-plots", "--out", out, "benchmark",
                            "--cold-iters", "1", "--warm-iters", "1", *args],
                           capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            self.fail_with_log(f"benchmark {args}: exit {r.returncode}\nstderr:\n{r.stderr[-3000:]}")
        with open(os.path.join(out, "worker_function_benchmarks.json")) as f:
            data = json.load(f)
        with open(os.path.join(out, "summary.json")) as f:
            return r, data, json.load(f)["inputs"]

    def test_strict_mapping_live_sends_nothing(self):
        bench = os.path.join(self.tmp, "bench.json")
        with open(bench, "w") as f:
            json.dump(BENCH, f)
        trace, meta = os.path.join(self.tmp, "trace.csv"), os.path.join(self.tmp, "meta.csv")
        with open(trace, "w") as f:
            f.write("func_name,invoke_time_ms\nstrict_fb,0\n")
        with open(meta, "w") as f:
            f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\nstrict_fb,6000,5000,128\n")
        out = os.path.join(self.tmp, "strict-live")
        r = subprocess.run([LOAD_GEN, "--port", str(self.worker.port), "--out", out, "trace", "--input", trace,
                            "--metadata", meta, "--function-data", bench, "--strict-mapping"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("iluvatar_load_gen: trace: --strict-mapping: 1 of 1 trace functions are mapped more than 2x "
                      "off their trace warm time (strict_fb); nothing was run", r.stderr)
        self.assertFalse(os.path.exists(out), "a refused run created its results folder")
        listed = [fn["function_name"] for fn in self.worker.get("/list").json["functions"]]
        self.assertNotIn("strict_fb", listed, "a refused run registered its function")

    def test_test_functions_skipped_unless_asked(self):
        fdir = os.path.join(self.tmp, "functions")
        for name in ("hello", "float_operation"):
            shutil.copytree(os.path.join(BUNDLED_FUNCTIONS, name), os.path.join(fdir, name))
        r, data, inputs = self.bench("default", "--functions-dir", fdir)
        self.assertEqual(sorted(data), ["float_operation"])
        self.assertEqual(sorted(inputs["skipped"]), ["hello"], inputs)
        self.assertIn("platform test function", inputs["skipped"]["hello"])
        self.assertIn(f"note: skipping {os.path.realpath(os.path.join(fdir, 'hello'))}: a platform test function",
                      r.stderr)
        self.assertIn("--include-test-functions benchmarks it", r.stderr)
        self.assertIs(inputs["include_test_functions"], False)
        r, data, inputs = self.bench("all", "--functions-dir", fdir, "--include-test-functions")
        self.assertEqual(sorted(data), ["float_operation", "hello"])
        self.assertEqual(inputs["skipped"], {})

    def test_function_file_args_size_the_function(self):
        ffile = os.path.join(self.tmp, "functions.csv")
        with open(ffile, "w") as f:
            f.write("name,image_name,args\n")
            f.write(f"hello_listed,{os.path.join(BUNDLED_FUNCTIONS, 'hello')},\n")
            f.write(f"float_small,{FLOAT},n=1000\n")
            f.write(f"float_big,{FLOAT},n=400000\n")
        r, data, inputs = self.bench("sized", "--function-file", ffile)
        # listed explicitly: a test function is benchmarked
        self.assertEqual(sorted(data), ["float_big", "float_small", "hello_listed"])
        self.assertEqual(data["float_big"]["args"], {"n": "400000"})
        self.assertNotIn("args", data["hello_listed"])

        def warm_ms(name):
            return data[name]["resource_data"]["CPU"]["warm_results_sec"][0] * 1000

        # the size reached the function: 400x the work takes far longer
        self.assertGreater(warm_ms("float_big"), 5 * warm_ms("float_small"),
                           {n: warm_ms(n) for n in ("float_small", "float_big")})
        with open(ffile, "w") as f:
            f.write("name,image_name,args\n")
            f.write(f"bad,{FLOAT},n\n")
        out = os.path.join(self.tmp, "bad-args")
        r = subprocess.run([LOAD_GEN, "--port", str(self.worker.port), "--out", out, "benchmark", "--function-file",
                            ffile], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("each ;-separated item must be key=value", r.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
