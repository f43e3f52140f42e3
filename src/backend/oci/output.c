/* A container's stdout or stderr. The runtime hands its own stdio to the
 * container, so writing them to files directly would let a function fill
 * the host's disk (100 MB landed in a test). Instead each goes through a
 * pipe the worker reads on its event loop: the file is capped at
 * log_max_bytes and rotated once to <path>.1, so at most twice the cap per
 * stream stays on disk and the newest output (the traceback of a crash) is
 * always in <path> for error reports. A function that writes faster than
 * the worker copies simply blocks on the full pipe. */
#include "oci_int.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct oci_output {
    struct oci_backend *ob;
    int pipe_fd; /* read end, -1 at EOF */
    int file_fd; /* the log file, -1 when it cannot be written */
    uint64_t file_bytes;
    struct event *ev;
    char path[PATH_MAX];
};

static int open_log(struct oci_output *o)
{
    o->file_fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    o->file_bytes = 0;
    return o->file_fd;
}

static void rotate(struct oci_output *o)
{
    char old[PATH_MAX + 4];
    snprintf(old, sizeof old, "%s.1", o->path);
    close(o->file_fd);
    if (rename(o->path, old) != 0)
        unlink(o->path);
    if (open_log(o) < 0)
        ilu_warn(o->ob->log, "output", "cannot reopen %s after rotating it: %s", o->path, strerror(errno));
}

static void write_log(struct oci_output *o, const char *buf, size_t n)
{
    while (n > 0 && o->file_fd >= 0) {
        if (o->file_bytes >= o->ob->log_max_bytes)
            rotate(o);
        if (o->file_fd < 0)
            return;
        size_t room = o->ob->log_max_bytes - o->file_bytes;
        size_t k = n < room ? n : room;
        ssize_t w = write(o->file_fd, buf, k);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) { /* disk full: drop the output rather than stall the pipe */
            return;
        }
        o->file_bytes += (uint64_t)w;
        buf += w;
        n -= (size_t)w;
    }
}

static void stop(struct oci_output *o)
{
    if (o->ev) {
        event_free(o->ev);
        o->ev = NULL;
    }
    if (o->pipe_fd >= 0) {
        close(o->pipe_fd);
        o->pipe_fd = -1;
    }
}

void oci_output_drain(struct oci_output *o)
{
    if (!o)
        return;
    char buf[65536];
    /* Bounded per call so one chatty container cannot hold the loop. */
    for (int i = 0; i < 16 && o->pipe_fd >= 0; i++) {
        ssize_t n = read(o->pipe_fd, buf, sizeof buf);
        if (n > 0) {
            write_log(o, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || errno != EAGAIN)
            stop(o); /* every writer is gone */
        return;
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    oci_output_drain(arg);
}

struct oci_output *oci_output_new(struct oci_backend *ob, const char *path, int *write_fd, struct ilu_error *err)
{
    struct oci_output *o = calloc(1, sizeof *o);
    if (!o) {
        ilu_err(err, ILU_ST_INTERNAL, "oom", "out of memory");
        return NULL;
    }
    o->ob = ob;
    o->pipe_fd = -1;
    snprintf(o->path, sizeof o->path, "%s", path);
    int p[2];
    if (open_log(o) < 0 || pipe2(p, O_CLOEXEC) != 0) {
        ilu_err(err, ILU_ST_INTERNAL, "output", "cannot set up %s: %s", path, strerror(errno));
        oci_output_free(o);
        return NULL;
    }
    o->pipe_fd = p[0];
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    o->ev = event_new(ob->evb, p[0], EV_READ | EV_PERSIST, on_readable, o);
    if (!o->ev || event_add(o->ev, NULL) != 0) {
        close(p[1]);
        ilu_err(err, ILU_ST_INTERNAL, "oom", "cannot watch the pipe of %s", path);
        oci_output_free(o);
        return NULL;
    }
    *write_fd = p[1];
    return o;
}

void oci_output_free(struct oci_output *o)
{
    if (!o)
        return;
    oci_output_drain(o);
    stop(o);
    if (o->file_fd >= 0)
        close(o->file_fd);
    free(o);
}
