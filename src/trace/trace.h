/* Trace and metadata CSVs (Ilúvatar's formats, docs/load_gen.md), parsed
 * from text so the live load generator and the simulator share one parser.
 * Errors name the source and line. */
#ifndef ILU_TRACE_H
#define ILU_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct ilu_trace_fn {
    char name[64];
    double cold_ms, warm_ms;
    uint32_t mem_mb;
    double mean_iat_ms;   /* 0 when the column is absent */
    char *image;          /* column image_name: the function's own image (owned); NULL when absent or empty */
    char *args_json;      /* column args, Ilúvatar's "k=v;k=v", as a JSON object of strings (owned); NULL: none */
    int prewarms;         /* column prewarms: containers to prewarm; -1 when absent or empty */
    uint32_t compute;     /* column compute (CPU, GPU, CPU|GPU): ILU_COMPUTE_* bits; 0 when absent or empty */
    uint64_t invocations; /* rows of the trace naming it */
};

struct ilu_trace_event {
    double time_ms;
    uint32_t fn; /* index into fns */
};

struct ilu_map;

struct ilu_trace {
    struct ilu_map *index; /* name -> index + 1 */
    struct ilu_trace_fn *fns;
    size_t n_fns;
    struct ilu_trace_event *events;
    size_t n_events, events_cap;
    /* every row read so far, and the last row's time: a streaming reader
     * (the simulator) empties events between pieces of the file, and the
     * order check must still see the previous row */
    uint64_t rows_read;
    double last_time_ms;
};

/* Bounds on what a trace may hold: a line longer than ILU_TRACE_MAX_LINE
 * bytes is refused (readers stop reading it there), and so are times beyond
 * what an experiment can mean, which would otherwise schedule a run of years
 * or ask a container to sleep for them. */
#define ILU_TRACE_MAX_LINE        (64 * 1024)               /* bytes, without the newline */
#define ILU_TRACE_MAX_TIME_MS     (30.0 * 24 * 3600 * 1000) /* invoke_time_ms: 30 days */
#define ILU_TRACE_MAX_DURATION_MS (24.0 * 3600 * 1000)      /* cold_dur_ms, warm_dur_ms: 1 day */
#define ILU_TRACE_MAX_MEM_MB      (1u << 20)                /* mem_mb: 1 TiB */
#define ILU_TRACE_MAX_PREWARMS    1000                      /* prewarms: containers per function */

enum ilu_trace_csv_kind { ILU_TRACE_CSV_METADATA, ILU_TRACE_CSV_EVENTS };

/* Split one line of a plain CSV (no quoting, as Ilúvatar's files) in place
 * at its commas, spaces around fields and a trailing CR dropped; the number
 * of fields, or -1 beyond max. */
int ilu_csv_split(char *line, char **fields, int max);

/* A CSV being parsed line by line, so a file is read in bounded pieces:
 * begin, one ilu_trace_csv_line per line (every line, blank ones included,
 * so line numbers in errors are right), then end. source is borrowed. */
struct ilu_trace_csv {
    struct ilu_trace *t;
    enum ilu_trace_csv_kind kind;
    const char *source;
    size_t line_no;
    int have_header;
    int cols[9]; /* the required columns, then mean_iat, image_name, args, prewarms, compute (-1: absent) */
};

/* Start parsing one CSV (kind: metadata or invocations) into t, fed line by
 * line; source names the file in errors. 0, or -1 with err. */
int ilu_trace_csv_begin(struct ilu_trace_csv *p, struct ilu_trace *t, enum ilu_trace_csv_kind kind, const char *source,
                        struct ilu_error *err);
/* line (len bytes, without its '\n', NUL-terminated) is split in place. */
int ilu_trace_csv_line(struct ilu_trace_csv *p, char *line, size_t len, struct ilu_error *err);
int ilu_trace_csv_end(struct ilu_trace_csv *p, struct ilu_error *err);

/* Ilúvatar's args column, "k=v;k=v" (the first '=' of an item splits it),
 * as a JSON object of strings in *out (compact JSON text, the caller's to
 * free). 0, or -1 with err naming source:line. Shared with the load
 * generator's benchmark --function-file. */
int ilu_trace_args_parse(const char *text, char **out, const char *source, size_t line, struct ilu_error *err);

/* Whole texts (NUL-terminated), through the same line parser.
 * Metadata first (it defines the functions), then the trace. */
int ilu_trace_parse_metadata(struct ilu_trace *t, const char *text, const char *source, struct ilu_error *err);
int ilu_trace_parse_events(struct ilu_trace *t, const char *text, const char *source, struct ilu_error *err);
void ilu_trace_free(struct ilu_trace *t);
/* Index of a function by name, or -1. */
long ilu_trace_fn_index(const struct ilu_trace *t, const char *name);

#endif
