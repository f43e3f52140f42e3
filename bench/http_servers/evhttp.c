/* bench/http_servers.sh: libevent's evhttp as the worker uses it (an event
 * base with EPOLL_USE_CHANGELIST, evhttp_set_gencb, a fresh evbuffer per
 * answer handed to evhttp_send_reply). Answers POST /invoke with a fixed JSON
 * body; anything else gets 404. Usage: evhttp PORT (127.0.0.1). Prints only
 * errors. Not product code: not built by the top-level Makefile. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define BODY "{\"success\":true,\"user_result\":\"{}\"}"

static void on_request(struct evhttp_request *req, void *arg)
{
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST || strcmp(evhttp_request_get_uri(req), "/invoke") != 0) {
        evhttp_send_error(req, HTTP_NOTFOUND, NULL);
        return;
    }
    /* evhttp has read the whole body before calling us; drop it */
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    evbuffer_drain(in, evbuffer_get_length(in));
    struct evbuffer *buf = evbuffer_new();
    if (!buf) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evbuffer_add(buf, BODY, sizeof BODY - 1);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, HTTP_OK, "OK", buf);
    evbuffer_free(buf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return 1;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http) {
        fprintf(stderr, "evhttp: cannot create the event base or evhttp\n");
        return 1;
    }
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_gencb(http, on_request, NULL);
    if (!evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)atoi(argv[1]))) {
        fprintf(stderr, "evhttp: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    event_base_dispatch(base);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
