/* The I/O loops of src/server/http_io.c, for real: two loops on threads of
 * their own serve one port (SO_REUSEPORT), hand every request to the core
 * loop (this test's main thread) and write the answers it gives back.
 * Checked: every answer arrives, in order, on connections spread over the
 * loops; handlers run on the core loop's thread only; an answer given after
 * its client hung up is dropped without harm (ASan watches); stopping frees
 * everything (LeakSanitizer watches). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/env.h"
#include "core/log.h"
#include "server/http_io.h"
#include "server/http_util.h"

#define CLIENTS  4
#define REQUESTS 50

struct test_api {
    struct event_base *core;
    pthread_t core_thread;
    struct ilu_log log;
    uint16_t port; /* 0 until the first loop has bound one */
    unsigned handled, off_core, late_answers;
    struct ilu_http_exchange *held; /* answered later (the hang-up case) */
    struct event *late;
};

struct loop_server {
    struct test_api *api;
    struct ilu_http_server srv;
    struct ilu_http_io_loop *loop;
    unsigned open;
};

static const struct route {
    struct ilu_http_match match;
} routes[] = {{{"/echo", EVHTTP_REQ_POST, 1}}, {{"/late", EVHTTP_REQ_GET, 0}}};

static void on_request(struct evhttp_request *req, void *arg)
{
    struct loop_server *ls = arg;
    json_t *body = NULL;
    char tid[64];
    uint64_t seq = 0;
    long i = ilu_http_match_route(&ls->srv, req, routes, 2, sizeof routes[0], &ls->api->log, 1, &seq, &body, tid,
                                  sizeof tid);
    if (i < 0)
        return;
    struct ilu_error err = {0};
    struct ilu_http_exchange *ex =
        ilu_http_exchange_new(req, tid, ilu_http_io_open_requests(ls->loop), &ls->api->log, &err);
    assert_non_null(ex);
    ex->route = i;
    ex->body = body;
    ilu_http_io_to_core(ls->loop, ex);
}

static void *serve(void *arg, struct ilu_http_io_loop *loop, struct event_base *base, struct ilu_error *err)
{
    struct test_api *api = arg;
    struct loop_server *ls = calloc(1, sizeof *ls);
    ls->api = api;
    ls->loop = loop;
    struct ilu_http_limits limits;
    ilu_http_limits_defaults(&limits);
    if (ilu_http_server_start(&ls->srv, base, "127.0.0.1", api->port, true, &limits, 4096, &api->log, on_request, ls,
                              err)) {
        free(ls);
        return NULL;
    }
    if (!api->port)
        api->port = ilu_http_server_port(&ls->srv);
    return ls;
}

static void server_free(void *arg)
{
    struct loop_server *ls = arg;
    ilu_http_server_free(&ls->srv);
    free(ls);
}

static void on_late(evutil_socket_t fd, short what, void *arg)
{
    struct test_api *api = arg;
    api->late_answers++;
    ilu_http_answer_json(api->held, 200, json_pack("{s:s}", "late", "yes")); /* its client is gone */
    api->held = NULL;
}

static void handle(void *arg, struct ilu_http_exchange *ex)
{
    struct test_api *api = arg;
    if (!pthread_equal(pthread_self(), api->core_thread))
        api->off_core++;
    api->handled++;
    if (ex->route == 1) { /* /late: answered 100 ms on, after the client closed */
        api->held = ex;
        struct timeval tv = {0, 100000};
        evtimer_add(api->late, &tv);
        return;
    }
    /* answering hands ex to its loop, which frees it: take the body first */
    json_t *body = ex->body;
    ex->body = NULL;
    json_t *n = json_object_get(body, "n");
    ilu_http_answer_json(ex, 200, json_pack("{s:O}", "n", n ? n : json_null()));
    json_decref(body);
}

static const struct ilu_http_io_ops ops = {.serve = serve, .free = server_free, .handle = handle};

/* ---- clients (their own threads, blocking sockets) ---- */

struct client {
    uint16_t port;
    int id, ok;
};

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* One answer's body, read whole (Content-Length), into buf. */
static int read_answer(int fd, char *buf, size_t cap)
{
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, cap - 1 - have);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        buf[have] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        char *cl = strcasestr(buf, "Content-Length:");
        if (end && cl && have >= (size_t)(end + 4 - buf) + (size_t)atoi(cl + 15))
            return 0;
    }
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    int fd = connect_to(c->port);
    char req[256], buf[4096], want[64];
    for (int i = 0; i < REQUESTS; i++) {
        char body[64];
        int blen = snprintf(body, sizeof body, "{\"n\":%d}", c->id * 1000 + i);
        int len = snprintf(req, sizeof req,
                           "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                           "Content-Length: %d\r\n\r\n%s",
                           blen, body);
        if (write(fd, req, (size_t)len) != len || read_answer(fd, buf, sizeof buf))
            break;
        snprintf(want, sizeof want, "\"n\":%d", c->id * 1000 + i);
        if (!strstr(buf, "HTTP/1.1 200") || !strstr(buf, want))
            break;
        c->ok++;
    }
    close(fd);
    return NULL;
}

static void *hang_up_main(void *arg)
{
    struct client *c = arg;
    int fd = connect_to(c->port);
    static const char req[] = "GET /late HTTP/1.1\r\nHost: t\r\n\r\n";
    c->ok = write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1);
    usleep(20000); /* the request reaches the core loop, then we leave */
    close(fd);
    return NULL;
}

struct run {
    struct test_api *api;
    struct client clients[CLIENTS + 1];
};

static void *all_clients(void *arg)
{
    struct run *r = arg;
    pthread_t th[CLIENTS + 1];
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&th[i], NULL, client_main, &r->clients[i]);
    pthread_create(&th[CLIENTS], NULL, hang_up_main, &r->clients[CLIENTS]);
    for (int i = 0; i <= CLIENTS; i++)
        pthread_join(th[i], NULL);
    usleep(200000); /* the late answer is given (and dropped) meanwhile */
    event_base_loopbreak(r->api->core);
    return NULL;
}

static void answers_come_back_from_the_core_loop(void **state)
{
    (void)state;
    assert_int_equal(evthread_use_pthreads(), 0);
    struct ilu_env env = {0};
    struct test_api api = {.log = {.env = &env, .min_level = ILU_LOG_ERROR}};
    api.core = event_base_new();
    api.core_thread = pthread_self();
    api.late = evtimer_new(api.core, on_late, &api);
    struct ilu_error err = {0};
    struct ilu_http_io *io = ilu_http_io_start(api.core, 2, &ops, &api, &err);
    assert_non_null(io);
    assert_int_not_equal(api.port, 0);

    struct run r = {.api = &api};
    for (int i = 0; i <= CLIENTS; i++)
        r.clients[i] = (struct client){.port = api.port, .id = i};
    pthread_t driver;
    pthread_create(&driver, NULL, all_clients, &r);
    event_base_loop(api.core, EVLOOP_NO_EXIT_ON_EMPTY); /* until the driver breaks it */
    pthread_join(driver, NULL);

    for (int i = 0; i < CLIENTS; i++)
        assert_int_equal(r.clients[i].ok, REQUESTS);
    assert_int_equal(r.clients[CLIENTS].ok, 1);
    assert_int_equal(api.handled, CLIENTS * REQUESTS + 1);
    assert_int_equal(api.off_core, 0);
    assert_int_equal(api.late_answers, 1);
    ilu_http_io_stop(io);
    event_free(api.late);
    event_base_free(api.core);
}

/* A loop that cannot serve (the port is taken by a plain listener) stops
 * the start with the server's error; nothing is left running. */
static void a_loop_that_cannot_bind_fails_the_start(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    struct ilu_env env = {0};
    struct test_api api = {.log = {.env = &env, .min_level = ILU_LOG_ERROR}, .port = ntohs(sa.sin_port)};
    api.core = event_base_new();
    struct ilu_error err = {0};
    assert_null(ilu_http_io_start(api.core, 2, &ops, &api, &err));
    assert_non_null(strstr(err.msg, "cannot listen"));
    close(fd);
    event_base_free(api.core);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answers_come_back_from_the_core_loop),
        cmocka_unit_test(a_loop_that_cannot_bind_fails_the_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
