"""A worker killed with SIGKILL leaves containers, bundles and cgroups behind;
the next worker started on the same state dir and cgroup parent removes them
before serving, and the shipped config equals the built-in defaults."""
import json
import os
import signal
import subprocess
import unittest

from harness import WORKER_BIN, REPO, Worker, function_dir


class CrashRecoveryTest(unittest.TestCase):
    def test_leftovers_of_a_killed_worker_are_cleaned_at_start(self):
        first = Worker(name="crashed").start()
        second = None
        try:
            self.assertEqual(first.register("hello", "1", image=function_dir("hello")).status, 200)
            self.assertEqual(first.invoke("hello", "1", {"name": "x"}).status, 200)
            first.stop(signal.SIGKILL)
            containers = os.path.join(first.state_dir, "containers")
            self.assertTrue(os.listdir(containers), "a SIGKILLed worker should leave its bundle behind")
            self.assertTrue(first.leftover_cgroups(), "a SIGKILLed worker should leave its cgroups behind")

            # same dirs and cgroup parent
            second = first.successor("restarted").start()
            self.assertEqual(os.listdir(containers), [], f"bundles left:\n{second.log_tail()}")
            left = [p for p in second.leftover_cgroups() if os.path.basename(p).startswith("hello")]
            self.assertEqual(left, [], f"cgroups left:\n{second.log_tail()}")
            left = [cid for rt, root in second.runtime_roots() for cid in second.runtime_list(rt, root)]
            self.assertEqual(left, [], "runtime containers left")
            self.assertEqual(second.status()["num_containers"], 0)
            # and it works
            self.assertEqual(second.register("hello", "1", image=function_dir("hello")).status, 200)
            r = second.invoke("hello", "1", {"name": "again"})
            self.assertEqual((r.status, r.json.get("container_state")), (200, "cold"), r)
        finally:
            if second:
                second.stop()
                second.force_cleanup()
            first.destroy()


class CleanCommandTest(unittest.TestCase):
    """`iluvatar_worker clean -c CONFIG` after a SIGKILL with containers up
    removes the runtime's containers, the bundles and the cgroups, says so,
    and says there is nothing left the second time."""

    def clean(self, worker):
        return subprocess.run([WORKER_BIN, "clean", "-c", worker.config_path], capture_output=True, text=True,
                              timeout=120)

    def test_clean_after_sigkill_with_containers_up(self):
        first = Worker(name="killed").start()
        try:
            self.assertEqual(first.register("hello", "1", image=function_dir("hello")).status, 200)
            self.assertEqual(first.register("hello", "2", image=function_dir("hello")).status, 200)
            for v in ("1", "2"):
                self.assertEqual(first.invoke("hello", v, {"name": "x"}).status, 200)
            first.stop(signal.SIGKILL)
            containers = os.path.join(first.state_dir, "containers")
            self.assertEqual(len(os.listdir(containers)), 2)
            running = [cid for rt, root in first.runtime_roots() for cid in first.runtime_list(rt, root)]
            self.assertEqual(len(running), 2, "the runtime should still list the killed worker's containers")
            self.assertTrue(first.leftover_cgroups())

            r = self.clean(first)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout, r"clean: removed 2 containers, 2 bundle dirs, [1-9][0-9]* cgroups; "
                                       r"0 could not be removed")
            self.assertEqual(os.listdir(containers), [])
            self.assertEqual([cid for rt, root in first.runtime_roots() for cid in first.runtime_list(rt, root)],
                             [])
            self.assertEqual(first.leftover_cgroups(), [])

            again = self.clean(first)  # idempotent
            self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
            self.assertEqual(again.stdout.strip(), "clean: nothing left behind")
        finally:
            first.destroy()

    def test_bad_config_is_refused(self):
        r = subprocess.run([WORKER_BIN, "clean", "-c", "/nonexistent/worker.json"], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/worker.json", r.stderr)


class ShippedConfigTest(unittest.TestCase):
    def test_config_worker_json_is_the_builtin_defaults(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_")}
        out = subprocess.run([WORKER_BIN, "--dump-config"], capture_output=True, text=True, env=env, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(os.path.join(REPO, "config", "worker.json")) as f:
            shipped = json.load(f)
        self.assertEqual(json.loads(out.stdout), shipped,
                         "config/worker.json differs from `iluvatar_worker --dump-config`: regenerate it")

    def test_env_override_and_unknown_key(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_")}
        env["ILUVATAR_WORKER__container_resources__memory_mb"] = "4096"
        out = subprocess.run([WORKER_BIN, "--dump-config"], capture_output=True, text=True, env=env, timeout=10)
        self.assertEqual(json.loads(out.stdout)["container_resources"]["memory_mb"], 4096)
        env["ILUVATAR_WORKER__container_resources__memroy_mb"] = "1"
        out = subprocess.run([WORKER_BIN, "--dump-config"], capture_output=True, text=True, env=env, timeout=10)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("memroy_mb", out.stderr)


if __name__ == "__main__":
    unittest.main()
