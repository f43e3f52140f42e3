/* See mailbox.h. */
#include "mailbox.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct ilu_mailbox {
    pthread_mutex_t mu;
    struct ilu_mail *head, *tail; /* waiting, under mu */
    struct ilu_mail *draining;    /* taken, not yet handled: consumer only */
    int efd;
    struct event *ev;
    ilu_mail_fn handle;
    void *arg;
};

void ilu_mailbox_drain(struct ilu_mailbox *mb)
{
    pthread_mutex_lock(&mb->mu);
    struct ilu_mail *m = mb->head, **link = &mb->draining;
    while (*link) /* a drain under way (a handler drains again): append */
        link = &(*link)->drain_next;
    for (; m; m = m->next) {
        bool in_drain = m->taken != 0; /* from the drain under way: add its bits there */
        m->taken |= m->bits;
        m->bits = 0;
        if (!in_drain) {
            m->drain_next = NULL;
            *link = m;
            link = &m->drain_next;
        }
    }
    mb->head = mb->tail = NULL;
    pthread_mutex_unlock(&mb->mu);
    /* one at a time from the head: a handler may cancel any item after it */
    while ((m = mb->draining)) {
        mb->draining = m->drain_next;
        unsigned bits = m->taken;
        m->taken = 0;
        m->drain_next = NULL;
        if (bits)
            mb->handle(m, bits, mb->arg);
    }
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
    ilu_mailbox_drain(arg);
}

struct ilu_mailbox *ilu_mailbox_new(struct event_base *base, ilu_mail_fn handle, void *arg, struct ilu_error *err)
{
    struct ilu_mailbox *mb = calloc(1, sizeof *mb);
    if (!mb) {
        ilu_err(err, ILU_ST_INTERNAL, "oom", "mailbox: out of memory");
        return NULL;
    }
    mb->handle = handle;
    mb->arg = arg;
    mb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (mb->efd < 0) {
        ilu_err(err, ILU_ST_INTERNAL, "mailbox", "mailbox: eventfd: %s", strerror(errno));
        free(mb);
        return NULL;
    }
    pthread_mutex_init(&mb->mu, NULL);
    mb->ev = event_new(base, mb->efd, EV_READ | EV_PERSIST | EV_ET, on_ready, mb);
    if (!mb->ev || event_add(mb->ev, NULL) != 0) {
        ilu_err(err, ILU_ST_INTERNAL, "mailbox", "mailbox: cannot watch its eventfd");
        ilu_mailbox_free(mb);
        return NULL;
    }
    return mb;
}

void ilu_mailbox_post(struct ilu_mailbox *mb, struct ilu_mail *m, unsigned bits)
{
    pthread_mutex_lock(&mb->mu);
    bool wake = !mb->head;
    if (!m->bits) {
        m->next = NULL;
        if (mb->tail)
            mb->tail->next = m;
        else
            mb->head = m;
        mb->tail = m;
    } else {
        wake = false; /* waiting already, so the mailbox was not empty */
    }
    m->bits |= bits;
    pthread_mutex_unlock(&mb->mu);
    if (wake) {
        uint64_t one = 1;
        /* EAGAIN only at a counter near 2^64: a wake-up is pending then anyway */
        while (write(mb->efd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
}

void ilu_mailbox_cancel(struct ilu_mailbox *mb, struct ilu_mail *m)
{
    pthread_mutex_lock(&mb->mu);
    if (m->bits) {
        struct ilu_mail *prev = NULL;
        for (struct ilu_mail *x = mb->head; x; prev = x, x = x->next)
            if (x == m) {
                if (prev)
                    prev->next = m->next;
                else
                    mb->head = m->next;
                if (mb->tail == m)
                    mb->tail = prev;
                break;
            }
        m->bits = 0;
        m->next = NULL;
    }
    pthread_mutex_unlock(&mb->mu);
    for (struct ilu_mail **link = &mb->draining; *link; link = &(*link)->drain_next)
        if (*link == m) {
            *link = m->drain_next;
            break;
        }
    m->taken = 0;
    m->drain_next = NULL;
}

void ilu_mailbox_free(struct ilu_mailbox *mb)
{
    if (!mb)
        return;
    if (mb->ev)
        event_free(mb->ev);
    close(mb->efd);
    pthread_mutex_destroy(&mb->mu);
    free(mb);
}
