/* Benchmark fixture: the relay floor. What any process standing between a
 * client and the next hop must pay per request, with nothing else: one
 * thread, one epoll loop (as the daemons' event loops), non-blocking
 * sockets. Per request it reads the client's HTTP request (framed by
 * counting bytes, http_floor.h), writes one request upstream in one write,
 * reads the upstream's reply, and writes one HTTP answer in one call: the
 * minimal syscall pattern of a relay (epoll_wait, read, write, epoll_wait,
 * read, write) and its four wake-ups (being woken twice, waking the next
 * hop and the client). No HTTP library, no JSON, no validation beyond
 * framing: not product code.
 *
 * Two upstreams:
 *  - agents (relay_floor_start_agents): the worker's hop. Connection k, in
 *    the order clients connect, speaks the agent protocol (invoke, args
 *    "{}") to the k-th given agent socket; the answer carries the agent's
 *    reply as {"success":true,"reply":<reply>}.
 *  - HTTP (relay_floor_start_http): the controller's hop. Each client
 *    connection gets its own keep-alive connection to host:port; requests
 *    and answers are forwarded as bytes.
 *
 * Header-only (static functions) because the Makefile builds every .c file
 * in bench/ into its own binary. */
#ifndef BENCH_RELAY_FLOOR_H
#define BENCH_RELAY_FLOOR_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http_floor.h"

#define RELAY_MAX_CONN 8
#define RELAY_IN       16384
#define RELAY_REPLY    65536

struct relay_conn {
    int cfd, ufd; /* client, upstream */
    char in[RELAY_IN];
    size_t have;
    char reply[RELAY_REPLY];
    size_t rhave;
    bool upstream_busy; /* a request went upstream, its reply is not all in yet */
};

struct relay_floor {
    bool http; /* upstream: HTTP at up_addr, else the agents in conn[].ufd */
    struct sockaddr_in up_addr;
    int lfd, efd, stopfd, port, n_agents, n_conns;
    struct relay_conn *conn; /* RELAY_MAX_CONN */
    pthread_t thread;
    bool running;
};

enum { RELAY_TAG_LISTEN = 1, RELAY_TAG_STOP = 2, RELAY_TAG_CLIENT = 0x100, RELAY_TAG_UP = 0x200 };

static inline void relay_close_client(struct relay_floor *r, struct relay_conn *c)
{
    if (c->cfd >= 0) {
        epoll_ctl(r->efd, EPOLL_CTL_DEL, c->cfd, NULL);
        close(c->cfd);
        c->cfd = -1;
    }
}

/* Send the next whole request upstream, if one is in and none is out. */
static inline void relay_forward(struct relay_floor *r, struct relay_conn *c)
{
    size_t n = c->upstream_busy ? 0 : hf_request_len(c->in, c->have);
    if (!n || n == (size_t)-1)
        return;
    bool sent;
    if (r->http) {
        sent = write(c->ufd, c->in, n) == (ssize_t)n;
    } else {
        unsigned char req[16 + 2];
        uint64_t cmd = 1, len = 2; /* little-endian host (x86) */
        memcpy(req, &cmd, 8);
        memcpy(req + 8, &len, 8);
        memcpy(req + 16, "{}", 2);
        sent = write(c->ufd, req, sizeof req) == (ssize_t)sizeof req;
    }
    if (!sent) {
        relay_close_client(r, c);
        return;
    }
    memmove(c->in, c->in + n, c->have - n);
    c->have -= n;
    c->upstream_busy = true;
    c->rhave = 0;
}

static inline void relay_on_client(struct relay_floor *r, struct relay_conn *c)
{
    ssize_t n = read(c->cfd, c->in + c->have, sizeof c->in - c->have);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0 || (c->have += (size_t)n) == sizeof c->in) {
        relay_close_client(r, c);
        return;
    }
    relay_forward(r, c);
}

/* The whole reply is in: answer the client (true), or not yet (false). */
static inline bool relay_answer(struct relay_floor *r, struct relay_conn *c)
{
    if (r->http) {
        size_t m = hf_request_len(c->reply, c->rhave); /* an answer frames like a request */
        if (!m || m == (size_t)-1)
            return false;
        if (c->cfd >= 0 && write(c->cfd, c->reply, m) != (ssize_t)m) /* a few hundred bytes: one call */
            relay_close_client(r, c);
        return true;
    }
    uint64_t len;
    if (c->rhave < 8 || (memcpy(&len, c->reply, 8), c->rhave < 8 + len))
        return false; /* more to come (a reply over RELAY_REPLY is not a benchmark's) */
    static const char pre[] = "{\"success\":true,\"reply\":", post[] = "}";
    char head[160];
    int hl =
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                 sizeof pre - 1 + (size_t)len + sizeof post - 1);
    struct iovec iov[4] = {{head, (size_t)hl},
                           {(void *)pre, sizeof pre - 1},
                           {c->reply + 8, (size_t)len},
                           {(void *)post, sizeof post - 1}};
    if (c->cfd >= 0 && writev(c->cfd, iov, 4) < 0)
        relay_close_client(r, c);
    return true;
}

static inline void relay_on_upstream(struct relay_floor *r, struct relay_conn *c)
{
    ssize_t n = read(c->ufd, c->reply + c->rhave, sizeof c->reply - c->rhave);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        epoll_ctl(r->efd, EPOLL_CTL_DEL, c->ufd, NULL);
        relay_close_client(r, c);
        return;
    }
    c->rhave += (size_t)n;
    if (!relay_answer(r, c))
        return;
    c->upstream_busy = false;
    if (c->cfd >= 0)
        relay_forward(r, c);
}

static inline int relay_nonblock_add(struct relay_floor *r, int fd, uint32_t tag)
{
    int one = 1;
    ioctl(fd, FIONBIO, &one);
    return epoll_ctl(r->efd, EPOLL_CTL_ADD, fd, &(struct epoll_event){.events = EPOLLIN, .data.u32 = tag});
}

static inline void relay_accept(struct relay_floor *r)
{
    int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    int k = r->n_conns;
    if (k == RELAY_MAX_CONN || (!r->http && k == r->n_agents)) { /* one connection per agent */
        close(fd);
        return;
    }
    struct relay_conn *c = &r->conn[k];
    if (r->http) {
        c->ufd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->ufd < 0 || connect(c->ufd, (struct sockaddr *)&r->up_addr, sizeof r->up_addr) != 0 ||
            relay_nonblock_add(r, c->ufd, RELAY_TAG_UP | (uint32_t)k) != 0) {
            if (c->ufd >= 0)
                close(c->ufd);
            c->ufd = -1;
            close(fd);
            return;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (r->http)
        setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->cfd = fd;
    r->n_conns++;
    epoll_ctl(r->efd, EPOLL_CTL_ADD, fd,
              &(struct epoll_event){.events = EPOLLIN, .data.u32 = RELAY_TAG_CLIENT | (uint32_t)k});
}

static inline void *relay_run(void *arg)
{
    struct relay_floor *r = arg;
    struct epoll_event ev[8];
    for (;;) {
        int n = epoll_wait(r->efd, ev, 8, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return NULL;
        for (int i = 0; i < n; i++) {
            uint32_t tag = ev[i].data.u32;
            if (tag == RELAY_TAG_STOP)
                return NULL;
            if (tag == RELAY_TAG_LISTEN)
                relay_accept(r);
            else if ((tag & RELAY_TAG_CLIENT) && r->conn[tag & 0xff].cfd >= 0)
                relay_on_client(r, &r->conn[tag & 0xff]);
            else if (tag & RELAY_TAG_UP)
                relay_on_upstream(r, &r->conn[tag & 0xff]);
        }
    }
}

/* Listen on 127.0.0.1 (an ephemeral port, in r->port) and start the thread;
 * 0, or -1 on failure. */
static inline int relay_listen_and_run(struct relay_floor *r)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if ((r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
        bind(r->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(r->lfd, 16) != 0 ||
        getsockname(r->lfd, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    r->port = ntohs(sa.sin_port);
    epoll_ctl(r->efd, EPOLL_CTL_ADD, r->lfd, &(struct epoll_event){.events = EPOLLIN, .data.u32 = RELAY_TAG_LISTEN});
    epoll_ctl(r->efd, EPOLL_CTL_ADD, r->stopfd, &(struct epoll_event){.events = EPOLLIN, .data.u32 = RELAY_TAG_STOP});
    if (pthread_create(&r->thread, NULL, relay_run, r) != 0)
        return -1;
    r->running = true;
    return 0;
}

static inline int relay_init(struct relay_floor *r)
{
    memset(r, 0, sizeof *r);
    r->lfd = r->efd = r->stopfd = -1;
    if (!(r->conn = calloc(RELAY_MAX_CONN, sizeof *r->conn)))
        return -1;
    for (int k = 0; k < RELAY_MAX_CONN; k++)
        r->conn[k].cfd = r->conn[k].ufd = -1;
    return (r->efd = epoll_create1(EPOLL_CLOEXEC)) < 0 || (r->stopfd = eventfd(0, EFD_CLOEXEC)) < 0 ? -1 : 0;
}

/* The worker's hop: client connection k relays to agent_fds[k] (connected
 * agent sockets, n <= RELAY_MAX_CONN; the relay takes them over). */
static inline int relay_floor_start_agents(struct relay_floor *r, const int *agent_fds, int n)
{
    if (relay_init(r) != 0 || n > RELAY_MAX_CONN)
        return -1;
    for (int k = 0; k < n; k++) {
        r->conn[k].ufd = agent_fds[k];
        if (relay_nonblock_add(r, agent_fds[k], RELAY_TAG_UP | (uint32_t)k) != 0)
            return -1;
    }
    r->n_agents = n;
    return relay_listen_and_run(r);
}

/* The controller's hop: each client connection relays to its own
 * connection to host (numeric IPv4):port. */
static inline int relay_floor_start_http(struct relay_floor *r, const char *host, int port)
{
    if (relay_init(r) != 0)
        return -1;
    r->http = true;
    r->up_addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &r->up_addr.sin_addr) != 1)
        return -1;
    return relay_listen_and_run(r);
}

/* On-CPU time of the relay's thread so far (ns). */
static inline uint64_t relay_floor_cpu_ns(struct relay_floor *r)
{
    clockid_t cid;
    struct timespec ts;
    if (!r->running || pthread_getcpuclockid(r->thread, &cid) != 0 || clock_gettime(cid, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Stop the thread and close every socket (after the clients closed theirs). */
static inline void relay_floor_stop(struct relay_floor *r)
{
    if (r->running) {
        uint64_t one = 1;
        if (write(r->stopfd, &one, sizeof one) == sizeof one)
            pthread_join(r->thread, NULL);
        r->running = false;
    }
    for (int k = 0; r->conn && k < RELAY_MAX_CONN; k++) {
        if (r->conn[k].cfd >= 0)
            close(r->conn[k].cfd);
        if (r->conn[k].ufd >= 0)
            close(r->conn[k].ufd);
    }
    free(r->conn);
    r->conn = NULL;
    if (r->lfd >= 0)
        close(r->lfd);
    if (r->efd >= 0)
        close(r->efd);
    if (r->stopfd >= 0)
        close(r->stopfd);
}

#endif
