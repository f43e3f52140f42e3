/* The batch engine of the GPU queue policies (queue.h, docs/gpu.md): the
 * queue is a heap of batches, each a FIFO of one function's invocations.
 * Ilúvatar pops a whole batch and runs it back to back on one container;
 * here its invocations stay queued (they count in gpu_queue_len and time
 * out as any other) and the worker asks batch_next for the next one when
 * the previous finishes on its container. A batch is found from an
 * invocation through inv->queue_index, the batch's slot. */
#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "core/node_heap.h"
#include "worker/queue.h"

struct batch {
    const struct ilu_function *fn;
    struct ilu_invocation **inv; /* waiting members, oldest first: inv[0..len) */
    size_t len, cap;
    size_t slot;
    bool started;               /* a member was chosen: closed to arrivals */
    uint64_t running_seq;       /* the member running now (0: none) */
    struct ilu_heap_node ready; /* in the heap while it has members and none runs */
    uint64_t id;
};

struct engine {
    enum ilu_batch_join join;
    uint32_t cap;
    double (*key)(const struct ilu_invocation *inv, const struct ilu_queue_view *v);
    struct ilu_node_heap heap;
    struct batch **slots; /* by slot; NULL: free */
    size_t n_slots;
    size_t *free_slots, n_free; /* the NULL slots, to reuse */
    struct ilu_map open;        /* ILU_BATCH_FUNCTION: fqdn -> its newest batch not started */
    struct batch *last;         /* ILU_BATCH_ADJACENT: the batch created last, while not started */
    uint64_t next_id;
    /* remove() emptied this batch with nothing of it running: freed at the
     * next operation unless on_start says the removal was its dispatch */
    struct batch *doomed;
    const struct ilu_invocation *removed;
    struct batch *removed_from;
};

static struct batch *batch_of(const struct engine *e, const struct ilu_invocation *inv)
{
    return inv->queue_index < e->n_slots ? e->slots[inv->queue_index] : NULL;
}

static void batch_close(struct engine *e, struct batch *b)
{
    if (e->last == b)
        e->last = NULL;
    if (e->join == ILU_BATCH_FUNCTION && ilu_map_get(&e->open, b->fn->fqdn) == b)
        ilu_map_del(&e->open, b->fn->fqdn);
}

static void batch_free(struct engine *e, struct batch *b)
{
    batch_close(e, b);
    ilu_node_heap_remove(&e->heap, &b->ready);
    e->slots[b->slot] = NULL;
    e->free_slots[e->n_free++] = b->slot; /* room: one per slot */
    free(b->inv);
    free(b);
}

/* Free the batch remove() left empty, unless it is running again. */
static void bury(struct engine *e)
{
    struct batch *b = e->doomed;
    e->doomed = NULL;
    if (b && !b->running_seq && b->len == 0)
        batch_free(e, b);
}

/* b in the heap when it has members and none of them runs. */
static int batch_place(struct engine *e, struct batch *b)
{
    if (b->len == 0 || b->running_seq) {
        ilu_node_heap_remove(&e->heap, &b->ready);
        return 0;
    }
    if (ilu_heap_node_in(&b->ready))
        return 0;
    return ilu_node_heap_set(&e->heap, &b->ready, b->ready.key, b->id);
}

static struct batch *batch_new(struct engine *e, struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    if (e->n_free == 0) {
        size_t n = e->n_slots ? e->n_slots * 2 : 16;
        struct batch **s = realloc(e->slots, n * sizeof *s);
        if (!s)
            return NULL;
        e->slots = s;
        size_t *f = realloc(e->free_slots, n * sizeof *f);
        if (!f)
            return NULL;
        e->free_slots = f;
        for (size_t i = n; i > e->n_slots; i--) { /* the lowest slot on top */
            s[i - 1] = NULL;
            f[e->n_free++] = i - 1;
        }
        e->n_slots = n;
    }
    size_t slot = e->free_slots[e->n_free - 1];
    struct batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->fn = inv->fn;
    b->slot = slot;
    b->id = e->next_id++;
    ilu_heap_node_init(&b->ready);
    b->ready.key = e->key(inv, v);
    if (e->join == ILU_BATCH_FUNCTION && ilu_map_put(&e->open, inv->fn->fqdn, b)) {
        free(b);
        return NULL;
    }
    e->slots[slot] = b;
    e->n_free--;
    e->last = b;
    return b;
}

/* The waiting batch inv joins, or NULL for a new one. */
static struct batch *batch_to_join(struct engine *e, const struct ilu_invocation *inv)
{
    struct batch *b = NULL;
    if (e->join == ILU_BATCH_ADJACENT)
        b = e->last && e->last->fn == inv->fn ? e->last : NULL;
    else if (e->join == ILU_BATCH_FUNCTION)
        b = ilu_map_get(&e->open, inv->fn->fqdn);
    if (b && (b->started || (e->cap && b->len >= e->cap)))
        return NULL;
    return b;
}

void *ilu_gpu_batch_create(const struct ilu_queue_policy_ops *self, const struct ilu_worker_config *cfg,
                           struct ilu_error *err)
{
    struct engine *e = calloc(1, sizeof *e);
    if (!e || ilu_map_init(&e->open)) {
        free(e);
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory creating the %s queue", self->name);
        return NULL;
    }
    e->join = self->batch_join;
    e->cap = self->batch_cap;
    e->key = self->key;
    return e;
}

void ilu_gpu_batch_free(void *st)
{
    struct engine *e = st;
    for (size_t i = 0; i < e->n_slots; i++)
        if (e->slots[i]) {
            free(e->slots[i]->inv);
            free(e->slots[i]);
        }
    free(e->slots);
    free(e->free_slots);
    ilu_node_heap_destroy(&e->heap);
    ilu_map_destroy(&e->open);
    free(e);
}

int ilu_gpu_batch_push(void *st, struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    struct engine *e = st;
    bury(e);
    struct batch *b = batch_to_join(e, inv);
    bool fresh = !b;
    if (fresh && !(b = batch_new(e, inv, v)))
        return -1;
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4;
        struct ilu_invocation **a = realloc(b->inv, cap * sizeof *a);
        if (!a) {
            if (fresh)
                batch_free(e, b);
            return -1;
        }
        b->inv = a;
        b->cap = cap;
    }
    b->inv[b->len++] = inv;
    inv->queue_index = b->slot;
    if (batch_place(e, b)) {
        b->len--;
        if (fresh)
            batch_free(e, b);
        return -1;
    }
    return 0;
}

struct ilu_invocation *ilu_gpu_batch_next(void *st, const struct ilu_queue_view *v)
{
    struct engine *e = st;
    bury(e);
    struct ilu_heap_node *n = ilu_node_heap_top(&e->heap);
    if (!n)
        return NULL;
    struct batch *b = (struct batch *)((char *)n - offsetof(struct batch, ready));
    return b->inv[0];
}

void ilu_gpu_batch_remove(void *st, struct ilu_invocation *inv)
{
    struct engine *e = st;
    bury(e);
    struct batch *b = batch_of(e, inv);
    size_t i = 0;
    while (b && i < b->len && b->inv[i] != inv)
        i++;
    if (!b || i == b->len)
        return;
    memmove(b->inv + i, b->inv + i + 1, (b->len - i - 1) * sizeof *b->inv);
    b->len--;
    e->removed = inv;
    e->removed_from = b;
    batch_place(e, b); /* only ever leaves the heap here */
    if (b->len == 0 && !b->running_seq) {
        batch_close(e, b); /* no arrival joins it, whether it starts or goes */
        e->doomed = b;
    }
}

void ilu_gpu_batch_on_start(void *st, const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    struct engine *e = st;
    if (inv != e->removed)
        return;
    struct batch *b = e->removed_from;
    e->removed = NULL;
    b->started = true;
    b->running_seq = inv->seq;
    batch_close(e, b);
    batch_place(e, b);
    bury(e); /* b runs: no longer doomed */
}

/* The batch whose member done runs, or NULL. */
static struct batch *running_batch(const struct engine *e, const struct ilu_invocation *done)
{
    struct batch *b = batch_of(e, done);
    return b && b->running_seq == done->seq ? b : NULL;
}

void ilu_gpu_batch_on_done(void *st, const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    struct engine *e = st;
    bury(e);
    struct batch *b = running_batch(e, inv);
    if (!b)
        return;
    b->running_seq = 0;
    if (b->len == 0)
        batch_free(e, b);
    else
        batch_place(e, b); /* its next member waits at the batch's place (a failed run, or a cap) */
}

struct ilu_invocation *ilu_gpu_batch_next_of(void *st, const struct ilu_invocation *done,
                                             const struct ilu_queue_view *v)
{
    struct engine *e = st;
    bury(e);
    struct batch *b = running_batch(e, done);
    return b && b->len ? b->inv[0] : NULL;
}
