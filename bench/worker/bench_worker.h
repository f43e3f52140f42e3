/* bench_worker, one binary from the files of bench/worker (usage in main.c):
 *   main.c    options, registering the function, the run, the JSON file
 *   common.c  options, clock, die, libcurl client, agent protocol, containers
 *   stats.c   percentiles and the spread over repetitions, rows and JSON
 *   warm.c    the warm phase (worker, direct, /ping, raw client, the HTTP
 *             floor of ../http_floor.h, the relay floor of ../relay_floor.h)
 *   cold.c    the cold phase (worker side, pairs with the by-hand side)
 *   hand.c    a container started by hand with the runtime, and its cleanup */
#ifndef BENCH_WORKER_H
#define BENCH_WORKER_H

#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_CLIENTS 2
#define FN_NAME     "bench-noop"
#define FN_VERSION  "1"
/* --functions N > 1: FN_NAME "-0" .. "-<N-1>", the same code, one warm
 * container each (warm.c) */
#define MAX_FUNCTIONS 1000

/* ---- common.c ---- */

struct bench_opt {
    const char *host;
    int port;
    const char *state_dir;
    char function_dir[PATH_MAX];
    const char *image; /* --image: register this OCI image reference instead of function_dir */
    const char *json_path;
    char runtime_path[PATH_MAX];
    int reps, requests, warmup, cold;
    bool warm_on, cold_on;
    int worker_pid;
    int functions; /* --functions: 1 = the one-function bench only */
};
extern struct bench_opt opt; /* set once by main, read by every phase */
extern char base_url[256];   /* http://host:port of the worker */
/* The body of every POST /invoke: the no-op function, no arguments. */
extern const char invoke_body[];

/* CLOCK_MONOTONIC in ns. */
uint64_t now_ns(void);
/* Print "bench_worker: <message>", remove the by-hand container, exit(1). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

struct buf {
    char *p;
    size_t len, cap;
};

/* One keep-alive libcurl handle to the worker. */
struct http {
    CURL *h;
    struct curl_slist *hdrs;
    struct buf body;
};

void http_init(struct http *c);
void http_free(struct http *c);
/* Returns the HTTP status (0 on transport error); the body is in c->body.p. */
long http_req(struct http *c, const char *path, const char *post);
/* The last answer's body, "" when none (borrowed from c). */
const char *body_of(struct http *c);
/* A numeric or string field of a flat JSON answer, found by text (no parse
 * on the hot path); -1 / "" when missing. */
long long json_field_ll(const char *text, const char *key);
void json_field_str(const char *text, const char *key, char *out, size_t len);

/* Connect to the agent socket of container cid under opt.state_dir; -1
 * when it does not answer (reported unless quiet). */
int agent_connect(const char *cid, bool quiet);
/* One invocation with args "{}"; 0 when the agent answered with a
 * user_result (the reply, NUL-terminated, in reply). */
int agent_invoke(int fd, char *reply, size_t cap);
/* Up to max containers with a live agent socket under opt.state_dir. */
int list_containers(char ids[][96], int max);

/* ---- stats.c ---- */

struct spread {
    double med, min, max;
};

int cmp_u64(const void *a, const void *b);
/* Nearest-rank percentile (q in (0, 1]) of a sorted array; NAN when n == 0. */
double pct_sorted_u64(const uint64_t *v, size_t n, double q);
/* Median, min and max of n values (v is not changed). */
struct spread spread_of(const double *v, size_t n);
json_t *spread_json(struct spread s);
/* "  <label>  median [min – max] unit" on stdout. */
void print_row(const char *label, struct spread s, const char *unit);
/* The same with two decimals (ratios). */
void print_row2(const char *label, struct spread s, const char *unit);

/* ---- hand.c ---- */

extern char hand_root[PATH_MAX];         /* own runtime root + bundles: /tmp/ilu-bench-XXXXXX (main) */
extern char hand_rootdir[PATH_MAX + 16]; /* the runtime's --root under it (cold_bench) */
extern json_t *template_cfg;             /* a worker-made config.json (load_template; main frees it) */

/* Delete the by-hand container alive now, if any, and its bundle. */
void hand_delete(void);
/* hand_delete, then remove hand_root; safe to call again (atexit, signals). */
void cleanup_all(void);
/* SIGINT / SIGTERM: clean up, then die of the signal. */
void on_signal(int sig);
/* Read a worker-made bundle's config.json into template_cfg (invoking once
 * if the worker has no container). */
void load_template(struct http *ctl);
/* Start container k by hand; returns spawn -> first answer in ns, or 0. */
uint64_t hand_cold_once(int k);

/* ---- warm.c ---- */

extern char raw_req[512]; /* POST /invoke as bytes, for the raw-socket client (main) */
extern size_t raw_req_len;
/* The warm phase: prints its table, returns its JSON. */
json_t *warm_bench(struct http *ctl);

/* ---- cold.c ---- */

/* The cold phase: prints its table, returns its JSON. */
json_t *cold_bench(struct http *ctl);

#endif
