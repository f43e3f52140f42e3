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

/* Length of the valid UTF-8 sequence at s (as jansson checks it: no
 * overlong forms, surrogates or code points past U+10FFFF), 0 if invalid. */
static size_t utf8_sequence(const unsigned char *s, size_t avail)
{
    unsigned c = s[0], cp;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Messages end up in JSON answers, which must be valid UTF-8 (jansson
 * refuses anything else and the "error" field would vanish). They quote
 * outside bytes (a parser's "near '...'", user tracebacks) and may be cut
 * inside a character at the buffer's end: each invalid byte becomes '?'. */
static void make_valid_utf8(char *msg)
{
    unsigned char *s = (unsigned char *)msg;
    size_t len = strlen(msg);
    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence(s + i, len - i);
        if (n) {
            i += n;
        } else {
            s[i++] = '?';
        }
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
    make_valid_utf8(err->msg);
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
    make_valid_utf8(err->msg);
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
