"""The FunctionBench-style bundled functions (functions/<name>/main.py).

Two parts:
  FunctionBenchInProcessTest  no worker: imports each main.py from its path and
      calls main({}) in this process, so slow defaults (> 1 s) and bad argument
      handling are caught without containers.
  FunctionBenchWorkerTest     a real worker with real containers: registers every
      function, invokes it with small arguments (strings as the CLI sends them, or
      typed JSON), checks the body, compares deterministic fields with the same
      call made in-process, and checks that a bad argument is a 422 user_error.
"""
import hashlib
import importlib.util
import json
import math
import os
import random
import time
import unittest

import harness
from harness import WorkerTestCase

DEFAULT_BUDGET_S = 1.0  # main({}) must finish well within this, in-process


def _check_float_operation(test, body, args):
    n = int(args["n"])
    expected = sum(math.sin(i) + math.cos(i) + math.sqrt(i) for i in range(n))
    test.assertEqual(body["n"], n)
    test.assertAlmostEqual(body["checksum"], expected, places=6)


def _check_json_dumps_loads(test, body, args):
    test.assertEqual((body["size"], body["iterations"]), (int(args["size"]), int(args["iterations"])))
    test.assertIs(body["round_trip_ok"], True)
    test.assertGreater(body["bytes"], 50 * int(args["size"]))


def _check_gzip_compression(test, body, args):
    test.assertEqual(body["original_bytes"], int(args["size_kb"]) * 1024)
    test.assertIs(body["round_trip_ok"], True)
    test.assertGreater(body["ratio"], 1.5)  # English-like text compresses
    test.assertAlmostEqual(body["ratio"], body["original_bytes"] / body["gzip_bytes"])
    test.assertEqual(body["level"], int(args["level"]))


def _check_matmul(test, body, args):
    n = int(args["n"])
    rng = random.Random(42)
    a = [[rng.random() for _ in range(n)] for _ in range(n)]
    b = [[rng.random() for _ in range(n)] for _ in range(n)]
    c = [[sum(a[i][k] * b[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
    test.assertEqual(body["n"], n)
    test.assertAlmostEqual(body["checksum"], sum(map(sum, c)), places=6)
    test.assertAlmostEqual(body["trace"], sum(c[i][i] for i in range(n)), places=6)


def _check_pyaes(test, body, args):
    test.assertIs(body["self_check"], True, "FIPS-197 C.1 vector")
    test.assertIs(body["round_trip_ok"], True)
    test.assertEqual(body["size_kb"], int(args["size_kb"]))
    test.assertRegex(body["ciphertext_sha256"], r"^[0-9a-f]{64}$")


def _check_chameleon(test, body, args):
    rows, cols = int(args["rows"]), int(args["cols"])
    test.assertEqual((body["rows"], body["cols"]), (rows, cols))
    test.assertTrue(body["preview"].startswith("<!DOCTYPE html>"), body["preview"])
    test.assertIn("&lt;chameleon&gt;", body["preview"])  # escaped title
    test.assertGreater(body["bytes"], rows * cols * 30)


def _check_linpack(test, body, args):
    test.assertEqual(body["n"], int(args["n"]))
    test.assertLess(body["residual"], 1e-6)
    test.assertLess(body["max_error"], 1e-6)
    test.assertLess(body["normalised_residual"], 100)


def _check_sha256_hashing(test, body, args):
    data = random.Random(42).randbytes(int(args["size_kb"]) * 1024)
    test.assertEqual(body["sha256"], hashlib.sha256(data).hexdigest())
    test.assertEqual(body["chunk_kb"], int(args["chunk_kb"]))


def _check_sleep(test, body, args):
    ms = float(args["ms"])
    test.assertEqual(body["ms"], ms)
    test.assertGreaterEqual(body["slept_ms"], ms * 0.99)
    test.assertGreaterEqual(body["latency"] * 1000, ms * 0.99)


# name -> (small arguments, body check, deterministic body fields, bad arguments, error text)
# Small arguments mix CLI-style strings and typed JSON numbers.
FUNCTIONS = {
    "float_operation": ({"n": "1000"}, _check_float_operation, ("checksum",),
                        {"n": "abc"}, "'n' must be an integer"),
    "json_dumps_loads": ({"size": "50", "iterations": 3}, _check_json_dumps_loads, ("bytes",),
                         {"size": "-1"}, "'size' must be between"),
    "gzip_compression": ({"size_kb": 16, "level": "9"}, _check_gzip_compression,
                         ("gzip_bytes", "zlib_bytes"), {"level": "10"}, "'level' must be between"),
    "matmul": ({"n": 12}, _check_matmul, ("checksum", "trace"), {"n": "1.5"}, "'n' must be an integer"),
    "pyaes": ({"size_kb": "2"}, _check_pyaes, ("ciphertext_sha256",), {"size_kb": 0},
              "'size_kb' must be between"),
    "chameleon": ({"rows": "5", "cols": "3"}, _check_chameleon, ("bytes", "sha256"),
                  {"rows": "many"}, "'rows' must be an integer"),
    "linpack": ({"n": "30"}, _check_linpack, ("residual", "max_error"), {"n": 3000},
                "'n' must be between"),
    "sha256_hashing": ({"size_kb": "64", "chunk_kb": "7"}, _check_sha256_hashing, ("sha256",),
                       {"chunk_kb": None}, "'chunk_kb' must be an integer"),
    "sleep": ({"ms": "30"}, _check_sleep, ("ms",), {"ms": "-5"}, "'ms' must be between"),
}

_load_seq = 0


def function_path(name):
    return os.path.join(harness.BUNDLED_FUNCTIONS, name)


def load_main(name):
    """A fresh module object of functions/<name>/main.py (so `cold` starts True)."""
    global _load_seq
    _load_seq += 1
    path = os.path.join(function_path(name), "main.py")
    spec = importlib.util.spec_from_file_location(f"functionbench_{name}_{_load_seq}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_envelope(test, body):
    for key in ("cold", "start", "end", "latency"):
        test.assertIn(key, body)
    test.assertIsInstance(body["cold"], bool)
    test.assertLessEqual(body["start"], body["end"])
    test.assertAlmostEqual(body["latency"], body["end"] - body["start"], places=6)


class FunctionBenchInProcessTest(unittest.TestCase):
    """No worker: every main.py imported from its path and called directly."""

    def test_every_function_folder_exists_with_a_docstring(self):
        for name in FUNCTIONS:
            with self.subTest(name):
                module = load_main(name)
                self.assertTrue(callable(getattr(module, "main", None)))
                self.assertGreater(len((module.__doc__ or "").strip()), 80, f"{name}: docstring")


def _make_inprocess_tests(name, small, check, fields, bad, bad_text):
    def test_defaults_run_fast(self):
        module = load_main(name)
        t0 = time.perf_counter()
        out = module.main({})
        elapsed = time.perf_counter() - t0
        self.assertLess(elapsed, DEFAULT_BUDGET_S, f"{name}: main({{}}) took {elapsed:.3f}s")
        json.dumps(out)  # JSON-serialisable
        body = out["body"]
        check_envelope(self, body)
        self.assertIs(body["cold"], True)
        self.assertIs(module.main({})["body"]["cold"], False, "second call is warm")

    def test_small_arguments_and_determinism(self):
        module = load_main(name)
        first = module.main(dict(small))["body"]
        check(self, first, small)
        # the same arguments typed (JSON numbers) instead of strings give the same answer
        typed = {k: (float(v) if name == "sleep" else int(v)) if isinstance(v, str) else v
                 for k, v in small.items()}
        second = module.main(typed)["body"]
        for field in fields:
            if name != "sleep":
                self.assertEqual(first[field], second[field], f"{name}.{field} not deterministic")

    def test_bad_argument_raises_value_error(self):
        module = load_main(name)
        with self.assertRaises(ValueError) as caught:
            module.main(dict(bad))
        self.assertIn(bad_text, str(caught.exception))
        with self.assertRaises(ValueError):
            module.main({next(iter(bad)): True})  # booleans are not numbers

    for fn in (test_defaults_run_fast, test_small_arguments_and_determinism,
               test_bad_argument_raises_value_error):
        setattr(FunctionBenchInProcessTest, f"{fn.__name__}_{name}", fn)


for _name, _spec in FUNCTIONS.items():
    _make_inprocess_tests(_name, *_spec)


class FunctionBenchWorkerTest(WorkerTestCase):
    """A real worker: every function registered and invoked in its container."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name in FUNCTIONS:
            r = cls.worker.register(name, "1", image=function_path(name), memory=128)
            assert r.status == 200, f"register {name}: {r}"

    def invoke_checked(self, name, args):
        answer = self.assertInvokeOK(name, "1", args).json
        out = json.loads(answer["json_result"])
        self.assertIsInstance(out, dict, answer)
        check_envelope(self, out["body"])
        self.assertGreater(answer["timings"]["exec_us"], 0, answer)
        return answer, out["body"]


def _make_worker_tests(name, small, check, fields, bad, bad_text):
    def test_invoke(self):
        first, body = self.invoke_checked(name, small)
        check(self, body, small)
        self.assertEqual(body["cold"], first["container_state"] == "cold", first)
        second, body2 = self.invoke_checked(name, small)
        self.assertEqual(second["container_state"], "warm", second)
        self.assertIs(body2["cold"], False)
        # deterministic fields match the same call made in this process
        local = load_main(name).main(dict(small))["body"]
        for field in fields:
            if name == "sleep":
                continue
            if isinstance(local[field], float):
                self.assertAlmostEqual(body[field], local[field], places=9, msg=f"{name}.{field}")
            else:
                self.assertEqual(body[field], local[field], f"{name}.{field}")
        if name == "sleep":
            self.assertGreaterEqual(second["timings"]["exec_us"], 30_000, second)

    def test_bad_argument_is_user_error(self):
        r = self.worker.invoke(name, "1", bad)
        self.assertError(r, 422, "user_error", f"{name} with {bad}")
        self.assertIn("ValueError", r.json.get("user_error") or "", r)
        self.assertIn(bad_text, r.json.get("user_error") or "", r)
        # the container survives and serves the next good call
        _, body = self.invoke_checked(name, small)
        check(self, body, small)

    for fn in (test_invoke, test_bad_argument_is_user_error):
        setattr(FunctionBenchWorkerTest, f"{fn.__name__}_{name}", fn)


for _name, _spec in FUNCTIONS.items():
    _make_worker_tests(_name, *_spec)


if __name__ == "__main__":
    unittest.main()
