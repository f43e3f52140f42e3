/* struct ilu_env for the live daemons: libevent timers, CLOCK_MONOTONIC,
 * log lines to stderr and optionally a log file. */
#ifndef ILU_LIVE_ENV_H
#define ILU_LIVE_ENV_H

#include <stdio.h>

#include "core/env.h"

struct event_base;

struct ilu_live_env {
    struct ilu_env env;
    struct event_base *base;
    FILE *log_file; /* owned; NULL when logging.directory is empty */
    int log_to_stderr;
};

/* log_path may be NULL. Returns 0, or -1 with errno when the log file cannot be opened. */
int ilu_live_env_init(struct ilu_live_env *le, struct event_base *base, const char *log_path, int log_to_stderr);
void ilu_live_env_close(struct ilu_live_env *le);

#endif
