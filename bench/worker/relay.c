/* bench_worker: the relay floor. What any process standing between a client
 * and the agent must pay per invocation, with nothing else: one thread, one
 * epoll loop (as the worker's core loop), non-blocking sockets. Per request it
 * reads the client's HTTP request (framed by counting bytes, http_floor.h),
 * writes the agent protocol's invoke with args "{}" to the agent of that
 * client's container in one write, reads the agent's reply, and writes one
 * HTTP answer carrying it in one writev: the worker's minimal syscall
 * pattern (epoll_wait, read, write, epoll_wait, read, writev) and its four
 * wake-ups (being woken twice, waking the agent and the client). No HTTP
 * library, no JSON, no validation beyond framing: not product code.
 *
 * Connection k (in the order the clients connect) speaks to agents[k]. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../http_floor.h"
#include "bench_worker.h"

#define RELAY_IN    16384
#define RELAY_REPLY 65536

struct relay_conn {
    int cfd, afd;
    char in[RELAY_IN];
    size_t have;
    char reply[RELAY_REPLY];
    size_t rhave;
    bool at_agent; /* a request was sent to the agent, its reply not all in yet */
};

static struct {
    int lfd, efd, stopfd, port, n_agents, n_conns;
    int agent_fd[MAX_CLIENTS];
    struct relay_conn conn[MAX_CLIENTS];
    pthread_t thread;
    bool running;
} rl;

enum { TAG_LISTEN = 1, TAG_STOP = 2, TAG_CLIENT = 0x100, TAG_AGENT = 0x200 };

static void relay_close(struct relay_conn *c)
{
    if (c->cfd >= 0) {
        epoll_ctl(rl.efd, EPOLL_CTL_DEL, c->cfd, NULL);
        close(c->cfd);
        c->cfd = -1;
    }
}

/* Send the next whole request to the agent, if one is in and none is out. */
static void relay_forward(struct relay_conn *c)
{
    size_t n = c->at_agent ? 0 : hf_request_len(c->in, c->have);
    if (!n || n == (size_t)-1)
        return;
    unsigned char req[16 + 2];
    uint64_t cmd = 1, len = 2; /* little-endian host (x86) */
    memcpy(req, &cmd, 8);
    memcpy(req + 8, &len, 8);
    memcpy(req + 16, "{}", 2);
    if (write(c->afd, req, sizeof req) != (ssize_t)sizeof req) {
        relay_close(c);
        return;
    }
    memmove(c->in, c->in + n, c->have - n);
    c->have -= n;
    c->at_agent = true;
    c->rhave = 0;
}

static void on_client(struct relay_conn *c)
{
    ssize_t r = read(c->cfd, c->in + c->have, sizeof c->in - c->have);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0 || (c->have += (size_t)r) == sizeof c->in) {
        relay_close(c);
        return;
    }
    relay_forward(c);
}

static void on_agent(struct relay_conn *c)
{
    ssize_t r = read(c->afd, c->reply + c->rhave, sizeof c->reply - c->rhave);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        relay_close(c);
        return;
    }
    c->rhave += (size_t)r;
    uint64_t len;
    if (c->rhave < 8 || (memcpy(&len, c->reply, 8), c->rhave < 8 + len))
        return; /* more to come (a reply over RELAY_REPLY is not this benchmark's) */
    static const char pre[] = "{\"success\":true,\"reply\":", post[] = "}";
    char head[160];
    int hl =
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                 sizeof pre - 1 + (size_t)len + sizeof post - 1);
    struct iovec iov[4] = {{head, (size_t)hl},
                           {(void *)pre, sizeof pre - 1},
                           {c->reply + 8, (size_t)len},
                           {(void *)post, sizeof post - 1}};
    c->at_agent = false;
    if (c->cfd >= 0 && writev(c->cfd, iov, 4) < 0) /* a few hundred bytes: one call takes them */
        relay_close(c);
    if (c->cfd >= 0)
        relay_forward(c);
}

static void *relay_run(void *arg)
{
    struct epoll_event ev[8];
    for (;;) {
        int n = epoll_wait(rl.efd, ev, 8, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return NULL;
        for (int i = 0; i < n; i++) {
            uint32_t tag = ev[i].data.u32;
            if (tag == TAG_STOP)
                return NULL;
            if (tag == TAG_LISTEN) {
                int fd = accept4(rl.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                    continue;
                if (rl.n_conns == rl.n_agents) { /* one connection per agent */
                    close(fd);
                    continue;
                }
                int one = 1, k = rl.n_conns++;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                rl.conn[k].cfd = fd;
                epoll_ctl(rl.efd, EPOLL_CTL_ADD, fd,
                          &(struct epoll_event){.events = EPOLLIN, .data.u32 = TAG_CLIENT | (uint32_t)k});
            } else if (tag & TAG_CLIENT) {
                if (rl.conn[tag & 0xff].cfd >= 0)
                    on_client(&rl.conn[tag & 0xff]);
            } else if (tag & TAG_AGENT) {
                on_agent(&rl.conn[tag & 0xff]);
            }
        }
    }
}

int relay_start(const char cids[][96], int n)
{
    memset(&rl, 0, sizeof rl);
    rl.lfd = rl.efd = rl.stopfd = -1;
    for (int k = 0; k < MAX_CLIENTS; k++)
        rl.conn[k].cfd = rl.conn[k].afd = -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if ((rl.efd = epoll_create1(EPOLL_CLOEXEC)) < 0 || (rl.stopfd = eventfd(0, EFD_CLOEXEC)) < 0 ||
        (rl.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
        bind(rl.lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(rl.lfd, 16) != 0 ||
        getsockname(rl.lfd, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    for (int k = 0; k < n && k < MAX_CLIENTS; k++) {
        int fd = agent_connect(cids[k], false);
        if (fd < 0)
            return -1;
        rl.conn[k].afd = fd;
        rl.n_agents++;
        int fl = 1;
        ioctl(fd, FIONBIO, &fl);
        epoll_ctl(rl.efd, EPOLL_CTL_ADD, fd,
                  &(struct epoll_event){.events = EPOLLIN, .data.u32 = TAG_AGENT | (uint32_t)k});
    }
    epoll_ctl(rl.efd, EPOLL_CTL_ADD, rl.lfd, &(struct epoll_event){.events = EPOLLIN, .data.u32 = TAG_LISTEN});
    epoll_ctl(rl.efd, EPOLL_CTL_ADD, rl.stopfd, &(struct epoll_event){.events = EPOLLIN, .data.u32 = TAG_STOP});
    if (pthread_create(&rl.thread, NULL, relay_run, NULL) != 0)
        return -1;
    rl.running = true;
    rl.port = ntohs(sa.sin_port);
    return rl.port;
}

uint64_t relay_cpu_ns(void)
{
    clockid_t cid;
    struct timespec ts;
    if (!rl.running || pthread_getcpuclockid(rl.thread, &cid) != 0 || clock_gettime(cid, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void relay_stop(void)
{
    if (rl.running) {
        uint64_t one = 1;
        if (write(rl.stopfd, &one, sizeof one) == sizeof one)
            pthread_join(rl.thread, NULL);
        rl.running = false;
    }
    for (int k = 0; k < MAX_CLIENTS; k++) {
        if (rl.conn[k].cfd >= 0)
            close(rl.conn[k].cfd);
        if (rl.conn[k].afd >= 0)
            close(rl.conn[k].afd);
    }
    if (rl.lfd >= 0)
        close(rl.lfd);
    if (rl.efd >= 0)
        close(rl.efd);
    if (rl.stopfd >= 0)
        close(rl.stopfd);
}
