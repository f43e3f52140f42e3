"""iluvatar_worker_cli against a real worker: Ilúvatar's flags, JSON on stdout,
exit codes and one-line reasons on stderr."""
import json
import os
import unittest

from harness import REPO, WorkerTestCase, function_dir, run_cli, wait_until


class CliTest(WorkerTestCase):
    def cli_ok(self, *args):
        r = self.worker.cli(*args)
        if r.returncode != 0:
            self.fail_with_log(f"`iluvatar_worker_cli {' '.join(args)}` exited {r.returncode}\n"
                               f"stdout: {r.stdout[:500]}\nstderr: {r.stderr[:500]}")
        try:
            return json.loads(r.stdout)
        except ValueError:
            self.fail(f"`iluvatar_worker_cli {' '.join(args)}` printed no JSON: {r.stdout[:500]!r}")

    def test_ping(self):
        out = self.cli_ok("ping")
        self.assertEqual(out.get("message"), "Pong", f"ping answer: {out}")

    def test_register_relative_path_sends_absolute(self):
        # cwd of the CLI is the repo root, so "functions/hello" is relative to it
        self.assertTrue(os.path.isdir(os.path.join(REPO, "functions/hello")))
        self.cli_ok("register", "--name", "hello", "--version", "rel", "--image", "functions/hello",
                    "--memory", "128", "--cpu", "1")
        listed = self.worker.get("/list").json
        entries = [f for f in listed.get("functions", [])
                   if f.get("function_name") == "hello" and f.get("function_version") == "rel"]
        self.assertEqual(len(entries), 1, f"hello-rel not in /list: {listed}")
        self.assertEqual(entries[0].get("image_name"), os.path.join(REPO, "functions/hello"),
                         "the CLI must send the function folder's absolute path")

    def test_invoke_cold_then_warm_with_greeting(self):
        self.cli_ok("register", "-n", "hello", "-v", "cw", "-i", "functions/hello", "-m", "128", "-c", "1")
        first = self.cli_ok("invoke", "-n", "hello", "-v", "cw", "-a", "name=Ana")
        self.assertEqual(first.get("container_state"), "cold", f"first invocation: {first}")
        second = self.cli_ok("invoke", "-n", "hello", "-v", "cw", "-a", "name=Ana")
        self.assertEqual(second.get("container_state"), "warm", f"second invocation: {second}")
        for answer in (first, second):
            body = json.loads(answer["json_result"])["body"]
            self.assertEqual(body["greeting"], "Hello Ana from python!")
        self.assertIs(json.loads(first["json_result"])["body"]["cold"], True)
        self.assertIs(json.loads(second["json_result"])["body"]["cold"], False)

    def test_prewarm_then_invoke_is_prewarm(self):
        self.cli_ok("register", "-n", "hello", "-v", "pw", "-i", "functions/hello", "-m", "128", "-c", "1")
        # Ilúvatar's prewarm takes -m -c -i --compute and ignores them
        out = self.cli_ok("prewarm", "-n", "hello", "-v", "pw", "-m", "128", "-c", "1", "--compute", "CPU")
        self.assertIs(out.get("success"), True, f"prewarm answer: {out}")
        answer = self.cli_ok("invoke", "-n", "hello", "-v", "pw", "-a", "name=Pre")
        self.assertEqual(answer.get("container_state"), "prewarm", f"invocation after prewarm: {answer}")

    def test_invoke_async_then_check(self):
        self.cli_ok("register", "-n", "hello", "-v", "as", "-i", "functions/hello", "-m", "128", "-c", "1")
        cookie = self.cli_ok("invoke-async", "-n", "hello", "-v", "as", "-a", "name=Async").get("lookup_cookie")
        self.assertTrue(cookie, "invoke-async printed no lookup_cookie")
        last = {}

        def done():
            r = self.worker.cli("invoke-async-check", "--cookie", cookie)
            last["r"] = r
            return r.returncode == 0
        if not wait_until(done, timeout=15, interval=0.1):
            r = last["r"]
            self.fail_with_log(f"invoke-async-check never succeeded: exit {r.returncode}, "
                               f"stdout {r.stdout[:300]!r}, stderr {r.stderr[:300]!r}")
        answer = json.loads(last["r"].stdout)
        self.assertEqual(json.loads(answer["json_result"])["body"]["greeting"], "Hello Async from python!")

    def test_args_json_keeps_types(self):
        self.cli_ok("register", "-n", "echo", "-v", "1", "-i", function_dir("echo"), "-m", "128", "-c", "1")
        answer = self.cli_ok("invoke", "-n", "echo", "-v", "1", "--args-json", '{"n": 3, "ok": true}',
                             "-a", "s=x")
        self.assertEqual(json.loads(answer["json_result"]), {"n": 3, "ok": True, "s": "x"})

    def test_unknown_function_fails_with_one_line_reason(self):
        r = self.worker.cli("invoke", "-n", "nosuchfn", "-v", "9")
        self.assertNotEqual(r.returncode, 0, "invoking an unknown function must fail")
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"expected a one-line reason on stderr, got {r.stderr!r}")
        self.assertIn("404", lines[0], f"reason should name the HTTP status: {lines[0]!r}")
        self.assertTrue(lines[0].startswith("iluvatar_worker_cli: "), lines[0])


class CliWithoutWorkerTest(unittest.TestCase):
    def test_help_exits_zero(self):
        r = run_cli("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("invoke", r.stdout)

    def test_bad_usage_exits_64(self):
        r = run_cli("frobnicate")
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("usage", r.stderr)

    def test_connection_refused_exits_2(self):
        # port 1 on 127.0.0.1: nothing listens there
        r = run_cli("--port", "1", "ping")
        self.assertEqual(r.returncode, 2, f"stderr: {r.stderr!r}")
        self.assertIn("cannot connect", r.stderr)


if __name__ == "__main__":
    unittest.main()
