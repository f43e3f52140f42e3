#!/usr/bin/python3
"""Independent check of a load generator results folder (docs/load_gen.md).

usage: /usr/bin/python3 scripts/verify_results.py DIR

Recomputes, from DIR/invocations.csv alone, everything DIR/summary.json
reports (counts, duration, throughput, latency/overhead/lateness
distributions, container states, errors by kind, per-function blocks and,
for scaling runs, the per-step blocks) and compares. Percentiles are
nearest-rank, written here from the definition in docs/load_gen.md
(no project code is imported).

Percentiles of distributions marked "exact": false (more than 65,536
values) may differ by the stated relative error (1/2048) more.

Tolerances: values the load generator prints with 3 decimals (every
millisecond figure, and also duration_s and throughput_per_s, which
summary.json rounds to 3 decimals) may differ by 0.0015; other numbers by
1e-6 relative; counts and names must match exactly.

Prints each mismatch and exits 1 if there is any; otherwise prints
"summary matches N rows" and exits 0. Exit 2 on unreadable input.
"""
import csv
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_files import BadInput, nearest_rank_index, read_summary  # noqa: E402

COLUMNS = ["tid", "function_name", "function_version", "scheduled_ms", "send_ms", "end_ms", "lateness_ms",
           "e2e_ms", "container_state", "queue_ms", "container_start_ms", "exec_ms", "agent_rtt_ms",
           "overhead_ms", "worker_total_ms", "success", "http_status", "error_kind", "error", "client", "step", "sandbox"]
MS_TOL = 0.0015
REL_TOL = 1e-6
STATES = ("cold", "prewarm", "warm", "error")
DIST_KEYS = ("p50", "p90", "p99", "max", "mean")
# Distributions of more values than this give percentiles from a histogram,
# within REL_ERROR relative (src/report/dist.h); "exact" says which.
EXACT_MAX = 65536
REL_ERROR = 1.0 / 2048
PERCENTILES = ("p50", "p90", "p99")



def nearest_rank(sorted_values, p):
    """p-th percentile: the value at 1-based rank ceil(p/100 * n); None when empty."""
    n = len(sorted_values)
    return sorted_values[nearest_rank_index(n, p)] if n else None


def distribution(values):
    v = sorted(values)
    return {
        "count": len(v),
        "p50": nearest_rank(v, 50),
        "p90": nearest_rank(v, 90),
        "p99": nearest_rank(v, 99),
        "max": v[-1] if v else None,
        "mean": (math.fsum(v) / len(v)) if v else None,
        "exact": len(v) <= EXACT_MAX,
    }


def opt_float(row, col, lineno, path):
    text = row[col].strip()
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"{path}:{lineno}: column {col} is not a number: {text!r}")
    if not math.isfinite(value):
        raise BadInput(f"{path}:{lineno}: column {col} is not finite: {text!r}")
    return value


def req_float(row, col, lineno, path):
    value = opt_float(row, col, lineno, path)
    if value is None:
        raise BadInput(f"{path}:{lineno}: column {col} is empty")
    return value


def opt_int(row, col, lineno, path):
    text = row[col].strip()
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise BadInput(f"{path}:{lineno}: column {col} is not an integer: {text!r}")


def read_rows(path):
    """Parsed rows plus a list of per-row consistency problems."""
    problems = []
    rows = []
    try:
        f = open(path, newline="")
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}")
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise BadInput(f"{path}: empty file (no header)")
        except csv.Error as e:
            raise BadInput(f"{path}:1: {e}")
        if header != COLUMNS:
            raise BadInput(f"{path}:1: header is not the documented one:\n  got      {','.join(header)}\n"
                           f"  expected {','.join(COLUMNS)}")
        try:
            for raw in reader:
                lineno = reader.line_num
                if len(raw) != len(COLUMNS):
                    raise BadInput(f"{path}:{lineno}: {len(raw)} fields, expected {len(COLUMNS)}")
                row = dict(zip(COLUMNS, raw))
                r = {
                    "line": lineno,
                    "tid": row["tid"],
                    "function_name": row["function_name"],
                    "function_version": row["function_version"],
                    "scheduled_ms": opt_float(row, "scheduled_ms", lineno, path),
                    "send_ms": req_float(row, "send_ms", lineno, path),
                    "end_ms": req_float(row, "end_ms", lineno, path),
                    "lateness_ms": opt_float(row, "lateness_ms", lineno, path),
                    "e2e_ms": req_float(row, "e2e_ms", lineno, path),
                    "container_state": row["container_state"],
                    "overhead_ms": opt_float(row, "overhead_ms", lineno, path),
                    "success": row["success"],
                    "http_status": opt_int(row, "http_status", lineno, path),
                    "error_kind": row["error_kind"],
                    "client": opt_int(row, "client", lineno, path),
                    "step": opt_int(row, "step", lineno, path),
                }
                for col in ("queue_ms", "container_start_ms", "exec_ms", "agent_rtt_ms", "worker_total_ms"):
                    opt_float(row, col, lineno, path)
                if row["sandbox"] not in ("", "fresh", "pooled"):
                    raise BadInput(f"{path}:{lineno}: sandbox is {row['sandbox']!r}, expected fresh, pooled or empty")
                if row["sandbox"] and r["container_state"] != "cold":
                    raise BadInput(f"{path}:{lineno}: sandbox {row['sandbox']} on a {r['container_state']} row")
                if r["success"] not in ("0", "1"):
                    raise BadInput(f"{path}:{lineno}: success is {r['success']!r}, expected 0 or 1")
                r["success"] = r["success"] == "1"
                if r["container_state"] not in STATES:
                    raise BadInput(f"{path}:{lineno}: container_state {r['container_state']!r} is not one of "
                                   f"{'|'.join(STATES)}")
                # the row's own derived columns
                if abs((r["end_ms"] - r["send_ms"]) - r["e2e_ms"]) > MS_TOL:
                    problems.append(f"{path}:{lineno}: e2e_ms {r['e2e_ms']} != end_ms - send_ms "
                                    f"{r['end_ms'] - r['send_ms']:.3f}")
                if (r["scheduled_ms"] is None) != (r["lateness_ms"] is None):
                    problems.append(f"{path}:{lineno}: lateness_ms must be present exactly when scheduled_ms is")
                elif r["scheduled_ms"] is not None and \
                        abs((r["send_ms"] - r["scheduled_ms"]) - r["lateness_ms"]) > MS_TOL:
                    problems.append(f"{path}:{lineno}: lateness_ms {r['lateness_ms']} != send_ms - scheduled_ms "
                                    f"{r['send_ms'] - r['scheduled_ms']:.3f}")
                rows.append(r)
        except csv.Error as e:
            raise BadInput(f"{path}:{reader.line_num}: {e}")
    return rows, problems


def block(rows, extras):
    n = len(rows)
    ok = [r for r in rows if r["success"]]
    if n:
        duration_s = (max(r["end_ms"] for r in rows) - min(r["send_ms"] for r in rows)) / 1000.0
    else:
        duration_s = 0.0
    b = {
        "invocations": n,
        "successes": len(ok),
        "failures": n - len(ok),
        "duration_s": duration_s,
        "throughput_per_s": (len(ok) / duration_s) if duration_s > 0 else None,
        "latency_ms": distribution([r["e2e_ms"] for r in ok]),
        "container_states": {s: sum(1 for r in rows if r["container_state"] == s) for s in STATES},
    }
    if extras:
        b["overhead_ms"] = distribution([r["overhead_ms"] for r in ok if r["overhead_ms"] is not None])
        b["lateness_ms"] = distribution([r["lateness_ms"] for r in rows if r["lateness_ms"] is not None])
        errors = {}
        for r in rows:
            if not r["success"]:
                kind = r["error_kind"] or "unknown"
                errors[kind] = errors.get(kind, 0) + 1
        b["errors_by_kind"] = errors
    return b


# Keys whose summary values are rounded to 3 decimals.
ROUNDED = {"duration_s", "throughput_per_s"} | set(DIST_KEYS)


def compare(path, expected, got, out, rounded=False, rel_error=0.0):
    """Compare expected (recomputed) with got (summary.json); append mismatches to out.
    rel_error: the relative error the summary states for this value."""
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            out.append(f"{path}: expected an object, summary has {json.dumps(got)}")
            return
        for key, value in expected.items():
            if key not in got:
                out.append(f"{path}.{key}: missing from summary.json (recomputed {json.dumps(value)})")
                continue
            approx = REL_ERROR if key in PERCENTILES and got.get("exact") is False else 0.0
            compare(f"{path}.{key}", value, got[key], out, key in ROUNDED, approx)
        if path.endswith((".errors_by_kind", ".container_states")):  # closed sets: nothing extra
            for key in got:
                if key not in expected:
                    out.append(f"{path}.{key}: summary has {json.dumps(got[key])}, the CSV has no such rows")
        return
    if expected is None:
        if got is not None:
            out.append(f"{path}: summary has {json.dumps(got)}, recomputed nothing (null: no rows)")
        return
    if isinstance(expected, bool) or isinstance(got, bool):
        if expected != got:
            out.append(f"{path}: summary has {json.dumps(got)}, recomputed {json.dumps(expected)}")
        return
    if isinstance(expected, int) and not rounded:
        if not isinstance(got, int) or got != expected:
            out.append(f"{path}: summary has {json.dumps(got)}, recomputed {expected}")
        return
    if isinstance(expected, (int, float)):
        if not isinstance(got, (int, float)):
            out.append(f"{path}: summary has {json.dumps(got)}, recomputed {expected:.6f}")
            return
        diff = abs(float(got) - float(expected))
        tol = MS_TOL if rounded else 0.0
        tol = max(tol, (REL_TOL + rel_error) * max(abs(float(expected)), abs(float(got))) + (MS_TOL if rel_error else 0))
        if diff > tol:
            out.append(f"{path}: summary has {got}, recomputed {expected:.6f} (differs by {diff:.6f} > {tol:g})")
        return
    if expected != got:
        out.append(f"{path}: summary has {json.dumps(got)}, recomputed {json.dumps(expected)}")


def verify(folder):
    csv_path = os.path.join(folder, "invocations.csv")
    json_path = os.path.join(folder, "summary.json")
    rows, mismatches = read_rows(csv_path)
    summary = read_summary(json_path)

    compare("summary", block(rows, extras=True), summary, mismatches)

    # per function: key is the name, or name-version when a name has several versions
    groups = {}
    for r in rows:
        groups.setdefault((r["function_name"], r["function_version"]), []).append(r)
    per_fn = summary.get("per_function")
    if not isinstance(per_fn, dict):
        mismatches.append("summary.per_function: missing or not an object")
    else:
        used = set()
        for (name, version), fn_rows in sorted(groups.items()):
            key = f"{name}-{version}" if f"{name}-{version}" in per_fn and \
                sum(1 for (n, _) in groups if n == name) > 1 else name
            if key not in per_fn:
                mismatches.append(f"summary.per_function: no block for {name} (version {version}), "
                                  f"which has {len(fn_rows)} rows")
                continue
            used.add(key)
            compare(f"summary.per_function[{key!r}]", block(fn_rows, extras=False), per_fn[key], mismatches)
        for key, value in per_fn.items():
            if key not in used and not (isinstance(value, dict) and value.get("invocations") == 0):
                mismatches.append(f"summary.per_function[{key!r}]: no rows in the CSV for this function")

    # scaling steps
    steps = {}
    for r in rows:
        if r["step"] is not None:
            steps.setdefault(r["step"], []).append(r)
    if steps:
        got_steps = summary.get("steps")
        expected = []
        for st in sorted(steps):
            b = block(steps[st], extras=False)
            b["clients"] = st
            expected.append(b)
        if not isinstance(got_steps, list):
            mismatches.append(f"summary.steps: missing or not a list (the CSV has {len(steps)} steps)")
        else:
            if len(got_steps) != len(expected):
                mismatches.append(f"summary.steps: {len(got_steps)} entries, the CSV has {len(expected)} steps "
                                  f"({sorted(steps)})")
            for i, b in enumerate(expected):
                match = [g for g in got_steps if isinstance(g, dict) and g.get("clients") == b["clients"]]
                if not match:
                    mismatches.append(f"summary.steps: no entry with clients {b['clients']}")
                    continue
                compare(f"summary.steps[clients={b['clients']}]", b, match[0], mismatches)
            order = [g.get("clients") for g in got_steps if isinstance(g, dict)]
            if order != sorted(order):
                mismatches.append(f"summary.steps: not in order of clients: {order}")
    elif summary.get("steps"):
        mismatches.append("summary.steps: present but no CSV row has a step")
    return rows, mismatches


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        rows, mismatches = verify(argv[1])
    except BadInput as e:
        print(f"verify_results: {e}", file=sys.stderr)
        return 2
    for m in mismatches:
        print(f"MISMATCH {m}")
    if mismatches:
        print(f"verify_results: {len(mismatches)} mismatch(es) against {len(rows)} rows", file=sys.stderr)
        return 1
    print(f"summary matches {len(rows)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
