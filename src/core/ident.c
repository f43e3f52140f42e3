#include "ident.h"

#include <stdint.h>

const char *ilu_tid_check(const char *s, size_t len)
{
    if (len == 0)
        return "is empty";
    if (len > ILU_TID_MAX)
        return "is longer than 63 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e)
            return "has a byte that is not printable ASCII (0x21-0x7e)";
    }
    return NULL;
}

bool ilu_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false; /* continuation byte first, overlong lead byte, or past U+10FFFF */
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

const char *ilu_path_check(const char *path, size_t len)
{
    const unsigned char *p = (const unsigned char *)path;
    unsigned char decoded[512];
    size_t n = 0;
    for (size_t i = 0; i < len && p[i] != '?'; i++) {
        unsigned char c = p[i];
        if (c < 0x21 || c > 0x7e)
            return "has a byte that is not printable ASCII";
        if (c == '%') {
            int hi = i + 2 < len ? hex_value(p[i + 1]) : -1, lo = hi >= 0 ? hex_value(p[i + 2]) : -1;
            if (lo < 0)
                return "has a malformed %-escape";
            c = (unsigned char)(hi * 16 + lo);
            if (c < 0x20 || c == 0x7f)
                return "decodes to a control character";
            i += 2;
        }
        if (n == sizeof decoded)
            return "is too long";
        decoded[n++] = c;
    }
    if (!ilu_utf8_valid((const char *)decoded, n))
        return "does not decode to UTF-8";
    return NULL;
}
