/* Integers in decimal, written into the caller's buffer without printf: for
 * text written per record (an invocation's answer, CSV rows, ids), where
 * printf's format parsing costs more than the digits. */
#ifndef ILU_DECIMAL_H
#define ILU_DECIMAL_H

#include <stdint.h>

/* u at o (at most 20 bytes, no NUL); returns the end. */
static inline char *ilu_put_u64(char *o, uint64_t u)
{
    char tmp[20];
    int n = 0;
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10));
    while (n)
        *o++ = tmp[--n];
    return o;
}

/* v at o (at most 20 bytes, no NUL); returns the end. */
static inline char *ilu_put_i64(char *o, int64_t v)
{
    if (v < 0) {
        *o++ = '-';
        return ilu_put_u64(o, 0 - (uint64_t)v);
    }
    return ilu_put_u64(o, (uint64_t)v);
}

#endif
