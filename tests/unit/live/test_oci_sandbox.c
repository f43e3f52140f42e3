/* The oci backend's generic sandboxes (src/backend/oci/sandbox.c): the
 * cgroup writes that give a running sandbox its function's limits and
 * their order, the agent's answer to the load request, the load on a real
 * Unix socket with this test as the agent, assign's refusals, and bundle
 * removal that never walks into a function's folder mounted on it. */
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/oci/oci_int.h"

#define MAX_REPLY 4096

#include "agent_socket_fixture.h"

/* ---- the cgroup writes ---- */

static void plan_v1_raise_writes_memsw_first(void **state)
{
    (void)state;
    struct oci_cg_write w[OCI_CG_WRITES_MAX];
    size_t n = oci_cgroup_plan(false, true, 64, 128, 2, w);
    assert_int_equal(n, 5);
    assert_string_equal(w[0].controller, "memory");
    assert_string_equal(w[0].file, "memory.memsw.limit_in_bytes");
    assert_string_equal(w[0].value, "134217728");
    assert_string_equal(w[1].file, "memory.limit_in_bytes");
    assert_string_equal(w[1].value, "134217728");
    assert_string_equal(w[2].controller, "cpu");
    assert_string_equal(w[2].file, "cpu.shares");
    assert_string_equal(w[2].value, "2048");
    assert_string_equal(w[3].file, "cpu.cfs_period_us");
    assert_string_equal(w[3].value, "100000");
    assert_string_equal(w[4].file, "cpu.cfs_quota_us");
    assert_string_equal(w[4].value, "200000");
}

static void plan_v1_lower_writes_memory_first(void **state)
{
    (void)state;
    struct oci_cg_write w[OCI_CG_WRITES_MAX];
    size_t n = oci_cgroup_plan(false, true, 256, 128, 1, w);
    assert_int_equal(n, 5);
    assert_string_equal(w[0].file, "memory.limit_in_bytes");
    assert_string_equal(w[1].file, "memory.memsw.limit_in_bytes");
    assert_string_equal(w[1].value, "134217728");
    assert_string_equal(w[2].value, "1024");
    assert_string_equal(w[4].value, "100000");
    /* from no limit at all, any limit is a lowering */
    n = oci_cgroup_plan(false, true, 0, 128, 1, w);
    assert_string_equal(w[0].file, "memory.limit_in_bytes");
    assert_string_equal(w[1].file, "memory.memsw.limit_in_bytes");
    /* the same limit again: either order is accepted; memsw goes first */
    n = oci_cgroup_plan(false, true, 128, 128, 1, w);
    assert_string_equal(w[0].file, "memory.memsw.limit_in_bytes");
}

static void plan_v1_without_swap_accounting_leaves_memsw_alone(void **state)
{
    (void)state;
    struct oci_cg_write w[OCI_CG_WRITES_MAX];
    size_t n = oci_cgroup_plan(false, false, 64, 128, 1, w);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_null(strstr(w[i].file, "memsw"));
    assert_string_equal(w[0].file, "memory.limit_in_bytes");
}

static void plan_v1_no_limits_means_unlimited(void **state)
{
    (void)state;
    struct oci_cg_write w[OCI_CG_WRITES_MAX];
    size_t n = oci_cgroup_plan(false, true, 64, 0, 0, w);
    assert_int_equal(n, 5);
    assert_string_equal(w[0].file, "memory.memsw.limit_in_bytes"); /* a raise */
    assert_string_equal(w[0].value, "-1");
    assert_string_equal(w[1].value, "-1");
    assert_string_equal(w[2].value, "1024"); /* the default share */
    assert_string_equal(w[4].file, "cpu.cfs_quota_us");
    assert_string_equal(w[4].value, "-1");
}

static void plan_v2_uses_the_unified_files(void **state)
{
    (void)state;
    struct oci_cg_write w[OCI_CG_WRITES_MAX];
    size_t n = oci_cgroup_plan(true, true, 64, 256, 2, w);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(w[i].controller, "");
    assert_string_equal(w[0].file, "memory.max");
    assert_string_equal(w[0].value, "268435456");
    assert_string_equal(w[1].file, "memory.swap.max"); /* swap alone: none */
    assert_string_equal(w[1].value, "0");
    assert_string_equal(w[2].file, "cpu.weight"); /* runc's conversion of 2048 shares */
    assert_string_equal(w[2].value, "79");
    assert_string_equal(w[3].file, "cpu.max");
    assert_string_equal(w[3].value, "200000 100000");
    n = oci_cgroup_plan(true, false, 64, 0, 0, w);
    assert_int_equal(n, 3);
    assert_string_equal(w[0].value, "max");
    assert_string_equal(w[1].value, "100");
    assert_string_equal(w[2].value, "max 100000");
    n = oci_cgroup_plan(true, true, 64, 128, 1, w);
    assert_string_equal(w[2].value, "39");
}

/* ---- the load reply ---- */

static void load_reply_loaded(void **state)
{
    (void)state;
    char why[256] = "";
    const char *ok = "{\"loaded\": true}";
    assert_int_equal(oci_load_reply_parse(ok, strlen(ok), why, sizeof why), 0);
}

static void load_reply_error_gives_the_traceback(void **state)
{
    (void)state;
    char why[256] = "";
    const char *bad = "{\"load_error\": \"Traceback\\nZeroDivisionError: division by zero\\n\"}";
    assert_int_equal(oci_load_reply_parse(bad, strlen(bad), why, sizeof why), -1);
    assert_string_equal(why, "Traceback\nZeroDivisionError: division by zero\n");
    const char *again = "{\"load_error\": \"already loaded\"}";
    assert_int_equal(oci_load_reply_parse(again, strlen(again), why, sizeof why), -1);
    assert_string_equal(why, "already loaded");
}

static void load_reply_not_understood(void **state)
{
    (void)state;
    char why[256] = "";
    const char *cases[] = {"{\"loaded\": false}", "{\"ready\": true}", "not json", "[1]", ""};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(oci_load_reply_parse(cases[i], strlen(cases[i]), why, sizeof why), -1);
        assert_non_null(strstr(why, "not understood"));
    }
}

/* ---- the load on a real socket, this test as the agent ---- */

/* The sandbox sb1, generic (pooled), with hello-1's function to be given to
 * it; its agent answers the ready check with {"ready": true}. */
static int setup(void **state)
{
    if (agent_socket_setup(state, "sandbox", "sb1", "{\"ready\": true}"))
        return -1;
    struct fixture *f = *state;
    f->fn = (struct ilu_function){.name = "hello", .version = "1", .fqdn = "hello-1", .image = "/nowhere/hello"};
    f->c.fn = &f->fn;
    f->ct->pooled = true;
    return 0;
}

/* What assign does once the folder is attached: the load request. */
static void start_load(struct fixture *f)
{
    struct ilu_error err = {0};
    assert_int_equal(oci_agent_load(f->ct, &err), 0);
    f->ct->state = OCI_CT_LOADING;
    uint64_t hdr[2];
    read_exact(f->agent, hdr, sizeof hdr);
    assert_int_equal(le64toh(hdr[0]), 2); /* command 2: load */
    assert_int_equal(le64toh(hdr[1]), 0); /* no arguments */
}

static void load_then_ready(void **state)
{
    struct fixture *f = *state;
    become_ready(f);
    start_load(f);
    pump(f);
    assert_int_equal(f->ready_calls, 0); /* not before the agent answers */
    agent_reply(f->agent, "{\"loaded\": true}");
    pump(f);
    assert_int_equal(f->ready_calls, 1);
    assert_int_equal(f->ready_status, 0);
    assert_int_equal(f->ct->state, OCI_CT_READY);
    assert_false(f->ct->load_pending);
    assert_non_null(strstr(f->last_info, "container sb1 assigned hello-1 in "));
    assert_int_equal(f->done_calls + f->died_calls, 0);
}

static void load_error_fails_the_start(void **state)
{
    struct fixture *f = *state;
    become_ready(f);
    start_load(f);
    agent_reply(f->agent, "{\"load_error\": \"Traceback (most recent call last):\\n  File \\\"/function/main.py\\\", "
                          "line 1\\nZeroDivisionError: division by zero\\n\"}");
    pump(f);
    assert_int_equal(f->ready_calls, 1);
    assert_int_equal(f->ready_status, ILU_ST_BAD_GATEWAY);
    assert_string_equal(f->ready_kind, "container_start");
    assert_non_null(strstr(f->ready_msg, "container sb1 failed to load hello-1: ZeroDivisionError: division by zero"));
    assert_int_equal(f->ct->state, OCI_CT_DEAD);
    assert_int_equal(f->ct->sock, -1);
}

static void agent_dying_while_loading_fails_the_start(void **state)
{
    struct fixture *f = *state;
    become_ready(f);
    start_load(f);
    close(f->agent);
    f->agent = -1;
    pump(f);
    assert_int_equal(f->ready_calls, 1);
    assert_int_equal(f->ready_status, ILU_ST_BAD_GATEWAY);
    assert_string_equal(f->ready_kind, "container_start");
    assert_non_null(strstr(f->ready_msg, "failed to load hello-1: the agent closed its connection"));
    assert_int_equal(f->done_calls + f->died_calls, 0); /* not a death while idle */
}

static void load_and_invoke_refused_while_loading(void **state)
{
    struct fixture *f = *state;
    struct ilu_error err = {0};
    assert_int_equal(oci_agent_load(f->ct, &err), -1); /* not ready yet */
    become_ready(f);
    start_load(f);
    assert_int_equal(oci_agent_load(f->ct, &err), -1);
    assert_int_equal(oci_agent_send(f->ct, "{}", 2, &err), -1);
}

/* ---- assign's refusals (before any I/O) ---- */

static void assign_refuses_what_it_cannot_do(void **state)
{
    struct fixture *f = *state;
    struct ilu_error err = {0};
    assert_int_equal(oci_sandbox_assign(f->ob, f->ct, "t", &err), -1); /* not ready */
    assert_non_null(strstr(err.msg, "not a ready sandbox"));
    become_ready(f);
    f->ct->pooled = false;
    assert_int_equal(oci_sandbox_assign(f->ob, f->ct, "t", &err), -1);
    assert_non_null(strstr(err.msg, "not a generic sandbox"));
    f->ct->pooled = true;
    f->fn.image = "oci:/srv/layout:tag";
    assert_int_equal(oci_sandbox_assign(f->ob, f->ct, "t", &err), -1);
    assert_non_null(strstr(err.msg, "cannot be given to a generic sandbox"));
    f->ct->assigned = true;
    assert_int_equal(oci_sandbox_assign(f->ob, f->ct, "t", &err), -1);
    assert_non_null(strstr(err.msg, "already assigned"));
    assert_int_equal(f->ct->state, OCI_CT_READY); /* nothing was sent */
}

/* ---- bundle removal ---- */

static void rm_bundle_unmounts_and_spares_the_function(void **state)
{
    (void)state;
    char base[64] = "/tmp/ilu-test-bundle-XXXXXX";
    assert_non_null(mkdtemp(base));
    char fn[96], code[128], bundle[96], point[128];
    snprintf(fn, sizeof fn, "%s/fn", base);
    snprintf(code, sizeof code, "%s/main.py", fn);
    snprintf(bundle, sizeof bundle, "%s/bundle", base);
    snprintf(point, sizeof point, "%s/function", bundle);
    assert_int_equal(mkdir(fn, 0755), 0);
    FILE *fp = fopen(code, "w");
    assert_non_null(fp);
    fputs("def main(a):\n    return a\n", fp);
    fclose(fp);
    assert_int_equal(mkdir(bundle, 0700), 0);
    assert_int_equal(mkdir(point, 0755), 0);
    /* the sandbox's layout: a shared mount point, the function's folder on it */
    if (mount(point, point, NULL, MS_BIND, NULL) != 0) {
        rmdir(point);
        rmdir(bundle);
        unlink(code);
        rmdir(fn);
        rmdir(base);
        skip(); /* not root: nothing to test */
    }
    assert_int_equal(mount(NULL, point, NULL, MS_SHARED, NULL), 0);
    assert_int_equal(mount(fn, point, NULL, MS_BIND, NULL), 0);
    assert_int_equal(oci_rm_bundle(bundle), 0);
    assert_int_equal(access(bundle, F_OK), -1); /* gone */
    assert_int_equal(access(code, R_OK), 0);    /* the function's code is not */
    assert_int_equal(oci_rm_bundle(bundle), 0); /* and again: nothing to do */
    unlink(code);
    rmdir(fn);
    rmdir(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plan_v1_raise_writes_memsw_first),
        cmocka_unit_test(plan_v1_lower_writes_memory_first),
        cmocka_unit_test(plan_v1_without_swap_accounting_leaves_memsw_alone),
        cmocka_unit_test(plan_v1_no_limits_means_unlimited),
        cmocka_unit_test(plan_v2_uses_the_unified_files),
        cmocka_unit_test(load_reply_loaded),
        cmocka_unit_test(load_reply_error_gives_the_traceback),
        cmocka_unit_test(load_reply_not_understood),
        SOCKET_TEST(load_then_ready),
        SOCKET_TEST(load_error_fails_the_start),
        SOCKET_TEST(agent_dying_while_loading_fails_the_start),
        SOCKET_TEST(load_and_invoke_refused_while_loading),
        SOCKET_TEST(assign_refuses_what_it_cannot_do),
        cmocka_unit_test(rm_bundle_unmounts_and_spares_the_function),
    };
    return cmocka_run_group_tests_name("oci_sandbox", tests, NULL, NULL);
}
