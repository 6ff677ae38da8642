/* The MCP client session's internals, shared by its files: client.c (the
 * session, requests), lifecycle.c (initialize, server/discover), list.c (paged lists) and requests.c
 * (requests from the server).  Nothing outside src/mcp/ includes this. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <cJSON.h>
#include <uv.h>

#include "corral/jsonrpc.h"
#include "corral/mcp_client.h"

typedef struct pending pending;
/* Internal completion for requests the session issues on its own behalf
 * (initialize, list pages); NULL means "call cb". */
typedef void (*pending_done)(mcp_client *c, pending *p, const cJSON *result, const cJSON *error);

struct pending {
        pending *prev, *next;
        uint64_t id;
        uint64_t timeout_ms; /* 0 = none */
        uint64_t deadline;   /* loop time in ms, valid when timeout_ms */
        bool cancellable;    /* initialize must never be cancelled (basic/lifecycle) */
        mcp_progress_cb progress;
        pending_done done;
        void *ctx;
        uint64_t init_timeout_ms; /* server/discover: initialize's timeout on fallback */
        unsigned discover_tries;  /* server/discover: this is the Nth */
        mcp_response_cb cb;
        void *ud;
};

struct mcp_client {
        uv_loop_t *loop;
        uv_timer_t *timer; /* separate allocation: it outlives the session until closed */
        uint64_t armed;    /* deadline the timer is set for, UINT64_MAX when idle */
        mcp_client_ops ops;
        void *ud;
        jsonrpc_framer framer;
        pending *head, *tail;
        size_t npending;
        uint64_t next_id;
        unsigned depth; /* public entry points on the stack */
        bool dead;      /* mcp_client_free() was called */
        bool feeding;
        char *version;
        cJSON *capabilities;
        cJSON *server_info;
        char *instructions;
        bool modern; /* a 2026-07-28 server (mcp_client_connect) */
        /* Server-to-client requests (src/mcp/requests.c). */
        mcp_client_requests rq;
        void *rq_ud;
        cJSON *declared; /* capabilities sent in initialize; NULL: the default */
        struct incoming *in_head;
        size_t n_in;
        uint64_t next_in;
};

/* Every public entry point brackets its work with enter/leave; leave returns
 * true when the session was destroyed (mcp_client_free in a callback). */
void mcpc_enter(mcp_client *c);
bool mcpc_leave(mcp_client *c);
/* Frames and writes msg (consumed); -1 when the transport is gone or c is
 * dead.  The owner's send may re-enter: check c->dead afterwards. */
int mcpc_send(mcp_client *c, cJSON *msg);
/* {code, message} (owned). */
cJSON *mcpc_error_object(int code, const char *message);
/* Starts p (filled in) as request `method`, params consumed; p's id, or 0
 * when p was completed at once with an error. */
uint64_t mcpc_start(mcp_client *c, pending *p, const char *method, cJSON *params);
pending *mcpc_pending_new(uint64_t timeout_ms, mcp_progress_cb progress, mcp_response_cb cb,
                          void *ud);
/* A short, printable excerpt of server output for messages (owned):
 * control bytes become '?', and the cut never splits a UTF-8 sequence. */
char *mcpc_snippet(const char *s, size_t n);

/* ---- lifecycle.c ---- */

/* The capabilities corral declares (owned): mcp_client_set_requests()'s,
 * else {roots: {listChanged: false}}. */
cJSON *mcpc_declared_caps(const mcp_client *c);
/* params (consumed; NULL or not an object: a new object) with a 2026-07-28
 * request's _meta filled in; returned, owned. */
cJSON *mcpc_modern_meta(mcp_client *c, cJSON *params);

/* ---- requests.c ---- */

/* A request from the server (not ping): handed to the owner, or answered. */
void mcpc_server_request(mcp_client *c, const cJSON *msg);
/* notifications/cancelled from the server for one of its requests. */
void mcpc_server_cancelled(mcp_client *c, const cJSON *params);
/* The session is going away: the owner hears of every request still open. */
void mcpc_server_requests_drop(mcp_client *c);
