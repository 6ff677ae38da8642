/* One outgoing HTTP request, waited for: the CLI's way to use
 * http_client (corral/http_client.h), which needs a libuv loop the CLI does
 * not run.  http_fetch_blocking() makes a private loop and client, runs the
 * request to its end and tears both down.  Never call it on a thread whose
 * loop is running (the daemon): it blocks for up to the request's timeout. */
#pragma once

#include <stddef.h>

#include "corral/error.h"
#include "corral/http_client.h"

/* What came back (all owned; free with http_fetch_result_done). */
typedef struct http_fetch_result {
        long status;    /* HTTP status of the final response */
        char **headers; /* "Name: value" lines of the final response, NULL-terminated */
        char *body;     /* NUL-terminated; "" when o->on_data took the body */
        size_t body_len;
} http_fetch_result;

/* Runs request o (as http_request_start takes it; o->on_done is ignored,
 * o->on_data and o->userdata work as documented there) to its end.
 * Returns 0 when a response arrived (any status: the caller judges it) with
 * *ret filled; -EX_UNAVAILABLE when none did ("URL: timed out after …",
 * refused, DNS, the body past o->max_body, on_data stopping it: err says which
 * as http_response.error does); -EX_USAGE/-EX_SOFTWARE as http_request_start;
 * -EX_OSERR when no loop could be made.  On failure *ret is left empty. */
int http_fetch_blocking(const http_request_opts *o, http_fetch_result *ret, corral_error *err);

/* Frees what *r owns and empties it.  Accepts an empty result. */
void http_fetch_result_done(http_fetch_result *r);

/* The value of header name (case-insensitive, leading blanks skipped) in
 * r's headers: a pointer into r, or NULL. */
const char *http_fetch_header(const http_fetch_result *r, const char *name);
