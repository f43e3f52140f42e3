"""The controller and workers with and without GPUs (docs/controller.md,
docs/gpu.md), end to end over HTTP without a GPU and without root: a real
iluvatar_controller and small fake workers that answer /status, /register
and /invoke and join with POST /register_worker {..., gpus}. A GPU-only
function is registered on and routed to the workers with GPUs only; CPU
functions go anywhere; with no worker with GPUs the registration is kept
and invocations answer 503 saying why; GET /workers shows gpus, and the
store keeps them across a restart."""
import json
import unittest

from ctl_harness import Controller, FakeHttpWorker
from harness import HOST, sanitizer_reports


class FakeWorker(FakeHttpWorker):
    """Answers the controller as a worker would: /status idle, /register and
    /invoke 200; records the function of each /register and /invoke."""

    def __init__(self, name, gpus):
        self.name, self.gpus = name, gpus
        self.registered, self.invoked = [], []

        def answer(path, raw):
            body = json.loads(raw) if raw else {}
            if path == "/register":
                self.registered.append(body.get("function_name"))
                out = {"success": True, "function_name": body.get("function_name")}
            elif path == "/invoke":
                self.invoked.append(body.get("function_name"))
                out = {"success": True, "json_result": "{}", "duration_us": 10, "container_state": "warm"}
            else:
                out = {"cpu_queue_len": 0, "num_running_funcs": 0}
            return "application/json", json.dumps(out).encode()

        super().__init__(answer)

    def join(self, ctl, send_gpus=True):
        body = {"name": self.name, "host": HOST, "port": self.port, "cpus": 2, "memory_mb": 2048}
        if send_gpus:
            body["gpus"] = self.gpus
        return ctl.post("/register_worker", body)


def wait_healthy(ctl, names, timeout=5.0):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ws = ctl.workers()
        if all(ws.get(n, {}).get("health") == "HEALTHY" for n in names):
            return True
        time.sleep(0.05)
    return False


class ControllerGpuTest(unittest.TestCase):
    def setUp(self):
        self.ctl = Controller({"load_balancer": {"algorithm": "RoundRobin"},
                               "health": {"status_freq_ms": 100}}).start()
        self.fakes = []

    def tearDown(self):
        code, _ = self.ctl.stop()
        problems = sanitizer_reports(self.ctl.log())
        for f in self.fakes:
            f.close()
        self.ctl.destroy()
        self.assertEqual(code, 0)
        self.assertEqual(problems, [])

    def fake(self, name, gpus):
        f = FakeWorker(name, gpus)
        self.fakes.append(f)
        return f

    def register(self, name, compute=None):
        body = {"function_name": name, "function_version": "1", "image_name": "/fn/" + name, "memory": 128,
                "cpus": 1}
        if compute:
            body["compute"] = compute
        return self.ctl.post("/register", body)

    def invoke(self, name):
        return self.ctl.post("/invoke", {"function_name": name, "function_version": "1", "json_args": {}})

    def test_gpu_functions_go_to_workers_with_gpus_only(self):
        g1, c1, g2 = self.fake("g1", 1), self.fake("c1", 0), self.fake("g2", 2)
        for f in (g1, g2):
            self.assertEqual(f.join(self.ctl).status, 200)
        self.assertEqual(c1.join(self.ctl, send_gpus=False).status, 200)  # an older worker: no field, no GPUs
        self.assertTrue(wait_healthy(self.ctl, ["g1", "c1", "g2"]), self.ctl.workers())
        ws = self.ctl.workers()
        self.assertEqual({n: ws[n]["gpus"] for n in ws}, {"g1": 1, "c1": 0, "g2": 2})

        r = self.register("g", "GPU")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["workers"], r.json["gpu_workers"]), (2, 2), r.json)
        r = self.register("c")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["workers"], 3, r.json)
        self.assertNotIn("gpu_workers", r.json)
        self.assertEqual((g1.registered, c1.registered, g2.registered), (["g", "c"], ["c"], ["g", "c"]))

        got = [self.invoke("g") for _ in range(6)]
        self.assertTrue(all(r.status == 200 for r in got), got)
        self.assertEqual(sorted({r.json["worker"] for r in got}), ["g1", "g2"])
        self.assertNotIn("g", c1.invoked)
        got = [self.invoke("c") for _ in range(6)]
        self.assertEqual(sorted({r.json["worker"] for r in got}), ["c1", "g1", "g2"])

    def test_no_worker_with_gpus_keeps_it_and_answers_503(self):
        c1 = self.fake("c1", 0)
        self.assertEqual(c1.join(self.ctl).status, 200)
        self.assertTrue(wait_healthy(self.ctl, ["c1"]), self.ctl.workers())
        r = self.register("g", "GPU")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["workers"], r.json["gpu_workers"]), (0, 0), r.json)
        self.assertIn("no worker has GPUs yet", r.json["message"])
        self.assertEqual(c1.registered, [])
        r = self.invoke("g")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json["error_kind"], "no_worker")
        self.assertIn("no healthy worker with GPUs to run g-1", r.json["error"])
        # one joins with GPUs: it gets g and runs it
        g1 = self.fake("g1", 1)
        self.assertEqual(g1.join(self.ctl).status, 200)
        self.assertTrue(wait_healthy(self.ctl, ["g1"]), self.ctl.workers())
        self.assertEqual(g1.registered, ["g"])
        r = self.invoke("g")
        self.assertEqual((r.status, r.json.get("worker")), (200, "g1"), r)

    def test_gpus_survive_a_restart_and_bad_gpus_is_refused(self):
        g1 = self.fake("g1", 3)
        self.assertEqual(g1.join(self.ctl).status, 200)
        r = self.ctl.post("/register_worker", {"name": "x", "host": HOST, "port": 9, "gpus": "3"})
        self.assertEqual(r.status, 400, r)
        self.assertIn("gpus", r.json["error"])
        self.ctl.stop()
        self.ctl.start()
        self.assertEqual(self.ctl.workers()["g1"]["gpus"], 3)
        # before the worker is heard from again, a GPU function goes to it
        r = self.register("g", "GPU")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["workers"], 1, r.json)
        self.assertIn("g", g1.registered)


if __name__ == "__main__":
    unittest.main()
