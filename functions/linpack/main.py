"""FunctionBench linpack: solves a dense, seeded pseudo-random `n` x `n` linear
system A x = b in pure Python by Gaussian elimination with partial pivoting and back
substitution (b is chosen as A times a vector of ones, so the exact solution is all
ones), and reports the residual max|A x - b|, the normalised LINPACK residual
||A x - b|| / (n ||A|| ||x|| eps), the largest error against the exact solution and
the MFLOP/s reached (2/3 n^3 + 2 n^2 operations). Arguments (ints, or strings as the
CLI sends them): `n`, default 100 (1 .. 2000); `seed`, default 42. Returns
Ilúvatar's body with cold/start/end/latency plus those numbers.
"""
import random
import sys
import time

cold = True


def _int_arg(args, key, default, lo, hi):
    """args[key] as an int in [lo, hi]; accepts ints, integral floats and strings."""
    value = args.get(key, default)
    number = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            pass
    if number is None:
        raise ValueError(f"argument {key!r} must be an integer, got {value!r}")
    if not lo <= number <= hi:
        raise ValueError(f"argument {key!r} must be between {lo} and {hi}, got {number}")
    return number


def solve(a, b):
    """Solves a x = b in place (a and b are overwritten); returns x."""
    n = len(a)
    for k in range(n):
        # partial pivoting: the row with the largest |a[i][k]| for i >= k
        p = max(range(k, n), key=lambda i: abs(a[i][k]))
        if a[p][k] == 0.0:
            raise ValueError("matrix is singular")
        if p != k:
            a[k], a[p] = a[p], a[k]
            b[k], b[p] = b[p], b[k]
        row_k = a[k]
        pivot = row_k[k]
        bk = b[k]
        for i in range(k + 1, n):
            row_i = a[i]
            f = row_i[k] / pivot
            if f != 0.0:
                row_i[k:] = [x - f * y for x, y in zip(row_i[k:], row_k[k:])]
                b[i] -= f * bk
    x = [0.0] * n
    for i in range(n - 1, -1, -1):
        row = a[i]
        s = b[i] - sum(row[j] * x[j] for j in range(i + 1, n))
        x[i] = s / row[i]
    return x


def main(args):
    global cold
    start = time.time()
    was_cold = cold
    cold = False
    args = args or {}
    n = _int_arg(args, "n", 100, 1, 2000)
    seed = _int_arg(args, "seed", 42, -2**63, 2**63 - 1)
    rng = random.Random(seed)
    a = [[rng.random() - 0.5 for _ in range(n)] for _ in range(n)]
    b = [sum(row) for row in a]  # exact solution: all ones
    a_copy = [row[:] for row in a]
    t0 = time.perf_counter()
    x = solve(a_copy, b[:])
    solve_s = time.perf_counter() - t0
    residual = max(abs(sum(aij * xj for aij, xj in zip(row, x)) - bi) for row, bi in zip(a, b))
    norm_a = max(sum(abs(v) for v in row) for row in a)
    norm_x = max(abs(v) for v in x)
    eps = sys.float_info.epsilon
    ops = 2.0 * n ** 3 / 3.0 + 2.0 * n ** 2
    end = time.time()
    return {"body": {"n": n, "residual": residual,
                     "normalised_residual": residual / (n * norm_a * norm_x * eps) if norm_x else 0.0,
                     "max_error": max(abs(v - 1.0) for v in x),
                     "mflops": ops / solve_s / 1e6 if solve_s > 0 else None,
                     "solve_s": solve_s, "cold": was_cold,
                     "start": start, "end": end, "latency": end - start}}
