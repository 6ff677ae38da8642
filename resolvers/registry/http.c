/* Blocking HTTP for the registry resolvers and `corral search`
 * (http_fetch_blocking: a private libuv loop, the CLI has none; the daemon
 * never calls these), and the cache of registry answers: the same freshness
 * window as npm packuments, then revalidation with the validators the
 * registry gave (ETag → If-None-Match, Last-Modified → If-Modified-Since),
 * and --offline reading the cached answer alone. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "corral/fs.h"
#include "corral/http_fetch.h"
#include "corral/jsonutil.h"
#include "corral/npm.h"
#include "corral/registry.h"
#include "corral/remote.h"

#define GET_TIMEOUT_MS 60000u
#define DOWNLOAD_TIMEOUT_MS 600000u
#define MAX_REDIRECTS 5u
#define META_MAX 4096
#define VALIDATOR_MAX 255

int registry_cache_init(registry_cache *c, const corral_paths *p, bool offline,
                        corral_error *err)
{
        npm_config cfg = {0};
        int r = npm_config_load(&cfg, NULL, p->config, err);

        memset(c, 0, sizeof(*c));
        if (r < 0)
                return r;
        c->max_age = cfg.metadata_max_age;
        npm_config_done(&cfg);
        c->dir = p->cache ? path_join(p->cache, "registry") : NULL;
        c->offline = offline;
        return 0;
}

void registry_cache_done(registry_cache *c)
{
        free(c->dir);
        memset(c, 0, sizeof(*c));
}

static int check_url(const char *url, corral_error *err)
{
        if (!remote_url_allowed(url, false))
                return corral_error_set(err, EX_USAGE,
                                        "refusing %s: registries must be https:// (http:// only "
                                        "to loopback)",
                                        url);
        return 0;
}

static void base_opts(http_request_opts *o, const char *url)
{
        o->url = url;
        o->max_redirects = MAX_REDIRECTS;
        o->https_only = strncmp(url, "https://", 8) == 0;
        o->ca_file = getenv("CORRAL_CA_BUNDLE");
}

/* A validator the registry sent, when it can go back in a request header. */
static const char *header_safe(const char *v)
{
        if (!v || !*v || strlen(v) > VALIDATOR_MAX)
                return NULL;
        for (const char *p = v; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return NULL;
        return v;
}

static char *sha256_hex(const char *s)
{
        unsigned char dig[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        char *hex;

        if (EVP_Digest(s, strlen(s), dig, &n, EVP_sha256(), NULL) != 1)
                return NULL;
        hex = xmalloc(2 * n + 1);
        for (unsigned i = 0; i < n; i++)
                snprintf(hex + 2 * i, 3, "%02x", dig[i]);
        return hex;
}

/* The cached answer to url: 1 with the body (and the validators when
 * wanted, owned), 0 when there is none (or it is damaged). */
static int cache_read(const char *base, const char *url, size_t max, char **body, size_t *len,
                      cJSON **meta)
{
        _cleanup_free_ char *jp = xasprintf("%s.json", base), *mp = xasprintf("%s.meta", base);
        _cleanup_free_ char *mdata = NULL;
        _cleanup_json_ cJSON *m = NULL;
        size_t mlen = 0;

        /* The meta names the URL: a hash collision or a damaged pair is a miss. */
        if (read_file(mp, META_MAX, &mdata, &mlen) < 0 ||
            !(m = cJSON_ParseWithLength(mdata, mlen)) ||
            !json_get_string(m, "url") || strcmp(json_get_string(m, "url"), url) != 0)
                return 0;
        if (read_file(jp, max, body, len) < 0)
                return 0;
        if (meta)
                *meta = steal_pointer(&m);
        return 1;
}

static bool cache_fresh(const registry_cache *c, const char *base)
{
        _cleanup_free_ char *jp = xasprintf("%s.json", base);
        struct stat st;
        time_t now = time(NULL);

        if (c->max_age <= 0 || stat(jp, &st) < 0)
                return false;
        /* A modification time in the future (clock changes) is not trusted. */
        return st.st_mtime <= now + 60 && now - st.st_mtime < c->max_age;
}

/* Keeps a 200's body and validators.  A failure only costs the next run a
 * request: ignored.  The meta goes first, so a body without its meta
 * never passes for another URL's. */
static void cache_write(const registry_cache *c, const char *base, const char *url,
                        const http_fetch_result *res)
{
        _cleanup_free_ char *jp = xasprintf("%s.json", base), *mp = xasprintf("%s.meta", base);
        _cleanup_json_ cJSON *meta = cJSON_CreateObject();
        const char *etag = header_safe(http_fetch_header(res, "ETag"));
        const char *lm = header_safe(http_fetch_header(res, "Last-Modified"));

        if (mkdir_p(c->dir, 0755) < 0)
                return;
        cJSON_AddStringToObject(meta, "url", url);
        if (etag)
                cJSON_AddStringToObject(meta, "etag", etag);
        if (lm)
                cJSON_AddStringToObject(meta, "last_modified", lm);
        _cleanup_free_ char *text = json_print(meta);
        (void)unlink(mp);
        if (write_file_atomic(jp, res->body, res->body_len, 0644) == 0)
                (void)write_file_atomic(mp, text, strlen(text), 0644);
}

int registry_http_get(const registry_cache *c, const char *url, const char *const *headers,
                      size_t max, long *ret_status, char **ret_body, size_t *ret_len,
                      corral_error *err)
{
        _cleanup_strv_ char **h = strv_push(NULL, "Accept: application/json");
        _cleanup_free_ char *key = NULL, *base = NULL, *cached = NULL, *inm = NULL, *ims = NULL;
        _cleanup_json_ cJSON *meta = NULL;
        http_fetch_result res = {0};
        http_request_opts o = {0};
        size_t clen = 0;
        bool have = false;
        int r;

        if ((r = check_url(url, err)) < 0)
                return r;
        if (c && c->dir && (key = sha256_hex(url)))
                base = xasprintf("%s/%s", c->dir, key);
        if (base)
                have = cache_read(base, url, max, &cached, &clen, &meta) == 1;
        if (c && c->offline && !have)
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "--offline: %s is not in the cache", url);
        if (have && ((c && c->offline) || cache_fresh(c, base))) {
                *ret_status = 200;
                *ret_body = steal_pointer(&cached);
                if (ret_len)
                        *ret_len = clen;
                return 0;
        }
        for (size_t i = 0; headers && headers[i]; i++)
                h = strv_push(h, headers[i]);
        if (have && header_safe(json_get_string(meta, "etag"))) {
                inm = xasprintf("If-None-Match: %s", json_get_string(meta, "etag"));
                h = strv_push(h, inm);
        }
        if (have && header_safe(json_get_string(meta, "last_modified"))) {
                ims = xasprintf("If-Modified-Since: %s", json_get_string(meta, "last_modified"));
                h = strv_push(h, ims);
        }
        base_opts(&o, url);
        o.headers = (const char *const *)h;
        o.max_body = max + 1;
        o.timeout_ms = GET_TIMEOUT_MS;
        if ((r = http_fetch_blocking(&o, &res, err)) < 0)
                return r;
        if (res.status == 304 && have) {
                /* Revalidated: fresh again for the whole window. */
                _cleanup_free_ char *jp = xasprintf("%s.json", base);
                (void)utimensat(AT_FDCWD, jp, NULL, 0);
                http_fetch_result_done(&res);
                *ret_status = 200;
                *ret_body = steal_pointer(&cached);
                if (ret_len)
                        *ret_len = clen;
                return 0;
        }
        if (res.body_len > max) {
                http_fetch_result_done(&res);
                return corral_error_set(err, EX_DATAERR, "%s: answer larger than %zu bytes", url,
                                        max);
        }
        if (res.status == 200 && base)
                cache_write(c, base, url, &res);
        *ret_status = res.status;
        *ret_body = steal_pointer(&res.body);
        if (ret_len)
                *ret_len = res.body_len;
        http_fetch_result_done(&res);
        return 0;
}

typedef struct dl_ctx {
        int fd;
        size_t max, written;
        bool too_big;
        int write_errno; /* the write that failed, or 0 */
        EVP_MD_CTX *md;
} dl_ctx;

static int on_data(void *ud, http_request *req, const char *data, size_t len)
{
        dl_ctx *g = ud;

        if (http_request_status(req) != 200)
                return 0; /* an error page: not written, not hashed */
        if (g->written + len > g->max) {
                g->too_big = true;
                return -1;
        }
        int r = write_all(g->fd, data, len);
        if (r < 0) {
                g->write_errno = -r;
                return -1;
        }
        (void)EVP_DigestUpdate(g->md, data, len);
        g->written += len;
        return 0;
}

int registry_http_download(const char *url, int fd, size_t max, char **ret_sha256,
                           corral_error *err)
{
        dl_ctx g = {.fd = fd, .max = max, .md = EVP_MD_CTX_new()};
        http_fetch_result res = {0};
        http_request_opts o = {0};
        unsigned char dig[EVP_MAX_MD_SIZE];
        unsigned dlen = 0;
        int r;

        if ((r = check_url(url, err)) < 0) {
                EVP_MD_CTX_free(g.md);
                return r;
        }
        if (!g.md || EVP_DigestInit_ex(g.md, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(g.md);
                return corral_error_set(err, EX_SOFTWARE, "cannot start a SHA-256 hash");
        }
        base_opts(&o, url);
        o.timeout_ms = DOWNLOAD_TIMEOUT_MS;
        o.on_data = on_data;
        o.userdata = &g;
        r = http_fetch_blocking(&o, &res, err);
        /* What stopped the transfer says more than "stopped by the consumer". */
        if (g.too_big)
                r = corral_error_set(err, EX_DATAERR, "%s: larger than %zu bytes", url, max);
        else if (g.write_errno)
                r = corral_error_errno(err, EX_CANTCREAT, g.write_errno,
                                       "%s: cannot write the download", url);
        else if (r == 0 && res.status == 404)
                r = corral_error_set(err, EX_NOINPUT, "%s: not found (HTTP 404)", url);
        else if (r == 0 && res.status != 200)
                r = corral_error_set(err, EX_UNAVAILABLE, "%s: HTTP %ld", url, res.status);
        if (r == 0 && EVP_DigestFinal_ex(g.md, dig, &dlen) != 1)
                r = corral_error_set(err, EX_SOFTWARE, "cannot finish a SHA-256 hash");
        EVP_MD_CTX_free(g.md);
        http_fetch_result_done(&res);
        if (r < 0)
                return r;
        if (ret_sha256) {
                char *hex = xmalloc(2 * dlen + 1);
                for (unsigned i = 0; i < dlen; i++)
                        snprintf(hex + 2 * i, 3, "%02x", dig[i]);
                *ret_sha256 = hex;
        }
        return 0;
}

char *registry_url_escape(const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(s);
        char *out = xmalloc(3 * n + 1), *o = out;

        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
                        *o++ = (char)*p;
                } else {
                        *o++ = '%';
                        *o++ = hex[*p >> 4];
                        *o++ = hex[*p & 15];
                }
        }
        *o = '\0';
        return out;
}
