/* `benchmark`: measure every function folder of --functions-dir, as
 * Ilúvatar's benchmark.rs. Per function (subfolders with main.py, sorted by
 * name, the platform's test functions left out unless asked for) and cold
 * iteration i = 1..cold_iters: register "<name>-bench-<i>" version "1" (a
 * new name, so its first invocation starts a container) and invoke it
 * warm_iters + 1 times in sequence with {} (or a --function-file row's
 * args). Writes Ilúvatar's BenchmarkStore as worker_function_benchmarks.json
 * (docs/load_gen.md), keyed by folder name, plus the usual invocations.csv /
 * summary.json. */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loadgen.h"
#include "os/file.h"
#include "trace/trace.h"

#define BENCH_VERSION "1"

struct pending {
    int done;
    double end_ms;
    int status;
    json_t *answer;
    char transport[200];
    const struct lg_ctx *ctx;
};

static void on_answer(void *arg, int status, json_t *answer, const char *transport_error)
{
    struct pending *p = arg;
    p->end_ms = lg_now_ms(p->ctx);
    p->done = 1;
    p->status = status;
    p->answer = json_incref(answer);
    snprintf(p->transport, sizeof p->transport, "%s", transport_error ? transport_error : "");
}

/* One function's BenchmarkData (resource_data.CPU): the arrays in the
 * order of KEYS, cold then warm of each measure. */
enum { RESULTS_SEC, OVER_US, WORKER_US, INVOKE_US, N_MEASURES };
static const char *const KEYS[N_MEASURES][2] = {
    {"cold_results_sec", "warm_results_sec"},
    {"cold_over_results_us", "warm_over_results_us"},
    {"cold_worker_duration_us", "warm_worker_duration_us"},
    {"cold_invoke_duration_us", "warm_invoke_duration_us"},
};

struct series {
    json_t *a[N_MEASURES][2]; /* [measure][0 cold, 1 warm] */
};

static void series_init(struct series *s)
{
    for (int m = 0; m < N_MEASURES; m++)
        for (int w = 0; w < 2; w++)
            s->a[m][w] = json_array();
}

static void series_free(struct series *s)
{
    for (int m = 0; m < N_MEASURES; m++)
        for (int w = 0; w < 2; w++)
            json_decref(s->a[m][w]);
}

static json_t *series_json(const struct series *s)
{
    json_t *o = json_object();
    for (int w = 0; w < 2; w++) /* cold_* first, as Ilúvatar's struct */
        for (int m = 0; m < N_MEASURES; m++)
            json_object_set(o, KEYS[m][w], s->a[m][w]);
    return o;
}

/* Median (nearest rank) of arr's numbers times scale. */
static double array_median(json_t *arr, double scale)
{
    size_t n = json_array_size(arr);
    if (!n)
        return NAN;
    double *v = malloc(n * sizeof *v);
    if (!v)
        return NAN;
    for (size_t i = 0; i < n; i++)
        v[i] = json_number_value(json_array_get(arr, i)) * scale;
    json_t *d = ilu_distribution_json(v, n);
    double m = json_number_value(json_object_get(d, "p50"));
    json_decref(d);
    free(v);
    return m;
}

/* One invocation, sent and awaited; recorded in the report. Returns 0 when
 * it was answered (successfully or not), -1 when the run was interrupted. */
static int invoke_once(struct lg_ctx *ctx, unsigned fn, const char *body, uint64_t seq, struct pending *p,
                       uint64_t *rec_seq)
{
    struct ilu_inv_record *rec = ilu_report_add(&ctx->report, fn, rec_seq);
    if (!rec)
        return -1;
    snprintf(rec->tid, sizeof rec->tid, "%s-b%llu", ctx->tid_prefix, (unsigned long long)seq);
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    rec->send_ms = lg_now_ms(ctx);
    if (ilu_http_client_request(ctx->http, "/invoke", body, strlen(body), rec->tid, on_answer, p))
        return -1;
    while (!p->done) {
        if (event_base_loop(ctx->base, EVLOOP_ONCE) < 0 || (event_base_got_break(ctx->base) && !p->done))
            return -1; /* SIGINT: the request stays pending; the connection is freed at exit */
    }
    rec = ilu_report_get(&ctx->report, *rec_seq);
    rec->end_ms = p->end_ms;
    ilu_report_fill_from_answer(rec, p->status, p->answer);
    if (!p->status) {
        free(rec->error);
        rec->error = strdup(p->transport[0] ? p->transport : "no answer");
    }
    return 0;
}

struct fn_result {
    unsigned invocations, failures, not_cold_first;
    int not_registered;
    char first_error[300];
};

/* All iterations of one function folder. Returns -1 only when interrupted or
 * out of memory; failures of the function are counted in *res. */
static int bench_function(struct lg_ctx *ctx, const struct lg_benchmark_opts *o, const char *name, const char *image,
                          json_t *args, struct series *s, struct fn_result *res, uint64_t *seq)
{
    char fname[300];
    struct ilu_error err = {0};
    for (unsigned i = 1; i <= o->cold_iters; i++) {
        snprintf(fname, sizeof fname, "%s-bench-%u", name, i);
        int rc = lg_register(ctx, fname, BENCH_VERSION, image, o->memory_mb, 1, 0, &err);
        if (rc && err.status == ILU_ST_CONFLICT) {
            /* the name is taken on this worker by another folder or memory
             * size (an earlier run): use a name of this run instead */
            char taken[300];
            snprintf(taken, sizeof taken, "%s", fname);
            snprintf(fname, sizeof fname, "%s-bench-%u-%s", name, i, ctx->tid_prefix);
            if (!ctx->quiet)
                fprintf(stderr, "iluvatar_load_gen: note: %s-%s is registered differently on the worker; using %s\n",
                        taken, BENCH_VERSION, fname);
            rc = lg_register(ctx, fname, BENCH_VERSION, image, o->memory_mb, 1, 0, &err);
        }
        if (rc) {
            res->not_registered = 1;
            if (!res->first_error[0])
                snprintf(res->first_error, sizeof res->first_error, "%s", err.msg);
            return 0; /* the same registration would fail for every iteration */
        }
        long fn = ilu_report_function(&ctx->report, fname, BENCH_VERSION);
        json_t *bj =
            json_pack("{s:s, s:s, s:O}", "function_name", fname, "function_version", BENCH_VERSION, "json_args", args);
        char *body = bj ? json_dumps(bj, JSON_COMPACT) : NULL;
        json_decref(bj);
        if (fn < 0 || !body) {
            free(body);
            return -1;
        }
        for (unsigned k = 0; k <= o->warm_iters; k++) {
            struct pending p;
            uint64_t ri;
            if (invoke_once(ctx, (unsigned)fn, body, (*seq)++, &p, &ri)) {
                json_decref(p.answer);
                free(body);
                return -1;
            }
            const struct ilu_inv_record *rec = ilu_report_get(&ctx->report, ri);
            res->invocations++;
            if (!rec->success) {
                res->failures++;
                if (!res->first_error[0])
                    snprintf(res->first_error, sizeof res->first_error, "%s-%s: %s%s%s", fname, BENCH_VERSION,
                             rec->error_kind, rec->error ? ": " : "", rec->error ? rec->error : "");
                json_decref(p.answer);
                ilu_report_complete(&ctx->report, ri); /* output errors: lg_write_results says */
                if (!p.status) {                       /* no answer at all: the worker is gone or stuck */
                    free(body);
                    return 0;
                }
                continue;
            }
            int cold = rec->state == ILU_START_COLD;
            if (k == 0 && !cold) {
                res->not_cold_first++;
                if (!ctx->quiet)
                    fprintf(stderr, "iluvatar_load_gen: note: first invocation of %s-%s was %s, not cold\n", fname,
                            BENCH_VERSION, ilu_start_kind_name(rec->state));
            }
            /* filed by what the worker says it was: cold, or warm/prewarm */
            int w = cold ? 0 : 1;
            double invoke_us = (rec->end_ms - rec->send_ms) * 1000.0;
            double exec_us = isnan(rec->exec_ms) ? NAN : rec->exec_ms * 1000.0;
            json_t *dur = json_object_get(p.answer, "duration_us");
            if (!isnan(exec_us)) {
                json_array_append_new(s->a[RESULTS_SEC][w], json_real(exec_us / 1e6));
                json_array_append_new(s->a[OVER_US][w], json_real(invoke_us - exec_us));
            }
            if (json_is_number(dur))
                json_array_append_new(s->a[WORKER_US][w], json_real(json_number_value(dur)));
            json_array_append_new(s->a[INVOKE_US][w], json_real(invoke_us));
            json_decref(p.answer);
            ilu_report_complete(&ctx->report, ri);
        }
        free(body);
    }
    return 0;
}

static int has_file(const char *dir, const char *name)
{
    char path[PATH_MAX + 16];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return !stat(path, &st) && S_ISREG(st.st_mode);
}

/* Ilúvatar's --function-file: a CSV whose header names the columns name and
 * image_name, and optionally args (Ilúvatar's k=v;k=v, sent with every
 * call: the sizes a function is benchmarked at; others, e.g. compute or
 * memory, are ignored); one function a row, read line by line
 * (ilu_read_lines). */
struct function_file {
    const char *path;
    size_t line_no, n, cap;
    int col_name, col_image, col_args; /* -1 until the header (args: or absent) */
    char **names, **images;            /* n strdup'ed strings each */
    char **args;                       /* n compact JSON objects (strdup'ed), NULL where none */
};

static int function_file_line(void *arg, char *line, size_t len, struct ilu_error *err)
{
    struct function_file *ff = arg;
    ff->line_no++;
    char *f[32];
    int nf = ilu_csv_split(line, f, 32);
    if (nf == 1 && !f[0][0])
        return 0;
    if (nf < 0)
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "%s:%zu: more than 32 columns", ff->path, ff->line_no);
    if (ff->col_name < 0) { /* the header */
        for (int i = 0; i < nf; i++) {
            if (!strcmp(f[i], "name"))
                ff->col_name = i;
            if (!strcmp(f[i], "image_name"))
                ff->col_image = i;
            if (!strcmp(f[i], "args"))
                ff->col_args = i;
        }
        if (ff->col_name < 0 || ff->col_image < 0)
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "%s:%zu: the header needs the columns name and image_name",
                           ff->path, ff->line_no);
        return 0;
    }
    if (ff->col_name >= nf || ff->col_image >= nf || !f[ff->col_name][0] || !f[ff->col_image][0])
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "%s:%zu: a row needs a name and an image_name", ff->path,
                       ff->line_no);
    for (size_t i = 0; i < ff->n; i++) /* one entry per name in worker_function_benchmarks.json */
        if (!strcmp(ff->names[i], f[ff->col_name]))
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "%s:%zu: the name %s appears twice", ff->path, ff->line_no,
                           f[ff->col_name]);
    char *args = NULL;
    const char *text = ff->col_args >= 0 && ff->col_args < nf ? f[ff->col_args] : "";
    if (*text && ilu_trace_args_parse(text, &args, ff->path, ff->line_no, err))
        return -1;
    if (ff->n == ff->cap) {
        size_t cap = ff->cap ? ff->cap * 2 : 16;
        char **nn = realloc(ff->names, cap * sizeof *nn);
        if (nn)
            ff->names = nn;
        char **ni = nn ? realloc(ff->images, cap * sizeof *ni) : NULL;
        if (ni)
            ff->images = ni;
        char **na = ni ? realloc(ff->args, cap * sizeof *na) : NULL;
        if (na)
            ff->args = na;
        if (!nn || !ni || !na) {
            free(args);
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        }
        ff->cap = cap;
    }
    ff->names[ff->n] = strdup(f[ff->col_name]);
    ff->images[ff->n] = strdup(f[ff->col_image]);
    ff->args[ff->n] = args;
    ff->n++;
    return 0;
}

static int read_function_file(const char *path, char ***names, char ***images, char ***args, size_t *n,
                              struct ilu_error *err)
{
    struct function_file ff = {.path = path, .col_name = -1, .col_image = -1, .col_args = -1};
    int rc = ilu_read_lines(path, ILU_TRACE_MAX_LINE, function_file_line, &ff, err);
    if (!rc && ff.col_name < 0)
        rc = ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "%s: empty (no header)", path);
    *names = ff.names;
    *images = ff.images;
    *args = ff.args;
    *n = ff.n;
    return rc;
}

/* The platform's own test functions among the bundled ones. Benchmarked,
 * they become --function-data mapping targets whose times say nothing of a
 * trace's code: sleep's fixed 50 ms stood in for trace functions of 66 ms
 * to 5.4 s. Their main.py docstrings say what they are. */
static const struct {
    const char *name, *why;
} TEST_FUNCTIONS[] = {
    {"hello", "a platform test function: it greets and returns (about 1 us of work), a mapping target for nothing"},
    {"sleep", "a platform baseline: it sleeps a fixed 50 ms and burns no CPU, a trace's code it is not"},
    {"synthetic", "the trace stand-in: with no arguments it does nothing (trace mode gives it cold_ms/warm_ms)"},
    {"gpu_synthetic",
     "the GPU trace stand-in: it needs a GPU (compute GPU) and spins a kernel for the time it is given"},
};

static const char *test_function(const char *name)
{
    for (size_t i = 0; i < sizeof TEST_FUNCTIONS / sizeof TEST_FUNCTIONS[0]; i++)
        if (!strcmp(TEST_FUNCTIONS[i].name, name))
            return TEST_FUNCTIONS[i].why;
    return NULL;
}

/* The function folders of dir (sorted by name) into *names (n of them);
 * those skipped are in skipped, name -> why, and said on stderr. 0, or the
 * exit code after a message. */
static int scan_folders(const struct lg_benchmark_opts *o, const char *dir, char *root, char ***names_out,
                        size_t *n_out, json_t *skipped)
{
    struct stat st;
    if (!realpath(dir, root) || stat(root, &st) || !S_ISDIR(st.st_mode)) {
        int e = errno;
        fprintf(stderr, "iluvatar_load_gen: benchmark: --functions-dir %s: %s\n", dir,
                root[0] && !stat(root, &st) && !S_ISDIR(st.st_mode) ? "not a directory" : strerror(e));
        return 64;
    }
    struct dirent **ents = NULL;
    int n_ents = scandir(root, &ents, NULL, alphasort);
    if (n_ents < 0) {
        fprintf(stderr, "iluvatar_load_gen: benchmark: cannot list %s: %s\n", root, strerror(errno));
        return 1;
    }
    char **names = calloc((size_t)n_ents + 1, sizeof *names);
    size_t n_fns = 0;
    for (int i = 0; i < n_ents; i++) {
        const char *e = ents[i]->d_name;
        char path[PATH_MAX * 2];
        snprintf(path, sizeof path, "%s/%s", root, e);
        if (e[0] != '.' && !stat(path, &st) && S_ISDIR(st.st_mode)) {
            /* a folder listing Debian packages runs only as an image
             * (tools/images/build.sh): as a folder its imports would fail */
            const char *why = !has_file(path, "main.py") ? "no main.py"
                              : has_file(path, "packages.txt")
                                  ? "it needs packages (packages.txt): build an image of it"
                                  : NULL;
            const char *test = why || o->include_test_functions ? NULL : test_function(e);
            if (!why && !test) {
                if (names)
                    names[n_fns++] = strdup(e);
            } else {
                json_object_set_new(skipped, e, json_string(why ? why : test));
                fprintf(stderr, "iluvatar_load_gen: note: skipping %s: %s%s\n", path, why ? why : test,
                        test ? "; --include-test-functions benchmarks it" : "");
            }
        }
        free(ents[i]);
    }
    free(ents);
    *names_out = names;
    *n_out = n_fns;
    return 0;
}

int lg_run_benchmark(struct lg_ctx *ctx, const struct lg_benchmark_opts *o)
{
    if (!o->functions_dir == !o->function_file) {
        fprintf(stderr, "iluvatar_load_gen: benchmark needs --functions-dir DIR (a folder of function folders, "
                        "each with main.py) or --function-file CSV (columns name,image_name), one of them\n");
        return 64;
    }
    if (!o->cold_iters) {
        fprintf(stderr, "iluvatar_load_gen: benchmark: --cold-iters must be at least 1\n");
        return 64;
    }
    if (!o->memory_mb) {
        fprintf(stderr, "iluvatar_load_gen: benchmark: --memory must be positive\n");
        return 64;
    }
    if (o->include_test_functions && o->function_file) {
        fprintf(stderr, "iluvatar_load_gen: benchmark: --include-test-functions is for --functions-dir; a "
                        "--function-file benchmarks every function it lists\n");
        return 64;
    }
    char root[PATH_MAX] = "";
    char **names = NULL, **images = NULL; /* images: from a function file; else <root>/<name> */
    char **args = NULL;                   /* a function file's args column, NULL where none */
    size_t n_fns = 0;
    json_t *skipped = json_object();
    if (o->function_file) {
        struct ilu_error ferr = {0};
        if (read_function_file(o->function_file, &names, &images, &args, &n_fns, &ferr)) {
            fprintf(stderr, "iluvatar_load_gen: benchmark: %s\n", ferr.msg);
            for (size_t f = 0; f < n_fns; f++)
                free(names[f]), free(images[f]), free(args[f]);
            free(names);
            free(images);
            free(args);
            json_decref(skipped);
            return 64;
        }
    } else {
        int rc = scan_folders(o, o->functions_dir, root, &names, &n_fns, skipped);
        if (rc) {
            json_decref(skipped);
            return rc;
        }
    }
    int code = 1;
    struct ilu_error err = {0};
    json_t *store = json_object(), *failed = json_object(), *done = json_array();
    json_t *inputs = json_pack("{s:s, s:i, s:i, s:i}", o->function_file ? "function_file" : "functions_dir",
                               o->function_file ? o->function_file : root, "cold_iters", (int)o->cold_iters,
                               "warm_iters", (int)o->warm_iters, "memory_mb", (int)o->memory_mb);
    if (!n_fns) {
        ilu_err(&err, ILU_ST_BAD_REQUEST, NULL, "%s%s%s",
                o->function_file ? "no functions in " : "no function folders in ",
                o->function_file ? o->function_file : root,
                o->function_file ? "" : " (a function folder is a subfolder with main.py)");
        goto out;
    }
    if (!names || !store || !failed || !done || !inputs) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory");
        goto out;
    }
    if (lg_check_target(ctx, &err))
        goto out;
    lg_start_clock(ctx);
    /* a previous run's idle "<name>-bench-<i>" containers would make the
     * first invocations warm */
    struct ilu_error cerr = {0};
    if (lg_clean(ctx, &cerr) && !ctx->quiet)
        fprintf(stderr, "iluvatar_load_gen: note: %s\n", cerr.msg);
    uint64_t seq = 0, errors = 0;
    for (size_t f = 0; f < n_fns; f++) {
        char image[PATH_MAX * 2];
        snprintf(image, sizeof image, "%s", images ? images[f] : "");
        if (!images)
            snprintf(image, sizeof image, "%s/%s", root, names[f]);
        json_t *fargs = args && args[f] ? json_loads(args[f], 0, NULL) : json_object();
        if (!fargs) {
            ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory");
            goto out;
        }
        struct series s;
        series_init(&s);
        struct fn_result res = {0};
        int rc = bench_function(ctx, o, names[f], image, fargs, &s, &res, &seq);
        errors += res.failures;
        if (!ctx->quiet) {
            char line[600];
            int len = snprintf(line, sizeof line, "iluvatar_load_gen: %s: %u invocations, %u failed", names[f],
                               res.invocations, res.failures);
            for (int w = 0; w < 2; w++)
                if (json_array_size(s.a[INVOKE_US][w]) && len < (int)sizeof line)
                    len +=
                        snprintf(line + len, sizeof line - (size_t)len, "; %s %zu, median %.3f ms (function %.3f ms)",
                                 w ? "warm" : "cold", json_array_size(s.a[INVOKE_US][w]),
                                 array_median(s.a[INVOKE_US][w], 1e-3), array_median(s.a[RESULTS_SEC][w], 1e3));
            fprintf(stderr, "%s%s\n", line, res.not_registered ? "; registration failed" : "");
            lg_progress(ctx, "benchmark functions", f + 1, n_fns, errors);
        }
        if (json_array_size(s.a[RESULTS_SEC][0]) + json_array_size(s.a[RESULTS_SEC][1])) {
            json_t *entry = json_pack("{s:s, s:s}", "function_name", names[f], "image_name", image);
            if (json_object_size(fargs)) /* what it was measured with: trace mode sends the same */
                json_object_set(entry, "args", fargs);
            json_object_set_new(entry, "resource_data", json_pack("{s:o}", "CPU", series_json(&s)));
            json_object_set_new(store, names[f], entry);
            json_array_append_new(done, json_string(names[f]));
        }
        json_decref(fargs);
        series_free(&s);
        errors += res.not_registered;
        if (res.failures || res.not_registered)
            json_object_set_new(failed, names[f],
                                json_pack("{s:i, s:i, s:b, s:s}", "invocations", (int)res.invocations, "failures",
                                          (int)res.failures, "registration_failed", res.not_registered, "first_error",
                                          res.first_error));
        if (rc) {
            ilu_err(&err, ILU_ST_INTERNAL, NULL, "interrupted while benchmarking %s; no results written", names[f]);
            goto out;
        }
        if (lg_clean(ctx, &cerr) && !ctx->quiet)
            fprintf(stderr, "iluvatar_load_gen: note: %s\n", cerr.msg);
    }
    lg_progress_end(ctx);
    json_object_set(inputs, "functions", done);
    json_object_set(inputs, "failed", failed);
    json_object_set(inputs, "skipped", skipped);
    if (o->functions_dir)
        json_object_set_new(inputs, "include_test_functions", json_boolean(o->include_test_functions));
    if (lg_write_json_file(ctx->out_dir, "worker_function_benchmarks.json", store, &err))
        goto out;
    json_t *summary = NULL;
    if (lg_write_results(ctx, "benchmark", inputs, &summary, &err))
        goto out;
    json_decref(summary);
    const char *key;
    json_t *v;
    json_object_foreach(failed, key, v)
    {
        if (json_is_true(json_object_get(v, "registration_failed")) &&
            !json_integer_value(json_object_get(v, "invocations")))
            fprintf(stderr, "iluvatar_load_gen: benchmark: %s: not benchmarked: %s\n", key,
                    json_string_value(json_object_get(v, "first_error")));
        else
            fprintf(stderr, "iluvatar_load_gen: benchmark: %s: %d of %d invocations failed; first: %s\n", key,
                    (int)json_integer_value(json_object_get(v, "failures")),
                    (int)json_integer_value(json_object_get(v, "invocations")),
                    json_string_value(json_object_get(v, "first_error")));
    }
    fprintf(
        stderr, "iluvatar_load_gen: benchmarked %zu of %zu functions (%zu invocations, %llu failures); results in %s\n",
        json_array_size(done), n_fns, (size_t)ilu_report_count(&ctx->report), (unsigned long long)errors, ctx->out_dir);
    if (!json_array_size(done))
        ilu_err(&err, ILU_ST_BAD_GATEWAY, NULL, "no function produced data (see %s/invocations.csv)", ctx->out_dir);
    else
        code = 0;
out:
    if (code)
        fprintf(stderr, "iluvatar_load_gen: benchmark: %s\n", err.msg);
    for (size_t f = 0; names && f < n_fns; f++)
        free(names[f]);
    for (size_t f = 0; images && f < n_fns; f++)
        free(images[f]), free(args[f]);
    free(names);
    free(images);
    free(args);
    json_decref(store);
    json_decref(failed);
    json_decref(done);
    json_decref(skipped);
    json_decref(inputs);
    return code;
}
