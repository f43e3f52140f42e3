"""Controller authentication and worker names (docs/security.md): with
auth.worker_token set, /register_worker (registration and heartbeats) needs
it as a bearer token; with auth.client_token set, every other path but /ping
needs that one; a live worker's name cannot be taken by another address.
A real controller and a real worker that joins with load_balancer_token."""
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from ctl_harness import Controller, stop_cluster
from harness import BUILD, Client, Worker, function_dir, run_cli, wait_until

WORKER_TOKEN = "wt-3b1f0c9e-e2e"
CLIENT_TOKEN = "ct-77a2d4c1-e2e"
CLIENT = {"Authorization": f"Bearer {CLIENT_TOKEN}"}
WORKER = {"Authorization": f"Bearer {WORKER_TOKEN}"}


class ControllerAuthTest(unittest.TestCase):
    ctl = None
    worker = None

    @classmethod
    def setUpClass(cls):
        cls.ctl = Controller({"load_balancer": {"algorithm": "RoundRobin"},
                              "health": {"status_freq_ms": 200, "failures_to_unhealthy": 2,
                                         "request_timeout_ms": 500},
                              "auth": {"worker_token": WORKER_TOKEN, "client_token": CLIENT_TOKEN}}).start()
        try:
            cls.worker = Worker({"load_balancer_url": cls.ctl.url, "load_balancer_token": WORKER_TOKEN},
                                name="authA").start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_cluster(cls.ctl, [cls.worker] if cls.worker else [])

    def workers(self):
        r = self.ctl.get("/workers", headers=CLIENT)
        self.assertEqual(r.status, 200, r)
        return {w["name"]: w for w in r.json["workers"]}

    def wait_joined(self):
        ok = wait_until(lambda: self.workers().get("e2e-authA", {}).get("health") == "HEALTHY", 10.0)
        if not ok:
            self.fail(f"worker with the token did not join: {self.workers()}\n{self.ctl.log_tail(20)}")

    def assert_401(self, r):
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json.get("error_kind"), "unauthorized", r)
        self.assertIs(r.json.get("success"), False, r)
        self.assertTrue(r.json.get("transaction_id"), r)
        self.assertEqual(r.headers.get("www-authenticate"), "Bearer", r)

    def test_01_worker_with_the_token_joins(self):
        self.wait_joined()
        self.assertIn("worker successfully registered", self.worker.log())

    def test_02_register_worker_needs_the_worker_token(self):
        body = {"name": "intruder", "host": "127.0.0.1", "port": 9, "cpus": 1, "memory_mb": 1}
        self.assert_401(self.ctl.post("/register_worker", body))
        self.assert_401(self.ctl.post("/register_worker", body, headers={"Authorization": "Bearer wrong"}))
        self.assert_401(self.ctl.post("/register_worker", body,
                                      headers={"Authorization": f"Bearer {WORKER_TOKEN}x"}))
        self.assert_401(self.ctl.post("/register_worker", body, headers=CLIENT))  # the client token is not it
        self.assertNotIn("intruder", self.workers())

    def test_03_client_api_needs_the_client_token(self):
        self.assertEqual(self.ctl.get("/ping").status, 200)
        for method, path in (("GET", "/list"), ("GET", "/workers"), ("GET", "/status"), ("GET", "/metrics"),
                             ("POST", "/invoke"), ("POST", "/register")):
            body = {"function_name": "hello", "function_version": "1"} if method == "POST" else None
            self.assert_401(self.ctl.client.request(method, path, body))
            self.assert_401(self.ctl.client.request(method, path, body, headers=WORKER))
        self.assertEqual(self.ctl.get("/list", headers=CLIENT).status, 200)
        # GET /config: a client's, and it never shows the tokens
        self.assert_401(self.ctl.client.request("GET", "/config"))
        r = self.ctl.get("/config", headers=CLIENT)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["program"], "iluvatar_controller")
        self.assertEqual(r.json["config"]["auth"], {"worker_token": "(set)", "client_token": "(set)"})
        self.assertEqual(r.json["config"]["load_balancer"]["algorithm"], "RoundRobin")
        self.assertNotIn(WORKER_TOKEN, r.text)
        self.assertNotIn(CLIENT_TOKEN, r.text)

    def test_04_live_worker_name_cannot_be_taken_over(self):
        """The attack of issue 8 item 15: a fake re-registers the real
        worker's name every 200 ms while 30 invocations run. With the token
        it is refused (409); no invocation reaches it."""
        self.wait_joined()
        r = self.ctl.post("/register", {"function_name": "hello", "function_version": "1",
                                        "image_name": function_dir("hello"), "memory": 128, "cpus": 1},
                          headers=CLIENT)
        self.assertEqual(r.status, 200, r)
        fake = {"name": "e2e-authA", "host": "127.0.0.1", "port": 9, "cpus": 64, "memory_mb": 4096,
                "boot_id": "forged"}
        answers = []
        stop = threading.Event()

        def attack():
            c = Client(self.ctl.port)
            while not stop.is_set():
                for headers in (None, WORKER):  # without and with the (leaked) worker token
                    answers.append(c.post("/register_worker", fake, headers=headers).status)
                time.sleep(0.2)

        t = threading.Thread(target=attack)
        t.start()
        try:
            c = Client(self.ctl.port)
            results = [c.post("/invoke", {"function_name": "hello", "function_version": "1",
                                          "json_args": {"name": f"n{k}"}}, headers=CLIENT, timeout=30)
                       for k in range(30)]
        finally:
            stop.set()
            t.join(10)
        self.assertEqual(sorted(set(answers)), [401, 409], answers)
        self.assertEqual([r.status for r in results], [200] * 30, [r for r in results if r.status != 200])
        self.assertEqual({r.json.get("worker") for r in results}, {"e2e-authA"})
        w = self.workers()["e2e-authA"]
        self.assertEqual((w["host"], w["port"]), ("127.0.0.1", self.worker.port))
        self.assertIn("held by a live worker", self.ctl.log())

    def test_05_worker_with_a_wrong_token_is_refused_and_says_so(self):
        w = Worker({"load_balancer_url": self.ctl.url, "load_balancer_token": "not-the-token"},
                   name="authBad").start()
        try:
            ok = wait_until(lambda: "cannot register with the controller" in w.log(), 10.0)
            self.assertTrue(ok, w.log_tail(20))
            self.assertIn("worker token", w.log())
            self.assertNotIn("e2e-authBad", self.workers())
        finally:
            w.destroy()


    def test_06_cli_and_load_generator_send_the_client_token(self):
        self.wait_joined()
        port = str(self.ctl.port)
        r = run_cli("--port", port, "list")
        self.assertNotEqual(r.returncode, 0, "the CLI without a token must be refused")
        self.assertIn("401", r.stdout + r.stderr)
        r = run_cli("--port", port, "--token", CLIENT_TOKEN, "register", "--name", "hello", "--version", "tok",
                    "--image", function_dir("hello"), "--memory", "128", "--cpu", "1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = tempfile.mkdtemp(prefix="ilu-auth-lg-", dir="/tmp")
        self.addCleanup(shutil.rmtree, out, True)
        lg = [os.path.join(BUILD, "iluvatar_load_gen"), "--port", port, "--target", "controller", "--no-plots",
              "--quiet", "--out", out, "scaling", "--threads-from", "1", "--threads-to", "1", "--duration", "1",
              "--function-dir", function_dir("hello")]
        refused = subprocess.run(lg, capture_output=True, text=True, timeout=120)
        self.assertNotEqual(refused.returncode, 0, "the load generator without a token must be refused")
        env = dict(os.environ, ILUVATAR_TOKEN=CLIENT_TOKEN)  # the environment form of --token
        ok = subprocess.run(lg, capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(ok.returncode, 0, ok.stderr[-2000:])


class ControllerNoTokenWarningTest(unittest.TestCase):
    def test_non_loopback_without_tokens_warns_loudly(self):
        ctl = Controller({"address": "0.0.0.0"})
        try:
            ctl.start()
            self.assertIn("SECURITY: listening on 0.0.0.0 with no auth.worker_token", ctl.log())
            self.assertIn("no auth.client_token", ctl.log())
        finally:
            ctl.destroy()


if __name__ == "__main__":
    unittest.main()
