"""Shared by the fidelity reports: the worker's own timings read from an
invocations.csv (same columns live and simulated)."""
import csv


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def column(rows, key, state=None, q=0.5):
    """Nearest-rank q-quantile of column key over rows (of container_state
    state when given); NaN when there is none."""
    v = sorted(float(r[key]) for r in rows if r[key] != "" and (state is None or r["container_state"] == state))
    return v[max(0, min(len(v) - 1, int(q * len(v) + 0.999999) - 1))] if v else float("nan")


def common_parts(rows):
    """The start-up and queueing figures both reports print."""
    return {"start p50": column(rows, "container_start_ms", "cold"),
            "start p99": column(rows, "container_start_ms", "cold", 0.99),
            "queue p50": column(rows, "queue_ms"), "queue p90": column(rows, "queue_ms", q=0.9)}
