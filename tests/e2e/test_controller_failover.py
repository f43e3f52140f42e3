"""Synchronous invocations through the controller when a worker dies
(kill -9): one whose request never reached the worker (connection refused,
or closed before the request was written) is sent to another worker; one
that was sent and then lost is answered 502 with may_have_run true.
A real controller (RoundRobin, slow status polls so the controller learns of
the death from the invocations, not the polls) and three real workers."""
import json
import signal
import threading
import time
import unittest

from ctl_harness import Controller, stop_cluster
from harness import Client, Worker, function_dir, wait_until


class ControllerFailoverTest(unittest.TestCase):
    ctl = None
    workers = []

    @classmethod
    def setUpClass(cls):
        cls.workers = []
        cls.ctl = Controller({"load_balancer": {"algorithm": "RoundRobin"},
                              "health": {"status_freq_ms": 3000, "failures_to_unhealthy": 2,
                                         "request_timeout_ms": 500},
                              "invocation": {"unsent_retries": 2}}).start()
        try:
            for n in ("foA", "foB", "foC"):
                cls.workers.append(Worker({"load_balancer_url": cls.ctl.url}, name=n).start())
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_cluster(cls.ctl, cls.workers)

    def fail_with_log(self, msg):
        self.fail(f"{msg}\ncontroller log:\n{self.ctl.log_tail(25)}")

    def live(self):
        return [w for w in self.workers if w.proc and w.proc.poll() is None]

    def setUp(self):
        names = {f"e2e-{w.name}" for w in self.live()}
        ok = wait_until(lambda: all(self.ctl.workers().get(n, {}).get("health") == "HEALTHY" for n in names), 15.0)
        if not ok:
            self.fail_with_log(f"workers not HEALTHY: { {n: w.get('health') for n, w in self.ctl.workers().items()} }")
        for fn in ("hello", "sleep"):
            r = self.ctl.post("/register", {"function_name": fn, "function_version": "1",
                                            "image_name": function_dir(fn), "memory": 128, "cpus": 1})
            if r.status != 200:
                self.fail_with_log(f"register {fn}: {r!r}")

    def status(self):
        return self.ctl.get("/status").json

    def invoke(self, client, fn, args, tid):
        return client.post("/invoke", {"function_name": fn, "function_version": "1", "json_args": args},
                           headers={"X-Transaction-Id": tid}, timeout=60)

    def test_01_invocation_to_an_idle_killed_worker_runs_elsewhere(self):
        """The killed worker is still HEALTHY for the controller (no poll for
        3 s): its turn in the round robin meets a refused connection, and the
        invocation runs on another worker instead."""
        victim = self.live()[0]
        c = Client(self.ctl.port)
        for k in range(6):  # warm containers and keep-alive connections everywhere
            self.assertEqual(self.invoke(c, "hello", {"name": "warm"}, f"fo1-warm-{k}").status, 200)
        before = self.status()
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        time.sleep(0.3)  # the controller sees its idle connections close
        answers = [self.invoke(c, "hello", {"name": f"n{k}"}, f"fo1-{k}") for k in range(6)]
        after = self.status()
        bad = [r for r in answers if r.status != 200]
        self.assertEqual(bad, [], f"invocations failed after an idle worker was killed: {bad}")
        self.assertNotIn(f"e2e-{victim.name}", {r.json.get("worker") for r in answers})
        self.assertGreaterEqual(after["unsent_retries"] - before["unsent_retries"], 1,
                                f"no invocation was re-sent: before {before}, after {after}")
        self.assertIn("request never reached worker", self.ctl.log())
        self.assertEqual(self.ctl.workers()[f"e2e-{victim.name}"]["health"], "UNHEALTHY")

    def test_02_kill_under_sync_load(self):
        """8 clients, 400 sync invocations of a 30 ms function, one worker
        killed a third of the way in: every failure is a 502 saying the
        function may have run (its request had reached the dying worker);
        none that never reached it fails."""
        live = self.live()
        self.assertGreaterEqual(len(live), 2)
        victim = live[0]
        threads, per_thread = 8, 50
        results = []
        lock = threading.Lock()
        started = threading.Event()
        done_count = [0]

        def run(t):
            c = Client(self.ctl.port)
            for k in range(per_thread):
                tid = f"fo2-{t}-{k}"
                try:
                    r = self.invoke(c, "sleep", {"ms": 30}, tid)
                    item = (tid, r.status, r.json or {})
                except OSError as e:
                    item = (tid, 0, {"error": str(e)})
                with lock:
                    results.append(item)
                    done_count[0] += 1
                    if done_count[0] >= threads * per_thread // 3:
                        started.set()

        before = self.status()
        ts = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        started.wait(120)
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        for t in ts:
            t.join(300)
        after = self.status()
        self.assertEqual(len(results), threads * per_thread)
        failed = [(tid, st, a) for tid, st, a in results if st != 200]
        retried = after["unsent_retries"] - before["unsent_retries"]
        print(f"\n    kill -9 under sync load: {len(results)} invocations, {len(failed)} failed "
              f"(may have run), {retried} re-sent to another worker after a refused/reset send", flush=True)
        for tid, st, a in failed:
            self.assertEqual(st, 502, f"{tid}: {st} {a}")
            self.assertEqual(a.get("error_kind"), "worker_failed", a)
            self.assertIs(a.get("may_have_run"), True,
                          f"{tid} never reached a worker and still failed: {json.dumps(a)}")
            self.assertIn("may have run", a.get("error", ""))
            self.assertEqual(a.get("worker"), f"e2e-{victim.name}", a)
        self.assertLessEqual(len(failed), threads, "more failures than invocations in flight at the kill")


if __name__ == "__main__":
    unittest.main()
