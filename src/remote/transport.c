/* MCP client transports over HTTP (include/corral/remote.h): Streamable HTTP
 * (MCP 2025-11-25 basic/transports) and the 2024-11-05 HTTP+SSE transport.
 *
 * libcurl forbids starting or removing transfers from inside its callbacks,
 * and the session's owner may do anything from its callbacks; so the body
 * callbacks only parse and queue, and everything else (delivering messages,
 * starting deferred POSTs and reconnections, ending) happens in a 0 ms loop
 * timer ("kick") or in the http_client's on_done, which runs outside curl. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <curl/curl.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
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

static void kick(remote_session *s);
static void stream_connect(stream *st);
static void post_start(remote_session *s, const char *json, size_t len, bool legacy);
static void stream_done(void *ud, const http_response *resp);

static void free_handle(uv_handle_t *h)
{
        free(h);
}

/* ---- ending ------------------------------------------------------------- */

static void session_end(remote_session *s, remote_end why, const char *fmt, ...) _printf_(3, 4);
static void session_end(remote_session *s, remote_end why, const char *fmt, ...)
{
        va_list ap;

        if (s->ending)
                return;
        s->ending = true;
        s->end_why = why;
        va_start(ap, fmt);
        if (vasprintf(&s->end_reason, fmt, ap) < 0)
                s->end_reason = NULL;
        va_end(ap);
        kick(s);
}

/* ---- incoming messages -------------------------------------------------- */

static void inbox_push(remote_session *s, char *take_json, size_t len)
{
        qmsg *q = xcalloc(1, sizeof(*q));

        q->json = take_json;
        q->len = len;
        *s->inbox_tail = q;
        s->inbox_tail = &q->next;
        kick(s);
}

static char *id_text(const cJSON *id)
{
        if (!id || !(cJSON_IsNumber(id) || cJSON_IsString(id)))
                return NULL;
        return cJSON_PrintUnformatted(id);
}

/* A response for request id arrived: whoever waits for it stops waiting. */
static void mark_answered(remote_session *s, const char *id)
{
        for (post *p = s->posts; p; p = p->next)
                if (p->id && strcmp(p->id, id) == 0)
                        p->answered = true;
        for (stream *st = s->streams; st; st = st->next)
                if (st->await_id && strcmp(st->await_id, id) == 0) {
                        free(st->await_id);
                        st->await_id = NULL;
                }
}

static void note_message(remote_session *s, const cJSON *msg)
{
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
        _cleanup_free_ char *idt = NULL;

        if (!cJSON_IsObject(msg) || cJSON_GetObjectItemCaseSensitive(msg, "method"))
                return;
        idt = id_text(id);
        if (!idt)
                return;
        mark_answered(s, idt);
        if (s->init_id && strcmp(idt, s->init_id) == 0) {
                const char *v =
                        json_get_string(json_get_object(msg, "result"), "protocolVersion");
                if (v && strlen(v) < 64) {
                        free(s->protocol_version);
                        s->protocol_version = xstrdup(v);
                }
        }
}

/* Queues one message text from the server (an object or a batch). */
static void receive(remote_session *s, const char *data, size_t len)
{
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(data, len);

        if (cJSON_IsArray(j)) {
                cJSON *e;
                cJSON_ArrayForEach(e, j)
                {
                        char *t = cJSON_PrintUnformatted(e);
                        note_message(s, e);
                        inbox_push(s, t, strlen(t));
                }
                return;
        }
        if (j)
                note_message(s, j);
        /* Unparsable text goes on as sent: the session reports the fault. */
        inbox_push(s, xstrndup(data, len), len);
}

/* A JSON-RPC error for a request the transport could not deliver. */
static void answer_error(remote_session *s, const char *id, const char *fmt, ...) _printf_(3, 4);
static void answer_error(remote_session *s, const char *id, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        _cleanup_json_ cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();
        _cleanup_json_ cJSON *idj = cJSON_Parse(id);
        va_list ap;
        char *t;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        cJSON_AddStringToObject(o, "jsonrpc", "2.0");
        cJSON_AddItemToObject(o, "id", steal_pointer(&idj));
        cJSON_AddNumberToObject(e, "code", JSONRPC_INTERNAL_ERROR);
        cJSON_AddStringToObject(e, "message", msg ? msg : "remote server error");
        cJSON_AddItemToObject(o, "error", steal_pointer(&e));
        t = cJSON_PrintUnformatted(o);
        mark_answered(s, id);
        inbox_push(s, t, strlen(t));
}

/* ---- the kick: deliveries and deferred work ---------------------------- */

static void post_free(post *p);
static void stream_free(stream *st);

static void cancel_all(remote_session *s)
{
        while (s->posts) {
                post *p = s->posts;
                s->posts = p->next;
                post_free(p);
        }
        s->n_posts = 0;
        while (s->streams) {
                stream *st = s->streams;
                s->streams = st->next;
                stream_free(st);
        }
        s->legacy = NULL;
        s->get_open = false;
        http_request_cancel(s->delete_req);
        s->delete_req = NULL;
}

static void session_release(remote_session *s)
{
        if (!s->freed || s->dispatching > 0)
                return;
        while (s->inbox) {
                qmsg *q = s->inbox;
                s->inbox = q->next;
                free(q->json);
                free(q);
        }
        while (s->outbox) {
                qmsg *q = s->outbox;
                s->outbox = q->next;
                free(q->json);
                free(q);
        }
        free(s->url);
        free(s->post_url);
        strv_free(s->headers);
        free(s->ca_file);
        free(s->session_id);
        free(s->protocol_version);
        free(s->init_id);
        free(s->init_body);
        free(s->challenge);
        free(s->end_reason);
        free(s);
}

static void on_kick(uv_timer_t *t)
{
        remote_session *s = t->data;

        s->dispatching++;
        while (!s->freed && s->inbox) {
                qmsg *q = s->inbox;
                s->inbox = q->next;
                if (!s->inbox)
                        s->inbox_tail = &s->inbox;
                if (!s->ended && s->ops.on_message)
                        s->ops.on_message(s->ud, q->json, q->len);
                free(q->json);
                free(q);
        }
        if (!s->freed && !s->ending && s->post_url) {
                while (s->outbox) {
                        qmsg *q = s->outbox;
                        s->outbox = q->next;
                        if (!s->outbox)
                                s->outbox_tail = &s->outbox;
                        s->n_outbox--;
                        post_start(s, q->json, q->len, true);
                        free(q->json);
                        free(q);
                }
        }
        if (!s->freed && !s->ending && s->get_wanted && !s->get_open) {
                stream *st = xcalloc(1, sizeof(*st));

                s->get_wanted = false;
                s->get_open = true;
                st->s = s;
                st->standing = true;
                st->retry_ms = REMOTE_RETRY_DEFAULT_MS;
                st->next = s->streams;
                s->streams = st;
                stream_connect(st);
        }
        if (!s->freed && s->ending && !s->ended && !s->delete_req) {
                s->ended = true;
                cancel_all(s);
                if (s->ops.on_end)
                        s->ops.on_end(s->ud, s->end_why,
                                      s->end_reason ? s->end_reason : "remote session ended");
        }
        s->dispatching--;
        session_release(s);
}

static void kick(remote_session *s)
{
        if (s->kick && !s->freed)
                (void)uv_timer_start(s->kick, on_kick, 0, 0);
}

/* ---- request set-up ------------------------------------------------------ */

/* The headers every request carries, plus extra (NULL-terminated); owned. */
static char **request_headers(remote_session *s, const char *const *extra)
{
        char **h = strv_copy(s->headers);

        for (const char *const *e = extra; e && *e; e++)
                h = strv_push(h, *e);
        if (s->kind == REMOTE_TRANSPORT_HTTP && s->session_id) {
                _cleanup_free_ char *l = xasprintf("Mcp-Session-Id: %s", s->session_id);
                h = strv_push(h, l);
        }
        if (s->kind == REMOTE_TRANSPORT_HTTP && s->protocol_version) {
                _cleanup_free_ char *l = xasprintf("MCP-Protocol-Version: %s", s->protocol_version);
                h = strv_push(h, l);
        }
        return h;
}

static const char *host_of(const char *url, size_t *len)
{
        const char *h = strstr(url, "://");

        h = h ? h + 3 : url;
        *len = strcspn(h, "/?#");
        return h;
}

/* The failure class of a transfer that got no HTTP response. */
static remote_end transfer_failure(const http_response *resp)
{
        switch (resp->curl_code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
                return REMOTE_END_UNREACHABLE;
        case CURLE_COULDNT_CONNECT:
                return REMOTE_END_REFUSED;
        default:
                return REMOTE_END_FAILED;
        }
}

static const char *content_type(http_request *req)
{
        const char *ct = http_request_header(req, "Content-Type");
        return ct ? ct : "";
}

static bool ct_is(const char *ct, const char *want)
{
        size_t n = strlen(want);
        return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* An excerpt of a non-MCP body for messages: one line, at most 120 bytes. */
static char *excerpt(const strbuf *b)
{
        size_t n = b->len < 120 ? b->len : 120;
        char *e = xstrndup(b->buf ? b->buf : "", n);

        for (char *c = e; *c; c++)
                if (!isprint((unsigned char)*c))
                        *c = ' ';
        return e;
}

/* 401, and 403 with error="insufficient_scope": an authorization problem,
 * not a crash (RFC 6750 §3.1, MCP 2025-11-25 basic/authorization). */
static bool auth_failure(remote_session *s, long status, const char *challenge)
{
        if (status != 401 && !(status == 403 && challenge && strstr(challenge, "insufficient_scope")))
                return false;
        free(s->challenge);
        s->challenge = challenge ? xstrndup(challenge, 4096) : NULL;
        session_end(s, REMOTE_END_AUTH, "%s answered HTTP %ld: authorization required", s->url,
                    status);
        return true;
}

/* ---- POSTs ---------------------------------------------------------------- */

static void post_free(post *p)
{
        http_request_cancel(p->req);
        strbuf_done(&p->body);
        sse_parser_done(&p->sse);
        free(p->id);
        free(p->fail);
        free(p);
}

static void post_unlink(post *p)
{
        remote_session *s = p->s;

        for (post **pp = &s->posts; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        s->n_posts--;
                        break;
                }
}

static int post_event(void *ud, const sse_event *ev)
{
        post *p = ud;

        if (strcmp(ev->type, "message") == 0 && ev->data_len > 0)
                receive(p->s, ev->data, ev->data_len);
        return 0;
}

static int post_data(void *ud, http_request *req, const char *data, size_t len)
{
        post *p = ud;
        corral_error err = {0};

        if (p->mode == BODY_UNKNOWN) {
                long status = http_request_status(req);
                const char *ct = content_type(req);

                if (status >= 200 && status < 300 && ct_is(ct, "text/event-stream"))
                        p->mode = BODY_SSE;
                else if (ct_is(ct, "application/json"))
                        p->mode = BODY_JSON;
                else
                        p->mode = BODY_OTHER;
                if (p->mode == BODY_SSE && p->is_init && !p->s->session_id) {
                        const char *sid = http_request_header(req, "Mcp-Session-Id");
                        if (sid && *sid && strlen(sid) < 1024)
                                p->s->session_id = xstrdup(sid);
                }
        }
        switch (p->mode) {
        case BODY_SSE:
                if (sse_parser_feed(&p->sse, data, len, post_event, p, &err) < 0) {
                        p->fail = xstrdup(err.msg);
                        return -1;
                }
                return 0;
        case BODY_JSON:
                if (strbuf_append(&p->body, data, len) < 0) {
                        p->fail = xasprintf("a JSON answer over %zu bytes", p->body.max);
                        return -1;
                }
                return 0;
        default:
                /* Kept for the error message; the rest is dropped. */
                if (p->body.len < REMOTE_ERROR_BODY_MAX)
                        (void)strbuf_append(&p->body, data,
                                            len < REMOTE_ERROR_BODY_MAX - p->body.len
                                                    ? len
                                                    : REMOTE_ERROR_BODY_MAX - p->body.len);
                return 0;
        }
}

/* A POSTed request's SSE stream ended before its response: resume it with a
 * GET and Last-Event-ID (MCP 2025-11-25 basic/transports, "Resumability and
 * Redelivery"), or answer with an error when the server gave no event id. */
static void post_stream_cut(post *p, const char *why)
{
        remote_session *s = p->s;
        const char *last = sse_parser_last_id(&p->sse);

        if (!p->id || p->answered)
                return;
        if (!last || s->kind != REMOTE_TRANSPORT_HTTP) {
                answer_error(s, p->id, "remote server: the response stream ended before the "
                                       "response (%s)", why);
                return;
        }
        stream *st = xcalloc(1, sizeof(*st));
        long retry = sse_parser_retry(&p->sse);

        st->s = s;
        st->last_id = xstrdup(last);
        st->await_id = xstrdup(p->id);
        st->retry_ms = retry >= 0 ? (unsigned)(retry > REMOTE_RETRY_MAX_MS ? REMOTE_RETRY_MAX_MS
                                                                           : retry)
                                  : REMOTE_RETRY_DEFAULT_MS;
        st->next = s->streams;
        s->streams = st;
        st->timer = xcalloc(1, sizeof(*st->timer));
        (void)uv_timer_init(s->loop, st->timer);
        st->timer->data = st;
        stream_connect(st); /* waits retry_ms first: the timer exists */
}

static void post_done(void *ud, const http_response *resp)
{
        post *p = ud;
        remote_session *s = p->s;
        long st = resp->status;

        p->req = NULL;
        post_unlink(p);
        if (s->ending)
                goto out;
        if (resp->result < 0 && !p->fail) {
                if (p->mode == BODY_SSE) {
                        post_stream_cut(p, resp->error);
                        goto out;
                }
                session_end(s, transfer_failure(resp), "cannot reach %s: %s", s->url,
                            resp->error);
                goto out;
        }
        if (p->fail) {
                session_end(s, REMOTE_END_FAILED, "%s: %s", s->url, p->fail);
                goto out;
        }
        if (auth_failure(s, st, http_response_header(resp, "WWW-Authenticate")))
                goto out;
        if (st == 404 && s->session_id && !p->legacy) {
                session_end(s, REMOTE_END_SESSION,
                            "%s: the server ended the session (HTTP 404); initializing again",
                            s->url);
                goto out;
        }
        if (st >= 500) {
                _cleanup_free_ char *e = excerpt(&p->body);
                session_end(s, REMOTE_END_FAILED, "%s answered HTTP %ld%s%s", s->url, st,
                            *e ? ": " : "", e);
                goto out;
        }
        if (p->is_init && !p->legacy && s->fallback && st >= 400 && st < 500) {
                /* A 2024-11-05 server: the HTTP+SSE transport, initialize again there
                 * (MCP 2025-11-25 basic/transports, "Backwards Compatibility"). */
                log_info("%s: POST answered %ld: trying the HTTP+SSE transport", s->url, st);
                s->kind = REMOTE_TRANSPORT_SSE;
                s->fallback = false;
                post_start(s, s->init_body, strlen(s->init_body), true);
                goto out;
        }
        if (st >= 400) {
                if (p->mode == BODY_JSON && p->id) {
                        /* A JSON-RPC error for the request is the best answer. */
                        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(p->body.buf, p->body.len);
                        _cleanup_free_ char *rid =
                                id_text(cJSON_GetObjectItemCaseSensitive(j, "id"));
                        if (rid && strcmp(rid, p->id) == 0 &&
                            cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "error"))) {
                                receive(s, p->body.buf, p->body.len);
                                goto out;
                        }
                }
                if (p->id) {
                        _cleanup_free_ char *e = excerpt(&p->body);
                        answer_error(s, p->id, "remote server answered HTTP %ld%s%s", st,
                                     *e ? ": " : "", e);
                } else {
                        log_debug("%s: a notification was answered with HTTP %ld", s->url, st);
                }
                goto out;
        }
        if (st < 200 || st >= 300) {
                session_end(s, REMOTE_END_FAILED, "%s answered HTTP %ld, not an MCP answer",
                            s->url, st);
                goto out;
        }
        if (p->legacy) {
                /* HTTP+SSE: answers come on the GET stream. */
                goto out;
        }
        if (p->is_init && !s->session_id) {
                const char *sid = http_response_header(resp, "Mcp-Session-Id");
                if (sid && *sid && strlen(sid) < 1024)
                        s->session_id = xstrdup(sid);
        }
        switch (p->mode) {
        case BODY_JSON:
                if (p->body.len > 0)
                        receive(s, p->body.buf, p->body.len);
                break;
        case BODY_SSE:
                post_stream_cut(p, "end of stream");
                break;
        case BODY_OTHER:
                if (p->id && st != 202) {
                        _cleanup_free_ char *e = excerpt(&p->body);
                        const char *ct = http_response_header(resp, "Content-Type");
                        session_end(s, REMOTE_END_FAILED,
                                    "%s answered %s, not JSON or an event stream%s%s", s->url,
                                    ct && *ct ? ct : "without a content type", *e ? ": " : "", e);
                        goto out;
                }
                break;
        default:
                break;
        }
        if (p->id && !p->answered && p->mode != BODY_SSE && st == 202) {
                /* Accepted without an answer: a server that speaks the
                 * transport answers requests; this one never will. */
                answer_error(s, p->id, "remote server accepted the request without answering it");
        }
        if (p->is_initialized && s->kind == REMOTE_TRANSPORT_HTTP) {
                s->get_wanted = true;
                kick(s);
        }
out:
        post_free(p);
}

/* What a message is: its id text (requests only), initialize or the
 * initialized notification. */
static void classify(const char *json, size_t len, char **ret_id, bool *is_init,
                     bool *is_initialized)
{
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(json, len);
        const char *method = json_get_string(j, "method");

        *ret_id = method ? id_text(cJSON_GetObjectItemCaseSensitive(j, "id")) : NULL;
        *is_init = method && strcmp(method, "initialize") == 0;
        *is_initialized = method && strcmp(method, "notifications/initialized") == 0;
}

static void post_start(remote_session *s, const char *json, size_t len, bool legacy)
{
        static const char *const extra[] = {"Content-Type: application/json",
                                            "Accept: application/json, text/event-stream", NULL};
        _cleanup_strv_ char **headers = NULL;
        corral_error err = {0};
        post *p = xcalloc(1, sizeof(*p));
        http_request_opts o = {0};

        p->s = s;
        p->legacy = legacy;
        p->body = STRBUF_INIT(JSONRPC_DEFAULT_MAX_MESSAGE);
        sse_parser_init(&p->sse, 0);
        classify(json, len, &p->id, &p->is_init, &p->is_initialized);
        if (p->is_init) {
                free(s->init_id);
                s->init_id = p->id ? xstrdup(p->id) : NULL;
                if (json != s->init_body) {
                        free(s->init_body);
                        s->init_body = xstrndup(json, len);
                }
        }
        if (s->n_posts >= REMOTE_POSTS_MAX) {
                if (p->id)
                        answer_error(s, p->id, "remote server: %u requests in flight already",
                                     REMOTE_POSTS_MAX);
                post_free(p);
                return;
        }
        headers = request_headers(s, extra);
        o.method = "POST";
        o.url = legacy ? s->post_url : s->url;
        o.headers = (const char *const *)headers;
        o.body = json;
        o.body_len = len;
        o.timeout_ms = UINT_MAX; /* the MCP session times requests out */
        o.ca_file = s->ca_file;
        o.on_data = post_data;
        o.on_done = post_done;
        o.userdata = p;
        if (legacy && !s->post_url) {
                /* Waits for the endpoint event. */
                qmsg *q;

                if (!s->legacy) {
                        stream *st = xcalloc(1, sizeof(*st));
                        st->s = s;
                        st->legacy = true;
                        st->next = s->streams;
                        s->streams = st;
                        s->legacy = st;
                        stream_connect(st);
                }
                if (s->n_outbox >= LEGACY_QUEUE_MAX) {
                        if (p->id)
                                answer_error(s, p->id, "remote server: no endpoint yet");
                        post_free(p);
                        return;
                }
                q = xcalloc(1, sizeof(*q));
                q->json = xstrndup(json, len);
                q->len = len;
                *s->outbox_tail = q;
                s->outbox_tail = &q->next;
                s->n_outbox++;
                post_free(p);
                return;
        }
        if (http_request_start(s->hc, &o, &p->req, &err) < 0) {
                session_end(s, REMOTE_END_FAILED, "%s: %s", s->url, err.msg);
                post_free(p);
                return;
        }
        p->next = s->posts;
        s->posts = p;
        s->n_posts++;
}

/* ---- GET streams ---------------------------------------------------------- */

static void stream_free(stream *st)
{
        http_request_cancel(st->req);
        if (st->timer)
                uv_close((uv_handle_t *)st->timer, free_handle);
        sse_parser_done(&st->sse);
        strbuf_done(&st->body);
        free(st->last_id);
        free(st->await_id);
        free(st->fail);
        free(st);
}

static void stream_unlink_free(stream *st)
{
        remote_session *s = st->s;

        for (stream **pp = &s->streams; *pp; pp = &(*pp)->next)
                if (*pp == st) {
                        *pp = st->next;
                        break;
                }
        if (s->legacy == st)
                s->legacy = NULL;
        if (st->standing)
                s->get_open = false;
        stream_free(st);
}

/* Legacy: the endpoint event's URI, resolved against the SSE URL; only the
 * same origin (credentials never go elsewhere). */
static char *resolve_endpoint(remote_session *s, const char *data, size_t len)
{
        _cleanup_free_ char *rel = xstrndup(data, len);
        CURLU *u = curl_url();
        char *out = NULL, *c = NULL;
        size_t hl1, hl2;
        const char *h1, *h2;

        if (!u)
                return NULL;
        if (curl_url_set(u, CURLUPART_URL, s->url, 0) != CURLUE_OK ||
            curl_url_set(u, CURLUPART_URL, rel, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_URL, &c, 0) != CURLUE_OK) {
                curl_url_cleanup(u);
                return NULL;
        }
        curl_url_cleanup(u);
        h1 = host_of(s->url, &hl1);
        h2 = host_of(c, &hl2);
        if (strncasecmp(s->url, c, (size_t)(h1 - s->url)) == 0 && hl1 == hl2 &&
            strncasecmp(h1, h2, hl1) == 0)
                out = xstrdup(c);
        curl_free(c);
        return out;
}

static int stream_event(void *ud, const sse_event *ev)
{
        stream *st = ud;
        remote_session *s = st->s;

        st->got_event = true;
        st->attempts = 0;
        if (st->legacy && strcmp(ev->type, "endpoint") == 0) {
                char *u = resolve_endpoint(s, ev->data, ev->data_len);
                if (!u) {
                        st->fail = xasprintf("the endpoint event names another origin or "
                                             "an invalid URL: %.120s",
                                             ev->data);
                        return -1;
                }
                free(s->post_url);
                s->post_url = u;
                kick(s);
                return 0;
        }
        if (strcmp(ev->type, "message") == 0 && ev->data_len > 0)
                receive(s, ev->data, ev->data_len);
        return 0;
}

static int stream_data(void *ud, http_request *req, const char *data, size_t len)
{
        stream *st = ud;
        corral_error err = {0};

        if (st->mode == BODY_UNKNOWN) {
                long status = http_request_status(req);
                st->mode = status >= 200 && status < 300 &&
                                           ct_is(content_type(req), "text/event-stream")
                                   ? BODY_SSE
                                   : BODY_OTHER;
        }
        if (st->mode != BODY_SSE) {
                if (st->body.len < REMOTE_ERROR_BODY_MAX)
                        (void)strbuf_append(&st->body, data,
                                            len < REMOTE_ERROR_BODY_MAX - st->body.len
                                                    ? len
                                                    : REMOTE_ERROR_BODY_MAX - st->body.len);
                return 0;
        }
        if (sse_parser_feed(&st->sse, data, len, stream_event, st, &err) < 0) {
                if (!st->fail)
                        st->fail = xstrdup(err.msg);
                return -1;
        }
        return 0;
}

static void on_stream_timer(uv_timer_t *t)
{
        stream *st = t->data;
        corral_error err = {0};
        remote_session *s = st->s;
        _cleanup_strv_ char **headers = NULL;
        _cleanup_free_ char *lei = NULL;
        const char *extra[3] = {"Accept: text/event-stream", NULL, NULL};
        http_request_opts o = {0};

        if (s->ending || st->req)
                return;
        if (st->last_id) {
                lei = xasprintf("Last-Event-ID: %s", st->last_id);
                extra[1] = lei;
        }
        headers = request_headers(s, extra);
        sse_parser_done(&st->sse);
        sse_parser_init(&st->sse, 0);
        strbuf_done(&st->body);
        st->body = STRBUF_INIT(REMOTE_ERROR_BODY_MAX);
        st->mode = BODY_UNKNOWN;
        st->got_event = false;
        o.url = s->url;
        o.headers = (const char *const *)headers;
        o.timeout_ms = UINT_MAX;
        o.ca_file = s->ca_file;
        o.on_data = stream_data;
        o.on_done = stream_done;
        o.userdata = st;
        if (http_request_start(s->hc, &o, &st->req, &err) < 0)
                session_end(s, REMOTE_END_FAILED, "%s: %s", s->url, err.msg);
}

/* Connects now, or after retry_ms when the stream has a timer (a
 * reconnection). */
static void stream_connect(stream *st)
{
        if (!st->timer) {
                st->timer = xcalloc(1, sizeof(*st->timer));
                (void)uv_timer_init(st->s->loop, st->timer);
                st->timer->data = st;
                (void)uv_timer_start(st->timer, on_stream_timer, 0, 0);
                return;
        }
        (void)uv_timer_start(st->timer, on_stream_timer, st->retry_ms, 0);
}

static void stream_done(void *ud, const http_response *resp)
{
        stream *st = ud;
        remote_session *s = st->s;
        long status = resp->status;
        long retry;

        st->req = NULL;
        if (s->ending)
                return;
        if (st->fail) {
                session_end(s, REMOTE_END_FAILED, "%s: %s", s->url, st->fail);
                return;
        }
        if (st->mode == BODY_SSE) {
                /* The stream ran and ended: reconnect where it left off. */
                free(st->last_id);
                st->last_id = sse_parser_last_id(&st->sse) ? xstrdup(sse_parser_last_id(&st->sse))
                                                            : NULL;
                retry = sse_parser_retry(&st->sse);
                if (retry >= 0)
                        st->retry_ms = (unsigned)(retry > REMOTE_RETRY_MAX_MS ? REMOTE_RETRY_MAX_MS
                                                                              : retry);
                if (st->legacy) {
                        session_end(s, REMOTE_END_FAILED, "%s: the event stream ended%s%s",
                                    s->url, resp->result < 0 ? ": " : "",
                                    resp->result < 0 ? resp->error : "");
                        return;
                }
                if (!st->standing && !st->await_id) {
                        stream_unlink_free(st); /* the awaited response came */
                        return;
                }
                if (!st->got_event && ++st->attempts > REMOTE_RESUME_MAX) {
                        session_end(s, REMOTE_END_FAILED,
                                    "%s: the event stream ended %u times without an event",
                                    s->url, REMOTE_RESUME_MAX);
                        return;
                }
                stream_connect(st);
                return;
        }
        if (resp->result < 0) {
                session_end(s, transfer_failure(resp), "cannot reach %s: %s", s->url, resp->error);
                return;
        }
        if (auth_failure(s, status, http_response_header(resp, "WWW-Authenticate")))
                return;
        if (st->standing && status == 405) {
                /* The server offers no GET stream (basic/transports allows that). */
                stream_unlink_free(st);
                s->get_open = true; /* and none will be asked for again */
                return;
        }
        if (!st->standing && !st->legacy && status != 404) {
                /* A resumption the server refuses: the request gets an error. */
                if (st->await_id)
                        answer_error(s, st->await_id,
                                     "remote server: resuming the response stream failed "
                                     "(HTTP %ld)",
                                     status);
                stream_unlink_free(st);
                return;
        }
        if ((status == 404 || status == 400) && s->session_id && !st->legacy) {
                session_end(s, REMOTE_END_SESSION,
                            "%s: the server no longer knows the session (HTTP %ld); "
                            "initializing again",
                            s->url, status);
                return;
        }
        {
                _cleanup_free_ char *e = excerpt(&st->body);
                const char *ct = http_response_header(resp, "Content-Type");
                if (status >= 200 && status < 300)
                        session_end(s, REMOTE_END_FAILED,
                                    "%s answered the event stream request with %s%s%s", s->url,
                                    ct && *ct ? ct : "no content type", *e ? ": " : "", e);
                else
                        session_end(s, REMOTE_END_FAILED,
                                    "%s answered the event stream request with HTTP %ld%s%s",
                                    s->url, status, *e ? ": " : "", e);
        }
}

/* ---- public --------------------------------------------------------------- */

bool remote_url_allowed(const char *url, bool insecure_http)
{
        const char *h;
        size_t n;

        if (strncasecmp(url, "https://", 8) == 0)
                return true;
        if (strncasecmp(url, "http://", 7) != 0)
                return false;
        if (insecure_http)
                return true;
        h = host_of(url, &n);
        {
                const char *at = memchr(h, '@', n);
                if (at) {
                        n -= (size_t)(at + 1 - h);
                        h = at + 1;
                }
        }
        if (n >= 5 && h[0] == '[')
                return strncmp(h, "[::1]", 5) == 0;
        n = strcspn(h, ":/?#");
        if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
                return true;
        if (n >= 4 && strncmp(h, "127.", 4) == 0) {
                for (size_t i = 4; i < n; i++)
                        if (!isdigit((unsigned char)h[i]) && h[i] != '.')
                                return false;
                return true;
        }
        return false;
}

int remote_session_new(http_client *hc, uv_loop_t *loop, const remote_config *cfg,
                       const remote_ops *ops, void *ud, remote_session **ret, corral_error *err)
{
        remote_session *s;
        size_t n = strv_length(cfg->headers);

        if (!cfg->url || (strncasecmp(cfg->url, "https://", 8) != 0 &&
                          strncasecmp(cfg->url, "http://", 7) != 0))
                return corral_error_set(err, EX_USAGE, "'%s' is not an http(s):// URL",
                                        cfg->url ? cfg->url : "");
        if (n > REMOTE_HEADERS_MAX)
                return corral_error_set(err, EX_USAGE, "more than %d headers",
                                        REMOTE_HEADERS_MAX);
        for (size_t i = 0; i < n; i++) {
                const char *c = strchr(cfg->headers[i], ':');
                if (!c || c == cfg->headers[i] || strlen(cfg->headers[i]) > REMOTE_HEADER_MAX ||
                    strpbrk(cfg->headers[i], "\r\n"))
                        return corral_error_set(err, EX_USAGE, "malformed header '%.64s'",
                                                cfg->headers[i]);
        }
        s = xcalloc(1, sizeof(*s));
        s->hc = hc;
        s->loop = loop;
        s->ops = *ops;
        s->ud = ud;
        s->url = xstrdup(cfg->url);
        s->kind = cfg->transport;
        s->fallback = cfg->transport == REMOTE_TRANSPORT_HTTP && cfg->fallback;
        s->headers = strv_copy(cfg->headers ? cfg->headers : (char *const[]){NULL});
        s->ca_file = cfg->ca_file ? xstrdup(cfg->ca_file) : NULL;
        s->inbox_tail = &s->inbox;
        s->outbox_tail = &s->outbox;
        s->kick = xcalloc(1, sizeof(*s->kick));
        (void)uv_timer_init(loop, s->kick);
        s->kick->data = s;
        *ret = s;
        return 0;
}

int remote_session_send(remote_session *s, const char *json, size_t len)
{
        if (!s || s->freed || s->ending)
                return -1;
        post_start(s, json, len, s->kind == REMOTE_TRANSPORT_SSE);
        return 0;
}

static void delete_done(void *ud, const http_response *resp)
{
        remote_session *s = ud;

        s->delete_req = NULL;
        if (resp->result < 0)
                log_debug("%s: DELETE of the session: %s", s->url, resp->error);
        kick(s);
}

void remote_session_close(remote_session *s)
{
        if (!s || s->freed || s->ending)
                return;
        if (s->kind == REMOTE_TRANSPORT_HTTP && s->session_id) {
                _cleanup_strv_ char **headers = request_headers(s, NULL);
                http_request_opts o = {
                        .method = "DELETE",
                        .url = s->url,
                        .headers = (const char *const *)headers,
                        .timeout_ms = DELETE_TIMEOUT_MS,
                        .ca_file = s->ca_file,
                        .on_done = delete_done,
                        .userdata = s,
                };
                /* Streams first: the server may wait for them to close. */
                cancel_all(s);
                (void)http_request_start(s->hc, &o, &s->delete_req, NULL);
        }
        session_end(s, REMOTE_END_CLOSED, "closed");
}

void remote_session_abort(remote_session *s)
{
        if (!s || s->freed || s->ending)
                return;
        session_end(s, REMOTE_END_KILLED, "stopped");
}

remote_session *remote_session_free(remote_session *s)
{
        if (!s || s->freed)
                return NULL;
        cancel_all(s);
        s->freed = true;
        uv_close((uv_handle_t *)s->kick, free_handle);
        s->kick = NULL;
        session_release(s);
        return NULL;
}

const char *remote_session_transport(const remote_session *s)
{
        return s->kind == REMOTE_TRANSPORT_SSE ? "sse" : "streamable-http";
}

const char *remote_session_id(const remote_session *s)
{
        return s->session_id;
}

const char *remote_session_challenge(const remote_session *s)
{
        return s->challenge;
}
