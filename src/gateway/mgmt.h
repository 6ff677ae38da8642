/* The gateway's own tools (issue 15, include/corral/mgmt.h), shared by
 * mgmt.c (the tool table, lists, list/status) and mgmt_ops.c (the tools
 * that change things: verbs run by the daemon, confirmation through
 * elicitation, progress). */
#pragma once

#include "corral/manifest.h"
#include "corral/mgmt.h"
#include "gateway/internal.h"

#define MGMT_READY_WAIT_MS 30000 /* an enabled server's start, reported in the result */
#define MGMT_POLL_MS 100
#define MGMT_MAX_OPS 64 /* management calls in flight, per gateway */

enum mgmt_tool {
        MT_LIST,
        MT_STATUS,
        MT_INSTALL,
        MT_UNINSTALL,
        MT_ENABLE,
        MT_DISABLE,
        MT_RESTART,
        MT_AUTH_START,
        MT_AUTH_COMPLETE,
        MT_AUTH_STATUS,
        MT_COUNT
};

typedef struct mgmt_op mgmt_op;

struct gw_mgmt {
        const mgmt_backend *backend;
        void *ud;
        mgmt_settings settings;
        cJSON *all_tools; /* every tool's tools/list entry, in enum order (owned) */
        mgmt_op *ops;                  /* calls in flight */
        size_t n_ops;
};

/* One management call in flight (mgmt_ops.c). */
struct mgmt_op {
        gateway *gw;
        uint64_t session; /* gateway_session_serial() of the caller */
        cJSON *id;
        cJSON *progress_token; /* NULL: no progress asked */
        bool modern;           /* a 2026-07-28 request: no server requests */
        enum mgmt_tool tool;
        char *name; /* the server */
        void *job;  /* the verb running, NULL when none */
        uv_timer_t *timer;
        uint64_t deadline;
        double progress;
        bool elicit_open;
        const char *confirmation;
        cJSON *summary; /* what was installed or is enabled */
        mgmt_op *prev, *next;
};

/* Answers a management call with structuredContent (consumed) and the same
 * JSON as text. */
void mgmt_reply(gateway_session *s, const cJSON *id, bool modern, cJSON *take_structured);
/* Answers with isError and one line of text. */
void mgmt_reply_error(gateway_session *s, const cJSON *id, bool modern, const char *fmt, ...)
        _printf_(4, 5);
/* The server summary of corral__list for manifest m and unit u (may be NULL). */
cJSON *mgmt_server_summary(const manifest *m, const unit *u);
/* The unit name names for s: visible to it (owner, level), else NULL. */
unit *mgmt_find(gateway_session *s, const char *name);

/* mgmt_ops.c: the tools that run verbs; params are the tools/call's. */
void mgmt_run(gateway_session *s, const cJSON *id, enum mgmt_tool tool, const cJSON *params);
void mgmt_ops_free_all(gateway *gw);
/* The client cancelled request_id: the call is dropped unanswered (a verb
 * already running finishes; nothing is enabled).  false when not ours. */
bool mgmt_ops_cancel(gateway_session *s, const cJSON *request_id);
/* s is going away: its calls are dropped. */
void mgmt_ops_session_gone(gateway_session *s);
