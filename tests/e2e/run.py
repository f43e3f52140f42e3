#!/usr/bin/python3
"""Run the end-to-end tests against build/iluvatar_worker (ILU_BUILD_DIR to
change) and finish with one summary line, e.g. `e2e: 23 passed, 0 failed`.

usage: /usr/bin/python3 tests/e2e/run.py [-q] [-k SUBSTRING]... [TEST_ID]...
  TEST_ID   e.g. test_pool or test_pool.EvictionTest.test_second_function_evicts_idle_first
  -k        run only tests whose id contains SUBSTRING
Exit status: 0 when nothing failed, 1 otherwise."""
import argparse
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


class Result(unittest.TextTestResult):
    """Counts passes and, when a test fails, shows the tail of the log of
    the worker it used (tests also quote a short tail in their messages)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1

    def _worker_log(self, test):
        worker = getattr(test, "worker", None)
        if worker is None:
            return
        self.stream.write(worker.describe())
        self.stream.writeln(f"    worker log of {test.id()} ({worker.log_path}):")
        self.stream.writeln(worker.log_tail(40))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._worker_log(test)

    def addError(self, test, err):
        super().addError(test, err)
        self._worker_log(test)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("-k", action="append", default=[], metavar="SUBSTRING")
    parser.add_argument("tests", nargs="*")
    opts = parser.parse_args()

    loader = unittest.TestLoader()
    if opts.tests:
        suite = loader.loadTestsFromNames(opts.tests)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if opts.k:
        suite = unittest.TestSuite(t for t in flatten(suite) if any(k in t.id() for k in opts.k))

    t0 = time.monotonic()
    runner = unittest.TextTestRunner(verbosity=1 if opts.quiet else 2, resultclass=Result, stream=sys.stdout)
    result = runner.run(suite)
    # Class-level failures (setUpClass) arrive as errors of a pseudo-test; count them too.
    # A test that fails and then errors in tearDown is reported twice: count ids once.
    failed = len({t.id() for t, _ in result.failures + result.errors} |
                 {t.id() for t in result.unexpectedSuccesses})
    line = f"e2e: {result.passed} passed, {failed} failed"
    if result.skipped:
        line += f", {len(result.skipped)} skipped"
    print(f"({time.monotonic() - t0:.1f}s)")
    print(line)
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
