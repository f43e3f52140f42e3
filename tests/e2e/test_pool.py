"""Container pool and queue under pressure: eviction when memory is short,
keep-alive expiry, and 429 when the invocation queue is full."""
import threading
import time
import unittest

from harness import WorkerTestCase, function_dir, wait_until


class EvictionTest(WorkerTestCase):
    # room for one 200 MB container, not two
    CONFIG = {"container_resources": {"memory_mb": 256}}

    def test_second_function_evicts_idle_first(self):
        self.assertRegistered("hello", "A", image=function_dir("hello"), memory=200)
        self.assertRegistered("echo", "B", image=function_dir("echo"), memory=200)
        self.assertInvokeOK("hello", "A", {"name": "A"}, state="cold")
        before = self.worker.status()
        self.assertEqual(before.get("num_containers"), 1, f"after A: {before}")
        self.assertInvokeOK("echo", "B", {"b": 1}, state="cold")
        after = self.worker.status()
        self.assertEqual(after.get("evictions"), before.get("evictions", 0) + 1,
                         f"evictions should rise by 1: before {before}, after {after}")
        self.assertEqual(after.get("num_containers"), 1, f"only B's container should remain: {after}")
        self.assertLessEqual(after.get("used_mem_mb", 0), 256, f"pool over-committed: {after}")
        self.assertInvokeOK("hello", "A", {"name": "A"}, state="cold")


class KeepAliveTest(WorkerTestCase):
    CONFIG = {"container_resources": {"keepalive_sec": 1, "pool_freq_ms": 200}}

    def test_idle_container_expires(self):
        self.assertRegistered("hello")
        self.assertInvokeOK("hello", "1", {"name": "K"}, state="cold")
        t0 = time.monotonic()
        last = {}

        def gone():
            last["s"] = self.worker.status()
            return last["s"].get("num_containers") == 0
        if not wait_until(gone, timeout=3.5, interval=0.1):
            self.fail_with_log(f"idle container still there {time.monotonic() - t0:.1f}s after its "
                               f"invocation (keepalive_sec=1): {last['s']}")
        self.assertEqual(last["s"].get("keepalive_removals"), 1, f"status: {last['s']}")


class QueueFullTest(WorkerTestCase):
    CONFIG = {"container_resources": {"cpu_count": 1}, "invocation": {"max_queue_len": 2}}

    def test_overflow_is_429_and_the_rest_succeed(self):
        self.assertRegistered("sleeper")
        # warm one container first so the burst below is about queueing only
        self.assertInvokeOK("sleeper", "1", {"sec": 0})
        n = 6
        results = [None] * n
        barrier = threading.Barrier(n)

        def one(i):
            client = self.worker.new_client(timeout=60)
            try:
                barrier.wait(timeout=30)
                results[i] = self.worker.invoke("sleeper", "1", {"sec": 1}, client=client)
            except Exception as e:
                results[i] = e
            finally:
                client.close()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        statuses = [getattr(r, "status", repr(r)) for r in results]
        rejected = [r for r in results if getattr(r, "status", None) == 429]
        others = [r for r in results if getattr(r, "status", None) != 429]
        if not rejected:
            self.fail_with_log(f"no 429 among {n} concurrent invocations with cpu_count=1, "
                               f"max_queue_len=2: {statuses}")
        bad = [r for r in others if getattr(r, "status", None) != 200]
        if bad:
            self.fail_with_log(f"non-429 invocations must all succeed: {statuses}: {bad[:3]}")
        for r in rejected:
            self.assertError(r, 429, "queue_full", "rejected invocation")


if __name__ == "__main__":
    unittest.main()
