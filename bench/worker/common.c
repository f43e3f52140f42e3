/* bench_worker: what every phase uses: the options, the clock, dying with
 * cleanup, the libcurl client of the worker's API, the agent protocol
 * spoken straight to a container's socket, and the containers the worker
 * has running. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench_worker.h"

struct bench_opt opt = {.host = "127.0.0.1",
                        .port = 8079,
                        .reps = 5,
                        .requests = 2000,
                        .warmup = 200,
                        .cold = 10,
                        .functions = 1,
                        .warm_on = true,
                        .cold_on = true};

char base_url[256];

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_worker: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cleanup_all();
    exit(1);
}

/* ---- HTTP ---- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t add = size * n;
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + add + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, add);
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

void http_init(struct http *c)
{
    memset(c, 0, sizeof *c);
    c->h = curl_easy_init();
    if (!c->h)
        die("curl_easy_init failed");
    c->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    c->hdrs = curl_slist_append(c->hdrs, "Expect:");
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->body);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 60L);
}

void http_free(struct http *c)
{
    curl_easy_cleanup(c->h);
    curl_slist_free_all(c->hdrs);
    free(c->body.p);
}

/* Returns the HTTP status (0 on transport error); the body is in c->body.p. */
long http_req(struct http *c, const char *path, const char *post)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    if (post) {
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
    } else {
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    }
    c->body.len = 0;
    if (c->body.p)
        c->body.p[0] = '\0';
    if (curl_easy_perform(c->h) != CURLE_OK)
        return 0;
    long code = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

const char *body_of(struct http *c)
{
    return c->body.p ? c->body.p : "";
}

long long json_field_ll(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

void json_field_str(const char *text, const char *key, char *out, size_t len)
{
    out[0] = '\0';
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(text, pat);
    if (!p)
        return;
    p += strlen(pat);
    size_t n = strcspn(p, "\"");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), p);
}

const char invoke_body[] = "{\"function_name\":\"" FN_NAME "\",\"function_version\":\"" FN_VERSION "\"}";

/* ---- agent protocol ---- */

int agent_connect(const char *cid, bool quiet)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/containers/%s/sockets/sock", opt.state_dir, cid) >=
        sizeof sa.sun_path)
        die("socket path of %s too long", cid);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (!quiet)
            fprintf(stderr, "bench_worker: connect %s: %s\n", sa.sun_path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int read_full(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* One invocation with args "{}" (what the worker sends for a missing
 * json_args). Returns 0 when the agent answered with a user_result. */
int agent_invoke(int fd, char *reply, size_t cap)
{
    unsigned char req[16 + 2];
    uint64_t cmd = 1, len = 2; /* little-endian host (x86) */
    memcpy(req, &cmd, 8);
    memcpy(req + 8, &len, 8);
    memcpy(req + 16, "{}", 2);
    if (write(fd, req, sizeof req) != (ssize_t)sizeof req)
        return -1;
    uint64_t rlen;
    if (read_full(fd, &rlen, 8) != 0 || rlen >= cap)
        return -1;
    if (read_full(fd, reply, rlen) != 0)
        return -1;
    reply[rlen] = '\0';
    return strstr(reply, "\"user_result\"") ? 0 : -1;
}

/* Containers with a live agent socket, from the state dir (the benchmark's
 * worker runs only the benchmark's function). */
int list_containers(char ids[][96], int max)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/containers", opt.state_dir);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= 96)
            continue;
        char sp[PATH_MAX + 400];
        snprintf(sp, sizeof sp, "%s/%s/sockets/sock", path, e->d_name);
        if (access(sp, F_OK) == 0)
            snprintf(ids[n++], 96, "%s", e->d_name);
    }
    closedir(d);
    return n;
}
