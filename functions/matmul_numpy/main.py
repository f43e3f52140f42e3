"""FunctionBench matmul (the NumPy original): multiplies two seeded random `n` x `n`
matrices (entries uniform in [0, 1), numpy.random.default_rng(seed)) with
numpy.matmul, timing the product alone as FunctionBench does. Needs NumPy, so it
runs from an image built with tools/images/build.sh (packages.txt: python3-numpy).
Arguments (ints, or strings as the CLI sends them): `n`, default 256 (1 .. 4096);
`seed`, default 42. Returns Ilúvatar's body with cold/start/end/latency plus n,
matmul_s (seconds of the product), gflops (2 n^3 / matmul_s), the trace and the sum
of all entries of the product (a checksum; the last bits may vary with the BLAS).
"""
import time

import numpy as np

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


def main(args):
    global cold
    start = time.time()
    was_cold = cold
    cold = False
    args = args or {}
    n = _int_arg(args, "n", 256, 1, 4096)
    # numpy's generator takes seeds >= 0 only
    seed = _int_arg(args, "seed", 42, 0, 2**63 - 1)
    rng = np.random.default_rng(seed)
    a = rng.random((n, n))
    b = rng.random((n, n))
    t0 = time.perf_counter()
    c = np.matmul(a, b)
    matmul_s = time.perf_counter() - t0
    end = time.time()
    return {"body": {"n": n, "matmul_s": matmul_s,
                     "gflops": 2.0 * n ** 3 / matmul_s / 1e9 if matmul_s > 0 else None,
                     "trace": float(np.trace(c)), "checksum": float(c.sum()),
                     "numpy": np.__version__, "cold": was_cold,
                     "start": start, "end": end, "latency": end - start}}
