/* An HTTP server on the daemon's libuv loop: libmicrohttpd in external-event
 * mode (DESIGN.md, "Dependencies"; STYLE.md, "One event loop").  MHD's epoll
 * fd (MHD_USE_EPOLL) is watched with a uv_poll, MHD_run() runs when it is
 * readable, and a uv_timer follows MHD_get_timeout() so idle connections
 * time out.  No threads: every MHD callback runs on the loop.  Connections
 * that wait for an answer are suspended (MHD_ALLOW_SUSPEND_RESUME);
 * resuming one wakes MHD through its inter-thread channel, which is part of
 * the same epoll set.
 *
 * Requests are answered by an MHD_AccessHandlerCallback: the HTTP parsing,
 * limits and TLS are libmicrohttpd's (no hand-written parser). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <uv.h>

#include "corral/error.h"

typedef struct http_server http_server;

typedef struct http_server_config {
        /* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080", "[::]:8080" (dual
         * stack), "localhost:8080" (127.0.0.1).  Port 0 picks a free one. */
        const char *listen;
        const char *tls_cert_pem; /* PEM text (not a path); NULL: plain HTTP */
        const char *tls_key_pem;
        unsigned max_connections;    /* 0: HTTP_SERVER_DEFAULT_CONNECTIONS */
        unsigned idle_timeout_s;     /* 0: HTTP_SERVER_DEFAULT_IDLE_S */
        size_t max_header_bytes;     /* per-connection memory for the request
                                      * line and headers; 0: the default */
        unsigned per_ip_connections; /* 0: no per-address cap */
} http_server_config;

#define HTTP_SERVER_DEFAULT_CONNECTIONS 16384u
#define HTTP_SERVER_DEFAULT_IDLE_S 60u
#define HTTP_SERVER_DEFAULT_HEADER_BYTES (32u << 10)

/* Starts listening.  handler answers every request (cls: handler_cls);
 * completed (may be NULL) runs when a request ends, however it ends
 * (MHD_OPTION_NOTIFY_COMPLETED).  0 and *ret (owned), or -EX_USAGE for an
 * unparsable address, -EX_CONFIG when TLS is asked for and MHD has none,
 * -EX_CANTCREAT when it cannot listen (err says why). */
int http_server_new(uv_loop_t *loop, const http_server_config *cfg,
                    MHD_AccessHandlerCallback handler, void *handler_cls,
                    MHD_RequestCompletedCallback completed, void *completed_cls, http_server **ret,
                    corral_error *err);
/* Stops listening and closes every connection (their completed callbacks
 * run now).  Handles are closed, freed on the next loop run.  NULL-safe;
 * returns NULL. */
http_server *http_server_free(http_server *h);
/* The port actually bound (useful with port 0). */
uint16_t http_server_port(const http_server *h);
/* The listen address as given, and whether it is a loopback address. */
const char *http_server_listen(const http_server *h);
bool http_server_loopback(const http_server *h);
/* Runs MHD soon (after a connection was resumed from outside MHD). */
void http_server_kick(http_server *h);

/* Whether a parsed address is in 127.0.0.0/8 or ::1. */
bool http_server_addr_loopback(const struct sockaddr_storage *ss);
/* Parses "HOST:PORT" / "[V6]:PORT" as above into *ret_ss; 0 or -1. */
int http_server_parse_addr(const char *listen, struct sockaddr_storage *ret_ss);
