"""FunctionBench matmul: multiplies two seeded pseudo-random `n` x `n` matrices
(entries uniform in [0, 1)) in pure Python (row times transposed column, no numpy).
Arguments (ints, or strings as the CLI sends them): `n`, default 60 (1 .. 2000);
`seed`, default 42. Returns Ilúvatar's body with cold/start/end/latency plus n,
the trace and the sum of all entries of the product (a checksum).
"""
import random
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


def random_matrix(n, rng):
    return [[rng.random() for _ in range(n)] for _ in range(n)]


def matmul(a, b):
    bt = list(zip(*b))
    return [[sum(x * y for x, y in zip(row, col)) for col in bt] for row in a]


def main(args):
    global cold
    start = time.time()
    was_cold = cold
    cold = False
    args = args or {}
    n = _int_arg(args, "n", 60, 1, 2000)
    seed = _int_arg(args, "seed", 42, -2**63, 2**63 - 1)
    rng = random.Random(seed)
    a = random_matrix(n, rng)
    b = random_matrix(n, rng)
    c = matmul(a, b)
    end = time.time()
    return {"body": {"n": n, "trace": sum(c[i][i] for i in range(n)),
                     "checksum": sum(map(sum, c)), "cold": was_cold,
                     "start": start, "end": end, "latency": end - start}}
