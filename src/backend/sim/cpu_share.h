/* Processor sharing of a simulated host's CPUs among activities (container
 * start-ups, executions), on the simulated clock.
 *
 * An activity has a solo work w (microseconds it takes alone on an idle
 * host) and a demand d (cores it keeps busy while it runs alone: 1.0 for a
 * CPU-bound start-up, 0.1 for a function that mostly sleeps, 0 for one that
 * never competes). With D the total demand of the running activities and C
 * the host's cores: while D <= C every activity progresses at rate 1;
 * above, every one progresses at rate C/D (each gets d*C/D cores). A
 * demand above C counts as C, so an activity alone always takes exactly
 * its work.
 *
 * One virtual clock V advances at that rate; an activity finishes when V
 * reaches its V at start + w. Finishes sit in a min-heap, and one sim_env
 * timer waits for the earliest, so a start, finish or cancel costs
 * O(log n). An activity stops loading the CPUs at the exact instant it is
 * done; its done callback runs at the next whole microsecond of the sim
 * clock (rounded up). Activities done in the same microsecond are reported
 * one by one, each on its own timer, in the order they finished (then of
 * their start). Deterministic: no randomness, demands summed in fixed
 * point, and V brought back to 0 whenever the host is idle. */
#ifndef ILU_CPU_SHARE_H
#define ILU_CPU_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim_env.h"

struct ilu_cpu_share;
struct ilu_cpu_task;

/* A host of `cores` CPUs (fractional allowed, > 0) on env's clock; env is
 * borrowed and must outlive it. NULL when out of memory or cores <= 0. */
struct ilu_cpu_share *ilu_cpu_share_new(struct ilu_sim_env *env, double cores);
/* Free the share and every activity still running, without calling their
 * done callbacks; cancels its timer. Not from inside a done callback. NULL
 * is ignored. */
void ilu_cpu_share_free(struct ilu_cpu_share *s);

/* Start an activity now: work_us of solo work at the given demand (cores,
 * >= 0; negative or NaN counts as 0). done(arg) runs once, on a sim_env
 * timer, when it has finished; the task is freed before that call, and the
 * callback may start or cancel other activities. Returns the task (owned by
 * the share, valid until done runs or it is cancelled), or NULL when out of
 * memory. */
struct ilu_cpu_task *ilu_cpu_share_start(struct ilu_cpu_share *s, uint64_t work_us, double demand,
                                         void (*done)(void *arg), void *arg);
/* Stop an activity that has not finished yet (its done callback has not
 * run) and free it; the others speed up from now on. NULL is ignored. */
void ilu_cpu_share_cancel(struct ilu_cpu_share *s, struct ilu_cpu_task *t);

/* Total demand D of the running activities, in cores (fixed point: exact to
 * a millionth of a core). */
double ilu_cpu_share_demand(const struct ilu_cpu_share *s);
/* How many activities have started and not been reported (their done
 * callback has not run) nor cancelled. */
size_t ilu_cpu_share_running(const struct ilu_cpu_share *s);
/* The rate every running activity progresses at now: min(1, C/D). */
double ilu_cpu_share_rate(const struct ilu_cpu_share *s);

#endif
