#include "node_heap.h"

#include <stdlib.h>

static bool less(const struct ilu_heap_node *a, const struct ilu_heap_node *b)
{
    return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

static void put(struct ilu_node_heap *h, size_t i, struct ilu_heap_node *n)
{
    h->a[i] = n;
    n->idx = i;
}

static void sift_up(struct ilu_node_heap *h, size_t i)
{
    struct ilu_heap_node *n = h->a[i];
    while (i > 0 && less(n, h->a[(i - 1) / 2])) {
        put(h, i, h->a[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    put(h, i, n);
}

static void sift_down(struct ilu_node_heap *h, size_t i)
{
    struct ilu_heap_node *n = h->a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && less(h->a[c + 1], h->a[c]))
            c++;
        if (!less(h->a[c], n))
            break;
        put(h, i, h->a[c]);
        i = c;
    }
    put(h, i, n);
}

int ilu_node_heap_set(struct ilu_node_heap *h, struct ilu_heap_node *n, double key, uint64_t seq)
{
    n->key = key;
    n->seq = seq;
    if (ilu_heap_node_in(n)) {
        size_t i = n->idx;
        sift_up(h, i);
        sift_down(h, n->idx);
        return 0;
    }
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        struct ilu_heap_node **a = realloc(h->a, cap * sizeof *a);
        if (!a)
            return -1;
        h->a = a;
        h->cap = cap;
    }
    put(h, h->len++, n);
    sift_up(h, h->len - 1);
    return 0;
}

void ilu_node_heap_remove(struct ilu_node_heap *h, struct ilu_heap_node *n)
{
    if (!ilu_heap_node_in(n))
        return;
    size_t i = n->idx;
    n->idx = SIZE_MAX;
    struct ilu_heap_node *last = h->a[--h->len];
    if (i == h->len)
        return;
    put(h, i, last);
    sift_up(h, i);
    sift_down(h, last->idx);
}

void ilu_node_heap_destroy(struct ilu_node_heap *h)
{
    free(h->a);
    h->a = NULL;
    h->len = h->cap = 0;
}
