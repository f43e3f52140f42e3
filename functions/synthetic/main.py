"""Synthetic load (Ilúvatar uses lookbusy for this).

Arguments (strings or numbers; the CLI sends strings):
  cpu_ms     CPU time to burn, in milliseconds (busy loop)
  wall_ms    total wall time of the call; the rest after cpu_ms is spent sleeping
  mem_mb     memory to allocate and touch for the duration of the call
  cold_ms / warm_ms  alternative to wall_ms: wall time on the first / later calls,
             as the load generator sends from trace metadata
"""
import time

cold = True


def _num(args, key, default=0.0):
    value = args.get(key, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"argument {key!r} must be a number, got {value!r}")


def main(args):
    global cold
    t0 = time.time()
    was_cold = cold
    cold = False
    cpu_ms = _num(args, "cpu_ms")
    wall_ms = _num(args, "wall_ms")
    if "cold_ms" in args or "warm_ms" in args:
        wall_ms = _num(args, "cold_ms" if was_cold else "warm_ms", wall_ms)
    mem_mb = _num(args, "mem_mb")
    if min(cpu_ms, wall_ms, mem_mb) < 0:
        raise ValueError("cpu_ms, wall_ms and mem_mb must not be negative")

    block = None
    if mem_mb > 0:
        block = bytearray(int(mem_mb * 1024 * 1024))
        for i in range(0, len(block), 4096):  # touch every page so it is resident
            block[i] = 1

    busy_until = time.process_time() + cpu_ms / 1000.0
    x = 0
    while time.process_time() < busy_until:
        x += 1
    remaining = wall_ms / 1000.0 - (time.time() - t0)
    if remaining > 0:
        time.sleep(remaining)
    end = time.time()
    del block
    return {"body": {"cold": was_cold, "start": t0, "end": end, "latency": end - t0,
                     "cpu_ms": cpu_ms, "wall_ms": wall_ms, "mem_mb": mem_mb}}
