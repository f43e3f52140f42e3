#include "trace.h"

#include "map.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 32

/* Split one line in place on commas; trims spaces and a trailing \r.
 * The formats have no quoting, so a quote is reported as an error. */
static int split_line(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
        line[--len] = 0;
    for (;;) {
        while (*p == ' ')
            p++;
        if (n == max)
            return -1;
        fields[n++] = p;
        char *comma = strchr(p, ',');
        char *end = comma ? comma : p + strlen(p);
        while (end > p && end[-1] == ' ')
            end--;
        if (!comma) {
            *end = 0;
            break;
        }
        *end = 0;
        p = comma + 1;
    }
    return n;
}

static int parse_number(const char *s, double *out)
{
    if (!*s)
        return -1;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Calls fn for each data line (after the header) with its 1-based number. */
typedef int (*row_fn)(struct ilu_trace *t, char **fields, int n, const char *source, size_t line_no,
                      const int *cols, struct ilu_error *err);

static int for_each_row(struct ilu_trace *t, const char *text, const char *source, const char *const *required,
                        int n_required, const char *optional, int *cols, row_fn fn, struct ilu_error *err)
{
    int have_header = 0;
    size_t line_no = 0;
    const char *p = text ? text : "";
    char line[4096];
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        line_no++;
        if (len >= sizeof line)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: line longer than %zu bytes", source, line_no,
                           sizeof line - 1);
        memcpy(line, p, len);
        line[len] = 0;
        p = nl ? nl + 1 : p + len;
        char *fields[MAX_FIELDS];
        int n = split_line(line, fields, MAX_FIELDS);
        if (n == 1 && fields[0][0] == 0)
            continue; /* blank line */
        if (n < 0)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: more than %d fields", source, line_no,
                           MAX_FIELDS);
        if (!have_header) {
            have_header = 1;
            for (int r = 0; r < n_required; r++) {
                cols[r] = -1;
                for (int i = 0; i < n; i++)
                    if (strcmp(fields[i], required[r]) == 0)
                        cols[r] = i;
                if (cols[r] < 0)
                    return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: header lacks column %s", source,
                                   line_no, required[r]);
            }
            cols[n_required] = -1;
            for (int i = 0; optional && i < n; i++)
                if (strcmp(fields[i], optional) == 0)
                    cols[n_required] = i;
            continue;
        }
        if (fn(t, fields, n, source, line_no, cols, err))
            return -1;
    }
    if (!have_header)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s: empty file (no header)", source);
    return 0;
}

static const char *field(char **fields, int n, int col)
{
    return col >= 0 && col < n ? fields[col] : "";
}

static int metadata_row(struct ilu_trace *t, char **fields, int n, const char *source, size_t line,
                        const int *cols, struct ilu_error *err)
{
    const char *name = field(fields, n, cols[0]);
    if (!*name || strlen(name) >= sizeof t->fns[0].name)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: func_name must be 1-63 characters", source,
                       line);
    if (ilu_trace_fn_index(t, name) >= 0)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: function %s appears twice", source, line, name);
    struct ilu_trace_fn fn = {0};
    snprintf(fn.name, sizeof fn.name, "%s", name);
    double mem;
    static const char *names[] = {"cold_dur_ms", "warm_dur_ms", "mem_mb"};
    double *dst[] = {&fn.cold_ms, &fn.warm_ms, &mem};
    for (int i = 0; i < 3; i++) {
        const char *s = field(fields, n, cols[i + 1]);
        if (parse_number(s, dst[i]) || *dst[i] < 0)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: %s \"%s\" is not a non-negative number",
                           source, line, names[i], s);
    }
    if (mem < 1 || mem > 1 << 20)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: mem_mb %g is out of range", source, line, mem);
    fn.mem_mb = (uint32_t)ceil(mem);
    const char *iat = field(fields, n, cols[4]);
    if (cols[4] >= 0 && *iat && parse_number(iat, &fn.mean_iat_ms))
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: mean_iat \"%s\" is not a number", source,
                       line, iat);
    struct ilu_trace_fn *fns = realloc(t->fns, (t->n_fns + 1) * sizeof *fns);
    if (!fns)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    t->fns = fns;
    t->fns[t->n_fns] = fn;
    /* the map stores index + 1 so that index 0 is not a NULL value */
    if (ilu_map_put(t->index, fn.name, (void *)(uintptr_t)(t->n_fns + 1)))
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    t->n_fns++;
    return 0;
}

int ilu_trace_parse_metadata(struct ilu_trace *t, const char *text, const char *source, struct ilu_error *err)
{
    if (!t->index) {
        t->index = calloc(1, sizeof *t->index);
        if (!t->index || ilu_map_init(t->index)) {
            free(t->index);
            t->index = NULL;
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        }
    }
    static const char *const required[] = {"func_name", "cold_dur_ms", "warm_dur_ms", "mem_mb"};
    int cols[5];
    if (for_each_row(t, text, source, required, 4, "mean_iat", cols, metadata_row, err))
        return -1;
    if (!t->n_fns)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s: no functions", source);
    return 0;
}

static int event_row(struct ilu_trace *t, char **fields, int n, const char *source, size_t line, const int *cols,
                     struct ilu_error *err)
{
    const char *name = field(fields, n, cols[0]);
    long idx = ilu_trace_fn_index(t, name);
    if (idx < 0)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: function \"%s\" is not in the metadata", source,
                       line, name);
    double time_ms;
    const char *s = field(fields, n, cols[1]);
    if (parse_number(s, &time_ms) || time_ms < 0)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: invoke_time_ms \"%s\" is not a non-negative number",
                       source, line, s);
    if (t->n_events && time_ms < t->events[t->n_events - 1].time_ms)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input",
                       "%s:%zu: not sorted: invoke_time_ms %g comes after %g (sort the trace by time)", source, line,
                       time_ms, t->events[t->n_events - 1].time_ms);
    if ((t->n_events & (t->n_events - 1)) == 0) { /* grow at powers of two */
        size_t cap = t->n_events ? t->n_events * 2 : 1024;
        struct ilu_trace_event *ev = realloc(t->events, cap * sizeof *ev);
        if (!ev)
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        t->events = ev;
    }
    t->events[t->n_events++] = (struct ilu_trace_event){.time_ms = time_ms, .fn = (uint32_t)idx};
    t->fns[idx].invocations++;
    return 0;
}

int ilu_trace_parse_events(struct ilu_trace *t, const char *text, const char *source, struct ilu_error *err)
{
    static const char *const required[] = {"func_name", "invoke_time_ms"};
    int cols[3];
    return for_each_row(t, text, source, required, 2, NULL, cols, event_row, err);
}

void ilu_trace_free(struct ilu_trace *t)
{
    if (t->index) {
        ilu_map_destroy(t->index);
        free(t->index);
    }
    free(t->fns);
    free(t->events);
    memset(t, 0, sizeof *t);
}

long ilu_trace_fn_index(const struct ilu_trace *t, const char *name)
{
    void *v = t->index ? ilu_map_get(t->index, name) : NULL;
    return v ? (long)(uintptr_t)v - 1 : -1;
}
