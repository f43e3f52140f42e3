/* A binary min-heap of invocations on (key, arrival sequence), the building
 * block of the keyed queue policies (fcfs, minheap, ...) and of policies
 * that keep several queues (per-function flows). Uses inv->queue_index, so
 * an invocation is in at most one heap at a time. */
#ifndef ILU_INV_HEAP_H
#define ILU_INV_HEAP_H

#include <stddef.h>

#include "core/types.h"

struct ilu_inv_heap {
    struct ilu_invocation **items;
    double *keys;
    size_t len, cap;
};

/* An empty heap of invocations; destroy frees the array, not them. */
int ilu_inv_heap_init(struct ilu_inv_heap *h);
void ilu_inv_heap_destroy(struct ilu_inv_heap *h);
/* -1 when out of memory. inv->seq breaks ties (arrival order). */
int ilu_inv_heap_push(struct ilu_inv_heap *h, struct ilu_invocation *inv, double key);
/* No-op if inv is not in h. */
void ilu_inv_heap_remove(struct ilu_inv_heap *h, struct ilu_invocation *inv);
static inline struct ilu_invocation *ilu_inv_heap_peek(const struct ilu_inv_heap *h)
{
    return h->len ? h->items[0] : NULL;
}
static inline double ilu_inv_heap_peek_key(const struct ilu_inv_heap *h)
{
    return h->len ? h->keys[0] : 0;
}

#endif
