/* One error convention for the whole project (after crun's libcrun_error_t):
 * functions return 0 on success or -1 on failure and fill a struct ilu_error
 * whose status is the HTTP status the API edge should answer with. */
#ifndef ILU_ERROR_H
#define ILU_ERROR_H

#include <stddef.h>

enum {
    ILU_ST_BAD_REQUEST = 400,
    ILU_ST_NOT_FOUND = 404,
    ILU_ST_CONFLICT = 409,
    ILU_ST_TOO_LARGE = 413,
    ILU_ST_USER_ERROR = 422,
    ILU_ST_QUEUE_FULL = 429,
    ILU_ST_INTERNAL = 500,
    ILU_ST_BAD_GATEWAY = 502, /* the container or its agent failed */
    ILU_ST_UNAVAILABLE = 503,
    ILU_ST_TIMEOUT = 504,
};

struct ilu_error {
    int status;    /* HTTP-like status; 0 when no error */
    char kind[32]; /* short machine-readable kind, e.g. "queue_full" */
    char msg[480]; /* sentence saying what failed and why */
};

/* Fill err (may be NULL) and return -1. */
int ilu_err(struct ilu_error *err, int status, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefix the message with context ("registering hello-1: ...") and return -1. */
int ilu_err_wrap(struct ilu_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reset err to "no error". */
void ilu_err_clear(struct ilu_error *err);

/* Kind string for a status when none was given. */
const char *ilu_status_kind(int status);

/* A local owning heap memory: `ilu_cleanup_free char *s = ...;` frees it
 * on every return path (ilu_freep frees *(void **)p). */
#define ilu_cleanup_free __attribute__((cleanup(ilu_freep)))
void ilu_freep(void *p);

#endif
