"""Reports where it runs: the interpreter, the root's own files, a module
(args["module"]) and whether the root can be written."""
import os
import socket
import sys


def main(args):
    module = args.get("module")
    found = None
    if module:
        try:
            found = getattr(__import__(module), "__file__", "builtin")
        except ImportError:
            found = None
    try:
        with open("/usr/.iluvatar-probe", "w"):
            pass
        root_writable = True
    except OSError:
        root_writable = False
    return {
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "executable": sys.executable,
        "version": sys.version.split()[0],
        "debian_version": os.path.exists("/etc/debian_version"),
        "cwd": os.getcwd(),
        "module_file": found,
        "root_writable": root_writable,
        "tmp_writable": os.access("/tmp", os.W_OK),
    }
