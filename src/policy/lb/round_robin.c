/* Round robin: the next eligible worker (ilu_lb_eligible) after the last
 * one used for invocations with the same needs. One cursor per class of
 * needs, so that CPU and GPU functions routed in turn each go round their
 * own workers rather than one class always landing on the same worker. */
#include <stdlib.h>

#include "controller/controller.h"
#include "core/policy_registry.h"

struct rr_state {
    size_t next[ILU_LB_NEEDS_CLASSES];
};

static void *rr_create(const struct ilu_controller_config *cfg)
{
    return calloc(1, sizeof(struct rr_state));
}

static void rr_destroy(void *state)
{
    free(state);
}

static void rr_workers_changed(void *state, struct ilu_ctl_worker *const *workers, size_t n) {}

static long rr_pick(void *state, const struct ilu_lb_call *call, struct ilu_ctl_worker *const *workers, size_t n)
{
    struct rr_state *rr = state;
    size_t *next = &rr->next[call->needs % ILU_LB_NEEDS_CLASSES];
    for (size_t k = 0; k < n; k++) {
        size_t i = (*next + k) % n;
        if (ilu_lb_eligible(call, workers[i])) {
            *next = i + 1;
            return (long)i;
        }
    }
    return -1;
}

const struct ilu_lb_policy_ops ilu_lb_round_robin = {
    .name = "RoundRobin",
    .description = "each invocation to the next healthy worker (that can run it) in turn",
    .create = rr_create,
    .destroy = rr_destroy,
    .workers_changed = rr_workers_changed,
    .pick = rr_pick,
};
