/* Random sequences of API calls and backend events against the fake backend
 * (fixed seeds, so a failure repeats), checking the worker's bookkeeping
 * after every step against what the backend independently saw. */
#include "fake.h"

#include "core/policy_registry.h"

#define N_FN      4
#define MAX_INV   4096
#define MAX_ASYNC 512

static const char *const fn_names[N_FN] = {"f0", "f1", "f2", "f3"};
static const char *const fn_fqdns[N_FN] = {"f0-1", "f1-1", "f2-1", "f3-1"};
static const uint32_t fn_mem[N_FN] = {64, 128, 200, 300};

struct call_rec {
    unsigned calls;
    int http_status;
};

struct fuzz {
    struct fake_world fw;
    uint64_t rng;
    uint32_t registered_mb[N_FN]; /* 0: not registered */
    struct call_rec inv[MAX_INV];
    size_t n_inv;
    struct call_rec pw[MAX_INV];
    size_t n_pw;
    char *cookies[MAX_ASYNC];
    size_t n_cookies;
    unsigned steps, accepted, rejected, kills;
};

static uint64_t rnd(struct fuzz *z)
{
    z->rng ^= z->rng << 13;
    z->rng ^= z->rng >> 7;
    z->rng ^= z->rng << 17;
    return z->rng;
}

static uint64_t pick(struct fuzz *z, uint64_t n)
{
    return rnd(z) % n;
}

static void inv_done(void *arg, struct ilu_invocation *inv)
{
    struct call_rec *r = arg;
    r->calls++;
    r->http_status = ilu_invocation_http_status(inv);
    json_t *j = ilu_invocation_result_json(inv);
    assert_non_null(j);
    json_decref(j);
}

static void pw_done(void *arg, const char *tid, const struct ilu_error *err)
{
    (void)tid;
    struct call_rec *r = arg;
    r->calls++;
    r->http_status = err ? err->status : 200;
}

static void check_invariants(struct fuzz *z)
{
    struct fake_world *fw = &z->fw;
    json_t *s = ilu_worker_status_json(fw->w);
    long long used = json_integer_value(json_object_get(s, "used_mem_mb"));
    long long total = json_integer_value(json_object_get(s, "total_mem_mb"));
    long long n = json_integer_value(json_object_get(s, "num_containers"));
    long long idle = json_integer_value(json_object_get(s, "idle_containers"));
    long long starting = json_integer_value(json_object_get(s, "starting_containers"));
    long long running = json_integer_value(json_object_get(s, "num_running_funcs"));
    long long cpus = json_integer_value(json_object_get(s, "cpus_in_use"));
    long long cpu_limit = json_integer_value(json_object_get(s, "cpu_limit"));
    json_decref(s);
    long long busy = n - idle - starting;
    unsigned f_start = 0, f_busy = 0, f_idle = 0;
    for (struct fake_ct *ct = fw->be.cts; ct; ct = ct->next) {
        if (ct->destroyed)
            continue;
        f_start += ct->state == FAKE_STARTING;
        f_busy += ct->state == FAKE_BUSY;
        f_idle += ct->state == FAKE_READY;
    }
    if (fw->be.violations)
        fail_msg("step %u: backend protocol violation: %s", z->steps, fw->be.last_violation);
    if (used > total)
        fail_msg("step %u: used_mem_mb %lld > total_mem_mb %lld", z->steps, used, total);
    if (busy < 0)
        fail_msg("step %u: num_containers %lld < idle %lld + starting %lld", z->steps, n, idle, starting);
    if (n != (long long)fake_live(&fw->be))
        fail_msg("step %u: num_containers %lld but the backend holds %u", z->steps, n, fake_live(&fw->be));
    if (used != (long long)fake_live_mem(&fw->be))
        fail_msg("step %u: used_mem_mb %lld but live containers hold %llu MB", z->steps, used,
                 (unsigned long long)fake_live_mem(&fw->be));
    if (starting != f_start || idle != f_idle || busy != f_busy)
        fail_msg("step %u: worker sees starting/idle/busy %lld/%lld/%lld, backend %u/%u/%u", z->steps, starting, idle,
                 busy, f_start, f_idle, f_busy);
    if (running > cpu_limit || cpus > cpu_limit)
        fail_msg("step %u: %lld running on %lld cpus, limit %lld", z->steps, running, cpus, cpu_limit);
    if (busy > running)
        fail_msg("step %u: %lld busy containers but %lld running invocations", z->steps, busy, running);
    for (size_t i = 0; i < z->n_inv; i++)
        if (z->inv[i].calls > 1)
            fail_msg("step %u: invocation %zu completed %u times", z->steps, i, z->inv[i].calls);
    for (size_t i = 0; i < z->n_pw; i++)
        if (z->pw[i].calls > 1)
            fail_msg("step %u: prewarm %zu completed %u times", z->steps, i, z->pw[i].calls);
}

static void op_register(struct fuzz *z)
{
    int f = (int)pick(z, N_FN);
    uint32_t mem = pick(z, 8) ? fn_mem[f] : fn_mem[f] + 1; /* sometimes a conflicting re-registration */
    char image[64];
    snprintf(image, sizeof image, "/functions/%s", fn_names[f]);
    struct ilu_register_req req = {.function_name = fn_names[f],
                                   .function_version = "1",
                                   .image_name = image,
                                   .memory_mb = mem,
                                   .cpus = 1,
                                   .parallel_invokes = 1};
    struct ilu_error err = {0};
    int rc = ilu_worker_register(z->fw.w, &req, "reg", &err);
    if (!z->registered_mb[f]) {
        if (rc)
            fail_msg("step %u: registering %s: %d %s", z->steps, fn_names[f], err.status, err.msg);
        z->registered_mb[f] = mem;
    } else if (z->registered_mb[f] != mem) {
        assert_int_equal(rc, -1);
        assert_int_equal(err.status, 409);
    } else {
        assert_int_equal(rc, 0);
    }
}

static void op_invoke(struct fuzz *z)
{
    int f = (int)pick(z, N_FN);
    if (z->n_inv >= MAX_INV)
        return;
    struct call_rec *r = &z->inv[z->n_inv];
    struct ilu_error err = {0};
    char tid[32];
    snprintf(tid, sizeof tid, "inv-%zu", z->n_inv);
    int rc = ilu_worker_invoke(z->fw.w, fn_names[f], "1", "{}", 2, tid, inv_done, r, &err);
    if (!z->registered_mb[f]) {
        assert_int_equal(rc, -1);
        assert_int_equal(err.status, 404);
        return;
    }
    if (rc) {
        assert_int_equal(err.status, 429);
        z->rejected++;
        return;
    }
    assert_int_equal(r->calls, 0);
    z->n_inv++;
    z->accepted++;
}

static void op_async(struct fuzz *z)
{
    int f = (int)pick(z, N_FN);
    if (z->n_cookies >= MAX_ASYNC)
        return;
    struct ilu_error err = {0};
    char *cookie = ilu_async_invoke(z->fw.async, fn_names[f], "1", "{}", 2, "async", &err);
    if (!z->registered_mb[f]) {
        assert_null(cookie);
        assert_int_equal(err.status, 404);
        return;
    }
    if (!cookie) {
        assert_int_equal(err.status, 429);
        return;
    }
    z->cookies[z->n_cookies++] = cookie;
}

static void op_async_check(struct fuzz *z)
{
    if (!z->n_cookies)
        return;
    size_t i = pick(z, z->n_cookies);
    bool pending = false;
    struct ilu_error err = {0};
    json_t *res = ilu_async_check(z->fw.async, z->cookies[i], &pending, &err);
    if (pending)
        return;
    if (res) {
        assert_non_null(json_object_get(res, "http_status"));
        json_decref(res);
    } else {
        assert_int_equal(err.status, 404); /* expired */
    }
    free(z->cookies[i]);
    z->cookies[i] = z->cookies[--z->n_cookies];
}

static void op_prewarm(struct fuzz *z)
{
    int f = (int)pick(z, N_FN);
    if (z->n_pw >= MAX_INV)
        return;
    struct call_rec *r = &z->pw[z->n_pw];
    struct ilu_error err = {0};
    int rc = ilu_worker_prewarm(z->fw.w, fn_names[f], "1", "pw", pw_done, r, &err);
    if (!z->registered_mb[f]) {
        assert_int_equal(rc, -1);
        assert_int_equal(err.status, 404);
        return;
    }
    if (rc) { /* no memory (503), or the backend refused the container at once (502) */
        assert_true(err.status == 503 || err.status == 502);
        assert_int_equal(r->calls, 0);
        return;
    }
    z->n_pw++;
}

static void op_kill(struct fuzz *z)
{
    unsigned live = fake_live(&z->fw.be);
    if (!live)
        return;
    unsigned k = (unsigned)pick(z, live);
    for (struct fake_ct *ct = z->fw.be.cts; ct; ct = ct->next) {
        if (ct->destroyed)
            continue;
        if (k-- == 0) {
            fake_kill(&z->fw.be, ct);
            z->kills++;
            return;
        }
    }
}

/* Give one function a new behaviour: mostly healthy, sometimes slow past the
 * timeouts, raising or failing to start. */
static void op_tweak(struct fuzz *z)
{
    struct fake_fn *fn = fake_fn(&z->fw.be, fn_fqdns[pick(z, N_FN)]);
    fn->exec_us = (pick(z, 6) ? 1 + pick(z, 200) : 1 + pick(z, 1500)) * MS; /* timeout_sec = 1 */
    fn->cold_us = (pick(z, 6) ? 1 + pick(z, 150) : 1 + pick(z, 300)) * MS;  /* startup_timeout_ms = 250 */
    fn->raise = pick(z, 6) == 0;
    fn->fail_create = pick(z, 10) == 0;
    fn->fail_create_sync = pick(z, 15) == 0;
}

/* queue_policy / keepalive NULL: the defaults. */
static void run_seed_with(uint64_t seed, unsigned steps, const char *queue_policy, const char *keepalive)
{
    struct fuzz *z = calloc(1, sizeof *z);
    assert_non_null(z);
    z->rng = 0x2545F4914F6CDD1DULL ^ (seed * 0x9E3779B97F4A7C15ULL);
    fake_world_init(&z->fw, 1 * SEC);
    if (queue_policy)
        snprintf(z->fw.cfg.invocation.queue_policy, sizeof z->fw.cfg.invocation.queue_policy, "%s", queue_policy);
    if (keepalive)
        snprintf(z->fw.cfg.container_resources.eviction, sizeof z->fw.cfg.container_resources.eviction, "%s",
                 keepalive);
    z->fw.cfg.container_resources.memory_mb = 512;
    z->fw.cfg.container_resources.cpu_count = 2;
    z->fw.cfg.container_resources.keepalive_sec = 2;
    z->fw.cfg.container_resources.pool_freq_ms = 100;
    z->fw.cfg.container_resources.startup_timeout_ms = 250;
    z->fw.cfg.limits.timeout_sec = 1;
    z->fw.cfg.invocation.max_queue_len = 16;
    z->fw.cfg.invocation.async_result_ttl_sec = 1;
    for (int f = 0; f < N_FN; f++) {
        struct fake_fn *fn = fake_fn(&z->fw.be, fn_fqdns[f]);
        fn->cold_us = (20 + 30 * (uint64_t)f) * MS;
        fn->exec_us = (5 + 40 * (uint64_t)f) * MS;
    }
    fake_world_start(&z->fw);
    for (z->steps = 0; z->steps < steps; z->steps++) {
        uint64_t op = pick(z, 100);
        if (op < 5)
            op_register(z);
        else if (op < 40)
            op_invoke(z);
        else if (op < 45)
            op_async(z);
        else if (op < 50)
            op_async_check(z);
        else if (op < 55)
            op_prewarm(z);
        else if (op < 57)
            ilu_worker_clean(z->fw.w, "clean");
        else if (op < 62)
            op_kill(z);
        else if (op < 70)
            op_tweak(z);
        else
            fake_advance(&z->fw.env, pick(z, 4) ? pick(z, 100 * MS) : pick(z, 3 * SEC));
        check_invariants(z);
    }
    /* let everything finish; kills and failures stay possible only via timers now */
    fake_settle(&z->fw.env, z->fw.w);
    check_invariants(z);
    assert_int_equal(ilu_worker_outstanding(z->fw.w), 0);
    for (size_t i = 0; i < z->n_inv; i++)
        if (z->inv[i].calls != 1)
            fail_msg("seed %llu: invocation %zu completed %u times", (unsigned long long)seed, i, z->inv[i].calls);
    for (size_t i = 0; i < z->n_pw; i++)
        if (z->pw[i].calls != 1)
            fail_msg("seed %llu: prewarm %zu completed %u times", (unsigned long long)seed, i, z->pw[i].calls);
    for (size_t i = 0; i < z->n_cookies; i++) {
        bool pending = true;
        struct ilu_error err = {0};
        json_t *res = ilu_async_check(z->fw.async, z->cookies[i], &pending, &err);
        assert_false(pending);
        if (!res)
            assert_int_equal(err.status, 404);
        json_decref(res);
        free(z->cookies[i]);
    }
    /* a run that exercised nothing proves nothing */
    assert_true(z->accepted > steps / 10);
    assert_true(z->fw.be.created > 10);
    assert_true(z->kills > 5);
    fake_world_end(&z->fw); /* every created container destroyed, no timer left */
    free(z);
}

static void run_seed(uint64_t seed, unsigned steps)
{
    run_seed_with(seed, steps, NULL, NULL);
}

/* The same invariants (memory never over the pool, no container both idle
 * and busy, every invocation answered once) under every registered queue
 * and keep-alive policy. */
static void every_policy_keeps_accounting_consistent(void **state)
{
    (void)state;
    for (size_t i = 0; ilu_queue_policy_at(i); i++)
        for (uint64_t seed = 1; seed <= 2; seed++)
            run_seed_with(seed, 600, ilu_queue_policy_at(i)->name, NULL);
    for (size_t i = 0; ilu_keepalive_policy_at(i); i++)
        for (uint64_t seed = 1; seed <= 2; seed++)
            run_seed_with(seed, 600, NULL, ilu_keepalive_policy_at(i)->name);
}

static void random_operations_keep_accounting_consistent(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++)
        run_seed(seed, 1000);
}

/* The same seed twice gives the same run (the simulator depends on it). */
static void same_seed_same_log(void **state)
{
    (void)state;
    char *logs[2];
    for (int round = 0; round < 2; round++) {
        struct fuzz *z = calloc(1, sizeof *z);
        assert_non_null(z);
        z->rng = 42;
        fake_world_init(&z->fw, 1 * SEC);
        z->fw.cfg.container_resources.memory_mb = 512;
        z->fw.cfg.container_resources.cpu_count = 2;
        fake_world_start(&z->fw);
        for (z->steps = 0; z->steps < 300; z->steps++) {
            uint64_t op = pick(z, 10);
            if (op < 2)
                op_register(z);
            else if (op < 6)
                op_invoke(z);
            else if (op < 7)
                op_kill(z);
            else
                fake_advance(&z->fw.env, pick(z, 100 * MS));
        }
        fake_settle(&z->fw.env, z->fw.w);
        logs[round] = strdup(z->fw.env.log_buf ? z->fw.env.log_buf : "");
        fake_world_end(&z->fw);
        free(z);
    }
    assert_true(strlen(logs[0]) > 1000);
    assert_string_equal(logs[0], logs[1]);
    free(logs[0]);
    free(logs[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_operations_keep_accounting_consistent),
        cmocka_unit_test(same_seed_same_log),
        cmocka_unit_test(every_policy_keeps_accounting_consistent),
    };
    return cmocka_run_group_tests_name("fuzz", tests, NULL, NULL);
}
