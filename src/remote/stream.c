/* GET streams: Streamable HTTP's standing stream and resumptions with
 * Last-Event-ID, and the legacy HTTP+SSE stream with its endpoint event. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "transport_internal.h"

static void stream_done(void *ud, const http_response *resp);
/* ---- GET streams ---------------------------------------------------------- */

void rt_stream_free(stream *st)
{
        http_request_cancel(st->req);
        if (st->timer)
                uv_close((uv_handle_t *)st->timer, rt_free_handle);
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
        rt_stream_free(st);
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
        h1 = rt_host_of(s->url, &hl1);
        h2 = rt_host_of(c, &hl2);
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
                rt_kick(s);
                return 0;
        }
        if (strcmp(ev->type, "message") == 0 && ev->data_len > 0)
                rt_receive(s, ev->data, ev->data_len);
        return 0;
}

static int stream_data(void *ud, http_request *req, const char *data, size_t len)
{
        stream *st = ud;
        corral_error err = {0};

        if (st->mode == BODY_UNKNOWN) {
                long status = http_request_status(req);
                st->mode = status >= 200 && status < 300 &&
                                           rt_ct_is(rt_content_type(req), "text/event-stream")
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
        headers = rt_request_headers(s, extra);
        sse_parser_done(&st->sse);
        sse_parser_init(&st->sse, 0);
        strbuf_done(&st->body);
        st->body = STRBUF_INIT(REMOTE_ERROR_BODY_MAX);
        st->mode = BODY_UNKNOWN;
        st->got_event = false;
        o.url = s->wire_url;
        o.headers = (const char *const *)headers;
        o.timeout_ms = UINT_MAX;
        o.ca_file = s->ca_file;
        o.on_data = stream_data;
        o.on_done = stream_done;
        o.userdata = st;
        if (http_request_start(s->hc, &o, &st->req, &err) < 0)
                rt_session_end(s, REMOTE_END_FAILED, "%s: %s", s->url, err.msg);
}

/* Connects now, or after retry_ms when the stream has a timer (a
 * reconnection). */
void rt_stream_connect(stream *st)
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
                rt_session_end(s, REMOTE_END_FAILED, "%s: %s", s->url, st->fail);
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
                        rt_session_end(s, REMOTE_END_FAILED, "%s: the event stream ended%s%s",
                                    s->url, resp->result < 0 ? ": " : "",
                                    resp->result < 0 ? resp->error : "");
                        return;
                }
                if (!st->standing && !st->await_id) {
                        stream_unlink_free(st); /* the awaited response came */
                        return;
                }
                if (!st->got_event && ++st->attempts > REMOTE_RESUME_MAX) {
                        rt_session_end(s, REMOTE_END_FAILED,
                                    "%s: the event stream ended %u times without an event",
                                    s->url, REMOTE_RESUME_MAX);
                        return;
                }
                rt_stream_connect(st);
                return;
        }
        if (resp->result < 0) {
                rt_session_end(s, rt_transfer_failure(resp), "cannot reach %s: %s", s->url, resp->error);
                return;
        }
        if (rt_auth_failure(s, status, http_response_header(resp, "WWW-Authenticate")))
                return;
        if (st->standing && (status == 405 || (status >= 400 && status < 500 && status != 408 &&
                                                status != 429 && !s->session_id))) {
                /* The server offers no GET stream (basic/transports allows
                 * that, with a 405; without a session some answer 404). */
                log_debug("%s: no GET stream (HTTP %ld)", s->url, status);
                stream_unlink_free(st);
                s->get_open = true; /* and none will be asked for again */
                return;
        }
        if (!st->standing && !st->legacy && status != 404) {
                /* A resumption the server refuses: the request gets an error. */
                if (st->await_id)
                        rt_answer_error(s, st->await_id,
                                     "remote server: resuming the response stream failed "
                                     "(HTTP %ld)",
                                     status);
                stream_unlink_free(st);
                return;
        }
        if ((status == 404 || status == 400) && s->session_id && !st->legacy) {
                rt_session_end(s, REMOTE_END_SESSION,
                            "%s: the server no longer knows the session (HTTP %ld); "
                            "initializing again",
                            s->url, status);
                return;
        }
        {
                _cleanup_free_ char *e = rt_excerpt(&st->body);
                const char *ct = http_response_header(resp, "Content-Type");
                if (status >= 200 && status < 300)
                        rt_session_end(s, REMOTE_END_FAILED,
                                    "%s answered the event stream request with %s%s%s", s->url,
                                    ct && *ct ? ct : "no content type", *e ? ": " : "", e);
                else
                        rt_session_end(s, REMOTE_END_FAILED,
                                    "%s answered the event stream request with HTTP %ld%s%s",
                                    s->url, status, *e ? ": " : "", e);
        }
}

