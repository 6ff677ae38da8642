/* libmicrohttpd on the libuv loop (include/corral/http_server.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corral/http_server.h"
#include "corral/log.h"
#include "corral/macro.h"

struct http_server {
        uv_loop_t *loop;
        struct MHD_Daemon *d;
        uv_poll_t *poll;
        uv_timer_t *timer;
        char *listen;
        uint16_t port;
        bool loopback;
        bool in_run;
};

static void run_mhd(http_server *h);

static void on_timer(uv_timer_t *t)
{
        run_mhd(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
        run_mhd(p->data);
}

/* Runs MHD, then re-arms the timer for what MHD says it needs next. */
static void run_mhd(http_server *h)
{
        MHD_UNSIGNED_LONG_LONG ms = 0;

        if (!h->d || h->in_run)
                return;
        h->in_run = true;
        (void)MHD_run(h->d);
        h->in_run = false;
        if (MHD_get_timeout(h->d, &ms) == MHD_YES)
                uv_timer_start(h->timer, on_timer, ms > 3600000 ? 3600000 : (uint64_t)ms, 0);
        else
                uv_timer_stop(h->timer);
}

void http_server_kick(http_server *h)
{
        if (h && h->d)
                uv_timer_start(h->timer, on_timer, 0, 0);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
        char buf[512];

        vsnprintf(buf, sizeof(buf), fmt, ap);
        buf[strcspn(buf, "\n")] = '\0';
        log_debug("http: %s", buf);
}

int http_server_parse_addr(const char *listen, struct sockaddr_storage *ret_ss)
{
        char host[128];
        const char *colon, *port_s;
        char *end;
        unsigned long port;
        struct sockaddr_storage ss = {0};

        if (!listen)
                return -1;
        if (listen[0] == '[') {
                const char *close = strchr(listen, ']');
                if (!close || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof(host))
                        return -1;
                memcpy(host, listen + 1, (size_t)(close - listen - 1));
                host[close - listen - 1] = '\0';
                port_s = close + 2;
        } else {
                colon = strrchr(listen, ':');
                if (!colon || (size_t)(colon - listen) >= sizeof(host))
                        return -1;
                memcpy(host, listen, (size_t)(colon - listen));
                host[colon - listen] = '\0';
                port_s = colon + 1;
        }
        errno = 0;
        port = strtoul(port_s, &end, 10);
        if (!*port_s || *end || errno || port > 65535)
                return -1;
        if (strcmp(host, "localhost") == 0)
                snprintf(host, sizeof(host), "127.0.0.1");
        if (listen[0] == '[') {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons((uint16_t)port);
                if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
                        return -1;
        } else {
                struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
                s4->sin_family = AF_INET;
                s4->sin_port = htons((uint16_t)port);
                if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
                        return -1;
        }
        *ret_ss = ss;
        return 0;
}

bool http_server_addr_loopback(const struct sockaddr_storage *ss)
{
        if (ss->ss_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static void free_handle(uv_handle_t *handle)
{
        free(handle);
}

int http_server_new(uv_loop_t *loop, const http_server_config *cfg,
                    MHD_AccessHandlerCallback handler, void *handler_cls,
                    MHD_RequestCompletedCallback completed, void *completed_cls, http_server **ret,
                    corral_error *err)
{
        struct sockaddr_storage ss;
        unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
        const union MHD_DaemonInfo *info;
        http_server *h;
        struct MHD_OptionItem opts[12];
        size_t n = 0;
        int fd;

        if (http_server_parse_addr(cfg->listen, &ss) < 0)
                return corral_error_set(err, EX_USAGE,
                                        "invalid listen address '%s': expected HOST:PORT or "
                                        "[V6]:PORT with a numeric address",
                                        cfg->listen ? cfg->listen : "");
        if (ss.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        if (cfg->tls_cert_pem || cfg->tls_key_pem) {
                if (!cfg->tls_cert_pem || !cfg->tls_key_pem)
                        return corral_error_set(err, EX_CONFIG,
                                                "TLS on %s needs both a certificate and a key",
                                                cfg->listen);
                if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
                        return corral_error_set(err, EX_CONFIG,
                                                "TLS on %s: this libmicrohttpd has no TLS support",
                                                cfg->listen);
                flags |= MHD_USE_TLS;
                opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
                                                    (void *)cfg->tls_cert_pem};
                opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
                                                    (void *)cfg->tls_key_pem};
        }
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                            cfg->max_connections ? cfg->max_connections
                                                                 : HTTP_SERVER_DEFAULT_CONNECTIONS,
                                            NULL};
        opts[n++] = (struct MHD_OptionItem){
                MHD_OPTION_CONNECTION_TIMEOUT,
                cfg->idle_timeout_s ? cfg->idle_timeout_s : HTTP_SERVER_DEFAULT_IDLE_S, NULL};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                            (intptr_t)(cfg->max_header_bytes
                                                               ? cfg->max_header_bytes
                                                               : HTTP_SERVER_DEFAULT_HEADER_BYTES),
                                            NULL};
        if (cfg->per_ip_connections)
                opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                                    cfg->per_ip_connections, NULL};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
        if (completed)
                opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
                                                    (intptr_t)completed, completed_cls};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

        h = xcalloc(1, sizeof(*h));
        h->loop = loop;
        h->listen = xstrdup(cfg->listen);
        h->loopback = http_server_addr_loopback(&ss);
        h->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls, MHD_OPTION_ARRAY, opts,
                                MHD_OPTION_END);
        if (!h->d) {
                int e = errno;
                free(h->listen);
                free(h);
                return corral_error_set(err, EX_CANTCREAT, "cannot listen on %s: %s", cfg->listen,
                                        e ? strerror(e) : "libmicrohttpd refused the settings");
        }
        info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
        h->port = info ? info->port : 0;
        info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
        fd = info ? info->epoll_fd : -1;
        h->timer = xcalloc(1, sizeof(*h->timer));
        (void)uv_timer_init(loop, h->timer);
        h->timer->data = h;
        h->poll = xcalloc(1, sizeof(*h->poll));
        if (fd < 0 || uv_poll_init(loop, h->poll, fd) < 0) {
                free(h->poll);
                h->poll = NULL;
                h = http_server_free(h);
                return corral_error_set(err, EX_SOFTWARE, "cannot watch the HTTP server on %s",
                                        cfg->listen);
        }
        h->poll->data = h;
        (void)uv_poll_start(h->poll, UV_READABLE, on_poll);
        run_mhd(h);
        *ret = h;
        return 0;
}

http_server *http_server_free(http_server *h)
{
        if (!h)
                return NULL;
        if (h->poll)
                uv_close((uv_handle_t *)h->poll, free_handle);
        if (h->d) {
                /* Completed callbacks run here, for every open connection. */
                struct MHD_Daemon *d = h->d;
                h->d = NULL;
                MHD_stop_daemon(d);
        }
        if (h->timer)
                uv_close((uv_handle_t *)h->timer, free_handle);
        free(h->listen);
        free(h);
        return NULL;
}

uint16_t http_server_port(const http_server *h)
{
        return h->port;
}

const char *http_server_listen(const http_server *h)
{
        return h->listen;
}

bool http_server_loopback(const http_server *h)
{
        return h->loopback;
}
