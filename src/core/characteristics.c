#include "characteristics.h"

void ilu_stat_add(struct ilu_stat *s, double x)
{
    s->n++;
    s->mean += (x - s->mean) / (double)s->n;
    s->ewma = s->n == 1 ? x : 0.9 * s->ewma + 0.1 * x;
}

void ilu_fn_stats_arrival(struct ilu_fn_stats *s, uint64_t now_us)
{
    if (s->arrivals > 0 && now_us >= s->last_arrival_us) {
        /* Welford over the gaps: arrivals - 1 of them after this one */
        double gap = (double)(now_us - s->last_arrival_us);
        double n = (double)s->arrivals; /* gaps seen including this one */
        double delta = gap - s->iat_mean_us;
        s->iat_mean_us += delta / n;
        s->iat_m2 += delta * (gap - s->iat_mean_us);
    }
    s->arrivals++;
    s->last_arrival_us = now_us;
}

double ilu_fn_stats_iat_var(const struct ilu_fn_stats *s)
{
    return s->arrivals > 2 ? s->iat_m2 / (double)(s->arrivals - 2) : 0;
}

double ilu_fn_stats_warm_us(const struct ilu_fn_stats *s)
{
    return s->exec_us.ewma;
}

double ilu_fn_stats_cold_us(const struct ilu_fn_stats *s)
{
    return s->container_start_us.ewma + s->exec_us.ewma;
}

double ilu_compute_warm_us(const struct ilu_compute_stats *c)
{
    return c->exec_us.ewma;
}

double ilu_compute_cold_us(const struct ilu_compute_stats *c)
{
    return c->container_start_us.ewma + c->exec_us.ewma;
}
