/* The bearer-token verifier: configuration, the verification flow (static
 * token → JWT with cached or fetched keys → introspection for opaque
 * tokens), claim checks (RFC 7519 §4.1, RFC 9068 §4, RFC 8707 audience),
 * and the RFC 6750 / RFC 9728 header values and metadata document. */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/internal.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/strbuf.h"

#define SKEW_DEFAULT_S 60u
#define SKEW_MAX_S 300u
#define REFRESH_DEFAULT_S 30u

/* ---- configuration ------------------------------------------------------ */

static bool strv_contains(char *const *v, const char *s)
{
        for (; v && *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

static bool host_is_loopback(const char *url)
{
        const char *h = strstr(url, "://");
        size_t n;

        if (!h)
                return false;
        h += 3;
        n = strcspn(h, ":/?#");
        return (n == 9 && strncmp(h, "127.0.0.1", 9) == 0) ||
               (n == 9 && strncasecmp(h, "localhost", 9) == 0) || strncmp(h, "[::1]", 5) == 0;
}

bool url_is_https_or_loopback(const char *url)
{
        if (strncasecmp(url, "https://", 8) == 0)
                return true;
        return strncasecmp(url, "http://", 7) == 0 && host_is_loopback(url);
}

static char **strv_from_json(const cJSON *arr, const char *what, corral_error *err, int *rc)
{
        char **v = NULL;

        *rc = 0;
        if (!arr)
                return NULL;
        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > SCOPES_MAX) {
                *rc = corral_error_set(err, EX_CONFIG,
                                       "auth: %s must be an array of at most %d strings", what,
                                       SCOPES_MAX);
                return NULL;
        }
        for (const cJSON *s = arr->child; s; s = s->next) {
                if (!cJSON_IsString(s) || !s->valuestring[0] || strpbrk(s->valuestring, " \"\\")) {
                        strv_free(v);
                        *rc = corral_error_set(err, EX_CONFIG,
                                               "auth: %s: each must be a non-empty string without "
                                               "spaces or quotes",
                                               what);
                        return NULL;
                }
                v = strv_push(v, s->valuestring);
        }
        return v;
}

static int issuer_parse(auth *a, const cJSON *o, auth_issuer *is, corral_error *err)
{
        static const char *const known[] = {"issuer", "audience",   "user_claim", "level_claim",
                                            "scopes", "algorithms", "jwks_uri",   "introspection"};
        const char *iss = json_get_string(o, "issuer");
        const cJSON *algs = cJSON_GetObjectItemCaseSensitive(o, "algorithms");
        const cJSON *intro = cJSON_GetObjectItemCaseSensitive(o, "introspection");
        const char *s;
        int rc;

        if (!cJSON_IsObject(o))
                return corral_error_set(err, EX_CONFIG, "auth: issuers: each must be an object");
        for (const cJSON *k = o->child; k; k = k->next) {
                size_t i;
                for (i = 0; i < ARRAY_SIZE(known); i++)
                        if (strcmp(k->string, known[i]) == 0)
                                break;
                if (i == ARRAY_SIZE(known))
                        return corral_error_set(err, EX_CONFIG, "auth: issuers: unknown key '%s'",
                                                k->string);
        }
        if (!iss || !url_is_https_or_loopback(iss))
                return corral_error_set(err, EX_CONFIG,
                                        "auth: issuers: \"issuer\" must be an https:// URL "
                                        "(http:// only on loopback)");
        is->a = a;
        is->issuer = xstrdup(iss);
        s = json_get_string(o, "audience");
        if (!s && !a->resource)
                return corral_error_set(err, EX_CONFIG,
                                        "auth: issuer %s: no \"audience\" and no \"resource\"",
                                        iss);
        is->audience = xstrdup(s ? s : a->resource);
        s = json_get_string(o, "user_claim");
        is->user_claim = xstrdup(s ? s : "sub");
        s = json_get_string(o, "level_claim");
        is->level_claim = s ? xstrdup(s) : NULL;
        is->scopes =
                strv_from_json(cJSON_GetObjectItemCaseSensitive(o, "scopes"), "scopes", err, &rc);
        if (rc < 0)
                return rc;
        is->algs = ALG_ALL;
        if (algs) {
                is->algs = 0;
                if (!cJSON_IsArray(algs))
                        return corral_error_set(err, EX_CONFIG,
                                                "auth: algorithms must be an array");
                for (const cJSON *x = algs->child; x; x = x->next) {
                        const char *n = cJSON_IsString(x) ? x->valuestring : "";
                        if (strcmp(n, "RS256") == 0)
                                is->algs |= ALG_RS256;
                        else if (strcmp(n, "ES256") == 0)
                                is->algs |= ALG_ES256;
                        else if (strcmp(n, "EdDSA") == 0)
                                is->algs |= ALG_EDDSA;
                        else
                                return corral_error_set(
                                        err, EX_CONFIG,
                                        "auth: algorithm '%s' is not allowed (RS256, ES256, EdDSA)",
                                        n);
                }
        }
        s = json_get_string(o, "jwks_uri");
        if (s) {
                if (!url_is_https_or_loopback(s))
                        return corral_error_set(err, EX_CONFIG, "auth: jwks_uri must be https://");
                is->jwks_uri = xstrdup(s);
                is->jwks_configured = true;
        }
        if (intro) {
                const char *ep = json_get_string(intro, "endpoint");
                if (!ep || !url_is_https_or_loopback(ep))
                        return corral_error_set(
                                err, EX_CONFIG,
                                "auth: introspection.endpoint must be an https:// URL");
                is->introspection_endpoint = xstrdup(ep);
                s = json_get_string(intro, "client_id");
                is->client_id = s ? xstrdup(s) : NULL;
                s = json_get_string(intro, "client_secret");
                is->client_secret = s ? xstrdup(s) : NULL;
                is->introspect_cache_s = INTROSPECT_CACHE_DEFAULT_S;
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(intro, "cache_s");
                if (c) {
                        if (!cJSON_IsNumber(c) || c->valuedouble < 0 ||
                            c->valuedouble > INTROSPECT_CACHE_LIMIT_S ||
                            c->valuedouble != (double)(unsigned)c->valuedouble)
                                return corral_error_set(
                                        err, EX_CONFIG,
                                        "auth: introspection.cache_s must be 0..%d seconds",
                                        INTROSPECT_CACHE_LIMIT_S);
                        is->introspect_cache_s = (unsigned)c->valuedouble;
                }
        }
        return 0;
}

static void issuer_done(auth_issuer *is)
{
        http_request_cancel(is->fetch);
        issuer_keys_clear(is);
        free(is->issuer);
        free(is->audience);
        free(is->user_claim);
        free(is->level_claim);
        strv_free(is->scopes);
        free(is->jwks_uri);
        free(is->introspection_endpoint);
        free(is->client_id);
        free(is->client_secret);
        free(is->fetch_error);
        introspect_cache_clear(is);
}

int auth_new(uv_loop_t *loop, const cJSON *config, const corral_paths *paths, auth **ret,
             corral_error *err)
{
        const cJSON *ac = config ? cJSON_GetObjectItemCaseSensitive(config, "auth") : NULL;
        const cJSON *users = config ? cJSON_GetObjectItemCaseSensitive(config, "users") : NULL;
        const cJSON *issuers = ac ? cJSON_GetObjectItemCaseSensitive(ac, "issuers") : NULL;
        auth *a;
        const char *s;
        int rc;

        if (ac && !cJSON_IsObject(ac))
                return corral_error_set(err, EX_CONFIG, "auth: must be an object");
        if (users && !cJSON_IsObject(users))
                return corral_error_set(err, EX_CONFIG, "users: must be an object");
        if (issuers && (!cJSON_IsArray(issuers) || cJSON_GetArraySize(issuers) > ISSUERS_MAX))
                return corral_error_set(err, EX_CONFIG,
                                        "auth: issuers must be an array of at most %d",
                                        ISSUERS_MAX);
        a = xcalloc(1, sizeof(*a));
        a->loop = loop;
        a->skew_s = SKEW_DEFAULT_S;
        a->min_refresh_s = REFRESH_DEFAULT_S;
        a->static_tokens = ac ? json_get_bool(ac, "static_tokens", true) : true;
        if (ac) {
                double skew = json_get_number(ac, "clock_skew_s", SKEW_DEFAULT_S);
                double refresh = json_get_number(ac, "jwks_min_refresh_s", REFRESH_DEFAULT_S);

                if (skew < 0 || skew > SKEW_MAX_S || refresh < 0 || refresh > 86400) {
                        a = auth_free(a);
                        return corral_error_set(
                                err, EX_CONFIG,
                                "auth: clock_skew_s must be 0..%u and jwks_min_refresh_s 0..86400",
                                SKEW_MAX_S);
                }
                a->skew_s = (unsigned)skew;
                a->min_refresh_s = (unsigned)refresh;
                s = json_get_string(ac, "resource");
                if (s && !url_is_https_or_loopback(s)) {
                        a = auth_free(a);
                        return corral_error_set(err, EX_CONFIG,
                                                "auth: resource must be an https:// URL (http:// "
                                                "only on loopback)");
                }
                a->resource = s ? xstrdup(s) : NULL;
                s = json_get_string(ac, "resource_name");
                a->resource_name = s ? xstrdup(s) : NULL;
        }
        if (users) {
                for (const cJSON *u = users->child; u; u = u->next) {
                        const char *lv =
                                cJSON_IsString(u) ? u->valuestring : json_get_string(u, "level");
                        corral_level l;
                        if (corral_level_parse(lv, &l) < 0) {
                                a = auth_free(a);
                                return corral_error_set(
                                        err, EX_CONFIG,
                                        "users: %s: level must be public, trusted or anchor",
                                        u->string);
                        }
                }
                a->users = json_dup(users);
        }
        if (issuers) {
                a->issuers = xcalloc((size_t)cJSON_GetArraySize(issuers), sizeof(*a->issuers));
                for (const cJSON *o = issuers->child; o; o = o->next) {
                        rc = issuer_parse(a, o, &a->issuers[a->nissuers++], err);
                        if (rc < 0) {
                                a = auth_free(a);
                                return rc;
                        }
                }
        }
        if (paths && a->static_tokens)
                a->token_db = state_path(paths);
        if (a->nissuers > 0) {
                rc = http_client_new(loop, &a->http, err);
                if (rc < 0) {
                        a = auth_free(a);
                        return rc;
                }
        }
        *ret = a;
        return 0;
}

auth *auth_free(auth *a)
{
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->nissuers; i++) {
                auth_verify_req *w = a->issuers[i].waiters;
                while (w) {
                        auth_verify_req *next = w->next;
                        w->issuer = NULL;
                        auth_verify_cancel(w);
                        w = next;
                }
                a->issuers[i].waiters = NULL;
                issuer_done(&a->issuers[i]);
        }
        free(a->issuers);
        while (a->introspecting)
                auth_verify_cancel(a->introspecting);
        a->http = http_client_free(a->http);
        free(a->resource);
        free(a->resource_name);
        free(a->token_db);
        tokens_clear(&a->tokens);
        cJSON_Delete(a->users);
        free(a);
        return NULL;
}

bool auth_enabled(const auth *a)
{
        return a && (a->nissuers > 0 || a->token_db);
}

/* ---- header values and metadata ----------------------------------------- */

char *auth_metadata_url(const auth *a, const char *resource)
{
        const char *r = resource ? resource : a->resource;
        const char *p, *path;
        size_t hostlen;

        if (!r || !(p = strstr(r, "://")) ||
            (strncasecmp(r, "http://", 7) && strncasecmp(r, "https://", 8)))
                return NULL;
        path = p + 3 + strcspn(p + 3, "/?#");
        hostlen = (size_t)(path - r);
        /* RFC 9728 §3.1: the well-known string goes between host and path;
         * a lone "/" path is dropped. */
        if (*path != '/' || strcmp(path, "/") == 0)
                return xasprintf("%.*s/.well-known/oauth-protected-resource", (int)hostlen, r);
        return xasprintf("%.*s/.well-known/oauth-protected-resource%.*s", (int)hostlen, r,
                         (int)strcspn(path, "?#"), path);
}

static void append_quoted(strbuf *b, const char *name, const char *v)
{
        (void)strbuf_appendf(b, "%s%s=\"", b->len > 7 ? ", " : "", name);
        for (; *v; v++) {
                if ((unsigned char)*v < 0x20 || *v == 0x7f)
                        continue;
                if (*v == '"' || *v == '\\')
                        (void)strbuf_append(b, "\\", 1);
                (void)strbuf_append(b, v, 1);
        }
        (void)strbuf_append(b, "\"", 1);
}

char *auth_www_authenticate(const auth *a, const char *resource, const char *error,
                            const char *description, const char *scope)
{
        strbuf b = STRBUF_INIT(0);
        _cleanup_free_ char *meta = auth_metadata_url(a, resource);

        (void)strbuf_append(&b, "Bearer ", 7);
        if (error)
                append_quoted(&b, "error", error);
        if (scope && *scope)
                append_quoted(&b, "scope", scope);
        if (meta)
                append_quoted(&b, "resource_metadata", meta);
        if (error && description)
                append_quoted(&b, "error_description", description);
        if (b.len == 7)
                b.len = 6, b.buf[6] = '\0'; /* "Bearer" alone */
        return strbuf_steal(&b);
}

/* Union of the scopes every issuer requires, space-separated. */
static char *scopes_all(const auth *a, char *const *extra)
{
        char **all = NULL;
        strbuf b = STRBUF_INIT(0);

        for (size_t i = 0; i < a->nissuers; i++)
                for (char **s = a->issuers[i].scopes; s && *s; s++)
                        if (!strv_contains(all, *s))
                                all = strv_push(all, *s);
        for (char *const *s = extra; s && *s; s++)
                if (!strv_contains(all, *s))
                        all = strv_push(all, *s);
        for (char **s = all; s && *s; s++)
                (void)strbuf_appendf(&b, "%s%s", s == all ? "" : " ", *s);
        strv_free(all);
        return strbuf_steal(&b);
}

cJSON *auth_resource_metadata(const auth *a, const char *resource)
{
        const char *r = resource ? resource : a->resource;
        cJSON *doc = cJSON_CreateObject();
        cJSON *servers = cJSON_AddArrayToObject(doc, "authorization_servers");
        cJSON *scopes = cJSON_AddArrayToObject(doc, "scopes_supported");
        cJSON *methods = cJSON_AddArrayToObject(doc, "bearer_methods_supported");
        _cleanup_free_ char *all = scopes_all(a, NULL);

        if (r)
                (void)cJSON_AddStringToObject(doc, "resource", r);
        for (size_t i = 0; i < a->nissuers; i++)
                cJSON_AddItemToArray(servers, cJSON_CreateString(a->issuers[i].issuer));
        for (char *s = all, *tok; (tok = strsep(&s, " "));)
                if (*tok)
                        cJSON_AddItemToArray(scopes, cJSON_CreateString(tok));
        cJSON_AddItemToArray(methods, cJSON_CreateString("header"));
        if (a->resource_name)
                (void)cJSON_AddStringToObject(doc, "resource_name", a->resource_name);
        return doc;
}

/* ---- the flow ----------------------------------------------------------- */

static void req_free(auth_verify_req *r)
{
        free(r->token);
        free(r->resource);
        strv_free(r->extra_scopes);
        free(r);
}

void verify_finish(auth_verify_req *r, int status, const char *error, const char *scope,
                   const char *message, const auth_identity *id)
{
        auth_result res = {.status = status, .message = message, .identity = id};
        _cleanup_free_ char *www = NULL;
        _cleanup_free_ char *needed = NULL;

        if (status == 401 || status == 403) {
                if (!scope && status == 401)
                        scope = needed = scopes_all(r->a, r->extra_scopes);
                www = auth_www_authenticate(r->a, r->resource, error, message, scope);
                res.www_authenticate = www;
        }
        r->cb(r->userdata, &res);
        req_free(r);
}

static void finish_invalid(auth_verify_req *r, const char *message)
{
        verify_finish(r, 401, "invalid_token", NULL, message, NULL);
}

static bool aud_matches(const cJSON *aud, const char *want)
{
        if (!want)
                return false;
        if (cJSON_IsString(aud))
                return strcmp(aud->valuestring, want) == 0;
        if (cJSON_IsArray(aud))
                for (const cJSON *x = aud->child; x; x = x->next)
                        if (cJSON_IsString(x) && strcmp(x->valuestring, want) == 0)
                                return true;
        return false;
}

/* "scope" (RFC 8693 §4.2, RFC 9068 §2.2.3: space-separated) or "scp" (an
 * array, as some servers issue it). */
static char **scopes_of(const cJSON *claims)
{
        const cJSON *scope = cJSON_GetObjectItemCaseSensitive(claims, "scope");
        const cJSON *scp = cJSON_GetObjectItemCaseSensitive(claims, "scp");
        char **v = NULL;
        size_t n = 0;

        if (cJSON_IsString(scope)) {
                _cleanup_free_ char *copy = xstrdup(scope->valuestring);
                for (char *s = copy, *tok; (tok = strsep(&s, " ")) && n < SCOPES_MAX;)
                        if (*tok && strlen(tok) <= CLAIM_MAX)
                                v = strv_push(v, tok), n++;
        } else if (cJSON_IsArray(scp)) {
                for (const cJSON *x = scp->child; x && n < SCOPES_MAX; x = x->next)
                        if (cJSON_IsString(x) && strlen(x->valuestring) <= CLAIM_MAX)
                                v = strv_push(v, x->valuestring), n++;
        }
        return v ? v : xcalloc(1, sizeof(char *));
}

static corral_level user_level(const auth *a, const char *user)
{
        const cJSON *u = a->users ? cJSON_GetObjectItemCaseSensitive(a->users, user) : NULL;
        const char *lv = cJSON_IsString(u) ? u->valuestring
                         : u               ? json_get_string(u, "level")
                                           : NULL;
        corral_level l = CORRAL_LEVEL_PUBLIC;

        (void)corral_level_parse(lv, &l);
        return l;
}

void verify_claims(auth_verify_req *r, auth_issuer *is, const cJSON *claims)
{
        const char *iss = json_get_string(claims, "iss");
        const cJSON *aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
        const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(claims, "nbf");
        const cJSON *iat = cJSON_GetObjectItemCaseSensitive(claims, "iat");
        const cJSON *user = cJSON_GetObjectItemCaseSensitive(claims, is->user_claim);
        double now = (double)time(NULL), skew = r->a->skew_s;
        _cleanup_strv_ char **granted = NULL;
        char **missing = NULL;
        corral_level level;

        if (iss && strcmp(iss, is->issuer) != 0) {
                finish_invalid(r, "token issuer does not match");
                return;
        }
        if (!cJSON_IsNumber(exp)) {
                finish_invalid(r, "token has no exp");
                return;
        }
        if (now >= exp->valuedouble + skew) {
                finish_invalid(r, "token expired");
                return;
        }
        if (nbf && (!cJSON_IsNumber(nbf) || now + skew < nbf->valuedouble)) {
                finish_invalid(r, "token not valid yet (nbf)");
                return;
        }
        if (iat && (!cJSON_IsNumber(iat) || now + skew < iat->valuedouble)) {
                finish_invalid(r, "token issued in the future (iat)");
                return;
        }
        /* RFC 8707 §2 / RFC 9068 §4: the token must be meant for this
         * resource: the issuer's audience or the exact endpoint reached. */
        if (!aud_matches(aud, is->audience) && !aud_matches(aud, r->resource)) {
                finish_invalid(r, "token audience is not this resource");
                return;
        }
        if (!cJSON_IsString(user) || !user->valuestring[0] ||
            strlen(user->valuestring) > CLAIM_MAX) {
                finish_invalid(r, "token has no user claim");
                return;
        }
        if (is->level_claim && cJSON_GetObjectItemCaseSensitive(claims, is->level_claim)) {
                const char *lv = json_get_string(claims, is->level_claim);
                if (corral_level_parse(lv, &level) < 0) {
                        finish_invalid(r, "token level claim is not a level");
                        return;
                }
        } else {
                level = user_level(r->a, user->valuestring);
        }
        granted = scopes_of(claims);
        for (char **s = is->scopes; s && *s; s++)
                if (!strv_contains(granted, *s))
                        missing = strv_push(missing, *s);
        for (char **s = r->extra_scopes; s && *s; s++)
                if (!strv_contains(granted, *s) && !strv_contains(missing, *s))
                        missing = strv_push(missing, *s);
        if (missing) {
                strbuf b = STRBUF_INIT(0);
                _cleanup_free_ char *need = NULL;
                _cleanup_free_ char *msg = NULL;

                /* RFC 6750 §3.1: scope names what the resource needs. */
                for (char **s = is->scopes; s && *s; s++)
                        (void)strbuf_appendf(&b, "%s%s", b.len ? " " : "", *s);
                for (char **s = r->extra_scopes; s && *s; s++)
                        if (!strv_contains(is->scopes, *s))
                                (void)strbuf_appendf(&b, "%s%s", b.len ? " " : "", *s);
                need = strbuf_steal(&b);
                msg = xasprintf("token lacks scope '%s'", missing[0]);
                strv_free(missing);
                verify_finish(r, 403, "insufficient_scope", need, msg, NULL);
                return;
        }
        {
                auth_identity id = {.user = user->valuestring,
                                    .level = level,
                                    .scopes = granted,
                                    .issuer = is->issuer};
                verify_finish(r, 0, NULL, NULL, "ok", &id);
        }
}

static auth_issuer *issuer_find(auth *a, const char *iss)
{
        for (size_t i = 0; iss && i < a->nissuers; i++)
                if (strcmp(a->issuers[i].issuer, iss) == 0)
                        return &a->issuers[i];
        return NULL;
}

/* The keys that may have signed t: by kid when it has one, else every key
 * of the right type.  Verifies with each until one succeeds.
 * 1 verified, 0 no candidate key, -1 bad signature. */
static int check_signature(auth_issuer *is, const jwt *t)
{
        bool candidate = false;

        for (size_t i = 0; i < is->nkeys; i++) {
                const auth_key *k = &is->keys[i];
                if (t->kid && (!k->kid || strcmp(k->kid, t->kid) != 0))
                        continue;
                if (!(k->alg & t->alg))
                        continue;
                candidate = true;
                if (jwt_verify_signature(t, k) == 0)
                        return 1;
        }
        return candidate ? -1 : 0;
}

static bool refresh_allowed(auth_issuer *is)
{
        uint64_t now = uv_now(is->a->loop);

        return !is->keys_loaded || now - is->last_fetch >= (uint64_t)is->a->min_refresh_s * 1000u;
}

static void wait_for_keys(auth_verify_req *r, auth_issuer *is)
{
        r->issuer = is;
        r->next = is->waiters;
        is->waiters = r;
        issuer_fetch_start(is);
}

int verify_resume(auth_verify_req *r)
{
        auth_issuer *is;
        const char *why = NULL;
        _cleanup_free_ char *msg = NULL;
        jwt t;
        int sig;

        if (jwt_decode(r->token, &t, &why) < 0) {
                finish_invalid(r, why);
                return 1;
        }
        is = issuer_find(r->a, json_get_string(t.claims, "iss"));
        if (!t.alg || (is && !(is->algs & t.alg))) {
                /* "none", HS*, PS*, anything outside the allowlist. */
                msg = xasprintf("token alg '%s' is not accepted", t.alg_name);
                goto invalid;
        }
        if (!is) {
                msg = xstrdup("token issuer is not trusted");
                goto invalid;
        }
        sig = check_signature(is, &t);
        if (sig == 0 && !r->refreshed && (is->fetch || refresh_allowed(is))) {
                /* No keys yet, or an unknown kid: the issuer may have rotated. */
                jwt_done(&t);
                wait_for_keys(r, is);
                return 0;
        }
        if (sig == 0 && !is->keys_loaded) {
                msg = xasprintf("cannot fetch the keys of %s: %s", is->issuer,
                                is->fetch_error ? is->fetch_error : "unknown error");
                jwt_done(&t);
                verify_finish(r, 503, NULL, NULL, msg, NULL);
                return 1;
        }
        if (sig == 0) {
                msg = xstrdup("token signed with an unknown key");
                goto invalid;
        }
        if (sig < 0) {
                msg = xstrdup("token signature is invalid");
                goto invalid;
        }
        verify_claims(r, is, t.claims);
        jwt_done(&t);
        return 1;

invalid:
        jwt_done(&t);
        finish_invalid(r, msg);
        return 1;
}

static bool token68(const char *s)
{
        /* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
        if (!*s)
                return false;
        for (; *s && *s != '='; s++)
                if (!isalnum((unsigned char)*s) && !strchr("-._~+/", *s))
                        return false;
        for (; *s == '='; s++)
                ;
        return *s == '\0';
}

static int verify_static(auth_verify_req *r)
{
        const token_entry *e;
        corral_error err = {0};

        if (tokens_refresh(r->a->token_db, &r->a->tokens, &err) < 0) {
                verify_finish(r, 503, NULL, NULL, err.msg, NULL);
                return 1;
        }
        e = tokens_lookup(&r->a->tokens, r->token);
        if (!e) {
                finish_invalid(r, "unknown or revoked API token");
                return 1;
        }
        {
                char *none[] = {NULL};
                auth_identity id = {.user = e->user,
                                    .level = e->level,
                                    .scopes = none,
                                    .issuer = "corral",
                                    .token_id = e->id};
                verify_finish(r, 0, NULL, NULL, "ok", &id);
        }
        return 1;
}

int auth_verify(auth *a, const char *authorization, const char *resource,
                const char *const *extra_scopes, auth_verify_fn cb, void *userdata,
                auth_verify_req **ret_req)
{
        auth_verify_req *r = xcalloc(1, sizeof(*r));
        const char *tok;
        bool parked;

        r->a = a;
        r->cb = cb;
        r->userdata = userdata;
        r->resource = resource ? xstrdup(resource) : a->resource ? xstrdup(a->resource) : NULL;
        for (const char *const *s = extra_scopes; s && *s; s++)
                r->extra_scopes = strv_push(r->extra_scopes, *s);
        if (ret_req)
                *ret_req = NULL;

        /* RFC 6750 §3.1: a request without credentials gets no error code. */
        if (!authorization || !*authorization || strncasecmp(authorization, "Bearer ", 7) != 0) {
                verify_finish(r, 401, NULL, NULL, "no bearer token", NULL);
                return 1;
        }
        tok = authorization + 7;
        while (*tok == ' ')
                tok++;
        if (strlen(tok) > AUTH_TOKEN_MAX || !token68(tok)) {
                finish_invalid(r, "malformed bearer token");
                return 1;
        }
        r->token = xstrdup(tok);
        if (strncmp(tok, "corral_", 7) == 0 && a->token_db)
                return verify_static(r);
        if (strchr(tok, '.')) {
                parked = verify_resume(r) == 0;
        } else {
                auth_issuer *is = NULL;
                for (size_t i = 0; i < a->nissuers && !is; i++)
                        if (a->issuers[i].introspection_endpoint)
                                is = &a->issuers[i];
                if (!is) {
                        finish_invalid(r, "not a JWT and no introspection endpoint is configured");
                        return 1;
                }
                parked = introspect_start(r, is) == 0;
        }
        if (!parked)
                return 1;
        if (ret_req)
                *ret_req = r;
        return 0;
}

void auth_verify_cancel(auth_verify_req *r)
{
        if (!r)
                return;
        if (r->introspect) {
                for (auth_verify_req **pp = &r->a->introspecting; *pp; pp = &(*pp)->next)
                        if (*pp == r) {
                                *pp = r->next;
                                break;
                        }
        } else if (r->issuer) {
                for (auth_verify_req **pp = &r->issuer->waiters; *pp; pp = &(*pp)->next)
                        if (*pp == r) {
                                *pp = r->next;
                                break;
                        }
        }
        http_request_cancel(r->introspect);
        req_free(r);
}
