"""SIGINT to a worker with idle containers: it exits 0 within 10 s and leaves
nothing of its own behind (containers, cgroups, bundles, mounts, processes).
The worker is stopped once in setUpClass; each test checks one kind of leftover."""
import os
import shutil
import signal
import unittest

from harness import Worker, function_dir, sanitizer_reports

STOP_TIMEOUT = 10.0


class ShutdownTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.worker = w = Worker(name="shutdown").start()
        cls.setup_error = None
        try:
            for name, version in (("hello", "1"), ("echo", "1"), ("hello", "2")):
                r = w.register(name, version, image=function_dir(name))
                assert r.status == 200, f"register {name}-{version}: {r!r}"
            for name in ("hello", "echo"):
                r = w.invoke(name, "1", {"name": "Bye"})
                assert r.status == 200, f"invoke {name}: {r!r}"
            r = w.post("/prewarm", {"function_name": "hello", "function_version": "2"})
            assert r.status == 200, f"prewarm: {r!r}"
            cls.status_before = w.status()
            assert cls.status_before.get("num_containers", 0) >= 3, f"expected 3 containers: {cls.status_before}"
        except AssertionError as e:
            cls.setup_error = f"{e}\n{w.log_tail()}"
        cls.runtime = (getattr(cls, "status_before", None) or {}).get("runtime")
        cls.exit_code, cls.stop_seconds = w.stop(signal.SIGINT, timeout=STOP_TIMEOUT)
        cls.sanitizer = sanitizer_reports(w.log())

    @classmethod
    def tearDownClass(cls):
        cls.worker.destroy()

    def setUp(self):
        if self.setup_error:
            self.fail(f"setup failed: {self.setup_error}")

    def explain(self, what, items):
        return (f"{what} left after SIGINT (worker exit {self.exit_code}, {self.stop_seconds:.1f}s):\n  "
                + "\n  ".join(map(str, items)) + f"\nworker log:\n{self.worker.log_tail(20)}")

    def test_exits_zero_within_10s(self):
        self.assertIsNotNone(self.exit_code, self.explain("worker still running; it was killed", []))
        self.assertEqual(self.exit_code, 0, self.explain("non-zero exit", []))

    def test_no_runtime_containers(self):
        roots = self.worker.runtime_roots()
        left = [f"{rt} --root {root}: {cid}" for rt, root in roots for cid in self.worker.runtime_list(rt, root)]
        self.assertEqual(left, [], self.explain("OCI runtime containers", left))

    def test_no_container_cgroups(self):
        left = self.worker.leftover_cgroups()
        self.assertEqual(left, [], self.explain("container cgroups", left))

    def test_no_cgroup_parent(self):
        left = self.worker.leftover_cgroups(include_parent=True)
        self.assertEqual(left, [], self.explain(f"cgroup parent /{self.worker.cgroup_parent}", left))

    def test_no_bundle_dirs(self):
        base = os.path.join(self.worker.state_dir, "containers")
        left = os.listdir(base) if os.path.isdir(base) else []
        self.assertEqual(left, [], self.explain(f"bundle dirs under {base}", left))

    def test_no_mounts(self):
        left = self.worker.leftover_mounts()
        self.assertEqual(left, [], self.explain("mounts", left))

    def test_no_agent_processes(self):
        left = [self.worker.process_description(p) for p in self.worker.leftover_processes()]
        self.assertEqual(left, [], self.explain("processes", left))

    def test_no_sanitizer_reports(self):
        # only meaningful for a SAN=1 build (ILU_BUILD_DIR=build-asan)
        self.assertEqual(self.sanitizer, [], self.explain("sanitizer reports", self.sanitizer))

    def test_runtime_was_reported(self):
        self.assertIn(self.runtime, ("runc", "crun"), f"/status runtime: {self.runtime!r}")
        self.assertTrue(shutil.which(self.runtime))


if __name__ == "__main__":
    unittest.main()
