/* Async invocations, a layer above the worker: an invocation is started
 * through the worker's public API and its result held here until fetched
 * once by its cookie, or until ttl after it finished. The worker knows
 * nothing of it; the daemon (or a test) owns one per worker. */
#ifndef ILU_ASYNC_H
#define ILU_ASYNC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/env.h"
#include "core/error.h"
#include "worker/worker.h"

struct ilu_async;

/* worker and env are borrowed; name goes into cookies (the worker's name);
 * held results older than ttl_us are dropped, checked every check_us. */
struct ilu_async *ilu_async_new(struct ilu_worker *worker, const struct ilu_env *env, const char *name, uint64_t ttl_us,
                                uint64_t check_us, struct ilu_error *err);
/* Free after the worker: results of invocations still running are dropped. */
void ilu_async_free(struct ilu_async *a);

/* Start an invocation; its cookie (caller frees), or NULL with err. */
char *ilu_async_invoke(struct ilu_async *a, const char *name, const char *version, const char *args, size_t args_len,
                       const char *tid, struct ilu_error *err);
/* The result JSON of a finished invocation (then forgotten; caller
 * decrefs; its "http_status" says how to answer), or NULL with *pending
 * when still running, or NULL and err 404 for an unknown cookie. */
json_t *ilu_async_check(struct ilu_async *a, const char *cookie, bool *pending, struct ilu_error *err);
/* Results and invocations held. */
size_t ilu_async_held(const struct ilu_async *a);

#endif
