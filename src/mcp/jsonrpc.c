/* JSON-RPC 2.0 framing, classification and builders for MCP's stdio transport
 * (MCP 2025-11-25 basic/transports §stdio, JSON-RPC 2.0 §4-§5). */
#include <string.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"

/* A buffer that once held a huge message is released rather than kept for the
 * life of the session. */
#define FRAMER_KEEP_CAP (1u << 20)

void jsonrpc_framer_init(jsonrpc_framer *f, size_t max)
{
        f->max = max ? max : JSONRPC_DEFAULT_MAX_MESSAGE;
        /* One extra byte so a message of exactly max bytes may carry its '\r'. */
        f->buf = STRBUF_INIT(f->max + 1);
        f->discarding = false;
}

void jsonrpc_framer_done(jsonrpc_framer *f)
{
        strbuf_done(&f->buf);
        f->discarding = false;
}

static bool blank(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
                        return false;
        return true;
}

/* Hands the buffered line to cb.  Returns 1 when the line was oversize, -1
 * when cb asked to stop, else 0. */
static int deliver(jsonrpc_framer *f, jsonrpc_line_cb cb, void *ud)
{
        size_t len = f->buf.len;
        int r = 0;

        if (len && f->buf.buf[len - 1] == '\r')
                len--;
        if (len > f->max)
                r = 1;
        else if (!blank(f->buf.buf, len)) {
                f->buf.buf[len] = '\0';
                if (cb(ud, f->buf.buf, len) != 0)
                        r = -1;
        }
        if (f->buf.cap > FRAMER_KEEP_CAP)
                strbuf_done(&f->buf);
        else
                strbuf_reset(&f->buf);
        return r;
}

jsonrpc_frame_result jsonrpc_framer_feed(jsonrpc_framer *f, const char *data, size_t n,
                                         jsonrpc_line_cb cb, void *ud)
{
        jsonrpc_frame_result res = JSONRPC_FRAME_OK;
        const char *p = data, *end = data + n;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *seg_end = nl ? nl : end;
                const char *next = nl ? nl + 1 : end;

                if (f->discarding) {
                        if (nl)
                                f->discarding = false;
                        p = next;
                        continue;
                }
                if (strbuf_append(&f->buf, p, (size_t)(seg_end - p)) < 0) {
                        /* Over the cap: drop what we have and skip to the next '\n'. */
                        strbuf_reset(&f->buf);
                        if (f->buf.cap > FRAMER_KEEP_CAP)
                                strbuf_done(&f->buf);
                        f->discarding = !nl;
                        res = JSONRPC_FRAME_OVERSIZE;
                        p = next;
                        continue;
                }
                p = next;
                if (!nl)
                        break;
                int r = deliver(f, cb, ud);
                if (r < 0)
                        return JSONRPC_FRAME_STOP;
                if (r > 0)
                        res = JSONRPC_FRAME_OVERSIZE;
        }
        return res;
}

static bool valid_id(const cJSON *id, bool allow_null)
{
        if (cJSON_IsString(id))
                return true;
        if (cJSON_IsNumber(id))
                return id->valuedouble - id->valuedouble == 0; /* finite */
        return allow_null && cJSON_IsNull(id);
}

static bool valid_error(const cJSON *e)
{
        if (!cJSON_IsObject(e))
                return false;
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
        const cJSON *message = cJSON_GetObjectItemCaseSensitive(e, "message");
        if (!cJSON_IsNumber(code) || !cJSON_IsString(message))
                return false;
        double d = code->valuedouble;
        /* Range first, so the cast below is defined; also rejects NaN. */
        if (!(d >= -2147483648.0 && d <= 2147483647.0))
                return false;
        return d == (double)(long)d;
}

jsonrpc_kind jsonrpc_classify(const cJSON *msg)
{
        if (!cJSON_IsObject(msg))
                return JSONRPC_INVALID;
        const cJSON *version = cJSON_GetObjectItemCaseSensitive(msg, "jsonrpc");
        if (!cJSON_IsString(version) || strcmp(version->valuestring, "2.0") != 0)
                return JSONRPC_INVALID;

        const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
        const cJSON *method = cJSON_GetObjectItemCaseSensitive(msg, "method");
        const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");

        if (method) {
                const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
                if (!cJSON_IsString(method) || result || error)
                        return JSONRPC_INVALID;
                /* §4.2: params, when present, is a structured value. */
                if (params && !cJSON_IsObject(params) && !cJSON_IsArray(params))
                        return JSONRPC_INVALID;
                if (!id)
                        return JSONRPC_NOTIFICATION;
                return valid_id(id, false) ? JSONRPC_REQUEST : JSONRPC_INVALID;
        }
        /* §5: a response carries an id (null when the request was unreadable)
         * and exactly one of result and error. */
        if (!id || !valid_id(id, true) || (!result == !error))
                return JSONRPC_INVALID;
        if (error && !valid_error(error))
                return JSONRPC_INVALID;
        return JSONRPC_RESPONSE;
}

static cJSON *envelope(const cJSON *id, bool with_id)
{
        cJSON *m = cJSON_CreateObject();
        if (!m)
                abort();
        cJSON_AddStringToObject(m, "jsonrpc", "2.0");
        if (with_id)
                cJSON_AddItemToObject(m, "id", id ? json_dup(id) : cJSON_CreateNull());
        return m;
}

cJSON *jsonrpc_request(const cJSON *id, const char *method, cJSON *take_params)
{
        cJSON *m = envelope(id, true);
        cJSON_AddStringToObject(m, "method", method);
        if (take_params)
                cJSON_AddItemToObject(m, "params", take_params);
        return m;
}

cJSON *jsonrpc_notification(const char *method, cJSON *take_params)
{
        cJSON *m = envelope(NULL, false);
        cJSON_AddStringToObject(m, "method", method);
        if (take_params)
                cJSON_AddItemToObject(m, "params", take_params);
        return m;
}

cJSON *jsonrpc_result(const cJSON *id, cJSON *take_result)
{
        cJSON *m = envelope(id, true);
        cJSON_AddItemToObject(m, "result", take_result ? take_result : cJSON_CreateObject());
        return m;
}

cJSON *jsonrpc_error(const cJSON *id, int code, const char *message, cJSON *take_data)
{
        cJSON *m = envelope(id, true);
        cJSON *e = cJSON_AddObjectToObject(m, "error");
        cJSON_AddNumberToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", message ? message : "");
        if (take_data)
                cJSON_AddItemToObject(e, "data", take_data);
        return m;
}

char *jsonrpc_frame(const cJSON *msg, size_t *ret_len)
{
        /* cJSON's unformatted printer escapes control characters inside strings
         * and emits no whitespace, so the only '\n' is the one added here. */
        char *s = json_print(msg);
        size_t n = strlen(s);

        s = xrealloc(s, n + 2);
        s[n] = '\n';
        s[n + 1] = '\0';
        if (ret_len)
                *ret_len = n + 1;
        return s;
}
