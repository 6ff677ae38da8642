/* A scripted MCP server for the client-session tests: what the session
 * sends is captured, server output is fed in by hand, on a real libuv loop.
 * Shared by test_mcp_client.c and test_mcp_lifetime.c. */
#pragma once

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/mcp_client.h"

typedef struct fixture fixture;

/* What one request saw. */
typedef struct reply {
        fixture *fx;
        int calls;
        int order; /* completion order, from 1 */
        cJSON *result;
        cJSON *error;
        size_t sent_at_completion;
        int progress_calls;
        cJSON *last_progress;
        uint64_t completed_at; /* loop time */
        /* Re-entrancy hooks run inside the response callback. */
        bool free_client;
        uint64_t cancel_handle;
        bool issue_request;
        uint64_t issued_handle;
} reply;

struct fixture {
        uv_loop_t loop;
        mcp_client *c;
        cJSON *sent; /* array of every message the session wrote */
        bool send_fail;
        bool free_in_send;
        cJSON *notes; /* array of {method, params} */
        char *faults[8];
        size_t nfaults;
        bool free_on_fault;
        bool free_on_notification;
        int completions;
        reply *tick_reply;
        int ticks;
        uv_timer_t ticker;
};

extern bool tearing_down;
extern const mcp_client_ops ops;
void on_reply(void *ud, const cJSON *result, const cJSON *error);
void on_progress(void *ud, const cJSON *params);
void reply_done(reply *r);
void feed(fixture *fx, const char *fmt, ...) _printf_(2, 3);
size_t nsent(fixture *fx);
const cJSON *sent(fixture *fx, size_t i);
int error_code(const reply *r);
const char *error_message(const reply *r);
int setup(void **state);
int teardown(void **state);
const cJSON *find_sent(fixture *fx, const char *method, size_t nth);
