/* Discrete-event driver for the core: a virtual clock and a timer heap.
 * Timers due at the same instant fire in the order they were started (a
 * sequence number breaks ties), so a simulation repeats exactly. */
#ifndef ILU_SIM_ENV_H
#define ILU_SIM_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "core/env.h"

struct ilu_sim_env {
    struct ilu_env env;      /* hand &env to the core */
    uint64_t now_us;         /* virtual time since the start */
    uint64_t wall_base_us;   /* epoch time reported for t = 0 */
    struct ilu_timer **heap; /* timers due later than now */
    size_t len, cap;
    /* timers started with no delay (due now), oldest first: they skip the
     * heap, since their order is the order they were started */
    struct ilu_timer *now_head, *now_tail;
    size_t now_len;
    uint64_t seq;
    struct ilu_timer *free_list; /* recycled timers: no malloc per event */
    uint64_t fired;
    /* optional log sink; NULL drops log lines */
    void (*log_line)(void *ctx, int level, const char *line);
    void *log_ctx;
};

/* A discrete-event env whose clock starts at 0 and whose wall clock at
 * wall_base_us; destroy frees the timers still pending. */
void ilu_sim_env_init(struct ilu_sim_env *s, uint64_t wall_base_us);
void ilu_sim_env_destroy(struct ilu_sim_env *s);
/* Fire the earliest timer, advancing the clock to it. 0 when none is left. */
int ilu_sim_env_step(struct ilu_sim_env *s);
/* Timers started and neither fired nor cancelled. */
size_t ilu_sim_env_pending(const struct ilu_sim_env *s);
/* Time of the earliest timer, or UINT64_MAX. */
uint64_t ilu_sim_env_next_due(const struct ilu_sim_env *s);
/* Fire every timer due at or before t, then set the clock to t. */
void ilu_sim_env_run_until(struct ilu_sim_env *s, uint64_t t_us);
/* Schedule fn(arg) at absolute virtual time t (not before now). */
struct ilu_timer *ilu_sim_env_at(struct ilu_sim_env *s, uint64_t t_us, ilu_timer_fn fn, void *arg);
/* Cancel a timer that has not fired; frees it. */
void ilu_sim_env_cancel(struct ilu_sim_env *s, struct ilu_timer *t);

#endif
