#include "core/secrets.h"
#include "daemon_util.h"

#include "core/cfg_schema.h"
#include "os/clock.h"
#include "os/file.h"
#include "os/version.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* --help: a manual page; bad usage: the synopsis and where the manual is. */
static void usage(FILE *out, const struct ilu_daemon_spec *spec)
{
    if (out == stderr) {
        fprintf(out,
                "usage: %s [-c config.json] [--dump-config] [--help] [--version]\n%s(%s --help prints the manual)\n",
                spec->prog, spec->synopsis, spec->prog);
        return;
    }
    fprintf(out,
            "NAME\n"
            "    %s - %s\n\n"
            "SYNOPSIS\n"
            "    %s [-c config.json] [--dump-config] [--help] [--version]\n"
            "%s\n"
            "DESCRIPTION\n"
            "%s\n"
            "OPTIONS\n"
            "    -c, --config FILE\n"
            "        JSON config applied over the built-in defaults: only the keys it names change.\n"
            "    --dump-config\n"
            "        Print the effective config (defaults, file, environment) as JSON and exit.\n"
            "    -h, --help\n"
            "        This manual.\n"
            "    --version\n"
            "        Print the version and the commit this program was built from, and exit.\n\n"
            "ENVIRONMENT\n"
            "    %s__section__key=value\n"
            "        Overrides one config key over the file and the defaults, e.g.\n"
            "        %s__logging__level=debug (top-level keys: %s__key=value).\n"
            "        An unknown key is refused. A variable that begins with ILUVATAR_ and holds __\n"
            "        but has a prefix no program reads (a misspelling) gets a warning on stderr.\n\n"
            "%s",
            spec->prog, spec->summary, spec->prog, spec->synopsis, spec->description, spec->env_prefix,
            spec->env_prefix, spec->env_prefix, spec->sections);
}

/* -1 to go on (with *config_path, *dump set), else the exit code. */
static int parse_args(int argc, char **argv, const struct ilu_daemon_spec *spec, const char **config_path, int *dump)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"dump-config", no_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    *config_path = NULL;
    *dump = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': *config_path = optarg; break;
        case 'D': *dump = 1; break;
        case 'h': usage(stdout, spec); return 0;
        case 'V': ilu_version_print(stdout, spec->prog); return 0;
        default: usage(stderr, spec); return 64;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument %s\n", spec->prog, argv[optind]);
        return 64;
    }
    return -1;
}

/* One line on stderr per variable of envp that looks like a config override
 * but has a prefix no program reads: misspelled, it would be ignored. */
static void warn_stray_env(const char *prog, char *const *envp)
{
    char why[512];
    for (; envp && *envp; envp++)
        if (ilu_cfg_env_stray(*envp, ILU_CFG_ENV_FAMILY, ilu_cfg_env_owners, ilu_cfg_env_n_owners, why, sizeof why))
            fprintf(stderr, "%s: warning: %s\n", prog, why);
}

int ilu_daemon_configure(int argc, char **argv, const struct ilu_daemon_spec *spec, void *cfg)
{
    const char *config_path;
    int dump;
    int code = parse_args(argc, argv, spec, &config_path, &dump);
    if (code >= 0)
        return code;
    warn_stray_env(spec->prog, environ);
    struct ilu_error err = {0};
    if (config_path) {
        ilu_cleanup_free char *text = ilu_read_file(config_path, &err);
        if (!text) {
            fprintf(stderr, "%s: config: %s\n", spec->prog, err.msg);
            return 1;
        }
        if (spec->apply_json(cfg, text, config_path, &err)) {
            fprintf(stderr, "%s: %s\n", spec->prog, err.msg);
            return 1;
        }
    }
    if (spec->apply_env(cfg, spec->env_prefix, environ, &err) || spec->validate(cfg, &err)) {
        fprintf(stderr, "%s: %s\n", spec->prog, err.msg);
        return 1;
    }
    if (dump) {
        ilu_cleanup_free char *text = spec->dump(cfg);
        printf("%s\n", text);
        return 0;
    }
    return -1;
}

struct event_base *ilu_daemon_event_base(void)
{
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

int ilu_daemon_loop_open(struct ilu_daemon_loop *l, const char *prog, const char *name, const char *directory,
                         const char *level, bool to_stderr)
{
    signal(SIGPIPE, SIG_IGN);
    l->base = ilu_daemon_event_base();
    char log_path[PATH_MAX] = "";
    if (directory[0]) {
        mkdir(directory, 0755);
        snprintf(log_path, sizeof log_path, "%s/%s.log", directory, name);
    }
    if (!l->base || ilu_live_env_init(&l->env, l->base, log_path, to_stderr)) {
        fprintf(stderr, "%s: cannot start the event loop or open log %s: %s\n", prog, log_path, strerror(errno));
        return -1;
    }
    l->log = (struct ilu_log){.env = &l->env.env, .min_level = ilu_log_level_parse(level)};
    return 0;
}

void ilu_daemon_loop_close(struct ilu_daemon_loop *l)
{
    ilu_live_env_close(&l->env);
    event_base_free(l->base);
}

static void on_drain_check(evutil_socket_t fd, short what, void *arg)
{
    struct ilu_graceful_stop *g = arg;
    unsigned left = g->outstanding(g->ctx);
    if (left == 0 || ilu_os_mono_us() >= g->deadline_us) {
        if (left)
            ilu_warn(g->log, "shutdown", "%u invocations still outstanding after the grace period; stopping anyway",
                     left);
        event_base_loopbreak(g->base);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct ilu_graceful_stop *g = arg;
    if (++g->signals_seen > 1) {
        ilu_warn(g->log, "shutdown", "second signal: stopping now");
        event_base_loopbreak(g->base);
        return;
    }
    ilu_info(g->log, "shutdown",
             "signal %d: no longer accepting work; waiting up to %llu s for %u outstanding invocations", (int)sig,
             (unsigned long long)(g->grace_us / 1000000), g->outstanding(g->ctx));
    g->begin(g->ctx);
    g->deadline_us = ilu_os_mono_us() + g->grace_us;
    g->drain_timer = event_new(g->base, -1, EV_PERSIST, on_drain_check, g);
    struct timeval every = {0, 20000};
    if (g->drain_timer)
        event_add(g->drain_timer, &every);
    on_drain_check(-1, 0, g);
}

int ilu_graceful_stop_install(struct ilu_graceful_stop *g)
{
    g->sigint = evsignal_new(g->base, SIGINT, on_signal, g);
    g->sigterm = evsignal_new(g->base, SIGTERM, on_signal, g);
    if (!g->sigint || !g->sigterm || event_add(g->sigint, NULL) || event_add(g->sigterm, NULL))
        return -1;
    return 0;
}

void ilu_graceful_stop_free(struct ilu_graceful_stop *g)
{
    if (g->sigint)
        event_free(g->sigint);
    if (g->sigterm)
        event_free(g->sigterm);
    if (g->drain_timer)
        event_free(g->drain_timer);
    g->sigint = g->sigterm = g->drain_timer = NULL;
}

json_t *ilu_daemon_config_answer(const struct ilu_daemon_spec *spec, const void *cfg, const char *const *secrets)
{
    char *text = spec->dump(cfg);
    json_t *config = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!config)
        return NULL;
    ilu_config_hide_secrets(config, secrets);
    return json_pack("{s:s, s:s, s:s, s:o}", "program", spec->prog, "version", ilu_version(), "commit", ilu_commit(),
                     "config", config);
}
