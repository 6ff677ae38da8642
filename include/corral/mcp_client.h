/* An MCP client session to one server (MCP 2025-11-25: basic/lifecycle,
 * basic/utilities/{cancellation,progress,ping}, server/{tools,prompts,resources},
 * client/roots).  Transport-neutral: the owner feeds bytes read from the
 * server with mcp_client_feed() and writes what the session hands to ops->send.
 * Runs on a libuv loop for its timers.  Single-threaded.
 *
 * Re-entrancy: every callback (ops->*, response and progress callbacks) may
 * issue new requests, cancel any request, send notifications, and call
 * mcp_client_free() on this session; the struct is then destroyed once the
 * callback has returned into the session.  The one thing a callback must not
 * do is call mcp_client_feed() on the same session (it is refused and
 * logged). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>
#include <uv.h>

#define MCP_PROTOCOL_LATEST "2025-11-25"
/* MCP 2026-07-28 (basic/versioning): no initialize, no session; every request
 * carries its version and the client's capabilities in params._meta. */
#define MCP_PROTOCOL_MODERN "2026-07-28"
#define MCP_META_PROTOCOL_VERSION "io.modelcontextprotocol/protocolVersion"
#define MCP_META_CLIENT_CAPS "io.modelcontextprotocol/clientCapabilities"
#define MCP_META_CLIENT_INFO "io.modelcontextprotocol/clientInfo"
#define MCP_META_SERVER_INFO "io.modelcontextprotocol/serverInfo"
/* MCP 2026-07-28 error codes (basic/index, "Error Codes"). */
#define MCP_RPC_HEADER_MISMATCH (-32020)
#define MCP_RPC_MISSING_CAPABILITY (-32021)
#define MCP_RPC_UNSUPPORTED_VERSION (-32022)
/* Versions corral accepts from a server (and from a gateway client), newest first. */
extern const char *const mcp_protocol_versions[]; /* NULL-terminated */
bool mcp_protocol_supported(const char *version);

typedef struct mcp_client mcp_client;

/* What kind of protocol breach a fault is: an oversize message may have been
 * a response that will now never be matched, a stray line costs nothing. */
typedef enum {
        MCP_FAULT_OVERSIZE, /* a message over max_message */
        MCP_FAULT_NOT_JSON, /* a line that does not parse */
        MCP_FAULT_INVALID,  /* JSON that is not a JSON-RPC 2.0 message */
} mcp_fault;

typedef struct mcp_client_ops {
        /* Writes one framed message (ends in '\n'); data is only valid during
         * the call.  Returns 0 or -1 when the transport is gone. */
        int (*send)(void *ud, const char *data, size_t len);
        /* Notifications from the server other than progress for our requests
         * (notifications/tools/list_changed, notifications/message, …). */
        void (*on_notification)(void *ud, const char *method, const cJSON *params);
        /* The server broke the protocol: oversize message (over max_message),
         * unparsable JSON or an invalid message.  The session stays usable,
         * but the owner normally restarts the server. */
        void (*on_fault)(void *ud, mcp_fault kind, const char *why);
} mcp_client_ops;

/* A request's completion: exactly one of result/error is non-NULL (borrowed,
 * valid during the call).  error is a JSON-RPC error object {code,message,data?}.
 * Called exactly once per request, also on timeout, cancel and session free. */
typedef void (*mcp_response_cb)(void *ud, const cJSON *result, const cJSON *error);
/* notifications/progress params for a request that asked for progress, with
 * progressToken already replaced by nothing: the callee adds its own token. */
typedef void (*mcp_progress_cb)(void *ud, const cJSON *params);

/* max_message 0 = JSONRPC_DEFAULT_MAX_MESSAGE.  ops is copied (send is
 * required, the others may be NULL).  Returns an owned session. */
mcp_client *mcp_client_new(uv_loop_t *loop, const mcp_client_ops *ops, void *ud, size_t max_message);
/* Completes every pending request with CORRAL_RPC_UNAVAILABLE ("session
 * closed") and frees.  Sends nothing (the transport may be gone).  Safe inside
 * the session's own callbacks (see above); requests issued from the callbacks
 * it triggers fail at once with "session closed".  The session's timer handle
 * is closed with uv_close() and released when the loop next runs, as with any
 * libuv handle.  Accepts NULL, returns NULL. */
mcp_client *mcp_client_free(mcp_client *c);

/* Bytes read from the server's stdout.  Any number of bytes, split or merged
 * anywhere.  Protocol breaches go to ops->on_fault with a short reason ("sent
 * a message over 16 MiB", "sent a line that is not JSON: <excerpt>", "sent an
 * invalid JSON-RPC message: <excerpt>"); the line is dropped and the stream
 * goes on.  Responses to unknown ids are ignored (logged at debug).  Server
 * requests: ping is answered at once with {}; the others go to the owner's
 * request handler (mcp_client_set_requests), or without one are answered at
 * once: roots/list with {"roots":[]}, anything else with -32601 "method not
 * supported by corral". */
void mcp_client_feed(mcp_client *c, const char *data, size_t n);

/* Requests from the server to the client (MCP 2025-11-25 client/{sampling,
 * elicitation,roots}: sampling/createMessage, elicitation/create, roots/list,
 * and whatever else a server sends except ping). */
typedef struct mcp_client_requests {
        /* A request from the server.  handle (> 0) names it for
         * mcp_client_respond(); answer it exactly once, now or later, unless
         * on_cancelled reports it gone first.  params borrowed (may be NULL). */
        void (*on_request)(void *ud, mcp_client *c, uint64_t handle, const char *method,
                           const cJSON *params);
        /* The request will never be answered: the server cancelled it
         * (notifications/cancelled; reason may be NULL) or the session is
         * being freed (reason "session closed"; c must not be used then).
         * handle is invalid afterwards. */
        void (*on_cancelled)(void *ud, mcp_client *c, uint64_t handle, const char *reason);
} mcp_client_requests;

/* At most this many server requests open at once; more are answered -32603. */
#define MCP_MAX_SERVER_REQUESTS 256

/* Hands server requests to rq (copied; NULL restores the default answers)
 * and declares capabilities (borrowed, copied; NULL: {roots:{listChanged:
 * false}}) in the next initialize.  Call before mcp_client_initialize. */
void mcp_client_set_requests(mcp_client *c, const mcp_client_requests *rq, void *ud,
                             const cJSON *capabilities);
/* Answers a server request: result (borrowed) or, when result is NULL,
 * error (borrowed JSON-RPC error object {code, message, data?}).  0, or -1
 * when handle is unknown (answered, cancelled) or the transport failed. */
int mcp_client_respond(mcp_client *c, uint64_t handle, const cJSON *result, const cJSON *error);

/* Sends `initialize` (protocolVersion MCP_PROTOCOL_LATEST, the capabilities
 * of mcp_client_set_requests (default {roots:{listChanged:false}}),
 * clientInfo corral); on a result with a supported
 * protocolVersion sends notifications/initialized and then calls cb with the
 * result.  An unsupported or missing version completes cb with a
 * CORRAL_RPC_FAULTY error whose message names the version.  initialize is
 * never cancelled (basic/lifecycle), not even on timeout.  Returns 0, or
 * -EX_UNAVAILABLE when the transport failed (cb has then been called). */
int mcp_client_initialize(mcp_client *c, uint64_t timeout_ms, mcp_response_cb cb, void *ud);

/* Opens the session the way MCP 2026-07-28 basic/versioning ("backward
 * compatibility") says a dual-era client does: `server/discover` first, with
 * params._meta {protocolVersion 2026-07-28, clientCapabilities (those of
 * mcp_client_set_requests), clientInfo}.  A result whose supportedVersions
 * names 2026-07-28 makes the session modern: no initialize, every later
 * request gets protocolVersion, clientCapabilities and clientInfo in its
 * params._meta (unless the caller put its own there), and cb gets an initialize-shaped
 * result {protocolVersion, capabilities, serverInfo, instructions?} taken
 * from the discover result.  An UnsupportedProtocolVersionError (-32022)
 * whose data.supported names 2026-07-28 is answered by asking once more;
 * any other JSON-RPC error, a result without
 * 2026-07-28, or no answer within min(timeout_ms, 10 s) falls back to
 * mcp_client_initialize() with timeout_ms (the probe is never cancelled: a
 * 2025 server has no session yet to cancel in).  Only a closed transport
 * ends it with that error.  Returns 0, or -EX_UNAVAILABLE when the
 * transport failed (cb has then been called). */
int mcp_client_connect(mcp_client *c, uint64_t timeout_ms, mcp_response_cb cb, void *ud);
/* True once mcp_client_connect() found a 2026-07-28 server. */
bool mcp_client_modern(const mcp_client *c);

/* Sends a request.  params is consumed (NULL = no params).  When progress is
 * non-NULL a fresh progressToken is put in params._meta and matching
 * notifications/progress are passed to progress (each one also restarts the
 * timeout).  The token is "corral-<handle>"; progress gets the notification's
 * params with progressToken removed.  timeout_ms 0 = no timeout.  On timeout
 * notifications/cancelled {requestId, reason:"timeout"} is sent and cb gets
 * CORRAL_RPC_TIMEOUT "request timed out after N ms".  The handle is also the
 * JSON-RPC id (integers from 1).  Returns a handle > 0 for
 * mcp_client_cancel(), or 0 when the transport failed, the session is being
 * freed or c is NULL (cb has then already been called with
 * CORRAL_RPC_UNAVAILABLE). */
uint64_t mcp_client_request(mcp_client *c, const char *method, cJSON *params, uint64_t timeout_ms,
                            mcp_progress_cb progress, mcp_response_cb cb, void *ud);

/* Cancels a pending request: sends notifications/cancelled {requestId, reason}
 * (reason omitted when NULL) and completes it with CORRAL_RPC_CANCELLED
 * ("request cancelled: <reason>"); a late response is ignored.  Unknown or
 * already completed handles are ignored. */
void mcp_client_cancel(mcp_client *c, uint64_t handle, const char *reason);

/* Sends a notification (params consumed, NULL = none).  0, or -EX_UNAVAILABLE
 * when the transport failed. */
int mcp_client_notify(mcp_client *c, const char *method, cJSON *params);

/* Fetches every page of a list method ("tools/list", "prompts/list",
 * "resources/list", "resources/templates/list") following nextCursor, and
 * calls cb with result = {"<key>": [all items]} (key "tools", "prompts",
 * "resources", "resourceTemplates").  Capped at 10000 items / 1000 pages;
 * over a cap, a page without the key's array, or a repeated cursor completes cb
 * with CORRAL_RPC_FAULTY.  timeout_ms applies to each page.  Returns 0, or
 * -EX_UNAVAILABLE when the transport failed (cb has then been called). */
int mcp_client_list_all(mcp_client *c, const char *method, const char *key, uint64_t timeout_ms,
                        mcp_response_cb cb, void *ud);

/* After a successful initialize: negotiated version, server capabilities
 * (borrowed, may be NULL) and serverInfo; NULL before.  pending counts
 * requests not yet completed (list_all counts as one). */
const char *mcp_client_protocol_version(const mcp_client *c);
const cJSON *mcp_client_server_capabilities(const mcp_client *c);
const cJSON *mcp_client_server_info(const mcp_client *c);
/* The server's initialize instructions (borrowed), NULL when it gave none. */
const char *mcp_client_server_instructions(const mcp_client *c);
size_t mcp_client_pending(const mcp_client *c);
