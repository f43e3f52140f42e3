/* iluvatar_load_gen: load generation against a live worker or controller
 * (trace, scaling, benchmark) or a simulated one (trace), each run writing a
 * results folder. */
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen/loadgen.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: iluvatar_load_gen [--host H] [--port P (8079; 8078 for a controller)] [--out DIR]\n"
            "                         [--target worker|controller]"
 " [--setup live|simulation]\n"
            "                         [--quiet] [--no-plots] [--token T (default $ILUVATAR_TOKEN)]\n"
            "                         MODE [mode options]\n"
            "modes:\n"
            "  trace     --input trace.csv --metadata meta.csv [--prewarm N]\n"
            "            [--load-type synthetic|functions] [--function-data worker_function_benchmarks.json]\n"
            "            with --setup simulation: [--worker-config worker.json] [--sim-network-us 300]\n"
            "            with --setup simulation --target controller: --workers N [--controller-config c.json]\n"
            "            (a simulated cluster: N workers behind the controller core; --sim-network-us is then\n"
            "            the controller <-> worker round trip)\n"
            "  scaling   --threads-from A --threads-to B --duration SEC [--function-dir DIR] [--memory MB]\n"
            "            [--args-json '{...}']\n"
            "  benchmark --functions-dir DIR [--cold-iters N] [--warm-iters N] [--memory MB]\n"
            "Every run writes DIR/invocations.csv, DIR/summary.json and plots (docs/load_gen.md).\n"
            "--target controller live: the controller serves the worker's API, so every mode runs against it.\n");
}

static int parse_uint(const char *s, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > 1000000)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static void on_sigint(evutil_socket_t sig, short what, void *arg)
{
    fprintf(stderr, "\niluvatar_load_gen: interrupted\n");
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *out = NULL, *target = "worker", *setup = "live";
    unsigned port = 0; /* 0: the target's default, 8079 for a worker, 8078 for a controller */
    int quiet = 0, no_plots = 0;
    const char *token = getenv("ILUVATAR_TOKEN"); /* a controller's auth.client_token */
    static const struct option global[] = {{"host", required_argument, NULL, 'H'},
                                           {"port", required_argument, NULL, 'p'},
                                           {"out", required_argument, NULL, 'o'},
                                           {"target", required_argument, NULL, 't'},
                                           {"setup", required_argument, NULL, 's'},
                                           {"quiet", no_argument, NULL, 'q'},
                                           {"no-plots", no_argument, NULL, 'n'},
                                           {"token", required_argument, NULL, 'k'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
    int opt;
    /* "+": stop at the mode name; its options are parsed below */
    while ((opt = getopt_long(argc, argv, "+H:p:o:t:s:qh", global, NULL)) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p':
            if (parse_uint(optarg, &port) || port == 0 || port > 65535) {
                fprintf(stderr, "iluvatar_load_gen: --port %s is not a port number\n", optarg);
                return 64;
            }
            break;
        case 'o': out = optarg; break;
        case 't': target = optarg; break;
        case 's': setup = optarg; break;
        case 'q': quiet = 1; break;
        case 'n': no_plots = 1; break;
        case 'k': token = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 64;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 64;
    }
    const char *mode = argv[optind];
    if (strcmp(target, "worker") && strcmp(target, "controller")) {
        fprintf(stderr, "iluvatar_load_gen: --target must be worker or controller, not %s\n", target);
        return 64;
    }
    if (strcmp(setup, "live") && strcmp(setup, "simulation")) {
        fprintf(stderr, "iluvatar_load_gen: --setup must be live or simulation, not %s\n", setup);
        return 64;
    }
    if (!port)
        port = strcmp(target, "controller") ? 8079 : 8078;
    if (token && (strlen(token) > 512 || strpbrk(token, "\r\n"))) {
        fprintf(stderr, "iluvatar_load_gen: --token is too long or holds a line break\n");
        return 64;
    }
    lg_http_set_default_bearer(token && *token ? token : NULL);
    char default_out[64];
    if (!out) {
        snprintf(default_out, sizeof default_out, "results/%s", mode);
        out = default_out;
    }

    struct lg_trace_opts trace = {.load_type = "synthetic", .network_us = 300};
    struct lg_scaling_opts scaling = {.memory_mb = 128, .duration_s = 10};
    struct lg_benchmark_opts bench = {.cold_iters = 3, .warm_iters = 10, .memory_mb = 256};
    static const struct option mode_opts[] = {{"input", required_argument, NULL, 'i'},
                                              {"metadata", required_argument, NULL, 'm'},
                                              {"prewarm", required_argument, NULL, 'P'},
                                              {"load-type", required_argument, NULL, 'l'},
                                              {"function-data", required_argument, NULL, 'f'},
                                              {"threads-from", required_argument, NULL, 'a'},
                                              {"threads-to", required_argument, NULL, 'b'},
                                              {"duration", required_argument, NULL, 'd'},
                                              {"function-dir", required_argument, NULL, 'F'},
                                              {"memory", required_argument, NULL, 'M'},
                                              {"args-json", required_argument, NULL, 'A'},
                                              {"functions-dir", required_argument, NULL, 'D'},
                                              {"cold-iters", required_argument, NULL, 'c'},
                                              {"warm-iters", required_argument, NULL, 'w'},
                                              {"worker-config", required_argument, NULL, 'W'},
                                              {"sim-network-us", required_argument, NULL, 'N'},
                                              {"workers", required_argument, NULL, 'K'},
                                              {"controller-config", required_argument, NULL, 'C'},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    optind++;
    unsigned u;
    int workers_given = 0;
    while ((opt = getopt_long(argc, argv, "i:m:l:f:h", mode_opts, NULL)) != -1) {
        int bad = 0;
        switch (opt) {
        case 'i': trace.input = optarg; break;
        case 'm': trace.metadata = optarg; break;
        case 'P': bad = parse_uint(optarg, &trace.prewarm); break;
        case 'l': trace.load_type = optarg; break;
        case 'f': trace.function_data = optarg; break;
        case 'a': bad = parse_uint(optarg, &scaling.threads_from); break;
        case 'b': bad = parse_uint(optarg, &scaling.threads_to); break;
        case 'd': {
            char *end;
            scaling.duration_s = strtod(optarg, &end);
            bad = *end || scaling.duration_s <= 0;
            break;
        }
        case 'F': scaling.function_dir = optarg; break;
        case 'M':
            bad = parse_uint(optarg, &u);
            scaling.memory_mb = bench.memory_mb = u;
            break;
        case 'A': scaling.args_json = optarg; break;
        case 'D': bench.functions_dir = optarg; break;
        case 'c': bad = parse_uint(optarg, &bench.cold_iters); break;
        case 'w': bad = parse_uint(optarg, &bench.warm_iters); break;
        case 'W': trace.worker_config = optarg; break;
        case 'N': bad = parse_uint(optarg, &trace.network_us); break;
        case 'K':
            if (parse_uint(optarg, &trace.workers) || trace.workers == 0 || trace.workers > 1024) {
                fprintf(stderr, "iluvatar_load_gen: --workers must be a number of workers in [1, 1024], not \"%s\"\n",
                        optarg);
                return 64;
            }
            workers_given = 1;
            break;
        case 'C': trace.controller_config = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 64;
        }
        if (bad) {
            fprintf(stderr, "iluvatar_load_gen: bad value \"%s\" for an option of %s\n", optarg, mode);
            return 64;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "iluvatar_load_gen: unexpected argument %s\n", argv[optind]);
        return 64;
    }
    /* a simulated cluster is the only place --workers and --controller-config mean anything */
    int sim_cluster = !strcmp(setup, "simulation") && !strcmp(target, "controller");
    if ((workers_given || trace.controller_config) && !sim_cluster) {
        fprintf(stderr, "iluvatar_load_gen: --workers and --controller-config are for --setup simulation --target "
                        "controller (a live controller has its own config and workers)\n");
        return 64;
    }
    if (sim_cluster && !strcmp(mode, "trace") && !workers_given) {
        fprintf(stderr, "iluvatar_load_gen: --setup simulation --target controller needs --workers N (1-1024)\n");
        return 64;
    }

    /* precise timers: open-loop sends must leave within microseconds of
     * their schedule, not at epoll's millisecond granularity */
    struct event_config *ecfg = event_config_new();
    event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    struct event_base *base = event_base_new_with_config(ecfg);
    event_config_free(ecfg);
    struct lg_ctx ctx;
    lg_ctx_init(&ctx, host, (uint16_t)port, out);
    ctx.base = base;
    ctx.quiet = quiet;
    ctx.no_plots = no_plots;
    ctx.target = target;
    ctx.setup = setup;
    ctx.http = lg_http_new(base, host, (uint16_t)port, 900);
    signal(SIGPIPE, SIG_IGN);
    struct event *sigint = evsignal_new(base, SIGINT, on_sigint, base);
    event_add(sigint, NULL);

    int code;
    if (!strcmp(mode, "trace")) {
        if (!trace.input || !trace.metadata) {
            fprintf(stderr, "iluvatar_load_gen: trace needs --input and --metadata\n");
            code = 64;
        } else {
            code = strcmp(setup, "simulation") ? lg_run_trace(&ctx, &trace)
                   : sim_cluster                ? lg_run_trace_cluster(&ctx, &trace)
                                                : lg_run_trace_simulated(&ctx, &trace);
        }
    } else if (!strcmp(setup, "simulation")) {
        fprintf(stderr, "iluvatar_load_gen: %s has no simulation yet (only trace)\n", mode);
        code = 64;
    } else if (!strcmp(mode, "scaling")) {
        code = lg_run_scaling(&ctx, &scaling);
    } else if (!strcmp(mode, "benchmark")) {
        code = lg_run_benchmark(&ctx, &bench);
    } else {
        fprintf(stderr, "iluvatar_load_gen: unknown mode %s\n", mode);
        usage(stderr);
        code = 64;
    }
    event_free(sigint);
    lg_http_free(ctx.http);
    lg_ctx_free(&ctx);
    event_base_free(base);
    return code;
}
