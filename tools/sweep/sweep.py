#!/usr/bin/python3
"""Parameter sweeps of the simulator: a grid of worker (and controller) config
values, one simulated trace run per point. See docs/simulation.md, "Sweeps".

usage:
  sweep.py plan GRID.json --out DIR      write the points and the ways to run them
  sweep.py run GRID.json --out DIR [--jobs N]
                                         plan, run every point on this machine, combine
  sweep.py combine DIR                   DIR/sweep.csv and DIR/sweep.png from the points' results

GRID.json (relative paths are relative to GRID.json's folder):
  {"trace": "trace.csv", "metadata": "meta.csv",        required
   "worker_config": "worker.json",                       optional base worker config
   "controller_config": "controller.json",               optional, a cluster
   "workers": 4,                                         optional, a cluster of 4
   "load_gen_args": ["--prewarm", "1"],                  optional, passed to `trace`
   "build_dir": "build",                                 optional (else $ILU_BUILD_DIR, else build)
   "axes": {"container_resources.eviction": ["LRU", "GreedyDual"],
            "container_resources.memory_mb": [1024, 2048]}}
Axis keys: a dotted worker config key (as `iluvatar_worker --dump-config`
prints it), "controller.<dotted key>" (the controller's config), "workers"
(cluster size), or a load-generator trace option ("--prewarm").
The points are the cartesian product of the axes, the first axis varying
slowest; point i is line i+1 of commands.txt and Slurm array task i.

Exit status: 0; 1 when a point failed or has not run (named on stderr);
2 when the grid is refused (the reason on stderr)."""
import argparse
import csv
import difflib
import itertools
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SELF = os.path.abspath(__file__)
PYTHON = "/usr/bin/python3"

GRID_KEYS = ("trace", "metadata", "worker_config", "controller_config", "workers",
             "load_gen_args", "build_dir", "axes")
# load-generator options the sweep sets itself: never in load_gen_args or an axis
MANAGED_OPTIONS = {"-o", "--out", "-s", "--setup", "-t", "--target", "--workers",
                   "--worker-config", "--controller-config", "-i", "--input", "-m", "--metadata",
                   "-q", "--quiet", "--no-plots", "-H", "--host", "-p", "--port", "--token",
                   "-h", "--help"}
# load-generator options whose value is a file: made absolute like the grid's paths
PATH_OPTIONS = {"-f", "--function-data"}

FIGURES = ["invocations", "successes", "failures", "cold", "prewarm", "warm", "error_state",
           "latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_max_ms",
           "latency_mean_ms", "overhead_p50_ms", "overhead_p99_ms", "throughput_per_s",
           "duration_s", "errors_by_kind"]


class GridError(Exception):
    """The grid is refused; the message says why."""


# --------------------------------------------------------------------- grid

def build_dir(grid_build):
    if grid_build:
        return grid_build
    env = os.environ.get("ILU_BUILD_DIR")
    return os.path.join(REPO, env) if env else os.path.join(REPO, "build")


def clean_env():
    """The environment without config overrides, for checking the point configs."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("ILUVATAR_WORKER__", "ILUVATAR_CONTROLLER__"))}


def dump_config(binary, config_path=None):
    """The effective config of `binary --dump-config` as a dict, or GridError."""
    if not os.access(binary, os.X_OK):
        raise GridError(f"{binary} is missing; build it with `make`")
    cmd = [binary] + (["-c", config_path] if config_path else []) + ["--dump-config"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), timeout=60)
    if r.returncode != 0:
        raise GridError((r.stderr.strip() or r.stdout.strip() or f"exit {r.returncode}"))
    return json.loads(r.stdout)


def leaf_keys(tree, prefix=""):
    """Dotted keys of the leaves of a nested dict, with their values."""
    out = {}
    for k, v in tree.items():
        key = prefix + k
        if isinstance(v, dict):
            out.update(leaf_keys(v, key + "."))
        else:
            out[key] = v
    return out


def set_dotted(tree, key, value):
    node = tree
    parts = key.split(".")
    for p in parts[:-1]:
        nxt = node.get(p)
        if not isinstance(nxt, dict):
            nxt = node[p] = {}
        node = nxt
    node[parts[-1]] = value


def json_kind(v):
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    return "a " + type(v).__name__


def check_config_key(key, values, defaults, who, dump_cmd):
    """Refuse a dotted key that is not a leaf of `defaults` (what the program's
    --dump-config prints), or a value of another JSON type than the default."""
    leaves = leaf_keys(defaults)
    if key not in leaves:
        sections = sorted({k.rsplit(".", 1)[0] for k in leaves if "." in k})
        if key in sections:
            inside = [k for k in leaves if k.startswith(key + ".")]
            raise GridError(f"axis {key!r} is a section of the {who} config, not a key; "
                            f"name one of its keys ({', '.join(inside[:6])}{', ...' if len(inside) > 6 else ''})")
        close = difflib.get_close_matches(key, list(leaves), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise GridError(f"axis {key!r}: unknown {who} config key (not in `{dump_cmd}`), "
                        f"and the {who} refuses unknown keys{hint}")
    want = json_kind(leaves[key])
    for v in values:
        if json_kind(v) != want:
            raise GridError(f"axis {key!r}: value {json.dumps(v)} is {json_kind(v)}, "
                            f"the {who} config wants {want} (default {json.dumps(leaves[key])})")


def trace_options(load_gen):
    """Option names `iluvatar_load_gen trace --help` lists (with the global ones)."""
    if not os.access(load_gen, os.X_OK):
        raise GridError(f"{load_gen} is missing; build it with `make`")
    text = ""
    for args in (["trace", "--help"], ["--help"]):
        r = subprocess.run([load_gen] + args, capture_output=True, text=True, timeout=60)
        text += r.stdout + r.stderr
    names = set()
    for word in text.replace(",", " ").split():
        if word.startswith("-") and len(word) > 1 and word[1] != " ":
            names.add(word)
    return names


def check_option(opt, known, where):
    if opt in MANAGED_OPTIONS:
        raise GridError(f"{where}: {opt} is set by the sweep itself (see docs/simulation.md, Sweeps)")
    if opt not in known:
        raise GridError(f"{where}: {opt} is not an option of `iluvatar_load_gen trace` "
                        f"(see iluvatar_load_gen trace --help)")


def load_grid(path):
    """GRID.json read, checked and with its paths made absolute (a dict)."""
    try:
        with open(path) as f:
            grid = json.load(f)
    except OSError as e:
        raise GridError(f"{path}: {e.strerror}")
    except ValueError as e:
        raise GridError(f"{path}: not JSON: {e}")
    if not isinstance(grid, dict):
        raise GridError(f"{path}: the grid must be a JSON object")
    unknown = [k for k in grid if k not in GRID_KEYS]
    if unknown:
        raise GridError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; "
                        f"a grid has {', '.join(GRID_KEYS)}")
    base = os.path.dirname(os.path.abspath(path))

    def absolute(p, name):
        if not isinstance(p, str) or not p:
            raise GridError(f"{path}: {name} must be a path (a string)")
        p = os.path.normpath(os.path.join(base, os.path.expanduser(p)))
        return p

    out = {}
    for name in ("trace", "metadata"):
        if name not in grid:
            raise GridError(f"{path}: {name!r} is required")
    for name in ("trace", "metadata", "worker_config", "controller_config"):
        if name in grid and grid[name] is not None:
            out[name] = absolute(grid[name], name)
            if not os.path.isfile(out[name]):
                raise GridError(f"{path}: {name} {out[name]}: no such file")
    if "build_dir" in grid:
        out["build_dir"] = absolute(grid["build_dir"], "build_dir")
    if "workers" in grid:
        w = grid["workers"]
        if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 1024:
            raise GridError(f"{path}: workers must be a whole number from 1 to 1024")
        out["workers"] = w
    args = grid.get("load_gen_args", [])
    if not isinstance(args, list) or not all(isinstance(a, (str, int, float)) and not isinstance(a, bool)
                                             for a in args):
        raise GridError(f"{path}: load_gen_args must be a list of strings")
    args = [str(a) for a in args]
    fixed = []
    for i, a in enumerate(args):
        prev = args[i - 1] if i else ""
        if prev in PATH_OPTIONS:
            a = absolute(a, prev)
        elif "=" in a and a.split("=", 1)[0] in PATH_OPTIONS:
            opt, val = a.split("=", 1)
            a = opt + "=" + absolute(val, opt)
        fixed.append(a)
    out["load_gen_args"] = fixed
    axes = grid.get("axes")
    if not isinstance(axes, dict) or not axes:
        raise GridError(f"{path}: 'axes' must be a non-empty object of key -> list of values")
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise GridError(f"{path}: axis {key!r} must be a non-empty list of values")
        for v in values:
            if not isinstance(v, (str, int, float, bool)) or (isinstance(v, float) and not math.isfinite(v)):
                raise GridError(f"{path}: axis {key!r}: value {json.dumps(v)} is not a string, number or boolean")
        seen = [json.dumps(v) for v in values]
        if len(set(seen)) != len(seen):
            raise GridError(f"{path}: axis {key!r} has a value twice")
        if key in PATH_OPTIONS:
            values = [absolute(str(v), key) for v in values]
        axes[key] = values
    out["axes"] = axes
    return out


def axis_kind(key):
    if key == "workers":
        return "workers"
    if key.startswith("controller."):
        return "controller"
    if key.startswith("-"):
        return "load_gen"
    return "worker"


def read_json_object(path, who):
    try:
        with open(path) as f:
            v = json.load(f)
    except ValueError as e:
        raise GridError(f"{who} {path}: not JSON: {e}")
    if not isinstance(v, dict):
        raise GridError(f"{who} {path}: not a JSON object")
    return v


class Plan:
    """A checked grid and its points, ready to be written."""

    def __init__(self, grid):
        self.grid = grid
        self.build = build_dir(grid.get("build_dir"))
        self.load_gen = os.path.join(self.build, "iluvatar_load_gen")
        self.worker_bin = os.path.join(self.build, "iluvatar_worker")
        self.controller_bin = os.path.join(self.build, "iluvatar_controller")
        axes = grid["axes"]
        kinds = {k: axis_kind(k) for k in axes}
        self.cluster = ("workers" in grid or "controller_config" in grid or
                        any(k in ("workers", "controller") for k in kinds.values()))
        if self.cluster and "workers" not in grid and "workers" not in axes:
            raise GridError("a cluster sweep (controller_config or a controller.* axis) needs "
                            "'workers': a number, or an axis")
        if "workers" in grid and "workers" in axes:
            raise GridError("'workers' is both a fixed number and an axis; keep one")
        if "workers" in axes:
            for w in axes["workers"]:
                if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 1024:
                    raise GridError(f"axis 'workers': {json.dumps(w)} is not a whole number from 1 to 1024")
        self.worker_base = read_json_object(grid["worker_config"], "worker_config") \
            if "worker_config" in grid else {}
        self.controller_base = read_json_object(grid["controller_config"], "controller_config") \
            if "controller_config" in grid else None
        worker_defaults = dump_config(self.worker_bin)
        # a bad base config is named as such, not as every point's fault
        for who, key, binary in (("worker", "worker_config", self.worker_bin),
                                 ("controller", "controller_config", self.controller_bin)):
            if key in grid:
                try:
                    dump_config(binary, grid[key])
                except GridError as e:
                    raise GridError(f"{key} {grid[key]}: the {who} refuses it: {e}")
        controller_defaults = None
        if any(k == "controller" for k in kinds.values()):
            controller_defaults = dump_config(self.controller_bin)
        known = None
        if any(k == "load_gen" for k in kinds.values()) or grid["load_gen_args"]:
            known = trace_options(self.load_gen)
        for a in grid["load_gen_args"]:
            if a.startswith("-") and len(a) > 1 and (a[1].isalpha() or a[1] == "-"):
                check_option(a.split("=", 1)[0], known, "load_gen_args")
        for key, values in axes.items():
            kind = kinds[key]
            if kind == "worker":
                check_config_key(key, values, worker_defaults, "worker",
                                 "iluvatar_worker --dump-config")
            elif kind == "controller":
                check_config_key(key[len("controller."):], values, controller_defaults, "controller",
                                 "iluvatar_controller --dump-config")
            elif kind == "load_gen":
                check_option(key, known, f"axis {key!r}")
        self.kinds = kinds
        self.keys = list(axes)
        self.points = [dict(zip(self.keys, combo)) for combo in itertools.product(*axes.values())]
        self.width = max(3, len(str(len(self.points) - 1)))

    def point_id(self, i):
        return str(i).zfill(self.width)

    def worker_config(self, values):
        cfg = json.loads(json.dumps(self.worker_base))
        for k, v in values.items():
            if self.kinds[k] == "worker":
                set_dotted(cfg, k, v)
        return cfg

    def controller_config(self, values):
        """The point's controller config, or None when the sweep sets none."""
        if not self.cluster:
            return None
        ctl = [k for k in values if self.kinds[k] == "controller"]
        if self.controller_base is None and not ctl:
            return None
        cfg = json.loads(json.dumps(self.controller_base or {}))
        for k in ctl:
            set_dotted(cfg, k[len("controller."):], values[k])
        return cfg

    def check_configs(self):
        """Every distinct point config through the program's own checks
        (`-c FILE --dump-config`), so a value it refuses stops the plan here.
        Returns the points whose cpu_count is 0 (host CPUs)."""
        host_cpus = []
        seen = {}
        with tempfile.TemporaryDirectory(prefix="ilu-sweep-") as tmp:
            for i, values in enumerate(self.points):
                for who, cfg, binary in (("worker", self.worker_config(values), self.worker_bin),
                                         ("controller", self.controller_config(values), self.controller_bin)):
                    if cfg is None:
                        continue
                    text = json.dumps(cfg, sort_keys=True)
                    if (who, text) not in seen:
                        path = os.path.join(tmp, f"{who}.json")
                        with open(path, "w") as f:
                            f.write(text)
                        try:
                            seen[(who, text)] = dump_config(binary, path)
                        except GridError as e:
                            shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in values.items())
                            raise GridError(f"point {self.point_id(i)} ({shown}): the {who} refuses its "
                                            f"config: {e}")
                    eff = seen[(who, text)]
                    if who == "worker" and eff.get("container_resources", {}).get("cpu_count") == 0:
                        host_cpus.append(self.point_id(i))
        return host_cpus

    def command(self, d, values):
        """The shell command of one point: clears its old results, runs the
        simulation into d/out with the log in d/log.txt, records the exit
        status in d/exit_status and exits with it (without `exit`, so the line
        can be pasted into an interactive shell)."""
        q = shlex.quote
        out = os.path.join(d, "out")
        status = os.path.join(d, "exit_status")
        cmd = [self.load_gen, "--setup", "simulation"]
        workers = values.get("workers", self.grid.get("workers"))
        if self.cluster:
            cmd += ["--target", "controller", "--workers", str(workers)]
        cmd += ["--out", out, "--quiet", "--no-plots", "trace",
                "--input", self.grid["trace"], "--metadata", self.grid["metadata"],
                "--worker-config", os.path.join(d, "worker.json")]
        if self.controller_config(values) is not None:
            cmd += ["--controller-config", os.path.join(d, "controller.json")]
        cmd += self.grid["load_gen_args"]
        for k, v in values.items():
            if self.kinds[k] == "load_gen":
                cmd += [k, v if isinstance(v, str) else json.dumps(v)]
        return (f"rm -rf {q(out)} {q(status)} && {' '.join(map(q, cmd))} > {q(os.path.join(d, 'log.txt'))} 2>&1; "
                f"rc=$?; echo $rc > {q(status)}; [ $rc -eq 0 ]")


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def write_file(path, text, mode=None):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    if mode:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def run_local_sh(out):
    return f"""#!/bin/bash
# Runs every point of this sweep on this machine, JOBS at a time (default: all
# cores), with GNU parallel when it is installed (Debian package `parallel`),
# else with xargs -P. Exits non-zero when a point failed; then, or anyway:
#   {PYTHON} {SELF} combine {out}
# usage: bash run_local.sh [JOBS]
set -u
HERE={shlex.quote(out)}
JOBS="${{1:-$(nproc)}}"
if command -v parallel >/dev/null 2>&1 && parallel --version 2>/dev/null | grep -q '^GNU parallel'; then
    BAR=(); [ -t 2 ] && BAR=(--bar)   # a progress bar when run from a terminal
    parallel --will-cite "${{BAR[@]}}" --jobs "$JOBS" --joblog "$HERE/joblog.txt" :::: "$HERE/commands.txt"
else
    tr '\\n' '\\0' < "$HERE/commands.txt" | xargs -0 -n 1 -P "$JOBS" bash -c
fi
"""


def run_parallel_ssh_sh(out):
    return f"""#!/bin/bash
# Spreads this sweep over several machines with GNU parallel over ssh.
# HOSTSFILE is GNU parallel's --sshloginfile: one host a line ([user@]host, or
# N/host to run N points at once there; ":" is this machine). Every host needs
# passwordless ssh, a POSIX login shell, and the same absolute paths as here:
# this folder ({out}), the trace, metadata and any benchmark data, and the
# binaries in the build folder, on a filesystem they share (NFS or the like),
# since each point writes its results into this folder. Afterwards:
#   {PYTHON} {SELF} combine {out}
# usage: bash run_parallel_ssh.sh HOSTSFILE
set -u
HERE={shlex.quote(out)}
HOSTS="${{1:?usage: bash run_parallel_ssh.sh HOSTSFILE (one ssh login a line)}}"
parallel --will-cite --sshloginfile "$HOSTS" --joblog "$HERE/joblog_ssh.txt" :::: "$HERE/commands.txt"
"""


def sbatch(out, n):
    # sbatch reads #SBATCH lines only above the first command: keep them first
    return f"""#!/bin/bash
#SBATCH --job-name=ilu-sweep
#SBATCH --array=0-{n - 1}
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --output={out}/slurm/%A_%a.out
# A Slurm job array: task i runs line i+1 of commands.txt (point i).
# The paths in commands.txt and here are absolute paths of the machine that
# planned the sweep: they must be valid on every compute node, i.e. this
# folder ({out}), the trace, metadata and binaries must lie on the cluster's
# shared filesystem at the same paths (plan the sweep on a login node, in a
# shared folder). Add --partition, --time, --mem as your site needs (a
# simulation needs about 1 KB of memory per invocation); --array=0-{n - 1}%K
# runs at most K tasks at once; an array beyond the site's MaxArraySize
# (often 1001) must be split.
# submit: sbatch {out}/sweep.sbatch
# then:   {PYTHON} {SELF} combine {out}
set -u
LINE=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {shlex.quote(os.path.join(out, "commands.txt"))})
exec bash -c "$LINE"
"""


def plan(grid_path, out, verbose=True):
    """Writes the sweep folder; returns the Plan."""
    grid = load_grid(grid_path)
    p = Plan(grid)
    out = os.path.abspath(out)
    resolved = json.dumps(grid, indent=2) + "\n"
    grid_copy = os.path.join(out, "grid.json")
    if os.path.isdir(out) and os.listdir(out):
        if not os.path.isfile(grid_copy):
            raise GridError(f"{out} is not empty and holds no sweep (grid.json); choose another --out")
        with open(grid_copy) as f:
            if f.read() != resolved:
                raise GridError(f"{out} holds a different sweep (its grid.json differs); "
                                f"choose another --out or remove it")
    host_cpus = p.check_configs()
    os.makedirs(os.path.join(out, "points"), exist_ok=True)
    os.makedirs(os.path.join(out, "slurm"), exist_ok=True)
    lines = []
    for i, values in enumerate(p.points):
        pid = p.point_id(i)
        d = os.path.join(out, "points", pid)
        os.makedirs(d, exist_ok=True)
        write_file(os.path.join(d, "worker.json"), json.dumps(p.worker_config(values), indent=2) + "\n")
        ctl = p.controller_config(values)
        if ctl is not None:
            write_file(os.path.join(d, "controller.json"), json.dumps(ctl, indent=2) + "\n")
        write_file(os.path.join(d, "point.json"),
                   json.dumps({"point": pid, "values": values}, indent=2) + "\n")
        lines.append(p.command(d, values))
    write_file(os.path.join(out, "commands.txt"), "\n".join(lines) + "\n")
    write_file(os.path.join(out, "run_local.sh"), run_local_sh(out), 0o755)
    write_file(os.path.join(out, "run_parallel_ssh.sh"), run_parallel_ssh_sh(out), 0o755)
    write_file(os.path.join(out, "sweep.sbatch"), sbatch(out, len(lines)), 0o755)
    write_file(grid_copy, resolved)
    overrides = sorted(k for k in os.environ if k.startswith(("ILUVATAR_WORKER__", "ILUVATAR_CONTROLLER__")))
    if overrides:
        print(f"sweep: warning: {', '.join(overrides)} set here: the points' configs are checked without "
              f"them, but a run with them in its environment is overridden by them", file=sys.stderr)
    if host_cpus:
        print(f"sweep: warning: container_resources.cpu_count is 0 in {len(host_cpus)} point(s) "
              f"(e.g. {host_cpus[0]}): each uses the CPUs of the machine that runs it; "
              f"set it in the base config or as an axis", file=sys.stderr)
    if verbose:
        print(f"sweep: {plural(len(lines), 'point')} in {out}/points; run them with one of\n"
              f"  bash {out}/run_local.sh [JOBS]\n"
              f"  bash {out}/run_parallel_ssh.sh HOSTSFILE\n"
              f"  sbatch {out}/sweep.sbatch\n"
              f"then: {PYTHON} {SELF} combine {out}")
    return p


# ------------------------------------------------------------------ combine

def num(v):
    """A figure as CSV text: integers as integers, floats as Python's shortest
    repr (summary.json's 271.10000000000002 reads back as 271.1)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


def axis_text(v):
    return v if isinstance(v, str) else json.dumps(v)


def figures(summary):
    lat = summary.get("latency_ms") or {}
    ovh = summary.get("overhead_ms") or {}
    cs = summary.get("container_states") or {}
    errs = summary.get("errors_by_kind") or {}
    return {
        "invocations": summary.get("invocations"),
        "successes": summary.get("successes"),
        "failures": summary.get("failures"),
        "cold": cs.get("cold"),
        "prewarm": cs.get("prewarm"),
        "warm": cs.get("warm"),
        "error_state": cs.get("error"),
        "latency_p50_ms": lat.get("p50"),
        "latency_p90_ms": lat.get("p90"),
        "latency_p99_ms": lat.get("p99"),
        "latency_max_ms": lat.get("max"),
        "latency_mean_ms": lat.get("mean"),
        "overhead_p50_ms": ovh.get("p50"),
        "overhead_p99_ms": ovh.get("p99"),
        "throughput_per_s": summary.get("throughput_per_s"),
        "duration_s": summary.get("duration_s"),
        "errors_by_kind": ";".join(f"{k}={v}" for k, v in sorted(errs.items())),
    }


def last_log_line(path):
    try:
        with open(path, errors="replace") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def read_point(d):
    """(status, figures dict, error text) of one point folder."""
    status_path = os.path.join(d, "exit_status")
    summary_path = os.path.join(d, "out", "summary.json")
    code = None
    if os.path.isfile(status_path):
        with open(status_path) as f:
            text = f.read().strip()
        code = int(text) if text.lstrip("-").isdigit() else -1
    if code is None and not os.path.isfile(summary_path):
        return "missing", {}, "no results: not run yet, still running, or killed"
    if code not in (None, 0):
        return "failed", {}, f"exit {code}: {last_log_line(os.path.join(d, 'log.txt'))}"
    try:
        with open(summary_path) as f:
            return "ok", figures(json.load(f)), ""
    except (OSError, ValueError) as e:
        return "failed", {}, f"out/summary.json unreadable: {e}"


def combine(out, verbose=True):
    """Writes out/sweep.csv and out/sweep.png; returns the rows (dicts)."""
    out = os.path.abspath(out)
    grid_copy = os.path.join(out, "grid.json")
    if not os.path.isfile(grid_copy):
        raise GridError(f"{out} holds no planned sweep (no grid.json); run `sweep.py plan` first")
    with open(grid_copy) as f:
        grid = json.load(f)
    keys = list(grid["axes"])
    points_dir = os.path.join(out, "points")
    rows = []
    for pid in sorted(os.listdir(points_dir)):
        d = os.path.join(points_dir, pid)
        pj = os.path.join(d, "point.json")
        if not os.path.isfile(pj):
            continue
        with open(pj) as f:
            values = json.load(f)["values"]
        status, figs, error = read_point(d)
        rows.append({"point": pid, "values": values, "status": status, "figures": figs, "error": error})
    header = ["point"] + keys + ["status"] + FIGURES + ["error"]
    tmp = os.path.join(out, "sweep.csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow([r["point"]] + [axis_text(r["values"].get(k, "")) for k in keys] + [r["status"]] +
                       [num(r["figures"].get(c)) for c in FIGURES] + [r["error"]])
    os.replace(tmp, os.path.join(out, "sweep.csv"))
    plotted = plot(out, grid["axes"], rows)
    bad = [r for r in rows if r["status"] != "ok"]
    if verbose:
        print(f"sweep: {out}/sweep.csv: {plural(len(rows), 'point')}, {len(rows) - len(bad)} ok"
              + (f"; {out}/sweep.png" if plotted else ""))
    for r in bad:
        print(f"sweep: point {r['point']} {r['status'].replace('_', ' ')}"
              + (f" ({r['error']})" if r["error"] else "")
              + f"; its log: {out}/points/{r['point']}/log.txt", file=sys.stderr)
    return rows


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def plot(out, axes, rows):
    """sweep.png: p99 latency and cold starts against the first numeric axis
    (else the first axis, as categories), one line per combination of the
    other axes. False when matplotlib is missing (said on stderr)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        print("sweep: matplotlib is missing (Debian: apt-get install python3-matplotlib); no sweep.png",
              file=sys.stderr)
        return False
    keys = list(axes)
    xkey = next((k for k in keys if all(is_number(v) for v in axes[k])), keys[0])
    numeric_x = all(is_number(v) for v in axes[xkey])
    others = [k for k in keys if k != xkey]
    xs = sorted(axes[xkey]) if numeric_x else list(axes[xkey])
    pos = {json.dumps(v): (v if numeric_x else i) for i, v in enumerate(xs)}
    short = {k: k.rsplit(".", 1)[-1] for k in keys}
    if len(set(short.values())) != len(short):
        short = {k: k for k in keys}

    lines = {}
    for r in rows:
        combo = tuple(json.dumps(r["values"].get(k)) for k in others)
        lines.setdefault(combo, {})[json.dumps(r["values"].get(xkey))] = r
    order = [tuple(json.dumps(v) for v in c) for c in itertools.product(*(axes[k] for k in others))]
    order = [c for c in order if c in lines]

    many = len(order) > 6
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9 if many else 7, 7), sharex=True)
    for combo in order:
        pts = lines[combo]
        label = ", ".join(f"{short[k]}={axis_text(json.loads(c))}" for k, c in zip(others, combo)) or "all"
        xv, p99, cold = [], [], []
        for v in xs:
            r = pts.get(json.dumps(v))
            xv.append(pos[json.dumps(v)])
            f = r["figures"] if r and r["status"] == "ok" else {}
            p99.append(f.get("latency_p99_ms") if f.get("latency_p99_ms") is not None else math.nan)
            cold.append(f.get("cold") if f.get("cold") is not None else math.nan)
        ax1.plot(xv, p99, marker="o", label=label)
        ax2.plot(xv, cold, marker="o", label=label)
    ax1.set_ylabel("p99 latency (ms)")
    ax2.set_ylabel("cold starts")
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_xlabel(xkey)
    if not numeric_x:
        ax2.set_xticks(range(len(xs)))
        ax2.set_xticklabels([axis_text(v) for v in xs])
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        # figures spread over more than ~1.5 orders of magnitude (an overloaded point) on a log scale
        ys = [y for line in ax.get_lines() for y in line.get_ydata() if not math.isnan(y)]
        if ys and min(ys) > 0 and max(ys) / min(ys) >= 30:
            ax.set_yscale("log")
    failed = sum(1 for r in rows if r["status"] != "ok")
    ax1.set_title(f"sweep {os.path.basename(out)}: {len(rows)} points"
                  + (f" ({failed} without results, left out)" if failed else ""))
    if others:
        if many:
            ax1.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small",
                       ncol=1 if len(order) <= 30 else 2, title=", ".join(short[k] for k in others))
        else:
            ax1.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "sweep.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True


# ---------------------------------------------------------------------- run

def run_local(out, jobs):
    """Runs commands.txt here as run_local.sh does; its exit status."""
    r = subprocess.run(["bash", os.path.join(out, "run_local.sh")] + ([str(jobs)] if jobs else []))
    return r.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan", help="write the points, commands.txt and the run scripts")
    p.add_argument("grid")
    p.add_argument("--out", required=True)
    p = sub.add_parser("run", help="plan, run every point on this machine, combine")
    p.add_argument("grid")
    p.add_argument("--out", required=True)
    p.add_argument("--jobs", type=int, default=0, help="points at once (default: all cores)")
    p = sub.add_parser("combine", help="sweep.csv and sweep.png from the points' results")
    p.add_argument("dir")
    opts = parser.parse_args()
    try:
        if opts.cmd == "plan":
            plan(opts.grid, opts.out)
            return 0
        if opts.cmd == "combine":
            rows = combine(opts.dir)
            return 0 if all(r["status"] == "ok" for r in rows) else 1
        if opts.jobs < 0:
            raise GridError("--jobs must be 1 or more")
        pl = plan(opts.grid, opts.out, verbose=False)
        out = os.path.abspath(opts.out)
        jobs = opts.jobs or os.cpu_count() or 1
        print(f"sweep: running {plural(len(pl.points), 'point')} in {out}, "
              f"{min(jobs, len(pl.points))} at a time", flush=True)
        t0 = time.monotonic()
        run_local(out, jobs)
        print(f"sweep: ran in {time.monotonic() - t0:.1f} s", flush=True)
        rows = combine(out)
        bad = [r["point"] for r in rows if r["status"] != "ok"]
        if bad:
            print(f"sweep: {len(bad)} of {plural(len(rows), 'point')} failed: {', '.join(bad)}", file=sys.stderr)
            return 1
        return 0
    except GridError as e:
        print(f"sweep: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
