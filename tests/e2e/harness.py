"""End-to-end harness: runs the real iluvatar_worker and talks to it over its
real HTTP API (docs/api.md), as redis and crun test themselves from outside.

Each Worker gets its own temp dir (config, log, oci.state_dir, oci.rootfs_dir),
its own free port on 127.0.0.1 and its own cgroup parent "iluvatar-test-<pid>-<n>",
so a test can look for exactly its own leftovers after shutdown.

Environment:
  ILU_BUILD_DIR   where iluvatar_worker and iluvatar_worker_cli are (default: build)
  ILU_E2E_KEEP=1  keep the temp dirs of stopped workers (for debugging)
"""
import atexit
import ctypes
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(REPO, os.environ.get("ILU_BUILD_DIR", "build"))
# ILU_E2E_IO_THREADS=N: every worker serves HTTP on N I/O loops beside its
# core loop (http.io_threads), unless a test sets http itself
IO_THREADS = int(os.environ["ILU_E2E_IO_THREADS"]) if os.environ.get("ILU_E2E_IO_THREADS") else None
# ILU_E2E_AGENT_THREADS=N: the warm invocations' agent I/O on N threads of
# their own (oci.agent_threads), unless a test sets it itself
AGENT_THREADS = int(os.environ["ILU_E2E_AGENT_THREADS"]) if os.environ.get("ILU_E2E_AGENT_THREADS") else None
WORKER_BIN = os.path.join(BUILD, "iluvatar_worker")
CLI_BIN = os.path.join(BUILD, "iluvatar_worker_cli")
TEST_FUNCTIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "functions")
BUNDLED_FUNCTIONS = os.path.join(REPO, "functions")
HOST = "127.0.0.1"  # every test's address, except the private hosts of tests/e2e/netns.py

_worker_seq = 0
_seq_lock = threading.Lock()
# Every worker started in this process, so the runner can show a failed test's log.
LIVE_WORKERS = []


def _die_with_parent():
    # If the test process dies, the worker gets SIGINT and cleans up after itself.
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGINT))  # PR_SET_PDEATHSIG


@atexit.register
def _destroy_all():
    for w in list(LIVE_WORKERS):
        w.destroy()


def function_dir(name):
    """Absolute path of a test function (tests/e2e/functions) or a bundled one."""
    for base in (TEST_FUNCTIONS, BUNDLED_FUNCTIONS):
        path = os.path.join(base, name)
        if os.path.isfile(os.path.join(path, "main.py")):
            return path
    raise FileNotFoundError(f"no function folder named {name!r}")


def _free_port(host=HOST):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _merge(base, override):
    """Nested merge of dotted or nested config keys into a nested dict."""
    for key, value in override.items():
        parts = key.split(".")
        node = base
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        if isinstance(value, dict):
            _merge(node.setdefault(parts[-1], {}), value)
        else:
            node[parts[-1]] = value
    return base


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict with lower-case names
        self.body = body
        self.text = body.decode("utf-8", "replace")
        try:
            self.json = json.loads(self.text) if body else None
        except ValueError:
            self.json = None

    def result(self):
        """The function's return value: json_result decoded."""
        if not isinstance(self.json, dict) or not isinstance(self.json.get("json_result"), str):
            raise AssertionError(f"answer has no json_result string: HTTP {self.status} {self.text[:500]}")
        return json.loads(self.json["json_result"])

    def __repr__(self):
        return f"HTTP {self.status} {self.text[:800]}"


class Client:
    """One persistent HTTP/1.1 connection (keep-alive), as a real client uses.
    host: 127.0.0.1 unless a test has private addresses (tests/e2e/netns.py)."""

    def __init__(self, port, timeout=30.0, host=HOST):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None, timeout=None):
        """body: dict/list (sent as JSON), str/bytes (sent as is) or None."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
            elif timeout:
                self.conn.timeout = timeout
                if self.conn.sock:
                    self.conn.sock.settimeout(timeout)
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                r = self.conn.getresponse()
                data = r.read()
                resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
                if r.will_close:
                    self.close()
                return resp
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                # A kept-alive connection the server closed while idle: retry once
                # on a fresh one. A fresh connection failing is a real failure.
                if not reused or attempt == 1:
                    raise
            except Exception:
                self.close()
                raise

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)


class WorkerError(Exception):
    pass


class Worker:
    """A running iluvatar_worker with its own config, dirs and cgroup parent."""

    def __init__(self, config=None, name="worker", start_timeout=30.0):
        global _worker_seq
        with _seq_lock:
            _worker_seq += 1
            seq = _worker_seq
        self.name = name
        self.host = HOST  # where it listens (a subclass may run it elsewhere)
        # Short path: Unix socket paths under state_dir must stay under 108 bytes.
        self.root = tempfile.mkdtemp(prefix="ilu-e2e-", dir="/tmp")
        # containers run as an unprivileged host id (user namespace): they
        # must pass through to the root and function folders kept here
        os.chmod(self.root, 0o711)
        self.functions_root = os.path.join(self.root, "functions")
        os.makedirs(self.functions_root, mode=0o755)
        self.state_dir = os.path.join(self.root, "state")
        self.rootfs_dir = os.path.join(self.root, "rootfs")
        self.cgroup_parent = f"iluvatar-test-{os.getpid()}-{seq}"
        self.log_path = os.path.join(self.root, "worker.log")
        self.config_path = os.path.join(self.root, "worker.json")
        self.start_timeout = start_timeout
        self.overrides = config or {}
        self.binary = WORKER_BIN  # another build's or an installed one's may be set before start
        self.proc = None
        self.port = None
        self.client = None
        self.returncode = None

    # ---- lifecycle -------------------------------------------------------

    def _config(self, port):
        cfg = {
            "name": f"e2e-{self.name}",
            "address": HOST,
            "port": port,
            "logging": {"level": "info", "stdout": True},
            # the test functions, the bundled ones, and this worker's own
            # folder (tests that make function folders put them there)
            "functions_dirs": f"{TEST_FUNCTIONS}:{BUNDLED_FUNCTIONS}:{self.functions_root}",
            "oci": {"state_dir": self.state_dir, "rootfs_dir": self.rootfs_dir,
                    "cgroup_parent": self.cgroup_parent},
        }
        if IO_THREADS is not None:  # the whole suite again with I/O loops
            cfg["http"] = {"io_threads": IO_THREADS}
        if AGENT_THREADS is not None:  # and with agent loops
            cfg["oci"]["agent_threads"] = AGENT_THREADS
        return _merge(cfg, self.overrides)

    def start(self):
        try:
            return self._start()
        except BaseException:
            self.destroy()  # setUpClass failed: tearDownClass will not run
            raise

    def _start(self):
        if not os.access(self.binary, os.X_OK):
            raise WorkerError(f"{self.binary} is missing; build it with `make` (ILU_BUILD_DIR={BUILD})")
        last = None
        for _ in range(3):  # the free port may be taken between probe and bind
            self.port = _free_port()
            with open(self.config_path, "w") as f:
                json.dump(self._config(self.port), f, indent=2)
            env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_")}
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen([self.binary, "-c", self.config_path], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, cwd=REPO, preexec_fn=_die_with_parent)
            log.close()
            try:
                self._wait_ready()
                LIVE_WORKERS.append(self)
                return self
            except WorkerError as e:
                last = e
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
                if "in use" not in self.log().lower():
                    break
        raise last

    def _wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        self.client = Client(self.port, host=self.host)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise WorkerError(f"worker exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            try:
                r = Client(self.port, timeout=2, host=self.host).get("/ping")
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise WorkerError(f"worker did not answer /ping within {self.start_timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, sig=signal.SIGINT, timeout=10.0):
        """Signal the worker and wait; returns (exit code, seconds taken).
        Kills it if it does not exit in time (exit code None then)."""
        if self.client:
            self.client.close()
        if self.proc is None or self.proc.poll() is not None:
            self.returncode = self.proc.returncode if self.proc else None
            return self.returncode, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.returncode = None
        return self.returncode, time.monotonic() - t0

    def successor(self, name, config=None):
        """A new worker (not started) on this one's dirs and cgroup parent,
        as after a crash: the next start finds what this one left."""
        nxt = Worker(config, name=name)
        shutil.rmtree(nxt.root, ignore_errors=True)  # its own fresh dirs go unused
        nxt.root, nxt.state_dir, nxt.rootfs_dir = self.root, self.state_dir, self.rootfs_dir
        nxt.functions_root = self.functions_root
        nxt.cgroup_parent = self.cgroup_parent
        nxt.log_path = os.path.join(self.root, f"{name}.log")
        nxt.config_path = os.path.join(self.root, f"{name}.json")
        return nxt

    def destroy(self):
        """Stop, remove whatever the worker left behind (only our own
        containers, mounts and cgroups), and delete the temp dir."""
        self.stop()
        self.force_cleanup()
        if self in LIVE_WORKERS:
            LIVE_WORKERS.remove(self)
        if not os.environ.get("ILU_E2E_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def force_cleanup(self):
        for runtime, root in self.runtime_roots():
            for cid in self.runtime_list(runtime, root):
                subprocess.run([runtime, "--root", root, "delete", "-f", cid],
                               capture_output=True, timeout=20)
        for point in reversed(self.leftover_mounts()):
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=20)
        for pid in self.leftover_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        # deepest first so parents are empty when removed
        for d in sorted(self.leftover_cgroups(include_parent=True), key=len, reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                pass

    # ---- leftovers (used by the shutdown tests and by force_cleanup) -------

    def runtime_roots(self):
        """(runtime binary, --root dir) pairs that may hold our containers."""
        pairs = []
        # the OCI backend uses <state_dir>/runtime/<runc|crun>; older layouts are checked too
        for sub, runtimes in (("runtime/runc", ("runc",)), ("runtime/crun", ("crun",)),
                              ("runtime", ("runc", "crun")), ("runc", ("runc",)), ("crun", ("crun",))):
            root = os.path.join(self.state_dir, sub)
            if os.path.isdir(root):
                pairs.extend((rt, root) for rt in runtimes if shutil.which(rt))
        return pairs

    @staticmethod
    def runtime_list(runtime, root):
        r = subprocess.run([runtime, "--root", root, "list", "-q"], capture_output=True,
                           text=True, timeout=20)
        return [line.strip() for line in r.stdout.splitlines() if line.strip()]

    def leftover_cgroups(self, include_parent=False):
        found = []
        for parent in glob.glob(f"/sys/fs/cgroup/*/{self.cgroup_parent}"):
            if not os.path.isdir(parent):
                continue
            if include_parent:
                found.append(parent)
            for dirpath, dirnames, _ in os.walk(parent):
                found.extend(os.path.join(dirpath, d) for d in dirnames)
        return found

    def leftover_mounts(self):
        points = []
        mine = re.compile(re.escape(self.root) + "/|" + re.escape(self.cgroup_parent) + r"(/|\s|$)")
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                if mine.search(line):
                    points.append(fields[1].encode().decode("unicode_escape"))
        return points

    def leftover_processes(self):
        """Processes in our cgroups, or naming our dirs on their command line."""
        me = os.getpid()
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in (me, self.proc.pid if self.proc else -1):
                continue
            try:
                with open(f"/proc/{entry}/cgroup") as f:
                    cg = f.read()
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            try:
                root = os.readlink(f"/proc/{entry}/root")
            except OSError:
                root = ""
            if (f"/{self.cgroup_parent}/" in cg or f"/{self.cgroup_parent}\n" in cg or self.root in cmd
                    or root.startswith(self.root + "/")):
                pids.append(int(entry))
        return pids

    def process_description(self, pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f"{pid}: " + f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            return f"{pid}: (gone)"

    # ---- logs ------------------------------------------------------------

    def describe(self):
        """'' while running; says so when the worker has died (e.g. crashed)."""
        if self.proc is not None and self.proc.poll() is not None and self.returncode is None:
            return f"worker is NOT running: it exited with {self.proc.returncode}\n"
        return ""

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=30):
        text = self.log().splitlines()
        return "\n".join(f"  | {line}" for line in text[-lines:]) or "  | (empty log)"

    # ---- API helpers ------------------------------------------------------

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def post(self, path, body=None, **kw):
        return self.client.post(path, body, **kw)

    def new_client(self, timeout=60.0):
        return Client(self.port, timeout=timeout, host=self.host)

    def status(self):
        r = self.get("/status")
        if r.status != 200 or not isinstance(r.json, dict):
            raise AssertionError(f"GET /status failed: {r}\n{self.log_tail()}")
        return r.json

    def register(self, name, version="1", image=None, memory=128, cpus=1, client=None):
        body = {"function_name": name, "function_version": str(version),
                "image_name": image or function_dir(name), "memory": memory, "cpus": cpus}
        return (client or self.client).post("/register", body)

    def invoke(self, name, version="1", args=None, client=None, timeout=None, as_string=True):
        """as_string: send json_args as a string holding JSON (Ilúvatar's form)."""
        args = {} if args is None else args
        body = {"function_name": name, "function_version": str(version),
                "json_args": json.dumps(args) if as_string else args}
        return (client or self.client).post("/invoke", body, timeout=timeout)

    def cli(self, *args, timeout=60.0, port=True):
        """Run iluvatar_worker_cli against this worker (cwd = repo root)."""
        return run_cli(*(("--port", str(self.port)) if port else ()), *args, timeout=timeout)


def sanitizer_reports(log):
    """Lines of ASan/UBSan/LSan reports in a worker log."""
    marks = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "SUMMARY: ")
    return [line for line in log.splitlines() if any(m in line for m in marks)]


def run_cli(*args, timeout=60.0):
    if not os.access(CLI_BIN, os.X_OK):
        raise WorkerError(f"{CLI_BIN} is missing; build it with `make`")
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return subprocess.run([CLI_BIN, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, env=env)


class WorkerTestCase(unittest.TestCase):
    """One worker per test class (config in CONFIG); tests in a class must not
    depend on each other's order."""

    CONFIG = {}
    worker = None

    @classmethod
    def setUpClass(cls):
        cls.worker = Worker(cls.CONFIG, name=cls.__name__).start()

    @classmethod
    def tearDownClass(cls):
        if not cls.worker:
            return
        code, seconds = cls.worker.stop()
        problems = sanitizer_reports(cls.worker.log())
        tail = cls.worker.log_tail(20)
        cls.worker.destroy()
        # Every worker, not only the shutdown test's, must stop cleanly and
        # (in a SAN=1 build) without sanitizer reports; this shows up as an
        # error of "tearDownClass (<class>)".
        if problems:
            raise AssertionError(f"{cls.__name__}: worker log has sanitizer reports:\n" + "\n".join(problems[:20]))
        if code != 0:
            raise AssertionError(f"{cls.__name__}: worker exited {code} on SIGINT after {seconds:.1f}s "
                                 f"(None: killed after 10 s):\n{tail}")

    def assertEchoFromClients(self, clients, calls, extra=None, join_timeout=120):
        """clients threads, each on its own connection, invoke "echo" calls
        times with its own arguments (plus extra(i, k)) and must get exactly
        them back."""
        errors = []

        def client(i):
            c = self.worker.new_client()
            try:
                for k in range(calls):
                    args = {"client": i, "k": k, "text": "é\"\\\n" * (k % 3), **(extra(i, k) if extra else {})}
                    r = self.worker.invoke("echo", args=args, client=c)
                    if r.status != 200 or r.result() != args:
                        errors.append(f"client {i} call {k}: {r!r}"[:600])
                        return
            finally:
                c.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(join_timeout)
        if errors:
            self.fail_with_log(f"{len(errors)} wrong answers, first: {errors[0]}")

    # ---- assertions that carry the worker log ----------------------------

    def fail_with_log(self, msg):
        self.fail(f"{msg}\n{self.worker.describe()}worker log (last lines):\n{self.worker.log_tail(15)}")

    def assertHTTP(self, resp, status, what=""):
        if resp.status != status:
            self.fail_with_log(f"{what or 'request'}: expected HTTP {status}, got {resp!r}")
        return resp

    def assertError(self, resp, status, kind, what=""):
        """Error answer per docs/api.md: status, JSON body, success false, kind, error."""
        self.assertHTTP(resp, status, what)
        body = resp.json
        if not isinstance(body, dict):
            self.fail_with_log(f"{what}: HTTP {status} body is not a JSON object: {resp.text[:300]!r}")
        problems = []
        if body.get("success") is not False:
            problems.append(f"success is {body.get('success')!r}, expected false")
        if body.get("error_kind") != kind:
            problems.append(f"error_kind is {body.get('error_kind')!r}, expected {kind!r}")
        if not isinstance(body.get("error"), str) or not body.get("error"):
            problems.append("no non-empty 'error' sentence")
        if problems:
            self.fail_with_log(f"{what}: HTTP {status} body wrong ({'; '.join(problems)}): {resp.text[:500]}")
        return body

    def assertRegistered(self, name, version="1", **kw):
        return self.assertHTTP(self.worker.register(name, version, **kw), 200, f"register {name}-{version}")

    def assertInvokeOK(self, name, version="1", args=None, state=None, **kw):
        r = self.worker.invoke(name, version, args, **kw)
        self.assertHTTP(r, 200, f"invoke {name}-{version}")
        if not isinstance(r.json, dict) or r.json.get("success") is not True:
            self.fail_with_log(f"invoke {name}-{version}: HTTP 200 but success is not true: {r!r}")
        if state is not None and r.json.get("container_state") != state:
            self.fail_with_log(f"invoke {name}-{version}: container_state {r.json.get('container_state')!r}, "
                               f"expected {state!r}: {r!r}")
        return r

    def assertWorkerHealthy(self):
        """After bad input: ping answers and hello still runs."""
        r = self.worker.get("/ping")
        self.assertHTTP(r, 200, "ping after bad input")
        self.assertRegistered("hello", "health-check", image=function_dir("hello"))
        r = self.assertInvokeOK("hello", "health-check", {"name": "Check"})
        self.assertEqual(r.result()["body"]["greeting"], "Hello Check from python!")


def wait_until(predicate, timeout, interval=0.05):
    """Poll predicate() until truthy or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
