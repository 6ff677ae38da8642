/* Blocking HTTP for the registry resolvers and `corral search`: one request on
 * a private libuv loop through the project's libcurl-multi client (the CLI
 * has no loop of its own; the daemon never calls these). */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <uv.h>

#include "corral/fs.h"
#include "corral/http_client.h"
#include "corral/registry.h"
#include "corral/remote.h"

#define GET_TIMEOUT_MS 60000u
#define DOWNLOAD_TIMEOUT_MS 600000u
#define MAX_REDIRECTS 5u

typedef struct get_ctx {
        bool done;
        int result;
        long status;
        char *body;
        size_t len;
        char *error;
        /* downloads */
        int fd;
        size_t max, written;
        bool too_big, write_failed;
        EVP_MD_CTX *md;
} get_ctx;

static void on_done(void *ud, const http_response *resp)
{
        get_ctx *g = ud;

        g->done = true;
        g->result = resp->result;
        g->status = resp->status;
        if (g->fd < 0) {
                g->body = xstrndup(resp->body, resp->body_len);
                g->len = resp->body_len;
        }
        if (resp->error)
                g->error = xstrdup(resp->error);
}

static int on_data(void *ud, http_request *req, const char *data, size_t len)
{
        get_ctx *g = ud;

        if (http_request_status(req) != 200)
                return 0; /* an error page: not written, not hashed */
        if (g->written + len > g->max) {
                g->too_big = true;
                return -1;
        }
        if (write_all(g->fd, data, len) < 0) {
                g->write_failed = true;
                return -1;
        }
        (void)EVP_DigestUpdate(g->md, data, len);
        g->written += len;
        return 0;
}

static int run_one(const char *url, const char *const *headers, get_ctx *g, corral_error *err)
{
        uv_loop_t loop;
        http_client *hc = NULL;
        http_request_opts o = {0};
        int r;

        if (!remote_url_allowed(url, false))
                return corral_error_set(err, EX_USAGE,
                                        "refusing %s: registries must be https:// (http:// only "
                                        "to loopback)",
                                        url);
        if (uv_loop_init(&loop) < 0)
                return corral_error_set(err, EX_OSERR, "cannot create an event loop");
        r = http_client_new(&loop, &hc, err);
        if (r == 0) {
                o.url = url;
                o.headers = headers;
                o.max_body = g->fd < 0 ? g->max : 0;
                o.timeout_ms = g->fd < 0 ? GET_TIMEOUT_MS : DOWNLOAD_TIMEOUT_MS;
                o.max_redirects = MAX_REDIRECTS;
                o.https_only = strncmp(url, "https://", 8) == 0;
                o.ca_file = getenv("CORRAL_CA_BUNDLE");
                o.on_data = g->fd < 0 ? NULL : on_data;
                o.on_done = on_done;
                o.userdata = g;
                r = http_request_start(hc, &o, NULL, err);
                while (r == 0 && !g->done && uv_run(&loop, UV_RUN_ONCE))
                        ;
        }
        hc = http_client_free(hc);
        (void)uv_run(&loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&loop);
        return r;
}

int registry_http_get(const char *url, const char *const *headers, size_t max, long *ret_status,
                      char **ret_body, size_t *ret_len, corral_error *err)
{
        const char *accept[] = {"Accept: application/json", NULL};
        _cleanup_strv_ char **h = strv_push(NULL, accept[0]);
        get_ctx g = {.fd = -1, .max = max + 1};
        int r;

        for (size_t i = 0; headers && headers[i]; i++)
                h = strv_push(h, headers[i]);
        r = run_one(url, (const char *const *)h, &g, err);
        if (r == 0 && g.result < 0)
                r = corral_error_set(err, EX_UNAVAILABLE, "%s: %s", url,
                                     g.error ? g.error : "no answer");
        if (r == 0 && g.len > max)
                r = corral_error_set(err, EX_DATAERR, "%s: answer larger than %zu bytes", url, max);
        free(g.error);
        if (r < 0) {
                free(g.body);
                return r;
        }
        *ret_status = g.status;
        *ret_body = g.body;
        if (ret_len)
                *ret_len = g.len;
        return 0;
}

int registry_http_download(const char *url, int fd, size_t max, char **ret_sha256,
                           corral_error *err)
{
        get_ctx g = {.fd = fd, .max = max, .md = EVP_MD_CTX_new()};
        unsigned char dig[EVP_MAX_MD_SIZE];
        unsigned dlen = 0;
        int r;

        if (!g.md || EVP_DigestInit_ex(g.md, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(g.md);
                return corral_error_set(err, EX_SOFTWARE, "cannot start a SHA-256 hash");
        }
        r = run_one(url, NULL, &g, err);
        if (r == 0 && g.too_big)
                r = corral_error_set(err, EX_DATAERR, "%s: larger than %zu bytes", url, max);
        else if (r == 0 && g.write_failed)
                r = corral_error_errno(err, EX_CANTCREAT, errno, "%s: cannot write the download",
                                       url);
        else if (r == 0 && g.result < 0)
                r = corral_error_set(err, EX_UNAVAILABLE, "%s: %s", url,
                                     g.error ? g.error : "no answer");
        else if (r == 0 && g.status == 404)
                r = corral_error_set(err, EX_NOINPUT, "%s: not found (HTTP 404)", url);
        else if (r == 0 && g.status != 200)
                r = corral_error_set(err, EX_UNAVAILABLE, "%s: HTTP %ld", url, g.status);
        if (r == 0 && EVP_DigestFinal_ex(g.md, dig, &dlen) != 1)
                r = corral_error_set(err, EX_SOFTWARE, "cannot finish a SHA-256 hash");
        EVP_MD_CTX_free(g.md);
        free(g.error);
        free(g.body);
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
