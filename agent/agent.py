"""In-container agent: imports the function once, serves invocations over a Unix socket.

Protocol (all integers unsigned 64-bit little-endian):
  request : command (1 = invoke, 0 = check, 2 = load) | length | `length` bytes of JSON args
  reply   : length | `length` bytes of JSON
The reply object carries start, end (ISO-8601 UTC), was_cold (True only for the
first invocation this process serves), duration_sec (time inside main) and either
user_result (the value main returned) or user_error (the traceback).
The worker listens on the socket before the container starts and hands it
over as descriptor ILU_AGENT_FD (3): the container needs no writable folder
for it. A check (command 0) is answered only once main.py is imported, which
is how the worker knows the container is ready.
A generic sandbox (ILU_POOLED=1) starts with no function: it answers the check
at once, and imports main.py only on a load (command 2, no args), once the
worker has mounted the function's folder at ILU_FUNCTION_DIR; the reply is
{"loaded": true} or {"load_error": traceback} (also written to stderr). It
loads once in its life: a second load answers {"load_error": "already loaded"}
(so does a load in an agent started with its function), and an invocation
before the load is the function's error "no function loaded".
A result must be what the worker's JSON parser accepts (no NaN or Infinity,
integers within 64 bits, valid Unicode) and at most ILU_MAX_RESULT_BYTES
bytes of JSON; otherwise the invocation is the function's error.
Standard library only: it runs on the host's own /usr, read-only.
"""
import json
import os
import select
import socket
import struct
import sys
import time
import traceback
from datetime import datetime, timezone

AGENT_FD = os.environ.get("ILU_AGENT_FD")
SOCKET_PATH = os.environ.get("ILU_AGENT_SOCKET", "/iluvatar/sockets/sock")  # without a descriptor (by hand)
MAX_RESULT_BYTES = int(os.environ.get("ILU_MAX_RESULT_BYTES", str(1 << 20)))
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
FUNCTION_DIR = os.environ.get("ILU_FUNCTION_DIR", "/function")
POOLED = os.environ.get("ILU_POOLED") == "1"
HEADER = struct.Struct("<QQ")
LENGTH = struct.Struct("<Q")
# json.dumps with options builds an encoder per call: one, built once
RESULT_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False)
SCRATCH = bytearray(1 << 16)  # each read lands here: no allocation per call
SCRATCH_VIEW = memoryview(SCRATCH)


_second = [None, ""]  # [the UTC second last formatted, its "YYYY-MM-DDTHH:MM:SS"]


def now_iso():
    """Now as ISO-8601 UTC with microseconds, as datetime.isoformat writes it;
    the date and time of day are formatted once per second, not per call."""
    ns = time.time_ns()
    sec, rest = divmod(ns, 1_000_000_000)
    if sec != _second[0]:
        _second[0] = sec
        _second[1] = datetime.fromtimestamp(sec, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{_second[1]}.{rest // 1000:06d}+00:00"


def load_main():
    sys.path.insert(0, FUNCTION_DIR)
    sys.dont_write_bytecode = True  # the function folder is read-only
    import main as user_module  # noqa: E402  (import once; globals persist across warm calls)
    return user_module.main


def load(state):
    """A generic sandbox's function (command 2): the reply body."""
    if state["loads"]:
        return b'{"load_error": "already loaded"}'
    state["loads"] += 1
    try:
        state["entry"] = load_main()
    except BaseException:  # SystemExit too: the sandbox must answer
        tb = traceback.format_exc()
        sys.stderr.write("agent: cannot import main.py:\n" + tb)
        sys.stderr.flush()
        return json.dumps({"load_error": tb}).encode()
    try:
        os.chdir(FUNCTION_DIR)  # where a fresh container's function starts
    except OSError:
        pass
    return b'{"loaded": true}'


def not_loaded():
    now = now_iso()
    return json.dumps({"start": now, "was_cold": False, "user_error": "no function loaded",
                       "duration_sec": 0.0, "end": now}).encode()


def invoke(entry, payload, state):
    start = now_iso()
    was_cold = state["cold"]
    state["cold"] = False
    t0 = time.perf_counter()
    try:
        args = {} if payload == b"{}" or not payload else json.loads(payload)
        if not isinstance(args, dict):
            raise TypeError("invocation arguments must be a JSON object")
        encoded = encode_result(entry(args))
    except Exception:
        duration = time.perf_counter() - t0
        return json.dumps({"start": start, "was_cold": was_cold, "user_error": traceback.format_exc(),
                           "duration_sec": duration, "end": now_iso()}).encode()
    duration = time.perf_counter() - t0
    # the fields need no escaping (ISO times, a bool, a float): formatted
    # directly, with the encoded result spliced in rather than encoded twice
    head = (f'{{"start": "{start}", "was_cold": {"true" if was_cold else "false"}, '
            f'"duration_sec": {duration!r}, "end": "{now_iso()}", "user_result": ')
    return head.encode() + encoded + b"}"


def check_ints(value):
    """The worker's parser holds integers in 64 bits: refuse bigger ones here,
    as the function's error, rather than fail the reply as a whole."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            if not INT64_MIN <= v <= INT64_MAX:
                raise ValueError(f"the result holds the integer {v}, outside the 64-bit range JSON parsers accept")
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)


def encode_result(result):
    # allow_nan=False: NaN and Infinity are not JSON; encoding to UTF-8
    # without ensure_ascii makes a lone surrogate raise instead of becoming
    # an escape the worker's parser refuses.
    text = RESULT_ENCODER.encode(result)
    check_ints(result)
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_RESULT_BYTES:
        raise ValueError(f"the result is {len(encoded)} bytes of JSON, over the worker's limit of "
                         f"{MAX_RESULT_BYTES} (limits.max_result_bytes)")
    return encoded


def open_listener():
    if AGENT_FD is not None:
        listener = socket.socket(fileno=int(AGENT_FD))
        listener.set_inheritable(False)  # the function's children must not hold it
        return listener
    for path in (SOCKET_PATH, SOCKET_PATH + ".tmp"):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(SOCKET_PATH + ".tmp")
    listener.listen(4)
    # rename makes the socket appear only once it accepts connections
    os.rename(SOCKET_PATH + ".tmp", SOCKET_PATH)
    return listener


def serve(entry):
    listener = open_listener()
    # entry: main, None in a sandbox until loaded; loads: load requests seen
    state = {"cold": True, "entry": entry, "loads": 0 if entry is None else 1}
    # Several connections may be open (the worker's persistent one, a
    # benchmark's direct one); requests are served one at a time, in order.
    # select.epoll directly: the selectors module costs microseconds a call.
    poller = select.epoll()
    poller.register(listener.fileno(), select.EPOLLIN)
    conns = {}  # fd -> (socket, bytearray of what has arrived)
    while True:
        for fd, _ in poller.poll():
            if fd == listener.fileno():
                conn, _ = listener.accept()
                conns[conn.fileno()] = (conn, bytearray())
                poller.register(conn.fileno(), select.EPOLLIN)
                continue
            conn, buf = conns[fd]
            if not serve_ready(conn, buf, state):
                poller.unregister(fd)
                del conns[fd]
                conn.close()


def serve_ready(conn, buf, state):
    """Read what conn has and answer every whole request in it, in order;
    False when the peer closed it."""
    try:
        n = conn.recv_into(SCRATCH)
        if not n:
            return False
        buf += SCRATCH_VIEW[:n]
        while len(buf) >= HEADER.size:
            command, length = HEADER.unpack_from(buf)
            end = HEADER.size + length
            if len(buf) < end:
                break
            payload = bytes(buf[HEADER.size:end])
            del buf[:end]
            if command == 1:
                entry = state["entry"]
                body = invoke(entry, payload, state) if entry is not None else not_loaded()
            elif command == 2:
                body = load(state)
            else:
                body = b'{"ready": true}'
            conn.sendall(LENGTH.pack(len(body)) + body)
        return True
    except OSError:
        return False


def main():
    if POOLED:
        # Python's first compile() costs ~0.7 ms (the parser's set-up): pay
        # it now, while waiting, rather than in the load that a cold start waits for
        compile('"""doc"""\nimport os\ndef main(args):\n    return {"a": f"{args!r}"}\n', "<warm-up>", "exec")
        serve(None)  # main.py arrives later: command 2
        return
    try:
        entry = load_main()
    except Exception:
        sys.stderr.write("agent: cannot import main.py:\n" + traceback.format_exc())
        sys.stderr.flush()
        sys.exit(3)
    serve(entry)


if __name__ == "__main__":
    main()
