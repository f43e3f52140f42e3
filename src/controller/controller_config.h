/* Controller configuration (config/controller.json), loaded like the
 * worker's: defaults, then the JSON file, then ILUVATAR_CONTROLLER__a__b. */
#ifndef ILU_CONTROLLER_CONFIG_H
#define ILU_CONTROLLER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/http_limits.h"

struct ilu_controller_config {
    char name[64];
    char address[64];
    uint32_t port;
    struct {
        char level[16];
        char directory[256];
        bool stdout_enabled;
    } logging;
    struct {
        char algorithm[32]; /* RoundRobin | LeastLoaded | CH-BL */
        uint32_t vnodes;    /* CH-BL: ring points per worker */
        uint32_t bound_pct; /* CH-BL: a worker takes more only while its load <= bound_pct% of the mean */
    } load_balancer;
    struct {
        uint32_t status_freq_ms;        /* each worker's /status is polled this often */
        uint32_t failures_to_unhealthy; /* consecutive failed polls before routing stops */
        uint32_t request_timeout_ms;    /* a poll or registration answer later than this failed */
    } health;
    struct {
        uint32_t timeout_sec;    /* an invocation forwarded to a worker */
        uint32_t async_retries;  /* an acknowledged async invocation whose worker died is re-sent */
        uint32_t unsent_retries; /* an invocation that never reached its worker goes to another */
        uint32_t async_result_ttl_sec;
        uint32_t max_payload_bytes;
    } invocation;
    struct ilu_http_limits http; /* the API server's limits (http.*) */
    struct {
        char db_path[256]; /* SQLite file; empty: nothing persists */
    } store;
    struct {
        char worker_token[256]; /* bearer token of /register_worker (workers); empty: none asked */
        char client_token[256]; /* bearer token of the client API (all but /ping); empty: none asked */
    } auth;
};

/* The built-in defaults (docs/controller.md). */
void ilu_controller_config_defaults(struct ilu_controller_config *cfg);
/* Overlay a JSON config (source names it in errors), then environment
 * variables PREFIX__SECTION__KEY; unknown keys and bad types are errors. */
int ilu_controller_config_apply_json(struct ilu_controller_config *cfg, const char *json, const char *source,
                                     struct ilu_error *err);
int ilu_controller_config_apply_env(struct ilu_controller_config *cfg, const char *prefix, char *const *envp,
                                    struct ilu_error *err);
/* Check the whole config's ranges; dump: a new JSON string of it. */
int ilu_controller_config_validate(const struct ilu_controller_config *cfg, struct ilu_error *err);
char *ilu_controller_config_dump(const struct ilu_controller_config *cfg);

#endif
