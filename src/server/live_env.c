#include "live_env.h"

#include <event2/event.h>
#include <stdlib.h>

#include "os/clock.h"

struct ilu_timer {
    struct event *ev;
    ilu_timer_fn fn;
    void *arg;
};

static uint64_t live_now_us(void *ctx)
{
    (void)ctx;
    return ilu_os_mono_us();
}

static uint64_t live_wall_us(void *ctx)
{
    (void)ctx;
    return ilu_os_wall_us();
}

static void timer_fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ilu_timer *t = arg;
    ilu_timer_fn fn = t->fn;
    void *fn_arg = t->arg;
    event_free(t->ev);
    free(t);
    fn(fn_arg);
}

static struct ilu_timer *live_timer_start(void *ctx, uint64_t delay_us, ilu_timer_fn fn, void *arg)
{
    struct ilu_live_env *le = ctx;
    struct ilu_timer *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    t->ev = evtimer_new(le->base, timer_fire, t);
    if (!t->ev) {
        free(t);
        return NULL;
    }
    if (delay_us == 0) {
        /* "after the current callback": straight onto the active queue, which
         * the loop drains after the events of this round (requests that came
         * in together still reach the queue policy together), without a
         * timer-heap entry and the extra zero-timeout epoll_wait it costs */
        event_active(t->ev, EV_TIMEOUT, 0);
        return t;
    }
    struct timeval tv = {.tv_sec = (time_t)(delay_us / 1000000), .tv_usec = (suseconds_t)(delay_us % 1000000)};
    evtimer_add(t->ev, &tv);
    return t;
}

static void live_timer_cancel(void *ctx, struct ilu_timer *t)
{
    (void)ctx;
    if (!t)
        return;
    event_free(t->ev);
    free(t);
}

static void live_log_write(void *ctx, int level, const char *line)
{
    (void)level;
    struct ilu_live_env *le = ctx;
    /* whole lines: the I/O loops (http.io_threads) log from their threads */
    if (le->log_to_stderr) /* one write per line: stderr is unbuffered, and fprintf formats it whole first */
        fprintf(stderr, "%s\n", line);
    if (le->log_file) {
        flockfile(le->log_file);
        fputs(line, le->log_file);
        fputc('\n', le->log_file);
        fflush(le->log_file);
        funlockfile(le->log_file);
    }
}

int ilu_live_env_init(struct ilu_live_env *le, struct event_base *base, const char *log_path, int log_to_stderr)
{
    le->base = base;
    le->log_to_stderr = log_to_stderr;
    le->log_file = NULL;
    if (log_path && *log_path && !(le->log_file = fopen(log_path, "a")))
        return -1;
    le->env = (struct ilu_env){.ctx = le,
                               .now_us = live_now_us,
                               .wall_us = live_wall_us,
                               .timer_start = live_timer_start,
                               .timer_cancel = live_timer_cancel,
                               .log_write = live_log_write};
    return 0;
}

void ilu_live_env_close(struct ilu_live_env *le)
{
    if (le->log_file)
        fclose(le->log_file);
    le->log_file = NULL;
}
