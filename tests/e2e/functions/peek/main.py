"""Reports what of the host and of other functions is visible from inside."""
import os


def main(args):
    def exists(path):
        return os.path.exists(path)
    with open("/proc/self/mountinfo") as f:
        function_mounts = [line.split(" - ")[0].split()[3:6] for line in f if " /function " in line]
    return {"function_files": sorted(os.listdir("/function")), "root": sorted(os.listdir("/")),
            "probe": {p: exists(p) for p in args.get("paths", [])},
            "function_mounts": function_mounts}
