/* http_fetch_blocking(): one request on a private libuv loop (see
 * corral/http_fetch.h). */
#include <string.h>
#include <uv.h>

#include "corral/http_fetch.h"
#include "corral/macro.h"
#include "http/internal.h"

typedef struct fetch_ctx {
        const http_request_opts *o;
        http_fetch_result *res;
        bool done;
        int result;
        char *error;
} fetch_ctx;

static void on_done(void *ud, const http_response *resp)
{
        fetch_ctx *f = ud;

        f->done = true;
        f->result = resp->result;
        f->res->status = resp->status;
        for (size_t i = 0; resp->headers && resp->headers[i]; i++)
                f->res->headers = strv_push(f->res->headers, resp->headers[i]);
        f->res->body = xstrndup(resp->body ? resp->body : "", resp->body_len);
        f->res->body_len = resp->body_len;
        if (resp->error)
                f->error = xstrdup(resp->error);
}

static int on_data(void *ud, http_request *req, const char *data, size_t len)
{
        fetch_ctx *f = ud;
        return f->o->on_data(f->o->userdata, req, data, len);
}

int http_fetch_blocking(const http_request_opts *o, http_fetch_result *ret, corral_error *err)
{
        fetch_ctx f = {.o = o, .res = ret};
        http_request_opts mine = *o;
        http_client *hc = NULL;
        uv_loop_t loop;
        int r;

        memset(ret, 0, sizeof(*ret));
        if (uv_loop_init(&loop) < 0)
                return corral_error_set(err, EX_OSERR, "cannot create an event loop");
        r = http_client_new(&loop, &hc, err);
        if (r == 0) {
                mine.on_done = on_done;
                mine.on_data = o->on_data ? on_data : NULL;
                mine.userdata = &f;
                r = http_request_start(hc, &mine, NULL, err);
                while (r == 0 && !f.done && uv_run(&loop, UV_RUN_ONCE))
                        ;
                if (r == 0 && !f.done)
                        r = corral_error_set(err, EX_SOFTWARE, "%s: the request never ended",
                                             o->url);
        }
        /* The client's handles close on the loop's last turns. */
        hc = http_client_free(hc);
        (void)uv_run(&loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&loop);
        if (r == 0 && f.result < 0)
                r = corral_error_set(err, EX_UNAVAILABLE, "%s: %s", o->url,
                                     f.error ? f.error : "no answer");
        free(f.error);
        if (r < 0)
                http_fetch_result_done(ret);
        return r;
}

void http_fetch_result_done(http_fetch_result *r)
{
        strv_free(r->headers);
        free(r->body);
        memset(r, 0, sizeof(*r));
}

const char *http_fetch_header(const http_fetch_result *r, const char *name)
{
        return http_header_find(r->headers, name);
}
