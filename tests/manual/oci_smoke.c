/* Manual smoke test of the oci backend against the real runtime. Run as root.
 *
 * Build (from /work/main; add -fsanitize=address,undefined -O1 for a sanitizer run):
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Isrc -D_GNU_SOURCE \
 *       tests/manual/oci_smoke.c build/libiluvatar_live.a build/libiluvatar_core.a \
 *       -o build/oci_smoke -levent -ljansson -lm
 *   (make build/libiluvatar_core.a first)
 * Run: sudo build/oci_smoke [runtime: auto|crun|runc]
 *
 * It uses its own state dir and cgroup parent so it never touches a worker
 * running on the same host. Exit code 0 when every check passed. */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "backend/oci/oci.h"
#include "os/spawn.h"
#include "backend/oci/oci_int.h" /* only to find the init pid for the kill test */
#include "backend/registry.h"
#include "core/config.h"
#include "core/types.h"

#define STATE    "/run/iluvatar-smoke"
#define CGPARENT "iluvatar-smoke"

static struct event_base *base;
static int failures;

struct probe {
    bool ready_seen, done_seen, died_seen;
    struct ilu_error ready_err;
    int status;
    char error[480];
    char *body;
    uint64_t rt_us;
    char died[480];
    uint64_t t0_ns, ready_ns;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void check(bool ok, const char *what)
{
    printf("%s %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok)
        failures++;
}

/* ---- env / log ---- */
static uint64_t env_wall(void *ctx)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}
static void env_log(void *ctx, int level, const char *line)
{
    fprintf(stderr, "%s\n", line);
}

/* ---- backend events ---- */
static void on_ready(void *ctx, struct ilu_container *c, const struct ilu_error *err)
{
    struct probe *p = (struct probe *)(uintptr_t)c->last_used_us; /* the test keeps its probe here */
    p->ready_seen = true;
    p->ready_ns = now_ns();
    if (err)
        p->ready_err = *err;
    event_base_loopbreak(base);
}
static void on_done(void *ctx, struct ilu_container *c, const struct ilu_agent_reply *r)
{
    struct probe *p = (struct probe *)(uintptr_t)c->last_used_us;
    p->done_seen = true;
    p->status = r->status;
    snprintf(p->error, sizeof p->error, "%s", r->error);
    free(p->body);
    p->body = r->status == 0 ? strndup(r->body, r->body_len) : NULL;
    p->rt_us = r->round_trip_us;
    event_base_loopbreak(base);
}
static void on_died(void *ctx, struct ilu_container *c, const char *reason)
{
    struct probe *p = (struct probe *)(uintptr_t)c->last_used_us;
    p->died_seen = true;
    snprintf(p->died, sizeof p->died, "%s", reason);
    event_base_loopbreak(base);
}

static void on_timeout(evutil_socket_t fd, short w, void *arg)
{
    *(bool *)arg = true;
    event_base_loopbreak(base);
}

/* Run the loop until *flag or timeout_ms. */
static bool run_until(bool *flag, int timeout_ms)
{
    bool timed_out = false;
    struct event *t = evtimer_new(base, on_timeout, &timed_out);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(t, &tv);
    while (!*flag && !timed_out)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    return *flag;
}

static void sleep_loop(int ms)
{
    bool never = false;
    run_until(&never, ms);
}

/* ---- fixtures ---- */
static struct ilu_function *fn_new(const char *name, const char *image, uint32_t mem)
{
    struct ilu_function *f = calloc(1, sizeof *f);
    f->name = strdup(name);
    f->version = strdup("1");
    f->fqdn = malloc(strlen(name) + 3);
    sprintf(f->fqdn, "%s-1", name);
    f->image = strdup(image);
    f->memory_mb = mem;
    f->cpus = 1;
    return f;
}
static void fn_free(struct ilu_function *f)
{
    free(f->name);
    free(f->version);
    free(f->fqdn);
    free(f->image);
    free(f);
}
static struct ilu_container *ct_new(struct ilu_function *f, const char *id, struct probe *p)
{
    struct ilu_container *c = calloc(1, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    c->fn = f;
    c->memory_mb = f->memory_mb;
    c->cpus = f->cpus;
    c->last_used_us = (uint64_t)(uintptr_t)p;
    return c;
}

static char *make_fn_dir(const char *body)
{
    char tmpl[] = "/tmp/ilu-smoke-fn-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir)
        return NULL;
    chmod(dir, 0755);
    char path[128];
    snprintf(path, sizeof path, "%s/main.py", dir);
    FILE *f = fopen(path, "w");
    fputs(body, f);
    fclose(f);
    return strdup(dir);
}
static void rm_fn_dir(char *dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/main.py", dir);
    unlink(path);
    rmdir(dir);
    free(dir);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool create_wait(struct ilu_backend *b, struct ilu_container *c, struct probe *p)
{
    struct ilu_error err = {0};
    memset(p, 0, sizeof *p);
    p->t0_ns = now_ns();
    if (b->ops->create(b, c, "smoke-create", &err) != 0) {
        printf("create %s failed: %s\n", c->id, err.msg);
        return false;
    }
    if (!run_until(&p->ready_seen, 20000)) {
        printf("create %s: no ready within 20 s\n", c->id);
        return false;
    }
    return true;
}

static bool invoke_wait(struct ilu_backend *b, struct ilu_container *c, struct probe *p, const char *args)
{
    struct ilu_error err = {0};
    p->done_seen = false;
    if (b->ops->invoke(b, c, "smoke-invoke", args, strlen(args), &err) != 0) {
        printf("invoke %s failed: %s\n", c->id, err.msg);
        return false;
    }
    return run_until(&p->done_seen, 20000);
}

static bool file_has(const char *path, const char *want)
{
    FILE *f = fopen(path, "r");
    char buf[128] = "";
    if (!f)
        return false;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    printf("     %s = %s\n", path, buf);
    return strcmp(buf, want) == 0;
}

static bool path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static bool dir_empty(const char *p)
{
    DIR *d = opendir(p);
    if (!d)
        return true;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n == 0;
}

/* Wait for a background delete to finish (its bundle dir gone); NULL: all. */
static void wait_teardown(const char *id)
{
    char dir[160];
    snprintf(dir, sizeof dir, STATE "/containers/%s", id ? id : "");
    for (int i = 0; i < 1000 && (id ? path_exists(dir) : !dir_empty(dir)); i++)
        sleep_loop(5);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    struct ilu_env env = {.wall_us = env_wall, .log_write = env_log};
    struct ilu_log log = {.env = &env, .min_level = ILU_LOG_INFO};
    struct ilu_worker_config cfg;
    struct ilu_error err = {0};
    ilu_config_defaults(&cfg);
    /* the oci section belongs to the backend: attached, then set as a worker
     * config file would */
    ilu_cleanup_backend_configs struct ilu_backend_configs *sections = ilu_backend_configs_attach(&cfg, &err);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"functions_dirs\": \"/work/main/functions:/work/main/tests/e2e/functions:/tmp\", \"oci\": "
             "{\"state_dir\": \"%s\", \"rootfs_dir\": \"%s/rootfs\", \"cgroup_parent\": \"%s\","
             " \"agent_path\": \"/work/main/agent/agent.py\", \"runtime\": \"%s\"}}",
             STATE, STATE, CGPARENT, argc > 1 ? argv[1] : "auto");
    if (!sections || ilu_config_apply_json(&cfg, json, "oci_smoke", &err)) {
        printf("FAIL config: %s\n", err.msg);
        return 1;
    }
    struct ilu_reaper *reaper = ilu_reaper_new(base, &err);
    if (!reaper) {
        printf("FAIL reaper: %s\n", err.msg);
        return 1;
    }
    struct ilu_backend_host host = {.base = base, .reaper = reaper};

    check(ilu_backend_create("nope", &host, &cfg, sections, &log, &err) == NULL && err.status == 404,
          "unknown backend name gives 404");
    uint64_t t = now_ns();
    struct ilu_backend *b = ilu_backend_create("oci", &host, &cfg, sections, &log, &err);
    if (!b) {
        printf("FAIL backend: %s\n", err.msg);
        return 1;
    }
    printf("backend up in %.1f ms, runtime %s\n", (double)(now_ns() - t) / 1e6, ilu_oci_runtime_name(b));
    b->events = (struct ilu_backend_events){.ctx = NULL, .ready = on_ready, .invoke_done = on_done, .died = on_died};

    check(b->ops->check_image(b, "relative/path", &err) != 0 && err.status == 400, "check_image: relative path");
    check(b->ops->check_image(b, "/tmp", &err) != 0 && err.status == 400, "check_image: no main.py");
    check(b->ops->check_image(b, "/work/main/functions/hello", &err) == 0, "check_image: hello");

    /* 1. hello: cold start, reply, warm round trips */
    struct ilu_function *hello = fn_new("hello", "/work/main/functions/hello", 128);
    struct probe p1;
    struct ilu_container *c1 = ct_new(hello, "smoke-hello-1", &p1);
    bool up = create_wait(b, c1, &p1) && p1.ready_err.status == 0;
    check(up, "hello container becomes ready");
    if (!up)
        printf("     error: %s\n", p1.ready_err.msg);
    printf("     cold start create() -> ready: %.1f ms\n", (double)(p1.ready_ns - p1.t0_ns) / 1e6);
    if (up) {
        char path[256];
        snprintf(path, sizeof path, "/sys/fs/cgroup/memory/%s/%s/memory.limit_in_bytes", CGPARENT, c1->id);
        check(file_has(path, "134217728"), "memory limit 128 MiB in the cgroup");
        snprintf(path, sizeof path, "/sys/fs/cgroup/cpu/%s/%s/cpu.cfs_quota_us", CGPARENT, c1->id);
        check(file_has(path, "100000"), "cpu quota 1 cpu in the cgroup");
        snprintf(path, sizeof path, "/sys/fs/cgroup/pids/%s/%s/pids.max", CGPARENT, c1->id);
        check(file_has(path, "256"), "pids limit in the cgroup");

        bool ok = invoke_wait(b, c1, &p1, "{\"name\":\"smoke\"}") && p1.status == 0;
        check(ok && strstr(p1.body, "Hello smoke from python!"), "hello replies");
        printf("     reply: %s\n     first round trip: %llu us\n", p1.body ? p1.body : p1.error,
               (unsigned long long)p1.rt_us);
        enum { N = 1000 };
        static uint64_t rts[N];
        int got = 0;
        uint64_t t1 = now_ns();
        for (int i = 0; i < N; i++) {
            if (!invoke_wait(b, c1, &p1, "{\"name\":\"smoke\"}") || p1.status != 0)
                break;
            rts[got++] = p1.rt_us;
        }
        double secs = (double)(now_ns() - t1) / 1e9;
        check(got == N, "1000 warm invocations");
        if (got) {
            qsort(rts, (size_t)got, sizeof rts[0], cmp_u64);
            printf("     warm round trip over %d: p50 %llu us, p90 %llu us, p99 %llu us, max %llu us (%.0f/s)\n", got,
                   (unsigned long long)rts[got / 2], (unsigned long long)rts[got * 9 / 10],
                   (unsigned long long)rts[got * 99 / 100], (unsigned long long)rts[got - 1], got / secs);
        }
    }

    /* 2. isolation: only lo, read-only root, no capabilities */
    char *netdir =
        make_fn_dir("import os\n"
                    "def main(args):\n"
                    "    caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1]\n"
                    "    try:\n"
                    "        open('/etc/x', 'w'); ro = False\n"
                    "    except OSError:\n"
                    "        ro = True\n"
                    "    return {'net': sorted(os.listdir('/sys/class/net')), 'ro': ro, 'cap': caps,\n"
                    "            'dev': [l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]]}\n");
    struct ilu_function *netfn = fn_new("net", netdir, 64);
    struct probe p2;
    struct ilu_container *c2 = ct_new(netfn, "smoke-net-1", &p2);
    if (create_wait(b, c2, &p2) && !p2.ready_err.status && invoke_wait(b, c2, &p2, "{}") && p2.status == 0) {
        printf("     isolation reply: %s\n", p2.body);
        json_t *j = json_loads(p2.body, 0, NULL);
        json_t *r = json_object_get(j, "user_result");
        json_t *net = json_object_get(r, "net");
        check(json_array_size(net) == 1 && !strcmp(json_string_value(json_array_get(net, 0)), "lo"),
              "container sees only lo");
        check(json_is_true(json_object_get(r, "ro")), "root is read-only");
        check(!strcmp(json_string_value(json_object_get(r, "cap")) ?: "", "0000000000000000"),
              "no effective capabilities");
        json_decref(j);
    } else {
        check(false, "isolation function ran");
        printf("     %s %s\n", p2.ready_err.msg, p2.error);
    }

    /* 3. import error: ready fails with the agent's stderr */
    char *baddir = make_fn_dir("raise RuntimeError('broken on purpose')\n");
    struct ilu_function *badfn = fn_new("bad", baddir, 64);
    struct probe p3;
    struct ilu_container *c3 = ct_new(badfn, "smoke-bad-1", &p3);
    create_wait(b, c3, &p3);
    check(p3.ready_err.status == 502 && strstr(p3.ready_err.msg, "broken on purpose"),
          "import error -> ready error with stderr tail");
    printf("     %s\n", p3.ready_err.msg);

    /* 4. exit during an invocation -> invoke_done 502 */
    char *exitdir = make_fn_dir("import os\ndef main(args):\n    os._exit(3)\n");
    struct ilu_function *exitfn = fn_new("exit", exitdir, 64);
    struct probe p4;
    struct ilu_container *c4 = ct_new(exitfn, "smoke-exit-1", &p4);
    if (create_wait(b, c4, &p4) && !p4.ready_err.status) {
        invoke_wait(b, c4, &p4, "{}");
        check(p4.status == 502 && strstr(p4.error, "exited (status 3) during the invocation"),
              "exit during invocation -> 502");
        printf("     %s\n", p4.error);
    } else {
        check(false, "exit function started");
    }

    /* 5. idle container killed from outside -> died */
    struct probe p5;
    struct ilu_container *c5 = ct_new(hello, "smoke-kill-1", &p5);
    if (create_wait(b, c5, &p5) && !p5.ready_err.status) {
        struct oci_ct *oc = c5->backend_data;
        kill(oc->init_pid, SIGKILL);
        run_until(&p5.died_seen, 5000);
        check(p5.died_seen, "idle container killed -> died");
        printf("     %s\n", p5.died);
    } else {
        check(false, "kill container started");
    }

    /* 6. memory limit: allocating past it kills the container */
    char *memdir = make_fn_dir("def main(args):\n    x = bytearray(200 * 1024 * 1024)\n    return len(x)\n");
    struct ilu_function *memfn = fn_new("mem", memdir, 64);
    struct probe p6;
    struct ilu_container *c6 = ct_new(memfn, "smoke-mem-1", &p6);
    if (create_wait(b, c6, &p6) && !p6.ready_err.status) {
        invoke_wait(b, c6, &p6, "{}");
        printf("     64 MiB container allocating 200 MiB: status %d %s %s\n", p6.status, p6.error,
               p6.body ? p6.body : "");
        check(p6.status == 502 || (p6.body && strstr(p6.body, "MemoryError")), "memory limit enforced");
    }

    /* 7. destroy during startup (the core's startup timeout does this) */
    struct probe p7;
    struct ilu_container *c7 = ct_new(hello, "smoke-early-1", &p7);
    memset(&p7, 0, sizeof p7);
    check(b->ops->create(b, c7, "smoke-early", &err) == 0, "create for early destroy");
    b->ops->destroy(b, c7, "smoke-early");

    /* 8. cold starts, repeated */
    enum { K = 10 };
    uint64_t colds[K];
    int nc = 0;
    for (int i = 0; i < K; i++) {
        struct probe pc;
        char id[32];
        snprintf(id, sizeof id, "smoke-cold-%d", i);
        struct ilu_container *cc = ct_new(hello, id, &pc);
        if (create_wait(b, cc, &pc) && !pc.ready_err.status)
            colds[nc++] = (pc.ready_ns - pc.t0_ns) / 1000;
        uint64_t td = now_ns();
        b->ops->destroy(b, cc, "smoke-cold");
        free(cc);
        wait_teardown(id);
        if (i == 0)
            printf("     destroy -> bundle removed: %.1f ms\n", (double)(now_ns() - td) / 1e6);
    }
    if (nc) {
        qsort(colds, (size_t)nc, sizeof colds[0], cmp_u64);
        printf("     cold start create() -> ready over %d: median %.1f ms, min %.1f, max %.1f\n", nc,
               colds[nc / 2] / 1000.0, colds[0] / 1000.0, colds[nc - 1] / 1000.0);
    }

    /* 9. destroy everything and check nothing is left */
    struct ilu_container *all[] = {c1, c2, c3, c4, c5, c6};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        b->ops->destroy(b, all[i], "smoke-destroy");
    wait_teardown(NULL);
    check(dir_empty(STATE "/containers"), "no bundle dir left");
    char *out = NULL;
    char rt[64];
    snprintf(rt, sizeof rt, "/usr/bin/%s", ilu_oci_runtime_name(b));
    if (!path_exists(rt))
        snprintf(rt, sizeof rt, "/usr/sbin/%s", ilu_oci_runtime_name(b));
    char root[128];
    snprintf(root, sizeof root, STATE "/runtime/%s", ilu_oci_runtime_name(b));
    char *largv[] = {rt, "--root", root, "list", "-q", NULL};
    ilu_os_run_sync(largv, &out, NULL, NULL);
    check(out && !*out, "runtime list is empty");
    free(out);
    bool cg_left = false;
    const char *hier[] = {"memory", "cpu", "pids", "cpuacct", "blkio", "devices", "freezer", "unified"};
    for (size_t i = 0; i < sizeof hier / sizeof hier[0]; i++) {
        char cg[128];
        snprintf(cg, sizeof cg, "/sys/fs/cgroup/%s/%s", hier[i], CGPARENT);
        if (!dir_empty(cg)) {
            DIR *d = opendir(cg);
            struct dirent *e;
            while ((e = readdir(d)))
                if (e->d_type == DT_DIR && e->d_name[0] != '.') {
                    printf("     left: %s/%s\n", cg, e->d_name);
                    cg_left = true;
                }
            closedir(d);
        }
    }
    check(!cg_left, "no container cgroup left");

    b->ops->shutdown(b);
    b->ops->free(b);
    event_base_free(base);
    struct ilu_container *frees[] = {c1, c2, c3, c4, c5, c6, c7};
    for (size_t i = 0; i < sizeof frees / sizeof frees[0]; i++)
        free(frees[i]);
    free(p1.body);
    free(p2.body);
    free(p3.body);
    free(p4.body);
    free(p5.body);
    free(p6.body);
    fn_free(hello);
    fn_free(netfn);
    fn_free(badfn);
    fn_free(exitfn);
    fn_free(memfn);
    rm_fn_dir(netdir);
    rm_fn_dir(baddir);
    rm_fn_dir(exitdir);
    rm_fn_dir(memdir);
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "OK", failures);
    return failures ? 1 : 0;
}
