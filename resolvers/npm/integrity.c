/* Subresource Integrity strings (W3C SRI; npm's dist.integrity) and the
 * legacy sha1 shasum, checked with OpenSSL EVP. */
#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>

#include "corral/npm.h"

static const struct {
        const char *prefix;
        npm_hash_alg alg;
        size_t len;
} algs[] = {
        {"sha1-", NPM_HASH_SHA1, 20},
        {"sha256-", NPM_HASH_SHA256, 32},
        {"sha384-", NPM_HASH_SHA384, 48},
        {"sha512-", NPM_HASH_SHA512, 64},
};

static const char *alg_name(npm_hash_alg a)
{
        switch (a) {
        case NPM_HASH_SHA1:
                return "sha1";
        case NPM_HASH_SHA256:
                return "sha256";
        case NPM_HASH_SHA384:
                return "sha384";
        case NPM_HASH_SHA512:
        default:
                return "sha512";
        }
}

static const EVP_MD *alg_md(npm_hash_alg a)
{
        switch (a) {
        case NPM_HASH_SHA1:
                return EVP_sha1();
        case NPM_HASH_SHA256:
                return EVP_sha256();
        case NPM_HASH_SHA384:
                return EVP_sha384();
        case NPM_HASH_SHA512:
        default:
                return EVP_sha512();
        }
}

/* Strict base64 of exactly want bytes (padding required when needed). */
static bool b64_decode(const char *s, size_t n, unsigned char *out, size_t want)
{
        if (n % 4 != 0 || n == 0 || n > 128)
                return false;
        unsigned char tmp[128];
        int r = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
        if (r < 0)
                return false;
        size_t pad = (s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
        if ((size_t)r - pad != want)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/' &&
                    !(s[i] == '=' && i >= n - pad))
                        return false;
        memcpy(out, tmp, want);
        return true;
}

int npm_integrity_parse(npm_integrity *ret, const char *sri, const char *shasum,
                        corral_error *err)
{
        bool found = false;
        npm_integrity best = {0};
        for (const char *p = sri; p && *p;) {
                while (*p == ' ' || *p == '\t' || *p == '\n')
                        p++;
                size_t n = strcspn(p, " \t\n");
                if (n == 0)
                        break;
                /* Options after '?' are allowed by SRI and ignored. */
                size_t hl = strcspn(p, "? \t\n");
                for (size_t i = 0; i < ARRAY_SIZE(algs); i++) {
                        size_t pl = strlen(algs[i].prefix);
                        if (hl <= pl || strncmp(p, algs[i].prefix, pl) != 0)
                                continue;
                        npm_integrity c = {.alg = algs[i].alg, .len = algs[i].len};
                        if (b64_decode(p + pl, hl - pl, c.digest, c.len) &&
                            (!found || c.alg > best.alg)) {
                                best = c;
                                found = true;
                        }
                }
                p += n;
        }
        if (!found && (!sri || !*sri) && shasum && strlen(shasum) == 40) {
                npm_integrity c = {.alg = NPM_HASH_SHA1, .len = 20};
                bool ok = true;
                for (size_t i = 0; i < 20 && ok; i++) {
                        unsigned v = 0;
                        for (int k = 0; k < 2; k++) {
                                char ch = (char)tolower((unsigned char)shasum[2 * i + k]);
                                if (ch >= '0' && ch <= '9')
                                        v = v * 16 + (unsigned)(ch - '0');
                                else if (ch >= 'a' && ch <= 'f')
                                        v = v * 16 + (unsigned)(ch - 'a' + 10);
                                else
                                        ok = false;
                        }
                        c.digest[i] = (unsigned char)v;
                }
                if (ok) {
                        best = c;
                        found = true;
                }
        }
        if (!found)
                return corral_error_set(err, EX_DATAERR,
                                        "no usable integrity: '%.80s' has no sha1/sha256/sha384/"
                                        "sha512 hash and there is no valid shasum",
                                        sri ? sri : "");
        *ret = best;
        return 0;
}

static int compare(const npm_integrity *want, const unsigned char *md, unsigned int mdlen,
                   const char *what, corral_error *err)
{
        if (mdlen != want->len || CRYPTO_memcmp(md, want->digest, want->len) != 0)
                return corral_error_set(err, EX_DATAERR,
                                        "integrity mismatch for %s: the tarball's %s differs "
                                        "from the registry's",
                                        what, alg_name(want->alg));
        return 0;
}

int npm_integrity_verify(const npm_integrity *want, const void *data, size_t len, const char *what,
                         corral_error *err)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        if (!EVP_Digest(data, len, md, &mdlen, alg_md(want->alg), NULL))
                return corral_error_set(err, EX_SOFTWARE, "%s: %s digest failed", what,
                                        alg_name(want->alg));
        return compare(want, md, mdlen, what, err);
}

struct npm_hasher {
        EVP_MD_CTX *md;
        bool failed;
};

npm_hasher *npm_hasher_new(const npm_integrity *want)
{
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md)
                return NULL;
        npm_hasher *h = xcalloc(1, sizeof(*h));
        h->md = md;
        h->failed = EVP_DigestInit_ex(md, alg_md(want->alg), NULL) != 1;
        return h;
}

void npm_hasher_update(npm_hasher *h, const void *data, size_t len)
{
        if (!h->failed && EVP_DigestUpdate(h->md, data, len) != 1)
                h->failed = true;
}

int npm_hasher_finish(npm_hasher *h, const npm_integrity *want, const char *what,
                      corral_error *err)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        if (h->failed || EVP_DigestFinal_ex(h->md, md, &mdlen) != 1)
                return corral_error_set(err, EX_SOFTWARE, "%s: %s digest failed", what,
                                        alg_name(want->alg));
        h->failed = true; /* finished: no more updates */
        return compare(want, md, mdlen, what, err);
}

npm_hasher *npm_hasher_free(npm_hasher *h)
{
        if (h) {
                EVP_MD_CTX_free(h->md);
                free(h);
        }
        return NULL;
}

char *npm_integrity_key(const npm_integrity *in)
{
        char hex[129];
        for (size_t i = 0; i < in->len; i++)
                snprintf(hex + 2 * i, 3, "%02x", in->digest[i]);
        hex[2 * in->len] = '\0';
        return xasprintf("%s-%s", alg_name(in->alg), hex);
}
