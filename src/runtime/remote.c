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
#include "corral/oauth_client.h"
#include "corral/paths.h"
#include "corral/remote.h"
#include "corral/runtime.h"
#include "corral/strbuf.h"

#define SECRETS_MAX (1u << 20)
#define LIVE_RETRY_MS 5000u /* a failed refresh inside a session, again */

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

struct runtime_process {
        uv_loop_t *loop;
        http_client *hc;
        const corral_paths *paths; /* the supervisor's store: outlives the process */
        remote_session *s;
        oauth_refresh *refresh;    /* a token refresh before connecting */
        oauth_refresh *live;       /* a token refresh while the session runs */
        uv_timer_t *refresh_timer; /* when live starts */
        char *dead_token;          /* why the token cannot be refreshed: the
                                      session ends when it expires */
        uv_timer_t *timer;         /* a deferred end */
        runtime_callbacks cb;
        void *ud;
        char *name;
        char *url;
        remote_transport transport;
        char **headers;    /* without the bearer */
        char *query;       /* secret query (Smithery config), or NULL */
        bool user_auth;    /* a header sets Authorization: no OAuth token */
        bool refreshed;    /* refreshed the token, which no answer has proven yet */
        char *reason;
        uid_t uid;         /* whose tokens (remote_token_uid()) */
        bool lost;
        bool needs_auth;
        bool fatal;
        bool ended;
        bool established; /* the server has answered on this session */
        int end_status, end_signal;
        strbuf line;      /* a partial message written by the session */
        char **waiting;   /* messages written while the token is refreshed */
};

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

/* The server refused the token: refresh it at the next start.  False when
 * there is nothing to refresh with, or this start did refresh (which would
 * loop). */
static bool expire_token(runtime_process *p, cJSON *st)
{
        if (p->user_auth || p->refreshed || !json_get_string(st, "refresh_token"))
                return false;
        cJSON_DeleteItemFromObjectCaseSensitive(st, "expires_at");
        cJSON_AddNumberToObject(st, "expires_at", 0);
        if (oauth_state_save(p->paths, p->name, p->uid, st, NULL) < 0)
                log_warn("%s: cannot record the refused token", p->name);
        return true;
}

/* A 401, or a 403 insufficient_scope.  A token that can be refreshed is
 * (unavailable: retried soon, refreshing first); a scope the server asks
 * for beyond the authorization's is recorded for `corral auth start`, which
 * asks for the union (step-up, MCP 2025-11-25 basic/authorization "Scope
 * Challenge Handling"), once: a server that still wants a scope the last
 * authorization asked for fails the unit; anything else waits for a person
 * (pending_auth). */
static void auth_ended(runtime_process *p, const char *reason)
{
        const char *challenge = p->s ? remote_session_challenge(p->s) : NULL;
        _cleanup_free_ char *need = challenge && strstr(challenge, "insufficient_scope")
                                            ? oauth_challenge_scope(challenge)
                                            : NULL;
        _cleanup_json_ cJSON *st = p->user_auth ? NULL
                                                : oauth_state_load(p->paths, p->name, p->uid);
        const char *known = json_get_string(st, "error");

        if (need && st && json_get_string(st, "access_token")) {
                const char *asked = json_get_string(st, "scope");
                const char *granted = json_get_string(st, "granted_scope");
                _cleanup_free_ char *want = NULL;

                if (oauth_scope_covers(asked, need)) {
                        p->fatal = true;
                        p->reason = xasprintf("the server still answers insufficient_scope, "
                                              "asking for '%s', after authorization with "
                                              "scope '%s' (see `corral auth status %s`)",
                                              need, asked ? asked : "", p->name);
                        return;
                }
                want = oauth_scope_union(granted ? granted : asked, need);
                cJSON_DeleteItemFromObjectCaseSensitive(st, "step_up_scope");
                if (want)
                        cJSON_AddStringToObject(st, "step_up_scope", want);
                if (oauth_state_save(p->paths, p->name, p->uid, st, NULL) < 0)
                        log_warn("%s: cannot record the scope asked for", p->name);
                p->needs_auth = true;
                p->reason = xasprintf("needs authorization: the server asks for scope '%s' "
                                      "(insufficient_scope); run `corral auth start %s`",
                                      need, p->name);
                return;
        }
        if (st && expire_token(p, st)) {
                p->lost = true;
                p->reason = xasprintf("token refused: refreshing it (%s)", reason);
                return;
        }
        p->needs_auth = true;
        /* A refresh token refused earlier says more than the 401. */
        p->reason = known ? xasprintf("needs authorization: %s", known)
                          : xasprintf("needs authorization: %s; run `corral auth start %s`",
                                      reason, p->name);
}

static void stop_live_refresh(runtime_process *p)
{
        if (p->refresh_timer)
                (void)uv_timer_stop(p->refresh_timer);
        oauth_refresh_cancel(p->live);
        p->live = NULL;
}

static void on_end(void *ud, remote_end why, const char *reason)
{
        runtime_process *p = ud;
        int status = 0, sig = 0;

        stop_live_refresh(p);
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
                auth_ended(p, reason);
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

/* The manifest's headers with secret values from secrets.json; *user_auth
 * when one of them is Authorization.  NULL with err when a secret is
 * missing. */
static char **static_headers(const manifest *m, const corral_paths *paths, bool *user_auth,
                             corral_error *err)
{
        _cleanup_free_ char *dir = paths_server_dir(paths, m->name);
        _cleanup_free_ char *sp = path_join(dir, "secrets.json");
        _cleanup_free_ char *data = NULL;
        _cleanup_json_ cJSON *secrets = NULL;
        char **h = xcalloc(1, sizeof(char *));
        size_t len;

        *user_auth = false;
        if (read_file(sp, SECRETS_MAX, &data, &len) == 0)
                secrets = cJSON_ParseWithLength(data, len);
        for (size_t i = 0; i < m->n_headers; i++) {
                const char *v = m->headers[i].value;
                _cleanup_free_ char *line = NULL;

                if (!v)
                        v = json_get_string(json_get_object(secrets, "headers"), m->headers[i].key);
                if (!v) {
                        strv_free(h);
                        corral_error_set(err, EX_CONFIG,
                                         "the secret value of header %s is missing from %s",
                                         m->headers[i].key, sp);
                        return NULL;
                }
                if (strcasecmp(m->headers[i].key, "Authorization") == 0)
                        *user_auth = true;
                line = xasprintf("%s: %s", m->headers[i].key, v);
                h = strv_push(h, line);
        }
        return h;
}

/* base plus the bearer of state, unless a header sets Authorization or the
 * token was obtained for another resource (a server reinstalled under the
 * same name at another URL must not get the old one's token, RFC 8707). */
static char **with_token(char *const *base, bool user_auth, const cJSON *state, const char *url)
{
        char **h = strv_copy(base);
        const char *tok = json_get_string(state, "access_token");
        const char *resource = json_get_string(state, "resource");

        if (resource && strcmp(resource, url) != 0)
                return h;
        if (!user_auth && tok && *tok && !strpbrk(tok, "\r\n")) {
                _cleanup_free_ char *line = xasprintf("Authorization: Bearer %s", tok);
                h = strv_push(h, line);
        }
        return h;
}

char *remote_unit_query(const manifest *m, const corral_paths *paths)
{
        _cleanup_free_ char *dir = paths_server_dir(paths, m->name);
        _cleanup_free_ char *sp = path_join(dir, "secrets.json");
        _cleanup_free_ char *data = NULL;
        _cleanup_json_ cJSON *secrets = NULL;
        const char *q;
        size_t len;

        if (read_file(sp, SECRETS_MAX, &data, &len) < 0)
                return NULL;
        secrets = cJSON_ParseWithLength(data, len);
        q = json_get_string(secrets, "query");
        return q && *q && !strpbrk(q, "\r\n #") ? xstrdup(q) : NULL;
}

char **remote_unit_headers(const manifest *m, const corral_paths *paths, uid_t uid,
                           corral_error *err)
{
        bool user_auth;
        _cleanup_strv_ char **base = static_headers(m, paths, &user_auth, err);
        _cleanup_json_ cJSON *state = NULL;

        if (!base)
                return NULL;
        state = oauth_state_load(paths, m->name, uid);
        return with_token(base, user_auth, state, m->command[0]);
}

static void schedule_refresh(runtime_process *p, const cJSON *state);
static void on_token_dead(uv_timer_t *t);

/* The server refused the refresh token (invalid_grant): the store forgets
 * the tokens and keeps why for `corral auth status`.  Returns that why
 * (owned): msg and what to run.  *expires_in gets the seconds the access
 * token had left (0 when unknown). */
static char *forget_dead_token(runtime_process *p, const char *msg, double *expires_in)
{
        _cleanup_json_ cJSON *st = oauth_state_load(p->paths, p->name, p->uid);
        char *e = xasprintf("%s; run `corral auth start %s`", msg, p->name);

        if (expires_in)
                *expires_in = json_get_number(st, "expires_at", 0) - (double)time(NULL);
        if (st) {
                cJSON_DeleteItemFromObjectCaseSensitive(st, "access_token");
                cJSON_DeleteItemFromObjectCaseSensitive(st, "expires_at");
                cJSON_DeleteItemFromObjectCaseSensitive(st, "refresh_token");
                cJSON_DeleteItemFromObjectCaseSensitive(st, "error");
                cJSON_AddStringToObject(st, "error", e);
                (void)oauth_state_save(p->paths, p->name, p->uid, st, NULL);
        }
        return e;
}

static void on_live_refreshed(void *ud, cJSON *state, bool invalid_grant, const char *msg)
{
        runtime_process *p = ud;
        corral_error err = {0};

        p->live = NULL;
        if (p->ended || !p->s) {
                cJSON_Delete(state);
                return;
        }
        if (state) {
                _cleanup_strv_ char **h = with_token(NULL, false, state, p->url);
                /* with_token() gives "Authorization: Bearer …" or nothing. */
                if (h && h[0] && remote_session_set_header(p->s, "Authorization",
                                                           h[0] + strlen("Authorization: ")) < 0)
                        log_warn("%s: the refreshed token does not fit in a header", p->name);
                if (oauth_state_save(p->paths, p->name, p->uid, state, &err) < 0)
                        log_warn("%s: %s", p->name, err.msg);
                log_info("%s: access token refreshed", p->name);
                schedule_refresh(p, state);
                cJSON_Delete(state);
                return;
        }
        if (invalid_grant) {
                /* Dead refresh token: the session keeps the token in its
                 * header and runs until it expires, then ends waiting for
                 * authorization; the store forgets it now. */
                double left;
                log_warn("%s: %s", p->name, msg);
                free(p->dead_token);
                p->dead_token = forget_dead_token(p, msg, &left);
                (void)uv_timer_start(p->refresh_timer, on_token_dead,
                                     left > 0 ? (uint64_t)(left * 1000) : 0, 0);
                return;
        }
        log_warn("%s: %s; trying again", p->name, msg);
        {
                _cleanup_json_ cJSON *st = oauth_state_load(p->paths, p->name, p->uid);
                double exp = json_get_number(st, "expires_at", -1);
                if (exp > (double)time(NULL))
                        schedule_refresh(p, NULL);
        }
}

static void on_token_dead(uv_timer_t *t)
{
        runtime_process *p = t->data;

        if (!p->ended && p->s)
                remote_session_abort(p->s); /* on_end() reads dead_token */
}

static void on_refresh_due(uv_timer_t *t)
{
        runtime_process *p = t->data;
        _cleanup_json_ cJSON *st = NULL;

        if (p->ended || !p->s || p->live)
                return;
        st = oauth_state_load(p->paths, p->name, p->uid);
        p->live = oauth_refresh_start(p->hc, st, on_live_refreshed, p);
}

/* Arms the refresh of state's token before it expires; NULL state: again
 * after LIVE_RETRY_MS. */
static void schedule_refresh(runtime_process *p, const cJSON *state)
{
        double exp, left, lead;
        uint64_t ms;

        if (p->user_auth || !p->refresh_timer)
                return;
        if (!state) {
                ms = LIVE_RETRY_MS;
        } else {
                exp = json_get_number(state, "expires_at", -1);
                if (exp < 0 || !json_get_string(state, "refresh_token") ||
                    !json_get_string(state, "token_endpoint"))
                        return;
                left = exp - (double)time(NULL);
                lead = left / 4 < OAUTH_REFRESH_MARGIN_S ? left / 4 : OAUTH_REFRESH_MARGIN_S;
                ms = left - lead < 1 ? 1000u : (uint64_t)((left - lead) * 1000);
        }
        (void)uv_timer_start(p->refresh_timer, on_refresh_due, ms, 0);
}

static int connect_session(runtime_process *p, const cJSON *state, corral_error *err)
{
        _cleanup_strv_ char **headers = with_token(p->headers, p->user_auth, state, p->url);
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
        schedule_refresh(p, state);
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
                _cleanup_free_ char *e = forget_dead_token(p, msg, NULL);
                p->needs_auth = true;
                p->reason = xasprintf("needs authorization: %s", e);
        } else {
                p->lost = true;
                p->reason = xasprintf("unreachable: %s", msg);
        }
        finish(p, 0, 0);
}

static int remote_start(uv_loop_t *loop, const manifest *m, const corral_paths *paths,
                        const runtime_callbacks *cb, void *ud, runtime_process **ret,
                        corral_error *err)
{
        _cleanup_json_ cJSON *state = NULL;
        runtime_process *p;
        bool user_auth;
        char **headers;
        http_client *hc;

        if (!m || !m->command || !m->command[0])
                return corral_error_set(err, EX_DATAERR, "cannot start server: no URL");
        headers = static_headers(m, paths, &user_auth, err);
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
        p->uid = remote_token_uid(m);
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
