/* Latency the controller adds over invoking the worker directly.
 *
 * Registers bench/functions/noop at the controller (which registers it on its
 * worker), warms it, then measures warm no-op invocations closed-loop with one
 * client on a libcurl keep-alive connection, through the controller and
 * straight to the worker, back to back within every repetition (order flipped
 * each time, so noise hits both sides alike). Prints per side p50/p99, the
 * added latency (controller - direct) and the ratio (controller / direct) at
 * p50 and p99, each as median [min - max] over repetitions, and the medians of
 * the controller's own `controller_us` and the worker's `timings.total_us`.
 * Two floors run in the same rotation with the same client: the relay floor
 * (relay_floor.h: a minimal one-thread relay forwarding the same bytes to the
 * same worker, what any HTTP hop in front of the worker pays) and the HTTP
 * floor (http_floor.h: a minimal responder, one loopback HTTP exchange).
 *
 * Usage: ctl_bench --controller URL --worker URL --function-dir DIR
 *                  [--reps 5] [--requests 2000] [--warmup 200]
 *                  [--controller-pid PID] [--worker-pid PID]
 * With the pids, also the on-CPU time per request of the controller and of the
 * worker (/proc/<pid>/schedstat, all threads of the process) on each side.
 * bench/controller_overhead.sh starts the controller and the worker. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_floor.h"
#include "proc_cpu.h"
#include "relay_floor.h"

#define FN_NAME    "ctl-bench-noop"
#define FN_VERSION "1"

static const char invoke_body[] = "{\"function_name\":\"" FN_NAME "\",\"function_version\":\"" FN_VERSION "\"}";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ctl_bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- one keep-alive libcurl handle per target ---- */

struct client {
    CURL *h;
    struct curl_slist *hdrs;
    char base[256];
    char body[8192];
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct client *c = arg;
    size_t add = size * n, room = sizeof c->body - 1 - c->len;
    size_t cp = add < room ? add : room; /* answers are small; truncation only loses the tail */
    memcpy(c->body + c->len, data, cp);
    c->len += cp;
    c->body[c->len] = '\0';
    return add;
}

static void client_init(struct client *c, const char *base)
{
    memset(c, 0, sizeof *c);
    snprintf(c->base, sizeof c->base, "%s", base);
    if (!(c->h = curl_easy_init()))
        die("curl_easy_init failed");
    c->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    c->hdrs = curl_slist_append(c->hdrs, "Expect:");
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 60L);
}

static void client_free(struct client *c)
{
    curl_easy_cleanup(c->h);
    curl_slist_free_all(c->hdrs);
}

/* The HTTP status (0: transport error); the answer is in c->body. */
static long post(struct client *c, const char *path, const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", c->base, path);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    c->len = 0;
    c->body[0] = '\0';
    if (curl_easy_perform(c->h) != CURLE_OK)
        return 0;
    long code = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

static long long field_ll(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    return strtoll(p, NULL, 10);
}

/* One invocation; dies on an error. Returns the latency in ns. */
static uint64_t invoke(struct client *c, const char *side)
{
    uint64_t t0 = now_ns();
    long code = post(c, "/invoke", invoke_body);
    uint64_t dt = now_ns() - t0;
    if (code != 200)
        die("%s: POST /invoke: HTTP %ld %s", side, code, c->body);
    return dt;
}

/* ---- statistics ---- */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double q) /* sorts v */
{
    qsort(v, n, sizeof *v, cmp_d);
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    return i + 1 < n ? v[i] + (pos - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

static void row(const char *label, const double *per_rep, int reps, const char *unit)
{
    double v[64];
    memcpy(v, per_rep, (size_t)reps * sizeof *v);
    double med = pct(v, (size_t)reps, 0.5);
    printf("  %-40s %9.1f   [%9.1f – %9.1f] %s\n", label, med, v[0], v[reps - 1], unit);
}

/* ---- main ---- */

static int ctl_pid, wrk_pid;

struct side_result {
    double p50, p99, total_us_p50;
    double ctl_cpu_us, wrk_cpu_us; /* per request */
};

static long not_warm; /* measured answers whose container_state is not "warm" */

static struct relay_floor relay_srv;
static struct http_floor floor_srv;

/* side "floor": the minimal responder's answer is not an invocation's;
 * side "relay": the controller's CPU columns hold the relay thread's. */
static struct side_result run_side(struct client *c, const char *side, int n, double *lat, double *ctl_us,
                                   double *ctl_med)
{
    double *tot = malloc((size_t)n * sizeof *tot);
    if (!tot)
        die("out of memory");
    bool floor = !strcmp(side, "floor"), relay = !strcmp(side, "relay");
    uint64_t c0 = relay ? relay_floor_cpu_ns(&relay_srv) : proc_cpu_ns(ctl_pid), w0 = proc_cpu_ns(wrk_pid);
    for (int i = 0; i < n; i++) {
        lat[i] = (double)invoke(c, side) / 1000.0;
        if (!floor && !strstr(c->body, "\"warm\""))
            not_warm++;
        tot[i] = 0;
        const char *t = strstr(c->body, "\"timings\"");
        if (t)
            tot[i] = (double)field_ll(t, "total_us");
        if (ctl_us)
            ctl_us[i] = (double)field_ll(c->body, "controller_us");
    }
    uint64_t c1 = relay ? relay_floor_cpu_ns(&relay_srv) : proc_cpu_ns(ctl_pid), w1 = proc_cpu_ns(wrk_pid);
    struct side_result r = {pct(lat, (size_t)n, 0.5), pct(lat, (size_t)n, 0.99), pct(tot, (size_t)n, 0.5),
                            (double)(c1 - c0) / 1000.0 / n, (double)(w1 - w0) / 1000.0 / n};
    if (ctl_us)
        *ctl_med = pct(ctl_us, (size_t)n, 0.5);
    free(tot);
    return r;
}

int main(int argc, char **argv)
{
    const char *ctl_url = NULL, *wrk_url = NULL, *fn_dir = NULL;
    int reps = 5, requests = 2000, warmup = 200;
    static const struct option lo[] = {
        {"controller", 1, 0, 'c'},     {"worker", 1, 0, 'w'},     {"function-dir", 1, 0, 'f'},
        {"reps", 1, 0, 'r'},           {"requests", 1, 0, 'n'},   {"warmup", 1, 0, 'u'},
        {"controller-pid", 1, 0, 'C'}, {"worker-pid", 1, 0, 'W'}, {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
        switch (o) {
        case 'c': ctl_url = optarg; break;
        case 'w': wrk_url = optarg; break;
        case 'f': fn_dir = optarg; break;
        case 'r': reps = atoi(optarg); break;
        case 'n': requests = atoi(optarg); break;
        case 'u': warmup = atoi(optarg); break;
        case 'C': ctl_pid = atoi(optarg); break;
        case 'W': wrk_pid = atoi(optarg); break;
        default:
            die("usage: ctl_bench --controller URL --worker URL --function-dir DIR [--reps 5] [--requests 2000] "
                "[--warmup 200] [--controller-pid PID] [--worker-pid PID]");
        }
    }
    if (!ctl_url || !wrk_url || !fn_dir)
        die("--controller, --worker and --function-dir are required");
    if (reps < 1 || reps > 64 || requests < 1 || warmup < 0)
        die("--reps must be 1..64, --requests >= 1, --warmup >= 0");

    char wrk_host[64];
    int wrk_port;
    if (sscanf(wrk_url, "http://%63[0-9.]:%d", wrk_host, &wrk_port) != 2)
        die("--worker must be http://<IPv4>:<port> (the relay floor connects to it): %s", wrk_url);
    if (relay_floor_start_http(&relay_srv, wrk_host, wrk_port) != 0 || http_floor_start(&floor_srv) != 0)
        die("cannot start the floors");
    char relay_url[64], floor_url[64];
    snprintf(relay_url, sizeof relay_url, "http://127.0.0.1:%d", relay_srv.port);
    snprintf(floor_url, sizeof floor_url, "http://127.0.0.1:%d", floor_srv.port);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct client ctl, wrk, rel, flo;
    client_init(&ctl, ctl_url);
    client_init(&wrk, wrk_url);
    client_init(&rel, relay_url);
    client_init(&flo, floor_url);

    char reg[4096];
    snprintf(reg, sizeof reg,
             "{\"function_name\":\"%s\",\"function_version\":\"%s\",\"image_name\":\"%s\",\"memory\":128,\"cpus\":1}",
             FN_NAME, FN_VERSION, fn_dir);
    long code = post(&ctl, "/register", reg);
    if (code != 200 || field_ll(ctl.body, "workers") < 1)
        die("controller POST /register: HTTP %ld %s", code, ctl.body);

    /* First call starts the container (cold); then warm both connections. */
    invoke(&ctl, "controller");
    for (int i = 0; i < warmup; i++) {
        invoke(&ctl, "controller");
        invoke(&wrk, "direct");
        invoke(&rel, "relay");
        invoke(&flo, "floor");
    }
    if (!strstr(ctl.body, "\"warm\"") || !strstr(wrk.body, "\"warm\""))
        die("after warm-up the answers are not warm: controller %s / direct %s", ctl.body, wrk.body);

    double *lat = malloc((size_t)requests * sizeof *lat), *cus = malloc((size_t)requests * sizeof *cus);
    if (!lat || !cus)
        die("out of memory");
    double c50[64], c99[64], d50[64], d99[64], a50[64], a99[64], r50[64], r99[64], cmed[64], ctot[64], dtot[64];
    double ccpu_c[64], ccpu_w[64], dcpu_w[64], y50[64], y99[64], ya50[64], cy50[64], ycpu[64], f50[64];
    for (int r = 0; r < reps; r++) {
        struct side_result cr = {0}, dr = {0}, yr = {0}, fr = {0};
        for (int k = 0; k < 4; k++) { /* the four sides, their order rotated every repetition */
            switch ((k + r) % 4) {
            case 0: cr = run_side(&ctl, "controller", requests, lat, cus, &cmed[r]); break;
            case 1: dr = run_side(&wrk, "direct", requests, lat, NULL, NULL); break;
            case 2: yr = run_side(&rel, "relay", requests, lat, NULL, NULL); break;
            default: fr = run_side(&flo, "floor", requests, lat, NULL, NULL);
            }
        }
        y50[r] = yr.p50, y99[r] = yr.p99, ya50[r] = yr.p50 - dr.p50, cy50[r] = cr.p50 - yr.p50;
        ycpu[r] = yr.ctl_cpu_us, f50[r] = fr.p50;
        c50[r] = cr.p50, c99[r] = cr.p99, d50[r] = dr.p50, d99[r] = dr.p99;
        a50[r] = cr.p50 - dr.p50, a99[r] = cr.p99 - dr.p99;
        r50[r] = cr.p50 / dr.p50, r99[r] = cr.p99 / dr.p99;
        ctot[r] = cr.total_us_p50, dtot[r] = dr.total_us_p50;
        ccpu_c[r] = cr.ctl_cpu_us, ccpu_w[r] = cr.wrk_cpu_us, dcpu_w[r] = dr.wrk_cpu_us;
        fprintf(stderr, "rep %d/%d: controller p50 %.1f us, direct p50 %.1f us, relay p50 %.1f us, floor p50 %.1f us\n",
                r + 1, reps, cr.p50, dr.p50, yr.p50, fr.p50);
    }

    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    printf("controller overhead, %s: warm no-op, 1 client, libcurl keep-alive, %d reps x %d requests per side\n", date,
           reps, requests);
    printf("  controller %s, worker %s\n", ctl_url, wrk_url);
    printf("  %-40s %9s   [%9s – %9s]\n", "", "median", "min", "max");
    row("via controller p50", c50, reps, "us");
    row("direct to worker p50", d50, reps, "us");
    row("added p50 (controller - direct)", a50, reps, "us");
    row("ratio p50 (controller / direct)", r50, reps, "x");
    row("via controller p99", c99, reps, "us");
    row("direct to worker p99", d99, reps, "us");
    row("added p99 (controller - direct)", a99, reps, "us");
    row("ratio p99 (controller / direct)", r99, reps, "x");
    row("via relay floor p50", y50, reps, "us");
    row("via relay floor p99", y99, reps, "us");
    row("relay added p50 (relay - direct)", ya50, reps, "us");
    row("controller over relay p50", cy50, reps, "us");
    row("HTTP floor p50 (minimal responder)", f50, reps, "us");
    row("controller_us p50 (in controller)", cmed, reps, "us");
    row("worker total_us p50, via controller", ctot, reps, "us");
    row("worker total_us p50, direct", dtot, reps, "us");
    if (ctl_pid > 0)
        row("controller CPU per request", ccpu_c, reps, "us");
    row("relay floor CPU per request", ycpu, reps, "us");
    if (wrk_pid > 0) {
        row("worker CPU per request, via controller", ccpu_w, reps, "us");
        row("worker CPU per request, direct", dcpu_w, reps, "us");
    }
    printf("  answers not warm: %ld of %ld\n", not_warm, 3L * reps * requests);

    free(lat);
    free(cus);
    client_free(&ctl);
    client_free(&wrk);
    client_free(&rel);
    client_free(&flo);
    curl_global_cleanup();
    relay_floor_stop(&relay_srv);
    http_floor_stop(&floor_srv);
    return 0;
}
