/* Processor sharing with a virtual clock (cpu_share.h). Every running activity
 * progresses at the same rate, so one clock V, advanced at that rate, tells
 * how far each one got since its start: an activity started at V0 with work
 * w is done when V reaches V0 + w. The heap holds those finish values; only
 * the earliest needs a timer.
 *
 * An activity stops loading the CPUs at the exact (fractional) instant it
 * is done, but is reported at the next whole microsecond: in between it
 * waits in the `done` list. So rounding the reports never slows the others,
 * and many completions do not add up to a drift. */
#include "backend/sim/cpu_share.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

/* Demands and cores in millionths of a core: sums and differences of
 * integers stay exact however many activities come and go. */
#define FP_PER_CORE 1000000.0

/* Float slack (virtual microseconds) when turning a remaining work into a
 * delay: a value that is a whole microsecond up to rounding error must not be
 * rounded up to the next one. */
#define EPS 1e-4

/* V is brought back near 0 by a whole number once it passes this: while V
 * stays below 2^30 its rounding step is under 2^-22 us, and subtracting a
 * whole number from a finish value of that size is exact. */
#define V_RENORM 1073741824.0

/* The longest delay a timer is armed for (about 31 years). */
#define MAX_DELAY_US 1000000000000000ull

struct ilu_cpu_task {
    double finish_v; /* V at which it is done */
    uint64_t seq;    /* start order, breaks ties */
    uint64_t demand_fp;
    size_t idx;                       /* position in the heap, while running */
    bool running;                     /* in the heap; else in the done list, not yet reported */
    struct ilu_cpu_task *prev, *next; /* in the done list */
    void (*done)(void *arg);
    void *arg;
};

struct ilu_cpu_share {
    struct ilu_sim_env *env;
    uint64_t cores_fp;
    uint64_t demand_fp; /* D of the running activities */
    double v;           /* the virtual clock */
    uint64_t v_at_us;   /* sim clock reading V is up to date with */
    struct ilu_cpu_task **heap;
    size_t len, cap;
    uint64_t seq;
    struct ilu_cpu_task *done_head, *done_tail; /* done, in finish order, to report */
    size_t n_done;
    struct ilu_timer *timer; /* to report done_head, or for heap[0]; NULL when idle */
    uint64_t timer_due;
};

static double rate_of(const struct ilu_cpu_share *s)
{
    return s->demand_fp <= s->cores_fp ? 1.0 : (double)s->cores_fp / (double)s->demand_fp;
}

/* ---- the heap of finish values ------------------------------------------- */

static int earlier(const struct ilu_cpu_task *a, const struct ilu_cpu_task *b)
{
    return a->finish_v != b->finish_v ? a->finish_v < b->finish_v : a->seq < b->seq;
}

static void place(struct ilu_cpu_share *s, size_t i, struct ilu_cpu_task *t)
{
    s->heap[i] = t;
    t->idx = i;
}

static void sift_up(struct ilu_cpu_share *s, size_t i)
{
    struct ilu_cpu_task *t = s->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(t, s->heap[parent]))
            break;
        place(s, i, s->heap[parent]);
        i = parent;
    }
    place(s, i, t);
}

static void sift_down(struct ilu_cpu_share *s, size_t i)
{
    struct ilu_cpu_task *t = s->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        const struct ilu_cpu_task *best_t = t;
        if (l < s->len && earlier(s->heap[l], best_t))
            best = l, best_t = s->heap[l];
        if (r < s->len && earlier(s->heap[r], best_t))
            best = r;
        if (best == i)
            break;
        place(s, i, s->heap[best]);
        i = best;
    }
    place(s, i, t);
}

static void heap_remove(struct ilu_cpu_share *s, struct ilu_cpu_task *t)
{
    size_t i = t->idx;
    s->len--;
    if (i != s->len) {
        place(s, i, s->heap[s->len]);
        sift_down(s, i);
        sift_up(s, s->heap[i]->idx);
    }
}

/* ---- the done list ------------------------------------------------------------ */

static void done_append(struct ilu_cpu_share *s, struct ilu_cpu_task *t)
{
    t->running = false;
    t->next = NULL;
    t->prev = s->done_tail;
    if (s->done_tail)
        s->done_tail->next = t;
    else
        s->done_head = t;
    s->done_tail = t;
    s->n_done++;
}

static void done_unlink(struct ilu_cpu_share *s, struct ilu_cpu_task *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        s->done_head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        s->done_tail = t->prev;
    s->n_done--;
}

/* The earliest running activity is done: it stops loading the CPUs. */
static void finish_first(struct ilu_cpu_share *s)
{
    struct ilu_cpu_task *t = s->heap[0];
    heap_remove(s, t);
    s->demand_fp -= t->demand_fp;
    done_append(s, t);
}

/* ---- the virtual clock ------------------------------------------------------ */

/* Bring V up to the sim clock. Activities done on the way (at fractional
 * instants since the last change) move to the done list as they finish,
 * and the others go on at the rate that holds after each. */
static void advance(struct ilu_cpu_share *s)
{
    uint64_t now = s->env->now_us;
    double left = (double)(now - s->v_at_us); /* microseconds still to account for */
    s->v_at_us = now;
    while (s->len && left > 0) {
        double rate = rate_of(s);
        double dt = (s->heap[0]->finish_v - s->v) / rate;
        if (dt > left + EPS) {
            s->v += left * rate;
            break;
        }
        if (dt > 0) {
            s->v = s->heap[0]->finish_v;
            left -= dt;
        }
        finish_first(s);
    }
    if (!s->len) {
        s->v = 0; /* nothing to measure against: start afresh, free of old rounding */
    } else if (s->v >= V_RENORM) {
        double k = floor(s->v);
        s->v -= k;
        for (size_t i = 0; i < s->len; i++)
            s->heap[i]->finish_v -= k; /* exact, and the order is kept */
    }
}

static void on_timer(void *arg);

/* Arm the timer: now when a done activity waits to be reported, else for
 * the earliest finish under the current rate, rounded up to a whole
 * microsecond. An armed timer already due then stays. -1 when out of
 * memory. */
static int reschedule(struct ilu_cpu_share *s)
{
    if (!s->len && !s->done_head) {
        ilu_sim_env_cancel(s->env, s->timer);
        s->timer = NULL;
        return 0;
    }
    uint64_t delay = 0;
    double dt = s->done_head ? 0 : (s->heap[0]->finish_v - s->v) / rate_of(s);
    if (dt > EPS)
        delay = dt - EPS >= (double)MAX_DELAY_US ? MAX_DELAY_US : (uint64_t)ceil(dt - EPS);
    uint64_t due = s->env->now_us + delay;
    if (s->timer && s->timer_due == due)
        return 0;
    ilu_sim_env_cancel(s->env, s->timer); /* recycled: the next line reuses it */
    s->timer = ilu_sim_env_at(s->env, due, on_timer, s);
    s->timer_due = due;
    return s->timer ? 0 : -1;
}

/* Report the first done activity: unlink it, re-arm, then tell its owner.
 * Others done in the same microsecond follow on timers of their own, due
 * now, so that a callback always sees a consistent share and may start or
 * cancel activities. */
static void on_timer(void *arg)
{
    struct ilu_cpu_share *s = arg;
    s->timer = NULL; /* fired: sim_env has recycled it */
    advance(s);
    if (!s->done_head && !s->len)
        return; /* cannot happen: an idle share has no timer */
    if (!s->done_head) {
        /* the timer was armed for heap[0] and nothing changed since: it is
         * done, whatever the last bit of rounding says */
        finish_first(s);
        if (!s->len)
            s->v = 0;
    }
    struct ilu_cpu_task *t = s->done_head;
    done_unlink(s, t);
    reschedule(s); /* cannot fail: the timer that fired was recycled */
    void (*done)(void *) = t->done;
    void *done_arg = t->arg;
    free(t);
    done(done_arg);
}

/* ---- the API ---------------------------------------------------------------- */

struct ilu_cpu_share *ilu_cpu_share_new(struct ilu_sim_env *env, double cores)
{
    if (!(cores > 0) || cores * FP_PER_CORE >= 1e18 || llround(cores * FP_PER_CORE) == 0)
        return NULL;
    struct ilu_cpu_share *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->env = env;
    s->cores_fp = (uint64_t)llround(cores * FP_PER_CORE);
    s->v_at_us = env->now_us;
    return s;
}

void ilu_cpu_share_free(struct ilu_cpu_share *s)
{
    if (!s)
        return;
    ilu_sim_env_cancel(s->env, s->timer);
    for (size_t i = 0; i < s->len; i++)
        free(s->heap[i]);
    while (s->done_head) {
        struct ilu_cpu_task *next = s->done_head->next;
        free(s->done_head);
        s->done_head = next;
    }
    free(s->heap);
    free(s);
}

struct ilu_cpu_task *ilu_cpu_share_start(struct ilu_cpu_share *s, uint64_t work_us, double demand,
                                         void (*done)(void *arg), void *arg)
{
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct ilu_cpu_task **heap = realloc(s->heap, cap * sizeof *heap);
        if (!heap)
            return NULL;
        s->heap = heap;
        s->cap = cap;
    }
    struct ilu_cpu_task *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    advance(s);
    uint64_t demand_fp = 0;
    if (demand * FP_PER_CORE >= (double)s->cores_fp) /* more than the host has: all of it */
        demand_fp = s->cores_fp;
    else if (demand > 0)
        demand_fp = (uint64_t)llround(demand * FP_PER_CORE);
    *t = (struct ilu_cpu_task){.finish_v = s->v + (double)work_us,
                               .seq = s->seq++,
                               .demand_fp = demand_fp,
                               .running = true,
                               .done = done,
                               .arg = arg};
    place(s, s->len++, t);
    sift_up(s, s->len - 1);
    s->demand_fp += demand_fp;
    if (reschedule(s)) {
        heap_remove(s, t);
        s->demand_fp -= demand_fp;
        free(t);
        return NULL;
    }
    return t;
}

void ilu_cpu_share_cancel(struct ilu_cpu_share *s, struct ilu_cpu_task *t)
{
    if (!t)
        return;
    advance(s);
    if (t->running) {
        heap_remove(s, t);
        s->demand_fp -= t->demand_fp;
        if (!s->len)
            s->v = 0;
    } else {
        done_unlink(s, t); /* done, but not reported yet: it never will be */
    }
    free(t);
    reschedule(s);
}

double ilu_cpu_share_demand(const struct ilu_cpu_share *s)
{
    return (double)s->demand_fp / FP_PER_CORE;
}

size_t ilu_cpu_share_running(const struct ilu_cpu_share *s)
{
    return s->len + s->n_done;
}

double ilu_cpu_share_rate(const struct ilu_cpu_share *s)
{
    return rate_of(s);
}
