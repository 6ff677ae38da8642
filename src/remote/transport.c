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
#include <string.h>
#include <strings.h>

#include "transport_internal.h"

static void post_start(remote_session *s, const char *json, size_t len, bool legacy);
void rt_free_handle(uv_handle_t *h)
{
        free(h);
}

/* ---- the kick: deliveries and deferred work ---------------------------- */

static void post_free(post *p);

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
                rt_stream_free(st);
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
        free(s->wire_url);
        free(s->post_url);
        strv_free(s->headers);
        free(s->ca_file);
        free(s->session_id);
        free(s->protocol_version);
        free(s->init_id);
        free(s->init_body);
        free(s->challenge);
        cJSON_Delete(s->xhdr);
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
                rt_stream_connect(st);
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

void rt_kick(remote_session *s)
{
        if (s->kick && !s->freed)
                (void)uv_timer_start(s->kick, on_kick, 0, 0);
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

/* A message that answers p: a 2026-07-28 tools/list result loses the
 * tools whose x-mcp-header annotations are broken. */
static void post_receive(post *p, const char *data, size_t len)
{
        if (p->tools_list && p->id) {
                _cleanup_json_ cJSON *j = cJSON_ParseWithLength(data, len);
                _cleanup_free_ char *rid = rt_id_text(cJSON_GetObjectItemCaseSensitive(j, "id"));
                cJSON *result = cJSON_GetObjectItemCaseSensitive(j, "result");

                if (rid && strcmp(rid, p->id) == 0 && cJSON_IsObject(result) &&
                    rt_modern_tools(p->s, result)) {
                        _cleanup_free_ char *t = cJSON_PrintUnformatted(j);
                        rt_receive(p->s, t, strlen(t));
                        return;
                }
        }
        rt_receive(p->s, data, len);
}

static int post_event(void *ud, const sse_event *ev)
{
        post *p = ud;

        if (strcmp(ev->type, "message") == 0 && ev->data_len > 0)
                post_receive(p, ev->data, ev->data_len);
        return 0;
}

static int post_data(void *ud, http_request *req, const char *data, size_t len)
{
        post *p = ud;
        corral_error err = {0};

        if (p->mode == BODY_UNKNOWN) {
                long status = http_request_status(req);
                const char *ct = rt_content_type(req);

                if (status >= 200 && status < 300 && rt_ct_is(ct, "text/event-stream"))
                        p->mode = BODY_SSE;
                else if (rt_ct_is(ct, "application/json"))
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
        /* 2026-07-28 streams are not resumable (basic/transports/
         * streamable-http, "Receiving Messages"). */
        if (!last || s->kind != REMOTE_TRANSPORT_HTTP || p->modern) {
                rt_answer_error(s, p->id, "remote server: the response stream ended before the "
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
        rt_stream_connect(st); /* waits retry_ms first: the timer exists */
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
                rt_session_end(s, rt_transfer_failure(resp), "cannot reach %s: %s", s->url,
                            resp->error);
                goto out;
        }
        if (p->fail) {
                rt_session_end(s, REMOTE_END_FAILED, "%s: %s", s->url, p->fail);
                goto out;
        }
        if (rt_auth_failure(s, st, http_response_header(resp, "WWW-Authenticate")))
                goto out;
        if (st == 404 && s->session_id && !p->legacy) {
                rt_session_end(s, REMOTE_END_SESSION,
                            "%s: the server ended the session (HTTP 404); initializing again",
                            s->url);
                goto out;
        }
        if (st >= 500 && p->modern && p->id && p->mode == BODY_JSON) {
                /* A 2026-07-28 server answers a failed request with its
                 * JSON-RPC error and a 5xx: that answer is the request's. */
                _cleanup_json_ cJSON *j = cJSON_ParseWithLength(p->body.buf, p->body.len);
                _cleanup_free_ char *rid = rt_id_text(cJSON_GetObjectItemCaseSensitive(j, "id"));
                if (rid && strcmp(rid, p->id) == 0 &&
                    cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "error"))) {
                        rt_receive(s, p->body.buf, p->body.len);
                        goto out;
                }
        }
        if (st >= 500) {
                _cleanup_free_ char *e = rt_excerpt(&p->body);
                rt_session_end(s, REMOTE_END_FAILED, "%s answered HTTP %ld%s%s", s->url, st,
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
                                rt_id_text(cJSON_GetObjectItemCaseSensitive(j, "id"));
                        if (rid && strcmp(rid, p->id) == 0 &&
                            cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "error"))) {
                                rt_receive(s, p->body.buf, p->body.len);
                                goto out;
                        }
                }
                if (p->id) {
                        _cleanup_free_ char *e = rt_excerpt(&p->body);
                        rt_answer_error(s, p->id, "remote server answered HTTP %ld%s%s", st,
                                     *e ? ": " : "", e);
                } else {
                        log_debug("%s: a notification was answered with HTTP %ld", s->url, st);
                }
                goto out;
        }
        if (st < 200 || st >= 300) {
                rt_session_end(s, REMOTE_END_FAILED, "%s answered HTTP %ld, not an MCP answer",
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
                /* A notification or response is answered 202 with no body
                 * (basic/transports); a body some servers send anyway (an
                 * empty result without an id) answers nothing of ours. */
                if (p->body.len > 0 && p->id)
                        post_receive(p, p->body.buf, p->body.len);
                else if (p->body.len > 0)
                        log_debug("%s: ignoring a JSON body answering a notification", s->url);
                break;
        case BODY_SSE:
                post_stream_cut(p, "end of stream");
                break;
        case BODY_OTHER:
                if (p->id && st != 202) {
                        _cleanup_free_ char *e = rt_excerpt(&p->body);
                        const char *ct = http_response_header(resp, "Content-Type");
                        rt_session_end(s, REMOTE_END_FAILED,
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
                rt_answer_error(s, p->id, "remote server accepted the request without answering it");
        }
        if (p->is_initialized && s->kind == REMOTE_TRANSPORT_HTTP) {
                s->get_wanted = true;
                rt_kick(s);
        }
out:
        post_free(p);
}

/* What a message is: its id text (requests only), initialize or the
 * initialized notification; for a 2026-07-28 request (its _meta names the
 * revision, and no initialize was sent on this session) the headers it
 * needs (basic/transports/streamable-http, "Request Metadata"). */
static char **classify(remote_session *s, post *p, const char *json, size_t len)
{
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(json, len);
        const char *method = json_get_string(j, "method");
        const char *version = json_get_string(json_get_object(json_get_object(j, "params"),
                                                              "_meta"),
                                              MCP_META_PROTOCOL_VERSION);

        p->id = method ? rt_id_text(cJSON_GetObjectItemCaseSensitive(j, "id")) : NULL;
        p->is_init = method && strcmp(method, "initialize") == 0;
        p->is_initialized = method && strcmp(method, "notifications/initialized") == 0;
        if (!p->legacy && !p->is_init && !s->init_id && version && p->id &&
            strlen(version) < 64 && !strpbrk(version, "\r\n")) {
                p->modern = true;
                p->tools_list = strcmp(method, "tools/list") == 0;
                return rt_modern_headers(s, j, version);
        }
        return NULL;
}

/* A 2026-07-28 session cancels a request by closing its stream
 * (basic/transports/streamable-http, "Cancellation"): true when json is a
 * notifications/cancelled for one of the session's modern requests, whose
 * transfer is then dropped. */
static bool cancel_modern(remote_session *s, const char *json, size_t len)
{
        _cleanup_json_ cJSON *j = NULL;
        _cleanup_free_ char *rid = NULL;
        const char *method;

        if (s->init_id || !memmem(json, len, "notifications/cancelled", 23))
                return false;
        j = cJSON_ParseWithLength(json, len);
        method = json_get_string(j, "method");
        if (!method || strcmp(method, "notifications/cancelled") != 0)
                return false;
        rid = rt_id_text(cJSON_GetObjectItemCaseSensitive(json_get_object(j, "params"),
                                                          "requestId"));
        for (post *p = s->posts; rid && p; p = p->next)
                if (p->modern && p->id && strcmp(p->id, rid) == 0) {
                        post_unlink(p);
                        post_free(p);
                        return true;
                }
        return false;
}

static void post_start(remote_session *s, const char *json, size_t len, bool legacy)
{
        static const char *const extra[] = {"Content-Type: application/json",
                                            "Accept: application/json, text/event-stream", NULL};
        _cleanup_strv_ char **headers = NULL;
        _cleanup_strv_ char **modern = NULL;
        corral_error err = {0};
        post *p;
        http_request_opts o = {0};

        if (!legacy && cancel_modern(s, json, len))
                return;
        p = xcalloc(1, sizeof(*p));
        p->s = s;
        p->legacy = legacy;
        p->body = STRBUF_INIT(JSONRPC_DEFAULT_MAX_MESSAGE);
        sse_parser_init(&p->sse, 0);
        modern = classify(s, p, json, len);
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
                        rt_answer_error(s, p->id, "remote server: %u requests in flight already",
                                     REMOTE_POSTS_MAX);
                post_free(p);
                return;
        }
        headers = rt_request_headers(s, extra);
        for (char **m = modern; m && *m; m++)
                headers = strv_push(headers, *m);
        o.method = "POST";
        o.url = legacy ? s->post_url : s->wire_url;
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
                        rt_stream_connect(st);
                }
                if (s->n_outbox >= LEGACY_QUEUE_MAX) {
                        if (p->id)
                                rt_answer_error(s, p->id, "remote server: no endpoint yet");
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
                rt_session_end(s, REMOTE_END_FAILED, "%s: %s", s->url, err.msg);
                post_free(p);
                return;
        }
        p->next = s->posts;
        s->posts = p;
        s->n_posts++;
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
        h = rt_host_of(url, &n);
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

int remote_session_set_header(remote_session *s, const char *name, const char *value)
{
        size_t nl = strlen(name), n = 0;
        _cleanup_free_ char *line = NULL;

        if (!s || nl == 0 || strpbrk(name, ":\r\n \t") || strpbrk(value, "\r\n"))
                return -EINVAL;
        line = xasprintf("%s: %s", name, value);
        if (strlen(line) > REMOTE_HEADER_MAX)
                return -EINVAL;
        for (char **h = s->headers; h && *h; h++, n++)
                if (strncasecmp(*h, name, nl) == 0 && (*h)[nl] == ':') {
                        free(*h);
                        *h = steal_pointer(&line);
                        return 0;
                }
        if (n >= REMOTE_HEADERS_MAX)
                return -EINVAL;
        s->headers = strv_push(s->headers, line);
        return 0;
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
        s->wire_url = cfg->query && *cfg->query
                              ? xasprintf("%s%c%s", cfg->url, strchr(cfg->url, '?') ? '&' : '?',
                                          cfg->query)
                              : xstrdup(cfg->url);
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
        rt_kick(s);
}

void remote_session_close(remote_session *s)
{
        if (!s || s->freed || s->ending)
                return;
        if (s->kind == REMOTE_TRANSPORT_HTTP && s->session_id) {
                _cleanup_strv_ char **headers = rt_request_headers(s, NULL);
                http_request_opts o = {
                        .method = "DELETE",
                        .url = s->wire_url,
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
        rt_session_end(s, REMOTE_END_CLOSED, "closed");
}

void remote_session_abort(remote_session *s)
{
        if (!s || s->freed || s->ending)
                return;
        rt_session_end(s, REMOTE_END_KILLED, "stopped");
}

remote_session *remote_session_free(remote_session *s)
{
        if (!s || s->freed)
                return NULL;
        cancel_all(s);
        s->freed = true;
        uv_close((uv_handle_t *)s->kick, rt_free_handle);
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

