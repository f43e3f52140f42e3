/* Benchmark of a running worker against the bare agent and the bare runtime.
 *
 *   warm: closed-loop no-op invocations with 1 and 2 clients, each client on
 *         its own keep-alive HTTP connection to POST /invoke, next to the same
 *         number of clients talking the agent protocol straight to the Unix
 *         sockets of the same warm containers. The two sides alternate within
 *         every repetition (order flipped each time) so noise hits both alike.
 *   cold: POST /clean + POST /invoke (client latency of the cold invocation),
 *         next to starting the same bundle by hand with the same OCI runtime
 *         (`<runtime> --root <own root> run --detach`), waiting for the agent
 *         socket and sending one invocation (spawn -> first answer).
 *
 * Usage: bench_worker --state-dir DIR [--host H] [--port P] [--reps N]
 *        [--requests N] [--warmup N] [--cold N] [--json FILE]
 *        [--function-dir DIR] [--runtime-path PATH] [--worker-pid PID] [--no-warm] [--no-cold]
 * --worker-pid: also report the worker's CPU time per request (schedstat).
 * The worker must use DIR as oci.state_dir (bundles are read from there). */
#include <curl/curl.h>
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_floor.h"

#define MAX_CLIENTS 2
#define FN_NAME "bench-noop"
#define FN_VERSION "1"

static struct {
    const char *host;
    int port;
    const char *state_dir;
    char function_dir[PATH_MAX];
    const char *json_path;
    char runtime_path[PATH_MAX];
    int reps, requests, warmup, cold;
    bool warm_on, cold_on;
    int worker_pid;
} opt = {.host = "127.0.0.1", .port = 8079, .reps = 5, .requests = 2000, .warmup = 200, .cold = 10,
         .warm_on = true, .cold_on = true};

static char base_url[256];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- by-hand container bookkeeping: removed on any exit ---- */

static char hand_root[PATH_MAX];   /* own runtime root + bundles: /tmp/ilu-bench-XXXXXX */
static char hand_id[96];           /* container currently alive, "" if none */
static char hand_dir[PATH_MAX];    /* its bundle */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (flag == FTW_DP ? rmdir : unlink)(path);
    return 0;
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* fork/exec argv, stdio to /dev/null or the given files; returns the pid. */
/* pass_fd >= 0 becomes the child's descriptor 3 (runc --preserve-fds 1). */
static pid_t spawn_pass(char *const argv[], const char *out, const char *err, int pass_fd)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    setsid();
    int in = open("/dev/null", O_RDONLY);
    int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0640);
    int e = open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0640);
    if (in < 0 || o < 0 || e < 0)
        _exit(126);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    if (pass_fd >= 0 && dup2(pass_fd, 3) != 3)
        _exit(126);
    for (int fd = pass_fd >= 0 ? 4 : 3; fd < 1024; fd++)
        close(fd);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(argv[0], argv);
    _exit(127);
}

static pid_t spawn(char *const argv[], const char *out, const char *err)
{
    return spawn_pass(argv, out, err, -1);
}

static int wait_status(pid_t pid)
{
    int st = -1;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

static void reap_orphans(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static char hand_rootdir[PATH_MAX + 16];

static void hand_delete(void)
{
    if (hand_id[0]) {
        char *argv[] = {opt.runtime_path, "--root", hand_rootdir, "delete", "--force", hand_id, NULL};
        pid_t p = spawn(argv, NULL, NULL);
        if (p > 0)
            wait_status(p);
        hand_id[0] = '\0';
        reap_orphans(); /* the container's init, reparented to us (subreaper) */
    }
    if (hand_dir[0]) {
        rm_tree(hand_dir);
        hand_dir[0] = '\0';
    }
}

static void cleanup_all(void)
{
    hand_delete();
    if (hand_root[0]) {
        rm_tree(hand_root);
        hand_root[0] = '\0';
    }
}

static void on_signal(int sig)
{
    cleanup_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_worker: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cleanup_all();
    exit(1);
}

/* ---- HTTP ---- */

struct buf {
    char *p;
    size_t len, cap;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t add = size * n;
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + add + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, add);
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

struct http {
    CURL *h;
    struct curl_slist *hdrs;
    struct buf body;
};

static void http_init(struct http *c)
{
    memset(c, 0, sizeof *c);
    c->h = curl_easy_init();
    if (!c->h)
        die("curl_easy_init failed");
    c->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    c->hdrs = curl_slist_append(c->hdrs, "Expect:");
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->body);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 60L);
}

static void http_free(struct http *c)
{
    curl_easy_cleanup(c->h);
    curl_slist_free_all(c->hdrs);
    free(c->body.p);
}

/* Returns the HTTP status (0 on transport error); the body is in c->body.p. */
static long http_req(struct http *c, const char *path, const char *post)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    if (post) {
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
    } else {
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    }
    c->body.len = 0;
    if (c->body.p)
        c->body.p[0] = '\0';
    if (curl_easy_perform(c->h) != CURLE_OK)
        return 0;
    long code = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

static const char *body_of(struct http *c)
{
    return c->body.p ? c->body.p : "";
}

static long long json_field_ll(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static void json_field_str(const char *text, const char *key, char *out, size_t len)
{
    out[0] = '\0';
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(text, pat);
    if (!p)
        return;
    p += strlen(pat);
    size_t n = strcspn(p, "\"");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), p);
}

static const char invoke_body[] = "{\"function_name\":\"" FN_NAME "\",\"function_version\":\"" FN_VERSION "\"}";

/* ---- agent protocol ---- */

static int agent_connect(const char *cid, bool quiet)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/containers/%s/sockets/sock", opt.state_dir, cid) >=
        sizeof sa.sun_path)
        die("socket path of %s too long", cid);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (!quiet)
            fprintf(stderr, "bench_worker: connect %s: %s\n", sa.sun_path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int read_full(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* One invocation with args "{}" (what the worker sends for a missing
 * json_args). Returns 0 when the agent answered with a user_result. */
static int agent_invoke(int fd, char *reply, size_t cap)
{
    unsigned char req[16 + 2];
    uint64_t cmd = 1, len = 2; /* little-endian host (x86) */
    memcpy(req, &cmd, 8);
    memcpy(req + 8, &len, 8);
    memcpy(req + 16, "{}", 2);
    if (write(fd, req, sizeof req) != (ssize_t)sizeof req)
        return -1;
    uint64_t rlen;
    if (read_full(fd, &rlen, 8) != 0 || rlen >= cap)
        return -1;
    if (read_full(fd, reply, rlen) != 0)
        return -1;
    reply[rlen] = '\0';
    return strstr(reply, "\"user_result\"") ? 0 : -1;
}

/* ---- minimal HTTP/1.1 client (diagnostic: the worker without libcurl) ---- */

static int tcp_connect(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect %s:%d: %s", host, port, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static char raw_req[512];
static size_t raw_req_len;

/* POST /invoke on a keep-alive connection; 0 when the answer is 200 + success. */
static int raw_invoke(int fd, char *buf, size_t cap)
{
    if (write(fd, raw_req, raw_req_len) != (ssize_t)raw_req_len)
        return -1;
    size_t have = 0;
    char *hend = NULL;
    while (!hend) {
        ssize_t r = read(fd, buf + have, cap - 1 - have);
        if (r <= 0)
            return -1;
        have += (size_t)r;
        buf[have] = '\0';
        hend = strstr(buf, "\r\n\r\n");
        if (!hend && have >= cap - 1)
            return -1;
    }
    size_t hlen = (size_t)(hend + 4 - buf);
    size_t clen = 0;
    for (char *l = strstr(buf, "\r\n"); l && l < hend; l = strstr(l + 2, "\r\n"))
        if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
            clen = strtoul(l + 17, NULL, 10);
    if (hlen + clen >= cap)
        return -1;
    while (have < hlen + clen) {
        ssize_t r = read(fd, buf + have, hlen + clen - have);
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    buf[have] = '\0';
    return strncmp(buf, "HTTP/1.1 200", 12) == 0 && strstr(hend, "\"success\":true") ? 0 : -1;
}

/* ---- CPU accounting: /proc/<pid>/schedstat, first field = ns on CPU ---- */

static uint64_t proc_cpu_ns(int pid)
{
    if (pid <= 0)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
    FILE *f = fopen(path, "r");
    unsigned long long ns = 0;
    if (f) {
        if (fscanf(f, "%llu", &ns) != 1)
            ns = 0;
        fclose(f);
    }
    return ns;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int agent_pid_of(const char *cid)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/containers/%s/pid", opt.state_dir, cid);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

/* ---- statistics ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double pct_sorted_u64(const uint64_t *v, size_t n, double q)
{
    if (!n)
        return NAN;
    size_t i = (size_t)ceil(q * (double)n);
    i = i ? i - 1 : 0;
    return (double)v[i < n ? i : n - 1];
}

struct spread {
    double med, min, max;
};

static struct spread spread_of(const double *v, size_t n)
{
    double *s = malloc(n * sizeof *s);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_d);
    struct spread r = {n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, s[0], s[n - 1]};
    free(s);
    return r;
}

/* ---- warm phase ---- */

/* SIDE_FLOOR: the raw client against the in-process minimal responder
 * (http_floor.h), the cost of one loopback HTTP exchange. */
enum side { SIDE_WORKER, SIDE_DIRECT, SIDE_PING, SIDE_RAW, SIDE_FLOOR, SIDE_COUNT };

static struct http_floor floor_srv;

struct client {
    int idx;
    struct http http;      /* keep-alive connection to the worker */
    int sock;              /* connection to its container's agent */
    int tcp;               /* raw keep-alive TCP connection to the worker */
    int floor_tcp;         /* raw keep-alive TCP connection to the floor responder */
    char cid[96];          /* that container */
    /* one run */
    enum side side;
    int n, warmup;
    uint64_t *lat_ns;      /* n */
    uint64_t *srv_total;   /* worker side: timings.total_us */
    uint64_t *srv_agent;   /* worker side: timings.agent_round_trip_us */
    uint64_t t_start, t_end;
    int errors;
    char last_cid[96];
    int agent_pid;
    uint64_t cpu_ns;       /* this client thread's CPU over the whole run */
    pthread_barrier_t *barrier;
};

static void *client_run(void *arg)
{
    struct client *c = arg;
    char reply[4096];
    uint64_t cpu0 = thread_cpu_ns();
    for (int i = 0; i < c->warmup; i++) {
        if (c->side == SIDE_WORKER)
            http_req(&c->http, "/invoke", invoke_body);
        else if (c->side == SIDE_PING)
            http_req(&c->http, "/ping", NULL);
        else if (c->side == SIDE_RAW)
            raw_invoke(c->tcp, reply, sizeof reply);
        else if (c->side == SIDE_FLOOR)
            raw_invoke(c->floor_tcp, reply, sizeof reply);
        else
            agent_invoke(c->sock, reply, sizeof reply);
    }
    pthread_barrier_wait(c->barrier);
    c->t_start = now_ns();
    for (int i = 0; i < c->n; i++) {
        uint64_t t0 = now_ns();
        int ok;
        if (c->side == SIDE_WORKER) {
            long code = http_req(&c->http, "/invoke", invoke_body);
            c->lat_ns[i] = now_ns() - t0;
            const char *b = body_of(&c->http);
            ok = code == 200 && strstr(b, "\"success\":true");
            c->srv_total[i] = (uint64_t)json_field_ll(b, "total_us");
            c->srv_agent[i] = (uint64_t)json_field_ll(b, "agent_round_trip_us");
            if (i == c->n - 1)
                json_field_str(b, "container_id", c->last_cid, sizeof c->last_cid);
        } else if (c->side == SIDE_RAW || c->side == SIDE_FLOOR) {
            ok = raw_invoke(c->side == SIDE_RAW ? c->tcp : c->floor_tcp, reply, sizeof reply) == 0;
            c->lat_ns[i] = now_ns() - t0;
        } else if (c->side == SIDE_PING) {
            long code = http_req(&c->http, "/ping", NULL);
            c->lat_ns[i] = now_ns() - t0;
            ok = code == 200;
        } else {
            ok = agent_invoke(c->sock, reply, sizeof reply) == 0;
            c->lat_ns[i] = now_ns() - t0;
        }
        if (!ok && c->errors++ < 3)
            fprintf(stderr, "bench_worker: %s invocation failed: %.300s\n",
                    c->side == SIDE_DIRECT ? "direct" : c->side == SIDE_FLOOR ? "floor" : "worker",
                    c->side == SIDE_DIRECT || c->side == SIDE_RAW || c->side == SIDE_FLOOR ? reply : body_of(&c->http));
    }
    c->t_end = now_ns();
    c->cpu_ns = thread_cpu_ns() - cpu0;
    return NULL;
}

struct warm_result {           /* one side, one client count, one repetition */
    double p50_us, p99_us, mean_us, tput;
    double srv_total_p50_us, srv_agent_p50_us; /* worker side only */
    int errors;
    double cpu_client_us, cpu_worker_us, cpu_agent_us; /* CPU per request */
};

static struct warm_result run_side(struct client *cl, int nclients, enum side side)
{
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nclients);
    pthread_t th[MAX_CLIENTS];
    /* For the floor, "worker" CPU is that of the responder's threads. */
    uint64_t wcpu0 = side == SIDE_FLOOR ? http_floor_cpu_ns(&floor_srv) : proc_cpu_ns(opt.worker_pid), acpu0 = 0;
    for (int i = 0; i < MAX_CLIENTS; i++) /* all: the worker picks the container */
        acpu0 += proc_cpu_ns(cl[i].agent_pid);
    for (int i = 0; i < nclients; i++) {
        cl[i].side = side;
        cl[i].n = opt.requests;
        cl[i].warmup = opt.warmup;
        cl[i].errors = 0;
        cl[i].barrier = &bar;
        pthread_create(&th[i], NULL, client_run, &cl[i]);
    }
    for (int i = 0; i < nclients; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    uint64_t wcpu1 = side == SIDE_FLOOR ? http_floor_cpu_ns(&floor_srv) : proc_cpu_ns(opt.worker_pid), acpu1 = 0,
             ccpu = 0;
    for (int i = 0; i < MAX_CLIENTS; i++)
        acpu1 += proc_cpu_ns(cl[i].agent_pid);
    for (int i = 0; i < nclients; i++)
        ccpu += cl[i].cpu_ns;
    double nreq = (double)nclients * (opt.requests + opt.warmup);

    size_t total = (size_t)nclients * (size_t)opt.requests;
    uint64_t *all = malloc(total * sizeof *all), *st = malloc(total * sizeof *st), *sa = malloc(total * sizeof *sa);
    uint64_t t0 = UINT64_MAX, t1 = 0;
    struct warm_result r = {0};
    double sum = 0;
    for (int i = 0; i < nclients; i++) {
        memcpy(all + (size_t)i * opt.requests, cl[i].lat_ns, (size_t)opt.requests * sizeof *all);
        memcpy(st + (size_t)i * opt.requests, cl[i].srv_total, (size_t)opt.requests * sizeof *st);
        memcpy(sa + (size_t)i * opt.requests, cl[i].srv_agent, (size_t)opt.requests * sizeof *sa);
        if (cl[i].t_start < t0)
            t0 = cl[i].t_start;
        if (cl[i].t_end > t1)
            t1 = cl[i].t_end;
        r.errors += cl[i].errors;
    }
    for (size_t i = 0; i < total; i++)
        sum += (double)all[i];
    qsort(all, total, sizeof *all, cmp_u64);
    r.p50_us = pct_sorted_u64(all, total, 0.50) / 1e3;
    r.p99_us = pct_sorted_u64(all, total, 0.99) / 1e3;
    r.mean_us = sum / (double)total / 1e3;
    r.tput = (double)total / ((double)(t1 - t0) / 1e9);
    r.cpu_client_us = (double)ccpu / nreq / 1e3;
    r.cpu_worker_us = opt.worker_pid > 0 || side == SIDE_FLOOR ? (double)(wcpu1 - wcpu0) / nreq / 1e3 : NAN;
    r.cpu_agent_us = side == SIDE_PING || side == SIDE_FLOOR ? 0 : (double)(acpu1 - acpu0) / nreq / 1e3;
    if (side == SIDE_WORKER) {
        qsort(st, total, sizeof *st, cmp_u64);
        qsort(sa, total, sizeof *sa, cmp_u64);
        r.srv_total_p50_us = pct_sorted_u64(st, total, 0.50);
        r.srv_agent_p50_us = pct_sorted_u64(sa, total, 0.50);
    }
    free(all);
    free(st);
    free(sa);
    return r;
}

/* Containers with a live agent socket, from the state dir (the benchmark's
 * worker runs only the benchmark's function). */
static int list_containers(char ids[][96], int max)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/containers", opt.state_dir);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= 96)
            continue;
        char sp[PATH_MAX + 400];
        snprintf(sp, sizeof sp, "%s/%s/sockets/sock", path, e->d_name);
        if (access(sp, F_OK) == 0)
            snprintf(ids[n++], 96, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

static json_t *spread_json(struct spread s)
{
    return json_pack("{s:f, s:f, s:f}", "median", s.med, "min", s.min, "max", s.max);
}

static void print_row(const char *label, struct spread s, const char *unit)
{
    printf("  %-40s %10.1f   [%9.1f – %9.1f] %s\n", label, s.med, s.min, s.max, unit);
}

static json_t *warm_bench(struct http *ctl)
{
    /* Two warm containers: one per client. */
    char body[512];
    snprintf(body, sizeof body, "{\"function_name\":\"%s\",\"function_version\":\"%s\"}", FN_NAME, FN_VERSION);
    char ids[MAX_CLIENTS][96];
    int have = list_containers(ids, MAX_CLIENTS);
    for (int i = have; i < MAX_CLIENTS; i++) {
        long code = http_req(ctl, "/prewarm", body);
        if (code != 200)
            die("prewarm: HTTP %ld %s", code, body_of(ctl));
    }
    have = list_containers(ids, MAX_CLIENTS);
    if (have < MAX_CLIENTS)
        die("expected %d containers of %s under %s/containers, found %d", MAX_CLIENTS, FN_NAME, opt.state_dir, have);

    if (http_floor_start(&floor_srv) != 0)
        die("cannot start the floor responder: %s", strerror(errno));
    struct client cl[MAX_CLIENTS];
    memset(cl, 0, sizeof cl);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        cl[i].idx = i;
        http_init(&cl[i].http);
        snprintf(cl[i].cid, sizeof cl[i].cid, "%s", ids[i]);
        cl[i].sock = agent_connect(ids[i], false);
        cl[i].tcp = tcp_connect(opt.host, opt.port);
        cl[i].floor_tcp = tcp_connect("127.0.0.1", floor_srv.port);
        cl[i].agent_pid = agent_pid_of(ids[i]);
        if (cl[i].sock < 0)
            die("cannot connect to the agent of %s", ids[i]);
        cl[i].lat_ns = calloc((size_t)opt.requests, sizeof(uint64_t));
        cl[i].srv_total = calloc((size_t)opt.requests, sizeof(uint64_t));
        cl[i].srv_agent = calloc((size_t)opt.requests, sizeof(uint64_t));
    }
    /* Which container does the worker give a lone client? Use it for the lone
     * direct client too. */
    if (http_req(&cl[0].http, "/invoke", invoke_body) != 200)
        die("invoke: %s", body_of(&cl[0].http));
    char lone[96];
    json_field_str(body_of(&cl[0].http), "container_id", lone, sizeof lone);
    if (strcmp(lone, cl[0].cid) != 0) { /* swap so client 0 owns it */
        int s = cl[0].sock, ap = cl[0].agent_pid;
        cl[0].agent_pid = cl[1].agent_pid;
        cl[1].agent_pid = ap;
        char tmp[96];
        snprintf(tmp, sizeof tmp, "%s", cl[0].cid);
        cl[0].sock = cl[1].sock;
        snprintf(cl[0].cid, sizeof cl[0].cid, "%s", cl[1].cid);
        cl[1].sock = s;
        snprintf(cl[1].cid, sizeof cl[1].cid, "%s", tmp);
    }
    if (strcmp(lone, cl[0].cid) != 0)
        fprintf(stderr, "bench_worker: note: the worker used container %s, not one of ours\n", lone);

    int nconf = 2, conf[2] = {1, 2};
    int R = opt.reps;
    struct warm_result (*res)[2][SIDE_COUNT] = calloc((size_t)R, sizeof *res); /* [rep][conf][side] */
    printf("warm: %d repetitions x %d requests per client (after %d warm-up), sides alternating\n", R,
           opt.requests, opt.warmup);
    fflush(stdout);
    for (int r = 0; r < R; r++) {
        for (int k = 0; k < nconf; k++) {
            int n = conf[k];
            enum side first = (r + k) % 2 ? SIDE_DIRECT : SIDE_WORKER;
            enum side second = first == SIDE_WORKER ? SIDE_DIRECT : SIDE_WORKER;
            res[r][k][first] = run_side(cl, n, first);
            res[r][k][second] = run_side(cl, n, second);
            res[r][k][SIDE_PING] = run_side(cl, n, SIDE_PING); /* HTTP floor, no agent */
            /* worker without libcurl, and the transport floor with the same
             * client, back to back, order flipped every time */
            enum side a = (r + k) % 2 ? SIDE_FLOOR : SIDE_RAW, b = a == SIDE_RAW ? SIDE_FLOOR : SIDE_RAW;
            res[r][k][a] = run_side(cl, n, a);
            res[r][k][b] = run_side(cl, n, b);
            fprintf(stderr, "  rep %d, %d client(s): worker p50 %.1f p99 %.1f us (%.0f/s) | direct p50 %.1f p99 %.1f us (%.0f/s)\n",
                    r + 1, n, res[r][k][0].p50_us, res[r][k][0].p99_us, res[r][k][0].tput, res[r][k][1].p50_us,
                    res[r][k][1].p99_us, res[r][k][1].tput);
            fprintf(stderr, "                       raw client: worker p50 %.1f us | floor p50 %.1f us\n",
                    res[r][k][SIDE_RAW].p50_us, res[r][k][SIDE_FLOOR].p50_us);
        }
    }

    json_t *out = json_object();
    json_object_set_new(out, "repetitions", json_integer(R));
    json_object_set_new(out, "requests_per_client", json_integer(opt.requests));
    json_object_set_new(out, "warmup_per_client", json_integer(opt.warmup));
    json_t *confs = json_array();
    double *v = malloc((size_t)R * sizeof *v);
#define COLLECT(expr)                                                                                                  \
    ({                                                                                                                 \
        for (int r_ = 0; r_ < R; r_++) {                                                                               \
            struct warm_result *w = &res[r_][k][SIDE_WORKER], *d = &res[r_][k][SIDE_DIRECT],                           \
                               *g = &res[r_][k][SIDE_PING], *x = &res[r_][k][SIDE_RAW],                                \
                               *f = &res[r_][k][SIDE_FLOOR];                                                           \
            (void)x;                                                                                                   \
            (void)f;                                                                                                   \
            (void)w;                                                                                                   \
            (void)d;                                                                                                   \
            (void)g;                                                                                                   \
            v[r_] = (expr);                                                                                            \
        }                                                                                                              \
        spread_of(v, (size_t)R);                                                                                       \
    })
    for (int k = 0; k < nconf; k++) {
        struct spread wp50 = COLLECT(w->p50_us), wp99 = COLLECT(w->p99_us), dp50 = COLLECT(d->p50_us),
                      dp99 = COLLECT(d->p99_us), rat50 = COLLECT(w->p50_us / d->p50_us),
                      rat99 = COLLECT(w->p99_us / d->p99_us), add50 = COLLECT(w->p50_us - d->p50_us),
                      add99 = COLLECT(w->p99_us - d->p99_us), wt = COLLECT(w->tput), dt = COLLECT(d->tput),
                      wmean = COLLECT(w->mean_us), dmean = COLLECT(d->mean_us),
                      stot = COLLECT(w->srv_total_p50_us), sag = COLLECT(w->srv_agent_p50_us),
                      sin = COLLECT(w->srv_total_p50_us - w->srv_agent_p50_us),
                      err = COLLECT((double)(w->errors + d->errors + x->errors + f->errors)), gp50 = COLLECT(g->p50_us),
                      gp99 = COLLECT(g->p99_us), gt = COLLECT(g->tput), xp50 = COLLECT(x->p50_us),
                      xp99 = COLLECT(x->p99_us), xt = COLLECT(x->tput), xadd50 = COLLECT(x->p50_us - d->p50_us),
                      xadd99 = COLLECT(x->p99_us - d->p99_us), cw_c = COLLECT(w->cpu_client_us),
                      cw_w = COLLECT(w->cpu_worker_us), cw_a = COLLECT(w->cpu_agent_us),
                      cd_c = COLLECT(d->cpu_client_us), cd_a = COLLECT(d->cpu_agent_us),
                      cg_c = COLLECT(g->cpu_client_us), cg_w = COLLECT(g->cpu_worker_us),
                      cx_c = COLLECT(x->cpu_client_us), cx_w = COLLECT(x->cpu_worker_us),
                      cx_a = COLLECT(x->cpu_agent_us), fp50 = COLLECT(f->p50_us), fp99 = COLLECT(f->p99_us),
                      ft = COLLECT(f->tput), over50 = COLLECT(x->p50_us - f->p50_us - d->p50_us),
                      fshare = COLLECT(100.0 * f->p50_us / (x->p50_us - d->p50_us)), cf_c = COLLECT(f->cpu_client_us),
                      cf_s = COLLECT(f->cpu_worker_us);
        printf("\nwarm no-op, %d client(s)                        median   [   min    –    max   ] over %d reps\n",
               conf[k], R);
        print_row("worker p50", wp50, "us");
        print_row("direct p50", dp50, "us");
        print_row("added p50 (worker - direct)", add50, "us");
        print_row("ratio p50 (worker / direct)", rat50, "x");
        print_row("worker p99", wp99, "us");
        print_row("direct p99", dp99, "us");
        print_row("added p99 (worker - direct)", add99, "us");
        print_row("ratio p99 (worker / direct)", rat99, "x");
        print_row("worker throughput", wt, "inv/s");
        print_row("direct throughput", dt, "inv/s");
        print_row("worker mean", wmean, "us");
        print_row("direct mean", dmean, "us");
        print_row("worker-reported total_us p50", stot, "us");
        print_row("worker-reported agent RTT p50", sag, "us");
        print_row("  in-worker excl. agent (diff)", sin, "us");
        print_row("HTTP floor: GET /ping p50", gp50, "us");
        print_row("HTTP floor: GET /ping p99", gp99, "us");
        print_row("HTTP floor: GET /ping throughput", gt, "req/s");
        print_row("worker, raw-socket client p50", xp50, "us");
        print_row("worker, raw-socket client p99", xp99, "us");
        print_row("  added p50 (raw - direct)", xadd50, "us");
        print_row("  added p99 (raw - direct)", xadd99, "us");
        print_row("  throughput (raw client)", xt, "inv/s");
        print_row("TCP HTTP floor p50 (minimal responder)", fp50, "us");
        print_row("TCP HTTP floor p99 (minimal responder)", fp99, "us");
        print_row("  floor throughput", ft, "req/s");
        print_row("  floor share of added p50 (raw)", fshare, "%");
        print_row("worker over floor p50 (raw-floor-direct)", over50, "us");
        printf("  CPU per request (us): client / worker / agent\n");
        printf("    %-32s %6.1f / %6.1f / %6.1f\n", "via worker (libcurl)", cw_c.med, cw_w.med, cw_a.med);
        printf("    %-32s %6.1f / %6.1f / %6.1f\n", "via worker (raw client)", cx_c.med, cx_w.med, cx_a.med);
        printf("    %-32s %6.1f /    -   / %6.1f\n", "direct to agent", cd_c.med, cd_a.med);
        printf("    %-32s %6.1f / %6.1f /    -\n", "GET /ping (libcurl)", cg_c.med, cg_w.med);
        printf("    %-32s %6.1f / %6.1f /    -   (responder threads)\n", "TCP HTTP floor (raw client)", cf_c.med,
               cf_s.med);
        if (err.max > 0)
            print_row("errors", err, "");
        json_t *j = json_object();
        json_object_set_new(j, "clients", json_integer(conf[k]));
        json_object_set_new(j, "worker_p50_us", spread_json(wp50));
        json_object_set_new(j, "direct_p50_us", spread_json(dp50));
        json_object_set_new(j, "added_p50_us", spread_json(add50));
        json_object_set_new(j, "ratio_p50", spread_json(rat50));
        json_object_set_new(j, "worker_p99_us", spread_json(wp99));
        json_object_set_new(j, "direct_p99_us", spread_json(dp99));
        json_object_set_new(j, "added_p99_us", spread_json(add99));
        json_object_set_new(j, "ratio_p99", spread_json(rat99));
        json_object_set_new(j, "worker_throughput_per_s", spread_json(wt));
        json_object_set_new(j, "direct_throughput_per_s", spread_json(dt));
        json_object_set_new(j, "worker_mean_us", spread_json(wmean));
        json_object_set_new(j, "direct_mean_us", spread_json(dmean));
        json_object_set_new(j, "worker_reported_total_p50_us", spread_json(stot));
        json_object_set_new(j, "worker_reported_agent_rtt_p50_us", spread_json(sag));
        json_object_set_new(j, "errors", spread_json(err));
        json_object_set_new(j, "ping_p50_us", spread_json(gp50));
        json_object_set_new(j, "ping_p99_us", spread_json(gp99));
        json_object_set_new(j, "ping_throughput_per_s", spread_json(gt));
        json_object_set_new(j, "rawclient_worker_p50_us", spread_json(xp50));
        json_object_set_new(j, "rawclient_worker_p99_us", spread_json(xp99));
        json_object_set_new(j, "rawclient_added_p50_us", spread_json(xadd50));
        json_object_set_new(j, "rawclient_added_p99_us", spread_json(xadd99));
        json_object_set_new(j, "rawclient_worker_throughput_per_s", spread_json(xt));
        json_object_set_new(j, "floor_p50_us", spread_json(fp50));
        json_object_set_new(j, "floor_p99_us", spread_json(fp99));
        json_object_set_new(j, "floor_throughput_per_s", spread_json(ft));
        json_object_set_new(j, "floor_share_of_rawclient_added_p50_pct", spread_json(fshare));
        json_object_set_new(j, "worker_over_floor_p50_us", spread_json(over50));
        json_object_set_new(j, "cpu_us_per_request",
                            json_pack("{s:{s:o, s:o, s:o}, s:{s:o, s:o}, s:{s:o, s:o}, s:{s:o, s:o}}", "via_worker",
                                      "client", spread_json(cw_c), "worker", spread_json(cw_w), "agent",
                                      spread_json(cw_a), "direct", "client", spread_json(cd_c), "agent",
                                      spread_json(cd_a), "ping", "client", spread_json(cg_c), "worker",
                                      spread_json(cg_w), "raw_client", "client", spread_json(cx_c), "worker",
                                      spread_json(cx_w)));
        json_object_set_new(json_object_get(j, "cpu_us_per_request"), "floor",
                            json_pack("{s:o, s:o}", "client", spread_json(cf_c), "responder", spread_json(cf_s)));
        json_t *reps = json_array();
        for (int r = 0; r < R; r++)
            json_array_append_new(
                reps, json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "worker_p50_us", res[r][k][0].p50_us,
                                "worker_p99_us", res[r][k][0].p99_us, "worker_tput", res[r][k][0].tput, "direct_p50_us",
                                res[r][k][1].p50_us, "direct_p99_us", res[r][k][1].p99_us, "direct_tput",
                                res[r][k][1].tput, "rawclient_worker_p50_us", res[r][k][SIDE_RAW].p50_us,
                                "floor_p50_us", res[r][k][SIDE_FLOOR].p50_us));
        json_object_set_new(j, "per_rep", reps);
        json_array_append_new(confs, j);
    }
#undef COLLECT
    json_object_set_new(out, "configs", confs);
    free(v);
    free(res);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        http_free(&cl[i].http);
        close(cl[i].sock);
        close(cl[i].tcp);
        close(cl[i].floor_tcp);
        free(cl[i].lat_ns);
        free(cl[i].srv_total);
        free(cl[i].srv_agent);
    }
    http_floor_stop(&floor_srv);
    return out;
}

/* ---- cold phase ---- */

static int count_containers(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/containers", opt.state_dir);
    int n = 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* POST /clean, then wait until the worker removed every bundle (its deletes
 * run in the background) and let the machine settle. */
static void worker_clean(struct http *ctl)
{
    if (http_req(ctl, "/clean", "{}") != 200)
        die("clean: %s", body_of(ctl));
    for (int i = 0; i < 1000 && count_containers() > 0; i++)
        usleep(10000);
    usleep(100000);
}

static json_t *template_cfg; /* a worker-made config.json */

static void load_template(struct http *ctl)
{
    char ids[1][96];
    if (list_containers(ids, 1) < 1) {
        if (http_req(ctl, "/invoke", invoke_body) != 200)
            die("invoke: %s", body_of(ctl));
        if (list_containers(ids, 1) < 1)
            die("no worker-made bundle to copy under %s/containers", opt.state_dir);
    }
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/containers/%s/config.json", opt.state_dir, ids[0]);
    json_error_t je;
    template_cfg = json_load_file(path, 0, &je);
    if (!template_cfg)
        die("cannot read %s: %s", path, je.text);
}

/* Write <dir>/config.json: the worker's, with our own cgroup (the agent's
 * socket is handed over as descriptor 3, as the worker does). */
static void write_hand_bundle(const char *dir, const char *id)
{
    char sockets[PATH_MAX + 16], cfgpath[PATH_MAX + 16];
    snprintf(sockets, sizeof sockets, "%s/sockets", dir);
    snprintf(cfgpath, sizeof cfgpath, "%s/config.json", dir);
    if (mkdir(dir, 0700) != 0 || mkdir(sockets, 0700) != 0)
        die("mkdir %s: %s", sockets, strerror(errno));
    json_t *cfg = json_deep_copy(template_cfg);
    json_t *lin = json_object_get(cfg, "linux");
    const char *cg = json_string_value(json_object_get(lin, "cgroupsPath"));
    char parent[256] = "";
    if (cg) {
        snprintf(parent, sizeof parent, "%s", cg);
        char *slash = strrchr(parent, '/');
        if (slash)
            *slash = '\0';
    }
    char newcg[400];
    snprintf(newcg, sizeof newcg, "%s/%s", parent, id);
    json_object_set_new(lin, "cgroupsPath", json_string(newcg));
    if (json_dump_file(cfg, cfgpath, JSON_COMPACT) != 0)
        die("cannot write %s", cfgpath);
    json_decref(cfg);
}

/* Start a container by hand; returns spawn -> first answer in ns, or 0. */
static uint64_t hand_cold_once(int k)
{
    snprintf(hand_id, sizeof hand_id, "bench-hand-%d-%d", (int)getpid(), k);
    snprintf(hand_dir, sizeof hand_dir, "%s/%s", hand_root, hand_id);
    write_hand_bundle(hand_dir, hand_id);
    char pidf[PATH_MAX + 16], outf[PATH_MAX + 16], errf[PATH_MAX + 16];
    snprintf(pidf, sizeof pidf, "%s/pid", hand_dir);
    snprintf(outf, sizeof outf, "%s/stdout.log", hand_dir);
    snprintf(errf, sizeof errf, "%s/stderr.log", hand_dir);
    char *argv[] = {opt.runtime_path, "--root", hand_rootdir, "run", "--detach", "--preserve-fds", "1", "--bundle",
                    hand_dir, "--pid-file", pidf, hand_id, NULL};
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sockets/sock", hand_dir) >= sizeof sa.sun_path)
        die("socket path too long under %s", hand_dir);

    uint64_t t0 = now_ns();
    /* As the worker does: listen first, hand the socket over, connect at
     * once; the agent answers once it has imported the function. */
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 16) != 0)
        die("listen on %s: %s", sa.sun_path, strerror(errno));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect to %s: %s", sa.sun_path, strerror(errno));
    pid_t pid = spawn_pass(argv, outf, errf, lfd);
    close(lfd);
    if (pid < 0)
        die("fork: %s", strerror(errno));
    int st = wait_status(pid);
    if (st != 0) {
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof cmd, "tail -c 600 '%s' >&2", errf);
        fprintf(stderr, "bench_worker: %s run failed (status 0x%x):\n", opt.runtime_path, (unsigned)st);
        if (system(cmd) != 0) {
        }
        close(fd);
        return 0;
    }
    char reply[4096];
    int rc = agent_invoke(fd, reply, sizeof reply);
    uint64_t t1 = now_ns();
    close(fd);
    if (rc != 0) {
        fprintf(stderr, "bench_worker: the agent of %s failed: %.300s\n", hand_id, reply);
        return 0;
    }
    return t1 - t0;
}

static json_t *cold_bench(struct http *ctl)
{
    load_template(ctl);
    snprintf(hand_rootdir, sizeof hand_rootdir, "%s/runtime-root", hand_root);
    if (mkdir(hand_rootdir, 0700) != 0)
        die("mkdir %s: %s", hand_rootdir, strerror(errno));
    int N = opt.cold;
    double *w = calloc((size_t)N, sizeof *w), *h = calloc((size_t)N, sizeof *h),
           *wstart = calloc((size_t)N, sizeof *wstart), *ratio = calloc((size_t)N, sizeof *ratio);
    printf("\ncold: %d starts each side, alternating (runtime %s)\n", N, opt.runtime_path);
    fflush(stdout);
    int nw = 0, nh = 0;
    for (int i = 0; i < N; i++) {
        for (int pass = 0; pass < 2; pass++) {
            bool worker_side = (pass == 0) == (i % 2 == 0);
            if (worker_side) {
                worker_clean(ctl);
                uint64_t t0 = now_ns();
                long code = http_req(ctl, "/invoke", invoke_body);
                uint64_t t1 = now_ns();
                char state[32];
                json_field_str(body_of(ctl), "container_state", state, sizeof state);
                if (code != 200 || strcmp(state, "cold") != 0)
                    die("cold invoke: HTTP %ld, state %s: %.300s", code, state, body_of(ctl));
                w[nw] = (double)(t1 - t0) / 1e6;
                wstart[nw] = (double)json_field_ll(body_of(ctl), "container_start_us") / 1e3;
                nw++;
                worker_clean(ctl); /* no worker container while the hand one runs */
            } else {
                uint64_t ns = hand_cold_once(i);
                hand_delete();
                if (!ns)
                    die("starting a container by hand failed");
                h[nh++] = (double)ns / 1e6;
                usleep(100000);
            }
        }
        fprintf(stderr, "  cold %d: worker %.1f ms, by hand %.1f ms\n", i + 1, w[nw - 1], h[nh - 1]);
    }
    for (int i = 0; i < N; i++)
        ratio[i] = w[i] / h[i];
    struct spread sw = spread_of(w, (size_t)N), sh = spread_of(h, (size_t)N), sws = spread_of(wstart, (size_t)N),
                  sr = spread_of(ratio, (size_t)N);
    double mr = sw.med / sh.med;
    printf("\ncold start                                       median   [   min    –    max   ] over %d starts\n", N);
    print_row("worker (client latency)", sw, "ms");
    print_row("  of which container_start_us", sws, "ms");
    print_row("by hand (spawn -> first answer)", sh, "ms");
    print_row("ratio per pair (worker / by hand)", sr, "x");
    printf("  %-40s %10.2f x\n", "ratio of medians", mr);
    printf("  %-40s %10.1f ms\n", "added (median worker - by hand)", sw.med - sh.med);
    json_t *ws = json_array(), *hs = json_array();
    for (int i = 0; i < N; i++) {
        json_array_append_new(ws, json_real(w[i]));
        json_array_append_new(hs, json_real(h[i]));
    }
    json_t *out = json_pack("{s:i, s:s, s:o, s:o, s:o, s:o, s:f, s:f, s:o, s:o}", "starts", N, "runtime",
                            opt.runtime_path, "worker_ms", spread_json(sw), "worker_container_start_ms",
                            spread_json(sws), "by_hand_ms", spread_json(sh), "ratio_per_pair", spread_json(sr),
                            "ratio_of_medians", mr, "added_median_ms", sw.med - sh.med, "worker_samples_ms", ws,
                            "by_hand_samples_ms", hs);
    free(w);
    free(h);
    free(wstart);
    free(ratio);
    return out;
}

/* ---- main ---- */

static bool find_binary(const char *name, char *out, size_t len)
{
    const char *dirs[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(out, len, "%s/%s", dirs[i], name);
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_worker --state-dir DIR [--host H] [--port P] [--reps N] [--requests N]\n"
                    "       [--warmup N] [--cold N] [--json FILE] [--function-dir DIR] [--runtime-path PATH]\n"
                    "       [--worker-pid PID] [--no-warm] [--no-cold]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},     {"port", 1, 0, 'p'},   {"state-dir", 1, 0, 's'}, {"reps", 1, 0, 'r'},
        {"requests", 1, 0, 'n'}, {"warmup", 1, 0, 'w'}, {"cold", 1, 0, 'c'},      {"json", 1, 0, 'j'},
        {"worker-pid", 1, 0, 'P'}, {"function-dir", 1, 0, 'f'}, {"runtime-path", 1, 0, 'R'}, {"no-warm", 0, 0, 'W'}, {"no-cold", 0, 0, 'C'},
        {0, 0, 0, 0}};
    const char *fdir = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (o) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 's': opt.state_dir = optarg; break;
        case 'r': opt.reps = atoi(optarg); break;
        case 'n': opt.requests = atoi(optarg); break;
        case 'w': opt.warmup = atoi(optarg); break;
        case 'c': opt.cold = atoi(optarg); break;
        case 'j': opt.json_path = optarg; break;
        case 'f': fdir = optarg; break;
        case 'P': opt.worker_pid = atoi(optarg); break;
        case 'R': snprintf(opt.runtime_path, sizeof opt.runtime_path, "%s", optarg); break;
        case 'W': opt.warm_on = false; break;
        case 'C': opt.cold_on = false; break;
        default: usage();
        }
    }
    if (!opt.state_dir || opt.reps < 1 || opt.requests < 1 || opt.warmup < 0 || opt.cold < 1)
        usage();
    if (fdir) {
        if (!realpath(fdir, opt.function_dir))
            die("function dir %s: %s", fdir, strerror(errno));
    } else { /* build/bench/bench_worker -> bench/functions/noop */
        char exe[PATH_MAX], want[PATH_MAX + 64];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n < 0)
            die("readlink /proc/self/exe: %s", strerror(errno));
        exe[n] = '\0';
        snprintf(want, sizeof want, "%s/../../bench/functions/noop", dirname(exe));
        if (!realpath(want, opt.function_dir))
            die("function dir %s: %s (use --function-dir)", want, strerror(errno));
    }
    snprintf(base_url, sizeof base_url, "http://%s:%d", opt.host, opt.port);
    raw_req_len = (size_t)snprintf(raw_req, sizeof raw_req,
                                   "POST /invoke HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                                   "Content-Length: %zu\r\n\r\n%s",
                                   opt.host, opt.port, strlen(invoke_body), invoke_body);

    /* Our by-hand containers' inits get reparented to us: reap them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    snprintf(hand_root, sizeof hand_root, "/tmp/ilu-bench-XXXXXX");
    if (!mkdtemp(hand_root))
        die("mkdtemp: %s", strerror(errno));
    atexit(cleanup_all);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct http ctl;
    http_init(&ctl);
    if (http_req(&ctl, "/status", NULL) != 200)
        die("no worker answers at %s (GET /status)", base_url);
    char runtime[32];
    json_field_str(body_of(&ctl), "runtime", runtime, sizeof runtime);
    if (!opt.runtime_path[0] && !find_binary(runtime[0] ? runtime : "runc", opt.runtime_path,
                                             sizeof opt.runtime_path))
        die("cannot find the runtime %s (use --runtime-path)", runtime);
    char body[PATH_MAX + 256];
    snprintf(body, sizeof body,
             "{\"function_name\":\"%s\",\"function_version\":\"%s\",\"image_name\":\"%s\",\"memory\":128,\"cpus\":1}",
             FN_NAME, FN_VERSION, opt.function_dir);
    long code = http_req(&ctl, "/register", body);
    if (code != 200)
        die("register: HTTP %ld %s", code, body_of(&ctl));

    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_worker %s: worker %s (runtime %s), %ld online CPUs, function %s\n", date, base_url, runtime, ncpu,
           opt.function_dir);
    json_t *root = json_pack("{s:s, s:s, s:s, s:i}", "date", date, "worker", base_url, "runtime", runtime,
                             "online_cpus", (int)ncpu);
    if (opt.warm_on)
        json_object_set_new(root, "warm", warm_bench(&ctl));
    if (opt.cold_on)
        json_object_set_new(root, "cold", cold_bench(&ctl));
    if (opt.json_path) {
        if (json_dump_file(root, opt.json_path, JSON_INDENT(2)) != 0)
            die("cannot write %s", opt.json_path);
        printf("\nJSON: %s\n", opt.json_path);
    }
    json_decref(root);
    json_decref(template_cfg);
    http_free(&ctl);
    curl_global_cleanup();
    return 0;
}
