/* Outgoing HTTP on corral's libuv loop: libcurl's multi socket interface
 * joined to the loop the way curl's docs/examples/multi-uv.c does it
 * (CURLMOPT_SOCKETFUNCTION → uv_poll, CURLMOPT_TIMERFUNCTION → uv_timer,
 * curl_multi_socket_action on readiness).  No call here blocks: DNS goes
 * through curl's resolver (threaded in Debian's build), connects and
 * transfers through the loop.
 *
 * One http_client per loop; any number of requests in flight on it.  Every
 * request ends with exactly one call to its on_done, unless it was cancelled
 * first (http_request_cancel, http_client_free): then never. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "corral/error.h"

typedef struct http_client http_client;
typedef struct http_request http_request;

#define HTTP_BODY_MAX_DEFAULT (1u << 20)     /* bytes kept of a response body */
#define HTTP_HEADERS_MAX_DEFAULT (64u << 10) /* bytes of response header lines */
#define HTTP_TIMEOUT_DEFAULT_MS 30000u
#define HTTP_CONNECT_TIMEOUT_DEFAULT_MS 10000u

/* What on_done sees.  Everything is owned by the request and valid only
 * during the callback. */
typedef struct http_response {
        int result;          /* 0: a response arrived (any status); < 0: -EX_* code */
        const char *error;   /* one line when result < 0 ("timed out after 200 ms", …) */
        long status;         /* HTTP status of the final response, 0 when none */
        char *const *headers; /* "Name: value" lines of the final response, NULL-terminated */
        const char *body;    /* NUL-terminated; "" when streamed or empty */
        size_t body_len;
        int curl_code;       /* the CURLcode when result < 0 (tells DNS from refused), else 0 */
} http_response;

/* Called once when the transfer ends (see result).  The request is freed
 * right after it returns; the callback may start new requests, cancel
 * others and free the client. */
typedef void (*http_done_fn)(void *userdata, const http_response *resp);

/* Streaming body consumer: called per chunk of the final response's body as
 * it arrives, instead of buffering it.  http_request_status() and
 * http_request_header() are valid inside it.  Return 0 to continue, or < 0
 * to stop the transfer: on_done then runs with result -EX_TEMPFAIL and error
 * "stopped by the consumer".  It must not cancel its own request. */
typedef int (*http_data_fn)(void *userdata, http_request *req, const char *data, size_t len);

typedef struct http_request_opts {
        const char *method;          /* NULL: GET, or POST when body is set */
        const char *url;             /* http:// or https:// (for unix_socket, the host is ignored) */
        const char *const *headers;  /* "Name: value", NULL-terminated; may be NULL */
        const char *body;            /* request body or NULL (copied) */
        size_t body_len;
        const char *unix_socket;     /* CURLOPT_UNIX_SOCKET_PATH, or NULL for TCP */
        size_t max_body;             /* cap on the buffered body; 0: HTTP_BODY_MAX_DEFAULT */
        size_t max_headers;          /* cap on header bytes; 0: HTTP_HEADERS_MAX_DEFAULT */
        unsigned timeout_ms;         /* whole transfer; 0: HTTP_TIMEOUT_DEFAULT_MS,
                                      * UINT_MAX: none (long-lived streams) */
        unsigned connect_timeout_ms; /* 0: HTTP_CONNECT_TIMEOUT_DEFAULT_MS */
        unsigned max_redirects;      /* 0: redirects are not followed (the 3xx is the answer) */
        bool https_only;             /* refuse plain http:// (and redirects to it) */
        const char *ca_file;         /* CURLOPT_CAINFO: PEM bundle to trust instead of the
                                      * system's, or NULL */
        http_data_fn on_data;        /* NULL: buffer the body up to max_body */
        http_done_fn on_done;        /* required */
        void *userdata;
} http_request_opts;

/* Creates the client on loop (initialises libcurl on first use).
 * Returns 0 and *ret, or -EX_SOFTWARE with err set when libcurl cannot make
 * a multi handle. */
int http_client_new(uv_loop_t *loop, http_client **ret, corral_error *err);

/* Cancels every request in flight (their on_done never runs) and closes the
 * client's libuv handles; the memory goes when the loop has run their close
 * callbacks.  Safe inside an on_done.  Accepts NULL; returns NULL. */
http_client *http_client_free(http_client *c);

/* Number of requests in flight (tests and `corral status`). */
size_t http_client_pending(const http_client *c);

/* Starts a request; its result comes through o->on_done on a later loop
 * turn, never from inside this call.  Strings in o are copied.
 * *ret (may be NULL) is a handle for http_request_cancel, valid until on_done
 * returns.  Returns 0, or -EX_USAGE (no URL or no on_done, a URL that is not
 * http(s)) / -EX_SOFTWARE (libcurl refused an option) with err set. */
int http_request_start(http_client *c, const http_request_opts *o, http_request **ret,
                       corral_error *err);

/* Stops a request in flight and frees it; its on_done never runs.  Must not
 * be called from that request's own callbacks.  Accepts NULL. */
void http_request_cancel(http_request *r);

/* During on_data: the final response's status, and the value of header name
 * (case-insensitive, first occurrence, NULL when absent). */
long http_request_status(http_request *r);
const char *http_request_header(http_request *r, const char *name);

/* Looks up header name (case-insensitive) in a response: a pointer into
 * resp's storage, leading blanks skipped, or NULL. */
const char *http_response_header(const http_response *resp, const char *name);
