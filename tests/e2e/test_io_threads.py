"""The worker with http.io_threads: two I/O loops own the connections and hand
requests to the core loop (docs/worker.md, "Architecture"). The whole suite
also runs this way with ILU_E2E_IO_THREADS=2 (scripts/test.sh); this class
checks what is particular to it: the threads exist, concurrent clients each
get their own answers, a client that hangs up before its answer costs nothing,
and the connection cap holds over all loops together."""
import json
import os
import select
import socket
import time

from harness import HOST, WorkerTestCase

CAP = 8


class IoThreadsTest(WorkerTestCase):
    CONFIG = {"http": {"io_threads": 2, "max_connections": CAP},
              "container_resources": {"cpu_count": 4, "memory_mb": 1024}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.worker.register("echo")
        assert r.status == 200, r

    def test_threads_beside_the_core_loop(self):
        threads = os.listdir(f"/proc/{self.worker.proc.pid}/task")
        if len(threads) < 3:
            self.fail_with_log(f"io_threads 2: {len(threads)} threads in the worker, expected at least 3")

    def test_concurrent_clients_get_their_own_answers(self):
        self.assertEchoFromClients(6, 30)
        st = self.worker.status()
        self.assertGreaterEqual(st["invocations"], 180)

    def test_client_gone_before_its_answer(self):
        self.assertHTTP(self.worker.register("sleeper"), 200, "register sleeper")
        body = json.dumps({"function_name": "sleeper", "function_version": "1",
                           "json_args": json.dumps({"sec": 0.3})}).encode()
        for _ in range(3):
            s = socket.create_connection((HOST, self.worker.port), timeout=5)
            s.sendall(b"POST /invoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            time.sleep(0.05)
            s.close()
        time.sleep(0.8)  # the answers come back to closed connections (ASan watches)
        self.assertHTTP(self.worker.get("/ping"), 200, "ping after hang-ups")
        self.assertInvokeOK("echo", args={"after": "hang-ups"})

    def test_connection_cap_holds_over_all_loops(self):
        held = [socket.create_connection((HOST, self.worker.port), timeout=5) for _ in range(CAP + 4)]
        try:
            for s in held:
                s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            # answers that come within 1.5 s (an ASan build is slow): those are served
            served, deadline = [], time.monotonic() + 1.5
            while time.monotonic() < deadline:
                ready, _, _ = select.select([s for s in held if s not in served], [], [], 0.1)
                for s in ready:
                    if s.recv(100).startswith(b"HTTP/1.1 200"):
                        served.append(s)
            if len(served) > CAP:
                self.fail_with_log(f"{len(served)} of {CAP + 4} connections served at once, cap {CAP}")
            # each loop holds its share of the cap and the kernel's hash picked
            # the loop: close what is served, and every waiting one gets its turn
            waiting = [s for s in held if s not in served]
            for s in served:
                s.close()
            deadline = time.monotonic() + 10
            while waiting and time.monotonic() < deadline:
                ready, _, _ = select.select(waiting, [], [], 0.2)
                for s in ready:
                    if not s.recv(100).startswith(b"HTTP/1.1 200"):
                        self.fail_with_log("a waiting connection got a wrong answer")
                    waiting.remove(s)
                    s.close()
            if waiting:
                self.fail_with_log(f"{len(waiting)} waiting connections not served after the others closed")
        finally:
            for s in held:
                s.close()
