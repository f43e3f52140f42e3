/* An intrusive binary min-heap on (key, seq): the node lives inside the
 * caller's struct (one per heap it can be in) and knows its index, so
 * re-keying and removal from the middle are O(log n). Policies use it for
 * deadlines (keep-alive expiries, planned prewarms) and for flows ordered
 * by virtual tags; the heap only holds pointers, the owner frees. */
#ifndef ILU_NODE_HEAP_H
#define ILU_NODE_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ilu_heap_node {
    double key;
    uint64_t seq; /* ties: the smaller first */
    size_t idx;   /* SIZE_MAX while out of the heap */
};

struct ilu_node_heap {
    struct ilu_heap_node **a;
    size_t len, cap;
};

/* A node starts out of every heap. */
static inline void ilu_heap_node_init(struct ilu_heap_node *n)
{
    n->idx = SIZE_MAX;
}
static inline bool ilu_heap_node_in(const struct ilu_heap_node *n)
{
    return n->idx != SIZE_MAX;
}

/* Insert n, or move it if it is in already, at (key, seq); -1 when the
 * heap cannot grow (n is then out of it). */
int ilu_node_heap_set(struct ilu_node_heap *h, struct ilu_heap_node *n, double key, uint64_t seq);
/* No-op when n is out. */
void ilu_node_heap_remove(struct ilu_node_heap *h, struct ilu_heap_node *n);
static inline struct ilu_heap_node *ilu_node_heap_top(const struct ilu_node_heap *h)
{
    return h->len ? h->a[0] : NULL;
}
/* Frees the array; the nodes are the caller's. */
void ilu_node_heap_destroy(struct ilu_node_heap *h);

#endif
