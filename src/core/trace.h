/* Trace and metadata CSVs (Ilúvatar's formats, docs/load_gen.md), parsed
 * from text so the live load generator and the simulator share one parser.
 * Errors name the source and line. */
#ifndef ILU_TRACE_H
#define ILU_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct ilu_trace_fn {
    char name[64];
    double cold_ms, warm_ms;
    uint32_t mem_mb;
    double mean_iat_ms;  /* 0 when the column is absent */
    uint64_t invocations; /* rows of the trace naming it */
};

struct ilu_trace_event {
    double time_ms;
    uint32_t fn;          /* index into fns */
};

struct ilu_map;

struct ilu_trace {
    struct ilu_map *index; /* name -> index + 1 */
    struct ilu_trace_fn *fns;
    size_t n_fns;
    struct ilu_trace_event *events;
    size_t n_events;
};

/* Metadata first (it defines the functions), then the trace. */
int ilu_trace_parse_metadata(struct ilu_trace *t, const char *text, const char *source, struct ilu_error *err);
int ilu_trace_parse_events(struct ilu_trace *t, const char *text, const char *source, struct ilu_error *err);
void ilu_trace_free(struct ilu_trace *t);
/* Index of a function by name, or -1. */
long ilu_trace_fn_index(const struct ilu_trace *t, const char *name);

#endif
