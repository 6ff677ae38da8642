/* An issuer's signing keys: authorization server metadata (RFC 8414 §3,
 * then OpenID Connect Discovery 1.0 §4 as the fallback) gives jwks_uri, the
 * JWK Set (RFC 7517 §5) gives the keys.  Everything goes through the loop's
 * http_client; verifications that need the keys wait on the issuer and are
 * resumed when the fetch ends, successful or not. */
#include <string.h>

#include "auth/internal.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"

void issuer_keys_clear(auth_issuer *is)
{
        for (size_t i = 0; i < is->nkeys; i++) {
                free(is->keys[i].kid);
                if (is->keys[i].jwk)
                        (void)cjose_jwk_release(is->keys[i].jwk);
                EVP_PKEY_free(is->keys[i].ed25519);
        }
        free(is->keys);
        is->keys = NULL;
        is->nkeys = 0;
}

static unsigned alg_of_name(const char *name)
{
        if (strcmp(name, "RS256") == 0)
                return ALG_RS256;
        if (strcmp(name, "ES256") == 0)
                return ALG_ES256;
        if (strcmp(name, "EdDSA") == 0)
                return ALG_EDDSA;
        return 0;
}

/* The public members of an RSA or EC key, checked and copied into a JWK of
 * their own (owned JSON text), or NULL.  cjose_jwk_import() decodes them
 * with a decoder that aborts on bad base64url (fuzz_jwt found it through
 * "n", then through a repeated member, which cJSON and cjose's JSON parser
 * read differently): cjose only ever sees what was checked here, and never
 * a private member. */
static char *public_jwk(const cJSON *k, bool rsa)
{
        static const char *const rsa_members[] = {"n", "e", NULL};
        static const char *const ec_members[] = {"x", "y", NULL};
        const char *const *members = rsa ? rsa_members : ec_members;
        _cleanup_json_ cJSON *out = cJSON_CreateObject();

        cJSON_AddStringToObject(out, "kty", rsa ? "RSA" : "EC");
        if (!rsa)
                cJSON_AddStringToObject(out, "crv", "P-256");
        for (size_t i = 0; members[i]; i++) {
                const char *v = json_get_string(k, members[i]);
                if (!v || !*v || !b64url_ok(v, strlen(v)))
                        return NULL;
                cJSON_AddStringToObject(out, members[i], v);
        }
        return cJSON_PrintUnformatted(out);
}

/* One JWK → key; 0, or -1 when it is not a usable signature key (skipped). */
static int key_from_jwk(const cJSON *k, auth_key *ret)
{
        const char *kty = json_get_string(k, "kty");
        const char *use = json_get_string(k, "use");
        const char *alg = json_get_string(k, "alg");
        const char *kid = json_get_string(k, "kid");
        auth_key key = {0};

        if (!kty || (use && strcmp(use, "sig") != 0))
                return -1;
        if (strcmp(kty, "RSA") == 0 || strcmp(kty, "EC") == 0) {
                _cleanup_free_ char *json = public_jwk(k, strcmp(kty, "RSA") == 0);
                cjose_err cerr;

                if (strcmp(kty, "RSA") == 0) {
                        key.alg = ALG_RS256;
                } else {
                        const char *crv = json_get_string(k, "crv");
                        if (!crv || strcmp(crv, "P-256") != 0)
                                return -1;
                        key.alg = ALG_ES256;
                }
                key.jwk = json ? cjose_jwk_import(json, strlen(json), &cerr) : NULL;
                if (!key.jwk)
                        return -1;
        } else if (strcmp(kty, "OKP") == 0) {
                const char *crv = json_get_string(k, "crv");
                const char *x = json_get_string(k, "x");
                uint8_t *raw = NULL;
                size_t rawlen = 0;
                cjose_err cerr;

                /* cjose asserts on characters outside base64url and on
                 * impossible lengths: checked first. */
                if (!crv || strcmp(crv, "Ed25519") != 0 || !x || !b64url_ok(x, strlen(x)) ||
                    !cjose_base64url_decode(x, strlen(x), &raw, &rawlen, &cerr))
                        return -1;
                if (rawlen == 32)
                        key.ed25519 = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
                cjose_get_dealloc()(raw);
                if (!key.ed25519)
                        return -1;
                key.alg = ALG_EDDSA;
        } else {
                return -1; /* "oct" and anything else: never a verification key here */
        }
        /* A key bound to an algorithm (RFC 7517 §4.4) verifies only that one. */
        if (alg)
                key.alg &= alg_of_name(alg);
        if (!key.alg) {
                if (key.jwk)
                        (void)cjose_jwk_release(key.jwk);
                EVP_PKEY_free(key.ed25519);
                return -1;
        }
        key.kid = kid ? xstrndup(kid, CLAIM_MAX) : NULL;
        *ret = key;
        return 0;
}

int jwks_parse(auth_issuer *is, const char *doc, size_t len, char **why)
{
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(doc, len);
        const cJSON *keys = j ? cJSON_GetObjectItemCaseSensitive(j, "keys") : NULL;
        auth_key *v;
        size_t n = 0;
        int total;

        if (!cJSON_IsArray(keys)) {
                *why = xstrdup("JWKS is not a JSON object with \"keys\"");
                return -1;
        }
        total = cJSON_GetArraySize(keys);
        if (total > JWKS_MAX_KEYS) {
                *why = xasprintf("JWKS has %d keys, more than %d", total, JWKS_MAX_KEYS);
                return -1;
        }
        v = xcalloc((size_t)total + 1, sizeof(*v));
        for (const cJSON *k = keys->child; k; k = k->next)
                if (cJSON_IsObject(k) && key_from_jwk(k, &v[n]) == 0)
                        n++;
        issuer_keys_clear(is);
        is->keys = v;
        is->nkeys = n;
        is->keys_loaded = true;
        return 0;
}

/* ---- fetching ----------------------------------------------------------- */

static void fetch_done(auth_issuer *is, const char *error)
{
        auth_verify_req *w = is->waiters;

        free(is->fetch_error);
        is->fetch_error = error ? xstrdup(error) : NULL;
        is->fetch = NULL;
        is->waiters = NULL;
        while (w) {
                auth_verify_req *next = w->next;
                w->next = NULL;
                w->refreshed = true;
                verify_resume(w);
                w = next;
        }
}

static void fetch_next(auth_issuer *is);

static void on_jwks(void *ud, const http_response *resp)
{
        auth_issuer *is = ud;
        _cleanup_free_ char *why = NULL;

        is->fetch = NULL;
        if (resp->result < 0)
                why = xasprintf("JWKS %s: %s", is->jwks_uri, resp->error);
        else if (resp->status != 200)
                why = xasprintf("JWKS %s: HTTP %ld", is->jwks_uri, resp->status);
        else if (jwks_parse(is, resp->body, resp->body_len, &why) < 0) {
                char *w = xasprintf("JWKS %s: %s", is->jwks_uri, why);
                free(why);
                why = w;
        }
        fetch_done(is, why);
}

static char *metadata_url(const char *issuer, int stage)
{
        const char *p = strstr(issuer, "://");
        const char *path = p ? strchr(p + 3, '/') : NULL;
        size_t hostlen = path ? (size_t)(path - issuer) : strlen(issuer);

        if (stage == 0) {
                /* RFC 8414 §3.1: the well-known segment goes between host and path. */
                if (!path || strcmp(path, "/") == 0)
                        return xasprintf("%.*s/.well-known/oauth-authorization-server",
                                         (int)hostlen, issuer);
                return xasprintf("%.*s/.well-known/oauth-authorization-server%s", (int)hostlen,
                                 issuer, path);
        }
        /* OIDC Discovery §4: appended to the issuer. */
        {
                size_t n = strlen(issuer);
                return xasprintf("%.*s/.well-known/openid-configuration",
                                 (int)(n && issuer[n - 1] == '/' ? n - 1 : n), issuer);
        }
}

static void on_metadata(void *ud, const http_response *resp)
{
        auth_issuer *is = ud;
        _cleanup_json_ cJSON *j = NULL;
        const char *iss, *jwks;
        _cleanup_free_ char *url = metadata_url(is->issuer, is->fetch_stage);

        is->fetch = NULL;
        if (resp->result < 0 || resp->status != 200 ||
            !(j = cJSON_ParseWithLength(resp->body, resp->body_len)) || !cJSON_IsObject(j)) {
                if (is->fetch_stage == 0) {
                        is->fetch_stage = 1; /* try OIDC discovery */
                        fetch_next(is);
                        return;
                }
                {
                        _cleanup_free_ char *why =
                                resp->result < 0 ? xasprintf("discovery %s: %s", url, resp->error)
                                : resp->status != 200
                                        ? xasprintf("discovery %s: HTTP %ld", url, resp->status)
                                        : xasprintf("discovery %s: not a JSON object", url);
                        fetch_done(is, why);
                }
                return;
        }
        /* RFC 8414 §3.3 / OIDC Discovery §4.3: the document must name the
         * issuer we asked about, exactly. */
        iss = json_get_string(j, "issuer");
        if (!iss || strcmp(iss, is->issuer) != 0) {
                _cleanup_free_ char *why = xasprintf("discovery %s: names issuer '%s', not '%s'",
                                                     url, iss ? iss : "(none)", is->issuer);
                fetch_done(is, why);
                return;
        }
        jwks = json_get_string(j, "jwks_uri");
        if (!jwks || !url_is_https_or_loopback(jwks)) {
                _cleanup_free_ char *why =
                        xasprintf("discovery %s: %s jwks_uri", url, jwks ? "insecure" : "no");
                fetch_done(is, why);
                return;
        }
        free(is->jwks_uri);
        is->jwks_uri = xstrdup(jwks);
        is->fetch_stage = 2;
        fetch_next(is);
}

static void fetch_next(auth_issuer *is)
{
        _cleanup_free_ char *url = is->fetch_stage < 2 ? metadata_url(is->issuer, is->fetch_stage)
                                                       : xstrdup(is->jwks_uri);
        const char *hdrs[] = {"Accept: application/json", NULL};
        http_request_opts o = {
                .url = url,
                .headers = hdrs,
                .max_body = is->fetch_stage < 2 ? METADATA_MAX_BYTES : JWKS_MAX_BYTES,
                .timeout_ms = AUTH_FETCH_TIMEOUT_MS,
                .https_only = !url_is_https_or_loopback(url) ? true : false,
                .on_done = is->fetch_stage < 2 ? on_metadata : on_jwks,
                .userdata = is,
        };
        corral_error err = {0};

        if (http_request_start(is->a->http, &o, &is->fetch, &err) < 0) {
                is->fetch = NULL;
                fetch_done(is, err.msg);
        }
}

void issuer_fetch_start(auth_issuer *is)
{
        if (is->fetch)
                return;
        is->last_fetch = uv_now(is->a->loop);
        is->fetch_stage = is->jwks_uri ? 2 : 0;
        fetch_next(is);
}
