/* The loopback redirect listener of `corral auth start` (RFC 8252 §7.3,
 * include/corral/oauth_client.h): libmicrohttpd on a private libuv loop
 * (src/http/server.c), listening on 127.0.0.1 at a port the kernel picks,
 * answering one redirect whose state is ours, then closed.  The browser is
 * started with uv_spawn on the same loop, so a browser that is itself the
 * client (a script following the redirect) is served while it runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corral/http_server.h"
#include "corral/oauth_client.h"
#include "corral/strbuf.h"
#include "remote/oauth_internal.h"

#define CALLBACK_PATH "/callback"
#define QUERY_MAX 16384u /* bytes of the redirect's re-encoded query */

struct oauth_loopback {
        uv_loop_t loop;
        http_server *srv;
        uv_timer_t timer;
        uv_process_t browser;
        bool browser_running;
        bool timer_init;
        const char *expected; /* the state of our request, during wait */
        char *redirect_uri;
        char *got;            /* the accepted redirect, as a URL */
        bool timed_out;
        bool delivered;       /* the answer to the accepted redirect went out */
};

static const char page_ok[] =
        "<!doctype html><title>corral</title><p>corral received the authorization. "
        "You can close this window.</p>\n";
static const char page_bad[] =
        "<!doctype html><title>corral</title><p>This is not the authorization corral is "
        "waiting for (state does not match).</p>\n";
static const char page_none[] = "not found\n";

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *page)
{
        struct MHD_Response *r =
                MHD_create_response_from_buffer(strlen(page), (void *)page, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        (void)MHD_add_response_header(r, "Content-Type",
                                      page == page_none ? "text/plain" : "text/html; charset=utf-8");
        (void)MHD_add_response_header(r, "Cache-Control", "no-store");
        (void)MHD_add_response_header(r, "Connection", "close");
        ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
        strbuf *q = cls;

        (void)kind;
        if (q->len > QUERY_MAX)
                return MHD_NO;
        oauth_form_add(q, key, value ? value : "");
        return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
        oauth_loopback *l = cls;
        const char *state;
        strbuf q = STRBUF_INIT(QUERY_MAX + 4096);

        (void)version;
        (void)upload_data;
        (void)upload_data_size;
        if (strcmp(method, "GET") != 0 || strcmp(url, CALLBACK_PATH) != 0 || l->got)
                return answer(c, MHD_HTTP_NOT_FOUND, page_none);
        /* RFC 6749 §10.12: only the response to our request counts. */
        state = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
        if (!state || !l->expected || strcmp(state, l->expected) != 0)
                return answer(c, MHD_HTTP_BAD_REQUEST, page_bad);
        (void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
        l->got = xasprintf("%s?%s", l->redirect_uri, q.buf ? q.buf : "");
        strbuf_done(&q);
        *con_cls = l; /* marks the accepted one for on_completed */
        return answer(c, MHD_HTTP_OK, page_ok);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        oauth_loopback *l = cls;

        (void)c;
        (void)toe;
        if (*con_cls == l)
                l->delivered = true;
}

int oauth_loopback_open(oauth_loopback **ret, char **ret_redirect_uri, corral_error *err)
{
        oauth_loopback *l = xcalloc(1, sizeof(*l));
        http_server_config cfg = {
                .listen = "127.0.0.1:0",
                .max_connections = 16,
                .idle_timeout_s = 30,
        };
        int r;

        if (uv_loop_init(&l->loop) < 0) {
                free(l);
                return corral_error_set(err, EX_OSERR, "cannot create an event loop");
        }
        r = http_server_new(&l->loop, &cfg, on_request, l, on_completed, l, &l->srv, err);
        if (r < 0) {
                (void)uv_run(&l->loop, UV_RUN_DEFAULT);
                (void)uv_loop_close(&l->loop);
                free(l);
                return r;
        }
        l->redirect_uri = xasprintf("http://127.0.0.1:%u" CALLBACK_PATH,
                                    (unsigned)http_server_port(l->srv));
        *ret_redirect_uri = xstrdup(l->redirect_uri);
        *ret = l;
        return 0;
}

static void on_timeout(uv_timer_t *t)
{
        oauth_loopback *l = t->data;

        l->timed_out = true;
}

static void on_browser_exit(uv_process_t *p, int64_t status, int sig)
{
        oauth_loopback *l = p->data;

        (void)status;
        (void)sig;
        l->browser_running = false;
        uv_close((uv_handle_t *)p, NULL);
}

int oauth_loopback_wait(oauth_loopback *l, const char *browser, const char *url,
                        const char *expected_state, unsigned timeout_ms, char **ret_redirect,
                        corral_error *err)
{
        l->expected = expected_state;
        (void)uv_timer_init(&l->loop, &l->timer);
        l->timer_init = true;
        l->timer.data = l;
        (void)uv_timer_start(&l->timer, on_timeout, timeout_ms, 0);
        if (browser && *browser) {
                _cleanup_free_ char *cmd = xasprintf("exec %s \"$1\"", browser);
                char *args[] = {"sh", "-c", cmd, "sh", (char *)url, NULL};
                uv_stdio_container_t io[3] = {
                        {.flags = UV_IGNORE},
                        {.flags = UV_INHERIT_FD, .data.fd = 2}, /* stdout is the URL's */
                        {.flags = UV_INHERIT_FD, .data.fd = 2},
                };
                uv_process_options_t o = {
                        .exit_cb = on_browser_exit,
                        .file = "/bin/sh",
                        .args = args,
                        .stdio_count = 3,
                        .stdio = io,
                };
                int r;

                l->browser.data = l;
                r = uv_spawn(&l->loop, &l->browser, &o);
                if (r < 0)
                        fprintf(stderr, "corral: auth: cannot start $BROWSER: %s\n",
                                uv_strerror(r));
                else
                        l->browser_running = true;
        }
        while (!l->got && !l->timed_out && uv_run(&l->loop, UV_RUN_ONCE))
                ;
        /* Let the answer to the browser go out before the server closes. */
        while (l->got && !l->delivered && !l->timed_out && uv_run(&l->loop, UV_RUN_ONCE))
                ;
        (void)uv_timer_stop(&l->timer);
        if (!l->got)
                return corral_error_set(err, EX_TEMPFAIL,
                                        "no redirect to %s within %u s",
                                        l->redirect_uri, timeout_ms / 1000);
        *ret_redirect = steal_pointer(&l->got);
        return 0;
}

oauth_loopback *oauth_loopback_free(oauth_loopback *l)
{
        if (!l)
                return NULL;
        l->srv = http_server_free(l->srv);
        /* A browser that stays open is the user's: left alone, not waited for. */
        if (l->browser_running && !uv_is_closing((uv_handle_t *)&l->browser))
                uv_close((uv_handle_t *)&l->browser, NULL);
        if (l->timer_init)
                uv_close((uv_handle_t *)&l->timer, NULL);
        (void)uv_run(&l->loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&l->loop);
        free(l->redirect_uri);
        free(l->got);
        free(l);
        return NULL;
}
