/* See secrets.h. */
#include "core/secrets.h"

#include <stdio.h>
#include <string.h>

const char *const ilu_worker_config_secrets[] = {"load_balancer_token", NULL};
const char *const ilu_controller_config_secrets[] = {"auth.worker_token", "auth.client_token", NULL};

void ilu_config_hide_secrets(json_t *config, const char *const *secrets)
{
    for (size_t i = 0; config && secrets && secrets[i]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s", secrets[i]);
        json_t *parent = config;
        char *key = path, *dot;
        while (parent && (dot = strchr(key, '.'))) {
            *dot = '\0';
            parent = json_object_get(parent, key);
            key = dot + 1;
        }
        const char *value = json_string_value(json_object_get(parent, key));
        if (value && value[0])
            json_object_set_new(parent, key, json_string("(set)"));
    }
}
