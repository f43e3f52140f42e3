"""Queue policies on real containers (invocation.queue_policy), one CPU: a
blocker holds the CPU while invocations queue behind it, and the order in
which they complete is the one the policy promises (docs/policies.md,
"Queue policies"). Unit tests (tests/unit/test_queue_policies.c) check the
exact rules; these check that the live worker runs them. Also
POST /est_invoke_time. Functions are tests/e2e/functions/sleeper registered
under several names, so each name learns its own execution time."""
import threading
import time
import unittest

from harness import WorkerTestCase, function_dir, wait_until

ONE_CPU = {"container_resources": {"cpu_count": 1, "memory_mb": 1024}}


def config(policy, **resources):
    cfg = {"invocation": {"queue_policy": policy},
           "container_resources": dict(ONE_CPU["container_resources"])}
    cfg["container_resources"].update(resources)
    return cfg


class QueueOrderMixin:
    """Helpers: sleeper under a name, invocations in background threads that
    record when they completed, waits on /status."""

    def setUp(self):
        self.done = {}
        self.threads = []

    def tearDown(self):
        for t in self.threads:
            t.join(timeout=60)

    def register_sleeper(self, *names):
        for name in names:
            self.assertRegistered(name, image=function_dir("sleeper"))

    def run_ok(self, name, sec):
        r = self.worker.invoke(name, "1", {"sec": sec}, timeout=60)
        self.assertHTTP(r, 200, f"invoke {name} sec={sec}")

    def learn(self, *runs):
        """Register each (name, sec) as the sleeper, then run each once for
        sec: the worker learns its execution time and keeps a warm container."""
        self.register_sleeper(*(name for name, _ in runs))
        for name, sec in runs:
            self.run_ok(name, sec)

    def start(self, label, name, sec):
        """Invoke in the background; self.done[label] = (completion time, response)."""
        client = self.worker.new_client(timeout=60)

        def run():
            try:
                r = self.worker.invoke(name, "1", {"sec": sec}, client=client)
            except Exception as e:  # reported by the test's assertions
                r = e
            finally:
                client.close()
            self.done[label] = (time.monotonic(), r)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)

    def status_until(self, what, predicate, timeout=20.0):
        last = {}

        def check():
            last["s"] = self.worker.status()
            return predicate(last["s"])
        if not wait_until(check, timeout=timeout, interval=0.02):
            self.fail_with_log(f"{what} not reached within {timeout:.0f}s: {last.get('s')}")
        return last["s"]

    def queued(self, n):
        return self.status_until(f"cpu_queue_len == {n}", lambda s: s.get("cpu_queue_len") == n)

    def running_blocker(self):
        return self.status_until("blocker running", lambda s: s.get("num_running_funcs") == 1)

    def block(self, label, name, sec):
        """Invoke name in the background and wait until it holds the CPU."""
        self.start(label, name, sec)
        self.running_blocker()

    def enqueue(self, *invocations, behind=0):
        """Start each (label, name, sec) in the background, in turn, waiting
        until it is queued behind the `behind` already queued and the ones
        before it."""
        for n, (label, name, sec) in enumerate(invocations, start=behind + 1):
            self.start(label, name, sec)
            self.queued(n)

    def completion_order(self, labels):
        for t in self.threads:
            t.join(timeout=60)
        for label in labels:
            if label not in self.done:
                self.fail_with_log(f"invocation {label} never completed")
            r = self.done[label][1]
            if isinstance(r, Exception) or r.status != 200:
                self.fail_with_log(f"invocation {label} failed: {r!r}")
        return sorted(labels, key=lambda label: self.done[label][0])


class FcfsMinheapMixin(QueueOrderMixin):
    """One scenario whose completion order tells fcfs, minheap and
    minheap_ed apart (fcfs: L S1 S2, minheap: S1 S2 L, minheap_ed: S1 L S2)."""

    def scenario(self):
        # learn: long 0.6 s, short 0.2 s; each keeps a warm container
        self.learn(("blocker", 0), ("long", 0.6), ("short", 0.2))
        self.block("blocker", "blocker", 2.5)
        # deadlines: L = t + 0.6; S1 = t + ~0.05 + 0.2 (earlier); S2 = t + ~1.0 + 0.2 (later)
        self.enqueue(("L", "long", 0.6), ("S1", "short", 0.2))
        time.sleep(1.0)
        self.enqueue(("S2", "short", 0.2), behind=2)
        return self.completion_order(["S1", "L", "S2"])


class MinheapEDTest(FcfsMinheapMixin, WorkerTestCase):
    CONFIG = config("minheap_ed")

    def test_earliest_expected_deadline_first(self):
        self.assertEqual(self.scenario(), ["S1", "L", "S2"], "completion order under minheap_ed")


class FcfsTest(FcfsMinheapMixin, WorkerTestCase):
    CONFIG = config("fcfs")

    def test_arrival_order(self):
        self.assertEqual(self.scenario(), ["L", "S1", "S2"], "completion order under fcfs")


class MinheapTest(FcfsMinheapMixin, WorkerTestCase):
    CONFIG = config("minheap")

    def test_shortest_expected_execution_first(self):
        self.assertEqual(self.scenario(), ["S1", "S2", "L"], "completion order under minheap")


class MinheapIATTest(QueueOrderMixin, WorkerTestCase):
    CONFIG = config("minheap_iat")

    def test_most_frequent_function_first(self):
        self.register_sleeper("blocker", "rare", "freq")
        self.run_ok("blocker", 0)
        # rare: arrivals 1.5 s apart; freq: six back to back
        self.run_ok("rare", 0)
        time.sleep(1.5)
        self.run_ok("rare", 0)
        for _ in range(6):
            self.run_ok("freq", 0)
        self.block("blocker", "blocker", 1.5)
        self.enqueue(("rare", "rare", 0.2), ("freq", "freq", 0.2))
        order = self.completion_order(["rare", "freq"])
        # same execution time, rare queued first: fcfs and minheap run rare first
        self.assertEqual(order, ["freq", "rare"], "completion order under minheap_iat")


class ColdPriTest(QueueOrderMixin, WorkerTestCase):
    CONFIG = config("cold_pri")

    def test_warm_container_freed_while_queued_counts(self):
        # learn: A 0.1 s, B 0.5 s; each keeps one warm container
        self.learn(("A", 0.1), ("B", 0.5))
        # a1 holds the CPU and A's only container
        self.block("a1", "A", 1.5)
        # b2 queued with B's container free (warm 0.5 s), a2 with A's busy
        # (cold: start-up + 0.1 s); when a1 ends A's container is free again
        # and a2 (warm, 0.9 x 0.1 + 0.1 x 1.5 = 0.24 s) goes first
        self.enqueue(("b2", "B", 0.5), ("a2", "A", 0.1))
        order = self.completion_order(["a1", "b2", "a2"])
        self.assertEqual(order, ["a1", "a2", "b2"], "completion order under cold_pri (fcfs: a1 b2 a2)")
        states = {k: self.done[k][1].json.get("container_state") for k in ("a2", "b2")}
        self.assertEqual(states, {"a2": "warm", "b2": "warm"})


class NoneUnlimitedTest(QueueOrderMixin, WorkerTestCase):
    # Ilúvatar's queueless mode: cpu_count 0 means no concurrency limit
    CONFIG = config("none", cpu_count=0)

    def test_everything_runs_at_once(self):
        s = self.worker.status()
        self.assertEqual(s.get("cpu_limit"), 4294967295, f"status: {s}")
        self.register_sleeper("par")
        for i in range(3):
            self.start(f"p{i}", "par", 2.0)
        seen = self.status_until("3 invocations running at once", lambda s: s.get("num_running_funcs") == 3)
        self.assertEqual(seen.get("cpu_queue_len"), 0, f"status: {seen}")
        self.completion_order(["p0", "p1", "p2"])


class NoneFifoTest(QueueOrderMixin, WorkerTestCase):
    CONFIG = config("none")

    def test_fifo_under_a_cpu_count(self):
        self.assertEqual(self.worker.status().get("cpu_limit"), 1)
        self.learn(("blocker", 0), ("long", 0.6), ("short", 0.3))
        self.block("blocker", "blocker", 1.0)
        # completions 0.3 s apart either way (FIFO: L, S; SJF would be S, L)
        self.enqueue(("L", "long", 0.6), ("S", "short", 0.3))
        self.assertEqual(self.completion_order(["L", "S"]), ["L", "S"], "completion order under none")


class EstInvokeTimeTest(QueueOrderMixin, WorkerTestCase):
    CONFIG = ONE_CPU

    def est(self, name):
        r = self.worker.post("/est_invoke_time", {"function_name": name, "function_version": "1"})
        self.assertHTTP(r, 200, f"est_invoke_time {name}")
        self.assertEqual(r.json.get("fqdn"), f"{name}-1")
        return r.json["est_time"]

    def test_estimate_follows_history_and_queue(self):
        self.register_sleeper("est")
        self.assertEqual(self.est("est"), 0, "a function that never ran, empty queue")
        r = self.worker.post("/est_invoke_time", {"fqdns": ["est-1", "nope-1"]})
        self.assertHTTP(r, 200, "est_invoke_time fqdns")
        self.assertEqual(r.json.get("est_time"), [0, 0])
        self.run_ok("est", 0.3)
        idle = self.est("est")
        # warm container free: its execution, as the agent measured it
        self.assertTrue(0.25 <= idle < 5, f"estimate with a warm container free: {idle}")
        # one running (the container busy), two queued: each queued one is
        # expected to start cold, and so is a new one
        self.block("r", "est", 1.5)
        self.enqueue(("q1", "est", 0.3), ("q2", "est", 0.3))
        busy = self.est("est")
        self.assertGreater(busy, 3 * 0.3, f"estimate with 2 queued (idle one was {idle})")
        self.completion_order(["r", "q1", "q2"])

    def test_bad_requests(self):
        self.assertError(self.worker.post("/est_invoke_time", {"function_name": "nope", "function_version": "1"}),
                         404, "not_found", "unregistered function")
        self.assertError(self.worker.post("/est_invoke_time", {"function_name": "nope"}),
                         400, "bad_request", "no function_version")
        self.assertError(self.worker.post("/est_invoke_time", {"fqdns": "est-1"}),
                         400, "bad_request", "fqdns not an array")
        self.assertError(self.worker.post("/est_invoke_time", {"fqdns": [1]}),
                         400, "bad_request", "fqdns entry not a string")
        self.assertError(self.worker.get("/est_invoke_time"), 405, "bad_method", "GET")


if __name__ == "__main__":
    unittest.main()
