/* The worker's side of the agent protocol (agent/agent.py): one persistent
 * Unix-socket connection per container.
 *   request: u64 LE command | u64 LE length | JSON args
 *            (0 = ready check, 1 = invoke, 2 = load the function: a
 *            generic sandbox's, once; no args)
 *   reply  : u64 LE length | JSON
 * Non-blocking, on the backend's event loop; one request in flight. */
#include "oci_int.h"

#include "api/agent_codec.h"
#include "os/clock.h"

#include <endian.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define OCI_GRACE_MS 100 /* after EOF, how long to wait for the exit status */

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

void oci_agent_close(struct oci_ct *ct)
{
    oci_agent_loop_release(ct); /* the loop lets go of the socket before it closes */
    struct event **evs[] = {&ct->grace_timer, &ct->rev, &ct->wev};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (*evs[i]) {
            event_free(*evs[i]);
            *evs[i] = NULL;
        }
    if (ct->sock >= 0) {
        close(ct->sock);
        ct->sock = -1;
    }
    free(ct->wbuf);
    ct->wbuf = NULL;
    ct->wlen = ct->woff = 0;
    ct->rlen = 0;
    free(ct->abuf);
    ct->abuf = NULL;
    ct->acap = ct->alen = 0;
}

/* ---- connecting ---- */

/* <dir>/sockets/sock as an address; through a descriptor of the dir when
 * the path is too long for sun_path (*dirfd is then to be closed). */
static int socket_address(struct oci_ct *ct, struct sockaddr_un *sa, int *dirfd)
{
    *dirfd = -1;
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof sa->sun_path, "%s/sockets/sock", ct->dir);
    if (n >= 0 && (size_t)n < sizeof sa->sun_path)
        return 0;
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/sockets", ct->dir);
    *dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*dirfd < 0)
        return -1;
    snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/sock", *dirfd);
    return 0;
}

int oci_agent_listen(struct oci_ct *ct, struct ilu_error *err)
{
    struct sockaddr_un sa;
    int dirfd, fd = -1;
    if (socket_address(ct, &sa, &dirfd) != 0)
        goto fail;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    unlink(sa.sun_path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0)
        goto fail;
    if (dirfd >= 0)
        close(dirfd);
    return fd;
fail:;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (dirfd >= 0)
        close(dirfd);
    return ilu_err(err, ILU_ST_INTERNAL, "agent_socket", "container %s: cannot listen on %s/sockets/sock: %s", ct->id,
                   ct->dir, strerror(e));
}

/* Connect at once (the socket listens before the container exists) and
 * queue a check: the agent answers it only once it has imported the
 * function, which is when the container is ready. */
int oci_agent_start_connect(struct oci_ct *ct, struct ilu_error *err)
{
    struct sockaddr_un sa;
    int dirfd;
    const char *what = "connect";
    if (socket_address(ct, &sa, &dirfd) != 0)
        goto fail;
    ct->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ct->sock < 0)
        goto fail;
    int rc = connect(ct->sock, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    if (dirfd >= 0)
        close(dirfd);
    errno = e;
    if (rc != 0)
        goto fail;
    uint64_t check[2] = {htole64(0), htole64(0)};
    what = "send the ready check";
    if (send(ct->sock, check, sizeof check, MSG_NOSIGNAL) != (ssize_t)sizeof check)
        goto fail;
    ct->ready_pending = true;
    /* Reading all the time also tells us when an idle agent goes away. */
    ct->rev = event_new(ct->ob->evb, ct->sock, EV_READ | EV_PERSIST, on_read, ct);
    ct->wev = event_new(ct->ob->evb, ct->sock, EV_WRITE | EV_PERSIST, on_write, ct);
    if (!ct->rev || !ct->wev || event_add(ct->rev, NULL) != 0) {
        oci_agent_close(ct);
        return ilu_err(err, ILU_ST_INTERNAL, "oom", "container %s: cannot watch the agent socket", ct->id);
    }
    return 0;
fail:;
    e = errno;
    oci_agent_close(ct);
    return ilu_err(err, ILU_ST_INTERNAL, "agent_socket", "container %s: cannot %s the agent socket: %s", ct->id, what,
                   strerror(e));
}

/* ---- losing the connection ---- */

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    oci_ct_dead(arg, "the agent closed its connection");
}

/* The socket closed or broke. The process is probably exiting too: wait a
 * moment for its exit status, which makes a better message. */
void oci_agent_connection_lost(struct oci_ct *ct, const char *why)
{
    if (ct->rev)
        event_del(ct->rev);
    if (ct->wev)
        event_del(ct->wev);
    if (ct->state == OCI_CT_SPAWNING) { /* the runtime's exit tells more */
        ct->conn_lost = true;
        return;
    }
    if (ct->init_pid > 0 && !ct->init_exited) {
        int st;
        if (waitpid(ct->init_pid, &st, WNOHANG) == ct->init_pid) {
            ct->init_exited = true;
            ct->init_status = st;
            char how[96], reason[160];
            oci_describe_status(st, how, sizeof how);
            snprintf(reason, sizeof reason, "container exited (%s)", how);
            oci_ct_dead(ct, reason);
            return;
        }
        const struct timeval tv = {0, OCI_GRACE_MS * 1000};
        ct->grace_timer = evtimer_new(ct->ob->evb, on_grace, ct);
        if (ct->grace_timer && evtimer_add(ct->grace_timer, &tv) == 0)
            return;
    }
    oci_ct_dead(ct, why);
}

/* ---- loading (a generic sandbox's function) ---- */

int oci_agent_load(struct oci_ct *ct, struct ilu_error *err)
{
    if (ct->state != OCI_CT_READY || ct->sock < 0 || ct->in_flight || ct->load_pending || ct->aloop)
        return ilu_err(err, ILU_ST_BAD_GATEWAY, "container_start", "container %s cannot take a load request (%s)",
                       ct->id, ct->state == OCI_CT_DEAD ? "it died" : "busy");
    /* 16 bytes into an idle socket's empty buffer: sent whole or not at all */
    uint64_t hdr[2] = {htole64(2), htole64(0)};
    ssize_t n;
    do
        n = send(ct->sock, hdr, sizeof hdr, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof hdr)
        return ilu_err(err, ILU_ST_BAD_GATEWAY, "container_start", "container %s: cannot send the load request: %s",
                       ct->id, n < 0 ? strerror(errno) : "short write");
    ct->sent_ns = ilu_os_mono_ns();
    ct->load_pending = true;
    return 0;
}

/* ---- invoking ---- */

int oci_agent_send(struct oci_ct *ct, const char *args, size_t len, struct ilu_error *err)
{
    if (ct->state != OCI_CT_READY || ct->sock < 0)
        return ilu_err(err, ILU_ST_BAD_GATEWAY, "container_error", "container %s is not connected (%s)", ct->id,
                       ct->state == OCI_CT_DEAD ? "it died" : "still starting");
    if (ct->in_flight)
        return ilu_err(err, ILU_ST_INTERNAL, "busy", "container %s already runs an invocation", ct->id);
    if (ct->ob->n_aloops)
        return oci_agent_loop_invoke(ct, args, len, err);
    uint64_t hdr[2] = {htole64(1), htole64((uint64_t)len)};
    struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)args, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    ct->sent_ns = ilu_os_mono_ns();
    ssize_t n;
    do
        n = sendmsg(ct->sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN)
        return ilu_err(err, ILU_ST_BAD_GATEWAY, "container_error", "container %s: cannot send the invocation: %s",
                       ct->id, strerror(errno));
    size_t sent = n < 0 ? 0 : (size_t)n, total = sizeof hdr + len;
    if (sent < total) {
        /* Big arguments: keep the rest and finish when writable. */
        ct->wlen = total - sent;
        ct->woff = 0;
        ct->wbuf = malloc(ct->wlen);
        if (!ct->wbuf)
            return ilu_err(err, ILU_ST_INTERNAL, "oom", "container %s: out of memory for the arguments", ct->id);
        size_t hs = sent < sizeof hdr ? sizeof hdr - sent : 0;
        memcpy(ct->wbuf, (char *)hdr + (sizeof hdr - hs), hs);
        memcpy(ct->wbuf + hs, args + (sent > sizeof hdr ? sent - sizeof hdr : 0), ct->wlen - hs);
        event_add(ct->wev, NULL);
    }
    ct->in_flight = true;
    return 0;
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct oci_ct *ct = arg;
    while (ct->woff < ct->wlen) {
        ssize_t n = send(ct->sock, ct->wbuf + ct->woff, ct->wlen - ct->woff, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            char why[160];
            snprintf(why, sizeof why, "sending the arguments failed: %s", strerror(errno));
            oci_agent_connection_lost(ct, why);
            return;
        }
        ct->woff += (size_t)n;
    }
    free(ct->wbuf);
    ct->wbuf = NULL;
    ct->wlen = ct->woff = 0;
    event_del(ct->wev);
}

void oci_agent_deliver_decoded(struct oci_ct *ct, struct ilu_agent_decoded *d, uint64_t round_trip_us)
{
    struct ilu_agent_reply r = {0};
    r.round_trip_us = round_trip_us;
    r.result = &d->result;
    ct->in_flight = false;
    struct oci_backend *ob = ct->ob;
    ob->base.events.invoke_done(ob->base.events.ctx, ct->c, &r);
}

/* A reply arrived complete in rbuf: hand it to the core. */
static void deliver(struct oci_ct *ct, size_t body_len)
{
    struct ilu_agent_decoded d;
    ilu_agent_reply_decode(ct->rbuf + 8, body_len, &d);
    ct->rlen = 0;
    oci_agent_deliver_decoded(ct, &d, (ilu_os_mono_ns() - ct->sent_ns) / 1000);
    ilu_agent_decoded_release(&d);
    /* ct stays allocated even if the core destroyed c inside the callback
     * (it is freed only after the runtime's delete), so this is safe. */
    if (ct->rcap > OCI_RBUF_KEEP && ct->rlen == 0) {
        free(ct->rbuf);
        ct->rbuf = NULL;
        ct->rcap = 0;
    }
}

/* The answer to the ready check: the function is imported. */
static void ready_reply(struct oci_ct *ct)
{
    ct->ready_pending = false;
    ct->rlen = 0;
    if (ct->state == OCI_CT_SPAWNING)
        ct->agent_ready = true; /* reported once the runtime is done */
    else if (ct->state == OCI_CT_CONNECTING)
        oci_ct_connected(ct);
}

void oci_agent_protocol_error(struct oci_ct *ct, const char *why)
{
    ilu_warn(ct->ob->log, ct->tid, "container %s: %s; dropping the connection", ct->id, why);
    oci_agent_close(ct);
    oci_ct_dead(ct, why);
}

enum oci_frame oci_agent_frame(const char *buf, size_t len, uint32_t max_body, size_t *need, char *why, size_t why_len)
{
    *need = 8;
    if (len < 8)
        return OCI_FRAME_MORE;
    uint64_t blen;
    memcpy(&blen, buf, 8);
    blen = le64toh(blen);
    if (blen > max_body) {
        snprintf(why, why_len, "the agent's reply is %llu bytes, over the %u-byte limit", (unsigned long long)blen,
                 max_body);
        return OCI_FRAME_BAD;
    }
    *need = 8 + (size_t)blen;
    if (len > *need) {
        snprintf(why, why_len, "the agent sent more than one reply");
        return OCI_FRAME_BAD;
    }
    return len == *need ? OCI_FRAME_WHOLE : OCI_FRAME_MORE;
}

enum oci_read oci_agent_read_frame(struct oci_ct *ct, bool expected, size_t *need, char *why, size_t why_len)
{
    for (;;) {
        if (ct->rlen >= 8 && !expected) {
            snprintf(why, why_len, "the agent sent data nobody asked for");
            return OCI_READ_BAD;
        }
        enum oci_frame frame = oci_agent_frame(ct->rbuf, ct->rlen, ct->ob->max_reply_bytes, need, why, why_len);
        if (frame == OCI_FRAME_BAD)
            return OCI_READ_BAD;
        if (frame == OCI_FRAME_WHOLE)
            return OCI_READ_WHOLE;
        if (ct->rcap < *need + 1) {
            size_t cap = *need + 1 > 65536 ? *need + 1 : 65536;
            char *nb = realloc(ct->rbuf, cap);
            if (!nb) {
                snprintf(why, why_len, "out of memory for the agent's reply");
                return OCI_READ_BAD;
            }
            ct->rbuf = nb;
            ct->rcap = cap;
        }
        /* Before the length is known read only the header, so one reply
         * never swallows bytes that are not ours. */
        size_t room = (ct->rlen < 8 ? 8 : *need) - ct->rlen;
        ssize_t n = recv(ct->sock, ct->rbuf + ct->rlen, room, 0);
        if (n > 0) {
            ct->rlen += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return OCI_READ_AGAIN;
        if (n == 0)
            snprintf(why, why_len, "the agent closed its connection");
        else
            snprintf(why, why_len, "reading from the agent failed: %s", strerror(errno));
        return OCI_READ_LOST;
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct oci_ct *ct = arg;
    for (;;) {
        size_t need;
        char why[160];
        bool expected = ct->in_flight || ct->ready_pending || ct->load_pending;
        switch (oci_agent_read_frame(ct, expected, &need, why, sizeof why)) {
        case OCI_READ_AGAIN: return;
        case OCI_READ_BAD: return oci_agent_protocol_error(ct, why);
        case OCI_READ_LOST: return oci_agent_connection_lost(ct, why);
        case OCI_READ_WHOLE: break;
        }
        if (ct->ready_pending) {
            ready_reply(ct);
            /* told it was ready, the core destroyed it, or gave it an
             * invocation whose agent loop reads the socket from now on */
            if (ct->sock < 0 || ct->aloop)
                return;
            continue;
        }
        if (ct->load_pending) {
            ct->rlen = 0;
            ct->rbuf[need] = '\0';
            return oci_sandbox_loaded(ct, ct->rbuf + 8, need - 8);
        }
        return deliver(ct, need - 8);
    }
}
