#include "policy_registry.h"

#include <stddef.h>
#include <strings.h>

extern const struct ilu_queue_policy_ops ilu_queue_fcfs;
extern const struct ilu_queue_policy_ops ilu_queue_minheap;
extern const struct ilu_eviction_policy_ops ilu_eviction_lru;
extern const struct ilu_lb_policy_ops ilu_lb_round_robin;
extern const struct ilu_lb_policy_ops ilu_lb_least_loaded;
extern const struct ilu_lb_policy_ops ilu_lb_ch_bl;

/* Add a policy: one file under src/policy/, one line here. */
static const struct ilu_queue_policy_ops *const queue_policies[] = {&ilu_queue_fcfs, &ilu_queue_minheap};
static const struct ilu_eviction_policy_ops *const eviction_policies[] = {&ilu_eviction_lru};
static const struct ilu_lb_policy_ops *const lb_policies[] = {&ilu_lb_round_robin, &ilu_lb_least_loaded, &ilu_lb_ch_bl};

#define FIND(table, name)                                                                                    \
    do {                                                                                                     \
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)                                          \
            if (strcasecmp(table[i]->name, name) == 0)                                                       \
                return table[i];                                                                             \
        return NULL;                                                                                         \
    } while (0)

const struct ilu_queue_policy_ops *ilu_queue_policy_find(const char *name) { FIND(queue_policies, name); }
const struct ilu_eviction_policy_ops *ilu_eviction_policy_find(const char *name) { FIND(eviction_policies, name); }

const struct ilu_lb_policy_ops *ilu_lb_policy_find(const char *name) { FIND(lb_policies, name); }
const char *ilu_lb_policy_names(void) { return "RoundRobin, LeastLoaded, CH-BL"; }
const char *ilu_queue_policy_names(void) { return "fcfs, minheap"; }
const char *ilu_eviction_policy_names(void) { return "LRU"; }
