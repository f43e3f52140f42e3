"""scripts/plot_results.py with many functions: the latency CDF keeps a curve
per function up to 10, then the 9 most invoked and one "others" curve, and
the figures are still made (no worker needed)."""
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


def load_script():
    spec = importlib.util.spec_from_file_location("plot_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PlotResultsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ilu-plots-")
        self.plots = load_script()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

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

    def test_figures_are_made_for_35_functions(self):
        with open(os.path.join(self.tmp, "invocations.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for i in range(700):
                row = dict.fromkeys(COLUMNS, "")
                row.update(tid=f"t{i}", function_name=f"fn{i % 35:02d}", function_version="1", send_ms=f"{i:.3f}",
                           end_ms=f"{i + 5:.3f}", e2e_ms="5.000", container_state="warm", success="1",
                           http_status="200")
                w.writerow([row[c] for c in COLUMNS])
        with open(os.path.join(self.tmp, "summary.json"), "w") as f:
            json.dump({"mode": "trace", "invocations": 700}, f)
        r = subprocess.run(["/usr/bin/python3", SCRIPT, self.tmp], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("latency_cdf.png", "latency_over_time.png", "cold_starts_over_time.png"):
            self.assertGreater(os.path.getsize(os.path.join(self.tmp, name)), 0, name)


if __name__ == "__main__":
    unittest.main()
