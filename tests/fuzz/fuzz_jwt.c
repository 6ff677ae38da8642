/* Bearer tokens and key sets from outside (src/auth/jwt.c, jwks.c): a JWKS
 * document as an issuer serves it (RFC 7517) and a compact JWS (RFC 7515)
 * as a client presents it, decoded and checked against every key.
 * Input: the first line is the token, the rest the JWKS document. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/auth/internal.h"
#include "corral/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *nl = memchr(data, '\n', size);
        size_t tlen = nl ? (size_t)(nl - (const char *)data) : size;
        const char *doc = nl ? nl + 1 : "";
        size_t dlen = nl ? size - tlen - 1 : 0;
        auth_issuer is = {.algs = ALG_ALL};
        char *why = NULL;

        if (jwks_parse(&is, doc, dlen, &why) < 0) {
                if (!why || is.nkeys)
                        abort();
        }
        free(why);
        if (is.nkeys > JWKS_MAX_KEYS)
                abort();

        char *token = xstrndup((const char *)data, tlen);
        jwt t = {0};
        const char *twhy = NULL;
        if (jwt_decode(token, &t, &twhy) == 0) {
                if (!t.header || !t.claims || t.signing_len > tlen)
                        abort();
                for (size_t i = 0; i < is.nkeys; i++)
                        (void)jwt_verify_signature(&t, &is.keys[i]);
                jwt_done(&t);
        } else if (!twhy) {
                abort();
        }
        free(token);
        issuer_keys_clear(&is);
        return 0;
}
