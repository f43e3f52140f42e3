"""The controller end to end: a real iluvatar_controller with two real
workers that join it through load_balancer_url, all on 127.0.0.1; fake
workers for the failure cases. Tests run in name order and build on each
other (the cluster is shared): 01 -> 10."""
import json
import time
import unittest

from ctl_harness import Controller, GarbageWorker, HangingWorker, stop_cluster
from harness import Client, Worker, function_dir, sanitizer_reports, wait_until


class ControllerTest(unittest.TestCase):
    ctl = None
    workers = []
    fakes = []

    @classmethod
    def setUpClass(cls):
        cls.workers = []
        cls.fakes = []
        cls.ctl = Controller({"health": {"status_freq_ms": 200, "failures_to_unhealthy": 2,
                                         "request_timeout_ms": 500}}).start()
        try:
            for n in ("ctlA", "ctlB"):
                cls.workers.append(Worker({"load_balancer_url": cls.ctl.url}, name=n).start())
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_cluster(cls.ctl, cls.workers, cls.fakes)

    # ---- helpers -----------------------------------------------------------

    def fail_with_log(self, msg):
        self.fail(f"{msg}\ncontroller log:\n{self.ctl.log_tail(25)}")

    def worker_names(self):
        return {f"e2e-{n}" for n in ("ctlA", "ctlB")}

    def wait_healthy(self, names, timeout=3.0):
        ok = wait_until(lambda: all(self.ctl.workers().get(n, {}).get("health") == "HEALTHY" for n in names),
                        timeout)
        if not ok:
            self.fail_with_log(f"workers {sorted(names)} not all HEALTHY within {timeout}s: "
                               f"{ {n: w.get('health') for n, w in self.ctl.workers().items()} }")

    def invoke(self, name="hello", args=None, timeout=30):
        return self.ctl.post("/invoke", {"function_name": name, "function_version": "1",
                                         "json_args": {"name": "Ctl"} if args is None else args}, timeout=timeout)

    def register_hello(self):
        r = self.ctl.post("/register", {"function_name": "hello", "function_version": "1",
                                        "image_name": function_dir("hello"), "memory": 128, "cpus": 1})
        if r.status != 200:
            self.fail_with_log(f"register hello at the controller: {r!r}")
        return r

    # ---- tests -------------------------------------------------------------

    def test_01_workers_join_and_become_healthy(self):
        self.wait_healthy(self.worker_names(), timeout=3.0)
        for w in self.workers:
            self.assertIn("worker successfully registered", w.log())
        w = self.ctl.workers()["e2e-ctlA"]
        self.assertEqual((w["host"], w["port"]), ("127.0.0.1", self.workers[0].port))

    def test_02_register_reaches_every_worker(self):
        self.wait_healthy(self.worker_names())
        r = self.register_hello()
        self.assertEqual(r.json.get("fqdn"), "hello-1")
        self.assertEqual(r.json.get("workers"), 2, r)
        for w in self.workers:
            names = [f["function_name"] for f in w.get("/list").json["functions"]]
            self.assertIn("hello", names, f"worker {w.name} does not list hello")
        self.assertIn("hello", [f["function_name"] for f in self.ctl.get("/list").json["functions"]])

    def test_03_invoke_through_controller(self):
        self.register_hello()
        r = self.ctl.post("/invoke", {"function_name": "hello", "function_version": "1",
                                      "json_args": "{\"name\": \"Ctl\"}"},
                          headers={"X-Transaction-Id": "ctl-tid-1"}, timeout=30)
        if r.status != 200:
            self.fail_with_log(f"invoke through the controller: {r!r}")
        self.assertTrue(r.json["success"])
        self.assertIn(r.json.get("worker"), self.worker_names())
        self.assertIsInstance(r.json.get("controller_us"), int)
        self.assertEqual(r.result()["body"]["greeting"], "Hello Ctl from python!")
        self.assertEqual(r.headers.get("x-transaction-id"), "ctl-tid-1")
        self.assertEqual(r.json.get("transaction_id"), "ctl-tid-1")
        worker = next(w for w in self.workers if f"e2e-{w.name}" == r.json["worker"])
        self.assertIn("ctl-tid-1", worker.log(), "the worker did not get the transaction id")

    def test_03a_bytes_pass_through_both_ways(self):
        """The controller forwards the client's bytes (odd spacing, escapes,
        json_args as an object) and writes the worker's answer text with
        "worker" and "controller_us" appended: the function gets the same
        arguments, and the answer has each member once, the worker's own
        members as the worker answered them."""
        self.register_hello()
        raw = ('{ "function_version" : "1",\n\t"json_args": {"name": "\\u0043tl \\"q\\" \\u00e9"},'
               ' "function_name":"hello" }')
        r = self.ctl.post("/invoke", raw, headers={"X-Transaction-Id": "ctl-raw-1"}, timeout=30)
        if r.status != 200:
            self.fail_with_log(f"invoke through the controller: {r!r}")
        pairs = json.loads(r.text, object_pairs_hook=lambda kv: kv)
        keys = [k for k, _ in pairs]
        self.assertEqual(len(keys), len(set(keys)), f"a member twice in {r.text[:400]}")
        self.assertEqual(keys[-2:], ["worker", "controller_us"], keys)
        self.assertEqual(r.result()["body"]["greeting"], 'Hello Ctl "q" \u00e9 from python!')
        self.assertEqual(r.json["transaction_id"], "ctl-raw-1")
        self.assertTrue(r.text.endswith("}\n"), repr(r.text[-20:]))
        # the same call straight to that worker answers the same members
        worker = next(w for w in self.workers if f"e2e-{w.name}" == r.json["worker"])
        d = worker.client.post("/invoke", raw, timeout=30)
        self.assertEqual(d.status, 200, repr(d))
        self.assertEqual(keys[:-2], list(d.json.keys()))
        # large bytes both ways (more than one socket write may take)
        big = "n" * 600_000
        r = self.ctl.post("/invoke", {"function_name": "hello", "function_version": "1",
                                      "json_args": json.dumps({"name": big})}, timeout=60)
        self.assertEqual(r.status, 200, repr(r)[:300])
        self.assertEqual(r.result()["body"]["greeting"], f"Hello {big} from python!")
        self.assertIsInstance(r.json.get("controller_us"), int)
        # an answer the controller writes itself (unknown function) is JSON too
        e = self.ctl.post("/invoke", '{"function_name": "nope", "function_version": "1"}', timeout=30)
        self.assertEqual(e.status, 404, repr(e))
        self.assertFalse(e.json["success"])

    def test_03b_health_and_clean_fan_out(self):
        self.register_hello()
        r = self.ctl.get("/health")
        self.assertEqual((r.status, r.json.get("status")), (200, "HEALTHY"), r)
        self.assertGreaterEqual(r.json.get("healthy_workers", 0), 2, r)
        self.assertEqual(self.invoke().status, 200)  # at least one warm container somewhere
        r = self.ctl.post("/clean", {})
        self.assertEqual(r.status, 200, r)
        self.assertGreaterEqual(r.json.get("workers", 0), 2, r)
        self.assertGreaterEqual(r.json.get("removed", 0), 1, r)
        for w in self.workers:
            self.assertEqual(w.status().get("idle_containers"), 0, f"{w.name} kept idle containers after /clean")

    def test_04_invoke_async_and_check(self):
        self.register_hello()
        r = self.ctl.post("/invoke_async", {"function_name": "hello", "function_version": "1",
                                            "json_args": {"name": "Async"}})
        self.assertEqual(r.status, 200, r)
        cookie = r.json["lookup_cookie"]
        deadline = time.monotonic() + 30
        while True:
            c = self.ctl.post("/invoke_async_check", {"lookup_cookie": cookie})
            if c.status == 200 and c.json.get("success") is False and c.json.get("status") == "Invocation not completed":
                self.assertLess(time.monotonic(), deadline, "async invocation never finished")
                time.sleep(0.05)
                continue
            break
        self.assertEqual(c.status, 200, c)
        self.assertTrue(c.json["success"], c)
        self.assertEqual(c.result()["body"]["greeting"], "Hello Async from python!")
        self.assertIn(c.json.get("worker"), self.worker_names())
        again = self.ctl.post("/invoke_async_check", {"lookup_cookie": cookie})
        self.assertEqual(again.status, 404, again)

    def test_05_bad_requests(self):
        cases = [
            (self.ctl.get("/nope"), 404, "not_found"),
            (self.ctl.get("/invoke"), 405, "bad_method"),
            (self.ctl.post("/invoke", "{not json"), 400, "bad_request"),
            (self.ctl.post("/invoke", {"function_name": "hello"}), 400, "bad_request"),
            (self.ctl.post("/invoke", {"function_name": "nope", "function_version": "1"}), 404, "not_found"),
            (self.ctl.post("/register_worker", {"name": "x"}), 400, "bad_request"),
            (self.ctl.post("/invoke_async_check", {"lookup_cookie": "nope"}), 404, "not_found"),
        ]
        self.register_hello()
        big = "x" * (1 << 20)
        cases.append((self.ctl.post("/invoke", {"function_name": "hello", "function_version": "1",
                                                "json_args": {"pad": big}}), 413, "too_large"))
        for r, status, kind in cases:
            self.assertEqual(r.status, status, r)
            self.assertIs(r.json.get("success"), False, r)
            self.assertEqual(r.json.get("error_kind"), kind, r)
            self.assertTrue(r.json.get("error"), r)
            self.assertTrue(r.json.get("transaction_id"), r)
        m = self.ctl.get("/metrics")
        self.assertEqual(m.status, 200)
        self.assertIn('iluvatar_controller_worker_healthy{worker="e2e-ctlA"} 1', m.text)
        self.assertIn("iluvatar_controller_invocations_total", m.text)

    def test_06_late_worker_gets_the_functions(self):
        self.register_hello()
        late = Worker({"load_balancer_url": self.ctl.url}, name="ctlLate").start()
        self.workers.append(late)
        ok = wait_until(lambda: "hello" in [f["function_name"] for f in late.get("/list").json["functions"]], 5.0)
        if not ok:
            self.fail_with_log(f"late worker never got hello: {late.get('/list')!r}")
        self.wait_healthy({"e2e-ctlLate"})

    def test_07_garbage_worker_is_unhealthy_and_never_routed_to(self):
        self.register_hello()
        fake = GarbageWorker()
        self.fakes.append(fake)
        r = self.ctl.post("/register_worker", {"name": "fake-garbage", "host": "127.0.0.1", "port": fake.port,
                                               "cpus": 64, "memory_mb": 1024})
        self.assertEqual(r.status, 200, r)
        ok = wait_until(lambda: self.ctl.workers().get("fake-garbage", {}).get("health") == "UNHEALTHY", 3.0)
        if not ok:
            self.fail_with_log(f"garbage worker not UNHEALTHY: {self.ctl.workers().get('fake-garbage')}")
        self.assertGreaterEqual(fake.hits.get("/status", 0), 2)
        for _ in range(10):
            r = self.invoke()
            self.assertEqual(r.status, 200, r)
            self.assertNotEqual(r.json.get("worker"), "fake-garbage")
        self.assertEqual(fake.hits.get("/invoke", 0), 0)

    def test_08_hanging_worker_does_not_hang_the_controller(self):
        self.register_hello()
        fake = HangingWorker()
        self.fakes.append(fake)
        r = self.ctl.post("/register_worker", {"name": "fake-hang", "host": "127.0.0.1", "port": fake.port,
                                               "cpus": 64, "memory_mb": 1024})
        self.assertEqual(r.status, 200, r)
        t_end = time.monotonic() + 2.5
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            p = Client(self.ctl.port, timeout=2).get("/ping")
            self.assertEqual(p.status, 200)
            self.assertLess(time.monotonic() - t0, 0.5, "controller slow to answer /ping with a hanging worker")
            r = self.invoke(timeout=10)
            self.assertEqual(r.status, 200, r)
            self.assertNotEqual(r.json.get("worker"), "fake-hang")
            time.sleep(0.1)
        ok = wait_until(lambda: self.ctl.workers().get("fake-hang", {}).get("health") == "UNHEALTHY", 3.0)
        if not ok:
            self.fail_with_log(f"hanging worker not UNHEALTHY: {self.ctl.workers().get('fake-hang')}")

    def test_09_restart_keeps_functions_and_workers(self):
        self.register_hello()
        code, secs = self.ctl.stop()
        self.assertEqual(code, 0, f"controller exited {code} after {secs:.1f}s:\n{self.ctl.log_tail()}")
        self.assertLess(secs, 6.0)
        self.ctl.start()
        names = [f["function_name"] for f in self.ctl.get("/list").json["functions"]]
        self.assertIn("hello", names)
        self.assertTrue(self.worker_names() <= set(self.ctl.workers()), self.ctl.workers().keys())
        self.wait_healthy(self.worker_names(), timeout=3.0)
        r = self.invoke()
        self.assertEqual(r.status, 200, r)

    def test_10_registration_every_worker_refuses_is_not_kept(self):
        self.wait_healthy(self.worker_names())
        r = self.ctl.post("/register", {"function_name": "nowhere", "function_version": "1",
                                        "image_name": "/nonexistent/ilu-e2e/nowhere", "memory": 128, "cpus": 1})
        self.assertEqual(r.status, 400, r)
        self.assertIn("not kept", r.json.get("error", ""), r)
        self.assertNotIn("nowhere", [f["function_name"] for f in self.ctl.get("/list").json["functions"]])
        r = self.invoke("nowhere")
        self.assertEqual(r.status, 404, r)
        # not in the store either: a restarted controller does not know it
        self.ctl.stop()
        self.ctl.start()
        self.assertNotIn("nowhere", [f["function_name"] for f in self.ctl.get("/list").json["functions"]])


class ControllerAloneTest(unittest.TestCase):
    """A controller with no worker attached still applies the workers' rules."""

    @classmethod
    def setUpClass(cls):
        cls.ctl = Controller().start()

    @classmethod
    def tearDownClass(cls):
        code, _ = cls.ctl.stop()
        problems = sanitizer_reports(cls.ctl.log())
        cls.ctl.destroy()
        if code != 0 or problems:
            raise AssertionError(f"controller exited {code}; sanitizer reports: {problems[:10]}")

    def test_bad_registrations_are_refused_without_workers(self):
        good = {"function_name": "f", "function_version": "1", "image_name": "/srv/functions/f", "memory": 128,
                "cpus": 1}
        cases = [({"function_name": "a/b"}, "function_name"),
                 ({"function_name": "x" * 64}, "function_name"),
                 ({"function_version": "1 2"}, "function_version"),
                 ({"image_name": "docker.io/alfuerst/hello:latest"}, "absolute"),
                 ({"image_name": "relative/dir"}, "absolute"),
                 ({"image_name": "/srv/../etc"}, ".."),
                 ({"image_name": "/srv/a\nb"}, "control"),
                 ({"image_name": "/" + "a" * 5000}, "limit"),
                 ({"function_name": "f\u0000x"}, "NUL"),
                 ({"memory": 0}, "memory"),
                 ({"cpus": 0}, "cpus"),
                 ({"parallel_invokes": 2}, "parallel_invokes")]
        for change, says in cases:
            body = dict(good, **change)
            r = self.ctl.post("/register", body)
            self.assertEqual(r.status, 400, f"{change}: {r!r}")
            self.assertEqual(r.json.get("success"), False, r)
            self.assertIn(says, r.json.get("error", ""), f"{change}: {r!r}")
        self.assertEqual(self.ctl.get("/list").json["functions"], [])
        # numbers are JSON integers (docs/api.md): "256" is refused, 256 taken
        r = self.ctl.post("/register", dict(good, memory="256"))
        self.assertEqual(r.status, 400, r)
        r = self.ctl.post("/register", dict(good, memory=256))
        self.assertEqual(r.status, 200, r)
        self.assertEqual([f["memory"] for f in self.ctl.get("/list").json["functions"]], [256])


if __name__ == "__main__":
    unittest.main()
