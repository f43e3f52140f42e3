"""FunctionBench float_operation: applies math.sin, math.cos and math.sqrt to each
of `n` values (i = 0 .. n-1) and sums the results, a pure CPU-bound floating-point
workload. Arguments (ints, or strings as the CLI sends them): `n` number of values,
default 100000 (1 .. 100000000). Returns Ilúvatar's body with cold/start/end/latency
plus n and the checksum of sin+cos+sqrt over all values.
"""
import math
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


def main(args):
    global cold
    start = time.time()
    was_cold = cold
    cold = False
    args = args or {}
    n = _int_arg(args, "n", 100000, 1, 100_000_000)
    sin, cos, sqrt = math.sin, math.cos, math.sqrt
    total = 0.0
    for i in range(n):
        total += sin(i) + cos(i) + sqrt(i)
    end = time.time()
    return {"body": {"n": n, "checksum": total, "cold": was_cold,
                     "start": start, "end": end, "latency": end - start}}
