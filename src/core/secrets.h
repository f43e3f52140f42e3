/* Secrets in a config shown to someone: GET /config, and the run.json of a
 * simulated run. One list per program and one way to hide them, so a new
 * secret key is added in one place and hidden everywhere. */
#ifndef ILU_SECRETS_H
#define ILU_SECRETS_H

#include <jansson.h>

/* Dotted keys of the worker's and the controller's configs whose values are
 * secrets (NULL-ended). */
extern const char *const ilu_worker_config_secrets[];
extern const char *const ilu_controller_config_secrets[];

/* In config (a config's JSON, as its dump prints it), replace the value of
 * each dotted key in secrets by "(set)" when it is a non-empty string; an
 * empty or absent one stays as it is, so the reader sees whether it is set. */
void ilu_config_hide_secrets(json_t *config, const char *const *secrets);

#endif
