#include "sim_env.h"

#include <stdlib.h>
#include <string.h>

struct ilu_timer {
    uint64_t due, seq;
    size_t idx; /* position in the heap; IN_NOW_LIST: in the list of timers due now */
    ilu_timer_fn fn;
    void *arg;
    struct ilu_timer *next_free;
    struct ilu_timer *prev, *next; /* the list of timers due now */
};

#define IN_NOW_LIST SIZE_MAX

static int earlier(const struct ilu_timer *a, const struct ilu_timer *b)
{
    return a->due != b->due ? a->due < b->due : a->seq < b->seq;
}

static void place(struct ilu_sim_env *s, size_t i, struct ilu_timer *t)
{
    s->heap[i] = t;
    t->idx = i;
}

static void sift_up(struct ilu_sim_env *s, size_t i)
{
    struct ilu_timer *t = s->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(t, s->heap[parent]))
            break;
        place(s, i, s->heap[parent]);
        i = parent;
    }
    place(s, i, t);
}

static void sift_down(struct ilu_sim_env *s, size_t i)
{
    struct ilu_timer *t = s->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        const struct ilu_timer *best_t = t;
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

static void heap_remove(struct ilu_sim_env *s, struct ilu_timer *t)
{
    size_t i = t->idx;
    s->len--;
    if (i != s->len) {
        place(s, i, s->heap[s->len]);
        sift_down(s, i);
        sift_up(s, s->heap[i]->idx);
    }
}

static void recycle(struct ilu_sim_env *s, struct ilu_timer *t)
{
    t->next_free = s->free_list;
    s->free_list = t;
}

static void now_list_remove(struct ilu_sim_env *s, struct ilu_timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        s->now_head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        s->now_tail = t->prev;
    s->now_len--;
}

struct ilu_timer *ilu_sim_env_at(struct ilu_sim_env *s, uint64_t t_us, ilu_timer_fn fn, void *arg)
{
    if (t_us <= s->now_us) {
        /* due now: after every timer started before it, which is the end of
         * the list (every timer in it is due now, in the order started) */
        struct ilu_timer *t = s->free_list;
        if (t)
            s->free_list = t->next_free;
        else if (!(t = malloc(sizeof *t)))
            return NULL;
        t->due = s->now_us;
        t->seq = s->seq++;
        t->fn = fn;
        t->arg = arg;
        t->idx = IN_NOW_LIST;
        t->next = NULL;
        t->prev = s->now_tail;
        if (s->now_tail)
            s->now_tail->next = t;
        else
            s->now_head = t;
        s->now_tail = t;
        s->now_len++;
        return t;
    }
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        struct ilu_timer **heap = realloc(s->heap, cap * sizeof *heap);
        if (!heap)
            return NULL;
        s->heap = heap;
        s->cap = cap;
    }
    struct ilu_timer *t = s->free_list;
    if (t)
        s->free_list = t->next_free;
    else if (!(t = malloc(sizeof *t)))
        return NULL;
    t->due = t_us;
    t->seq = s->seq++;
    t->fn = fn;
    t->arg = arg;
    place(s, s->len++, t);
    sift_up(s, s->len - 1);
    return t;
}

void ilu_sim_env_cancel(struct ilu_sim_env *s, struct ilu_timer *t)
{
    if (!t)
        return;
    if (t->idx == IN_NOW_LIST)
        now_list_remove(s, t);
    else
        heap_remove(s, t);
    recycle(s, t);
}

size_t ilu_sim_env_pending(const struct ilu_sim_env *s)
{
    return s->len + s->now_len;
}

/* The earliest timer of the heap and the list, in (due, seq) order; NULL
 * when none. */
static struct ilu_timer *earliest(const struct ilu_sim_env *s)
{
    struct ilu_timer *h = s->len ? s->heap[0] : NULL, *n = s->now_head;
    return !n || (h && earlier(h, n)) ? h : n;
}

uint64_t ilu_sim_env_next_due(const struct ilu_sim_env *s)
{
    const struct ilu_timer *t = earliest(s);
    return t ? t->due : UINT64_MAX;
}

int ilu_sim_env_step(struct ilu_sim_env *s)
{
    struct ilu_timer *t = earliest(s);
    if (!t)
        return 0;
    if (t->idx == IN_NOW_LIST)
        now_list_remove(s, t);
    else
        heap_remove(s, t);
    s->now_us = t->due;
    ilu_timer_fn fn = t->fn;
    void *arg = t->arg;
    recycle(s, t); /* before the call: fn may start timers */
    s->fired++;
    fn(arg);
    return 1;
}

void ilu_sim_env_run_until(struct ilu_sim_env *s, uint64_t t_us)
{
    while (ilu_sim_env_next_due(s) <= t_us)
        ilu_sim_env_step(s);
    if (t_us > s->now_us)
        s->now_us = t_us;
}

/* ---- struct ilu_env callbacks -------------------------------------------- */

static uint64_t sim_now_us(void *ctx)
{
    return ((struct ilu_sim_env *)ctx)->now_us;
}

static uint64_t sim_wall_us(void *ctx)
{
    struct ilu_sim_env *s = ctx;
    return s->wall_base_us + s->now_us;
}

static struct ilu_timer *sim_timer_start(void *ctx, uint64_t delay_us, ilu_timer_fn fn, void *arg)
{
    struct ilu_sim_env *s = ctx;
    return ilu_sim_env_at(s, s->now_us + delay_us, fn, arg);
}

static void sim_timer_cancel(void *ctx, struct ilu_timer *t)
{
    ilu_sim_env_cancel(ctx, t);
}

static void sim_log_write(void *ctx, int level, const char *line)
{
    struct ilu_sim_env *s = ctx;
    if (s->log_line)
        s->log_line(s->log_ctx, level, line);
}

void ilu_sim_env_init(struct ilu_sim_env *s, uint64_t wall_base_us)
{
    memset(s, 0, sizeof *s);
    s->wall_base_us = wall_base_us;
    s->env = (struct ilu_env){.ctx = s,
                              .now_us = sim_now_us,
                              .wall_us = sim_wall_us,
                              .timer_start = sim_timer_start,
                              .timer_cancel = sim_timer_cancel,
                              .log_write = sim_log_write};
}

void ilu_sim_env_destroy(struct ilu_sim_env *s)
{
    for (size_t i = 0; i < s->len; i++)
        free(s->heap[i]);
    while (s->now_head) {
        struct ilu_timer *next = s->now_head->next;
        free(s->now_head);
        s->now_head = next;
    }
    s->now_tail = NULL;
    s->now_len = 0;
    while (s->free_list) {
        struct ilu_timer *next = s->free_list->next_free;
        free(s->free_list);
        s->free_list = next;
    }
    free(s->heap);
    s->heap = NULL;
    s->len = s->cap = 0;
}
