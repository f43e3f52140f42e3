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
#include <stddef.h>
#include <stdlib.h>

#include "core/node_heap.h"

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
    struct ilu_heap_node node; /* key: V at which it is done; seq: start order, breaks ties */
    uint64_t demand_fp;
    bool running;                     /* in the heap; else in the done list, not yet reported */
    struct ilu_cpu_task *prev, *next; /* in the done list */
    void (*done)(void *arg);
    void *arg;
};

struct ilu_cpu_share {
    struct ilu_sim_env *env;
    uint64_t cores_fp;
    uint64_t demand_fp;        /* D of the running activities */
    double v;                  /* the virtual clock */
    uint64_t v_at_us;          /* sim clock reading V is up to date with */
    struct ilu_node_heap heap; /* the running activities, by finish value */
    uint64_t seq;
    struct ilu_cpu_task *done_head, *done_tail; /* done, in finish order, to report */
    size_t n_done;
    struct ilu_timer *timer; /* to report done_head, or for the first finish; NULL when idle */
    uint64_t timer_due;
};

static double rate_of(const struct ilu_cpu_share *s)
{
    return s->demand_fp <= s->cores_fp ? 1.0 : (double)s->cores_fp / (double)s->demand_fp;
}

/* ---- the heap of finish values ------------------------------------------- */

static struct ilu_cpu_task *task_of(struct ilu_heap_node *n)
{
    return n ? (struct ilu_cpu_task *)((char *)n - offsetof(struct ilu_cpu_task, node)) : NULL;
}

/* The running activity that finishes first; NULL when none. */
static struct ilu_cpu_task *first(const struct ilu_cpu_share *s)
{
    return task_of(ilu_node_heap_top(&s->heap));
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
    struct ilu_cpu_task *t = first(s);
    ilu_node_heap_remove(&s->heap, &t->node);
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
    while (s->heap.len && left > 0) {
        double rate = rate_of(s);
        double dt = (first(s)->node.key - s->v) / rate;
        if (dt > left + EPS) {
            s->v += left * rate;
            break;
        }
        if (dt > 0) {
            s->v = first(s)->node.key;
            left -= dt;
        }
        finish_first(s);
    }
    if (!s->heap.len) {
        s->v = 0; /* nothing to measure against: start afresh, free of old rounding */
    } else if (s->v >= V_RENORM) {
        double k = floor(s->v);
        s->v -= k;
        for (size_t i = 0; i < s->heap.len; i++)
            s->heap.a[i]->key -= k; /* exact, and the order is kept */
    }
}

static void on_timer(void *arg);

/* Arm the timer: now when a done activity waits to be reported, else for
 * the earliest finish under the current rate, rounded up to a whole
 * microsecond. An armed timer already due then stays. -1 when out of
 * memory. */
static int reschedule(struct ilu_cpu_share *s)
{
    if (!s->heap.len && !s->done_head) {
        ilu_sim_env_cancel(s->env, s->timer);
        s->timer = NULL;
        return 0;
    }
    uint64_t delay = 0;
    double dt = s->done_head ? 0 : (first(s)->node.key - s->v) / rate_of(s);
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
    if (!s->done_head && !s->heap.len)
        return; /* cannot happen: an idle share has no timer */
    if (!s->done_head) {
        /* the timer was armed for the first finish and nothing changed
         * since: it is done, whatever the last bit of rounding says */
        finish_first(s);
        if (!s->heap.len)
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
    for (size_t i = 0; i < s->heap.len; i++)
        free(task_of(s->heap.a[i]));
    while (s->done_head) {
        struct ilu_cpu_task *next = s->done_head->next;
        free(s->done_head);
        s->done_head = next;
    }
    ilu_node_heap_destroy(&s->heap);
    free(s);
}

struct ilu_cpu_task *ilu_cpu_share_start(struct ilu_cpu_share *s, uint64_t work_us, double demand,
                                         void (*done)(void *arg), void *arg)
{
    struct ilu_cpu_task *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    advance(s);
    uint64_t demand_fp = 0;
    if (demand * FP_PER_CORE >= (double)s->cores_fp) /* more than the host has: all of it */
        demand_fp = s->cores_fp;
    else if (demand > 0)
        demand_fp = (uint64_t)llround(demand * FP_PER_CORE);
    *t = (struct ilu_cpu_task){.demand_fp = demand_fp, .running = true, .done = done, .arg = arg};
    ilu_heap_node_init(&t->node);
    if (ilu_node_heap_set(&s->heap, &t->node, s->v + (double)work_us, s->seq++)) {
        free(t);
        return NULL;
    }
    s->demand_fp += demand_fp;
    if (reschedule(s)) {
        ilu_node_heap_remove(&s->heap, &t->node);
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
        ilu_node_heap_remove(&s->heap, &t->node);
        s->demand_fp -= t->demand_fp;
        if (!s->heap.len)
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
    return s->heap.len + s->n_done;
}

double ilu_cpu_share_rate(const struct ilu_cpu_share *s)
{
    return rate_of(s);
}
