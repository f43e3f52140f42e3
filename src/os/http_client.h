/* Asynchronous JSON-over-HTTP client for the load generator: a pool of
 * keep-alive evhttp connections to one target, one request in flight per
 * connection, so an open-loop run never waits for a connection to free up. */
#ifndef LG_HTTP_CLIENT_H
#define LG_HTTP_CLIENT_H

#include "core/error.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct ilu_http_client;

/* status: HTTP status, 0 when no answer came (transport_error says why).
 * answer: parsed JSON body or NULL; borrowed for the callback. */
typedef void (*ilu_http_client_answer_fn)(void *arg, int status, json_t *answer, const char *transport_error);

/* A keep-alive client of host:port on base; requests time out after
 * timeout_sec. NULL when out of memory. */
struct ilu_http_client *ilu_http_client_new(struct event_base *base, const char *host, uint16_t port,
                                            unsigned timeout_sec);
/* Requests still in flight are dropped: their callbacks never run. */
void ilu_http_client_free(struct ilu_http_client *h);

/* Send method (GET when body is NULL, else POST) to path; cb is called
 * exactly once, never from inside this call. Returns -1 only when out of memory. */
int ilu_http_client_request(struct ilu_http_client *h, const char *path, const char *body, size_t body_len,
                            const char *tid, ilu_http_client_answer_fn cb, void *arg);

/* As ilu_http_client_answer_fn, plus the body as it came (text, text_len
 * bytes, borrowed like answer; NULL when there was none) and sent: whether
 * the whole request left this process (was written to the socket). With
 * status 0 and sent false the server never got it (connection refused, or
 * reset/closed before the request was written); with sent true it may have
 * acted on it. */
typedef void (*ilu_http_client_sent_fn)(void *arg, int status, json_t *answer, const char *text, size_t text_len,
                                        const char *transport_error, bool sent);
int ilu_http_client_request_sent(struct ilu_http_client *h, const char *path, const char *body, size_t body_len,
                                 const char *tid, ilu_http_client_sent_fn cb, void *arg);

/* Send "Authorization: Bearer <token>" with every request (NULL or "": none).
 * -1 when out of memory. */
int ilu_http_client_set_bearer(struct ilu_http_client *h, const char *token);
/* The token every client made afterwards sends (the load generator's
 * --token, for a controller with auth.client_token); borrowed, NULL: none. */
void ilu_http_client_set_default_bearer(const char *token);

/* Blocking convenience for setup steps (register, prewarm, ping): runs the
 * loop until the answer. Returns the HTTP status, or 0 when nothing answered
 * with err (503) saying why; *answer (may be NULL) must be json_decref'd by
 * the caller. */
int ilu_http_client_call(struct ilu_http_client *h, const char *path, json_t *body, json_t **answer,
                         struct ilu_error *err);

/* Requests sent and not answered yet. */
unsigned ilu_http_client_in_flight(const struct ilu_http_client *h);

struct evhttp_connection;
/* Write what evhttp just queued on evcon (a request, or a server's answer)
 * at once instead of on a later loop turn, and when all of it went run
 * evhttp's write callback now (see http_client.c). Not for a connection
 * whose evhttp callback is on the stack. NULL: nothing. */
void ilu_evhttp_write_now(struct evhttp_connection *evcon);

#endif
