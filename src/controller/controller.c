/* See controller.h. Workers are polled for /status every
 * health.status_freq_ms, and again at once after a failed poll;
 * health.failures_to_unhealthy failed polls in a row, or one failed
 * invocation, stop routing to a worker until a poll succeeds again. A worker
 * that stops answering therefore stops getting traffic within
 * status_freq_ms + failures_to_unhealthy x request_timeout_ms at worst; one
 * that refuses connections (dead process) within about status_freq_ms. */
#include "controller/controller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "core/policy_registry.h"
#include "api/registration.h"

struct ctl_async {
    struct ilu_controller *c;
    char cookie[96];
    char tid[64];
    json_t *body; /* the invoke request, kept to send again */
    unsigned attempts;
    json_t *result; /* NULL while running */
    int status;
    uint64_t finished_us;
    struct ilu_timer *retry_timer;
};

struct ilu_controller {
    struct ilu_controller_config cfg;
    const struct ilu_env *env;
    struct ilu_ctl_transport transport;
    struct ilu_ctl_store store;
    bool has_store;
    const struct ilu_log *log;
    struct ilu_ctl_worker **workers;
    size_t n_workers;
    json_t *functions;       /* array of registrations, in registration order */
    struct ilu_map fn_index; /* fqdn -> index + 1 in functions */
    unsigned *fn_needs;      /* per function (same index): ILU_LB_NEEDS_* of its worker */
    size_t fn_needs_cap;
    const struct ilu_lb_policy_ops *lb;
    void *lb_state;
    struct ilu_map async; /* cookie -> struct ctl_async */
    uint64_t cookie_seq;
    unsigned outstanding;
    struct ilu_timer *poll_timer;
    struct {
        uint64_t invocations, errors, no_worker, worker_failures, unsent_retries, async_retries, async_lost;
    } count;
};

static uint64_t now(const struct ilu_controller *c)
{
    return c->env->now_us(c->env->ctx);
}

double ilu_ctl_worker_load(const struct ilu_ctl_worker *w)
{
    return (double)(w->in_flight + w->reported_load) / (double)(w->cpus ? w->cpus : 1);
}

static const char *health_name(enum ilu_ctl_health h)
{
    return h == ILU_WH_HEALTHY ? "HEALTHY" : h == ILU_WH_UNHEALTHY ? "UNHEALTHY" : "UNKNOWN";
}

static void set_health(struct ilu_controller *c, struct ilu_ctl_worker *w, enum ilu_ctl_health h, const char *why);

/* ---- function registry ---------------------------------------------------- */

static json_t *fn_get(const struct ilu_controller *c, const char *fqdn)
{
    void *v = ilu_map_get(&c->fn_index, fqdn);
    return v ? json_array_get(c->functions, (size_t)(uintptr_t)v - 1) : NULL;
}

/* What a worker needs to run reg (a checked registration): GPUs for a
 * GPU-only function; a CPU|GPU one runs on CPU where there is no GPU. */
static unsigned needs_of(json_t *reg)
{
    struct ilu_register_req req;
    if (ilu_registration_from_json(reg, &req, NULL))
        return 0;
    return req.compute == ILU_COMPUTE_GPU ? ILU_LB_NEEDS_GPU : 0;
}

/* Workers that can run a function with these needs: registrations go to
 * them only (a worker without GPUs never gets a GPU-only function). */
static unsigned workers_for(const struct ilu_controller *c, unsigned needs)
{
    unsigned n = 0;
    for (size_t i = 0; i < c->n_workers; i++)
        n += ilu_ctl_worker_can_run(c->workers[i], needs);
    return n;
}

static int fqdn_of(json_t *body, char *out, size_t n, struct ilu_error *err)
{
    const char *name = json_string_value(json_object_get(body, "function_name"));
    const char *version = json_string_value(json_object_get(body, "function_version"));
    if (!name || !*name || !version || !*version)
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "function_name and function_version are required strings");
    snprintf(out, n, "%s-%s", name, version);
    return 0;
}

/* 0 when registration matches the kept one, 409 in err when it differs. */
static int fn_same(json_t *old, json_t *registration, const char *fqdn, struct ilu_error *err)
{
    static const char *keys[] = {"image_name", "memory", "cpus"};
    for (size_t k = 0; k < 3; k++)
        if (!json_equal(json_object_get(old, keys[k]), json_object_get(registration, keys[k])))
            return ilu_err(err, ILU_ST_CONFLICT, NULL, "function %s is already registered with a different %s", fqdn,
                           keys[k]);
    /* compute by meaning: "gpu" is "GPU", none is CPU (both were checked) */
    struct ilu_register_req a, b;
    if (ilu_registration_from_json(old, &a, NULL) == 0 && ilu_registration_from_json(registration, &b, NULL) == 0 &&
        a.compute != b.compute)
        return ilu_err(err, ILU_ST_CONFLICT, NULL, "function %s is already registered with a different compute", fqdn);
    return 0;
}

/* Keep reg (borrowed): stored first when persisting, so a restarted
 * controller knows every function it routes; then listed. */
static int fn_keep(struct ilu_controller *c, const char *fqdn, json_t *reg, bool persist, const char *tid,
                   struct ilu_error *err)
{
    json_t *old = fn_get(c, fqdn);
    if (old) /* kept meanwhile (two registrations in flight) */
        return fn_same(old, reg, fqdn, err);
    if (persist && c->has_store && c->store.save_function(c->store.ctx, fqdn, reg, err))
        return ilu_err_wrap(err, "storing %s", fqdn);
    size_t n = json_array_size(c->functions);
    if (n == c->fn_needs_cap) {
        size_t cap = c->fn_needs_cap ? 2 * c->fn_needs_cap : 16;
        unsigned *grown = realloc(c->fn_needs, cap * sizeof *grown);
        if (!grown)
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory registering %s", fqdn);
        c->fn_needs = grown;
        c->fn_needs_cap = cap;
    }
    c->fn_needs[n] = needs_of(reg);
    if (json_array_append(c->functions, reg) ||
        ilu_map_put(&c->fn_index, fqdn, (void *)(uintptr_t)json_array_size(c->functions)))
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory registering %s", fqdn);
    ilu_log_fields(c->log, ILU_LOG_INFO, tid, json_pack("{s:s, s:i}", "fqdn", fqdn, "workers", (int)c->n_workers),
                   "function registered");
    return 0;
}

struct reg_fanout {
    struct ilu_controller *c;
    unsigned pending, accepted, refused;
    char first_error[400];
    json_t *reg; /* owned: what is kept if the workers take it */
    char fqdn[160], tid[64];
    bool persist;
    size_t n_sent; /* workers it was sent to; later ones get it when kept */
    ilu_ctl_register_done_fn done;
    void *arg;
};

static void push_function(struct ilu_controller *c, struct ilu_ctl_worker *w, json_t *registration, const char *tid,
                          struct reg_fanout *f);

static void fanout_reply(void *arg, int status, json_t *answer, struct ilu_ctl_text text, const char *transport_error)
{
    struct reg_fanout *f = arg;
    struct ilu_controller *c = f->c;
    if (status == 200 && json_is_object(answer))
        f->accepted++;
    else if (status > 0 && status != 200) { /* a worker refused it (conflict, bad image...) */
        f->refused++;
        if (!f->first_error[0]) {
            const char *msg = json_string_value(json_object_get(answer, "error"));
            snprintf(f->first_error, sizeof f->first_error, "HTTP %d: %s", status, msg ? msg : "no message");
        }
    } /* unreachable or broken (garbage answer) workers get it when they come back */
    if (--f->pending)
        return;
    struct ilu_error err = {0};
    bool failed = false;
    if (f->refused && !f->accepted) {
        /* every worker that answered refused it: nothing would run it */
        ilu_log_fields(c->log, ILU_LOG_WARN, f->tid,
                       json_pack("{s:s, s:i}", "fqdn", f->fqdn, "refused", (int)f->refused),
                       "function %s refused by every worker that answered; not kept: %s", f->fqdn, f->first_error);
    } else if (fn_keep(c, f->fqdn, f->reg, f->persist, f->tid, &err)) {
        failed = true;
        ilu_log_fields(c->log, ILU_LOG_ERROR, f->tid, json_pack("{s:s}", "fqdn", f->fqdn),
                       "function %s accepted by %u worker(s) but not kept: %s", f->fqdn, f->accepted, err.msg);
    } else {
        unsigned needs = needs_of(f->reg);
        for (size_t i = f->n_sent; i < c->n_workers; i++) /* joined while it was on its way */
            if (ilu_ctl_worker_can_run(c->workers[i], needs))
                push_function(c, c->workers[i], f->reg, f->tid, NULL);
    }
    if (f->done)
        f->done(f->arg, f->accepted, f->refused, f->first_error[0] ? f->first_error : NULL, failed ? &err : NULL);
    json_decref(f->reg);
    free(f);
}

static void ignore_reply(void *arg, int status, json_t *answer, struct ilu_ctl_text text, const char *transport_error)
{
}

/* Register registration on w (fire and forget when f is NULL: a worker that
 * misses it gets it again when it next recovers or re-registers). */
static void push_function(struct ilu_controller *c, struct ilu_ctl_worker *w, json_t *registration, const char *tid,
                          struct reg_fanout *f)
{
    c->transport.send(c->transport.ctx, w, ILU_CTL_REGISTER, registration, (struct ilu_ctl_text){0}, tid,
                      (uint64_t)c->cfg.health.request_timeout_ms * 1000 * 10, f ? fanout_reply : ignore_reply, f);
}

/* Every function w can run (a GPU-only one only when it has GPUs). */
static void push_all_functions(struct ilu_controller *c, struct ilu_ctl_worker *w, const char *tid)
{
    for (size_t i = 0; i < json_array_size(c->functions); i++)
        if (ilu_ctl_worker_can_run(w, c->fn_needs[i]))
            push_function(c, w, json_array_get(c->functions, i), tid, NULL);
}

int ilu_controller_register_function(struct ilu_controller *c, json_t *registration, bool persist, const char *tid,
                                     ilu_ctl_register_done_fn done, void *arg, struct ilu_error *err)
{
    struct ilu_register_req req;
    if (ilu_registration_from_json(registration, &req, err) || ilu_registration_check(&req, NULL, err))
        return -1;
    char fqdn[160];
    snprintf(fqdn, sizeof fqdn, "%s-%s", req.function_name, req.function_version);
    json_t *old = fn_get(c, fqdn);
    if (old) {
        if (fn_same(old, registration, fqdn, err))
            return -1;
        if (done) /* identical: nothing to do, as on a worker */
            done(arg, workers_for(c, needs_of(old)), 0, NULL, NULL);
        return 0;
    }
    json_t *copy = json_deep_copy(registration);
    if (!copy)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    json_object_del(copy, "transaction_id");
    unsigned needs = needs_of(copy), targets = workers_for(c, needs);
    if (!targets) {       /* nobody to ask: the checks above are all there is */
        if (c->n_workers) /* a GPU function on a cluster with no GPUs yet: kept for workers that join with some */
            ilu_log_fields(c->log, ILU_LOG_WARN, tid,
                           json_pack("{s:s, s:i}", "fqdn", fqdn, "workers", (int)c->n_workers),
                           "function %s needs GPUs and none of the %zu workers has any: kept, registered on workers "
                           "with GPUs when they join; its invocations answer 503 until then",
                           fqdn, c->n_workers);
        int rc = fn_keep(c, fqdn, copy, persist, tid, err);
        json_decref(copy);
        if (!rc && done)
            done(arg, 0, 0, NULL, NULL);
        return rc;
    }
    struct reg_fanout *f = calloc(1, sizeof *f);
    if (!f) {
        json_decref(copy);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    }
    *f = (struct reg_fanout){
        .c = c, .pending = targets, .reg = copy, .persist = persist, .n_sent = c->n_workers, .done = done, .arg = arg};
    snprintf(f->fqdn, sizeof f->fqdn, "%s", fqdn);
    snprintf(f->tid, sizeof f->tid, "%s", tid ? tid : "");
    for (size_t i = 0; i < f->n_sent; i++)
        if (ilu_ctl_worker_can_run(c->workers[i], needs))
            push_function(c, c->workers[i], copy, tid, f);
    return 0;
}

/* ---- workers and health ---------------------------------------------------- */

static void set_health(struct ilu_controller *c, struct ilu_ctl_worker *w, enum ilu_ctl_health h, const char *why)
{
    if (w->health == h)
        return;
    enum ilu_ctl_health was = w->health;
    w->health = h;
    ilu_log_fields(c->log, h == ILU_WH_HEALTHY ? ILU_LOG_INFO : ILU_LOG_WARN, "health",
                   json_pack("{s:s, s:s, s:s}", "worker", w->name, "was", health_name(was), "now", health_name(h)),
                   "worker %s is %s%s%s", w->name, health_name(h), why ? ": " : "", why ? why : "");
    /* back from a failure: it may have restarted and lost its registrations */
    if (h == ILU_WH_HEALTHY && was == ILU_WH_UNHEALTHY)
        push_all_functions(c, w, "health");
}

struct poll_ctx {
    struct ilu_controller *c;
    struct ilu_ctl_worker *w;
};

static void poll_worker(struct ilu_controller *c, struct ilu_ctl_worker *w);

static void on_poll_reply(void *arg, int status, json_t *answer, struct ilu_ctl_text text, const char *transport_error)
{
    struct poll_ctx *p = arg;
    struct ilu_controller *c = p->c;
    struct ilu_ctl_worker *w = p->w;
    free(p);
    w->poll_pending = false;
    if (status == 200 && json_is_object(answer)) {
        w->failures = 0;
        w->last_ok_us = now(c);
        json_decref(w->last_status);
        w->last_status = json_incref(answer);
        /* what the worker runs beyond what this controller has in flight
         * there (other clients, other controllers): the in-flight count is
         * exact and immediate, a report is up to a poll old and would count
         * invocations that have already finished */
        json_int_t reported = json_integer_value(json_object_get(answer, "cpu_queue_len")) +
                              json_integer_value(json_object_get(answer, "num_running_funcs"));
        json_int_t ours = w->in_flight < w->in_flight_at_poll ? w->in_flight : w->in_flight_at_poll;
        w->reported_load = reported > ours ? (uint32_t)(reported - ours) : 0;
        set_health(c, w, ILU_WH_HEALTHY, NULL);
        return;
    }
    w->failures++;
    if (w->failures >= c->cfg.health.failures_to_unhealthy) {
        char why[300];
        snprintf(why, sizeof why, "%u status polls failed, last: %s", w->failures,
                 status > 0        ? (answer ? "not a status object" : "not JSON")
                 : transport_error ? transport_error
                                   : "no answer");
        set_health(c, w, ILU_WH_UNHEALTHY, why);
    } else {
        poll_worker(c, w); /* confirm at once rather than a period later */
    }
}

static void poll_worker(struct ilu_controller *c, struct ilu_ctl_worker *w)
{
    if (w->poll_pending)
        return; /* a hung worker gets one poll at a time, each bounded by the timeout */
    struct poll_ctx *p = malloc(sizeof *p);
    if (!p)
        return;
    *p = (struct poll_ctx){c, w};
    w->poll_pending = true;
    w->in_flight_at_poll = w->in_flight;
    c->transport.send(c->transport.ctx, w, ILU_CTL_STATUS, NULL, (struct ilu_ctl_text){0}, "health",
                      (uint64_t)c->cfg.health.request_timeout_ms * 1000, on_poll_reply, p);
}

static void async_free(struct ctl_async *a);

static void expire_async(struct ilu_controller *c)
{
    uint64_t ttl = (uint64_t)c->cfg.invocation.async_result_ttl_sec * 1000000, t = now(c);
    const char *key;
    void *value;
    for (size_t it = 0; ilu_map_next(&c->async, &it, &key, &value);) {
        struct ctl_async *a = value;
        if (a->result && t - a->finished_us >= ttl) {
            ilu_map_del(&c->async, a->cookie);
            async_free(a);
        }
    }
}

static void on_poll_tick(void *arg)
{
    struct ilu_controller *c = arg;
    for (size_t i = 0; i < c->n_workers; i++)
        poll_worker(c, c->workers[i]);
    expire_async(c);
    c->poll_timer = c->env->timer_start(c->env->ctx, (uint64_t)c->cfg.health.status_freq_ms * 1000, on_poll_tick, c);
}

/* The worker's row in the store: what a restarted controller knows of it. */
static int save_worker_row(struct ilu_controller *c, const struct ilu_ctl_worker_info *info, struct ilu_error *err)
{
    json_t *row =
        json_pack("{s:s, s:s, s:i, s:i, s:i, s:i}", "name", info->name, "host", info->host, "port", (int)info->port,
                  "cpus", (int)info->cpus, "memory_mb", (int)info->memory_mb, "gpus", (int)info->gpus);
    int rc = row ? c->store.save_worker(c->store.ctx, info->name, row, err)
                 : ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    json_decref(row);
    return rc ? ilu_err_wrap(err, "storing worker %s", info->name) : 0;
}

int ilu_controller_register_worker(struct ilu_controller *c, const struct ilu_ctl_worker_info *info, bool persist,
                                   const char *tid, struct ilu_error *err)
{
    if (!info->name || !*info->name || strlen(info->name) >= 64 || !info->host || !*info->host ||
        strlen(info->host) >= 256 || !info->port || info->port > 65535)
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL,
                       "register_worker needs name (1-63 characters), host and port (1-65535)");
    struct ilu_ctl_worker *w = NULL;
    for (size_t i = 0; i < c->n_workers; i++)
        if (!strcmp(c->workers[i]->name, info->name))
            w = c->workers[i];
    if (w && !strcmp(w->host, info->host) && w->port == info->port) {
        uint32_t cpus = info->cpus ? info->cpus : 1, had_gpus = w->gpus;
        /* a restart with another config: the store keeps what it says now */
        if (persist && c->has_store && (cpus != w->cpus || info->memory_mb != w->memory_mb || info->gpus != w->gpus) &&
            save_worker_row(c, info, err))
            return -1;
        w->cpus = cpus; /* a heartbeat: nothing changes... */
        w->memory_mb = info->memory_mb;
        w->gpus = info->gpus;
        if (info->boot_id && strcmp(w->boot_id, info->boot_id)) {
            /* ...unless it restarted in between polls: it lost its registrations */
            snprintf(w->boot_id, sizeof w->boot_id, "%s", info->boot_id);
            ilu_log_fields(c->log, ILU_LOG_INFO, tid, json_pack("{s:s, s:s}", "worker", w->name, "boot_id", w->boot_id),
                           "worker restarted; registering its functions again");
            push_all_functions(c, w, tid);
        } else if (!had_gpus && w->gpus) {
            /* ...or it now has GPUs: it gets the GPU functions (the others
             * again, which a worker takes as a no-op) */
            push_all_functions(c, w, tid);
        }
        return 0;
    }
    /* another address under a name a live worker holds: only that worker
     * itself (same boot id) may move; anyone else would divert its traffic.
     * A restarted worker (new boot id) gets the name once the old process
     * fails its health checks. */
    if (w && w->health != ILU_WH_UNHEALTHY &&
        (!w->boot_id[0] || !info->boot_id || !*info->boot_id || strcmp(w->boot_id, info->boot_id)))
        return ilu_err(err, ILU_ST_CONFLICT, NULL,
                       "worker name %s is held by a live worker at %s:%u with another boot id; a restarted worker "
                       "gets the name once the old one fails its health checks",
                       info->name, w->host, w->port);
    /* persisted or refused: a restarted controller knows every worker it accepted */
    if (persist && c->has_store && save_worker_row(c, info, err))
        return -1;
    bool is_new = !w;
    if (is_new) {
        struct ilu_ctl_worker **grown = realloc(c->workers, (c->n_workers + 1) * sizeof *grown);
        if (!grown)
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        c->workers = grown;
        if (!(w = calloc(1, sizeof *w)))
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        snprintf(w->name, sizeof w->name, "%s", info->name);
    } else {
        c->transport.worker_freed(c->transport.ctx, w); /* it moved: new address */
    }
    snprintf(w->host, sizeof w->host, "%s", info->host);
    w->port = info->port;
    w->cpus = info->cpus ? info->cpus : 1;
    w->memory_mb = info->memory_mb;
    w->gpus = info->gpus;
    snprintf(w->boot_id, sizeof w->boot_id, "%s", info->boot_id ? info->boot_id : "");
    w->health = ILU_WH_UNKNOWN; /* routable after its first good poll */
    w->failures = 0;
    w->registered_us = now(c);
    if (c->transport.worker_added(c->transport.ctx, w, err)) {
        if (is_new)
            free(w); /* never became part of the cluster */
        else
            w->health = ILU_WH_UNHEALTHY; /* unreachable at its new address */
        return ilu_err_wrap(err, "worker %s", info->name);
    }
    if (is_new) {
        w->index = (unsigned)c->n_workers;
        c->workers[c->n_workers++] = w;
        c->lb->workers_changed(c->lb_state, c->workers, c->n_workers);
    }
    ilu_log_fields(c->log, ILU_LOG_INFO, tid,
                   json_pack("{s:s, s:s, s:i, s:i, s:i}", "worker", w->name, "host", w->host, "port", (int)w->port,
                             "cpus", (int)w->cpus, "gpus", (int)w->gpus),
                   "worker successfully registered");
    push_all_functions(c, w, tid);
    poll_worker(c, w);
    return 0;
}

/* ---- invocations ------------------------------------------------------------ */

#define ILU_CTL_FQDN_MAX 160

struct routed {
    struct ilu_controller *c;
    struct ilu_ctl_worker *w;
    enum ilu_ctl_call call;
    json_t *body;    /* kept to send again when it never reached its worker */
    unsigned tries;  /* workers it was sent to */
    size_t body_len; /* body_text's length, 0: none */
    ilu_ctl_invoke_done_fn done;
    void *arg;
    char tid[64];
    char fqdn[ILU_CTL_FQDN_MAX];
    uint64_t first_us, sent_us;
    char body_text[]; /* the request as its client sent it (body_len bytes) */
};

/* Tell the balancer an invocation it routed finished, with the times the
 * worker reported. */
static void lb_on_done(struct routed *r, int status, json_t *answer)
{
    struct ilu_controller *c = r->c;
    if (!c->lb->on_done || r->call != ILU_CTL_INVOKE)
        return;
    json_t *timings = json_is_object(answer) ? json_object_get(answer, "timings") : NULL;
    json_int_t total = json_integer_value(json_object_get(timings, "total_us"));
    json_int_t exec = json_integer_value(json_object_get(timings, "exec_us"));
    const char *state = json_string_value(json_object_get(answer, "container_state"));
    struct ilu_lb_done d = {.fqdn = r->fqdn,
                            .worker = r->w,
                            .status = status,
                            .round_trip_us = now(c) - r->sent_us,
                            .e2e_us = total > 0 ? (uint64_t)total : 0,
                            .exec_us = exec > 0 ? (uint64_t)exec : 0,
                            .cold = state && !strcmp(state, "cold")};
    c->lb->on_done(c->lb_state, &d);
}

static json_t *error_answer(int status, const char *kind, const char *msg)
{
    return json_pack("{s:b, s:s, s:s, s:i}", "success", 0, "error", msg, "error_kind", kind, "http_status", status);
}

static void routed_send(struct routed *r, struct ilu_ctl_worker *w);

/* The routing call for fqdn (ILU_CTL_FQDN_MAX bytes, filled from body),
 * or -1 with err: 400 no name, 404 unknown function. */
static int routing_call(struct ilu_controller *c, json_t *body, char *fqdn, struct ilu_lb_call *call,
                        struct ilu_error *err)
{
    if (fqdn_of(body, fqdn, ILU_CTL_FQDN_MAX, err))
        return -1;
    void *v = ilu_map_get(&c->fn_index, fqdn);
    if (!v)
        return ilu_err(err, ILU_ST_NOT_FOUND, NULL, "function %s is not registered", fqdn);
    *call = (struct ilu_lb_call){.fqdn = fqdn, .needs = c->fn_needs[(size_t)(uintptr_t)v - 1]};
    return 0;
}

/* 503 no_worker for call: no healthy worker, or none of the healthy ones
 * can run it (a GPU function, and no healthy worker has GPUs). */
static void no_worker(struct ilu_controller *c, const struct ilu_lb_call *call, struct ilu_error *err)
{
    c->count.no_worker++;
    unsigned healthy = ilu_controller_healthy_workers(c);
    if (healthy && (call->needs & ILU_LB_NEEDS_GPU))
        ilu_err(err, ILU_ST_UNAVAILABLE, "no_worker",
                "no healthy worker with GPUs to run %s (compute GPU runs only on workers with "
                "container_resources.gpu_resource.count > 0): %u of %zu workers healthy, %u with GPUs",
                call->fqdn, healthy, c->n_workers, workers_for(c, ILU_LB_NEEDS_GPU));
    else
        ilu_err(err, ILU_ST_UNAVAILABLE, "no_worker", "no healthy worker to run %s (%zu registered)", call->fqdn,
                c->n_workers);
}

/* The chosen worker, or NULL with err (404 unknown function, 503 none
 * healthy and able to run it); fqdn (ILU_CTL_FQDN_MAX bytes) gets the
 * function's fqdn. */
static struct ilu_ctl_worker *route(struct ilu_controller *c, json_t *body, char *fqdn, struct ilu_error *err)
{
    struct ilu_lb_call call;
    if (routing_call(c, body, fqdn, &call, err))
        return NULL;
    long i = c->lb->pick(c->lb_state, &call, c->workers, c->n_workers);
    if (i < 0 || (size_t)i >= c->n_workers || !ilu_lb_eligible(&call, c->workers[i])) {
        no_worker(c, &call, err);
        return NULL;
    }
    return c->workers[i];
}

static void on_routed_reply(void *arg, int status, json_t *answer, struct ilu_ctl_text text,
                            const char *transport_error)
{
    struct routed *r = arg;
    struct ilu_controller *c = r->c;
    struct ilu_ctl_worker *w = r->w;
    w->in_flight--;
    c->outstanding--;
    json_t *out;
    struct ilu_ctl_text worker_text = {0};
    if (status <= 0 || !json_is_object(answer)) {
        c->count.worker_failures++;
        bool sent = status != ILU_CTL_NOT_SENT;
        char msg[480];
        snprintf(msg, sizeof msg, "worker %s (%s:%u) failed: %s", w->name, w->host, w->port,
                 status > 0        ? "its answer is not a JSON object"
                 : transport_error ? transport_error
                                   : "no answer");
        /* refused, reset or garbage well before the timeout: the worker died
         * or is broken, stop routing there now (a good poll brings it back).
         * A timeout may be a slow function on a healthy worker: let the
         * status polls decide. */
        uint64_t timeout_us = (uint64_t)c->cfg.invocation.timeout_sec * 1000000;
        if (status || now(c) - r->sent_us < timeout_us - timeout_us / 10)
            set_health(c, w, ILU_WH_UNHEALTHY, msg);
        else
            poll_worker(c, w);
        /* it never reached the worker, so it did not run: another worker
         * may take it, chosen by the policy like any invocation */
        if (!sent && r->tries <= c->cfg.invocation.unsent_retries) {
            struct ilu_error err = {0};
            struct ilu_ctl_worker *next = route(c, r->body, r->fqdn, &err);
            if (next) {
                c->count.unsent_retries++;
                ilu_log_fields(c->log, ILU_LOG_WARN, r->tid,
                               json_pack("{s:s, s:s, s:i}", "worker", w->name, "next_worker", next->name, "try",
                                         (int)r->tries + 1),
                               "request never reached worker %s; sending it to %s: %s", w->name, next->name,
                               transport_error ? transport_error : "not sent");
                routed_send(r, next);
                return;
            }
            size_t len = strlen(msg);
            snprintf(msg + len, sizeof msg - len, "; no other worker to send it to: %s", err.msg);
        }
        size_t len = strlen(msg);
        if (sent)
            snprintf(msg + len, sizeof msg - len, " (the request was sent: the function may have run)");
        else
            snprintf(msg + len, sizeof msg - len,
                     " (the request never reached a worker in %u tries: the function did not run)", r->tries);
        status = ILU_ST_BAD_GATEWAY;
        out = error_answer(status, "worker_failed", msg);
        json_object_set_new(out, "may_have_run", json_boolean(sent));
    } else {
        out = json_incref(answer);
        /* the edge may write the worker's text and append the two members
         * only when that is what encoding out would give: the members are
         * new (not replacing the worker's) and the object is not empty */
        if (text.data && json_object_size(answer) && !json_object_get(answer, "worker") &&
            !json_object_get(answer, "controller_us"))
            worker_text = text;
    }
    lb_on_done(r, status, out);
    json_object_set_new(out, "worker", json_string(w->name));
    json_object_set_new(out, "controller_us", json_integer((json_int_t)(now(c) - r->first_us)));
    if (status != 200)
        c->count.errors++;
    r->done(r->arg, status, out, worker_text);
    json_decref(out);
    json_decref(r->body);
    free(r);
}

static void routed_send(struct routed *r, struct ilu_ctl_worker *w)
{
    struct ilu_controller *c = r->c;
    r->w = w;
    r->tries++;
    r->sent_us = now(c);
    w->in_flight++;
    w->routed++;
    c->outstanding++;
    struct ilu_ctl_text body_text = {r->body_len ? r->body_text : NULL, r->body_len};
    c->transport.send(c->transport.ctx, w, r->call, r->body, body_text, r->tid,
                      (uint64_t)c->cfg.invocation.timeout_sec * 1000000, on_routed_reply, r);
}

static int send_routed(struct ilu_controller *c, enum ilu_ctl_call call, json_t *body, struct ilu_ctl_text body_text,
                       const char *tid, ilu_ctl_invoke_done_fn done, void *arg, struct ilu_error *err)
{
    char fqdn[ILU_CTL_FQDN_MAX];
    struct ilu_ctl_worker *w = route(c, body, fqdn, err);
    if (!w)
        return -1;
    size_t body_len = body_text.data ? body_text.len : 0;
    struct routed *r = malloc(sizeof *r + body_len);
    if (!r)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    *r = (struct routed){.c = c,
                         .call = call,
                         .body = json_incref(body),
                         .body_len = body_len,
                         .done = done,
                         .arg = arg,
                         .first_us = now(c)};
    if (body_len) /* kept: the client's buffer goes when it is answered, a retry may come later */
        memcpy(r->body_text, body_text.data, body_len);
    snprintf(r->tid, sizeof r->tid, "%s", tid ? tid : "");
    memcpy(r->fqdn, fqdn, sizeof r->fqdn);
    if (call == ILU_CTL_INVOKE)
        c->count.invocations++;
    routed_send(r, w);
    return 0;
}

int ilu_controller_invoke(struct ilu_controller *c, json_t *body, struct ilu_ctl_text body_text, const char *tid,
                          ilu_ctl_invoke_done_fn done, void *arg, struct ilu_error *err)
{
    return send_routed(c, ILU_CTL_INVOKE, body, body_text, tid, done, arg, err);
}

int ilu_controller_prewarm(struct ilu_controller *c, json_t *body, struct ilu_ctl_text body_text, const char *tid,
                           ilu_ctl_invoke_done_fn done, void *arg, struct ilu_error *err)
{
    return send_routed(c, ILU_CTL_PREWARM, body, body_text, tid, done, arg, err);
}

/* ---- async invocations ------------------------------------------------------ */

static void async_send(struct ctl_async *a);

static void async_finish(struct ctl_async *a, int status, json_t *result)
{
    a->status = status;
    a->result = result;
    a->finished_us = now(a->c);
}

static void on_async_retry(void *arg)
{
    struct ctl_async *a = arg;
    a->retry_timer = NULL;
    async_send(a);
}

static void on_async_reply(void *arg, int status, json_t *answer, struct ilu_ctl_text worker_text)
{
    struct ctl_async *a = arg;
    struct ilu_controller *c = a->c;
    const char *kind = json_string_value(json_object_get(answer, "error_kind"));
    /* lost with its worker: send it again (it may run twice: at-least-once) */
    if (status == ILU_ST_BAD_GATEWAY && kind && !strcmp(kind, "worker_failed") &&
        a->attempts <= c->cfg.invocation.async_retries) {
        c->count.async_retries++;
        ilu_log_fields(c->log, ILU_LOG_WARN, a->tid,
                       json_pack("{s:s, s:i}", "cookie", a->cookie, "attempt", (int)a->attempts + 1),
                       "async invocation lost with its worker; sending it again: %s",
                       json_string_value(json_object_get(answer, "error")));
        async_send(a);
        return;
    }
    if (status == ILU_ST_BAD_GATEWAY && kind && !strcmp(kind, "worker_failed"))
        c->count.async_lost++;
    async_finish(a, status, json_incref(answer));
}

static void async_send(struct ctl_async *a)
{
    struct ilu_controller *c = a->c;
    struct ilu_error err = {0};
    a->attempts++;
    if (!send_routed(c, ILU_CTL_INVOKE, a->body, (struct ilu_ctl_text){0}, a->tid, on_async_reply, a, &err))
        return;
    /* no healthy worker right now: wait a poll period, within the retries */
    if (err.status == ILU_ST_UNAVAILABLE && a->attempts <= c->cfg.invocation.async_retries + 1) {
        a->retry_timer =
            c->env->timer_start(c->env->ctx, (uint64_t)c->cfg.health.status_freq_ms * 1000 * 2, on_async_retry, a);
        return;
    }
    char msg[600];
    snprintf(msg, sizeof msg, "not run after %u attempts: %s", a->attempts, err.msg);
    c->count.async_lost += err.status == ILU_ST_UNAVAILABLE;
    async_finish(a, err.status ? err.status : ILU_ST_INTERNAL,
                 error_answer(err.status, err.kind[0] ? err.kind : "no_worker", msg));
}

char *ilu_controller_invoke_async(struct ilu_controller *c, json_t *body, const char *tid, struct ilu_error *err)
{
    /* refuse at once what cannot run now, without using up a pick */
    char fqdn[ILU_CTL_FQDN_MAX];
    struct ilu_lb_call call;
    if (routing_call(c, body, fqdn, &call, err))
        return NULL;
    size_t eligible = 0;
    for (size_t i = 0; i < c->n_workers; i++)
        eligible += ilu_lb_eligible(&call, c->workers[i]);
    if (!eligible) {
        no_worker(c, &call, err);
        return NULL;
    }
    struct ctl_async *a = calloc(1, sizeof *a);
    if (!a) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    a->c = c;
    a->body = json_deep_copy(body);
    snprintf(a->tid, sizeof a->tid, "%s", tid ? tid : "");
    snprintf(a->cookie, sizeof a->cookie, "%.40s-%llx-%llx", c->cfg.name,
             (unsigned long long)(c->env->wall_us ? c->env->wall_us(c->env->ctx) : 0),
             (unsigned long long)++c->cookie_seq);
    char *cookie = strdup(a->cookie);
    if (!cookie || ilu_map_put(&c->async, a->cookie, a)) {
        free(cookie);
        json_decref(a->body);
        free(a);
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    async_send(a);
    return cookie;
}

static void async_free(struct ctl_async *a)
{
    if (a->retry_timer)
        a->c->env->timer_cancel(a->c->env->ctx, a->retry_timer);
    json_decref(a->body);
    json_decref(a->result);
    free(a);
}

json_t *ilu_controller_invoke_async_check(struct ilu_controller *c, const char *cookie, bool *pending, int *status,
                                          struct ilu_error *err)
{
    *pending = false;
    struct ctl_async *a = cookie ? ilu_map_get(&c->async, cookie) : NULL;
    if (!a) {
        ilu_err(err, ILU_ST_NOT_FOUND, NULL, "Invocation not found");
        return NULL;
    }
    if (!a->result) {
        *pending = true;
        return NULL;
    }
    json_t *result = json_incref(a->result);
    *status = a->status;
    ilu_map_del(&c->async, cookie);
    async_free(a);
    return result;
}

/* ---- clean -------------------------------------------------------------------- */

struct clean_fanout {
    unsigned pending, workers, removed;
    ilu_ctl_clean_done_fn done;
    void *arg;
};

static void clean_reply(void *arg, int status, json_t *answer, struct ilu_ctl_text text, const char *transport_error)
{
    struct clean_fanout *f = arg;
    if (status == 200)
        f->removed += (unsigned)json_integer_value(json_object_get(answer, "removed"));
    if (--f->pending == 0) {
        f->done(f->arg, f->workers, f->removed);
        free(f);
    }
}

static void clean_none(void *arg)
{
    struct clean_fanout *f = arg;
    f->done(f->arg, 0, 0);
    free(f);
}

void ilu_controller_clean(struct ilu_controller *c, const char *tid, ilu_ctl_clean_done_fn done, void *arg)
{
    struct clean_fanout *f = calloc(1, sizeof *f);
    if (!f) {
        done(arg, 0, 0);
        return;
    }
    f->done = done;
    f->arg = arg;
    for (size_t i = 0; i < c->n_workers; i++)
        f->workers += ilu_ctl_worker_routable(c->workers[i]);
    if (!f->workers) { /* answered later, like every other call */
        c->env->timer_start(c->env->ctx, 0, clean_none, f);
        return;
    }
    f->pending = f->workers;
    json_t *body = json_object();
    for (size_t i = 0; i < c->n_workers; i++)
        if (ilu_ctl_worker_routable(c->workers[i]))
            c->transport.send(c->transport.ctx, c->workers[i], ILU_CTL_CLEAN, body, (struct ilu_ctl_text){0}, tid,
                              (uint64_t)c->cfg.health.request_timeout_ms * 1000 * 10, clean_reply, f);
    json_decref(body);
}

unsigned ilu_controller_healthy_workers(const struct ilu_controller *c)
{
    unsigned n = 0;
    for (size_t i = 0; i < c->n_workers; i++)
        n += ilu_ctl_worker_routable(c->workers[i]);
    return n;
}

/* ---- life cycle and views --------------------------------------------------- */

struct ilu_controller *ilu_controller_new(const struct ilu_controller_config *cfg, const struct ilu_env *env,
                                          const struct ilu_ctl_transport *transport, const struct ilu_ctl_store *store,
                                          const struct ilu_log *log, struct ilu_error *err)
{
    if (ilu_controller_config_validate(cfg, err))
        return NULL;
    struct ilu_controller *c = calloc(1, sizeof *c);
    if (!c || ilu_map_init(&c->fn_index) || ilu_map_init(&c->async) || !(c->functions = json_array())) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        ilu_controller_free(c);
        return NULL;
    }
    c->cfg = *cfg;
    c->env = env;
    c->transport = *transport;
    if (store) {
        c->store = *store;
        c->has_store = true;
    }
    c->log = log;
    c->lb = ilu_lb_policy_find(cfg->load_balancer.algorithm);
    if (!(c->lb_state = c->lb->create(&c->cfg))) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        ilu_controller_free(c);
        return NULL;
    }
    c->poll_timer = env->timer_start(env->ctx, (uint64_t)cfg->health.status_freq_ms * 1000, on_poll_tick, c);
    return c;
}

void ilu_controller_free(struct ilu_controller *c)
{
    if (!c)
        return;
    if (c->poll_timer)
        c->env->timer_cancel(c->env->ctx, c->poll_timer);
    const char *key;
    void *value;
    for (size_t it = 0; c->async.slots && ilu_map_next(&c->async, &it, &key, &value);)
        async_free(value);
    for (size_t i = 0; i < c->n_workers; i++) {
        c->transport.worker_freed(c->transport.ctx, c->workers[i]);
        json_decref(c->workers[i]->last_status);
        free(c->workers[i]);
    }
    free(c->workers);
    if (c->lb && c->lb_state)
        c->lb->destroy(c->lb_state);
    if (c->fn_index.slots)
        ilu_map_destroy(&c->fn_index);
    if (c->async.slots)
        ilu_map_destroy(&c->async);
    json_decref(c->functions);
    free(c->fn_needs);
    free(c);
}

json_t *ilu_controller_workers_json(const struct ilu_controller *c)
{
    json_t *list = json_array();
    uint64_t t = now(c);
    for (size_t i = 0; i < c->n_workers; i++) {
        const struct ilu_ctl_worker *w = c->workers[i];
        json_t *o =
            json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:s, s:i, s:i, s:I, s:f}", "name", w->name, "host", w->host,
                      "port", (int)w->port, "cpus", (int)w->cpus, "memory_mb", (int)w->memory_mb, "gpus", (int)w->gpus,
                      "health", health_name(w->health), "failed_polls", (int)w->failures, "in_flight",
                      (int)w->in_flight, "routed", (json_int_t)w->routed, "load", ilu_ctl_worker_load(w));
        json_object_set_new(o, "last_ok_ms_ago",
                            w->last_ok_us ? json_integer((json_int_t)((t - w->last_ok_us) / 1000)) : json_null());
        json_object_set(o, "status", w->last_status ? w->last_status : json_null());
        json_array_append_new(list, o);
    }
    return list;
}

json_t *ilu_controller_functions_json(const struct ilu_controller *c)
{
    return json_deep_copy(c->functions);
}

json_t *ilu_controller_status_json(const struct ilu_controller *c)
{
    unsigned healthy = 0;
    for (size_t i = 0; i < c->n_workers; i++)
        healthy += c->workers[i]->health == ILU_WH_HEALTHY;
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i}", "name", c->cfg.name,
                     "load_balancer", c->lb->name, "workers", (int)c->n_workers, "healthy_workers", (int)healthy,
                     "functions", (int)json_array_size(c->functions), "invocations", (json_int_t)c->count.invocations,
                     "errors", (json_int_t)c->count.errors, "no_worker", (json_int_t)c->count.no_worker,
                     "worker_failures", (json_int_t)c->count.worker_failures, "async_retries",
                     (json_int_t)c->count.async_retries, "async_lost", (json_int_t)c->count.async_lost,
                     "unsent_retries", (json_int_t)c->count.unsent_retries, "outstanding", (int)c->outstanding,
                     "async_held", (int)c->async.len);
}

unsigned ilu_controller_gpu_workers(const struct ilu_controller *c)
{
    return workers_for(c, ILU_LB_NEEDS_GPU);
}

unsigned ilu_controller_outstanding(const struct ilu_controller *c)
{
    return c->outstanding;
}
