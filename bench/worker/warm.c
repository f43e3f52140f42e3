/* bench_worker: the warm phase. Closed-loop no-op invocations with 1 and 2
 * clients through the worker (libcurl, and a raw-socket client), straight
 * to the agents of the same warm containers, GET /ping, and the transport
 * floor (http_floor.h) and the relay floor (relay_floor.h); sides alternate
 * within every repetition. With
 * --functions N > 1, also the raw-socket client over N distinct functions
 * (one warm container each, round robin) and the same clients straight to
 * those N agents, run back to back in every repetition after the rest. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../http_floor.h"
#include "../relay_floor.h"
#include "../proc_cpu.h"
#include "bench_worker.h"

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

char raw_req[512];
size_t raw_req_len;

/* POST /invoke (the request req, len bytes) on a keep-alive connection; 0 when
 * the answer is 200 + success. */
static int raw_invoke_req(int fd, const char *req, size_t len, char *buf, size_t cap)
{
    if (write(fd, req, len) != (ssize_t)len)
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

static int raw_invoke(int fd, char *buf, size_t cap)
{
    return raw_invoke_req(fd, raw_req, raw_req_len, buf, cap);
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
    /* the pid file names the container's init (tini): the agent is its child */
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, pid);
    if (pid > 0 && (f = fopen(path, "r"))) {
        int child = 0;
        if (fscanf(f, "%d", &child) == 1 && child > 0)
            pid = child;
        fclose(f);
    }
    return pid;
}

/* ---- warm phase ---- */

/* SIDE_FLOOR: the raw client against the in-process minimal responder
 * (http_floor.h), the cost of one loopback HTTP exchange. SIDE_RAW_N and
 * SIDE_DIRECT_N (--functions N > 1): the raw client through the worker and
 * the agent protocol straight to the agents, each request to the client's
 * next function. */
enum side {
    SIDE_WORKER,
    SIDE_DIRECT,
    SIDE_PING,
    SIDE_RAW,
    SIDE_FLOOR,
    SIDE_RELAY, /* the raw client through the relay floor (relay_floor.h) to the same agents */
    SIDE_RAW_N,
    SIDE_DIRECT_N,
    SIDE_COUNT
};

static struct http_floor floor_srv;
static struct relay_floor relay_srv;

/* The N functions of --functions: their warm container, its agent, and
 * POST /invoke as bytes for each. */
static struct {
    int n;
    char (*cid)[96];
    int *agent_pid;
    char (*req)[512];
    size_t *req_len;
} fns;

struct client {
    int idx;
    struct http http; /* keep-alive connection to the worker */
    int sock;         /* connection to its container's agent */
    int tcp;          /* raw keep-alive TCP connection to the worker */
    int floor_tcp;    /* raw keep-alive TCP connection to the floor responder */
    int relay_tcp;    /* raw keep-alive TCP connection to the relay floor */
    char cid[96];     /* that container */
    int *nsock;       /* --functions: a connection to each function's agent */
    int fn_next;      /* next function of this client in SIDE_*_N */
    int fn_stride;    /* functions fn_next, +stride, ... (mod-wrapped to this client's own) */
    /* one run */
    enum side side;
    int n, warmup;
    uint64_t *lat_ns;    /* n */
    uint64_t *srv_total; /* worker side: timings.total_us */
    uint64_t *srv_agent; /* worker side: timings.agent_round_trip_us */
    uint64_t t_start, t_end;
    int errors;
    char last_cid[96];
    int agent_pid;
    uint64_t cpu_ns; /* this client thread's CPU over the whole run */
    pthread_barrier_t *barrier;
};

/* The client's next function: client i of n takes i, i+n, i+2n, ... < N and
 * wraps to i, so concurrent clients never ask for the same function (no
 * second container, no queueing behind the other client). */
static int next_fn(struct client *c)
{
    int f = c->fn_next;
    c->fn_next = f + c->fn_stride < fns.n ? f + c->fn_stride : c->idx;
    return f;
}

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
        else if (c->side == SIDE_RELAY)
            raw_invoke(c->relay_tcp, reply, sizeof reply);
        else if (c->side == SIDE_RAW_N) {
            int f = next_fn(c);
            raw_invoke_req(c->tcp, fns.req[f], fns.req_len[f], reply, sizeof reply);
        } else if (c->side == SIDE_DIRECT_N)
            agent_invoke(c->nsock[next_fn(c)], reply, sizeof reply);
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
        } else if (c->side == SIDE_RAW || c->side == SIDE_FLOOR || c->side == SIDE_RELAY) {
            int fd = c->side == SIDE_RAW ? c->tcp : c->side == SIDE_FLOOR ? c->floor_tcp : c->relay_tcp;
            ok = raw_invoke(fd, reply, sizeof reply) == 0;
            c->lat_ns[i] = now_ns() - t0;
        } else if (c->side == SIDE_RAW_N) {
            int f = next_fn(c);
            ok = raw_invoke_req(c->tcp, fns.req[f], fns.req_len[f], reply, sizeof reply) == 0;
            c->lat_ns[i] = now_ns() - t0;
        } else if (c->side == SIDE_DIRECT_N) {
            ok = agent_invoke(c->nsock[next_fn(c)], reply, sizeof reply) == 0;
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
                    c->side == SIDE_DIRECT || c->side == SIDE_DIRECT_N ? "direct"
                    : c->side == SIDE_FLOOR                            ? "floor"
                    : c->side == SIDE_RELAY                            ? "relay"
                                                                       : "worker",
                    c->side == SIDE_WORKER || c->side == SIDE_PING ? body_of(&c->http) : reply);
    }
    c->t_end = now_ns();
    c->cpu_ns = thread_cpu_ns() - cpu0;
    return NULL;
}

struct warm_result { /* one side, one client count, one repetition */
    double p50_us, p99_us, mean_us, tput;
    double srv_total_p50_us, srv_agent_p50_us; /* worker side only */
    int errors;
    double cpu_client_us, cpu_worker_us, cpu_agent_us; /* CPU per request */
};

/* CPU so far of what stands between client and agent on side (ns). */
static uint64_t side_cpu_ns(enum side side)
{
    return side == SIDE_FLOOR   ? http_floor_cpu_ns(&floor_srv)
           : side == SIDE_RELAY ? relay_floor_cpu_ns(&relay_srv)
                                : proc_cpu_ns(opt.worker_pid);
}

static struct warm_result run_side(struct client *cl, int nclients, enum side side)
{
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nclients);
    pthread_t th[MAX_CLIENTS];
    /* For the floors, "worker" CPU is that of the responder's threads, or of
     * the relay's thread. */
    bool many = side == SIDE_RAW_N || side == SIDE_DIRECT_N;
    uint64_t wcpu0 = side_cpu_ns(side), acpu0 = 0;
    for (int i = 0; i < MAX_CLIENTS; i++) /* all: the worker picks the container */
        acpu0 += many ? 0 : proc_cpu_ns(cl[i].agent_pid);
    for (int f = 0; many && f < fns.n; f++)
        acpu0 += proc_cpu_ns(fns.agent_pid[f]);
    for (int i = 0; i < nclients; i++) {
        cl[i].fn_next = i; /* this client's functions: i, i + nclients, ... */
        cl[i].fn_stride = nclients;
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
    uint64_t wcpu1 = side_cpu_ns(side), acpu1 = 0, ccpu = 0;
    for (int i = 0; i < MAX_CLIENTS; i++)
        acpu1 += many ? 0 : proc_cpu_ns(cl[i].agent_pid);
    for (int f = 0; many && f < fns.n; f++)
        acpu1 += proc_cpu_ns(fns.agent_pid[f]);
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
    r.cpu_worker_us =
        opt.worker_pid > 0 || side == SIDE_FLOOR || side == SIDE_RELAY ? (double)(wcpu1 - wcpu0) / nreq / 1e3 : NAN;
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

/* --functions N > 1: one warm container per function (POST /prewarm, then one
 * POST /invoke to learn which container it is), its agent's pid, and a
 * connection from every client to every agent. */
static void many_setup(struct http *ctl, struct client *cl)
{
    int n = opt.functions;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) { /* MAX_CLIENTS x N agent sockets */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    fns.n = n;
    fns.cid = calloc((size_t)n, sizeof *fns.cid);
    fns.agent_pid = calloc((size_t)n, sizeof *fns.agent_pid);
    fns.req = calloc((size_t)n, sizeof *fns.req);
    fns.req_len = calloc((size_t)n, sizeof *fns.req_len);
    if (!fns.cid || !fns.agent_pid || !fns.req || !fns.req_len)
        die("out of memory");
    fprintf(stderr, "bench_worker: prewarming %d functions %s-0..%d\n", n, FN_NAME, n - 1);
    uint64_t t0 = now_ns();
    for (int f = 0; f < n; f++) {
        char body[256];
        int blen = snprintf(body, sizeof body, "{\"function_name\":\"%s-%d\",\"function_version\":\"%s\"}", FN_NAME, f,
                            FN_VERSION);
        long code = http_req(ctl, "/prewarm", body);
        if (code != 200)
            die("prewarm %s-%d: HTTP %ld %s", FN_NAME, f, code, body_of(ctl));
        code = http_req(ctl, "/invoke", body);
        if (code != 200 || !strstr(body_of(ctl), "\"success\":true"))
            die("invoke %s-%d: HTTP %ld %s", FN_NAME, f, code, body_of(ctl));
        json_field_str(body_of(ctl), "container_id", fns.cid[f], sizeof fns.cid[f]);
        if (!fns.cid[f][0])
            die("invoke %s-%d: no container_id in %s", FN_NAME, f, body_of(ctl));
        for (int g = 0; g < f; g++)
            if (strcmp(fns.cid[g], fns.cid[f]) == 0)
                die("%s-%d and %s-%d share container %s", FN_NAME, g, FN_NAME, f, fns.cid[f]);
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (strcmp(cl[i].cid, fns.cid[f]) == 0)
                die("%s-%d ran in a container of %s", FN_NAME, f, FN_NAME);
        fns.agent_pid[f] = agent_pid_of(fns.cid[f]);
        fns.req_len[f] = (size_t)snprintf(fns.req[f], sizeof fns.req[f],
                                          "POST /invoke HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                                          "Content-Length: %d\r\n\r\n%s",
                                          opt.host, opt.port, blen, body);
    }
    for (int i = 0; i < MAX_CLIENTS; i++) {
        cl[i].nsock = calloc((size_t)n, sizeof *cl[i].nsock);
        if (!cl[i].nsock)
            die("out of memory");
        for (int f = 0; f < n; f++)
            if ((cl[i].nsock[f] = agent_connect(fns.cid[f], false)) < 0)
                die("cannot connect to the agent of %s (%s-%d)", fns.cid[f], FN_NAME, f);
    }
    fprintf(stderr, "bench_worker: %d functions warm in %.1f s, %d agent connections per client\n", n,
            (double)(now_ns() - t0) / 1e9, n);
}

json_t *warm_bench(struct http *ctl)
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
    /* the relay floor speaks to the same agents (its own connections),
     * client i to cl[i]'s */
    int relay_agents[MAX_CLIENTS];
    for (int i = 0; i < MAX_CLIENTS; i++)
        if ((relay_agents[i] = agent_connect(cl[i].cid, false)) < 0)
            die("cannot connect the relay floor to the agent of %s", cl[i].cid);
    if (relay_floor_start_agents(&relay_srv, relay_agents, MAX_CLIENTS) != 0)
        die("cannot start the relay floor: %s", strerror(errno));
    for (int i = 0; i < MAX_CLIENTS; i++) /* in order: the relay pairs its k-th connection with cl[k] */
        cl[i].relay_tcp = tcp_connect("127.0.0.1", relay_srv.port);
    if (opt.functions > 1)
        many_setup(ctl, cl);

    int nconf = 2, conf[2] = {1, 2};
    int R = opt.reps;
    struct warm_result(*res)[2][SIDE_COUNT] = calloc((size_t)R, sizeof *res); /* [rep][conf][side] */
    printf("warm: %d repetitions x %d requests per client (after %d warm-up), sides alternating\n", R, opt.requests,
           opt.warmup);
    if (fns.n)
        printf("warm, %d functions: raw-socket client via the worker and direct to the %d agents, back to back\n"
               "  after the one-function sides in every repetition; client i of n takes functions i, i+n, ...\n",
               fns.n, fns.n);
    fflush(stdout);
    for (int r = 0; r < R; r++) {
        for (int k = 0; k < nconf; k++) {
            int n = conf[k];
            enum side first = (r + k) % 2 ? SIDE_DIRECT : SIDE_WORKER;
            enum side second = first == SIDE_WORKER ? SIDE_DIRECT : SIDE_WORKER;
            res[r][k][first] = run_side(cl, n, first);
            res[r][k][second] = run_side(cl, n, second);
            res[r][k][SIDE_PING] = run_side(cl, n, SIDE_PING); /* HTTP floor, no agent */
            /* worker without libcurl, the transport floor and the relay
             * floor with the same client, back to back, order rotated */
            enum side trio[3] = {SIDE_RAW, SIDE_FLOOR, SIDE_RELAY};
            for (int t = 0; t < 3; t++) {
                enum side sd = trio[(t + r + k) % 3];
                res[r][k][sd] = run_side(cl, n, sd);
            }
            fprintf(
                stderr,
                "  rep %d, %d client(s): worker p50 %.1f p99 %.1f us (%.0f/s) | direct p50 %.1f p99 %.1f us (%.0f/s)\n",
                r + 1, n, res[r][k][0].p50_us, res[r][k][0].p99_us, res[r][k][0].tput, res[r][k][1].p50_us,
                res[r][k][1].p99_us, res[r][k][1].tput);
            fprintf(stderr,
                    "                       raw client: worker p50 %.1f us | floor p50 %.1f us | relay p50 %.1f us\n",
                    res[r][k][SIDE_RAW].p50_us, res[r][k][SIDE_FLOOR].p50_us, res[r][k][SIDE_RELAY].p50_us);
            if (fns.n) { /* N functions: through the worker and straight to the N agents, order flipped */
                enum side m = (r + k) % 2 ? SIDE_DIRECT_N : SIDE_RAW_N,
                          e = m == SIDE_RAW_N ? SIDE_DIRECT_N : SIDE_RAW_N;
                res[r][k][m] = run_side(cl, n, m);
                res[r][k][e] = run_side(cl, n, e);
                struct warm_result *x = &res[r][k][SIDE_RAW], *xm = &res[r][k][SIDE_RAW_N],
                                   *dm = &res[r][k][SIDE_DIRECT_N];
                fprintf(
                    stderr,
                    "                       %d functions: raw client p50 %.1f p99 %.1f us (%.0f/s, %.2fx of 1 fn) | "
                    "direct p50 %.1f us (%.0f/s)\n",
                    fns.n, xm->p50_us, xm->p99_us, xm->tput, xm->tput / x->tput, dm->p50_us, dm->tput);
            }
        }
    }

    json_t *out = json_object();
    json_object_set_new(out, "repetitions", json_integer(R));
    json_object_set_new(out, "requests_per_client", json_integer(opt.requests));
    json_object_set_new(out, "warmup_per_client", json_integer(opt.warmup));
    json_t *confs = json_array();
    double *v = malloc((size_t)R * sizeof *v);
#define COLLECT(expr)                                                                                                 \
    ({                                                                                                                \
        for (int r_ = 0; r_ < R; r_++) {                                                                              \
            struct warm_result *w = &res[r_][k][SIDE_WORKER], *d = &res[r_][k][SIDE_DIRECT],                          \
                               *g = &res[r_][k][SIDE_PING], *x = &res[r_][k][SIDE_RAW], *f = &res[r_][k][SIDE_FLOOR], \
                               *xm = &res[r_][k][SIDE_RAW_N], *dm = &res[r_][k][SIDE_DIRECT_N],                       \
                               *y = &res[r_][k][SIDE_RELAY];                                                          \
            (void)y;                                                                                                  \
            (void)xm;                                                                                                 \
            (void)dm;                                                                                                 \
            (void)x;                                                                                                  \
            (void)f;                                                                                                  \
            (void)w;                                                                                                  \
            (void)d;                                                                                                  \
            (void)g;                                                                                                  \
            v[r_] = (expr);                                                                                           \
        }                                                                                                             \
        spread_of(v, (size_t)R);                                                                                      \
    })
    for (int k = 0; k < nconf; k++) {
        struct spread wp50 = COLLECT(w->p50_us), wp99 = COLLECT(w->p99_us), dp50 = COLLECT(d->p50_us),
                      dp99 = COLLECT(d->p99_us), rat50 = COLLECT(w->p50_us / d->p50_us),
                      rat99 = COLLECT(w->p99_us / d->p99_us), add50 = COLLECT(w->p50_us - d->p50_us),
                      add99 = COLLECT(w->p99_us - d->p99_us), wt = COLLECT(w->tput), dt = COLLECT(d->tput),
                      wmean = COLLECT(w->mean_us), dmean = COLLECT(d->mean_us), stot = COLLECT(w->srv_total_p50_us),
                      sag = COLLECT(w->srv_agent_p50_us), sin = COLLECT(w->srv_total_p50_us - w->srv_agent_p50_us),
                      err = COLLECT((double)(w->errors + d->errors + x->errors + f->errors + y->errors)),
                      gp50 = COLLECT(g->p50_us), gp99 = COLLECT(g->p99_us), gt = COLLECT(g->tput),
                      xp50 = COLLECT(x->p50_us), xp99 = COLLECT(x->p99_us), xt = COLLECT(x->tput),
                      xadd50 = COLLECT(x->p50_us - d->p50_us), xadd99 = COLLECT(x->p99_us - d->p99_us),
                      cw_c = COLLECT(w->cpu_client_us), cw_w = COLLECT(w->cpu_worker_us),
                      cw_a = COLLECT(w->cpu_agent_us), cd_c = COLLECT(d->cpu_client_us),
                      cd_a = COLLECT(d->cpu_agent_us), cg_c = COLLECT(g->cpu_client_us),
                      cg_w = COLLECT(g->cpu_worker_us), cx_c = COLLECT(x->cpu_client_us),
                      cx_w = COLLECT(x->cpu_worker_us), cx_a = COLLECT(x->cpu_agent_us), fp50 = COLLECT(f->p50_us),
                      fp99 = COLLECT(f->p99_us), ft = COLLECT(f->tput),
                      over50 = COLLECT(x->p50_us - f->p50_us - d->p50_us),
                      fshare = COLLECT(100.0 * f->p50_us / (x->p50_us - d->p50_us)), cf_c = COLLECT(f->cpu_client_us),
                      cf_s = COLLECT(f->cpu_worker_us), yp50 = COLLECT(y->p50_us), yp99 = COLLECT(y->p99_us),
                      yt = COLLECT(y->tput), yadd50 = COLLECT(y->p50_us - d->p50_us),
                      xover_y = COLLECT(x->p50_us - y->p50_us), cy_c = COLLECT(y->cpu_client_us),
                      cy_s = COLLECT(y->cpu_worker_us), cy_a = COLLECT(y->cpu_agent_us),
                      cx_over_y = COLLECT(x->cpu_worker_us / y->cpu_worker_us), xt_over_y = COLLECT(x->tput / y->tput);
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
        print_row("relay floor p50 (raw client)", yp50, "us");
        print_row("relay floor p99 (raw client)", yp99, "us");
        print_row("  relay throughput", yt, "inv/s");
        print_row("  relay added p50 (relay - direct)", yadd50, "us");
        print_row("worker over relay p50 (raw - relay)", xover_y, "us");
        print_row2("worker CPU / relay CPU per request", cx_over_y, "x");
        print_row2("worker throughput / relay throughput", xt_over_y, "x");
        printf("  CPU per request (us): client / worker / agent\n");
        printf("    %-32s %6.1f / %6.1f / %6.1f\n", "via worker (libcurl)", cw_c.med, cw_w.med, cw_a.med);
        printf("    %-32s %6.1f / %6.1f / %6.1f\n", "via worker (raw client)", cx_c.med, cx_w.med, cx_a.med);
        printf("    %-32s %6.1f /    -   / %6.1f\n", "direct to agent", cd_c.med, cd_a.med);
        printf("    %-32s %6.1f / %6.1f /    -\n", "GET /ping (libcurl)", cg_c.med, cg_w.med);
        printf("    %-32s %6.1f / %6.1f /    -   (responder threads)\n", "TCP HTTP floor (raw client)", cf_c.med,
               cf_s.med);
        printf("    %-32s %6.1f / %6.1f / %6.1f (relay thread)\n", "relay floor (raw client)", cy_c.med, cy_s.med,
               cy_a.med);
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
        json_object_set_new(
            j, "cpu_us_per_request",
            json_pack("{s:{s:o, s:o, s:o}, s:{s:o, s:o}, s:{s:o, s:o}, s:{s:o, s:o}}", "via_worker", "client",
                      spread_json(cw_c), "worker", spread_json(cw_w), "agent", spread_json(cw_a), "direct", "client",
                      spread_json(cd_c), "agent", spread_json(cd_a), "ping", "client", spread_json(cg_c), "worker",
                      spread_json(cg_w), "raw_client", "client", spread_json(cx_c), "worker", spread_json(cx_w)));
        json_object_set_new(json_object_get(j, "cpu_us_per_request"), "floor",
                            json_pack("{s:o, s:o}", "client", spread_json(cf_c), "responder", spread_json(cf_s)));
        json_object_set_new(json_object_get(j, "cpu_us_per_request"), "relay",
                            json_pack("{s:o, s:o, s:o}", "client", spread_json(cy_c), "relay", spread_json(cy_s),
                                      "agent", spread_json(cy_a)));
        json_object_set_new(j, "relay_p50_us", spread_json(yp50));
        json_object_set_new(j, "relay_p99_us", spread_json(yp99));
        json_object_set_new(j, "relay_throughput_per_s", spread_json(yt));
        json_object_set_new(j, "relay_added_p50_us", spread_json(yadd50));
        json_object_set_new(j, "rawclient_over_relay_p50_us", spread_json(xover_y));
        json_object_set_new(j, "worker_cpu_over_relay_cpu", spread_json(cx_over_y));
        json_object_set_new(j, "rawclient_over_relay_throughput", spread_json(xt_over_y));
        json_t *reps = json_array();
        for (int r = 0; r < R; r++)
            json_array_append_new(
                reps, json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "worker_p50_us", res[r][k][0].p50_us,
                                "worker_p99_us", res[r][k][0].p99_us, "worker_tput", res[r][k][0].tput, "direct_p50_us",
                                res[r][k][1].p50_us, "direct_p99_us", res[r][k][1].p99_us, "direct_tput",
                                res[r][k][1].tput, "rawclient_worker_p50_us", res[r][k][SIDE_RAW].p50_us,
                                "floor_p50_us", res[r][k][SIDE_FLOOR].p50_us));
        json_object_set_new(j, "per_rep", reps);
        if (fns.n) {
            struct spread mp50 = COLLECT(xm->p50_us), mp99 = COLLECT(xm->p99_us), mt = COLLECT(xm->tput),
                          mrt = COLLECT(xm->tput / x->tput), mr50 = COLLECT(xm->p50_us / x->p50_us),
                          mr99 = COLLECT(xm->p99_us / x->p99_us), ep50 = COLLECT(dm->p50_us),
                          ep99 = COLLECT(dm->p99_us), et = COLLECT(dm->tput), ert = COLLECT(dm->tput / d->tput),
                          mfl = COLLECT(xm->tput / dm->tput), madd50 = COLLECT(xm->p50_us - dm->p50_us),
                          madd99 = COLLECT(xm->p99_us - dm->p99_us), merr = COLLECT((double)(xm->errors + dm->errors)),
                          cm_c = COLLECT(xm->cpu_client_us), cm_w = COLLECT(xm->cpu_worker_us),
                          cm_a = COLLECT(xm->cpu_agent_us), ce_c = COLLECT(dm->cpu_client_us),
                          ce_a = COLLECT(dm->cpu_agent_us);
            char l[9][64];
            snprintf(l[0], sizeof l[0], "%d functions: raw client p50", fns.n);
            snprintf(l[1], sizeof l[1], "%d functions: raw client p99", fns.n);
            snprintf(l[2], sizeof l[2], "%d functions: raw client throughput", fns.n);
            snprintf(l[3], sizeof l[3], "  ratio tput (%d fns / 1 fn, raw)", fns.n);
            snprintf(l[4], sizeof l[4], "  ratio p50 (%d fns / 1 fn, raw)", fns.n);
            snprintf(l[8], sizeof l[8], "  ratio p99 (%d fns / 1 fn, raw)", fns.n);
            snprintf(l[5], sizeof l[5], "direct to %d agents p50", fns.n);
            snprintf(l[6], sizeof l[6], "direct to %d agents p99", fns.n);
            snprintf(l[7], sizeof l[7], "direct to %d agents throughput", fns.n);
            printf("  -- %d distinct functions, round robin (same run) --\n", fns.n);
            print_row(l[0], mp50, "us");
            print_row(l[1], mp99, "us");
            print_row(l[2], mt, "inv/s");
            print_row2(l[3], mrt, "x");
            print_row2(l[4], mr50, "x");
            print_row2(l[8], mr99, "x");
            print_row(l[5], ep50, "us");
            print_row(l[6], ep99, "us");
            print_row(l[7], et, "inv/s");
            print_row2("  ratio tput (N agents / 1 agent, direct)", ert, "x");
            print_row2("  worker (N fns, raw) / direct (N agents)", mfl, "x");
            print_row("  added p50 (raw N fns - direct N)", madd50, "us");
            print_row("  added p99 (raw N fns - direct N)", madd99, "us");
            printf("  CPU per request (us): client / worker / agent\n");
            printf("    %-32s %6.1f / %6.1f / %6.1f\n", "via worker, N fns (raw client)", cm_c.med, cm_w.med, cm_a.med);
            printf("    %-32s %6.1f /    -   / %6.1f\n", "direct to N agents", ce_c.med, ce_a.med);
            if (merr.max > 0)
                print_row("errors (N functions)", merr, "");
            json_t *m = json_object();
            json_object_set_new(m, "functions", json_integer(fns.n));
            json_object_set_new(m, "rawclient_worker_p50_us", spread_json(mp50));
            json_object_set_new(m, "rawclient_worker_p99_us", spread_json(mp99));
            json_object_set_new(m, "rawclient_worker_throughput_per_s", spread_json(mt));
            json_object_set_new(m, "rawclient_throughput_ratio_vs_one_function", spread_json(mrt));
            json_object_set_new(m, "rawclient_p50_ratio_vs_one_function", spread_json(mr50));
            json_object_set_new(m, "rawclient_p99_ratio_vs_one_function", spread_json(mr99));
            json_object_set_new(m, "direct_p50_us", spread_json(ep50));
            json_object_set_new(m, "direct_p99_us", spread_json(ep99));
            json_object_set_new(m, "direct_throughput_per_s", spread_json(et));
            json_object_set_new(m, "direct_throughput_ratio_vs_one_agent", spread_json(ert));
            json_object_set_new(m, "rawclient_over_direct_throughput_ratio", spread_json(mfl));
            json_object_set_new(m, "rawclient_added_p50_us", spread_json(madd50));
            json_object_set_new(m, "rawclient_added_p99_us", spread_json(madd99));
            json_object_set_new(m, "errors", spread_json(merr));
            json_object_set_new(m, "cpu_us_per_request",
                                json_pack("{s:{s:o, s:o, s:o}, s:{s:o, s:o}}", "raw_client", "client",
                                          spread_json(cm_c), "worker", spread_json(cm_w), "agent", spread_json(cm_a),
                                          "direct", "client", spread_json(ce_c), "agent", spread_json(ce_a)));
            for (int r = 0; r < R; r++) {
                json_t *add =
                    json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "rawclient_worker_tput", res[r][k][SIDE_RAW].tput,
                              "many_rawclient_p50_us", res[r][k][SIDE_RAW_N].p50_us, "many_rawclient_p99_us",
                              res[r][k][SIDE_RAW_N].p99_us, "many_rawclient_tput", res[r][k][SIDE_RAW_N].tput,
                              "many_direct_p50_us", res[r][k][SIDE_DIRECT_N].p50_us, "many_direct_tput",
                              res[r][k][SIDE_DIRECT_N].tput);
                json_object_update(json_array_get(reps, (size_t)r), add);
                json_decref(add);
            }
            json_object_set_new(j, "many_functions", m);
        }
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
        close(cl[i].relay_tcp);
        free(cl[i].lat_ns);
        free(cl[i].srv_total);
        free(cl[i].srv_agent);
        for (int f = 0; cl[i].nsock && f < fns.n; f++)
            close(cl[i].nsock[f]);
        free(cl[i].nsock);
    }
    free(fns.cid);
    free(fns.agent_pid);
    free(fns.req);
    free(fns.req_len);
    memset(&fns, 0, sizeof fns);
    http_floor_stop(&floor_srv);
    relay_floor_stop(&relay_srv);
    return out;
}
