/* Small helpers the daemons share: reading a whole file, a random seed,
 * stopping gracefully on SIGINT/SIGTERM. */
#ifndef ILU_DAEMON_UTIL_H
#define ILU_DAEMON_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "core/log.h"

#include "core/error.h"

/* Largest file ilu_read_file takes (configs, benchmark JSON): beyond it,
 * NULL with errno EFBIG rather than the whole file in memory. */
#define ILU_READ_FILE_MAX (64u << 20)

/* The whole file as a NUL-terminated string (caller frees), or NULL with
 * errno set. */
char *ilu_read_file(const char *path);

/* Calls line_fn for each line of path: the line without its '\n', in a
 * writable NUL-terminated buffer of max_line + 1 bytes that is reused. A
 * longer line fails with "path:N: line longer than max_line bytes" as soon as
 * max_line + 1 bytes of it were read, so memory stays bounded whatever the
 * file holds. line_fn returns 0 to go on or -1 (with err filled) to stop. */
int ilu_read_lines(const char *path, size_t max_line, int (*line_fn)(void *ctx, char *line, size_t len,
                                                                     struct ilu_error *err),
                   void *ctx, struct ilu_error *err);
/* 64 random bits for transaction ids (from /dev/urandom; pid and time if
 * that fails). */
uint64_t ilu_random_seed(void);

/* The daemons' command line: [-c FILE] [--dump-config] [--help]. Returns
 * -1 to go on (with *config_path, *dump set), else the exit code (0 after
 * --help, 64 on bad usage, with usage printed). */
int ilu_daemon_parse_args(int argc, char **argv, const char *prog, void (*usage)(FILE *out),
                          const char **config_path, int *dump);

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

int ilu_graceful_stop_install(struct ilu_graceful_stop *g);
void ilu_graceful_stop_free(struct ilu_graceful_stop *g);

#endif
