"""Probes the sandbox from inside, one action per call (args["action"]):
identity, escape (namespaces, mount, keyrings, bpf, ptrace), writable
(mount points a function can write), spam (bytes to stdout/stderr),
zombies (double forks), fork, segv, bad_result (NaN, Infinity, a lone
surrogate, a too-big integer), big_result (n bytes), read (a path)."""
import ctypes
import errno
import os
import signal
import sys

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
SYS = {"keyctl": 250, "bpf": 321, "clone": 56, "unshare": 272, "ptrace": 101}


def status_fields():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def call(name, *args):
    """Raw syscall: 'ok' or the errno name."""
    fn = libc.syscall
    fn.restype = ctypes.c_long
    ret = fn(ctypes.c_long(SYS[name]), *[ctypes.c_long(a) for a in args])
    if ret == 0 and name == "clone":
        os._exit(0)  # the child of a clone that worked
    if ret >= 0:
        return "ok"
    return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))


def escape():
    r = {"unshare_user": call("unshare", CLONE_NEWUSER),
         "unshare_mount": call("unshare", CLONE_NEWNS),
         "clone_newuser": call("clone", CLONE_NEWUSER | signal.SIGCHLD, 0, 0, 0, 0),
         "clone_newnet": call("clone", CLONE_NEWNET | signal.SIGCHLD, 0, 0, 0, 0),
         "keyctl": call("keyctl", 0, 0, 0, 0, 0),  # KEYCTL_GET_KEYRING_ID
         "bpf": call("bpf", 0, 0, 0),
         "ptrace": call("ptrace", 0, 0, 0, 0)}  # PTRACE_TRACEME
    ret = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)
    r["mount"] = "ok" if ret == 0 else errno.errorcode.get(ctypes.get_errno(), "?")
    # plain fork still works (no namespace flags)
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    r["fork_status"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return r


def writable():
    found = []
    for line in open("/proc/self/mounts"):
        fstype, target = line.split()[2], line.split()[1]
        if target.startswith("/proc") or target.startswith("/sys"):
            continue
        probe = os.path.join(target, ".probe-write")
        try:
            with open(probe, "w") as f:
                f.write("x")
            os.unlink(probe)
            found.append([target, fstype])
        except OSError:
            pass
    return {"writable": found, "sockets_dir": os.path.exists("/iluvatar/sockets")}


def zombies(n):
    for _ in range(n):
        pid = os.fork()
        if pid == 0:  # child: fork a grandchild and leave it orphaned
            if os.fork() == 0:
                os._exit(0)
            os._exit(0)
        os.waitpid(pid, 0)
    return {"forked": n}


def count_zombies():
    z = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        z += 1
            except OSError:
                pass
    return z


def main(args):
    action = args.get("action", "identity")
    if action == "identity":
        st = status_fields()
        return {"uid": os.getuid(), "pid": os.getpid(), "ppid": os.getppid(), "seccomp": st.get("Seccomp"),
                "no_new_privs": st.get("NoNewPrivs"), "uid_map": open("/proc/self/uid_map").read().split()}
    if action == "escape":
        return escape()
    if action == "writable":
        return writable()
    if action == "spam":
        chunk = "x" * 65535 + "\n"
        for _ in range(int(args.get("mb", 8)) * 16):
            sys.stdout.write(chunk)
            sys.stderr.write(chunk)
        sys.stderr.write("spam-done-marker\n")
        return {"spammed_mb": int(args.get("mb", 8))}
    if action == "zombies":
        zombies(int(args.get("n", 300)))
        return {"zombies": count_zombies()}
    if action == "count_zombies":
        return {"zombies": count_zombies()}
    if action == "fork":
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        return {"forked": True}
    if action == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
        return None
    if action == "bad_result":
        kind = args["kind"]
        return {"nan": float("nan"), "inf": float("inf"), "surrogate": "\ud800", "bigint": 1 << 64}[kind]
    if action == "big_result":
        return "y" * int(args["n"])
    if action == "read":
        with open(args["path"]) as f:
            return f.read()
    raise ValueError(f"unknown action {action!r}")
