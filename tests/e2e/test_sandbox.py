"""The sandbox against a hostile function (issue 8, items 1-5, 8, 12): it runs
as an unprivileged host id, under a seccomp filter, without a writable
host-disk folder, with capped output, with its orphans reaped, and what it
returns or does to itself is reported as its own error."""
import glob
import os
import shutil
import tempfile
import unittest

from harness import WorkerTestCase, function_dir, wait_until

USERNS_HOST_ID = 1 << 30
LOG_CAP = 256 * 1024
MAX_RESULT = 1 << 20


class SandboxTest(WorkerTestCase):
    CONFIG = {"oci": {"log_max_bytes": LOG_CAP}, "limits": {"max_result_bytes": MAX_RESULT}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.worker.register("probe", "1", image=function_dir("probe"), memory=128, cpus=1)
        assert r.status == 200, r

    def probe(self, action, status=200, version="1", **args):
        r = self.worker.invoke("probe", version, {"action": action, **args})
        if r.status != status:
            self.fail_with_log(f"probe {action}: expected HTTP {status}, got {r!r}")
        return r

    def host_pids(self, container_id):
        pids = set()
        for path in glob.glob(f"/sys/fs/cgroup/*/{self.worker.cgroup_parent}/{container_id}/cgroup.procs"):
            with open(path) as f:
                pids.update(int(x) for x in f.read().split())
        return pids

    # ---- 1. unprivileged on the host, folders only from functions_dirs ----

    def test_function_runs_as_unprivileged_host_id(self):
        r = self.probe("identity")
        seen = r.result()
        self.assertEqual(seen["uid"], 0, "root inside its own user namespace")
        self.assertEqual(seen["uid_map"], ["0", str(USERNS_HOST_ID), "65536"], f"uid_map: {seen}")
        pids = self.host_pids(r.json["container_id"])
        if not pids:
            self.skipTest("no cgroup v1 hierarchy lists the container's processes")
        for pid in pids:
            with open(f"/proc/{pid}/status") as f:
                uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
            self.assertNotIn("0", uids, f"container process {pid} runs with a host uid 0: {uids}")
            self.assertEqual(uids[0], str(USERNS_HOST_ID))

    def test_root_only_host_file_is_unreadable(self):
        folder = os.path.join(self.worker.functions_root, "secretfn")
        shutil.copytree(function_dir("probe"), folder)
        with open(os.path.join(folder, "secret.txt"), "w") as f:
            f.write("host secret")
        os.chmod(os.path.join(folder, "secret.txt"), 0o600)
        self.assertRegistered("probe", "secret", image=folder)
        r = self.probe("read", status=422, version="secret", path="/function/secret.txt")
        self.assertIn("PermissionError", r.json.get("user_error") or "", r.text)

    def test_folder_outside_functions_dirs_is_refused(self):
        outside = tempfile.mkdtemp(prefix="ilu-outside-", dir="/tmp")
        self.addCleanup(shutil.rmtree, outside, True)
        with open(os.path.join(outside, "main.py"), "w") as f:
            f.write("def main(args):\n    return open('/etc/shadow').read()\n")
        r = self.worker.register("outside", "1", image=outside)
        body = self.assertError(r, 400, "bad_image", "a folder outside functions_dirs")
        self.assertIn("functions_dirs", body["error"])
        # a symlink inside an allowed root that points outside is resolved first
        link = os.path.join(self.worker.functions_root, "sneaky")
        os.symlink(outside, link)
        self.addCleanup(os.unlink, link)
        self.assertError(self.worker.register("outside", "2", image=link), 400, "bad_image", "a symlink out")

    # ---- 2. seccomp ----

    def test_seccomp_filter_is_applied(self):
        seen = self.probe("identity").result()
        self.assertEqual(seen["seccomp"], "2", f"Seccomp mode in /proc/self/status (2 = filter): {seen}")
        self.assertEqual(seen["no_new_privs"], "1")

    def test_namespace_mount_keyring_bpf_ptrace_calls_fail(self):
        seen = self.probe("escape").result()
        for call in ("unshare_user", "unshare_mount", "clone_newuser", "clone_newnet", "keyctl", "bpf", "ptrace",
                     "mount"):
            self.assertEqual(seen[call], "EPERM", f"{call} was not refused with EPERM: {seen}")
        self.assertEqual(seen["fork_status"], 7, "a plain fork must still work")

    # ---- 3. nothing on the host's disk is writable ----

    def test_no_writable_host_folder(self):
        seen = self.probe("writable").result()
        self.assertFalse(seen["sockets_dir"], "the socket folder must not be mounted into the container")
        for target, fstype in seen["writable"]:
            self.assertIn(fstype, ("tmpfs", "mqueue"), f"{target} ({fstype}) is writable: {seen}")

    # ---- 4. output capped ----

    def test_output_is_capped_and_keeps_the_tail(self):
        r = self.probe("spam", mb=4)
        bundle = os.path.join(self.worker.state_dir, "containers", r.json["container_id"])
        for stream in ("stdout.log", "stderr.log"):
            path = os.path.join(bundle, stream)
            # the worker copies the pipe on its loop: wait for the marker
            if stream == "stderr.log":
                ok = wait_until(lambda: "spam-done-marker" in open(path).read(), 10)
                self.assertTrue(ok, "the newest stderr line is not in stderr.log")
            sizes = [os.path.getsize(p) for p in (path, path + ".1") if os.path.exists(p)]
            self.assertTrue(all(s <= LOG_CAP for s in sizes), f"{stream}: file sizes {sizes} over {LOG_CAP}")
        self.assertWorkerHealthy()

    # ---- 5. orphans reaped, signals to itself work ----

    def test_orphans_are_reaped(self):
        seen = self.probe("zombies", n=300).result()  # more than oci.pids_limit (256)
        self.assertLessEqual(seen["zombies"], 5, f"zombies left in the container: {seen}")
        self.probe("fork")

    def test_self_inflicted_segv_is_a_crash(self):
        self.probe("identity")  # a warm container
        r = self.probe("segv", status=502)
        body = self.assertError(r, 502, "container_error", "SIGSEGV")
        self.assertIn("signal 11", body["error"])
        self.probe("identity")  # a new container takes over

    # ---- 8, 12. results the worker cannot carry are the function's error ----

    def test_unrepresentable_results_are_user_errors(self):
        before = self.probe("identity").json["container_id"]
        for kind in ("nan", "inf", "surrogate", "bigint"):
            r = self.probe("bad_result", status=422, kind=kind)
            self.assertEqual(r.json.get("error_kind"), "user_error", r.text)
        after = self.probe("identity").json["container_id"]
        self.assertEqual(before, after, "a bad result must not cost the warm container")

    def test_result_size_is_bounded(self):
        self.probe("big_result", n=MAX_RESULT - 100)
        r = self.probe("big_result", status=422, n=MAX_RESULT + 10)
        self.assertIn("max_result_bytes", r.json.get("user_error") or "", r.text[:500])


if __name__ == "__main__":
    unittest.main()
