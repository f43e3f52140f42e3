"""Reports what the function can see and do inside its container."""
import os


def main(args):
    try:
        with open("/should-not-exist", "w"):
            pass
        root_writable = True
    except OSError:
        root_writable = False
    cap_eff = ""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                cap_eff = line.split()[1]
    try:
        with open("/function/main.py", "a"):
            pass
        function_writable = True
    except OSError:
        function_writable = False
    return {"interfaces": sorted(os.listdir("/sys/class/net")), "cap_eff": cap_eff,
            "root_writable": root_writable, "function_writable": function_writable,
            "pid": os.getpid(), "uid": os.getuid()}
