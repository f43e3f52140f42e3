#include "trace_plan.h"

#include "core/decimal.h"
#include "os/file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Benchmark times (seconds, or microseconds for *_us arrays) beyond a day
 * are not measurements; with negatives they would reach the simulator's
 * integer conversions as undefined values. */
#define BENCH_MAX_US 86400e6

/* Median of the numbers in [0, max] of a JSON array; NAN when none. */
static double json_median(json_t *arr, double max)
{
    size_t n = json_array_size(arr), k = 0;
    double *v = malloc((n + 1) * sizeof *v);
    if (!v)
        return NAN;
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        double d = json_number_value(x);
        if (json_is_number(x) && d >= 0 && d <= max)
            v[k++] = d;
    }
    double m = NAN;
    if (k) {
        qsort(v, k, sizeof *v, cmp_double);
        m = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
    }
    free(v);
    return m;
}

/* entry's median times into pl: exec cold and warm, and the start-up */
static void entry_times(json_t *entry, struct lg_fn_plan *pl)
{
    json_t *cpu = json_object_get(json_object_get(entry, "resource_data"), "CPU");
    pl->warm_exec_ms = json_median(json_object_get(cpu, "warm_results_sec"), BENCH_MAX_US / 1e6) * 1000.0;
    pl->cold_exec_ms = json_median(json_object_get(cpu, "cold_results_sec"), BENCH_MAX_US / 1e6) * 1000.0;
    if (isnan(pl->cold_exec_ms))
        pl->cold_exec_ms = pl->warm_exec_ms;
    /* start-up = what a cold call took beyond the function's own time */
    double cold_total = json_median(json_object_get(cpu, "cold_invoke_duration_us"), BENCH_MAX_US) / 1000.0;
    pl->start_ms = isnan(cold_total) || cold_total <= pl->cold_exec_ms ? 0 : cold_total - pl->cold_exec_ms;
    /* Ilúvatar's BenchmarkStore: the same times measured on a GPU */
    json_t *gpu = json_object_get(json_object_get(entry, "resource_data"), "GPU");
    double gw = json_median(json_object_get(gpu, "warm_results_sec"), BENCH_MAX_US / 1e6) * 1000.0;
    double gc = json_median(json_object_get(gpu, "cold_results_sec"), BENCH_MAX_US / 1e6) * 1000.0;
    pl->gpu_warm_exec_ms = isnan(gw) ? 0 : gw;
    pl->gpu_cold_exec_ms = isnan(gc) ? pl->gpu_warm_exec_ms : gc;
}

/* entry's median warm time in ms; NAN when it has no image_name or no
 * warm_results_sec (it cannot be mapped to) */
static double entry_warm_ms(json_t *entry)
{
    json_t *cpu = json_object_get(json_object_get(entry, "resource_data"), "CPU");
    double m = json_median(json_object_get(cpu, "warm_results_sec"), BENCH_MAX_US / 1e6) * 1000.0;
    return json_string_value(json_object_get(entry, "image_name")) ? m : NAN;
}

int lg_benchmark_match(json_t *data, double warm_ms, struct lg_fn_plan *pl, const char **chosen_name)
{
    json_t *best_entry = NULL;
    double best = INFINITY;
    const char *key;
    json_t *entry;
    json_object_foreach(data, key, entry)
    {
        double m = entry_warm_ms(entry);
        if (!isnan(m) && fabs(m - warm_ms) < best) {
            best = fabs(m - warm_ms);
            best_entry = entry;
            *chosen_name = key;
        }
    }
    if (!best_entry)
        return -1;
    snprintf(pl->image, sizeof pl->image, "%s", json_string_value(json_object_get(best_entry, "image_name")));
    entry_times(best_entry, pl);
    return 0;
}

json_t *lg_benchmark_functions(json_t *doc)
{
    json_t *inner = json_object_get(doc, "data");
    /* a function named "data" has resource_data; Ilúvatar's wrapper does not */
    if (json_object_size(doc) == 1 && json_is_object(inner) && !json_object_get(inner, "resource_data"))
        return inner;
    return doc;
}

/* The entry of data that measured image with exactly these arguments
 * (NULL: none, as {}), *name its key; NULL when none did. */
static json_t *benchmark_of(json_t *data, const char *image, json_t *args, const char **name)
{
    json_t *none = json_object(), *entry;
    const char *key;
    json_t *found = NULL;
    json_object_foreach(data, key, entry)
    {
        json_t *eargs = json_object_get(entry, "args");
        if (!isnan(entry_warm_ms(entry)) && !strcmp(json_string_value(json_object_get(entry, "image_name")), image) &&
            json_equal(eargs ? eargs : none, args ? args : none)) {
            found = entry;
            *name = key;
            break;
        }
    }
    json_decref(none);
    return found;
}

/* The last path component of an image (a folder, or an OCI reference). */
static const char *image_leaf(const char *image, char *buf, size_t n)
{
    snprintf(buf, n, "%s", image);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = 0;
    const char *slash = strrchr(buf, '/');
    return slash && slash[1] ? slash + 1 : buf;
}

/* mapped / trace warm time; NAN when not measured. A trace time of 0 is
 * matched only by 0. */
static double warm_ratio(double mapped, double trace)
{
    if (isnan(mapped))
        return NAN;
    if (trace <= 0)
        return mapped <= 0 ? 1 : INFINITY;
    return mapped / trace;
}

/* ratio beyond tol either way; the slack keeps a ratio of exactly tol,
 * rounded on its way through seconds and milliseconds, within it */
static int ratio_beyond(double ratio, double tol)
{
    if (isnan(ratio))
        return 0;
    double factor = ratio >= 1 ? ratio : ratio > 0 ? 1 / ratio : INFINITY;
    return factor > tol * (1 + 1e-9);
}

static const char *const SOURCE_NAMES[] = {
    [LG_FN_SYNTHETIC] = "synthetic",
    [LG_FN_BENCHMARK] = "benchmark",
    [LG_FN_METADATA] = "metadata",
};

/* "107.70x shorter" / "2.50x longer" for a ratio beyond 1 either way. */
static void ratio_words(double ratio, char *out, size_t n)
{
    if (ratio >= 1)
        snprintf(out, n, "%.2fx longer", ratio);
    else if (ratio > 0)
        snprintf(out, n, "%.2fx shorter", 1 / ratio);
    else
        snprintf(out, n, "0 ms against a positive time");
}

/* The warnings about the mapping (unless a later repetition: the first
 * said them), and --strict-mapping's refusal: -1 with err listing the
 * functions beyond the tolerance. */
static int check_mapping(const struct lg_trace_opts *o, struct lg_trace_plan *p, double tol, struct ilu_error *err)
{
    size_t n = p->trace.n_fns, distorted = 0, mapped = 0, top = 0;
    const char *top_fn = NULL;
    int say = o->repetition <= 1;
    json_t *runs = json_object(); /* benchmarked function -> trace functions running it */
    for (size_t f = 0; f < n; f++) {
        const struct lg_fn_plan *pl = &p->fns[f];
        if (pl->source == LG_FN_BENCHMARK) {
            size_t same = (size_t)json_integer_value(json_object_get(runs, pl->function)) + 1;
            json_object_set_new(runs, pl->function, json_integer((json_int_t)same));
            mapped++;
            if (same > top)
                top = same, top_fn = pl->function;
        }
        if (!pl->distorted)
            continue;
        distorted++;
        char words[64];
        ratio_words(pl->ratio, words, sizeof words);
        if (say)
            fprintf(stderr,
                    "iluvatar_load_gen: warning: trace function %s runs %s (%s): warm %.1f ms where the trace says "
                    "%.1f ms, %s (--mapping-tolerance %g)\n",
                    pl->name, pl->function, SOURCE_NAMES[pl->source], pl->mapped_warm_ms, p->trace.fns[f].warm_ms,
                    words, tol);
    }
    if (say && distorted)
        fprintf(stderr,
                "iluvatar_load_gen: warning: %zu of %zu trace functions run more than %gx shorter or longer than the "
                "trace says; mapping.csv in the results lists every mapping\n",
                distorted, n, tol);
    /* one benchmarked function standing in for most of the trace: its
     * durations may fit, but the trace's variety of code is gone */
    if (say && mapped >= 3 && top * 2 > mapped)
        fprintf(stderr,
                "iluvatar_load_gen: warning: %zu of %zu trace functions run %s: one function's code stands in for "
                "most of the trace; benchmark more functions, or sizes of them (benchmark --function-file with "
                "an args column), for a closer mapping\n",
                top, n, top_fn);
    json_decref(runs);
    json_object_set_new(p->inputs, "mapping_tolerance", json_real(tol));
    json_object_set_new(p->inputs, "strict_mapping", json_boolean(o->strict_mapping));
    json_object_set_new(p->inputs, "mapping_distorted", json_integer((json_int_t)distorted));
    if (!o->strict_mapping || !distorted)
        return 0;
    char names[300];
    size_t len = 0, listed = 0;
    names[0] = 0;
    for (size_t f = 0; f < n; f++)
        if (p->fns[f].distorted && len + strlen(p->fns[f].name) + 2 < sizeof names - 16) {
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", listed ? ", " : "", p->fns[f].name);
            listed++;
        }
    if (listed < distorted)
        snprintf(names + len, sizeof names - len, " and %zu more", distorted - listed);
    return ilu_err(err, ILU_ST_BAD_REQUEST, NULL,
                   "--strict-mapping: %zu of %zu trace functions are mapped more than %gx off their trace warm time "
                   "(%s); nothing was run",
                   distorted, n, tol, names);
}

static int plan_functions(struct lg_ctx *ctx, const struct lg_trace_opts *o, struct lg_trace_plan *p,
                          struct ilu_error *err)
{
    struct ilu_trace *t = &p->trace;
    json_t *data = NULL;
    char synthetic[PATH_MAX];
    double tol = o->mapping_tolerance > 0 ? o->mapping_tolerance : LG_MAPPING_TOLERANCE;
    int functions_load = !strcmp(o->load_type, "functions");
    if (functions_load) {
        json_error_t jerr;
        if (!o->function_data) {
            ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "--load-type functions needs --function-data (a benchmark JSON)");
            return -1;
        }
        char *text = ilu_read_file(o->function_data, err); /* bounded: ILU_READ_FILE_MAX */
        if (!text)
            return -1;
        data = json_loads(text, 0, &jerr);
        free(text);
        if (json_is_object(data)) {
            json_t *fns = json_incref(lg_benchmark_functions(data));
            json_decref(data);
            data = fns;
        }
        if (!json_is_object(data)) {
            ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "%s:%d: %s", o->function_data, jerr.line,
                    data ? "not a JSON object of benchmarked functions" : jerr.text);
            json_decref(data);
            return -1;
        }
    } else if (strcmp(o->load_type, "synthetic")) {
        ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "--load-type must be synthetic or functions, not %s", o->load_type);
        return -1;
    } else if (o->synthetic_dir) {
        if (o->synthetic_dir[0] != '/' || strlen(o->synthetic_dir) >= sizeof synthetic) {
            ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "--synthetic-dir must be an absolute path under %zu bytes, not %s",
                    sizeof synthetic, o->synthetic_dir);
            return -1;
        }
        snprintf(synthetic, sizeof synthetic, "%s", o->synthetic_dir);
    } else if (lg_repo_path(ctx, "functions/synthetic", synthetic, sizeof synthetic)) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "functions/synthetic not found beside the binary (in %s)", ctx->repo_dir);
        return -1;
    }
    json_t *mapping = json_object();
    int rc = 0;
    for (size_t f = 0; f < t->n_fns && !rc; f++) {
        struct ilu_trace_fn *fn = &t->fns[f];
        struct lg_fn_plan *pl = &p->fns[f];
        pl->name = fn->name;
        json_t *given = fn->args_json ? json_loads(fn->args_json, 0, NULL) : NULL, *args, *entry = NULL;
        if (fn->args_json && !given) {
            ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
            rc = -1;
            break;
        }
        const char *bench = NULL;
        pl->mapped_warm_ms = NAN;
        if (fn->image) {
            /* the metadata's image_name (Ilúvatar's column): that function
             * itself, with the trace's durations as its expected times,
             * unless the benchmark measured it with these arguments */
            pl->source = LG_FN_METADATA;
            snprintf(pl->image, sizeof pl->image, "%s", fn->image);
            pl->cold_exec_ms = fn->cold_ms;
            pl->warm_exec_ms = fn->warm_ms;
            entry = json_pack("{s:s, s:s}", "image_name", fn->image, "from", "metadata");
            json_t *measured = data ? benchmark_of(data, fn->image, given, &bench) : NULL;
            char leaf[PATH_MAX];
            snprintf(pl->function, sizeof pl->function, "%s",
                     measured ? bench : image_leaf(fn->image, leaf, sizeof leaf));
            if (measured) {
                entry_times(measured, pl);
                pl->mapped_warm_ms = pl->warm_exec_ms;
            }
            args = json_object();
        } else if (functions_load) {
            pl->source = LG_FN_BENCHMARK;
            if (lg_benchmark_match(data, fn->warm_ms, pl, &bench)) {
                ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "%s has no function with warm_results_sec", o->function_data);
                json_decref(given);
                rc = -1;
                break;
            }
            /* the arguments it was benchmarked with (benchmark --function-file's args) */
            json_t *bargs = json_object_get(json_object_get(data, bench), "args");
            if (bargs && !json_is_object(bargs)) {
                ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "%s: %s's args must be a JSON object of arguments",
                        o->function_data, bench);
                json_decref(given);
                rc = -1;
                break;
            }
            snprintf(pl->function, sizeof pl->function, "%s", bench);
            pl->mapped_warm_ms = pl->warm_exec_ms;
            entry = json_object();
            if (!ctx->quiet && o->repetition <= 1)
                fprintf(stderr, "Function mapped to benchmark code: %s -> %s (warm %.1f ms vs %.1f ms)\n", fn->name,
                        bench, pl->warm_exec_ms, fn->warm_ms);
            args = bargs ? json_deep_copy(bargs) : json_object();
        } else {
            pl->source = LG_FN_SYNTHETIC;
            snprintf(pl->image, sizeof pl->image, "%s", synthetic);
            snprintf(pl->function, sizeof pl->function, "synthetic");
            pl->cold_exec_ms = fn->cold_ms;
            pl->warm_exec_ms = fn->warm_ms;
            pl->mapped_warm_ms = fn->warm_ms; /* it sleeps what it is told */
            args = json_pack("{s:f, s:f}", "cold_ms", fn->cold_ms, "warm_ms", fn->warm_ms);
        }
        pl->ratio = warm_ratio(pl->mapped_warm_ms, fn->warm_ms);
        pl->distorted = ratio_beyond(pl->ratio, tol);
        if (bench && entry) { /* recorded with what it was measured to take */
            json_object_set_new(entry, "benchmark", json_string(bench));
            json_object_set_new(entry, "image_name", json_string(pl->image));
            json_object_set_new(entry, "benchmark_warm_ms", json_real(pl->mapped_warm_ms));
            json_object_set_new(entry, "trace_warm_ms", json_real(fn->warm_ms));
            json_object_set_new(entry, "ratio", isfinite(pl->ratio) ? json_real(pl->ratio) : json_null());
            json_object_set_new(entry, "distorted", json_boolean(pl->distorted));
        }
        /* the metadata's args (Ilúvatar's column) go with every call, over
         * the function's own (the synthetic function's times, a
         * benchmark's sizes) */
        if (!args || (given && json_object_update(args, given))) {
            json_decref(given);
            json_decref(args);
            json_decref(entry);
            ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
            rc = -1;
            break;
        }
        json_decref(given);
        if (entry) {
            if (json_object_size(args))
                json_object_set(entry, "args", args);
            json_object_set_new(mapping, fn->name, entry);
        }
        pl->prewarms = fn->prewarms >= 0 ? (unsigned)fn->prewarms : o->prewarm;
        /* a Python container needs ~20 MB of its own before the function allocates */
        pl->memory_mb = fn->mem_mb < 32 ? 32 : fn->mem_mb;
        pl->compute = fn->compute;
        pl->args_json = json_dumps(args, JSON_COMPACT);
        pl->args_json_len = pl->args_json ? strlen(pl->args_json) : 0;
        json_t *body = json_pack("{s:s, s:s, s:o}", "function_name", fn->name, "function_version", LG_TRACE_FN_VERSION,
                                 "json_args", args);
        pl->invoke_body = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        long idx = ilu_report_function(&ctx->report, fn->name, LG_TRACE_FN_VERSION);
        if (idx < 0 || !pl->invoke_body || !pl->args_json) {
            ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
            rc = -1;
        }
        pl->report_fn = (unsigned)idx;
    }
    if (json_object_size(mapping)) /* benchmark matches, and functions given by image_name */
        json_object_set_new(p->inputs, "function_mapping", mapping);
    else
        json_decref(mapping);
    json_decref(data);
    return rc ? rc : check_mapping(o, p, tol, err);
}

/* One field of a CSV row: as is, or quoted (RFC 4180) when it holds a
 * comma, a quote or a line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int lg_trace_plan_write_mapping(struct lg_ctx *ctx, const struct lg_trace_plan *p, struct ilu_error *err)
{
    FILE *f = lg_results_file_open(ctx, "mapping.csv", err);
    if (!f)
        return -1;
    fputs("trace_function,function,image_name,args,trace_warm_ms,mapped_warm_ms,ratio,source,distorted\n", f);
    for (size_t i = 0; i < p->trace.n_fns; i++) {
        const struct lg_fn_plan *pl = &p->fns[i];
        csv_field(f, pl->name);
        fputc(',', f);
        csv_field(f, pl->function);
        fputc(',', f);
        csv_field(f, pl->image);
        fputc(',', f);
        csv_field(f, pl->args_json);
        fprintf(f, ",%.3f,", p->trace.fns[i].warm_ms);
        if (!isnan(pl->mapped_warm_ms))
            fprintf(f, "%.3f", pl->mapped_warm_ms);
        fputc(',', f);
        if (!isnan(pl->ratio))
            fprintf(f, "%.6g", pl->ratio);
        fprintf(f, ",%s,%d\n", SOURCE_NAMES[pl->source], pl->distorted);
    }
    return lg_results_file_commit(ctx, "mapping.csv", f, err);
}

static int csv_line(void *ctx, char *line, size_t len, struct ilu_error *err)
{
    return ilu_trace_csv_line(ctx, line, len, err);
}

/* A trace or metadata CSV read line by line: no line longer than
 * ILU_TRACE_MAX_LINE is ever held in memory, whatever the file holds. */
static int read_csv(struct ilu_trace *t, enum ilu_trace_csv_kind kind, const char *path, struct ilu_error *err)
{
    struct ilu_trace_csv csv;
    if (ilu_trace_csv_begin(&csv, t, kind, path, err) || ilu_read_lines(path, ILU_TRACE_MAX_LINE, csv_line, &csv, err))
        return -1;
    return ilu_trace_csv_end(&csv, err);
}

/* What the inputs say about the trace once all of it was read. */
static int trace_read_fully(struct lg_ctx *ctx, const struct lg_trace_opts *o, struct lg_trace_plan *p,
                            struct ilu_error *err)
{
    if (!p->trace.rows_read) {
        ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "%s has no invocations", o->input);
        return -1;
    }
    for (size_t f = 0; f < p->trace.n_fns; f++)
        if (!p->trace.fns[f].invocations && !ctx->quiet)
            fprintf(stderr, "iluvatar_load_gen: note: %s in %s is never invoked by %s\n", p->trace.fns[f].name,
                    o->metadata, o->input);
    /* set in place: the keys keep their place in summary.json */
    json_object_set_new(p->inputs, "trace_invocations", json_integer((json_int_t)p->trace.rows_read));
    json_object_set_new(p->inputs, "trace_duration_ms", json_real(p->trace.last_time_ms));
    return 0;
}

int lg_trace_plan_load(struct lg_ctx *ctx, const struct lg_trace_opts *o, struct lg_trace_plan *p, int stream,
                       struct ilu_error *err)
{
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->opts = o;
    p->inputs = json_pack("{s:s, s:s, s:s, s:i}", "input", o->input, "metadata", o->metadata, "load_type", o->load_type,
                          "prewarm", (int)o->prewarm);
    if (read_csv(&p->trace, ILU_TRACE_CSV_METADATA, o->metadata, err))
        return -1;
    if (stream) {
        /* rows come later, a piece at a time (lg_trace_plan_peek) */
        if (ilu_line_reader_open(&p->reader, o->input, ILU_TRACE_MAX_LINE, err) ||
            ilu_trace_csv_begin(&p->csv, &p->trace, ILU_TRACE_CSV_EVENTS, o->input, err))
            return -1;
        p->streaming = 1;
        p->input_bytes = ilu_line_reader_size(&p->reader);
    } else if (read_csv(&p->trace, ILU_TRACE_CSV_EVENTS, o->input, err)) {
        return -1;
    }
    if (o->function_data)
        json_object_set_new(p->inputs, "function_data", json_string(o->function_data));
    json_object_set_new(p->inputs, "functions", json_integer((json_int_t)p->trace.n_fns));
    /* filled in when the trace has been read */
    json_object_set_new(p->inputs, "trace_invocations", json_null());
    json_object_set_new(p->inputs, "trace_duration_ms", json_null());
    if (!stream && trace_read_fully(ctx, o, p, err))
        return -1;
    if (!(p->fns = calloc(p->trace.n_fns, sizeof *p->fns))) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return -1;
    }
    return plan_functions(ctx, o, p, err);
}

/* Rows read per piece of a streamed trace. */
#define STREAM_PIECE 4096

const struct ilu_trace_event *lg_trace_plan_peek(struct lg_trace_plan *p, struct ilu_error *err)
{
    struct ilu_trace *t = &p->trace;
    if (p->cursor < t->n_events)
        return &t->events[p->cursor];
    if (!p->streaming || p->stream_done || p->stream_eof) {
        p->stream_done = 1; /* every row was taken */
        return NULL;
    }
    t->n_events = 0;
    p->cursor = 0;
    char *line;
    size_t len;
    int rc = 0;
    while (t->n_events < STREAM_PIECE && (rc = ilu_line_reader_next(&p->reader, &line, &len, err)) == 1)
        if (ilu_trace_csv_line(&p->csv, line, len, err)) {
            rc = -1;
            break;
        }
    if (rc == 0) { /* the end of the file */
        p->stream_eof = 1;
        ilu_line_reader_close(&p->reader);
        if (ilu_trace_csv_end(&p->csv, err) || trace_read_fully(p->ctx, p->opts, p, err))
            rc = -1;
    }
    if (rc < 0) {
        p->stream_failed = 1;
        p->stream_done = 1;
        return NULL;
    }
    if (!t->n_events) {
        p->stream_done = 1;
        return NULL;
    }
    return &t->events[0];
}

uint64_t lg_trace_plan_take(struct lg_trace_plan *p)
{
    p->cursor++;
    return p->taken++;
}

uint64_t lg_trace_plan_expected_rows(const struct lg_trace_plan *p)
{
    if (!p->streaming || p->stream_eof)
        return p->trace.rows_read;
    /* rows so far, scaled by the share of the file's bytes they took */
    uint64_t used = p->reader.consumed;
    return used && p->input_bytes > used
               ? (uint64_t)((double)p->trace.rows_read * (double)p->input_bytes / (double)used)
               : p->trace.rows_read;
}

void lg_trace_plan_free(struct lg_trace_plan *p)
{
    ilu_line_reader_close(&p->reader);
    for (size_t f = 0; p->fns && f < p->trace.n_fns; f++)
        free(p->fns[f].invoke_body), free(p->fns[f].args_json);
    free(p->fns);
    json_decref(p->inputs);
    ilu_trace_free(&p->trace);
    memset(p, 0, sizeof *p);
}

struct ilu_inv_record *lg_trace_record(struct lg_ctx *ctx, const struct lg_trace_plan *p, const char *tid_prefix,
                                       uint64_t row, const struct ilu_trace_event *ev, uint64_t *seq)
{
    struct ilu_inv_record *rec = ilu_report_add(&ctx->report, p->fns[ev->fn].report_fn, seq);
    if (!rec)
        return NULL;
    rec->scheduled_ms = ev->time_ms;
    /* "<prefix>-<row>", by hand: it runs once per invocation of simulations of millions */
    size_t len = strlen(tid_prefix);
    if (len > sizeof rec->tid - 22)
        len = sizeof rec->tid - 22;
    memcpy(rec->tid, tid_prefix, len);
    rec->tid[len++] = '-';
    *ilu_put_u64(rec->tid + len, row) = 0;
    return rec;
}

void lg_trace_print_summary(struct lg_ctx *ctx, json_t *summary)
{
    json_t *lat = json_object_get(summary, "latency_ms"), *late = json_object_get(summary, "lateness_ms");
    fprintf(stderr,
            "iluvatar_load_gen: %lld invocations, %lld errors, throughput %.1f/s, latency p50 %.3f p99 %.3f ms, "
            "lateness p99 %.3f ms; results in %s\n",
            json_integer_value(json_object_get(summary, "invocations")),
            json_integer_value(json_object_get(summary, "failures")),
            json_number_value(json_object_get(summary, "throughput_per_s")),
            json_number_value(json_object_get(lat, "p50")), json_number_value(json_object_get(lat, "p99")),
            json_number_value(json_object_get(late, "p99")), ctx->out_dir);
}

json_t *lg_trace_plan_functions_json(const struct lg_trace_plan *p, double default_start_ms)
{
    json_t *fns = json_object();
    for (size_t f = 0; f < p->trace.n_fns; f++) {
        const struct lg_fn_plan *pl = &p->fns[f];
        json_t *o =
            json_pack("{s:s, s:i, s:i, s:f, s:f}", "image_name", pl->image, "memory_mb", (int)pl->memory_mb, "prewarms",
                      (int)pl->prewarms, "cold_exec_ms", pl->cold_exec_ms, "warm_exec_ms", pl->warm_exec_ms);
        json_t *args = pl->args_json ? json_loadb(pl->args_json, pl->args_json_len, 0, NULL) : NULL;
        json_object_set_new(o, "args", args ? args : json_null());
        if (!isnan(default_start_ms))
            json_object_set_new(o, "container_start_ms", json_real(pl->start_ms > 0 ? pl->start_ms : default_start_ms));
        json_object_set_new(fns, pl->name, o);
    }
    return fns;
}
