"""GPU status (docs/gpu.md, "GPU status"): /status's per-GPU "gpus", the
per-GPU /metrics series labelled gpu="<index>", and the "GPU status" log
line every gpu_resource.status_update_freq_ms.

Where there is no GPU (CI, this project's build machines) a stand-in
nvidia-smi, kept on the worker's PATH while it runs, reports one H200 to
discovery and a sample (37 % busy, 1024 of 143771 MiB) to GPU status, which
runs it in the background. On a GPU host the worker measures the real GPU
through NVML instead."""
import json
import os
import shutil
import tempfile
import time
import unittest

from harness import WorkerTestCase
from test_gpu_live import FAKE_SKIP, NO_GPU, gpu_config

FAKE_SMI = """#!/bin/sh
case "$1" in
--query-gpu=name,memory.total) echo 'NVIDIA H200, 143771' ;;
--query-gpu=utilization.gpu,memory.used,memory.total) echo '37, 1024, 143771' ;;
*) echo "unexpected: $*" >&2; exit 3 ;;
esac
"""


def wait_measured(test, timeout=10.0):
    """/status's first GPU once it has measured fields."""
    deadline = time.monotonic() + timeout
    while True:
        status = test.worker.status()
        gpus = status.get("gpus")
        test.assertIsInstance(gpus, list, f"/status has no gpus list: {status}")
        test.assertEqual(len(gpus), 1, f"/status gpus: {gpus}")
        if "utilization_pct" in gpus[0]:
            return status, gpus[0]
        if time.monotonic() > deadline:
            test.fail_with_log(f"no GPU measured after {timeout} s: {gpus}")
        time.sleep(0.1)


def gpu_status_lines(log):
    lines = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("message") == "GPU status":
            lines.append(entry)
    return lines


@unittest.skipIf(FAKE_SKIP, FAKE_SKIP)
class GpuStatusFakeSmiTest(WorkerTestCase):
    """One GPU found and measured by the stand-in nvidia-smi; no device nodes."""

    CONFIG = gpu_config(funcs_per_device=2, concurrent_running_funcs=1, status_update_freq_ms=200)

    @classmethod
    def setUpClass(cls):
        cls.smi_dir = tempfile.mkdtemp(prefix="ilu-fake-smi-")
        path = os.path.join(cls.smi_dir, "nvidia-smi")
        with open(path, "w") as f:
            f.write(FAKE_SMI)
        os.chmod(path, 0o755)
        old = os.environ.get("PATH", "")
        os.environ["PATH"] = f"{cls.smi_dir}:{old}"
        try:
            super().setUpClass()
        finally:
            os.environ["PATH"] = old

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.smi_dir, ignore_errors=True)

    def test_status_has_each_gpu_accounted_and_measured(self):
        before = time.time()
        status, gpu = wait_measured(self)
        want = {"index": 0, "name": "NVIDIA H200", "memory_mb": 143771, "spots": 2, "spots_used": 0,
                "tokens": 1, "tokens_used": 0, "utilization_pct": 37, "memory_used_mb": 1024,
                "memory_total_mb": 143771}
        for key, value in want.items():
            self.assertEqual(gpu.get(key), value, f"/status gpus[0].{key}: {gpu}")
        self.assertLess(abs(gpu["measured_at"] - before), 30, f"measured_at is Unix seconds of the read: {gpu}")
        for key in ("gpu_count", "gpu_spots", "gpu_spots_used", "gpu_queue_len"):
            self.assertIn(key, status, "the flat GPU fields stay")
        self.assertEqual(status["gpu_count"], 1)

    def test_metrics_have_per_gpu_series(self):
        wait_measured(self)
        r = self.assertHTTP(self.worker.get("/metrics"), 200, "GET /metrics")
        for series, value in (("iluvatar_gpu_device_memory_mb", 143771), ("iluvatar_gpu_device_spots", 2),
                              ("iluvatar_gpu_device_spots_used", 0), ("iluvatar_gpu_device_tokens", 1),
                              ("iluvatar_gpu_device_running_invocations", 0),
                              ("iluvatar_gpu_device_utilization_pct", 37),
                              ("iluvatar_gpu_device_memory_used_mb", 1024),
                              ("iluvatar_gpu_device_memory_total_mb", 143771)):
            self.assertRegex(r.text, rf'(?m)^# TYPE {series} gauge$', f"/metrics lacks the type of {series}")
            self.assertRegex(r.text, rf'(?m)^{series}{{gpu="0"}} {value}$', f"/metrics lacks {series} {value}")
        self.assertRegex(r.text, r"(?m)^iluvatar_gpus 1$")

    def test_gpu_status_is_logged_every_period(self):
        wait_measured(self)
        time.sleep(0.5)  # a few more periods of 200 ms
        lines = gpu_status_lines(self.worker.log())
        self.assertGreaterEqual(len(lines), 3, "a GPU status line every 200 ms")
        last = lines[-1]
        self.assertEqual(last.get("level"), "info", last)
        gpus = last.get("gpus")
        self.assertIsInstance(gpus, list, last)
        self.assertEqual(gpus[0].get("utilization_pct"), 37, last)
        self.assertEqual(gpus[0].get("tokens_used"), 0, last)


@unittest.skipIf(NO_GPU, NO_GPU)
class GpuStatusLiveTest(WorkerTestCase):
    """A real GPU measured through NVML (or the host's nvidia-smi)."""

    CONFIG = gpu_config(status_update_freq_ms=200)

    def test_status_and_metrics_measure_the_gpu(self):
        status, gpu = wait_measured(self, timeout=15)
        self.assertGreater(gpu["memory_total_mb"], 0, gpu)
        self.assertGreaterEqual(gpu["utilization_pct"], 0, gpu)
        self.assertLessEqual(gpu["memory_used_mb"], gpu["memory_total_mb"], gpu)
        r = self.assertHTTP(self.worker.get("/metrics"), 200, "GET /metrics")
        self.assertRegex(r.text, r'(?m)^iluvatar_gpu_device_memory_total_mb\{gpu="0"\} \d+$')
        self.assertIn("GPU status from", self.worker.log())


if __name__ == "__main__":
    unittest.main()
