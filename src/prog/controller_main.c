/* iluvatar_controller: the cluster front door. Thin: reads config, wires the
 * controller core to libevent (live env, HTTP transport to the workers,
 * SQLite store, HTTP API) and runs the loop. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/secrets.h"
#include "controller/controller.h"
#include "os/random.h"
#include "controller/controller_config.h"
#include "server/controller_api.h"
#include "server/ctl_store_sqlite.h"
#include "server/ctl_transport_http.h"
#include "server/daemon_util.h"

#define SHUTDOWN_GRACE_US (5 * 1000000ULL)

ILU_DAEMON_SPEC(spec, "iluvatar_controller", "ILUVATAR_CONTROLLER",
                "spread invocations over workers (load balancer and function registry)", "",
                "    Serves the controller API of docs/controller.md on address:port: the worker API's calls\n"
                "    (register, invoke, async, prewarm), routed to workers by load_balancer.algorithm\n"
                "    (RoundRobin, LeastLoaded, CH-BL ...), and the workers' list. Workers join with POST\n"
                "    /register_worker and are polled for health; registrations persist in store.db_path\n"
                "    (SQLite) and go to workers that join later. Tokens: auth.* (docs/security.md).\n",
                "SIGNALS\n"
                "    SIGINT, SIGTERM\n"
                "        Stop accepting, wait a few seconds for outstanding invocations, exit 0.\n\n"
                "FILES\n"
                "    PREFIX/etc/iluvatar/controller.json\n"
                "        The installed config (make install); the services start the controller with it.\n"
                "    store.db_path (default /var/lib/iluvatar/controller.db)\n"
                "        The function registry.\n\n"
                "EXIT STATUS\n"
                "    0 stopped by a signal; 1 a bad config or a failed start; 64 bad usage.\n\n"
                "SEE ALSO\n"
                "    iluvatar_worker(1), iluvatar_worker_cli(1), iluvatar_load_gen(1), iluvatar-service;\n"
                "    docs/controller.md, docs/deploy.md (PREFIX/share/iluvatar/docs when installed).\n",
                ilu_controller_config);

/* GET /config shows these as "(set)" */

struct daemon {
    struct ilu_daemon_loop loop;
    struct ilu_controller *controller;
    struct ilu_controller_api *api;
    struct ilu_graceful_stop stop;
};

static void begin_stop(void *ctx)
{
    struct daemon *d = ctx;
    ilu_controller_api_stop_accepting(d->api);
}

static unsigned outstanding(void *ctx)
{
    struct daemon *d = ctx;
    return ilu_controller_outstanding(d->controller);
}

int main(int argc, char **argv)
{
    struct ilu_controller_config cfg;
    ilu_controller_config_defaults(&cfg);
    int code = ilu_daemon_configure(argc, argv, &spec, &cfg);
    if (code >= 0)
        return code;

    struct daemon d = {0};
    if (ilu_daemon_loop_open(&d.loop, spec.prog, cfg.name, cfg.logging.directory, cfg.logging.level,
                             cfg.logging.stdout_enabled))
        return 1;
    struct event_base *base = d.loop.base;
    const struct ilu_log *log = &d.loop.log;

    int rc = 1;
    struct ilu_error err = {0};
    struct ilu_ctl_sqlite *db = NULL;
    struct ilu_ctl_store store;
    struct ilu_ctl_http *transport = ilu_ctl_http_new(base, log);
    struct ilu_controller_api api = {.log = log,
                                     .tid_seed = ilu_random_seed(),
                                     .max_payload_bytes = cfg.invocation.max_payload_bytes,
                                     .worker_token = cfg.auth.worker_token,
                                     .client_token = cfg.auth.client_token,
                                     .config = ilu_daemon_config_answer(&spec, &cfg, ilu_controller_config_secrets),
                                     .http_limits = cfg.http};
    d.api = &api;
    if (!transport) {
        fprintf(stderr, "iluvatar_controller: out of memory\n");
        goto out;
    }
    if (cfg.store.db_path[0]) {
        if (!(db = ilu_ctl_sqlite_open(cfg.store.db_path, &err))) {
            fprintf(stderr, "iluvatar_controller: %s (set store.db_path, or \"\" to persist nothing)\n", err.msg);
            goto out;
        }
        store = ilu_ctl_sqlite_store(db);
    }
    struct ilu_ctl_transport tr = ilu_ctl_http_transport(transport);
    d.controller = ilu_controller_new(&cfg, &d.loop.env.env, &tr, db ? &store : NULL, log, &err);
    if (!d.controller) {
        fprintf(stderr, "iluvatar_controller: %s\n", err.msg);
        goto out;
    }
    if (db && ilu_ctl_sqlite_load(db, d.controller, log, &err)) {
        fprintf(stderr, "iluvatar_controller: %s\n", err.msg);
        goto out;
    }
    api.controller = d.controller;
    if (ilu_controller_api_start(&api, base, cfg.address, (uint16_t)cfg.port, &err)) {
        fprintf(stderr, "iluvatar_controller: %s\n", err.msg);
        goto out;
    }
    d.stop = (struct ilu_graceful_stop){.base = base,
                                        .log = log,
                                        .ctx = &d,
                                        .begin = begin_stop,
                                        .outstanding = outstanding,
                                        .grace_us = SHUTDOWN_GRACE_US};
    ilu_graceful_stop_install(&d.stop);
    ilu_log_emit(log, ILU_LOG_INFO, "startup",
                 json_pack("{s:s, s:i, s:s, s:s}", "address", cfg.address, "port", (int)cfg.port, "load_balancer",
                           cfg.load_balancer.algorithm, "db_path", cfg.store.db_path),
                 "controller started");
    /* no token: whoever reaches the port may register workers (and divert
     * invocations to them) or call the API; fine on loopback only */
    bool loopback =
        !strncmp(cfg.address, "127.", 4) || !strcmp(cfg.address, "::1") || !strcmp(cfg.address, "localhost");
    if (!loopback && !cfg.auth.worker_token[0])
        ilu_log_emit(log, ILU_LOG_WARN, "startup", json_pack("{s:s}", "address", cfg.address),
                     "SECURITY: listening on %s with no auth.worker_token: anyone who can reach port %u can register a"
                     " worker under any free name and receive invocations with their arguments; set auth.worker_token"
                     " (and load_balancer_token on the workers), see docs/security.md",
                     cfg.address, cfg.port);
    if (!loopback && !cfg.auth.client_token[0])
        ilu_log_emit(log, ILU_LOG_WARN, "startup", json_pack("{s:s}", "address", cfg.address),
                     "SECURITY: listening on %s with no auth.client_token: anyone who can reach port %u can register"
                     " functions and invoke them; set auth.client_token or restrict the port, see docs/security.md",
                     cfg.address, cfg.port);
    event_base_dispatch(base);
    rc = 0;
out:
    ilu_graceful_stop_free(&d.stop);
    /* calls still out (status polls, invocations past the grace period): fail
     * them while the core can still release what it holds for them */
    for (int round = 0; transport && d.controller && ilu_ctl_http_owed(transport) && round < 8; round++) {
        ilu_ctl_http_fail_all(transport);
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    if (transport)
        ilu_ctl_http_closing(transport); /* answers after this would reach a freed core */
    ilu_controller_free(d.controller);
    ilu_controller_api_stop(&api);
    json_decref(api.config);
    ilu_ctl_http_free(transport);
    ilu_ctl_sqlite_close(db);
    ilu_info(log, "shutdown", "controller stopped");
    ilu_daemon_loop_close(&d.loop);
    return rc;
}
