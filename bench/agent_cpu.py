#!/usr/bin/python3
"""CPU the in-container agent spends per invocation, on the host, side by side.

Each agent file given (default: agent/agent.py) is started on a Unix socket
with a function folder (default bench/functions/noop) and driven by a raw
client doing N request/reply round trips with the agent's protocol; the
agent's on-CPU time (/proc/PID/schedstat) divided by N is its CPU per
invocation. Agents alternate over --reps repetitions; the medians and
[min-max] are printed, plus the ratio to the first agent.

  /usr/bin/python3 bench/agent_cpu.py [--reps 5] [-n 20000] [--args '{}']
      [--function-dir DIR] [AGENT.py ...]
e.g. compare with the committed agent:
  git show HEAD:agent/agent.py > /tmp/agent_old.py
  /usr/bin/python3 bench/agent_cpu.py /tmp/agent_old.py agent/agent.py
"""
import argparse
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = struct.Struct("<QQ")
LENGTH = struct.Struct("<Q")


def cpu_ns(pid):
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("the agent closed the connection")
        buf += chunk
    return bytes(buf)


def call(s, command, payload):
    s.sendall(HEADER.pack(command, len(payload)) + payload)
    (length,) = LENGTH.unpack(recv_exact(s, LENGTH.size))
    return recv_exact(s, length)


def run_one(agent, function_dir, n, payload):
    """(agent CPU us per invocation, wall us per round trip)"""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sock")
        env = dict(os.environ, ILU_AGENT_SOCKET=path, ILU_FUNCTION_DIR=function_dir)
        env.pop("ILU_AGENT_FD", None)
        proc = subprocess.Popen(["/usr/bin/python3", agent], env=env)
        try:
            for _ in range(500):
                if os.path.exists(path):
                    break
                time.sleep(0.01)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            call(s, 0, b"")  # ready
            for _ in range(200):  # warm-up
                call(s, 1, payload)
            c0, t0 = cpu_ns(proc.pid), time.perf_counter()
            for _ in range(n):
                reply = call(s, 1, payload)
            c1, t1 = cpu_ns(proc.pid), time.perf_counter()
            if b'"user_result"' not in reply:
                sys.exit(f"agent_cpu: {agent}: the function failed: {reply[:300]!r}")
            s.close()
            return (c1 - c0) / n / 1e3, (t1 - t0) / n * 1e6
        finally:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("agents", nargs="*", default=[os.path.join(ROOT, "agent", "agent.py")])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--args", default="{}", help="JSON arguments of every invocation")
    ap.add_argument("--function-dir", default=os.path.join(ROOT, "bench", "functions", "noop"))
    o = ap.parse_args()
    results = {a: [] for a in o.agents}
    for r in range(o.reps):
        order = o.agents if r % 2 == 0 else list(reversed(o.agents))
        for a in order:
            results[a].append(run_one(a, o.function_dir, o.n, o.args.encode()))
    base = None
    print(f"agent CPU per invocation: {o.reps} repetitions x {o.n} round trips, function {o.function_dir}")
    for a in o.agents:
        cpu = [c for c, _ in results[a]]
        wall = [w for _, w in results[a]]
        med = statistics.median(cpu)
        base = base or med
        print(f"  {a}: {med:.1f} us [{min(cpu):.1f}-{max(cpu):.1f}] CPU, round trip {statistics.median(wall):.1f} us"
              f" [{min(wall):.1f}-{max(wall):.1f}], CPU ratio to the first {med / base:.2f}")


if __name__ == "__main__":
    main()
