/* The controller core driven by the fake env (fake.h: virtual clock, timers)
 * and a fake transport (fake_transport.h: every send recorded and answered
 * by the test). Status polls run every 100 ms from T0; nothing is answered
 * unless a test says so. */
#include "fake.h"
#include "fake_transport.h"

#include "core/controller.h"
#include "core/controller_config.h"

#define T0 (1 * SEC)
#define FREQ (100 * MS)

#define REG ILU_CTL_REGISTER
#define INV ILU_CTL_INVOKE
#define PREWARM ILU_CTL_PREWARM
#define STATUS ILU_CTL_STATUS

#define IDLE "{\"cpu_queue_len\":0,\"num_running_funcs\":0}"

struct world {
    struct fake_env fe;
    struct fake_transport ft;
    struct fake_store st;
    bool use_store;
    struct ilu_controller_config cfg;
    struct ilu_controller *c;
};

static void world_init(struct world *W, const char *algorithm)
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

static struct ilu_controller *world_start(struct world *W)
{
    struct ilu_error err = {0};
    W->c = ilu_controller_new(&W->cfg, &W->fe.env, &W->ft.t, W->use_store ? &W->st.s : NULL, &W->fe.log, &err);
    if (!W->c)
        fail_msg("ilu_controller_new: %s", err.msg);
    return W->c;
}

/* Answer whatever is still pending (200, "{}"), free the controller and
 * check it left no timer and freed every worker it added. */
static void world_end(struct world *W)
{
    for (int round = 0; round < 100 && ft_pending(&W->ft, -1, NULL); round++)
        ft_reply_all(&W->ft, -1, NULL, 200, "{}");
    assert_int_equal(ft_pending(&W->ft, -1, NULL), 0);
    ilu_controller_free(W->c);
    W->c = NULL;
    assert_int_equal(W->fe.n_timers, 0);
    assert_int_equal(W->ft.added, W->ft.freed);
    assert_int_equal(W->ft.bad_sends, 0);
    ft_destroy(&W->ft);
    fake_store_destroy(&W->st);
    fake_env_destroy(&W->fe);
}

static int add_worker_at(struct world *W, const char *name, uint32_t port, bool persist, struct ilu_error *err)
{
    struct ilu_ctl_worker_info info = {.name = name, .host = "10.0.0.7", .port = port, .cpus = 2, .memory_mb = 2048};
    return ilu_controller_register_worker(W->c, &info, persist, "tw", err);
}

static void add_worker(struct world *W, const char *name)
{
    struct ilu_error err = {0};
    if (add_worker_at(W, name, 8071, false, &err))
        fail_msg("register_worker %s: %s", name, err.msg);
}

/* Registered and answered one good status poll. */
static void healthy_worker(struct world *W, const char *name)
{
    add_worker(W, name);
    ft_reply_to(&W->ft, STATUS, name, 200, IDLE);
}

/* The worker's entry in workers_json: a string or integer field. */
static json_t *worker_entry(struct world *W, const char *name, json_t **list)
{
    *list = ilu_controller_workers_json(W->c);
    size_t i;
    json_t *o;
    json_array_foreach(*list, i, o) if (!strcmp(json_string_value(json_object_get(o, "name")), name)) return o;
    json_decref(*list);
    fail_msg("worker %s not listed", name);
    return NULL;
}

static char health_buf[32];
static const char *health(struct world *W, const char *name)
{
    json_t *list, *o = worker_entry(W, name, &list);
    snprintf(health_buf, sizeof health_buf, "%s", json_string_value(json_object_get(o, "health")));
    json_decref(list);
    return health_buf;
}

static long long worker_int(struct world *W, const char *name, const char *key)
{
    json_t *list, *o = worker_entry(W, name, &list);
    long long v = fake_json_int(o, key);
    json_decref(list);
    return v;
}

static size_t n_workers_listed(struct world *W)
{
    json_t *list = ilu_controller_workers_json(W->c);
    size_t n = json_array_size(list);
    json_decref(list);
    return n;
}

static long long ctl_status(struct world *W, const char *key)
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

static void reg_done(void *arg, unsigned accepted, unsigned refused, const char *first_error,
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

static json_t *registration(const char *name, const char *image, int memory, int cpus)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:i}", "function_name", name, "function_version", "1", "image_name", image,
                     "memory", memory, "cpus", cpus);
}

static int reg_fn_full(struct world *W, const char *name, const char *image, int memory, int cpus, bool persist,
                       struct reg_rec *rec, struct ilu_error *err)
{
    json_t *r = registration(name, image, memory, cpus);
    int rc = ilu_controller_register_function(W->c, r, persist, "tr", rec ? reg_done : NULL, rec, err);
    json_decref(r);
    return rc;
}

static void reg_fn(struct world *W, const char *name, struct reg_rec *rec)
{
    struct ilu_error err = {0};
    if (reg_fn_full(W, name, "/fn/hello", 128, 1, false, rec, &err))
        fail_msg("register_function %s: %s", name, err.msg);
}

/* function_name of the i-th send's body. */
static const char *body_fn(struct world *W, long i)
{
    assert_true(i >= 0 && (size_t)i < W->ft.n);
    return fake_json_str(W->ft.sends[i].body, "function_name");
}

/* Names of the functions in the REGISTER sends to worker, in order, joined
 * by commas. */
static const char *registered_on(struct world *W, const char *worker)
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
};

static void inv_done(void *arg, int status, json_t *answer)
{
    struct inv_rec *r = arg;
    r->calls++;
    r->status = status;
    json_decref(r->answer);
    r->answer = json_incref(answer);
}

static void inv_clear(struct inv_rec *r)
{
    json_decref(r->answer);
    memset(r, 0, sizeof *r);
}

static json_t *invoke_body(const char *name)
{
    return json_pack("{s:s, s:s, s:s}", "function_name", name, "function_version", "1", "arguments", "{\"n\":3}");
}

static int invoke(struct world *W, const char *name, struct inv_rec *rec, struct ilu_error *err)
{
    json_t *b = invoke_body(name);
    int rc = ilu_controller_invoke(W->c, b, "t-1", inv_done, rec, err);
    json_decref(b);
    return rc;
}

static char *invoke_async(struct world *W, const char *name, struct ilu_error *err)
{
    json_t *b = invoke_body(name);
    char *cookie = ilu_controller_invoke_async(W->c, b, "t-a", err);
    json_decref(b);
    return cookie;
}

/* ---- health -------------------------------------------------------------------------- */

static void worker_takes_traffic_only_after_a_good_status_poll(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    struct reg_rec rr = {0};
    reg_fn(&W, "f", &rr);
    assert_int_equal(rr.calls, 1); /* no worker: done at once, nothing sent */
    assert_int_equal(rr.accepted, 0);
    assert_int_equal(rr.refused, 0);
    assert_false(rr.has_error);
    assert_int_equal(W.ft.n, 0);

    add_worker(&W, "w1");
    assert_string_equal(registered_on(&W, "w1"), "f");
    assert_int_equal(ft_count(&W.ft, STATUS, "w1"), 1); /* polled at once */
    assert_string_equal(W.ft.sends[ft_find(&W.ft, STATUS, "w1")].tid, "health");
    assert_int_equal(W.ft.sends[ft_find(&W.ft, STATUS, "w1")].timeout_us, 50 * MS);
    assert_null(W.ft.sends[ft_find(&W.ft, STATUS, "w1")].body);
    assert_string_equal(health(&W, "w1"), "UNKNOWN");

    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 503);
    assert_string_equal(err.kind, "no_worker");
    assert_int_equal(ir.calls, 0);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 0);

    /* one failed poll (below failures_to_unhealthy): still unknown, unroutable */
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    assert_string_equal(health(&W, "w1"), "UNKNOWN");
    assert_int_equal(worker_int(&W, "w1", "failed_polls"), 1);
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 503);

    fake_advance(&W.fe, FREQ); /* the next tick polls again */
    assert_int_equal(ft_count(&W.ft, STATUS, "w1"), 2);
    ft_reply_to(&W.ft, STATUS, "w1", 200, "{\"cpu_queue_len\":3,\"num_running_funcs\":2}");
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(worker_int(&W, "w1", "failed_polls"), 0);
    assert_int_equal(worker_int(&W, "w1", "last_ok_ms_ago"), 0);
    assert_int_equal(ctl_status(&W, "healthy_workers"), 1);

    memset(&err, 0, sizeof err);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    assert_int_equal(ft_count(&W.ft, INV, "w1"), 1);
    assert_string_equal(body_fn(&W, ft_find(&W.ft, INV, "w1")), "f");
    /* unknown -> healthy does not push the functions again */
    assert_string_equal(registered_on(&W, "w1"), "f");
    ft_reply_to(&W.ft, INV, "w1", 200, "{\"body\":\"ok\"}");
    assert_int_equal(ir.calls, 1);
    assert_int_equal(ir.status, 200);
    inv_clear(&ir);
    world_end(&W);
}

static void failed_polls_make_worker_unhealthy_and_a_good_poll_brings_it_back_with_every_function(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    W.cfg.health.failures_to_unhealthy = 3;
    world_start(&W);
    healthy_worker(&W, "w1");
    reg_fn(&W, "f", NULL);
    reg_fn(&W, "g", NULL);
    assert_int_equal(ft_reply_all(&W.ft, REG, "w1", 200, "{}"), 2);
    struct inv_rec ir = {0};
    struct ilu_error err = {0};

    /* two failures: still healthy, still routed to */
    for (int k = 1; k <= 2; k++) {
        fake_advance(&W.fe, FREQ);
        ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
        assert_string_equal(health(&W, "w1"), "HEALTHY");
        assert_int_equal(worker_int(&W, "w1", "failed_polls"), k);
    }
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    ft_reply_to(&W.ft, INV, "w1", 200, "{}");
    assert_int_equal(ir.status, 200);

    /* the third (an HTTP error is a failure too): unhealthy, no routing */
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", 500, "{\"error\":\"oops\"}");
    assert_string_equal(health(&W, "w1"), "UNHEALTHY");
    assert_int_equal(worker_int(&W, "w1", "failed_polls"), 3);
    assert_true(fake_log_has(&W.fe, "3 status polls failed"));
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 503);
    unsigned invokes = ft_count(&W.ft, INV, NULL);

    /* still failing: stays unhealthy, nothing pushed */
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", 200, "[1,2]"); /* 200 but not a status object */
    assert_string_equal(health(&W, "w1"), "UNHEALTHY");
    assert_string_equal(registered_on(&W, "w1"), "f,g");

    /* a good poll: healthy again and every registration re-sent, in order */
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", 200, IDLE);
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(worker_int(&W, "w1", "failed_polls"), 0);
    assert_string_equal(registered_on(&W, "w1"), "f,g,f,g");
    assert_string_equal(W.ft.sends[ft_last(&W.ft, REG, "w1")].tid, "health");
    assert_int_equal(fake_json_int(W.ft.sends[ft_last(&W.ft, REG, "w1")].body, "memory"), 128);
    assert_int_equal(ft_reply_all(&W.ft, REG, "w1", 200, "{}"), 2);
    inv_clear(&ir);
    memset(&err, 0, sizeof err);
    assert_int_equal(invoke(&W, "g", &ir, &err), 0);
    assert_int_equal(ft_count(&W.ft, INV, "w1"), invokes + 1);
    ft_reply_to(&W.ft, INV, "w1", 200, "{}");

    /* the failure count restarted: two more failures leave it healthy */
    for (int k = 1; k <= 2; k++) {
        fake_advance(&W.fe, FREQ);
        ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    }
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    inv_clear(&ir);
    world_end(&W);
}

static void a_hung_worker_gets_one_poll_at_a_time(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    add_worker(&W, "w1");
    add_worker(&W, "w2");
    ft_reply_to(&W.ft, STATUS, "w2", 200, IDLE);
    for (int k = 0; k < 10; k++) { /* w1 never answers; w2 answers each poll */
        fake_advance(&W.fe, FREQ);
        ft_reply_to(&W.ft, STATUS, "w2", 200, IDLE);
    }
    assert_int_equal(ft_count(&W.ft, STATUS, "w1"), 1);
    assert_int_equal(ft_count(&W.ft, STATUS, "w2"), 11);
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL); /* its timeout, at last */
    fake_advance(&W.fe, FREQ);
    assert_int_equal(ft_count(&W.ft, STATUS, "w1"), 2);
    assert_int_equal(ft_pending(&W.ft, STATUS, "w1"), 1);
    world_end(&W);
}

/* ---- function registry ------------------------------------------------------------- */

static void register_function_fans_out_to_every_worker_and_counts_answers(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    add_worker(&W, "w3"); /* not polled yet: registrations still go there */

    struct reg_rec rr = {0};
    struct ilu_error err = {0};
    json_t *r = registration("f", "/fn/f", 128, 1);
    json_object_set_new(r, "transaction_id", json_string("tx-9"));
    assert_int_equal(ilu_controller_register_function(W.c, r, false, "tx-9", reg_done, &rr, &err), 0);
    json_decref(r);
    assert_int_equal(ft_count(&W.ft, REG, NULL), 3);
    for (int k = 1; k <= 3; k++) {
        char name[8];
        snprintf(name, sizeof name, "w%d", k);
        long i = ft_find(&W.ft, REG, name);
        assert_true(i >= 0);
        json_t *want = registration("f", "/fn/f", 128, 1); /* transaction_id removed */
        assert_true(json_equal(W.ft.sends[i].body, want));
        json_decref(want);
        assert_string_equal(W.ft.sends[i].tid, "tx-9");
    }
    assert_int_equal(rr.calls, 0);
    ft_reply_to(&W.ft, REG, "w1", 200, "{}");
    assert_int_equal(rr.calls, 0);
    ft_reply_to(&W.ft, REG, "w2", 409, "{\"error\":\"different image\"}");
    assert_int_equal(rr.calls, 0);
    ft_reply_to(&W.ft, REG, "w3", 0, NULL); /* unreachable: neither */
    assert_int_equal(rr.calls, 1);
    assert_int_equal(rr.accepted, 1);
    assert_int_equal(rr.refused, 1);
    assert_true(rr.has_error);
    assert_string_equal(rr.first_error, "HTTP 409: different image");

    json_t *fns = ilu_controller_functions_json(W.c);
    assert_int_equal(json_array_size(fns), 1);
    assert_null(json_object_get(json_array_get(fns, 0), "transaction_id"));
    json_decref(fns);

    struct reg_rec rg = {0};
    reg_fn(&W, "g", &rg);
    assert_int_equal(ft_reply_all(&W.ft, REG, NULL, 200, "{}"), 3);
    assert_int_equal(rg.calls, 1);
    assert_int_equal(rg.accepted, 3);
    assert_int_equal(rg.refused, 0);
    assert_false(rg.has_error);

    /* the first refusal is the one reported */
    struct reg_rec rh = {0};
    reg_fn(&W, "h", &rh);
    ft_reply_to(&W.ft, REG, "w1", 500, NULL);
    ft_reply_to(&W.ft, REG, "w2", 422, "{\"error\":\"bad\"}");
    ft_reply_to(&W.ft, REG, "w3", 200, "{}");
    assert_int_equal(rh.calls, 1);
    assert_int_equal(rh.accepted, 1);
    assert_int_equal(rh.refused, 2);
    assert_string_equal(rh.first_error, "HTTP 500: no message");
    world_end(&W);
}

static void conflicting_registration_is_409_and_identical_succeeds_without_sends(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    struct ilu_error err = {0};
    struct reg_rec r1 = {0};
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 128, 1, false, &r1, &err), 0);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    assert_int_equal(r1.accepted, 2);
    size_t sends = W.ft.n;

    struct reg_rec r2 = {0};
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 256, 1, false, &r2, &err), -1);
    assert_int_equal(err.status, 409);
    assert_non_null(strstr(err.msg, "memory"));
    memset(&err, 0, sizeof err);
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img2", 128, 1, false, &r2, &err), -1);
    assert_int_equal(err.status, 409);
    assert_non_null(strstr(err.msg, "image_name"));
    memset(&err, 0, sizeof err);
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 128, 2, false, &r2, &err), -1);
    assert_int_equal(err.status, 409);
    assert_non_null(strstr(err.msg, "cpus"));
    assert_int_equal(r2.calls, 0);
    assert_int_equal(W.ft.n, sends);

    /* identical (another transaction id does not matter): success, no sends */
    json_t *r = registration("f", "/fn/img1", 128, 1);
    json_object_set_new(r, "transaction_id", json_string("other"));
    struct reg_rec r3 = {0};
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_function(W.c, r, false, "other", reg_done, &r3, &err), 0);
    json_decref(r);
    assert_int_equal(r3.calls, 1);
    assert_int_equal(r3.accepted, 2);
    assert_int_equal(r3.refused, 0);
    assert_false(r3.has_error);
    assert_int_equal(W.ft.n, sends);

    json_t *fns = ilu_controller_functions_json(W.c);
    assert_int_equal(json_array_size(fns), 1);
    assert_int_equal(fake_json_int(json_array_get(fns, 0), "memory"), 128);
    json_decref(fns);

    /* malformed: 400 */
    json_t *bad = json_pack("{s:s, s:s, s:s}", "function_name", "g", "function_version", "1", "image_name", "i");
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_function(W.c, bad, false, "t", NULL, NULL, &err), -1);
    assert_int_equal(err.status, 400); /* no memory */
    json_decref(bad);
    bad = json_pack("{s:s, s:s, s:i}", "function_name", "g", "image_name", "i", "memory", 64);
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_function(W.c, bad, false, "t", NULL, NULL, &err), -1);
    assert_int_equal(err.status, 400); /* no version */
    json_decref(bad);
    assert_int_equal(W.ft.n, sends);
    assert_int_equal(ctl_status(&W, "functions"), 1);
    world_end(&W);
}

/* Every worker that answered refused it: not kept (not listed, not stored,
 * not routed). Accepted by one: kept and stored. A worker that joins while
 * a registration is on its way gets it once it is kept. */
static void registration_refused_by_every_worker_is_not_kept(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    W.use_store = true;
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    struct reg_rec rr = {0};
    struct ilu_error err = {0};
    assert_int_equal(reg_fn_full(&W, "f", "/fn/f", 128, 1, true, &rr, &err), 0);
    ft_reply_to(&W.ft, REG, "w1", 400, "{\"error\":\"image /fn/f is not a directory\"}");
    ft_reply_to(&W.ft, REG, "w2", 400, "{\"error\":\"image /fn/f is not a directory\"}");
    assert_int_equal(rr.calls, 1);
    assert_int_equal(rr.accepted, 0);
    assert_int_equal(rr.refused, 2);
    assert_false(rr.not_kept);
    assert_int_equal(ctl_status(&W, "functions"), 0);
    assert_int_equal(W.st.functions, 0);
    struct inv_rec ir = {0};
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 404);
    /* fixed and sent again: kept (a refusal is not remembered as a conflict) */
    memset(&rr, 0, sizeof rr);
    memset(&err, 0, sizeof err);
    assert_int_equal(reg_fn_full(&W, "f", "/fn/f2", 128, 1, true, &rr, &err), 0);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    assert_int_equal(rr.accepted, 2);
    assert_int_equal(ctl_status(&W, "functions"), 1);
    assert_int_equal(W.st.functions, 1);

    /* one unreachable, one refusing, one accepting: kept */
    healthy_worker(&W, "w3");
    ft_reply_all(&W.ft, REG, "w3", 200, "{}"); /* f, pushed when it joined */
    memset(&rr, 0, sizeof rr);
    assert_int_equal(reg_fn_full(&W, "g", "/fn/g", 128, 1, true, &rr, &err), 0);
    ft_reply_to(&W.ft, REG, "w1", 0, NULL);
    ft_reply_to(&W.ft, REG, "w2", 409, "{\"error\":\"conflict\"}");
    /* w4 joins while w3 has not answered: it gets g only once g is kept */
    add_worker(&W, "w4");
    assert_int_equal(ft_count(&W.ft, REG, "w4"), 1); /* f, kept already */
    ft_reply_to(&W.ft, REG, "w3", 200, "{}");
    assert_int_equal(rr.accepted, 1);
    assert_int_equal(rr.refused, 1);
    assert_int_equal(ctl_status(&W, "functions"), 2);
    assert_int_equal(W.st.functions, 2);
    assert_string_equal(registered_on(&W, "w4"), "f,g");
    world_end(&W);
}

/* The controller applies the workers' rules itself: a bad name, version or
 * image is refused (400) even with no worker attached, and nothing is kept. */
static void registration_is_checked_with_the_worker_rules_even_without_workers(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.use_store = true;
    world_start(&W);
    static const struct {
        const char *name, *image;
        int memory, cpus;
        const char *says;
    } bad[] = {
        {"a/b", "/fn/f", 128, 1, "function_name"},
        {"has space", "/fn/f", 128, 1, "function_name"},
        {"x123456789012345678901234567890123456789012345678901234567890123", "/fn/f", 128, 1, "1-63"},
        {"f", "relative/path", 128, 1, "absolute"},
        {"f", "docker.io/alfuerst/hello:latest", 128, 1, "absolute"},
        {"f", "/fn/../etc", 128, 1, ".."},
        {"f", "/fn/with\nnewline", 128, 1, "control"},
        {"f", "/fn/f", 0, 1, "memory"},
        {"f", "/fn/f", 128, 0, "cpus"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        struct ilu_error err = {0};
        struct reg_rec rr = {0};
        json_t *r = json_pack("{s:s, s:s, s:s, s:i, s:i}", "function_name", bad[k].name, "function_version", "1",
                              "image_name", bad[k].image, "memory", bad[k].memory, "cpus", bad[k].cpus);
        assert_int_equal(ilu_controller_register_function(W.c, r, true, "t", reg_done, &rr, &err), -1);
        json_decref(r);
        if (err.status != 400 || !strstr(err.msg, bad[k].says))
            fail_msg("case %zu (%s, %s): %d %s", k, bad[k].name, bad[k].image, err.status, err.msg);
        assert_int_equal(rr.calls, 0);
    }
    /* a NUL inside a string (JSON \u0000) */
    json_error_t jerr;
    json_t *r = json_loads("{\"function_name\":\"f\\u0000x\",\"function_version\":\"1\","
                           "\"image_name\":\"/fn/f\",\"memory\":128}",
                           JSON_ALLOW_NUL, &jerr);
    assert_non_null(r);
    struct ilu_error err = {0};
    assert_int_equal(ilu_controller_register_function(W.c, r, true, "t", NULL, NULL, &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "NUL"));
    json_decref(r);
    /* numbers as strings are refused (docs/api.md: numbers are JSON integers) */
    r = json_pack("{s:s, s:s, s:s, s:s, s:i}", "function_name", "ok", "function_version", "1", "image_name", "/fn/ok",
                  "memory", " 128", "cpus", 1);
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_function(W.c, r, true, "t", NULL, NULL, &err), -1);
    assert_int_equal(err.status, 400);
    json_decref(r);
    r = json_pack("{s:s, s:s, s:s, s:i, s:i}", "function_name", "ok", "function_version", "1", "image_name", "/fn/ok",
                  "memory", 128, "cpus", 1);
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_function(W.c, r, true, "t", NULL, NULL, &err), 0);
    json_decref(r);
    assert_int_equal(fake_json_int(W.st.last_registration, "memory"), 128);
    assert_int_equal(ctl_status(&W, "functions"), 1);
    assert_int_equal(W.st.functions, 1);
    world_end(&W);
}

static void worker_registered_later_gets_every_function(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    struct reg_rec rr[3] = {{0}};
    reg_fn(&W, "f", &rr[0]);
    reg_fn(&W, "g", &rr[1]);
    reg_fn(&W, "h", &rr[2]);
    for (int k = 0; k < 3; k++)
        assert_int_equal(rr[k].calls, 1);
    add_worker(&W, "w1");
    assert_string_equal(registered_on(&W, "w1"), "f,g,h");
    assert_string_equal(W.ft.sends[ft_find(&W.ft, REG, "w1")].tid, "tw");
    fake_advance(&W.fe, 3 * FREQ);
    add_worker(&W, "w2");
    assert_string_equal(registered_on(&W, "w2"), "f,g,h");
    /* and a function registered after both joined goes to both */
    reg_fn(&W, "k", NULL);
    assert_string_equal(registered_on(&W, "w1"), "f,g,h,k");
    assert_string_equal(registered_on(&W, "w2"), "f,g,h,k");
    assert_int_equal(ctl_status(&W, "workers"), 2);
    world_end(&W);
}

static void worker_moving_to_a_new_address_gets_every_function_and_is_polled_again(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    healthy_worker(&W, "w1");
    reg_fn(&W, "f", NULL);
    reg_fn(&W, "g", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    /* the old address stopped answering: the name is free to move */
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    assert_string_equal(health(&W, "w1"), "UNHEALTHY");
    struct ilu_error err = {0};
    assert_int_equal(add_worker_at(&W, "w1", 9000, false, &err), 0);
    assert_int_equal(n_workers_listed(&W), 1);
    assert_int_equal(worker_int(&W, "w1", "port"), 9000);
    assert_string_equal(health(&W, "w1"), "UNKNOWN");
    assert_int_equal(W.ft.added, 2);
    assert_int_equal(W.ft.freed, 1);
    assert_string_equal(registered_on(&W, "w1"), "f,g,f,g");
    assert_int_equal(W.ft.sends[ft_last(&W.ft, REG, "w1")].port, 9000);
    struct inv_rec ir = {0};
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 503);
    long p = ft_find(&W.ft, STATUS, "w1");
    assert_true(p >= 0);
    assert_int_equal(W.ft.sends[p].port, 9000);
    ft_reply(&W.ft, p, 200, IDLE);
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    memset(&err, 0, sizeof err);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    assert_int_equal(W.ft.sends[ft_find(&W.ft, INV, "w1")].port, 9000);
    ft_reply_to(&W.ft, INV, "w1", 200, "{}");
    /* the same address again is a heartbeat: cpus updated, nothing else */
    struct ilu_ctl_worker_info info = {.name = "w1", .host = "10.0.0.7", .port = 9000, .cpus = 8, .memory_mb = 1};
    size_t sends = W.ft.n;
    assert_int_equal(ilu_controller_register_worker(W.c, &info, false, "hb", &err), 0);
    assert_int_equal(worker_int(&W, "w1", "cpus"), 8);
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(W.ft.n, sends);
    assert_int_equal(W.ft.added, 2);
    /* a bad registration is refused */
    info.port = 0;
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_worker(W.c, &info, false, "hb", &err), -1);
    assert_int_equal(err.status, 400);
    info.port = 70000;
    assert_int_equal(ilu_controller_register_worker(W.c, &info, false, "hb", &err), -1);
    info = (struct ilu_ctl_worker_info){.name = "", .host = "h", .port = 1};
    assert_int_equal(ilu_controller_register_worker(W.c, &info, false, "hb", &err), -1);
    assert_int_equal(n_workers_listed(&W), 1);
    inv_clear(&ir);
    world_end(&W);
}


/* A live worker's name cannot be taken by another address (that would divert
 * its invocations): 409 unless the same boot id moves, or the holder has
 * failed its health checks (a restart elsewhere). */
static void live_worker_name_cannot_be_taken_by_another_address(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start(&W);
    struct ilu_error err = {0};
    struct ilu_ctl_worker_info real = {
        .name = "w1", .host = "10.0.0.7", .port = 8071, .cpus = 2, .memory_mb = 2048, .boot_id = "boot-1"};
    assert_int_equal(ilu_controller_register_worker(W.c, &real, false, "t", &err), 0);
    ft_reply_to(&W.ft, STATUS, "w1", 200, IDLE);
    struct ilu_ctl_worker_info fake = {
        .name = "w1", .host = "10.6.6.6", .port = 8071, .cpus = 64, .memory_mb = 1, .boot_id = "forged"};
    assert_int_equal(ilu_controller_register_worker(W.c, &fake, false, "t", &err), -1);
    assert_int_equal(err.status, 409);
    assert_non_null(strstr(err.msg, "held by a live worker"));
    fake.boot_id = NULL;
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_worker(W.c, &fake, false, "t", &err), -1);
    assert_int_equal(err.status, 409);
    fake.boot_id = "";
    assert_int_equal(ilu_controller_register_worker(W.c, &fake, false, "t", &err), -1);
    /* still the real one, still routed to */
    json_t *list, *o = worker_entry(&W, "w1", &list);
    assert_string_equal(json_string_value(json_object_get(o, "host")), "10.0.0.7");
    json_decref(list);
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(W.ft.added, 1);
    /* the real worker's heartbeat, a restart at the same address: fine */
    real.boot_id = "boot-2";
    assert_int_equal(ilu_controller_register_worker(W.c, &real, false, "t", &err), 0);
    /* the same boot id may move */
    real.port = 9000;
    assert_int_equal(ilu_controller_register_worker(W.c, &real, false, "t", &err), 0);
    assert_int_equal(worker_int(&W, "w1", "port"), 9000);
    ft_reply_to(&W.ft, STATUS, "w1", 200, IDLE);
    /* once it fails its health checks, a restart elsewhere takes the name */
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", ILU_CTL_NOT_SENT, NULL);
    ft_reply_to(&W.ft, STATUS, "w1", ILU_CTL_NOT_SENT, NULL);
    assert_string_equal(health(&W, "w1"), "UNHEALTHY");
    struct ilu_ctl_worker_info restarted = {
        .name = "w1", .host = "10.0.0.8", .port = 8071, .cpus = 2, .memory_mb = 2048, .boot_id = "boot-3"};
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_worker(W.c, &restarted, false, "t", &err), 0);
    assert_int_equal(n_workers_listed(&W), 1);
    world_end(&W);
}

static int heartbeat(struct world *W, const char *name, const char *boot_id)
{
    struct ilu_error err = {0};
    struct ilu_ctl_worker_info info = {
        .name = name, .host = "10.0.0.7", .port = 8071, .cpus = 2, .memory_mb = 2048, .boot_id = boot_id};
    return ilu_controller_register_worker(W->c, &info, false, "hb", &err);
}

/* A worker restarting faster than the health checks keeps its address but
 * sends a new boot id: it lost its registrations and gets them again. */
static void worker_restarted_with_a_new_boot_id_gets_every_function_again(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    assert_int_equal(heartbeat(&W, "w1", "boot-1"), 0);
    ft_reply_to(&W.ft, STATUS, "w1", 200, IDLE);
    reg_fn(&W, "f", NULL);
    reg_fn(&W, "g", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    size_t sends = W.ft.n;
    assert_int_equal(heartbeat(&W, "w1", "boot-1"), 0); /* same boot: a no-op */
    assert_int_equal(heartbeat(&W, "w1", NULL), 0);     /* no boot id: a no-op */
    assert_int_equal(W.ft.n, sends);
    assert_int_equal(heartbeat(&W, "w1", "boot-2"), 0); /* restarted */
    assert_string_equal(registered_on(&W, "w1"), "f,g,f,g");
    assert_string_equal(W.ft.sends[ft_last(&W.ft, REG, "w1")].tid, "hb");
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(W.ft.added, 1);
    assert_int_equal(n_workers_listed(&W), 1);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    sends = W.ft.n;
    assert_int_equal(heartbeat(&W, "w1", "boot-2"), 0);
    assert_int_equal(W.ft.n, sends);
    world_end(&W);
}

/* A worker the transport refuses (worker_added fails) is not kept: not
 * listed, not polled, and registering it again is a fresh registration that
 * calls worker_added. (Regression test: it was once appended to the worker
 * array before worker_added and never removed, so it was polled through a
 * transport that had refused it and its retry took the heartbeat path.) */
static void worker_refused_by_the_transport_is_not_kept(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start(&W);
    snprintf(W.ft.refuse_added, sizeof W.ft.refuse_added, "w1");
    struct ilu_error err = {0};
    assert_int_equal(add_worker_at(&W, "w1", 8071, false, &err), -1);
    assert_int_equal(err.status, 500);
    fake_advance(&W.fe, FREQ);
    unsigned listed = (unsigned)n_workers_listed(&W), bad = W.ft.bad_sends;
    W.ft.refuse_added[0] = 0;
    memset(&err, 0, sizeof err);
    assert_int_equal(add_worker_at(&W, "w1", 8071, false, &err), 0); /* the transport accepts it now */
    unsigned added = W.ft.added;
    W.ft.bad_sends = 0; /* world_end checks the rest */
    world_end(&W);
    print_message("refused worker: listed %u, sends without transport data %u, worker_added calls %u\n", listed, bad,
                  added);
    assert_int_equal(listed, 0);
    assert_int_equal(bad, 0);
    assert_int_equal(added, 1);
}

/* ---- invocations ----------------------------------------------------------------------- */

static void invoke_routes_to_a_healthy_worker_and_passes_its_answer_with_worker_added(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start(&W);
    add_worker(&W, "w1"); /* never answers its poll: not routable */
    healthy_worker(&W, "w2");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    fake_advance(&W.fe, 20 * MS);

    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    json_t *b = invoke_body("f");
    assert_int_equal(ilu_controller_invoke(W.c, b, "t-7", inv_done, &ir, &err), 0);
    long i = ft_find(&W.ft, INV, NULL);
    assert_true(i >= 0);
    assert_string_equal(W.ft.sends[i].worker, "w2");
    assert_true(json_equal(W.ft.sends[i].body, b));
    assert_string_equal(W.ft.sends[i].tid, "t-7");
    assert_int_equal(W.ft.sends[i].timeout_us, 10 * SEC);
    json_decref(b);
    assert_int_equal(ilu_controller_outstanding(W.c), 1);
    assert_int_equal(worker_int(&W, "w2", "in_flight"), 1);
    assert_int_equal(worker_int(&W, "w2", "routed"), 1);
    assert_int_equal(ir.calls, 0);

    fake_advance(&W.fe, 30 * MS);
    ft_reply(&W.ft, i, 200, "{\"success\":true,\"body\":\"{\\\"ok\\\":1}\",\"duration_us\":1234}");
    assert_int_equal(ir.calls, 1);
    assert_int_equal(ir.status, 200);
    assert_string_equal(fake_json_str(ir.answer, "body"), "{\"ok\":1}");
    assert_int_equal(fake_json_int(ir.answer, "duration_us"), 1234);
    assert_true(json_is_true(json_object_get(ir.answer, "success")));
    assert_string_equal(fake_json_str(ir.answer, "worker"), "w2");
    assert_int_equal(fake_json_int(ir.answer, "controller_us"), 30 * MS);
    assert_int_equal(ilu_controller_outstanding(W.c), 0);
    assert_int_equal(worker_int(&W, "w2", "in_flight"), 0);

    /* the worker's own error passes through and the worker stays healthy */
    inv_clear(&ir);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    ft_reply_to(&W.ft, INV, "w2", 422, "{\"success\":false,\"error\":\"boom\",\"error_kind\":\"user_error\"}");
    assert_int_equal(ir.status, 422);
    assert_string_equal(fake_json_str(ir.answer, "error_kind"), "user_error");
    assert_string_equal(fake_json_str(ir.answer, "error"), "boom");
    assert_string_equal(fake_json_str(ir.answer, "worker"), "w2");
    assert_string_equal(health(&W, "w2"), "HEALTHY");
    assert_int_equal(ctl_status(&W, "invocations"), 2);
    assert_int_equal(ctl_status(&W, "errors"), 1);
    assert_int_equal(ctl_status(&W, "worker_failures"), 0);
    assert_int_equal(worker_int(&W, "w2", "routed"), 2);
    assert_int_equal(worker_int(&W, "w1", "routed"), 0);
    inv_clear(&ir);
    world_end(&W);
}

static void prewarm_is_routed_like_an_invocation(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    healthy_worker(&W, "w1");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}"); /* kept once a worker accepts it */
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    json_t *b = json_pack("{s:s, s:s}", "function_name", "f", "function_version", "1");
    assert_int_equal(ilu_controller_prewarm(W.c, b, "tp", inv_done, &ir, &err), 0);
    json_decref(b);
    assert_int_equal(ft_count(&W.ft, PREWARM, "w1"), 1);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 0);
    ft_reply_to(&W.ft, PREWARM, "w1", 200, "{\"success\":true}");
    assert_int_equal(ir.status, 200);
    assert_string_equal(fake_json_str(ir.answer, "worker"), "w1");
    assert_int_equal(ctl_status(&W, "invocations"), 0); /* a prewarm is not an invocation */
    b = json_pack("{s:s, s:s}", "function_name", "nope", "function_version", "1");
    assert_int_equal(ilu_controller_prewarm(W.c, b, "tp", inv_done, &ir, &err), -1);
    assert_int_equal(err.status, 404);
    json_decref(b);
    inv_clear(&ir);
    world_end(&W);
}

static void transport_failure_on_an_invocation_is_502_and_the_worker_unhealthy_at_once(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    ft_reply_to(&W.ft, INV, "w1", 0, NULL);
    assert_int_equal(ir.calls, 1);
    assert_int_equal(ir.status, 502);
    assert_string_equal(fake_json_str(ir.answer, "error_kind"), "worker_failed");
    assert_int_equal(fake_json_int(ir.answer, "http_status"), 502);
    assert_false(json_is_true(json_object_get(ir.answer, "success")));
    assert_string_equal(fake_json_str(ir.answer, "worker"), "w1");
    assert_non_null(strstr(fake_json_str(ir.answer, "error"), "w1"));
    assert_string_equal(health(&W, "w1"), "UNHEALTHY"); /* no poll needed */
    assert_string_equal(health(&W, "w2"), "HEALTHY");
    assert_int_equal(ctl_status(&W, "worker_failures"), 1);
    assert_int_equal(ctl_status(&W, "errors"), 1);
    assert_int_equal(ctl_status(&W, "outstanding"), 0);

    /* everything goes to w2 now */
    for (int k = 0; k < 3; k++) {
        inv_clear(&ir);
        assert_int_equal(invoke(&W, "f", &ir, &err), 0);
        ft_reply_to(&W.ft, INV, "w2", 200, "{}");
        assert_int_equal(ir.status, 200);
    }
    assert_int_equal(ft_count(&W.ft, INV, "w1"), 1);

    /* an answer that is not a JSON object is a failure too */
    inv_clear(&ir);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    ft_reply_to(&W.ft, INV, "w2", 200, NULL);
    assert_int_equal(ir.status, 502);
    assert_string_equal(fake_json_str(ir.answer, "error_kind"), "worker_failed");
    assert_string_equal(health(&W, "w2"), "UNHEALTHY");
    inv_clear(&ir);
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 503);

    /* a good poll brings w1 back, with its functions */
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", 200, IDLE);
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_string_equal(registered_on(&W, "w1"), "f,f");
    memset(&err, 0, sizeof err);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    assert_int_equal(ft_pending(&W.ft, INV, "w1"), 1);
    ft_reply_to(&W.ft, INV, "w1", 200, "{}");
    inv_clear(&ir);
    world_end(&W);
}

/* A failure at the invocation's timeout may be a slow function on a healthy
 * worker: 502 worker_failed for the caller, but health is left to a status
 * poll sent at once. */
/* An invocation whose request never reached its worker (refused, or reset
 * before it was written) did not run: it goes to another worker chosen by
 * the policy, up to invocation.unsent_retries times; one that was sent and
 * then failed may have run, and is answered 502 saying so. */
static void invocation_never_sent_goes_to_another_worker_and_sent_one_says_it_may_have_run(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    W.cfg.invocation.unsent_retries = 2;
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    healthy_worker(&W, "w3");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    struct inv_rec ir = {0};
    struct ilu_error err = {0};

    /* not sent to w1: re-routed, same body and transaction id, answered by w2 */
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    long first = ft_find(&W.ft, INV, NULL);
    assert_true(first >= 0);
    char first_worker[64];
    snprintf(first_worker, sizeof first_worker, "%s", W.ft.sends[first].worker);
    ft_reply(&W.ft, first, ILU_CTL_NOT_SENT, NULL);
    assert_int_equal(ir.calls, 0);
    assert_string_equal(health(&W, first_worker), "UNHEALTHY");
    long second = ft_find(&W.ft, INV, NULL);
    assert_true(second > first);
    assert_string_not_equal(W.ft.sends[second].worker, first_worker);
    assert_true(json_equal(W.ft.sends[second].body, W.ft.sends[first].body));
    assert_string_equal(W.ft.sends[second].tid, "t-1");
    char second_worker[64];
    snprintf(second_worker, sizeof second_worker, "%s", W.ft.sends[second].worker);
    ft_reply(&W.ft, second, 200, "{\"success\":true}");
    assert_int_equal(ir.calls, 1);
    assert_int_equal(ir.status, 200);
    assert_string_equal(fake_json_str(ir.answer, "worker"), second_worker);
    assert_int_equal(ctl_status(&W, "unsent_retries"), 1);
    assert_int_equal(ctl_status(&W, "invocations"), 1);
    assert_int_equal(ctl_status(&W, "errors"), 0);
    assert_int_equal(ctl_status(&W, "outstanding"), 0);
    assert_int_equal(worker_int(&W, first_worker, "in_flight"), 0);

    /* sent, then the connection broke: 502, may have run, not re-sent */
    inv_clear(&ir);
    size_t sends = ft_count(&W.ft, INV, NULL);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    ft_reply(&W.ft, ft_find(&W.ft, INV, NULL), 0, NULL);
    assert_int_equal(ir.calls, 1);
    assert_int_equal(ir.status, 502);
    assert_string_equal(fake_json_str(ir.answer, "error_kind"), "worker_failed");
    assert_true(json_is_true(json_object_get(ir.answer, "may_have_run")));
    assert_non_null(strstr(fake_json_str(ir.answer, "error"), "may have run"));
    assert_int_equal(ft_count(&W.ft, INV, NULL), sends + 1);
    assert_int_equal(ctl_status(&W, "unsent_retries"), 1);

    /* the last worker refuses too and none is left: 502, did not run */
    inv_clear(&ir);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    long last = ft_find(&W.ft, INV, NULL);
    assert_true(last >= 0);
    ft_reply(&W.ft, last, ILU_CTL_NOT_SENT, NULL);
    assert_int_equal(ir.calls, 1);
    assert_int_equal(ir.status, 502);
    assert_false(json_is_true(json_object_get(ir.answer, "may_have_run")));
    assert_non_null(strstr(fake_json_str(ir.answer, "error"), "did not run"));
    assert_non_null(strstr(fake_json_str(ir.answer, "error"), "no other worker"));
    inv_clear(&ir);
    world_end(&W);

    /* bounded: with every worker refusing, 1 + unsent_retries tries */
    world_init(&W, "RoundRobin");
    W.cfg.invocation.unsent_retries = 1;
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    healthy_worker(&W, "w3");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    for (int k = 0; k < 2; k++)
        ft_reply(&W.ft, ft_find(&W.ft, INV, NULL), ILU_CTL_NOT_SENT, NULL);
    assert_int_equal(ir.calls, 1);
    assert_int_equal(ir.status, 502);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 2);
    assert_non_null(strstr(fake_json_str(ir.answer, "error"), "in 2 tries"));
    assert_string_equal(health(&W, "w3"), "HEALTHY");
    inv_clear(&ir);
    world_end(&W);
}

static void invocation_timing_out_is_502_but_health_is_left_to_the_polls(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    long i = ft_find(&W.ft, INV, "w1");
    assert_true(i >= 0);
    for (int k = 0; k < 100; k++) { /* 10 s of good polls */
        fake_advance(&W.fe, FREQ);
        ft_reply_all(&W.ft, STATUS, NULL, 200, IDLE);
    }
    unsigned polls = ft_count(&W.ft, STATUS, "w1");
    ft_reply(&W.ft, i, 0, NULL); /* the transport's timeout */
    assert_int_equal(ir.status, 502);
    assert_string_equal(fake_json_str(ir.answer, "error_kind"), "worker_failed");
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(ft_count(&W.ft, STATUS, "w1"), polls + 1);
    assert_int_equal(ft_pending(&W.ft, STATUS, "w1"), 1);
    assert_int_equal(ctl_status(&W, "worker_failures"), 1);
    inv_clear(&ir);
    world_end(&W);
}

static void unknown_function_is_404_and_malformed_request_400(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    healthy_worker(&W, "w1");
    reg_fn(&W, "f", NULL);
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    assert_int_equal(invoke(&W, "nope", &ir, &err), -1);
    assert_int_equal(err.status, 404);
    assert_non_null(strstr(err.msg, "nope-1"));
    json_t *b = json_pack("{s:s}", "function_name", "f");
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_invoke(W.c, b, "t", inv_done, &ir, &err), -1);
    assert_int_equal(err.status, 400);
    json_decref(b);
    memset(&err, 0, sizeof err);
    assert_null(invoke_async(&W, "nope", &err));
    assert_int_equal(err.status, 404);
    assert_int_equal(ir.calls, 0);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 0);
    assert_int_equal(ctl_status(&W, "no_worker"), 0);
    assert_int_equal(ctl_status(&W, "async_held"), 0);
    world_end(&W);
}

static void no_healthy_worker_is_503(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "LeastLoaded");
    world_start(&W);
    reg_fn(&W, "f", NULL);
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    assert_int_equal(invoke(&W, "f", &ir, &err), -1); /* no worker at all */
    assert_int_equal(err.status, 503);
    assert_string_equal(err.kind, "no_worker");
    add_worker(&W, "w1");
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    assert_string_equal(health(&W, "w1"), "UNHEALTHY");
    memset(&err, 0, sizeof err);
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 503);
    memset(&err, 0, sizeof err);
    assert_null(invoke_async(&W, "f", &err)); /* refused at once, nothing held */
    assert_int_equal(err.status, 503);
    assert_int_equal(ctl_status(&W, "no_worker"), 3);
    assert_int_equal(ctl_status(&W, "async_held"), 0);
    assert_int_equal(ctl_status(&W, "healthy_workers"), 0);
    assert_int_equal(ir.calls, 0);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 0);
    world_end(&W);
}

/* ---- async invocations ------------------------------------------------------------------ */

static json_t *check(struct world *W, const char *cookie, bool *pending, int *status, struct ilu_error *err)
{
    memset(err, 0, sizeof *err);
    *status = -1;
    return ilu_controller_invoke_async_check(W->c, cookie, pending, status, err);
}

static void async_result_is_available_once_after_the_worker_answers(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    healthy_worker(&W, "w1");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}"); /* kept once a worker accepts it */
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    assert_non_null(cookie);
    assert_int_equal(strncmp(cookie, "ctl-", 4), 0);
    char *other = invoke_async(&W, "f", &err);
    assert_non_null(other);
    assert_string_not_equal(cookie, other);
    assert_int_equal(ft_count(&W.ft, INV, "w1"), 2);
    assert_string_equal(W.ft.sends[ft_find(&W.ft, INV, "w1")].tid, "t-a");
    assert_int_equal(ctl_status(&W, "async_held"), 2);

    bool pending = false;
    int status;
    assert_null(check(&W, cookie, &pending, &status, &err));
    assert_true(pending);
    assert_int_equal(err.status, 0);

    ft_reply_to(&W.ft, INV, "w1", 200, "{\"success\":true,\"body\":\"r\"}");
    json_t *res = check(&W, cookie, &pending, &status, &err);
    assert_non_null(res);
    assert_false(pending);
    assert_int_equal(status, 200);
    assert_string_equal(fake_json_str(res, "body"), "r");
    assert_string_equal(fake_json_str(res, "worker"), "w1");
    json_decref(res);
    /* once only */
    assert_null(check(&W, cookie, &pending, &status, &err));
    assert_false(pending);
    assert_int_equal(err.status, 404);
    assert_null(check(&W, "ctl-0-0", &pending, &status, &err));
    assert_int_equal(err.status, 404);
    assert_null(check(&W, NULL, &pending, &status, &err));
    assert_int_equal(err.status, 404);
    /* the other one is still running */
    assert_null(check(&W, other, &pending, &status, &err));
    assert_true(pending);
    assert_int_equal(ctl_status(&W, "async_held"), 1);
    ft_reply_to(&W.ft, INV, "w1", 422, "{\"success\":false,\"error_kind\":\"user_error\"}");
    res = check(&W, other, &pending, &status, &err);
    assert_int_equal(status, 422); /* a worker's answer is final: not retried */
    assert_string_equal(fake_json_str(res, "error_kind"), "user_error");
    json_decref(res);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 2);
    assert_int_equal(ctl_status(&W, "async_held"), 0);
    free(cookie);
    free(other);
    world_end(&W);
}

static void async_lost_with_its_worker_is_sent_again_and_returns_the_second_answer(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.cfg.invocation.async_retries = 1;
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    assert_non_null(cookie);
    long first = ft_find(&W.ft, INV, NULL);
    assert_true(first >= 0);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 1);
    char lost[64], other[64];
    snprintf(lost, sizeof lost, "%s", W.ft.sends[first].worker);
    snprintf(other, sizeof other, "%s", strcmp(lost, "w1") ? "w1" : "w2");
    json_t *body = json_deep_copy(W.ft.sends[first].body);

    ft_reply(&W.ft, first, 0, NULL);
    assert_string_equal(health(&W, lost), "UNHEALTHY");
    long second = ft_find(&W.ft, INV, NULL);
    assert_true(second > first);
    assert_string_equal(W.ft.sends[second].worker, other); /* sent again at once, elsewhere */
    assert_true(json_equal(W.ft.sends[second].body, body));
    assert_string_equal(W.ft.sends[second].tid, "t-a");
    json_decref(body);
    bool pending;
    int status;
    assert_null(check(&W, cookie, &pending, &status, &err));
    assert_true(pending);

    ft_reply(&W.ft, second, 200, "{\"success\":true,\"body\":\"second\"}");
    json_t *res = check(&W, cookie, &pending, &status, &err);
    assert_non_null(res);
    assert_false(pending);
    assert_int_equal(status, 200);
    assert_string_equal(fake_json_str(res, "body"), "second");
    assert_string_equal(fake_json_str(res, "worker"), other);
    json_decref(res);
    assert_int_equal(ctl_status(&W, "async_retries"), 1);
    assert_int_equal(ctl_status(&W, "async_lost"), 0);
    assert_int_equal(ctl_status(&W, "worker_failures"), 1);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 2);
    free(cookie);
    world_end(&W);
}

static void async_without_retries_fails_with_the_reason(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.cfg.invocation.async_retries = 0;
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}"); /* kept once a worker accepts it */
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    assert_non_null(cookie);
    long i = ft_find(&W.ft, INV, NULL);
    char lost[64];
    snprintf(lost, sizeof lost, "%s", W.ft.sends[i].worker);
    ft_reply(&W.ft, i, 0, NULL);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 1); /* not sent again */
    bool pending = true;
    int status;
    json_t *res = check(&W, cookie, &pending, &status, &err);
    assert_non_null(res);
    assert_false(pending);
    assert_int_equal(status, 502);
    assert_string_equal(fake_json_str(res, "error_kind"), "worker_failed");
    assert_non_null(strstr(fake_json_str(res, "error"), lost));
    assert_string_equal(fake_json_str(res, "worker"), lost);
    json_decref(res);
    assert_int_equal(ctl_status(&W, "async_lost"), 1);
    assert_int_equal(ctl_status(&W, "async_retries"), 0);
    free(cookie);
    world_end(&W);
}

static void async_retries_exhausted_finish_failed(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    W.cfg.invocation.async_retries = 1;
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    healthy_worker(&W, "w3");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}"); /* kept once a worker accepts it */
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    assert_non_null(cookie);
    ft_reply(&W.ft, ft_find(&W.ft, INV, NULL), 0, NULL);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 2);
    long second = ft_find(&W.ft, INV, NULL);
    char w2nd[64];
    snprintf(w2nd, sizeof w2nd, "%s", W.ft.sends[second].worker);
    ft_reply(&W.ft, second, 0, NULL);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 2); /* one retry only, a healthy worker is left */
    bool pending = true;
    int status;
    json_t *res = check(&W, cookie, &pending, &status, &err);
    assert_non_null(res);
    assert_false(pending);
    assert_int_equal(status, 502);
    assert_string_equal(fake_json_str(res, "error_kind"), "worker_failed");
    assert_string_equal(fake_json_str(res, "worker"), w2nd);
    json_decref(res);
    assert_int_equal(ctl_status(&W, "async_retries"), 1);
    assert_int_equal(ctl_status(&W, "async_lost"), 1);
    assert_int_equal(ctl_status(&W, "healthy_workers"), 1);
    free(cookie);
    world_end(&W);
}

/* The only worker died: the retry waits 2 poll periods for a healthy worker,
 * at most async_retries + 1 times, then gives up with a reason. */
static void async_whose_only_worker_died_finishes_failed_instead_of_pending_forever(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.cfg.invocation.async_retries = 2;
    world_start(&W);
    healthy_worker(&W, "w1");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    fake_advance(&W.fe, 50 * MS); /* T0 + 50 ms: between two ticks */
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    assert_non_null(cookie);
    uint64_t t = W.fe.now;
    ft_reply_to(&W.ft, INV, "w1", 0, NULL);
    assert_string_equal(health(&W, "w1"), "UNHEALTHY");
    bool pending = false;
    int status;
    json_t *res = NULL;
    /* polls keep failing; the retries (t + 200 ms, t + 400 ms) find nobody */
    while (W.fe.now < t + 400 * MS - 1) {
        fake_run_until(&W.fe, W.fe.now + 10 * MS < t + 400 * MS - 1 ? W.fe.now + 10 * MS : t + 400 * MS - 1);
        ft_reply_all(&W.ft, STATUS, NULL, 0, NULL);
    }
    assert_null(check(&W, cookie, &pending, &status, &err));
    assert_true(pending);
    fake_run_until(&W.fe, t + 400 * MS);
    res = check(&W, cookie, &pending, &status, &err);
    assert_non_null(res);
    assert_false(pending);
    assert_int_equal(status, 503);
    assert_string_equal(fake_json_str(res, "error_kind"), "no_worker");
    assert_non_null(strstr(fake_json_str(res, "error"), "not run after"));
    json_decref(res);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 1);
    assert_int_equal(ctl_status(&W, "async_lost"), 1);
    free(cookie);
    world_end(&W);
}

static void async_waits_for_its_worker_to_come_back(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.cfg.invocation.async_retries = 2;
    world_start(&W);
    healthy_worker(&W, "w1");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    fake_advance(&W.fe, 50 * MS);
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    uint64_t t = W.fe.now;
    ft_reply_to(&W.ft, INV, "w1", 0, NULL);
    fake_run_until(&W.fe, t + 50 * MS); /* the tick at T0 + 100 ms polls */
    ft_reply_to(&W.ft, STATUS, "w1", 200, IDLE);
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(ft_count(&W.ft, INV, NULL), 1);
    fake_run_until(&W.fe, t + 200 * MS); /* the retry */
    assert_int_equal(ft_count(&W.ft, INV, NULL), 2);
    ft_reply_to(&W.ft, INV, "w1", 200, "{\"body\":\"late\"}");
    bool pending;
    int status;
    json_t *res = check(&W, cookie, &pending, &status, &err);
    assert_non_null(res);
    assert_int_equal(status, 200);
    assert_string_equal(fake_json_str(res, "body"), "late");
    json_decref(res);
    free(cookie);
    world_end(&W);
}

static void freeing_with_an_async_waiting_to_retry_leaves_no_timer(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.cfg.invocation.async_retries = 3;
    world_start(&W);
    healthy_worker(&W, "w1");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    ft_reply_to(&W.ft, INV, "w1", 0, NULL); /* waits for a worker on a timer */
    assert_int_equal(W.fe.n_timers, 2);     /* the poll tick and the retry */
    free(cookie);
    /* world_end answers nothing that matters here, frees, and checks timers */
    world_end(&W);
}

static void async_results_expire_after_the_ttl(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.cfg.invocation.async_result_ttl_sec = 2;
    world_start(&W);
    healthy_worker(&W, "w1");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    struct ilu_error err = {0};
    char *a = invoke_async(&W, "f", &err), *b = invoke_async(&W, "f", &err), *c = invoke_async(&W, "f", &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    fake_advance(&W.fe, 50 * MS);
    uint64_t t1 = W.fe.now; /* T0 + 50 ms */
    long ia = ft_find(&W.ft, INV, NULL);
    ft_reply(&W.ft, ia, 200, "{\"body\":\"a\"}");
    ft_reply(&W.ft, ft_find(&W.ft, INV, NULL), 200, "{\"body\":\"b\"}");
    /* c's invocation is still running */
    assert_int_equal(ctl_status(&W, "async_held"), 3);
    fake_run_until(&W.fe, t1 + 2 * SEC - 1);
    assert_int_equal(ctl_status(&W, "async_held"), 3);
    bool pending;
    int status;
    json_t *res = check(&W, a, &pending, &status, &err);
    assert_non_null(res);
    assert_string_equal(fake_json_str(res, "body"), "a");
    json_decref(res);
    /* the first tick at or after t1 + 2 s drops b; c is not finished: kept */
    fake_run_until(&W.fe, t1 + 2 * SEC + FREQ);
    assert_int_equal(ctl_status(&W, "async_held"), 1);
    assert_null(check(&W, b, &pending, &status, &err));
    assert_false(pending);
    assert_int_equal(err.status, 404);
    assert_null(check(&W, c, &pending, &status, &err));
    assert_true(pending);
    ft_reply_to(&W.ft, INV, "w1", 200, "{\"body\":\"c\"}");
    res = check(&W, c, &pending, &status, &err);
    assert_non_null(res);
    assert_string_equal(fake_json_str(res, "body"), "c");
    json_decref(res);
    free(a);
    free(b);
    free(c);
    world_end(&W);
}

/* Async invocations use one pick each, so RoundRobin alternates them like
 * synchronous ones. (Regression test: invoke_async once called route() to
 * refuse early and then picked again to send, moving the RoundRobin cursor
 * twice: with two workers all 4 went to w2.) */
static void async_invocations_are_spread_by_round_robin(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}"); /* kept once a worker accepts it */
    /* synchronous invocations alternate */
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    for (int k = 0; k < 4; k++)
        assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    assert_int_equal(ft_count(&W.ft, INV, "w1"), 2);
    assert_int_equal(ft_count(&W.ft, INV, "w2"), 2);
    ft_reply_all(&W.ft, INV, NULL, 200, "{}");
    char *cookies[4];
    for (int k = 0; k < 4; k++) {
        cookies[k] = invoke_async(&W, "f", &err);
        assert_non_null(cookies[k]);
    }
    unsigned on1 = ft_pending(&W.ft, INV, "w1"), on2 = ft_pending(&W.ft, INV, "w2");
    for (int k = 0; k < 4; k++)
        free(cookies[k]);
    inv_clear(&ir);
    ft_reply_all(&W.ft, INV, NULL, 200, "{}");
    world_end(&W);
    print_message("async with RoundRobin: %u on w1, %u on w2\n", on1, on2);
    assert_int_equal(on1, 2);
    assert_int_equal(on2, 2);
}

/* ---- store ------------------------------------------------------------------------------ */

static void store_is_written_only_when_persisting(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.use_store = true;
    world_start(&W);
    struct ilu_error err = {0};
    assert_int_equal(add_worker_at(&W, "w1", 8071, true, &err), 0);
    assert_int_equal(W.st.workers, 1);
    assert_string_equal(W.st.last_worker, "w1");
    assert_string_equal(fake_json_str(W.st.last_worker_info, "name"), "w1");
    assert_string_equal(fake_json_str(W.st.last_worker_info, "host"), "10.0.0.7");
    assert_int_equal(fake_json_int(W.st.last_worker_info, "port"), 8071);
    assert_int_equal(fake_json_int(W.st.last_worker_info, "cpus"), 2);
    assert_int_equal(fake_json_int(W.st.last_worker_info, "memory_mb"), 2048);
    assert_int_equal(add_worker_at(&W, "w2", 8071, false, &err), 0);
    assert_int_equal(W.st.workers, 1);
    assert_int_equal(add_worker_at(&W, "w1", 8071, true, &err), 0); /* heartbeat: nothing new */
    assert_int_equal(W.st.workers, 1);
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL); /* gone from its old address... */
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    assert_int_equal(add_worker_at(&W, "w1", 8072, true, &err), 0); /* ...moved: saved */
    assert_int_equal(W.st.workers, 2);
    assert_int_equal(fake_json_int(W.st.last_worker_info, "port"), 8072);

    /* stored once a worker accepted it */
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 128, 1, true, NULL, &err), 0);
    assert_int_equal(W.st.functions, 0);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    assert_int_equal(W.st.functions, 1);
    assert_string_equal(W.st.last_fqdn, "f-1");
    assert_string_equal(fake_json_str(W.st.last_registration, "image_name"), "/fn/img1");
    assert_int_equal(fake_json_int(W.st.last_registration, "memory"), 128);
    assert_int_equal(reg_fn_full(&W, "g", "/fn/img1", 128, 1, false, NULL, &err), 0);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    assert_int_equal(W.st.functions, 1);
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 128, 1, true, NULL, &err), 0); /* identical */
    assert_int_equal(W.st.functions, 1);
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 64, 1, true, NULL, &err), -1); /* conflict */
    assert_int_equal(W.st.functions, 1);

    /* the store fails after the workers accepted it: not kept, and done
     * says why (the store's own message) */
    W.st.fail = true;
    struct reg_rec rr = {0};
    memset(&err, 0, sizeof err);
    assert_int_equal(reg_fn_full(&W, "h", "/fn/img1", 128, 1, true, &rr, &err), 0);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    assert_int_equal(rr.calls, 1);
    assert_true(rr.not_kept);
    assert_non_null(strstr(rr.not_kept_msg, "h-1"));
    assert_non_null(strstr(rr.not_kept_msg, "disk full (fake)"));
    assert_int_equal(ctl_status(&W, "functions"), 2);
    size_t sends = W.ft.n;
    memset(&err, 0, sizeof err);
    assert_int_equal(add_worker_at(&W, "w3", 8071, true, &err), -1);
    assert_int_equal(err.status, 500);
    assert_int_equal(n_workers_listed(&W), 2);
    assert_int_equal(W.ft.n, sends);
    /* not persisting does not touch the failing store */
    assert_int_equal(reg_fn_full(&W, "k", "/fn/img1", 128, 1, false, NULL, &err), 0);
    assert_int_equal(add_worker_at(&W, "w4", 8071, false, &err), 0);
    world_end(&W);

    /* no store at all: persist is a no-op */
    world_init(&W, "CH-BL");
    world_start(&W);
    assert_int_equal(add_worker_at(&W, "w1", 8071, true, &err), 0);
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 128, 1, true, NULL, &err), 0);
    assert_int_equal(W.st.workers + W.st.functions, 0);
    world_end(&W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(worker_takes_traffic_only_after_a_good_status_poll),
        cmocka_unit_test(failed_polls_make_worker_unhealthy_and_a_good_poll_brings_it_back_with_every_function),
        cmocka_unit_test(a_hung_worker_gets_one_poll_at_a_time),
        cmocka_unit_test(register_function_fans_out_to_every_worker_and_counts_answers),
        cmocka_unit_test(conflicting_registration_is_409_and_identical_succeeds_without_sends),
        cmocka_unit_test(registration_refused_by_every_worker_is_not_kept),
        cmocka_unit_test(registration_is_checked_with_the_worker_rules_even_without_workers),
        cmocka_unit_test(worker_registered_later_gets_every_function),
        cmocka_unit_test(worker_moving_to_a_new_address_gets_every_function_and_is_polled_again),
        cmocka_unit_test(worker_restarted_with_a_new_boot_id_gets_every_function_again),
        cmocka_unit_test(live_worker_name_cannot_be_taken_by_another_address),
        cmocka_unit_test(worker_refused_by_the_transport_is_not_kept),
        cmocka_unit_test(invoke_routes_to_a_healthy_worker_and_passes_its_answer_with_worker_added),
        cmocka_unit_test(prewarm_is_routed_like_an_invocation),
        cmocka_unit_test(transport_failure_on_an_invocation_is_502_and_the_worker_unhealthy_at_once),
        cmocka_unit_test(invocation_never_sent_goes_to_another_worker_and_sent_one_says_it_may_have_run),
        cmocka_unit_test(invocation_timing_out_is_502_but_health_is_left_to_the_polls),
        cmocka_unit_test(unknown_function_is_404_and_malformed_request_400),
        cmocka_unit_test(no_healthy_worker_is_503),
        cmocka_unit_test(async_result_is_available_once_after_the_worker_answers),
        cmocka_unit_test(async_lost_with_its_worker_is_sent_again_and_returns_the_second_answer),
        cmocka_unit_test(async_without_retries_fails_with_the_reason),
        cmocka_unit_test(async_retries_exhausted_finish_failed),
        cmocka_unit_test(async_whose_only_worker_died_finishes_failed_instead_of_pending_forever),
        cmocka_unit_test(async_waits_for_its_worker_to_come_back),
        cmocka_unit_test(freeing_with_an_async_waiting_to_retry_leaves_no_timer),
        cmocka_unit_test(async_results_expire_after_the_ttl),
        cmocka_unit_test(async_invocations_are_spread_by_round_robin),
        cmocka_unit_test(store_is_written_only_when_persisting),
    };
    return cmocka_run_group_tests_name("controller", tests, NULL, NULL);
}
