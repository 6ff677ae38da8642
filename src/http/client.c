/* libcurl's multi socket interface on the libuv loop, after curl's
 * docs/examples/multi-uv.c: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION, one uv_poll_t per socket) and when to call it
 * back (CURLMOPT_TIMERFUNCTION, one uv_timer_t); readiness and timeouts go
 * back through curl_multi_socket_action, and finished transfers are read
 * with curl_multi_info_read.  Completion callbacks run outside every curl
 * callback, so they may start or cancel transfers freely. */
#include <curl/curl.h>
#include <limits.h>
#include <strings.h>
#include <string.h>

#include "corral/http_client.h"
#include "corral/macro.h"
#include "corral/strbuf.h"
#include "http/internal.h"

struct http_client {
        uv_loop_t *loop;
        CURLM *multi;
        uv_timer_t timer;
        http_request *requests; /* doubly linked, in flight */
        size_t pending;
        unsigned handles_open;  /* timer + polls not yet closed */
        unsigned dispatching;   /* depth of check_finished() */
        bool freed;             /* http_client_free called */
};

struct http_request {
        http_client *client;
        http_request *prev, *next;
        CURL *easy;
        struct curl_slist *req_headers;
        char *body;
        strbuf resp;            /* buffered body */
        size_t headers_bytes, max_headers;
        char **headers;         /* current response's header lines */
        bool new_response;      /* next header line starts a new response */
        bool toobig, headers_toobig, stopped;
        unsigned timeout_ms;
        http_data_fn on_data;
        http_done_fn on_done;
        void *userdata;
        char errbuf[CURL_ERROR_SIZE];
};

typedef struct poll_ctx {
        uv_poll_t poll;
        http_client *client;
        curl_socket_t fd;
} poll_ctx;

static void handle_closed(uv_handle_t *h);

static void client_maybe_release(http_client *c)
{
        if (c->freed && c->handles_open == 0 && c->dispatching == 0)
                free(c);
}

/* ---- transfers ---------------------------------------------------------- */

/* Takes r out of the client's list and the multi handle. */
static void request_unlink(http_request *r)
{
        http_client *c = r->client;

        if (r->prev)
                r->prev->next = r->next;
        else
                c->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
        r->prev = r->next = NULL;
        c->pending--;
        if (c->multi)
                (void)curl_multi_remove_handle(c->multi, r->easy);
}

static void request_destroy(http_request *r)
{
        curl_easy_cleanup(r->easy);
        curl_slist_free_all(r->req_headers);
        free(r->body);
        strbuf_done(&r->resp);
        strv_free(r->headers);
        free(r);
}

bool http_header_line(char ***lines, size_t *bytes, size_t max, const char *data, size_t len)
{
        *bytes += len;
        if (*bytes > max)
                return false;
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
                len--;
        if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
                /* A status line: a new response (after 1xx or a redirect). */
                strv_free(*lines);
                *lines = NULL;
                return true;
        }
        if (len == 0 || data[0] == ' ' || data[0] == '\t')
                return true; /* the end, or obsolete line folding: dropped */
        {
                /* RFC 9110 §5.5: CR, LF or NUL inside a field value are
                 * replaced with SP (as are the other controls: a value may
                 * go back out in a request header), then trailing
                 * whitespace is not part of the value.  A line left blank,
                 * or starting with one, is dropped like a folded one. */
                _cleanup_free_ char *line = xmalloc(len + 1);
                for (size_t i = 0; i < len; i++) {
                        unsigned char c = (unsigned char)data[i];
                        line[i] = (c < 0x20 && c != '\t') || c == 0x7f ? ' ' : (char)c;
                }
                while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
                        len--;
                line[len] = '\0';
                if (len == 0 || line[0] == ' ' || line[0] == '\t')
                        return true;
                *lines = strv_push(*lines, line);
        }
        return true;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
        http_request *r = ud;

        if (!http_header_line(&r->headers, &r->headers_bytes, r->max_headers, data, size * n)) {
                r->headers_toobig = true;
                return 0;
        }
        return size * n;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
        http_request *r = ud;
        size_t len = size * n;

        if (r->on_data) {
                if (r->on_data(r->userdata, r, data, len) < 0) {
                        r->stopped = true;
                        return 0;
                }
                return len;
        }
        if (strbuf_append(&r->resp, data, len) < 0) {
                r->toobig = true;
                return 0;
        }
        return len;
}

static void request_finish(http_request *r, CURLcode rc)
{
        http_response resp = { 0 };
        char msg[sizeof(r->errbuf) + 64];
        long status = 0;

        (void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        resp.status = status;
        resp.headers = r->headers ? r->headers : (char *const[]){ NULL };
        resp.body = r->resp.buf ? r->resp.buf : "";
        resp.body_len = r->resp.len;
        if (rc != CURLE_OK) {
                if (r->toobig)
                        snprintf(msg, sizeof(msg), "response body exceeds %zu bytes", r->resp.max);
                else if (r->headers_toobig)
                        snprintf(msg, sizeof(msg), "response headers exceed %zu bytes",
                                 r->max_headers);
                else if (r->stopped)
                        snprintf(msg, sizeof(msg), "stopped by the consumer");
                else if (rc == CURLE_OPERATION_TIMEDOUT)
                        snprintf(msg, sizeof(msg), "timed out after %u ms", r->timeout_ms);
                else
                        snprintf(msg, sizeof(msg), "%s",
                                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
                switch (rc) {
                case CURLE_OPERATION_TIMEDOUT:
                case CURLE_COULDNT_CONNECT:
                case CURLE_COULDNT_RESOLVE_HOST:
                case CURLE_SEND_ERROR:
                case CURLE_RECV_ERROR:
                case CURLE_GOT_NOTHING:
                        resp.result = -EX_TEMPFAIL;
                        break;
                case CURLE_UNSUPPORTED_PROTOCOL:
                case CURLE_URL_MALFORMAT:
                        resp.result = -EX_USAGE;
                        break;
                default:
                        resp.result = (r->toobig || r->headers_toobig) ? -EX_DATAERR
                                      : r->stopped                     ? -EX_TEMPFAIL
                                                                       : -EX_UNAVAILABLE;
                }
                resp.error = msg;
                resp.curl_code = (int)rc;
        }
        r->on_done(r->userdata, &resp);
}

static void check_finished(http_client *c)
{
        CURLMsg *m;
        int left;

        c->dispatching++;
        while (!c->freed && (m = curl_multi_info_read(c->multi, &left))) {
                http_request *r = NULL;

                if (m->msg != CURLMSG_DONE)
                        continue;
                (void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
                if (!r)
                        continue;
                {
                        CURLcode rc = m->data.result;
                        /* Out of the list and the multi first: the callback
                         * may cancel others or free the client. */
                        request_unlink(r);
                        request_finish(r, rc);
                }
                request_destroy(r);
        }
        c->dispatching--;
        client_maybe_release(c);
}

/* ---- curl ↔ libuv ------------------------------------------------------- */

static void on_poll(uv_poll_t *h, int status, int events)
{
        poll_ctx *p = h->data;
        http_client *c = p->client;
        int flags = 0, running;

        if (status < 0)
                flags = CURL_CSELECT_ERR;
        if (!status && (events & UV_READABLE))
                flags |= CURL_CSELECT_IN;
        if (!status && (events & UV_WRITABLE))
                flags |= CURL_CSELECT_OUT;
        (void)curl_multi_socket_action(c->multi, p->fd, flags, &running);
        check_finished(c);
}

static void on_timer(uv_timer_t *t)
{
        http_client *c = t->data;
        int running;

        (void)curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_finished(c);
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *ud)
{
        http_client *c = ud;

        if (timeout_ms < 0)
                (void)uv_timer_stop(&c->timer);
        else /* 0 too: never call socket_action from inside curl */
                (void)uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
        return 0;
}

static int curl_socket_cb(CURL *easy, curl_socket_t s, int action, void *ud, void *socketp)
{
        http_client *c = ud;
        poll_ctx *p = socketp;
        int events = 0;

        if (action == CURL_POLL_REMOVE) {
                if (p) {
                        (void)uv_poll_stop(&p->poll);
                        uv_close((uv_handle_t *)&p->poll, handle_closed);
                        (void)curl_multi_assign(c->multi, s, NULL);
                }
                return 0;
        }
        if (!p) {
                p = xcalloc(1, sizeof(*p));
                p->client = c;
                p->fd = s;
                if (uv_poll_init_socket(c->loop, &p->poll, s) < 0) {
                        free(p);
                        return -1;
                }
                p->poll.data = p;
                c->handles_open++;
                (void)curl_multi_assign(c->multi, s, p);
        }
        if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
                events |= UV_READABLE;
        if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
                events |= UV_WRITABLE;
        (void)uv_poll_start(&p->poll, events, on_poll);
        return 0;
}

static void handle_closed(uv_handle_t *h)
{
        http_client *c;

        if (h->type == UV_POLL) {
                poll_ctx *p = h->data;
                c = p->client;
                free(p);
        } else {
                c = h->data;
        }
        c->handles_open--;
        client_maybe_release(c);
}

/* ---- public ------------------------------------------------------------- */

int http_client_new(uv_loop_t *loop, http_client **ret, corral_error *err)
{
        static bool curl_ready;
        http_client *c;

        if (!curl_ready) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return corral_error_set(err, EX_SOFTWARE, "libcurl: global init failed");
                curl_ready = true;
        }
        c = xcalloc(1, sizeof(*c));
        c->loop = loop;
        c->multi = curl_multi_init();
        if (!c->multi) {
                free(c);
                return corral_error_set(err, EX_SOFTWARE, "libcurl: cannot create a multi handle");
        }
        (void)uv_timer_init(loop, &c->timer);
        c->timer.data = c;
        c->handles_open = 1;
        (void)curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
        (void)curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
        (void)curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
        (void)curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
        *ret = c;
        return 0;
}

http_client *http_client_free(http_client *c)
{
        if (!c || c->freed)
                return NULL;
        while (c->requests) {
                http_request *r = c->requests;
                request_unlink(r); /* out of the multi: its sockets get REMOVE */
                request_destroy(r);
        }
        /* curl_multi_cleanup closes the connection cache, calling the socket
         * callback with REMOVE for each socket still watched. */
        (void)curl_multi_cleanup(c->multi);
        c->multi = NULL;
        (void)uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, handle_closed);
        c->freed = true;
        client_maybe_release(c);
        return NULL;
}

size_t http_client_pending(const http_client *c)
{
        return c ? c->pending : 0;
}

static bool url_scheme_ok(const char *url, bool https_only)
{
        if (strncasecmp(url, "https://", 8) == 0)
                return true;
        return !https_only && strncasecmp(url, "http://", 7) == 0;
}

int http_request_start(http_client *c, const http_request_opts *o, http_request **ret,
                       corral_error *err)
{
        http_request *r;
        const char *method;
        unsigned connect_ms;

        if (!o->url || !o->on_done)
                return corral_error_set(err, EX_USAGE, "HTTP request without URL or callback");
        if (!url_scheme_ok(o->url, o->https_only))
                return corral_error_set(err, EX_USAGE, "%s: not an %s URL", o->url,
                                        o->https_only ? "https://" : "http(s)://");
        if (c->freed)
                return corral_error_set(err, EX_SOFTWARE, "HTTP client is closed");

        r = xcalloc(1, sizeof(*r));
        r->client = c;
        r->easy = curl_easy_init();
        if (!r->easy) {
                free(r);
                return corral_error_set(err, EX_SOFTWARE, "libcurl: cannot create a handle");
        }
        r->resp = STRBUF_INIT(o->max_body ? o->max_body : HTTP_BODY_MAX_DEFAULT);
        r->max_headers = o->max_headers ? o->max_headers : HTTP_HEADERS_MAX_DEFAULT;
        r->timeout_ms = o->timeout_ms ? o->timeout_ms : HTTP_TIMEOUT_DEFAULT_MS;
        r->on_data = o->on_data;
        r->on_done = o->on_done;
        r->userdata = o->userdata;
        connect_ms = o->connect_timeout_ms ? o->connect_timeout_ms
                                           : HTTP_CONNECT_TIMEOUT_DEFAULT_MS;
        method = o->method ? o->method : o->body ? "POST" : "GET";

        (void)curl_easy_setopt(r->easy, CURLOPT_URL, o->url);
        (void)curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
        (void)curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
        (void)curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR,
                               o->https_only ? "https" : "http,https");
        (void)curl_easy_setopt(r->easy, CURLOPT_REDIR_PROTOCOLS_STR,
                               o->https_only ? "https" : "http,https");
        (void)curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
        if (r->timeout_ms != UINT_MAX)
                (void)curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
        if (o->max_redirects > 0) {
                (void)curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 1L);
                (void)curl_easy_setopt(r->easy, CURLOPT_MAXREDIRS, (long)o->max_redirects);
        }
        (void)curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
        (void)curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
        (void)curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
        (void)curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
        (void)curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, ""); /* what curl can decode */
        if (o->ca_file)
                (void)curl_easy_setopt(r->easy, CURLOPT_CAINFO, o->ca_file);
        if (o->unix_socket)
                (void)curl_easy_setopt(r->easy, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
        if (strcmp(method, "GET") == 0) {
                (void)curl_easy_setopt(r->easy, CURLOPT_HTTPGET, 1L);
        } else if (strcmp(method, "HEAD") == 0) {
                (void)curl_easy_setopt(r->easy, CURLOPT_NOBODY, 1L);
        } else {
                (void)curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
        }
        if (o->body) {
                r->body = xmalloc(o->body_len + 1);
                memcpy(r->body, o->body, o->body_len);
                r->body[o->body_len] = '\0';
                (void)curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                                       (curl_off_t)o->body_len);
                (void)curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
        }
        /* No "Expect: 100-continue" round trip for bodies. */
        r->req_headers = curl_slist_append(NULL, "Expect:");
        for (const char *const *h = o->headers; h && *h; h++) {
                struct curl_slist *n = curl_slist_append(r->req_headers, *h);
                if (!n)
                        break;
                r->req_headers = n;
        }
        (void)curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->req_headers);

        r->next = c->requests;
        if (c->requests)
                c->requests->prev = r;
        c->requests = r;
        c->pending++;
        if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
                request_unlink(r);
                request_destroy(r);
                return corral_error_set(err, EX_SOFTWARE, "libcurl: cannot add a transfer");
        }
        /* curl_multi_add_handle sets a 0 ms timer through curl_timer_cb: the
         * transfer starts on the next loop turn. */
        if (ret)
                *ret = r;
        return 0;
}

void http_request_cancel(http_request *r)
{
        if (r) {
                request_unlink(r);
                request_destroy(r);
        }
}

long http_request_status(http_request *r)
{
        long status = 0;

        (void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        return status;
}

const char *http_header_find(char *const *lines, const char *name)
{
        size_t n = strlen(name);

        for (char *const *h = lines; h && *h; h++) {
                if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':') {
                        const char *v = *h + n + 1;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        return v;
                }
        }
        return NULL;
}

const char *http_request_header(http_request *r, const char *name)
{
        return http_header_find(r->headers, name);
}

const char *http_response_header(const http_response *resp, const char *name)
{
        return http_header_find(resp->headers, name);
}
