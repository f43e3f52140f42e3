/* `trace --setup simulation --target controller`: a simulated cluster. The
 * controller core (health polls, function fan-out, load balancing) routes the
 * planned trace to N worker cores ("worker-0".."worker-N-1"), each with its
 * own simulated backend, all in-process on one discrete-event clock. The
 * only thing made up here is the wire: an in-process struct
 * ilu_ctl_transport that hands each call to the target worker's core after
 * half of --sim-network-us and carries the answer back after the other half,
 * answering with the JSON the worker's HTTP API would. Nothing here decides
 * where an invocation runs or what a worker does with it.
 *
 * A mixed cluster: with --gpu-workers K only worker-0..worker-K-1 get the
 * worker config's GPUs, the others gpu_resource.count 0; each tells the
 * controller its GPUs as a live worker does, and the controller registers
 * and routes GPU-only functions to those with GPUs.
 *
 * Results: the same folder as every trace run (the CSV has no worker column:
 * its format is fixed), plus DIR/workers.csv (tid,function_name,worker) and,
 * in summary.json's inputs, the cluster's settings and per-worker counts. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/secrets.h"
#include "api/controller_codec.h"
#include "controller/controller.h"
#include "controller/controller_config.h"
#include "core/policy_registry.h"
#include "worker/worker.h"
#include "loadgen/loadgen.h"
#include "os/file.h"
#include "sim/sim_env.h"
#include "loadgen/trace_plan.h"
#include "loadgen/status_log.h"
#include "loadgen/worker_tally.h"

extern char **environ;

#define CL_MAX_WORKERS 1024
#define CL_WORKER_PORT 8079 /* the workers' (nominal) port: the controller wants one */

struct cl_run;

/* One simulated worker. */
struct cl_node {
    char name[64];
    uint32_t gpus; /* its gpu_resource.count */
    struct ilu_backend *backend;
    struct ilu_worker *worker;
};

/* One controller -> worker call, alive until its reply event has fired
 * (which it always does: the simulated network loses nothing). */
struct cl_msg {
    struct cl_run *run;
    struct cl_node *node;
    enum ilu_ctl_call call;
    json_t *body; /* the request, referenced */
    char tid[64];
    ilu_ctl_reply_fn cb;
    void *arg;
    struct ilu_timer *timeout; /* NULL once fired or cancelled */
    bool timed_out;            /* cb already told "no answer" */
    int status;
    json_t *answer; /* owned */
    struct cl_msg *prev, *next;
};

/* A call the wire could not carry: its callback, still owed. */
struct cl_dropped {
    ilu_ctl_reply_fn cb;
    void *arg;
};

struct cl_run {
    struct lg_ctx *ctx;
    const struct lg_trace_opts *o;
    struct lg_trace_plan plan;
    struct lg_sim_world world;
    struct ilu_controller_config ccfg;
    struct ilu_controller *ctl;
    struct cl_node *nodes;
    unsigned n_nodes;
    struct cl_msg *in_flight;     /* every message not yet replied, for teardown */
    bool stopping;                /* tearing down: worker callbacks schedule nothing */
    json_t **invoke_bodies;       /* per trace function: its /invoke request */
    struct lg_worker_tally tally; /* workers.csv and inputs.per_worker */
    uint64_t t0_us, half_net_us;
    /* set-up calls (registrations, prewarms) waited for one batch at a time */
    unsigned setup_pending, setup_failures;
    unsigned setup_expect; /* workers the registration in flight goes to */
    char setup_error[600];
    /* a message the wire could not carry (out of memory): the run stops and
     * fails, since a dropped message would make it silently wrong; the
     * callbacks still owed are answered at teardown */
    struct ilu_error wire_error;
    struct cl_dropped dropped[16];
    unsigned n_dropped;
};

static uint64_t now_us(const struct cl_run *run)
{
    return run->world.sim.now_us;
}

/* One event of the clock; false when none is left or the wire has failed. */
static bool cl_step(struct cl_run *run)
{
    return !run->wire_error.status && ilu_sim_env_step(&run->world.sim);
}

/* ---- the in-process wire ------------------------------------------------------ */

static void on_reply_due(void *arg)
{
    struct cl_msg *m = arg;
    struct cl_run *run = m->run;
    if (m->timeout)
        ilu_sim_env_cancel(&run->world.sim, m->timeout);
    if (!m->timed_out)
        m->cb(m->arg, m->status, m->answer, (struct ilu_ctl_text){0}, NULL);
    if (m->prev)
        m->prev->next = m->next;
    else
        run->in_flight = m->next;
    if (m->next)
        m->next->prev = m->prev;
    json_decref(m->body);
    json_decref(m->answer);
    free(m);
}

/* The worker has answered: the answer travels back for half the delay. */
static void reply(struct cl_msg *m, int status, json_t *answer)
{
    if (m->run->stopping) {
        json_decref(answer);
        return;
    }
    m->status = status;
    m->answer = answer;
    ilu_sim_env_at(&m->run->world.sim, now_us(m->run) + m->run->half_net_us, on_reply_due, m);
}

static void reply_error(struct cl_msg *m, const struct ilu_error *e)
{
    reply(m, ilu_api_error_status(e), ilu_api_error_json(e));
}

static void on_timeout(void *arg)
{
    struct cl_msg *m = arg;
    m->timeout = NULL;
    m->timed_out = true;
    char why[96];
    snprintf(why, sizeof why, "no answer from %s in time", m->node ? m->node->name : "an unknown worker");
    m->cb(m->arg, 0, NULL, (struct ilu_ctl_text){0}, why); /* the late answer is dropped when it comes */
}

static void on_invoked(void *arg, struct ilu_invocation *inv)
{
    struct cl_msg *m = arg;
    reply(m, ilu_invocation_http_status(inv), ilu_invocation_result_json(inv));
}

static void on_prewarmed(void *arg, const char *tid, const struct ilu_error *err)
{
    struct cl_msg *m = arg;
    if (err)
        reply_error(m, err);
    else
        reply(m, 200, ilu_api_prewarm_answer());
}

/* The request reaches the worker: what its HTTP API does with it, decoded
 * by the live API's codec (so refused with the same 400s). */
static void on_delivered(void *arg)
{
    struct cl_msg *m = arg;
    struct ilu_error e = {0};
    struct ilu_api_worker_call c;
    if (!m->node) {
        ilu_err(&e, ILU_ST_INTERNAL, NULL, "no such simulated worker");
        reply_error(m, &e);
        return;
    }
    struct ilu_worker *w = m->node->worker;
    if (ilu_api_worker_call_decode(m->call, m->body, &c, &e)) {
        reply_error(m, &e);
        return;
    }
    int rc = 0;
    switch (c.call) {
    case ILU_CTL_STATUS: reply(m, 200, ilu_worker_status_json(w)); break;
    case ILU_CTL_CLEAN: reply(m, 200, ilu_api_clean_answer(ilu_worker_clean(w, m->tid))); break;
    case ILU_CTL_REGISTER:
        if (!(rc = ilu_worker_register(w, &c.u.reg, m->tid, &e)))
            reply(m, 200, ilu_api_register_answer(&c.u.reg));
        break;
    case ILU_CTL_INVOKE:
        rc = ilu_worker_invoke(w, c.u.invoke.function_name, c.u.invoke.function_version, c.u.invoke.json_args,
                               c.u.invoke.json_args_len, m->tid, on_invoked, m, &e);
        break;
    case ILU_CTL_PREWARM:
        rc =
            ilu_worker_prewarm(w, c.u.prewarm.function_name, c.u.prewarm.function_version, m->tid, on_prewarmed, m, &e);
        break;
    }
    ilu_api_worker_call_release(&c);
    if (rc)
        reply_error(m, &e);
}

static void wire_send(void *ctx, struct ilu_ctl_worker *w, enum ilu_ctl_call call, json_t *body,
                      struct ilu_ctl_text body_text, const char *tid, uint64_t timeout_us, ilu_ctl_reply_fn cb,
                      void *arg)
{
    struct cl_run *run = ctx;
    struct cl_msg *m = calloc(1, sizeof *m);
    if (!m) {
        /* cb may not run from inside send: it is answered at teardown */
        if (run->n_dropped < sizeof run->dropped / sizeof run->dropped[0])
            run->dropped[run->n_dropped++] = (struct cl_dropped){cb, arg};
        if (!run->wire_error.status)
            ilu_err(&run->wire_error, ILU_ST_INTERNAL, NULL,
                    "out of memory in the simulated network: a message was dropped, so the run cannot be trusted");
        return;
    }
    *m = (struct cl_msg){.run = run,
                         .node = w->transport_data,
                         .call = call,
                         .body = json_incref(body),
                         .cb = cb,
                         .arg = arg,
                         .next = run->in_flight};
    snprintf(m->tid, sizeof m->tid, "%s", tid ? tid : "");
    if (run->in_flight)
        run->in_flight->prev = m;
    run->in_flight = m;
    uint64_t t = now_us(run);
    if (timeout_us)
        m->timeout = ilu_sim_env_at(&run->world.sim, t + timeout_us, on_timeout, m);
    ilu_sim_env_at(&run->world.sim, t + run->half_net_us, on_delivered, m);
}

static int wire_worker_added(void *ctx, struct ilu_ctl_worker *w, struct ilu_error *err)
{
    struct cl_run *run = ctx;
    for (unsigned i = 0; i < run->n_nodes; i++)
        if (!strcmp(run->nodes[i].name, w->name)) {
            w->transport_data = &run->nodes[i];
            return 0;
        }
    return ilu_err(err, ILU_ST_NOT_FOUND, NULL, "no simulated worker is named %s", w->name);
}

static void wire_worker_freed(void *ctx, struct ilu_ctl_worker *w)
{
    w->transport_data = NULL;
}

/* Stopping: every call still unanswered fails, as the core asks before it
 * is freed (what it sends meanwhile, such as an async retry, fails too). */
static void fail_in_flight(struct cl_run *run)
{
    for (;;) {
        if (run->n_dropped) {
            struct cl_dropped d = run->dropped[--run->n_dropped];
            d.cb(d.arg, ILU_CTL_NOT_SENT, NULL, (struct ilu_ctl_text){0}, "the simulated network dropped the message");
            continue;
        }
        struct cl_msg *m = run->in_flight;
        while (m && m->timed_out)
            m = m->next;
        if (!m)
            return;
        m->timed_out = true;
        m->cb(m->arg, 0, NULL, (struct ilu_ctl_text){0}, "the simulation is stopping");
    }
}

static void free_in_flight(struct cl_run *run)
{
    while (run->in_flight) {
        struct cl_msg *m = run->in_flight;
        run->in_flight = m->next;
        json_decref(m->body);
        json_decref(m->answer);
        free(m);
    }
}

/* ---- set-up: controller config, workers, functions, prewarms ------------------ */

static int load_controller_config(struct cl_run *run, struct ilu_error *err)
{
    struct ilu_controller_config *c = &run->ccfg;
    const char *path = run->o->controller_config;
    ilu_controller_config_defaults(c);
    if (path) {
        char *text = ilu_read_file(path, err);
        if (!text)
            return -1;
        int rc = ilu_controller_config_apply_json(c, text, path, err);
        free(text);
        if (rc)
            return -1;
    }
    if (ilu_controller_config_apply_env(c, "ILUVATAR_CONTROLLER", environ, err) ||
        ilu_controller_config_validate(c, err))
        return ilu_err_wrap(err, "controller config");
    const struct ilu_lb_policy_ops *lb = ilu_lb_policy_find(c->load_balancer.algorithm);
    json_t *cluster;
    json_object_set_new(run->plan.inputs, "cluster",
                        cluster =
                            json_pack("{s:i, s:o, s:s, s:i, s:i, s:i, s:i, s:i, s:i}", "workers", (int)run->n_nodes,
                                      "controller_config", path ? json_string(path) : json_null(), "load_balancer",
                                      lb->name, "vnodes", (int)c->load_balancer.vnodes, "bound_pct",
                                      (int)c->load_balancer.bound_pct, "status_freq_ms", (int)c->health.status_freq_ms,
                                      "request_timeout_ms", (int)c->health.request_timeout_ms, "invoke_timeout_sec",
                                      (int)c->invocation.timeout_sec, "network_us", (int)run->o->network_us));
    if (run->o->gpu_workers_set) /* only then: runs without it stay as they were */
        json_object_set_new(cluster, "gpu_workers", json_integer(run->o->gpu_workers));
    return 0;
}

static void on_setup_registered(void *arg, unsigned accepted, unsigned refused, const char *first_error,
                                const struct ilu_error *not_kept)
{
    struct cl_run *run = arg;
    run->setup_pending--;
    if (not_kept) {
        run->setup_failures++;
        snprintf(run->setup_error, sizeof run->setup_error, "the controller did not keep it: %s", not_kept->msg);
    } else if (refused || accepted < run->setup_expect) {
        run->setup_failures++;
        snprintf(run->setup_error, sizeof run->setup_error, "%u of %u workers accepted it%s%s", accepted,
                 run->setup_expect, first_error ? "; first refusal: " : "", first_error ? first_error : "");
    }
}

static void on_setup_answer(void *arg, int status, json_t *answer, struct ilu_ctl_text worker_text)
{
    struct cl_run *run = arg;
    run->setup_pending--;
    if (status != 200) {
        run->setup_failures++;
        const char *msg = json_string_value(json_object_get(answer, "error"));
        snprintf(run->setup_error, sizeof run->setup_error, "HTTP %d: %s", status, msg ? msg : "no message");
    }
}

/* Run the clock until the set-up calls in flight are answered. */
static int wait_setup(struct cl_run *run, const char *what, struct ilu_error *err)
{
    while (run->setup_pending && cl_step(run))
        ;
    if (run->wire_error.status) {
        *err = run->wire_error;
        return -1;
    }
    if (run->setup_pending || run->setup_failures)
        return ilu_err(err, ILU_ST_BAD_GATEWAY, NULL, "%s: %s", what,
                       run->setup_pending ? "no answer" : run->setup_error);
    return 0;
}

static unsigned healthy_workers(const struct cl_run *run)
{
    json_t *st = ilu_controller_status_json(run->ctl);
    unsigned h = (unsigned)json_integer_value(json_object_get(st, "healthy_workers"));
    json_decref(st);
    return h;
}

static int setup_cluster(struct cl_run *run, struct ilu_error *err)
{
    struct lg_sim_world *world = &run->world;
    struct ilu_error e = {0};
    const struct ilu_gpu_resource_config *gpu = &world->cfg.container_resources.gpu_resource;
    if (run->o->gpu_workers_set && run->o->gpu_workers > run->n_nodes)
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "--gpu-workers %u is more than --workers %u", run->o->gpu_workers,
                       run->n_nodes);
    if (run->o->gpu_workers_set && run->o->gpu_workers && !gpu->count)
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL,
                       "--gpu-workers %u gives workers the worker config's GPUs, but its "
                       "container_resources.gpu_resource.count is 0",
                       run->o->gpu_workers);
    for (unsigned i = 0; i < run->n_nodes; i++) {
        struct cl_node *node = &run->nodes[i];
        snprintf(node->name, sizeof node->name, "worker-%u", i);
        /* --gpu-workers K: the first K have the config's GPUs, the others none */
        struct ilu_worker_config ncfg = world->cfg;
        if (run->o->gpu_workers_set && i >= run->o->gpu_workers)
            ncfg.container_resources.gpu_resource.count = 0;
        node->gpus = ncfg.container_resources.gpu_resource.count;
        /* each worker its own backend; jitter seeds differ, deterministically */
        /* worker i of repetition k jitters with simulation.seed + (k - 1) * 1024 + i */
        uint64_t rep = run->o->repetition ? run->o->repetition - 1 : 0;
        if (!(node->backend = lg_sim_world_backend(world, &run->plan, rep * 1024 + i)))
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        if (!(node->worker = ilu_worker_new(&ncfg, &world->sim.env, node->backend, &world->log, err)))
            return ilu_err_wrap(err, "worker config");
    }
    struct ilu_ctl_transport wire = {
        .ctx = run, .worker_added = wire_worker_added, .worker_freed = wire_worker_freed, .send = wire_send};
    if (!(run->ctl = ilu_controller_new(&run->ccfg, &world->sim.env, &wire, NULL, &world->log, err)))
        return ilu_err_wrap(err, "controller config");
    for (unsigned i = 0; i < run->n_nodes; i++) {
        struct ilu_ctl_worker_info info = {.name = run->nodes[i].name,
                                           .host = run->nodes[i].name,
                                           .port = CL_WORKER_PORT,
                                           .cpus = world->cfg.container_resources.cpu_count,
                                           .memory_mb = world->cfg.container_resources.memory_mb,
                                           .gpus = run->nodes[i].gpus};
        if (ilu_controller_register_worker(run->ctl, &info, false, "setup", err))
            return ilu_err_wrap(err, "registering %s with the controller", info.name);
    }
    unsigned with_gpus = 0;
    for (unsigned i = 0; i < run->n_nodes; i++)
        with_gpus += run->nodes[i].gpus > 0;
    /* every function through the controller, which registers it on every
     * worker that can run it (a GPU-only one on the workers with GPUs) */
    for (size_t f = 0; f < run->plan.trace.n_fns; f++) {
        const struct lg_fn_plan *pl = &run->plan.fns[f];
        run->setup_expect = pl->compute == ILU_COMPUTE_GPU ? with_gpus : run->n_nodes;
        if (!run->setup_expect)
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL,
                           "the simulated workers refuse %s (from %s): compute GPU needs a GPU, and none of the %u "
                           "workers has one (the worker config's container_resources.gpu_resource.count is %u%s)",
                           pl->name, run->o->metadata, run->n_nodes, gpu->count,
                           run->o->gpu_workers_set ? ", --gpu-workers 0" : "");
        json_t *reg = json_pack("{s:s, s:s, s:s, s:i, s:i}", "function_name", pl->name, "function_version",
                                LG_TRACE_FN_VERSION, "image_name", pl->image, "memory", (int)pl->memory_mb, "cpus", 1);
        if (reg && pl->compute)
            json_object_set_new(reg, "compute", json_string(ilu_compute_name(pl->compute)));
        run->setup_pending++;
        int rc = ilu_controller_register_function(run->ctl, reg, false, "setup", on_setup_registered, run, &e);
        json_decref(reg);
        char what[300];
        snprintf(what, sizeof what, "the simulated workers refuse %s (from %s)", pl->name, run->o->metadata);
        if (rc)
            return ilu_err(err, e.status, e.kind, "%s: %s", what, e.msg);
        if (wait_setup(run, what, err))
            return -1;
    }
    /* routable only after a good status poll: wait for every worker, bounded */
    uint64_t give_up = now_us(run) + 60ull * 1000000;
    while (healthy_workers(run) < run->n_nodes && now_us(run) < give_up && cl_step(run))
        ;
    /* as live, the workers' sandbox pools are full before the trace starts */
    for (unsigned i = 0; i < run->n_nodes; i++)
        while (ilu_worker_sandboxes_starting(run->nodes[i].worker) && now_us(run) < give_up && cl_step(run))
            ;
    if (run->wire_error.status) {
        *err = run->wire_error;
        return -1;
    }
    unsigned healthy = healthy_workers(run);
    if (healthy < run->n_nodes)
        return ilu_err(err, ILU_ST_INTERNAL, NULL,
                       "only %u of %u simulated workers became healthy (a bug: please report it)", healthy,
                       run->n_nodes);
    /* prewarm as live does: one request at a time, through the controller,
     * so the balancer decides where each prewarmed container goes */
    for (size_t f = 0; f < run->plan.trace.n_fns; f++)
        for (unsigned p = 0; p < run->plan.fns[f].prewarms; p++) {
            json_t *body = json_pack("{s:s, s:s}", "function_name", run->plan.fns[f].name, "function_version",
                                     LG_TRACE_FN_VERSION);
            run->setup_pending++;
            int rc =
                ilu_controller_prewarm(run->ctl, body, (struct ilu_ctl_text){0}, "setup", on_setup_answer, run, &e);
            json_decref(body);
            char what[300];
            snprintf(what, sizeof what, "prewarming %s", run->plan.fns[f].name);
            if (rc)
                return ilu_err(err, e.status, e.kind, "%s: %s", what, e.msg);
            if (wait_setup(run, what, err))
                return -1;
        }
    return 0;
}

/* ---- the trace ------------------------------------------------------------------ */

static double rel_ms(const struct cl_run *run, uint64_t t_us)
{
    return (double)(int64_t)(t_us - run->t0_us) / 1000.0;
}

static void on_answer(void *arg, int status, json_t *answer, struct ilu_ctl_text worker_text)
{
    struct lg_sim_sent *s = arg;
    struct cl_run *run = s->run;
    struct ilu_inv_record *rec = ilu_report_get(&run->ctx->report, s->seq);
    rec->end_ms = rel_ms(run, now_us(run));
    ilu_report_fill_from_answer(rec, status, answer);
    lg_worker_tally_answer(&run->tally, rec, answer);
    lg_sim_finish(&run->world, s, rec);
}

static void deliver_due(void *arg)
{
    struct cl_run *run = arg;
    /* the client sits beside the controller and is never late: send_ms is
     * the schedule; the network is between the controller and the workers */
    struct lg_sim_sent *s;
    struct ilu_inv_record *rec;
    uint32_t fn;
    while ((rec = lg_sim_next_arrival(&run->world, run->t0_us, 0, deliver_due, run, run, &s, &fn))) {
        struct ilu_error err = {0};
        if (ilu_controller_invoke(run->ctl, run->invoke_bodies[fn], (struct ilu_ctl_text){0}, rec->tid, on_answer, s,
                                  &err)) {
            lg_sim_record_refused(rec, rel_ms(run, now_us(run)), &err);
            lg_sim_finish(&run->world, s, rec);
        }
    }
}

static void sample_workers(void *arg, struct lg_status_log *log, double t_ms, struct lg_pool_counts *counts)
{
    struct cl_run *run = arg;
    for (unsigned i = 0; i < run->n_nodes; i++) {
        struct ilu_worker_status st;
        ilu_worker_status_read(run->nodes[i].worker, &st);
        lg_status_log_sample(log, t_ms, run->nodes[i].name, &st, NAN);
        if (counts)
            lg_pool_counts_add(counts, &st);
    }
}

/* ---- the run ---------------------------------------------------------------------- */

int lg_run_trace_cluster(struct lg_ctx *ctx, const struct lg_trace_opts *o)
{
    struct ilu_error err = {0};
    struct cl_run run = {.ctx = ctx, .o = o, .half_net_us = o->network_us / 2};
    int code = 1;
    if (lg_sim_world_init(ctx, o, &run.world, &run.plan, &err))
        goto out;
    if (o->workers < 1 || o->workers > CL_MAX_WORKERS) {
        ilu_err(&err, ILU_ST_BAD_REQUEST, NULL, "--workers must be in [1, %d], not %u", CL_MAX_WORKERS, o->workers);
        goto out;
    }
    run.n_nodes = o->workers;
    if (load_controller_config(&run, &err))
        goto out;
    size_t n_fns = run.plan.trace.n_fns;
    if (!(run.nodes = calloc(run.n_nodes, sizeof *run.nodes)) ||
        !(run.invoke_bodies = calloc(n_fns, sizeof *run.invoke_bodies))) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory for %u workers", run.n_nodes);
        goto out;
    }
    for (size_t f = 0; f < n_fns; f++)
        if (!(run.invoke_bodies[f] = json_loads(run.plan.fns[f].invoke_body, 0, NULL))) {
            ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory");
            goto out;
        }
    if (setup_cluster(&run, &err))
        goto out;
    /* every worker in per_worker, in order, also one that answered nothing */
    lg_worker_tally_init(&run.tally, ctx);
    for (unsigned i = 0; i < run.n_nodes; i++)
        lg_worker_tally_index(&run.tally, run.nodes[i].name);
    run.t0_us = now_us(&run);
    if (lg_sim_status_start(&run.world, run.t0_us, sample_workers, &run)) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory");
        goto out;
    }
    deliver_due(&run);
    while (!run.world.failed && !lg_sim_all_done(&run.world) && cl_step(&run))
        ;
    lg_sim_progress(&run.world);
    lg_progress_end(ctx);
    if (run.wire_error.status)
        goto out;
    if (run.world.failed) {
        err = run.world.err;
        goto out;
    }
    if (!lg_sim_all_done(&run.world)) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL,
                "simulation stalled after %zu of %zu invocations (a bug: please report it)", run.world.done,
                run.world.sent);
        goto out;
    }
    lg_sim_world_stop(&run.world);
    /* let the calls still on the wire (status polls) come back, so the
     * controller frees what it allocated for them; they touch no result */
    uint64_t t_end = now_us(&run);
    while (run.in_flight && now_us(&run) - t_end <= 10ull * 1000000 && cl_step(&run))
        ;
    if (run.wire_error.status)
        goto out;
    lg_worker_tally_summary(&run.tally, run.plan.inputs);
    char *dump = ilu_controller_config_dump(&run.ccfg); /* run.json: the simulated controller's config */
    json_t *ccfg = dump ? json_loads(dump, 0, NULL) : NULL;
    free(dump);
    ilu_config_hide_secrets(ccfg, ilu_controller_config_secrets);
    ctx->manifest_extra = json_pack("{s:o}", "simulated_controller_config", ccfg ? ccfg : json_null());
    if (lg_sim_world_report(ctx, &run.world, &run.plan, run.t0_us, &err) || lg_worker_tally_commit(&run.tally, &err))
        goto out;
    code = 0;
out:
    if (run.wire_error.status) /* whatever else went wrong followed from it */
        err = run.wire_error;
    if (code)
        fprintf(stderr, "iluvatar_load_gen: trace (simulated cluster): %s\n", err.msg);
    /* the controller first (it cancels its polls), once every call it made
     * has been answered; then the workers, whose unanswered calls must not
     * schedule replies any more */
    run.stopping = true;
    run.world.log.min_level = ILU_LOG_ERROR + 1; /* "worker-0 failed: stopping" is no news */
    if (run.ctl)
        fail_in_flight(&run);
    ilu_controller_free(run.ctl);
    for (unsigned i = 0; run.nodes && i < run.n_nodes; i++) {
        ilu_worker_free(run.nodes[i].worker);
        if (run.nodes[i].backend)
            run.nodes[i].backend->ops->free(run.nodes[i].backend);
    }
    free_in_flight(&run);
    lg_sim_world_destroy(&run.world);
    for (size_t f = 0; run.invoke_bodies && f < run.plan.trace.n_fns; f++)
        json_decref(run.invoke_bodies[f]);
    free(run.invoke_bodies);
    free(run.nodes);
    ilu_report_on_final(&ctx->report, NULL, NULL);
    lg_worker_tally_free(&run.tally);
    lg_trace_plan_free(&run.plan);
    return code;
}
