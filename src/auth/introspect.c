/* Opaque tokens: OAuth 2.0 Token Introspection (RFC 7662).  The token is
 * POSTed form-encoded to the issuer's introspection endpoint with the
 * client's credentials (HTTP Basic, RFC 6749 §2.3.1); an "active": true
 * answer's claims then go through the same checks as a JWT's. */
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "auth/internal.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"

/* ---- the cache of active answers, keyed by the token's SHA-256 ---- */

static void token_hash(const char *token, unsigned char out[32])
{
        unsigned int n = 32;
        (void)EVP_Digest(token, strlen(token), out, &n, EVP_sha256(), NULL);
}

static void cache_drop(auth_issuer *is, size_t i)
{
        cJSON_Delete(is->introspected[i].claims);
        is->introspected[i] = is->introspected[--is->nintrospected];
}

void introspect_cache_clear(auth_issuer *is)
{
        while (is->nintrospected)
                cache_drop(is, 0);
        free(is->introspected);
        is->introspected = NULL;
}

/* The cached claims for token, or NULL; drops expired entries on the way. */
static const cJSON *cache_find(auth_issuer *is, const unsigned char hash[32], time_t now)
{
        for (size_t i = 0; i < is->nintrospected;) {
                introspect_entry *e = &is->introspected[i];
                if (e->until <= now) {
                        cache_drop(is, i);
                        continue;
                }
                if (CRYPTO_memcmp(e->hash, hash, 32) == 0)
                        return e->claims;
                i++;
        }
        return NULL;
}

static void cache_put(auth_issuer *is, const char *token, const cJSON *claims)
{
        time_t now = time(NULL), until = now + (time_t)is->introspect_cache_s;
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
        unsigned char hash[32];
        size_t i;

        if (cJSON_IsNumber(exp) && exp->valuedouble < (double)until)
                until = (time_t)exp->valuedouble;
        if (until <= now)
                return;
        token_hash(token, hash);
        if (cache_find(is, hash, now))
                return;
        if (!is->introspected)
                is->introspected = xcalloc(INTROSPECT_CACHE_MAX, sizeof(*is->introspected));
        if (is->nintrospected == INTROSPECT_CACHE_MAX) {
                /* Full of live entries: the one that would expire first goes. */
                size_t victim = 0;
                for (i = 1; i < is->nintrospected; i++)
                        if (is->introspected[i].until < is->introspected[victim].until)
                                victim = i;
                cache_drop(is, victim);
        }
        i = is->nintrospected++;
        memcpy(is->introspected[i].hash, hash, 32);
        is->introspected[i].until = until;
        is->introspected[i].claims = json_dup(claims);
}

static void on_introspected(void *ud, const http_response *resp)
{
        auth_verify_req *r = ud;
        auth_issuer *is = r->issuer;
        _cleanup_json_ cJSON *j = NULL;

        r->introspect = NULL;
        for (auth_verify_req **pp = &r->a->introspecting; *pp; pp = &(*pp)->next)
                if (*pp == r) {
                        *pp = r->next;
                        break;
                }
        r->next = NULL;
        r->issuer = NULL;
        if (resp->result < 0 || resp->status != 200) {
                _cleanup_free_ char *msg =
                        resp->result < 0
                                ? xasprintf("token introspection failed: %s", resp->error)
                                : xasprintf("token introspection failed: HTTP %ld", resp->status);
                verify_finish(r, 503, NULL, NULL, msg, NULL);
                return;
        }
        j = cJSON_ParseWithLength(resp->body, resp->body_len);
        if (!cJSON_IsObject(j)) {
                verify_finish(r, 503, NULL, NULL, "token introspection answered no JSON object",
                              NULL);
                return;
        }
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "active"))) {
                verify_finish(r, 401, "invalid_token", NULL, "token is not active", NULL);
                return;
        }
        /* RFC 7662 §2.2: exp, iss, aud are optional in the answer; an
         * introspected token without exp is taken as valid now. */
        if (!cJSON_GetObjectItemCaseSensitive(j, "exp"))
                (void)cJSON_AddNumberToObject(j, "exp", 4102444800.0); /* 2100-01-01 */
        if (!cJSON_GetObjectItemCaseSensitive(j, "aud"))
                (void)cJSON_AddStringToObject(j, "aud", is->audience);
        if (is->introspect_cache_s > 0)
                cache_put(is, r->token, j);
        verify_claims(r, is, j);
}

int introspect_start(auth_verify_req *r, auth_issuer *is)
{
        CURL *e = curl_easy_init();
        _cleanup_free_ char *body = NULL;
        _cleanup_free_ char *basic = NULL;
        _cleanup_free_ char *creds = NULL;
        char *escaped;
        const char *hdrs[4] = {"Accept: application/json",
                               "Content-Type: application/x-www-form-urlencoded", NULL, NULL};
        corral_error err = {0};
        unsigned char hash[32];
        const cJSON *cached;
        http_request_opts o = {
                .method = "POST",
                .url = is->introspection_endpoint,
                .headers = hdrs,
                .max_body = INTROSPECT_MAX_BYTES,
                .timeout_ms = AUTH_FETCH_TIMEOUT_MS,
                .on_done = on_introspected,
                .userdata = r,
        };

        if (is->introspect_cache_s > 0) {
                token_hash(r->token, hash);
                cached = cache_find(is, hash, time(NULL));
                if (cached) {
                        /* The same checks as a fresh answer: exp, scopes, level. */
                        curl_easy_cleanup(e);
                        verify_claims(r, is, cached);
                        return 1;
                }
        }
        if (!e) {
                verify_finish(r, 503, NULL, NULL, "token introspection: libcurl failed", NULL);
                return 1;
        }
        escaped = curl_easy_escape(e, r->token, 0);
        body = xasprintf("token=%s&token_type_hint=access_token", escaped ? escaped : "");
        curl_free(escaped);
        curl_easy_cleanup(e);
        if (is->client_id) {
                size_t n;
                creds = xasprintf("%s:%s", is->client_id,
                                  is->client_secret ? is->client_secret : "");
                n = strlen(creds);
                basic = xmalloc(4 * ((n + 2) / 3) + 1 + sizeof("Authorization: Basic "));
                memcpy(basic, "Authorization: Basic ", sizeof("Authorization: Basic ") - 1);
                (void)EVP_EncodeBlock((unsigned char *)basic + sizeof("Authorization: Basic ") - 1,
                                      (const unsigned char *)creds, (int)n);
                hdrs[2] = basic;
        }
        o.body = body;
        o.body_len = strlen(body);
        if (http_request_start(is->a->http, &o, &r->introspect, &err) < 0) {
                verify_finish(r, 503, NULL, NULL, err.msg, NULL);
                return 1;
        }
        /* On the auth's list of introspections (for auth_free), not on the
         * issuer's waiters. */
        r->issuer = is;
        r->next = is->a->introspecting;
        is->a->introspecting = r;
        return 0;
}
