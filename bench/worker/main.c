/* Benchmark of a running worker against the bare agent and the bare runtime.
 *
 *   warm: closed-loop no-op invocations with 1 and 2 clients, each client on
 *         its own keep-alive HTTP connection to POST /invoke, next to the same
 *         number of clients talking the agent protocol straight to the Unix
 *         sockets of the same warm containers. The two sides alternate within
 *         every repetition (order flipped each time) so noise hits both alike.
 *   cold: POST /clean + POST /invoke (client latency of the cold invocation),
 *         next to starting the same bundle by hand with the same OCI runtime
 *         (`<runtime> --root <own root> run --detach`), waiting for the agent
 *         socket and sending one invocation (spawn -> first answer).
 *
 * Usage: bench_worker --state-dir DIR [--host H] [--port P] [--reps N]
 *        [--requests N] [--warmup N] [--cold N] [--json FILE]
 *        [--function-dir DIR] [--runtime-path PATH] [--worker-pid PID] [--no-warm] [--no-cold]
 *        [--functions N]
 * --worker-pid: also report the worker's CPU time per request (schedstat).
 * --functions N (N > 1): also register N distinct copies of the no-op, one warm
 * container each, and measure round-robin invocations over them (warm.c).
 * The worker must use DIR as oci.state_dir (bundles are read from there). */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "bench_worker.h"

static bool find_binary(const char *name, char *out, size_t len)
{
    const char *dirs[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(out, len, "%s/%s", dirs[i], name);
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_worker --state-dir DIR [--host H] [--port P] [--reps N] [--requests N]\n"
                    "       [--warmup N] [--cold N] [--json FILE] [--function-dir DIR] [--runtime-path PATH]\n"
                    "       [--worker-pid PID] [--no-warm] [--no-cold] [--functions N] [--image REF]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},       {"port", 1, 0, 'p'},         {"state-dir", 1, 0, 's'},    {"reps", 1, 0, 'r'},
        {"requests", 1, 0, 'n'},   {"warmup", 1, 0, 'w'},       {"cold", 1, 0, 'c'},         {"json", 1, 0, 'j'},
        {"worker-pid", 1, 0, 'P'}, {"function-dir", 1, 0, 'f'}, {"runtime-path", 1, 0, 'R'}, {"no-warm", 0, 0, 'W'},
        {"no-cold", 0, 0, 'C'},    {"functions", 1, 0, 'F'},    {"image", 1, 0, 'I'},        {0, 0, 0, 0}};
    const char *fdir = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (o) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 's': opt.state_dir = optarg; break;
        case 'r': opt.reps = atoi(optarg); break;
        case 'n': opt.requests = atoi(optarg); break;
        case 'w': opt.warmup = atoi(optarg); break;
        case 'c': opt.cold = atoi(optarg); break;
        case 'j': opt.json_path = optarg; break;
        case 'f': fdir = optarg; break;
        case 'P': opt.worker_pid = atoi(optarg); break;
        case 'R': snprintf(opt.runtime_path, sizeof opt.runtime_path, "%s", optarg); break;
        case 'W': opt.warm_on = false; break;
        case 'C': opt.cold_on = false; break;
        case 'F': opt.functions = atoi(optarg); break;
        case 'I': opt.image = optarg; break;
        default: usage();
        }
    }
    if (!opt.state_dir || opt.reps < 1 || opt.requests < 1 || opt.warmup < 0 || opt.cold < 1 || opt.functions < 1 ||
        opt.functions > MAX_FUNCTIONS || (opt.functions > 1 && opt.functions < MAX_CLIENTS))
        usage();
    if (fdir) {
        if (!realpath(fdir, opt.function_dir))
            die("function dir %s: %s", fdir, strerror(errno));
    } else { /* build/bench/bench_worker -> bench/functions/noop */
        char exe[PATH_MAX], want[PATH_MAX + 64];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n < 0)
            die("readlink /proc/self/exe: %s", strerror(errno));
        exe[n] = '\0';
        snprintf(want, sizeof want, "%s/../../bench/functions/noop", dirname(exe));
        if (!realpath(want, opt.function_dir))
            die("function dir %s: %s (use --function-dir)", want, strerror(errno));
    }
    snprintf(base_url, sizeof base_url, "http://%s:%d", opt.host, opt.port);
    raw_req_len = (size_t)snprintf(raw_req, sizeof raw_req,
                                   "POST /invoke HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                                   "Content-Length: %zu\r\n\r\n%s",
                                   opt.host, opt.port, strlen(invoke_body), invoke_body);

    /* Our by-hand containers' inits get reparented to us: reap them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    snprintf(hand_root, sizeof hand_root, "/tmp/ilu-bench-XXXXXX");
    if (!mkdtemp(hand_root))
        die("mkdtemp: %s", strerror(errno));
    atexit(cleanup_all);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct http ctl;
    http_init(&ctl);
    if (http_req(&ctl, "/status", NULL) != 200)
        die("no worker answers at %s (GET /status)", base_url);
    char runtime[32];
    json_field_str(body_of(&ctl), "runtime", runtime, sizeof runtime);
    if (!opt.runtime_path[0] && !find_binary(runtime[0] ? runtime : "runc", opt.runtime_path, sizeof opt.runtime_path))
        die("cannot find the runtime %s (use --runtime-path)", runtime);
    char body[PATH_MAX + 256];
    const char *image = opt.image ? opt.image : opt.function_dir;
    snprintf(body, sizeof body,
             "{\"function_name\":\"%s\",\"function_version\":\"%s\",\"image_name\":\"%s\",\"memory\":128,\"cpus\":1}",
             FN_NAME, FN_VERSION, image);
    /* an image's first registration includes its one-time unpack (the
     * worker's cache starts empty in bench/run.sh): reported apart */
    uint64_t reg_ns = now_ns();
    long code = http_req(&ctl, "/register", body);
    double register_ms = (double)(now_ns() - reg_ns) / 1e6;
    if (code != 200)
        die("register: HTTP %ld %s", code, body_of(&ctl));
    for (int i = 0; opt.functions > 1 && i < opt.functions; i++) {
        snprintf(body, sizeof body,
                 "{\"function_name\":\"%s-%d\",\"function_version\":\"%s\",\"image_name\":\"%s\",\"memory\":128,"
                 "\"cpus\":1}",
                 FN_NAME, i, FN_VERSION, image);
        if ((code = http_req(&ctl, "/register", body)) != 200)
            die("register %s-%d: HTTP %ld %s", FN_NAME, i, code, body_of(&ctl));
    }

    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_worker %s: worker %s (runtime %s), %ld online CPUs, function %s\n", date, base_url, runtime, ncpu,
           image);
    json_t *root = json_pack("{s:s, s:s, s:s, s:i, s:s, s:f}", "date", date, "worker", base_url, "runtime", runtime,
                             "online_cpus", (int)ncpu, "image", image, "register_ms", register_ms);
    if (opt.image)
        printf("image registered in %.1f ms (the one-time unpack included when the worker's cache was empty)\n",
               register_ms);
    if (opt.functions > 1) {
        printf("many-functions mode: %d functions %s-0..%d, one warm container each\n", opt.functions, FN_NAME,
               opt.functions - 1);
        json_object_set_new(root, "functions", json_integer(opt.functions));
    }
    if (opt.warm_on)
        json_object_set_new(root, "warm", warm_bench(&ctl));
    if (opt.cold_on)
        json_object_set_new(root, "cold", cold_bench(&ctl));
    if (opt.json_path) {
        if (json_dump_file(root, opt.json_path, JSON_INDENT(2)) != 0)
            die("cannot write %s", opt.json_path);
        printf("\nJSON: %s\n", opt.json_path);
    }
    json_decref(root);
    json_decref(template_cfg);
    http_free(&ctl);
    curl_global_cleanup();
    return 0;
}
