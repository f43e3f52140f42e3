"""make install / make uninstall (README, docs/deploy.md): the programs go to
PREFIX/bin, what they run with to PREFIX/share/iluvatar, the configs to
SYSCONFDIR/iluvatar; an installed worker, away from the checkout, finds its
agent and the bundled functions there and runs a real container; the
installed load generator finds its synthetic function; uninstall removes
everything it installed, keeping a config the user changed. The systemd
units verify, and the plain service script runs a worker with them."""
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

from harness import BUILD, REPO, Worker

PREFIX = "/opt/iluvatar"


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="ilu-install-", dir="/tmp")
        os.chmod(cls.dest, 0o711)  # user-namespaced containers pass through to the agent and functions
        cls.make("install")

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("ILU_E2E_KEEP") != "1":
            shutil.rmtree(cls.dest, ignore_errors=True)

    @classmethod
    def make(cls, target):
        r = subprocess.run(["make", "-s", target, f"BUILD={os.path.relpath(BUILD, REPO)}", f"DESTDIR={cls.dest}",
                            f"PREFIX={PREFIX}"], cwd=REPO, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"make {target} failed:\n{r.stdout}{r.stderr}")
        return r

    def path(self, *parts):
        return os.path.join(self.dest, PREFIX.lstrip("/"), *parts)

    def test_1_layout(self):
        for prog in ("iluvatar_worker", "iluvatar_worker_cli", "iluvatar_load_gen", "iluvatar_controller"):
            self.assertTrue(os.access(self.path("bin", prog), os.X_OK), prog)
        for f in ("agent/agent.py", "functions/hello/main.py", "functions/synthetic/main.py",
                  "scripts/plot_results.py", "tools/images/prepare.sh", "tools/calibrate/calibrate.py"):
            self.assertTrue(os.path.isfile(self.path("share", "iluvatar", f)), f)
        for c in ("worker", "controller"):
            with open(self.path("etc", "iluvatar", f"{c}.json")) as a, open(os.path.join(REPO, "config",
                                                                                           f"{c}.json")) as b:
                self.assertEqual(json.load(a), json.load(b))
        pycache = [d for d, _, _ in os.walk(self.path("share")) if d.endswith("__pycache__")]
        self.assertEqual(pycache, [])

    def test_2_installed_worker_runs_a_bundled_function(self):
        w = Worker({"functions_dirs": ""}, name="installed")  # "": the installed functions folder
        w.binary = self.path("bin", "iluvatar_worker")
        w.start()
        try:
            hello = self.path("share", "iluvatar", "functions", "hello")
            self.assertEqual(w.register("hello", "1", image=hello).status, 200)
            r = w.invoke("hello", "1", {"name": "installed"})
            self.assertEqual(r.status, 200, r.json)
            self.assertIn("installed", json.dumps(r.json))
            # a function of the checkout is outside the installed worker's roots
            r = w.register("hello", "2", image=os.path.join(REPO, "functions", "hello"))
            self.assertEqual(r.status, 400, r.json)
        finally:
            w.stop()
            w.destroy()

    def test_3_installed_load_gen_finds_the_synthetic_function(self):
        tmp = tempfile.mkdtemp(prefix="ilu-install-lg-")
        self.addCleanup(shutil.rmtree, tmp, True)
        with open(os.path.join(tmp, "trace.csv"), "w") as f:
            f.write("func_name,invoke_time_ms\nf,0\nf,100\n")
        with open(os.path.join(tmp, "meta.csv"), "w") as f:
            f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\nf,50,10,64\n")
        with open(os.path.join(tmp, "worker.json"), "w") as f:
            json.dump({"container_resources": {"cpu_count": 1}}, f)
        r = subprocess.run([self.path("bin", "iluvatar_load_gen"), "--setup", "simulation", "--no-plots", "--out",
                            os.path.join(tmp, "out"), "trace", "--input", os.path.join(tmp, "trace.csv"),
                            "--metadata", os.path.join(tmp, "meta.csv"), "--worker-config",
                            os.path.join(tmp, "worker.json")], capture_output=True, text=True, timeout=60, cwd="/")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(tmp, "out", "summary.json")) as f:
            self.assertEqual(json.load(f)["successes"], 2)

    def test_4_uninstall_removes_it_and_keeps_a_changed_config(self):
        changed = self.path("etc", "iluvatar", "controller.json")
        with open(changed, "a") as f:
            f.write("\n")
        r = self.make("uninstall")
        self.assertIn("keeping", r.stdout)
        left = sorted(os.path.relpath(os.path.join(d, f), self.dest) for d, _, fs in os.walk(self.dest) for f in fs)
        self.assertEqual(left, [os.path.join(PREFIX.lstrip("/"), "etc", "iluvatar", "controller.json")])
        self.make("uninstall")  # again: nothing to do, no error
        self.make("install")  # and back, keeping the changed config
        with open(changed) as f:
            self.assertTrue(f.read().endswith("\n\n"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, json.load(r)


class ServiceTest(unittest.TestCase):
    """Installed at a real PREFIX (the units name real paths): the systemd
    units verify, and the plain service script starts, reports and stops a
    worker that serves a bundled function, cleaning up after it."""

    @classmethod
    def setUpClass(cls):
        cls.prefix = tempfile.mkdtemp(prefix="ilu-prefix-", dir="/tmp")
        os.chmod(cls.prefix, 0o711)
        r = subprocess.run(["make", "-s", "install", f"BUILD={os.path.relpath(BUILD, REPO)}", f"PREFIX={cls.prefix}"],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"make install failed:\n{r.stdout}{r.stderr}")

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("ILU_E2E_KEEP") != "1":
            shutil.rmtree(cls.prefix, ignore_errors=True)

    def test_units_verify(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("no systemd-analyze")
        units = [os.path.join(self.prefix, "lib", "systemd", "system", f"iluvatar-{n}.service")
                 for n in ("worker", "controller")]
        r = subprocess.run(["systemd-analyze", "verify", "--man=no"] + units, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(units[0]) as f:
            unit = f.read()
        bin_dir = os.path.join(self.prefix, "bin")
        for line in (f"ExecStartPre={bin_dir}/iluvatar_worker clean -c {self.prefix}/etc/iluvatar/worker.json",
                     f"ExecStart={bin_dir}/iluvatar_worker -c {self.prefix}/etc/iluvatar/worker.json",
                     f"EnvironmentFile=-{self.prefix}/etc/iluvatar/worker.env"):
            self.assertIn(line, unit)

    def test_service_script_starts_and_stops_a_worker(self):
        run = tempfile.mkdtemp(prefix="ilu-svc-", dir="/tmp")
        os.chmod(run, 0o711)
        self.addCleanup(shutil.rmtree, run, True)
        etc = os.path.join(run, "etc")
        os.makedirs(etc)
        port, parent = free_port(), f"iluvatar-svc-test-{os.getpid()}"
        with open(os.path.join(etc, "worker.json"), "w") as f:
            json.dump({"port": port, "logging": {"level": "info", "stdout": True},
                       "oci": {"state_dir": os.path.join(run, "state"), "rootfs_dir": os.path.join(run, "rootfs"),
                               "cgroup_parent": parent}}, f)
        with open(os.path.join(etc, "worker.env"), "w") as f:
            f.write("ILUVATAR_WORKER__container_resources__memory_mb=512\n")
        env = dict(os.environ, ILUVATAR_ETC_DIR=etc, ILUVATAR_RUN_DIR=os.path.join(run, "run"),
                   ILUVATAR_LOG_DIR=os.path.join(run, "log"))
        svc = os.path.join(self.prefix, "bin", "iluvatar-service")

        def service(action):
            return subprocess.run([svc, "worker", action], capture_output=True, text=True, timeout=120, env=env)

        r = service("start")
        self.addCleanup(service, "stop")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("worker started", r.stdout)
        self.assertEqual(service("status").returncode, 0)
        self.assertIn("already running", service("start").stdout)
        hello = os.path.join(self.prefix, "share", "iluvatar", "functions", "hello")
        for _ in range(100):  # until it listens
            try:
                post(port, "/ping", {})
                break
            except OSError:
                time.sleep(0.1)
        status, _ = post(port, "/register", {"function_name": "hello", "function_version": "1", "image_name": hello,
                                             "memory": 128, "cpus": 1})
        self.assertEqual(status, 200)
        status, answer = post(port, "/invoke", {"function_name": "hello", "function_version": "1",
                                                "json_args": {"name": "svc"}})
        self.assertEqual((status, answer.get("success")), (200, True), answer)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10) as resp:
            self.assertEqual(json.load(resp)["total_mem_mb"], 512)  # from worker.env
        r = service("stop")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("worker stopped", r.stdout)
        self.assertEqual(service("status").returncode, 3)
        self.assertEqual(glob.glob(f"/sys/fs/cgroup/*/{parent}"), [])
        with open(os.path.join(run, "log", "worker.log")) as f:
            self.assertIn("nothing left behind", f.read())


if __name__ == "__main__":
    unittest.main()
