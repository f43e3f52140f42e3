/* Secrets hidden from configs shown to people (core/secrets.h): GET /config
 * of both daemons and the run.json of simulated runs use the same lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/secrets.h"

static void hide_and_compare(const char *config, const char *const *secrets, const char *want)
{
    json_t *c = json_loads(config, 0, NULL);
    assert_non_null(c);
    ilu_config_hide_secrets(c, secrets);
    char *got = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(got, want);
    free(got);
    json_decref(c);
}

static void set_secrets_become_set_and_empty_ones_stay(void **state)
{
    hide_and_compare("{\"load_balancer_token\":\"abc\",\"port\":8070}", ilu_worker_config_secrets,
                     "{\"load_balancer_token\":\"(set)\",\"port\":8070}");
    hide_and_compare("{\"load_balancer_token\":\"\"}", ilu_worker_config_secrets, "{\"load_balancer_token\":\"\"}");
    hide_and_compare("{\"auth\":{\"worker_token\":\"w\",\"client_token\":\"\",\"x\":\"y\"}}",
                     ilu_controller_config_secrets,
                     "{\"auth\":{\"client_token\":\"\",\"worker_token\":\"(set)\",\"x\":\"y\"}}");
}

static void missing_keys_and_wrong_types_are_left_alone(void **state)
{
    hide_and_compare("{\"port\":1}", ilu_controller_config_secrets, "{\"port\":1}");
    hide_and_compare("{\"auth\":3}", ilu_controller_config_secrets, "{\"auth\":3}");
    hide_and_compare("{\"load_balancer_token\":5}", ilu_worker_config_secrets, "{\"load_balancer_token\":5}");
    ilu_config_hide_secrets(NULL, ilu_worker_config_secrets); /* no config: nothing to do */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_secrets_become_set_and_empty_ones_stay),
        cmocka_unit_test(missing_keys_and_wrong_types_are_left_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
