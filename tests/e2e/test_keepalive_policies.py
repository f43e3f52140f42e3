"""Keep-alive policies on real containers (container_resources.eviction):
TTL expires an idle container after its time, GreedyDual evicts the cheap,
large, rarely used container under memory pressure, LFU keeps the
frequently used one. Unit tests (tests/unit/test_keepalive.c) check the exact
rules; these check that the live worker runs them."""
import time
import unittest

from harness import WorkerTestCase, function_dir, wait_until


class TTLTest(WorkerTestCase):
    # Ilúvatar's spelling of the policy and its parameter (docs/worker.md)
    CONFIG = {"container_resources": {"eviction": {"TTL": {"timout_sec": 2}}, "pool_freq_ms": 200}}

    def test_idle_container_expires_after_ttl(self):
        self.assertRegistered("hello")
        self.assertInvokeOK("hello", "1", {"name": "T"}, state="cold")
        idle_since = time.monotonic()
        time.sleep(1.0)
        s = self.worker.status()
        if s.get("num_containers") != 1:
            self.fail_with_log(f"idle container gone 1 s after its invocation, before ttl_sec=2: {s}")
        last = {}

        def gone():
            last["s"] = self.worker.status()
            return last["s"].get("num_containers") == 0
        if not wait_until(gone, timeout=6.0, interval=0.1):
            self.fail_with_log(f"idle container still there {time.monotonic() - idle_since:.1f}s after its "
                               f"invocation (ttl_sec=2, pool_freq_ms=200): {last['s']}")
        self.assertEqual(last["s"].get("keepalive_removals"), 1, f"status: {last['s']}")
        self.assertEqual(last["s"].get("evictions", 0), 0, f"status: {last['s']}")


class PressureMixin:
    """Three functions, the pool fits two: the third's cold start evicts."""

    def invoke_n(self, name, n, first_state):
        for i in range(n):
            self.assertInvokeOK(name, "1", {"name": name}, state=first_state if i == 0 else "warm")

    def cold_start_with_eviction(self, name):
        before = self.worker.status()
        self.assertInvokeOK(name, "1", {"name": name}, state="cold")
        after = self.worker.status()
        self.assertEqual(after.get("evictions"), before.get("evictions", 0) + 1,
                         f"evictions should rise by 1: before {before}, after {after}")
        self.assertLessEqual(after.get("used_mem_mb", 0), 512, f"pool over-committed: {after}")


class GreedyDualTest(PressureMixin, WorkerTestCase):
    CONFIG = {"container_resources": {"eviction": "GreedyDual", "memory_mb": 512}}

    def test_evicts_cheap_large_rarely_used(self):
        # small: 100 MB, used 3 times; large: 300 MB, used once and last
        # (LRU would evict small); priority = clock + uses * cost / MB
        self.assertRegistered("small", image=function_dir("hello"), memory=100)
        self.assertRegistered("large", image=function_dir("echo"), memory=300)
        self.assertRegistered("other", image=function_dir("hello"), memory=200)
        self.invoke_n("small", 3, "cold")
        self.invoke_n("large", 1, "cold")
        self.cold_start_with_eviction("other")
        self.assertInvokeOK("small", "1", {"name": "small"}, state="warm")
        self.assertInvokeOK("other", "1", {"name": "other"}, state="warm")
        self.assertInvokeOK("large", "1", {"name": "large"}, state="cold")


class LFUTest(PressureMixin, WorkerTestCase):
    CONFIG = {"container_resources": {"eviction": "LFU", "memory_mb": 512}}

    def test_keeps_the_frequently_used(self):
        # hot: used 3 times; rare: used once and last (LRU would evict hot)
        self.assertRegistered("hot", image=function_dir("hello"), memory=200)
        self.assertRegistered("rare", image=function_dir("echo"), memory=200)
        self.assertRegistered("other", image=function_dir("hello"), memory=200)
        self.invoke_n("hot", 3, "cold")
        self.invoke_n("rare", 1, "cold")
        self.cold_start_with_eviction("other")
        self.assertInvokeOK("hot", "1", {"name": "hot"}, state="warm")
        self.assertInvokeOK("rare", "1", {"name": "rare"}, state="cold")


if __name__ == "__main__":
    unittest.main()


class HybridHistogramLiveTest(WorkerTestCase):
    """HYBRID_HISTOGRAM on real containers, with 1-second bins so it learns
    in seconds: hello every 2.5 s; once the histogram is representative the
    container is released after each call and pre-warmed before the next,
    which then starts "prewarm" (docs/policies.md)."""
    CONFIG = {"container_resources": {"eviction": "HYBRID_HISTOGRAM", "keepalive_sec": 0, "pool_freq_ms": 100,
                                      "histogram_bin_sec": 1, "histogram_range_min": 1,
                                      "histogram_min_samples": 3}}

    def test_learns_the_period_and_prewarms(self):
        self.assertRegistered("hello", image=function_dir("hello"))
        states = []
        for i in range(9):
            r = self.assertInvokeOK("hello", args={"name": f"n{i}"})
            states.append(r.json["container_state"])
            time.sleep(2.5)
        # the first is cold; the last three come after at least 5 samples
        self.assertEqual(states[0], "cold", states)
        self.assertGreaterEqual(states[-3:].count("prewarm"), 2,
                                f"expected pre-warmed starts once the period is learned: {states}")
        self.assertGreater(self.worker.status().get("keepalive_removals", 0), 0,
                           "containers should be released between calls")

