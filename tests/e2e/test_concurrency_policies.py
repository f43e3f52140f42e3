"""Concurrency policies on the live worker (docs/policies.md): the bypass
lets a short function with a free warm container run beside a long one
holding the only CPU, and the mqfq queue interleaves a second function's
invocations with a flood of the first. Orders come from the functions' own
end times (synthetic's body.end), not from the client's clock."""
import threading
import time
import unittest

from harness import WorkerTestCase, function_dir, wait_until

SYNTH = function_dir("synthetic")


class Background:
    """Invocations run in threads; results[i] is the HTTP reply (or the error)."""

    def __init__(self, worker):
        self.worker = worker
        self.threads = []
        self.results = []

    def invoke(self, version, args):
        i = len(self.results)
        self.results.append(None)

        def run():
            client = self.worker.new_client(timeout=60)
            try:
                self.results[i] = self.worker.invoke("synthetic", version, args, client=client)
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.results[i] = e
            finally:
                client.close()
        t = threading.Thread(target=run)
        t.start()
        self.threads.append(t)
        return i

    def join(self):
        for t in self.threads:
            t.join(timeout=60)


class BypassTest(WorkerTestCase):
    CONFIG = {"container_resources": {"cpu_count": 1}, "invocation": {"bypass_duration_ms": 500}}

    def test_short_warm_function_runs_beside_a_long_one(self):
        self.assertRegistered("synthetic", "short", image=SYNTH)
        self.assertRegistered("synthetic", "long", image=SYNTH)
        self.assertInvokeOK("synthetic", "short", {"wall_ms": 10}, state="cold")  # warm, average known
        bg = Background(self.worker)
        bg.invoke("long", {"wall_ms": 4000})
        if not wait_until(lambda: self.worker.status().get("num_running_funcs") == 1, timeout=10):
            self.fail_with_log("the long invocation never started")
        t0 = time.monotonic()
        r = self.assertInvokeOK("synthetic", "short", {"wall_ms": 10}, state="warm")
        took = time.monotonic() - t0
        status = self.worker.status()
        long_done = bg.results[0] is not None
        bg.join()
        long_reply = bg.results[0]
        self.assertEqual(getattr(long_reply, "status", None), 200, f"long invocation: {long_reply!r}")
        self.assertFalse(long_done, f"the short invocation waited for the long one ({took:.2f}s)")
        self.assertLess(r.result()["body"]["end"], long_reply.result()["body"]["end"])
        self.assertEqual(status.get("bypassed"), 1, f"status: {status}")
        self.assertEqual(status.get("cpu_limit"), 1, f"status: {status}")


class MqfqTest(WorkerTestCase):
    CONFIG = {"container_resources": {"cpu_count": 1},
              "invocation": {"queue_policy": "mqfq",
                             "mqfq_config": {"service_average": 1.0, "allowed_overrun": 10.0,
                                             "ttl_sec": 60.0}}}

    def test_second_flow_interleaves_with_a_flood(self):
        self.assertRegistered("synthetic", "A", image=SYNTH)
        self.assertRegistered("synthetic", "B", image=SYNTH)
        self.assertInvokeOK("synthetic", "A", {"wall_ms": 1}, state="cold")
        self.assertInvokeOK("synthetic", "B", {"wall_ms": 1}, state="cold")
        bg = Background(self.worker)
        bg.invoke("A", {"wall_ms": 1500})  # holds the CPU while the queue fills
        if not wait_until(lambda: self.worker.status().get("num_running_funcs") == 1, timeout=10):
            self.fail_with_log("the first invocation never started")
        flood = [bg.invoke("A", {"wall_ms": 100}) for _ in range(8)]
        if not wait_until(lambda: self.worker.status().get("cpu_queue_len") == 8, timeout=10):
            self.fail_with_log(f"A's flood not queued: {self.worker.status()}")
        late = [bg.invoke("B", {"wall_ms": 100}) for _ in range(2)]
        if not wait_until(lambda: self.worker.status().get("cpu_queue_len") == 10, timeout=10):
            self.fail_with_log(f"B's invocations not queued: {self.worker.status()}")
        bg.join()
        bad = [r for r in bg.results if getattr(r, "status", None) != 200]
        if bad:
            self.fail_with_log(f"failed invocations: {bad[:3]}")
        end = {i: bg.results[i].result()["body"]["end"] for i in flood + late}
        order = sorted(end, key=end.get)
        names = ["B" if i in late else "A" for i in order]
        # fcfs would put both B last; MQFQ gives B its share at once: B, A, B, A...
        self.assertEqual(names[:3], ["B", "A", "B"], f"completion order {names}")


if __name__ == "__main__":
    unittest.main()
