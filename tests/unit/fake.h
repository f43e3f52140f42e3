/* Test doubles for the core, header-only (each test binary links one .c):
 *
 *  - struct fake_env: the simulator's discrete-event clock (sim/sim_env.h:
 *    timers due at the same instant fire in the order they were started, a
 *    delay of 0 fires at the current time after the running callback) with
 *    two things a test wants on top: log lines captured in a buffer, and a
 *    cancel of a timer that already fired or was cancelled failing the test.
 *  - struct fake_backend: an isolation backend whose containers "start" after
 *    a per-function cold-start delay and "run" for a per-function execution
 *    time, all through fake_env timers. It can fail creation, make a function
 *    raise, kill containers, and records every container it created and
 *    destroyed so a test can assert nothing leaked.
 *  - helpers to build a worker over both and to record invocation results.
 */
#ifndef FAKE_H
#define FAKE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/agent_codec.h"
#include "worker/async.h"
#include "core/backend.h"
#include "core/config.h"
#include "core/env.h"
#include "core/log.h"
#include "sim/sim_env.h"
#include "worker/worker.h"

#define MS  1000ULL
#define SEC 1000000ULL

/* ---- discrete-event env -------------------------------------------------- */

/* A timer the core holds. sim_env orders and fires it; the record only lets
 * timer_cancel catch a handle that already fired or was cancelled (sim_env
 * recycles its timers, so a stale handle would silently cancel another). */
struct fake_timer {
    struct fake_env *f;
    struct ilu_timer *sim; /* sim_env's timer, pending while the record lives */
    ilu_timer_fn fn;
    void *arg;
    struct fake_timer *prev, *next;
};

struct fake_env {
    struct ilu_sim_env sim; /* the clock and the timer heap */
    struct ilu_env env;     /* hand &env to the core: sim's clock, checked timers, captured log */
    struct ilu_log log;
    struct fake_timer *pending;
    char *log_buf; /* captured lines, each ending in '\n' */
    size_t log_len, log_cap;
    unsigned log_lines;
    bool log_echo; /* also print lines to stderr (debugging) */
};

/* Virtual time, timers pending, timers fired. */
static inline uint64_t fake_now(const struct fake_env *f)
{
    return f->sim.now_us;
}
static inline size_t fake_n_timers(const struct fake_env *f)
{
    return ilu_sim_env_pending(&f->sim);
}
static inline uint64_t fake_fired(const struct fake_env *f)
{
    return f->sim.fired;
}

static inline uint64_t fake_now_cb(void *ctx)
{
    return ((struct fake_env *)ctx)->sim.now_us;
}

static inline uint64_t fake_wall_cb(void *ctx)
{
    struct fake_env *f = ctx;
    return f->sim.wall_base_us + f->sim.now_us;
}

static inline void fake_timer_unlink(struct fake_timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        t->f->pending = t->next;
    if (t->next)
        t->next->prev = t->prev;
}

static inline void fake_timer_fire(void *arg)
{
    struct fake_timer *t = arg;
    ilu_timer_fn fn = t->fn;
    void *fn_arg = t->arg;
    fake_timer_unlink(t);
    free(t); /* the timer is spent before its callback runs: cancelling it now is a bug */
    fn(fn_arg);
}

static inline struct ilu_timer *fake_timer_start_cb(void *ctx, uint64_t delay_us, ilu_timer_fn fn, void *arg)
{
    struct fake_env *f = ctx;
    struct fake_timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->sim = ilu_sim_env_at(&f->sim, f->sim.now_us + delay_us, fake_timer_fire, t);
    if (!t->sim) {
        free(t);
        return NULL;
    }
    t->f = f;
    t->fn = fn;
    t->arg = arg;
    t->next = f->pending;
    if (t->next)
        t->next->prev = t;
    f->pending = t;
    return (struct ilu_timer *)t; /* opaque to the core, which only hands it back */
}

static inline void fake_timer_cancel_cb(void *ctx, struct ilu_timer *timer)
{
    struct fake_env *f = ctx;
    if (!timer)
        return;
    for (struct fake_timer *t = f->pending; t; t = t->next) {
        if ((struct ilu_timer *)t == timer) {
            ilu_sim_env_cancel(&f->sim, t->sim);
            fake_timer_unlink(t);
            free(t);
            return;
        }
    }
    fail_msg("timer_cancel of a timer that is not pending (already fired or cancelled)");
}

static inline void fake_log_cb(void *ctx, int level, const char *line)
{
    struct fake_env *f = ctx;
    (void)level;
    size_t n = strlen(line);
    if (f->log_len + n + 2 > f->log_cap) {
        size_t cap = f->log_cap ? f->log_cap : 4096;
        while (f->log_len + n + 2 > cap)
            cap *= 2;
        char *buf = realloc(f->log_buf, cap);
        assert_non_null(buf);
        f->log_buf = buf;
        f->log_cap = cap;
    }
    memcpy(f->log_buf + f->log_len, line, n);
    f->log_len += n;
    f->log_buf[f->log_len++] = '\n';
    f->log_buf[f->log_len] = 0;
    f->log_lines++;
    if (f->log_echo)
        fprintf(stderr, "%s\n", line);
}

/* Start the clock at t0 (µs). */
static inline void fake_env_init(struct fake_env *f, uint64_t t0)
{
    memset(f, 0, sizeof *f);
    ilu_sim_env_init(&f->sim, 1700000000ULL * SEC);
    f->sim.now_us = t0;
    f->env = (struct ilu_env){.ctx = f,
                              .now_us = fake_now_cb,
                              .wall_us = fake_wall_cb,
                              .timer_start = fake_timer_start_cb,
                              .timer_cancel = fake_timer_cancel_cb,
                              .log_write = fake_log_cb};
    f->log = (struct ilu_log){.env = &f->env, .min_level = ILU_LOG_DEBUG};
}

/* Frees the captured log and any timer still pending (a test that cares
 * asserts fake_n_timers() == 0 first). */
static inline void fake_env_destroy(struct fake_env *f)
{
    while (f->pending) {
        struct fake_timer *t = f->pending;
        f->pending = t->next;
        free(t);
    }
    ilu_sim_env_destroy(&f->sim);
    free(f->log_buf);
    f->log_buf = NULL;
    f->log_len = f->log_cap = 0;
}

/* Fire the earliest timer, advancing the clock to its due time. */
static inline bool fake_step(struct fake_env *f)
{
    return ilu_sim_env_step(&f->sim) != 0;
}

/* Time of the earliest pending timer, UINT64_MAX if none. */
static inline uint64_t fake_next_due(const struct fake_env *f)
{
    return ilu_sim_env_next_due(&f->sim);
}

/* Fire every timer due at or before t, in order, then set the clock to t. */
static inline void fake_run_until(struct fake_env *f, uint64_t t)
{
    ilu_sim_env_run_until(&f->sim, t);
}

static inline void fake_advance(struct fake_env *f, uint64_t delta)
{
    fake_run_until(f, f->sim.now_us + delta);
}

/* Fire timers until none is left. Periodic timers never let that happen, so
 * the run stops (and fails the test) after max_events. */
static inline void fake_run_all(struct fake_env *f)
{
    uint64_t limit = f->sim.fired + 1000000;
    while (fake_step(f))
        if (f->sim.fired >= limit)
            fail_msg("fake_run_all: still firing after 1000000 events");
}

static inline bool fake_log_has(const struct fake_env *f, const char *needle)
{
    return f->log_buf && strstr(f->log_buf, needle);
}

/* Lines of the captured log containing needle. */
static inline unsigned fake_log_count(const struct fake_env *f, const char *needle)
{
    unsigned n = 0;
    for (const char *line = f->log_buf; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *hit = memmem(line, len, needle, strlen(needle));
        if (hit)
            n++;
        line += len + (end ? 1 : 0);
    }
    return n;
}

/* ---- fake backend --------------------------------------------------------- */

struct fake_fn {
    char fqdn[160];
    uint64_t cold_us, exec_us;
    bool fail_create;      /* ready() reports an error after cold_us */
    bool fail_create_sync; /* create() itself returns -1 */
    bool raise;            /* the function raises: user_error with a traceback */
    const char *body;      /* custom agent reply, instead of the generated one */
};

enum fake_ct_state { FAKE_STARTING, FAKE_READY, FAKE_BUSY, FAKE_DEAD };

struct fake_backend;

struct fake_ct {
    struct fake_backend *b;
    struct ilu_container *c; /* valid until destroyed */
    char id[96];
    char fqdn[160];
    uint32_t memory_mb;
    enum fake_ct_state state;
    bool destroyed;
    unsigned invocations;
    struct ilu_timer *pending; /* ready or invoke_done, scheduled */
    struct fake_ct *next;
};

struct fake_backend {
    struct ilu_backend base; /* first: the core's pointer is ours */
    struct fake_env *env;
    struct fake_fn fns[32];
    size_t n_fns;
    uint64_t default_cold_us, default_exec_us;
    bool check_image_fails;
    struct fake_ct *cts; /* every container ever created, newest first */
    unsigned created, destroyed, invokes;
    unsigned busy, max_busy; /* containers running an invocation now / at most */
    unsigned violations;     /* protocol errors: invoke on a non-ready container, destroy twice, ... */
    char last_violation[256];
    char last_args[256];
    char last_create_tid[64], last_invoke_tid[64];
};

static inline void fake_violation(struct fake_backend *b, const char *what, const char *id)
{
    b->violations++;
    snprintf(b->last_violation, sizeof b->last_violation, "%s (%s)", what, id);
}

/* The per-function settings for name-version, created with the defaults. */
static inline struct fake_fn *fake_fn(struct fake_backend *b, const char *fqdn)
{
    for (size_t i = 0; i < b->n_fns; i++)
        if (!strcmp(b->fns[i].fqdn, fqdn))
            return &b->fns[i];
    assert_true(b->n_fns < sizeof b->fns / sizeof b->fns[0]);
    struct fake_fn *fn = &b->fns[b->n_fns++];
    memset(fn, 0, sizeof *fn);
    snprintf(fn->fqdn, sizeof fn->fqdn, "%s", fqdn);
    fn->cold_us = b->default_cold_us;
    fn->exec_us = b->default_exec_us;
    return fn;
}

static inline struct fake_ct *fake_ct_of(struct fake_backend *b, const struct ilu_container *c)
{
    for (struct fake_ct *ct = b->cts; ct; ct = ct->next)
        if (!ct->destroyed && ct->c == c)
            return ct;
    return NULL;
}

static inline struct fake_ct *fake_ct_find(struct fake_backend *b, const char *id)
{
    for (struct fake_ct *ct = b->cts; ct; ct = ct->next)
        if (!strcmp(ct->id, id))
            return ct;
    return NULL;
}

static inline int fake_check_image(struct ilu_backend *base, const char *image, struct ilu_error *err)
{
    struct fake_backend *b = (struct fake_backend *)base;
    if (b->check_image_fails)
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "%s has no main.py", image);
    return 0;
}

static inline void fake_ready_fire(void *arg)
{
    struct fake_ct *ct = arg;
    struct fake_backend *b = ct->b;
    ct->pending = NULL;
    struct fake_fn *fn = fake_fn(b, ct->fqdn);
    if (fn->fail_create) {
        struct ilu_error err;
        ilu_err(&err, ILU_ST_BAD_GATEWAY, "container_error", "fake: %s could not start", ct->id);
        ct->state = FAKE_DEAD;
        b->base.events.ready(b->base.events.ctx, ct->c, &err);
        return;
    }
    ct->state = FAKE_READY;
    b->base.events.ready(b->base.events.ctx, ct->c, NULL);
}

static inline int fake_create(struct ilu_backend *base, struct ilu_container *c, const char *tid, struct ilu_error *err)
{
    struct fake_backend *b = (struct fake_backend *)base;
    if (fake_ct_of(b, c))
        fake_violation(b, "create of a live container", c->id);
    if (fake_ct_find(b, c->id))
        fake_violation(b, "container id reused", c->id);
    struct fake_ct *ct = calloc(1, sizeof *ct);
    assert_non_null(ct);
    ct->b = b;
    ct->c = c;
    snprintf(ct->id, sizeof ct->id, "%s", c->id);
    snprintf(ct->fqdn, sizeof ct->fqdn, "%s", c->fn->fqdn);
    ct->memory_mb = c->memory_mb;
    ct->state = FAKE_STARTING;
    ct->next = b->cts;
    b->cts = ct;
    b->created++;
    snprintf(b->last_create_tid, sizeof b->last_create_tid, "%s", tid ? tid : "");
    struct fake_fn *fn = fake_fn(b, c->fn->fqdn);
    if (fn->fail_create_sync) {
        ct->state = FAKE_DEAD;
        return ilu_err(err, ILU_ST_BAD_GATEWAY, "container_error", "fake: cannot create %s", c->id);
    }
    ct->pending = b->env->env.timer_start(b->env, fn->cold_us, fake_ready_fire, ct);
    return 0;
}

static inline void fake_done_fire(void *arg)
{
    struct fake_ct *ct = arg;
    struct fake_backend *b = ct->b;
    ct->pending = NULL;
    ct->state = FAKE_READY;
    b->busy--;
    struct fake_fn *fn = fake_fn(b, ct->fqdn);
    char body[1024];
    if (fn->body) {
        snprintf(body, sizeof body, "%s", fn->body);
    } else if (fn->raise) {
        snprintf(body, sizeof body,
                 "{\"start\":\"s\",\"end\":\"e\",\"was_cold\":false,\"duration_sec\":%.6f,"
                 "\"user_error\":\"Traceback (most recent call last):\\n  File \\\"main.py\\\", line 3, in main\\n"
                 "ValueError: boom\\n\"}",
                 (double)fn->exec_us / 1e6);
    } else {
        snprintf(body, sizeof body,
                 "{\"start\":\"s\",\"end\":\"e\",\"was_cold\":false,\"duration_sec\":%.6f,\"user_result\":{\"ok\":1}}",
                 (double)fn->exec_us / 1e6);
    }
    /* decoded as the OCI backend decodes its agent's reply */
    struct ilu_agent_decoded d;
    ilu_agent_reply_decode(body, strlen(body), &d);
    struct ilu_agent_reply reply = {.status = 0, .result = &d.result};
    b->base.events.invoke_done(b->base.events.ctx, ct->c, &reply);
    ilu_agent_decoded_release(&d);
}

static inline int fake_invoke(struct ilu_backend *base, struct ilu_container *c, const char *tid, const char *args,
                              size_t args_len, struct ilu_error *err)
{
    struct fake_backend *b = (struct fake_backend *)base;
    struct fake_ct *ct = fake_ct_of(b, c);
    if (!ct) {
        fake_violation(b, "invoke on an unknown or destroyed container", c->id);
        return ilu_err(err, ILU_ST_BAD_GATEWAY, "container_error", "fake: unknown container %s", c->id);
    }
    if (ct->state != FAKE_READY) {
        fake_violation(b, "invoke on a container that is not ready and idle", c->id);
        return ilu_err(err, ILU_ST_BAD_GATEWAY, "container_error", "fake: container %s is not idle", c->id);
    }
    b->invokes++;
    ct->invocations++;
    snprintf(b->last_args, sizeof b->last_args, "%.*s", (int)args_len, args);
    snprintf(b->last_invoke_tid, sizeof b->last_invoke_tid, "%s", tid ? tid : "");
    ct->state = FAKE_BUSY;
    if (++b->busy > b->max_busy)
        b->max_busy = b->busy;
    ct->pending = b->env->env.timer_start(b->env, fake_fn(b, ct->fqdn)->exec_us, fake_done_fire, ct);
    return 0;
}

static inline void fake_destroy(struct ilu_backend *base, struct ilu_container *c, const char *tid)
{
    struct fake_backend *b = (struct fake_backend *)base;
    struct fake_ct *ct = fake_ct_of(b, c);
    if (!ct) {
        fake_violation(b, "destroy of an unknown or already destroyed container", c->id);
        return;
    }
    if (ct->state == FAKE_BUSY)
        b->busy--;
    if (ct->pending) { /* no more callbacks about c once destroyed */
        b->env->env.timer_cancel(b->env, ct->pending);
        ct->pending = NULL;
    }
    ct->destroyed = true;
    ct->state = FAKE_DEAD;
    ct->c = NULL;
    b->destroyed++;
}

static inline void fake_shutdown(struct ilu_backend *base)
{
    (void)base;
}
static inline void fake_free(struct ilu_backend *base)
{
    (void)base;
}

static const struct ilu_backend_ops fake_backend_ops = {
    .name = "fake",
    .check_image = fake_check_image,
    .create = fake_create,
    .invoke = fake_invoke,
    .destroy = fake_destroy,
    .shutdown = fake_shutdown,
    .free = fake_free,
};

static inline void fake_backend_init(struct fake_backend *b, struct fake_env *f)
{
    memset(b, 0, sizeof *b);
    b->base.ops = &fake_backend_ops;
    b->base.priv = b;
    b->base.log = &f->log;
    b->env = f;
    b->default_cold_us = 50 * MS;
    b->default_exec_us = 10 * MS;
}

static inline void fake_backend_destroy(struct fake_backend *b)
{
    while (b->cts) {
        struct fake_ct *ct = b->cts;
        b->cts = ct->next;
        free(ct);
    }
}

/* Containers created and not yet destroyed. */
static inline unsigned fake_live(const struct fake_backend *b)
{
    return b->created - b->destroyed;
}

static inline uint64_t fake_live_mem(const struct fake_backend *b)
{
    uint64_t mb = 0;
    for (const struct fake_ct *ct = b->cts; ct; ct = ct->next)
        if (!ct->destroyed)
            mb += ct->memory_mb;
    return mb;
}

/* The newest live container of fqdn (NULL if none). */
static inline struct fake_ct *fake_live_ct(struct fake_backend *b, const char *fqdn)
{
    for (struct fake_ct *ct = b->cts; ct; ct = ct->next)
        if (!ct->destroyed && (!fqdn || !strcmp(ct->fqdn, fqdn)))
            return ct;
    return NULL;
}

/* Kill a live container the way a real one dies: while starting, ready()
 * reports an error; while busy, invoke_done() comes back with 502; while
 * idle, died(). Call it from the test, outside any callback. */
static inline void fake_kill(struct fake_backend *b, struct fake_ct *ct)
{
    assert_non_null(ct);
    assert_false(ct->destroyed);
    if (ct->pending) {
        b->env->env.timer_cancel(b->env, ct->pending);
        ct->pending = NULL;
    }
    enum fake_ct_state was = ct->state;
    if (was == FAKE_BUSY)
        b->busy--;
    ct->state = FAKE_DEAD;
    if (was == FAKE_STARTING) {
        struct ilu_error err;
        ilu_err(&err, ILU_ST_BAD_GATEWAY, "container_error", "fake: %s killed while starting", ct->id);
        b->base.events.ready(b->base.events.ctx, ct->c, &err);
    } else if (was == FAKE_BUSY) {
        struct ilu_agent_reply reply = {.status = ILU_ST_BAD_GATEWAY};
        snprintf(reply.error, sizeof reply.error, "fake: %s killed during the invocation", ct->id);
        b->base.events.invoke_done(b->base.events.ctx, ct->c, &reply);
    } else if (was == FAKE_READY) {
        b->base.events.died(b->base.events.ctx, ct->c, "fake: killed while idle");
    }
}

/* ---- worker helpers ------------------------------------------------------- */

/* Defaults suited to the fake: one CPU, a 1 GB pool, a generous timeout. */
static inline void fake_config(struct ilu_worker_config *cfg)
{
    ilu_config_defaults(cfg);
    cfg->container_resources.cpu_count = 1;
    cfg->container_resources.memory_mb = 1024;
    cfg->container_resources.keepalive_sec = 600;
    cfg->container_resources.pool_freq_ms = 500;
    cfg->limits.timeout_sec = 60;
}

static inline struct ilu_worker *fake_worker(const struct ilu_worker_config *cfg, struct fake_env *f,
                                             struct fake_backend *b)
{
    struct ilu_error err = {0};
    struct ilu_worker *w = ilu_worker_new(cfg, &f->env, &b->base, &f->log, &err);
    if (!w)
        fail_msg("ilu_worker_new: %d %s", err.status, err.msg);
    return w;
}

/* A registration of name-1: one CPU, one invocation at a time. */
static inline struct ilu_register_req fake_req(const char *name, const char *image, uint32_t memory_mb)
{
    return (struct ilu_register_req){.function_name = name,
                                     .function_version = "1",
                                     .image_name = image,
                                     .memory_mb = memory_mb,
                                     .cpus = 1,
                                     .parallel_invokes = 1};
}

static inline void fake_register(struct ilu_worker *w, const char *name, uint32_t memory_mb)
{
    char image[128];
    snprintf(image, sizeof image, "/functions/%s", name);
    struct ilu_register_req req = fake_req(name, image, memory_mb);
    struct ilu_error err = {0};
    if (ilu_worker_register(w, &req, "reg", &err))
        fail_msg("register %s: %d %s", name, err.status, err.msg);
}

/* What a prewarm's done callback saw. */
struct fake_prewarm {
    unsigned calls;
    int status;
    char tid[64];
};

static inline void fake_prewarm_cb(void *arg, const char *tid, const struct ilu_error *err)
{
    struct fake_prewarm *p = arg;
    p->calls++;
    p->status = err ? err->status : 0;
    snprintf(p->tid, sizeof p->tid, "%s", tid);
}

/* What an invocation's done callback saw. */
struct fake_result {
    unsigned calls;
    bool success;
    int http_status;
    enum ilu_start_kind kind;
    uint64_t done_at;
    char tid[64];
    char container_id[96];
    char user_error[512];
    char err_kind[32];
    char err_msg[480];
    json_t *json; /* ilu_invocation_result_json */
    struct fake_env *env;
};

static inline void fake_result_cb(void *arg, struct ilu_invocation *inv)
{
    struct fake_result *r = arg;
    r->calls++;
    r->success = inv->success;
    r->http_status = ilu_invocation_http_status(inv);
    r->kind = inv->start_kind;
    r->done_at = r->env ? fake_now(r->env) : 0;
    snprintf(r->tid, sizeof r->tid, "%s", inv->tid);
    snprintf(r->container_id, sizeof r->container_id, "%s", inv->container_id ? inv->container_id : "");
    snprintf(r->user_error, sizeof r->user_error, "%s", inv->user_error ? inv->user_error : "");
    snprintf(r->err_kind, sizeof r->err_kind, "%s", inv->err.kind);
    snprintf(r->err_msg, sizeof r->err_msg, "%s", inv->err.msg);
    json_decref(r->json);
    r->json = ilu_invocation_result_json(inv);
}

static inline void fake_result_clear(struct fake_result *r)
{
    json_decref(r->json);
    r->json = NULL;
}

/* Invoke name-1 with {} and tid; fails the test when the worker refuses. */
static inline void fake_invoke_ok(struct ilu_worker *w, struct fake_env *f, const char *name, const char *tid,
                                  struct fake_result *r)
{
    struct ilu_error err = {0};
    r->env = f;
    if (ilu_worker_invoke(w, name, "1", "{}", 2, tid, fake_result_cb, r, &err))
        fail_msg("invoke %s: %d %s", name, err.status, err.msg);
}

/* Run events until the worker has nothing queued or running. */
static inline void fake_settle(struct fake_env *f, struct ilu_worker *w)
{
    uint64_t limit = fake_fired(f) + 1000000;
    while (ilu_worker_outstanding(w) > 0) {
        if (!fake_step(f))
            fail_msg("fake_settle: %u outstanding and no timer left", ilu_worker_outstanding(w));
        if (fake_fired(f) >= limit)
            fail_msg("fake_settle: still busy after 1000000 events");
    }
}

/* An integer field of ilu_worker_status_json. */
static inline long long fake_status(struct ilu_worker *w, const char *key)
{
    json_t *s = ilu_worker_status_json(w);
    json_t *v = json_object_get(s, key);
    if (!json_is_integer(v)) {
        json_decref(s);
        fail_msg("status has no integer %s", key);
    }
    long long n = json_integer_value(v);
    json_decref(s);
    return n;
}

static inline long long fake_json_int(json_t *obj, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = obj;
    char *save = NULL;
    for (char *part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save))
        v = json_object_get(v, part);
    if (!json_is_integer(v))
        fail_msg("no integer at %s", path);
    return json_integer_value(v);
}

static inline const char *fake_json_str(json_t *obj, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = obj;
    char *save = NULL;
    for (char *part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save))
        v = json_object_get(v, part);
    if (!json_is_string(v))
        fail_msg("no string at %s", path);
    return json_string_value(v);
}

/* ---- a whole world: env + backend + worker -------------------------------- */

struct fake_world {
    struct fake_env env;
    struct fake_backend be;
    struct ilu_worker_config cfg;
    struct ilu_worker *w;
    struct ilu_async *async; /* async invocations of w, as the daemon holds them */
};

/* Set env and backend up with the clock at t0 and cfg at fake_config();
 * adjust fw->cfg and fw->be, then call fake_world_start. */
static inline void fake_world_init(struct fake_world *fw, uint64_t t0)
{
    fake_env_init(&fw->env, t0);
    fake_backend_init(&fw->be, &fw->env);
    fake_config(&fw->cfg);
}

static inline struct ilu_worker *fake_world_start(struct fake_world *fw)
{
    fw->w = fake_worker(&fw->cfg, &fw->env, &fw->be);
    struct ilu_error err = {0};
    fw->async =
        ilu_async_new(fw->w, &fw->env.env, fw->cfg.name, (uint64_t)fw->cfg.invocation.async_result_ttl_sec * SEC,
                      (uint64_t)fw->cfg.container_resources.pool_freq_ms * MS, &err);
    assert_non_null(fw->async);
    return fw->w;
}

/* Free the worker and check it left nothing behind: every container it had
 * created destroyed, every timer it had started fired or cancelled, and no
 * backend protocol violation. */
static inline void fake_world_end(struct fake_world *fw)
{
    ilu_worker_free(fw->w);
    fw->w = NULL;
    ilu_async_free(fw->async);
    fw->async = NULL;
    if (fw->be.violations)
        fail_msg("backend protocol violation: %s", fw->be.last_violation);
    assert_int_equal(fw->be.created, fw->be.destroyed);
    assert_int_equal(fake_n_timers(&fw->env), 0);
    fake_backend_destroy(&fw->be);
    fake_env_destroy(&fw->env);
}

/* fake_world_start, then register name with memory_mb. */
static inline struct ilu_worker *fake_world_start_with(struct fake_world *fw, const char *name, uint32_t memory_mb)
{
    struct ilu_worker *w = fake_world_start(fw);
    fake_register(w, name, memory_mb);
    return w;
}

/* fake_invoke_ok on fw's worker, then run events until it is idle. */
static inline void fake_invoke_settled(struct fake_world *fw, const char *name, const char *tid, struct fake_result *r)
{
    fake_invoke_ok(fw->w, &fw->env, name, tid, r);
    fake_settle(&fw->env, fw->w);
}

#endif
