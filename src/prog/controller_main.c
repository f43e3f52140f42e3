/* iluvatar_controller: the cluster front door. Thin: reads config, wires the
 * controller core to libevent (live env, HTTP transport to the workers,
 * SQLite store, HTTP API) and runs the loop. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "controller/controller.h"
#include "controller/controller_config.h"
#include "server/controller_api.h"
#include "server/ctl_store_sqlite.h"
#include "server/ctl_transport_http.h"
#include "os/file.h"
#include "server/daemon_util.h"
#include "server/live_env.h"

extern char **environ;

#define SHUTDOWN_GRACE_US (5 * 1000000ULL)

struct daemon {
    struct event_base *base;
    struct ilu_controller *controller;
    struct ilu_controller_api *api;
    struct ilu_log log;
    struct ilu_graceful_stop stop;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: iluvatar_controller [-c config.json] [--dump-config] [--help]\n"
                 "  -c, --config FILE   JSON config applied over the built-in defaults\n"
                 "                      (environment ILUVATAR_CONTROLLER__section__key=value overrides both)\n"
                 "  --dump-config       print the effective config as JSON and exit\n"
                 "Serves the controller API of docs/controller.md; workers join with POST /register_worker.\n"
                 "SIGINT/SIGTERM stop accepting, wait a few seconds for outstanding invocations, and exit.\n");
}

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
    const char *config_path;
    int dump;
    int code = ilu_daemon_parse_args(argc, argv, "iluvatar_controller", usage, &config_path, &dump);
    if (code >= 0)
        return code;

    struct ilu_controller_config cfg;
    struct ilu_error err = {0};
    ilu_controller_config_defaults(&cfg);
    if (config_path) {
        char *text = ilu_read_file(config_path, &err);
        if (!text) {
            fprintf(stderr, "iluvatar_controller: config: %s\n", err.msg);
            return 1;
        }
        int rc = ilu_controller_config_apply_json(&cfg, text, config_path, &err);
        free(text);
        if (rc) {
            fprintf(stderr, "iluvatar_controller: %s\n", err.msg);
            return 1;
        }
    }
    if (ilu_controller_config_apply_env(&cfg, "ILUVATAR_CONTROLLER", environ, &err) ||
        ilu_controller_config_validate(&cfg, &err)) {
        fprintf(stderr, "iluvatar_controller: %s\n", err.msg);
        return 1;
    }
    if (dump) {
        char *text = ilu_controller_config_dump(&cfg);
        printf("%s\n", text);
        free(text);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);

    struct daemon d = {0};
    d.base = event_base_new();
    struct ilu_live_env le;
    char log_path[PATH_MAX] = "";
    if (cfg.logging.directory[0]) {
        mkdir(cfg.logging.directory, 0755);
        snprintf(log_path, sizeof log_path, "%s/%s.log", cfg.logging.directory, cfg.name);
    }
    if (!d.base || ilu_live_env_init(&le, d.base, log_path, cfg.logging.stdout_enabled)) {
        fprintf(stderr, "iluvatar_controller: cannot start the event loop or open log %s: %s\n", log_path,
                strerror(errno));
        return 1;
    }
    d.log = (struct ilu_log){.env = &le.env, .min_level = ilu_log_level_parse(cfg.logging.level)};

    int rc = 1;
    struct ilu_ctl_sqlite *db = NULL;
    struct ilu_ctl_store store;
    struct ilu_ctl_http *transport = ilu_ctl_http_new(d.base, &d.log);
    struct ilu_controller_api api = {.log = &d.log,
                                     .tid_seed = ilu_random_seed(),
                                     .max_payload_bytes = cfg.invocation.max_payload_bytes,
                                     .worker_token = cfg.auth.worker_token,
                                     .client_token = cfg.auth.client_token,
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
    d.controller = ilu_controller_new(&cfg, &le.env, &tr, db ? &store : NULL, &d.log, &err);
    if (!d.controller) {
        fprintf(stderr, "iluvatar_controller: %s\n", err.msg);
        goto out;
    }
    if (db && ilu_ctl_sqlite_load(db, d.controller, &d.log, &err)) {
        fprintf(stderr, "iluvatar_controller: %s\n", err.msg);
        goto out;
    }
    api.controller = d.controller;
    if (ilu_controller_api_start(&api, d.base, cfg.address, (uint16_t)cfg.port, &err)) {
        fprintf(stderr, "iluvatar_controller: %s\n", err.msg);
        goto out;
    }
    d.stop = (struct ilu_graceful_stop){.base = d.base,
                                        .log = &d.log,
                                        .ctx = &d,
                                        .begin = begin_stop,
                                        .outstanding = outstanding,
                                        .grace_us = SHUTDOWN_GRACE_US};
    ilu_graceful_stop_install(&d.stop);
    ilu_log_emit(&d.log, ILU_LOG_INFO, "startup",
                 json_pack("{s:s, s:i, s:s, s:s}", "address", cfg.address, "port", (int)cfg.port, "load_balancer",
                           cfg.load_balancer.algorithm, "db_path", cfg.store.db_path),
                 "controller started");
    /* no token: whoever reaches the port may register workers (and divert
     * invocations to them) or call the API; fine on loopback only */
    bool loopback =
        !strncmp(cfg.address, "127.", 4) || !strcmp(cfg.address, "::1") || !strcmp(cfg.address, "localhost");
    if (!loopback && !cfg.auth.worker_token[0])
        ilu_log_emit(&d.log, ILU_LOG_WARN, "startup", json_pack("{s:s}", "address", cfg.address),
                     "SECURITY: listening on %s with no auth.worker_token: anyone who can reach port %u can register a"
                     " worker under any free name and receive invocations with their arguments; set auth.worker_token"
                     " (and load_balancer_token on the workers), see docs/security.md",
                     cfg.address, cfg.port);
    if (!loopback && !cfg.auth.client_token[0])
        ilu_log_emit(&d.log, ILU_LOG_WARN, "startup", json_pack("{s:s}", "address", cfg.address),
                     "SECURITY: listening on %s with no auth.client_token: anyone who can reach port %u can register"
                     " functions and invoke them; set auth.client_token or restrict the port, see docs/security.md",
                     cfg.address, cfg.port);
    event_base_dispatch(d.base);
    rc = 0;
out:
    ilu_graceful_stop_free(&d.stop);
    /* calls still out (status polls, invocations past the grace period): fail
     * them while the core can still release what it holds for them */
    for (int round = 0; transport && d.controller && ilu_ctl_http_owed(transport) && round < 8; round++) {
        ilu_ctl_http_fail_all(transport);
        event_base_loop(d.base, EVLOOP_NONBLOCK);
    }
    if (transport)
        ilu_ctl_http_closing(transport); /* answers after this would reach a freed core */
    ilu_controller_free(d.controller);
    ilu_controller_api_stop(&api);
    ilu_ctl_http_free(transport);
    ilu_ctl_sqlite_close(db);
    ilu_info(&d.log, "shutdown", "controller stopped");
    ilu_live_env_close(&le);
    event_base_free(d.base);
    return rc;
}
