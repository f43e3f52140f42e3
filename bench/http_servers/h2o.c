/* bench/http_servers.sh: libh2o's HTTP/1 server on its own event loop
 * (libh2o-evloop: h2o_evloop_t, h2o_accept, one handler on /invoke that
 * answers POST with h2o_send_inline of a fixed JSON body; anything else gets
 * h2o's 404). Usage: h2o PORT (127.0.0.1). Prints only errors. Not product
 * code: not built by the top-level Makefile (h2o is not a project dependency). */
#define H2O_USE_LIBUV 0

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>
#include <h2o/http1.h>

#define BODY "{\"success\":true,\"user_result\":\"{}\"}"

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;

static int on_invoke(h2o_handler_t *self, h2o_req_t *req)
{
    /* h2o has buffered the whole request body (req->entity) by now */
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) ||
        !h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/invoke")))
        return -1;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = sizeof BODY - 1; /* else h2o answers chunked */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, H2O_STRLIT(BODY));
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock)
        h2o_accept(&accept_ctx, sock);
}

static int listen_on(h2o_evloop_t *loop, uint16_t port)
{
    struct sockaddr_in addr = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) || bind(fd, (struct sockaddr *)&addr, sizeof addr) ||
        listen(fd, SOMAXCONN)) {
        close(fd);
        return -1;
    }
    h2o_socket_t *sock = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(sock, on_accept);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    h2o_config_init(&config);
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/invoke", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof *handler);
    handler->on_req = on_invoke;

    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_context_init(&ctx, loop, &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;
    if (listen_on(loop, (uint16_t)atoi(argv[1]))) {
        perror("h2o: cannot listen on 127.0.0.1");
        return 1;
    }
    while (h2o_evloop_run(loop, INT32_MAX) == 0)
        ;
    return 0;
}
