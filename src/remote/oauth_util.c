/* Helpers of the OAuth client: base64url and PKCE values, form encoding,
 * query and challenge parsing, and blocking HTTP on a private loop for the
 * CLI (remote/oauth_internal.h). */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <ctype.h>
#include <curl/curl.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "corral/fs.h"
#include "corral/http_fetch.h"
#include "corral/jsonutil.h"
#include "corral/oauth_client.h"
#include "corral/remote.h"
#include "corral/strbuf.h"
#include "remote/oauth_internal.h"

/* ---- small helpers --------------------------------------------------------- */

char *oauth_b64url(const unsigned char *data, size_t n)
{
        char *out = xmalloc(4 * ((n + 2) / 3) + 1);
        int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);

        while (len > 0 && out[len - 1] == '=')
                len--;
        out[len] = '\0';
        for (char *c = out; *c; c++)
                *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
        return out;
}

char *oauth_random_b64url(size_t bytes)
{
        unsigned char buf[64];

        if (bytes > sizeof(buf) || RAND_bytes(buf, (int)bytes) != 1)
                return NULL;
        return oauth_b64url(buf, bytes);
}

/* RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))). */
char *oauth_s256(const char *verifier)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        if (EVP_Digest(verifier, strlen(verifier), md, &n, EVP_sha256(), NULL) != 1)
                return NULL;
        return oauth_b64url(md, n);
}

/* application/x-www-form-urlencoded value (RFC 3986 unreserved kept). */
void oauth_form_add(strbuf *b, const char *key, const char *value)
{
        static const char hex[] = "0123456789ABCDEF";

        if (!value)
                return;
        if (b->len)
                (void)strbuf_append(b, "&", 1);
        (void)strbuf_append(b, key, strlen(key));
        (void)strbuf_append(b, "=", 1);
        for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
                if (isalnum(*c) || strchr("-._~", *c)) {
                        (void)strbuf_append(b, c, 1);
                } else {
                        char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
                        (void)strbuf_append(b, e, 3);
                }
        }
}

char *oauth_pct_decode(const char *s, size_t n)
{
        char *out = xmalloc(n + 1);
        size_t o = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
                    isxdigit((unsigned char)s[i + 2])) {
                        char h[3] = {s[i + 1], s[i + 2], 0};
                        out[o++] = (char)strtol(h, NULL, 16);
                        i += 2;
                } else {
                        out[o++] = s[i] == '+' ? ' ' : s[i];
                }
        }
        out[o] = '\0';
        return out;
}

/* The value of key in a query string (decoded, owned) or NULL. */
char *oauth_query_get(const char *query, const char *key)
{
        size_t kl = strlen(key);

        for (const char *p = query; p && *p;) {
                size_t n = strcspn(p, "&#");
                if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=')
                        return oauth_pct_decode(p + kl + 1, n - kl - 1);
                p += n;
                if (*p != '&')
                        break;
                p++;
        }
        return NULL;
}

/* A parameter of a WWW-Authenticate Bearer challenge (RFC 6750 §3,
 * auth-param = token "=" ( token / quoted-string )); owned or NULL. */
char *oauth_challenge_param(const char *h, const char *name)
{
        /* RFC 9110 §11.2: challenge = auth-scheme [ 1*SP ( token68 /
         * #auth-param ) ], auth-param = token BWS "=" BWS ( token /
         * quoted-string ).  Words without "=" (schemes, token68) are
         * skipped; a quoted value is read whole, so a name inside it is
         * never taken for a parameter. */
        size_t nl = strlen(name);
        const char *p = h;

        while (p && *p) {
                const char *k;
                size_t kl;
                bool want;

                p += strspn(p, " \t,");
                if (*p == '"' || *p == '=') { /* stray: skip it */
                        p++;
                        continue;
                }
                k = p;
                kl = strcspn(p, " \t,=\"");
                p += kl;
                if (kl == 0)
                        continue;
                p += strspn(p, " \t");
                if (*p != '=')
                        continue;
                p++;
                p += strspn(p, " \t");
                want = kl == nl && strncasecmp(k, name, nl) == 0;
                if (*p == '"') {
                        strbuf b = STRBUF_INIT(8192);
                        for (p++; *p && *p != '"'; p++) {
                                if (*p == '\\' && p[1])
                                        p++;
                                if (want && strbuf_append(&b, p, 1) < 0)
                                        break;
                        }
                        if (want)
                                return strbuf_steal(&b);
                        if (*p == '"')
                                p++;
                } else {
                        size_t vl = strcspn(p, " \t,");
                        if (want)
                                return xstrndup(p, vl);
                        p += vl;
                }
        }
        return NULL;
}

/* scheme://host[:port] of url; owned. */
char *oauth_origin_of(const char *url)
{
        const char *h = strstr(url, "://");
        size_t n;

        if (!h)
                return xstrdup(url);
        h += 3;
        n = strcspn(h, "/?#");
        return xstrndup(url, (size_t)(h - url) + n);
}

/* The path of url without query/fragment, "" for "/"; pointer into url. */
const char *oauth_path_of(const char *url, size_t *len)
{
        const char *h = strstr(url, "://");
        const char *p;

        h = h ? h + 3 : url;
        p = h + strcspn(h, "/?#");
        *len = strcspn(p, "?#");
        if (*len == 1 && *p == '/')
                *len = 0;
        return p;
}

/* ---- blocking HTTP on a private loop ------------------------------------- */

/* GET (form == NULL) or POST form (application/x-www-form-urlencoded) or
 * json (application/json), through http_fetch_blocking().  Returns 0 with
 * the status and body (owned), or -EX_UNAVAILABLE (no answer) / -EX_PROTOCOL
 * (a URL that is not https:// beyond loopback). */
static int fetch_with(const char *url, const char *form, const char *json,
                      const char *const *extra, long *ret_status, char **ret_body,
                      corral_error *err)
{
        const char *hdr_form[] = {"Content-Type: application/x-www-form-urlencoded",
                                  "Accept: application/json", NULL};
        const char *hdr_json[] = {"Content-Type: application/json", "Accept: application/json",
                                  NULL};
        const char *hdr_get[] = {"Accept: application/json", NULL};
        _cleanup_strv_ char **hdrs = NULL;
        http_request_opts o = {0};
        http_fetch_result res = {0};
        int r;

        if (!remote_url_allowed(url, false))
                return corral_error_set(err, EX_PROTOCOL,
                                        "refusing %s: authorization URLs must be https:// "
                                        "(http:// only on loopback)",
                                        url);
        o.url = url;
        o.method = form || json ? "POST" : "GET";
        o.body = form ? form : json;
        o.body_len = o.body ? strlen(o.body) : 0;
        for (const char *const *h = form ? hdr_form : json ? hdr_json : hdr_get; *h; h++)
                hdrs = strv_push(hdrs, *h);
        for (const char *const *h = extra; h && *h; h++)
                hdrs = strv_push(hdrs, *h);
        o.headers = (const char *const *)hdrs;
        o.max_body = OAUTH_DOC_MAX;
        o.timeout_ms = FETCH_TIMEOUT_MS;
        o.ca_file = getenv("CORRAL_CA_BUNDLE");
        r = http_fetch_blocking(&o, &res, err);
        if (r < 0)
                return r;
        *ret_status = res.status;
        *ret_body = steal_pointer(&res.body);
        http_fetch_result_done(&res);
        return 0;
}

int oauth_fetch(const char *url, const char *form, const char *json, long *ret_status,
                 char **ret_body, corral_error *err)
{
        return fetch_with(url, form, json, NULL, ret_status, ret_body, err);
}

int oauth_fetch_form(const char *url, const char *form, const char *const *extra,
                     long *ret_status, char **ret_body, corral_error *err)
{
        return fetch_with(url, form, NULL, extra, ret_status, ret_body, err);
}

/* ---- client authentication at the token endpoint -------------------------- */

char *oauth_pick_auth_method(const cJSON *supported, bool has_secret)
{
        if (!has_secret)
                return xstrdup("none");
        /* RFC 8414 §2: client_secret_basic when the server lists none. */
        if (!cJSON_IsArray(supported) || oauth_array_has(supported, "client_secret_basic"))
                return xstrdup("client_secret_basic");
        if (oauth_array_has(supported, "client_secret_post"))
                return xstrdup("client_secret_post");
        return xstrdup("none");
}

char *oauth_client_auth(const cJSON *state, strbuf *form)
{
        const char *id = json_get_string(state, "client_id");
        const char *secret = json_get_string(state, "client_secret");
        const char *method = json_get_string(state, "token_endpoint_auth_method");

        if (!method) /* state written before the method was recorded */
                method = secret ? "client_secret_post" : "none";
        if (id && secret && strcmp(method, "client_secret_basic") == 0) {
                /* RFC 6749 §2.3.1: id and secret form-encoded, joined by ':',
                 * base64. */
                strbuf a = STRBUF_INIT(0), b = STRBUF_INIT(0);
                _cleanup_free_ char *pair = NULL, *out = NULL;
                size_t n;
                int len;

                oauth_form_add(&a, "i", id);
                oauth_form_add(&b, "s", secret);
                pair = xasprintf("%s:%s", a.buf + 2, b.buf + 2); /* past "i=", "s=" */
                strbuf_done(&a);
                strbuf_done(&b);
                n = strlen(pair);
                out = xmalloc(4 * ((n + 2) / 3) + 1);
                len = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)pair, (int)n);
                out[len < 0 ? 0 : len] = '\0';
                return xasprintf("Authorization: Basic %s", out);
        }
        oauth_form_add(form, "client_id", id);
        if (strcmp(method, "client_secret_post") == 0)
                oauth_form_add(form, "client_secret", secret);
        return NULL;
}

int remote_fetch(const char *url, const char *const *headers, long *ret_status, char **ret_body,
                 corral_error *err)
{
        return fetch_with(url, NULL, NULL, headers, ret_status, ret_body, err);
}

/* A JSON object document at url with status 200; NULL (err set) else. */
cJSON *oauth_fetch_json(const char *url, const char *what, corral_error *err)
{
        _cleanup_free_ char *body = NULL;
        long status = 0;
        cJSON *j;

        if (oauth_fetch(url, NULL, NULL, &status, &body, err) < 0)
                return NULL;
        if (status != 200) {
                corral_error_set(err, EX_UNAVAILABLE, "%s: %s answered HTTP %ld", what, url,
                                 status);
                return NULL;
        }
        j = cJSON_Parse(body);
        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                corral_error_set(err, EX_PROTOCOL, "%s: %s is not a JSON object", what, url);
                return NULL;
        }
        return j;
}

/* ---- scope lists ------------------------------------------------------------ */

static bool scope_has(const char *list, const char *s, size_t n)
{
        for (const char *p = list; p && *p;) {
                size_t k;
                p += strspn(p, " ");
                k = strcspn(p, " ");
                if (k == n && k > 0 && strncmp(p, s, n) == 0)
                        return true;
                p += k;
        }
        return false;
}

bool oauth_scope_covers(const char *have, const char *need)
{
        for (const char *p = need; p && *p;) {
                size_t k;
                p += strspn(p, " ");
                k = strcspn(p, " ");
                if (k > 0 && !scope_has(have, p, k))
                        return false;
                p += k;
        }
        return true;
}

char *oauth_scope_union(const char *a, const char *b)
{
        strbuf out = STRBUF_INIT(OAUTH_DOC_MAX);
        const char *lists[2] = {a, b};

        for (size_t i = 0; i < 2; i++)
                for (const char *p = lists[i]; p && *p;) {
                        size_t k;
                        p += strspn(p, " ");
                        k = strcspn(p, " ");
                        if (k > 0 && !scope_has(out.buf, p, k)) {
                                if (out.len)
                                        (void)strbuf_append(&out, " ", 1);
                                (void)strbuf_append(&out, p, k);
                        }
                        p += k;
                }
        if (!out.len) {
                strbuf_done(&out);
                return NULL;
        }
        return strbuf_steal(&out);
}

char *oauth_challenge_scope(const char *challenge)
{
        return challenge ? oauth_challenge_param(challenge, "scope") : NULL;
}

char *oauth_challenge_error(const char *challenge)
{
        return challenge ? oauth_challenge_param(challenge, "error") : NULL;
}

char *oauth_query_state(const char *query)
{
        return oauth_query_get(query, "state");
}

bool oauth_client_metadata_url_ok(const char *url)
{
        size_t plen;
        const char *path;

        if (!url || strncmp(url, "https://", 8) != 0 || strlen(url) > 2048 ||
            strpbrk(url, "# \t\r\n"))
                return false;
        path = oauth_path_of(url, &plen);
        return plen > 1 || (plen == 1 && *path != '/');
}
