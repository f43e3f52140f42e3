/* The environment check of the daemons' start-up: a variable that looks like
 * a config override (ILUVATAR_..., with "__") but has a prefix no program
 * reads is reported, naming it and the known prefixes; everything else is
 * not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/cfg_schema.h"

static int stray(const char *entry, char *why, size_t n)
{
    return ilu_cfg_env_stray(entry, ILU_CFG_ENV_FAMILY, ilu_cfg_env_owners, ilu_cfg_env_n_owners, why, n);
}

static void misspelled_prefix_is_reported_with_the_known_ones(void **state)
{
    (void)state;
    char why[512];
    assert_int_equal(stray("ILUVATAR_WORKR__container_resources__memory_mb=4096", why, sizeof why), 1);
    assert_non_null(strstr(why, "ILUVATAR_WORKR__container_resources__memory_mb"));
    assert_non_null(strstr(why, "ILUVATAR_WORKR__ is not a config prefix"));
    assert_non_null(strstr(why, "ILUVATAR_WORKER__ is iluvatar_worker's"));
    assert_non_null(strstr(why, "ILUVATAR_CONTROLLER__ is iluvatar_controller's"));
    assert_null(strstr(why, "4096")); /* never the value: it may be a token */
    /* a prefix that only starts like a known one is another prefix */
    assert_int_equal(stray("ILUVATAR_WORKERX__port=1", why, sizeof why), 1);
    assert_non_null(strstr(why, "ILUVATAR_WORKERX__ is not"));
    assert_int_equal(stray("ILUVATAR_CONTROLER__port=1", why, sizeof why), 1);
}

static void known_prefixes_and_single_variables_are_not_reported(void **state)
{
    (void)state;
    char why[512] = "";
    static const char *const quiet[] = {
        "ILUVATAR_WORKER__container_resources__memory_mb=4096",
        "ILUVATAR_CONTROLLER__load_balancer__algorithm=CH-BL",
        "ILUVATAR_WORKER__bogus=1", /* a known prefix: apply_env refuses the unknown key */
        "ILUVATAR_TOKEN=secret",
        "ILUVATAR_TOKEN=a__b", /* "__" in the value only */
        "ILUVATAR_RUN_DIR=/run/iluvatar",
        "ILUVATAR_LOG_DIR=/var/log/iluvatar",
        "ILUVATAR_ETC_DIR=/etc/iluvatar",
        "PATH=/usr/bin",
        "OTHER__port=1",
        "iluvatar_worker__port=1",
        "ILUVATAR_=1",
        "ILUVATAR",
        "",
    };
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++) {
        if (stray(quiet[i], why, sizeof why))
            fail_msg("reported %s: %s", quiet[i], why);
    }
}

static void a_bare_name_and_a_short_buffer_are_fine(void **state)
{
    (void)state;
    char why[24];
    assert_int_equal(stray("ILUVATAR_WORKR__port", why, sizeof why), 1); /* no '=' */
    assert_int_equal(strlen(why), sizeof why - 1);                       /* cut, terminated */
    assert_int_equal(stray("ILUVATAR_WORKR__port=1", NULL, 0), 1);
    /* any family and owners: the check knows no names of its own */
    const struct ilu_cfg_env_owner mine[] = {{"APP_A", "a"}};
    char msg[200];
    assert_int_equal(ilu_cfg_env_stray("APP_A__x=1", "APP_", mine, 1, msg, sizeof msg), 0);
    assert_int_equal(ilu_cfg_env_stray("APP_B__x=1", "APP_", mine, 1, msg, sizeof msg), 1);
    assert_string_equal(msg, "ignoring environment variable APP_B__x: APP_B__ is not a config prefix (APP_A__ is "
                             "a's); misspelled?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(misspelled_prefix_is_reported_with_the_known_ones),
        cmocka_unit_test(known_prefixes_and_single_variables_are_not_reported),
        cmocka_unit_test(a_bare_name_and_a_short_buffer_are_fine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
