/* MCP sessions over HTTP (MCP 2025-11-25 basic/transports §streamable-http:
 * session management, resumability): each one owns a gateway session and
 * the streams its answers go out on.  The gateway says which request a
 * message belongs to (gateway_out); the message goes on that request's
 * stream, everything else on the standalone stream (GET).  Every SSE event
 * is also kept in a capped per-session log, so a client whose connection
 * was cut can ask for what it missed with Last-Event-ID. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "gateway/http_internal.h"

void hreq_wake(hreq *r)
{
        if (r && r->suspended) {
                r->suspended = false;
                MHD_resume_connection(r->conn);
                http_server_kick(r->h->srv);
        }
}

/* ---- event log ---- */

static void log_drop_oldest(hsession *s)
{
        hevent *e = &s->log[s->log_start];

        s->log_bytes -= e->len;
        free(e->text);
        *e = (hevent){0};
        s->log_start = (s->log_start + 1) % HTTP_EVENT_LOG_MAX;
        s->log_n--;
}

static void log_add(hsession *s, uint64_t stream, uint64_t seq, const char *text, size_t len)
{
        hevent *e;

        if (len > HTTP_EVENT_LOG_BYTES)
                return;
        while (s->log_n &&
               (s->log_n == HTTP_EVENT_LOG_MAX || s->log_bytes + len > HTTP_EVENT_LOG_BYTES))
                log_drop_oldest(s);
        e = &s->log[(s->log_start + s->log_n) % HTTP_EVENT_LOG_MAX];
        e->stream = stream;
        e->seq = seq;
        e->text = xstrndup(text, len);
        e->len = len;
        s->log_n++;
        s->log_bytes += len;
}

void hsession_replay(hsession *s, hstream *st, uint64_t stream, uint64_t after_seq)
{
        strbuf_reset(&st->out);
        for (size_t i = 0; i < s->log_n; i++) {
                const hevent *e = &s->log[(s->log_start + i) % HTTP_EVENT_LOG_MAX];
                if (e->stream == stream && e->seq > after_seq)
                        (void)strbuf_append(&st->out, e->text, e->len);
        }
}

/* ---- streams ---- */

hstream *hstream_new(hsession *s, const cJSON *req_id)
{
        hstream *st = xcalloc(1, sizeof(*st));

        st->sess = s;
        st->id = req_id ? ++s->next_stream : 0;
        st->req_id = req_id ? json_dup(req_id) : NULL;
        st->out = STRBUF_INIT(HTTP_STREAM_QUEUE_MAX);
        st->next = s->streams;
        if (s->streams)
                s->streams->prev = st;
        s->streams = st;
        s->n_streams++;
        return st;
}

void hstream_free(hstream *st)
{
        hsession *s;

        if (!st)
                return;
        s = st->sess;
        if (st->r) {
                st->r->st = NULL;
                hreq_wake(st->r);
        }
        if (st->prev)
                st->prev->next = st->next;
        else if (s && s->streams == st)
                s->streams = st->next;
        if (st->next)
                st->next->prev = st->prev;
        if (s)
                s->n_streams--;
        cJSON_Delete(st->req_id);
        strbuf_done(&st->out);
        free(st->json);
        free(st);
}

hstream *hstream_find(hsession *s, uint64_t id)
{
        for (hstream *st = s->streams; st; st = st->next)
                if (st->id == id)
                        return st;
        return NULL;
}

void hstream_attach(hstream *st, hreq *r)
{
        if (st->r && st->r != r) {
                st->r->st = NULL;
                hreq_wake(st->r);
        }
        st->r = r;
        r->st = st;
}

static hstream *stream_for(hsession *s, const cJSON *id)
{
        hstream *zero = NULL;

        for (hstream *st = s->streams; st; st = st->next) {
                if (id && st->req_id && !st->done && jsonrpc_id_equal(st->req_id, id))
                        return st;
                if (st->id == 0)
                        zero = st;
        }
        return zero ? zero : hstream_new(s, NULL);
}

/* One message for st: the JSON body when it is the request's only message
 * and a connection waits for it, else an SSE event. */
static void deliver(hstream *st, const char *data, size_t len, bool last)
{
        hsession *s = st->sess;
        strbuf ev = STRBUF_INIT(0);
        uint64_t seq;

        if (len && data[len - 1] == '\n')
                len--;
        if (last && st->req_id && !st->sse && st->r && !s->legacy) {
                st->json = xstrndup(data, len);
                st->json_len = len;
                st->done = true;
                hreq_wake(st->r);
                return;
        }
        st->sse = true;
        seq = ++s->next_seq;
        if (s->legacy)
                strbuf_appendf(&ev, "event: message\ndata: ");
        else
                strbuf_appendf(&ev,
                               "id: %llu-%llu\nevent: message\ndata: ", (unsigned long long)st->id,
                               (unsigned long long)seq);
        strbuf_append(&ev, data, len);
        strbuf_append(&ev, "\n\n", 2);
        if (!s->legacy)
                log_add(s, st->id, seq, ev.buf, ev.len);
        /* A POST stream whose client went away keeps only the log. */
        if (st->r || st->id == 0) {
                if (strbuf_append(&st->out, ev.buf, ev.len) < 0) {
                        /* Over HTTP_STREAM_QUEUE_MAX unread: the connection is
                         * ended; the log still has the latest events. */
                        log_warn("http: session %s: ending a stream its client does not read",
                                 s->id);
                        strbuf_reset(&st->out);
                        if (st->r) {
                                hreq *r = st->r;
                                st->r = NULL;
                                r->st = NULL;
                                hreq_wake(r);
                        }
                        if (st->id != 0)
                                st->done = true;
                }
        }
        strbuf_done(&ev);
        if (last && st->req_id)
                st->done = true;
        if (st->r)
                hreq_wake(st->r);
        else if (st->done)
                hstream_free(st);
}

void hsession_cancelled(hsession *s, const cJSON *req_id)
{
        /* MCP cancellation: the request gets no answer, so its stream ends
         * here (the client has stopped waiting on it). */
        for (hstream *st = s->streams; st; st = st->next)
                if (st->req_id && !st->done && jsonrpc_id_equal(st->req_id, req_id)) {
                        st->done = true;
                        if (st->r)
                                hreq_wake(st->r);
                        else
                                hstream_free(st);
                        return;
                }
}

static int session_send(void *ud, const char *data, size_t len, const gateway_out *out)
{
        hsession *s = ud;

        deliver(stream_for(s, s->legacy ? NULL : out->id), data, len, out->response);
        return 0;
}

static const gateway_session_ops http_ops = {.send = session_send};

/* ---- sessions ---- */

hsession *hsession_new(gw_http *h, const char *user, corral_level level, const char *scope,
                       bool legacy)
{
        hsession *s = xcalloc(1, sizeof(*s));
        unsigned char rnd[16];
        gateway_session_config cfg = {.level = level, .uid = -1, .user = user, .server = scope, .iface = "http"};

        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
                abort();
        for (size_t i = 0; i < sizeof(rnd); i++)
                snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
        s->h = h;
        s->legacy = legacy;
        s->user = user ? xstrdup(user) : NULL;
        s->scope = scope ? xstrdup(scope) : NULL;
        s->last_active = uv_now(gateway_loop(h->gw));
        s->gs = gateway_session_new(h->gw, &http_ops, s, &cfg);
        s->next = h->sessions;
        if (h->sessions)
                h->sessions->prev = s;
        h->sessions = s;
        h->n_sessions++;
        return s;
}

void hsession_free(hsession *s)
{
        gw_http *h;

        if (!s)
                return;
        h = s->h;
        for (hreq *r = h->reqs; r; r = r->next)
                if (r->modern_sess == s)
                        r->modern_sess = NULL;
        /* Cancels what is in flight upstream; nothing is sent to us any more. */
        s->gs = gateway_session_free(s->gs);
        while (s->streams)
                hstream_free(s->streams);
        while (s->log_n)
                log_drop_oldest(s);
        if (s->prev)
                s->prev->next = s->next;
        else if (h->sessions == s)
                h->sessions = s->next;
        if (s->next)
                s->next->prev = s->prev;
        h->n_sessions--;
        free(s->user);
        free(s->scope);
        free(s);
}

hsession *hsession_find(gw_http *h, const char *id)
{
        if (!id)
                return NULL;
        for (hsession *s = h->sessions; s; s = s->next)
                if (strcmp(s->id, id) == 0)
                        return s;
        return NULL;
}

/* Sessions nobody has used for session_idle_ms, with no connection open. */
void http_sweep(gw_http *h)
{
        uint64_t now = uv_now(gateway_loop(h->gw));
        hsession *next;

        for (hsession *s = h->sessions; s; s = next) {
                bool attached = false;

                next = s->next;
                if (s->modern)
                        continue; /* freed with its connection */
                for (hstream *st = s->streams; st && !attached; st = st->next)
                        attached = st->r != NULL;
                if (attached)
                        s->last_active = now;
                else if (now - s->last_active >= h->session_idle_ms) {
                        log_info("http: session %s idle for %llu s: closing it", s->id,
                                 (unsigned long long)(h->session_idle_ms / 1000));
                        hsession_free(s);
                }
        }
}
