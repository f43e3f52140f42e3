/* Per-invocation records of a load run and what is computed from them:
 * invocations.csv rows and summary.json (docs/load_gen.md). Pure, so a
 * simulated run reports through exactly the same code as a live one. */
#ifndef ILU_REPORT_H
#define ILU_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include "core/types.h"

struct ilu_inv_record {
    char tid[64];
    unsigned fn;            /* index into the report's function names */
    double scheduled_ms;    /* NAN for closed-loop modes */
    double send_ms, end_ms; /* relative to the run's start */
    enum ilu_start_kind state;
    enum ilu_sandbox_kind sandbox; /* how a cold start got its container */
    /* the worker's timings in ms; NAN when the answer had none */
    double queue_ms, container_start_ms, exec_ms, agent_rtt_ms, overhead_ms, worker_total_ms;
    int success;
    int http_status; /* 0: no HTTP answer */
    char error_kind[32];
    char *error;      /* owned; NULL when none */
    int client, step; /* -1 when not applicable */
};

struct ilu_report {
    struct ilu_inv_record *recs;
    size_t n, cap;
    char **fn_names; /* owned copies */
    char **fn_versions;
    size_t n_fns;
};

/* An empty report; free releases its rows and functions. */
void ilu_report_init(struct ilu_report *r);
void ilu_report_free(struct ilu_report *r);
/* Returns the function's index (adds it if new). -1 when out of memory. */
long ilu_report_function(struct ilu_report *r, const char *name, const char *version);
/* A zeroed record (scheduled_ms and timings NAN, client/step -1) appended to
 * the report, or NULL when out of memory. Pointers stay valid until the next add. */
struct ilu_inv_record *ilu_report_add(struct ilu_report *r, unsigned fn);
/* Fill timings, state, success and error of rec from a worker's invoke answer. */
void ilu_report_fill_from_answer(struct ilu_inv_record *rec, int http_status, json_t *answer);

/* The same from a finished invocation of an in-process core (simulation),
 * without going through JSON. */
void ilu_report_fill_from_invocation(struct ilu_inv_record *rec, const struct ilu_invocation *inv);

/* Nearest-rank percentile of n sorted values (p in (0, 100]); NAN when n == 0. */
double ilu_percentile_sorted(const double *sorted, size_t n, double p);
/* {"p50","p90","p99","max","mean","count"} of values (sorted in place). */
json_t *ilu_distribution_json(double *values, size_t n);

/* summary.json for the run; inputs (borrowed, may be NULL) is copied in. */
json_t *ilu_report_summary(const struct ilu_report *r, const char *mode, const char *target, const char *setup,
                           json_t *inputs);

/* invocations.csv, written through out(ctx, text, len); returns out's first
 * non-zero result, else 0. */
typedef int (*ilu_write_fn)(void *ctx, const char *text, size_t len);
int ilu_report_write_csv(const struct ilu_report *r, ilu_write_fn out, void *ctx);

#endif
