#include "os/host_stats.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void sample(struct ilu_host_stats *hs)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait, &irq, &softirq,
                   &steal) == 8) {
            uint64_t busy = user + nice + sys + iowait + irq + softirq;
            uint64_t total = busy + idle + steal;
            if (hs->last_total && total > hs->last_total)
                hs->cpu_util_pct = 100.0 * (double)(busy - hs->last_busy) / (double)(total - hs->last_total);
            hs->last_busy = busy;
            hs->last_total = total;
        }
        fclose(f);
    }
    f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &hs->load_avg_1m) != 1)
            hs->load_avg_1m = 0;
        fclose(f);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sample(arg);
}

int ilu_host_stats_start(struct ilu_host_stats *hs, struct event_base *base, uint32_t period_ms)
{
    memset(hs, 0, sizeof *hs);
    hs->online_cpus = sysconf(_SC_NPROCESSORS_ONLN);
    sample(hs);
    hs->timer = event_new(base, -1, EV_PERSIST, on_tick, hs);
    if (!hs->timer)
        return -1;
    struct timeval tv = {.tv_sec = period_ms / 1000, .tv_usec = (period_ms % 1000) * 1000};
    return event_add(hs->timer, &tv);
}

void ilu_host_stats_stop(struct ilu_host_stats *hs)
{
    if (hs->timer)
        event_free(hs->timer);
    hs->timer = NULL;
}

void ilu_host_stats_json(const struct ilu_host_stats *hs, json_t *obj)
{
    json_object_set_new(obj, "cpu_util", json_real(hs->cpu_util_pct));
    json_object_set_new(obj, "cpu_load_avg", json_real(hs->online_cpus > 0 ? hs->load_avg_1m / hs->online_cpus : 0));
    json_object_set_new(obj, "load_avg_1m", json_real(hs->load_avg_1m));
    json_object_set_new(obj, "online_cpus", json_integer(hs->online_cpus));
}
