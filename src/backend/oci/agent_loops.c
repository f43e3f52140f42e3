/* See oci_int.h, "agent_loops.c". Who owns what: the core loop writes abuf
 * and posts INVOKE only while no invocation is in flight; the loop's thread
 * alone reads and writes the socket and rbuf while it holds the connection
 * (from adoption to release). The mailboxes' lock orders each hand-over.
 * The loops log nothing: what goes wrong travels to the core loop, which
 * reports it as it reports a connection it watches itself. */
#include "oci_int.h"

#include <endian.h>
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "os/clock.h"

enum { TO_LOOP_INVOKE = 1, TO_LOOP_RELEASE = 2, TO_LOOP_STOP = 4 };
enum { TO_CORE_DONE = 1, TO_CORE_LOST = 2, TO_CORE_BAD = 4 };

struct oci_agent_loop {
    struct oci_backend *ob;
    unsigned index;
    struct event_base *base;
    struct ilu_mailbox *inbox;
    struct ilu_mail stop;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* release hand-shake */
    pthread_cond_t released;
    struct oci_ct *adopted; /* its thread only */
};

#define CT_OF(m, member) ((struct oci_ct *)((char *)(m)-offsetof(struct oci_ct, member)))

/* ---- the loop's thread ---- */

static void stop_watching(struct oci_ct *ct)
{
    if (ct->arev)
        event_del(ct->arev);
    if (ct->awev)
        event_del(ct->awev);
    ct->abusy = false;
}

static void to_core(struct oci_ct *ct, unsigned bit, const char *why)
{
    if (why) {
        snprintf(ct->a_why, sizeof ct->a_why, "%s", why);
        stop_watching(ct); /* EOF would fire again and again */
    }
    ilu_mailbox_post(ct->ob->from_aloops, &ct->to_core, bit);
}

static void send_rest(struct oci_ct *ct)
{
    while (ct->aoff < ct->alen) {
        ssize_t n = send(ct->sock, ct->abuf + ct->aoff, ct->alen - ct->aoff, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            event_add(ct->awev, NULL);
            return;
        }
        if (n < 0) {
            char why[160];
            snprintf(why, sizeof why, "sending the arguments failed: %s", strerror(errno));
            return to_core(ct, TO_CORE_LOST, why);
        }
        ct->aoff += (size_t)n;
    }
    event_del(ct->awev);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    send_rest(arg);
}

static void reply_whole(struct oci_ct *ct, size_t need)
{
    if (ct->aoff < ct->alen)
        return to_core(ct, TO_CORE_BAD, "the agent replied before it had read all the arguments");
    struct ilu_agent_decoded *d = malloc(sizeof *d);
    if (!d)
        return to_core(ct, TO_CORE_BAD, "out of memory for the agent's reply");
    ilu_agent_reply_decode(ct->rbuf + 8, need - 8, d);
    ct->a_round_trip_us = (ilu_os_mono_ns() - ct->a_sent_ns) / 1000;
    ct->a_decoded = d;
    ct->rlen = 0;
    ct->abusy = false;
    if (ct->rcap > OCI_RBUF_KEEP) {
        free(ct->rbuf);
        ct->rbuf = NULL;
        ct->rcap = 0;
    }
    to_core(ct, TO_CORE_DONE, NULL);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct oci_ct *ct = arg;
    size_t need;
    char why[160];
    switch (oci_agent_read_frame(ct, ct->abusy, &need, why, sizeof why)) {
    case OCI_READ_AGAIN: return;
    case OCI_READ_BAD: return to_core(ct, TO_CORE_BAD, why);
    case OCI_READ_LOST: return to_core(ct, TO_CORE_LOST, why);
    case OCI_READ_WHOLE: /* what follows it (unasked for, or EOF) wakes the loop again */ return reply_whole(ct, need);
    }
}

static void forget(struct oci_agent_loop *l, struct oci_ct *ct)
{
    if (ct->arev)
        event_free(ct->arev);
    if (ct->awev)
        event_free(ct->awev);
    ct->arev = ct->awev = NULL;
    ct->abusy = false;
    if (ct->a_prev)
        ct->a_prev->a_next = ct->a_next;
    else if (l->adopted == ct)
        l->adopted = ct->a_next;
    if (ct->a_next)
        ct->a_next->a_prev = ct->a_prev;
    ct->a_prev = ct->a_next = NULL;
}

static void start_invocation(struct oci_agent_loop *l, struct oci_ct *ct)
{
    if (!ct->arev) {             /* first invocation since adoption */
        ct->a_next = l->adopted; /* listed first: forget() frees whatever was made */
        if (l->adopted)
            l->adopted->a_prev = ct;
        l->adopted = ct;
        ct->arev = event_new(l->base, ct->sock, EV_READ | EV_PERSIST, on_readable, ct);
        ct->awev = event_new(l->base, ct->sock, EV_WRITE | EV_PERSIST, on_writable, ct);
        if (!ct->arev || !ct->awev || event_add(ct->arev, NULL) != 0)
            return to_core(ct, TO_CORE_BAD, "out of memory for watching the agent socket");
    }
    ct->abusy = true;
    ct->aoff = 0;
    ct->a_sent_ns = ilu_os_mono_ns();
    send_rest(ct);
}

static void on_loop_mail(struct ilu_mail *m, unsigned bits, void *arg)
{
    struct oci_agent_loop *l = arg;
    if (m == &l->stop) {
        while (l->adopted)
            forget(l, l->adopted);
        event_base_loopbreak(l->base);
        return;
    }
    struct oci_ct *ct = CT_OF(m, to_loop);
    if (bits & TO_LOOP_RELEASE) { /* a pending INVOKE goes with it */
        forget(l, ct);
        pthread_mutex_lock(&l->mu);
        ct->released = true;
        pthread_cond_broadcast(&l->released);
        pthread_mutex_unlock(&l->mu);
        return;
    }
    if (bits & TO_LOOP_INVOKE)
        start_invocation(l, ct);
}

static void *loop_main(void *arg)
{
    struct oci_agent_loop *l = arg;
    char name[16];
    snprintf(name, sizeof name, "ilu-agent-%u", l->index);
    pthread_setname_np(pthread_self(), name);
    event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* ---- the core loop ---- */

static void free_decoded(struct ilu_agent_decoded *d)
{
    if (d) {
        ilu_agent_decoded_release(d);
        free(d);
    }
}

static void on_core_mail(struct ilu_mail *m, unsigned bits, void *arg)
{
    struct oci_ct *ct = CT_OF(m, to_core);
    /* taken before the callback, which may post the next invocation, whose
     * reply the loop then writes into ct->a_decoded */
    struct ilu_agent_decoded *d = ct->a_decoded;
    ct->a_decoded = NULL;
    if (d && (bits & TO_CORE_DONE) && ct->in_flight && ct->state == OCI_CT_READY)
        oci_agent_deliver_decoded(ct, d, ct->a_round_trip_us);
    free_decoded(d);
    /* ct may be released (and its socket closed) by now; a release cancels
     * what the loop sent, so the bits below are the loop's latest word */
    if (!ct->aloop || !(bits & (TO_CORE_BAD | TO_CORE_LOST)))
        return;
    char why[sizeof ct->a_why]; /* written by the loop before it posted these bits */
    snprintf(why, sizeof why, "%s", ct->a_why);
    if (bits & TO_CORE_BAD)
        oci_agent_protocol_error(ct, why);
    else if (bits & TO_CORE_LOST)
        oci_agent_connection_lost(ct, why);
}

int oci_agent_loop_invoke(struct oci_ct *ct, const char *args, size_t len, struct ilu_error *err)
{
    struct oci_backend *ob = ct->ob;
    size_t total = 16 + len;
    /* reused between invocations; back to small after a big one */
    if (ct->acap < total || (ct->acap > OCI_RBUF_KEEP && total <= OCI_RBUF_KEEP)) {
        size_t cap = total < 4096 ? 4096 : total;
        char *nb = realloc(ct->abuf, cap);
        if (!nb)
            return ilu_err(err, ILU_ST_INTERNAL, "oom", "container %s: out of memory for the arguments", ct->id);
        ct->abuf = nb;
        ct->acap = cap;
    }
    uint64_t hdr[2] = {htole64(1), htole64((uint64_t)len)};
    memcpy(ct->abuf, hdr, sizeof hdr);
    if (len)
        memcpy(ct->abuf + sizeof hdr, args, len);
    ct->alen = total;
    if (!ct->aloop) { /* from now on the loop reads the socket */
        if (ct->rev)
            event_del(ct->rev);
        ct->aloop = &ob->aloops[ob->next_aloop++ % ob->n_aloops];
    }
    ct->sent_ns = ilu_os_mono_ns();
    ct->in_flight = true;
    ilu_mailbox_post(ct->aloop->inbox, &ct->to_loop, TO_LOOP_INVOKE);
    return 0;
}

void oci_agent_loop_release(struct oci_ct *ct)
{
    struct oci_agent_loop *l = ct->aloop;
    if (!l)
        return;
    ct->released = false;
    ilu_mailbox_post(l->inbox, &ct->to_loop, TO_LOOP_RELEASE);
    pthread_mutex_lock(&l->mu);
    while (!ct->released)
        pthread_cond_wait(&l->released, &l->mu);
    pthread_mutex_unlock(&l->mu);
    ct->aloop = NULL;
    ilu_mailbox_cancel(ct->ob->from_aloops, &ct->to_core);
    free_decoded(ct->a_decoded);
    ct->a_decoded = NULL;
}

int oci_agent_loops_start(struct oci_backend *ob, unsigned n, struct ilu_error *err)
{
    ob->aloops = calloc(n, sizeof *ob->aloops);
    if (!ob->aloops)
        return ilu_err(err, ILU_ST_INTERNAL, "oom", "oci backend: out of memory for the agent loops");
    ob->n_aloops = n;
    for (unsigned i = 0; i < n; i++) {
        pthread_mutex_init(&ob->aloops[i].mu, NULL);
        pthread_cond_init(&ob->aloops[i].released, NULL);
    }
    ob->from_aloops = ilu_mailbox_new(ob->evb, on_core_mail, ob, err);
    if (!ob->from_aloops) {
        oci_agent_loops_stop(ob);
        return -1;
    }
    /* the loops take no signals: they stay with the core loop's thread */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        struct oci_agent_loop *l = &ob->aloops[i];
        l->ob = ob;
        l->index = i;
        /* not epoll's change list (unlike the daemons' loops): with it an
         * event_free only notes the epoll_ctl for the next turn, and the
         * core loop could close and reuse the descriptor before then */
        l->base = event_base_new();
        if (!l->base) {
            rc = ilu_err(err, ILU_ST_INTERNAL, "oom", "oci backend: cannot make agent loop %u's event base", i);
        } else if (!(l->inbox = ilu_mailbox_new(l->base, on_loop_mail, l, err))) {
            rc = -1;
        } else if ((errno = pthread_create(&l->thread, NULL, loop_main, l)) != 0) {
            rc = ilu_err(err, ILU_ST_INTERNAL, "thread", "oci backend: cannot start agent loop %u: %s", i,
                         strerror(errno));
        } else {
            l->started = true;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        oci_agent_loops_stop(ob);
    return rc;
}

void oci_agent_loops_stop(struct oci_backend *ob)
{
    for (unsigned i = 0; ob->aloops && i < ob->n_aloops; i++) {
        struct oci_agent_loop *l = &ob->aloops[i];
        if (l->started) {
            ilu_mailbox_post(l->inbox, &l->stop, TO_LOOP_STOP);
            pthread_join(l->thread, NULL);
        }
        ilu_mailbox_free(l->inbox);
        if (l->base)
            event_base_free(l->base);
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->released);
    }
    /* the loops have forgotten every connection: the core's again */
    for (struct oci_ct *ct = ob->cts; ct; ct = ct->next) {
        ct->aloop = NULL;
        ct->to_loop = (struct ilu_mail){0};
        free_decoded(ct->a_decoded);
        ct->a_decoded = NULL;
    }
    ilu_mailbox_free(ob->from_aloops);
    ob->from_aloops = NULL;
    free(ob->aloops);
    ob->aloops = NULL;
    ob->n_aloops = 0;
}
