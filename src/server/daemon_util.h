/* What the daemons share: a random seed, the command line and config
 * loading, the event loop and log, stopping gracefully on SIGINT/SIGTERM.
 * (Reading files is src/os/file.h.) */
#ifndef ILU_DAEMON_UTIL_H
#define ILU_DAEMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"
#include "core/log.h"
#include "live_env.h"

/* One daemon's start-up: its name, environment prefix and help, and its
 * config module's functions over its config struct, taken as void * (made
 * by ILU_DAEMON_SPEC). */
struct ilu_daemon_spec {
    const char *prog;        /* "iluvatar_worker": begins every message */
    const char *env_prefix;  /* "ILUVATAR_WORKER": PREFIX__section__key=value overrides the file */
    const char *summary;     /* NAME: "prog - summary" */
    const char *synopsis;    /* more SYNOPSIS lines (indented, \n-ended), or "" */
    const char *description; /* DESCRIPTION's text, indented, \n-ended */
    const char *sections;    /* the sections after ENVIRONMENT (SIGNALS, FILES, EXIT STATUS ...) */
    int (*apply_json)(void *cfg, const char *json, const char *source, struct ilu_error *err);
    int (*apply_env)(void *cfg, const char *prefix, char *const *envp, struct ilu_error *err);
    int (*validate)(const void *cfg, struct ilu_error *err);
    char *(*dump)(const void *cfg);
};

/* Defines static const struct ilu_daemon_spec name over a config module's
 * cfg##_apply_json, cfg##_apply_env, cfg##_validate and cfg##_dump (cfg:
 * ilu_config, ilu_controller_config). Adapters, not casts: a call through a
 * pointer to another function type is undefined. */
#define ILU_DAEMON_SPEC(name, prog_, env_prefix_, summary_, synopsis_, description_, sections_, cfg)   \
    static int name##_apply_json(void *c, const char *json, const char *source, struct ilu_error *err) \
    {                                                                                                  \
        return cfg##_apply_json(c, json, source, err);                                                 \
    }                                                                                                  \
    static int name##_apply_env(void *c, const char *prefix, char *const *envp, struct ilu_error *err) \
    {                                                                                                  \
        return cfg##_apply_env(c, prefix, envp, err);                                                  \
    }                                                                                                  \
    static int name##_validate(const void *c, struct ilu_error *err)                                   \
    {                                                                                                  \
        return cfg##_validate(c, err);                                                                 \
    }                                                                                                  \
    static char *name##_dump(const void *c)                                                            \
    {                                                                                                  \
        return cfg##_dump(c);                                                                          \
    }                                                                                                  \
    static const struct ilu_daemon_spec name = {.prog = prog_,                                         \
                                                .env_prefix = env_prefix_,                             \
                                                .summary = summary_,                                   \
                                                .synopsis = synopsis_,                                 \
                                                .description = description_,                           \
                                                .sections = sections_,                                 \
                                                .apply_json = name##_apply_json,                       \
                                                .apply_env = name##_apply_env,                         \
                                                .validate = name##_validate,                           \
                                                .dump = name##_dump}

/* The command line ([-c FILE] [--dump-config] [--help] [--version]), then
 * the config over the defaults already in cfg: the file, the environment,
 * the checks; --dump-config prints it. A variable of the environment that
 * looks like a misspelled override (ILUVATAR_WORKR__port) gets a warning on
 * stderr. Returns -1 to go on, else the exit code: 0 after --help,
 * --version or --dump-config, 64 on bad usage (usage printed), 1 on a bad
 * config (the message on stderr after "prog: "). */
int ilu_daemon_configure(int argc, char **argv, const struct ilu_daemon_spec *spec, void *cfg);

/* What GET /config answers: {"program", "version", "commit", "config": the
 * effective config as --dump-config prints it}, with the secrets hidden
 * (ilu_config_hide_secrets, core/secrets.h). NULL when out of memory. */
json_t *ilu_daemon_config_answer(const struct ilu_daemon_spec *spec, const void *cfg, const char *const *secrets);

struct event_base;

/* A new event loop for a daemon: epoll with its change list, so that a
 * descriptor disabled and enabled again within one loop iteration (evhttp
 * does that around every request) costs no epoll_ctl calls. No descriptor
 * of ours is dup()ed, which the change list would not allow. NULL on
 * failure. */
struct event_base *ilu_daemon_event_base(void);

/* A daemon's event loop, its live env (clock, timers, log lines) and log. */
struct ilu_daemon_loop {
    struct event_base *base;
    struct ilu_live_env env;
    struct ilu_log log;
};

/* Start l (which must not move: log points into env): log lines of level
 * and above go to stderr when to_stderr, and to DIRECTORY/NAME.log (the
 * directory made if missing) unless directory is "". Ignores SIGPIPE (a
 * client hanging up must not kill the daemon). -1 with the message on
 * stderr after "prog: ". */
int ilu_daemon_loop_open(struct ilu_daemon_loop *l, const char *prog, const char *name, const char *directory,
                         const char *level, bool to_stderr);
/* Close the live env (its log file) and free the event loop. */
void ilu_daemon_loop_close(struct ilu_daemon_loop *l);

struct event;

/* SIGINT/SIGTERM handling shared by the daemons: the first signal calls
 * begin (stop taking work), then the loop ends once outstanding() is 0 or
 * grace_us has passed; a second signal ends it at once. */
struct ilu_graceful_stop {
    struct event_base *base;
    const struct ilu_log *log;
    void *ctx;
    void (*begin)(void *ctx);
    unsigned (*outstanding)(void *ctx);
    uint64_t grace_us;
    /* private */
    struct event *sigint, *sigterm, *drain_timer;
    uint64_t deadline_us;
    int signals_seen;
};

/* Arm the signal events; -1 when libevent cannot. free disarms them. */
int ilu_graceful_stop_install(struct ilu_graceful_stop *g);
void ilu_graceful_stop_free(struct ilu_graceful_stop *g);

#endif
