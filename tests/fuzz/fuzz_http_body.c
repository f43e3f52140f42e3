/* Fuzz target: the API's request body decoding (src/server/http_util.c):
 * the body as a JSON object, the transaction id (header, else body), and the
 * string and integer fields the worker's and controller's handlers read.
 * Input: an optional X-Transaction-Id header value up to the first '\n',
 * then the body. Checks: a refusal is a 400 with a message; a decoded field
 * has the promised type; the tid is bounded, non-empty, valid UTF-8 (it is
 * echoed in JSON answers). */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_util.h"

static const char *const string_keys[] = {"function_name", "function_version", "image_name", "lookup_cookie", "name",
                                          "host",          "transaction_id",   "boot_id"};
static const char *const u32_keys[] = {"memory", "cpu", "parallel_invokes", "port", "cpus", "memory_mb"};

static void check_tid(const char *tid)
{
    size_t n = strlen(tid);
    if (!n || n > 63)
        abort();
    json_t *s = json_string(tid); /* NULL unless valid UTF-8 */
    if (!s)
        abort();
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evhttp_request *req = evhttp_request_new(NULL, NULL);
    if (!req)
        return 0;
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl) {
        size_t hlen = (size_t)(nl - data);
        char *value = malloc(hlen + 1);
        memcpy(value, data, hlen);
        value[hlen] = 0;
        /* evhttp refuses CR/LF in values; a NUL ends the value as it would on the wire */
        if (!strpbrk(value, "\r"))
            evhttp_add_header(evhttp_request_get_input_headers(req), "X-Transaction-Id", value);
        free(value);
        size -= hlen + 1;
        data = nl + 1;
    }
    evbuffer_add(evhttp_request_get_input_buffer(req), data, size);
    struct ilu_error err = {0};
    json_t *body = ilu_http_read_body(req, &err);
    if (!body && (err.status != ILU_ST_BAD_REQUEST || !err.msg[0]))
        abort();
    uint64_t seq = 0;
    char tid[64];
    struct ilu_error tid_err = {0};
    if (ilu_http_make_tid(req, body, 0x1234, &seq, tid, sizeof tid, &tid_err) &&
        (tid_err.status != ILU_ST_BAD_REQUEST || !tid_err.msg[0]))
        abort();
    check_tid(tid); /* refused or not, tid is what the answer echoes */
    if (body) {
        for (size_t i = 0; i < sizeof string_keys / sizeof string_keys[0]; i++) {
            const char *s = NULL;
            if (ilu_http_get_string(body, string_keys[i], &s, &err) == 0 && (!s || !*s))
                abort();
        }
        for (size_t i = 0; i < sizeof u32_keys / sizeof u32_keys[0]; i++) {
            uint32_t v = 0;
            if (ilu_http_get_u32(body, u32_keys[i], i % 2 ? 7 : UINT32_MAX, &v, &err) == 0) {
                json_t *x = json_object_get(body, u32_keys[i]);
                if (x && !json_is_null(x) && (!json_is_integer(x) || json_integer_value(x) != (json_int_t)v))
                    abort(); /* only a JSON integer decodes, to its own value */
            } else if (err.status != ILU_ST_BAD_REQUEST) {
                abort();
            }
        }
        json_decref(body);
    }
    evhttp_request_free(req);
    return 0;
}
