#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/registration.h"
#include "loadgen.h"
#include "manifest.h"
#include "os/bg_writer.h"
#include "os/data_dir.h"
#include "os/clock.h"

extern char **environ;

static int mkdir_p(const char *path);

/* The report's rows, streamed to out_dir/.invocations.csv.tmp as the run
 * goes; lg_write_results renames it when the run is complete. */
static int csv_out(void *arg, const char *text, size_t len)
{
    struct lg_ctx *ctx = arg;
    struct ilu_error err = {0};
    if (!ctx->csv) {
        FILE *f = lg_results_file_open(ctx, "invocations.csv", &err);
        if (!f || !(ctx->csv = ilu_bg_writer_open(f))) {
            snprintf(ctx->csv_err, sizeof ctx->csv_err, "%s", f ? "out of memory for the results writer" : err.msg);
            return -1;
        }
    }
    if (ilu_bg_writer_write(ctx->csv, text, len)) {
        snprintf(ctx->csv_err, sizeof ctx->csv_err, "cannot write %s/.invocations.csv.tmp: %s", ctx->out_dir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

double lg_now_ms(const struct lg_ctx *ctx)
{
    return (double)(int64_t)(ilu_os_mono_ns() - ctx->start_ns) / 1e6;
}

void lg_start_clock(struct lg_ctx *ctx)
{
    ctx->start_ns = ilu_os_mono_ns();
}

int lg_ctx_init(struct lg_ctx *ctx, const char *host, uint16_t port, const char *out_dir)
{
    memset(ctx, 0, sizeof *ctx);
    snprintf(ctx->host, sizeof ctx->host, "%s", host);
    ctx->port = port;
    snprintf(ctx->out_dir, sizeof ctx->out_dir, "%s", out_dir);
    ctx->target = "worker";
    ctx->setup = "live";
    ctx->progress_tty = isatty(STDERR_FILENO);
    ilu_report_init(&ctx->report);
    ilu_report_set_output(&ctx->report, csv_out, ctx);
    /* functions/ and scripts/: shipped with the binaries (os/data_dir.h) */
    ilu_os_data_dir(ctx->repo_dir, sizeof ctx->repo_dir);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(ctx->tid_prefix, sizeof ctx->tid_prefix, "lg%lx%x", (unsigned long)ts.tv_sec, (unsigned)getpid());
    return 0;
}

void lg_ctx_free(struct lg_ctx *ctx)
{
    ilu_report_free(&ctx->report);
    json_decref(ctx->summary_extra);
    json_decref(ctx->manifest_extra);
    ctx->summary_extra = ctx->manifest_extra = NULL;
    if (ctx->csv) { /* a run that wrote no results leaves no half file */
        ilu_bg_writer_close(ctx->csv);
        lg_results_file_discard(ctx, "invocations.csv", NULL);
    }
    ctx->csv = NULL;
}

int lg_repo_path(const struct lg_ctx *ctx, const char *rel, char *out, size_t n)
{
    char joined[PATH_MAX * 2];
    snprintf(joined, sizeof joined, "%s/%s", ctx->repo_dir, rel);
    char resolved[PATH_MAX];
    if (!realpath(joined, resolved))
        return -1;
    snprintf(out, n, "%s", resolved);
    return 0;
}

/* err's status: the answer's HTTP status when it is an error status (so a
 * caller can tell a 409 apart), 502 for a success: false under 200, 503 when
 * nothing answered. */
static int answer_error(int status, json_t *answer, const char *what, struct ilu_error *err)
{
    if (status == 200 && !json_is_false(json_object_get(answer, "success")))
        return 0;
    const char *msg = json_string_value(json_object_get(answer, "error"));
    if (!status) /* err says why nothing answered */
        return ilu_err_wrap(err, "%s", what);
    return ilu_err(err, status >= 400 ? status : ILU_ST_BAD_GATEWAY,
                   json_string_value(json_object_get(answer, "error_kind")), "%s: HTTP %d: %s", what, status,
                   msg ? msg : "no error message");
}

/* One setup call: POST body (stolen; NULL: none) to path, then the answer
 * checked by answer_error with what naming the step. */
static int setup_call(struct lg_ctx *ctx, const char *path, json_t *body, const char *what, struct ilu_error *err)
{
    json_t *answer = NULL;
    int status = ilu_http_client_call(ctx->http, path, body, &answer, err);
    int rc = answer_error(status, answer, what, err);
    json_decref(body);
    json_decref(answer);
    return rc;
}

int lg_check_target(struct lg_ctx *ctx, struct ilu_error *err)
{
    char what[300];
    snprintf(what, sizeof what, "target %s:%u is unreachable", ctx->host, ctx->port);
    return setup_call(ctx, "/ping", NULL, what, err);
}

int lg_register(struct lg_ctx *ctx, const char *name, const char *version, const char *image, uint32_t memory_mb,
                uint32_t cpus, uint32_t compute, struct ilu_error *err)
{
    char what[200];
    snprintf(what, sizeof what, "registering %s-%s", name, version);
    json_t *body = json_pack("{s:s, s:s, s:s, s:i, s:i}", "function_name", name, "function_version", version,
                             "image_name", image, "memory", (int)memory_mb, "cpus", (int)cpus);
    if (body && compute)
        json_object_set_new(body, "compute", json_string(ilu_compute_name(compute)));
    return setup_call(ctx, "/register", body, what, err);
}

int lg_prewarm(struct lg_ctx *ctx, const char *name, const char *version, struct ilu_error *err)
{
    char what[200];
    snprintf(what, sizeof what, "prewarming %s-%s", name, version);
    return setup_call(ctx, "/prewarm", json_pack("{s:s, s:s}", "function_name", name, "function_version", version),
                      what, err);
}

int lg_clean(struct lg_ctx *ctx, struct ilu_error *err)
{
    return setup_call(ctx, "/clean", json_object(), "cleaning the worker's idle containers", err);
}

void lg_progress(struct lg_ctx *ctx, const char *what, uint64_t done, uint64_t total, uint64_t errors)
{
    static int last_decile = -1;
    if (ctx->quiet)
        return;
    double frac = total ? (double)done / (double)total : 0;
    if (ctx->progress_tty) {
        char bar[31];
        int filled = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r%s [%s] %5.1f%% %llu/%llu, %llu errors, %.1f s ", what, bar, frac * 100,
                (unsigned long long)done, (unsigned long long)total, (unsigned long long)errors,
                lg_now_ms(ctx) / 1000.0);
        fflush(stderr);
    } else {
        int decile = (int)(frac * 10);
        if (decile != last_decile) {
            last_decile = decile;
            fprintf(stderr, "%s: %3d%% %llu/%llu, %llu errors, %.1f s\n", what, decile * 10, (unsigned long long)done,
                    (unsigned long long)total, (unsigned long long)errors, lg_now_ms(ctx) / 1000.0);
        }
    }
}

void lg_progress_end(struct lg_ctx *ctx)
{
    if (ctx->progress_tty && !ctx->quiet)
        fputc('\n', stderr);
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

/* Write through dir/.name.tmp then rename, so a reader never sees half a file. */
static int atomic_write(const char *dir, const char *name, int (*fill)(FILE *f, void *arg), void *arg,
                        struct ilu_error *err)
{
    char tmp[PATH_MAX + 64], final[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(final, sizeof final, "%s/%s", dir, name);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    int rc = fill(f, arg);
    if (fclose(f) || rc) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, final)) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int fill_json(FILE *f, void *arg)
{
    return json_dumpf(arg, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) || fputc('\n', f) == EOF ? -1 : 0;
}

int lg_write_json_file(const char *dir, const char *name, json_t *doc, struct ilu_error *err)
{
    if (mkdir_p(dir)) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return atomic_write(dir, name, fill_json, doc, err);
}

/* The plots are a convenience: a failure is reported, not fatal. */
static void make_plots(struct lg_ctx *ctx)
{
    char script[PATH_MAX];
    if (lg_repo_path(ctx, "scripts/plot_results.py", script, sizeof script)) {
        fprintf(stderr, "iluvatar_load_gen: scripts/plot_results.py not found beside the binary; no plots\n");
        return;
    }
    char *argv[] = {"/usr/bin/python3", script, ctx->out_dir, NULL};
    pid_t pid;
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ)) {
        fprintf(stderr, "iluvatar_load_gen: cannot run %s: %s; no plots\n", argv[0], strerror(errno));
        return;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        fprintf(stderr, "iluvatar_load_gen: plotting failed (see above); the CSV and summary are complete\n");
}

FILE *lg_results_file_open(struct lg_ctx *ctx, const char *name, struct ilu_error *err)
{
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", ctx->out_dir, name);
    FILE *f = NULL;
    if (mkdir_p(ctx->out_dir) || !(f = fopen(tmp, "w")))
        ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot write %s: %s", tmp, strerror(errno));
    return f;
}

/* out_dir/.NAME.tmp renamed to NAME, unless failed (then removed). */
static int rename_into_place(struct lg_ctx *ctx, const char *name, int failed, struct ilu_error *err)
{
    char tmp[PATH_MAX + 64], final[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", ctx->out_dir, name);
    snprintf(final, sizeof final, "%s/%s", ctx->out_dir, name);
    if (failed || rename(tmp, final)) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot write %s: %s", final, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int lg_results_file_commit(struct lg_ctx *ctx, const char *name, FILE *f, struct ilu_error *err)
{
    int failed = ferror(f);
    failed |= fclose(f);
    return rename_into_place(ctx, name, failed, err);
}

void lg_results_file_discard(struct lg_ctx *ctx, const char *name, FILE *f)
{
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", ctx->out_dir, name);
    if (f)
        fclose(f);
    unlink(tmp);
}

/* The streamed CSV closed and put in place. */
static int finish_csv(struct lg_ctx *ctx, struct ilu_error *err)
{
    struct ilu_bg_writer *w = ctx->csv;
    if (!w) /* written by an earlier call: the rows are gone from memory */
        return ctx->csv_done ? 0
                             : ilu_err(err, ILU_ST_INTERNAL, NULL, "%s/invocations.csv was not written", ctx->out_dir);
    ctx->csv = NULL;
    ctx->csv_done = 1;
    return rename_into_place(ctx, "invocations.csv", ilu_bg_writer_close(w) != 0, err);
}

int lg_write_results(struct lg_ctx *ctx, const char *mode, json_t *inputs, json_t **summary_out, struct ilu_error *err)
{
    if (mkdir_p(ctx->out_dir)) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot create %s: %s", ctx->out_dir, strerror(errno));
        return -1;
    }
    if (ilu_report_finish(&ctx->report)) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "%s", ctx->csv_err[0] ? ctx->csv_err : "out of memory for the results");
        return -1;
    }
    if (finish_csv(ctx, err))
        return -1;
    json_t *summary = ilu_report_summary(&ctx->report, mode, ctx->target, ctx->setup, inputs);
    if (ctx->summary_extra)
        json_object_update(summary, ctx->summary_extra);
    if (strcmp(ctx->setup, "simulation")) { /* a simulation's results depend on its inputs only */
        time_t now = time(NULL);
        struct tm tm;
        char stamp[32];
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(summary, "finished_at", json_string(stamp));
    }
    int rc = lg_write_manifest(ctx, mode, inputs, err)
                 ? -1
                 : atomic_write(ctx->out_dir, "summary.json", fill_json, summary, err);
    if (!rc && !ctx->no_plots)
        make_plots(ctx);
    if (summary_out && !rc)
        *summary_out = summary;
    else
        json_decref(summary);
    return rc;
}
