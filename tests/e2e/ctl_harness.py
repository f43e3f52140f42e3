"""A running iluvatar_controller for end-to-end tests: own temp dir (config,
SQLite store, log), own free port on 127.0.0.1, started and stopped like
harness.Worker. Plus two fake workers for failure tests: one that answers
garbage, one that accepts connections and never answers."""
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from harness import BUILD, HOST, REPO, Client, WorkerError, _die_with_parent, _free_port, _merge, sanitizer_reports

CONTROLLER_BIN = os.path.join(BUILD, "iluvatar_controller")


class Controller:
    """host: where it listens (127.0.0.1, or a bridge address in tests/e2e/netns.py);
    env: extra environment of the process (e.g. ILUVATAR_CONTROLLER__... overrides)."""

    def __init__(self, config=None, start_timeout=15.0, host=HOST):
        self.host = host
        self.env = {}
        self.root = tempfile.mkdtemp(prefix="ilu-ctl-", dir="/tmp")
        self.db_path = os.path.join(self.root, "store", "controller.db")  # its dir does not exist yet
        self.log_path = os.path.join(self.root, "controller.log")
        self.config_path = os.path.join(self.root, "controller.json")
        self.overrides = config or {}
        self.start_timeout = start_timeout
        self.port = None
        self.proc = None
        self.client = None

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def start(self, port=None):
        """port: reuse a port (a restart); default a free one."""
        if not os.access(CONTROLLER_BIN, os.X_OK):
            raise WorkerError(f"{CONTROLLER_BIN} is missing; build it with `make`")
        self.port = port or self.port or _free_port(self.host)
        cfg = _merge({"name": "e2e-controller", "address": self.host, "port": self.port,
                      "logging": {"level": "info", "stdout": True},
                      "store": {"db_path": self.db_path}}, self.overrides)
        with open(self.config_path, "w") as f:
            json.dump(cfg, f, indent=2)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ILUVATAR_")}
        env.update(self.env)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([CONTROLLER_BIN, "-c", self.config_path], stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, cwd=REPO, preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise WorkerError(f"controller exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if Client(self.port, timeout=2, host=self.host).get("/ping").status == 200:
                    self.client = Client(self.port, host=self.host)
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise WorkerError(f"controller did not answer /ping within {self.start_timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, sig=signal.SIGINT, timeout=10.0):
        """(exit code, seconds); exit code None when it had to be killed."""
        if self.client:
            self.client.close()
        if self.proc is None or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), 0.0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        return code, time.monotonic() - t0

    def destroy(self):
        self.stop()
        if not os.environ.get("ILU_E2E_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=30):
        return "\n".join(f"  | {line}" for line in self.log().splitlines()[-lines:]) or "  | (empty log)"

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def post(self, path, body=None, **kw):
        return self.client.post(path, body, **kw)

    def workers(self):
        r = self.get("/workers")
        return {w["name"]: w for w in (r.json or {}).get("workers", [])} if r.status == 200 else {}


def stop_cluster(ctl, workers=(), fakes=()):
    """Stop and remove the workers, close the fake workers, then stop the
    controller (SIGINT); raise AssertionError if the controller did not exit
    0 or any of them logged a sanitizer report. ctl may be None."""
    problems = []
    for w in workers:
        w.stop()
        problems += sanitizer_reports(w.log())
        w.destroy()
    for f in fakes:
        f.close()
    if ctl:
        code, secs = ctl.stop()
        problems += sanitizer_reports(ctl.log())
        tail = ctl.log_tail(20)
        ctl.destroy()
        if code != 0:
            raise AssertionError(f"controller exited {code} on SIGINT after {secs:.1f}s:\n{tail}")
    if problems:
        raise AssertionError("sanitizer reports:\n" + "\n".join(problems[:20]))


class FakeHttpWorker:
    """A threaded HTTP/1.1 server on HOST that answers every GET and POST
    with 200 and what answer(path, body bytes) returns: (content type, bytes).
    The base of the fake workers the controller tests talk to."""

    def __init__(self, answer):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                content_type, data = answer(self.path, body)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the controller gave up on us: fine
                    self.close_connection = True

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class GarbageWorker(FakeHttpWorker):
    """Answers every request with 200 and a body that is not JSON; counts them by path."""

    def __init__(self):
        self.hits = {}

        def answer(path, body):
            self.hits[path] = self.hits.get(path, 0) + 1
            return "text/plain", b"this is not json {"

        super().__init__(answer)


class HangingWorker:
    """Accepts connections, reads, and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except OSError:
                continue

    def close(self):
        self.stopped = True
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()
