/* Processes: spawning with posix_spawn, and one reaper per process that
 * waits for every child on SIGCHLD and hands each exit to whoever spawned it.
 *
 * A spawner registers the pid it got (ilu_reaper_watch) and is called once
 * when it exits. Children nobody registered (the detached processes that
 * PR_SET_CHILD_SUBREAPER re-parents to us, or an exit that came before the
 * spawner knew the pid) go to the one orphan handler, if any. The reaper
 * calls waitpid(-1), so every part of the program that spawns must register
 * its children, or wait for them synchronously before the loop runs again. */
#ifndef ILU_OS_SPAWN_H
#define ILU_OS_SPAWN_H

#include <sys/types.h>

#include "core/error.h"

struct event_base;
struct ilu_reaper;

/* Spawn argv (argv[0] a path) with stdin /dev/null and stdout/stderr
 * appended to the files named (NULL: /dev/null), in its own session (a
 * Ctrl-C for us does not reach it), default signal dispositions, and every
 * descriptor beyond stdio closed. Returns the pid, or -1 with err filled. */
pid_t ilu_os_spawn(char *const argv[], const char *out_path, const char *err_path, struct ilu_error *err);

/* The same with stdout/stderr given as descriptors, and pass_fd (>= 0)
 * handed to the child as descriptor 3 (runc --preserve-fds 1). The caller
 * keeps its descriptors. */
pid_t ilu_os_spawn_fds(char *const argv[], int out_fd, int err_fd, int pass_fd, struct ilu_error *err);

/* Run argv to completion, blocking. out/errout, if not NULL, get what it
 * printed (caller frees). Returns the waitpid status, or -1 if it could not
 * run (err filled). */
int ilu_os_run_sync(char *const argv[], char **out, char **errout, struct ilu_error *err);

/* Make this process the reaper of its descendants' orphans
 * (PR_SET_CHILD_SUBREAPER): detached grandchildren exit to us. */
int ilu_os_become_subreaper(struct ilu_error *err);

/* Called once when pid exited; status is waitpid's. */
typedef void (*ilu_reap_fn)(void *arg, pid_t pid, int status);

/* The process's reaper on base's SIGCHLD. Free with ilu_reaper_free. */
struct ilu_reaper *ilu_reaper_new(struct event_base *base, struct ilu_error *err);
/* Stop watching SIGCHLD; registered callbacks are dropped uncalled. */
void ilu_reaper_free(struct ilu_reaper *r);

/* Call done(arg, pid, status) when pid exits. -1 when out of memory. */
int ilu_reaper_watch(struct ilu_reaper *r, pid_t pid, ilu_reap_fn done, void *arg);
/* Forget pid (its spawner waits for it itself). */
void ilu_reaper_unwatch(struct ilu_reaper *r, pid_t pid);
/* The first watched pid registered with arg, or 0. */
pid_t ilu_reaper_pid_of(const struct ilu_reaper *r, const void *arg);

/* Exits of children nobody watches go to fn (NULL: dropped). One handler
 * per process: -1 (err filled) when another one is set. */
int ilu_reaper_set_orphan_handler(struct ilu_reaper *r, ilu_reap_fn fn, void *arg, struct ilu_error *err);

/* Wait for every child that has exited and dispatch each; what SIGCHLD does,
 * callable directly (at shutdown, to collect stray zombies). */
void ilu_reaper_reap(struct ilu_reaper *r);

#endif
