/* The gateway: one MCP server facing clients that aggregates every ready unit
 * (DESIGN.md, "Gateway"; MCP 2025-11-25 server/{tools,prompts,resources},
 * server/utilities/{completion,pagination}).
 *   - tools and prompts are exposed as SERVER__NAME; resources keep their URIs,
 *     routed by an owner table (first-installed server wins; collisions are
 *     reported in status);
 *   - lists are paginated with opaque cursors;
 *   - notifications/{tools,prompts,resources}/list_changed go to every session
 *     when a unit's sets change or it goes up or down;
 *   - requests are forwarded with fresh ids; progress and cancellation are
 *     forwarded; every request gets a result or an error within its timeout. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>
#include <uv.h>

#include "corral/error.h"
#include "corral/level.h"
#include "corral/supervisor.h"

#define GATEWAY_PAGE_SIZE 100
#define GATEWAY_DEFAULT_TIMEOUT_MS 60000

typedef struct gateway gateway;
typedef struct gateway_session gateway_session;

/* What a message sent to a client belongs to, for transports that route it
 * (Streamable HTTP answers a POST on that request's own stream). */
typedef struct gateway_out {
        /* A response: its id.  A notification about a request (progress): that
         * request's id.  Anything else (list_changed, log messages): NULL. */
        const cJSON *id;
        bool response; /* the last message for that request */
} gateway_out;

typedef struct gateway_session_ops {
        /* Writes one framed message (JSON and a '\n'); 0 or -1 when the peer
         * is gone.  out is never NULL. */
        int (*send)(void *ud, const char *data, size_t len, const gateway_out *out);
        /* Methods the gateway does not know (the control socket's corral/…
         * methods).  Return true when handled (the handler answers with
         * gateway_session_reply()), false for "method not found". */
        bool (*extra_method)(void *ud, gateway_session *s, const cJSON *id, const char *method,
                             const cJSON *params);
} gateway_session_ops;

/* sv is borrowed (may be NULL until gateway_set_supervisor()).  Returns an
 * owned gateway.  Environment knobs (for tests): CORRAL_REQUEST_TIMEOUT_MS
 * (forwarded-request timeout, default GATEWAY_DEFAULT_TIMEOUT_MS) and
 * CORRAL_GATEWAY_PAGE_SIZE (default GATEWAY_PAGE_SIZE).  A client may set one
 * request's timeout with params._meta["corral/timeoutMs"]. */
gateway *gateway_new(uv_loop_t *loop, supervisor *sv);
/* Frees the gateway and every session it owns, cancelling their in-flight
 * requests upstream, and removes its socket files.  Its libuv handles are
 * closed, not yet freed: run the loop (uv_run) once more before
 * uv_loop_close().  Free the supervisor first: its teardown still reports to
 * the gateway.  Returns NULL. */
gateway *gateway_free(gateway *gw);
/* System mode (the store's paths are the system ones): the sockets are made
 * 0660 root:corral instead of 0600 (gateway_listen).  Call before
 * gateway_listen(). */
void gateway_set_system_mode(gateway *gw, bool system);

/* The supervisor_events to hand to supervisor_new() with the gateway as ud:
 * they keep the routing tables and emit list_changed. */
extern const supervisor_events gateway_supervisor_events;
/* Binds the supervisor after both exist (supervisor_new needs the events first). */
void gateway_set_supervisor(gateway *gw, supervisor *sv);

/* Who a transport says is on the other end of a session, and what it may see. */
typedef struct gateway_session_config {
        /* The control socket's session: no initialize, extra methods. */
        bool control;
        /* Effective permission level: min(interface, user).  stdio and unix
         * sockets are CORRAL_LEVEL_ANCHOR. */
        corral_level level;
        int64_t uid;      /* the peer's uid (SO_PEERCRED), -1 when unknown */
        const char *user; /* authenticated user name (copied), NULL anonymous */
        /* NULL: the aggregate (SERVER__NAME).  A server name: that one server
         * passed through with its own names (/servers/NAME/mcp). */
        const char *server;
        /* "unix", "stdio", "http" (a static string; NULL: "unix") for the
         * audit log. */
        const char *iface;
} gateway_session_config;

/* A client session over any transport; cfg is copied.  Owned by the caller. */
gateway_session *gateway_session_new(gateway *gw, const gateway_session_ops *ops, void *ud,
                                     const gateway_session_config *cfg);
/* Feeds bytes of newline-delimited JSON-RPC (MCP basic/transports §stdio). */
void gateway_session_feed(gateway_session *s, const char *data, size_t n);
/* Feeds one whole JSON-RPC message (a transport that frames its own, such
 * as an HTTP POST body); len bytes of JSON text, no newline needed. */
void gateway_session_message(gateway_session *s, const char *json, size_t len);
/* The client will send nothing more; what it asked is still answered, then
 * the on_drained hook runs. */
void gateway_session_close_input(gateway_session *s);
/* Called once, after close_input, when nothing is in flight any more. */
void gateway_session_set_on_drained(gateway_session *s,
                                    void (*on_drained)(gateway_session *s, void *ud), void *ud);
/* true while the session has requests in flight upstream or held. */
bool gateway_session_busy(const gateway_session *s);
/* The gateway a session belongs to, NULL once the gateway is gone. */
gateway *gateway_session_gateway(const gateway_session *s);
/* The loop the gateway runs on. */
uv_loop_t *gateway_loop(const gateway *gw);
/* Fails the session's in-flight forwarded requests upstream (cancelling them)
 * and frees.  Returns NULL. */
gateway_session *gateway_session_free(gateway_session *s);
/* Answers a request (result or, with error_code != 0, an error). result consumed. */
void gateway_session_reply(gateway_session *s, const cJSON *id, cJSON *result, int error_code,
                           const char *error_message);
/* Answers a request with a JSON-RPC error carrying data (consumed, may be NULL),
 * e.g. {"exit": 66} so the CLI can pick its exit code. */
void gateway_session_reply_error(gateway_session *s, const cJSON *id, int code, const char *message,
                                 cJSON *take_data);

/* ---- transport adapters: src/gateway/unix.c, src/gateway/stdio.c ---- */

/* Listens on a unix socket: mode 0600, or in system mode 0660 owner root
 * group "corral" when that group exists (its members may use the sockets;
 * without it they stay root's, with a warning); each connection gets a session owned by the
 * gateway, at level anchor, with the peer's uid (SO_PEERCRED).  A stale socket file is replaced; a
 * live one fails with -EX_TEMPFAIL ("a daemon is already running").  ops_extra handles control
 * methods (may be NULL): its extra_method is called with ud_extra.  Other
 * errors: -EX_CANTCREAT (path too long, not a socket, bind), -EX_NOPERM. */
int gateway_listen(gateway *gw, const char *path, bool control,
                   const gateway_session_ops *ops_extra, void *ud_extra, corral_error *err);
/* The same on a socket already bound and listening (socket activation,
 * include/corral/sd.h): fd is taken over (closed on failure too); path is
 * for messages only; the socket file is left alone at exit.  0 or
 * -EX_CANTCREAT. */
int gateway_listen_fd(gateway *gw, int fd, const char *path, bool control,
                      const gateway_session_ops *ops_extra, void *ud_extra, corral_error *err);

/* Connection limits for the unix sockets from corral.json's "gateway" object
 * (config may be NULL: defaults).  See src/gateway/connlimit.h for the keys:
 * separate caps for the control and gateway sockets, a per-user cap, a share
 * kept for root and the daemon's uid, a first-message deadline and an idle
 * timeout.  Call before gateway_listen(); a later call (a corral.json reload)
 * changes the limits in place: connections already admitted stay.  0 or
 * -EX_CONFIG naming the key. */
int gateway_set_limits(gateway *gw, const cJSON *config, corral_error *err);

/* The tool allow/deny lists changed (corral.json reloaded): every session
 * gets notifications/tools/list_changed (coalesced like the supervisor's). */
void gateway_tools_changed(gateway *gw);

/* Serves one session on fds in_fd/out_fd (corral serve --stdio, embedded):
 * pipes and sockets through libuv streams, ttys as ttys, regular files with
 * plain reads and writes.  on_eof is called once, from the loop, when the
 * client has closed its side and every request it sent has been answered, or
 * when out_fd can no longer be written.  0 or -EX_SOFTWARE. */
int gateway_serve_fds(gateway *gw, int in_fd, int out_fd, void (*on_eof)(void *ud), void *ud,
                      corral_error *err);

/* Naming (pure, unit-tested, src/gateway/names.c): "SERVER__NAME"; split at the first "__" — server
 * names never contain "__", tool names may.  split returns false when there is
 * no separator or either side is empty.  Results owned. */
char *gateway_qualify(const char *server, const char *name);
bool gateway_split(const char *qualified, char **ret_server, char **ret_name);

/* Whether server name exists and a caller at level, authenticated as user
 * (NULL anonymous), reaches it: its manifest access.level and, in system
 * mode, its owner (issue 15: a per-user server is its owner's and the
 * admins'; DESIGN.md, "Gateway", Identity). */
bool gateway_server_reachable(gateway *gw, const char *name, corral_level level, const char *user);

/* Identity (issue 15, include/corral/users.h).  The site policy the gateway
 * judges admins by (borrowed; NULL: the defaults).  Call before sessions
 * exist. */
struct users_site;
void gateway_set_site(gateway *gw, const struct users_site *site);
/* The tool allow/deny lists (include/corral/policy.h; borrowed, NULL: only
 * the default denylist, for non-admins).  May be replaced at any time (a
 * reload); lists and calls after that see the new one. */
struct tool_policy;
void gateway_set_tool_policy(gateway *gw, const struct tool_policy *tools);
/* The session's user name (a unix peer's passwd name, an HTTP token's user;
 * NULL anonymous), and whether it is an admin (always, outside system
 * mode). */
const char *gateway_session_user(const gateway_session *s);
bool gateway_session_admin(const gateway_session *s);
/* A number naming the session for as long as the gateway lives (never
 * reused), and the session it names, NULL once it is gone: for answers that
 * come later than the request's handler returns (src/users/exec.c). */
uint64_t gateway_session_serial(const gateway_session *s);
gateway_session *gateway_find_session(gateway *gw, uint64_t serial);
/* Sends the notification {method, params} to s (params taken; s NULL: only
 * freed), e.g. corral/output from a streamed corral/exec. */
void gateway_session_notify(gateway_session *s, const char *method, cJSON *take_params);
/* A finished tools/call forwarded to a server (issue 15: the audit log and
 * metrics).  Strings borrowed for the call's duration. */
typedef struct gateway_call_record {
        int64_t ts_ms;        /* start, ms since the epoch */
        int64_t duration_ms;
        const char *user;     /* NULL anonymous */
        const char *iface;    /* "unix", "stdio", "http" */
        const char *server, *tool;
        const char *outcome;  /* "ok", "tool_error" (result.isError), "error",
                               * "limited" (refused by a rate or concurrency
                               * limit, never forwarded) */
        size_t req_bytes, resp_bytes; /* params and result/error as JSON text */
        const cJSON *arguments; /* params.arguments as the client sent them, when
                                 * gateway_set_call_arguments() asked; else NULL */
} gateway_call_record;
typedef void (*gateway_call_observer)(void *ud, const gateway_call_record *rec);
/* Calls fn(ud, record) on the loop for every tools/call a server answers
 * (or that fails after it was forwarded: timeout, unit gone), and every one
 * a limit refused.  NULL: none. */
void gateway_set_call_observer(gateway *gw, gateway_call_observer fn, void *ud);
/* Whether records carry the call's arguments (a copy kept for the call's
 * duration; the audit log's "arguments" switch).  Off by default. */
void gateway_set_call_arguments(gateway *gw, bool on);
/* Rate limits, concurrency caps and the result-size cap on tools/call
 * (include/corral/limits.h; borrowed, NULL: none).  Its rules may be
 * replaced at any time (limiter_set_rules()); it must outlive every call,
 * i.e. be freed after the supervisor and the gateway. */
struct limiter;
void gateway_set_limiter(gateway *gw, struct limiter *l);
/* /metrics on the HTTP listeners (issue 15): render(ud) returns the
 * Prometheus text (owned).  NULL: no /metrics (404). */
void gateway_set_metrics(gateway *gw, char *(*render)(void *ud), void *ud);
/* The text from the render function, or NULL when there is none (owned). */
char *gateway_metrics_text(gateway *gw);
/* Whether an HTTP caller named user (NULL anonymous) is an admin: always
 * outside system mode; in it, root and the site's admin group. */
bool gateway_user_is_admin(const gateway *gw, const char *user);
/* Whether the session may see a server owned by owner (NULL global). */
bool gateway_session_may_see(const gateway_session *s, const char *owner);

/* Collisions of resource URIs, as JSON [{uri, owner, shadowed}] (owned). */
cJSON *gateway_collisions_json(gateway *gw);

/* ---- the HTTP adapter: src/gateway/http.c ----
 *
 * MCP Streamable HTTP (MCP 2025-03-26 … 2025-11-25 basic/transports
 * §streamable-http) and the 2024-11-05 HTTP+SSE transport on one listener:
 *   POST/GET/DELETE /mcp               the aggregate (SERVER__NAME)
 *   POST/GET/DELETE /servers/NAME/mcp  one server with its own names
 *   GET /sse, POST /messages?sessionId (and /servers/NAME/sse, …/messages)
 *   GET /healthz
 *   GET /.well-known/oauth-protected-resource[/PATH] (RFC 9728 §3.1)
 * A POST carrying a request is answered with application/json when the
 * answer is the first message for it, else with a text/event-stream that
 * carries its progress and then the answer.  Events have ids; a GET with
 * Last-Event-ID resumes a stream that was cut.  Origin is checked (403). */


typedef struct gateway_http_config {
        const char *listen;          /* "127.0.0.1:8080", "[::]:8080", … */
        corral_level level;          /* this listener's interface level */
        const char *tls_cert_pem;    /* PEM text; NULL: plain HTTP */
        const char *tls_key_pem;
        const char *const *origins;  /* allowed Origin values, NULL-terminated;
                                      * NULL: loopback origins only */
        const char *public_url;      /* e.g. "https://mcp.example.com"; the
                                      * resource URLs are this + path (RFC 8707) */
        size_t max_body_bytes;       /* 0: GATEWAY_HTTP_BODY_MAX */
        size_t max_header_bytes;     /* 0: the HTTP server's default */
        unsigned idle_timeout_s;     /* connection idle; 0: the server's default */
        unsigned session_idle_s;     /* an MCP session nobody uses; 0: GATEWAY_HTTP_SESSION_IDLE_S */
        unsigned max_sessions;       /* 0: GATEWAY_HTTP_MAX_SESSIONS */
        /* The bearer-token verifier (include/corral/auth.h), borrowed; NULL:
         * no authentication, every caller is anonymous at the listener's
         * level.  With one, a request without a valid token gets 401 and
         * WWW-Authenticate (RFC 9728 §5.1), and the caller's level is
         * min(listener, user). */
        struct auth *auth;
        /* Only GET /metrics is served (corral.json "metrics": {"listen"}, issue
         * 15); everything else is 404.  With metrics_no_auth (its "auth":
         * "none") the admin check is off too: whoever connects reads them. */
        bool metrics_only;
        bool metrics_no_auth;
} gateway_http_config;

/* The gateway's HTTP listeners for listings: [{listen, port, level, tls,
 * auth: "bearer"|"none", loopback, serves: "mcp"|"metrics"}] (owned; empty
 * when there are none). */
cJSON *gateway_http_listeners_json(gateway *gw);

#define GATEWAY_HTTP_BODY_MAX (4u << 20)
#define GATEWAY_HTTP_SESSION_IDLE_S 1800u
#define GATEWAY_HTTP_MAX_SESSIONS 4096u

/* Listens for MCP over HTTP; the listener lives as long as the gateway.
 * Refuses (-EX_CONFIG) a non-loopback address when cfg->auth is NULL unless
 * allow_unauthenticated (corral.json "http": {"auth": "none"}).  On success
 * *ret_port (may be NULL) is the bound port.  -EX_USAGE bad address,
 * -EX_CANTCREAT cannot listen. */
int gateway_http_listen(gateway *gw, const gateway_http_config *cfg, bool allow_unauthenticated,
                        uint16_t *ret_port, corral_error *err);
