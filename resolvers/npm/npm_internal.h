/* Internal to resolvers/npm/: the libcurl multi wrapper (fetch.c). */
#pragma once

#include <strings.h>

#include <curl/curl.h>

#include "corral/npm.h"
#include "corral/strbuf.h"

typedef struct npm_http npm_http;
typedef struct npm_http_req npm_http_req;

/* Called once per finished transfer (success or not); q is freed after.
 * A negative return stops npm_http_step() with that code. */
typedef int (*npm_http_done_fn)(void *userdata, npm_http_req *q, corral_error *err);

struct npm_http_req {
        npm_http *http;
        CURL *h;
        struct curl_slist *headers;
        char *url;
        strbuf body;
        bool too_big;
        char etag[256];
        char last_modified[128];
        /* When set, the body goes here instead of into body (tarballs are
         * streamed to a file); a negative return fails the transfer.  size
         * counts against the cap given to npm_http_get(). */
        int (*sink)(void *item, const char *data, size_t n);
        size_t got;
        long status;
        CURLcode result;
        npm_http_done_fn done;
        void *item;
};

struct npm_http {
        CURLM *multi;
        const npm_config *cfg;
        npm_http_req **reqs;
        size_t n_reqs;
        size_t active;
        void *userdata;
        void (*on_bytes)(void *userdata, size_t n);
};

int npm_http_init(npm_http *h, const npm_config *cfg, corral_error *err);
void npm_http_done(npm_http *h);
/* Starts a GET; accept, etag (If-None-Match) and last_modified
 * (If-Modified-Since) may be NULL; bodies over max bytes fail.  With sink, the
 * body is handed to sink(item, …) as it arrives instead of being collected.
 * The Authorization header goes only to the token's host. */
int npm_http_get(npm_http *h, const char *url, const char *accept, const char *etag,
                 const char *last_modified, size_t max,
                 int (*sink)(void *item, const char *data, size_t n), npm_http_done_fn done,
                 void *item, corral_error *err);
/* Runs transfers, calls done callbacks, waits up to timeout_ms for activity. */
int npm_http_step(npm_http *h, int timeout_ms, corral_error *err);
/* The error for a failed transfer: 404 → EX_NOINPUT, truncation or too big
 * → EX_DATAERR, anything else → EX_UNAVAILABLE. */
int npm_http_error(const npm_http_req *q, const char *what, corral_error *err);
