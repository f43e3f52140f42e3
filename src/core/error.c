#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ilu_status_kind(int status)
{
    switch (status) {
    case ILU_ST_BAD_REQUEST: return "bad_request";
    case ILU_ST_NOT_FOUND: return "not_found";
    case ILU_ST_CONFLICT: return "conflict";
    case ILU_ST_TOO_LARGE: return "too_large";
    case ILU_ST_USER_ERROR: return "user_error";
    case ILU_ST_QUEUE_FULL: return "queue_full";
    case ILU_ST_BAD_GATEWAY: return "container_error";
    case ILU_ST_UNAVAILABLE: return "unavailable";
    case ILU_ST_TIMEOUT: return "timeout";
    default: return "internal";
    }
}

int ilu_err(struct ilu_error *err, int status, const char *kind, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->status = status;
    snprintf(err->kind, sizeof err->kind, "%s", kind ? kind : ilu_status_kind(status));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int ilu_err_wrap(struct ilu_error *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    if (!err->status)
        err->status = ILU_ST_INTERNAL;
    return -1;
}

void ilu_err_clear(struct ilu_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

void ilu_freep(void *p)
{
    free(*(void **)p);
}
