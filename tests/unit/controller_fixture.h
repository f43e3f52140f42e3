/* What the tests/unit/test_controller_*.c files share: the controller core
 * driven by the fake env (fake.h: virtual clock, timers) and a fake
 * transport (fake_transport.h: every send recorded and answered by the
 * test), plus helpers to register workers and functions and to invoke.
 * Status polls run every 100 ms from T0; nothing is answered unless a test
 * says so. */
#ifndef CONTROLLER_FIXTURE_H
#define CONTROLLER_FIXTURE_H

#include "fake.h"
#include "fake_transport.h"

#include "controller/controller.h"
#include "controller/controller_config.h"

#define T0   (1 * SEC)
#define FREQ (100 * MS)

#define REG     ILU_CTL_REGISTER
#define INV     ILU_CTL_INVOKE
#define PREWARM ILU_CTL_PREWARM
#define STATUS  ILU_CTL_STATUS

#define IDLE "{\"cpu_queue_len\":0,\"num_running_funcs\":0}"

struct world {
    struct fake_env fe;
    struct fake_transport ft;
    struct fake_store st;
    bool use_store;
    struct ilu_controller_config cfg;
    struct ilu_controller *c;
};

static inline void world_init(struct world *W, const char *algorithm)
{
    memset(W, 0, sizeof *W);
    fake_env_init(&W->fe, T0);
    ft_init(&W->ft);
    fake_store_init(&W->st);
    ilu_controller_config_defaults(&W->cfg);
    snprintf(W->cfg.name, sizeof W->cfg.name, "ctl");
    snprintf(W->cfg.load_balancer.algorithm, sizeof W->cfg.load_balancer.algorithm, "%s", algorithm);
    W->cfg.health.status_freq_ms = 100;
    W->cfg.health.failures_to_unhealthy = 2;
    W->cfg.health.request_timeout_ms = 50;
    W->cfg.invocation.timeout_sec = 10;
    W->cfg.invocation.async_retries = 1;
    W->cfg.invocation.async_result_ttl_sec = 5;
}

static inline struct ilu_controller *world_start(struct world *W)
{
    struct ilu_error err = {0};
    W->c = ilu_controller_new(&W->cfg, &W->fe.env, &W->ft.t, W->use_store ? &W->st.s : NULL, &W->fe.log, &err);
    if (!W->c)
        fail_msg("ilu_controller_new: %s", err.msg);
    return W->c;
}

/* Answer whatever is still pending (200, "{}"), free the controller and
 * check it left no timer and freed every worker it added. */
static inline void world_end(struct world *W)
{
    for (int round = 0; round < 100 && ft_pending(&W->ft, -1, NULL); round++)
        ft_reply_all(&W->ft, -1, NULL, 200, "{}");
    assert_int_equal(ft_pending(&W->ft, -1, NULL), 0);
    ilu_controller_free(W->c);
    W->c = NULL;
    assert_int_equal(fake_n_timers(&W->fe), 0);
    assert_int_equal(W->ft.added, W->ft.freed);
    assert_int_equal(W->ft.bad_sends, 0);
    ft_destroy(&W->ft);
    fake_store_destroy(&W->st);
    fake_env_destroy(&W->fe);
}

static inline int add_worker_at(struct world *W, const char *name, uint32_t port, bool persist, struct ilu_error *err)
{
    struct ilu_ctl_worker_info info = {.name = name, .host = "10.0.0.7", .port = port, .cpus = 2, .memory_mb = 2048};
    return ilu_controller_register_worker(W->c, &info, persist, "tw", err);
}

static inline void add_worker(struct world *W, const char *name)
{
    struct ilu_error err = {0};
    if (add_worker_at(W, name, 8071, false, &err))
        fail_msg("register_worker %s: %s", name, err.msg);
}

/* Registered and answered one good status poll. */
static inline void healthy_worker(struct world *W, const char *name)
{
    add_worker(W, name);
    ft_reply_to(&W->ft, STATUS, name, 200, IDLE);
}

/* The worker's entry in workers_json: a string or integer field. */
static inline json_t *worker_entry(struct world *W, const char *name, json_t **list)
{
    *list = ilu_controller_workers_json(W->c);
    size_t i;
    json_t *o;
    json_array_foreach(*list, i, o) if (!strcmp(json_string_value(json_object_get(o, "name")), name)) return o;
    json_decref(*list);
    fail_msg("worker %s not listed", name);
    return NULL;
}

static inline const char *health(struct world *W, const char *name)
{
    static char health_buf[32];
    json_t *list, *o = worker_entry(W, name, &list);
    snprintf(health_buf, sizeof health_buf, "%s", json_string_value(json_object_get(o, "health")));
    json_decref(list);
    return health_buf;
}

static inline long long worker_int(struct world *W, const char *name, const char *key)
{
    json_t *list, *o = worker_entry(W, name, &list);
    long long v = fake_json_int(o, key);
    json_decref(list);
    return v;
}

static inline size_t n_workers_listed(struct world *W)
{
    json_t *list = ilu_controller_workers_json(W->c);
    size_t n = json_array_size(list);
    json_decref(list);
    return n;
}

static inline long long ctl_status(struct world *W, const char *key)
{
    json_t *s = ilu_controller_status_json(W->c);
    long long v = fake_json_int(s, key);
    json_decref(s);
    return v;
}

/* ---- registrations ----------------------------------------------------------- */

struct reg_rec {
    unsigned calls, accepted, refused;
    bool has_error;
    char first_error[400];
    bool not_kept;
    char not_kept_msg[480];
};

static inline void reg_done(void *arg, unsigned accepted, unsigned refused, const char *first_error,
                            const struct ilu_error *not_kept)
{
    struct reg_rec *r = arg;
    r->calls++;
    r->not_kept = not_kept != NULL;
    snprintf(r->not_kept_msg, sizeof r->not_kept_msg, "%s", not_kept ? not_kept->msg : "");
    r->accepted = accepted;
    r->refused = refused;
    r->has_error = first_error != NULL;
    snprintf(r->first_error, sizeof r->first_error, "%s", first_error ? first_error : "");
}

static inline json_t *registration(const char *name, const char *image, int memory, int cpus)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:i}", "function_name", name, "function_version", "1", "image_name", image,
                     "memory", memory, "cpus", cpus);
}

static inline int reg_fn_full(struct world *W, const char *name, const char *image, int memory, int cpus, bool persist,
                              struct reg_rec *rec, struct ilu_error *err)
{
    json_t *r = registration(name, image, memory, cpus);
    int rc = ilu_controller_register_function(W->c, r, persist, "tr", rec ? reg_done : NULL, rec, err);
    json_decref(r);
    return rc;
}

static inline void reg_fn(struct world *W, const char *name, struct reg_rec *rec)
{
    struct ilu_error err = {0};
    if (reg_fn_full(W, name, "/fn/hello", 128, 1, false, rec, &err))
        fail_msg("register_function %s: %s", name, err.msg);
}

/* Start the controller with healthy workers w1 .. wn and function f
 * registered on each of them (kept once a worker accepts it). */
static inline void world_start_with_f(struct world *W, unsigned n_workers)
{
    world_start(W);
    for (unsigned i = 1; i <= n_workers; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%u", i);
        healthy_worker(W, name);
    }
    reg_fn(W, "f", NULL);
    ft_reply_all(&W->ft, REG, NULL, 200, "{}");
}

/* function_name of the i-th send's body. */
static inline const char *body_fn(struct world *W, long i)
{
    assert_true(i >= 0 && (size_t)i < W->ft.n);
    return fake_json_str(W->ft.sends[i].body, "function_name");
}

/* Names of the functions in the REGISTER sends to worker, in order, joined
 * by commas. */
static inline const char *registered_on(struct world *W, const char *worker)
{
    static char buf[512];
    buf[0] = 0;
    for (size_t i = 0; i < W->ft.n; i++)
        if (W->ft.sends[i].call == REG && !strcmp(W->ft.sends[i].worker, worker)) {
            size_t len = strlen(buf);
            snprintf(buf + len, sizeof buf - len, "%s%s", len ? "," : "", body_fn(W, (long)i));
        }
    return buf;
}

/* ---- invocations ---------------------------------------------------------------- */

struct inv_rec {
    unsigned calls;
    int status;
    json_t *answer;
    char *worker_text; /* a copy of the worker's answer bytes the core handed on, NULL: none */
};

static inline void inv_done(void *arg, int status, json_t *answer, struct ilu_ctl_text worker_text)
{
    struct inv_rec *r = arg;
    r->calls++;
    r->status = status;
    json_decref(r->answer);
    r->answer = json_incref(answer);
    free(r->worker_text);
    r->worker_text = worker_text.data ? strndup(worker_text.data, worker_text.len) : NULL;
}

static inline void inv_clear(struct inv_rec *r)
{
    json_decref(r->answer);
    free(r->worker_text);
    memset(r, 0, sizeof *r);
}

/* The invocation was answered status with this error_kind. */
static inline void expect_error_answer(const struct inv_rec *ir, int status, const char *error_kind)
{
    assert_int_equal(ir->status, status);
    assert_string_equal(fake_json_str(ir->answer, "error_kind"), error_kind);
}

static inline json_t *invoke_body(const char *name)
{
    return json_pack("{s:s, s:s, s:s}", "function_name", name, "function_version", "1", "arguments", "{\"n\":3}");
}

static inline int invoke(struct world *W, const char *name, struct inv_rec *rec, struct ilu_error *err)
{
    json_t *b = invoke_body(name);
    int rc = ilu_controller_invoke(W->c, b, (struct ilu_ctl_text){0}, "t-1", inv_done, rec, err);
    json_decref(b);
    return rc;
}

static inline char *invoke_async(struct world *W, const char *name, struct ilu_error *err)
{
    json_t *b = invoke_body(name);
    char *cookie = ilu_controller_invoke_async(W->c, b, "t-a", err);
    json_decref(b);
    return cookie;
}

#endif
