"""The worker with oci.agent_threads: agent loops do the warm invocations'
agent I/O on threads of their own (docs/worker.md, "Architecture"). The
whole suite also runs this way with ILU_E2E_AGENT_THREADS=2 (scripts/test.sh);
this class checks what is particular to it, with the core loop serving HTTP
itself (no I/O loops): the threads exist, concurrent clients with arguments
from a few bytes to 300 KB each get their own answers, and a warm
container whose agent dies mid-invocation fails that one invocation and is
replaced by a cold start, as without agent loops."""
import os

from harness import WorkerTestCase


class AgentThreadsTest(WorkerTestCase):
    CONFIG = {"oci": {"agent_threads": 2},
              "container_resources": {"cpu_count": 4, "memory_mb": 1024}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.worker.register("echo")
        assert r.status == 200, r

    def test_agent_loops_run_beside_the_core_loop(self):
        self.assertInvokeOK("echo", args={"warm": "up"})  # adopts a connection
        pid = self.worker.proc.pid
        names = set()
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    names.add(f.read().strip())
            except OSError:
                pass  # a thread that just ended
        if not {"ilu-agent-0", "ilu-agent-1"} <= names:
            self.fail_with_log(f"oci.agent_threads 2: the worker's threads are {sorted(names)}")
        self.assertIn("warm invocations' agent I/O on 2 agent threads", self.worker.log())

    def test_concurrent_clients_get_their_own_answers(self):
        sizes = [0, 10, 1000, 70_000, 300_000]  # past a Unix socket's buffer: sent in parts
        self.assertEchoFromClients(4, 20, extra=lambda i, k: {"blob": "x" * sizes[(i + k) % 5]}, join_timeout=180)

    def test_warm_container_dying_mid_invocation_is_502_then_cold(self):
        self.assertRegistered("exits")
        self.assertInvokeOK("exits", "1", {}, state="cold")
        self.assertInvokeOK("exits", "1", {}, state="warm")  # on an agent loop now
        r = self.worker.invoke("exits", "1", {"code": 7})
        body = self.assertError(r, 502, "container_error", "invoke of a function that kills its process")
        self.assertIn("during the invocation", body["error"])
        self.assertInvokeOK("exits", "1", {}, state="cold")
