"""FunctionBench gzip_compression: generates `size_kb` KiB of seeded pseudo-random
English-like text in memory, compresses it with gzip (and, for comparison, raw zlib)
at `level`, decompresses both and checks the round trip. Arguments (ints, or
strings as the CLI sends them): `size_kb`, default 256 (1 .. 1048576); `level`,
compression level, default 6 (0 .. 9); `seed`, default 42. Returns Ilúvatar's
body with cold/start/end/latency plus the original and compressed sizes, the
compression ratios (original / compressed) and round_trip_ok.
"""
import gzip
import random
import time
import zlib

cold = True

WORDS = ("the quick brown fox jumps over lazy dog serverless function container "
         "cold warm start latency queue worker controller invocation trace memory "
         "cpu policy keep alive eviction pool cluster balance hash result timing "
         "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda").split()


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


def make_text(size, seed):
    rng = random.Random(seed)
    words = rng.choices(WORDS, k=size // 5 + 16)
    parts = []
    for i in range(0, len(words), 12):
        parts.append(" ".join(words[i:i + 12]).capitalize() + ".\n")
    data = "".join(parts).encode()
    while len(data) < size:  # never happens with 5-byte average words, but be sure
        data += data
    return data[:size]


def main(args):
    global cold
    start = time.time()
    was_cold = cold
    cold = False
    args = args or {}
    size_kb = _int_arg(args, "size_kb", 256, 1, 1 << 20)
    level = _int_arg(args, "level", 6, 0, 9)
    seed = _int_arg(args, "seed", 42, -2**63, 2**63 - 1)
    data = make_text(size_kb * 1024, seed)
    gz = gzip.compress(data, compresslevel=level, mtime=0)
    zl = zlib.compress(data, level)
    ok = gzip.decompress(gz) == data and zlib.decompress(zl) == data
    end = time.time()
    return {"body": {"size_kb": size_kb, "level": level, "original_bytes": len(data),
                     "gzip_bytes": len(gz), "zlib_bytes": len(zl),
                     "ratio": len(data) / len(gz), "zlib_ratio": len(data) / len(zl),
                     "round_trip_ok": ok, "cold": was_cold,
                     "start": start, "end": end, "latency": end - start}}
