"""scripts/plot_results.py, readable whatever the run (no worker needed):
one entry per function (a benchmark's "<name>-bench-<i>" registrations are
<name>), legends of at most 10 entries (the last "others") right of the plot,
distinct colours among the shown entries, and titles that say live or
simulated with the run's main settings. The summaries below have the shapes
of real runs' summary.json (live worker trace and benchmark, live
controller, simulated worker, simulated controller with 3 workers)."""
import copy
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import REPO

SCRIPT = os.path.join(REPO, "scripts", "plot_results.py")
COLUMNS = ("tid,function_name,function_version,scheduled_ms,send_ms,end_ms,lateness_ms,e2e_ms,container_state,"
           "queue_ms,container_start_ms,exec_ms,agent_rtt_ms,overhead_ms,worker_total_ms,success,http_status,"
           "error_kind,error,client,step,sandbox").split(",")

DIST = {"count": 3, "p50": 9.7, "p90": 73.8, "p99": 73.8, "max": 73.8, "mean": 30.9, "exact": True}
STATES = {"cold": 1, "prewarm": 0, "warm": 2, "error": 0}
PER_FN = {"invocations": 3, "successes": 3, "failures": 0, "duration_s": 0.09, "throughput_per_s": 32.4,
          "latency_ms": DIST, "container_states": STATES}
COMMON = {"invocations": 99, "successes": 99, "failures": 0, "duration_s": 3.72, "throughput_per_s": 26.6,
          "latency_ms": DIST, "container_states": STATES, "overhead_ms": DIST, "lateness_ms": DIST,
          "errors_by_kind": {}}
SIMULATION = {"cpu_count": 2, "memory_mb": 2048, "queue_policy": "fcfs", "eviction": "LRU", "keepalive_sec": 600,
              "container_start_ms": 85, "invoke_overhead_us": 400, "jitter_pct": 0, "seed": 1, "network_us": 300,
              "host_cpus": 0.0, "start_cpu_pct": 100, "exec_cpu_pct": 100, "calibration_file": None,
              "start_factors": 0}
TRACE_INPUTS = {"input": "/tmp/runs/trace.csv", "metadata": "/tmp/runs/meta.csv", "load_type": "synthetic",
                "prewarm": 0, "functions": 14, "trace_invocations": 476, "trace_duration_ms": 19850.868}
BENCH_FUNCTIONS = ["chameleon", "float_operation", "gzip_compression", "hello", "json_dumps_loads", "linpack",
                   "matmul", "pyaes", "sha256_hashing", "sleep", "synthetic", "zz-bench-7"]
SUMMARIES = {
    "live_benchmark": dict(
        COMMON, mode="benchmark", target="worker", setup="live",
        per_function={f"{f}-bench-{i}": PER_FN for f in BENCH_FUNCTIONS for i in (1, 2, 3)},
        inputs={"functions_dir": "/tmp/runs/fns", "cold_iters": 3, "warm_iters": 2, "memory_mb": 256,
                "functions": BENCH_FUNCTIONS, "failed": {}, "skipped": []},
        finished_at="2026-12-05T08:02:54Z"),
    "live_trace": dict(COMMON, mode="trace", target="worker", setup="live", per_function={"fn00": PER_FN},
                       inputs=dict(TRACE_INPUTS), finished_at="2026-12-05T08:03:02Z"),
    "live_controller": dict(COMMON, mode="trace", target="controller", setup="live", per_function={"fn00": PER_FN},
                            pool={"evictions": 0, "keepalive_removals": 0, "containers_started": 7, "workers": 2,
                                  "status_every_ms": 1000},
                            inputs=dict(TRACE_INPUTS), finished_at="2026-12-05T08:03:02Z"),
    "sim_worker": dict(COMMON, mode="trace", target="worker", setup="simulation", per_function={"fn00": PER_FN},
                       inputs=dict(TRACE_INPUTS, worker_config=None, simulation=SIMULATION)),
    "sim_cluster": dict(
        COMMON, mode="trace", target="controller", setup="simulation", per_function={"fn00": PER_FN},
        pool={"evictions": 1, "keepalive_removals": 0, "containers_started": 42, "workers": 3, "status_every_ms": 1000},
        inputs=dict(TRACE_INPUTS, worker_config=None, simulation=SIMULATION,
                    cluster={"workers": 3, "controller_config": None, "load_balancer": "CH-BL", "vnodes": 64,
                             "bound_pct": 125, "status_freq_ms": 250, "request_timeout_ms": 500,
                             "invoke_timeout_sec": 330, "network_us": 300},
                    per_worker={f"worker-{i}": {"invocations": 160, "cold": 13, "prewarm": 0, "warm": 147,
                                                "errors": 0} for i in range(3)})),
}


def load_script():
    spec = importlib.util.spec_from_file_location("plot_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(folder, rows, summary):
    """rows: (function_name, function_version, container_state, e2e_ms)."""
    with open(os.path.join(folder, "invocations.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for i, (fn, version, state, e2e) in enumerate(rows):
            row = dict.fromkeys(COLUMNS, "")
            row.update(tid=f"t{i}", function_name=fn, function_version=version, send_ms=f"{i * 10:.3f}",
                       end_ms=f"{i * 10 + e2e:.3f}", e2e_ms=f"{e2e:.3f}", container_state=state, success="1",
                       http_status="200")
            w.writerow([row[c] for c in COLUMNS])
    with open(os.path.join(folder, "summary.json"), "w") as f:
        json.dump(summary, f)


def title_of(fig):
    """The figure's title (over the whole figure: Figure.suptitle)."""
    return fig._suptitle.get_text() if fig._suptitle else ""


def benchmark_rows(functions=BENCH_FUNCTIONS, cold_iters=3, warm_iters=2):
    """As benchmark mode writes them: per function and cold iteration i,
    "<name>-bench-<i>" version 1, one cold then warm_iters warm
    invocations; one iteration under a run-unique name (a 409 on the
    worker's side makes it "<name>-bench-<i>-<run>")."""
    rows = []
    for n, fn in enumerate(functions):
        for i in range(1, cold_iters + 1):
            name = f"{fn}-bench-{i}" + ("-lg6b13c52a1b57" if (n, i) == (0, 2) else "")
            rows.append((name, "1", "cold", 70.0 + n))
            rows += [(name, "1", "warm", 5.0 + n + k) for k in range(warm_iters)]
    return rows


class PlotResultsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ilu-plots-")
        self.plots = load_script()
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import colors
        self.plt, self.colors = plt, colors
        self.addCleanup(plt.close, "all")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_rows(self, rows, summary):
        write_run(self.tmp, rows, summary)
        return self.plots.read_csv(os.path.join(self.tmp, "invocations.csv"))

    def legend_texts(self, fig):
        return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]

    def assertLegendClear(self, fig, what):
        """The legend covers neither the plot (its data) nor the title, and
        the title stays in the figure."""
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent(r)
        title = fig._suptitle.get_window_extent(r)
        self.assertFalse(legend.overlaps(ax.get_window_extent(r)), f"{what}: the legend covers the plot")
        for twin in fig.axes[1:]:  # a second y axis: its ticks and label too
            self.assertFalse(legend.overlaps(twin.get_tightbbox(r)), f"{what}: the legend covers the second axis")
        self.assertFalse(legend.overlaps(title), f"{what}: the legend covers the title")
        box = fig.bbox
        self.assertTrue(box.x0 <= title.x0 and title.x1 <= box.x1 and title.y1 <= box.y1,
                        f"{what}: the title {title} is not inside the figure {box}")

    # ---- one entry per function ------------------------------------------------

    def test_few_functions_get_a_curve_each_by_name(self):
        curves = self.plots.cdf_curves({"b": [1.0], "a": [2.0, 3.0]})
        self.assertEqual(curves, [("a", [2.0, 3.0]), ("b", [1.0])])

    def test_many_functions_keep_the_most_invoked_and_pool_the_rest(self):
        # f00 is invoked 35 times, f01 34, ... f34 once
        by_fn = {f"f{i:02d}": [float(i)] * (35 - i) for i in range(35)}
        curves = self.plots.cdf_curves(by_fn)
        self.assertEqual(len(curves), 10)
        self.assertEqual([name for name, _ in curves[:9]], [f"f{i:02d}" for i in range(9)])
        name, values = curves[9]
        self.assertEqual(name, "others (26 functions)")
        self.assertEqual(len(values), sum(35 - i for i in range(9, 35)))

    def test_benchmark_registrations_are_one_entry_per_function(self):
        summary = SUMMARIES["live_benchmark"]
        rows = self.run_rows(benchmark_rows(), summary)
        key = self.plots.fn_key(rows, summary)
        self.assertEqual(sorted({key(r) for r in rows}), sorted(BENCH_FUNCTIONS))
        # the CDF: 12 functions (36 registrations), 9 by name and "others"
        fig = self.plots.cdf_figure(self.plt, rows, summary)
        texts = self.legend_texts(fig)
        self.assertEqual(len(texts), 10, texts)
        self.assertFalse([t for t in texts if "-bench-1" in t or "-bench-2" in t or "-bench-3" in t], texts)
        self.assertIn("chameleon (n=9)", texts)
        self.assertEqual(texts[-1], "others (3 functions) (n=27)")
        # the benchmark figure: a row per function, cold and warm
        fig = self.plots.benchmark_figure(self.plt, rows, summary)
        self.assertEqual([t.get_text() for t in fig.axes[0].get_yticklabels()], sorted(BENCH_FUNCTIONS))
        self.assertEqual(self.legend_texts(fig), ["cold: median, min-max (n=36)",
                                                  "warm and prewarm: median, min-max (n=72)"])
        self.assertLegendClear(fig, "benchmark figure")

    def test_bench_names_are_kept_outside_benchmark_runs(self):
        summary = SUMMARIES["live_trace"]
        rows = self.run_rows([("a-bench-1", "1", "warm", 1.0), ("a-bench-2", "1", "warm", 1.0)], summary)
        key = self.plots.fn_key(rows, summary)
        self.assertEqual(sorted({key(r) for r in rows}), ["a-bench-1", "a-bench-2"])

    def test_scaling_clients_are_one_entry_per_step(self):
        summary = dict(COMMON, mode="scaling", target="worker", setup="live",
                       inputs={"threads_from": 1, "threads_to": 3, "duration_s": 2.0,
                               "function_dir": "/srv/functions/hello", "memory_mb": 128, "args": {}})
        rows = self.run_rows([(f"scaling-{t}", str(c + 1), "warm", 1.0) for t in (1, 2, 3) for c in range(t)],
                             summary)
        key = self.plots.fn_key(rows, summary)
        self.assertEqual(sorted({key(r) for r in rows}), ["scaling-1", "scaling-2", "scaling-3"])
        summary["steps"] = [{"invocations": 9078, "successes": 9078, "failures": 0, "duration_s": 2.000238,
                             "throughput_per_s": 4538.459923 * t,
                             "latency_ms": dict(DIST, p50=0.159 * t, p99=1.507 * t),
                             "container_states": STATES, "clients": t} for t in (1, 2, 3)]
        fig = self.plots.scaling_figure(self.plt, summary, "summary.json")
        self.assertEqual(title_of(fig).split("\n")[1],
                         "live worker, scaling run: 1-3 clients, 2 s a step, hello, 128 MB")
        self.assertLegendClear(fig, "scaling figure")

    # ---- legends and colours -----------------------------------------------------

    def test_legend_is_capped_with_others_right_of_the_plot(self):
        rows = [(f"fn{i:02d}", "1", "warm", 1.0 + i) for i in range(35) for _ in range(35 - i)]
        rows = self.run_rows(rows, SUMMARIES["sim_cluster"])
        fig = self.plots.cdf_figure(self.plt, rows, SUMMARIES["sim_cluster"])
        texts = self.legend_texts(fig)
        self.assertEqual(len(texts), 10, texts)
        self.assertEqual(texts[-1], f"others (26 functions) (n={sum(35 - i for i in range(9, 35))})")
        self.assertLegendClear(fig, "latency CDF")
        for make in (self.plots.over_time_figure, self.plots.cold_starts_figure):
            self.assertLegendClear(make(self.plt, rows, SUMMARIES["sim_cluster"]), make.__name__)

    def test_colours_of_shown_entries_differ(self):
        rows = [(f"fn{i:02d}", "1", "cold" if i % 3 == 0 else "warm", 1.0 + i) for i in range(35)
                for _ in range(35 - i)]
        rows = self.run_rows(rows, SUMMARIES["sim_worker"])
        fig = self.plots.cdf_figure(self.plt, rows, SUMMARIES["sim_worker"])
        looks = [self.colors.to_rgba(line.get_color()) for line in fig.axes[0].get_lines()]
        self.assertEqual(len(looks), 10)
        self.assertEqual(len(set(looks)), 10, f"colours repeat: {looks}")
        fig = self.plots.over_time_figure(self.plt, rows, SUMMARIES["sim_worker"])
        looks = [tuple(c.get_facecolor()[0]) for c in fig.axes[0].collections]
        self.assertEqual(len(set(looks)), len(looks), f"colours repeat: {looks}")
        # beyond the palette, colour and line style together still differ
        styles = self.plots.styles(40)
        self.assertEqual(len(set(styles)), 40)
        self.assertEqual(len({c for c, _ in styles[:len(self.plots.PALETTE)]}), len(self.plots.PALETTE))

    # ---- titles --------------------------------------------------------------------

    def test_titles_say_live_or_simulated_and_the_settings(self):
        expect = {
            "live_benchmark": "live worker, benchmark run: 12 functions, 3 cold + 6 warm invocations each, 256 MB",
            "live_trace": "live worker, trace run: trace.csv, synthetic load",
            "live_controller": "live controller + 2 workers, trace run: trace.csv, synthetic load",
            "sim_worker": "simulated worker, trace run: trace.csv, synthetic load; "
                          "2 CPUs, 2048 MB, queue fcfs, keep-alive LRU, idle limit 600 s",
            # too long with the trace's name and load: the worker's settings stay
            "sim_cluster": "simulated controller (CH-BL) + 3 workers, trace run; "
                           "each worker 2 CPUs, 2048 MB, queue fcfs, keep-alive LRU, idle limit 600 s",
        }
        for kind, summary in SUMMARIES.items():
            rows = benchmark_rows() if kind == "live_benchmark" else [("fn00", "1", "cold", 80.0),
                                                                       ("fn00", "1", "warm", 5.0)]
            rows = self.run_rows(rows, summary)
            figs = [self.plots.cdf_figure(self.plt, rows, summary),
                    self.plots.over_time_figure(self.plt, rows, summary),
                    self.plots.cold_starts_figure(self.plt, rows, summary)]
            if kind == "live_benchmark":
                figs.append(self.plots.benchmark_figure(self.plt, rows, summary))
            for fig in figs:
                lines = title_of(fig).split("\n")
                self.assertEqual(len(lines), 2, lines)
                self.assertEqual(lines[1], expect[kind])
                self.assertNotIn("(trace run)", lines[0])

    def test_long_settings_keep_the_main_ones_in_two_lines(self):
        summary = copy.deepcopy(SUMMARIES["sim_cluster"])
        summary["inputs"]["cluster"]["workers"] = 1024
        summary["inputs"]["input"] = "/data/azure-functions-2019-day-01-sampled-400-functions.csv"
        summary["inputs"]["prewarm"] = 2
        summary["inputs"]["simulation"].update(eviction="HYBRID_HISTOGRAM", queue_policy="minheap_iat",
                                               memory_mb=131072, cpu_count=128)
        line = self.plots.settings_line(summary)
        self.assertLessEqual(len(line), self.plots.TITLE_LINE)
        self.assertTrue(line.startswith("simulated controller (CH-BL) + 1024 workers, trace run"), line)
        for setting in ("each worker 128 CPUs", "131072 MB", "queue minheap_iat", "keep-alive HYBRID_HISTOGRAM"):
            self.assertIn(setting, line)
        rows = self.run_rows([(f"fn{i:02d}", "1", "warm", 1.0 + i) for i in range(12)], summary)
        for make in (self.plots.cdf_figure, self.plots.over_time_figure, self.plots.cold_starts_figure):
            fig = make(self.plt, rows, summary)
            self.assertEqual(title_of(fig).count("\n"), 1)
            self.assertLegendClear(fig, f"{make.__name__} with a long title")

    def test_a_summary_without_setup_says_so(self):
        self.assertEqual(self.plots.title({"mode": "trace"}, "X"), "X\nlive or simulated: not recorded, trace run")

    # ---- the script ------------------------------------------------------------------

    def test_figures_are_made_for_35_functions(self):
        write_run(self.tmp, [(f"fn{i % 35:02d}", "1", "warm", 5.0) for i in range(700)],
                  {"mode": "trace", "invocations": 700})
        r = subprocess.run(["/usr/bin/python3", SCRIPT, self.tmp], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("latency_cdf.png", "latency_over_time.png", "cold_starts_over_time.png"):
            self.assertGreater(os.path.getsize(os.path.join(self.tmp, name)), 0, name)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "benchmark.png")), "benchmark.png for a trace run")

    def test_a_benchmark_run_gets_its_figure(self):
        write_run(self.tmp, benchmark_rows(), SUMMARIES["live_benchmark"])
        r = subprocess.run(["/usr/bin/python3", SCRIPT, self.tmp], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("latency_cdf.png", "latency_over_time.png", "cold_starts_over_time.png", "benchmark.png"):
            with open(os.path.join(self.tmp, name), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", name)

    def test_status_csv_gets_its_figure(self):
        write_run(self.tmp, [("f", "1", "warm", 5.0)] * 10, {"mode": "trace", "invocations": 10})
        self.assertIsNone(self.plots.read_status(os.path.join(self.tmp, "status.csv")))
        cols = ("cpu_queue_len,num_running_funcs,cpus_in_use,cpu_limit,used_mem_mb,total_mem_mb,num_containers,"
                "idle_containers,starting_containers,invocations,errors,cold_starts,warm_starts,prewarm_starts,"
                "evictions,keepalive_removals,containers_started,cpu_util")
        with open(os.path.join(self.tmp, "status.csv"), "w") as f:
            f.write("t_ms,worker," + cols + "\n")
            for t in range(0, 5000, 1000):
                for w in ("worker-0", "worker-1"):
                    f.write(f"{t}.000,{w},1,{t // 1000},0,2,{64 * (t // 1000)},2048,1,0,0,{t // 100},0,1,0,0,0,0,1,\n")
        status = self.plots.read_status(os.path.join(self.tmp, "status.csv"))
        self.assertEqual(sorted(status), ["worker-0", "worker-1"])
        self.assertEqual(status["worker-1"]["t"], [0.0, 1.0, 2.0, 3.0, 4.0])
        self.assertEqual(status["worker-0"]["used_mem_mb"], [0.0, 64.0, 128.0, 192.0, 256.0])
        r = subprocess.run(["/usr/bin/python3", SCRIPT, self.tmp], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.tmp, "status_over_time.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")


if __name__ == "__main__":
    unittest.main()
