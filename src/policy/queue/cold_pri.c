/* Cold priority (Ilúvatar's "cold_pri"): the invocation expected to take the
 * least time runs first, where what it is expected to take depends on
 * whether its function has a warm container free at the moment of the
 * choice: its warm time when fn->n_idle > 0, else its cold time, i.e.
 * container start-up + execution (ilu_fn_stats_warm_us / _cold_us). Unknown
 * functions (0) go first. Ties go to the earlier arrival. Ilúvatar fixes
 * this when the invocation is queued; here it is read at every next(), so
 * an invocation queued while its function's containers were busy moves
 * ahead as soon as one is free again, and back when another took it.
 *
 * Structure: one FIFO per function with queued work (a heap in arrival
 * order), kept in an array of flows, found by function through a map. All
 * invocations of a function share one expected time, so only each flow's
 * head competes. push and remove are O(log n) in the flow's length;
 * next() scans the flows' heads: O(functions with queued work), O(1) in
 * queued invocations.
 *
 * Why a scan rather than a heap of flows: a flow's key changes whenever
 * fn->n_idle changes (an invocation takes or returns a container, a prewarm
 * finishes, keep-alive or memory pressure removes an idle container, one
 * dies) and whenever the function's statistics move. Most of those happen
 * in the pool with no queue event, so a heap of flow keys would be stale
 * exactly when it matters; keeping it exact in O(log F) would need an "idle
 * count changed" hook from the pool to the queue policy. The scan is exact
 * at the cost of F, which is bounded by the registered functions and in
 * practice far below the queue length. */
#include <stdio.h>
#include <stdlib.h>

#include "worker/inv_heap.h"
#include "core/map.h"
#include "worker/queue.h"

struct flow {
    struct ilu_function *fn;
    struct ilu_inv_heap fifo; /* key 0: arrival order */
    size_t index;             /* in cold_pri.flows */
};

struct cold_pri {
    struct ilu_map by_fn; /* function address -> struct flow */
    struct flow **flows;  /* functions with queued work */
    size_t n_flows, cap;
};

/* Flows are keyed by the function's address: unique while it is registered
 * and cheap, whatever its name. */
static void fn_key(const struct ilu_function *fn, char *buf, size_t len)
{
    snprintf(buf, len, "%p", (const void *)fn);
}

static void *cold_pri_create(const struct ilu_queue_policy_ops *self, const struct ilu_worker_config *cfg,
                             struct ilu_error *err)
{
    struct cold_pri *cp = calloc(1, sizeof *cp);
    if (!cp || ilu_map_init(&cp->by_fn)) {
        free(cp);
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory creating the %s queue", self->name);
        return NULL;
    }
    return cp;
}

static void flow_free(struct flow *f)
{
    ilu_inv_heap_destroy(&f->fifo);
    free(f);
}

static void cold_pri_free(void *st)
{
    struct cold_pri *cp = st;
    for (size_t i = 0; i < cp->n_flows; i++)
        flow_free(cp->flows[i]);
    free(cp->flows);
    ilu_map_destroy(&cp->by_fn);
    free(cp);
}

static struct flow *flow_of(struct cold_pri *cp, const struct ilu_function *fn)
{
    char key[32];
    fn_key(fn, key, sizeof key);
    return ilu_map_get(&cp->by_fn, key);
}

static struct flow *flow_add(struct cold_pri *cp, struct ilu_function *fn)
{
    if (cp->n_flows == cp->cap) {
        size_t cap = cp->cap ? cp->cap * 2 : 16;
        struct flow **flows = realloc(cp->flows, cap * sizeof *flows);
        if (!flows)
            return NULL;
        cp->flows = flows;
        cp->cap = cap;
    }
    struct flow *f = calloc(1, sizeof *f);
    char key[32];
    fn_key(fn, key, sizeof key);
    if (!f || ilu_inv_heap_init(&f->fifo)) {
        free(f);
        return NULL;
    }
    if (ilu_map_put(&cp->by_fn, key, f)) {
        flow_free(f);
        return NULL;
    }
    f->fn = fn;
    f->index = cp->n_flows;
    cp->flows[cp->n_flows++] = f;
    return f;
}

/* An empty flow leaves, so the scan only sees functions with queued work. */
static void flow_drop(struct cold_pri *cp, struct flow *f)
{
    char key[32];
    fn_key(f->fn, key, sizeof key);
    ilu_map_del(&cp->by_fn, key);
    struct flow *last = cp->flows[--cp->n_flows];
    cp->flows[f->index] = last;
    last->index = f->index;
    flow_free(f);
}

static int cold_pri_push(void *st, struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    struct cold_pri *cp = st;
    struct flow *f = flow_of(cp, inv->fn);
    if (!f && !(f = flow_add(cp, inv->fn)))
        return -1;
    if (ilu_inv_heap_push(&f->fifo, inv, 0)) {
        if (!f->fifo.len)
            flow_drop(cp, f);
        return -1;
    }
    return 0;
}

static struct ilu_invocation *cold_pri_next(void *st, const struct ilu_queue_view *v)
{
    struct cold_pri *cp = st;
    struct ilu_invocation *best = NULL;
    double best_us = 0;
    for (size_t i = 0; i < cp->n_flows; i++) {
        struct ilu_invocation *head = ilu_inv_heap_peek(&cp->flows[i]->fifo);
        double us = ilu_queue_expected_us(head->fn); /* n_idle as of now */
        if (!best || us < best_us || (us == best_us && head->seq < best->seq)) {
            best = head;
            best_us = us;
        }
    }
    return best;
}

static void cold_pri_remove(void *st, struct ilu_invocation *inv)
{
    struct cold_pri *cp = st;
    struct flow *f = flow_of(cp, inv->fn);
    if (!f)
        return;
    ilu_inv_heap_remove(&f->fifo, inv);
    if (!f->fifo.len)
        flow_drop(cp, f);
}

const struct ilu_queue_policy_ops ilu_queue_cold_pri = {
    .name = "cold_pri",
    .description = "shortest expected time first, warm if a container of the function is free now, else cold",
    .create = cold_pri_create,
    .free = cold_pri_free,
    .push = cold_pri_push,
    .next = cold_pri_next,
    .remove = cold_pri_remove,
};
