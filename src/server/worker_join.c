#include "worker_join.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "os/http_client.h"

#define RETRY_US            1000000ULL
#define HEARTBEAT_US        10000000ULL
#define REQUEST_TIMEOUT_SEC 3

struct ilu_worker_join {
    struct event_base *base;
    const struct ilu_log *log;
    struct ilu_http_client *http;
    struct event *timer;
    char url[256];
    char *body; /* the /register_worker request, compact JSON */
    int registered, in_flight;
    unsigned failures;
};

static void arm(struct ilu_worker_join *j, uint64_t us)
{
    struct timeval tv = {.tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000)};
    evtimer_add(j->timer, &tv);
}

static void on_answer(void *arg, int status, json_t *answer, const char *transport_error)
{
    struct ilu_worker_join *j = arg;
    j->in_flight = 0;
    if (status == 200 && json_is_true(json_object_get(answer, "success"))) {
        if (!j->registered)
            ilu_log_emit(j->log, ILU_LOG_INFO, "register",
                         json_pack("{s:s, s:O}", "controller", j->url, "answer", answer),
                         "worker successfully registered");
        j->registered = 1;
        j->failures = 0;
        arm(j, HEARTBEAT_US);
        return;
    }
    /* log the first failure and then rarely: the controller may just not be up yet */
    if (j->failures++ % 30 == 0) {
        const char *msg = json_string_value(json_object_get(answer, "error"));
        ilu_log_emit(j->log, ILU_LOG_WARN, "register", json_pack("{s:s, s:i}", "controller", j->url, "status", status),
                     "cannot register with the controller %s (attempt %u, retrying every second): %s", j->url,
                     j->failures, status ? (msg ? msg : "unexpected answer") : transport_error);
    }
    arm(j, j->registered ? HEARTBEAT_US : RETRY_US);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct ilu_worker_join *j = arg;
    if (j->in_flight)
        return;
    j->in_flight = 1;
    if (ilu_http_client_request(j->http, "/register_worker", j->body, strlen(j->body), "register", on_answer, j)) {
        j->in_flight = 0;
        arm(j, RETRY_US);
    }
}

struct ilu_worker_join *ilu_worker_join_start(struct event_base *base, const struct ilu_worker_config *cfg,
                                              const struct ilu_log *log, struct ilu_error *err)
{
    char host[256];
    uint32_t port;
    if (ilu_config_parse_url(cfg->load_balancer_url, host, sizeof host, &port, err))
        return NULL;
    struct ilu_worker_join *j = calloc(1, sizeof *j);
    /* a new boot id on every start tells the controller this worker lost its
     * registrations, even when it restarts faster than the health checks */
    char boot_id[64];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(boot_id, sizeof boot_id, "%ld-%lld.%09ld", (long)getpid(), (long long)ts.tv_sec, ts.tv_nsec);
    /* gpus: the controller registers and routes GPU-only functions to
     * workers with GPUs only (a worker with count > 0 found them all, or it
     * would not have started) */
    json_t *req =
        json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:s}", "name", cfg->name, "host",
                  cfg->advertise_host[0] ? cfg->advertise_host : cfg->address, "port", (int)cfg->port, "cpus",
                  (int)cfg->container_resources.cpu_count, "memory_mb", (int)cfg->container_resources.memory_mb, "gpus",
                  (int)cfg->container_resources.gpu_resource.count, "boot_id", boot_id);
    if (!j || !req || !(j->body = json_dumps(req, JSON_COMPACT)) ||
        !(j->http = ilu_http_client_new(base, host, (uint16_t)port, REQUEST_TIMEOUT_SEC)) ||
        ilu_http_client_set_bearer(j->http, cfg->load_balancer_token) || !(j->timer = evtimer_new(base, on_timer, j))) {
        json_decref(req);
        ilu_worker_join_stop(j);
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    json_decref(req);
    j->base = base;
    j->log = log;
    snprintf(j->url, sizeof j->url, "%s", cfg->load_balancer_url);
    arm(j, 0);
    return j;
}

void ilu_worker_join_stop(struct ilu_worker_join *j)
{
    if (!j)
        return;
    if (j->timer)
        event_free(j->timer);
    ilu_http_client_free(j->http);
    free(j->body);
    free(j);
}
