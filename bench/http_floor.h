/* Benchmark fixture: the "transport floor", a minimal blocking HTTP/1.1
 * responder on 127.0.0.1 (ephemeral port), one thread per keep-alive
 * connection. Per request it read()s until it holds a full request (headers up
 * to "\r\n\r\n" plus Content-Length bytes of body, found by counting bytes, no
 * HTTP library) and write()s one fixed small JSON answer in a single call
 * (TCP_NODELAY). This is what one HTTP exchange over loopback TCP costs on the
 * machine, with nothing else: not product code, no validation beyond framing.
 *
 * Header-only (static functions) because the Makefile builds every .c file in bench/
 * into its own binary. */
#ifndef BENCH_HTTP_FLOOR_H
#define BENCH_HTTP_FLOOR_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HF_MAX_CONN 8

/* Fixed answer; the body carries "success":true so the bench's raw client
 * accepts it as it accepts the worker's. */
#define HF_BODY "{\"success\":true,\"user_result\":\"{}\"}"
static const char hf_answer[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 35\r\n\r\n" HF_BODY;
_Static_assert(sizeof HF_BODY - 1 == 35, "Content-Length of the floor answer");

struct http_floor {
    int lfd;
    int port;
    pthread_t acceptor;
    pthread_mutex_t mu;
    int nconn;
    pthread_t conn[HF_MAX_CONN];
    int conn_fd[HF_MAX_CONN];
};

/* Length of a complete request at the start of buf[0..have), or 0 if it is not
 * all there yet; (size_t)-1 if the headers are malformed (no Content-Length
 * value we can read is treated as 0). */
static inline size_t hf_request_len(const char *buf, size_t have)
{
    const char *hend = memmem(buf, have, "\r\n\r\n", 4);
    if (!hend)
        return 0;
    size_t hlen = (size_t)(hend + 4 - buf), clen = 0;
    for (const char *l = memmem(buf, hlen, "\r\n", 2); l && l < hend;
         l = memmem(l + 2, (size_t)(hend + 2 - (l + 2)), "\r\n", 2)) {
        if ((size_t)(hend - (l + 2)) >= 15 && strncasecmp(l + 2, "Content-Length:", 15) == 0) {
            const char *p = l + 17;
            while (p < hend && (*p == ' ' || *p == '\t'))
                p++;
            clen = 0;
            while (p < hend && *p >= '0' && *p <= '9')
                clen = clen * 10 + (size_t)(*p++ - '0');
        }
    }
    return have >= hlen + clen ? hlen + clen : 0;
}

static inline void *hf_conn_run(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];
    size_t have = 0;
    for (;;) {
        size_t n;
        while ((n = hf_request_len(buf, have)) > 0) {
            size_t off = 0;
            while (off < sizeof hf_answer - 1) {
                ssize_t w = write(fd, hf_answer + off, sizeof hf_answer - 1 - off);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    goto out;
                off += (size_t)w;
            }
            memmove(buf, buf + n, have - n);
            have -= n;
        }
        if (have == sizeof buf)
            break; /* a request larger than the buffer: not this benchmark's */
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
    }
out:
    close(fd);
    return NULL;
}

static inline void *hf_accept_run(void *arg)
{
    struct http_floor *f = arg;
    for (;;) {
        int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break; /* shut down */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&f->mu);
        if (f->nconn == HF_MAX_CONN ||
            pthread_create(&f->conn[f->nconn], NULL, hf_conn_run, (void *)(intptr_t)fd) != 0) {
            pthread_mutex_unlock(&f->mu);
            close(fd);
            continue;
        }
        f->conn_fd[f->nconn++] = fd;
        pthread_mutex_unlock(&f->mu);
    }
    return NULL;
}

/* Listen on 127.0.0.1:0 and start accepting. 0 on success. */
static inline int http_floor_start(struct http_floor *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(f->lfd, 16) != 0 ||
        getsockname(f->lfd, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    f->port = ntohs(sa.sin_port);
    return pthread_create(&f->acceptor, NULL, hf_accept_run, f) == 0 ? 0 : -1;
}

/* CPU time (ns) of all connection threads so far. */
static inline uint64_t http_floor_cpu_ns(struct http_floor *f)
{
    uint64_t ns = 0;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->nconn; i++) {
        clockid_t cid;
        struct timespec ts;
        if (pthread_getcpuclockid(f->conn[i], &cid) == 0 && clock_gettime(cid, &ts) == 0)
            ns += (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
    pthread_mutex_unlock(&f->mu);
    return ns;
}

/* Call after the clients closed their connections: the connection threads see
 * EOF and end; the acceptor is woken by shutdown(). */
static inline void http_floor_stop(struct http_floor *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    pthread_join(f->acceptor, NULL);
    close(f->lfd);
    for (int i = 0; i < f->nconn; i++)
        pthread_join(f->conn[i], NULL);
    pthread_mutex_destroy(&f->mu);
}

#endif
