/* Per-invocation records of a load run and what is computed from them:
 * invocations.csv rows and summary.json (docs/load_gen.md). Pure, so a
 * simulated run reports through exactly the same code as a live one. */
#ifndef ILU_REPORT_H
#define ILU_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include "core/types.h"
#include "report/dist.h"

/* Where a report's CSV text goes: out(ctx, text, len) returns 0, or
 * non-zero to stop writing. */
typedef int (*ilu_write_fn)(void *ctx, const char *text, size_t len);

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
    int worker;       /* a simulated cluster's worker that answered; -1 when none or not known */
};

/* What the summary needs of one group of records (the run, a function, a
 * closed-loop step), accumulated as each record becomes final. */
struct ilu_report_block {
    uint64_t n, ok, states[4];
    double first_send, last_end;
    struct ilu_dist lat;        /* e2e of the successes */
    struct ilu_dist over, late; /* the whole run only */
    json_t *errors;             /* the whole run only: error_kind -> count */
};

/* Records stream through: a record is added when its invocation is sent,
 * completed when its answer is in, and becomes final (its CSV row written,
 * its values summed into the blocks, its memory reused) once every record
 * added before it is final too, so the CSV keeps the order of the adds and
 * memory holds only the records in flight. */
struct ilu_report {
    struct ilu_inv_record *ring; /* records base .. next-1 at seq % cap */
    unsigned char *completed;
    size_t cap; /* a power of two */
    uint64_t base, next;
    char **fn_names; /* owned copies */
    char **fn_versions;
    size_t n_fns;
    struct ilu_report_block all, *per_fn, *steps;
    size_t n_steps;
    ilu_write_fn out; /* invocations.csv; NULL: rows are not written */
    void *out_ctx;
    void (*on_final)(void *ctx, const struct ilu_report *r, const struct ilu_inv_record *rec);
    void *on_final_ctx;
    int out_rc, header_done;
    char *csv; /* rows not yet handed to out */
    size_t csv_len;
};

/* An empty report; free releases its rows and functions. */
void ilu_report_init(struct ilu_report *r);
void ilu_report_free(struct ilu_report *r);
/* Where invocations.csv goes (the header, then rows in the order of the
 * adds, in large pieces); set before the first add. */
void ilu_report_set_output(struct ilu_report *r, ilu_write_fn out, void *ctx);
/* fn(ctx, r, rec) for each record as it becomes final, in order (after its
 * CSV row): for files written beside invocations.csv. */
void ilu_report_on_final(struct ilu_report *r,
                         void (*fn)(void *ctx, const struct ilu_report *r, const struct ilu_inv_record *rec),
                         void *ctx);
/* Returns the function's index (adds it if new). -1 when out of memory. */
long ilu_report_function(struct ilu_report *r, const char *name, const char *version);
/* A zeroed record (scheduled_ms and timings NAN, client/step -1), its
 * sequence number in *seq, or NULL when out of memory. The pointer stays
 * valid until the next add; ilu_report_get finds it again by seq. */
struct ilu_inv_record *ilu_report_add(struct ilu_report *r, unsigned fn, uint64_t *seq);
/* The record seq while it is not final; NULL once it is (or was never added). */
struct ilu_inv_record *ilu_report_get(struct ilu_report *r, uint64_t seq);
/* Record seq is filled in: it and every completed record after it with no
 * gap become final. Returns the output's first error (non-zero), else 0. */
int ilu_report_complete(struct ilu_report *r, uint64_t seq);
/* Makes every record final, incomplete ones as they are, and hands the
 * remaining CSV (at least the header) to the output. 0, or its first error. */
int ilu_report_finish(struct ilu_report *r);
/* Final records so far, and how many of them succeeded. */
uint64_t ilu_report_count(const struct ilu_report *r);
uint64_t ilu_report_successes(const struct ilu_report *r);

/* Fill timings, state, success and error of rec from a worker's invoke answer. */
void ilu_report_fill_from_answer(struct ilu_inv_record *rec, int http_status, json_t *answer);

/* The same from a finished invocation of an in-process core (simulation),
 * without going through JSON. */
void ilu_report_fill_from_invocation(struct ilu_inv_record *rec, const struct ilu_invocation *inv);

/* Nearest-rank percentile of n sorted values (p in (0, 100]); NAN when n == 0. */
double ilu_percentile_sorted(const double *sorted, size_t n, double p);
/* {"p50","p90","p99","max","mean","count"} of values (sorted in place). */
json_t *ilu_distribution_json(double *values, size_t n);
/* The block of closed-loop step `step` as the summary's "steps" shows it
 * (final records only); NULL when the step has none. */
json_t *ilu_report_step_summary(struct ilu_report *r, int step);

/* summary.json for the run, from its final records (finish first); inputs
 * (borrowed, may be NULL) is copied in. Percentiles are exact up to
 * ILU_DIST_EXACT_MAX values a block, within ILU_DIST_REL_ERROR beyond
 * (each distribution's "exact" says which). */
json_t *ilu_report_summary(struct ilu_report *r, const char *mode, const char *target, const char *setup,
                           json_t *inputs);

#endif
