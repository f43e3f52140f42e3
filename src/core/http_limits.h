/* Limits of the daemons' HTTP servers (section "http" of the worker's and
 * the controller's config): what one client may hold, so a slow or hostile
 * one cannot take the memory, descriptors or event loop of a daemon.
 * Defaults a research workload never reaches. */
#ifndef ILU_HTTP_LIMITS_H
#define ILU_HTTP_LIMITS_H

#include <stdint.h>

#include "cfg_schema.h"
#include "error.h"

struct ilu_http_limits {
    uint32_t max_header_bytes;   /* the request line, and the header block, each at most this */
    uint32_t max_headers;        /* header lines per request; beyond: 431 */
    uint32_t idle_timeout_ms;    /* no byte read (or written) for this long: the connection is closed */
    uint32_t request_timeout_ms; /* a request must arrive whole this long after its first byte */
    uint32_t max_connections;    /* beyond: new connections wait in the kernel's backlog */
};

/* The built-in HTTP limits (docs/worker.md, section http). */
void ilu_http_limits_defaults(struct ilu_http_limits *l);
/* prefix names the section in the message ("http"). */
int ilu_http_limits_validate(const struct ilu_http_limits *l, const char *prefix, struct ilu_error *err);

/* The config schema rows of a struct ilu_http_limits member m of type,
 * under the JSON section "http"; one list for the worker and the controller. */
#define ILU_HTTP_LIMITS_FIELDS(type, m)                                           \
    ILU_CFG_U32_FIELD(type, "http.max_header_bytes", m.max_header_bytes),         \
        ILU_CFG_U32_FIELD(type, "http.max_headers", m.max_headers),               \
        ILU_CFG_U32_FIELD(type, "http.idle_timeout_ms", m.idle_timeout_ms),       \
        ILU_CFG_U32_FIELD(type, "http.request_timeout_ms", m.request_timeout_ms), \
        ILU_CFG_U32_FIELD(type, "http.max_connections", m.max_connections)

#endif
