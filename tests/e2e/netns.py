"""Private test hosts made of network namespaces, for cluster tests.

    net = NetNS(3).create()      # bridge ilub<pid%1000> 10.213.<k>.1/24 in the root namespace,
                                 # namespaces ilu-<pid>-<i> at 10.213.<k>.<10+i>/24
    p = net.run(0, [binary, ...], stdout=log)   # a process inside namespace 0
    net.teardown()               # kill processes, delete namespaces, then the bridge
    assert not net.leftovers()

Every namespace has lo up and eth0 (the peer of a veth created directly inside
it, which is much faster than moving it) with a default route via the bridge,
so namespaces reach each other and the root namespace's bridge address.
<k> comes from the pid and is moved on while 10.213.<k>.0/24 is in use by any
address or route of the root namespace, so parallel runs do not collide.

Processes are started with `ip netns exec`. That command also gives the
process a private mount namespace where /sys is a new sysfs, which hides the
cgroup hierarchies under /sys/fs/cgroup; run() mounts them again in that
private mount namespace (same hierarchies as the host's: mounting a v1
hierarchy with the same controllers shows the existing one), so a worker can
run containers with runc and its cgroup parent is the host's.

teardown() is idempotent and also runs at interpreter exit. Needs root.
"""
import atexit
import ctypes
import ipaddress
import os
import shlex
import signal
import socket
import subprocess
import threading
import time

IP = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "ip"
SUBNET_BASE = "10.213"

_live = []
_lock = threading.Lock()


class NetNSError(Exception):
    pass


def _ip(*args, check=True, ns=None):
    argv = [IP] + (["netns", "exec", ns, IP] if ns else []) + list(args)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise NetNSError(f"`{' '.join(argv)}` failed ({r.returncode}): {r.stderr.strip()}")
    return r


def netns_permitted():
    """(True, '') when `ip netns add` works here, else (False, reason)."""
    if os.geteuid() != 0:
        return False, "not root: `ip netns add` needs CAP_SYS_ADMIN"
    name = f"ilu-probe-{os.getpid()}"
    r = subprocess.run([IP, "netns", "add", name], capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        return False, f"`ip netns add` is not permitted here: {r.stderr.strip()}"
    subprocess.run([IP, "netns", "del", name], capture_output=True, timeout=20)
    return True, ""


def list_netns():
    r = subprocess.run([IP, "netns", "list"], capture_output=True, text=True, timeout=20)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def list_links():
    r = subprocess.run([IP, "-o", "link", "show"], capture_output=True, text=True, timeout=20)
    names = []
    for line in r.stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@")[0])
    return names


def _answers(addr, port=9):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        try:
            s.connect((addr, port))
            return True
        except ConnectionRefusedError:
            return True
        except OSError:
            return False


def _subnet_in_use(net):
    """Any address or route of the root namespace inside net."""
    out = _ip("-o", "-4", "addr", "show", check=False).stdout + _ip("-4", "route", "show", "table", "all",
                                                                    check=False).stdout
    for token in out.split():
        try:
            if "/" in token:
                other = ipaddress.ip_network(token, strict=False)
                if other.overlaps(net):
                    return True
            elif ipaddress.ip_address(token) in net:
                return True
        except ValueError:
            continue
    return False


# Mount the host's cgroup hierarchies again in the private mount namespace
# `ip netns exec` makes (it remounts /sys, hiding /sys/fs/cgroup), then exec.
_CGROUP_SCRIPT = r'''
set -e
while read -r src dir type opts _; do
  case "$dir" in /sys/fs/cgroup|/sys/fs/cgroup/*) ;; *) continue ;; esac
  case "$type" in
    tmpfs) mount -t tmpfs -o "$opts" tmpfs "$dir" ;;
    cgroup) mkdir -p "$dir"; mount -t cgroup -o "$opts" cgroup "$dir" ;;
    cgroup2) mkdir -p "$dir"; mount -t cgroup2 -o "$opts" cgroup2 "$dir" ;;
  esac
done < "$ILU_NETNS_MOUNTS"
exec "$@"
'''


class NetNS:
    """A bridge in the root namespace and n namespaces attached to it."""

    def __init__(self, n, prefix=None):
        self.n = n
        pid = os.getpid()
        self.prefix = prefix or f"ilu{pid}"
        self.bridge = f"ilub{pid % 1000}"
        self.names = [f"{self.prefix}-{i}" for i in range(n)]
        self.veths = [f"ilv{pid % 100000}x{i}" for i in range(n)]  # <= 15 chars
        self.k = None
        self.bridge_addr = None
        self.addrs = []
        self.procs = []
        self.created_ns = []
        self.created_links = []
        self.torn_down = False
        self._mounts_file = None

    # ---- creation -----------------------------------------------------------

    def _pick_subnet(self):
        start = os.getpid() % 200 + 20  # 10.213.20 .. 10.213.219
        for step in range(200):
            k = (start - 20 + step) % 200 + 20
            net = ipaddress.ip_network(f"{SUBNET_BASE}.{k}.0/24")
            if not _subnet_in_use(net):
                return k
        raise NetNSError(f"no free {SUBNET_BASE}.x.0/24 subnet")

    def create(self):
        try:
            return self._create()
        except BaseException:
            self.teardown()
            raise

    def _create(self):
        if self.bridge in list_links():
            raise NetNSError(f"bridge {self.bridge} already exists (another run with the same pid % 1000?)")
        existing = set(list_netns())
        for name in self.names:
            if name in existing:
                raise NetNSError(f"namespace {name} already exists")
        with _lock:
            _live.append(self)
        self.k = self._pick_subnet()
        self.bridge_addr = f"{SUBNET_BASE}.{self.k}.1"
        self.addrs = [f"{SUBNET_BASE}.{self.k}.{10 + i}" for i in range(self.n)]
        _ip("link", "add", self.bridge, "type", "bridge")
        self.created_links.append(self.bridge)
        # After the bridge exists, a parallel run choosing the same subnet would see our address.
        _ip("addr", "add", f"{self.bridge_addr}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i, (name, veth, addr) in enumerate(zip(self.names, self.veths, self.addrs)):
            _ip("netns", "add", name)
            self.created_ns.append(name)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
            self.created_links.append(veth)
            _ip("link", "set", veth, "master", self.bridge)
            _ip("link", "set", veth, "up")
            _ip("link", "set", "lo", "up", ns=name)
            _ip("addr", "add", f"{addr}/24", "dev", "eth0", ns=name)
            _ip("link", "set", "eth0", "up", ns=name)
            _ip("route", "add", "default", "via", self.bridge_addr, ns=name)
        # A snapshot of the host's cgroup mounts for run() (read as root before any exec).
        self._mounts_file = f"/tmp/{self.prefix}-mounts"
        with open("/proc/self/mounts") as src, open(self._mounts_file, "w") as dst:
            dst.write(src.read())
        return self

    def wait_reachable(self, timeout=5.0):
        """Until every namespace address answers from the root namespace (a TCP
        connection to a closed port is refused: the address is there)."""
        deadline = time.monotonic() + timeout
        pending = list(self.addrs)
        while pending:
            pending = [a for a in pending if not _answers(a)]
            if pending and time.monotonic() > deadline:
                raise NetNSError(f"namespace addresses {pending} unreachable from {self.bridge}")
        return self

    def set_link(self, ns, up):
        """Take namespace ns's link down (as if its host died or its cable
        was pulled: packets to it are dropped, no RST) or bring it back up."""
        i = ns if isinstance(ns, int) else self.names.index(ns)
        _ip("link", "set", self.veths[i], "up" if up else "down")

    # ---- processes ----------------------------------------------------------

    def ns_name(self, ns):
        return self.names[ns] if isinstance(ns, int) else ns

    def run(self, ns, argv, cgroups=True, **popen_kw):
        """Start argv inside namespace ns (index or name) with `ip netns exec`;
        returns the Popen. cgroups: make /sys/fs/cgroup visible inside again."""
        name = self.ns_name(ns)
        if name not in self.created_ns:
            raise NetNSError(f"{name} is not one of this run's namespaces")
        cmd = [IP, "netns", "exec", name]
        if cgroups:
            env = dict(popen_kw.pop("env", None) or os.environ)
            env["ILU_NETNS_MOUNTS"] = self._mounts_file
            popen_kw["env"] = env
            cmd += ["/bin/sh", "-c", _CGROUP_SCRIPT, "sh"]
        p = subprocess.Popen(cmd + list(argv), **popen_kw)
        self.procs.append(p)
        return p

    def exec(self, ns, argv, timeout=20):
        """Run argv inside namespace ns to completion (CompletedProcess, text)."""
        return subprocess.run([IP, "netns", "exec", self.ns_name(ns)] + list(argv), capture_output=True,
                              text=True, timeout=timeout)

    # ---- teardown -----------------------------------------------------------

    def ns_pids(self):
        """Pids of every process whose network namespace is one of ours."""
        out = []
        for name in self.created_ns:
            r = subprocess.run([IP, "netns", "pids", name], capture_output=True, text=True, timeout=20)
            out += [int(p) for p in r.stdout.split() if p.isdigit()]
        return out

    def teardown(self):
        """Kill our processes (and anything else left in our namespaces),
        delete the namespaces (their veths go with them), then the bridge."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.kill()
                except OSError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for _ in range(3):
            pids = self.ns_pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.1)
        existing = set(list_netns())
        for name in list(self.created_ns):
            if name in existing:
                _ip("netns", "del", name, check=False)
        links = set(list_links())
        for link in reversed(self.created_links):  # veths (normally gone already), bridge last
            if link in links:
                _ip("link", "del", link, check=False)
        if self._mounts_file:
            try:
                os.unlink(self._mounts_file)
            except OSError:
                pass
        self.torn_down = True
        with _lock:
            if self in _live:
                _live.remove(self)

    def leftovers(self):
        """What teardown should have removed and did not: a list of strings."""
        found = []
        ns = set(list_netns())
        found += [f"namespace {n}" for n in self.names if n in ns]
        links = set(list_links())
        found += [f"link {l}" for l in [self.bridge] + self.veths if l in links]
        found += [f"process {p.pid} ({shlex.join(map(str, p.args))[:80]})" for p in self.procs if p.poll() is None]
        if self.k is not None and _subnet_in_use(ipaddress.ip_network(f"{SUBNET_BASE}.{self.k}.0/24")):
            found.append(f"subnet {SUBNET_BASE}.{self.k}.0/24 still has an address or route")
        return found

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.teardown()


@atexit.register
def _teardown_all():
    for net in list(_live):
        try:
            net.teardown()
        except Exception:
            pass
