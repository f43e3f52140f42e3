/* Least loaded: the eligible worker (ilu_lb_eligible) with the lowest load
 * per CPU (ilu_ctl_worker_load: reported queue + running, or this
 * controller's in-flight count if larger). Ties go round robin, one cursor
 * per class of needs, so equal workers share. */
#include <stdlib.h>

#include "controller/controller.h"
#include "core/policy_registry.h"

struct ll_state {
    size_t tie_cursor[ILU_LB_NEEDS_CLASSES];
};

static void *ll_create(const struct ilu_controller_config *cfg)
{
    return calloc(1, sizeof(struct ll_state));
}

static void ll_destroy(void *state)
{
    free(state);
}

static void ll_workers_changed(void *state, struct ilu_ctl_worker *const *workers, size_t n) {}

static long ll_pick(void *state, const struct ilu_lb_call *call, struct ilu_ctl_worker *const *workers, size_t n)
{
    struct ll_state *ll = state;
    size_t *tie_cursor = &ll->tie_cursor[call->needs % ILU_LB_NEEDS_CLASSES];
    long best = -1;
    double best_load = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = (*tie_cursor + k) % n;
        if (!ilu_lb_eligible(call, workers[i]))
            continue;
        double load = ilu_ctl_worker_load(workers[i]);
        if (best < 0 || load < best_load) {
            best = (long)i;
            best_load = load;
        }
    }
    /* next time, ties start after the one chosen: equal workers take turns
     * even when an unhealthy one sits between them */
    if (best >= 0)
        *tie_cursor = (size_t)best + 1;
    return best;
}

const struct ilu_lb_policy_ops ilu_lb_least_loaded = {
    .name = "LeastLoaded",
    .description = "the healthy worker with the least load per CPU",
    .create = ll_create,
    .destroy = ll_destroy,
    .workers_changed = ll_workers_changed,
    .pick = ll_pick,
};
