/* HTTP for the npm resolver: GET requests driven by one libcurl multi handle
 * (HTTP/2 multiplexing when the server offers it), single-threaded.  Bodies
 * are collected into capped buffers; the caller's callback runs when a
 * transfer ends.  A transfer that fails in a way that may pass (a timeout, a
 * reset connection, HTTP 408/429/5xx) is sent again up to NPM_HTTP_RETRIES
 * times, 1 s and then 4 s later, as npm's fetch-retries do, unless part of
 * its body already went to a sink. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npm_internal.h"

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
        npm_http_req *q = userdata;
        size_t n = size * nmemb;
        if (q->sink) {
                long status = 0;
                /* An error page is not the file: it never reaches the sink
                 * (which also leaves the transfer free to be sent again). */
                curl_easy_getinfo(q->h, CURLINFO_RESPONSE_CODE, &status);
                if (status >= 300)
                        return n;
                if (n > q->body.max - q->got) {
                        q->too_big = true;
                        return 0;
                }
                q->got += n;
                if (q->sink(q->item, data, n) < 0)
                        return 0;
        } else if (strbuf_append(&q->body, data, n) < 0) {
                q->too_big = true;
                return 0;
        }
        if (q->http->on_bytes)
                q->http->on_bytes(q->http->userdata, n);
        return n;
}

/* Copies the value of header line data (when it is `name:`) into out. */
static void header_value(const char *data, size_t n, const char *name, char *out, size_t cap)
{
        size_t nl = strlen(name);
        if (n <= nl || strncasecmp(data, name, nl) != 0)
                return;
        const char *v = data + nl;
        size_t vl = n - nl;
        while (vl && (*v == ' ' || *v == '\t')) {
                v++;
                vl--;
        }
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
                vl--;
        if (vl > 0 && vl < cap) {
                memcpy(out, v, vl);
                out[vl] = '\0';
        }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
        npm_http_req *q = userdata;
        size_t n = size * nmemb;
        header_value(data, n, "etag:", q->etag, sizeof(q->etag));
        header_value(data, n, "last-modified:", q->last_modified, sizeof(q->last_modified));
        return n;
}

int npm_http_init(npm_http *h, const npm_config *cfg, corral_error *err)
{
        *h = (npm_http){.cfg = cfg};
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return corral_error_set(err, EX_SOFTWARE, "cannot initialise libcurl");
        h->multi = curl_multi_init();
        if (!h->multi)
                return corral_error_set(err, EX_SOFTWARE, "cannot initialise libcurl");
        curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
        curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 16L);
        curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
        return 0;
}

static void req_free(npm_http_req *q)
{
        if (!q)
                return;
        if (q->h)
                curl_easy_cleanup(q->h);
        curl_slist_free_all(q->headers);
        strbuf_done(&q->body);
        free(q->url);
        free(q);
}

void npm_http_done(npm_http *h)
{
        for (size_t i = 0; i < h->n_reqs; i++) {
                if (h->reqs[i] && h->reqs[i]->h)
                        curl_multi_remove_handle(h->multi, h->reqs[i]->h);
                req_free(h->reqs[i]);
        }
        free(h->reqs);
        if (h->multi)
                curl_multi_cleanup(h->multi);
        *h = (npm_http){0};
}

int npm_http_get(npm_http *h, const char *url, const char *accept, const char *etag,
                 const char *last_modified, size_t max,
                 int (*sink)(void *item, const char *data, size_t n), npm_http_done_fn done,
                 void *item, corral_error *err)
{
        npm_http_req *q = xcalloc(1, sizeof(*q));
        q->http = h;
        q->url = xstrdup(url);
        q->body = STRBUF_INIT(max);
        q->done = done;
        q->item = item;
        q->sink = sink;
        q->h = curl_easy_init();
        if (!q->h) {
                req_free(q);
                return corral_error_set(err, EX_SOFTWARE, "cannot initialise libcurl");
        }
        CURL *c = q->h;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 15000L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "corral/" CORRAL_VERSION " (npm resolver)");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, q);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, q);
        curl_easy_setopt(c, CURLOPT_PRIVATE, q);
        if (accept) {
                _cleanup_free_ char *hd = xasprintf("Accept: %s", accept);
                q->headers = curl_slist_append(q->headers, hd);
        }
        if (etag) {
                _cleanup_free_ char *hd = xasprintf("If-None-Match: %s", etag);
                q->headers = curl_slist_append(q->headers, hd);
        }
        if (last_modified) {
                _cleanup_free_ char *hd = xasprintf("If-Modified-Since: %s", last_modified);
                q->headers = curl_slist_append(q->headers, hd);
        }
        /* curl drops a custom Authorization header on redirects to another
         * host (unless CURLOPT_UNRESTRICTED_AUTH), so the token stays home. */
        const char *token = npm_config_token_for(h->cfg, url);
        if (token) {
                _cleanup_free_ char *hd = xasprintf("Authorization: Bearer %s", token);
                q->headers = curl_slist_append(q->headers, hd);
        }
        if (q->headers)
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, q->headers);
        if (curl_multi_add_handle(h->multi, c) != CURLM_OK) {
                req_free(q);
                return corral_error_set(err, EX_SOFTWARE, "cannot start a transfer");
        }
        h->reqs = xrealloc(h->reqs, (h->n_reqs + 1) * sizeof(*h->reqs));
        h->reqs[h->n_reqs++] = q;
        h->active++;
        return 0;
}

#define NPM_HTTP_RETRIES 2

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* Whether q's failure may pass on its own. */
static bool transient(const npm_http_req *q)
{
        switch (q->result) {
        case CURLE_OK:
                return q->status == 408 || q->status == 429 || q->status == 500 ||
                       q->status == 502 || q->status == 503 || q->status == 504;
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR:
                return true;
        default:
                return false;
        }
}

/* Sets q up to be sent again later, when it may: true if so. */
static bool schedule_retry(npm_http_req *q)
{
        if (q->attempts >= NPM_HTTP_RETRIES || q->got > 0 || q->too_big || !transient(q))
                return false;
        q->attempts++;
        q->body.len = 0;
        if (q->body.buf)
                q->body.buf[0] = '\0';
        q->etag[0] = q->last_modified[0] = '\0';
        q->retry_at_ms = mono_ms() + (q->attempts == 1 ? 1000 : 4000);
        return true;
}

static void forget(npm_http *h, npm_http_req *q)
{
        for (size_t i = 0; i < h->n_reqs; i++)
                if (h->reqs[i] == q) {
                        h->reqs[i] = h->reqs[--h->n_reqs];
                        break;
                }
}

/* CORRAL_NPM_TRACE=1: timestamped lines on stderr, one per finished
 * transfer (its phases, size and HTTP version) and one per phase of the
 * install, to see where an install's time goes. */

static int64_t trace_t0;

bool npm_trace_on(void)
{
        static int on = -1;
        if (on < 0) {
                const char *v = getenv("CORRAL_NPM_TRACE");
                on = v && *v && strcmp(v, "0") != 0;
                trace_t0 = mono_ms();
        }
        return on;
}

void npm_trace(const char *fmt, ...)
{
        if (!npm_trace_on())
                return;
        char line[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        fprintf(stderr, "npm-trace %7.3f %s\n", (double)(mono_ms() - trace_t0) / 1000, line);
}

static void trace_done(const npm_http_req *q)
{
        if (!npm_trace_on())
                return;
        curl_off_t pre = 0, conn = 0, start = 0, total = 0, size = 0;
        long ver = 0;
        curl_easy_getinfo(q->h, CURLINFO_PRETRANSFER_TIME_T, &pre);
        curl_easy_getinfo(q->h, CURLINFO_APPCONNECT_TIME_T, &conn);
        curl_easy_getinfo(q->h, CURLINFO_STARTTRANSFER_TIME_T, &start);
        curl_easy_getinfo(q->h, CURLINFO_TOTAL_TIME_T, &total);
        curl_easy_getinfo(q->h, CURLINFO_SIZE_DOWNLOAD_T, &size);
        curl_easy_getinfo(q->h, CURLINFO_HTTP_VERSION, &ver);
        npm_trace("got %6.3f s (first byte %6.3f, tls %6.3f, pre %6.3f) %8lld B h%d %ld %s %s",
                  (double)total / 1e6, (double)start / 1e6, (double)conn / 1e6,
                  (double)pre / 1e6, (long long)size, ver == CURL_HTTP_VERSION_2_0 ? 2 : 1,
                  q->status, q->url, q->result == CURLE_OK ? "" : curl_easy_strerror(q->result));
}

int npm_http_step(npm_http *h, int timeout_ms, corral_error *err)
{
        int running = 0;
        int64_t now = mono_ms();
        for (size_t i = 0; i < h->n_reqs; i++) {
                npm_http_req *p = h->reqs[i];
                if (p->retry_at_ms && p->retry_at_ms <= now) {
                        p->retry_at_ms = 0;
                        if (curl_multi_add_handle(h->multi, p->h) != CURLM_OK)
                                return corral_error_set(err, EX_SOFTWARE,
                                                        "cannot start a transfer");
                }
        }
        if (curl_multi_perform(h->multi, &running) != CURLM_OK)
                return corral_error_set(err, EX_SOFTWARE, "libcurl multi failed");
        CURLMsg *msg;
        int left = 0;
        int r = 0;
        bool any = false;
        while ((msg = curl_multi_info_read(h->multi, &left))) {
                if (msg->msg != CURLMSG_DONE)
                        continue;
                npm_http_req *q = NULL;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
                curl_multi_remove_handle(h->multi, msg->easy_handle);
                q->result = msg->data.result;
                curl_easy_getinfo(q->h, CURLINFO_RESPONSE_CODE, &q->status);
                trace_done(q);
                if (schedule_retry(q))
                        continue; /* still active: it goes out again later */
                h->active--;
                forget(h, q);
                any = true;
                if (r >= 0)
                        r = q->done(h->userdata, q, err);
                req_free(q);
        }
        if (r < 0)
                return r;
        /* A finished transfer returns at once: its caller may have more to
         * start before anything is worth waiting for. */
        for (size_t i = 0; i < h->n_reqs && timeout_ms > 0; i++)
                if (h->reqs[i]->retry_at_ms) {
                        int64_t wait = h->reqs[i]->retry_at_ms - mono_ms();
                        timeout_ms = wait < 1 ? 1 : wait < timeout_ms ? (int)wait : timeout_ms;
                }
        if (!any && timeout_ms > 0 && h->active > 0 &&
            curl_multi_poll(h->multi, NULL, 0, timeout_ms, NULL) != CURLM_OK)
                return corral_error_set(err, EX_SOFTWARE, "libcurl poll failed");
        return 0;
}

int npm_http_error(const npm_http_req *q, const char *what, corral_error *err)
{
        if (q->too_big)
                return corral_error_set(err, EX_DATAERR, "%s: larger than %zu bytes", what,
                                        q->body.max);
        if (q->result == CURLE_PARTIAL_FILE)
                return corral_error_set(err, EX_DATAERR, "%s: truncated download from %s", what,
                                        q->url);
        if (q->result != CURLE_OK)
                return corral_error_set(err, EX_UNAVAILABLE, "%s: cannot reach %s: %s", what,
                                        q->url, curl_easy_strerror(q->result));
        return corral_error_set(err, q->status == 404 ? EX_NOINPUT : EX_UNAVAILABLE,
                                "%s: %s answered HTTP %ld", what, q->url, q->status);
}
