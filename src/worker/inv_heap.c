/* A binary min-heap of invocations on (key, arrival sequence): ties keep
 * arrival order. Each invocation knows its index, so removal from the
 * middle (a timeout) is O(log n). */
#include "worker/inv_heap.h"

#include <stdlib.h>

int ilu_inv_heap_init(struct ilu_inv_heap *q)
{
    q->len = 0;
    q->cap = 64;
    q->items = malloc(q->cap * sizeof *q->items);
    q->keys = malloc(q->cap * sizeof *q->keys);
    if (!q->items || !q->keys) {
        ilu_inv_heap_destroy(q);
        return -1;
    }
    return 0;
}

void ilu_inv_heap_destroy(struct ilu_inv_heap *q)
{
    free(q->items);
    free(q->keys);
    q->items = NULL;
    q->keys = NULL;
    q->len = q->cap = 0;
}

static int before(const struct ilu_inv_heap *q, size_t a, size_t b)
{
    if (q->keys[a] != q->keys[b])
        return q->keys[a] < q->keys[b];
    return q->items[a]->seq < q->items[b]->seq;
}

static void swap(struct ilu_inv_heap *q, size_t a, size_t b)
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

static void sift_up(struct ilu_inv_heap *q, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(q, i, parent))
            break;
        swap(q, i, parent);
        i = parent;
    }
}

static void sift_down(struct ilu_inv_heap *q, size_t i)
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

int ilu_inv_heap_push(struct ilu_inv_heap *q, struct ilu_invocation *inv, double key)
{
    if (q->len == q->cap) {
        size_t cap = q->cap * 2;
        struct ilu_invocation **items = realloc(q->items, cap * sizeof *items);
        if (!items)
            return -1;
        q->items = items;
        double *keys = realloc(q->keys, cap * sizeof *keys);
        if (!keys)
            return -1;
        q->keys = keys;
        q->cap = cap;
    }
    size_t i = q->len++;
    q->items[i] = inv;
    q->keys[i] = key;
    inv->queue_index = i;
    sift_up(q, i);
    return 0;
}

void ilu_inv_heap_remove(struct ilu_inv_heap *q, struct ilu_invocation *inv)
{
    size_t i = inv->queue_index;
    if (i >= q->len || q->items[i] != inv)
        return; /* not in this heap */
    q->len--;
    if (i != q->len) {
        q->items[i] = q->items[q->len];
        q->keys[i] = q->keys[q->len];
        q->items[i]->queue_index = i;
        sift_down(q, i);
        sift_up(q, i);
    }
}
