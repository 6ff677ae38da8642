/* Per-user upstream sessions to a global remote server (issue 15): in a
 * system-mode store a global remote unit whose runtime.sessions is
 * "per_user" (the default) or "per_user_or_shared" serves each calling user
 * through a session of their own, carrying that user's OAuth token
 * (oauth_state_load(paths, NAME, uid)), so the server sees who calls.  The
 * unit's own session (the daemon's token) serves the daemon's user.
 *
 * A user's session is opened on their first call or list, through the
 * remote backend with their uid (runtime_remote_start_as), and follows the
 * unit's session in everything else: server/discover else initialize, the
 * tools, prompts, resources and resource templates lists kept fresh on
 * list_changed, the token refreshed inside the session.  It is closed when
 * unused (no request of the user's, none in flight) for runtime.session_idle_s
 * (USER_IDLE_MS when not set), when the user's token
 * is gone (`corral auth logout`; looked for every USER_SWEEP_MS), and when
 * the unit stops or goes away.  A session that ended (a 401 with nothing to
 * refresh: the user's own "needs authorization"; an unreachable server) is
 * remembered, and its reason answers that user's requests until their token
 * changes (or, when it was no authorization matter, USER_RETRY_MS later).
 * At most runtime.sessions_max (USER_SESSIONS_MAX when not set) per unit:
 * one more user is refused, naming the limit. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "corral/expand.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/oauth_client.h"
#include "corral/users.h"
#include "internal.h"

typedef enum { US_OPENING, US_READY, US_CLOSING, US_ENDED } us_state;

struct usession {
        unit *u;
        uid_t uid;
        us_state state;
        runtime_process *proc;
        mcp_client *client;
        cJSON *lists[N_SLOTS]; /* tools, prompts, …; NULL until fetched */
        bool fetching[N_SLOTS], refetch[N_SLOTS];
        bool listening;  /* its subscriptions/listen stream is open (2026-07-28) */
        char *why;       /* US_ENDED: why, for the user's next requests */
        bool auth;       /* ended by the server refusing the user's token */
        uint64_t mark;   /* the user's token state when opened (token_mark()) */
        uint64_t last_used, since;
        usession *next;
};

/* FNV-1a of the user's stored tokens: a session that ended for want of
 * authorization is tried again once they change (`corral auth`). */
static uint64_t token_mark(const unit *u, uid_t uid, bool *ret_any)
{
        _cleanup_json_ cJSON *st = oauth_state_load(&u->sv->s->paths, u->name, uid);
        const char *parts[] = {json_get_string(st, "access_token"),
                               json_get_string(st, "refresh_token")};
        uint64_t h = 1469598103934665603ull;

        *ret_any = parts[0] || parts[1];
        for (size_t i = 0; i < 2; i++)
                for (const char *p = parts[i] ? parts[i] : ""; ; p++) {
                        h = (h ^ (unsigned char)*p) * 1099511628211ull;
                        if (!*p)
                                break;
                }
        return h;
}

static bool has_static_auth(const manifest *m)
{
        for (size_t i = 0; i < m->n_headers; i++)
                if (strcasecmp(m->headers[i].key, "Authorization") == 0)
                        return true;
        return false;
}

bool unit_per_user(const unit *u)
{
        const manifest *m = u->m;

        return m && !u->load_error && m->backend && strcmp(m->backend, "remote") == 0 &&
               !m->owner && !(m->sessions && strcmp(m->sessions, "shared") == 0) &&
               !has_static_auth(m);
}

static void fire(usession *us, unit_user_event what, unsigned lists)
{
        supervisor *sv = us->u->sv;

        if (sv->ev.user_session)
                sv->ev.user_session(sv->ud, us->u, us->uid, us->client, what, lists);
}

static void clear_lists(usession *us)
{
        for (unsigned i = 0; i < N_SLOTS; i++) {
                cJSON_Delete(us->lists[i]);
                us->lists[i] = NULL;
                us->fetching[i] = us->refetch[i] = false;
        }
}

/* runtime.session_idle_s and runtime.sessions_max, else the defaults. */
static uint64_t idle_ms(const unit *u)
{
        return u->m && u->m->session_idle_s ? 1000ull * u->m->session_idle_s
                                             : sv_scaled(u->sv, USER_IDLE_MS);
}

static unsigned sessions_max(const unit *u)
{
        return u->m && u->m->sessions_max ? u->m->sessions_max : USER_SESSIONS_MAX;
}

/* The sweep runs often enough for a short idle time (half of it, 1 s at
 * least), else every USER_SWEEP_MS. */
static uint64_t sweep_ms(const unit *u)
{
        uint64_t every = sv_scaled(u->sv, USER_SWEEP_MS), half = idle_ms(u) / 2;

        if (half < every)
                every = half < 1000 ? 1000 : half;
        return every;
}

static usession *find(const unit *u, uid_t uid)
{
        for (usession *us = u->usessions; us; us = us->next)
                if (us->uid == uid && us->state != US_CLOSING)
                        return us;
        return NULL;
}

static void us_free(usession *us)
{
        unit *u = us->u;
        mcp_client *c = us->client;

        for (usession **pp = &u->usessions; *pp; pp = &(*pp)->next)
                if (*pp == us) {
                        *pp = us->next;
                        break;
                }
        if (us->proc)
                us->proc = runtime_remote.free(us->proc);
        us->client = NULL;
        (void)mcp_client_free(c);
        clear_lists(us);
        free(us->why);
        free(us);
}

/* ---- the session's process (runtime_remote) ---- */

static void on_us_stdout(void *ud, const char *data, size_t n)
{
        usession *us = ud;

        if (us->client)
                mcp_client_feed(us->client, data, n);
}

static void on_us_exit(void *ud, int exit_status, int term_signal)
{
        usession *us = ud;
        unit *u = us->u;
        const char *known = runtime_remote.exit_reason(us->proc);
        bool auth = runtime_remote.needs_auth(us->proc) || runtime_remote.fatal(us->proc);
        us_state was = us->state;
        mcp_client *c = us->client;
        _cleanup_free_ char *name = users_name_of_uid(us->uid);

        free(us->why);
        us->why = known ? xstrdup(known)
                  : term_signal ? xstrdup("the session was closed")
                                : xasprintf("the session ended (status %d)", exit_status);
        us->proc = runtime_remote.free(us->proc);
        us->client = NULL;
        (void)mcp_client_free(c);
        clear_lists(us);
        if (was == US_CLOSING) {
                logfile_note(u->log, "session of user %s closed (%s)", name ? name : "?", us->why);
                us_free(us);
                return;
        }
        us->auth = auth;
        us->state = US_ENDED;
        us->since = uv_now(u->sv->loop);
        logfile_note(u->log, "session of user %s ended: %s", name ? name : "?", us->why);
        log_info("%s: session of user %s ended: %s", u->name, name ? name : "?", us->why);
        /* Requests that waited for it get the reason; a list loses its tools. */
        fire(us, UNIT_USER_SETTLED, 0);
        if (was == US_READY)
                fire(us, UNIT_USER_LISTS, UNIT_LIST_ALL);
}

static const runtime_callbacks us_callbacks = {
        .on_stdout = on_us_stdout,
        .on_exit = on_us_exit,
};

/* Ends a live session because of what happened on it (why: owned). */
static void us_kill(usession *us, char *why)
{
        if (!us->proc) {
                free(why);
                return;
        }
        log_info("%s: %s; ending the session", us->u->name, why);
        free(why);
        (void)runtime_remote.kill(us->proc, SIGKILL);
}

/* ---- the MCP session ---- */

typedef struct us_fetch {
        usession *us;
        unsigned slot;
} us_fetch;

static void fetch_list(usession *us, unsigned i);

static bool fetches_pending(const usession *us)
{
        for (unsigned i = 0; i < N_SLOTS; i++)
                if (us->fetching[i])
                        return true;
        return false;
}

static void on_us_list(void *ud, const cJSON *result, const cJSON *error)
{
        us_fetch *f = ud;
        usession *us = f->us;
        unsigned i = f->slot;
        const cJSON *items = result ? json_get_array(result, unit_slots[i].key) : NULL;

        free(f);
        /* The owner outlives its requests: us_free() frees the client first,
         * which completes them with "session closed" while us->client is NULL. */
        if (!us->client)
                return;
        us->fetching[i] = false;
        if (us->refetch[i]) {
                fetch_list(us, i);
                return;
        }
        if (error) {
                const char *msg = json_get_string(error, "message");
                log_warn("%s: %s of a user's session failed: %s", us->u->name,
                         unit_slots[i].method, msg ? msg : "error");
        }
        cJSON_Delete(us->lists[i]);
        us->lists[i] = items ? json_dup(items) : cJSON_CreateArray();
        if (us->state == US_OPENING) {
                if (fetches_pending(us))
                        return;
                us->state = US_READY;
                fire(us, UNIT_USER_SETTLED, 0);
                fire(us, UNIT_USER_LISTS, UNIT_LIST_ALL);
                return;
        }
        if (us->state == US_READY)
                fire(us, UNIT_USER_LISTS, unit_slots[i].bit);
}

static void fetch_list(usession *us, unsigned i)
{
        us_fetch *f;

        if (us->fetching[i]) {
                us->refetch[i] = true;
                return;
        }
        us->fetching[i] = true;
        us->refetch[i] = false;
        f = xmalloc(sizeof(*f));
        f->us = us;
        f->slot = i;
        (void)mcp_client_list_all(us->client, unit_slots[i].method, unit_slots[i].key,
                                  sv_scaled(us->u->sv, LIST_TIMEOUT_MS), on_us_list, f);
}

static void on_us_listen_end(void *ud, const cJSON *result, const cJSON *error)
{
        usession *us = ud;
        const char *msg = error ? json_get_string(error, "message") : NULL;

        if (!us->client)
                return; /* the session is gone (us_free frees the client first) */
        us->listening = false;
        if (us->state == US_READY)
                log_info("%s: a user's subscriptions/listen ended: %s; list changes are not "
                         "followed",
                         us->u->name, msg ? msg : "the server closed it");
}

/* MCP 2026-07-28: a server tells of list changes only on a
 * subscriptions/listen stream; one is opened for the lists the server says
 * change, as on the unit's own session (session.c). */
static void us_listen(usession *us, const cJSON *caps)
{
        static const char *const keys[][2] = {{"tools", "toolsListChanged"},
                                              {"prompts", "promptsListChanged"},
                                              {"resources", "resourcesListChanged"}};
        cJSON *params = cJSON_CreateObject();
        cJSON *n = cJSON_AddObjectToObject(params, "notifications");

        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json_get_object(caps, keys[i][0]),
                                                                  "listChanged")))
                        cJSON_AddTrueToObject(n, keys[i][1]);
        if (!n->child) {
                cJSON_Delete(params);
                return;
        }
        us->listening = true;
        (void)mcp_client_request(us->client, "subscriptions/listen", params, 0, NULL,
                                 on_us_listen_end, us);
}

static void on_us_initialized(void *ud, const cJSON *result, const cJSON *error)
{
        usession *us = ud;
        const cJSON *caps;

        if (!us->client || us->state != US_OPENING)
                return;
        if (error) {
                const char *msg = json_get_string(error, "message");
                us_kill(us, xasprintf("initialize of a user's session failed: %s",
                                      msg ? msg : "error"));
                return;
        }
        caps = mcp_client_server_capabilities(us->client);
        if (mcp_client_modern(us->client))
                us_listen(us, caps);
        for (unsigned i = 0; i < N_SLOTS && us->client; i++)
                if (json_get_object(caps, unit_slots[i].capability))
                        fetch_list(us, i);
        if (!us->client || us->state != US_OPENING || fetches_pending(us))
                return;
        us->state = US_READY;
        fire(us, UNIT_USER_SETTLED, 0);
}

static int us_send(void *ud, const char *data, size_t len)
{
        usession *us = ud;

        return us->proc ? runtime_remote.write(us->proc, data, len) : -1;
}

static void us_notification(void *ud, const char *method, const cJSON *params)
{
        usession *us = ud;
        supervisor *sv = us->u->sv;
        int first, last;

        if (!us->client)
                return;
        if (list_changed_slots(method, &first, &last) == 0) {
                /* Before the first fetch there is nothing to refresh. */
                for (int i = first; i <= last; i++)
                        if (us->lists[i] || us->fetching[i])
                                fetch_list(us, (unsigned)i);
                return;
        }
        /* Only this user's clients hear their session (the gateway). */
        if (us->state == US_READY && sv->ev.user_notification)
                sv->ev.user_notification(sv->ud, us->u, us->uid, method, params);
}

static void us_fault(void *ud, mcp_fault kind, const char *why)
{
        usession *us = ud;

        if (us->client && (kind == MCP_FAULT_OVERSIZE || us->state == US_OPENING))
                us_kill(us, xasprintf("protocol error: %s", why));
}

static const mcp_client_ops us_client_ops = {
        .send = us_send,
        .on_notification = us_notification,
        .on_fault = us_fault,
};

/* ---- opening, sweeping, closing ---- */

static void close_session(usession *us, const char *why)
{
        if (us->state == US_ENDED) {
                us_free(us);
                return;
        }
        if (us->state == US_CLOSING)
                return;
        free(us->why);
        us->why = xstrdup(why);
        if (us->state == US_READY)
                fire(us, UNIT_USER_LISTS, UNIT_LIST_ALL);
        us->state = US_CLOSING;
        us->since = uv_now(us->u->sv->loop);
        runtime_remote.close_stdin(us->proc); /* DELETE of the session */
}

static void on_sweep(uv_timer_t *t)
{
        unit *u = t->data;
        supervisor *sv = u->sv;
        uint64_t now = uv_now(sv->loop);

        for (usession *us = u->usessions, *next; us; us = next) {
                bool any;
                next = us->next;
                switch (us->state) {
                case US_OPENING:
                case US_READY:
                        /* A request in flight (a long call) is use; the
                         * listen stream is not. */
                        if (us->client &&
                            mcp_client_pending(us->client) > (us->listening ? 1u : 0u))
                                us->last_used = now;
                        if (now - us->last_used >= idle_ms(u)) {
                                close_session(us, "idle");
                        } else {
                                (void)token_mark(u, us->uid, &any);
                                if (!any)
                                        close_session(us, "the user's token is gone "
                                                          "(corral auth logout)");
                        }
                        break;
                case US_CLOSING:
                        /* A server that does not answer the DELETE. */
                        if (now - us->since >= sv_scaled(sv, USER_SWEEP_MS) && us->proc)
                                (void)runtime_remote.kill(us->proc, SIGKILL);
                        break;
                case US_ENDED:
                        if (now - us->since >= idle_ms(u))
                                us_free(us);
                        break;
                }
        }
        if (!u->usessions)
                (void)uv_timer_stop(u->usweep);
}

static usession *open_session(unit *u, uid_t uid, uint64_t mark)
{
        supervisor *sv = u->sv;
        usession *us = xcalloc(1, sizeof(*us));
        corral_error err = {0};
        manifest *eff = NULL;
        int r;

        us->u = u;
        us->uid = uid;
        us->mark = mark;
        us->state = US_OPENING;
        us->last_used = us->since = uv_now(sv->loop);
        us->next = u->usessions;
        u->usessions = us;
        if (!u->usweep)
                u->usweep = sv_timer_new(sv->loop, u);
        if (!uv_is_active((uv_handle_t *)u->usweep))
                (void)uv_timer_start(u->usweep, on_sweep, sweep_ms(u), sweep_ms(u));
        us->client = mcp_client_new(sv->loop, &us_client_ops, us, 0);
        fire(us, UNIT_USER_OPENED, 0); /* the gateway hooks the server's requests */
        if (expand_manifest(u->m, &sv->s->paths, &eff, &err) == 0)
                r = runtime_remote_start_as(sv->loop, eff ? eff : u->m, &sv->s->paths, uid,
                                            &us_callbacks, us, &us->proc, &err);
        else
                r = -1;
        eff = manifest_free(eff);
        if (r < 0) {
                mcp_client *c = us->client;
                us->client = NULL;
                (void)mcp_client_free(c);
                us->why = xstrdup(err.msg);
                us->state = US_ENDED;
                return us;
        }
        if (u->m->transport && strcmp(u->m->transport, "sse") == 0)
                (void)mcp_client_initialize(us->client, sv_scaled(sv, INIT_TIMEOUT_MS),
                                            on_us_initialized, us);
        else
                (void)mcp_client_connect(us->client, sv_scaled(sv, INIT_TIMEOUT_MS),
                                         on_us_initialized, us);
        return us;
}

static unsigned count(const unit *u, bool ended_too)
{
        unsigned n = 0;

        for (const usession *us = u->usessions; us; us = us->next)
                n += ended_too || us->state == US_OPENING || us->state == US_READY;
        return n;
}

unit_user_route unit_user_client(unit *u, uid_t uid, mcp_client **ret_client,
                                 const char **ret_why)
{
        uint64_t now = uv_now(u->sv->loop), mark;
        usession *us;
        bool any;

        *ret_client = NULL;
        *ret_why = NULL;
        if (!unit_per_user(u) || uid == remote_token_uid(u->m) || u->state == UNIT_STOPPED ||
            u->state == UNIT_STOPPING || u->state == UNIT_FAILED)
                return UNIT_USER_SHARED;
        us = find(u, uid);
        if (us && us->state == US_READY) {
                us->last_used = now;
                *ret_client = us->client;
                return UNIT_USER_READY;
        }
        if (us && us->state == US_OPENING)
                return UNIT_USER_OPENING;
        mark = token_mark(u, uid, &any);
        if (us) { /* ended */
                if (mark == us->mark && (us->auth || now - us->since < sv_scaled(u->sv, USER_RETRY_MS))) {
                        *ret_why = us->why;
                        return UNIT_USER_REFUSED;
                }
                us_free(us);
        }
        if (!any) {
                if (u->m->sessions && strcmp(u->m->sessions, "per_user_or_shared") == 0)
                        return UNIT_USER_SHARED;
                sv_set_str(&u->user_why,
                           xasprintf("server '%s' serves each user with their own "
                                     "authorization, and you have none: run `corral auth "
                                     "start %s`",
                                     u->name, u->name));
                *ret_why = u->user_why;
                return UNIT_USER_REFUSED;
        }
        if (count(u, true) >= sessions_max(u)) {
                /* Ended ones go first. */
                for (usession *e = u->usessions, *next; e; e = next) {
                        next = e->next;
                        if (e->state == US_ENDED) {
                                us_free(e);
                                break;
                        }
                }
                if (count(u, true) >= sessions_max(u)) {
                        sv_set_str(&u->user_why,
                                   xasprintf("server '%s' has reached its limit of %u users' "
                                             "sessions (runtime.sessions_max); try again later",
                                             u->name, sessions_max(u)));
                        *ret_why = u->user_why;
                        return UNIT_USER_REFUSED;
                }
        }
        us = open_session(u, uid, mark);
        if (us->state == US_ENDED) {
                *ret_why = us->why;
                return UNIT_USER_REFUSED;
        }
        return UNIT_USER_OPENING;
}

bool unit_per_user_for(const unit *u, uid_t uid)
{
        return unit_per_user(u) && uid != remote_token_uid(u->m);
}

static const cJSON *user_list(const unit *u, uid_t uid, unsigned slot)
{
        const usession *us = find(u, uid);

        return us && us->state == US_READY ? us->lists[slot] : NULL;
}

const cJSON *unit_user_tools(const unit *u, uid_t uid)
{
        return user_list(u, uid, SLOT_TOOLS);
}

const cJSON *unit_user_prompts(const unit *u, uid_t uid)
{
        return user_list(u, uid, SLOT_PROMPTS);
}

const cJSON *unit_user_resources(const unit *u, uid_t uid)
{
        return user_list(u, uid, SLOT_RESOURCES);
}

const cJSON *unit_user_resource_templates(const unit *u, uid_t uid)
{
        return user_list(u, uid, SLOT_TEMPLATES);
}

mcp_client *unit_user_ready_client(const unit *u, uid_t uid)
{
        const usession *us = find(u, uid);

        return us && us->state == US_READY ? us->client : NULL;
}

bool unit_user_client_of(const unit *u, const mcp_client *c, uid_t *ret_uid)
{
        for (const usession *us = u->usessions; us; us = us->next)
                if (c && us->client == c) {
                        *ret_uid = us->uid;
                        return true;
                }
        return false;
}

unsigned unit_user_sessions(const unit *u)
{
        return count(u, false);
}

void unit_close_user_sessions(unit *u, const char *why)
{
        for (usession *us = u->usessions, *next; us; us = next) {
                next = us->next;
                close_session(us, why);
        }
}

void unit_user_sessions_reload(unit *u)
{
        if (u->usweep && uv_is_active((uv_handle_t *)u->usweep) &&
            uv_timer_get_repeat(u->usweep) != sweep_ms(u))
                (void)uv_timer_start(u->usweep, on_sweep, sweep_ms(u), sweep_ms(u));
}

void unit_free_user_sessions(unit *u)
{
        while (u->usessions) {
                usession *us = u->usessions;
                us->state = US_CLOSING; /* on_exit (if the free calls it) frees nothing twice */
                us_free(us);
        }
        u->usweep = sv_timer_free(u->usweep);
        free(u->user_why);
        u->user_why = NULL;
}
