#include "manifest.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "os/file.h"
#include "os/http_client.h"
#include "os/spawn.h"
#include "os/version.h"

/* keys of a run's inputs that name files whose bytes decide the results */
static const char *const FILE_KEYS[] = {"input",         "metadata",          "function_data",
                                        "worker_config", "controller_config", "function_file"};

/* {"path": absolute, "bytes", "sha256"}, or {"path", "error"} */
static json_t *file_entry(const char *path)
{
    char abs[PATH_MAX];
    if (!realpath(path, abs))
        return json_pack("{s:s, s:s}", "path", path, "error", strerror(errno));
    struct stat st;
    if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode))
        return json_pack("{s:s, s:s}", "path", abs, "error", "not a regular file");
    /* coreutils' sha256sum: no hash code of our own */
    char *const argv[] = {"/usr/bin/sha256sum", "--", abs, NULL};
    char *out = NULL;
    struct ilu_error e = {0};
    int status = ilu_os_run_sync(argv, &out, NULL, &e);
    json_t *entry = json_pack("{s:s, s:I}", "path", abs, "bytes", (json_int_t)st.st_size);
    if (status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status) && out && strlen(out) >= 64) {
        out[64] = '\0';
        json_object_set_new(entry, "sha256", json_string(out));
    } else {
        json_object_set_new(entry, "error", json_string(status < 0 ? e.msg : "sha256sum failed"));
    }
    free(out);
    return entry;
}

static json_t *input_files(json_t *inputs)
{
    json_t *files = json_object();
    for (size_t i = 0; i < sizeof FILE_KEYS / sizeof FILE_KEYS[0]; i++) {
        const char *path = json_string_value(json_object_get(inputs, FILE_KEYS[i]));
        if (path && path[0])
            json_object_set_new(files, FILE_KEYS[i], file_entry(path));
    }
    const char *cal = json_string_value(json_object_get(json_object_get(inputs, "simulation"), "calibration_file"));
    if (cal && cal[0])
        json_object_set_new(files, "calibration_file", file_entry(cal));
    return files;
}

/* The first line "KEY=value" of an os-release file, unquoted. */
static json_t *os_release(const char *key)
{
    FILE *f = fopen("/etc/os-release", "r");
    if (!f)
        return json_null();
    char line[512];
    size_t n = strlen(key);
    json_t *v = json_null();
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, n) || line[n] != '=')
            continue;
        char *s = line + n + 1;
        s[strcspn(s, "\n")] = '\0';
        size_t len = strlen(s);
        if (len >= 2 && (s[0] == '"' || s[0] == '\'') && s[len - 1] == s[0]) {
            s[len - 1] = '\0';
            s++;
        }
        v = json_string(s);
        break;
    }
    fclose(f);
    return v;
}

static json_t *host_info(void)
{
    struct utsname u;
    char name[256] = "";
    gethostname(name, sizeof name - 1);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    json_t *h = json_pack("{s:s, s:i, s:I}", "hostname", name, "cpus_online", (int)sysconf(_SC_NPROCESSORS_ONLN),
                          "memory_mb", (json_int_t)(pages > 0 && page > 0 ? (long long)pages * page / (1 << 20) : 0));
    if (uname(&u) == 0) {
        json_object_set_new(h, "kernel", json_sprintf("%s %s", u.release, u.version));
        json_object_set_new(h, "machine", json_string(u.machine));
    }
    json_object_set_new(h, "os", os_release("PRETTY_NAME"));
    return h;
}

/* A live target's GET path, or {"error": why}. */
static json_t *fetch(struct lg_ctx *ctx, const char *path)
{
    json_t *answer = NULL;
    struct ilu_error e = {0};
    int status = ilu_http_client_call(ctx->http, path, NULL, &answer, &e);
    if (status == 200 && answer)
        return answer;
    json_decref(answer);
    return status ? json_pack("{s:s, s:i}", "error", "GET answered", "status", status)
                  : json_pack("{s:s}", "error", e.msg);
}

static json_t *target_info(struct lg_ctx *ctx)
{
    json_t *t = json_pack("{s:s, s:s}", "kind", ctx->target, "setup", ctx->setup);
    if (strcmp(ctx->setup, "live"))
        return t;
    json_object_set_new(t, "host", json_string(ctx->host));
    json_object_set_new(t, "port", json_integer(ctx->port));
    if (!ctx->http) /* no client: nothing to ask */
        return t;
    json_object_set_new(t, "config", fetch(ctx, "/config"));
    if (!strcmp(ctx->target, "controller")) {
        json_t *ws = fetch(ctx, "/workers"), *list = json_array(), *w;
        size_t i;
        json_array_foreach(json_object_get(ws, "workers"), i, w)
        {
            json_t *status = json_object_get(w, "status");
            json_array_append_new(
                list, json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "name", json_object_get(w, "name"), "host",
                                json_object_get(w, "host"), "port", json_object_get(w, "port"), "cpus",
                                json_object_get(w, "cpus"), "memory_mb", json_object_get(w, "memory_mb"), "runtime",
                                json_object_get(status, "runtime")));
        }
        json_object_set_new(t, "workers", list);
        json_decref(ws);
    } else {
        json_t *st = fetch(ctx, "/status");
        json_object_set(t, "runtime", json_object_get(st, "runtime") ? json_object_get(st, "runtime") : json_null());
        json_decref(st);
    }
    return t;
}

int lg_write_manifest(struct lg_ctx *ctx, const char *mode, json_t *inputs, struct ilu_error *err)
{
    json_t *argv = json_array();
    for (int i = 0; i < ctx->argc; i++)
        json_array_append_new(argv, json_string(ctx->argv[i]));
    char cwd[PATH_MAX];
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s?, s:s, s:s}", "program", "iluvatar_load_gen", "version",
                          ilu_version(), "commit", ilu_commit(), "built", ilu_build_date(), "command_line", argv, "cwd",
                          getcwd(cwd, sizeof cwd), "mode", mode, "written_at", stamp);
    json_object_set_new(m, "host", host_info());
    json_object_set_new(m, "input_files", input_files(inputs));
    json_object_set_new(m, "target", target_info(ctx));
    if (ctx->manifest_extra)
        json_object_update(m, ctx->manifest_extra);
    int rc = lg_write_json_file(ctx->out_dir, "run.json", m, err);
    json_decref(m);
    return rc;
}
