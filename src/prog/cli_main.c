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
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/registration.h"
#include "os/version.h"
#include "prog/cmdline.h"

#define PROG             "iluvatar_worker_cli"
#define EXIT_FAIL        1
#define EXIT_UNREACHABLE 2
#define EXIT_USAGE       64
#define EXIT_PENDING     75

struct cli_opts {
    const char *host;
    long port;
    const char *tid;
    long timeout_sec;
    const char *token; /* bearer token, NULL: none */
};

/* ---- flags: one table; each command names the ones it takes ------------------ */

enum cli_flag_id {
    /* global: before or after the command */
    F_HOST,
    F_PORT,
    F_TID,
    F_TIMEOUT,
    F_TOKEN,
    F_HELP,
    /* the commands' */
    F_NAME,
    F_VERSION,
    F_IMAGE,
    F_MEMORY,
    F_CPU,
    F_ARGUMENTS,
    F_PARALLEL,
    F_ARGS_JSON,
    F_COOKIE,
    F_COMPUTE,
    F_ISOLATION,
    F_SERVER,
    N_FLAGS
};

static const struct ilu_cmdline_opt FLAGS[N_FLAGS] = {
    [F_HOST] = {"host", 0, "H", "worker address (default 127.0.0.1)"},
    [F_PORT] = {"port", 'p', "P", "worker port (default 8079)"},
    [F_TID] = {"tid", 0, "ID", "transaction id sent as X-Transaction-Id"},
    [F_TIMEOUT] = {"timeout", 0, "SEC", "give up on the request after SEC seconds (default: no limit)"},
    [F_TOKEN] = {"token", 0, "T",
                 "a controller's auth.client_token, sent as Authorization: Bearer\n"
                 "                             (default: $ILUVATAR_TOKEN)"},
    [F_HELP] = {"help", 'h', NULL, "this text; after COMMAND, that command's flags"},
    [F_NAME] = {"name", 'n', "NAME", "function name"},
    [F_VERSION] = {"version", 'v', "VERSION", "function version (alone, without a command: this program's)"},
    [F_IMAGE] = {"image", 'i', "IMAGE", "function folder; an existing directory is sent as its absolute path"},
    [F_MEMORY] = {"memory", 'm', "MEMORY_MB", "memory limit in MB"},
    [F_CPU] = {"cpu", 'c', "CPUS", "CPUs"},
    [F_ARGUMENTS] = {"arguments", 'a', "KEY=VALUE", "an argument, a string (as in Ilúvatar); repeatable"},
    [F_PARALLEL] = {"parallel-invokes", 0, "N", "invocations one container runs at once (default 1)"},
    [F_ARGS_JSON] = {"args-json", 0, "'{...}'", "arguments keeping JSON types; -a entries override its keys"},
    [F_COOKIE] = {"cookie", 0, "COOKIE", "the lookup_cookie that invoke-async printed"},
    [F_COMPUTE] = {"compute", 0, "X",
                   "register: what it runs on, CPU, GPU or CPU|GPU, any case (default CPU);\n"
                   "                             prewarm: accepted and ignored"},
    [F_ISOLATION] = {"isolation", 0, "X", "accepted and ignored (Ilúvatar's flag)"},
    [F_SERVER] = {"server", 0, "X", "accepted and ignored (Ilúvatar's flag)"},
};

#define BIT(id)      ILU_CMDLINE_BIT(id)
#define GLOBAL_FLAGS (BIT(F_HELP + 1) - 1) /* F_HOST..F_HELP */

/* What the command line said: per flag its last value ("" for --help); the
 * -a entries gathered in kv_args. */
struct sub_flags {
    const char *val[N_FLAGS];
    json_t *kv_args; /* from -a, string values */
};

struct cli_command;
typedef int (*cli_handler)(const struct cli_opts *o, const struct sub_flags *f, const struct cli_command *cmd);

struct cli_command {
    const char *name;
    const char *summary;  /* one line */
    uint64_t flags;       /* BIT(id) of every flag it takes beyond the global ones */
    const char *synopsis; /* its flags, as in its usage line */
    cli_handler run;
    const char *path; /* the API path */
    bool post;        /* POST, else GET */
};

static int cmd_simple(const struct cli_opts *o, const struct sub_flags *f, const struct cli_command *cmd);
static int cmd_register(const struct cli_opts *o, const struct sub_flags *f, const struct cli_command *cmd);
static int cmd_invoke(const struct cli_opts *o, const struct sub_flags *f, const struct cli_command *cmd);
static int cmd_async_check(const struct cli_opts *o, const struct sub_flags *f, const struct cli_command *cmd);
static int cmd_prewarm(const struct cli_opts *o, const struct sub_flags *f, const struct cli_command *cmd);

#define INVOKE_FLAGS    (BIT(F_NAME) | BIT(F_VERSION) | BIT(F_ARGUMENTS) | BIT(F_ARGS_JSON))
#define INVOKE_SYNOPSIS "-n NAME -v VERSION [-a KEY=VALUE]... [--args-json '{...}']"

static const struct cli_command COMMANDS[] = {
    {"ping", "is the worker up", 0, "", cmd_simple, "/ping", false},
    {"status", "the worker's load and resources", 0, "", cmd_simple, "/status", false},
    {"health", "the worker's health check", 0, "", cmd_simple, "/health", false},
    {"list", "the registered functions", 0, "", cmd_simple, "/list", false},
    {"clean", "remove the idle containers", 0, "", cmd_simple, "/clean", true},
    {"register", "register a function (--isolation and --server are accepted and ignored)",
     BIT(F_NAME) | BIT(F_VERSION) | BIT(F_IMAGE) | BIT(F_MEMORY) | BIT(F_CPU) | BIT(F_PARALLEL) | BIT(F_COMPUTE) |
         BIT(F_ISOLATION) | BIT(F_SERVER),
     "-n NAME -v VERSION -i IMAGE -m MEMORY_MB -c CPUS [--parallel-invokes N] [--compute X]", cmd_register, "/register",
     true},
    {"invoke", "invoke a function and print its answer", INVOKE_FLAGS, INVOKE_SYNOPSIS, cmd_invoke, "/invoke", true},
    {"invoke-async", "invoke a function without waiting; prints a lookup_cookie", INVOKE_FLAGS, INVOKE_SYNOPSIS,
     cmd_invoke, "/invoke_async", true},
    {"invoke-async-check", "the result of an async invocation (exit 75 while it runs)", BIT(F_COOKIE),
     "--cookie COOKIE", cmd_async_check, "/invoke_async_check", true},
    {"prewarm", "start a container for a function (-m, -c, -i, --compute accepted and ignored)",
     BIT(F_NAME) | BIT(F_VERSION) | BIT(F_MEMORY) | BIT(F_CPU) | BIT(F_IMAGE) | BIT(F_COMPUTE), "-n NAME -v VERSION",
     cmd_prewarm, "/prewarm", true},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static const struct ilu_cmdline_spec CMDLINE = {
    .noun = "a flag",
    .opts = FLAGS,
    .n_opts = N_FLAGS,
    .global_opts = GLOBAL_FLAGS,
    .cmds = COMMANDS,
    .n_cmds = N_COMMANDS,
    .cmd_size = sizeof COMMANDS[0],
    .name_at = offsetof(struct cli_command, name),
    .opts_at = offsetof(struct cli_command, flags),
};

static const char EXIT_NOTE[] = "The worker's JSON answer is printed to stdout. Exit status: 0 success, 1 the\n"
                                "worker reported an error, 2 worker unreachable, 64 bad usage, 75 async\n"
                                "invocation not completed yet.\n";

static const char VERSION_NOTE[] =
    "--version after a command is the function's version (register -n f --version 1 ...), as in\n"
    "Ilúvatar's CLI; alone, without a command or a value, it prints this program's version.\n";

static void print_flags(FILE *out, uint64_t set)
{
    ilu_cmdline_print_opts(out, &CMDLINE, set, 2, 26);
}

/* The whole program's help, from the tables. */
static void usage(FILE *out)
{
    fprintf(out, "usage: " PROG " [global flags] COMMAND [flags]\n"
                 "       " PROG " COMMAND --help   (one command's flags)\n"
                 "\nglobal flags (before or after COMMAND):\n");
    print_flags(out, GLOBAL_FLAGS);
    fprintf(out, "\ncommands:\n");
    for (size_t c = 0; c < N_COMMANDS; c++) {
        const struct cli_command *cmd = &COMMANDS[c];
        fprintf(out, "  %-19s %s\n", cmd->name, cmd->summary);
        if (*cmd->synopsis)
            fprintf(out, "  %-19s %s %s\n", "", cmd->name, cmd->synopsis);
    }
    fprintf(out, "\n%s\n%s", EXIT_NOTE, VERSION_NOTE);
}

static void command_usage(FILE *out, const struct cli_command *cmd)
{
    fprintf(out, "usage: " PROG " [global flags] %s%s%s\n%s\n", cmd->name, *cmd->synopsis ? " " : "", cmd->synopsis,
            cmd->summary);
    if (cmd->flags) {
        fprintf(out, "\nflags:\n");
        print_flags(out, cmd->flags);
    }
    fprintf(out, "\nglobal flags (before or after %s): see " PROG " --help\n\n%s", cmd->name, EXIT_NOTE);
}

/* Bad usage: the reason and the usage text (the command's when known) on
 * stderr, exit 64. */
static int usage_error_of(const struct cli_command *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n");
    if (cmd)
        command_usage(stderr, cmd);
    else
        usage(stderr);
    return EXIT_USAGE;
}

static int usage_error(const char *fmt, const char *arg)
{
    return usage_error_of(NULL, fmt, arg);
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
static int http_call(const struct cli_opts *o, const char *path, const char *body, struct http_answer *ans)
{
    char url[512];
    /* A bare IPv6 literal needs brackets in a URL. */
    bool v6 = strchr(o->host, ':') && o->host[0] != '[';
    snprintf(url, sizeof url, "http://%s%s%s:%ld%s", v6 ? "[" : "", o->host, v6 ? "]" : "", o->port, path);

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
        fprintf(stderr, PROG ": cannot connect to the worker at %s:%ld (%s); is iluvatar_worker running?\n", o->host,
                o->port, curl_easy_strerror(rc));
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
    one_line(
        reason ? reason
               : (ok_status ? "the worker answered success: false" : (doc ? "no error message" : "answer is not JSON")),
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

/* ---- commands ------------------------------------------------------------ */

static json_t *function_ref(const struct sub_flags *f)
{
    return json_pack("{s:s, s:s}", "function_name", f->val[F_NAME], "function_version", f->val[F_VERSION]);
}

static int cmd_simple(const struct cli_opts *o, const struct sub_flags *f, const struct cli_command *cmd)
{
    return run_request(o, cmd->name, cmd->path, cmd->post ? json_object() : NULL);
}

static int cmd_register(const struct cli_opts *o, const struct sub_flags *f, const struct cli_command *cmd)
{
    const char *const *v = f->val;
    if (!v[F_NAME] || !v[F_VERSION] || !v[F_IMAGE] || !v[F_MEMORY] || !v[F_CPU])
        return usage_error_of(cmd, "%s needs --name, --version, --image, --memory and --cpu", cmd->name);
    long memory, cpus, parallel = 1;
    if (!parse_long(v[F_MEMORY], 1, INT_MAX, &memory))
        return usage_error_of(cmd, "--memory wants a positive number of MB, got '%s'", v[F_MEMORY]);
    if (!parse_long(v[F_CPU], 1, INT_MAX, &cpus))
        return usage_error_of(cmd, "--cpu wants a positive integer, got '%s'", v[F_CPU]);
    if (v[F_PARALLEL] && !parse_long(v[F_PARALLEL], 1, INT_MAX, &parallel))
        return usage_error_of(cmd, "--parallel-invokes wants a positive integer, got '%s'", v[F_PARALLEL]);
    uint32_t compute = ILU_COMPUTE_CPU;
    if (v[F_COMPUTE] && ilu_compute_parse(v[F_COMPUTE], &compute, NULL))
        return usage_error_of(cmd, "--compute wants CPU, GPU or CPU|GPU, got '%s'", v[F_COMPUTE]);

    /* The worker resolves nothing relative to the caller's directory, so a
     * function folder goes over as an absolute path. */
    char abs[PATH_MAX];
    const char *image = v[F_IMAGE];
    struct stat st;
    if (stat(image, &st) == 0 && S_ISDIR(st.st_mode) && realpath(image, abs))
        image = abs;

    json_t *body = function_ref(f);
    json_object_set_new(body, "image_name", json_string(image));
    json_object_set_new(body, "memory", json_integer(memory));
    json_object_set_new(body, "cpus", json_integer(cpus));
    json_object_set_new(body, "parallel_invokes", json_integer(parallel));
    if (v[F_COMPUTE]) /* the worker's default otherwise, as before the flag was read */
        json_object_set_new(body, "compute", json_string(ilu_compute_name(compute)));
    return run_request(o, cmd->name, cmd->path, body);
}

static int cmd_invoke(const struct cli_opts *o, const struct sub_flags *f, const struct cli_command *cmd)
{
    const char *what = cmd->name;
    if (!f->val[F_NAME] || !f->val[F_VERSION])
        return usage_error_of(cmd, "%s needs --name and --version", what);
    json_t *args;
    const char *args_json = f->val[F_ARGS_JSON];
    if (args_json) {
        json_error_t jerr;
        args = json_loads(args_json, 0, &jerr);
        if (!json_is_object(args)) {
            json_decref(args);
            return usage_error_of(cmd, "--args-json wants a JSON object, got '%s'", args_json);
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
    return run_request(o, what, cmd->path, body);
}

static int cmd_async_check(const struct cli_opts *o, const struct sub_flags *f, const struct cli_command *cmd)
{
    if (!f->val[F_COOKIE])
        return usage_error_of(cmd, "%s needs --cookie", cmd->name);
    return run_request(o, cmd->name, cmd->path, json_pack("{s:s}", "lookup_cookie", f->val[F_COOKIE]));
}

static int cmd_prewarm(const struct cli_opts *o, const struct sub_flags *f, const struct cli_command *cmd)
{
    if (!f->val[F_NAME] || !f->val[F_VERSION])
        return usage_error_of(cmd, "%s needs --name and --version", cmd->name);
    return run_request(o, cmd->name, cmd->path, function_ref(f));
}

/* ---- the command line ---------------------------------------------------- */

/* Each -a KEY=VALUE into kv_args as it comes (the flag repeats); 0 or the exit code. */
static int on_flag(void *arg, int id, const char *value)
{
    struct sub_flags *f = arg;
    if (id != F_ARGUMENTS)
        return 0;
    const char *eq = strchr(value, '=');
    if (!eq || eq == value)
        return usage_error("-a wants KEY=VALUE, got '%s'", value);
    char key[256];
    size_t klen = (size_t)(eq - value);
    if (klen >= sizeof key)
        return usage_error("argument name too long: '%s'", value);
    memcpy(key, value, klen);
    key[klen] = '\0';
    json_object_set_new(f->kv_args, key, json_string(eq + 1));
    return 0;
}

/* One pass over argv, flags on either side of the command: fills f and *cmd.
 * 0, -1 for --help or the program's --version (printed), or the exit code. */
static int parse_cmdline(int argc, char **argv, struct sub_flags *f, const struct cli_command **cmd)
{
    struct ilu_cmdline_parsed p;
    int ret = ilu_cmdline_parse(&CMDLINE, argc, argv, f->val, on_flag, f, &p);
    if (ret)
        return ret;
    /* --version is the function's version flag; given last without its
     * value and without a command, it asks for this program's */
    if (!p.name && p.error == ':' && !strcmp(p.error_opt, "--version")) {
        ilu_version_print(stdout, PROG);
        return -1;
    }
    if (p.error)
        return usage_error(p.error == ':' ? "option '%s' needs a value" : "unknown option '%s'", p.error_opt);
    *cmd = p.cmd >= 0 ? &COMMANDS[p.cmd] : NULL;
    if (f->val[F_HELP] && (!p.name || *cmd)) {
        if (*cmd)
            command_usage(stdout, *cmd);
        else
            usage(stdout);
        return -1;
    }
    if (!p.name)
        return usage_error("%s", "no command given");
    if (!*cmd)
        return usage_error("unknown command '%s'", p.name);
    if (p.extra)
        return usage_error_of(*cmd, "unexpected argument '%s'", p.extra);
    char why[320];
    if (ilu_cmdline_stray_opt(&CMDLINE, (size_t)p.cmd, f->val, why, sizeof why) >= 0)
        return usage_error_of(*cmd, "%s", why);
    return 0;
}

int main(int argc, char **argv)
{
    struct sub_flags f = {.kv_args = json_object()};
    const struct cli_command *cmd = NULL;
    int ret = parse_cmdline(argc, argv, &f, &cmd);
    if (ret) {
        json_decref(f.kv_args);
        return ret < 0 ? 0 : ret;
    }
    struct cli_opts o = {.host = "127.0.0.1", .port = 8079, .token = getenv("ILUVATAR_TOKEN")};
    if (f.val[F_HOST])
        o.host = f.val[F_HOST];
    o.tid = f.val[F_TID];
    if (f.val[F_PORT] && !parse_long(f.val[F_PORT], 1, 65535, &o.port))
        ret = usage_error("--port wants 1..65535, got '%s'", f.val[F_PORT]);
    else if (f.val[F_TOKEN] && (strlen(f.val[F_TOKEN]) > 512 || strpbrk(f.val[F_TOKEN], "\r\n")))
        ret = usage_error("--token '%s' is too long or holds a line break", f.val[F_TOKEN]);
    else if (f.val[F_TIMEOUT] && !parse_long(f.val[F_TIMEOUT], 0, 86400, &o.timeout_sec))
        ret = usage_error("--timeout wants seconds (0..86400), got '%s'", f.val[F_TIMEOUT]);
    if (ret) {
        json_decref(f.kv_args);
        return ret;
    }
    if (f.val[F_TOKEN])
        o.token = f.val[F_TOKEN];
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, PROG ": cannot initialise libcurl\n");
        json_decref(f.kv_args);
        return EXIT_FAIL;
    }
    ret = cmd->run(&o, &f, cmd);
    curl_global_cleanup();
    json_decref(f.kv_args);
    return ret;
}
