"""iluvatar_load_gen refuses absurd input files cheaply (issue 8, item 17):
a line longer than 64 KiB is refused naming the file and line before it is
read whole (the load generator's peak RSS is measured per run with wait4),
and times, durations and sizes beyond sane bounds (or NaN, inf, negative)
are refused at once with the file and line. No worker is needed: the files
are read before any connection, and these runs use --setup simulation as
well as a live target nobody listens on."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import BUILD, REPO, _free_port

LOAD_GEN = os.path.join(BUILD, "iluvatar_load_gen")
META = "func_name,cold_dur_ms,warm_dur_ms,mem_mb\nfa,100,10,64\n"
LONG = 10 * 1024 * 1024  # a 10 MB line
TIME = "/usr/bin/time"    # Debian package time (scripts/install-deps.sh)


def run_measured(cmd, rss_file, timeout=60):
    """(returncode, stderr, peak RSS in KiB, seconds) of one run of cmd, run
    under /usr/bin/time: a child forked from this Python would inherit its
    high-water mark (tens of MiB) and hide what the load generator itself used."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    start = time.monotonic()
    r = subprocess.run([TIME, "-f", "%M", "-o", rss_file, *cmd], capture_output=True, text=True, timeout=timeout,
                       cwd=REPO, env=env)
    secs = time.monotonic() - start
    with open(rss_file) as f:
        lines = f.read().split()
    return r.returncode, r.stderr, int(lines[-1]), secs


class LoadGenLimitsTest(unittest.TestCase):
    SETUPS = (["--setup", "simulation"], None)  # None: live, at a port nobody listens on

    @classmethod
    def setUpClass(cls):
        if not os.access(LOAD_GEN, os.X_OK):
            raise unittest.SkipTest(f"{LOAD_GEN} is missing; build it with `make`")
        if not os.access(TIME, os.X_OK):
            raise unittest.SkipTest(f"{TIME} is missing (Debian package time)")

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ilu-lglim-", dir="/tmp")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, text):
        """text, or (head, char, count, tail): a long line written in pieces."""
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            if isinstance(text, str):
                f.write(text)
            else:
                head, char, count, tail = text
                f.write(head)
                for _ in range(count // 65536):
                    f.write(char * 65536)
                f.write(char * (count % 65536) + tail)
        return path

    def refused(self, trace_text, meta_text=META, setup=None):
        """Run with these files; assert a non-zero exit and no results; return (stderr, rss KiB, paths)."""
        trace = self.write("trace.csv", trace_text)
        meta = self.write("metadata.csv", meta_text)
        out = os.path.join(self.tmp, "out")
        where = setup if setup is not None else ["--port", str(_free_port())]
        cmd = [LOAD_GEN, *where, "--out", out, "--quiet", "trace", "--input", trace, "--metadata", meta]
        rc, stderr, rss, secs = run_measured(cmd, os.path.join(self.tmp, "rss"))
        self.assertNotEqual(rc, 0, f"`{' '.join(cmd)}` exited 0")
        self.assertNotIn("Command terminated by signal", stderr, f"`{' '.join(cmd)}` died: {stderr[-1500:]}")
        self.assertNotIn("Sanitizer", stderr, f"`{' '.join(cmd)}`: {stderr[-1500:]}")
        self.assertFalse(os.path.exists(os.path.join(out, "summary.json")), "results written despite refusal")
        self.assertLess(secs, 30, f"refusing took {secs:.1f} s")
        return stderr, rss, trace, meta

    def test_long_trace_line_is_refused_with_bounded_memory(self):
        for setup in self.SETUPS:
            # the same refusal path with a short line: the baseline peak RSS
            _, base_rss, _, _ = self.refused("func_name,invoke_time_ms\nfa,0\nfa,x\n", setup=setup)
            stderr, rss, trace, _ = self.refused(("func_name,invoke_time_ms\nfa,0\nfa,", "1", LONG, "\n"),
                                                 setup=setup)
            self.assertIn(f"{trace}:3: line longer than 65536 bytes", stderr)
            # reading the line whole would add >= 10 MiB; a bounded reader adds nothing measurable
            self.assertLess(rss - base_rss, 4096,
                            f"peak RSS {rss} KiB with a 10 MB line vs {base_rss} KiB without ({setup})")

    def test_long_metadata_line_and_no_newline_at_all(self):
        stderr, rss, _, meta = self.refused("func_name,invoke_time_ms\nfa,0\n",
                                            meta_text=("", "x", LONG, ""), setup=self.SETUPS[0])
        self.assertIn(f"{meta}:1: line longer than 65536 bytes", stderr)
        self.assertLess(rss, 8 * 1024 if "asan" not in BUILD else 64 * 1024, f"peak RSS {rss} KiB for a refused 10 MB line")

    def test_absurd_invoke_times_are_refused_naming_the_line(self):
        for value in ("1e15", "2592000001", "nan", "inf", "-1", "1e400"):
            for setup in self.SETUPS:
                stderr, _, trace, _ = self.refused(f"func_name,invoke_time_ms\nfa,0\nfa,{value}\n", setup=setup)
                self.assertIn(f"{trace}:3: invoke_time_ms", stderr, f"value {value}")
        stderr, _, _, _ = self.refused("func_name,invoke_time_ms\nfa,1e15\n", setup=self.SETUPS[0])
        self.assertIn("beyond the limit of 2592000000 (30 days)", stderr)

    def test_absurd_metadata_values_are_refused_naming_the_line(self):
        cases = {"fa,1e300,10,64": "cold_dur_ms", "fa,100,inf,64": "warm_dur_ms", "fa,100,10,nan": "mem_mb",
                 "fa,100,10,1e12": "mem_mb", "fa,-1,10,64": "cold_dur_ms", "f a,1,1,64": "func_name"}
        for row, field in cases.items():
            stderr, _, _, meta = self.refused("func_name,invoke_time_ms\nfa,0\n",
                                              meta_text="func_name,cold_dur_ms,warm_dur_ms,mem_mb\n" + row + "\n",
                                              setup=self.SETUPS[0])
            self.assertIn(f"{meta}:2: {field}", stderr, f"row {row}")


if __name__ == "__main__":
    unittest.main()
