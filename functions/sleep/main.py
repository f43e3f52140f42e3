"""I/O-bound baseline: sleeps `ms` milliseconds with time.sleep and burns no CPU,
to separate platform overhead from function work. Arguments (numbers, or strings as
the CLI sends them): `ms`, default 50 (0 .. 600000; fractions allowed). Returns
Ilúvatar's body with cold/start/end/latency plus ms and the measured slept_ms.
"""
import math
import time

cold = True


def _float_arg(args, key, default, lo, hi):
    """args[key] as a finite float in [lo, hi]; accepts numbers and strings."""
    value = args.get(key, default)
    number = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            pass
    if number is None or not math.isfinite(number):
        raise ValueError(f"argument {key!r} must be a number, got {value!r}")
    if not lo <= number <= hi:
        raise ValueError(f"argument {key!r} must be between {lo} and {hi}, got {number:g}")
    return number


def main(args):
    global cold
    start = time.time()
    was_cold = cold
    cold = False
    args = args or {}
    ms = _float_arg(args, "ms", 50, 0, 600_000)
    t0 = time.perf_counter()
    time.sleep(ms / 1000.0)
    slept_ms = (time.perf_counter() - t0) * 1000.0
    end = time.time()
    return {"body": {"ms": ms, "slept_ms": slept_ms, "cold": was_cold,
                     "start": start, "end": end, "latency": end - start}}
