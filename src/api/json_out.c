/* See json_out.h. */
#include "api/json_out.h"

#include "core/decimal.h"

#include <stdlib.h>
#include <string.h>

static bool reserve(struct ilu_json_out *o, size_t n)
{
    if (o->failed)
        return false;
    if (o->len + n <= o->cap)
        return true;
    size_t cap = o->cap ? o->cap : 256;
    while (cap < o->len + n)
        cap *= 2;
    char *b = realloc(o->buf, cap);
    if (!b) {
        o->failed = true;
        return false;
    }
    o->buf = b;
    o->cap = cap;
    return true;
}

void ilu_json_out_raw(struct ilu_json_out *o, const char *s, size_t n)
{
    if (!reserve(o, n))
        return;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

void ilu_json_out_string(struct ilu_json_out *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    ilu_json_out_raw(o, "\"", 1);
    const char *run = s; /* bytes not needing an escape are copied in runs */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        ilu_json_out_raw(o, run, (size_t)((const char *)p - run));
        run = (const char *)p + 1;
        char esc[6] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default: /* the other control characters, as jansson writes them */
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        ilu_json_out_raw(o, esc, n);
    }
    ilu_json_out_raw(o, run, strlen(run));
    ilu_json_out_raw(o, "\"", 1);
}

void ilu_json_out_open(struct ilu_json_out *o)
{
    ilu_json_out_raw(o, "{", 1);
    o->need_comma = false;
}

void ilu_json_out_close(struct ilu_json_out *o)
{
    ilu_json_out_raw(o, "}", 1);
    o->need_comma = true; /* the object was a member's value */
}

void ilu_json_out_key(struct ilu_json_out *o, const char *key)
{
    if (o->need_comma)
        ilu_json_out_raw(o, ",", 1);
    ilu_json_out_string(o, key);
    ilu_json_out_raw(o, ":", 1);
    o->need_comma = true;
}

void ilu_json_out_member_string(struct ilu_json_out *o, const char *key, const char *s)
{
    ilu_json_out_key(o, key);
    if (s)
        ilu_json_out_string(o, s);
    else
        ilu_json_out_raw(o, "null", 4);
}

void ilu_json_out_member_int(struct ilu_json_out *o, const char *key, int64_t v)
{
    char num[24];
    char *end = ilu_put_i64(num, v); /* not snprintf: on every invocation's answer */
    ilu_json_out_key(o, key);
    ilu_json_out_raw(o, num, (size_t)(end - num));
}

void ilu_json_out_member_bool(struct ilu_json_out *o, const char *key, bool v)
{
    ilu_json_out_key(o, key);
    ilu_json_out_raw(o, v ? "true" : "false", v ? 4 : 5);
}

void ilu_json_out_member_raw(struct ilu_json_out *o, const char *key, const char *text)
{
    ilu_json_out_key(o, key);
    ilu_json_out_raw(o, text, strlen(text));
}
