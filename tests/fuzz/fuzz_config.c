/* Fuzz target: worker and controller configuration (src/core/config.c,
 * controller_config.c, cfg_schema.c): the JSON file and the environment
 * overrides. Input: one selector byte, then the payload: a JSON document, or
 * environment entries one per line (PREFIX__section__key=value).
 * A config that applies and validates must dump to JSON that applies again
 * to the same dump (nothing is lost or changed on the way). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "controller/controller_config.h"

#define MAX_ENV 64

/* Split text on '\n' into a NULL-terminated envp (pointers into text). */
static void split_env(char *text, char **envp)
{
    int n = 0;
    for (char *line = text; line && n < MAX_ENV; n++) {
        envp[n] = line;
        line = strchr(line, '\n');
        if (line)
            *line++ = 0;
    }
    envp[n] = NULL;
}

static void worker(char *payload, int from_env)
{
    struct ilu_worker_config cfg;
    struct ilu_error err = {0};
    ilu_config_defaults(&cfg);
    char *envp[MAX_ENV + 1];
    int rc;
    if (from_env) {
        split_env(payload, envp);
        rc = ilu_config_apply_env(&cfg, "ILUVATAR_WORKER", envp, &err);
    } else {
        rc = ilu_config_apply_json(&cfg, payload, "fuzz.json", &err);
    }
    if (rc) {
        if (!err.status || !err.msg[0])
            abort(); /* a refusal always says why */
        return;
    }
    if (ilu_config_validate(&cfg, &err))
        return;
    char *dump = ilu_config_dump(&cfg);
    if (!dump)
        abort();
    struct ilu_worker_config again;
    ilu_config_defaults(&again);
    if (ilu_config_apply_json(&again, dump, "dump", &err) || ilu_config_validate(&again, &err))
        abort(); /* the dump of a valid config is a valid config */
    char *dump2 = ilu_config_dump(&again);
    if (!dump2 || strcmp(dump, dump2))
        abort();
    free(dump);
    free(dump2);
}

static void controller(char *payload, int from_env)
{
    struct ilu_controller_config cfg;
    struct ilu_error err = {0};
    ilu_controller_config_defaults(&cfg);
    char *envp[MAX_ENV + 1];
    int rc;
    if (from_env) {
        split_env(payload, envp);
        rc = ilu_controller_config_apply_env(&cfg, "ILUVATAR_CONTROLLER", envp, &err);
    } else {
        rc = ilu_controller_config_apply_json(&cfg, payload, "fuzz.json", &err);
    }
    if (rc) {
        if (!err.status || !err.msg[0])
            abort();
        return;
    }
    if (ilu_controller_config_validate(&cfg, &err))
        return;
    char *dump = ilu_controller_config_dump(&cfg);
    if (!dump)
        abort();
    struct ilu_controller_config again;
    ilu_controller_config_defaults(&again);
    if (ilu_controller_config_apply_json(&again, dump, "dump", &err) || ilu_controller_config_validate(&again, &err))
        abort();
    char *dump2 = ilu_controller_config_dump(&again);
    if (!dump2 || strcmp(dump, dump2))
        abort();
    free(dump);
    free(dump2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *payload = malloc(size);
    if (!payload)
        return 0;
    memcpy(payload, data + 1, size - 1);
    payload[size - 1] = 0;
    switch (data[0] & 3) {
    case 0: worker(payload, 0); break;
    case 1: controller(payload, 0); break;
    case 2: worker(payload, 1); break;
    case 3: controller(payload, 1); break;
    }
    free(payload);
    return 0;
}
