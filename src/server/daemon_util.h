/* Small helpers the daemons share: a random seed, the command line,
 * stopping gracefully on SIGINT/SIGTERM. (Reading files is src/os/file.h.) */
#ifndef ILU_DAEMON_UTIL_H
#define ILU_DAEMON_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "core/error.h"
#include "core/log.h"

/* 64 random bits for transaction ids (from /dev/urandom; pid and time if
 * that fails). */
uint64_t ilu_random_seed(void);

/* The daemons' command line: [-c FILE] [--dump-config] [--help]. Returns
 * -1 to go on (with *config_path, *dump set), else the exit code (0 after
 * --help, 64 on bad usage, with usage printed). */
int ilu_daemon_parse_args(int argc, char **argv, const char *prog, void (*usage)(FILE *out), const char **config_path,
                          int *dump);

struct event_base;
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
