/* Multi-Queue Fair Queueing (Hedayati et al., ATC'19) as Ilúvatar's
 * gpu_mqfq.rs uses it, here for the CPU queue. Each function is a flow with
 * weight 1. An invocation gets the start tag S = max(V, F_flow) and the
 * flow's finish tag becomes F = S + service, where service is
 * mqfq_config.service_average, else the function's average execution (on
 * the GPU queue, its average on GPUs), else allowed_overrun / 10
 * (Ilúvatar's fallback), all in seconds.
 *
 * V, the virtual time, is the smallest start tag of any invocation queued or
 * running, so it moves when an invocation finishes (or a new flow's
 * invocation arrives). The flow whose head has the smallest start tag runs
 * next, unless that tag is more than allowed_overrun ahead of V: then every
 * flow is throttled and next() returns NULL until a completion moves V. With
 * nothing running V is the smallest queued tag, so something always runs.
 * mqfq_config.work_conserving (ours, default true) lets a free CPU serve
 * the oldest flow even then: Ilúvatar's rule (false) leaves CPUs idle while
 * one long invocation pins V, which on a day-long trace timed out 37% of
 * the invocations that every other policy ran.
 *
 * A flow with nothing queued or running is remembered for ttl_sec after it
 * was last served (its finish tag keeps a flow that just had its share from
 * jumping ahead when it returns), then forgotten: it starts again at V.
 *
 * Three heaps of flows keep every operation O(log flows): ready (flows with
 * queued invocations, by head start tag), V (flows with queued or
 * running invocations, by their oldest tag), idle (by forget deadline). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/inv_heap.h"
#include "core/map.h"
#include "core/node_heap.h"
#include "worker/queue.h"

enum { H_READY, H_VT, H_IDLE, N_HEAPS };

struct running_tag {
    uint64_t seq; /* the invocation's, increasing in dispatch order within a flow */
    double tag;
    bool done;
};

struct flow {
    char *fqdn;
    uint64_t id;                   /* creation order: ties between flows */
    const struct ilu_function *fn; /* borrowed; read only while the worker lives */
    struct ilu_inv_heap queue;     /* queued, by start tag: FIFO, tags grow */
    struct running_tag *run;       /* running, in dispatch order; run[run_head..run_len) */
    size_t run_head, run_len, run_cap, n_running;
    double finish;                      /* F: finish tag of the last invocation tagged */
    uint64_t last_served_us;            /* last dispatch or completion */
    uint64_t forget_us;                 /* when idle: last_served_us + TTL */
    struct ilu_heap_node node[N_HEAPS]; /* its place in each heap of struct mqfq */
};

static struct flow *flow_of(struct ilu_heap_node *n, int which)
{
    return n ? (struct flow *)((char *)(n - which) - offsetof(struct flow, node)) : NULL;
}

struct mqfq {
    struct ilu_map flows; /* fqdn -> struct flow */
    struct ilu_node_heap heap[N_HEAPS];
    double vt;
    double overrun, service_avg, ttl_sec;
    bool work_conserving;
    uint64_t next_id;
    size_t n_running;
    /* the invocation remove() took last: when on_start follows for it, it
     * was dispatched rather than cancelled */
    const struct ilu_invocation *removed;
    struct flow *removed_flow;
    double removed_tag;
};

/* ---- heaps of flows ---- */

static bool flow_backlogged(const struct flow *f)
{
    return f->queue.len > 0;
}
static bool flow_outstanding(const struct flow *f)
{
    return f->queue.len > 0 || f->n_running > 0;
}

static double flow_key(const struct flow *f, int which)
{
    switch (which) {
    case H_READY: return ilu_inv_heap_peek_key(&f->queue);
    case H_VT: return f->n_running ? f->run[f->run_head].tag : ilu_inv_heap_peek_key(&f->queue);
    default: return (double)f->forget_us;
    }
}

static struct flow *fh_top(const struct mqfq *m, int which)
{
    return flow_of(ilu_node_heap_top(&m->heap[which]), which);
}

/* Put f where its state says in heap `which` (in or out, at its current
 * key; ties go to the older flow). */
static int fh_place(struct mqfq *m, struct flow *f, int which, bool member)
{
    if (!member) {
        ilu_node_heap_remove(&m->heap[which], &f->node[which]);
        return 0;
    }
    return ilu_node_heap_set(&m->heap[which], &f->node[which], flow_key(f, which), f->id);
}

/* ---- flows ---- */

static uint64_t flow_ttl_us(const struct mqfq *m, const struct flow *f)
{
    double sec = m->ttl_sec >= 0 ? m->ttl_sec : -m->ttl_sec * f->fn->stats.iat_mean_us / 1e6;
    return sec > 0 ? (uint64_t)(sec * 1e6) : 0;
}

/* After any change to f: its place in the three heaps. Only fails (-1) when
 * a heap cannot grow; f is then left out of that heap. */
static int flow_sync(struct mqfq *m, struct flow *f)
{
    bool idle = !flow_outstanding(f);
    if (idle && !ilu_heap_node_in(&f->node[H_IDLE]))
        f->forget_us = f->last_served_us + flow_ttl_us(m, f);
    int rc = fh_place(m, f, H_READY, flow_backlogged(f));
    rc |= fh_place(m, f, H_VT, flow_outstanding(f));
    rc |= fh_place(m, f, H_IDLE, idle);
    return rc ? -1 : 0;
}

static void flow_free(struct flow *f)
{
    ilu_inv_heap_destroy(&f->queue);
    free(f->run);
    free(f->fqdn);
    free(f);
}

static void flow_forget(struct mqfq *m, struct flow *f)
{
    for (int h = 0; h < N_HEAPS; h++)
        ilu_node_heap_remove(&m->heap[h], &f->node[h]);
    ilu_map_del(&m->flows, f->fqdn);
    flow_free(f);
}

static struct flow *flow_get(struct mqfq *m, const struct ilu_function *fn, uint64_t now_us)
{
    struct flow *f = ilu_map_get(&m->flows, fn->fqdn);
    if (f)
        return f;
    f = calloc(1, sizeof *f);
    if (!f || !(f->fqdn = strdup(fn->fqdn)) || ilu_inv_heap_init(&f->queue)) {
        if (f)
            free(f->fqdn);
        free(f);
        return NULL;
    }
    if (ilu_map_put(&m->flows, fn->fqdn, f)) {
        flow_free(f);
        return NULL;
    }
    f->id = m->next_id++;
    f->fn = fn;
    f->last_served_us = now_us;
    for (int h = 0; h < N_HEAPS; h++)
        ilu_heap_node_init(&f->node[h]);
    return f;
}

/* Forget the flows idle past their TTL. */
static void expire(struct mqfq *m, uint64_t now_us)
{
    struct flow *f;
    while ((f = fh_top(m, H_IDLE)) && f->forget_us <= now_us)
        flow_forget(m, f);
}

/* V never goes back; with nothing queued or running it stays put. */
static void refresh_vt(struct mqfq *m)
{
    struct flow *f = fh_top(m, H_VT);
    if (f)
        m->vt = fmax(m->vt, flow_key(f, H_VT));
}

/* On the GPU queue, the function's average on GPUs (its CPU runs say
 * nothing of a GPU's service); on the CPU queue, its average anywhere. */
static double service_sec(const struct mqfq *m, const struct ilu_function *fn, bool gpu)
{
    if (m->service_avg > 0)
        return m->service_avg;
    const struct ilu_stat *exec = gpu ? &fn->stats.on[ILU_ON_GPU].exec_us : &fn->stats.exec_us;
    if (exec->n > 0 && exec->ewma > 0)
        return exec->ewma / 1e6;
    return m->overrun / 10;
}

/* ---- the policy ---- */

static void mqfq_free(void *st)
{
    struct mqfq *m = st;
    const char *key;
    void *value;
    for (size_t it = 0; ilu_map_next(&m->flows, &it, &key, &value);)
        flow_free(value);
    ilu_map_destroy(&m->flows);
    for (int h = 0; h < N_HEAPS; h++)
        ilu_node_heap_destroy(&m->heap[h]);
    free(m);
}

static void *mqfq_create(const struct ilu_queue_policy_ops *self, const struct ilu_worker_config *cfg,
                         struct ilu_error *err)
{
    struct mqfq *m = calloc(1, sizeof *m);
    if (!m || ilu_map_init(&m->flows)) {
        free(m);
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory creating the %s queue", self->name);
        return NULL;
    }
    /* Ilúvatar's defaults, for tests that pass no config */
    m->overrun = cfg ? cfg->invocation.mqfq.allowed_overrun : 10.0;
    m->service_avg = cfg ? cfg->invocation.mqfq.service_average : 0.0;
    m->ttl_sec = cfg ? cfg->invocation.mqfq.ttl_sec : 2.0;
    m->work_conserving = cfg ? cfg->invocation.mqfq.work_conserving : true;
    return m;
}

static int mqfq_push(void *st, struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    struct mqfq *m = st;
    uint64_t now = v ? v->now_us : 0;
    if (v)
        expire(m, now);
    refresh_vt(m);
    struct flow *f = flow_get(m, inv->fn, now);
    if (!f)
        return -1;
    double start = fmax(m->vt, f->finish);
    if (ilu_inv_heap_push(&f->queue, inv, start)) {
        flow_sync(m, f); /* a new, empty flow goes to the idle heap */
        return -1;
    }
    f->finish = start + service_sec(m, inv->fn, v && v->gpu);
    if (flow_sync(m, f)) {
        ilu_inv_heap_remove(&f->queue, inv);
        flow_sync(m, f);
        return -1;
    }
    return 0;
}

static struct ilu_invocation *mqfq_next(void *st, const struct ilu_queue_view *v)
{
    struct mqfq *m = st;
    if (v)
        expire(m, v->now_us);
    refresh_vt(m);
    struct flow *f = fh_top(m, H_READY);
    if (!f)
        return NULL;
    double head = flow_key(f, H_READY);
    /* a small epsilon: tags are sums of doubles */
    if (v && head > m->vt + m->overrun + 1e-9) {
        /* throttled: a completion will move V; unless work-conserving and a
         * CPU is free, which then serves the oldest flow (V stays) */
        if (m->n_running > 0 && !(m->work_conserving && v->cpus_free > 0))
            return NULL;
        if (m->n_running > 0)
            return ilu_inv_heap_peek(&f->queue);
        m->vt = head; /* cannot happen while V is the oldest tag; never starve anyway */
    }
    return ilu_inv_heap_peek(&f->queue);
}

static void mqfq_remove(void *st, struct ilu_invocation *inv)
{
    struct mqfq *m = st;
    struct flow *f = ilu_map_get(&m->flows, inv->fn->fqdn);
    if (!f || inv->queue_index >= f->queue.len || f->queue.items[inv->queue_index] != inv)
        return;
    m->removed = inv;
    m->removed_flow = f;
    m->removed_tag = f->queue.keys[inv->queue_index];
    ilu_inv_heap_remove(&f->queue, inv);
    flow_sync(m, f);
}

static void mqfq_on_start(void *st, const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    struct mqfq *m = st;
    if (inv != m->removed)
        return;
    struct flow *f = m->removed_flow;
    m->removed = NULL;
    if (f->run_len == f->run_cap) {
        if (f->run_head > 0) { /* reuse the finished front */
            memmove(f->run, f->run + f->run_head, (f->run_len - f->run_head) * sizeof *f->run);
            f->run_len -= f->run_head;
            f->run_head = 0;
        } else {
            size_t cap = f->run_cap ? f->run_cap * 2 : 8;
            struct running_tag *run = realloc(f->run, cap * sizeof *run);
            if (!run)
                return; /* untracked: V just ignores it */
            f->run = run;
            f->run_cap = cap;
        }
    }
    f->run[f->run_len++] = (struct running_tag){.seq = inv->seq, .tag = m->removed_tag};
    f->n_running++;
    m->n_running++;
    f->last_served_us = v ? v->now_us : f->last_served_us;
    flow_sync(m, f);
}

static void mqfq_on_done(void *st, const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    struct mqfq *m = st;
    struct flow *f = ilu_map_get(&m->flows, inv->fn->fqdn);
    if (!f || !f->n_running)
        return;
    /* run[] is in dispatch order, which is seq order within a flow */
    size_t lo = f->run_head, hi = f->run_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->run[mid].seq < inv->seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == f->run_len || f->run[lo].seq != inv->seq || f->run[lo].done)
        return;
    f->run[lo].done = true;
    f->n_running--;
    m->n_running--;
    while (f->run_head < f->run_len && f->run[f->run_head].done)
        f->run_head++;
    if (f->run_head == f->run_len)
        f->run_head = f->run_len = 0;
    f->last_served_us = v ? v->now_us : f->last_served_us;
    flow_sync(m, f);
}

const struct ilu_queue_policy_ops ilu_queue_mqfq = {
    .name = "mqfq",
    .description = "multi-queue fair queueing: per-function flows by virtual start tag, throttled past "
                   "invocation.mqfq_config.allowed_overrun",
    .create = mqfq_create,
    .free = mqfq_free,
    .push = mqfq_push,
    .next = mqfq_next,
    .remove = mqfq_remove,
    .on_start = mqfq_on_start,
    .on_done = mqfq_on_done,
};
