/* A simulated world for unit tests: sim_env + the simulated backend + the
 * real worker core (ilu_worker), wired as src/sim/sim_trace.c wires them,
 * with invocations scheduled at virtual times and their answers recorded.
 * Static inline so that each test binary uses what it needs. */
#ifndef ILU_TEST_SIM_WORLD_H
#define ILU_TEST_SIM_WORLD_H

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

#include "core/config.h"
#include "worker/worker.h"
#include "backend/sim/sim_backend.h"
#include "sim/sim_env.h"

#define MS  1000ULL
#define SEC 1000000ULL
#define OVH 400ULL /* invoke overhead used by every world below */

/* ---- a simulated world ---------------------------------------------------- */

struct rec {
    /* the invocation */
    const char *fn;
    uint64_t at;
    /* the answer */
    unsigned calls;
    bool refused; /* ilu_worker_invoke returned -1 */
    bool success;
    int http_status;
    char error_kind[32];
    char error_msg[480];
    enum ilu_start_kind kind;
    uint64_t done_at;
    struct ilu_inv_timings tm;
    uint64_t exec_us; /* the agent's duration, in us */
    char container_id[96];
};

struct world;
struct slot {
    struct world *wd;
    struct rec *r;
};

struct world {
    struct ilu_sim_env sim;
    struct ilu_backend *be;
    struct ilu_worker *w;
    struct ilu_log log;
    struct ilu_worker_config cfg;
    struct rec *recs;
    struct slot *slots; /* one per scheduled invocation, freed at the end */
    size_t n_recs;
    size_t done;
    unsigned prewarms_done, prewarm_failures;
};

static inline void world_config(struct ilu_worker_config *cfg, uint32_t cpus, uint32_t mem_mb)
{
    ilu_config_defaults(cfg);
    cfg->container_resources.cpu_count = cpus;
    cfg->container_resources.memory_mb = mem_mb;
    cfg->container_resources.keepalive_sec = 600;
    cfg->container_resources.pool_freq_ms = 1000;
    cfg->limits.timeout_sec = 300;
    snprintf(cfg->container_resources.backend, sizeof cfg->container_resources.backend, "simulation");
}

/* cfg already filled (world_config + edits). default start 50 ms. */
static inline void world_start_params(struct world *wd, const struct ilu_sim_backend_params *params)
{
    ilu_sim_env_init(&wd->sim, 1767225600000000ull);
    /* warnings only, dropped (sim.log_line is NULL): the tests read results, not logs */
    wd->log = (struct ilu_log){.env = &wd->sim.env, .min_level = ILU_LOG_WARN};
    wd->be = ilu_sim_backend_new(&wd->sim, params, &wd->log);
    assert_non_null(wd->be);
    struct ilu_error err = {0};
    wd->w = ilu_worker_new(&wd->cfg, &wd->sim.env, wd->be, &wd->log, &err);
    if (!wd->w)
        fail_msg("ilu_worker_new: %s", err.msg);
    wd->recs = NULL;
    wd->slots = NULL;
    wd->n_recs = wd->done = 0;
    wd->prewarms_done = wd->prewarm_failures = 0;
}

static inline void world_start(struct world *wd)
{
    struct ilu_sim_backend_params params = {
        .default_start_us = 50 * MS, .invoke_overhead_us = OVH, .jitter = 0, .seed = 1};
    world_start_params(wd, &params);
}

static inline void world_end(struct world *wd)
{
    ilu_worker_free(wd->w);
    wd->be->ops->free(wd->be);
    ilu_sim_env_destroy(&wd->sim);
    free(wd->recs);
    free(wd->slots);
}

/* Register name-1 with mem MB and the given timings (start 0 = default). */
static inline void fn_add(struct world *wd, const char *name, uint32_t mem_mb, uint64_t start_us, uint64_t cold_us,
                          uint64_t warm_us)
{
    struct ilu_register_req req = {
        .function_name = name, .function_version = "1", .image_name = "/sim/fn", .memory_mb = mem_mb, .cpus = 1};
    struct ilu_error err = {0};
    if (ilu_worker_register(wd->w, &req, "setup", &err))
        fail_msg("register %s: %s", name, err.msg);
    char fqdn[96];
    snprintf(fqdn, sizeof fqdn, "%s-1", name);
    struct ilu_sim_fn_timing t = {.start_us = start_us, .cold_exec_us = cold_us, .warm_exec_us = warm_us};
    assert_int_equal(ilu_sim_backend_set_timing(wd->be, fqdn, &t), 0);
}

static inline void on_done(void *arg, struct ilu_invocation *inv)
{
    struct slot *s = arg;
    struct rec *r = s->r;
    r->calls++;
    r->success = inv->success;
    r->http_status = ilu_invocation_http_status(inv);
    snprintf(r->error_kind, sizeof r->error_kind, "%s", inv->success ? "" : inv->err.kind);
    snprintf(r->error_msg, sizeof r->error_msg, "%s", inv->success ? "" : inv->err.msg);
    r->kind = inv->start_kind;
    r->done_at = s->wd->sim.now_us;
    ilu_invocation_timings(inv, &r->tm);
    r->exec_us = r->tm.exec_us;
    snprintf(r->container_id, sizeof r->container_id, "%s", inv->container_id ? inv->container_id : "");
    s->wd->done++;
}

static inline void fire(void *arg)
{
    struct slot *s = arg;
    struct ilu_error err = {0};
    if (ilu_worker_invoke(s->wd->w, s->r->fn, "1", "{}", 2, "t", on_done, s, &err)) {
        s->r->refused = true;
        s->r->calls++;
        s->r->http_status = err.status;
        snprintf(s->r->error_kind, sizeof s->r->error_kind, "%s", err.kind);
        snprintf(s->r->error_msg, sizeof s->r->error_msg, "%s", err.msg);
        s->r->done_at = s->wd->sim.now_us;
        s->wd->done++;
    }
}

/* Schedule n invocations: fns[i] at times[i]. The records stay in wd->recs. */
static inline void schedule(struct world *wd, size_t n, const char *const *fns, const uint64_t *times)
{
    assert_null(wd->recs);
    wd->recs = calloc(n, sizeof *wd->recs);
    assert_non_null(wd->recs);
    wd->slots = calloc(n, sizeof *wd->slots);
    assert_non_null(wd->slots);
    wd->n_recs = n;
    for (size_t i = 0; i < n; i++) {
        wd->recs[i].fn = fns[i];
        wd->recs[i].at = times[i];
        struct slot *s = &wd->slots[i];
        *s = (struct slot){wd, &wd->recs[i]};
        assert_non_null(ilu_sim_env_at(&wd->sim, times[i], fire, s));
    }
}

/* Step until every scheduled invocation was answered. The worker's pool
 * timer never stops, so this cannot run until the heap is empty; the step
 * bound catches a stall. */
static inline void run_all(struct world *wd)
{
    uint64_t steps = 0;
    while (wd->done < wd->n_recs) {
        assert_true(ilu_sim_env_step(&wd->sim));
        if (++steps > 10000000)
            fail_msg("simulation stalled: %zu of %zu answered at t=%llu", wd->done, wd->n_recs,
                     (unsigned long long)wd->sim.now_us);
    }
    for (size_t i = 0; i < wd->n_recs; i++)
        assert_int_equal(wd->recs[i].calls, 1);
}

static inline long long status_of(struct world *wd, const char *key)
{
    json_t *s = ilu_worker_status_json(wd->w);
    json_t *v = json_object_get(s, key);
    if (!json_is_integer(v))
        fail_msg("status has no integer %s", key);
    long long x = json_integer_value(v);
    json_decref(s);
    return x;
}

static inline unsigned count_kind(struct world *wd, enum ilu_start_kind k)
{
    unsigned n = 0;
    for (size_t i = 0; i < wd->n_recs; i++)
        n += !wd->recs[i].refused && wd->recs[i].kind == k;
    return n;
}

static inline void on_prewarmed(void *arg, const char *tid, const struct ilu_error *err)
{
    struct world *wd = arg;
    wd->prewarms_done++;
    wd->prewarm_failures += err != NULL;
}

/* n prewarms of name, started together; steps until all are ready. */
static inline void prewarm(struct world *wd, const char *name, unsigned n)
{
    struct ilu_error err = {0};
    unsigned target = wd->prewarms_done + n;
    for (unsigned i = 0; i < n; i++)
        if (ilu_worker_prewarm(wd->w, name, "1", "pw", on_prewarmed, wd, &err))
            fail_msg("prewarm %s: %s", name, err.msg);
    while (wd->prewarms_done < target)
        assert_true(ilu_sim_env_step(&wd->sim));
    assert_int_equal(wd->prewarm_failures, 0);
}

#endif
