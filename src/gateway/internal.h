/* The gateway's routing core, shared by its own files (src/gateway/): the
 * core (core.c: gateway object, sessions, framing, supervisor events), the
 * MCP method handlers (methods.c) and the transport adapters (unix.c,
 * stdio.c, and the HTTP adapter), which only use what
 * include/corral/gateway.h offers plus the adapter list below. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>
#include <uv.h>

#include "corral/gateway.h"
#include "corral/jsonrpc.h"
#include "corral/mcp_client.h"
#include "gateway/names.h"

#define GW_MAX_INFLIGHT 1024      /* forwarded requests per session */
#define GW_MAX_SUBSCRIPTIONS 1024 /* resources/subscribe per session */
#define GW_MAX_TIMEOUT_MS (24ull * 3600 * 1000)
/* For this long after the gateway starts, initialize waits for units still on
 * their first start; after that it answers at once. */
#define GW_INIT_WAIT_MS 10000
#define GW_BACKLOG_MAX (16u << 20)          /* bytes held while initialize is pending */
#define META_TIMEOUT_KEY "corral/timeoutMs" /* _meta key: per-request timeout */
#define GW_LOG_LEVELS 8                     /* debug … emergency */

typedef struct gw_call gw_call;
/* Kinds of server requests, counted apart when routing (upstream.c). */
enum { GW_S2C_SAMPLING, GW_S2C_ELICITATION, GW_S2C_ROOTS, GW_S2C_OTHER, GW_S2C_KINDS };
typedef struct gw_s2c gw_s2c;
typedef struct gw_mrtr gw_mrtr;
typedef struct gw_listen gw_listen;
typedef struct gw_hint gw_hint;
typedef struct gw_usub gw_usub;
typedef struct gw_mgmt gw_mgmt;
typedef struct gw_upark gw_upark;
#define GW_MAX_UPARKS 1024 /* requests waiting for users' sessions to open (usessions.c) */

/* A transport adapter attached to a gateway: freed (closing its handles)
 * when the gateway is freed, before the sessions are detached. */
typedef struct gw_adapter gw_adapter;
struct gw_adapter {
        void (*free)(gw_adapter *a);
        gw_adapter *prev, *next;
};

struct gateway {
        uv_loop_t *loop;
        supervisor *sv;
        bool system_mode;
        const struct users_site *site; /* admins, owners (issue 15); borrowed, may be NULL */
        const struct tool_policy *tools; /* allow/deny lists (issue 15); borrowed, may be NULL */
        gateway_call_observer observer;  /* finished tools/call records (issue 15) */
        bool observer_args;              /* ... with their arguments */
        struct limiter *limiter;         /* rate limits (issue 15, limits.c); may be NULL */
        char *(*metrics_render)(void *ud); /* /metrics (issue 15); NULL: none */
        void *metrics_ud;
        void *observer_ud;
        uint64_t timeout_ms;
        uint64_t init_deadline; /* loop time (ms) after which initialize never waits */
        size_t page_size;

        gateway_session *sessions;
        gw_adapter *adapters;

        gw_owners *owners;
        bool owners_dirty;

        unsigned changed;         /* unit_lists bits waiting for notify_timer */
        uv_timer_t *notify_timer; /* deferred work: list_changed (coalesced within a
                                   * loop turn) and replaying held messages */
        uv_timer_t *init_timer;   /* bounds deferred initialize answers */
        int upstream_level;       /* logging/setLevel sent to units; -1 none */
        uint64_t call_seq;        /* orders forwarded calls (oldest first) */
        uint64_t session_seq;     /* last session serial handed out */
        gw_hint *hints;           /* server → the session that last talked to it */
        gw_mrtr *mrtrs;           /* 2026-07-28 calls waiting for their retry (modern.c) */
        cJSON *unlisted;          /* server → its answer to an unlisted tool (unlisted.c) */
        size_t n_mrtrs;
        gw_usub *usubs;           /* listen streams for 2026-07-28 units' resources (usubs.c) */
        struct gw_tfetch *tfetches; /* task results being fetched for listens (tasks_ext.c) */
        struct gw_tinput *tinputs;  /* tasks whose input 2026 clients are asked (tasks_ext.c) */
        gw_mgmt *mgmt;            /* the gateway's own tools (mgmt.c); NULL: none */
        gw_upark *uparks;         /* requests waiting for a user's session (usessions.c) */
        size_t n_uparks;
};

struct gateway_session {
        gateway *gw; /* NULL once the gateway is gone */
        const gateway_session_ops *ops;
        void *ud;
        bool control;
        corral_level level; /* the caller's effective level */
        int64_t uid;        /* -1 unknown */
        char *user;         /* NULL anonymous; a unix peer's passwd name */
        bool admin;         /* root or the site's admin group, or not a system store */
        uint64_t serial;    /* gateway_session_serial() */
        const char *iface;  /* "unix", "stdio", "http" (static) */
        char *scope;        /* one server passed through; NULL = aggregate */
        bool initialized;   /* initialize answered */
        bool init_pending;  /* initialize waiting for units to settle */
        cJSON *init_id;
        char *init_version;
        bool eof;      /* the client will send nothing more */
        bool drained;  /* on_drained already called */
        int log_level; /* logging/setLevel index; -1 = not set */
        jsonrpc_framer framer;
        uint64_t n_messages; /* complete lines received (a transport's first-message deadline) */
        cJSON *backlog; /* messages received while initialize was pending */
        size_t backlog_bytes;
        gw_call *calls;
        size_t n_calls;
        char **subs; /* resources/subscribe URIs */
        size_t n_subs;
        cJSON *client_caps; /* initialize params.capabilities; NULL: none */
        gw_s2c *s2c;        /* server requests sent to this client, awaiting its answer */
        bool modern_only;   /* every request is 2026-07-28 (a sessionless HTTP POST) */
        const char *cur_method; /* the 2026-07-28 request being handled, else NULL */
        bool ladder; /* the last 2026-07-28 answer was a protocol-level refusal
                      * (HTTP maps its code to a status) */
        bool ext_update; /* the tasks/update being forwarded (tasks_ext.c) */
        gw_listen *listens; /* open subscriptions/listen streams */
        size_t n_listens;
        size_t n_s2c;
        uint64_t next_s2c_id;
        unsigned n_mgmt; /* management tool calls in flight (mgmt_ops.c) */
        unsigned n_uwait; /* requests parked for a user's session (usessions.c) */
        /* Transport hook: called once after eof when nothing is in flight. */
        void (*on_drained)(gateway_session *s, void *ud);
        void *drained_ud;
        gateway_session *prev, *next;
};

struct gw_call {
        gateway_session *s; /* NULL once detached (client gone or cancelled) */
        cJSON *id;          /* the client's id */
        cJSON *progress_token;
        char *server;
        char *probe, *probe_for; /* unlisted.c: a probe name standing in for this hidden tool */
        gateway *probe_gw;
        mcp_client *client;
        uint64_t handle;
        bool starting, completed;
        uint64_t seq; /* gw->call_seq when written to the unit (forward order) */
        /* 2026-07-28 (modern.c): the request's method, name and client
         * capabilities; mrtr while the server waits for input. */
        bool modern;
        char *method, *name;
        cJSON *caps;
        gw_mrtr *mrtr;
        /* A 2025 client's call to a 2026-07-28 unit (forward.c): the request
         * as sent, for the retries; while parked25 the unit's input_required
         * is being asked of the client (answers collected under their keys,
         * waiting still open). */
        char *retry_method;
        cJSON *retry_params, *answers;
        char *retry_state;
        unsigned waiting, rounds;
        bool parked25;
        /* An aggregate session's call: task ids in the answer get the
         * server's name (tasks.c); tasks_list: a page of tasks/list. */
        bool task_ns, tasks_list;
        /* A 2026-07-28 tasks extension request to a 2025 unit (tasks_ext.c):
         * answered empty (task_ack), or as a DetailedTask once the unit's
         * tasks/result for the task in task_stash is in. */
        bool task_ext, task_ack;
        cJSON *task_stash;
        /* A 2026-07-28 request's io.modelcontextprotocol/logLevel (index,
         * -1 none): the unit's log messages while it runs go to it. */
        int log_level;
        /* Server requests routed to its client so far, per gw_s2c_kind. */
        unsigned n_routed[GW_S2C_KINDS];
        /* tools/call with an observer: what the record needs (issue 15) */
        gateway *rec_gw;
        char *rec_tool, *rec_user;
        const char *rec_iface;
        int64_t rec_start_ms, rec_start_mono;
        size_t rec_req_bytes;
        cJSON *rec_args; /* params.arguments when gw->observer_args */
        struct limiter *limiter;       /* the gateway's, for the answer (limits.c) */
        struct limit_hold *limit_hold; /* concurrency slots taken */
        char *cap_tool;                /* tools/call: its result is capped */
        gw_call *prev, *next;
};

/* A request from a server routed to a client (upstream.c): the client sees
 * id; the server's session knows it as handle. */
struct gw_s2c {
        gateway_session *s;
        uint64_t id;
        mcp_client *client; /* valid while the s2c lives: the session reports its end */
        uint64_t handle;
        char *server;
        cJSON *related; /* the client's id of the call it belongs to; NULL none */
        gw_call *call;  /* an input request of a 2026-07-28 unit's input_required
                         * for this call (handle 0): the answer goes to the call */
        char *key;      /* its key in inputRequests */
        /* Asked by the gateway itself (gw_upstream_ask_local): the answer
         * goes to local(local_ud, …); client is NULL. */
        void (*local)(void *ud, const cJSON *result, const cJSON *error);
        void *local_ud;
        uv_timer_t *timer;
        gw_s2c *prev, *next;
};

struct gw_hint {
        char *server;
        int64_t uid; /* -1: any user's; else the last of this user's (issue 15) */
        gateway_session *s;
        gw_hint *next;
};

/* ---- core.c ---- */

/* Sends msg to the session's transport; id/response as in gateway_out. */
void gw_send_msg(gateway_session *s, const cJSON *msg, const cJSON *id, bool response);
/* {"jsonrpc":"2.0","id":ID,"<member>":VALUE} without copying VALUE. */
void gw_send_raw(gateway_session *s, const cJSON *id, const char *member, const cJSON *value);
void gw_reply_error(gateway_session *s, const cJSON *id, int code, cJSON *take_data,
                    const char *fmt, ...) _printf_(5, 6);
void gw_reply_result(gateway_session *s, const cJSON *id, cJSON *take_result);
/* Data marking "not found" for the CLI (exit 66, sysexits EX_NOINPUT) on
 * the control socket; NULL on an MCP client's session. */
cJSON *gw_data_not_found(const gateway_session *s);
void gw_session_check_drained(gateway_session *s);
void gw_schedule_work(gateway *gw);
uv_timer_t *gw_timer_new(uv_loop_t *loop, void *data);
void gw_handle_free_cb(uv_handle_t *h);
void gw_adapter_attach(gateway *gw, gw_adapter *a);
void gw_adapter_detach(gateway *gw, gw_adapter *a);

/* ---- methods.c ---- */

void gw_dispatch(gateway_session *s, const cJSON *msg);
/* Whether s may see unit u (its level and scope). */
bool gw_session_sees(const gateway_session *s, const unit *u);
void gw_cancel_call(gw_call *c, const char *reason);
/* forward.c: forwards method with params (consumed) to client for the
 * session's request id, answering it when the unit does; server names the
 * unit. */
void gw_forward(gateway_session *s, const cJSON *id, const char *server, mcp_client *client,
                const char *method, cJSON *params);
/* gw_forward() of a tools/call for the unlisted name probe (params consumed)
 * standing in for the hidden tool probe_for (unlisted.c). */
void gw_forward_probe(gateway_session *s, const cJSON *id, const char *server, mcp_client *client,
                      cJSON *params, const char *probe, const char *probe_for);

/* ---- unlisted.c (issue 15) ---- */

/* Refuses the hidden tool name on a single-server session: answered as the
 * server answers a name it does not list (learnt once per unit run with a
 * probe), never sent to it.  The caller has recorded the refusal. */
void gw_unlisted_refuse(gateway_session *s, const cJSON *id, const char *server,
                        mcp_client *client, const char *name);
/* answer (a result or an error) with every probe in its strings read as name (owned). */
cJSON *gw_unlisted_answer(const cJSON *answer, const char *probe, const char *name);
/* Keeps the server's answer to probe as its template (result or error). */
void gw_unlisted_learn(gateway *gw, const char *server, const char *probe, const cJSON *result,
                       const cJSON *error);
/* Forgets the server's template (the unit starts again or is gone). */
void gw_unlisted_forget(gateway *gw, const char *server);
gw_owners *gw_owners_get(gateway *gw);
/* Subscribes a unit that became ready again to what sessions still want. */
void gw_resubscribe(gateway *gw, unit *u);

/* ---- lifecycle.c ---- */

void gw_handle_initialize(gateway_session *s, const cJSON *id, const cJSON *params);
void gw_handle_set_level(gateway_session *s, const cJSON *id, const cJSON *params);
/* _meta key naming a 2026-07-28 request's revision, and its error code. */
#define META_PROTOCOL_VERSION "io.modelcontextprotocol/protocolVersion"
#define MCP_UNSUPPORTED_PROTOCOL_VERSION (-32022)
bool gw_units_settled(gateway *gw);
void gw_answer_pending_inits(gateway *gw);
void gw_send_level(gateway *gw, unit *u);
/* Index into the MCP logging levels (debug = 0 … emergency = 7), or -1. */
int gw_level_index(const char *level);
/* The level of an index from gw_level_index ("debug" when out of range). */
const char *gw_level_name(int index);

/* ---- upstream.c: requests from servers to clients ---- */

/* Hooks a unit's fresh session (before its initialize) so the server's
 * requests reach clients; declares sampling, elicitation and roots. */
void gw_upstream_hook(gateway *gw, unit *u);
/* A client's answer to a routed request; false when id is not one of ours. */
bool gw_upstream_response(gateway_session *s, const cJSON *msg);
/* s talked to server: it is where that server's unrelated requests go. */
void gw_upstream_touch(gateway *gw, const char *server, gateway_session *s);
/* notifications/initialized or notifications/roots/list_changed from s:
 * tells the servers s sees that the roots may have changed. */
void gw_upstream_roots_changed(gateway_session *s);
/* The client cancelled call (or left): the server's requests that belong to
 * it are cancelled towards the client and failed towards the server. */
void gw_upstream_call_cancelled(gateway_session *s, const gw_call *call, const char *reason);
/* Asks the client of call (a 2025 session) a 2026-07-28 unit's input
 * request under key, on the call's stream; the answer goes to
 * gw_mrtr25_answer().  NULL when the session cannot take more. */
gw_s2c *gw_upstream_ask(gateway_session *s, gw_call *call, const char *key, const char *method,
                        const cJSON *params);
/* Asks s's client method/params for the gateway itself (the management
 * tools' confirmation), on the stream of the client's request related;
 * answer(ud, result, error) gets the client's answer, or an error of ours
 * when it does not answer in time.  NULL when the session cannot take more. */
gw_s2c *gw_upstream_ask_local(gateway_session *s, const cJSON *related, const char *method,
                              const cJSON *params,
                              void (*answer)(void *ud, const cJSON *result, const cJSON *error),
                              void *ud);
/* Drops the request asked for ud (notifying the client it is cancelled)
 * without calling its answer. */
void gw_upstream_forget_local(gateway_session *s, void *ud);
/* forward.c: the client's answer to one input request (error NULL, or the
 * client's error object). */
void gw_mrtr25_answer(gw_call *call, const char *key, const cJSON *result, const cJSON *error);
/* forward.c: the client never answered: the call fails with code/message. */
void gw_mrtr25_fail(gw_call *call, int code, const char *msg);

/* The inputSchema (borrowed) of the tool s calls `name` (SERVER__NAME on
 * the aggregate) when s may call it; NULL otherwise. */
const cJSON *gw_tool_input_schema(gateway_session *s, const char *name);

/* ---- tasks.c: 2025-11-25 tasks on the aggregate, ids SERVER__ID ---- */

/* The union of the tasks capabilities of the ready units s sees; NULL none. */
cJSON *gw_tasks_capability(gateway_session *s);
/* Every task id in r (a result or a notifications/tasks/status params)
 * gets "SERVER__" in front. */
void gw_tasks_qualify(cJSON *r, const char *server);
/* r, server's tasks/list page: nextCursor names that server's next page or
 * the next server that lists tasks (none: removed). */
void gw_tasks_list_page(gateway_session *s, cJSON *r, const char *server);
/* tasks/get, tasks/result, tasks/cancel, tasks/list on an aggregate session. */
void gw_tasks_handle(gateway_session *s, const cJSON *id, const char *method,
                     const cJSON *params);
/* Whether capabilities caps cover what method (with params) needs; *what
 * names the capability. */
bool gw_caps_support(const cJSON *caps, const char *method, const cJSON *params,
                     const char **what);
/* Kind of a server request (GW_S2C_*). */
int gw_s2c_kind(const char *method);
/* The session is going away: its open routed requests are failed upstream. */
void gw_upstream_session_gone(gateway_session *s);

/* ---- modern.c: MCP 2026-07-28 facing clients ---- */

#define MCP_MODERN_VERSION "2026-07-28"
#define META_CLIENT_CAPS "io.modelcontextprotocol/clientCapabilities"
#define META_LOG_LEVEL "io.modelcontextprotocol/logLevel"
#define META_SERVER_INFO "io.modelcontextprotocol/serverInfo"
#define META_SUBSCRIPTION_ID "io.modelcontextprotocol/subscriptionId"
#define MCP_HEADER_MISMATCH (-32020)
#define MCP_MISSING_CLIENT_CAPABILITY (-32021)
#define GW_MAX_MRTR 4096       /* calls waiting for a retry, per gateway */
#define GW_MRTR_PENDING 16     /* server requests open per waiting call */
#define GW_MRTR_ROUNDS 8       /* input_required rounds of one 2025 client's call */
#define GW_MAX_LISTENS 16      /* subscriptions/listen per session */
#define GW_LISTEN_URIS 256     /* resourceSubscriptions per listen */

/* Whether the request is a 2026-07-28 one (per-request _meta names a
 * revision, server/discover, or a sessionless HTTP POST). */
bool gw_modern_wanted(const gateway_session *s, const char *method, const cJSON *params);
/* Serves a 2026-07-28 request (basic/versioning, server/discover, MRTR,
 * subscriptions/listen); handle_request runs the shared methods back. */
void gw_modern_dispatch(gateway_session *s, const cJSON *id, const char *method,
                        const cJSON *params,
                        void (*shared)(gateway_session *s, const cJSON *id, const char *method,
                                       const cJSON *params));
/* Adds resultType (and ttlMs/cacheScope on cacheable results) and the
 * gateway's serverInfo to a result for a 2026-07-28 request. */
void gw_modern_decorate(const gateway_session *s, cJSON *result, const char *method);
/* A server request routed to a 2026-07-28 call: becomes input_required. */
void gw_mrtr_server_request(gateway *gw, gw_call *call, mcp_client *c, uint64_t handle,
                            const char *method, const cJSON *params);
/* The upstream call of a waiting MRTR ended: keep its answer for the retry. */
void gw_mrtr_call_done(gw_call *call, const cJSON *result, const cJSON *error);
/* Calls parked waiting for a retry, for routing (upstream.c). */
gw_call *gw_mrtr_parked_call(gateway *gw, const mcp_client *c, int kind, gw_call *best);
void gw_mrtr_free_all(gateway *gw);
/* A list change (UNIT_LIST_* bit) or resources/updated for uri: to the
 * subscriptions/listen streams that asked for it. */
void gw_listen_notify(gateway *gw, const char *method, unsigned list_bit, const char *uri,
                      const unit *from);
/* notifications/cancelled naming a listen: ends it; false when none. */
bool gw_listen_cancel(gateway_session *s, const cJSON *request_id);
void gw_listen_free_all(gateway_session *s);

/* ---- usubs.c: resource subscriptions on 2026-07-28 units ---- */

#define GW_USUB_URIS 1024 /* resourceSubscriptions of one unit's stream */

/* Whether u is a ready 2026-07-28 unit that declares resources.subscribe:
 * subscriptions to it go through gw_usub_sync(), not resources/subscribe. */
bool gw_usub_applies(const unit *u);
/* Makes u's listen stream carry what the sessions subscribe to on it now
 * (opens a replacing stream, or cancels it when nothing is wanted). */
void gw_usub_sync(gateway *gw, unit *u);
/* notifications/subscriptions/acknowledged from u: a replacing stream is
 * live, the ones it replaces are cancelled. */
void gw_usub_acknowledged(gateway *gw, unit *u, const cJSON *params);
/* Whether a notifications/resources/updated from a 2026-07-28 unit came on
 * the stream whose copy is delivered. */
bool gw_usub_accept(gateway *gw, const unit *u, const cJSON *params);
/* Sessions went away: every unit's stream is brought in line. */
void gw_usub_resync_all(gateway *gw);
/* The unit is gone: its streams are forgotten (not cancelled). */
void gw_usub_forget(gateway *gw, const char *server);
void gw_usub_free_all(gateway *gw);

/* ---- tasks_ext.c: the 2026-07-28 tasks extension ---- */

#define TASKS_EXT "io.modelcontextprotocol/tasks"
#define GW_LISTEN_TASKS 256 /* taskIds per listen */

/* Whether clientCapabilities caps declare the tasks extension. */
bool gw_tasks_ext_declared(const cJSON *caps);
/* Answers id with -32021 naming the extension; what says who needs it. */
void gw_tasks_ext_missing(gateway_session *s, const cJSON *id, const char *what);
/* A 2026-07-28 tools/call of tool on u about to be forwarded as fwd: adds
 * params.task when the tool supports tasks and the request declares the
 * extension.  False when it answered id (-32021: the tool requires it). */
bool gw_tasks_ext_call(gateway_session *s, const cJSON *id, unit *u, const char *tool,
                       cJSON *fwd);
/* A 2025 CreateTaskResult as a resultType "task" result (owned), or NULL
 * when result is not one. */
cJSON *gw_tasks_ext_created(const cJSON *result);
/* Whether a 2025 Task's status is completed or failed (its result is
 * fetched with tasks/result before answering). */
bool gw_tasks_ext_terminal_needs_result(const cJSON *task);
/* The DetailedTask (owned) of a 2025 Task with its tasks/result answer
 * (result or error; both NULL: not fetched). */
cJSON *gw_tasks_ext_detailed(const cJSON *task, const cJSON *result, const cJSON *error);
/* tasks/get, tasks/update, tasks/cancel of a 2026-07-28 request. */
void gw_tasks_ext_handle(gateway_session *s, const cJSON *id, const char *method,
                         const cJSON *params);
/* A unit's notifications/tasks/status: to the listen streams whose taskIds
 * name it, as notifications/tasks (fetching the result first when the task
 * is completed or failed). */
void gw_tasks_ext_status(gateway *gw, unit *u, const cJSON *params);
void gw_tasks_ext_free_all(gateway *gw);
#define GW_TINPUT_PENDING 16 /* a task's open requests */
#define GW_MAX_TINPUTS 256   /* tasks whose input is relayed, per gateway */
/* detailed (a DetailedTask of task, the unit's id, on c) is input_required:
 * the unit's requests for it become its inputRequests (the first time,
 * corral opens the task's tasks/result so the unit sends them). */
void gw_tasks_ext_inputs(gateway *gw, mcp_client *c, const char *task, cJSON *detailed);
/* A unit's request: true when it belongs to a task whose input is relayed
 * (kept for tasks/get), false to route it as usual (upstream.c). */
bool gw_tasks_ext_server_request(gateway *gw, mcp_client *c, uint64_t handle,
                                 const char *method, const cJSON *params);
/* The unit withdrew request handle: true when it was a task's. */
bool gw_tasks_ext_server_cancelled(gateway *gw, const mcp_client *c, uint64_t handle);
/* modern.c: whether a listen stream of a session that sees from wants task
 * (the server's own id); and sending it the DetailedTask (params). */
bool gw_listen_wants_task(gateway *gw, const unit *from, const char *task);
void gw_listen_task(gateway *gw, const unit *from, const char *task, const cJSON *detailed);

/* ---- methods.c helpers shared with modern.c ---- */

void gw_call_detach(gw_call *c);
void gw_call_attach(gateway_session *s, gw_call *c, const cJSON *id);
/* Adds uri to s's subscriptions and subscribes its owner upstream. */
void gw_subscribe_upstream(gateway_session *s, const char *uri);
/* The initialize-shaped description of what s sees (lifecycle.c). */
cJSON *gw_session_description(gateway_session *s, const char *version);

/* ---- limits.c: rate limits and the result cap on tools/call (issue 15) ---- */

/* Whether s may call tool on server now: true with *ret_hold (release with
 * gw_limits_done()); false when a limit refused it, after answering id with
 * LIMITS_RPC_LIMITED {retryAfterMs, limit} and telling the observer. */
bool gw_limits_admit(gateway_session *s, const cJSON *id, const char *server, const char *tool,
                     const cJSON *params, struct limit_hold **ret_hold);
/* A tools/call of tool on server that the gateway refused before any server
 * saw it (outcome "denied": the caller's level or tool lists; "not_found":
 * no such server or tool for this caller): a record for the observer.
 * server and tool may be NULL. */
void gw_record_refused(gateway_session *s, const char *server, const char *tool,
                       const cJSON *params, const char *outcome);
/* The call finished: its concurrency slots go back. */
void gw_limits_done(gw_call *c);
/* An error (owned) to answer instead of result when result is over the
 * result cap; NULL when it is within. */
cJSON *gw_limits_result_cap(const gw_call *c, const cJSON *result);

/* ---- mgmt.c: the gateway's own tools (issue 15, include/corral/mgmt.h) ---- */

#define GW_MGMT_SERVER "corral" /* their SERVER__ prefix; no server may be named so */
/* The management tools s may list (owned), NULL when none. */
cJSON *gw_mgmt_tools(gateway_session *s);
/* A tools/call of one of the management tools s may call: answered (now or
 * later), true; false for any other name. */
bool gw_mgmt_call(gateway_session *s, const cJSON *id, const cJSON *params);
/* notifications/cancelled for a management call: true when it was one. */
bool gw_mgmt_cancel(gateway_session *s, const cJSON *request_id);
/* The session is going away; the gateway is (both before anything else). */
void gw_mgmt_session_gone(gateway_session *s);
void gw_mgmt_free(gateway *gw);

/* ---- usessions.c: per-user upstream sessions (issue 15) ---- */

/* The local uid of s's user (a unix peer's, else its name's), or -1. */
int64_t gw_session_uid(const gateway_session *s);
/* A request of s to u: *ret is the user's own session (with *ret_tools its
 * tools) when u serves s's user through one, NULL for the unit's own.
 * False when the request was answered (refused in one line) or parked until
 * the user's session settles, then dispatched again. */
bool gw_usession_route(gateway_session *s, unit *u, const cJSON *id, const char *method,
                       const cJSON *params, mcp_client **ret, const cJSON **ret_tools);
/* How u's part of a list for s comes: the unit's, the user's session's
 * (*ret_items), none, or not yet (park the list with gw_usession_park_list). */
typedef enum { GW_ULIST_UNIT, GW_ULIST_USER, GW_ULIST_NONE, GW_ULIST_WAIT } gw_ulist;
gw_ulist gw_usession_list(gateway_session *s, unit *u, const cJSON *(*get)(const unit *),
                          const cJSON **ret_items);
/* Whether u serves s's user through sessions of their own: then what s asks
 * of u goes through gw_usession_route(), never the unit's own session, and
 * the gateway-wide resource owner table does not answer for u. */
bool gw_usession_hides(gateway_session *s, const unit *u);
/* The per-user server whose lists, as s's user sees them, hold resource uri
 * (ref: a completion reference, also a template's literal uriTemplate):
 * exact URIs first, then the template with the most literal characters.
 * PARKED: a session of the user's is still opening; the request was parked
 * and is dispatched again once it settled. */
typedef enum { GW_UOWNER_NONE, GW_UOWNER_FOUND, GW_UOWNER_PARKED } gw_uowner;
gw_uowner gw_usession_resource_owner(gateway_session *s, const char *uri, bool ref,
                                     const cJSON *id, const char *method, const cJSON *params,
                                     unit **ret);
void gw_usession_park_list(gateway_session *s, unit *u, const cJSON *id, const char *method,
                           const cJSON *params);
/* Dispatches the parked requests whose session settled (the notify timer). */
void gw_usession_replay(gateway *gw);
/* The unit is gone: its parked requests are dispatched again (and fail). */
void gw_usession_forget(gateway *gw, const char *server);
void gw_usession_free_all(gateway *gw);
/* supervisor_events.user_session and .user_notification. */
void gw_ev_user_session(void *ud, unit *u, uid_t uid, mcp_client *c, int what,
                        unsigned lists);
void gw_ev_user_notification(void *ud, unit *u, uid_t uid, const char *method,
                             const cJSON *params);
/* upstream.c: hooks the server requests of a session to a unit (the unit's
 * own or a user's) and declares sampling, elicitation and roots. */
void gw_upstream_hook_client(gateway *gw, mcp_client *c);

/* ---- stream.c: helpers for byte-stream adapters (unix, stdio) ---- */

#define GW_READ_CHUNK 65536
#define GW_WRITE_QUEUE_MAX (64u << 20) /* bytes queued to a client that does not read */

/* Queues data on st; -1 when over the cap or the stream failed. */
int gw_stream_send(uv_stream_t *st, size_t *queued, void *owner, const char *data, size_t len,
                   void (*cb)(void *owner, int status));
