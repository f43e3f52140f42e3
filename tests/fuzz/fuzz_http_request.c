/* Fuzz target: raw bytes as an HTTP request to the worker's real API
 * (src/server/http_api.c over evhttp, routing in http_util.c, the worker
 * core behind it) in-process. Each input gets a fresh worker and server; the
 * bytes are written on a Unix socket the server accepts, the write side is
 * shut, and the loop runs until the server closes the connection. The
 * backend answers at once (containers are ready and echo their arguments),
 * so /register, /invoke, /prewarm and async invocations go all the way.
 * Checks: no crash or sanitizer report, the server closes the connection
 * within a bound (no hang), and an answer, when there is one, is HTTP. */
#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "api/agent_codec.h"
#include "core/backend.h"
#include "core/config.h"
#include "worker/worker.h"
#include "os/host_stats.h"
#include "server/http_api.h"
#include "server/live_env.h"

/* ---- a backend whose containers start and answer at once ------------------ */

struct pending_op {
    struct pending_op *next;
    struct ilu_container *c;
    struct ilu_timer *timer;
    char *args; /* NULL: a start */
};

static struct event_base *base;
static struct ilu_live_env le;
static struct ilu_log quiet_log;
static struct pending_op *ops;
static struct ilu_backend fuzz_backend;

static void op_unlink(struct pending_op *op)
{
    for (struct pending_op **p = &ops; *p; p = &(*p)->next)
        if (*p == op) {
            *p = op->next;
            return;
        }
}

static void op_fire(void *arg)
{
    struct pending_op *op = arg;
    op_unlink(op);
    if (!op->args) {
        fuzz_backend.events.ready(fuzz_backend.events.ctx, op->c, NULL);
    } else {
        size_t n = strlen(op->args) + 64;
        char *body = malloc(n);
        snprintf(body, n, "{\"user_result\": %s, \"duration_sec\": 0.0001}", op->args);
        struct ilu_agent_decoded d; /* as the OCI backend decodes its agent's reply */
        ilu_agent_reply_decode(body, strlen(body), &d);
        struct ilu_agent_reply r = {.result = &d.result, .round_trip_us = 10};
        fuzz_backend.events.invoke_done(fuzz_backend.events.ctx, op->c, &r);
        ilu_agent_decoded_release(&d);
        free(body);
    }
    free(op->args);
    free(op);
}

static int op_start(struct ilu_container *c, const char *args, size_t len)
{
    struct pending_op *op = calloc(1, sizeof *op);
    if (!op)
        return -1;
    op->c = c;
    if (args) {
        op->args = strndup(args, len);
        if (!op->args) {
            free(op);
            return -1;
        }
    }
    op->timer = le.env.timer_start(le.env.ctx, 0, op_fire, op);
    op->next = ops;
    ops = op;
    return 0;
}

static int be_check_image(struct ilu_backend *b, const char *image, struct ilu_error *err)
{
    return 0;
}

static int be_create(struct ilu_backend *b, struct ilu_container *c, const char *tid, struct ilu_error *err)
{
    return op_start(c, NULL, 0) ? ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory") : 0;
}

static int be_invoke(struct ilu_backend *b, struct ilu_container *c, const char *tid, const char *args, size_t len,
                     struct ilu_error *err)
{
    return op_start(c, args, len) ? ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory") : 0;
}

static void be_destroy(struct ilu_backend *b, struct ilu_container *c, const char *tid)
{
    for (struct pending_op **p = &ops; *p;) {
        struct pending_op *op = *p;
        if (op->c == c) {
            *p = op->next;
            le.env.timer_cancel(le.env.ctx, op->timer);
            free(op->args);
            free(op);
        } else {
            p = &op->next;
        }
    }
}

static void be_nothing(struct ilu_backend *b) {}

static const struct ilu_backend_ops fuzz_ops = {.name = "fuzz",
                                                .check_image = be_check_image,
                                                .create = be_create,
                                                .invoke = be_invoke,
                                                .destroy = be_destroy,
                                                .shutdown = be_nothing,
                                                .free = be_nothing};
static struct ilu_backend fuzz_backend = {.ops = &fuzz_ops};

/* ---- the server and one connection per input ------------------------------ */

static struct ilu_worker_config cfg;
static struct ilu_host_stats host;

static void setup(void)
{
    base = event_base_new();
    if (!base || ilu_live_env_init(&le, base, NULL, 0))
        abort();
    quiet_log = (struct ilu_log){.env = &le.env, .min_level = ilu_log_level_parse("error")};
    ilu_config_defaults(&cfg);
    cfg.container_resources.cpu_count = 2;
    cfg.container_resources.memory_mb = 1024;
    cfg.invocation.max_queue_len = 16;
    host.online_cpus = 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base)
        setup();
    struct ilu_error err = {0};
    struct ilu_worker *w = ilu_worker_new(&cfg, &le.env, &fuzz_backend, &quiet_log, &err);
    if (!w)
        abort();
    struct ilu_async *async = ilu_async_new(w, &le.env, "fuzz", 1000000, 100000, &err);
    if (!async)
        abort();
    struct ilu_http_api api = {.worker = w,
                               .async = async,
                               .log = &quiet_log,
                               .host = &host,
                               .worker_name = "fuzz",
                               .runtime_name = "none",
                               .max_payload_bytes = cfg.limits.max_payload_bytes,
                               .http_limits = cfg.http};
    /* the daemon's own server on an ephemeral loopback port (loopback
     * TIME_WAIT ports are reused, tcp_tw_reuse's default) */
    if (ilu_http_api_start(&api, base, "127.0.0.1", 0, 0, &err))
        abort();
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(api.port)}; /* the port bound */
    socklen_t sin_len = sizeof sin;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* tens of thousands of loopback connections a minute leave the kernel
     * short of a free 4-tuple now and then (EADDRNOTAVAIL): wait for one
     * rather than report a crash the server did not cause */
    int c = -1;
    for (int attempt = 0; attempt < 200 && c < 0; attempt++) {
        c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c >= 0 && connect(c, (struct sockaddr *)&sin, sin_len) == 0)
            break;
        int saved = errno;
        if (c >= 0)
            close(c);
        c = -1;
        if (saved != EADDRNOTAVAIL && saved != EAGAIN && saved != EINTR) {
            fprintf(stderr, "fuzz_http_request: cannot connect to the API: %s\n", strerror(saved));
            abort();
        }
        poll(NULL, 0, 10);
    }
    if (c < 0) {
        fprintf(stderr, "fuzz_http_request: no free loopback port to connect from for 2 s\n");
        abort();
    }
    fcntl(c, F_SETFL, O_NONBLOCK);
    size_t off = 0, got = 0;
    char answer[16];
    int closed = 0;
    for (int i = 0; i < 4000 && !closed; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (off < size) {
            ssize_t n = write(c, data + off, size - off);
            if (n > 0)
                off += (size_t)n;
            if (off == size)
                shutdown(c, SHUT_WR);
        } else if (off == 0 && size == 0 && i == 0) {
            shutdown(c, SHUT_WR);
        }
        char buf[4096];
        ssize_t n;
        while ((n = read(c, buf, sizeof buf)) > 0) {
            if (got < sizeof answer)
                memcpy(answer + got, buf, (size_t)n < sizeof answer - got ? (size_t)n : sizeof answer - got);
            got += (size_t)n;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            closed = 1;
        else
            poll(&(struct pollfd){.fd = c, .events = POLLIN}, 1, 1);
    }
    if (!closed) {
        fprintf(stderr, "fuzz_http_request: the server kept the connection open\n");
        abort();
    }
    /* "HTTP/": evhttp answers in the request's version, even a bogus 0.0 */
    if (got >= 9 && memcmp(answer, "HTTP/", 5) != 0) {
        fprintf(stderr, "fuzz_http_request: answer does not start with HTTP/: %.16s\n", answer);
        abort();
    }
    close(c);
    /* the daemon's order: drain, stop the API, free the worker */
    for (int i = 0; i < 1000 && (ilu_worker_outstanding(w) || api.open_requests); i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    ilu_http_api_stop(&api);
    ilu_worker_free(w);
    ilu_async_free(async);
    return 0;
}
