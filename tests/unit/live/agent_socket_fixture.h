/* A test fixture: a fake oci container whose agent is this test, on a real
 * Unix socket pair. The backend (struct oci_backend, its event loop) and the
 * container (struct oci_ct) are made by hand, the client's side of the
 * agent's socket is the real one (src/backend/oci/agent_client.c), and the
 * test reads and writes the agent's side of it. What the backend tells the
 * core (ready, invoke_done, died) and what it logs are recorded in the
 * fixture.
 *
 * The including test defines MAX_REPLY (the backend's reply limit) first, and
 * a `setup` for cmocka that calls agent_socket_setup. */
#ifndef ILU_TEST_AGENT_SOCKET_FIXTURE_H
#define ILU_TEST_AGENT_SOCKET_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <endian.h>
#include <event2/event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/oci/oci_int.h"
#include "core/env.h"
#include "core/log.h"

#ifndef MAX_REPLY
#error "define MAX_REPLY (the backend's reply limit) before including agent_socket_fixture.h"
#endif

struct fixture {
    char dir[64];
    struct ilu_env env;
    struct ilu_log log;
    struct oci_backend *ob;
    struct oci_ct *ct;
    struct ilu_function fn; /* the container's function, where a test gives it one (c.fn) */
    struct ilu_container c;
    int listen_fd, agent;
    const char *ready_reply; /* the agent's answer to the ready check */
    /* what the backend told the core */
    int ready_calls, done_calls, died_calls;
    int ready_status;
    char ready_kind[32], ready_msg[1024];
    int done_status;
    /* the decoded reply: user_result's text (or the malformed reason) */
    char done_result[MAX_REPLY + 1], done_error[480], died_reason[480];
    double done_duration;
    /* the last line logged at warning or above, and the last at info */
    char last_warning[2048];
    char last_info[1024];
};

/* Put a frame's u64 LE length at buf. */
static void put_len(char *buf, uint64_t len)
{
    uint64_t le = htole64(len);
    memcpy(buf, &le, 8);
}

static void log_write(void *ctx, int level, const char *line)
{
    struct fixture *f = ctx;
    if (level >= ILU_LOG_WARN)
        snprintf(f->last_warning, sizeof f->last_warning, "%s", line);
    if (level == ILU_LOG_INFO)
        snprintf(f->last_info, sizeof f->last_info, "%s", line);
}

static void on_ready(void *ctx, struct ilu_container *c, const struct ilu_error *err)
{
    struct fixture *f = ctx;
    assert_ptr_equal(c, &f->c);
    f->ready_calls++;
    f->ready_status = err ? err->status : 0;
    snprintf(f->ready_kind, sizeof f->ready_kind, "%s", err ? err->kind : "");
    snprintf(f->ready_msg, sizeof f->ready_msg, "%s", err ? err->msg : "");
}

static void on_invoke_done(void *ctx, struct ilu_container *c, const struct ilu_agent_reply *r)
{
    struct fixture *f = ctx;
    assert_ptr_equal(c, &f->c);
    f->done_calls++;
    f->done_status = r->status;
    const struct ilu_agent_result *res = r->status ? NULL : r->result;
    const char *text = !res ? "" : res->malformed ? res->malformed : res->user_result_json ? res->user_result_json : "";
    snprintf(f->done_result, sizeof f->done_result, "%s", text);
    f->done_duration = res ? res->duration_sec : 0;
    snprintf(f->done_error, sizeof f->done_error, "%s", r->error);
}

static void on_died(void *ctx, struct ilu_container *c, const char *reason)
{
    struct fixture *f = ctx;
    assert_ptr_equal(c, &f->c);
    f->died_calls++;
    snprintf(f->died_reason, sizeof f->died_reason, "%s", reason);
}

static void read_exact(int fd, void *p, size_t n)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    for (size_t got = 0; got < n;) {
        assert_int_equal(poll(&pfd, 1, 2000), 1);
        ssize_t r = read(fd, (char *)p + got, n - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
}

static void write_all(int fd, const void *p, size_t n)
{
    assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* The agent sends one whole reply frame. */
static void agent_reply(int fd, const char *body)
{
    char hdr[8];
    put_len(hdr, strlen(body));
    write_all(fd, hdr, 8);
    write_all(fd, body, strlen(body));
}

/* Run the backend's event loop until one more callback (of any kind) came,
 * or about a second passed. */
static void pump(struct fixture *f)
{
    int before = f->ready_calls + f->done_calls + f->died_calls;
    for (int i = 0; i < 1000 && f->ready_calls + f->done_calls + f->died_calls == before; i++) {
        event_base_loop(f->ob->evb, EVLOOP_NONBLOCK);
        if (f->ready_calls + f->done_calls + f->died_calls == before)
            usleep(1000);
    }
}

/* Run the loop for a moment, expecting nothing to be reported. */
__attribute__((unused)) static void pump_idle(struct fixture *f)
{
    for (int i = 0; i < 20; i++) {
        event_base_loop(f->ob->evb, EVLOOP_NONBLOCK);
        usleep(500);
    }
}

/* Make the fixture into *state: a folder /tmp/ilu-test-<tmp_name>-XXXXXX with
 * its sockets/, a backend whose events come to the fixture, and container
 * ct_id, past its runtime, whose agent socket is connected (its ready check
 * sent) and accepted here (f->agent); ready_reply is what become_ready answers
 * the check with. Returns 0, or -1 on failure. */
static int agent_socket_setup(void **state, const char *tmp_name, const char *ct_id, const char *ready_reply)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ilu-test-%s-XXXXXX", tmp_name);
    if (!mkdtemp(f->dir))
        return -1;
    char sockets[96];
    snprintf(sockets, sizeof sockets, "%s/sockets", f->dir);
    if (mkdir(sockets, 0700))
        return -1;
    f->ready_reply = ready_reply;
    f->env = (struct ilu_env){.ctx = f, .log_write = log_write};
    f->log = (struct ilu_log){.env = &f->env, .min_level = ILU_LOG_DEBUG};
    f->ob = calloc(1, sizeof *f->ob);
    f->ob->evb = event_base_new();
    f->ob->log = &f->log;
    f->ob->max_reply_bytes = MAX_REPLY;
    snprintf(f->ob->runtime_name, sizeof f->ob->runtime_name, "runc");
    f->ob->base.events =
        (struct ilu_backend_events){.ctx = f, .ready = on_ready, .invoke_done = on_invoke_done, .died = on_died};
    f->ct = calloc(1, sizeof *f->ct);
    f->ct->ob = f->ob;
    f->ct->c = &f->c;
    f->ct->sock = -1;
    f->ct->state = OCI_CT_CONNECTING; /* the runtime is done: the ready check's answer makes it ready */
    snprintf(f->ct->id, sizeof f->ct->id, "%s", ct_id);
    snprintf(f->ct->tid, sizeof f->ct->tid, "test-tid");
    snprintf(f->ct->dir, sizeof f->ct->dir, "%s", f->dir);

    struct ilu_error err = {0};
    f->listen_fd = oci_agent_listen(f->ct, &err);
    if (f->listen_fd < 0)
        return -1;
    if (oci_agent_start_connect(f->ct, &err))
        return -1;
    f->agent = accept(f->listen_fd, NULL, NULL);
    if (f->agent < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    oci_agent_close(f->ct);
    oci_agent_loops_stop(f->ob); /* where a test started agent loops */
    free(f->ct->rbuf);
    free(f->ct);
    if (f->agent >= 0)
        close(f->agent);
    close(f->listen_fd);
    event_base_free(f->ob->evb);
    free(f->ob);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* The agent's side of the start: read the ready check, answer it with
 * f->ready_reply, and see the container ready. The ready call is then
 * forgotten (ready_calls back to 0), so a test counts only those after it. */
static void become_ready(struct fixture *f)
{
    uint64_t check[2];
    read_exact(f->agent, check, sizeof check);
    assert_int_equal(le64toh(check[0]), 0); /* command 0: the ready check */
    assert_int_equal(le64toh(check[1]), 0); /* no arguments */
    assert_int_equal(f->ready_calls, 0);
    agent_reply(f->agent, f->ready_reply);
    pump(f);
    assert_int_equal(f->ready_calls, 1);
    assert_int_equal(f->ready_status, 0);
    assert_int_equal(f->ct->state, OCI_CT_READY);
    f->ready_calls = 0;
}

/* A test on the socket: the includer's setup, then this file's teardown. */
#define SOCKET_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

#endif
