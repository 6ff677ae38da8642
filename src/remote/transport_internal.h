/* Shared between the files of src/remote/ that make the HTTP transports:
 * transport.c (the kick, POSTs, the public calls), session.c (ending,
 * incoming messages, request set-up) and stream.c (GET streams). */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <curl/curl.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/mcp_client.h"
#include "corral/remote.h"
#include "corral/sse.h"
#include "corral/strbuf.h"

#define DELETE_TIMEOUT_MS 2000u
#define LEGACY_QUEUE_MAX 1024u

typedef struct qmsg {
        struct qmsg *next;
        char *json;
        size_t len;
} qmsg;

typedef enum { BODY_UNKNOWN, BODY_JSON, BODY_SSE, BODY_OTHER } body_mode;

typedef struct post post;
typedef struct stream stream;

struct remote_session {
        http_client *hc;
        uv_loop_t *loop;
        remote_ops ops;
        void *ud;
        char *url;
        char *wire_url; /* url with the secret query: requests only, never messages */
        char *post_url; /* legacy: from the endpoint event */
        remote_transport kind;
        bool fallback;
        char **headers;
        char *ca_file;
        char *session_id;
        char *protocol_version;
        char *init_id;   /* JSON text of initialize's id */
        char *init_body; /* kept for the legacy fallback */
        char *challenge; /* WWW-Authenticate of a 401/403 */
        struct cJSON *xhdr; /* 2026-07-28: tool name → its x-mcp-header annotations */
        post *posts;
        size_t n_posts;
        stream *streams;
        stream *legacy; /* the legacy GET stream */
        qmsg *inbox, **inbox_tail;
        qmsg *outbox, **outbox_tail; /* legacy: waiting for the endpoint */
        size_t n_outbox;
        uv_timer_t *kick;
        http_request *delete_req;
        unsigned dispatching;
        bool freed;
        bool ending;   /* no more sends; end reported at the next kick */
        bool ended;    /* on_end called */
        bool get_wanted; /* open the standing GET stream at the next kick */
        bool get_open;   /* a standing GET stream exists */
        remote_end end_why;
        char *end_reason;
};

struct post {
        post *next;
        remote_session *s;
        http_request *req;
        body_mode mode;
        strbuf body;
        sse_parser sse;
        char *id;   /* JSON text of the request id; NULL: notification/response */
        bool legacy;
        bool is_init;
        bool is_initialized;
        bool modern;     /* a 2026-07-28 request: no session, no resumption */
        bool tools_list; /* ... and a tools/list, whose tools are checked */
        bool answered;
        char *fail; /* why on_data stopped the transfer */
};

struct stream {
        stream *next;
        remote_session *s;
        http_request *req;
        uv_timer_t *timer;
        sse_parser sse;
        body_mode mode;
        strbuf body;
        char *last_id;  /* Last-Event-ID for the next connection */
        char *await_id; /* a resumption: the request whose response it waits for */
        unsigned retry_ms;
        unsigned attempts; /* reconnections since the last event */
        bool standing;  /* the GET stream of Streamable HTTP */
        bool legacy;    /* the GET stream of HTTP+SSE */
        bool got_event;
        char *fail;
};

void rt_free_handle(uv_handle_t *h);
void rt_kick(remote_session *s);
void rt_session_end(remote_session *s, remote_end why, const char *fmt, ...) _printf_(3, 4);
char *rt_id_text(const cJSON *id);
void rt_receive(remote_session *s, const char *data, size_t len);
void rt_answer_error(remote_session *s, const char *id, const char *fmt, ...) _printf_(3, 4);
char **rt_request_headers(remote_session *s, const char *const *extra);
const char *rt_host_of(const char *url, size_t *len);
remote_end rt_transfer_failure(const http_response *resp);
const char *rt_content_type(http_request *req);
bool rt_ct_is(const char *ct, const char *want);
char *rt_excerpt(const strbuf *b);
bool rt_auth_failure(remote_session *s, long status, const char *challenge);
void rt_stream_free(stream *st);

/* modern.c: MCP 2026-07-28 request headers. */
char *rt_header_value(const char *v, size_t n);
char **rt_modern_headers(remote_session *s, const struct cJSON *msg, const char *version);
bool rt_modern_tools(remote_session *s, struct cJSON *result);
void rt_stream_connect(stream *st);
