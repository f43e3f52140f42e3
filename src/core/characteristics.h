/* Per-function characteristics (Ilúvatar's characteristics map), updated by
 * the worker's events and read by policies and /est_invoke_time. Pure data
 * and arithmetic: no clock, no I/O. */
#ifndef ILU_CHARACTERISTICS_H
#define ILU_CHARACTERISTICS_H

#include <stdint.h>

/* One running statistic: the plain mean and Ilúvatar's exponentially
 * weighted one (the first sample sets it, then 0.9 old + 0.1 new). */
struct ilu_stat {
    double mean, ewma;
    uint64_t n;
};

/* Fold one observation into the running mean and moving average. */
void ilu_stat_add(struct ilu_stat *s, double x);

/* The execution and start-up of the invocations that ran on one compute
 * (Ilúvatar's Cpu* and Gpu* characteristics): GPU queue policies and the
 * dispatch of CPU|GPU functions compare them (docs/gpu.md). */
struct ilu_compute_stats {
    struct ilu_stat exec_us, container_start_us;
};
enum { ILU_ON_CPU, ILU_ON_GPU };

struct ilu_fn_stats {
    struct ilu_stat exec_us;            /* time inside main(), as the agent measured it */
    struct ilu_stat e2e_us;             /* arrival at the worker -> result, successful invocations */
    struct ilu_stat cold_e2e_us;        /* the same, cold starts only */
    struct ilu_stat warm_e2e_us;        /* the same, warm and prewarmed starts */
    struct ilu_stat container_start_us; /* container create -> agent ready */
    /* arrivals: count, last, inter-arrival mean and M2 (Welford) */
    uint64_t arrivals, last_arrival_us;
    double iat_mean_us, iat_m2;
    uint64_t invocations, cold, warm, prewarm, errors;
    struct ilu_compute_stats on[2]; /* exec_us and container_start_us again, per compute (ILU_ON_*) */
};

/* An invocation of the function arrived at now_us. */
void ilu_fn_stats_arrival(struct ilu_fn_stats *s, uint64_t now_us);
/* Variance of the inter-arrival gaps, in us^2; 0 with fewer than 2 gaps. */
double ilu_fn_stats_iat_var(const struct ilu_fn_stats *s);

/* Expected run of one invocation, queueing excluded, in us (0 while nothing
 * is known): on a warm container its execution (EWMA of exec_us); on a new
 * one the container start-up (EWMA) plus that. Ilúvatar's warm and cold
 * times; queue policies and est_invoke_time use them. */
double ilu_fn_stats_warm_us(const struct ilu_fn_stats *s);
double ilu_fn_stats_cold_us(const struct ilu_fn_stats *s);
/* The same from one compute's stats (0 while nothing is known there). */
double ilu_compute_warm_us(const struct ilu_compute_stats *c);
double ilu_compute_cold_us(const struct ilu_compute_stats *c);

#endif
