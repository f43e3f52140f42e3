/* Fuzz target: the trace and metadata CSV parser (src/core/trace.c).
 * Input: metadata text, a NUL byte, trace text. Without a NUL byte the whole
 * input is tried as metadata, then as a trace over fixed metadata. On success
 * the parsed trace must keep the parser's promises: bounded, sorted times,
 * valid function indices and names. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace.h"

static const char FIXED_META[] = "func_name,cold_dur_ms,warm_dur_ms,mem_mb,mean_iat\nfa,100,5,64,10\nfb,1,1,1\n";

static void check(const struct ilu_trace *t)
{
    for (size_t f = 0; f < t->n_fns; f++) {
        const struct ilu_trace_fn *fn = &t->fns[f];
        size_t len = strlen(fn->name);
        if (!len || len > 63 ||
            strspn(fn->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len)
            abort();
        if (!(fn->cold_ms >= 0 && fn->cold_ms <= ILU_TRACE_MAX_DURATION_MS) ||
            !(fn->warm_ms >= 0 && fn->warm_ms <= ILU_TRACE_MAX_DURATION_MS) || fn->mem_mb < 1 ||
            fn->mem_mb > ILU_TRACE_MAX_MEM_MB || !(fn->mean_iat_ms >= 0 && fn->mean_iat_ms <= ILU_TRACE_MAX_TIME_MS))
            abort();
        if (ilu_trace_fn_index(t, fn->name) != (long)f)
            abort();
    }
    uint64_t per_fn_total = 0;
    for (size_t f = 0; f < t->n_fns; f++)
        per_fn_total += t->fns[f].invocations;
    if (per_fn_total != t->n_events)
        abort();
    for (size_t i = 0; i < t->n_events; i++) {
        double ms = t->events[i].time_ms;
        if (!(ms >= 0 && ms <= ILU_TRACE_MAX_TIME_MS) || t->events[i].fn >= t->n_fns)
            abort();
        if (i && ms < t->events[i - 1].time_ms)
            abort();
    }
}

static void parse(const char *meta, const char *events)
{
    struct ilu_trace t = {0};
    struct ilu_error err = {0};
    if (ilu_trace_parse_metadata(&t, meta, "meta.csv", &err) == 0) {
        check(&t);
        if (ilu_trace_parse_events(&t, events, "trace.csv", &err) == 0)
            check(&t);
        else if (err.status != ILU_ST_BAD_REQUEST || !strstr(err.msg, "trace.csv"))
            abort(); /* every refusal is a 400 that names the file */
    } else if (err.status != ILU_ST_BAD_REQUEST || !strstr(err.msg, "meta.csv")) {
        abort();
    }
    ilu_trace_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    size_t first = strlen(text);
    if (first < size) {
        parse(text, text + first + 1);
    } else {
        parse(text, "func_name,invoke_time_ms\n");
        parse(FIXED_META, text);
    }
    free(text);
    return 0;
}
