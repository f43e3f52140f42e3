"""What the scripts reading a results folder (docs/load_gen.md) share:
their input error, summary.json read with a clear message, and the
project's nearest-rank percentile rule (ilu_nearest_rank in
src/report/dist.c). Imported by plot_results.py, compare_results.py and
verify_results.py, which sit beside it."""
import json
import math


class BadInput(Exception):
    """A results file that cannot be read or is not what a run writes;
    the message names the file (and line)."""


def nearest_rank_index(n, p):
    """0-based index of the nearest-rank p-th percentile of n > 0 sorted
    values: rank ceil(p/100 * n) clamped to [1, n], minus one (the same
    double arithmetic as ilu_nearest_rank)."""
    rank = math.ceil(p / 100.0 * float(n))
    return 0 if rank < 1 else n - 1 if rank >= n else rank - 1


def read_summary(path):
    """summary.json (or any results JSON object) at path."""
    try:
        with open(path) as f:
            s = json.load(f)
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}")
    except ValueError as e:
        raise BadInput(f"{path}: not valid JSON: {e}")
    if not isinstance(s, dict):
        raise BadInput(f"{path}: not a JSON object")
    return s
