/* JSON-RPC 2.0 framing, classification and builders for MCP's stdio transport
 * (MCP 2025-11-25 basic/transports §stdio, JSON-RPC 2.0 §4-§5). */
#include <string.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"

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

/* ---- parsing with exact ids ----
 *
 * cJSON keeps numbers as doubles and strings NUL-terminated, so an id like
 * 9007199254740993 or "\u0000x" would come back changed.  The parser finds the
 * text of each id-like value by a span scan of the line and swaps the parsed
 * item for a cJSON raw item holding those exact bytes, which cJSON prints
 * verbatim. */

typedef struct span {
        size_t off, len;
} span;

static size_t skip_ws(const char *s, size_t i, size_t n)
{
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
                i++;
        return i;
}

/* s[i] is '"'.  Returns the index after the closing quote, or 0.  Control
 * characters must be escaped (RFC 8259 §7); cJSON lets them through. */
static size_t skip_string(const char *s, size_t i, size_t n)
{
        for (i++; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"')
                        return i + 1;
                if (c < 0x20)
                        return 0;
                if (c == '\\' && ++i >= n)
                        return 0;
        }
        return 0;
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* RFC 8259 §6 number grammar; returns the index after it, or 0. */
static size_t skip_number(const char *s, size_t i, size_t n)
{
        if (i < n && s[i] == '-')
                i++;
        if (i >= n || !is_digit(s[i]))
                return 0;
        if (s[i] == '0')
                i++;
        else
                while (i < n && is_digit(s[i]))
                        i++;
        if (i < n && s[i] == '.') {
                if (++i >= n || !is_digit(s[i]))
                        return 0;
                while (i < n && is_digit(s[i]))
                        i++;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                if (i >= n || !is_digit(s[i]))
                        return 0;
                while (i < n && is_digit(s[i]))
                        i++;
        }
        return i;
}

/* Skips one value starting at s[i] (no leading whitespace).  Containers are
 * skipped by bracket counting outside strings; cJSON checks the structure. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
        if (i >= n)
                return 0;
        if (s[i] == '"')
                return skip_string(s, i, n);
        if (s[i] == '-' || is_digit(s[i]))
                return skip_number(s, i, n);
        if (s[i] == '{' || s[i] == '[') {
                size_t depth = 0;
                while (i < n) {
                        char c = s[i];
                        if (c == '"') {
                                if (!(i = skip_string(s, i, n)))
                                        return 0;
                                continue;
                        }
                        if (c == '{' || c == '[')
                                depth++;
                        else if ((c == '}' || c == ']') && --depth == 0)
                                return i + 1;
                        i++;
                }
                return 0;
        }
        while (i < n && s[i] >= 'a' && s[i] <= 'z') /* true, false, null */
                i++;
        return i;
}

/* Does the JSON string text s[0..n) (quotes included) decode to key? */
static bool key_is(const char *s, size_t n, const char *key)
{
        size_t klen = strlen(key);

        if (!memchr(s, '\\', n))
                return n == klen + 2 && memcmp(s + 1, key, klen) == 0;
        /* Escaped: decode as cJSON does, so the member found is the one
         * cJSON_GetObjectItemCaseSensitive finds. */
        _cleanup_json_ cJSON *k = cJSON_ParseWithLength(s, n);
        return cJSON_IsString(k) && strcmp(k->valuestring, key) == 0;
}

/* Finds the first member named key of the object at s[obj.off..].  Returns
 * 1 with its value's span, 0 when there is none (or obj is no object), -1
 * when the text up to there is not JSON cJSON would read the same way (a
 * number like 01 that cJSON takes but RFC 8259 §6 does not). */
static int find_member(const char *s, span obj, const char *key, span *ret)
{
        size_t n = obj.off + obj.len, i = skip_ws(s, obj.off, n);

        if (i >= n || s[i] != '{')
                return 0;
        i = skip_ws(s, i + 1, n);
        if (i < n && s[i] == '}')
                return 0;
        while (i < n && s[i] == '"') {
                size_t kend = skip_string(s, i, n), vstart, vend;
                if (!kend)
                        return -1;
                vstart = skip_ws(s, kend, n);
                if (vstart >= n || s[vstart] != ':')
                        return -1;
                vstart = skip_ws(s, vstart + 1, n);
                if (!(vend = skip_value(s, vstart, n)))
                        return -1;
                if (key_is(s + i, kend - i, key)) {
                        *ret = (span){vstart, vend - vstart};
                        return 1;
                }
                i = skip_ws(s, vend, n);
                if (i < n && s[i] == '}')
                        return 0;
                if (i >= n || s[i] != ',')
                        return -1;
                i = skip_ws(s, i + 1, n);
        }
        return -1;
}

/* RFC 3629 §4 well-formed UTF-8: the length of the sequence at s[i], or 0
 * when it is ill-formed (overlong, a surrogate, past U+10FFFF, cut short). */
static size_t utf8_seq(const unsigned char *s, size_t i, size_t n)
{
        unsigned char c = s[i], lo = 0x80, hi = 0xBF;
        size_t more;

        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF)
                more = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
                more = 2;
                if (c == 0xE0)
                        lo = 0xA0;
                else if (c == 0xED)
                        hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
                more = 3;
                if (c == 0xF0)
                        lo = 0x90;
                else if (c == 0xF4)
                        hi = 0x8F;
        } else
                return 0;
        if (n - i - 1 < more || s[i + 1] < lo || s[i + 1] > hi)
                return 0;
        for (size_t k = 2; k <= more; k++)
                if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                        return 0;
        return more + 1;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
        for (size_t i = 0, k; i < n; i += k)
                if (!(k = utf8_seq(s, i, n)))
                        return false;
        return true;
}

/* RFC 8259 §7: control characters inside strings must be escaped; cJSON
 * would let them through, and an echoed id would then not be JSON. */
static bool strings_clean(const char *s, size_t n)
{
        bool in = false;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (!in) {
                        in = c == '"';
                } else if (c == '\\') {
                        i++;
                } else if (c == '"') {
                        in = false;
                } else if (c < 0x20) {
                        return false;
                }
        }
        return true;
}

char *jsonrpc_utf8_repair(const char *text, size_t len, size_t *ret_len)
{
        const unsigned char *s = (const unsigned char *)text;
        strbuf b;
        size_t i = 0, k;

        if (utf8_valid(s, len))
                return NULL;
        b = STRBUF_INIT(0);
        while (i < len) {
                if ((k = utf8_seq(s, i, len))) {
                        strbuf_append(&b, text + i, k);
                        i += k;
                } else {
                        strbuf_append(&b, "\xEF\xBF\xBD", 3); /* U+FFFD */
                        i++;
                }
        }
        *ret_len = b.len;
        return strbuf_steal(&b);
}

/* Where, in the message, ids live whose exact text must survive: the id, the
 * id a cancellation names, and the client's progress token. */
typedef struct id_site {
        span where;
        cJSON *parent; /* filled after parsing */
        const char *key;
} id_site;

#define MAX_ID_SITES 3
/* cJSON 1.7 parses at most 63 characters of a number; a longer id is parsed
 * as 0 and its text kept. */
#define CJSON_NUMBER_MAX 63

/* Returns the number of sites found, or -1 when the text is malformed. */
static int find_id_sites(const char *s, size_t n, id_site *sites)
{
        span all = {0, n}, params, meta, v;
        int k = 0, r;

        if ((r = find_member(s, all, "id", &v)) < 0)
                return -1;
        if (r)
                sites[k++] = (id_site){v, NULL, "id"};
        if ((r = find_member(s, all, "params", &params)) < 0)
                return -1;
        if (r) {
                if ((r = find_member(s, params, "requestId", &v)) < 0)
                        return -1;
                if (r)
                        sites[k++] = (id_site){v, NULL, "requestId"};
                if ((r = find_member(s, params, "_meta", &meta)) < 0)
                        return -1;
                if (r && (r = find_member(s, meta, "progressToken", &v)) < 0)
                        return -1;
                if (r)
                        sites[k++] = (id_site){v, NULL, "progressToken"};
        }
        return k;
}

cJSON *jsonrpc_parse(const char *text, size_t len)
{
        id_site sites[MAX_ID_SITES];
        size_t end_off;
        int nsites;
        const char *end = NULL;
        _cleanup_free_ char *copy = NULL;
        const char *in = text;
        cJSON *msg;

        /* RFC 8259 §8.1: JSON text is UTF-8.  A message that is not is
         * rejected whole (never echoed back in part). */
        if (memchr(text, '\0', len) || !utf8_valid((const unsigned char *)text, len) ||
            !strings_clean(text, len))
                return NULL;
        if ((nsites = find_id_sites(text, len, sites)) < 0)
                return NULL;
        for (int i = 0; i < nsites; i++) {
                span w = sites[i].where;
                if (w.len <= CJSON_NUMBER_MAX || text[w.off] == '"')
                        continue;
                if (!copy) {
                        copy = xstrndup(text, len);
                        in = copy;
                }
                copy[w.off] = '0';
                memset(copy + w.off + 1, ' ', w.len - 1);
        }
        msg = cJSON_ParseWithLengthOpts(in, len, &end, false);
        if (!msg)
                return NULL;
        end_off = skip_ws(in, (size_t)(end - in), len);
        if (end_off != len) {
                cJSON_Delete(msg);
                return NULL;
        }
        for (int i = 0; i < nsites; i++) {
                cJSON *parent = msg;
                span w = sites[i].where;
                cJSON *old, *raw;

                if (strcmp(sites[i].key, "requestId") == 0)
                        parent = cJSON_GetObjectItemCaseSensitive(msg, "params");
                else if (strcmp(sites[i].key, "progressToken") == 0)
                        parent = cJSON_GetObjectItemCaseSensitive(
                                cJSON_GetObjectItemCaseSensitive(msg, "params"), "_meta");
                old = cJSON_GetObjectItemCaseSensitive(parent, sites[i].key);
                if (!cJSON_IsString(old) && !cJSON_IsNumber(old))
                        continue;
                _cleanup_free_ char *t = xstrndup(text + w.off, w.len);
                raw = cJSON_CreateRaw(t);
                if (!raw)
                        abort();
                /* Keeps the member's place and name (the first of that name,
                 * as cJSON_GetObjectItemCaseSensitive finds it). */
                cJSON_ReplaceItemInObjectCaseSensitive(parent, sites[i].key, raw);
        }
        return msg;
}

jsonrpc_id_type jsonrpc_id_type_of(const cJSON *id)
{
        if (cJSON_IsRaw(id) && id->valuestring)
                return id->valuestring[0] == '"' ? JSONRPC_ID_STRING : JSONRPC_ID_NUMBER;
        if (cJSON_IsString(id))
                return JSONRPC_ID_STRING;
        if (cJSON_IsNumber(id))
                return id->valuedouble - id->valuedouble == 0 ? JSONRPC_ID_NUMBER
                                                              : JSONRPC_ID_INVALID;
        if (cJSON_IsNull(id))
                return JSONRPC_ID_NULL;
        return JSONRPC_ID_INVALID;
}

bool jsonrpc_id_valid(const cJSON *id)
{
        jsonrpc_id_type t = jsonrpc_id_type_of(id);
        return t == JSONRPC_ID_STRING || t == JSONRPC_ID_NUMBER;
}

bool jsonrpc_id_equal(const cJSON *a, const cJSON *b)
{
        if (!jsonrpc_id_valid(a) || !jsonrpc_id_valid(b))
                return false;
        if (!cJSON_IsRaw(a) && !cJSON_IsRaw(b)) {
                if (cJSON_IsString(a) && cJSON_IsString(b))
                        return strcmp(a->valuestring, b->valuestring) == 0;
                if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
                        return a->valuedouble == b->valuedouble;
                return false;
        }
        /* Exact ids compare as the text the client sent. */
        _cleanup_free_ char *ta = json_print(a);
        _cleanup_free_ char *tb = json_print(b);
        return strcmp(ta, tb) == 0;
}

static bool valid_id(const cJSON *id, bool allow_null)
{
        return jsonrpc_id_valid(id) || (allow_null && cJSON_IsNull(id));
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
