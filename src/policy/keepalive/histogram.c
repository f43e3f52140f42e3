/* Hybrid histogram keep-alive (Shahrad et al., "Serverless in the Wild",
 * USENIX ATC'20, section 4.2; the policy Azure Functions adopted).
 *
 * Per function, a histogram of idle times: the time from the end of an
 * invocation to the arrival of the next one (0 when the next arrives while
 * an invocation of the function is still running). Bins of
 * histogram_bin_sec (60 s, the paper's 1 minute) over histogram_range_min
 * (240 min, the paper's 4 hours); idle times at or beyond the range count
 * as out of bound (OOB). Memory per function is one fixed array of bins.
 *
 * The windows, both counted from the end of the last invocation:
 *  - fewer than histogram_min_samples idle times (5; the paper has no such
 *    floor, but percentiles of one or two gaps are noise), or a histogram
 *    whose coefficient of variation of bin counts is below
 *    histogram_cv_threshold_x100/100 (2, the paper's): "standard keep-alive",
 *    pre-warm 0 and keep-alive histogram_fallback_keepalive_sec (0 means the
 *    histogram range, 4 h, which is what the paper uses);
 *  - at least histogram_oob_pct % (50) of the idle times out of bound: the
 *    paper forecasts the next idle time with ARIMA; we forecast it with an
 *    exponentially weighted mean (the newest weighs 1/2) of the OOB idle
 *    times, constant memory and exact for a steady period, and apply the
 *    paper's ARIMA margin histogram_forecast_margin_pct (15 %): pre-warm at
 *    85 % of the forecast, keep alive until 115 %;
 *  - otherwise the histogram is representative: pre-warm window = the lower
 *    edge of the histogram_head_pct (5th) percentile bin shortened by
 *    histogram_margin_pct (10 %), keep-alive window = the upper edge of the
 *    histogram_tail_pct (99th) percentile bin lengthened by 10 %.
 *
 * What happens to a container (the paper's rule, with the windows above):
 * when an invocation ends and the pre-warm window is 0, the container stays
 * idle for the keep-alive window; when it is > 0, the container is released
 * at the next pool tick and the function is pre-warmed at end + pre-warm
 * window (if it then has no container), the pre-warmed container living
 * keep-alive - pre-warm once ready. An arrival cancels a pending pre-warm.
 *
 * Under memory pressure the victim is the least recently used idle
 * container (a container released after use is already gone). Orders by
 * predicted next call did worse in the simulator (200 functions, 200k
 * Poisson arrivals, 8 GB for 25 GB of functions: 16k cold starts with LRU,
 * 25k by last end + mean inter-arrival, 80k by last end + the histogram
 * median, whose 1-minute bins cannot tell a 1 s period from a 30 s one;
 * ordering by nearest keep-alive deadline evicts the most frequent
 * functions first, as theirs are the shortest windows).
 *
 * Every idle container's deadline sits in one heap, the pending pre-warms
 * in another, so events cost O(log n) and a pool tick touches only what is
 * due: no scan over functions or containers. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/map.h"
#include "core/node_heap.h"
#include "worker/pool.h"

#define HH_EWMA_NEW 0.5 /* weight of the newest OOB idle time in the forecast */

enum hh_mode { HH_FALLBACK, HH_HISTOGRAM, HH_FORECAST };

struct hh_fn {
    struct ilu_function *fn;      /* borrowed: functions outlive the pool's containers */
    struct ilu_heap_node prewarm; /* key: when to pre-warm; in the prewarm heap while pending */
    uint64_t seen_arrivals;       /* fn->stats.arrivals already turned into a sample */
    uint64_t last_end_us;
    bool has_end;
    uint32_t running;            /* containers serving an invocation we counted */
    uint64_t n_in, n_oob, sumsq; /* samples in range, out of bound; sum of squared bin counts */
    double oob_ewma_us;
    enum hh_mode mode;
    uint64_t pw_us, ka_us; /* the windows, from the last invocation's end */
    uint32_t bins[];
};

struct hh_ct {
    struct ilu_container *c;
    struct hh_fn *f;
    struct ilu_heap_node expiry; /* key: keep-alive deadline; in the expiry heap while idle */
    bool running;
};

struct hh_state {
    uint64_t bin_us, fallback_us, min_samples;
    uint32_t n_bins, head_pct, tail_pct, margin_pct, forecast_margin_pct, oob_pct, cv_x100;
    struct ilu_map fns; /* fqdn -> struct hh_fn */
    struct ilu_node_heap expiry, prewarm;
    uint64_t seq;
};

#define CT_OF(node) ((struct hh_ct *)((char *)(node)-offsetof(struct hh_ct, expiry)))
#define FN_OF(node) ((struct hh_fn *)((char *)(node)-offsetof(struct hh_fn, prewarm)))

/* (Re)arm n at key; equal keys go in the order they were set, so runs
 * repeat exactly. Out of memory leaves n out: it then never fires. */
static void heap_push(struct hh_state *s, struct ilu_node_heap *h, struct ilu_heap_node *n, uint64_t key)
{
    ilu_node_heap_remove(h, n);
    ilu_node_heap_set(h, n, (double)key, ++s->seq);
}

/* ---- histogram ------------------------------------------------------------ */

static uint64_t percent_of(uint64_t x, uint64_t pct)
{
    return x / 100 * pct + x % 100 * pct / 100;
}

/* The first bin at which pct % of the in-range samples are reached. */
static uint32_t percentile_bin(const struct hh_state *s, const struct hh_fn *f, uint32_t pct)
{
    uint64_t cum = 0;
    for (uint32_t i = 0; i < s->n_bins; i++) {
        cum += f->bins[i];
        if (cum * 100 >= (uint64_t)pct * f->n_in)
            return i;
    }
    return s->n_bins - 1;
}

/* Coefficient of variation of the bin counts (sample standard deviation
 * over the mean), as the paper judges whether the histogram is a pattern. */
static double bins_cv(const struct hh_state *s, const struct hh_fn *f)
{
    if (!f->n_in || s->n_bins < 2)
        return 0;
    double b = s->n_bins, n = (double)f->n_in;
    double mean = n / b;
    double var = ((double)f->sumsq - n * n / b) / (b - 1);
    return var > 0 ? sqrt(var) / mean : 0;
}

static void windows_update(const struct hh_state *s, struct hh_fn *f)
{
    uint64_t total = f->n_in + f->n_oob;
    if (total == 0 || total < s->min_samples) {
        f->mode = HH_FALLBACK;
    } else if (f->n_oob * 100 >= (uint64_t)s->oob_pct * total) {
        f->mode = HH_FORECAST;
        uint64_t forecast = (uint64_t)f->oob_ewma_us;
        f->pw_us = forecast - percent_of(forecast, s->forecast_margin_pct);
        f->ka_us = forecast + percent_of(forecast, s->forecast_margin_pct);
        return;
    } else if (bins_cv(s, f) * 100 < (double)s->cv_x100) {
        f->mode = HH_FALLBACK;
    } else {
        f->mode = HH_HISTOGRAM;
        uint64_t head = percentile_bin(s, f, s->head_pct) * s->bin_us;
        uint64_t tail = (percentile_bin(s, f, s->tail_pct) + 1) * s->bin_us;
        f->pw_us = head - percent_of(head, s->margin_pct);
        f->ka_us = tail + percent_of(tail, s->margin_pct);
        return;
    }
    f->pw_us = 0;
    f->ka_us = s->fallback_us;
}

static void sample_add(struct hh_state *s, struct hh_fn *f, uint64_t idle_us)
{
    uint64_t bin = idle_us / s->bin_us;
    if (bin < s->n_bins) {
        f->sumsq += 2 * (uint64_t)f->bins[bin] + 1; /* (c+1)^2 - c^2 */
        f->bins[bin]++;
        f->n_in++;
    } else {
        f->oob_ewma_us =
            f->n_oob ? HH_EWMA_NEW * (double)idle_us + (1 - HH_EWMA_NEW) * f->oob_ewma_us : (double)idle_us;
        f->n_oob++;
    }
    windows_update(s, f);
}

/* An arrival not yet sampled (fn->stats counts them at the worker): its
 * idle time goes into the histogram, a pending pre-warm is moot, and c is
 * taken to be the container serving it. Several arrivals between two
 * events give one sample, for the latest. */
static void arrival_note(struct hh_state *s, struct hh_ct *r)
{
    struct hh_fn *f = r->f;
    const struct ilu_fn_stats *st = &f->fn->stats;
    if (st->arrivals == f->seen_arrivals)
        return;
    f->seen_arrivals = st->arrivals;
    if (f->has_end) {
        bool overlap = f->running > 0 || st->last_arrival_us < f->last_end_us;
        sample_add(s, f, overlap ? 0 : st->last_arrival_us - f->last_end_us);
    }
    ilu_node_heap_remove(&s->prewarm, &f->prewarm);
    if (!r->running) {
        r->running = true;
        f->running++;
    }
}

/* ---- ops ------------------------------------------------------------------ */

static void hh_free(void *st)
{
    struct hh_state *s = st;
    if (!s)
        return;
    const char *key;
    void *value;
    for (size_t it = 0; ilu_map_next(&s->fns, &it, &key, &value);)
        free(value);
    ilu_map_destroy(&s->fns);
    ilu_node_heap_destroy(&s->expiry);
    ilu_node_heap_destroy(&s->prewarm);
    free(s);
}

static void *hh_create(const struct ilu_worker_config *cfg, struct ilu_error *err)
{
    /* ranges were checked by ilu_config_validate */
    struct hh_state *s = calloc(1, sizeof *s);
    if (!s || ilu_map_init(&s->fns)) {
        free(s);
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory creating the HYBRID_HISTOGRAM keep-alive policy");
        return NULL;
    }
    const typeof(cfg->container_resources) *cr = &cfg->container_resources;
    uint64_t range_us = (uint64_t)cr->histogram_range_min * 60 * 1000000;
    s->bin_us = (uint64_t)cr->histogram_bin_sec * 1000000;
    s->n_bins = (uint32_t)((range_us + s->bin_us - 1) / s->bin_us);
    s->head_pct = cr->histogram_head_pct;
    s->tail_pct = cr->histogram_tail_pct;
    s->margin_pct = cr->histogram_margin_pct;
    s->forecast_margin_pct = cr->histogram_forecast_margin_pct;
    s->oob_pct = cr->histogram_oob_pct;
    s->cv_x100 = cr->histogram_cv_threshold_x100;
    s->min_samples = cr->histogram_min_samples;
    s->fallback_us = cr->histogram_fallback_keepalive_sec ? (uint64_t)cr->histogram_fallback_keepalive_sec * 1000000
                                                          : (uint64_t)s->n_bins * s->bin_us;
    return s;
}

static struct hh_fn *fn_state(struct hh_state *s, struct ilu_function *fn)
{
    struct hh_fn *f = ilu_map_get(&s->fns, fn->fqdn);
    if (f)
        return f;
    f = calloc(1, sizeof *f + (size_t)s->n_bins * sizeof f->bins[0]);
    if (!f)
        return NULL;
    f->fn = fn;
    ilu_heap_node_init(&f->prewarm);
    f->mode = HH_FALLBACK;
    f->ka_us = s->fallback_us;
    if (ilu_map_put(&s->fns, fn->fqdn, f)) {
        free(f);
        return NULL;
    }
    return f;
}

static void hh_on_insert(void *st, struct ilu_container *c, uint64_t now_us)
{
    struct hh_state *s = st;
    struct hh_fn *f = fn_state(s, c->fn);
    struct hh_ct *r = f ? calloc(1, sizeof *r) : NULL;
    c->ka_data = r; /* NULL when out of memory: the container is then left to LRU */
    if (!r)
        return;
    r->c = c;
    r->f = f;
    ilu_heap_node_init(&r->expiry);
    arrival_note(s, r); /* a cold start for an arrival, or a pre-warm */
}

static void hh_on_use(void *st, struct ilu_container *c, uint64_t now_us)
{
    struct hh_state *s = st;
    struct hh_ct *r = c->ka_data;
    if (!r)
        return;
    ilu_node_heap_remove(&s->expiry, &r->expiry);
    arrival_note(s, r);
    if (!r->running) { /* taking an idle container is always for an invocation */
        r->running = true;
        r->f->running++;
    }
}

static void hh_on_idle(void *st, struct ilu_container *c, uint64_t now_us)
{
    struct hh_state *s = st;
    struct hh_ct *r = c->ka_data;
    if (!r)
        return;
    struct hh_fn *f = r->f;
    if (r->running) {
        r->running = false;
        f->running--;
    }
    uint64_t deadline;
    if (c->prewarmed) { /* ready without serving anything */
        deadline = now_us + (f->ka_us > f->pw_us ? f->ka_us - f->pw_us : 0);
    } else { /* an invocation ended */
        f->last_end_us = now_us;
        f->has_end = true;
        if (f->pw_us > 0) {
            deadline = now_us;
            heap_push(s, &s->prewarm, &f->prewarm, now_us + f->pw_us);
        } else {
            deadline = now_us + f->ka_us;
        }
    }
    c->ka_deadline_us = deadline;
    heap_push(s, &s->expiry, &r->expiry, deadline);
}

static void hh_on_remove(void *st, struct ilu_container *c, uint64_t now_us)
{
    struct hh_state *s = st;
    struct hh_ct *r = c->ka_data;
    if (!r)
        return;
    ilu_node_heap_remove(&s->expiry, &r->expiry);
    if (r->running)
        r->f->running--;
    free(r);
    c->ka_data = NULL;
}

static struct ilu_container *hh_victim(void *st, const struct ilu_pool *pool, uint64_t now_us)
{
    return ilu_pool_idle_first(pool);
}

static struct ilu_container *hh_expired(void *st, const struct ilu_pool *pool, uint64_t now_us)
{
    struct hh_state *s = st;
    struct ilu_heap_node *n = ilu_node_heap_top(&s->expiry);
    return n && n->key <= (double)now_us ? CT_OF(n)->c : NULL;
}

static size_t hh_prewarm_plan(void *st, const struct ilu_pool *pool, uint64_t now_us, struct ilu_function **out,
                              size_t cap)
{
    struct hh_state *s = st;
    size_t n = 0;
    struct ilu_heap_node *top;
    while (n < cap && (top = ilu_node_heap_top(&s->prewarm)) && top->key <= (double)now_us) {
        struct hh_fn *f = FN_OF(top);
        ilu_node_heap_remove(&s->prewarm, top);
        if (f->fn->n_containers == 0) /* one already there (or starting) serves */
            out[n++] = f->fn;
    }
    return n;
}

const struct ilu_keepalive_ops ilu_keepalive_hybrid_histogram = {
    .name = "HYBRID_HISTOGRAM",
    .description = "per-function idle-time histogram: pre-warm at its head, keep alive to its tail (Shahrad et al., "
                   "ATC'20)",
    .create = hh_create,
    .free = hh_free,
    .on_insert = hh_on_insert,
    .on_use = hh_on_use,
    .on_idle = hh_on_idle,
    .on_remove = hh_on_remove,
    .victim = hh_victim,
    .expired = hh_expired,
    .prewarm_plan = hh_prewarm_plan,
};
