"""Bad input and failing functions: each gets the status and JSON error of
docs/api.md, and the worker stays healthy afterwards (ping + hello work)."""
import json
import time
import unittest

from harness import WorkerTestCase, function_dir

TIMEOUT_SEC = 2
MAX_PAYLOAD = 64 * 1024


class BadInputTest(WorkerTestCase):
    CONFIG = {"limits": {"timeout_sec": TIMEOUT_SEC, "max_payload_bytes": MAX_PAYLOAD}}

    def tearDown(self):
        self.assertWorkerHealthy()

    def test_malformed_json_is_400(self):
        r = self.worker.post("/invoke", '{"function_name": "hello", "function_version": ')
        self.assertError(r, 400, "bad_request", "invoke with a truncated JSON body")

    def test_missing_function_name_is_400(self):
        r = self.worker.post("/invoke", {"function_version": "1", "json_args": "{}"})
        self.assertError(r, 400, "bad_request", "invoke without function_name")

    def test_wrongly_typed_memory_is_400(self):
        r = self.worker.post("/register", {"function_name": "hello", "function_version": "typed",
                                           "image_name": function_dir("hello"), "memory": "lots", "cpus": 1})
        self.assertError(r, 400, "bad_request", "register with memory as a string")

    def test_unknown_function_is_404(self):
        r = self.worker.invoke("nosuchfn", "9")
        self.assertError(r, 404, "not_found", "invoke of an unregistered function")

    def test_conflicting_registration_is_409(self):
        self.assertRegistered("hello", "conf", memory=128)
        r = self.worker.register("hello", "conf", memory=256)
        self.assertError(r, 409, "conflict", "re-register hello-conf with other memory")

    def test_identical_registration_is_200(self):
        self.assertRegistered("hello", "same", memory=128)
        r = self.worker.register("hello", "same", memory=128)
        self.assertHTTP(r, 200, "identical re-registration")
        self.assertIs((r.json or {}).get("success"), True, f"identical re-registration: {r!r}")

    def test_function_raising_is_422_with_traceback(self):
        self.assertRegistered("raises")
        r = self.worker.invoke("raises")
        body = self.assertError(r, 422, "user_error", "invoke of a function that raises")
        self.assertIn("ValueError", body.get("user_error") or "",
                      f"user_error must hold the traceback: {r!r}")

    def test_function_never_returning_is_504_and_container_killed(self):
        self.assertRegistered("sleeper", "timeout")
        t0 = time.monotonic()
        r = self.worker.invoke("sleeper", "timeout", {"sec": 60}, timeout=30)
        elapsed = time.monotonic() - t0
        self.assertError(r, 504, "timeout", "invoke that outlives limits.timeout_sec")
        self.assertLess(elapsed, TIMEOUT_SEC + 1.5, f"504 came after {elapsed:.2f}s")
        # the stuck container must not be reused (it was killed)
        self.assertInvokeOK("sleeper", "timeout", {"sec": 0}, state="cold")

    def test_function_exiting_is_502_then_next_is_cold(self):
        self.assertRegistered("exits")
        r = self.worker.invoke("exits", "1", {"code": 7})
        self.assertError(r, 502, "container_error", "invoke of a function that kills its process")
        self.assertInvokeOK("exits", "1", {}, state="cold")

    def test_function_past_memory_limit_is_502(self):
        # 48 MB limit, 200 MB touched: the container's memory cgroup kills the agent
        self.assertRegistered("bigmem", memory=48)
        r = self.worker.invoke("bigmem", "1", {"mb": 200}, timeout=30)
        self.assertError(r, 502, "container_error", "invoke that exceeds the function's memory")
        self.assertInvokeOK("bigmem", "1", {"mb": 1}, state="cold")

    def test_oversized_args_are_413(self):
        self.assertRegistered("echo")
        r = self.worker.invoke("echo", "1", {"blob": "x" * (MAX_PAYLOAD + 1024)})
        self.assertError(r, 413, "too_large", "invoke with args over limits.max_payload_bytes")

    def test_unknown_path_is_404(self):
        r = self.worker.get("/no/such/path")
        self.assertError(r, 404, "not_found", "GET of an unknown path")

    def test_wrong_method_is_405(self):
        r = self.worker.get("/invoke")
        self.assertError(r, 405, "bad_method", "GET /invoke (POST only)")


if __name__ == "__main__":
    unittest.main()
