/* The controller's HTTP/1.1 + JSON API (docs/api.md, docs/controller.md) on
 * libevent's evhttp: the worker's calls, answered by routing to a worker,
 * plus POST /register_worker and GET /workers. */
#ifndef ILU_CONTROLLER_API_H
#define ILU_CONTROLLER_API_H

#include <stdbool.h>
#include <stdint.h>

#include "controller/controller.h"
#include "http_util.h"

struct event_base;
struct evhttp;
struct evhttp_bound_socket;

struct ilu_controller_api {
    struct ilu_http_server server;
    struct ilu_http_limits http_limits; /* config section http */
    struct ilu_controller *controller;  /* borrowed */
    const struct ilu_log *log;          /* borrowed */
    uint64_t tid_seed, tid_seq;
    uint32_t max_payload_bytes;
    /* "Authorization: Bearer <token>" required on /register_worker (worker
     * token) and on every other path but /ping (client token); borrowed,
     * NULL or "": not required (docs/security.md) */
    const char *worker_token, *client_token;
    json_t *config;         /* borrowed: GET /config's answer (ilu_daemon_config_answer), or NULL */
    bool shutting_down;     /* new invocations and registrations answer 503 */
    unsigned open_requests; /* answered asynchronously, not yet replied */
};

/* Listen on address:port and serve the controller API on base; 0, or -1
 * with err (the address cannot be bound). */
int ilu_controller_api_start(struct ilu_controller_api *api, struct event_base *base, const char *address,
                             uint16_t port, struct ilu_error *err);
/* Close the listening socket (open connections are still answered) and
 * refuse new work with 503. */
void ilu_controller_api_stop_accepting(struct ilu_controller_api *api);
void ilu_controller_api_stop(struct ilu_controller_api *api);

#endif
