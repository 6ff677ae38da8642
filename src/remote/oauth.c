/* The OAuth 2.1 client of remote units (include/corral/oauth_client.h). */
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/oauth_client.h"
#include "corral/remote.h"
#include "corral/strbuf.h"

#define FETCH_TIMEOUT_MS 30000u

/* ---- small helpers --------------------------------------------------------- */

static char *b64url(const unsigned char *data, size_t n)
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

static char *random_b64url(size_t bytes)
{
        unsigned char buf[64];

        if (bytes > sizeof(buf) || RAND_bytes(buf, (int)bytes) != 1)
                return NULL;
        return b64url(buf, bytes);
}

/* RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))). */
static char *s256(const char *verifier)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        if (EVP_Digest(verifier, strlen(verifier), md, &n, EVP_sha256(), NULL) != 1)
                return NULL;
        return b64url(md, n);
}

/* application/x-www-form-urlencoded value (RFC 3986 unreserved kept). */
static void form_add(strbuf *b, const char *key, const char *value)
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

static char *pct_decode(const char *s, size_t n)
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
static char *query_get(const char *query, const char *key)
{
        size_t kl = strlen(key);

        for (const char *p = query; p && *p;) {
                size_t n = strcspn(p, "&#");
                if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=')
                        return pct_decode(p + kl + 1, n - kl - 1);
                p += n;
                if (*p != '&')
                        break;
                p++;
        }
        return NULL;
}

/* A parameter of a WWW-Authenticate Bearer challenge (RFC 6750 §3,
 * auth-param = token "=" ( token / quoted-string )); owned or NULL. */
static char *challenge_param(const char *h, const char *name)
{
        size_t nl = strlen(name);

        for (const char *p = h; p && *p; p++) {
                if ((p == h || p[-1] == ' ' || p[-1] == ',') && strncasecmp(p, name, nl) == 0 &&
                    p[nl] == '=') {
                        const char *v = p + nl + 1;
                        if (*v == '"') {
                                strbuf b = STRBUF_INIT(8192);
                                for (v++; *v && *v != '"'; v++) {
                                        if (*v == '\\' && v[1])
                                                v++;
                                        if (strbuf_append(&b, v, 1) < 0)
                                                break;
                                }
                                return strbuf_steal(&b);
                        }
                        return xstrndup(v, strcspn(v, " ,"));
                }
        }
        return NULL;
}

/* scheme://host[:port] of url; owned. */
static char *origin_of(const char *url)
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
static const char *path_of(const char *url, size_t *len)
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

typedef struct fetch_ctx {
        long status;
        int result;
        char *body;
        char *error;
        bool done;
} fetch_ctx;

static void fetch_done(void *ud, const http_response *resp)
{
        fetch_ctx *f = ud;

        f->done = true;
        f->status = resp->status;
        f->result = resp->result;
        f->body = xstrndup(resp->body, resp->body_len);
        if (resp->error)
                f->error = xstrdup(resp->error);
}

/* GET (form == NULL) or POST form (application/x-www-form-urlencoded) or
 * json (application/json).  Returns 0 with the status and body (owned), or
 * -EX_UNAVAILABLE (no answer) / -EX_USAGE (a URL that is not https://
 * beyond loopback). */
static int fetch_with(const char *url, const char *form, const char *json,
                      const char *const *extra, long *ret_status, char **ret_body,
                      corral_error *err)
{
        uv_loop_t loop;
        http_client *hc = NULL;
        fetch_ctx f = {0};
        const char *hdr_form[] = {"Content-Type: application/x-www-form-urlencoded",
                                  "Accept: application/json", NULL};
        const char *hdr_json[] = {"Content-Type: application/json", "Accept: application/json",
                                  NULL};
        const char *hdr_get[] = {"Accept: application/json", NULL};
        _cleanup_strv_ char **hdrs = NULL;
        http_request_opts o = {0};
        int r;

        if (!remote_url_allowed(url, false))
                return corral_error_set(err, EX_PROTOCOL,
                                        "refusing %s: authorization URLs must be https:// "
                                        "(http:// only on loopback)",
                                        url);
        if (uv_loop_init(&loop) < 0)
                return corral_error_set(err, EX_OSERR, "cannot create an event loop");
        r = http_client_new(&loop, &hc, err);
        if (r == 0) {
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
                o.on_done = fetch_done;
                o.userdata = &f;
                r = http_request_start(hc, &o, NULL, err);
                while (r == 0 && !f.done && uv_run(&loop, UV_RUN_ONCE))
                        ;
        }
        hc = http_client_free(hc);
        (void)uv_run(&loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&loop);
        if (r < 0) {
                free(f.body);
                free(f.error);
                return r;
        }
        if (f.result < 0) {
                r = corral_error_set(err, EX_UNAVAILABLE, "%s: %s", url,
                                     f.error ? f.error : "no answer");
                free(f.body);
                free(f.error);
                return r;
        }
        free(f.error);
        *ret_status = f.status;
        *ret_body = f.body;
        return 0;
}

static int fetch(const char *url, const char *form, const char *json, long *ret_status,
                 char **ret_body, corral_error *err)
{
        return fetch_with(url, form, json, NULL, ret_status, ret_body, err);
}

int remote_fetch(const char *url, const char *const *headers, long *ret_status, char **ret_body,
                 corral_error *err)
{
        return fetch_with(url, NULL, NULL, headers, ret_status, ret_body, err);
}

/* A JSON object document at url with status 200; NULL (err set) else. */
static cJSON *fetch_json(const char *url, const char *what, corral_error *err)
{
        _cleanup_free_ char *body = NULL;
        long status = 0;
        cJSON *j;

        if (fetch(url, NULL, NULL, &status, &body, err) < 0)
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

/* ---- state file ------------------------------------------------------------ */

static char *state_path(const corral_paths *paths, const char *name)
{
        _cleanup_free_ char *dir = paths_server_dir(paths, name);
        return path_join(dir, OAUTH_FILE);
}

cJSON *oauth_state_load(const corral_paths *paths, const char *name)
{
        _cleanup_free_ char *p = state_path(paths, name);
        _cleanup_free_ char *data = NULL;
        size_t len;
        cJSON *j;

        if (read_file(p, OAUTH_DOC_MAX, &data, &len) < 0)
                return NULL;
        j = cJSON_ParseWithLength(data, len);
        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

int oauth_state_save(const corral_paths *paths, const char *name, const cJSON *state,
                     corral_error *err)
{
        _cleanup_free_ char *p = state_path(paths, name);
        _cleanup_free_ char *text = json_print(state);
        int r = write_file_atomic(p, text, strlen(text), 0600);

        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot write %s", p);
        return 0;
}

static void set_str(cJSON *o, const char *key, const char *v)
{
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        if (v)
                cJSON_AddStringToObject(o, key, v);
}

/* ---- discovery --------------------------------------------------------------- */

/* RFC 9728 §3: the resource_metadata URL of the challenge, else
 * {origin}/.well-known/oauth-protected-resource{path}, then without the
 * path (MCP 2025-11-25 basic/authorization, "Protected Resource Metadata
 * Discovery"). */
static cJSON *discover_resource(const char *url, const char *challenge, corral_error *err)
{
        _cleanup_free_ char *rm = challenge ? challenge_param(challenge, "resource_metadata") : NULL;
        _cleanup_free_ char *origin = origin_of(url);
        size_t plen;
        const char *path = path_of(url, &plen);
        cJSON *j;

        if (rm)
                return fetch_json(rm, "protected resource metadata", err);
        {
                _cleanup_free_ char *u = xasprintf("%s/.well-known/oauth-protected-resource%.*s",
                                                   origin, (int)plen, path);
                corral_error e1 = {0};
                j = fetch_json(u, "protected resource metadata", &e1);
                if (j || plen == 0) {
                        if (!j)
                                *err = e1;
                        return j;
                }
        }
        {
                _cleanup_free_ char *u =
                        xasprintf("%s/.well-known/oauth-protected-resource", origin);
                return fetch_json(u, "protected resource metadata", err);
        }
}

/* RFC 8414 §3 (path inserted after the well-known prefix), then OpenID
 * Connect Discovery in both placements; the document's issuer must be
 * the issuer asked for (RFC 8414 §3.3). */
static cJSON *discover_as(const char *issuer, corral_error *err)
{
        _cleanup_free_ char *origin = origin_of(issuer);
        size_t plen;
        const char *path = path_of(issuer, &plen);
        char *urls[3];
        cJSON *j = NULL;
        corral_error last = {0};

        while (plen > 0 && path[plen - 1] == '/')
                plen--;
        urls[0] = xasprintf("%s/.well-known/oauth-authorization-server%.*s", origin, (int)plen,
                            path);
        urls[1] = xasprintf("%s/.well-known/openid-configuration%.*s", origin, (int)plen, path);
        urls[2] = xasprintf("%s%.*s/.well-known/openid-configuration", origin, (int)plen, path);
        for (size_t i = 0; i < 3 && !j; i++) {
                corral_error_clear(&last);
                j = fetch_json(urls[i], "authorization server metadata", &last);
        }
        for (size_t i = 0; i < 3; i++)
                free(urls[i]);
        if (!j) {
                *err = last;
                return NULL;
        }
        {
                const char *got = json_get_string(j, "issuer");
                size_t a = strlen(issuer), b = got ? strlen(got) : 0;
                /* A trailing slash is the only difference tolerated. */
                while (a > 0 && issuer[a - 1] == '/')
                        a--;
                while (b > 0 && got[b - 1] == '/')
                        b--;
                if (!got || a != b || strncmp(issuer, got, a) != 0) {
                        corral_error_set(err, EX_PROTOCOL,
                                         "authorization server metadata names issuer '%.200s', "
                                         "not '%.200s' (RFC 8414 §3.3)",
                                         got ? got : "", issuer);
                        cJSON_Delete(j);
                        return NULL;
                }
        }
        return j;
}

static bool str_eq_issuer(const char *a, const char *b)
{
        return a && b && strcmp(a, b) == 0;
}

static bool array_has(const cJSON *arr, const char *s)
{
        const cJSON *e;

        cJSON_ArrayForEach(e, arr)
        {
                if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0)
                        return true;
        }
        return false;
}

/* RFC 7591 §3.1: a public client for the authorization code grant with
 * refresh tokens, redirecting to redirect_uri. */
static int register_client(const char *endpoint, const char *redirect_uri, const char *scope,
                           char **ret_id, char **ret_secret, corral_error *err)
{
        _cleanup_json_ cJSON *req = cJSON_CreateObject(), *resp = NULL;
        _cleanup_free_ char *text = NULL, *body = NULL;
        cJSON *arr;
        long status = 0;
        int r;

        cJSON_AddStringToObject(req, "client_name", "corral");
        arr = cJSON_AddArrayToObject(req, "redirect_uris");
        cJSON_AddItemToArray(arr, cJSON_CreateString(redirect_uri));
        arr = cJSON_AddArrayToObject(req, "grant_types");
        cJSON_AddItemToArray(arr, cJSON_CreateString("authorization_code"));
        cJSON_AddItemToArray(arr, cJSON_CreateString("refresh_token"));
        arr = cJSON_AddArrayToObject(req, "response_types");
        cJSON_AddItemToArray(arr, cJSON_CreateString("code"));
        cJSON_AddStringToObject(req, "token_endpoint_auth_method", "none");
        if (scope)
                cJSON_AddStringToObject(req, "scope", scope);
        text = cJSON_PrintUnformatted(req);
        r = fetch(endpoint, NULL, text, &status, &body, err);
        if (r < 0)
                return r;
        resp = cJSON_Parse(body);
        if ((status != 201 && status != 200) || !json_get_string(resp, "client_id"))
                return corral_error_set(err, EX_PROTOCOL,
                                        "dynamic client registration at %s failed (HTTP %ld): "
                                        "%.200s",
                                        endpoint, status,
                                        json_get_string(resp, "error_description")
                                                ? json_get_string(resp, "error_description")
                                                : "no client_id");
        *ret_id = xstrdup(json_get_string(resp, "client_id"));
        *ret_secret = json_get_string(resp, "client_secret")
                              ? xstrdup(json_get_string(resp, "client_secret"))
                              : NULL;
        return 0;
}

/* The scope to ask for: the challenge's, else the resource's
 * scopes_supported (space-separated); NULL when neither says. */
static char *pick_scope(const char *challenge, const cJSON *prm)
{
        char *s = challenge ? challenge_param(challenge, "scope") : NULL;
        const cJSON *sup = json_get_array(prm, "scopes_supported");
        const cJSON *e;
        strbuf b = STRBUF_INIT(8192);

        if (s)
                return s;
        cJSON_ArrayForEach(e, sup)
        {
                if (!cJSON_IsString(e))
                        continue;
                if (b.len)
                        (void)strbuf_append(&b, " ", 1);
                (void)strbuf_append(&b, e->valuestring, strlen(e->valuestring));
        }
        if (!b.len) {
                strbuf_done(&b);
                return NULL;
        }
        return strbuf_steal(&b);
}

/* The headers a unit sends, for the probe. */
static int probe_challenge(const corral_paths *paths, const manifest *m, char **ret_challenge,
                           corral_error *err)
{
        _cleanup_strv_ char **headers = NULL;
        remote_probe_result res = {0};
        remote_config cfg = {0};
        int r;

        /* Without the stored token: the point is to see the challenge. */
        headers = xcalloc(1, sizeof(char *));
        for (size_t i = 0; i < m->n_headers; i++) {
                if (!m->headers[i].value)
                        continue;
                _cleanup_free_ char *l = xasprintf("%s: %s", m->headers[i].key,
                                                   m->headers[i].value);
                headers = strv_push(headers, l);
        }
        cfg.url = m->command[0];
        cfg.transport = m->transport && strcmp(m->transport, "sse") == 0 ? REMOTE_TRANSPORT_SSE
                                                                          : REMOTE_TRANSPORT_HTTP;
        cfg.fallback = true;
        cfg.headers = headers;
        cfg.ca_file = getenv("CORRAL_CA_BUNDLE");
        r = remote_probe(&cfg, FETCH_TIMEOUT_MS, false, NULL, NULL, &res, err);
        (void)paths;
        if (r == 0) {
                remote_probe_result_done(&res);
                return corral_error_set(err, EX_USAGE, "%s does not ask for authorization",
                                        m->name);
        }
        if (r != -EX_NOPERM) {
                remote_probe_result_done(&res);
                return r;
        }
        corral_error_clear(err);
        *ret_challenge = res.challenge ? xstrdup(res.challenge) : NULL;
        remote_probe_result_done(&res);
        return 0;
}

int oauth_start(const corral_paths *paths, const manifest *m, const oauth_start_options *o,
                char **ret_url, corral_error *err)
{
        _cleanup_free_ char *challenge = NULL, *scope = NULL, *verifier = NULL,
                              *challenge_s256 = NULL, *state_tok = NULL, *client_id = NULL,
                              *client_secret = NULL;
        _cleanup_json_ cJSON *prm = NULL, *as = NULL, *state = NULL;
        const char *issuer, *resource, *authz, *token_ep, *redirect;
        strbuf q = STRBUF_INIT(0);
        cJSON *pending;
        int r;

        if (strcmp(m->backend, "remote") != 0)
                return corral_error_set(err, EX_USAGE, "%s is not a remote server", m->name);
        r = probe_challenge(paths, m, &challenge, err);
        if (r < 0)
                return r;
        prm = discover_resource(m->command[0], challenge, err);
        if (!prm)
                return err->code ? -err->code : -EX_UNAVAILABLE;
        /* RFC 9728 §3.3: the metadata must be about this resource. */
        resource = json_get_string(prm, "resource");
        {
                _cleanup_free_ char *o1 = resource ? origin_of(resource) : NULL;
                _cleanup_free_ char *o2 = origin_of(m->command[0]);
                if (!resource || strcasecmp(o1, o2) != 0)
                        return corral_error_set(err, EX_PROTOCOL,
                                                "protected resource metadata is about '%.200s', "
                                                "not %s (RFC 9728 §3.3)",
                                                resource ? resource : "", m->command[0]);
        }
        {
                const cJSON *servers = json_get_array(prm, "authorization_servers");
                const cJSON *first = cJSON_GetArrayItem(servers, 0);
                issuer = cJSON_IsString(first) ? first->valuestring : NULL;
        }
        if (!issuer)
                return corral_error_set(err, EX_PROTOCOL,
                                        "protected resource metadata names no "
                                        "authorization_servers");
        as = discover_as(issuer, err);
        if (!as)
                return err->code ? -err->code : -EX_UNAVAILABLE;
        authz = json_get_string(as, "authorization_endpoint");
        token_ep = json_get_string(as, "token_endpoint");
        if (!authz || !token_ep)
                return corral_error_set(err, EX_PROTOCOL,
                                        "authorization server metadata lacks the authorization "
                                        "or token endpoint");
        /* MCP basic/authorization: PKCE is required, S256 when the server can. */
        if (!array_has(json_get_array(as, "code_challenge_methods_supported"), "S256"))
                return corral_error_set(err, EX_PROTOCOL,
                                        "the authorization server does not list PKCE S256 in "
                                        "code_challenge_methods_supported");
        redirect = o && o->redirect_uri ? o->redirect_uri : OAUTH_DEFAULT_REDIRECT;
        scope = o && o->scope ? xstrdup(o->scope) : pick_scope(challenge, prm);

        state = oauth_state_load(paths, m->name);
        if (!state)
                state = cJSON_CreateObject();
        if (o && o->client_id) {
                client_id = xstrdup(o->client_id);
                client_secret = o->client_secret ? xstrdup(o->client_secret) : NULL;
        } else if (json_get_string(state, "client_id") &&
                   str_eq_issuer(json_get_string(state, "issuer"), issuer)) {
                client_id = xstrdup(json_get_string(state, "client_id"));
                client_secret = json_get_string(state, "client_secret")
                                        ? xstrdup(json_get_string(state, "client_secret"))
                                        : NULL;
        } else if (json_get_string(as, "registration_endpoint")) {
                r = register_client(json_get_string(as, "registration_endpoint"), redirect, scope,
                                    &client_id, &client_secret, err);
                if (r < 0)
                        return r;
        } else {
                return corral_error_set(err, EX_PROTOCOL,
                                        "%s offers no dynamic client registration: pass "
                                        "--client-id with a client registered there",
                                        issuer);
        }

        verifier = random_b64url(32);
        state_tok = random_b64url(16);
        challenge_s256 = verifier ? s256(verifier) : NULL;
        if (!verifier || !state_tok || !challenge_s256)
                return corral_error_set(err, EX_SOFTWARE, "cannot make PKCE values");

        set_str(state, "issuer", issuer);
        set_str(state, "authorization_endpoint", authz);
        set_str(state, "token_endpoint", token_ep);
        set_str(state, "client_id", client_id);
        set_str(state, "client_secret", client_secret);
        set_str(state, "resource", m->command[0]);
        set_str(state, "scope", scope);
        cJSON_DeleteItemFromObjectCaseSensitive(state, "iss_required");
        if (json_get_bool(as, "authorization_response_iss_parameter_supported", false))
                cJSON_AddBoolToObject(state, "iss_required", true);
        cJSON_DeleteItemFromObjectCaseSensitive(state, "pending");
        pending = cJSON_AddObjectToObject(state, "pending");
        cJSON_AddStringToObject(pending, "state", state_tok);
        cJSON_AddStringToObject(pending, "code_verifier", verifier);
        cJSON_AddStringToObject(pending, "redirect_uri", redirect);
        r = oauth_state_save(paths, m->name, state, err);
        if (r < 0)
                return r;

        form_add(&q, "response_type", "code");
        form_add(&q, "client_id", client_id);
        form_add(&q, "redirect_uri", redirect);
        form_add(&q, "code_challenge", challenge_s256);
        form_add(&q, "code_challenge_method", "S256");
        form_add(&q, "state", state_tok);
        form_add(&q, "resource", m->command[0]); /* RFC 8707 §2 */
        form_add(&q, "scope", scope);
        *ret_url = xasprintf("%s%c%s", authz, strchr(authz, '?') ? '&' : '?', q.buf);
        strbuf_done(&q);
        return 0;
}

/* ---- tokens --------------------------------------------------------------- */

/* Folds a token endpoint answer (RFC 6749 §5.1) into state; 0, or
 * -EX_PROTOCOL with err set. */
static int take_tokens(cJSON *state, const char *body, corral_error *err)
{
        _cleanup_json_ cJSON *t = cJSON_Parse(body);
        const char *access = json_get_string(t, "access_token");
        const char *type = json_get_string(t, "token_type");
        const char *refresh = json_get_string(t, "refresh_token");
        const char *scope = json_get_string(t, "scope");
        double expires_in = json_get_number(t, "expires_in", -1);

        if (!access || !*access || strpbrk(access, "\r\n") || strlen(access) > 16384)
                return corral_error_set(err, EX_PROTOCOL, "the token response has no usable "
                                                          "access_token");
        if (type && strcasecmp(type, "Bearer") != 0)
                return corral_error_set(err, EX_PROTOCOL, "token_type '%.32s' is not Bearer",
                                        type);
        set_str(state, "access_token", access);
        if (refresh && strlen(refresh) <= 16384)
                set_str(state, "refresh_token", refresh);
        if (scope)
                set_str(state, "granted_scope", scope);
        cJSON_DeleteItemFromObjectCaseSensitive(state, "expires_at");
        if (expires_in >= 0)
                cJSON_AddNumberToObject(state, "expires_at",
                                        (double)time(NULL) + (expires_in > 1e9 ? 1e9 : expires_in));
        cJSON_DeleteItemFromObjectCaseSensitive(state, "pending");
        cJSON_DeleteItemFromObjectCaseSensitive(state, "error");
        return 0;
}

static char *token_error(const char *body, long status)
{
        _cleanup_json_ cJSON *t = cJSON_Parse(body);
        const char *e = json_get_string(t, "error");
        const char *d = json_get_string(t, "error_description");

        return xasprintf("HTTP %ld%s%.64s%s%.200s", status, e ? ": " : "", e ? e : "",
                         d ? " — " : "", d ? d : "");
}

int oauth_complete(const corral_paths *paths, const manifest *m, const char *code_or_url,
                   corral_error *err)
{
        _cleanup_json_ cJSON *state = oauth_state_load(paths, m->name);
        _cleanup_free_ char *code = NULL, *got_state = NULL, *iss = NULL, *error = NULL,
                              *body = NULL, *why = NULL;
        const cJSON *pending = json_get_object(state, "pending");
        const char *issuer = json_get_string(state, "issuer");
        strbuf form = STRBUF_INIT(0);
        long status = 0;
        int r;

        if (!pending || !issuer || !json_get_string(state, "token_endpoint"))
                return corral_error_set(err, EX_USAGE,
                                        "no authorization in progress for %s: run `corral auth "
                                        "start %s` first",
                                        m->name, m->name);
        if (strncmp(code_or_url, "http://", 7) == 0 || strncmp(code_or_url, "https://", 8) == 0) {
                const char *qm = strchr(code_or_url, '?');
                const char *query = qm ? qm + 1 : "";
                code = query_get(query, "code");
                got_state = query_get(query, "state");
                iss = query_get(query, "iss");
                error = query_get(query, "error");
                if (error) {
                        _cleanup_free_ char *desc = query_get(query, "error_description");
                        return corral_error_set(err, EX_NOPERM,
                                                "the authorization server refused: %.64s%s%.200s",
                                                error, desc ? " — " : "", desc ? desc : "");
                }
                /* RFC 6749 §10.12: the response must belong to our request. */
                if (!got_state || strcmp(got_state, json_get_string(pending, "state")) != 0)
                        return corral_error_set(err, EX_USAGE,
                                                "the redirect's state does not match the "
                                                "authorization started for %s",
                                                m->name);
                /* RFC 9207 §2.4: a mix-up defence. */
                if (iss && !str_eq_issuer(iss, issuer))
                        return corral_error_set(err, EX_PROTOCOL,
                                                "the authorization response comes from issuer "
                                                "'%.200s', not '%.200s' (RFC 9207)",
                                                iss, issuer);
                if (!iss && json_get_bool(state, "iss_required", false))
                        return corral_error_set(err, EX_PROTOCOL,
                                                "the authorization response lacks iss, which "
                                                "%.200s promises (RFC 9207)",
                                                issuer);
        } else {
                code = xstrdup(code_or_url);
        }
        if (!code || !*code || strlen(code) > 4096)
                return corral_error_set(err, EX_USAGE, "no authorization code");

        form_add(&form, "grant_type", "authorization_code");
        form_add(&form, "code", code);
        form_add(&form, "redirect_uri", json_get_string(pending, "redirect_uri"));
        form_add(&form, "client_id", json_get_string(state, "client_id"));
        form_add(&form, "client_secret", json_get_string(state, "client_secret"));
        form_add(&form, "code_verifier", json_get_string(pending, "code_verifier"));
        form_add(&form, "resource", json_get_string(state, "resource"));
        r = fetch(json_get_string(state, "token_endpoint"), form.buf, NULL, &status, &body, err);
        strbuf_done(&form);
        if (r < 0)
                return r;
        if (status != 200) {
                why = token_error(body, status);
                return corral_error_set(err, status >= 500 ? EX_UNAVAILABLE : EX_NOPERM,
                                        "the token endpoint refused the code: %s", why);
        }
        r = take_tokens(state, body, err);
        if (r < 0)
                return r;
        return oauth_state_save(paths, m->name, state, err);
}

bool oauth_needs_refresh(const cJSON *state, int64_t now)
{
        double exp = json_get_number(state, "expires_at", -1);

        if (!json_get_string(state, "refresh_token") || !json_get_string(state, "token_endpoint"))
                return false;
        if (!json_get_string(state, "access_token"))
                return true;
        return exp >= 0 && (double)now + OAUTH_REFRESH_MARGIN_S >= exp;
}

struct oauth_refresh {
        cJSON *state;
        http_request *req;
        oauth_refresh_fn done;
        void *ud;
};
typedef struct oauth_refresh refresh_ctx;

static void refresh_done(void *ud, const http_response *resp)
{
        refresh_ctx *c = ud;
        corral_error err = {0};

        c->req = NULL;
        if (resp->result < 0) {
                _cleanup_free_ char *m = xasprintf("token refresh: %s", resp->error);
                c->done(c->ud, NULL, false, m);
        } else if (resp->status != 200) {
                _cleanup_json_ cJSON *t = cJSON_Parse(resp->body);
                _cleanup_free_ char *why = token_error(resp->body, resp->status);
                _cleanup_free_ char *m = xasprintf("token refresh refused: %s", why);
                const char *e = json_get_string(t, "error");
                c->done(c->ud, NULL, e && strcmp(e, "invalid_grant") == 0, m);
        } else if (take_tokens(c->state, resp->body, &err) < 0) {
                _cleanup_free_ char *m = xasprintf("token refresh: %s", err.msg);
                c->done(c->ud, NULL, false, m);
        } else {
                c->done(c->ud, steal_pointer(&c->state), false, NULL);
        }
        cJSON_Delete(c->state);
        free(c);
}

void oauth_refresh_cancel(oauth_refresh *r)
{
        if (!r)
                return;
        http_request_cancel(r->req);
        cJSON_Delete(r->state);
        free(r);
}

oauth_refresh *oauth_refresh_start(http_client *hc, const cJSON *state, oauth_refresh_fn done,
                                   void *ud)
{
        static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                              "Accept: application/json", NULL};
        const char *ep = json_get_string(state, "token_endpoint");
        const char *rt = json_get_string(state, "refresh_token");
        strbuf form = STRBUF_INIT(0);
        http_request_opts o = {0};
        refresh_ctx *c;
        int r;

        if (!ep || !rt || !remote_url_allowed(ep, false))
                return NULL;
        form_add(&form, "grant_type", "refresh_token");
        form_add(&form, "refresh_token", rt);
        form_add(&form, "client_id", json_get_string(state, "client_id"));
        form_add(&form, "client_secret", json_get_string(state, "client_secret"));
        form_add(&form, "resource", json_get_string(state, "resource"));
        c = xcalloc(1, sizeof(*c));
        c->state = json_dup(state);
        c->done = done;
        c->ud = ud;
        o.url = ep;
        o.body = form.buf;
        o.body_len = form.len;
        o.headers = headers;
        o.max_body = OAUTH_DOC_MAX;
        o.timeout_ms = FETCH_TIMEOUT_MS;
        o.ca_file = getenv("CORRAL_CA_BUNDLE");
        o.on_done = refresh_done;
        o.userdata = c;
        r = http_request_start(hc, &o, &c->req, NULL);
        strbuf_done(&form);
        if (r < 0) {
                cJSON_Delete(c->state);
                free(c);
                return NULL;
        }
        return c;
}
