/* Invocation queue: a binary min-heap on (policy key, arrival sequence).
 * Bounded: push fails when full so the API can answer 429. */
#ifndef ILU_QUEUE_H
#define ILU_QUEUE_H

#include <stddef.h>

#include "policy_registry.h"
#include "types.h"

struct ilu_queue {
    const struct ilu_queue_policy_ops *policy;
    struct ilu_invocation **items;
    double *keys;
    size_t len, cap, max_len;
};

int ilu_queue_init(struct ilu_queue *q, const struct ilu_queue_policy_ops *policy, size_t max_len);
void ilu_queue_destroy(struct ilu_queue *q);
/* inv->seq must be set (unique, increasing). -1 with 429 when full. */
int ilu_queue_push(struct ilu_queue *q, struct ilu_invocation *inv, struct ilu_error *err);
struct ilu_invocation *ilu_queue_peek(const struct ilu_queue *q);
struct ilu_invocation *ilu_queue_pop(struct ilu_queue *q);
/* Remove inv from anywhere in the queue (timeouts). */
void ilu_queue_remove(struct ilu_queue *q, struct ilu_invocation *inv);
static inline size_t ilu_queue_len(const struct ilu_queue *q) { return q->len; }

#endif
