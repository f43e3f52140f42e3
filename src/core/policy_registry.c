#include "policy_registry.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

extern const struct ilu_queue_policy_ops ilu_queue_fcfs;
extern const struct ilu_queue_policy_ops ilu_queue_minheap;
extern const struct ilu_queue_policy_ops ilu_queue_minheap_ed;
extern const struct ilu_queue_policy_ops ilu_queue_minheap_iat;
extern const struct ilu_queue_policy_ops ilu_queue_cold_pri;
extern const struct ilu_queue_policy_ops ilu_queue_none;
extern const struct ilu_queue_policy_ops ilu_queue_mqfq;
extern const struct ilu_queue_policy_ops ilu_gpu_queue_fcfs;
extern const struct ilu_queue_policy_ops ilu_gpu_queue_sjf;
extern const struct ilu_queue_policy_ops ilu_gpu_queue_eedf;
extern const struct ilu_queue_policy_ops ilu_gpu_queue_oldest_batch;
extern const struct ilu_queue_policy_ops ilu_gpu_queue_sized_batch;
extern const struct ilu_queue_policy_ops ilu_gpu_queue_paella;
extern const struct ilu_dispatch_policy_ops ilu_dispatch_always_cpu;
extern const struct ilu_dispatch_policy_ops ilu_dispatch_always_gpu;
extern const struct ilu_dispatch_policy_ops ilu_dispatch_shortest_exec;
extern const struct ilu_dispatch_policy_ops ilu_dispatch_est_comp_time;
extern const struct ilu_dispatch_policy_ops ilu_dispatch_speedup;
extern const struct ilu_dispatch_policy_ops ilu_dispatch_all;
extern const struct ilu_keepalive_ops ilu_keepalive_lru;
extern const struct ilu_keepalive_ops ilu_keepalive_hybrid_histogram;
extern const struct ilu_keepalive_ops ilu_keepalive_ttl;
extern const struct ilu_keepalive_ops ilu_keepalive_lfu;
extern const struct ilu_keepalive_ops ilu_keepalive_greedy_dual;
extern const struct ilu_lb_policy_ops ilu_lb_round_robin;
extern const struct ilu_lb_policy_ops ilu_lb_least_loaded;
extern const struct ilu_lb_policy_ops ilu_lb_ch_bl;

/* Add a policy: one file under src/policy/, one line here. */
static const struct ilu_queue_policy_ops *const queue_policies[] = {
    &ilu_queue_fcfs,     &ilu_queue_minheap, &ilu_queue_minheap_ed, &ilu_queue_minheap_iat,
    &ilu_queue_cold_pri, &ilu_queue_none,    &ilu_queue_mqfq};
/* The GPU queue's (invocation.gpu_queue_policy): Ilúvatar's GPU set, and
 * the CPU queue's MQFQ, which works on either queue. */
static const struct ilu_queue_policy_ops *const gpu_queue_policies[] = {
    &ilu_gpu_queue_fcfs,        &ilu_gpu_queue_sjf,    &ilu_gpu_queue_eedf, &ilu_gpu_queue_oldest_batch,
    &ilu_gpu_queue_sized_batch, &ilu_gpu_queue_paella, &ilu_queue_mqfq};
static const struct ilu_dispatch_policy_ops *const dispatch_policies[] = {
    &ilu_dispatch_always_cpu,    &ilu_dispatch_always_gpu, &ilu_dispatch_shortest_exec,
    &ilu_dispatch_est_comp_time, &ilu_dispatch_speedup,    &ilu_dispatch_all};
static const struct ilu_keepalive_ops *const keepalive_policies[] = {&ilu_keepalive_lru, &ilu_keepalive_ttl,
                                                                     &ilu_keepalive_lfu, &ilu_keepalive_greedy_dual,
                                                                     &ilu_keepalive_hybrid_histogram};
static const struct ilu_lb_policy_ops *const lb_policies[] = {&ilu_lb_round_robin, &ilu_lb_least_loaded, &ilu_lb_ch_bl};

#define N(table) (sizeof table / sizeof table[0])

#define FIND(table, name)                              \
    do {                                               \
        for (size_t i = 0; name && i < N(table); i++)  \
            if (strcasecmp(table[i]->name, name) == 0) \
                return table[i];                       \
        return NULL;                                   \
    } while (0)

/* "a, b, c" from a table, built once into buf. */
#define NAMES(table)                                                                            \
    do {                                                                                        \
        static char buf[512];                                                                   \
        if (!buf[0])                                                                            \
            for (size_t i = 0; i < N(table); i++) {                                             \
                size_t used = strlen(buf);                                                      \
                snprintf(buf + used, sizeof buf - used, "%s%s", i ? ", " : "", table[i]->name); \
            }                                                                                   \
        return buf;                                                                             \
    } while (0)

const struct ilu_queue_policy_ops *ilu_queue_policy_find(const char *name)
{
    FIND(queue_policies, name);
}
const struct ilu_keepalive_ops *ilu_keepalive_policy_find(const char *name)
{
    FIND(keepalive_policies, name);
}
const struct ilu_lb_policy_ops *ilu_lb_policy_find(const char *name)
{
    FIND(lb_policies, name);
}
const char *ilu_queue_policy_names(void)
{
    NAMES(queue_policies);
}
const char *ilu_keepalive_policy_names(void)
{
    NAMES(keepalive_policies);
}
const char *ilu_lb_policy_names(void)
{
    NAMES(lb_policies);
}
const struct ilu_queue_policy_ops *ilu_queue_policy_at(size_t i)
{
    return i < N(queue_policies) ? queue_policies[i] : NULL;
}
const struct ilu_keepalive_ops *ilu_keepalive_policy_at(size_t i)
{
    return i < N(keepalive_policies) ? keepalive_policies[i] : NULL;
}
const struct ilu_queue_policy_ops *ilu_gpu_queue_policy_find(const char *name)
{
    FIND(gpu_queue_policies, name);
}
const char *ilu_gpu_queue_policy_names(void)
{
    NAMES(gpu_queue_policies);
}
const struct ilu_queue_policy_ops *ilu_gpu_queue_policy_at(size_t i)
{
    return i < N(gpu_queue_policies) ? gpu_queue_policies[i] : NULL;
}
const struct ilu_dispatch_policy_ops *ilu_dispatch_policy_find(const char *name)
{
    FIND(dispatch_policies, name);
}
const char *ilu_dispatch_policy_names(void)
{
    NAMES(dispatch_policies);
}
const struct ilu_dispatch_policy_ops *ilu_dispatch_policy_at(size_t i)
{
    return i < N(dispatch_policies) ? dispatch_policies[i] : NULL;
}
