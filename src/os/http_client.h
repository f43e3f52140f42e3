/* Asynchronous JSON-over-HTTP client for the load generator: a pool of
 * keep-alive evhttp connections to one target, one request in flight per
 * connection, so an open-loop run never waits for a connection to free up. */
#ifndef LG_HTTP_CLIENT_H
#define LG_HTTP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct lg_http;

/* status: HTTP status, 0 when no answer came (transport_error says why).
 * answer: parsed JSON body or NULL; borrowed for the callback. */
typedef void (*lg_answer_fn)(void *arg, int status, json_t *answer, const char *transport_error);

/* A keep-alive client of host:port on base; requests time out after
 * timeout_sec. NULL when out of memory. */
struct lg_http *lg_http_new(struct event_base *base, const char *host, uint16_t port, unsigned timeout_sec);
/* Requests still in flight are dropped: their callbacks never run. */
void lg_http_free(struct lg_http *h);

/* Send method (GET when body is NULL, else POST) to path; cb is called
 * exactly once, never from inside this call. Returns -1 only when out of memory. */
int lg_http_request(struct lg_http *h, const char *path, const char *body, size_t body_len, const char *tid,
                    lg_answer_fn cb, void *arg);

/* As lg_answer_fn, plus sent: whether the whole request left this process
 * (was written to the socket). With status 0 and sent false the server never
 * got it (connection refused, or reset/closed before the request was
 * written); with sent true it may have acted on it. */
typedef void (*lg_answer_sent_fn)(void *arg, int status, json_t *answer, const char *transport_error, bool sent);
int lg_http_request_sent(struct lg_http *h, const char *path, const char *body, size_t body_len, const char *tid,
                         lg_answer_sent_fn cb, void *arg);

/* Send "Authorization: Bearer <token>" with every request (NULL or "": none).
 * -1 when out of memory. */
int lg_http_set_bearer(struct lg_http *h, const char *token);
/* The token every client made afterwards sends (the load generator's
 * --token, for a controller with auth.client_token); borrowed, NULL: none. */
void lg_http_set_default_bearer(const char *token);

/* Blocking convenience for setup steps (register, prewarm, ping): runs the
 * loop until the answer. Returns the status (0 on transport error, message in
 * err_buf); *answer (may be NULL) must be json_decref'd by the caller. */
int lg_http_call(struct lg_http *h, const char *path, json_t *body, json_t **answer, char *err_buf, size_t err_len);

/* Requests sent and not answered yet. */
unsigned lg_http_in_flight(const struct lg_http *h);

#endif
