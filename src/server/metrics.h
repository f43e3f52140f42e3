/* /metrics in the Prometheus text exposition format (written by hand: no
 * Prometheus client library is packaged for Debian). */
#ifndef ILU_METRICS_H
#define ILU_METRICS_H

#include "core/backend.h"
#include "worker/worker.h"
#include "os/host_stats.h"

struct evbuffer;
/* Append the worker's Prometheus text (docs/worker.md, /metrics) to out; backend
 * (NULL: none) adds its own figures. */
void ilu_metrics_write(struct evbuffer *out, const struct ilu_worker *w, struct ilu_backend *backend,
                       const struct ilu_host_stats *host);

#endif
