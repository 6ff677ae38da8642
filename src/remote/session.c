/* The remote session's ending, its incoming messages, and the headers and
 * failure classification every request shares (see transport.c). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "transport_internal.h"

/* ---- ending ------------------------------------------------------------- */

void rt_session_end(remote_session *s, remote_end why, const char *fmt, ...) _printf_(3, 4);
void rt_session_end(remote_session *s, remote_end why, const char *fmt, ...)
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
        rt_kick(s);
}

/* ---- incoming messages -------------------------------------------------- */

static void inbox_push(remote_session *s, char *take_json, size_t len)
{
        qmsg *q = xcalloc(1, sizeof(*q));

        q->json = take_json;
        q->len = len;
        *s->inbox_tail = q;
        s->inbox_tail = &q->next;
        rt_kick(s);
}

char *rt_id_text(const cJSON *id)
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
        idt = rt_id_text(id);
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
void rt_receive(remote_session *s, const char *data, size_t len)
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
void rt_answer_error(remote_session *s, const char *id, const char *fmt, ...) _printf_(3, 4);
void rt_answer_error(remote_session *s, const char *id, const char *fmt, ...)
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

/* ---- request set-up ------------------------------------------------------ */

/* The headers every request carries, plus extra (NULL-terminated); owned. */
char **rt_request_headers(remote_session *s, const char *const *extra)
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

const char *rt_host_of(const char *url, size_t *len)
{
        const char *h = strstr(url, "://");

        h = h ? h + 3 : url;
        *len = strcspn(h, "/?#");
        return h;
}

/* The failure class of a transfer that got no HTTP response. */
remote_end rt_transfer_failure(const http_response *resp)
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

const char *rt_content_type(http_request *req)
{
        const char *ct = http_request_header(req, "Content-Type");
        return ct ? ct : "";
}

bool rt_ct_is(const char *ct, const char *want)
{
        size_t n = strlen(want);
        return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* An excerpt of a non-MCP body for messages: one line, at most 120 bytes. */
char *rt_excerpt(const strbuf *b)
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
bool rt_auth_failure(remote_session *s, long status, const char *challenge)
{
        if (status != 401 && !(status == 403 && challenge && strstr(challenge, "insufficient_scope")))
                return false;
        free(s->challenge);
        s->challenge = challenge ? xstrndup(challenge, 4096) : NULL;
        rt_session_end(s, REMOTE_END_AUTH, "%s answered HTTP %ld: authorization required", s->url,
                    status);
        return true;
}

