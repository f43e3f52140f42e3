/* Ilúvatar's est_invoke_time for the CPU queue (its est_completion_time):
 * what a client or a balancer may ask before sending an invocation. */
#include "worker/worker_internal.h"

struct ilu_function *ilu_worker_function_fqdn(const struct ilu_worker *w, const char *fqdn)
{
    return fqdn ? ilu_map_get(&w->functions, fqdn) : NULL;
}

double ilu_worker_est_invoke_time(const struct ilu_worker *w, const struct ilu_function *fn)
{
    size_t len = ilu_queue_len(&w->queue);
    uint32_t free_cpus = w->cpus_in_use < w->cpu_limit ? w->cpu_limit - w->cpus_in_use : 0;
    double wait_us = 0;
    /* a queue no longer than the free CPUs is a race with dispatch, not a
     * wait; beyond, the queued work spreads over the CPUs (or over fewer
     * queued items, which cannot use more) */
    if (len > free_cpus) {
        double lanes = (double)len < (double)w->cpu_limit ? (double)len : (double)w->cpu_limit;
        wait_us = ilu_queue_load_us(&w->queue) / (lanes >= 1 ? lanes : 1);
    }
    return (wait_us + ilu_queue_expected_us(fn)) / 1e6;
}
