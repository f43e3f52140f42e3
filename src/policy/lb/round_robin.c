/* Round robin: the next routable worker after the last one used. */
#include <stdlib.h>

#include "controller/controller.h"
#include "core/policy_registry.h"

struct rr_state {
    size_t next;
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

static long rr_pick(void *state, const char *fqdn, struct ilu_ctl_worker *const *workers, size_t n)
{
    struct rr_state *rr = state;
    for (size_t k = 0; k < n; k++) {
        size_t i = (rr->next + k) % n;
        if (ilu_ctl_worker_routable(workers[i])) {
            rr->next = i + 1;
            return (long)i;
        }
    }
    return -1;
}

const struct ilu_lb_policy_ops ilu_lb_round_robin = {
    .name = "RoundRobin",
    .description = "each invocation to the next healthy worker in turn",
    .create = rr_create,
    .destroy = rr_destroy,
    .workers_changed = rr_workers_changed,
    .pick = rr_pick,
};
