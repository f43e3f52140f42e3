"""iluvatar_load_gen's closed-loop modes against a real worker
(docs/load_gen.md): `scaling` (steps of 1..N closed-loop clients) and
`benchmark` (per-function cold/warm measurements in Ilúvatar's
worker_function_benchmarks.json), the benchmark file driving a
`trace --load-type functions` run, and bad input."""
import csv
import json
import os
import shutil
import statistics
import subprocess
import tempfile

from harness import BUILD, BUNDLED_FUNCTIONS, WorkerTestCase

LOAD_GEN = os.path.join(BUILD, "iluvatar_load_gen")
CPU_KEYS = ["cold_results_sec", "warm_results_sec", "cold_over_results_us", "warm_over_results_us",
            "cold_worker_duration_us", "warm_worker_duration_us", "cold_invoke_duration_us",
            "warm_invoke_duration_us"]


def read_rows(out):
    with open(os.path.join(out, "invocations.csv"), newline="") as fh:
        return list(csv.DictReader(fh))


def read_json(path):
    with open(path) as fh:
        return json.load(fh)


class LoadGenModesTest(WorkerTestCase):
    def setUp(self):
        if not os.access(LOAD_GEN, os.X_OK):
            self.fail(f"{LOAD_GEN} is missing; build it with `make`")
        # under the worker's own functions folder: function folders are
        # registered only from its functions_dirs
        self.tmp = tempfile.mkdtemp(prefix="lg-modes-", dir=self.worker.functions_root)
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def load_gen(self, *args, out="out", timeout=180):
        out = os.path.join(self.tmp, out)
        r = subprocess.run([LOAD_GEN, "--port", str(self.worker.port), "--out", out, *args],
                           capture_output=True, text=True, timeout=timeout)
        return r, out

    def assertExit(self, r, code, what):
        if r.returncode != code:
            self.fail_with_log(f"{what}: exit {r.returncode}, expected {code}\nstderr:\n{r.stderr[-3000:]}")

    # ---- scaling -----------------------------------------------------------

    def test_scaling_two_steps(self):
        r, out = self.load_gen("scaling", "--threads-from", "1", "--threads-to", "2", "--duration", "2")
        self.assertExit(r, 0, "scaling 1..2")
        summary = read_json(os.path.join(out, "summary.json"))
        self.assertEqual(summary["mode"], "scaling")
        steps = summary.get("steps")
        self.assertIsInstance(steps, list, f"summary has no steps array: {summary}")
        self.assertEqual([s["clients"] for s in steps], [1, 2])
        for s in steps:
            self.assertGreater(s["throughput_per_s"] or 0, 0, f"step {s['clients']}: {s}")
            self.assertGreater(s["successes"], 0, f"step {s['clients']}: {s}")
            # closed loop for ~2 s: the step lasts about as long
            self.assertGreater(s["duration_s"], 1.5, f"step {s['clients']}: {s}")
            self.assertLess(s["duration_s"], 10, f"step {s['clients']}: {s}")
        rows = read_rows(out)
        self.assertEqual(len(rows), summary["invocations"])
        per_step = {}
        for row in rows:
            self.assertIn(row["step"], ("1", "2"), f"row without a scaling step: {row}")
            self.assertNotEqual(row["client"], "", f"row without a client: {row}")
            step, client = int(row["step"]), int(row["client"])
            self.assertTrue(0 <= client < step, f"client {client} in the {step}-client step: {row}")
            # Ilúvatar's naming: scaling-<T>, one version per client
            self.assertEqual(row["function_name"], f"scaling-{step}")
            self.assertEqual(row["function_version"], str(client + 1))
            self.assertEqual(row["scheduled_ms"], "", "closed loop: nothing is scheduled")
            per_step.setdefault(step, []).append(row)
        for s in steps:
            mine = per_step.get(s["clients"], [])
            self.assertEqual(len(mine), s["invocations"], f"rows of step {s['clients']} vs the summary")
            self.assertEqual({int(x["client"]) for x in mine}, set(range(s["clients"])),
                             f"every client of step {s['clients']} invoked")
            ok = [x for x in mine if x["success"] == "1"]
            self.assertEqual(len(ok), s["successes"])
        # each client is closed-loop: its invocations never overlap
        by_client = {}
        for row in rows:
            by_client.setdefault((row["step"], row["client"]), []).append(
                (float(row["send_ms"]), float(row["end_ms"])))
        for key, spans in by_client.items():
            spans.sort()
            for (s0, e0), (s1, _) in zip(spans, spans[1:]):
                self.assertGreaterEqual(s1, e0, f"client {key} sent before its previous answer")
        self.assertIn("step 2: 2 clients", r.stderr)

    def test_scaling_bad_input(self):
        r, _ = self.load_gen("scaling", "--duration", "1")
        self.assertExit(r, 64, "scaling without threads")
        self.assertIn("--threads-from", r.stderr)
        r, _ = self.load_gen("scaling", "--threads-from", "3", "--threads-to", "2")
        self.assertExit(r, 64, "scaling 3..2")
        r, _ = self.load_gen("scaling", "--threads-from", "1", "--threads-to", "1", "--args-json", "[1]")
        self.assertExit(r, 64, "scaling with non-object args")
        r, _ = self.load_gen("scaling", "--threads-from", "1", "--threads-to", "1", "--function-dir", self.tmp)
        self.assertExit(r, 64, "scaling with a folder without main.py")
        self.assertIn("main.py", r.stderr)

    # ---- benchmark, then a trace driven by its data --------------------------

    def test_benchmark_feeds_trace(self):
        fdir = os.path.join(self.tmp, "functions")
        for name in ("hello", "float_operation"):
            shutil.copytree(os.path.join(BUNDLED_FUNCTIONS, name), os.path.join(fdir, name))
        os.makedirs(os.path.join(fdir, "not_a_function"))  # skipped with a note
        # hello is a platform test function, benchmarked only when asked for
        r, out = self.load_gen("benchmark", "--functions-dir", fdir, "--cold-iters", "2", "--warm-iters", "3",
                               "--include-test-functions", out="bench")
        self.assertExit(r, 0, "benchmark")
        self.assertIn("not_a_function", r.stderr)
        data_path = os.path.join(out, "worker_function_benchmarks.json")
        data = read_json(data_path)
        self.assertEqual(sorted(data), ["float_operation", "hello"])
        for name, entry in data.items():
            self.assertEqual(entry["function_name"], name)
            self.assertEqual(entry["image_name"], os.path.realpath(os.path.join(fdir, name)))
            cpu = entry["resource_data"]["CPU"]
            self.assertEqual(sorted(cpu), sorted(CPU_KEYS))
            for kind, count in (("cold", 2), ("warm", 6)):
                for measure in ("results_sec", "over_results_us", "worker_duration_us", "invoke_duration_us"):
                    values = cpu[f"{kind}_{measure}"]
                    self.assertEqual(len(values), count, f"{name} {kind}_{measure}: {values}")
                    self.assertTrue(all(isinstance(v, (int, float)) for v in values))
                self.assertTrue(all(v > 0 for v in cpu[f"{kind}_invoke_duration_us"]))
                # the client's latency includes the function's own time
                for sec, inv in zip(cpu[f"{kind}_results_sec"], cpu[f"{kind}_invoke_duration_us"]):
                    self.assertGreater(inv, sec * 1e6)
            self.assertGreater(min(cpu["cold_invoke_duration_us"]), statistics.median(cpu["warm_invoke_duration_us"]),
                               f"{name}: a cold start is slower than a warm invocation")
        rows = read_rows(out)
        self.assertEqual(len(rows), 2 * 2 * (3 + 1))
        by_fn = {}
        for row in rows:
            self.assertEqual(row["success"], "1", f"benchmark invocation failed: {row}")
            self.assertEqual(row["step"], "")
            self.assertEqual(row["function_version"], "1")
            by_fn.setdefault(row["function_name"], []).append(row)
        self.assertEqual(sorted(by_fn), ["float_operation-bench-1", "float_operation-bench-2",
                                         "hello-bench-1", "hello-bench-2"])
        for name, fn_rows in by_fn.items():
            self.assertEqual([x["container_state"] for x in fn_rows], ["cold", "warm", "warm", "warm"], name)
        summary = read_json(os.path.join(out, "summary.json"))
        self.assertEqual(summary["mode"], "benchmark")
        self.assertEqual(summary["invocations"], 16)

        # a 2-function trace whose warm times match the two benchmarks
        hello_ms = statistics.median(data["hello"]["resource_data"]["CPU"]["warm_results_sec"]) * 1000
        float_ms = statistics.median(data["float_operation"]["resource_data"]["CPU"]["warm_results_sec"]) * 1000
        self.assertLess(hello_ms, float_ms, "float_operation computes longer than hello")
        trace, meta = os.path.join(self.tmp, "trace.csv"), os.path.join(self.tmp, "metadata.csv")
        with open(meta, "w") as fh:
            fh.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\n")
            fh.write(f"like_hello,100,{hello_ms * 1.1:.6f},128\n")
            fh.write(f"like_float,150,{float_ms * 0.9:.6f},128\n")
        with open(trace, "w") as fh:
            fh.write("func_name,invoke_time_ms\n"
                     "like_hello,0\nlike_float,10\nlike_hello,300\nlike_float,310\n")
        r, tout = self.load_gen("trace", "--input", trace, "--metadata", meta, "--load-type", "functions",
                                "--function-data", data_path, out="trace")
        self.assertExit(r, 0, "trace --load-type functions")
        tsum = read_json(os.path.join(tout, "summary.json"))
        mapping = tsum["inputs"]["function_mapping"]
        self.assertEqual(mapping["like_hello"]["benchmark"], "hello", mapping)
        self.assertEqual(mapping["like_float"]["benchmark"], "float_operation", mapping)
        self.assertEqual(mapping["like_float"]["image_name"], data["float_operation"]["image_name"])
        self.assertEqual(tsum["invocations"], 4)
        self.assertEqual(tsum["successes"], 4, f"trace run: {tsum}")

        # Ilúvatar's own worker_function_benchmarks.json wraps the map in {"data": ...}
        wrapped = os.path.join(self.tmp, "iluvatar_benchmarks.json")
        with open(wrapped, "w") as fh:
            json.dump({"data": data}, fh)
        r, wout = self.load_gen("trace", "--input", trace, "--metadata", meta, "--load-type", "functions",
                                "--function-data", wrapped, "--setup", "simulation", out="wrapped")
        self.assertExit(r, 0, "trace --function-data in Ilúvatar's wrapped form")
        wmap = read_json(os.path.join(wout, "summary.json"))["inputs"]["function_mapping"]
        self.assertEqual({k: v["benchmark"] for k, v in wmap.items()},
                         {"like_hello": "hello", "like_float": "float_operation"}, wmap)

    def test_benchmark_bad_input(self):
        r, _ = self.load_gen("benchmark")
        self.assertExit(r, 64, "benchmark without --functions-dir")
        self.assertIn("--functions-dir", r.stderr)
        r, _ = self.load_gen("benchmark", "--functions-dir", os.path.join(self.tmp, "missing"))
        self.assertExit(r, 64, "benchmark of a missing folder")
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(os.path.join(empty, "no_main"))
        r, out = self.load_gen("benchmark", "--functions-dir", empty)
        self.assertNotEqual(r.returncode, 0, "benchmark of a folder without functions must fail")
        self.assertIn("no function folders", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "worker_function_benchmarks.json")))

    def test_benchmark_function_file(self):
        """Ilúvatar's --function-file: a CSV naming each function's image
        (folders here; OCI references go the same way, test_images.py)."""
        ffile = os.path.join(self.tmp, "functions.csv")
        with open(ffile, "w") as fh:
            fh.write("name,image_name,compute,memory\n")
            fh.write(f"greet,{os.path.join(BUNDLED_FUNCTIONS, 'hello')},CPU,128\n")
        r, out = self.load_gen("benchmark", "--function-file", ffile, "--cold-iters", "1", "--warm-iters", "2",
                               out="bench-file")
        self.assertExit(r, 0, "benchmark --function-file")
        data = read_json(os.path.join(out, "worker_function_benchmarks.json"))
        self.assertEqual(sorted(data), ["greet"])
        self.assertEqual(data["greet"]["image_name"], os.path.join(BUNDLED_FUNCTIONS, "hello"))
        self.assertEqual(read_json(os.path.join(out, "summary.json"))["inputs"]["function_file"], ffile)
        with open(ffile, "w") as fh:
            fh.write("name,compute\ngreet,CPU\n")
        r, _ = self.load_gen("benchmark", "--function-file", ffile)
        self.assertExit(r, 64, "function file without image_name")
        self.assertIn("needs the columns name and image_name", r.stderr)
        r, _ = self.load_gen("benchmark", "--function-file", ffile, "--functions-dir", BUNDLED_FUNCTIONS)
        self.assertExit(r, 64, "both --function-file and --functions-dir")

    def test_benchmark_failing_function_is_reported(self):
        fdir = os.path.join(self.tmp, "functions")
        os.makedirs(os.path.join(fdir, "broken"))
        with open(os.path.join(fdir, "broken", "main.py"), "w") as fh:
            fh.write("def main(args):\n    raise RuntimeError('broken on purpose')\n")
        # not "hello": another test registers hello-bench-1 from its own folder
        shutil.copytree(os.path.join(BUNDLED_FUNCTIONS, "hello"), os.path.join(fdir, "greeter"))
        r, out = self.load_gen("benchmark", "--functions-dir", fdir, "--cold-iters", "1", "--warm-iters", "1",
                               out="bench-broken")
        self.assertExit(r, 0, "benchmark with one broken function")
        self.assertIn("broken on purpose", r.stderr)
        data = read_json(os.path.join(out, "worker_function_benchmarks.json"))
        self.assertEqual(sorted(data), ["greeter"])
        rows = read_rows(out)
        self.assertEqual(len(rows), 4)
        self.assertEqual(sorted(x["success"] for x in rows if x["function_name"].startswith("broken")), ["0", "0"])
        summary = read_json(os.path.join(out, "summary.json"))
        self.assertIn("broken", summary["inputs"]["failed"])
        # only broken functions: nothing produced data
        shutil.rmtree(os.path.join(fdir, "greeter"))
        r, _ = self.load_gen("benchmark", "--functions-dir", fdir, "--cold-iters", "1", "--warm-iters", "0",
                             out="bench-only-broken")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no function produced data", r.stderr)
