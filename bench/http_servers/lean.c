/* bench/http_servers.sh: a lean HTTP/1.1 server on libevent bufferevents and
 * nodejs' http-parser (Debian's libhttp-parser): one bufferevent and one
 * parser per connection; the parser is fed what has arrived, and each
 * complete message (on_message_complete, body read in full) is answered with
 * one preformatted response through bufferevent_write. POST /invoke gets the
 * fixed JSON body, anything else 404. Usage: lean PORT (127.0.0.1). Prints
 * only errors. Not product code: not built by the top-level Makefile. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <http_parser.h>

#define BODY "{\"success\":true,\"user_result\":\"{}\"}"
#define PATH "/invoke"

struct lean_conn {
    struct bufferevent *bev;
    http_parser parser;
    char url[sizeof PATH];
    size_t url_len; /* may exceed sizeof url: then it is not PATH */
    bool close_after;
};

/* The 200 and 404 answers, with a Date header rebuilt once a second (RFC 9110
 * asks an origin server with a clock to send one; evhttp and h2o do). */
static char answer_ok[256], answer_404[256];
static size_t answer_ok_len, answer_404_len;
static time_t answer_sec = -1;

static void answers_refresh(void)
{
    time_t now = time(NULL);
    if (now == answer_sec)
        return;
    char date[64];
    struct tm tm;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
    answer_ok_len = (size_t)snprintf(answer_ok, sizeof answer_ok,
                                     "HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Type: application/json\r\n"
                                     "Content-Length: %zu\r\n\r\n" BODY,
                                     date, sizeof BODY - 1);
    answer_404_len = (size_t)snprintf(answer_404, sizeof answer_404,
                                      "HTTP/1.1 404 Not Found\r\nDate: %s\r\nContent-Length: 0\r\n\r\n", date);
    answer_sec = now;
}

static void conn_free(struct lean_conn *c)
{
    bufferevent_free(c->bev);
    free(c);
}

static int on_message_begin(http_parser *p)
{
    struct lean_conn *c = p->data;
    c->url_len = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct lean_conn *c = p->data;
    if (c->url_len + len <= sizeof c->url)
        memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct lean_conn *c = p->data;
    answers_refresh();
    bool ok = p->method == HTTP_POST && c->url_len == sizeof PATH - 1 && memcmp(c->url, PATH, sizeof PATH - 1) == 0;
    if (ok)
        bufferevent_write(c->bev, answer_ok, answer_ok_len);
    else
        bufferevent_write(c->bev, answer_404, answer_404_len);
    if (!http_should_keep_alive(p))
        c->close_after = true;
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_message_complete = on_message_complete,
};

static void on_write(struct bufferevent *bev, void *arg)
{
    /* only set once the connection is to close: the last answer has left */
    conn_free(arg);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct lean_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_iovec v[8];
    while (evbuffer_get_length(in) > 0 && !c->close_after) {
        int n = evbuffer_peek(in, -1, NULL, v, 8);
        size_t used = 0;
        for (int i = 0; i < n && i < 8 && !c->close_after; i++) {
            size_t got = http_parser_execute(&c->parser, &parser_settings, v[i].iov_base, v[i].iov_len);
            used += got;
            if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || c->parser.upgrade) {
                conn_free(c); /* not HTTP/1.1 we answer: drop the connection */
                return;
            }
        }
        evbuffer_drain(in, used);
    }
    if (c->close_after) {
        bufferevent_disable(bev, EV_READ);
        bufferevent_setcb(bev, NULL, on_write, NULL, c);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        conn_free(arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct event_base *base = arg;
    struct lean_conn *c = calloc(1, sizeof *c);
    struct bufferevent *bev = c ? bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        fprintf(stderr, "lean: out of memory for a connection\n");
        evutil_closesocket(fd);
        free(c);
        return;
    }
    c->bev = bev;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    bufferevent_setcb(bev, on_read, NULL, on_event, c);
    bufferevent_enable(bev, EV_READ);
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
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST); /* as the worker's loops */
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base) {
        fprintf(stderr, "lean: cannot create the event base\n");
        return 1;
    }
    struct sockaddr_in addr = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct evconnlistener *l = evconnlistener_new_bind(base, on_accept, base, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                                       -1, (struct sockaddr *)&addr, sizeof addr);
    if (!l) {
        fprintf(stderr, "lean: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    event_base_dispatch(base);
    evconnlistener_free(l);
    event_base_free(base);
    return 0;
}
