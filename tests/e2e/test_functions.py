"""The bundled functions do what the README says."""
import json
import unittest

from harness import BUNDLED_FUNCTIONS, WorkerTestCase
import os


class BundledFunctionsTest(WorkerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name in ("hello", "synthetic"):
            r = cls.worker.register(name, "1", image=os.path.join(BUNDLED_FUNCTIONS, name), memory=256)
            assert r.status == 200, r

    def result(self, name, args):
        r = self.assertInvokeOK(name, "1", args)
        return r.json, json.loads(r.json["json_result"])

    def test_hello_greets_its_argument(self):
        _, out = self.result("hello", {"name": "Varda"})
        self.assertEqual(out["body"]["greeting"], "Hello Varda from python!")

    def test_synthetic_lasts_wall_ms_and_burns_cpu_ms(self):
        answer, out = self.result("synthetic", {"cpu_ms": "30", "wall_ms": "120", "mem_mb": "20"})
        body = out["body"]
        self.assertEqual((body["cpu_ms"], body["wall_ms"], body["mem_mb"]), (30.0, 120.0, 20.0))
        # measured inside the container by the agent: at least the asked wall time
        self.assertGreaterEqual(answer["timings"]["exec_us"], 120_000, answer)
        self.assertLess(answer["timings"]["exec_us"], 1_000_000, answer)

    def test_synthetic_cold_and_warm_durations(self):
        self.worker.post("/clean", {})
        first, _ = self.result("synthetic", {"cold_ms": "150", "warm_ms": "20"})
        second, _ = self.result("synthetic", {"cold_ms": "150", "warm_ms": "20"})
        self.assertEqual(first["container_state"], "cold")
        self.assertGreaterEqual(first["timings"]["exec_us"], 150_000, first)
        self.assertEqual(second["container_state"], "warm")
        self.assertGreaterEqual(second["timings"]["exec_us"], 20_000, second)
        self.assertLess(second["timings"]["exec_us"], 150_000, second)

    def test_synthetic_rejects_negative_arguments(self):
        r = self.worker.invoke("synthetic", "1", {"cpu_ms": "-1"})
        self.assertError(r, 422, "user_error", "negative cpu_ms")
        self.assertIn("must not be negative", r.json.get("user_error", ""))


if __name__ == "__main__":
    unittest.main()
