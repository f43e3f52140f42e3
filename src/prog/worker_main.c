/* iluvatar_worker: the worker daemon. Thin: reads config, wires the core to
 * libevent (live env, HTTP API, the configured backend) and runs the loop. */
#include <event2/event.h>
#include <limits.h>
#include <event2/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/secrets.h"
#include "backend/registry.h"
#include "os/data_dir.h"
#include "os/random.h"
#include "core/config.h"
#include "worker/gpu_status.h"
#include "worker/queue.h"
#include "worker/worker.h"
#include "os/host_stats.h"
#include "os/spawn.h"
#include "server/http_api.h"
#include "server/daemon_util.h"
#include "server/worker_join.h"

#define SHUTDOWN_GRACE_US (10 * 1000000ULL)

ILU_DAEMON_SPEC(spec, "iluvatar_worker", "ILUVATAR_WORKER", "run functions in containers behind an HTTP API",
                "    iluvatar_worker clean [-c config.json]\n",
                "    Serves the worker API of docs/api.md on address:port: register, invoke (sync and async),\n"
                "    prewarm, status, metrics. Each function runs in its own container (backend oci: runc or\n"
                "    crun, cgroups, namespaces) or in-process (backend simulated). With load_balancer_url set it\n"
                "    joins that controller and sends it heartbeats. Queue and keep-alive policies, limits and\n"
                "    every other key: docs/worker.md, docs/policies.md; `--dump-config` shows them all.\n\n"
                "    clean removes what a killed worker with this config left behind (containers, their\n"
                "    mounts, bundles and cgroups), says what it removed, and exits. It is safe to run again,\n"
                "    and must not run while a worker of that config is running. A worker runs it at start.\n",
                "SIGNALS\n"
                "    SIGINT, SIGTERM\n"
                "        Stop accepting, give running invocations 10 s, remove every container, exit 0.\n\n"
                "FILES\n"
                "    PREFIX/etc/iluvatar/worker.json\n"
                "        The installed config (make install); the services start the worker with it.\n"
                "    PREFIX/share/iluvatar/agent, PREFIX/share/iluvatar/functions\n"
                "        The container agent and the bundled functions, found beside the program\n"
                "        (build/../ in a checkout); functions_dirs \"\" means that folder.\n"
                "    oci.state_dir (default /run/iluvatar)\n"
                "        Bundles, sockets and the runtime's state of the worker's containers.\n\n"
                "EXIT STATUS\n"
                "    0 stopped by a signal, or clean removed everything; 1 a bad config, a failed start, or\n"
                "    leftovers clean could not remove; 64 bad usage.\n\n"
                "SEE ALSO\n"
                "    iluvatar_worker_cli(1), iluvatar_controller(1), iluvatar_load_gen(1), iluvatar-service;\n"
                "    docs/worker.md, docs/api.md, docs/deploy.md (PREFIX/share/iluvatar/docs when installed).\n",
                ilu_config);

/* GET /config shows these as "(set)" */

/* Files shipped with the binaries (os/data_dir.h): the bundled functions. */
static void resolve_beside_binary(const char *rel, char *out, size_t n)
{
    char joined[PATH_MAX * 2];
    ilu_os_data_path(rel, joined, sizeof joined);
    if (!realpath(joined, out))
        out[0] = 0;
}

static void begin_stop(void *ctx)
{
    ilu_worker_begin_shutdown(ctx);
}

static unsigned outstanding(void *ctx)
{
    return ilu_worker_outstanding(ctx);
}

/* The config from the defaults, every backend's section (*sections, the
 * caller's to free), -c FILE and the environment: -1 to go on, else the
 * exit code (--help, --dump-config, a bad config). */
static int load_config(int argc, char **argv, struct ilu_worker_config *cfg, struct ilu_backend_configs **sections)
{
    struct ilu_error err = {0};
    ilu_config_defaults(cfg);
    if (!(*sections = ilu_backend_configs_attach(cfg, &err))) {
        fprintf(stderr, "iluvatar_worker: %s\n", err.msg);
        return 1;
    }
    return ilu_daemon_configure(argc, argv, &spec, cfg);
}

/* `iluvatar_worker clean`: 0 when everything left behind is gone. */
static int clean_main(int argc, char **argv)
{
    struct ilu_worker_config cfg;
    struct ilu_error err = {0};
    ilu_cleanup_backend_configs struct ilu_backend_configs *sections = NULL;
    int code = load_config(argc, argv, &cfg, &sections);
    if (code >= 0)
        return code;
    struct ilu_daemon_loop loop; /* its log: what was removed, on stderr */
    if (ilu_daemon_loop_open(&loop, spec.prog, cfg.name, "", cfg.logging.level, true))
        return 1;
    struct ilu_clean_report rep = {0};
    int rc = ilu_backend_clean(cfg.container_resources.backend, &cfg, sections, &loop.log, &rep, &err);
    ilu_daemon_loop_close(&loop);
    if (rc) {
        fprintf(stderr, "iluvatar_worker: clean: %s\n", err.msg);
        return 1;
    }
    if (!rep.containers && !rep.bundles && !rep.cgroups && !rep.failures)
        printf("clean: nothing left behind\n");
    else
        printf("clean: removed %u containers, %u bundle dirs, %u cgroups; %u could not be removed%s\n", rep.containers,
               rep.bundles, rep.cgroups, rep.failures,
               rep.failures ? " (see the log above; is a worker of this config still running?)" : "");
    return rep.failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "clean"))
        return clean_main(argc - 1, argv + 1);
    struct ilu_worker_config cfg;
    struct ilu_error err = {0};
    /* every backend's section (oci.*), owned by the backends; freed on return,
     * after the worker and the backend that borrow it */
    ilu_cleanup_backend_configs struct ilu_backend_configs *sections = NULL;
    int code = load_config(argc, argv, &cfg, &sections);
    if (code >= 0)
        return code;
    /* queue policy "none" keeps 0: no concurrency limit (worker/queue.h) */
    if (cfg.container_resources.cpu_count == 0 && !ilu_queue_config_unlimited(&cfg)) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg.container_resources.cpu_count = n > 0 ? (uint32_t)n : 1;
    }

    /* I/O loops hand requests to the core loop's base from their threads:
     * libevent must lock its bases (before any is made) */
    if (cfg.http_io_threads && evthread_use_pthreads() != 0) {
        fprintf(stderr, "iluvatar_worker: http.io_threads: libevent has no thread support\n");
        return 1;
    }
    struct ilu_daemon_loop loop;
    if (ilu_daemon_loop_open(&loop, spec.prog, cfg.name, cfg.logging.directory, cfg.logging.level,
                             cfg.logging.stdout_enabled))
        return 1;
    struct event_base *base = loop.base;
    const struct ilu_log *log = &loop.log;

    /* the one reaper of the process: whoever spawns registers its pids */
    struct ilu_reaper *reaper = ilu_reaper_new(base, &err);
    if (!reaper) {
        fprintf(stderr, "iluvatar_worker: %s\n", err.msg);
        return 1;
    }
    struct ilu_backend_host host_env = {.base = base, .reaper = reaper};
    struct ilu_backend *backend =
        ilu_backend_create(cfg.container_resources.backend, &host_env, &cfg, sections, log, &err);
    if (!backend) {
        fprintf(stderr, "iluvatar_worker: backend %s: %s\n", cfg.container_resources.backend, err.msg);
        return 1;
    }
    struct ilu_worker *worker = ilu_worker_new(&cfg, &loop.env.env, backend, log, &err);
    if (!worker) {
        fprintf(stderr, "iluvatar_worker: %s\n", err.msg);
        backend->ops->shutdown(backend);
        backend->ops->free(backend);
        return 1;
    }

    char hello[PATH_MAX];
    resolve_beside_binary("functions/hello", hello, sizeof hello);
    struct ilu_register_req health = {.function_name = ILU_HEALTH_FUNCTION,
                                      .function_version = ILU_HEALTH_VERSION,
                                      .image_name = hello,
                                      .memory_mb = 64,
                                      .cpus = 1,
                                      .system = true};
    if (!hello[0] || ilu_worker_register(worker, &health, "startup", &err))
        ilu_warn(log, "startup", "health function unavailable (/health will answer UNHEALTHY): %s",
                 hello[0] ? err.msg : "functions/hello not found beside the binary");

    /* async results live above the worker, held for async_result_ttl_sec */
    struct ilu_async *async =
        ilu_async_new(worker, &loop.env.env, cfg.name, (uint64_t)cfg.invocation.async_result_ttl_sec * 1000000,
                      (uint64_t)cfg.container_resources.pool_freq_ms * 1000, &err);
    if (!async) {
        fprintf(stderr, "iluvatar_worker: %s\n", err.msg);
        ilu_worker_free(worker);
        backend->ops->shutdown(backend);
        backend->ops->free(backend);
        return 1;
    }
    struct ilu_host_stats host;
    ilu_host_stats_start(&host, base, cfg.status.report_freq_ms);
    /* GPU status every gpu_resource.status_update_freq_ms (0: status.report_freq_ms); NULL without GPUs */
    const struct ilu_gpu_resource_config *gpu_cfg = &cfg.container_resources.gpu_resource;
    struct ilu_gpu_status_timer *gpu_status = ilu_gpu_status_start(
        worker, gpu_cfg->status_update_freq_ms ? gpu_cfg->status_update_freq_ms : cfg.status.report_freq_ms);
    struct ilu_http_api api = {.worker = worker,
                               .backend = backend,
                               .async = async,
                               .log = log,
                               .host = &host,
                               .worker_name = cfg.name,
                               .runtime_name = backend->ops->runtime_name ? backend->ops->runtime_name(backend)
                                                                          : backend->ops->name,
                               .config = ilu_daemon_config_answer(&spec, &cfg, ilu_worker_config_secrets),
                               .max_payload_bytes = cfg.limits.max_payload_bytes,
                               .http_limits = cfg.http};
    struct ilu_graceful_stop stop = {.base = base,
                                     .log = log,
                                     .ctx = worker,
                                     .begin = begin_stop,
                                     .outstanding = outstanding,
                                     .grace_us = SHUTDOWN_GRACE_US};
    int rc = 0;
    if (ilu_http_api_start(&api, base, cfg.address, (uint16_t)cfg.port, cfg.http_io_threads, &err)) {
        fprintf(stderr, "iluvatar_worker: %s\n", err.msg);
        rc = 1;
    } else {
        /* drain running invocations for up to 10 s, then remove the containers */
        ilu_graceful_stop_install(&stop);
        struct ilu_worker_join *join = NULL;
        if (cfg.load_balancer_url[0] && !(join = ilu_worker_join_start(base, &cfg, log, &err)))
            ilu_warn(log, "startup", "not joining the controller: %s", err.msg);
        ilu_log_emit(log, ILU_LOG_INFO, "startup",
                     json_pack("{s:s, s:i, s:s, s:i, s:i}", "address", cfg.address, "port", (int)cfg.port, "runtime",
                               api.runtime_name, "cpu_count", (int)cfg.container_resources.cpu_count, "memory_mb",
                               (int)cfg.container_resources.memory_mb),
                     "worker started");
        event_base_dispatch(base);
        ilu_worker_join_stop(join);
        ilu_http_api_stop(&api);
    }
    ilu_graceful_stop_free(&stop);
    ilu_host_stats_stop(&host);
    ilu_gpu_status_stop(gpu_status);
    json_decref(api.config);
    ilu_worker_free(worker);
    ilu_async_free(async); /* after the worker: it may still have held its entries */
    backend->ops->shutdown(backend);
    backend->ops->free(backend);
    ilu_reaper_free(reaper);
    ilu_info(log, "shutdown", "worker stopped");
    ilu_daemon_loop_close(&loop);
    return rc;
}
