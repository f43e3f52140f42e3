#include "trace/trace.h"

#include "api/registration.h"
#include "core/map.h"

#include <jansson.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 32
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

/* Split one line in place on commas; trims spaces and a trailing \r.
 * The formats have no quoting. */
int ilu_csv_split(char *line, char **fields, int max)
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

/* A number in [0, max]: NaN, inf, negative and huge values are refused
 * with the field's name, the text and the bound. */
static int parse_bounded(const char *s, double max, const char *max_words, const char *what, const char *source,
                         size_t line, double *out, struct ilu_error *err)
{
    if (parse_number(s, out) || *out < 0)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: %s \"%.64s\" is not a non-negative number",
                       source, line, what, s);
    if (*out > max)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: %s %.64s is beyond the limit of %.0f (%s)",
                       source, line, what, s, max, max_words);
    return 0;
}

static const char *field(char **fields, int n, int col)
{
    return col >= 0 && col < n ? fields[col] : "";
}

/* values stay text, as Ilúvatar's load generator sends them */
int ilu_trace_args_parse(const char *text, char **out, const char *source, size_t line, struct ilu_error *err)
{
    json_t *obj = json_object();
    char *copy = strdup(text);
    if (!obj || !copy) {
        json_decref(obj);
        free(copy);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    }
    int rc = 0;
    char *save = NULL;
    for (char *pair = strtok_r(copy, ";", &save); pair && !rc; pair = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq || eq == pair) {
            rc = ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input",
                         "%s:%zu: args \"%.64s\": each ;-separated item must be key=value", source, line, pair);
            break;
        }
        *eq = 0;
        json_t *v = json_string(eq + 1);
        if (!v || json_object_set_new(obj, pair, v))
            rc = ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: args \"%.64s\" is not valid UTF-8", source,
                         line, pair);
    }
    if (!rc && !(*out = json_dumps(obj, JSON_COMPACT)))
        rc = ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    json_decref(obj);
    free(copy);
    return rc;
}

static int metadata_row(struct ilu_trace *t, char **fields, int n, const char *source, size_t line, const int *cols,
                        struct ilu_error *err)
{
    const char *name = field(fields, n, cols[0]);
    size_t len = strlen(name);
    /* the worker's rule for function names, checked here to name the line */
    if (!len || len >= sizeof t->fns[0].name || strspn(name, NAME_CHARS) != len)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input",
                       "%s:%zu: func_name \"%.64s\" must be 1-63 characters of A-Z a-z 0-9 . _ -", source, line, name);
    if (ilu_trace_fn_index(t, name) >= 0)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: function %s appears twice", source, line, name);
    struct ilu_trace_fn fn = {0};
    snprintf(fn.name, sizeof fn.name, "%s", name);
    double mem;
    static const char *names[] = {"cold_dur_ms", "warm_dur_ms", "mem_mb"};
    static const double max[] = {ILU_TRACE_MAX_DURATION_MS, ILU_TRACE_MAX_DURATION_MS, ILU_TRACE_MAX_MEM_MB};
    static const char *max_words[] = {"1 day", "1 day", "1 TiB"};
    double *dst[] = {&fn.cold_ms, &fn.warm_ms, &mem};
    for (int i = 0; i < 3; i++)
        if (parse_bounded(field(fields, n, cols[i + 1]), max[i], max_words[i], names[i], source, line, dst[i], err))
            return -1;
    if (mem < 1)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: mem_mb %g is out of range (1-%u)", source, line,
                       mem, ILU_TRACE_MAX_MEM_MB);
    fn.mem_mb = (uint32_t)ceil(mem);
    const char *iat = field(fields, n, cols[4]);
    if (cols[4] >= 0 && *iat &&
        parse_bounded(iat, ILU_TRACE_MAX_TIME_MS, "30 days", "mean_iat", source, line, &fn.mean_iat_ms, err))
        return -1;
    fn.prewarms = -1;
    const char *prewarms = field(fields, n, cols[7]);
    double pw;
    if (cols[7] >= 0 && *prewarms) {
        if (parse_bounded(prewarms, ILU_TRACE_MAX_PREWARMS, "per function", "prewarms", source, line, &pw, err))
            return -1;
        if (pw != floor(pw))
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: prewarms %.64s is not a whole number", source,
                           line, prewarms);
        fn.prewarms = (int)pw;
    }
    const char *compute = field(fields, n, cols[8]);
    if (cols[8] >= 0 && *compute && ilu_compute_parse(compute, &fn.compute, err))
        return ilu_err_wrap(err, "%s:%zu", source, line);
    const char *args = field(fields, n, cols[6]);
    if (cols[6] >= 0 && *args && ilu_trace_args_parse(args, &fn.args_json, source, line, err))
        return -1;
    const char *image = field(fields, n, cols[5]);
    struct ilu_trace_fn *fns = realloc(t->fns, (t->n_fns + 1) * sizeof *fns);
    if (!fns) {
        free(fn.args_json);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    }
    if (cols[5] >= 0 && *image && !(fn.image = strdup(image))) {
        t->fns = fns;
        free(fn.args_json);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    }
    t->fns = fns;
    t->fns[t->n_fns] = fn;
    /* the map stores index + 1 so that index 0 is not a NULL value */
    if (ilu_map_put(t->index, fn.name, (void *)(uintptr_t)(t->n_fns + 1))) {
        free(fn.image);
        free(fn.args_json);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    }
    t->n_fns++;
    return 0;
}

static int event_row(struct ilu_trace *t, char **fields, int n, const char *source, size_t line, const int *cols,
                     struct ilu_error *err)
{
    const char *name = field(fields, n, cols[0]);
    long idx = ilu_trace_fn_index(t, name);
    if (idx < 0)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: function \"%.64s\" is not in the metadata",
                       source, line, name);
    double time_ms;
    if (parse_bounded(field(fields, n, cols[1]), ILU_TRACE_MAX_TIME_MS, "30 days", "invoke_time_ms", source, line,
                      &time_ms, err))
        return -1;
    if (t->rows_read && time_ms < t->last_time_ms)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input",
                       "%s:%zu: not sorted: invoke_time_ms %g comes after %g (sort the trace by time)", source, line,
                       time_ms, t->last_time_ms);
    if (t->n_events == t->events_cap) {
        size_t cap = t->events_cap ? t->events_cap * 2 : 1024;
        struct ilu_trace_event *ev = realloc(t->events, cap * sizeof *ev);
        if (!ev)
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        t->events = ev;
        t->events_cap = cap;
    }
    t->events[t->n_events++] = (struct ilu_trace_event){.time_ms = time_ms, .fn = (uint32_t)idx};
    t->rows_read++;
    t->last_time_ms = time_ms;
    t->fns[idx].invocations++;
    return 0;
}

static const char *const metadata_required[] = {"func_name", "cold_dur_ms", "warm_dur_ms", "mem_mb"};
static const char *const events_required[] = {"func_name", "invoke_time_ms"};

int ilu_trace_csv_begin(struct ilu_trace_csv *p, struct ilu_trace *t, enum ilu_trace_csv_kind kind, const char *source,
                        struct ilu_error *err)
{
    *p = (struct ilu_trace_csv){.t = t, .kind = kind, .source = source ? source : "(input)"};
    if (kind == ILU_TRACE_CSV_METADATA && !t->index) {
        t->index = calloc(1, sizeof *t->index);
        if (!t->index || ilu_map_init(t->index)) {
            free(t->index);
            t->index = NULL;
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        }
    }
    return 0;
}

int ilu_trace_csv_line(struct ilu_trace_csv *p, char *line, size_t len, struct ilu_error *err)
{
    int meta = p->kind == ILU_TRACE_CSV_METADATA;
    const char *const *required = meta ? metadata_required : events_required;
    int n_required = meta ? 4 : 2;
    const char *source = p->source;
    size_t line_no = ++p->line_no;
    if (len > ILU_TRACE_MAX_LINE)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: line longer than %d bytes", source, line_no,
                       ILU_TRACE_MAX_LINE);
    if (memchr(line, 0, len))
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: a NUL byte in a text file", source, line_no);
    char *fields[MAX_FIELDS];
    int n = ilu_csv_split(line, fields, MAX_FIELDS);
    if (n == 1 && fields[0][0] == 0)
        return 0; /* blank line */
    if (n < 0)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: more than %d fields", source, line_no,
                       MAX_FIELDS);
    if (!p->have_header) {
        p->have_header = 1;
        for (int r = 0; r < n_required; r++) {
            p->cols[r] = -1;
            for (int i = 0; i < n; i++)
                if (strcmp(fields[i], required[r]) == 0)
                    p->cols[r] = i;
            if (p->cols[r] < 0)
                return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: header lacks column %s", source, line_no,
                               required[r]);
        }
        /* optional columns of the metadata (Ilúvatar's names) */
        static const char *const optional[] = {"mean_iat", "image_name", "args", "prewarms", "compute"};
        for (int o = 0; o < 5; o++) {
            p->cols[n_required + o] = -1;
            for (int i = 0; meta && i < n; i++)
                if (strcmp(fields[i], optional[o]) == 0)
                    p->cols[n_required + o] = i;
        }
        return 0;
    }
    return meta ? metadata_row(p->t, fields, n, source, line_no, p->cols, err)
                : event_row(p->t, fields, n, source, line_no, p->cols, err);
}

int ilu_trace_csv_end(struct ilu_trace_csv *p, struct ilu_error *err)
{
    if (!p->have_header)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s: empty file (no header)", p->source);
    if (p->kind == ILU_TRACE_CSV_METADATA && !p->t->n_fns)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s: no functions", p->source);
    return 0;
}

/* A whole text through the line parser, each line copied to a bounded buffer. */
static int parse_text(struct ilu_trace *t, enum ilu_trace_csv_kind kind, const char *text, const char *source,
                      struct ilu_error *err)
{
    struct ilu_trace_csv p;
    if (ilu_trace_csv_begin(&p, t, kind, source, err))
        return -1;
    ilu_cleanup_free char *line = malloc(ILU_TRACE_MAX_LINE + 1);
    if (!line)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    const char *s = text ? text : "";
    int rc = 0;
    while (*s && !rc) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (len > ILU_TRACE_MAX_LINE) {
            rc = ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: line longer than %d bytes", p.source,
                         p.line_no + 1, ILU_TRACE_MAX_LINE);
            break;
        }
        memcpy(line, s, len);
        line[len] = 0;
        s = nl ? nl + 1 : s + len;
        rc = ilu_trace_csv_line(&p, line, len, err);
    }
    return rc ? rc : ilu_trace_csv_end(&p, err);
}

int ilu_trace_parse_metadata(struct ilu_trace *t, const char *text, const char *source, struct ilu_error *err)
{
    return parse_text(t, ILU_TRACE_CSV_METADATA, text, source, err);
}

int ilu_trace_parse_events(struct ilu_trace *t, const char *text, const char *source, struct ilu_error *err)
{
    return parse_text(t, ILU_TRACE_CSV_EVENTS, text, source, err);
}

void ilu_trace_free(struct ilu_trace *t)
{
    if (t->index) {
        ilu_map_destroy(t->index);
        free(t->index);
    }
    for (size_t i = 0; t->fns && i < t->n_fns; i++) {
        free(t->fns[i].image);
        free(t->fns[i].args_json);
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
