/* Ilúvatar's paella (paella.rs, after Paella, SOSP'23): per function a FIFO
 * of invocations, each tagged at arrival with the function's average GPU
 * execution. The next to run is the head of the first function (in the
 * order functions were first queued) whose deficit reached 25, else the
 * head with the smallest tag (ties to the earlier function). When one
 * starts, with n the functions ever queued, its function's deficit drops
 * by 1 - 1/n and every other function's rises by 1/n: a function passed
 * over long enough goes first whatever its length. No batching. */
#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "worker/queue.h"

#define PAELLA_FAIRNESS 25.0 /* Ilúvatar's fairness_thres */

struct pfn {
    struct ilu_invocation **inv; /* waiting, oldest first */
    double *tag;
    size_t len, cap;
    double deficit;
};

struct paella {
    struct ilu_map by_fqdn; /* fqdn -> index in fns */
    struct pfn *fns;        /* in first-queued order; never forgotten, as in Ilúvatar */
    size_t n, cap;
    const struct ilu_invocation *removed;
    size_t removed_fn;
};

static void *paella_create(const struct ilu_queue_policy_ops *self, const struct ilu_worker_config *cfg,
                           struct ilu_error *err)
{
    struct paella *p = calloc(1, sizeof *p);
    if (!p || ilu_map_init(&p->by_fqdn)) {
        free(p);
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory creating the %s queue", self->name);
        return NULL;
    }
    return p;
}

static void paella_free(void *st)
{
    struct paella *p = st;
    for (size_t i = 0; i < p->n; i++) {
        free(p->fns[i].inv);
        free(p->fns[i].tag);
    }
    free(p->fns);
    ilu_map_destroy(&p->by_fqdn);
    free(p);
}

/* fn's index, added when new; -1 when out of memory. */
static long paella_fn(struct paella *p, const struct ilu_function *fn)
{
    void *v = ilu_map_get(&p->by_fqdn, fn->fqdn);
    if (v)
        return (long)((uintptr_t)v - 1);
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct pfn *a = realloc(p->fns, cap * sizeof *a);
        if (!a)
            return -1;
        p->fns = a;
        p->cap = cap;
    }
    if (ilu_map_put(&p->by_fqdn, fn->fqdn, (void *)(uintptr_t)(p->n + 1)))
        return -1;
    p->fns[p->n] = (struct pfn){0};
    return (long)p->n++;
}

static int paella_push(void *st, struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    struct paella *p = st;
    long i = paella_fn(p, inv->fn);
    if (i < 0)
        return -1;
    struct pfn *f = &p->fns[i];
    if (f->len == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        struct ilu_invocation **a = realloc(f->inv, cap * sizeof *a);
        if (!a)
            return -1;
        f->inv = a;
        double *t = realloc(f->tag, cap * sizeof *t);
        if (!t)
            return -1;
        f->tag = t;
        f->cap = cap;
    }
    f->tag[f->len] = ilu_compute_warm_us(&inv->fn->stats.on[ILU_ON_GPU]);
    f->inv[f->len++] = inv;
    return 0;
}

/* The function whose head runs next, or -1 when nothing waits. */
static long paella_pick(const struct paella *p)
{
    long best = -1;
    for (size_t i = 0; i < p->n; i++) {
        const struct pfn *f = &p->fns[i];
        if (!f->len)
            continue;
        if (f->deficit >= PAELLA_FAIRNESS)
            return (long)i;
        if (best < 0 || f->tag[0] < p->fns[best].tag[0])
            best = (long)i;
    }
    return best;
}

static struct ilu_invocation *paella_next(void *st, const struct ilu_queue_view *v)
{
    struct paella *p = st;
    long i = paella_pick(p);
    return i < 0 ? NULL : p->fns[i].inv[0];
}

static void paella_remove(void *st, struct ilu_invocation *inv)
{
    struct paella *p = st;
    void *v = ilu_map_get(&p->by_fqdn, inv->fn->fqdn);
    if (!v)
        return;
    size_t fi = (size_t)((uintptr_t)v - 1);
    struct pfn *f = &p->fns[fi];
    size_t i = 0;
    while (i < f->len && f->inv[i] != inv)
        i++;
    if (i == f->len)
        return;
    memmove(f->inv + i, f->inv + i + 1, (f->len - i - 1) * sizeof *f->inv);
    memmove(f->tag + i, f->tag + i + 1, (f->len - i - 1) * sizeof *f->tag);
    f->len--;
    p->removed = inv;
    p->removed_fn = fi;
}

/* Ilúvatar's pop: the deficits move when an invocation is dispatched (not
 * when one times out). */
static void paella_on_start(void *st, const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    struct paella *p = st;
    if (inv != p->removed)
        return;
    p->removed = NULL;
    double n = (double)p->n;
    for (size_t i = 0; i < p->n; i++)
        p->fns[i].deficit += i == p->removed_fn ? -(1.0 - 1.0 / n) : 1.0 / n;
}

const struct ilu_queue_policy_ops ilu_gpu_queue_paella = {
    .name = "paella",
    .description = "shortest average GPU execution first, with deficit fairness between functions",
    .create = paella_create,
    .free = paella_free,
    .push = paella_push,
    .next = paella_next,
    .remove = paella_remove,
    .on_start = paella_on_start,
};
