"""FunctionBench json_dumps_loads: builds a seeded nested JSON document of `size`
items (each a dict with an id, a name, a float score, a list of tags and a nested
dict), then serialises it with json.dumps and parses it back with json.loads
`iterations` times, checking the round trip. Arguments (ints, or strings as the
CLI sends them): `size` items, default 1000 (1 .. 10000000); `iterations`,
default 10 (1 .. 100000); `seed`, default 42. Returns Ilúvatar's body with
cold/start/end/latency plus the document's size in bytes and round_trip_ok.
"""
import json
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


def build_document(size, seed):
    rng = random.Random(seed)
    items = []
    for i in range(size):
        items.append({
            "id": i,
            "name": "item-%d-%08x" % (i, rng.getrandbits(32)),
            "score": round(rng.random() * 1000.0, 6),
            "active": rng.random() < 0.5,
            "tags": ["t%d" % rng.randrange(100) for _ in range(3)],
            "attrs": {"weight": rng.randrange(1, 10000), "colour": rng.choice(
                ["red", "green", "blue", "\u00e9clair", "\u6f22\u5b57"]), "parent": None},
        })
    return {"version": 1, "seed": seed, "count": size, "items": items}


def main(args):
    global cold
    start = time.time()
    was_cold = cold
    cold = False
    args = args or {}
    size = _int_arg(args, "size", 1000, 1, 10_000_000)
    iterations = _int_arg(args, "iterations", 10, 1, 100_000)
    seed = _int_arg(args, "seed", 42, -2**63, 2**63 - 1)
    doc = build_document(size, seed)
    ok = True
    text = ""
    for _ in range(iterations):
        text = json.dumps(doc)
        back = json.loads(text)
        ok = ok and back == doc
    end = time.time()
    return {"body": {"size": size, "iterations": iterations, "bytes": len(text.encode()),
                     "round_trip_ok": ok, "cold": was_cold,
                     "start": start, "end": end, "latency": end - start}}
