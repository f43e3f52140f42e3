"""The worker's HTTP API on the happy path: health, metrics, list, async
cookies, transaction ids, keep-alive and many concurrent invocations."""
import json
import re
import threading
import unittest

from harness import WorkerTestCase, function_dir, wait_until


class ApiTest(WorkerTestCase):
    CONFIG = {"load_balancer_token": "e2e-secret-token"}  # no controller: only GET /config shows it
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name in ("hello", "echo"):
            r = cls.worker.register(name, "1")
            if r.status != 200:
                raise AssertionError(f"register {name}: {r!r}\n{cls.worker.log_tail()}")

    def test_arguments_arrive_byte_for_byte(self):
        """Every JSON escape, non-ASCII text (BMP, astral, U+2028) and a
        ~1 MB string reach the function unchanged and come back unchanged,
        sent both as a JSON string (Ilúvatar's form) and as an object."""
        escapes = '"\\/\b\f\n\r\t' + "".join(chr(c) for c in range(1, 32)) + "é€\U0001d11e\u2028\u2029\x7f"
        big = ("0123456789abcdef" * 62000)[:990000]
        for as_string in (True, False):
            for args in ({"s": escapes, "k" + escapes: [escapes]}, {"s": big}):
                r = self.assertInvokeOK("echo", "1", args, as_string=as_string)
                got = json.loads(r.json.get("json_result") or "null")
                if got != args:
                    diff = next((i for i, (a, b) in enumerate(zip(str(got), str(args))) if a != b), None)
                    self.fail(f"echo changed the arguments (as_string={as_string}, "
                              f"{len(json.dumps(args))} bytes): first difference at character {diff}: "
                              f"sent {str(args)[:120]!r}, got {str(got)[:120]!r}")

    def test_health_is_healthy(self):
        r = self.assertHTTP(self.worker.get("/health", timeout=30), 200, "GET /health")
        self.assertEqual((r.json or {}).get("status"), "HEALTHY", f"/health: {r!r}")

    def test_metrics_has_invocations_counter(self):
        self.assertInvokeOK("hello", "1", {"name": "Metrics"})
        r = self.assertHTTP(self.worker.get("/metrics"), 200, "GET /metrics")
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"),
                        f"Prometheus text wants text/plain, got {r.headers.get('content-type')!r}")
        sample = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*invocations[a-zA-Z0-9_:]*(\{[^}]*\})? "
                            r"[-+0-9.eE]+( [0-9]+)?$", re.M)
        lines = sample.findall(r.text)
        self.assertTrue(lines, f"no invocations counter sample in /metrics:\n{r.text[:1500]}")
        for line in r.text.splitlines():
            if line and not line.startswith("#"):
                self.assertRegex(line, r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? \S+( \d+)?$",
                                 "every non-comment line must be a Prometheus sample")

    def test_config_shows_the_effective_config_without_secrets(self):
        r = self.assertHTTP(self.worker.get("/config"), 200, "GET /config")
        self.assertEqual(r.json["program"], "iluvatar_worker")
        self.assertRegex(r.json["version"], r"^[0-9]")
        cfg = r.json["config"]
        self.assertEqual((cfg["name"], cfg["port"]), (f"e2e-{self.worker.name}", self.worker.port))
        self.assertEqual(cfg["oci"]["cgroup_parent"], self.worker.cgroup_parent)
        self.assertEqual(cfg["load_balancer_token"], "(set)")
        self.assertNotIn("e2e-secret-token", r.text)

    def test_list_shows_registered_functions(self):
        r = self.assertHTTP(self.worker.get("/list"), 200, "GET /list")
        funcs = {(f.get("function_name"), f.get("function_version")): f for f in (r.json or {}).get("functions", [])}
        self.assertIn(("hello", "1"), funcs, f"/list: {r.text[:500]}")
        self.assertIn(("echo", "1"), funcs, f"/list: {r.text[:500]}")
        hello = funcs[("hello", "1")]
        self.assertEqual(hello.get("image_name"), function_dir("hello"))
        self.assertEqual(hello.get("memory"), 128)
        self.assertEqual(hello.get("cpus"), 1)

    def test_async_cookie_answers_once(self):
        r = self.assertHTTP(self.worker.post("/invoke_async", {"function_name": "echo", "function_version": "1",
                                                               "json_args": {"k": "once"}}), 200, "invoke_async")
        cookie = (r.json or {}).get("lookup_cookie")
        self.assertTrue(cookie, f"invoke_async gave no lookup_cookie: {r!r}")
        check = {}

        def finished():
            check["r"] = self.worker.post("/invoke_async_check", {"lookup_cookie": cookie})
            return check["r"].status != 200 or (check["r"].json or {}).get("success") is not False
        wait_until(finished, timeout=15, interval=0.05)
        first = self.assertHTTP(check["r"], 200, "invoke_async_check (finished)")
        self.assertIs(first.json.get("success"), True, f"finished check: {first!r}")
        self.assertEqual(first.result(), {"k": "once"})
        self.assertEqual(first.headers.get("x-transaction-id"), first.json.get("transaction_id"),
                         "X-Transaction-Id header and transaction_id field of the answer differ")
        again = self.worker.post("/invoke_async_check", {"lookup_cookie": cookie})
        self.assertError(again, 404, "not_found", "second check of the same cookie")

    def test_async_unknown_cookie_is_404(self):
        r = self.worker.post("/invoke_async_check", {"lookup_cookie": "no-such-cookie-0000"})
        self.assertError(r, 404, "not_found", "check of an unknown cookie")

    def test_transaction_id_is_echoed(self):
        r = self.worker.get("/ping", headers={"X-Transaction-Id": "e2e-tid-42"})
        self.assertHTTP(r, 200, "ping with a transaction id")
        self.assertEqual(r.headers.get("x-transaction-id"), "e2e-tid-42", "header not echoed")
        self.assertEqual((r.json or {}).get("transaction_id"), "e2e-tid-42", "field not echoed")

    def test_connection_is_kept_alive(self):
        client = self.worker.new_client()
        try:
            client.get("/ping")
            sock = client.conn.sock if client.conn else None
            self.assertIsNotNone(sock, "the worker closed the connection after one request")
            client.get("/ping")
            self.assertIs(client.conn.sock if client.conn else None, sock,
                          "second request needed a new connection")
        finally:
            client.close()

    def test_invoke_accepts_json_args_object(self):
        r = self.assertInvokeOK("echo", "1", {"x": [1, 2], "y": None}, as_string=False)
        self.assertEqual(r.result(), {"x": [1, 2], "y": None})

    def test_50_concurrent_invocations(self):
        n = 50
        results = [None] * n
        start = threading.Barrier(n)

        def one(i):
            client = self.worker.new_client(timeout=90)
            try:
                start.wait(timeout=30)
                if i % 2:
                    results[i] = self.worker.invoke("hello", "1", {"name": f"N{i}"}, client=client)
                else:
                    results[i] = self.worker.invoke("echo", "1", {"i": i, "tag": f"t{i}"}, client=client,
                                                    as_string=False)
            except Exception as e:  # reported below with the others
                results[i] = e
            finally:
                client.close()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        problems = []
        for i, r in enumerate(results):
            if not hasattr(r, "status"):
                problems.append(f"#{i}: {r!r}")
            elif r.status != 200 or r.json.get("success") is not True:
                problems.append(f"#{i}: {r!r}")
            else:
                want = ({"body": None} if i % 2 else {"i": i, "tag": f"t{i}"})
                got = r.result()
                if i % 2:
                    if got.get("body", {}).get("greeting") != f"Hello N{i} from python!":
                        problems.append(f"#{i}: wrong greeting {got}")
                elif got != want:
                    problems.append(f"#{i}: echo gave {got}, expected {want}")
        if problems:
            self.fail_with_log(f"{len(problems)} of {n} concurrent invocations wrong:\n" + "\n".join(problems[:10]))


if __name__ == "__main__":
    unittest.main()
