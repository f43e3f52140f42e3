"""In-container agent: imports the function once, serves invocations over a Unix socket.

Protocol (all integers unsigned 64-bit little-endian):
  request : command (1 = invoke, 0 = check) | length | `length` bytes of JSON args
  reply   : length | `length` bytes of JSON
The reply object carries start, end (ISO-8601 UTC), was_cold (True only for the
first invocation this process serves), duration_sec (time inside main) and either
user_result (the value main returned) or user_error (the traceback).
Standard library only: it runs on the host's own /usr, read-only.
"""
import json
import os
import selectors
import socket
import struct
import sys
import time
import traceback
from datetime import datetime, timezone

SOCKET_PATH = os.environ.get("ILU_AGENT_SOCKET", "/iluvatar/sockets/sock")
FUNCTION_DIR = os.environ.get("ILU_FUNCTION_DIR", "/function")
HEADER = struct.Struct("<QQ")
LENGTH = struct.Struct("<Q")


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def load_main():
    sys.path.insert(0, FUNCTION_DIR)
    sys.dont_write_bytecode = True  # the function folder is read-only
    import main as user_module  # noqa: E402  (import once; globals persist across warm calls)
    return user_module.main


def read_exact(conn, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def invoke(entry, payload, state):
    start = now_iso()
    t0 = time.perf_counter()
    reply = {"start": start, "was_cold": state["cold"]}
    state["cold"] = False
    try:
        args = json.loads(payload) if payload else {}
        if not isinstance(args, dict):
            raise TypeError("invocation arguments must be a JSON object")
        result = entry(args)
        json.dumps(result)  # raises here if the result is not JSON-serialisable
        reply["user_result"] = result
    except Exception:
        reply["user_error"] = traceback.format_exc()
    reply["duration_sec"] = time.perf_counter() - t0
    reply["end"] = now_iso()
    return json.dumps(reply).encode()


def serve(entry):
    try:
        os.unlink(SOCKET_PATH)
    except FileNotFoundError:
        pass
    tmp_path = SOCKET_PATH + ".tmp"
    try:
        os.unlink(tmp_path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(tmp_path)
    listener.listen(4)
    # rename makes the socket appear only once it accepts connections
    os.rename(tmp_path, SOCKET_PATH)
    state = {"cold": True}
    # Several connections may be open (the worker's persistent one, a
    # benchmark's direct one); requests are served one at a time, in order.
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is listener:
                conn, _ = listener.accept()
                sel.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            if not serve_one(conn, entry, state):
                sel.unregister(conn)
                conn.close()


def serve_one(conn, entry, state):
    """Answer one request on conn; False when the peer closed it."""
    try:
        header = read_exact(conn, HEADER.size)
        if header is None:
            return False
        command, length = HEADER.unpack(header)
        payload = read_exact(conn, length) if length else b""
        if payload is None:
            return False
        if command == 1:
            body = invoke(entry, payload, state)
        else:
            body = json.dumps({"ready": True}).encode()
        conn.sendall(LENGTH.pack(len(body)) + body)
        return True
    except OSError:
        return False


def main():
    try:
        entry = load_main()
    except Exception:
        sys.stderr.write("agent: cannot import main.py:\n" + traceback.format_exc())
        sys.stderr.flush()
        sys.exit(3)
    serve(entry)


if __name__ == "__main__":
    main()
