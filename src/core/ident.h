/* What the API accepts as a transaction id and as a request path. Both end
 * up in JSON answers and JSON log lines, so they are checked before anything
 * runs: a request whose id cannot be echoed must not start work whose result
 * could not be delivered. Pure functions. */
#ifndef ILU_IDENT_H
#define ILU_IDENT_H

#include <stdbool.h>
#include <stddef.h>

/* Longest transaction id accepted (bytes, without the NUL). */
#define ILU_TID_MAX 63

/* NULL when s[0..len) is a valid transaction id: 1..ILU_TID_MAX bytes of
 * printable ASCII (0x21..0x7e, no space); else why not, as a phrase. */
const char *ilu_tid_check(const char *s, size_t len);

/* true when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF). */
bool ilu_utf8_valid(const char *s, size_t len);

/* NULL when the path part of a request target (up to '?' or len) is
 * printable ASCII without spaces whose %XX escapes are well-formed and
 * decode to UTF-8 text without control characters; else why not. */
const char *ilu_path_check(const char *path, size_t len);

#endif
