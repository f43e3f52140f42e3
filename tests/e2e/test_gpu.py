"""GPUs on a worker without any (this host, CI): `compute` on /register, the
GPU counts in /status and /metrics, the CLI's --compute, and a worker that
asks for a GPU refusing to start (docs/gpu.md)."""
import glob
import json
import unittest

from harness import Worker, WorkerError, WorkerTestCase, function_dir

NO_GPU = ("compute GPU needs a GPU: this worker has container_resources.gpu_resource.count 0 "
          "(register it with compute CPU or CPU|GPU, or on a worker with GPUs)")


def host_has_nvidia():
    """A GPU host: /dev/nvidia0 and the like, or NVML the worker would load."""
    if glob.glob("/dev/nvidia[0-9]*"):
        return True
    try:
        import ctypes
        ctypes.CDLL("libnvidia-ml.so.1")
        return True
    except OSError:
        return False


class GpuRegistrationTest(WorkerTestCase):
    """The default worker: container_resources.gpu_resource.count 0."""

    def register(self, name, version, compute=None):
        body = {"function_name": name, "function_version": version, "image_name": function_dir("hello"),
                "memory": 128, "cpus": 1}
        if compute is not None:
            body["compute"] = compute
        return self.worker.post("/register", body)

    def listed(self, name, version):
        r = self.assertHTTP(self.worker.get("/list"), 200, "GET /list")
        found = [f for f in r.json["functions"]
                 if f["function_name"] == name and f["function_version"] == version]
        return found[0] if found else None

    def test_gpu_is_refused_with_the_reason(self):
        for compute in ("GPU", "gpu"):
            body = self.assertError(self.register("hello", f"g-{compute}", compute), 400, "bad_request",
                                    f"register compute {compute}")
            self.assertEqual(body["error"], NO_GPU)
            self.assertIsNone(self.listed("hello", f"g-{compute}"), "a refused function must not be listed")

    def test_cpu_and_cpu_gpu_are_taken_listed_and_run_on_cpu(self):
        for version, compute, shown in (("c", "CPU", "CPU"), ("none", None, "CPU"), ("p", "cpu|GPU", "CPU|GPU")):
            self.assertHTTP(self.register("hello", version, compute), 200, f"register compute {compute}")
            entry = self.listed("hello", version)
            self.assertIsNotNone(entry, f"hello-{version} not in /list")
            self.assertEqual(entry.get("compute"), shown, f"/list entry of hello-{version}: {entry}")
        # CPU|GPU on a worker without GPUs runs on CPU
        r = self.assertInvokeOK("hello", "p", {"name": "Poly"})
        self.assertEqual(r.result()["body"]["greeting"], "Hello Poly from python!")
        # compute is part of the registration: another one conflicts
        self.assertError(self.register("hello", "p", "CPU"), 409, "conflict", "re-register with compute CPU")
        self.assertHTTP(self.register("hello", "p", "GPU|CPU"), 200, "re-register with the same compute")

    def test_bad_compute_is_400_naming_the_field(self):
        for compute in ("TPU", "FPGA", "", "CPU|", 2, ["GPU"]):
            body = self.assertError(self.register("hello", "bad", compute), 400, "bad_request",
                                    f"register compute {compute!r}")
            self.assertIn("field compute must be", body["error"])

    def test_status_and_metrics_show_the_gpu_counts(self):
        status = self.worker.status()
        for key in ("gpu_count", "gpu_spots", "gpu_spots_used", "gpu_queue_len"):
            self.assertEqual(status.get(key), 0, f"/status {key}: {status}")
        r = self.assertHTTP(self.worker.get("/metrics"), 200, "GET /metrics")
        for series in ("iluvatar_gpus", "iluvatar_gpu_spots", "iluvatar_gpu_spots_used", "iluvatar_gpu_queue_length"):
            self.assertRegex(r.text, rf"(?m)^{series} 0$", f"/metrics lacks {series} 0")
        # per GPU (docs/gpu.md "GPU status"): none
        self.assertEqual(status.get("gpus"), [], f"/status gpus: {status}")
        self.assertNotIn("iluvatar_gpu_device_", r.text, "no per-GPU series without GPUs")
        cfg = self.assertHTTP(self.worker.get("/config"), 200, "GET /config").json["config"]
        self.assertEqual(cfg["container_resources"]["gpu_resource"]["count"], 0)

    def test_cli_sends_compute(self):
        r = self.worker.cli("register", "-n", "hello", "-v", "cli-poly", "-i", "functions/hello", "-m", "128",
                            "-c", "1", "--compute", "cpu|gpu")
        self.assertEqual(r.returncode, 0, f"register --compute cpu|gpu: {r.stdout} {r.stderr}")
        self.assertEqual((self.listed("hello", "cli-poly") or {}).get("compute"), "CPU|GPU")
        r = self.worker.cli("register", "-n", "hello", "-v", "cli-gpu", "-i", "functions/hello", "-m", "128",
                            "-c", "1", "--compute", "GPU")
        self.assertEqual(r.returncode, 1, f"register --compute GPU must be the worker's refusal: {r!r}")
        self.assertIn(NO_GPU, r.stdout + r.stderr)
        self.assertIsNone(self.listed("hello", "cli-gpu"))
        r = self.worker.cli("register", "-n", "hello", "-v", "cli-bad", "-i", "functions/hello", "-m", "128",
                            "-c", "1", "--compute", "TPU")
        self.assertEqual(r.returncode, 64, f"register --compute TPU is bad usage: {r!r}")
        self.assertIn("--compute wants CPU, GPU or CPU|GPU, got 'TPU'", r.stderr)
        # without the flag nothing is sent: the worker's default, CPU
        r = self.worker.cli("register", "-n", "hello", "-v", "cli-cpu", "-i", "functions/hello", "-m", "128",
                            "-c", "1")
        self.assertEqual(r.returncode, 0, f"register without --compute: {r.stdout} {r.stderr}")
        self.assertEqual((self.listed("hello", "cli-cpu") or {}).get("compute"), "CPU")


class GpuStartTest(unittest.TestCase):
    def test_count_one_without_a_gpu_refuses_to_start(self):
        if host_has_nvidia():
            self.skipTest("this host has NVIDIA GPUs or NVML: a worker with gpu_resource.count 1 would start")
        w = Worker({"container_resources": {"gpu_resource": {"count": 1}}}, name="gpu-count-1")
        try:
            w.start()
        except WorkerError as e:
            msg = str(e)  # start() removed its dirs; the message holds the log's tail
        else:
            w.destroy()
            self.fail("a worker with gpu_resource.count 1 started on a host without GPUs")
        self.assertIn("worker exited with 1 while starting", msg)
        self.assertIn("container_resources.gpu_resource.count is 1 but 0 GPUs were found", msg)
        self.assertIn("looked for with NVML and nvidia-smi", msg)
        self.assertIn("libnvidia-ml.so.1", msg)
        self.assertIn("no nvidia-smi", msg)


if __name__ == "__main__":
    unittest.main()
