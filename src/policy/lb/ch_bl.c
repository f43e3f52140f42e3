/* Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam,
 * SODA 2018; used for FaaS locality as CH-BL / CH-RLU by Fuerst and Sharma,
 * HPDC 2022). Each worker owns `vnodes` points on a hash ring; a function
 * goes to the first worker clockwise from its own hash, so it keeps hitting
 * the same warm containers, unless that worker's load exceeds bound_pct% of
 * the mean load (plus one invocation), in which case it walks on to the next
 * distinct worker. Load is ilu_ctl_worker_load() weighted by CPUs.
 * Only eligible workers (ilu_lb_eligible: healthy, and able to run the
 * function, e.g. with GPUs for a GPU function) count: the ring holds every
 * worker, the walk skips the others, and the mean is theirs, so a function
 * keeps its home among the workers that can run it. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "core/policy_registry.h"

struct ring_point {
    uint64_t hash;
    unsigned worker;
};

struct chbl_state {
    unsigned vnodes, bound_pct;
    struct ring_point *ring;
    size_t n_points;
    unsigned *seen; /* per worker: the pick number that last visited it */
    size_t n_seen;
    unsigned pick_no;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, then a final mix: stable across runs and hosts */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static int cmp_point(const void *a, const void *b)
{
    const struct ring_point *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash ? 1 : (int)x->worker - (int)y->worker;
}

static void *chbl_create(const struct ilu_controller_config *cfg)
{
    struct chbl_state *s = calloc(1, sizeof *s);
    if (s) {
        s->vnodes = cfg->load_balancer.vnodes;
        s->bound_pct = cfg->load_balancer.bound_pct;
    }
    return s;
}

static void chbl_destroy(void *state)
{
    struct chbl_state *s = state;
    free(s->ring);
    free(s->seen);
    free(s);
}

/* Points depend on worker names only, so a worker keeps its arcs across
 * restarts of the controller and others joining. */
static void chbl_workers_changed(void *state, struct ilu_ctl_worker *const *workers, size_t n)
{
    struct chbl_state *s = state;
    struct ring_point *ring = realloc(s->ring, (n * s->vnodes + 1) * sizeof *ring);
    unsigned *seen = ring ? calloc(n + 1, sizeof *seen) : NULL;
    if (!ring || !seen) {
        free(seen);
        if (ring)
            s->ring = ring;
        return; /* keep the old ring: still valid for the old workers */
    }
    s->ring = ring;
    free(s->seen);
    s->seen = seen;
    s->n_seen = n;
    s->pick_no = 0;
    s->n_points = 0;
    for (size_t w = 0; w < n; w++)
        for (unsigned v = 0; v < s->vnodes; v++) {
            char key[96];
            snprintf(key, sizeof key, "%s#%u", workers[w]->name, v);
            ring[s->n_points++] = (struct ring_point){hash_str(key), (unsigned)w};
        }
    qsort(ring, s->n_points, sizeof *ring, cmp_point);
}

static long chbl_pick(void *state, const struct ilu_lb_call *call, struct ilu_ctl_worker *const *workers, size_t n)
{
    struct chbl_state *s = state;
    if (!s->n_points)
        return -1;
    /* the bound: c x (total load + 1) / total CPUs, per CPU of the candidate */
    double total = 0, cpus = 0;
    size_t eligible = 0;
    for (size_t i = 0; i < n; i++)
        if (ilu_lb_eligible(call, workers[i])) {
            total += ilu_ctl_worker_load(workers[i]) * workers[i]->cpus;
            cpus += workers[i]->cpus;
            eligible++;
        }
    if (!eligible)
        return -1;
    /* Mirrokni et al.'s capacity ceil(c (m + 1) / n) in invocations, with a
     * worker's share of n weighted by its CPUs: the ceiling keeps a function
     * at home on an idle cluster, counting whole invocations keeps a big
     * worker from taking a CPU's worth of extra queue */
    double c_factor = (double)s->bound_pct / 100.0;
    uint64_t h = hash_str(call->fqdn);
    size_t lo = 0, hi = s->n_points; /* first point with hash >= h */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->ring[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* a new pick number marks workers already tried, without clearing */
    if (++s->pick_no == 0) {
        memset(s->seen, 0, s->n_seen * sizeof *s->seen);
        s->pick_no = 1;
    }
    long first_eligible = -1;
    for (size_t k = 0; k < s->n_points; k++) {
        unsigned w = s->ring[(lo + k) % s->n_points].worker;
        if (w >= n || w >= s->n_seen || s->seen[w] == s->pick_no)
            continue;
        s->seen[w] = s->pick_no;
        if (!ilu_lb_eligible(call, workers[w]))
            continue;
        if (first_eligible < 0)
            first_eligible = (long)w;
        double capacity = ceil(c_factor * (total + 1.0) * workers[w]->cpus / cpus);
        /* + 1: the invocations it would have with this one */
        if (ilu_ctl_worker_load(workers[w]) * workers[w]->cpus + 1.0 <= capacity)
            return (long)w;
    }
    return first_eligible; /* everyone is over the bound: keep locality */
}

const struct ilu_lb_policy_ops ilu_lb_ch_bl = {
    .name = "CH-BL",
    .description = "consistent hashing with bounded loads: a function stays on one worker until it is overloaded",
    .create = chbl_create,
    .destroy = chbl_destroy,
    .workers_changed = chbl_workers_changed,
    .pick = chbl_pick,
};
