"""Ansible deployment (deploy/ansible, docs/deploy.md) onto three hosts made
of network namespaces, each with its own sshd and its own install prefix
(none runs anything from the checkout): h0 runs the controller and the load
generator, h1 and h2 a worker each, with the CPU and memory limits the
inventory gives them. ansible-playbook reaches them over SSH as a
researcher's machine reaches real hosts. up.yml brings the cluster up; a
function is registered and invoked through the controller; loadgen.yml
replays a short trace and brings the results back; collect.yml brings the
logs back; a worker killed with SIGKILL leaves containers that clean.yml
removes; start.yml brings it back; down.yml tears everything down, leaving
no process, container, cgroup or mount. The hosts share this machine's
filesystem, so the cluster-wide function folder (the same path on every
host in a real cluster) is one folder here. Tests run in name order and
build on each other."""
import csv
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import BUILD, IO_THREADS, REPO, Client
from netns import NetNS, netns_permitted

PLAYBOOKS = os.path.join(REPO, "deploy", "ansible")
SSHD = "/usr/sbin/sshd"
ANSIBLE = shutil.which("ansible-playbook") or "/usr/bin/ansible-playbook"
HOSTS = ("h0", "h1", "h2")
WORKERS = {"h1": {"cpus": 1, "memory_mb": 1024}, "h2": {"cpus": 2, "memory_mb": 1536}}
TOKEN = "e2e-ansible-worker-token"


def gone_or_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def log(msg):
    print(f"    [ansible] {msg}", flush=True)


class AnsibleDeployTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ok, why = netns_permitted()
        if not ok:
            raise unittest.SkipTest(why)
        for tool in (ANSIBLE, SSHD):
            if not os.access(tool, os.X_OK):
                raise AssertionError(f"{tool} is missing: scripts/install-deps.sh installs ansible-core and "
                                     f"openssh-server")
        cls.root = tempfile.mkdtemp(prefix="ilu-ans-", dir="/tmp")
        os.chmod(cls.root, 0o711)  # user-namespaced containers pass through to the function folder
        cls.net = None
        cls.pid = os.getpid()
        try:
            cls._set_up()
        except BaseException:
            cls._teardown()
            raise

    @classmethod
    def _set_up(cls):
        ssh = os.path.join(cls.root, "ssh")
        os.makedirs(ssh, mode=0o700)
        for key in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(ssh, key)], check=True)
        shutil.copy(os.path.join(ssh, "client_key.pub"), os.path.join(ssh, "authorized_keys"))
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        cls.net = NetNS(len(HOSTS), prefix=f"ilans{cls.pid % 100000}").create()
        cls.net.wait_reachable()
        cls.addr = dict(zip(HOSTS, cls.net.addrs))
        for i, h in enumerate(HOSTS):
            cfg = os.path.join(ssh, f"sshd_{h}")
            with open(cfg, "w") as f:
                f.write(f"ListenAddress {cls.addr[h]}:22\nHostKey {ssh}/host_key\nPidFile {ssh}/sshd_{h}.pid\n"
                        f"AuthorizedKeysFile {ssh}/authorized_keys\nPermitRootLogin prohibit-password\n"
                        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
                        "Subsystem sftp internal-sftp\n")
            cls.net.run(i, [SSHD, "-D", "-e", "-f", cfg], stdout=subprocess.DEVNULL,
                        stderr=open(os.path.join(ssh, f"sshd_{h}.log"), "wb"))
        for h in HOSTS:
            cls.wait_port(cls.addr[h], 22)
        cls.write_inventory()

    @classmethod
    def host_dir(cls, h, *parts):
        return os.path.join(cls.root, h, *parts)

    @classmethod
    def write_inventory(cls):
        hosts = {}
        for h in HOSTS:
            hv = {
                "ansible_host": cls.addr[h],
                "ansible_user": "root",
                "ansible_ssh_private_key_file": os.path.join(cls.root, "ssh", "client_key"),
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                # each host its own prefix and folders: nothing shared but the function folder
                "iluvatar_prefix": cls.host_dir(h, "opt", "iluvatar"),
                "iluvatar_run_dir": cls.host_dir(h, "run"),
                "iluvatar_log_dir": cls.host_dir(h, "log"),
                "iluvatar_state_dir": cls.host_dir(h, "st"),  # short: socket paths under it stay < 108 bytes
                "iluvatar_cgroup_parent": f"ilu-ans-{cls.pid}-{h}",
                "iluvatar_loadgen_dir": cls.host_dir(h, "lg"),
                "iluvatar_controller_db": cls.host_dir(h, "ctl", "controller.db"),
            }
            if h in WORKERS:
                hv.update(iluvatar_worker_cpus=WORKERS[h]["cpus"], iluvatar_worker_memory_mb=WORKERS[h]["memory_mb"],
                          iluvatar_worker_name=f"e2e-ans-{h}")
            hosts[h] = hv
        inv = {"all": {
            "vars": {
                "iluvatar_src": REPO,
                "iluvatar_build": os.path.relpath(BUILD, REPO),
                "iluvatar_stage_dir": os.path.join(cls.root, "stage"),
                "iluvatar_collect_dir": os.path.join(cls.root, "collected"),
                "iluvatar_functions_dir": os.path.join(cls.root, "functions"),
                "iluvatar_worker_token": TOKEN,
                "iluvatar_service_manager": "script",  # systemd is not running here
                # the suite's second pass: the deployed workers serve HTTP on I/O loops too
                "iluvatar_worker_config": {"http": {"io_threads": IO_THREADS}} if IO_THREADS is not None else {},
            },
            "hosts": hosts,
            "children": {"controller": {"hosts": {"h0": None}}, "workers": {"hosts": {"h1": None, "h2": None}},
                         "loadgen": {"hosts": {"h0": None}}},
        }}
        cls.inventory = os.path.join(cls.root, "inventory.json")  # JSON is YAML
        with open(cls.inventory, "w") as f:
            json.dump(inv, f, indent=2)

    @staticmethod
    def wait_port(addr, port, timeout=10.0):
        import socket
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection((addr, port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"nothing listens on {addr}:{port} after {timeout} s")
                time.sleep(0.05)

    @classmethod
    def playbook(cls, name, *extra, timeout=600):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_") and not
               k.lower().endswith("_proxy")}
        env.update(ANSIBLE_CONFIG=os.path.join(PLAYBOOKS, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_LOCAL_TEMP=os.path.join(cls.root, "ansible-tmp"),
                   ANSIBLE_SSH_CONTROL_PATH_DIR=os.path.join(cls.root, "cp"))
        t0 = time.monotonic()
        root_before = os.stat("/")
        r = subprocess.run([ANSIBLE, "-i", cls.inventory, os.path.join(PLAYBOOKS, name), *extra], capture_output=True,
                           text=True, timeout=timeout, cwd=cls.root, env=env)
        log(f"{name}: exit {r.returncode} in {time.monotonic() - t0:.1f} s")
        root_after = os.stat("/")
        if (root_after.st_mode, root_after.st_mtime) != (root_before.st_mode, root_before.st_mtime):
            raise AssertionError(f"ansible-playbook {name} changed / (mode {oct(root_before.st_mode)} -> "
                                 f"{oct(root_after.st_mode)}, mtime {root_before.st_mtime} -> {root_after.st_mtime})")
        if r.returncode != 0:
            raise AssertionError(f"ansible-playbook {name} exited {r.returncode}:\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}"
                                 f"{cls.logs_tail()}")
        return r.stdout

    @classmethod
    def logs_tail(cls):
        out = ""
        for f in sorted(glob.glob(os.path.join(cls.root, "h*", "log", "*.log"))):
            with open(f, errors="replace") as fh:
                out += f"\n--- {f} (end):\n" + "".join(fh.readlines()[-15:])
        return out

    def controller(self):
        return Client(8078, host=self.addr["h0"], timeout=60)

    @classmethod
    def daemon_pid(cls, h, name):
        try:
            with open(cls.host_dir(h, "run", f"{name}.pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    @classmethod
    def our_processes(cls):
        """Processes whose program lies under one of the hosts' prefixes."""
        found = []
        for exe in glob.glob("/proc/[0-9]*/exe"):
            try:
                target = os.readlink(exe)
            except OSError:
                continue
            if target.startswith(cls.root + "/"):
                found.append((exe.split("/")[2], target))
        return found

    @classmethod
    def our_cgroups(cls):
        return [d for h in WORKERS for d in glob.glob(f"/sys/fs/cgroup/**/ilu-ans-{cls.pid}-{h}*", recursive=True)]

    @classmethod
    def our_mounts(cls):
        with open("/proc/self/mountinfo") as f:
            return [line.split()[4] for line in f if cls.root in line.split()[4]]

    @classmethod
    def _teardown(cls):
        # daemons a failed test left: SIGKILL, then each worker's clean with its installed config
        for h in HOSTS:
            for name in ("worker", "controller"):
                pid = cls.daemon_pid(h, name)
                if pid:
                    os.kill(pid, signal.SIGKILL)
        for h in WORKERS:
            cfg = cls.host_dir(h, "opt", "iluvatar", "etc", "iluvatar", "worker.json")
            if os.path.exists(cfg):
                subprocess.run([os.path.join(BUILD, "iluvatar_worker"), "clean", "-c", cfg], capture_output=True,
                               timeout=60)
        if cls.net:
            cls.net.teardown()
        if os.environ.get("ILU_E2E_KEEP") != "1":
            shutil.rmtree(cls.root, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls._teardown()

    # ---- the deployment, step by step ------------------------------------------

    def test_1_up_installs_configures_and_starts_the_cluster(self):
        # the folders above the prefixes keep their owner, mode and times
        above = ["/", "/tmp", self.root] + [self.host_dir(h) for h in HOSTS if os.path.isdir(self.host_dir(h))]
        before = {d: (st.st_mode, st.st_uid, st.st_mtime) for d in above for st in [os.stat(d)]}
        self.playbook("up.yml")
        after = {d: (st.st_mode, st.st_uid, st.st_mtime) for d in above for st in [os.stat(d)]}
        self.assertEqual({d: oct(v[0]) for d, v in after.items() if v[:2] != before[d][:2]}, {},
                         "up.yml changed the mode or owner of folders above the prefix")
        self.assertEqual(after["/"], before["/"], "up.yml touched /")
        ws = {w["name"]: w for w in self.controller().get("/workers").json["workers"]}
        self.assertEqual(sorted(ws), ["e2e-ans-h1", "e2e-ans-h2"])
        for h, want in WORKERS.items():
            w = ws[f"e2e-ans-{h}"]
            self.assertEqual(w["health"], "HEALTHY", w)
            self.assertEqual((w["host"], w["cpus"], w["memory_mb"]), (self.addr[h], want["cpus"], want["memory_mb"]))
        # every daemon runs the program installed under its own host's prefix
        for h, name in (("h0", "controller"), ("h1", "worker"), ("h2", "worker")):
            pid = self.daemon_pid(h, name)
            self.assertIsNotNone(pid, f"no {name} running on {h}")
            self.assertEqual(os.readlink(f"/proc/{pid}/exe"),
                             self.host_dir(h, "opt", "iluvatar", "bin", f"iluvatar_{name}"))
        with open(self.host_dir("h2", "opt", "iluvatar", "etc", "iluvatar", "worker.json")) as f:
            cfg = json.load(f)
        self.assertEqual(cfg["load_balancer_url"], f"http://{self.addr['h0']}:8078")
        self.assertEqual(cfg["container_resources"], {"cpu_count": 2, "memory_mb": 1536})
        if IO_THREADS is not None:
            self.assertEqual(cfg["http"], {"io_threads": IO_THREADS})
        out = self.playbook("status.yml")
        self.assertEqual(len(re.findall(r'"msg": "worker running \(pid [0-9]+\)"', out)), 2, out)
        self.assertEqual(len(re.findall(r'"msg": "controller running \(pid [0-9]+\)"', out)), 1, out)
        # running it again is safe: reinstalls and restarts, the workers come back
        self.playbook("up.yml")
        ws = self.controller().get("/workers").json["workers"]
        self.assertEqual(sorted(w["health"] for w in ws), ["HEALTHY", "HEALTHY"])

    def test_2_register_and_invoke_through_the_controller(self):
        c = self.controller()
        hello = os.path.join(self.root, "functions", "hello")
        r = c.post("/register", {"function_name": "hello", "function_version": "1", "image_name": hello,
                                  "memory": 128, "cpus": 1})
        self.assertEqual(r.status, 200, r)
        r = c.post("/invoke", {"function_name": "hello", "function_version": "1",
                               "json_args": json.dumps({"name": "ansible"})})
        self.assertEqual(r.status, 200, r)
        self.assertIn("ansible", r.text)

    def test_3_loadgen_replays_a_trace_and_brings_the_results_back(self):
        trace = os.path.join(self.root, "trace.csv")
        meta = os.path.join(self.root, "metadata.csv")
        fns = [f"lg-f{i}" for i in range(4)]
        with open(trace, "w") as f:
            f.write("func_name,invoke_time_ms\n")
            for k in range(6):
                for i, fn in enumerate(fns):
                    f.write(f"{fn},{k * 400 + i * 50}\n")
        with open(meta, "w") as f:
            f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\n")
            f.writelines(f"{fn},60,20,64\n" for fn in fns)
        self.playbook("loadgen.yml", "-e", f"iluvatar_trace={trace}", "-e", f"iluvatar_trace_metadata={meta}",
                      "-e", "iluvatar_run_name=run1")
        out = os.path.join(self.root, "collected", "h0", "loadgen", "run1")
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        self.assertEqual((summary["successes"], summary.get("failures", 0)), (24, 0), summary)
        with open(os.path.join(out, "invocations.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 24)
        self.assertTrue(glob.glob(os.path.join(out, "*.png")), f"no plots in {out}: {os.listdir(out)}")
        # the load reached both workers (CH-BL spreads four functions)
        ctl = {w["name"]: w["routed"] for w in self.controller().get("/workers").json["workers"]}
        self.assertEqual(sum(ctl.values()), 25, ctl)  # 24 + test_2's invocation

    def test_4_collect_brings_logs_and_configs_back(self):
        self.playbook("collect.yml")
        got = os.path.join(self.root, "collected")
        for h, name in (("h0", "controller"), ("h1", "worker"), ("h2", "worker")):
            with open(os.path.join(got, h, f"{name}.log"), errors="replace") as f:
                text = f.read()
            self.assertGreater(len(text), 0, f"{h}/{name}.log is empty")
            with open(os.path.join(got, h, f"{name}.json")) as f:
                json.load(f)
        with open(os.path.join(got, "h1", "worker.log"), errors="replace") as f:
            self.assertIn("e2e-ans-h1", f.read())

    def test_5_clean_removes_what_a_killed_worker_left(self):
        pid = self.daemon_pid("h2", "worker")
        self.assertIsNotNone(pid)
        cg = f"ilu-ans-{self.pid}-h2"
        self.assertTrue([d for d in self.our_cgroups() if cg in d], "h2's worker has no containers to leave behind")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while gone_or_zombie(pid) is False and time.monotonic() < deadline:
            time.sleep(0.05)
        out = self.playbook("clean.yml", "--limit", "h2")
        self.assertRegex(out, r"clean: removed [1-9][0-9]* containers")
        self.assertEqual([d for d in self.our_cgroups() if cg in d], [])
        # and start.yml brings it back
        self.playbook("start.yml")
        deadline = time.monotonic() + 15
        while True:
            ws = {w["name"]: w["health"] for w in self.controller().get("/workers").json["workers"]}
            if ws.get("e2e-ans-h2") == "HEALTHY":
                break
            self.assertLess(time.monotonic(), deadline, f"h2's worker did not come back: {ws}")
            time.sleep(0.2)

    def test_6_down_leaves_nothing_behind(self):
        self.playbook("down.yml")
        self.assertEqual(self.our_processes(), [])
        self.assertEqual(self.our_cgroups(), [])
        self.assertEqual(self.our_mounts(), [])
        for h in HOSTS:
            left = [os.path.relpath(os.path.join(d, f), self.root) for d, _, fs in os.walk(self.host_dir(h))
                    for f in fs]
            # only the logs stay
            self.assertEqual([p for p in left if not p.startswith(f"{h}/log/")], [], h)
        self.assertFalse(os.path.exists(os.path.join(self.root, "functions")))
