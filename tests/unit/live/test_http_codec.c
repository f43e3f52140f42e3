/* The HTTP helpers of the worker's and the controller's APIs
 * (src/server/http_util.c). First what needs no socket: request bodies,
 * transaction ids and fields, on requests made with evhttp_request_new.
 * Then the answers, from a real ilu_http_server on 127.0.0.1 (ephemeral
 * port) with a two-route table, spoken to over a plain socket: the JSON
 * error format of docs/api.md, the routing errors and the body limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/env.h"
#include "core/log.h"
#include "server/http_util.h"

#define MAX_BODY 1024

/* ---- requests without a connection ---- */

static struct evhttp_request *request(const char *tid_header, const char *body)
{
    struct evhttp_request *req = evhttp_request_new(NULL, NULL);
    assert_non_null(req);
    if (tid_header)
        evhttp_add_header(evhttp_request_get_input_headers(req), "X-Transaction-Id", tid_header);
    if (body)
        evbuffer_add(evhttp_request_get_input_buffer(req), body, strlen(body));
    return req;
}

static void body_must_be_a_json_object(void **state)
{
    (void)state;
    struct {
        const char *body, *error; /* error NULL: accepted */
    } cases[] = {
        {NULL, "the request needs a JSON object body"},
        {"{\"a\":", "malformed JSON at line 1 column 5"},
        {"[1, 2]", "the body must be a JSON object"},
        {"\"text\"", "malformed JSON"}, /* jansson's default: no bare values */
        {"{\"a\": 1}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct evhttp_request *req = request(NULL, cases[i].body);
        struct ilu_error err = {0};
        json_t *body = ilu_http_read_body(req, &err);
        if (cases[i].error) {
            assert_null(body);
            assert_int_equal(err.status, ILU_ST_BAD_REQUEST);
            assert_string_equal(err.kind, "bad_request");
            assert_non_null(strstr(err.msg, cases[i].error));
        } else {
            assert_non_null(body);
            assert_int_equal(json_integer_value(json_object_get(body, "a")), 1);
            json_decref(body);
        }
        evhttp_request_free(req);
    }
}

static void tid_from_header_then_body_then_new(void **state)
{
    (void)state;
    uint64_t seq = 0;
    char tid[64];
    struct ilu_error err = {0};
    json_t *body = json_pack("{s:s}", "transaction_id", "from-body");

    struct evhttp_request *req = request("from-header", NULL);
    assert_int_equal(ilu_http_make_tid(req, body, 0xab, &seq, tid, sizeof tid, &err), 0);
    assert_string_equal(tid, "from-header"); /* the header wins */
    evhttp_request_free(req);

    req = request(NULL, NULL);
    assert_int_equal(ilu_http_make_tid(req, body, 0xab, &seq, tid, sizeof tid, &err), 0);
    assert_string_equal(tid, "from-body");
    assert_int_equal(seq, 0); /* no id made */
    assert_int_equal(ilu_http_make_tid(req, NULL, 0xab, &seq, tid, sizeof tid, &err), 0);
    assert_string_equal(tid, "00000000000000ab0000000000000001");
    json_t *null_tid = json_pack("{s:n}", "transaction_id");
    assert_int_equal(ilu_http_make_tid(req, null_tid, 0xab, &seq, tid, sizeof tid, &err), 0);
    assert_string_equal(tid, "00000000000000ab0000000000000002"); /* null: as if absent */
    json_decref(null_tid);
    evhttp_request_free(req);
    json_decref(body);
}

static void bad_tid_is_refused_and_replaced(void **state)
{
    (void)state;
    uint64_t seq = 6;
    char tid[64];
    char long_tid[80];
    memset(long_tid, 'x', 64);
    long_tid[64] = 0;
    struct {
        const char *header;
        json_t *body;
        const char *msg;
    } cases[] = {
        {"has space", NULL, "the transaction id (header X-Transaction-Id) has a byte that is not printable ASCII"},
        {long_tid, NULL, "the transaction id (header X-Transaction-Id) is longer than 63 bytes"},
        {NULL, json_pack("{s:i}", "transaction_id", 7), "the transaction id (field transaction_id) is not a string"},
        {NULL, json_pack("{s:s}", "transaction_id", ""), "the transaction id (field transaction_id) is empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct evhttp_request *req = request(cases[i].header, NULL);
        struct ilu_error err = {0};
        assert_int_equal(ilu_http_make_tid(req, cases[i].body, 1, &seq, tid, sizeof tid, &err), -1);
        assert_int_equal(err.status, ILU_ST_BAD_REQUEST);
        assert_non_null(strstr(err.msg, cases[i].msg));
        /* a fresh id for the error answer, never the bad one */
        char want[64];
        snprintf(want, sizeof want, "%016x%016llx", 1, (unsigned long long)seq);
        assert_string_equal(tid, want);
        evhttp_request_free(req);
        json_decref(cases[i].body);
    }
    assert_int_equal(seq, 10);
}

static void string_fields_are_required_and_non_empty(void **state)
{
    (void)state;
    json_t *body = json_pack("{s:s, s:s, s:i}", "name", "hello", "empty", "", "number", 3);
    const char *out = NULL;
    struct ilu_error err = {0};
    assert_int_equal(ilu_http_get_string(body, "name", &out, &err), 0);
    assert_string_equal(out, "hello");
    const char *bad[] = {"empty", "number", "missing"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ilu_http_get_string(body, bad[i], &out, &err), -1);
        assert_int_equal(err.status, ILU_ST_BAD_REQUEST);
        char want[128];
        snprintf(want, sizeof want, "field %s is required and must be a non-empty string", bad[i]);
        assert_string_equal(err.msg, want);
    }
    json_decref(body);
}

static void numbers_are_json_integers_only(void **state)
{
    (void)state;
    json_t *body = json_pack("{s:i, s:i, s:s, s:f, s:I, s:b}", "memory", 128, "zero", 0, "text", "128", "real", 128.0,
                             "huge", (json_int_t)UINT32_MAX + 1, "flag", 1);
    json_object_set_new(body, "negative", json_integer(-1));
    uint32_t v = 0;
    struct ilu_error err = {0};
    assert_int_equal(ilu_http_get_u32(body, "memory", 7, &v, &err), 0);
    assert_int_equal(v, 128);
    assert_int_equal(ilu_http_get_u32(body, "zero", 7, &v, &err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(ilu_http_get_u32(body, "missing", 7, &v, &err), 0);
    assert_int_equal(v, 7); /* the default */
    const char *bad[] = {"text", "real", "huge", "flag", "negative"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(ilu_http_get_u32(body, bad[i], 7, &v, &err), -1);
        assert_int_equal(err.status, ILU_ST_BAD_REQUEST);
        assert_non_null(strstr(err.msg, bad[i])); /* names the field */
    }
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_http_get_u32(body, "missing", UINT32_MAX, &v, &err), -1); /* required */
    assert_int_equal(err.status, ILU_ST_BAD_REQUEST);
    json_decref(body);
}

/* ---- a real server on 127.0.0.1 ---- */

struct route {
    struct ilu_http_match m;
    const char *name;
};

static const struct route routes[] = {
    {{"/ping", EVHTTP_REQ_GET, 0}, "ping"},
    {{"/echo", EVHTTP_REQ_POST, 1}, "echo"},
};

struct server {
    struct event_base *base;
    struct ilu_env env;
    struct ilu_log log;
    struct ilu_http_server srv;
    uint64_t tid_seq;
    uint16_t port;
    int warnings;
};

static void log_write(void *ctx, int level, const char *line)
{
    struct server *s = ctx;
    s->warnings += level >= ILU_LOG_WARN;
}

/* The API: /ping answers {"success":true}; /echo answers name and memory
 * from its body, or the field's error. */
static void on_request(struct evhttp_request *req, void *arg)
{
    struct server *s = arg;
    json_t *body = NULL;
    char tid[64];
    long i = ilu_http_match_route(&s->srv, req, routes, sizeof routes / sizeof routes[0], sizeof routes[0], &s->log,
                                  0x42, &s->tid_seq, &body, tid, sizeof tid);
    if (i < 0)
        return; /* answered */
    if (i == 0) {
        ilu_http_send_json(req, 200, json_pack("{s:b}", "success", 1), tid);
        return;
    }
    const char *name;
    uint32_t memory;
    struct ilu_error err = {0};
    if (ilu_http_get_string(body, "name", &name, &err) || ilu_http_get_u32(body, "memory", 128, &memory, &err))
        ilu_http_send_error(&s->log, req, &err, tid);
    else
        ilu_http_send_json(req, 200, json_pack("{s:b, s:s, s:i}", "success", 1, "name", name, "memory", (int)memory),
                           tid);
    json_decref(body);
}

static int server_setup(void **state)
{
    struct server *s = calloc(1, sizeof *s);
    s->base = event_base_new();
    s->env = (struct ilu_env){.ctx = s, .log_write = log_write};
    s->log = (struct ilu_log){.env = &s->env, .min_level = ILU_LOG_WARN};
    struct ilu_http_limits limits;
    ilu_http_limits_defaults(&limits);
    limits.max_headers = 16;
    struct ilu_error err = {0};
    if (ilu_http_server_start(&s->srv, s->base, "127.0.0.1", 0, false, &limits, MAX_BODY, &s->log, on_request, s,
                              &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (getsockname(evhttp_bound_socket_get_fd(s->srv.bound), (struct sockaddr *)&sa, &len))
        return -1;
    s->port = ntohs(sa.sin_port);
    *state = s;
    return 0;
}

static int server_teardown(void **state)
{
    struct server *s = *state;
    ilu_http_server_free(&s->srv);
    event_base_free(s->base);
    free(s);
    return 0;
}

struct answer {
    int status;
    char headers[2048];
    json_t *json; /* the body, decoded */
    char body[4096];
};

static const char *header_of(const struct answer *a, const char *name)
{
    static char value[256];
    size_t n = strlen(name);
    for (const char *l = strstr(a->headers, "\r\n"); l; l = strstr(l + 2, "\r\n"))
        if (strncasecmp(l + 2, name, n) == 0 && l[2 + n] == ':') {
            const char *v = l + 3 + n + strspn(l + 3 + n, " ");
            snprintf(value, sizeof value, "%.*s", (int)strcspn(v, "\r"), v);
            return value;
        }
    return NULL;
}

/* Send raw request bytes on a new connection, run the server's loop until
 * the whole answer (headers + Content-Length) is in; the answer's status
 * is 0 when none came within 3 s. */
static void exchange(struct server *s, const char *raw, size_t len, struct answer *a)
{
    memset(a, 0, sizeof *a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(s->port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    size_t sent = 0;
    static char buf[65536];
    size_t have = 0;
    for (int i = 0; i < 3000; i++) {
        if (sent < len) {
            ssize_t n = send(fd, raw + sent, len - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
        }
        event_base_loop(s->base, EVLOOP_NONBLOCK);
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (n > 0) {
            have += (size_t)n;
            buf[have] = 0;
            char *hend = strstr(buf, "\r\n\r\n");
            if (hend) {
                snprintf(a->headers, sizeof a->headers, "%.*s", (int)(hend + 2 - buf), buf);
                const char *cl = header_of(a, "Content-Length");
                size_t want = (size_t)(hend + 4 - buf) + (cl ? strtoul(cl, NULL, 10) : 0);
                if (have >= want) {
                    a->status = atoi(buf + 9);
                    snprintf(a->body, sizeof a->body, "%s", hend + 4);
                    break;
                }
            }
        } else if (n == 0) {
            break;
        } else {
            usleep(1000);
        }
    }
    close(fd);
    event_base_loop(s->base, EVLOOP_NONBLOCK); /* let the server see the close */
    json_error_t jerr;
    a->json = a->body[0] ? json_loads(a->body, 0, &jerr) : NULL;
}

static void post(struct server *s, const char *path, const char *extra_headers, const char *body, struct answer *a)
{
    char raw[8192];
    int n = snprintf(raw, sizeof raw,
                     "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n%s",
                     path, extra_headers, strlen(body), body);
    exchange(s, raw, (size_t)n, a);
}

/* The error format of docs/api.md: success false, a sentence, a kind, the
 * transaction id in the body and in X-Transaction-Id, JSON content type. */
static void assert_error_answer(const struct answer *a, int status, const char *kind, const char *msg)
{
    assert_int_equal(a->status, status);
    assert_non_null(a->json);
    assert_true(json_is_false(json_object_get(a->json, "success")));
    assert_string_equal(json_string_value(json_object_get(a->json, "error_kind")), kind);
    const char *error = json_string_value(json_object_get(a->json, "error"));
    assert_non_null(error);
    if (!strstr(error, msg))
        fail_msg("error \"%s\" does not say \"%s\"", error, msg);
    const char *tid = json_string_value(json_object_get(a->json, "transaction_id"));
    assert_non_null(tid);
    const char *header = header_of(a, "X-Transaction-Id");
    assert_non_null(header);
    assert_string_equal(header, tid);
    assert_string_equal(header_of(a, "Content-Type"), "application/json");
}

static void answer_is_json_with_the_tid(void **state)
{
    struct server *s = *state;
    struct answer a;
    const char *get = "GET /ping HTTP/1.1\r\nHost: x\r\nX-Transaction-Id: abc-1\r\n\r\n";
    exchange(s, get, strlen(get), &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(header_of(&a, "Content-Type"), "application/json");
    assert_string_equal(header_of(&a, "X-Transaction-Id"), "abc-1");
    assert_true(json_is_true(json_object_get(a.json, "success")));
    assert_string_equal(json_string_value(json_object_get(a.json, "transaction_id")), "abc-1");
    json_decref(a.json);

    post(s, "/echo", "", "{\"name\":\"hello\",\"transaction_id\":\"body-tid\"}", &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(json_string_value(json_object_get(a.json, "name")), "hello");
    assert_int_equal(json_integer_value(json_object_get(a.json, "memory")), 128);
    assert_string_equal(header_of(&a, "X-Transaction-Id"), "body-tid");
    json_decref(a.json);
    assert_int_equal(s->warnings, 0);
}

static void routing_errors(void **state)
{
    struct server *s = *state;
    struct answer a;
    const char *nope = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
    exchange(s, nope, strlen(nope), &a);
    assert_error_answer(&a, 404, "not_found", "no such endpoint: /nope");
    json_decref(a.json);

    const char *get_echo = "GET /echo?x=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    exchange(s, get_echo, strlen(get_echo), &a);
    assert_error_answer(&a, 405, "bad_method", "method not allowed for /echo");
    json_decref(a.json);

    const char *brew = "BREW /ping HTTP/1.1\r\nHost: x\r\n\r\n";
    exchange(s, brew, strlen(brew), &a);
    assert_error_answer(&a, 405, "bad_method", "unknown method");
    assert_string_equal(header_of(&a, "Connection"), "close");
    json_decref(a.json);
    assert_true(s->warnings >= 3); /* each failed request is logged */
}

static void body_and_field_errors(void **state)
{
    struct server *s = *state;
    struct answer a;
    struct {
        const char *body;
        const char *msg;
    } cases[] = {
        {"{\"name\":", "malformed JSON at line 1"},
        {"[\"name\"]", "the body must be a JSON object"},
        {"{\"memory\":64}", "field name is required and must be a non-empty string"},
        {"{\"name\":\"f\",\"memory\":\"64\"}", "memory"},
        {"{\"name\":\"f\",\"transaction_id\":\"a b\"}", "the transaction id (field transaction_id)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        post(s, "/echo", "", cases[i].body, &a);
        assert_error_answer(&a, 400, "bad_request", cases[i].msg);
        json_decref(a.json);
    }
}

static void bad_tid_header_gets_a_fresh_one(void **state)
{
    struct server *s = *state;
    struct answer a;
    post(s, "/echo", "X-Transaction-Id: a b\r\n", "{\"name\":\"f\"}", &a);
    assert_error_answer(&a, 400, "bad_request", "the transaction id (header X-Transaction-Id)");
    const char *tid = header_of(&a, "X-Transaction-Id");
    assert_int_equal(strlen(tid), 32); /* seed and sequence, in hex */
    assert_int_equal(strspn(tid, "0123456789abcdef"), 32);
    json_decref(a.json);
}

static void ambiguous_framing_is_refused_and_closed(void **state)
{
    struct server *s = *state;
    struct answer a;
    const char *twice = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}";
    exchange(s, twice, strlen(twice), &a);
    /* evhttp itself may refuse it first (its HTML answer is rewritten to JSON) */
    assert_int_equal(a.status, 400);
    assert_non_null(a.json);
    assert_true(json_is_false(json_object_get(a.json, "success")));
    assert_string_equal(header_of(&a, "Connection"), "close");
    json_decref(a.json);
}

static void body_over_the_limit_is_413_json(void **state)
{
    struct server *s = *state;
    struct answer a;
    char *big = malloc(MAX_BODY + 64);
    int n = snprintf(big, MAX_BODY + 64, "{\"name\":\"");
    memset(big + n, 'x', MAX_BODY);
    snprintf(big + n + MAX_BODY, 16, "\"}"); /* MAX_BODY + 11 bytes */
    post(s, "/echo", "", big, &a);
    free(big);
    assert_error_answer(&a, 413, "too_large", "the request body is over the server's limit");
    json_decref(a.json);
}

static void too_many_headers_is_431(void **state)
{
    struct server *s = *state;
    char raw[2048];
    int n = snprintf(raw, sizeof raw, "GET /ping HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 20; i++)
        n += snprintf(raw + n, sizeof raw - (size_t)n, "X-H%d: v\r\n", i);
    n += snprintf(raw + n, sizeof raw - (size_t)n, "\r\n");
    struct answer a;
    exchange(s, raw, (size_t)n, &a);
    assert_error_answer(&a, 431, "too_large", "over the limit of 16");
    json_decref(a.json);
}

#define SERVER_TEST(t) cmocka_unit_test_setup_teardown(t, server_setup, server_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(body_must_be_a_json_object),
        cmocka_unit_test(tid_from_header_then_body_then_new),
        cmocka_unit_test(bad_tid_is_refused_and_replaced),
        cmocka_unit_test(string_fields_are_required_and_non_empty),
        cmocka_unit_test(numbers_are_json_integers_only),
        SERVER_TEST(answer_is_json_with_the_tid),
        SERVER_TEST(routing_errors),
        SERVER_TEST(body_and_field_errors),
        SERVER_TEST(bad_tid_header_gets_a_fresh_one),
        SERVER_TEST(ambiguous_framing_is_refused_and_closed),
        SERVER_TEST(body_over_the_limit_is_413_json),
        SERVER_TEST(too_many_headers_is_431),
    };
    return cmocka_run_group_tests_name("http_codec", tests, NULL, NULL);
}
