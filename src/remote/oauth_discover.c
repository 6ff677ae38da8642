/* Discovery for the OAuth client: protected-resource and authorization
 * server metadata, dynamic client registration, the scope to ask for, and
 * the challenge of a server (remote/oauth_internal.h). */
#include <ctype.h>
#include <curl/curl.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/oauth_client.h"
#include "corral/remote.h"
#include "corral/strbuf.h"
#include "remote/oauth_internal.h"

/* ---- discovery --------------------------------------------------------------- */

/* RFC 9728 §3: the resource_metadata URL of the challenge, else
 * {origin}/.well-known/oauth-protected-resource{path}, then without the
 * path (MCP 2025-11-25 basic/authorization, "Protected Resource Metadata
 * Discovery"). */
cJSON *oauth_discover_resource(const char *url, const char *challenge, corral_error *err)
{
        _cleanup_free_ char *rm = challenge ? oauth_challenge_param(challenge, "resource_metadata") : NULL;
        _cleanup_free_ char *origin = oauth_origin_of(url);
        size_t plen;
        const char *path = oauth_path_of(url, &plen);
        cJSON *j;

        if (rm)
                return oauth_fetch_json(rm, "protected resource metadata", err);
        {
                _cleanup_free_ char *u = xasprintf("%s/.well-known/oauth-protected-resource%.*s",
                                                   origin, (int)plen, path);
                corral_error e1 = {0};
                j = oauth_fetch_json(u, "protected resource metadata", &e1);
                if (j || plen == 0) {
                        if (!j)
                                *err = e1;
                        return j;
                }
        }
        {
                _cleanup_free_ char *u =
                        xasprintf("%s/.well-known/oauth-protected-resource", origin);
                return oauth_fetch_json(u, "protected resource metadata", err);
        }
}

/* RFC 8414 §3 (path inserted after the well-known prefix), then OpenID
 * Connect Discovery in both placements; the document's issuer must be
 * the issuer asked for (RFC 8414 §3.3). */
cJSON *oauth_discover_as(const char *issuer, corral_error *err)
{
        _cleanup_free_ char *origin = oauth_origin_of(issuer);
        size_t plen;
        const char *path = oauth_path_of(issuer, &plen);
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
                j = oauth_fetch_json(urls[i], "authorization server metadata", &last);
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

cJSON *oauth_discover_legacy(const char *url, corral_error *err)
{
        _cleanup_free_ char *origin = oauth_origin_of(url);
        _cleanup_free_ char *u = xasprintf("%s/.well-known/oauth-authorization-server", origin);
        _cleanup_free_ char *body = NULL;
        cJSON *j;
        long status = 0;

        if (oauth_fetch(u, NULL, NULL, &status, &body, err) < 0)
                return NULL;
        if (status == 200) {
                const char *iss;
                _cleanup_free_ char *io = NULL;

                j = cJSON_Parse(body);
                iss = json_get_string(j, "issuer");
                io = iss ? oauth_origin_of(iss) : NULL;
                if (!cJSON_IsObject(j) || !io || strcasecmp(io, origin) != 0) {
                        cJSON_Delete(j);
                        corral_error_set(err, EX_PROTOCOL,
                                         "authorization server metadata at %s names no issuer "
                                         "on %s",
                                         u, origin);
                        return NULL;
                }
                return j;
        }
        if (status != 404) {
                corral_error_set(err, EX_UNAVAILABLE,
                                 "no protected resource metadata, and %s answered HTTP %ld", u,
                                 status);
                return NULL;
        }
        /* 2025-03-26 "Fallbacks for Servers without Metadata Discovery". */
        j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "issuer", origin);
        {
                _cleanup_free_ char *a = xasprintf("%s/authorize", origin);
                _cleanup_free_ char *t = xasprintf("%s/token", origin);
                _cleanup_free_ char *r = xasprintf("%s/register", origin);
                cJSON_AddStringToObject(j, "authorization_endpoint", a);
                cJSON_AddStringToObject(j, "token_endpoint", t);
                cJSON_AddStringToObject(j, "registration_endpoint", r);
        }
        /* That revision requires PKCE of every client and server. */
        cJSON_AddItemToObject(j, "code_challenge_methods_supported",
                              cJSON_CreateStringArray((const char *[]){"S256"}, 1));
        return j;
}

bool oauth_str_eq_issuer(const char *a, const char *b)
{
        return a && b && strcmp(a, b) == 0;
}

bool oauth_array_has(const cJSON *arr, const char *s)
{
        const cJSON *e;

        cJSON_ArrayForEach(e, arr)
        {
                if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0)
                        return true;
        }
        return false;
}

/* RFC 7591 §3.1: a client for the authorization code grant with refresh
 * tokens, redirecting to redirect_uri: public ("none") when the server
 * allows it, else with the secret method it lists. */
int oauth_register_client(const char *endpoint, const char *redirect_uri, const char *scope,
                          const cJSON *auth_methods, char **ret_id, char **ret_secret,
                          char **ret_method, corral_error *err)
{
        const char *want = !cJSON_IsArray(auth_methods) || oauth_array_has(auth_methods, "none")
                                   ? "none"
                           : oauth_array_has(auth_methods, "client_secret_basic")
                                   ? "client_secret_basic"
                           : oauth_array_has(auth_methods, "client_secret_post")
                                   ? "client_secret_post"
                                   : "none";
        const char *got;
        _cleanup_json_ cJSON *req = cJSON_CreateObject(), *resp = NULL;
        _cleanup_free_ char *text = NULL, *body = NULL;
        cJSON *arr;
        long status = 0;
        int r;

        cJSON_AddStringToObject(req, "client_name", "corral");
        /* A loopback (or custom-scheme) redirect is a native application's,
         * an https:// one a web application's (OpenID Connect Dynamic
         * Registration §2, asked for by MCP 2026-07-28 SEP-837). */
        cJSON_AddStringToObject(req, "application_type",
                                strncasecmp(redirect_uri, "https://", 8) == 0 ? "web" : "native");
        arr = cJSON_AddArrayToObject(req, "redirect_uris");
        cJSON_AddItemToArray(arr, cJSON_CreateString(redirect_uri));
        arr = cJSON_AddArrayToObject(req, "grant_types");
        cJSON_AddItemToArray(arr, cJSON_CreateString("authorization_code"));
        cJSON_AddItemToArray(arr, cJSON_CreateString("refresh_token"));
        arr = cJSON_AddArrayToObject(req, "response_types");
        cJSON_AddItemToArray(arr, cJSON_CreateString("code"));
        cJSON_AddStringToObject(req, "token_endpoint_auth_method", want);
        if (scope)
                cJSON_AddStringToObject(req, "scope", scope);
        text = cJSON_PrintUnformatted(req);
        r = oauth_fetch(endpoint, NULL, text, &status, &body, err);
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
        /* RFC 7591 §3.2.1: the server may register another method than
         * asked for; its answer is what the token endpoint expects. */
        got = json_get_string(resp, "token_endpoint_auth_method");
        if (got && (strcmp(got, "none") == 0 || strcmp(got, "client_secret_basic") == 0 ||
                    strcmp(got, "client_secret_post") == 0))
                *ret_method = xstrdup(got);
        else
                *ret_method = NULL; /* picked from the server's metadata */
        return 0;
}

/* The scope to ask for: the challenge's, else the resource's
 * scopes_supported (space-separated); NULL when neither says. */
char *oauth_pick_scope(const char *challenge, const cJSON *prm)
{
        char *s = challenge ? oauth_challenge_param(challenge, "scope") : NULL;
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
int oauth_probe_challenge(const corral_paths *paths, const manifest *m, char **ret_challenge,
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
