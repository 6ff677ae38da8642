/* Remote MCP servers: a client transport for MCP Streamable HTTP (MCP
 * 2025-11-25 basic/transports §"Streamable HTTP") with the legacy HTTP+SSE
 * transport of 2024-11-05 as a fallback, on corral's libuv loop through the
 * http_client (libcurl multi socket interface).
 *
 * A remote_session carries JSON-RPC messages both ways, like a child's
 * stdio: the owner hands it messages with remote_session_send() and gets the
 * server's messages through ops->on_message.  It ends exactly once, through
 * ops->on_end, with a remote_end saying why; the owner then frees it.  No
 * callback ever runs from inside remote_session_send() or a libcurl callback:
 * messages and the end are delivered from a loop timer, so callbacks may send,
 * and may free the session. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "corral/error.h"
#include "corral/http_client.h"
#include "corral/manifest.h"
#include "corral/paths.h"

#define REMOTE_HEADERS_MAX 64          /* custom headers per server */
#define REMOTE_HEADER_MAX 8192         /* bytes of one "Name: value" */
#define REMOTE_POSTS_MAX 1024          /* POSTs in flight per session */
#define REMOTE_ERROR_BODY_MAX (64u << 10) /* bytes kept of a non-MCP answer */
#define REMOTE_RETRY_DEFAULT_MS 1000u  /* stream reconnection without a server retry */
#define REMOTE_RETRY_MAX_MS 60000u     /* a server's retry is capped to this */
#define REMOTE_RESUME_MAX 5u           /* reconnections of one stream without an event */

typedef enum {
        REMOTE_TRANSPORT_HTTP, /* Streamable HTTP; falls back to SSE when allowed */
        REMOTE_TRANSPORT_SSE,  /* legacy HTTP+SSE (2024-11-05) only */
} remote_transport;

/* Why a session ended. */
typedef enum {
        REMOTE_END_CLOSED,      /* remote_session_close() finished */
        REMOTE_END_KILLED,      /* remote_session_abort() */
        REMOTE_END_FAILED,      /* the server failed: 5xx, refused connection, stream
                                   cut without resumption, broken protocol */
        REMOTE_END_SESSION,     /* the server forgot the session (404 with
                                   Mcp-Session-Id): initialize again */
        REMOTE_END_AUTH,        /* 401, or 403 insufficient_scope: needs authorization */
        REMOTE_END_UNREACHABLE, /* the network: name resolution, no route, TLS set-up */
        REMOTE_END_REFUSED,     /* no connection: refused or timed out connecting */
} remote_end;

typedef struct remote_config {
        const char *url;               /* the MCP endpoint, http(s):// */
        remote_transport transport;
        bool fallback;                 /* HTTP: try legacy SSE on a 4xx to initialize */
        char *const *headers;          /* "Name: value" lines (copied), NULL-terminated */
        const char *ca_file;           /* PEM bundle instead of the system's, or NULL */
        const char *query;             /* a secret query ("config=…", a Smithery server's
                                          configuration) appended to every request's
                                          URL, never to messages; or NULL */
} remote_config;

typedef struct remote_ops {
        /* One JSON-RPC message from the server (a batch is split into its
         * messages); json is NUL-terminated and valid during the call. */
        void (*on_message)(void *ud, const char *json, size_t len);
        /* The session ended (once); reason is one line, valid during the call. */
        void (*on_end)(void *ud, remote_end why, const char *reason);
} remote_ops;

typedef struct remote_session remote_session;

/* Creates a session on hc (borrowed, must outlive it).  Nothing is sent until
 * the first remote_session_send().  Returns 0, or -EX_USAGE (URL not
 * http(s)://, too many or malformed headers) with err set. */
int remote_session_new(http_client *hc, uv_loop_t *loop, const remote_config *cfg,
                       const remote_ops *ops, void *ud, remote_session **ret, corral_error *err);

/* Sends one JSON-RPC message (len bytes, no framing).  Streamable HTTP: a
 * POST with Accept: application/json, text/event-stream, Mcp-Session-Id once
 * the server gave one and MCP-Protocol-Version after initialize; the answer
 * may be JSON or an event stream, and a stream cut before its response is
 * resumed with GET and Last-Event-ID after the server's retry.  After
 * notifications/initialized the GET stream is opened (a 405 means the server
 * offers none).  Legacy SSE: the GET stream's endpoint event gives the POST
 * URL (same origin only); messages wait for it.  A request the server refuses
 * with a 4xx is answered with a JSON-RPC error (code -32603) naming the
 * status, so callers never wait in silence.
 *
 * MCP 2026-07-28 (basic/transports/streamable-http): a request whose
 * params._meta names a protocol version, sent before any initialize, is a
 * modern one: the POST carries MCP-Protocol-Version (that version),
 * Mcp-Method, Mcp-Name (tools/call, prompts/get, resources/read) and
 * Mcp-Param-{Name} for the arguments the tool's inputSchema marks
 * x-mcp-header (learnt from modern tools/list results, which lose the tools
 * whose annotations break the rules); its stream is not resumed; a 4xx or
 * 5xx carrying its JSON-RPC error answers it; a notifications/cancelled
 * for it closes its transfer instead of being POSTed.  Returns 0, or -1
 * once the session has ended or is ending. */
int remote_session_send(remote_session *s, const char *json, size_t len);

/* Sets header name to value ("Name: value", one line, at most
 * REMOTE_HEADER_MAX bytes) for the session's requests from now on, replacing
 * a header of that name (case-insensitive); a token refreshed while the
 * session runs.  Requests in flight and an open GET stream keep what they
 * were sent with.  0, or -EINVAL for a malformed header. */
int remote_session_set_header(remote_session *s, const char *name, const char *value);

/* Ends politely: DELETE of the session (Streamable HTTP, at most 2 s), then
 * on_end(REMOTE_END_CLOSED).  Ignored once ending. */
void remote_session_close(remote_session *s);
/* Ends now: on_end(REMOTE_END_KILLED) on a later loop turn.  Ignored once ending. */
void remote_session_abort(remote_session *s);

/* Cancels all transfers and frees; safe inside ops callbacks.  Accepts NULL;
 * returns NULL. */
remote_session *remote_session_free(remote_session *s);

/* The negotiated transport ("streamable-http" or "sse"), the session id (NULL
 * when the server gave none) and, after a REMOTE_END_AUTH, the challenge's
 * WWW-Authenticate value (NULL when absent). */
const char *remote_session_transport(const remote_session *s);
const char *remote_session_id(const remote_session *s);
const char *remote_session_challenge(const remote_session *s);

/* Whether url may be used without TLS: http:// to a loopback host
 * (localhost, 127.0.0.0/8, [::1]).  https:// URLs are always fine. */
bool remote_url_allowed(const char *url, bool insecure_http);

/* A remote unit's request headers as "Name: value" lines (owned): the
 * manifest's runtime.headers, secret values from servers/NAME/secrets.json
 * ({"headers": {NAME: VALUE}}, mode 0600), and "Authorization: Bearer" with
 * user uid's access token (remote_token_path()) unless a header sets
 * Authorization or the token is for another resource.  NULL with err (EX_CONFIG) when a secret value is missing. */
char **remote_unit_headers(const manifest *m, const corral_paths *paths, uid_t uid,
                           corral_error *err);

/* The secret query of a remote unit (servers/NAME/secrets.json "query", a
 * smithery-hosted server's configuration), owned, or NULL. */
char *remote_unit_query(const manifest *m, const corral_paths *paths);

/* What remote_probe() learnt. */
typedef struct remote_probe_result {
        remote_end end;         /* why it failed (valid when remote_probe() < 0) */
        char *server_name;      /* serverInfo.name, or NULL */
        char *server_version;   /* serverInfo.version, or NULL */
        char *protocol_version; /* negotiated */
        char *transport;        /* "streamable-http" or "sse" */
        char *challenge;        /* WWW-Authenticate of a 401 (REMOTE_END_AUTH), or NULL */
        struct cJSON *capabilities; /* the server's, or NULL */
        struct cJSON *tools;    /* tools/list items when asked for, or NULL */
        struct cJSON *call;     /* the tools/call result or error object when asked for */
        bool call_failed;       /* call is a JSON-RPC error object */
} remote_probe_result;

void remote_probe_result_done(remote_probe_result *r);

/* Connects to cfg->url as an MCP client on a private loop (blocking the
 * caller, for the CLI: `corral install --remote`, `corral probe`):
 * server/discover falling back to initialize (mcp_client_connect(); the
 * SSE transport initializes at once), then tools/list when list_tools, then tools/call of call_tool
 * with call_args (a JSON object text) when call_tool is set.  timeout_ms
 * bounds each step.  Returns 0, or -EX_NOPERM (authorization required: see
 * ret->challenge), -EX_UNAVAILABLE (unreachable, 5xx, timeout),
 * -EX_PROTOCOL (not an MCP server: HTML, broken stream, bad initialize)
 * with err set. */
int remote_probe(const remote_config *cfg, unsigned timeout_ms, bool list_tools,
                 const char *call_tool, const char *call_args, remote_probe_result *ret,
                 corral_error *err);

/* A blocking GET of url (https://, or http:// to loopback) with extra
 * headers, on a private loop, for the CLI: 0 with the status and the body
 * (owned, at most 256 KiB), or -EX_UNAVAILABLE (no answer), -EX_PROTOCOL (a
 * URL refused) with err set. */
int remote_fetch(const char *url, const char *const *headers, long *ret_status, char **ret_body,
                 corral_error *err);
