"""Command lines of iluvatar_load_gen and iluvatar_worker_cli, dispatched by
table (src/prog/load_gen_main.c MODES[], src/prog/cli_main.c COMMANDS[]):
global options accepted before or after the mode / command name, an option
of another mode refused with a message naming the mode and the mode(s) that
take it, and `--help` listing every row of the table. No surprises: an --out
folder that is not empty is refused unless --force, --function-data implies
--load-type functions, a misspelled ILUVATAR_ variable is warned about, and
every program says which build it is with --version. No daemon is started:
the load generator runs a small simulation, the CLI talks to a closed port,
the daemons only print their config or version."""
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


def load_gen(*args, timeout=60, **kw):
    return subprocess.run([LOAD_GEN, *args], capture_output=True, text=True, timeout=timeout, **kw)


PROGRAMS = ("iluvatar_worker", "iluvatar_controller", "iluvatar_load_gen", "iluvatar_worker_cli")


def version_file():
    with open(os.path.join(REPO, "VERSION")) as f:
        return f.read().strip()


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

    # ---- no silent surprises ---------------------------------------------

    def sim(self, out, *extra, lg_global=(), **kw):
        """A small simulated trace run; out None: no --out (the default folder)."""
        where = ["--out", out] if out is not None else []
        return load_gen("--setup", "simulation", "--no-plots", "--quiet", *where, *lg_global, "trace",
                        "--input", self.trace, "--metadata", self.meta, *extra, **kw)

    def test_function_data_implies_load_type_functions(self):
        data = os.path.join(self.tmp, "benchmarks.json")
        with open(data, "w") as f:
            json.dump({"bench_a": {"image_name": os.path.join(REPO, "functions", "hello"),
                                   "resource_data": {"CPU": {"warm_results_sec": [0.05, 0.05, 0.05],
                                                             "cold_results_sec": [0.06]}}}}, f)
        out = os.path.join(self.tmp, "fdata")
        r = self.sim(out, "--function-data", data)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        inputs = self.summary(out)["inputs"]
        self.assertEqual(inputs["load_type"], "functions", inputs)
        self.assertEqual(inputs["function_mapping"]["fa"]["benchmark"], "bench_a", inputs["function_mapping"])
        # said explicitly the other way: refused, naming both options, nothing written
        refused = os.path.join(self.tmp, "fdata-synthetic")
        r = self.sim(refused, "--load-type", "synthetic", "--function-data", data)
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("--function-data is for --load-type functions, not --load-type synthetic", r.stderr)
        self.assertFalse(os.path.exists(refused), "a refused run created its folder")
        r = load_gen("trace", "--help")
        self.assertIn("implies --load-type functions", r.stdout)

    def test_out_that_is_not_empty_is_refused_unless_force(self):
        out = os.path.join(self.tmp, "reused")
        os.makedirs(out)
        with open(os.path.join(out, "old.csv"), "w") as f:
            f.write("an earlier experiment\n")
        r = self.sim(out)
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn(f"--out {out} is not empty (it holds old.csv)", r.stderr)
        self.assertIn("add --force to empty it first", r.stderr)
        self.assertEqual(sorted(os.listdir(out)), ["old.csv"], "a refused run touched the folder")
        # --force empties it, subfolders included, then runs
        os.makedirs(os.path.join(out, "sub", "deeper"))
        r = self.sim(out, lg_global=["--force"])
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertNotIn("old.csv", os.listdir(out))
        self.assertNotIn("sub", os.listdir(out))
        self.assertEqual(self.summary(out)["invocations"], 20)
        # a second run there needs --force again; an empty folder does not
        self.assertEqual(self.sim(out).returncode, 64)
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty)
        self.assertEqual(self.sim(empty).returncode, 0)

    def test_force_never_empties_root_home_cwd_or_their_parents(self):
        work = os.path.join(self.tmp, "work")
        home = tempfile.mkdtemp(prefix="ilu-cli-options-home-")  # not under work's parents
        self.addCleanup(shutil.rmtree, home, True)
        for d in (work, home):
            os.makedirs(os.path.join(d, "keep"), exist_ok=True)
        env = dict(os.environ, HOME=home)
        cases = ((".", "it is the current folder or one of its parents"),
                 ("..", "it is the current folder or one of its parents"),
                 ("/", "it is the root folder"),
                 (home, "it is your home folder ($HOME) or one of its parents"),
                 (os.path.join(work, "keep", ".."), "it is the current folder or one of its parents"))
        for out, why in cases:
            r = self.sim(out, lg_global=["--force"], cwd=work, env=env)
            self.assertEqual(r.returncode, 64, f"--out {out} --force: {r.stderr}")
            self.assertIn(f"--force will not empty {out}", r.stderr)
            self.assertIn(why, r.stderr)
        for d in (work, home):
            self.assertTrue(os.path.isdir(os.path.join(d, "keep")), f"{d} was emptied")
        # a file is no folder, with or without --force
        for extra in ((), ("--force",)):
            r = self.sim(self.trace, lg_global=extra)
            self.assertEqual(r.returncode, 64, r.stderr)
            self.assertIn(f"{self.trace} exists and is not a folder", r.stderr)
        self.assertTrue(os.path.isfile(self.trace))

    def test_default_folder_is_reused_for_what_runs_write(self):
        """Without --out, results/MODE (under the current folder) is reused:
        a run removes the files an earlier run wrote there (the plots too),
        and refuses when it holds anything else."""
        work = os.path.join(self.tmp, "default")
        os.makedirs(work)
        default = os.path.join(work, "results", "trace")
        for _ in range(2):  # with the plots: every file a run writes is known to the next
            r = load_gen("--setup", "simulation", "--quiet", "trace", "--input", self.trace, "--metadata",
                         self.meta, cwd=work)
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            self.assertEqual(self.summary(default)["invocations"], 20)
        with open(os.path.join(default, "notes.txt"), "w") as f:
            f.write("mine\n")
        r = self.sim(None, cwd=work)
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("the default results folder results/trace holds what a run does not write (notes.txt)",
                      r.stderr)
        self.assertTrue(os.path.exists(os.path.join(default, "notes.txt")))
        r = self.sim(None, lg_global=["--force"], cwd=work)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertFalse(os.path.exists(os.path.join(default, "notes.txt")))

    def test_misspelled_override_prefix_is_warned_about_in_simulation(self):
        env = dict(os.environ, ILUVATAR_WORKR__container_resources__memory_mb="512")
        r = self.sim(os.path.join(self.tmp, "warned"), env=env)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertIn("iluvatar_load_gen: warning: ignoring environment variable "
                      "ILUVATAR_WORKR__container_resources__memory_mb", r.stderr)


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

    def test_version_after_a_command_is_the_functions(self):
        """--version is Ilúvatar's function-version flag: after a command it
        takes a value; only alone does it print the program's version."""
        port = str(closed_port())
        r = run_cli("register", "-n", "f", "--version", "1", "-i", "/tmp", "-m", "64", "-c", "1", "--port", port)
        self.assertEqual(r.returncode, 2, f"register --version 1 should reach for the worker: {r.stderr}")
        self.assertIn(f"127.0.0.1:{port}", r.stderr)
        self.assertNotIn("commit", r.stdout)
        r = run_cli("register", "-n", "f", "-i", "/tmp", "-m", "64", "-c", "1", "--version")
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("option '--version' needs a value", r.stderr)
        r = run_cli("--help")
        self.assertIn("alone, without a command or a value, it prints this program's version", r.stdout)

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
        self.assertIn("    --version\n", r.stdout)

    def test_every_program_prints_its_version(self):
        version = version_file()
        self.assertRegex(version, r"^\d+\.\d+\.\d+", "VERSION")
        for prog in PROGRAMS:
            r = subprocess.run([os.path.join(BUILD, prog), "--version"], capture_output=True, text=True, timeout=10)
            self.assertEqual((r.returncode, r.stderr), (0, ""), prog)
            self.assertRegex(r.stdout, rf"^{prog} {re.escape(version)} \(commit ([0-9a-f]{{7,}}(-dirty)?|unknown), "
                                       r"built \d{4}-\d{2}-\d{2}\)\n$", prog)
        # the same build: one commit in all four
        commits = {re.search(r"commit (\S+),", subprocess.run([os.path.join(BUILD, p), "--version"],
                                                               capture_output=True, text=True).stdout).group(1)
                   for p in PROGRAMS}
        self.assertEqual(len(commits), 1, commits)

    def test_misspelled_env_prefix_is_warned_about(self):
        """A variable that looks like an override but whose prefix no program
        reads is ignored: each daemon says so, one line per variable; the
        known single variables and the right prefixes say nothing."""
        bad = "ILUVATAR_WORKR__container_resources__memory_mb"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_")}
        env.update({bad: "512", "ILUVATAR_CONTROLER__port": "1", "ILUVATAR_TOKEN": "t__t",
                    "ILUVATAR_RUN_DIR": "/tmp", "ILUVATAR_CONTROLLER__logging__level": "debug",
                    "ILUVATAR_WORKER__logging__level": "debug"})
        for prog in ("iluvatar_controller", "iluvatar_worker"):
            r = subprocess.run([os.path.join(BUILD, prog), "--dump-config"], capture_output=True, text=True,
                               timeout=10, env=env)
            self.assertEqual(r.returncode, 0, f"{prog}: {r.stderr}")
            self.assertEqual(json.loads(r.stdout)["logging"]["level"], "debug", prog)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 2, f"{prog}: one line per misspelled variable:\n{r.stderr}")
            self.assertEqual(sorted(lines), sorted([
                f"{prog}: warning: ignoring environment variable {bad}: ILUVATAR_WORKR__ is not a config prefix "
                "(ILUVATAR_WORKER__ is iluvatar_worker's, ILUVATAR_CONTROLLER__ is iluvatar_controller's); "
                "misspelled?",
                f"{prog}: warning: ignoring environment variable ILUVATAR_CONTROLER__port: ILUVATAR_CONTROLER__ is "
                "not a config prefix (ILUVATAR_WORKER__ is iluvatar_worker's, ILUVATAR_CONTROLLER__ is "
                "iluvatar_controller's); misspelled?"]))
            self.assertNotIn("512", r.stderr, "the value is never shown")
        # the right prefix with an unknown key is still refused
        r = subprocess.run([os.path.join(BUILD, "iluvatar_controller"), "--dump-config"], capture_output=True,
                           text=True, timeout=10, env=dict(env, ILUVATAR_CONTROLLER__bogus="1"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("unknown key bogus (from ILUVATAR_CONTROLLER__bogus)", r.stderr)


if __name__ == "__main__":
    unittest.main()
