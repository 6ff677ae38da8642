/* The remote runtime backend: a unit whose "process" is an MCP session over
 * HTTP (src/remote/transport.c).  The supervisor writes newline-framed
 * JSON-RPC to it as to a child's stdin and reads the server's messages as
 * stdout, so states, backoff, health pings and the gateway work unchanged.
 *
 * How endings map onto the restart policy (issue 12): a 5xx, a refused
 * connection, a stream cut without resumption or a forgotten session (404:
 * initialize again) is a crash (exit status 1: backoff, crash loop);
 * a network that is down (DNS, TLS set-up) or a connection refused before
 * the session was established is not a crash: service_lost() makes the unit
 * `unavailable`, retried every 5 s, with last_error saying why
 * ("unreachable: …"); so is a refused token that can be refreshed.  A 401
 * with nothing to refresh, or a refresh token the server refused, makes it
 * `pending_auth` (needs_auth()): not retried until `corral auth` asks for a
 * start.  A 403 insufficient_scope records the scope for the step-up; one
 * that persists after it fails the unit (fatal()).
 *
 * A token with an expiry and a refresh token is refreshed while the session
 * runs, before it expires (OAUTH_REFRESH_MARGIN_S ahead, or a quarter of
 * its remaining life when that is shorter): the new token goes into the
 * session's Authorization header for the requests that follow, so callers
 * never see the expiry.  A refresh that fails is tried again after
 * LIVE_RETRY_MS while the token lives; a refused refresh token is recorded,
 * and the 401 that follows the expiry makes the unit pending_auth. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/paths.h"
#include "runtime/remote_internal.h"

/* One http_client per loop, shared by the loop's remote units. */
typedef struct shared_client {
        struct shared_client *next;
        uv_loop_t *loop;
        http_client *hc;
        unsigned refs;
} shared_client;

static shared_client *clients;

static http_client *client_ref(uv_loop_t *loop, corral_error *err)
{
        shared_client *c;

        for (c = clients; c; c = c->next)
                if (c->loop == loop) {
                        c->refs++;
                        return c->hc;
                }
        c = xcalloc(1, sizeof(*c));
        if (http_client_new(loop, &c->hc, err) < 0) {
                free(c);
                return NULL;
        }
        c->loop = loop;
        c->refs = 1;
        c->next = clients;
        clients = c;
        return c->hc;
}

static void client_unref(uv_loop_t *loop)
{
        for (shared_client **pp = &clients; *pp; pp = &(*pp)->next) {
                shared_client *c = *pp;
                if (c->loop != loop)
                        continue;
                if (--c->refs == 0) {
                        *pp = c->next;
                        (void)http_client_free(c->hc);
                        free(c);
                }
                return;
        }
}

#define WAITING_MAX 1024u

static void finish(runtime_process *p, int status, int sig)
{
        p->ended = true;
        if (p->reason)
                log_info("%s: %s", p->name, p->reason);
        if (p->cb.on_exit)
                p->cb.on_exit(p->ud, status, sig);
}

static void on_finish_timer(uv_timer_t *t)
{
        runtime_process *p = t->data;

        finish(p, p->end_status, p->end_signal);
}

/* Ends from a context where on_exit must not run at once (inside kill()). */
static void finish_later(runtime_process *p, int status, int sig)
{
        p->ended = true;
        p->end_status = status;
        p->end_signal = sig;
        (void)uv_timer_start(p->timer, on_finish_timer, 0, 0);
}

static void on_message(void *ud, const char *json, size_t len)
{
        runtime_process *p = ud;
        _cleanup_free_ char *framed = xmalloc(len + 1);

        p->established = true;
        p->refreshed = false; /* the token works: a later expiry may refresh again */
        memcpy(framed, json, len);
        framed[len] = '\n';
        if (p->cb.on_stdout)
                p->cb.on_stdout(p->ud, framed, len + 1);
}

static void on_end(void *ud, remote_end why, const char *reason)
{
        runtime_process *p = ud;
        int status = 0, sig = 0;

        remote_stop_live_refresh(p);
        free(p->reason);
        p->reason = NULL;
        switch (why) {
        case REMOTE_END_CLOSED:
                break;
        case REMOTE_END_KILLED:
                if (p->dead_token) {
                        p->needs_auth = true;
                        p->reason = xasprintf("needs authorization: %s", p->dead_token);
                        break;
                }
                sig = SIGKILL;
                break;
        case REMOTE_END_AUTH:
                remote_auth_ended(p, reason);
                break;
        case REMOTE_END_UNREACHABLE:
                p->lost = true;
                p->reason = xasprintf("network unavailable: %s", reason);
                break;
        case REMOTE_END_REFUSED:
                /* A server that went away is a crash (backoff, then a new
                 * session); one that is not there when starting is down,
                 * retried without counting crashes, so an outage longer than
                 * the crash-loop window does not leave the unit failed. */
                if (p->established) {
                        status = 1;
                        p->reason = xstrdup(reason);
                } else {
                        p->lost = true;
                        p->reason = xasprintf("unreachable: %s", reason);
                }
                break;
        default:
                status = 1;
                p->reason = xstrdup(reason);
                break;
        }
        finish(p, status, sig);
}

static runtime_process *remote_runtime_free(runtime_process *p);

static const remote_ops ops = {
        .on_message = on_message,
        .on_end = on_end,
};

static int connect_session(runtime_process *p, const cJSON *state, corral_error *err)
{
        _cleanup_strv_ char **headers = remote_with_token(p->headers, p->user_auth, state, p->url);
        remote_config cfg = {0};
        int r;

        cfg.url = p->url;
        cfg.transport = p->transport;
        cfg.fallback = true;
        cfg.headers = headers;
        cfg.ca_file = getenv("CORRAL_CA_BUNDLE");
        cfg.query = p->query;
        r = remote_session_new(p->hc, p->loop, &cfg, &ops, p, &p->s, err);
        if (r < 0)
                return r;
        for (size_t i = 0; p->waiting && p->waiting[i]; i++)
                (void)remote_session_send(p->s, p->waiting[i], strlen(p->waiting[i]));
        strv_free(p->waiting);
        p->waiting = NULL;
        remote_schedule_refresh(p, state);
        return 0;
}

static void on_refreshed(void *ud, cJSON *state, bool invalid_grant, const char *msg)
{
        runtime_process *p = ud;
        corral_error err = {0};

        p->refresh = NULL;
        p->refreshed = true;
        if (p->ended)
                return;
        if (state) {
                if (oauth_state_save(p->paths, p->name, p->uid, state, &err) < 0)
                        log_warn("%s: %s", p->name, err.msg);
                if (connect_session(p, state, &err) < 0) {
                        p->reason = xstrdup(err.msg);
                        cJSON_Delete(state);
                        finish(p, 1, 0);
                        return;
                }
                cJSON_Delete(state);
                return;
        }
        if (invalid_grant) {
                /* The refresh token is dead: back to pending authorization. */
                _cleanup_free_ char *e = remote_forget_dead_token(p, msg, NULL);
                p->needs_auth = true;
                p->reason = xasprintf("needs authorization: %s", e);
        } else {
                p->lost = true;
                p->reason = xasprintf("unreachable: %s", msg);
        }
        finish(p, 0, 0);
}

int runtime_remote_start_as(uv_loop_t *loop, const manifest *m, const corral_paths *paths,
                            uid_t uid, const runtime_callbacks *cb, void *ud,
                            runtime_process **ret, corral_error *err)
{
        _cleanup_json_ cJSON *state = NULL;
        runtime_process *p;
        bool user_auth;
        char **headers;
        http_client *hc;

        if (!m || !m->command || !m->command[0])
                return corral_error_set(err, EX_DATAERR, "cannot start server: no URL");
        headers = remote_static_headers(m, paths, &user_auth, err);
        if (!headers)
                return -EX_NOINPUT;
        hc = client_ref(loop, err);
        if (!hc) {
                strv_free(headers);
                return -EX_OSERR;
        }
        p = xcalloc(1, sizeof(*p));
        p->loop = loop;
        p->hc = hc;
        p->paths = paths;
        p->cb = *cb;
        p->ud = ud;
        p->name = xstrdup(m->name);
        p->url = xstrdup(m->command[0]);
        p->transport = m->transport && strcmp(m->transport, "sse") == 0 ? REMOTE_TRANSPORT_SSE
                                                                         : REMOTE_TRANSPORT_HTTP;
        p->headers = headers;
        p->user_auth = user_auth;
        p->query = remote_unit_query(m, paths);
        p->uid = uid;
        p->line = STRBUF_INIT(32u << 20); /* a message the gateway accepted */
        p->timer = xcalloc(1, sizeof(*p->timer));
        (void)uv_timer_init(loop, p->timer);
        p->timer->data = p;
        p->refresh_timer = xcalloc(1, sizeof(*p->refresh_timer));
        (void)uv_timer_init(loop, p->refresh_timer);
        p->refresh_timer->data = p;
        state = user_auth ? NULL : oauth_state_load(paths, m->name, p->uid);
        if (state && oauth_needs_refresh(state, (int64_t)time(NULL)))
                p->refresh = oauth_refresh_start(hc, state, on_refreshed, p);
        if (!p->refresh && connect_session(p, state, err) < 0) {
                p->cb.on_exit = NULL;
                remote_runtime_free(p);
                return -EX_DATAERR;
        }
        *ret = p;
        return 0;
}

static int remote_start(uv_loop_t *loop, const manifest *m, const corral_paths *paths,
                        const runtime_callbacks *cb, void *ud, runtime_process **ret,
                        corral_error *err)
{
        return runtime_remote_start_as(loop, m, paths, remote_token_uid(m), cb, ud, ret, err);
}

/* The session writes one message per call, '\n'-terminated; anything else is
 * split at newlines all the same. */
static int remote_write(runtime_process *p, const char *data, size_t n)
{
        if (!p || p->ended)
                return -1;
        for (size_t i = 0; i < n; i++) {
                if (data[i] != '\n') {
                        (void)strbuf_append(&p->line, data + i, 1);
                        continue;
                }
                if (p->line.len > 0) {
                        if (!p->s) {
                                if (strv_length(p->waiting) >= WAITING_MAX)
                                        return -1;
                                p->waiting = strv_push(p->waiting, p->line.buf);
                        } else if (remote_session_send(p->s, p->line.buf, p->line.len) < 0) {
                                return -1;
                        }
                }
                strbuf_reset(&p->line);
        }
        return 0;
}

static void remote_close_stdin(runtime_process *p)
{
        if (!p || p->ended)
                return;
        if (p->s) {
                remote_session_close(p->s);
                return;
        }
        oauth_refresh_cancel(p->refresh);
        p->refresh = NULL;
        finish_later(p, 0, 0);
}

static int remote_kill(runtime_process *p, int sig)
{
        if (!p || p->ended)
                return -ESRCH;
        if (p->s) {
                remote_session_abort(p->s);
                return 0;
        }
        oauth_refresh_cancel(p->refresh);
        p->refresh = NULL;
        finish_later(p, 0, SIGKILL);
        return 0;
}

static int remote_pid(const runtime_process *p)
{
        return 0; /* nothing runs here */
}

static void free_handle(uv_handle_t *h)
{
        free(h);
}

static runtime_process *remote_runtime_free(runtime_process *p)
{
        if (!p)
                return NULL;
        p->s = remote_session_free(p->s);
        oauth_refresh_cancel(p->refresh);
        oauth_refresh_cancel(p->live);
        if (p->timer)
                uv_close((uv_handle_t *)p->timer, free_handle);
        if (p->refresh_timer)
                uv_close((uv_handle_t *)p->refresh_timer, free_handle);
        client_unref(p->loop);
        strbuf_done(&p->line);
        strv_free(p->headers);
        strv_free(p->waiting);
        free(p->name);
        free(p->url);
        free(p->query);
        free(p->reason);
        free(p->dead_token);
        free(p);
        return NULL;
}

static const char *remote_exit_reason(const runtime_process *p)
{
        return p ? p->reason : NULL;
}

static bool remote_service_lost(const runtime_process *p)
{
        return p && p->lost;
}

static bool remote_needs_auth(const runtime_process *p)
{
        return p && p->needs_auth;
}

static bool remote_fatal(const runtime_process *p)
{
        return p && p->fatal;
}

const runtime_backend runtime_remote = {
        .name = "remote",
        .confines = false,
        .start = remote_start,
        .write = remote_write,
        .close_stdin = remote_close_stdin,
        .kill = remote_kill,
        .pid = remote_pid,
        .free = remote_runtime_free,
        .exit_reason = remote_exit_reason,
        .service_lost = remote_service_lost,
        .needs_auth = remote_needs_auth,
        .fatal = remote_fatal,
};
