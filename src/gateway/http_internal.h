/* The HTTP adapter's own parts (src/gateway/http.c: routing and the MHD
 * handler; src/gateway/http_listen.c: the listener; src/gateway/http_session.c:
 * MCP sessions over HTTP, their streams and the event log that Last-Event-ID
 * resumes from). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microhttpd.h>

#include "corral/auth.h"
#include "corral/http_server.h"
#include "corral/strbuf.h"
#include "gateway/internal.h"

#define HTTP_EVENT_LOG_MAX 512          /* events kept per session for resumption */
#define HTTP_EVENT_LOG_BYTES (8u << 20) /* and their bytes */
#define HTTP_STREAM_QUEUE_MAX (64u << 20)
#define HTTP_STREAMS_MAX 2048 /* open streams per session */
#define HTTP_SWEEP_MS 5000
#define HTTP_WELL_KNOWN "/.well-known/oauth-protected-resource"

typedef struct gw_http gw_http;
typedef struct hsession hsession;
typedef struct hstream hstream;
typedef struct hreq hreq;

struct gw_http {
        gw_adapter base; /* first: the adapter list holds &base */
        gateway *gw;
        http_server *srv;
        corral_level level;
        bool tls;
        char **origins; /* NULL: loopback origins only */
        char *public_url;
        size_t max_body;
        uint64_t session_idle_ms;
        unsigned max_sessions;
        struct auth *auth;
        bool metrics_only, metrics_no_auth; /* gateway_http_config's */
        hsession *sessions;
        size_t n_sessions;
        hreq *reqs; /* every request in progress */
        uv_timer_t *sweep;
        bool stopping;
};

typedef struct hevent {
        uint64_t stream, seq;
        char *text; /* the whole SSE event, "id: …\n…\n\n" */
        size_t len;
} hevent;

struct hsession {
        gw_http *h;
        char id[33];
        gateway_session *gs;
        bool legacy; /* 2024-11-05 HTTP+SSE: everything goes on stream 0 */
        bool modern; /* 2026-07-28: one sessionless POST, freed with its connection */
        char *user;  /* NULL: anonymous */
        char *scope; /* one server, or NULL */
        hstream *streams;
        size_t n_streams;
        uint64_t next_stream, next_seq;
        hevent log[HTTP_EVENT_LOG_MAX]; /* ring */
        size_t log_start, log_n, log_bytes;
        uint64_t last_active; /* loop ms */
        hsession *prev, *next;
};

/* A stream of messages to the client: a POST's answer (req_id set) or the
 * standalone GET stream (id 0). */
struct hstream {
        hsession *sess;
        uint64_t id;
        cJSON *req_id; /* NULL for stream 0 */
        hreq *r;       /* the connection it is written to, NULL when none */
        strbuf out;    /* SSE bytes not yet handed to MHD */
        char *json;    /* the answer as one JSON body (application/json) */
        size_t json_len;
        bool sse;  /* decided: text/event-stream */
        bool done; /* the last message is in out (or json) */
        hstream *prev, *next;
};

struct hreq {
        gw_http *h;
        struct MHD_Connection *conn;
        strbuf body;
        bool too_big;
        bool suspended;
        bool waiting; /* suspended in the handler until the stream has a message */
        bool auth_done, auth_pending;
        int auth_status;
        char *www_authenticate, *auth_message;
        char *user;
        corral_level user_level;
        auth_verify_req *auth_req;
        hstream *st;        /* the stream this connection serves */
        hsession *new_sess; /* created by this request (initialize, /sse) */
        hsession *modern_sess; /* a 2026-07-28 POST's own session, freed with r */
        bool replay_only;   /* st is a private replay of a finished stream */
        hreq *prev, *next;
};

/* ---- http_modern.c: 2026-07-28 ---- */

/* Whether a sessionless POST's message is a 2026-07-28 request. */
bool http_is_modern(const cJSON *msg, const char *version_header);
/* NULL when MCP-Protocol-Version, Mcp-Method and Mcp-Name agree with msg,
 * else why not (static text, for a HeaderMismatch error). */
/* Mcp-Param-* headers of a 2026-07-28 tools/call against the arguments the
 * tool's inputSchema marks x-mcp-header: each such argument present needs
 * its header with the same value (=?base64?…?= decoded), and no header may
 * name an argument the body lacks.  NULL when they agree, else why not. */
const char *http_modern_param_mismatch(struct MHD_Connection *conn, const cJSON *schema,
                                       const cJSON *args);
const char *http_modern_mismatch(struct MHD_Connection *conn, const cJSON *msg,
                                 const char *version_header);
/* HTTP status of a 2026-07-28 session's JSON answer. */
unsigned http_modern_status(const hsession *s, const char *json, size_t len);

/* ---- http_session.c ---- */

hsession *hsession_new(gw_http *h, const char *user, corral_level level, const char *scope,
                       bool legacy);
void hsession_free(hsession *s);
hsession *hsession_find(gw_http *h, const char *id);
hstream *hstream_new(hsession *s, const cJSON *req_id);
void hstream_free(hstream *st);
hstream *hstream_find(hsession *s, uint64_t id);
/* Attaches r to st (detaching any earlier connection). */
void hstream_attach(hstream *st, hreq *r);
/* Replaces st->out with the logged events of stream id after seq. */
void hsession_replay(hsession *s, hstream *st, uint64_t stream, uint64_t after_seq);
/* The client cancelled request req_id: its stream ends without an answer. */
void hsession_cancelled(hsession *s, const cJSON *req_id);
/* Resumes r's connection if it is suspended. */
void hreq_wake(hreq *r);
void http_sweep(gw_http *h);

/* http.c: the MHD request handler and completion callback (cls: the gw_http). */
enum MHD_Result gw_http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **con_cls);
void gw_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe);

/* ---- http_headers.c: checks of what the client sent (fuzzed by
 * tests/fuzz/fuzz_http_headers.c) ---- */

typedef enum http_route {
        HTTP_ROUTE_NONE,
        HTTP_ROUTE_MCP,      /* /mcp, /servers/NAME/mcp */
        HTTP_ROUTE_SSE,      /* /sse, /servers/NAME/sse (2024-11-05) */
        HTTP_ROUTE_MESSAGES, /* /messages, /servers/NAME/messages */
        HTTP_ROUTE_HEALTH,
        HTTP_ROUTE_WELL_KNOWN,
        HTTP_ROUTE_METRICS, /* /metrics: Prometheus text, admins only (issue 15) */
} http_route;

/* The Accept header (NULL: absent) lists type, or any type. */
bool http_accepts(const char *accept, const char *type);
/* The Content-Type header (NULL: absent) is application/json. */
bool http_json_content_type(const char *ctype);
/* MCP basic/transports §security: an Origin not allowed is refused (DNS
 * rebinding).  origins: the configured list (NULL-terminated, "*" = any), or
 * NULL for loopback origins only (http(s)://localhost, 127.0.0.1 or [::1],
 * with an optional :PORT).  No Origin header (NULL): not a browser, allowed. */
bool http_origin_allowed(char *const *origins, const char *origin);
/* Last-Event-ID as the adapter writes it: "STREAM-SEQ", both decimal below
 * 2^63 with no sign or spaces.  false for anything else. */
bool http_parse_last_event_id(const char *s, uint64_t *ret_stream, uint64_t *ret_seq);
/* Splits url into its route and, for /servers/NAME/…, NAME (owned, else NULL). */
http_route http_parse_route(const char *url, char **ret_server);
