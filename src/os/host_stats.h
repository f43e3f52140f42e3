/* Host CPU utilisation and load average, sampled from /proc on a timer so
 * /status never blocks (as Ilúvatar's CpuMonitor). */
#ifndef ILU_HOST_STATS_H
#define ILU_HOST_STATS_H

#include <jansson.h>
#include <stdint.h>

struct event_base;
struct event;

struct ilu_host_stats {
    struct event *timer;
    uint64_t last_busy, last_total;
    double cpu_util_pct; /* user+nice+system+iowait+irq+softirq over the last period */
    double load_avg_1m;
    long online_cpus;
};

/* Sample /proc every period_ms on base until stopped; -1 when the timer
 * cannot be armed. */
int ilu_host_stats_start(struct ilu_host_stats *hs, struct event_base *base, uint32_t period_ms);
void ilu_host_stats_stop(struct ilu_host_stats *hs);
/* Adds cpu_util, cpu_load_avg (load / cpus), load_avg_1m, online_cpus to obj. */
void ilu_host_stats_json(const struct ilu_host_stats *hs, json_t *obj);

#endif
