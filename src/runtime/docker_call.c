/* The docker backend's Engine API calls on the daemon's loop, through the
 * libcurl multi client (corral/http_client.h), and the life of a process's
 * handles: nothing here blocks. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/http_client.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/runtime.h"
#include "corral/uvwrite.h"
#include "docker/internal.h"
#include "runtime/docker_internal.h"

struct dk_engine dk_engine;

http_client *dk_engine_get(uv_loop_t *loop)
{
        if (dk_engine.http && dk_engine.loop != loop)
                return NULL; /* one loop per process (the daemon's) */
        if (!dk_engine.http) {
                corral_error err = {0};
                if (http_client_new(loop, &dk_engine.http, &err) < 0)
                        return NULL;
                dk_engine.loop = loop;
        }
        dk_engine.users++;
        return dk_engine.http;
}

void dk_engine_put(void)
{
        if (dk_engine.users > 0 && --dk_engine.users == 0) {
                dk_events_stop();
                dk_engine.http = http_client_free(dk_engine.http);
                dk_engine.loop = NULL;
        }
}

void dk_maybe_release(runtime_process *p)
{
        if (p->open_handles > 0 || !p->freed || p->req)
                return;
        dk_procs_remove(p);
        free(p->socket);
        free(p->api);
        free(p->id);
        free(p->name);
        p->m = manifest_free(p->m);
        free(p->image);
        free(p->user);
        free(p->run_dir);
        free(p->root_label);
        strv_free(p->stale);
        free(p->auth);
        strbuf_done(&p->head);
        strbuf_done(&p->pending);
        free(p->exit_reason);
        free(p);
        dk_engine_put();
}

static void on_handle_closed(uv_handle_t *h)
{
        runtime_process *p = h->data;

        free(h);
        p->open_handles--;
        dk_maybe_release(p);
}

void dk_close_handle(uv_handle_t *h)
{
        if (h && !uv_is_closing(h))
                uv_close(h, on_handle_closed);
}

static void on_exit_timer(uv_timer_t *t)
{
        runtime_process *p = t->data;

        if (p->freed || p->exit_called)
                return;
        p->exit_called = true;
        if (p->cb.on_exit)
                p->cb.on_exit(p->ud, p->exit_status, p->term_signal);
}

/* The process is over (setup failed, or the container stopped): on_exit on
 * the next loop turn. */
void dk_finish(runtime_process *p, int status)
{
        p->exited = true;
        p->write_closed = true;
        p->step = S_ENDED;
        /* With Init the container's status is the init's, which reports a
         * signal death of the server as 128 + signal, as shells do. */
        if (status > 128 && status < 128 + 65) {
                p->exit_status = -1;
                p->term_signal = status - 128;
        } else {
                p->exit_status = status;
                p->term_signal = 0;
        }
        dk_close_handle((uv_handle_t *)p->sock);
        p->sock = NULL;
        (void)uv_timer_start(p->timer, on_exit_timer, 0, 0);
}

/* Setup failed: why, and whether the engine is to blame. */
void dk_fail(runtime_process *p, const corral_error *err)
{
        int code = err->code;

        free(p->exit_reason);
        p->exit_reason = xasprintf("cannot start: %s", err->msg);
        p->engine_lost = code == EX_UNAVAILABLE || code == EX_TEMPFAIL;
        log_warn("%s: %s", p->name, p->exit_reason);
        dk_finish(p, -1);
}

/* ---- Engine API calls on the loop --------------------------------------- */

typedef struct dk_call {
        runtime_process *p; /* NULL: detached (a removal after free) */
        char *header;       /* one extra request header, or NULL */
        reply_fn fn;
        char *what;                 /* "POST /containers/create", for messages */
        bool json;                  /* parse the body */
        bool allow_404;             /* 404 is an answer, not an error */
        dk_detached_fn detached_fn; /* p NULL: who gets the answer, if anyone */
        void *detached_ud;
} call;

static void on_reply(void *ud, const http_response *resp)
{
        call *c = ud;
        runtime_process *p = c->p;
        corral_error err = {0};
        _cleanup_json_ cJSON *j = NULL;

        if (p)
                p->req = NULL;
        if (resp->result < 0) {
                (void)corral_error_set(&err,
                                       resp->result == -EX_TEMPFAIL ? EX_TEMPFAIL : EX_UNAVAILABLE,
                                       "docker engine unavailable: %s: %s", c->what,
                                       resp->error ? resp->error : "no answer");
        } else if (resp->status >= 400 && !(c->allow_404 && resp->status == 404)) {
                _cleanup_json_ cJSON *e = cJSON_Parse(resp->body);
                const char *msg = json_get_string(e, "message");
                const char *hint = docker_init_hint(msg ? msg : resp->body);
                if (hint)
                        (void)corral_error_set(&err, EX_UNAVAILABLE, "docker engine: %s: %s",
                                               c->what, hint);
                else
                        (void)corral_error_set(&err, docker_status_code(resp->status),
                                               "docker engine: %s: %.300s", c->what,
                                               msg ? msg : resp->body);
        } else if (c->json && resp->status < 300) {
                j = cJSON_ParseWithLength(resp->body, resp->body_len);
                if (!j)
                        (void)corral_error_set(&err, EX_DATAERR,
                                               "docker engine: %s: reply is not JSON", c->what);
        }
        if (p && c->fn && !p->freed) {
                p->body = resp->body;
                c->fn(p, resp->status, err.code ? NULL : j, err.code ? &err : NULL);
                p->body = NULL;
        }
        if (!p && c->detached_fn)
                c->detached_fn(c->detached_ud, err.code ? NULL : j, err.code ? &err : NULL);
        if (p)
                dk_maybe_release(p);
        else
                dk_engine_put();
        free(c->what);
        free(c->header);
        free(c);
}

int dk_engine_call(runtime_process *p, http_client *http, const char *sock, const char *api,
                   const char *method, const char *path, const char *body, unsigned timeout_ms,
                   bool json, reply_fn fn, http_request **ret, struct dk_call **ret_call)
{
        const char *headers[] = {"Content-Type: application/json", p ? p->auth : NULL, NULL};
        _cleanup_free_ char *url = api ? xasprintf("http://docker/v%s%s", api, path)
                                       : xasprintf("http://docker%s", path);
        call *c = xcalloc(1, sizeof(*c));
        http_request_opts o = {
                .method = method,
                .url = url,
                .headers = headers,
                .body = body ? body : (strcmp(method, "POST") == 0 ? "" : NULL),
                .body_len = body ? strlen(body) : 0,
                .unix_socket = sock,
                .max_body = REPLY_MAX,
                .timeout_ms = timeout_ms,
                .on_done = on_reply,
                .userdata = c,
        };
        corral_error err = {0};
        int r;

        c->p = p;
        c->fn = fn;
        c->json = json;
        c->what = xasprintf("%s %s", method, path);
        if (p && p->auth) {
                free(p->auth);
                p->auth = NULL;
        }
        if (ret_call)
                *ret_call = c;
        r = http_request_start(http, &o, ret, &err);
        if (r < 0) {
                free(c->what);
                free(c);
                return r;
        }
        return 0;
}

void dk_call_step(runtime_process *p, const char *method, const char *path, const char *body,
                  unsigned timeout_ms, bool json, bool allow_404, reply_fn fn)
{
        call *c = NULL;

        if (dk_engine_call(p, dk_engine.http, p->socket, p->api, method, path, body, timeout_ms,
                           json, fn, &p->req, &c) < 0) {
                corral_error err = {0};
                (void)corral_error_set(&err, EX_SOFTWARE, "cannot start an Engine API call");
                dk_fail(p, &err);
                return;
        }
        c->allow_404 = allow_404;
}

/* DELETE /containers/ID?force=1&v=1, owned by nobody: it completes after
 * the process is gone (a daemon shutting down runs the loop until the
 * client has nothing in flight). */
void dk_remove_detached(runtime_process *p, const char *id)
{
        _cleanup_free_ char *path = xasprintf("/containers/%s?force=1&v=1", id);

        if (!dk_engine.http || !p->api)
                return;
        dk_engine.users++;
        if (dk_engine_call(NULL, dk_engine.http, p->socket, p->api, "DELETE", path, NULL,
                           CALL_TIMEOUT_MS, false, NULL, NULL, NULL) < 0)
                dk_engine_put();
}

int dk_call_detached(runtime_process *p, const char *method, const char *path)
{
        if (!p->api)
                return -1;
        return dk_call_owned_by_none(p->socket, p->api, method, path, NULL, NULL);
}

int dk_call_owned_by_none(const char *sock, const char *api, const char *method, const char *path,
                          dk_detached_fn fn, void *ud)
{
        call *c = NULL;

        if (!dk_engine.http)
                return -1;
        dk_engine.users++;
        if (dk_engine_call(NULL, dk_engine.http, sock, api, method, path, NULL, CALL_TIMEOUT_MS,
                           fn != NULL, NULL, NULL, &c) < 0) {
                dk_engine_put();
                return -1;
        }
        c->detached_fn = fn;
        c->detached_ud = ud;
        return 0;
}
