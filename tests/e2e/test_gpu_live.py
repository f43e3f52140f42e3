"""GPU functions on a real NVIDIA GPU (docs/gpu.md, "Live GPU containers"):
a worker with container_resources.gpu_resource.count 1 runs
functions/gpu_synthetic (the CUDA driver API through ctypes) in a GPU
container, cold then warm, with and without MPS. Skipped, saying why, on a
host without /dev/nvidiactl (CI, this project's build machines). There,
instead, a stand-in nvidia-smi makes the worker believe in one GPU, and
the GPU container's start and MPS are refused naming what is missing.

The driver's libraries: ILU_GPU_DRIVER_LIB_DIR, else /usr/local/nvidia/lib64
when there (where the H200 host of issue 16 has them), else the loader's
path (libraries under /usr, which the containers see)."""
import ctypes
import glob
import os
import shutil
import tempfile
import unittest

from harness import Worker, WorkerError, WorkerTestCase, function_dir

NO_GPU = "" if os.path.exists("/dev/nvidiactl") else "no NVIDIA GPU on this host (/dev/nvidiactl is absent)"


def driver_lib_dir():
    given = os.environ.get("ILU_GPU_DRIVER_LIB_DIR")
    if given:
        return given
    return "/usr/local/nvidia/lib64" if os.path.isdir("/usr/local/nvidia/lib64") else ""


def mps_control():
    lib = driver_lib_dir()
    places = [os.path.join(lib, "..", "bin")] if lib else []
    places += [os.environ.get("PATH", ""), "/usr/bin", "/usr/local/nvidia/bin"]
    return shutil.which("nvidia-cuda-mps-control", path=":".join(places))


def gpu_config(**extra):
    gpu = {"count": 1, "driver_lib_dir": driver_lib_dir(), "funcs_per_device": 2, "concurrent_running_funcs": 2}
    gpu.update(extra)
    return {"container_resources": {"gpu_resource": gpu}}


class GpuLiveMixin:
    def register_gpu(self, version):
        body = {"function_name": "gpu_synthetic", "function_version": version,
                "image_name": function_dir("gpu_synthetic"), "memory": 512, "cpus": 1, "compute": "GPU"}
        self.assertHTTP(self.worker.post("/register", body), 200, f"register gpu_synthetic-{version} compute GPU")

    def check_cold_then_warm(self, version):
        self.register_gpu(version)
        r = self.assertInvokeOK("gpu_synthetic", version, {"ms": 50, "mb": 16}, state="cold", timeout=120)
        body = r.result()["body"]
        self.assertTrue(body["cold"], f"first call must initialise CUDA: {body}")
        self.assertTrue(body["device"], f"no device name: {body}")
        self.assertGreater(body["init_ms"], 0, body)
        self.assertGreaterEqual(body["kernel_ms"], 50 * 0.95, f"the kernel spins 50 ms: {body}")
        self.assertGreater(body["copy_ms"], 0, body)
        status = self.worker.status()
        self.assertEqual(status.get("gpu_count"), 1, f"/status: {status}")
        self.assertEqual(status.get("gpu_spots"), 2, f"/status: {status}")
        self.assertEqual(status.get("gpu_spots_used"), 1, f"the idle GPU container keeps its spot: {status}")
        r = self.assertInvokeOK("gpu_synthetic", version, {"ms": 20}, state="warm", timeout=60)
        warm = r.result()["body"]
        self.assertFalse(warm["cold"], f"second call reuses CUDA: {warm}")
        self.assertEqual(warm["init_ms"], 0, warm)
        self.assertGreaterEqual(warm["kernel_ms"], 20 * 0.95, warm)
        return body


@unittest.skipIf(NO_GPU, NO_GPU)
class GpuLiveTest(GpuLiveMixin, WorkerTestCase):
    CONFIG = gpu_config()

    def test_gpu_synthetic_cold_then_warm(self):
        body = self.check_cold_then_warm("live")
        self.assertIsNone(body["env"]["CUDA_MPS_PIPE_DIRECTORY"], "MPS is off")

    def test_cpu_function_still_runs(self):
        self.assertRegistered("hello", "cpu", image=function_dir("hello"))
        r = self.assertInvokeOK("hello", "cpu", {"name": "Gpu"})
        self.assertEqual(r.result()["body"]["greeting"], "Hello Gpu from python!")


MPS_SKIP = NO_GPU or ("" if mps_control() else "nvidia-cuda-mps-control is not on this host")


@unittest.skipIf(MPS_SKIP, MPS_SKIP)
class GpuLiveMpsTest(GpuLiveMixin, WorkerTestCase):
    CONFIG = gpu_config(use_standalone_mps=True)

    def test_gpu_synthetic_as_an_mps_client(self):
        body = self.check_cold_then_warm("mps")
        self.assertEqual(body["env"]["CUDA_MPS_PIPE_DIRECTORY"], "/iluvatar/mps", body)
        self.assertEqual(body["env"]["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"], "50", body)  # 100 / 2
        self.assertTrue(glob.glob(os.path.join(self.worker.state_dir, "mps", "pipe", "*")),
                        "the MPS daemon's pipes are under the state dir")


def has_nvml():
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
        return True
    except OSError:
        return False


FAKE_SKIP = ("this host has a GPU: the tests above run instead" if not NO_GPU else
             "NVML is here without /dev/nvidiactl: discovery would not use the stand-in" if has_nvml() else "")


class FakeSmi:
    """A stand-in nvidia-smi reporting one H200, first on PATH while a worker starts."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="ilu-fake-smi-")
        with open(os.path.join(self.dir, "nvidia-smi"), "w") as f:
            f.write("#!/bin/sh\necho 'NVIDIA H200, 143771'\n")
        os.chmod(os.path.join(self.dir, "nvidia-smi"), 0o755)
        self.old = os.environ.get("PATH", "")
        os.environ["PATH"] = f"{self.dir}:{self.old}"
        return self

    def __exit__(self, *exc):
        os.environ["PATH"] = self.old
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipIf(FAKE_SKIP, FAKE_SKIP)
class GpuWithoutDevicesTest(GpuLiveMixin, WorkerTestCase):
    """One GPU found (the stand-in nvidia-smi), no device nodes."""

    CONFIG = gpu_config(funcs_per_device=1, concurrent_running_funcs=1)

    @classmethod
    def setUpClass(cls):
        with FakeSmi():
            super().setUpClass()

    def test_gpu_container_start_names_the_missing_node(self):
        self.register_gpu("nodev")
        r = self.worker.invoke("gpu_synthetic", "nodev", {"ms": 1})
        body = self.assertError(r, 500, "container_error", "invoke a GPU function with no /dev/nvidiactl")
        self.assertIn("GPU 0: GPU device /dev/nvidiactl is not there", body["error"])
        status = self.worker.status()
        self.assertEqual(status.get("gpu_count"), 1, f"/status: {status}")
        self.assertEqual(status.get("gpu_spots_used"), 0, f"the failed start gives its spot back: {status}")
        # CPU functions are not affected
        self.assertWorkerHealthy()


@unittest.skipIf(FAKE_SKIP or mps_control(), FAKE_SKIP or "nvidia-cuda-mps-control is on this host")
class MpsWithoutItsDaemonTest(unittest.TestCase):
    def test_worker_refuses_to_start_naming_the_daemon(self):
        w = Worker(gpu_config(use_standalone_mps=True), name="gpu-mps-missing")
        try:
            with FakeSmi():
                w.start()
        except WorkerError as e:
            msg = str(e)
        else:
            w.destroy()
            self.fail("a worker with use_standalone_mps started without nvidia-cuda-mps-control")
        self.assertIn("worker exited with 1 while starting", msg)
        self.assertIn("use_standalone_mps needs the MPS control daemon: no nvidia-cuda-mps-control", msg)
        self.assertIn("on PATH, in /usr/bin or /usr/local/nvidia/bin", msg)


if __name__ == "__main__":
    unittest.main()
