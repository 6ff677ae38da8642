/* Redaction of known secrets and secret-shaped strings from JSON
 * (include/corral/redact.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/redact.h"
#include "corral/strbuf.h"

/* A string longer than the cap plus this is cut before it is searched: what
 * lies past the cap is never kept, and a secret or token reaching back
 * before the cut is still whole in what is searched. */
#define REDACT_SCAN_SLACK (64u << 10)

struct redact_set {
        char **v; /* longest first, so a secret holding another goes first */
        size_t *len;
        size_t n, cap, dropped, longest;
};

redact_set *redact_set_new(void)
{
        return xcalloc(1, sizeof(redact_set));
}

redact_set *redact_set_free(redact_set *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        free(s->len);
        free(s);
        return NULL;
}

void redact_set_add(redact_set *s, const char *value)
{
        size_t len = value ? strlen(value) : 0, at;

        if (len == 0 || len > REDACT_MAX_SECRET_LEN)
                return;
        for (size_t i = 0; i < s->n; i++)
                if (s->len[i] == len && memcmp(s->v[i], value, len) == 0)
                        return;
        if (s->n >= REDACT_MAX_SECRETS) {
                s->dropped++;
                return;
        }
        if (s->n == s->cap) {
                s->cap = s->cap ? 2 * s->cap : 16;
                s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
                s->len = xrealloc(s->len, s->cap * sizeof(*s->len));
        }
        for (at = 0; at < s->n && s->len[at] >= len; at++)
                ;
        memmove(s->v + at + 1, s->v + at, (s->n - at) * sizeof(*s->v));
        memmove(s->len + at + 1, s->len + at, (s->n - at) * sizeof(*s->len));
        s->v[at] = xstrdup(value);
        s->len[at] = len;
        s->n++;
        if (len > s->longest)
                s->longest = len;
}

size_t redact_set_count(const redact_set *s)
{
        return s ? s->n : 0;
}

size_t redact_set_dropped(const redact_set *s)
{
        return s ? s->dropped : 0;
}

bool redact_key_is_secret(const char *key)
{
        static const char *const words[] = {"password",   "passwd",     "passphrase",
                                            "secret",     "apikey",     "privatekey",
                                            "credential", "authorization", "cookie",
                                            "codeverifier"};
        char k[128];
        size_t n = 0;

        if (!key)
                return false;
        for (const char *p = key; *p && n < sizeof(k) - 1; p++)
                if (*p != '_' && *p != '-')
                        k[n++] = (char)tolower((unsigned char)*p);
        k[n] = '\0';
        for (size_t i = 0; i < ARRAY_SIZE(words); i++)
                if (strstr(k, words[i]))
                        return true;
        return n >= 5 && strcmp(k + n - 5, "token") == 0;
}

void redact_set_add_json(redact_set *s, const cJSON *j, bool all)
{
        const cJSON *c;

        if (cJSON_IsString(j)) {
                if (all)
                        redact_set_add(s, j->valuestring);
                return;
        }
        cJSON_ArrayForEach(c, j)
        {
                redact_set_add_json(s, c, all || (cJSON_IsObject(j) && redact_key_is_secret(c->string)));
        }
}

/* ---- shapes ------------------------------------------------------------ */

static bool b64url_char(char c)
{
        return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* corral_<hex id>_<base64url secret> (src/auth/tokens.c); the length of
 * the match, or 0. */
static size_t match_corral_token(const char *p, size_t n)
{
        size_t i = 7, hex = 0, sec = 0;

        if (n < 7 || memcmp(p, "corral_", 7) != 0)
                return 0;
        while (i < n && isxdigit((unsigned char)p[i]))
                i++, hex++;
        if (hex < 4 || i >= n || p[i] != '_')
                return 0;
        i++;
        while (i < n && b64url_char(p[i]))
                i++, sec++;
        return sec >= 16 ? i : 0;
}

/* A JWS/JWE compact serialization: base64url segments joined by '.', the
 * first a JSON object ("eyJ").  A run cut short by the end counts. */
static size_t match_jwt(const char *p, size_t n)
{
        size_t i = 0, seg = 0, dots = 0;

        if (n < 3 || memcmp(p, "eyJ", 3) != 0)
                return 0;
        for (; i < n; i++) {
                if (b64url_char(p[i]) || p[i] == '=') {
                        seg++;
                } else if (p[i] == '.' && seg > 0) {
                        dots++;
                        seg = 0;
                } else {
                        break;
                }
        }
        if (dots >= 2 || (i == n && i >= 16))
                return i;
        return 0;
}

/* "Bearer CRED" / "Basic CRED" (any case): the offset of CRED and its
 * length in *ret_len, or 0. */
static size_t match_scheme(const char *p, size_t n, size_t *ret_len)
{
        static const char *const schemes[] = {"bearer ", "basic "};

        for (size_t s = 0; s < ARRAY_SIZE(schemes); s++) {
                size_t sl = strlen(schemes[s]), i;
                if (n <= sl || strncasecmp(p, schemes[s], sl) != 0)
                        continue;
                for (i = sl; i < n && p[i] == ' '; i++)
                        ;
                size_t start = i;
                while (i < n && (isalnum((unsigned char)p[i]) || strchr("-._~+/=", p[i])))
                        i++;
                if (i - start >= 8) {
                        *ret_len = i - start;
                        return start;
                }
        }
        return 0;
}

static bool word_start(const char *p, size_t i)
{
        return i == 0 || !isalnum((unsigned char)p[i - 1]);
}

/* The shapes replaced in in[0..n): appended to out. */
static void redact_shapes(strbuf *out, const char *in, size_t n)
{
        size_t i = 0;

        while (i < n) {
                size_t m = 0, off = 0, len = 0;
                if (in[i] == 'c')
                        m = match_corral_token(in + i, n - i);
                else if (in[i] == 'e' && word_start(in, i))
                        m = match_jwt(in + i, n - i);
                else if ((in[i] | 0x20) == 'b' && word_start(in, i) &&
                         (off = match_scheme(in + i, n - i, &len)) > 0) {
                        (void)strbuf_append(out, in + i, off);
                        (void)strbuf_append(out, REDACT_MARK, strlen(REDACT_MARK));
                        i += off + len;
                        continue;
                }
                if (m) {
                        (void)strbuf_append(out, REDACT_MARK, strlen(REDACT_MARK));
                        i += m;
                } else {
                        (void)strbuf_append(out, in + i, 1);
                        i++;
                }
        }
}

/* in[0..n) with every secret and shape replaced (owned). */
static char *redact_string(const char *in, size_t n, const redact_set *s)
{
        _cleanup_free_ char *cur = xstrndup(in, n);
        size_t cur_len = n;
        strbuf out = STRBUF_INIT(0);

        for (size_t k = 0; s && k < s->n; k++) {
                const char *sec = s->v[k];
                size_t sl = s->len[k];
                if (sl < REDACT_MIN_SUBSTRING) {
                        if (cur_len == sl && memcmp(cur, sec, sl) == 0) {
                                free(cur);
                                cur = xstrdup(REDACT_MARK);
                                cur_len = strlen(cur);
                        }
                        continue;
                }
                if (!memmem(cur, cur_len, sec, sl))
                        continue;
                {
                        const char *p = cur, *end = cur + cur_len, *hit;
                        strbuf_reset(&out);
                        while ((hit = memmem(p, (size_t)(end - p), sec, sl))) {
                                (void)strbuf_append(&out, p, (size_t)(hit - p));
                                (void)strbuf_append(&out, REDACT_MARK, strlen(REDACT_MARK));
                                p = hit + sl;
                        }
                        (void)strbuf_append(&out, p, (size_t)(end - p));
                        cur_len = out.len;
                        free(cur);
                        cur = strbuf_steal(&out);
                }
        }
        strbuf_reset(&out);
        redact_shapes(&out, cur, cur_len);
        return strbuf_steal(&out);
}

/* A number whose text holds a secret. */
static bool number_secret(const cJSON *j, const redact_set *s)
{
        _cleanup_free_ char *t = s && s->n ? cJSON_PrintUnformatted(j) : NULL;
        size_t tl = t ? strlen(t) : 0;

        for (size_t k = 0; t && k < s->n; k++)
                if (s->len[k] >= REDACT_MIN_SUBSTRING ? memmem(t, tl, s->v[k], s->len[k]) != NULL
                                                      : tl == s->len[k] &&
                                                                memcmp(t, s->v[k], tl) == 0)
                        return true;
        return false;
}

typedef struct walk {
        const redact_set *s;
        size_t limit; /* once used passes it, the rest is past any cut */
        size_t used;  /* at most the bytes of the printed copy so far */
} walk;

static cJSON *copy(walk *w, const cJSON *j)
{
        const cJSON *c;
        cJSON *o;

        if (cJSON_IsString(j)) {
                size_t n = strlen(j->valuestring);
                size_t scan = w->limit + w->s->longest + REDACT_SCAN_SLACK;
                _cleanup_free_ char *r = redact_string(j->valuestring, n < scan ? n : scan, w->s);
                w->used += strlen(r) + 2;
                return cJSON_CreateString(r);
        }
        if (cJSON_IsNumber(j)) {
                w->used += 1;
                return number_secret(j, w->s) ? cJSON_CreateString(REDACT_MARK) : json_dup(j);
        }
        if (!cJSON_IsArray(j) && !cJSON_IsObject(j)) {
                w->used += 4;
                return json_dup(j);
        }
        o = cJSON_IsArray(j) ? cJSON_CreateArray() : cJSON_CreateObject();
        w->used += 2;
        cJSON_ArrayForEach(c, j)
        {
                cJSON *v;
                if (w->used > w->limit)
                        break;
                if (cJSON_IsArray(j)) {
                        cJSON_AddItemToArray(o, copy(w, c));
                        continue;
                }
                {
                        _cleanup_free_ char *k =
                                redact_string(c->string, strlen(c->string), w->s);
                        w->used += strlen(k) + 3;
                        if (redact_key_is_secret(c->string)) {
                                v = cJSON_CreateString(REDACT_MARK);
                                w->used += strlen(REDACT_MARK) + 2;
                        } else {
                                v = copy(w, c);
                        }
                        cJSON_AddItemToObject(o, k, v);
                }
        }
        return o;
}

char *redact_json_text(const cJSON *j, const redact_set *s, size_t cap)
{
        static redact_set empty;
        walk w = {.s = s ? s : &empty, .limit = cap < 64 ? 64 : cap};
        _cleanup_json_ cJSON *c = NULL;
        _cleanup_free_ char *text = NULL, *orig = NULL, *marker = NULL;
        size_t tl, k = 0, cost = 2, mark_len;
        cJSON *str;
        char *out;

        cap = w.limit;
        c = copy(&w, j);
        text = cJSON_PrintUnformatted(c);
        tl = strlen(text);
        if (tl <= cap)
                return steal_pointer(&text);
        orig = cJSON_PrintUnformatted(j);
        marker = xasprintf("[truncated, %zu bytes in all]", orig ? strlen(orig) : tl);
        mark_len = strlen(marker);
        /* The compact text has no control characters: '"' and '\\' are the
         * only bytes its printing as a string escapes. */
        while (k < tl) {
                size_t b = text[k] == '"' || text[k] == '\\' ? 2 : 1;
                if (cost + b + mark_len > cap)
                        break;
                cost += b;
                k++;
        }
        while (k > 0 && ((unsigned char)text[k] & 0xc0) == 0x80)
                k--;
        text[k] = '\0';
        {
                _cleanup_free_ char *joined = xasprintf("%s%s", text, marker);
                str = cJSON_CreateString(joined);
        }
        out = cJSON_PrintUnformatted(str);
        cJSON_Delete(str);
        return out;
}
