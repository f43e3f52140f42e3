#include "daemon_util.h"

#include "os/clock.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t ilu_random_seed(void)
{
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &seed, sizeof seed) != sizeof seed)
            seed = 0;
        close(fd);
    }
    if (!seed) {
        seed = (uint64_t)getpid() * 2654435761u ^ ilu_os_mono_ns();
    }
    return seed;
}

int ilu_daemon_parse_args(int argc, char **argv, const char *prog, void (*usage)(FILE *out), const char **config_path,
                          int *dump)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"dump-config", no_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    *config_path = NULL;
    *dump = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': *config_path = optarg; break;
        case 'D': *dump = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 64;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument %s\n", prog, argv[optind]);
        return 64;
    }
    return -1;
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
