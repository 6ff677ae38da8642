/* Compact JWS (RFC 7515 §7.1) decoding and signature checks.  The header
 * and payload are decoded here only to read alg, kid and the claims; the
 * signature over the exact bytes "header.payload" is checked by cjose
 * (RS256, ES256) or OpenSSL's EVP_DigestVerify (EdDSA with Ed25519, RFC 8037
 * §3.1), never by code of ours. */
#include <ctype.h>
#include <string.h>

#include "auth/internal.h"
#include "corral/macro.h"

/* RFC 7515 §5.2 lets a parser reject duplicate member names, and we must:
 * cJSON keeps the first, cjose's jansson the last, and the two would then
 * disagree on "alg". */
static bool has_duplicates(const cJSON *o)
{
        for (const cJSON *a = o->child; a; a = a->next)
                for (const cJSON *b = a->next; b; b = b->next)
                        if (a->string && b->string && strcmp(a->string, b->string) == 0)
                                return true;
        return false;
}

bool b64url_ok(const char *s, size_t n)
{
        /* cjose asserts (aborts) on characters outside the base64url
         * alphabet, '=' padding included, and on a length of 4k+1: input
         * from a client or a key set must not reach it unchecked (found by
         * tests/fuzz/fuzz_jwt.c). */
        if (n % 4 == 1)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
                        return false;
        return true;
}

static cJSON *b64_json(const char *s, size_t n)
{
        uint8_t *raw = NULL;
        size_t rawlen = 0;
        cjose_err cerr;
        cJSON *j;

        if (n == 0 || !b64url_ok(s, n) || !cjose_base64url_decode(s, n, &raw, &rawlen, &cerr))
                return NULL;
        j = cJSON_ParseWithLength((const char *)raw, rawlen);
        cjose_get_dealloc()(raw);
        if (j && (!cJSON_IsObject(j) || cJSON_GetArraySize(j) > 256 || has_duplicates(j))) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

int jwt_decode(const char *token, jwt *ret, const char **why)
{
        const char *d1 = strchr(token, '.'), *d2;
        const cJSON *alg, *kid;
        jwt t = {.token = token};

        d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        if (!d1 || !d2 || strchr(d2 + 1, '.')) {
                *why = "not a compact JWS";
                return -1;
        }
        t.header = b64_json(token, (size_t)(d1 - token));
        if (!t.header) {
                *why = "malformed JOSE header";
                return -1;
        }
        /* A JWE or anything with "crit" we do not understand (RFC 7515 §4.1.11). */
        if (cJSON_GetObjectItemCaseSensitive(t.header, "enc") ||
            cJSON_GetObjectItemCaseSensitive(t.header, "crit")) {
                cJSON_Delete(t.header);
                *why = "unsupported JOSE header";
                return -1;
        }
        alg = cJSON_GetObjectItemCaseSensitive(t.header, "alg");
        if (!cJSON_IsString(alg)) {
                cJSON_Delete(t.header);
                *why = "JOSE header without alg";
                return -1;
        }
        snprintf(t.alg_name, sizeof(t.alg_name), "%s", alg->valuestring);
        if (strcmp(alg->valuestring, "RS256") == 0)
                t.alg = ALG_RS256;
        else if (strcmp(alg->valuestring, "ES256") == 0)
                t.alg = ALG_ES256;
        else if (strcmp(alg->valuestring, "EdDSA") == 0)
                t.alg = ALG_EDDSA;
        kid = cJSON_GetObjectItemCaseSensitive(t.header, "kid");
        if (cJSON_IsString(kid))
                t.kid = xstrdup(kid->valuestring);
        t.claims = b64_json(d1 + 1, (size_t)(d2 - d1 - 1));
        if (!t.claims) {
                jwt_done(&t);
                *why = "malformed claims";
                return -1;
        }
        if (t.alg && d2[1] == '\0') {
                jwt_done(&t);
                *why = "token is not signed";
                return -1;
        }
        /* cjose_jws_import() decodes the signature too (fuzz_jwt). */
        if (!b64url_ok(d2 + 1, strlen(d2 + 1))) {
                jwt_done(&t);
                *why = "malformed signature";
                return -1;
        }
        t.signing_len = (size_t)(d2 - token);
        *ret = t;
        return 0;
}

void jwt_done(jwt *t)
{
        cJSON_Delete(t->header);
        cJSON_Delete(t->claims);
        free(t->kid);
        t->header = t->claims = NULL;
        t->kid = NULL;
}

static int verify_ed25519(const jwt *t, EVP_PKEY *pkey)
{
        const char *sig64 = t->token + t->signing_len + 1;
        uint8_t *sig = NULL;
        size_t siglen = 0;
        cjose_err cerr;
        EVP_MD_CTX *ctx;
        int ok = 0;

        if (!b64url_ok(sig64, strlen(sig64)) ||
            !cjose_base64url_decode(sig64, strlen(sig64), &sig, &siglen, &cerr))
                return -1;
        ctx = EVP_MD_CTX_new();
        if (ctx && siglen == 64 && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1)
                ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)t->token,
                                      t->signing_len) == 1;
        EVP_MD_CTX_free(ctx);
        cjose_get_dealloc()(sig);
        return ok ? 0 : -1;
}

int jwt_verify_signature(const jwt *t, const auth_key *key)
{
        cjose_err cerr;
        cjose_jws_t *jws;
        bool ok;

        if (!(t->alg & key->alg))
                return -1;
        if (t->alg == ALG_EDDSA)
                return key->ed25519 ? verify_ed25519(t, key->ed25519) : -1;
        if (!key->jwk)
                return -1;
        jws = cjose_jws_import(t->token, strlen(t->token), &cerr);
        if (!jws)
                return -1;
        ok = cjose_jws_verify(jws, key->jwk, &cerr);
        cjose_jws_release(jws);
        return ok ? 0 : -1;
}
