"""Pre-started generic sandboxes (container_resources.sandbox_pool_size,
docs/worker.md "Pooled sandboxes"): a cold start takes a ready sandbox and
the function keeps every isolation property of a fresh container (the
isolation tests run again on pooled sandboxes); a sandbox sees only its own
function's code; an import failure is a 502 and the sandbox is discarded;
the pool refills after use and after /clean; nothing is left behind, even
by a killed worker."""
import os
import signal
import unittest

import test_isolation
from harness import Worker, WorkerTestCase, function_dir, wait_until

POOL = 2
POOL_CONFIG = {"container_resources": {"sandbox_pool_size": POOL, "sandbox_memory_mb": 64}}


def wait_for_sandboxes(worker, ready=POOL, timeout=30):
    ok = wait_until(lambda: worker.status().get("sandboxes_ready") == ready, timeout)
    if not ok:
        raise AssertionError(f"{ready} sandboxes not ready within {timeout}s: {worker.status()}\n{worker.log_tail()}")


class PooledIsolationTest(test_isolation.IsolationTest):
    """Every isolation test, on a function that got a pooled sandbox: the
    memory and CPU limits must be the registration's, not the sandbox's."""
    CONFIG = POOL_CONFIG

    @classmethod
    def before_first_invoke(cls):
        wait_for_sandboxes(cls.worker)

    def test_the_invocation_took_a_sandbox(self):
        self.assertEqual(self.answer.json["timings"]["sandbox"], "pooled", self.answer)
        self.assertEqual(self.answer.json["container_state"], "cold")


class SandboxPoolTest(WorkerTestCase):
    CONFIG = POOL_CONFIG

    def setUp(self):
        wait_for_sandboxes(self.worker)

    def test_only_its_own_code_is_visible(self):
        self.assertRegistered("peek", "1", image=function_dir("peek"))
        self.assertRegistered("inspect", "2", image=function_dir("inspect"))
        self.assertInvokeOK("inspect", "2", state="cold")
        host_paths = [self.worker.state_dir, self.worker.root, function_dir("inspect"), "/work", "/root"]
        r = self.assertInvokeOK("peek", "1", {"paths": host_paths}, state="cold")
        self.assertEqual(r.json["timings"]["sandbox"], "pooled", r)
        seen = r.result()
        self.assertEqual(seen["function_files"], ["main.py"], seen)
        self.assertEqual(seen["probe"], {p: False for p in host_paths}, seen)
        # one read-only mount at /function, the function's own folder
        self.assertTrue(seen["function_mounts"], seen)
        for _, _, options in seen["function_mounts"]:
            self.assertIn("ro", options.split(","), seen)

    def test_sandbox_serves_one_function_for_life(self):
        self.assertRegistered("echo", "a", image=function_dir("echo"))
        self.assertRegistered("echo", "b", image=function_dir("echo"))
        ra = self.assertInvokeOK("echo", "a", {"x": 1}, state="cold")
        wait_for_sandboxes(self.worker)
        rb = self.assertInvokeOK("echo", "b", {"x": 2}, state="cold")
        self.assertEqual((ra.json["timings"]["sandbox"], rb.json["timings"]["sandbox"]), ("pooled", "pooled"))
        self.assertNotEqual(ra.json["container_id"], rb.json["container_id"])
        again = self.assertInvokeOK("echo", "a", {"x": 3}, state="warm")
        self.assertEqual(again.json["container_id"], ra.json["container_id"])
        self.assertIsNone(again.json["timings"]["sandbox"])

    def test_import_failure_is_a_502_and_the_sandbox_is_discarded(self):
        self.assertRegistered("badimport", "1", image=function_dir("badimport"))
        before = self.worker.status()
        r = self.worker.invoke("badimport", "1")
        body = self.assertError(r, 502, "container_error", "invoke badimport")
        self.assertIn("refusing to load", body["error"], body)
        after = self.worker.status()
        self.assertEqual(after["sandbox_hits"], before["sandbox_hits"] + 1, after)
        self.assertEqual(after["num_containers"], before["num_containers"], after)
        # the broken one is gone and the pool is whole again
        wait_for_sandboxes(self.worker)
        self.assertTrue(wait_until(lambda: self.worker.status()["num_containers"] == before["num_containers"], 10))

    def test_refill_after_clean(self):
        r = self.worker.post("/clean", {})
        self.assertHTTP(r, 200, "clean")
        status = self.worker.status()
        self.assertEqual(status["sandboxes_ready"] + status["sandboxes_starting"], POOL, status)
        wait_for_sandboxes(self.worker)

    def test_status_and_metrics_show_the_pool(self):
        self.assertRegistered("echo", "m", image=function_dir("echo"))
        before = self.worker.status()
        self.assertInvokeOK("echo", "m", {}, state="cold")
        after = self.worker.status()
        self.assertEqual(after["sandbox_pool_size"], POOL)
        self.assertEqual(after["sandbox_hits"], before["sandbox_hits"] + 1)
        metrics = self.worker.get("/metrics").text
        for name in ("iluvatar_sandboxes_ready", "iluvatar_sandboxes_starting", "iluvatar_sandbox_hits_total",
                     "iluvatar_sandbox_misses_total"):
            self.assertIn(f"\n{name} ", metrics)

    def test_startup_warns_when_the_key_quota_bounds_containers(self):
        """Every user-namespaced container holds a session keyring of one
        host id: a quota below ~1000 containers is said at startup."""
        with open("/proc/sys/kernel/keys/maxkeys") as f:
            maxkeys = int(f.read())
        with open("/proc/sys/kernel/keys/maxbytes") as f:
            maxbytes = int(f.read())
        warned = "per-user key quota" in self.worker.log()
        self.assertEqual(warned, min(maxkeys, maxbytes // 100) < 1000,
                         f"maxkeys {maxkeys}, maxbytes {maxbytes}: warning {'given' if warned else 'missing'}")

    def test_prewarm_takes_a_sandbox(self):
        self.assertRegistered("echo", "p", image=function_dir("echo"))
        before = self.worker.status()["sandbox_hits"]
        self.assertHTTP(self.worker.post("/prewarm", {"function_name": "echo", "function_version": "p"}), 200)
        self.assertEqual(self.worker.status()["sandbox_hits"], before + 1)
        self.assertInvokeOK("echo", "p", {}, state="prewarm")


class SandboxLeftoversTest(unittest.TestCase):
    def test_stop_leaves_nothing(self):
        w = Worker(POOL_CONFIG, name="pool-stop").start()
        try:
            wait_for_sandboxes(w)
            self.assertEqual(w.register("hello", "1", image=function_dir("hello")).status, 200)
            self.assertEqual(w.invoke("hello", "1").json["timings"]["sandbox"], "pooled")
            code, _ = w.stop()
            self.assertEqual(code, 0, w.log_tail())
            self.assertEqual(w.leftover_mounts(), [])
            self.assertEqual(w.leftover_cgroups(), [])
            self.assertEqual(w.leftover_processes(), [])
        finally:
            w.destroy()

    def test_leftovers_of_a_killed_worker_are_cleaned_at_start(self):
        first = Worker(POOL_CONFIG, name="pool-crashed").start()
        second = None
        try:
            wait_for_sandboxes(first)
            self.assertEqual(first.register("hello", "1", image=function_dir("hello")).status, 200)
            self.assertEqual(first.invoke("hello", "1").json["timings"]["sandbox"], "pooled")
            first.stop(signal.SIGKILL)
            self.assertTrue(first.leftover_mounts(), "a SIGKILLed worker should leave its sandbox mounts behind")
            second = first.successor("pool-restarted").start()
            self.assertEqual(second.leftover_mounts(), [], second.log_tail())
            self.assertEqual(os.listdir(os.path.join(first.state_dir, "containers")), [], second.log_tail())
        finally:
            if second:
                second.stop()
                second.force_cleanup()
            first.destroy()


if __name__ == "__main__":
    unittest.main()
