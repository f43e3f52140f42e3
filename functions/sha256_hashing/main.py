"""Hashing workload: generates `size_kb` KiB of seeded pseudo-random bytes and
hashes them with hashlib.sha256, fed in `chunk_kb` KiB pieces as a stream would
be, `iterations` times. Arguments (ints, or strings as the CLI sends them):
`size_kb`, default 4096 (1 .. 1048576); `chunk_kb`, default 64 (1 .. 1048576);
`iterations`, default 1 (1 .. 10000); `seed`, default 42. Returns Ilúvatar's
body with cold/start/end/latency plus the hex digest and the throughput in MB/s.
"""
import hashlib
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


def main(args):
    global cold
    start = time.time()
    was_cold = cold
    cold = False
    args = args or {}
    size_kb = _int_arg(args, "size_kb", 4096, 1, 1 << 20)
    chunk_kb = _int_arg(args, "chunk_kb", 64, 1, 1 << 20)
    iterations = _int_arg(args, "iterations", 1, 1, 10_000)
    seed = _int_arg(args, "seed", 42, -2**63, 2**63 - 1)
    data = random.Random(seed).randbytes(size_kb * 1024)
    view = memoryview(data)
    chunk = chunk_kb * 1024
    t0 = time.perf_counter()
    digest = ""
    for _ in range(iterations):
        h = hashlib.sha256()
        for off in range(0, len(data), chunk):
            h.update(view[off:off + chunk])
        digest = h.hexdigest()
    hash_s = time.perf_counter() - t0
    end = time.time()
    return {"body": {"size_kb": size_kb, "chunk_kb": chunk_kb, "iterations": iterations,
                     "sha256": digest,
                     "mb_per_s": (len(data) * iterations / 1e6) / hash_s if hash_s > 0 else None,
                     "cold": was_cold, "start": start, "end": end, "latency": end - start}}
