/* Writing JSON text straight into a buffer, for answers sent on every
 * invocation, where building a jansson tree and dumping it costs more than
 * the rest of the answer. It writes what json_dumps(JSON_COMPACT) would:
 * same separators, same string escapes (tests/unit/test_invoke_answer.c
 * compares the two). Parsing stays jansson's. */
#ifndef ILU_JSON_OUT_H
#define ILU_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable buffer; failed is set (and nothing more is written) once an
 * allocation fails. */
struct ilu_json_out {
    char *buf;
    size_t len, cap;
    bool failed;
    bool need_comma; /* a member was written since the last '{' */
};

/* Bytes as they are. */
void ilu_json_out_raw(struct ilu_json_out *o, const char *s, size_t n);
/* s (UTF-8, NUL-terminated) as a JSON string: quoted, with jansson's escapes. */
void ilu_json_out_string(struct ilu_json_out *o, const char *s);
/* '{' and '}' of an object; members in between by the _member_ calls. */
void ilu_json_out_open(struct ilu_json_out *o);
void ilu_json_out_close(struct ilu_json_out *o);
/* "key": and a value (s NULL writes null; text is JSON written as is). */
void ilu_json_out_member_string(struct ilu_json_out *o, const char *key, const char *s);
void ilu_json_out_member_int(struct ilu_json_out *o, const char *key, int64_t v);
void ilu_json_out_member_bool(struct ilu_json_out *o, const char *key, bool v);
void ilu_json_out_member_raw(struct ilu_json_out *o, const char *key, const char *text);
/* "key": then the caller writes the value (an object: open ... close). */
void ilu_json_out_key(struct ilu_json_out *o, const char *key);

#endif
