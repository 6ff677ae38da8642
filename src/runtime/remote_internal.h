/* Internals of the remote runtime backend shared by its files:
 * remote.c (the unit's session lifecycle: start, write, stop, how it ended)
 * and remote_auth.c (headers and the OAuth token: the bearer, refreshes
 * before and during a session, a 401 or 403 insufficient_scope). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <cJSON.h>
#include <uv.h>

#include "corral/oauth_client.h"
#include "corral/remote.h"
#include "corral/runtime.h"
#include "corral/strbuf.h"

#define SECRETS_MAX (1u << 20)
#define LIVE_RETRY_MS 5000u /* a failed refresh inside a session, again */

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
        uid_t uid;         /* whose tokens (remote_token_uid(), or the calling user's
                              for a per-user session) */
        bool lost;
        bool needs_auth;
        bool fatal;
        bool ended;
        bool established; /* the server has answered on this session */
        int end_status, end_signal;
        strbuf line;      /* a partial message written by the session */
        char **waiting;   /* messages written while the token is refreshed */
};

/* remote_auth.c */

/* The manifest's headers with secret values from secrets.json; *user_auth
 * when one of them is Authorization.  NULL with err when a secret is
 * missing.  Owned. */
char **remote_static_headers(const manifest *m, const corral_paths *paths, bool *user_auth,
                             corral_error *err);
/* base plus the bearer of state, unless user_auth or the token was obtained
 * for another resource than url.  Owned. */
char **remote_with_token(char *const *base, bool user_auth, const cJSON *state, const char *url);
/* A 401 or 403 ended the session: sets p's lost/needs_auth/fatal and reason. */
void remote_auth_ended(runtime_process *p, const char *reason);
/* The server refused the refresh token: the store forgets the tokens.
 * Returns why (owned); *expires_in the seconds the access token had left. */
char *remote_forget_dead_token(runtime_process *p, const char *msg, double *expires_in);
/* Arms the refresh of state's token before it expires (NULL: again after
 * LIVE_RETRY_MS), and stops it. */
void remote_schedule_refresh(runtime_process *p, const cJSON *state);
void remote_stop_live_refresh(runtime_process *p);
