#include "queue.h"

#include <stdlib.h>

int ilu_queue_init(struct ilu_queue *q, const struct ilu_queue_policy_ops *policy, size_t max_len)
{
    q->policy = policy;
    q->len = 0;
    q->max_len = max_len;
    q->cap = 64;
    q->items = malloc(q->cap * sizeof *q->items);
    q->keys = malloc(q->cap * sizeof *q->keys);
    if (!q->items || !q->keys) {
        ilu_queue_destroy(q);
        return -1;
    }
    return 0;
}

void ilu_queue_destroy(struct ilu_queue *q)
{
    free(q->items);
    free(q->keys);
    q->items = NULL;
    q->keys = NULL;
    q->len = q->cap = 0;
}

static int before(const struct ilu_queue *q, size_t a, size_t b)
{
    if (q->keys[a] != q->keys[b])
        return q->keys[a] < q->keys[b];
    return q->items[a]->seq < q->items[b]->seq;
}

static void swap(struct ilu_queue *q, size_t a, size_t b)
{
    struct ilu_invocation *ti = q->items[a];
    double tk = q->keys[a];
    q->items[a] = q->items[b];
    q->keys[a] = q->keys[b];
    q->items[b] = ti;
    q->keys[b] = tk;
    q->items[a]->queue_index = a;
    q->items[b]->queue_index = b;
}

static void sift_up(struct ilu_queue *q, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(q, i, parent))
            break;
        swap(q, i, parent);
        i = parent;
    }
}

static void sift_down(struct ilu_queue *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < q->len && before(q, l, best))
            best = l;
        if (r < q->len && before(q, r, best))
            best = r;
        if (best == i)
            return;
        swap(q, i, best);
        i = best;
    }
}

int ilu_queue_push(struct ilu_queue *q, struct ilu_invocation *inv, struct ilu_error *err)
{
    if (q->max_len && q->len >= q->max_len)
        return ilu_err(err, ILU_ST_QUEUE_FULL, "queue_full", "the invocation queue is full (%zu items)", q->len);
    if (q->len == q->cap) {
        size_t cap = q->cap * 2;
        struct ilu_invocation **items = realloc(q->items, cap * sizeof *items);
        if (!items)
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory growing the queue");
        q->items = items;
        double *keys = realloc(q->keys, cap * sizeof *keys);
        if (!keys)
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory growing the queue");
        q->keys = keys;
        q->cap = cap;
    }
    size_t i = q->len++;
    q->items[i] = inv;
    q->keys[i] = q->policy->key(inv);
    inv->queue_index = i;
    inv->queued = true;
    sift_up(q, i);
    return 0;
}

struct ilu_invocation *ilu_queue_peek(const struct ilu_queue *q)
{
    return q->len ? q->items[0] : NULL;
}

void ilu_queue_remove(struct ilu_queue *q, struct ilu_invocation *inv)
{
    if (!inv->queued)
        return;
    size_t i = inv->queue_index;
    inv->queued = false;
    q->len--;
    if (i != q->len) {
        q->items[i] = q->items[q->len];
        q->keys[i] = q->keys[q->len];
        q->items[i]->queue_index = i;
        sift_down(q, i);
        sift_up(q, i);
    }
}

struct ilu_invocation *ilu_queue_pop(struct ilu_queue *q)
{
    struct ilu_invocation *head = ilu_queue_peek(q);
    if (head)
        ilu_queue_remove(q, head);
    return head;
}
