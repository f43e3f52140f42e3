"""iluvatar_load_gen trace mode against a real worker (docs/load_gen.md):
a 3-function, 30-second trace replayed open loop with prewarmed containers,
its results folder checked row by row, by scripts/verify_results.py and for
plots; then bad inputs, each refused before anything is written."""
import collections
import hashlib
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import BUILD, HOST, REPO, WorkerTestCase, _free_port, function_dir

LOAD_GEN = os.path.join(BUILD, "iluvatar_load_gen")
VERIFY = os.path.join(REPO, "scripts", "verify_results.py")
PYTHON = "/usr/bin/python3"
PLOTS = ("latency_cdf.png", "latency_over_time.png", "cold_starts_over_time.png")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DURATION_MS = 30000
METADATA = [  # func_name, cold_dur_ms, warm_dur_ms, mem_mb
    ("fa", 100, 5, 64),
    ("fb", 100, 20, 64),
    ("fc", 100, 50, 64),
]


def make_trace(seed=20240611):
    """fa every 100 ms, fb every 250 ms, fc 40 times at seeded random times
    (at least 200 ms apart, so fc never needs a second container)."""
    events = [("fa", t) for t in range(0, DURATION_MS, 100)]
    events += [("fb", t) for t in range(0, DURATION_MS, 250)]
    rng = random.Random(seed)
    while True:
        fc = sorted(round(rng.uniform(0, DURATION_MS - 100), 3) for _ in range(40))
        if all(b - a >= 200 for a, b in zip(fc, fc[1:])):
            break
    events += [("fc", t) for t in fc]
    events.sort(key=lambda e: e[1])  # stable: same-time rows keep fa, fb, fc order
    return events


def write_inputs(folder, events, metadata=METADATA, raw_trace_rows=None):
    trace = os.path.join(folder, "trace.csv")
    meta = os.path.join(folder, "metadata.csv")
    with open(trace, "w") as f:
        f.write("func_name,invoke_time_ms\n")
        if raw_trace_rows is not None:
            f.writelines(f"{row}\n" for row in raw_trace_rows)
        else:
            f.writelines(f"{name},{t}\n" for name, t in events)
    with open(meta, "w") as f:
        f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\n")
        f.writelines(f"{n},{c},{w},{m}\n" for n, c, w, m in metadata)
    return trace, meta


def run_load_gen(port, out, trace, meta, *extra, timeout=180):
    cmd = [LOAD_GEN, "--port", str(port), "--out", out, "trace", "--input", trace, "--metadata", meta, *extra]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return cmd, subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class LoadGenTraceTest(WorkerTestCase):
    CONFIG = {}

    @classmethod
    def setUpClass(cls):
        if not os.access(LOAD_GEN, os.X_OK):
            raise unittest.SkipTest(f"{LOAD_GEN} is missing; build it with `make`")
        super().setUpClass()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ilu-lg-", dir="/tmp")

    def tearDown(self):
        if not os.environ.get("ILU_E2E_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- the 30-second trace --------------------------------------------

    def test_trace_run_results(self):
        events = make_trace()
        trace, meta = write_inputs(self.tmp, events)
        out = os.path.join(self.tmp, "out")
        cmd, r = run_load_gen(self.worker.port, out, trace, meta, "--prewarm", "1")
        what = f"`{' '.join(cmd)}`"
        if r.returncode != 0:
            self.fail_with_log(f"{what} exited {r.returncode}:\nstderr: {r.stderr[-3000:]}")
        csv_path = os.path.join(out, "invocations.csv")
        summary_path = os.path.join(out, "summary.json")
        for p in (csv_path, summary_path):
            self.assertTrue(os.path.isfile(p), f"{what} wrote no {p}; stderr: {r.stderr[-2000:]}")
        rows = read_rows(csv_path)
        with open(summary_path) as f:
            summary = json.load(f)

        # one row per trace row: same function names, scheduled_ms = the trace's times
        self.assertEqual(len(rows), len(events), f"{len(events)} trace rows, {len(rows)} CSV rows")
        self.assertEqual(collections.Counter(r["function_name"] for r in rows),
                         collections.Counter(n for n, _ in events), "function names differ from the trace")
        want = sorted((n, float(t)) for n, t in events)
        got = sorted((r["function_name"], float(r["scheduled_ms"])) for r in rows)
        bad = [(w, g) for w, g in zip(want, got) if w[0] != g[0] or abs(w[1] - g[1]) > 0.0005]
        self.assertFalse(bad, f"scheduled_ms differs from the trace's invoke times (first 5): {bad[:5]}")

        failed = [r for r in rows if r["success"] != "1"]
        if failed:
            kinds = collections.Counter(r["error_kind"] for r in failed)
            self.fail_with_log(f"{len(failed)} of {len(rows)} invocations failed ({dict(kinds)}), e.g. "
                               f"{failed[0]['tid']}: {failed[0]['error']}")

        v = subprocess.run([PYTHON, VERIFY, out], capture_output=True, text=True, timeout=120)
        self.assertEqual(v.returncode, 0, f"verify_results.py {out} exited {v.returncode}:\n{v.stdout[-3000:]}"
                                          f"{v.stderr[-1000:]}")
        self.assertIn(f"summary matches {len(rows)} rows", v.stdout)

        # run.json: the program, the command line, the inputs' checksums, the live worker's config
        with open(os.path.join(out, "run.json")) as f:
            m = json.load(f)
        self.assertEqual(m["command_line"], cmd)
        with open(trace, "rb") as f:
            self.assertEqual(m["input_files"]["input"]["sha256"], hashlib.sha256(f.read()).hexdigest())
        target = m["target"]
        self.assertEqual((target["kind"], target["setup"], target["port"]), ("worker", "live", self.worker.port))
        self.assertEqual(target["config"]["program"], "iluvatar_worker")
        self.assertEqual(target["config"]["config"]["port"], self.worker.port)
        self.assertEqual(target["config"]["version"], m["version"])
        self.assertIn(target["runtime"], ("runc", "crun"))
        self.assertEqual(set(m["functions"]), {n for n, _ in events})
        self.assertNotIn("container_start_ms", next(iter(m["functions"].values())), "a live run's start-ups are real")

        # the worker's status over the run (status.csv) and its pool counts (summary.json's pool)
        status = read_rows(os.path.join(out, "status.csv"))
        self.assertGreaterEqual(len(status), 3, f"status.csv: {status}")
        self.assertEqual(float(status[0]["t_ms"]), 0.0)
        self.assertEqual({r["worker"] for r in status}, {f"127.0.0.1:{self.worker.port}"})
        t = [float(r["t_ms"]) for r in status]
        self.assertEqual(t, sorted(t), "status rows out of time order")
        ran = int(status[-1]["invocations"]) - int(status[0]["invocations"])
        self.assertGreaterEqual(ran, len(rows), f"the worker counted {ran} invocations over the run")
        self.assertEqual(summary["pool"]["containers_started"], summary["container_states"]["cold"], summary["pool"])
        self.assertEqual((summary["pool"]["evictions"], summary["pool"]["workers"],
                          summary["pool"]["status_every_ms"]), (0, 1, 1000), summary["pool"])

        for name in PLOTS:
            path = os.path.join(out, name)
            self.assertTrue(os.path.isfile(path), f"{name} was not written; stderr: {r.stderr[-2000:]}")
            with open(path, "rb") as f:
                head = f.read(8)
            self.assertGreater(os.path.getsize(path), 1000, f"{name} is (nearly) empty")
            self.assertEqual(head, PNG_MAGIC, f"{name} is not a PNG file")
        self.assertFalse(os.path.exists(os.path.join(out, "scaling.png")), "scaling.png for a trace run")

        late = summary["lateness_ms"]
        lat = summary["latency_ms"]
        states = summary["container_states"]
        print(f"\n    load_gen trace: {summary['invocations']} invocations in {summary['duration_s']} s, "
              f"throughput {summary['throughput_per_s']}/s, latency p50 {lat['p50']} p99 {lat['p99']} ms, "
              f"lateness p50 {late['p50']} p99 {late['p99']} max {late['max']} ms, states {states}",
              file=sys.stderr)
        # Lateness is a timing figure: bench/lateness.sh measures it; this
        # test only catches a scheduler that sends at the wrong time (the
        # median send must leave on time, whatever the machine's noise).
        latest = sorted(rows, key=lambda r: -float(r["lateness_ms"]))[:8]
        self.assertLess(late["p50"], 5.0, f"lateness p50 {late['p50']} ms (summary {late}); latest sends "
                        f"(function, scheduled_ms, lateness_ms): "
                        f"{[(r['function_name'], r['scheduled_ms'], r['lateness_ms']) for r in latest]}")
        early = [r for r in rows if float(r["lateness_ms"]) < 0]
        self.assertEqual(early, [], "invocations sent before their scheduled time")
        cold = sum(1 for r in rows if r["container_state"] == "cold")
        self.assertEqual(cold, states["cold"])
        self.assertLessEqual(cold, 3, f"{cold} cold starts with every function prewarmed: "
                                      f"{[(r['function_name'], r['scheduled_ms']) for r in rows if r['container_state'] == 'cold'][:10]}")

    # ---- bad input: refused, named, nothing written ------------------------

    def run_metadata_trace(self, name, times_ms, metadata):
        """`name` called at times_ms with the metadata CSV text given, run live
        on the class's worker: its invocations.csv rows and the summary's
        inputs.function_mapping."""
        trace = os.path.join(self.tmp, "trace.csv")
        meta = os.path.join(self.tmp, "metadata.csv")
        with open(trace, "w") as f:
            f.write("func_name,invoke_time_ms\n" + "".join(f"{name},{t}\n" for t in times_ms))
        with open(meta, "w") as f:
            f.write(metadata)
        out = os.path.join(self.tmp, "out")
        cmd, r = run_load_gen(self.worker.port, out, trace, meta)
        if r.returncode != 0:
            self.fail_with_log(f"`{' '.join(cmd)}` exited {r.returncode}:\nstderr: {r.stderr[-3000:]}")
        with open(os.path.join(out, "summary.json")) as f:
            mapping = json.load(f)["inputs"]["function_mapping"]
        return read_rows(os.path.join(out, "invocations.csv")), mapping

    def test_repeat_live_starts_each_repetition_cold(self):
        """--repeat 2 against the live worker: two results folders and the
        summary over them; the idle containers of the first are cleaned
        before the second, so both begin with a cold start."""
        trace = os.path.join(self.tmp, "rep-trace.csv")
        meta = os.path.join(self.tmp, "rep-meta.csv")
        with open(trace, "w") as f:
            f.write("func_name,invoke_time_ms\n" + "".join(f"rp,{t}\n" for t in range(0, 600, 150)))
        with open(meta, "w") as f:
            f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\nrp,30,5,64\n")
        out = os.path.join(self.tmp, "reps")
        cmd, r = run_load_gen(self.worker.port, out, trace, meta, "--repeat", "2", "--no-plots")
        if r.returncode != 0:
            self.fail_with_log(f"`{' '.join(cmd)}` exited {r.returncode}:\nstderr: {r.stderr[-3000:]}")
        self.assertEqual(sorted(os.listdir(out)), ["rep-1", "rep-2", "summary.json"])
        for k in (1, 2):
            rows = read_rows(os.path.join(out, f"rep-{k}", "invocations.csv"))
            self.assertEqual([row["container_state"] for row in rows], ["cold", "warm", "warm", "warm"], f"rep-{k}")
        with open(os.path.join(out, "summary.json")) as f:
            agg = json.load(f)
        self.assertEqual((agg["repetitions"], agg["setup"]), (2, "live"))
        self.assertEqual(agg["aggregate"]["container_states.cold"]["values"], [1.0, 1.0])
        self.assertIsNone(agg["aggregate"]["latency_ms.p50"]["ci95"])  # two repetitions: no 95 % interval

    def test_registration_conflict_says_what_to_do(self):
        """A trace function registered by an earlier run with another image:
        409, and the message says why and what to do."""
        self.run_metadata_trace("conf", [0], "func_name,cold_dur_ms,warm_dur_ms,mem_mb,mean_iat,image_name\n"
                                             f"conf,10,1,64,100,{function_dir('echo')}\n")
        trace = os.path.join(self.tmp, "trace.csv")  # the same name, now the synthetic function
        meta = os.path.join(self.tmp, "conf-meta.csv")
        with open(meta, "w") as f:
            f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\nconf,10,1,64\n")
        cmd, r = run_load_gen(self.worker.port, os.path.join(self.tmp, "conf-out"), trace, meta)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("conf-1 is registered on the target with another image or memory", r.stderr)
        self.assertIn("restart the worker", r.stderr)
        self.assertIn("409", r.stderr)

    def test_metadata_image_name_runs_that_function(self):
        """Ilúvatar's image_name column: the function given runs itself (here
        the echo folder; an OCI reference goes the same way), with {}."""
        rows, mapping = self.run_metadata_trace("img", range(0, 1000, 100),
                                                "func_name,cold_dur_ms,warm_dur_ms,mem_mb,mean_iat,image_name\n"
                                                f"img,100,1,64,100,{function_dir('echo')}\n")
        self.assertEqual(len(rows), 10)
        self.assertTrue(all(row["success"] in ("True", "true", "1") for row in rows), rows[:2])
        self.assertEqual(mapping["img"], {"image_name": function_dir("echo"), "from": "metadata"})
        listed = {(f["function_name"], f["image_name"]) for f in self.worker.get("/list").json["functions"]}
        self.assertIn(("img", function_dir("echo")), listed)

    def test_metadata_args_and_prewarms_columns(self):
        """Ilúvatar's args ("k=v;k=v", sent as strings) and prewarms columns:
        every call carries the args, and the function is prewarmed first."""
        rows, mapping = self.run_metadata_trace("argfn", range(0, 500, 100),
                                                "func_name,cold_dur_ms,warm_dur_ms,mem_mb,image_name,prewarms,args\n"
                                                f"argfn,100,1,64,{function_dir('needs_args')},1,greeting=hi;n=3\n")
        self.assertEqual([row["success"] for row in rows], ["1"] * 5, rows[:2])
        self.assertEqual(rows[0]["container_state"], "prewarm", rows[0])
        self.assertEqual(mapping["argfn"]["args"], {"greeting": "hi", "n": "3"}, mapping)

    def assertRefused(self, trace, meta, needle, port=None):
        out = os.path.join(self.tmp, "out")
        cmd, r = run_load_gen(self.worker.port if port is None else port, out, trace, meta, "--prewarm", "1",
                              timeout=60)
        what = f"`{' '.join(cmd)}`"
        self.assertNotEqual(r.returncode, 0, f"{what} exited 0; stderr: {r.stderr[-1000:]}")
        self.assertIn(needle, r.stderr, f"{what}: stderr does not name {needle!r}: {r.stderr[-1000:]}")
        for name in ("invocations.csv", "summary.json"):
            self.assertFalse(os.path.exists(os.path.join(out, name)), f"{what} wrote {name} despite failing")
        return r

    def test_unsorted_trace_is_refused(self):
        rows = ["fa,0", "fb,100", "fa,50", "fc,200"]  # line 4 (header is line 1) goes back in time
        trace, meta = write_inputs(self.tmp, None, raw_trace_rows=rows)
        self.assertRefused(trace, meta, f"{trace}:4")

    def test_function_missing_from_metadata_is_refused(self):
        rows = ["fa,0", "fb,100", "fz,150", "fc,200"]
        trace, meta = write_inputs(self.tmp, None, raw_trace_rows=rows)
        r = self.assertRefused(trace, meta, f"{trace}:4")
        self.assertIn("fz", r.stderr)

    def test_non_numeric_invoke_time_is_refused(self):
        rows = ["fa,0", "fb,100", "fc,200", "fa,soon"]
        trace, meta = write_inputs(self.tmp, None, raw_trace_rows=rows)
        self.assertRefused(trace, meta, f"{trace}:5")

    def test_unreachable_target_is_refused(self):
        trace, meta = write_inputs(self.tmp, [("fa", 0), ("fb", 100)])
        port = _free_port()  # nobody listens there
        self.assertRefused(trace, meta, f"{HOST}:{port}", port=port)


if __name__ == "__main__":
    unittest.main()
