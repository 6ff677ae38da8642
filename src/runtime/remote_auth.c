/* The remote backend's headers and OAuth token (MCP 2025-11-25
 * basic/authorization): the static headers with their secrets, the bearer
 * (only to the resource it was obtained for, RFC 8707), what a 401 or a 403
 * insufficient_scope means for the session, and the refresh of a token
 * while the session runs (see remote.c's header for how endings map onto
 * the restart policy). */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/paths.h"
#include "runtime/remote_internal.h"

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
void remote_auth_ended(runtime_process *p, const char *reason)
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

void remote_stop_live_refresh(runtime_process *p)
{
        if (p->refresh_timer)
                (void)uv_timer_stop(p->refresh_timer);
        oauth_refresh_cancel(p->live);
        p->live = NULL;
}

/* The manifest's headers with secret values from secrets.json; *user_auth
 * when one of them is Authorization.  NULL with err when a secret is
 * missing. */
char **remote_static_headers(const manifest *m, const corral_paths *paths, bool *user_auth,
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
char **remote_with_token(char *const *base, bool user_auth, const cJSON *state, const char *url)
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
        _cleanup_strv_ char **base = remote_static_headers(m, paths, &user_auth, err);
        _cleanup_json_ cJSON *state = NULL;

        if (!base)
                return NULL;
        state = oauth_state_load(paths, m->name, uid);
        return remote_with_token(base, user_auth, state, m->command[0]);
}

static void on_token_dead(uv_timer_t *t);

/* The server refused the refresh token (invalid_grant): the store forgets
 * the tokens and keeps why for `corral auth status`.  Returns that why
 * (owned): msg and what to run.  *expires_in gets the seconds the access
 * token had left (0 when unknown). */
char *remote_forget_dead_token(runtime_process *p, const char *msg, double *expires_in)
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
                _cleanup_strv_ char **h = remote_with_token(NULL, false, state, p->url);
                /* remote_with_token() gives "Authorization: Bearer …" or nothing. */
                if (h && h[0] && remote_session_set_header(p->s, "Authorization",
                                                           h[0] + strlen("Authorization: ")) < 0)
                        log_warn("%s: the refreshed token does not fit in a header", p->name);
                if (oauth_state_save(p->paths, p->name, p->uid, state, &err) < 0)
                        log_warn("%s: %s", p->name, err.msg);
                log_info("%s: access token refreshed", p->name);
                remote_schedule_refresh(p, state);
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
                p->dead_token = remote_forget_dead_token(p, msg, &left);
                (void)uv_timer_start(p->refresh_timer, on_token_dead,
                                     left > 0 ? (uint64_t)(left * 1000) : 0, 0);
                return;
        }
        log_warn("%s: %s; trying again", p->name, msg);
        {
                _cleanup_json_ cJSON *st = oauth_state_load(p->paths, p->name, p->uid);
                double exp = json_get_number(st, "expires_at", -1);
                if (exp > (double)time(NULL))
                        remote_schedule_refresh(p, NULL);
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
void remote_schedule_refresh(runtime_process *p, const cJSON *state)
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

