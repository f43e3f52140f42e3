/* The worker's HTTP/1.1 + JSON API (docs/api.md) on libevent's evhttp. */
#ifndef ILU_HTTP_API_H
#define ILU_HTTP_API_H

#include <stdint.h>

#include "worker/async.h"
#include "core/log.h"
#include "worker/worker.h"
#include "os/host_stats.h"
#include "http_util.h"

struct event_base;

struct ilu_http_api {
    struct ilu_http_server server;
    struct ilu_http_limits http_limits; /* config section http */
    struct ilu_worker *worker;          /* borrowed */
    struct ilu_async *async;            /* borrowed: async invocations of worker */
    const struct ilu_log *log;          /* borrowed */
    const struct ilu_host_stats *host;  /* borrowed */
    const char *worker_name;
    const char *runtime_name;
    uint64_t tid_seed, tid_seq;
    uint32_t max_payload_bytes;
    unsigned open_requests; /* answered asynchronously, not yet replied */
};

/* Listen on address:port and serve the worker API on base; 0, or -1 with
 * err (the address cannot be bound). stop closes the listener and every
 * connection. */
int ilu_http_api_start(struct ilu_http_api *api, struct event_base *base, const char *address, uint16_t port,
                       struct ilu_error *err);
void ilu_http_api_stop(struct ilu_http_api *api);

#endif
