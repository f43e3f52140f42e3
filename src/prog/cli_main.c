/* iluvatar_worker_cli: one command at a time against a worker's HTTP API
 * (docs/api.md). Flags follow Ilúvatar's CLI (iluvatar_worker_cli/src/args.rs)
 * so its users' scripts keep working; the transport is HTTP+JSON via libcurl
 * and jansson rather than gRPC.
 *
 * Exit codes: 0 success; 1 the worker answered with an error (or success:false);
 * 2 the worker could not be reached or did not answer; 64 bad usage (EX_USAGE);
 * 75 invoke-async-check of an invocation still running (EX_TEMPFAIL, so scripts
 * can poll on it). */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PROG "iluvatar_worker_cli"
#define EXIT_FAIL 1
#define EXIT_UNREACHABLE 2
#define EXIT_USAGE 64
#define EXIT_PENDING 75

static const char usage_text[] =
    "usage: " PROG " [--host H] [--port P] [--tid ID] [--timeout SEC] [--token T] COMMAND [flags]\n"
    "\n"
    "global flags:\n"
    "  --host H          worker address (default 127.0.0.1)\n"
    "  -p, --port P      worker port (default 8079)\n"
    "  --tid ID          transaction id sent as X-Transaction-Id\n"
    "  --timeout SEC     give up on the request after SEC seconds (default: no limit)\n"
    "  --token T         a controller's auth.client_token, sent as Authorization: Bearer\n"
    "                    (default: $ILUVATAR_TOKEN)\n"
    "  -h, --help        this text\n"
    "\n"
    "commands:\n"
    "  ping | status | health | list | clean\n"
    "  register -n NAME -v VERSION -i IMAGE -m MEMORY_MB -c CPUS [--parallel-invokes N]\n"
    "           IMAGE that is an existing directory is sent as its absolute path;\n"
    "           --isolation, --compute and --server are accepted and ignored\n"
    "  invoke -n NAME -v VERSION [-a KEY=VALUE]... [--args-json '{...}']\n"
    "           -a values are strings (as in Ilúvatar); --args-json keeps JSON types,\n"
    "           and -a entries override its keys\n"
    "  invoke-async -n NAME -v VERSION [-a KEY=VALUE]... [--args-json '{...}']\n"
    "  invoke-async-check --cookie COOKIE\n"
    "  prewarm -n NAME -v VERSION   (-m, -c, -i, --compute accepted and ignored)\n"
    "\n"
    "The worker's JSON answer is printed to stdout. Exit status: 0 success, 1 the\n"
    "worker reported an error, 2 worker unreachable, 64 bad usage, 75 async\n"
    "invocation not completed yet.\n";

struct cli_opts {
    const char *host;
    long port;
    const char *tid;
    long timeout_sec;
    const char *token; /* bearer token, NULL: none */
};

/* Bad usage: the reason and the usage text on stderr, exit 64. */
static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage_text);
    return EXIT_USAGE;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* ---- HTTP ---------------------------------------------------------------- */

struct http_answer {
    long status;
    char *body;
    size_t len;
};

static size_t collect_body(char *data, size_t size, size_t nmemb, void *user)
{
    struct http_answer *ans = user;
    size_t n = size * nmemb;
    char *grown = realloc(ans->body, ans->len + n + 1);
    if (!grown)
        return 0; /* makes curl fail with a write error */
    memcpy(grown + ans->len, data, n);
    ans->len += n;
    grown[ans->len] = '\0';
    ans->body = grown;
    return n;
}

/* GET when body is NULL, POST otherwise. Returns 0 or an exit code after
 * printing why the worker could not be talked to. */
static int http_call(const struct cli_opts *o, const char *path, const char *body,
                     struct http_answer *ans)
{
    char url[512];
    /* A bare IPv6 literal needs brackets in a URL. */
    bool v6 = strchr(o->host, ':') && o->host[0] != '[';
    snprintf(url, sizeof url, "http://%s%s%s:%ld%s", v6 ? "[" : "", o->host, v6 ? "]" : "",
             o->port, path);

    CURL *curl = curl_easy_init();
    if (!curl) {
        fprintf(stderr, PROG ": cannot initialise libcurl\n");
        return EXIT_FAIL;
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    char tid_header[300];
    if (o->tid) {
        snprintf(tid_header, sizeof tid_header, "X-Transaction-Id: %s", o->tid);
        headers = curl_slist_append(headers, tid_header);
    }
    char auth_header[600];
    if (o->token && *o->token) {
        snprintf(auth_header, sizeof auth_header, "Authorization: Bearer %s", o->token);
        headers = curl_slist_append(headers, auth_header);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"); /* a worker is never behind the user's proxy */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    if (o->timeout_sec > 0)
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, o->timeout_sec);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, ans);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }

    CURLcode rc = curl_easy_perform(curl);
    int ret = 0;
    if (rc == CURLE_COULDNT_CONNECT) {
        fprintf(stderr, PROG ": cannot connect to the worker at %s:%ld (%s); is iluvatar_worker running?\n",
                o->host, o->port, curl_easy_strerror(rc));
        ret = EXIT_UNREACHABLE;
    } else if (rc != CURLE_OK) {
        fprintf(stderr, PROG ": request to %s failed: %s\n", url, curl_easy_strerror(rc));
        ret = EXIT_UNREACHABLE;
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &ans->status);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return ret;
}

/* First line of s, cut to fit out, so the reason on stderr stays one line. */
static void one_line(const char *s, char *out, size_t cap)
{
    size_t n = strcspn(s, "\r\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Print the answer and turn it into an exit code (see the top comment). */
static int report(const char *what, const struct http_answer *ans)
{
    json_error_t jerr;
    json_t *doc = ans->len ? json_loadb(ans->body, ans->len, 0, &jerr) : NULL;
    if (doc) {
        char *pretty = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (pretty)
            printf("%s\n", pretty);
        free(pretty);
    } else if (ans->len) {
        fwrite(ans->body, 1, ans->len, stdout); /* not JSON: show it as it came */
        if (ans->body[ans->len - 1] != '\n')
            putchar('\n');
    }
    fflush(stdout);

    json_t *success = json_is_object(doc) ? json_object_get(doc, "success") : NULL;
    bool ok_status = ans->status >= 200 && ans->status < 300;
    if (ok_status && !json_is_false(success)) {
        json_decref(doc);
        return 0;
    }

    /* The reason: the error sentence, else the async status, else a generic one. */
    const char *reason = NULL;
    const char *status_text = NULL;
    if (json_is_object(doc)) {
        reason = json_string_value(json_object_get(doc, "error"));
        status_text = json_string_value(json_object_get(doc, "status"));
    }
    int code = EXIT_FAIL;
    if (!reason && ok_status && status_text) {
        reason = status_text; /* "Invocation not completed" */
        code = EXIT_PENDING;
    }
    char line[300];
    one_line(reason ? reason : (ok_status ? "the worker answered success: false"
                                          : (doc ? "no error message" : "answer is not JSON")),
             line, sizeof line);
    if (ok_status)
        fprintf(stderr, PROG ": %s failed: %s\n", what, line);
    else
        fprintf(stderr, PROG ": %s failed: HTTP %ld: %s\n", what, ans->status, line);
    json_decref(doc);
    return code;
}

/* Send one request and report it; body (owned here) may be NULL for GET. */
static int run_request(const struct cli_opts *o, const char *what, const char *path, json_t *body)
{
    char *text = NULL;
    if (body) {
        if (o->tid)
            json_object_set_new(body, "transaction_id", json_string(o->tid));
        text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (!text) {
            fprintf(stderr, PROG ": %s: cannot encode the request\n", what);
            return EXIT_FAIL;
        }
    }
    struct http_answer ans = {0};
    int ret = http_call(o, path, text, &ans);
    if (ret == 0)
        ret = report(what, &ans);
    free(text);
    free(ans.body);
    return ret;
}

/* ---- subcommands ---------------------------------------------------------- */

enum {
    OPT_PARALLEL = 256,
    OPT_ARGS_JSON,
    OPT_COOKIE,
    OPT_IGNORED,
};

/* One option table for every subcommand; each one checks which flags it got,
 * so e.g. `prewarm` can accept and ignore register's flags as Ilúvatar does. */
static const struct option sub_options[] = {
    {"name", required_argument, NULL, 'n'},
    {"version", required_argument, NULL, 'v'},
    {"image", required_argument, NULL, 'i'},
    {"memory", required_argument, NULL, 'm'},
    {"cpu", required_argument, NULL, 'c'},
    {"arguments", required_argument, NULL, 'a'},
    {"parallel-invokes", required_argument, NULL, OPT_PARALLEL},
    {"args-json", required_argument, NULL, OPT_ARGS_JSON},
    {"cookie", required_argument, NULL, OPT_COOKIE},
    {"compute", required_argument, NULL, OPT_IGNORED},
    {"isolation", required_argument, NULL, OPT_IGNORED},
    {"server", required_argument, NULL, OPT_IGNORED},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct sub_flags {
    const char *name, *version, *image, *memory, *cpu, *parallel, *args_json, *cookie;
    json_t *kv_args; /* from -a, string values */
    bool help;
};

static int parse_sub_flags(int argc, char **argv, struct sub_flags *f)
{
    optind = 0; /* GNU getopt: 0 re-initialises the scan; argv[0] is the subcommand */
    int c;
    while ((c = getopt_long(argc, argv, ":n:v:i:m:c:a:h", sub_options, NULL)) != -1) {
        switch (c) {
        case 'n': f->name = optarg; break;
        case 'v': f->version = optarg; break;
        case 'i': f->image = optarg; break;
        case 'm': f->memory = optarg; break;
        case 'c': f->cpu = optarg; break;
        case OPT_PARALLEL: f->parallel = optarg; break;
        case OPT_ARGS_JSON: f->args_json = optarg; break;
        case OPT_COOKIE: f->cookie = optarg; break;
        case OPT_IGNORED: break;
        case 'h': f->help = true; break;
        case 'a': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg)
                return usage_error("-a wants KEY=VALUE, got '%s'", optarg);
            char key[256];
            size_t klen = (size_t)(eq - optarg);
            if (klen >= sizeof key)
                return usage_error("argument name too long: '%s'", optarg);
            memcpy(key, optarg, klen);
            key[klen] = '\0';
            json_object_set_new(f->kv_args, key, json_string(eq + 1));
            break;
        }
        case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return 0;
}

static json_t *function_ref(const struct sub_flags *f)
{
    return json_pack("{s:s, s:s}", "function_name", f->name, "function_version", f->version);
}

static int cmd_register(const struct cli_opts *o, const struct sub_flags *f)
{
    if (!f->name || !f->version || !f->image || !f->memory || !f->cpu)
        return usage_error("%s needs --name, --version, --image, --memory and --cpu", "register");
    long memory, cpus, parallel = 1;
    if (!parse_long(f->memory, 1, INT_MAX, &memory))
        return usage_error("--memory wants a positive number of MB, got '%s'", f->memory);
    if (!parse_long(f->cpu, 1, INT_MAX, &cpus))
        return usage_error("--cpu wants a positive integer, got '%s'", f->cpu);
    if (f->parallel && !parse_long(f->parallel, 1, INT_MAX, &parallel))
        return usage_error("--parallel-invokes wants a positive integer, got '%s'", f->parallel);

    /* The worker resolves nothing relative to the caller's directory, so a
     * function folder goes over as an absolute path. */
    char abs[PATH_MAX];
    const char *image = f->image;
    struct stat st;
    if (stat(image, &st) == 0 && S_ISDIR(st.st_mode) && realpath(image, abs))
        image = abs;

    json_t *body = function_ref(f);
    json_object_set_new(body, "image_name", json_string(image));
    json_object_set_new(body, "memory", json_integer(memory));
    json_object_set_new(body, "cpus", json_integer(cpus));
    json_object_set_new(body, "parallel_invokes", json_integer(parallel));
    return run_request(o, "register", "/register", body);
}

static int cmd_invoke(const struct cli_opts *o, const struct sub_flags *f, bool async)
{
    const char *what = async ? "invoke-async" : "invoke";
    if (!f->name || !f->version)
        return usage_error("%s needs --name and --version", what);
    json_t *args;
    if (f->args_json) {
        json_error_t jerr;
        args = json_loads(f->args_json, 0, &jerr);
        if (!json_is_object(args)) {
            json_decref(args);
            return usage_error("--args-json wants a JSON object, got '%s'", f->args_json);
        }
    } else {
        args = json_object();
    }
    json_object_update(args, f->kv_args);
    /* json_args travels as a string holding JSON, as in Ilúvatar's InvokeRequest. */
    char *args_text = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    if (!args_text) {
        fprintf(stderr, PROG ": %s: cannot encode the arguments\n", what);
        return EXIT_FAIL;
    }
    json_t *body = function_ref(f);
    json_object_set_new(body, "json_args", json_string(args_text));
    free(args_text);
    return run_request(o, what, async ? "/invoke_async" : "/invoke", body);
}

static int run_command(const struct cli_opts *o, int argc, char **argv)
{
    const char *cmd = argv[0];
    static const struct {
        const char *name, *path;
        bool post;
    } simple[] = {
        {"ping", "/ping", false},     {"status", "/status", false}, {"health", "/health", false},
        {"list", "/list", false},     {"clean", "/clean", true},
    };
    struct sub_flags f = {.kv_args = json_object()};
    int ret = parse_sub_flags(argc, argv, &f);
    if (ret)
        goto out;
    if (f.help) {
        printf("%s", usage_text);
        goto out;
    }
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (strcmp(cmd, simple[i].name) == 0) {
            ret = run_request(o, cmd, simple[i].path, simple[i].post ? json_object() : NULL);
            goto out;
        }
    }
    if (strcmp(cmd, "register") == 0) {
        ret = cmd_register(o, &f);
    } else if (strcmp(cmd, "invoke") == 0) {
        ret = cmd_invoke(o, &f, false);
    } else if (strcmp(cmd, "invoke-async") == 0) {
        ret = cmd_invoke(o, &f, true);
    } else if (strcmp(cmd, "invoke-async-check") == 0) {
        if (!f.cookie)
            ret = usage_error("%s needs --cookie", cmd);
        else
            ret = run_request(o, cmd, "/invoke_async_check",
                              json_pack("{s:s}", "lookup_cookie", f.cookie));
    } else if (strcmp(cmd, "prewarm") == 0) {
        if (!f.name || !f.version)
            ret = usage_error("%s needs --name and --version", cmd);
        else
            ret = run_request(o, cmd, "/prewarm", function_ref(&f));
    } else {
        ret = usage_error("unknown command '%s'", cmd);
    }
out:
    json_decref(f.kv_args);
    return ret;
}

int main(int argc, char **argv)
{
    static const struct option global_options[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"tid", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'},
        {"token", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli_opts o = {.host = "127.0.0.1", .port = 8079, .token = getenv("ILUVATAR_TOKEN")};
    int c;
    /* '+' stops at the subcommand so its own flags (-v, -c, ...) are left for it. */
    while ((c = getopt_long(argc, argv, "+:p:h", global_options, NULL)) != -1) {
        switch (c) {
        case 'H': o.host = optarg; break;
        case 'p':
            if (!parse_long(optarg, 1, 65535, &o.port))
                return usage_error("--port wants 1..65535, got '%s'", optarg);
            break;
        case 't': o.tid = optarg; break;
        case 'k':
            if (strlen(optarg) > 512 || strpbrk(optarg, "\r\n"))
                return usage_error("--token '%s' is too long or holds a line break", optarg);
            o.token = optarg;
            break;
        case 'T':
            if (!parse_long(optarg, 0, 86400, &o.timeout_sec))
                return usage_error("--timeout wants seconds (0..86400), got '%s'", optarg);
            break;
        case 'h': printf("%s", usage_text); return 0;
        case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("%s", "no command given");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, PROG ": cannot initialise libcurl\n");
        return EXIT_FAIL;
    }
    int ret = run_command(&o, argc - optind, argv + optind);
    curl_global_cleanup();
    return ret;
}
