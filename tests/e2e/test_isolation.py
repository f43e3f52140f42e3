"""What a function gets inside its container: no network but loopback, no
capabilities, a read-only root and function folder, and the cgroup limits of
its registration (checked on the host)."""
import json
import os
import unittest

from harness import Worker, WorkerTestCase, function_dir


class IsolationTest(WorkerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.before_first_invoke()
        r = cls.worker.register("inspect", "1", image=function_dir("inspect"), memory=96, cpus=1)
        assert r.status == 200, r
        cls.answer = cls.worker.invoke("inspect", "1")
        cls.seen = json.loads(cls.answer.json["json_result"]) if cls.answer.status == 200 else None

    @classmethod
    def before_first_invoke(cls):
        """A subclass's hook (test_sandbox_pool.py waits for its sandboxes)."""

    def setUp(self):
        if self.seen is None:
            self.fail_with_log(f"invoke inspect failed: {self.answer!r}")

    def cgroup_file(self, controller, name):
        cid = self.answer.json["container_id"]
        path = f"/sys/fs/cgroup/{controller}/{self.worker.cgroup_parent}/{cid}/{name}"
        if not os.path.exists(path):
            self.skipTest(f"{path} does not exist (no cgroup v1 {controller} hierarchy here)")
        with open(path) as f:
            return f.read().strip()

    def test_only_loopback_network(self):
        self.assertEqual(self.seen["interfaces"], ["lo"], f"network interfaces inside: {self.seen}")

    def test_no_capabilities(self):
        self.assertEqual(int(self.seen["cap_eff"], 16), 0, f"CapEff inside: {self.seen}")

    def test_root_is_read_only(self):
        self.assertFalse(self.seen["root_writable"], "the container root accepted a write")

    def test_function_folder_is_read_only(self):
        self.assertFalse(self.seen["function_writable"], "the function folder accepted a write")

    def test_own_pid_namespace(self):
        # pid 1 is the init (tini); the agent comes a few pids later
        self.assertLess(self.seen["pid"], 32, f"the agent should have a small pid in its own namespace: {self.seen}")

    def test_memory_limit_is_the_registered_memory(self):
        self.assertEqual(int(self.cgroup_file("memory", "memory.limit_in_bytes")), 96 * 1024 * 1024)

    def test_cpu_quota_is_the_registered_cpus(self):
        quota = int(self.cgroup_file("cpu", "cpu.cfs_quota_us"))
        period = int(self.cgroup_file("cpu", "cpu.cfs_period_us"))
        self.assertEqual(quota / period, 1.0, f"quota {quota} / period {period}")


class StateDirInMissingFolderTest(unittest.TestCase):
    """oci.state_dir in folders that do not exist yet: the worker makes the
    missing parents traversable (0755, as mkdir -p), so user-namespaced
    containers still reach the shared root under it, and functions run."""

    def test_missing_parents_are_made_traversable(self):
        w = Worker({}, name="nested-state")
        nested = os.path.join(w.root, "a", "b")
        w.overrides = {"oci": {"state_dir": os.path.join(nested, "st"), "rootfs_dir": os.path.join(nested, "st", "rootfs")}}
        try:
            w.start()
            self.assertEqual(os.stat(os.path.join(w.root, "a")).st_mode & 0o777, 0o755)
            self.assertEqual(os.stat(nested).st_mode & 0o777, 0o755)
            self.assertEqual(w.register("hello", "1").status, 200)
            r = w.invoke("hello", "1", {"name": "nested"})
            self.assertEqual(r.status, 200, f"{r!r}\n{w.log_tail(20)}")
        finally:
            w.stop()
            w.destroy()


if __name__ == "__main__":
    unittest.main()
