/* The worker's HTTP/1.1 + JSON API (docs/api.md) on libevent's evhttp. */
#ifndef ILU_HTTP_API_H
#define ILU_HTTP_API_H

#include <jansson.h>
#include <stdint.h>

#include "worker/async.h"
#include "core/log.h"
#include "worker/worker.h"
#include "os/host_stats.h"
#include "http_util.h"

struct event_base;

struct ilu_http_api_server;
struct ilu_http_io;

struct ilu_http_api {
    struct ilu_http_limits http_limits; /* config section http */
    struct ilu_worker *worker;          /* borrowed */
    struct ilu_backend *backend;        /* borrowed: worker's, to prepare images at registration */
    struct ilu_async *async;            /* borrowed: async invocations of worker */
    const struct ilu_log *log;          /* borrowed */
    const struct ilu_host_stats *host;  /* borrowed */
    const char *worker_name;
    const char *runtime_name;
    json_t *config; /* borrowed: GET /config's answer (ilu_daemon_config_answer) */
    uint32_t max_payload_bytes;
    unsigned open_requests; /* the core loop's server: routed, not yet answered */
    /* set by start */
    char address[256];
    uint16_t port;
    unsigned io_threads;
    struct ilu_http_api_server *core_server; /* io_threads 0: the core loop serves */
    struct ilu_http_io *io;                  /* else the I/O loops */
};

/* Listen on address:port and serve the worker API, its handlers on base
 * (the core loop): there also the connections when io_threads is 0, else on
 * io_threads I/O loops of their own (http_io.h). 0, or -1 with err (the
 * address cannot be bound, a thread cannot start). */
int ilu_http_api_start(struct ilu_http_api *api, struct event_base *base, const char *address, uint16_t port,
                       unsigned io_threads, struct ilu_error *err);
/* Close everything: the I/O loops' threads end, every connection closes. */
void ilu_http_api_stop(struct ilu_http_api *api);

#endif
