"""Command lines of iluvatar_load_gen and iluvatar_worker_cli, dispatched by
table (src/prog/load_gen_main.c MODES[], src/prog/cli_main.c COMMANDS[]):
global options accepted before or after the mode / command name, an option
of another mode refused with a message naming the mode and the mode(s) that
take it, and `--help` listing every row of the table. No daemon is started:
the load generator runs a small simulation, the CLI talks to a closed port."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import BUILD, REPO, run_cli

LOAD_GEN = os.path.join(BUILD, "iluvatar_load_gen")


def table_names(source, table):
    """The names of the rows of a `static const struct ... TABLE[] = {...};`
    in a C file: the first string of each row."""
    with open(os.path.join(REPO, source)) as f:
        text = f.read()
    m = re.search(r"\b" + table + r"\[\] = \{(.*?)\n\};", text, re.S)
    if not m:
        raise AssertionError(f"no {table}[] table in {source}")
    return re.findall(r'^\s*\{"([a-z][a-z-]*)",', m.group(1), re.M)


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_gen(*args, timeout=60):
    return subprocess.run([LOAD_GEN, *args], capture_output=True, text=True, timeout=timeout)


class LoadGenOptionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(LOAD_GEN, os.X_OK):
            raise unittest.SkipTest(f"{LOAD_GEN} is missing; build it with `make`")
        cls.tmp = tempfile.mkdtemp(prefix="ilu-cli-options-")
        cls.trace = os.path.join(cls.tmp, "trace.csv")
        cls.meta = os.path.join(cls.tmp, "meta.csv")
        with open(cls.trace, "w") as f:
            f.write("func_name,invoke_time_ms\n" + "".join(f"fa,{t}\n" for t in range(0, 2000, 100)))
        with open(cls.meta, "w") as f:
            f.write("func_name,cold_dur_ms,warm_dur_ms,mem_mb\nfa,100,10,64\n")
        cls.modes = table_names("src/prog/load_gen_main.c", "MODES")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def summary(self, out):
        with open(os.path.join(out, "summary.json")) as f:
            return json.load(f)

    def test_global_options_before_or_after_the_mode(self):
        trace = ["--input", self.trace, "--metadata", self.meta]
        before = os.path.join(self.tmp, "before")
        after = os.path.join(self.tmp, "after")
        # --workers (a trace option) and the global ones all before `trace`
        r = load_gen("--setup", "simulation", "--target", "controller", "--workers", "2", "--out", before,
                     "--no-plots", "--quiet", "trace", *trace)
        self.assertEqual(r.returncode, 0, f"options before the mode:\n{r.stderr[-2000:]}")
        # the same run with every option after `trace`
        r = load_gen("trace", *trace, "--setup", "simulation", "--target", "controller", "--workers", "2",
                     "--out", after, "--no-plots", "--quiet")
        self.assertEqual(r.returncode, 0, f"options after the mode:\n{r.stderr[-2000:]}")
        for out in (before, after):
            s = self.summary(out)
            self.assertEqual((s["mode"], s["setup"], s["target"]), ("trace", "simulation", "controller"), out)
            self.assertEqual(s["inputs"]["cluster"]["workers"], 2, out)
            self.assertEqual(s["invocations"], 20, out)

    def test_option_of_another_mode_names_the_mode(self):
        r = load_gen("--setup", "simulation", "trace", "--input", self.trace, "--metadata", self.meta,
                     "--threads-from", "2")
        self.assertEqual(r.returncode, 64, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("--threads-from is not an option of trace", lines[0])
        self.assertIn("scaling", lines[0], "the message should name the mode that takes it")
        # before the mode name too, and an option of two modes names both
        r = load_gen("--memory", "64", "trace", "--input", self.trace, "--metadata", self.meta)
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("--memory is not an option of trace", r.stderr)
        self.assertIn("scaling and benchmark", r.stderr)

    def test_unknown_option_names_the_mode(self):
        r = load_gen("scaling", "--threads-from", "1", "--threads-to", "1", "--frobnicate")
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("unknown option --frobnicate for scaling", r.stderr)
        self.assertNotIn("unrecognized", r.stderr, "getopt's own message should not show")

    def test_help_lists_every_mode(self):
        self.assertGreaterEqual(len(self.modes), 3, self.modes)
        r = load_gen("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for mode in self.modes:
            self.assertRegex(r.stdout, rf"(?m)^\s+{re.escape(mode)}\s", f"--help does not list {mode}")
        for opt in ("--host", "--port", "--out", "--target", "--setup", "--token", "--no-plots", "--workers",
                    "--threads-from", "--functions-dir"):
            self.assertIn(opt, r.stdout)
        # one mode's help: its options, not the others'
        for mode in self.modes:
            for argv in ((mode, "--help"), ("--help", mode)):
                r = load_gen(*argv)
                self.assertEqual(r.returncode, 0, f"{argv}: {r.stderr}")
                self.assertIn(f"iluvatar_load_gen [global options] {mode}", r.stdout)
        r = load_gen("scaling", "--help")
        self.assertIn("--threads-to", r.stdout)
        self.assertNotIn("--metadata", r.stdout)


class WorkerCliOptionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.commands = table_names("src/prog/cli_main.c", "COMMANDS")

    def test_global_flags_before_or_after_the_command(self):
        port = str(closed_port())
        for argv in (("--port", port, "--timeout", "5", "ping"), ("ping", "--port", port, "--timeout", "5"),
                     ("-p", port, "invoke", "-n", "f", "-v", "1"), ("invoke", "-n", "f", "-p", port, "-v", "1")):
            r = run_cli(*argv)
            # exit 2 naming the port: the flag was taken, wherever it stood
            self.assertEqual(r.returncode, 2, f"{argv}: {r.stderr}")
            self.assertIn(f"127.0.0.1:{port}", r.stderr, argv)

    def test_flag_of_another_command_names_the_command(self):
        r = run_cli("invoke", "-n", "f", "-v", "1", "--cookie", "c")
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("--cookie is not a flag of invoke (invoke-async-check takes it)", r.stderr)
        self.assertIn("usage", r.stderr)
        r = run_cli("ping", "--frobnicate")
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("unknown option '--frobnicate'", r.stderr)

    def test_help_lists_every_command(self):
        self.assertGreaterEqual(len(self.commands), 10, self.commands)
        r = run_cli("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for cmd in self.commands:
            self.assertRegex(r.stdout, rf"(?m)^\s+{re.escape(cmd)}\s", f"--help does not list {cmd}")
        for cmd in self.commands:
            r = run_cli(cmd, "--help")
            self.assertEqual(r.returncode, 0, f"{cmd} --help: {r.stderr}")
            self.assertIn(f"iluvatar_worker_cli [global flags] {cmd}", r.stdout)


class DaemonManualTest(unittest.TestCase):
    """iluvatar_worker and iluvatar_controller --help: a manual page with
    every section, on stdout, exit 0; bad usage: the synopsis on stderr and
    where the manual is, exit 64."""

    SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "SIGNALS", "FILES", "EXIT STATUS",
                "SEE ALSO")

    def test_help_is_a_manual_page(self):
        for prog, env in (("iluvatar_worker", "ILUVATAR_WORKER"), ("iluvatar_controller", "ILUVATAR_CONTROLLER")):
            binary = os.path.join(BUILD, prog)
            r = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
            self.assertEqual((r.returncode, r.stderr), (0, ""), prog)
            heads = re.findall(r"(?m)^([A-Z][A-Z ]+)$", r.stdout)
            self.assertEqual(tuple(heads), self.SECTIONS, f"{prog} --help sections")
            self.assertIn(f"    {prog} - ", r.stdout)
            self.assertIn(f"{env}__section__key=value", r.stdout)
            self.assertLessEqual(max(len(line) for line in r.stdout.splitlines()), 100, prog)
            r = subprocess.run([binary, "--frobnicate"], capture_output=True, text=True, timeout=10)
            self.assertEqual((r.returncode, r.stdout), (64, ""), prog)
            self.assertIn(f"usage: {prog} [-c config.json]", r.stderr)
            self.assertIn(f"{prog} --help prints the manual", r.stderr)
        r = subprocess.run([os.path.join(BUILD, "iluvatar_worker"), "--help"], capture_output=True, text=True)
        self.assertIn("iluvatar_worker clean [-c config.json]", r.stdout)


if __name__ == "__main__":
    unittest.main()
