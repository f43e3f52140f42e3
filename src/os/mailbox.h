/* A mailbox between threads: any thread posts, one event loop (the
 * consumer's) takes. Items are embedded in the caller's own structs, so a
 * post never allocates, and carry bits: posting an item that is already
 * waiting only adds its bits, so each item is handled at most once per
 * drain with everything posted to it since. The consumer is woken through
 * an eventfd watched edge-triggered, written only when the mailbox was
 * empty: under load one wake-up carries many items, and the consumer never
 * reads the eventfd (its counter cannot reach 2^64 - 1). No libevent
 * threading is needed: only the consumer's thread touches its event base. */
#ifndef ILU_MAILBOX_H
#define ILU_MAILBOX_H

#include <stdbool.h>

#include "core/error.h"

struct event_base;
struct ilu_mailbox;

/* Embed one per mailbox the struct may be posted to; zeroed before use. */
struct ilu_mail {
    struct ilu_mail *next;       /* waiting in the mailbox (bits != 0) */
    struct ilu_mail *drain_next; /* in the consumer's drain (taken != 0) */
    unsigned bits, taken;
};

/* handle(m, bits, arg) runs on the consumer's loop once per item with the
 * bits posted to it. */
typedef void (*ilu_mail_fn)(struct ilu_mail *m, unsigned bits, void *arg);

/* A mailbox drained by base's loop. NULL with err. */
struct ilu_mailbox *ilu_mailbox_new(struct event_base *base, ilu_mail_fn handle, void *arg, struct ilu_error *err);
/* Add bits (non-zero) to m and queue it if it was not waiting; any thread. */
void ilu_mailbox_post(struct ilu_mailbox *mb, struct ilu_mail *m, unsigned bits);
/* Forget m: it is neither waiting nor handled later in a drain under way.
 * Consumer's thread only, e.g. before freeing m's struct. */
void ilu_mailbox_cancel(struct ilu_mailbox *mb, struct ilu_mail *m);
/* Handle what is waiting now, on the consumer's thread (e.g. at shutdown,
 * after the producers stopped). */
void ilu_mailbox_drain(struct ilu_mailbox *mb);
/* Free the mailbox; items still waiting are forgotten. NULL is ignored. */
void ilu_mailbox_free(struct ilu_mailbox *mb);

#endif
