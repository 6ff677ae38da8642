/* Per-user upstream sessions, the gateway's side (issue 15; the sessions
 * themselves are src/supervisor/usession.c): in a system-mode store what a
 * client asks of a per-user global remote server — tools, prompts,
 * resources and resource templates (lists, tools/call, prompts/get,
 * resources/read, subscribe, unsubscribe, completion/complete) — goes to
 * the calling user's own session.  While that session opens, the request is
 * parked and dispatched again once it settled (ready: it goes through;
 * ended: the user gets its reason).  The session's list changes, resource
 * updates, task status and log messages reach only that user's clients; the
 * server's requests (sampling, elicitation, roots) only that user's calls
 * and sessions, and a user's roots change only their own sessions
 * (upstream.c). */
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "gateway/internal.h"

struct gw_upark {
        uint64_t serial; /* the session's (gateway_session_serial) */
        char *server;
        int64_t uid;
        cJSON *msg; /* the request, dispatched again */
        bool due;
        gw_upark *next;
};

int64_t gw_session_uid(const gateway_session *s)
{
        struct passwd pw, *res = NULL;
        char buf[4096];

        if (s->uid >= 0)
                return s->uid;
        /* An HTTP client is its token's user: the local user of that name. */
        if (s->user && getpwnam_r(s->user, &pw, buf, sizeof(buf), &res) == 0 && res)
                return res->pw_uid;
        return -1;
}

static void park(gateway_session *s, const unit *u, int64_t uid, const cJSON *id,
                 const char *method, const cJSON *params)
{
        gateway *gw = s->gw;
        gw_upark *p;

        if (gw->n_uparks >= GW_MAX_UPARKS) {
                gw_reply_error(s, id, CORRAL_RPC_UNAVAILABLE, NULL,
                               "server '%s': too many requests wait for users' sessions to "
                               "open (limit %d)",
                               unit_name(u), GW_MAX_UPARKS);
                return;
        }
        p = xcalloc(1, sizeof(*p));
        p->serial = s->serial;
        p->server = xstrdup(unit_name(u));
        p->uid = uid;
        p->msg = cJSON_CreateObject();
        cJSON_AddStringToObject(p->msg, "jsonrpc", "2.0");
        cJSON_AddItemToObject(p->msg, "id", json_dup(id));
        cJSON_AddStringToObject(p->msg, "method", method);
        if (params)
                cJSON_AddItemToObject(p->msg, "params", json_dup(params));
        p->next = gw->uparks;
        gw->uparks = p;
        gw->n_uparks++;
        s->n_uwait++;
}

/* The refusal of a per-user server's request, in one line. */
static void refuse(gateway_session *s, const cJSON *id, const unit *u, const char *why)
{
        cJSON *data = cJSON_CreateObject();

        cJSON_AddStringToObject(data, "server", unit_name(u));
        cJSON_AddStringToObject(data, "session", "per_user");
        gw_reply_error(s, id, CORRAL_RPC_UNAVAILABLE, data, "server '%s': %s", unit_name(u),
                       why);
}

static const char NO_LOCAL_USER[] =
        "serves each user through their own session, and this client's user has no local "
        "account";

bool gw_usession_route(gateway_session *s, unit *u, const cJSON *id, const char *method,
                       const cJSON *params, mcp_client **ret, const cJSON **ret_tools)
{
        int64_t uid;
        const char *why = NULL;

        *ret = NULL;
        *ret_tools = NULL;
        if (!s->gw->system_mode)
                return true;
        uid = gw_session_uid(s);
        if (uid < 0) {
                if (!unit_per_user_for(u, (uid_t)-1))
                        return true;
                refuse(s, id, u, NO_LOCAL_USER);
                return false;
        }
        switch (unit_user_client(u, (uid_t)uid, ret, &why)) {
        case UNIT_USER_SHARED:
                return true;
        case UNIT_USER_READY:
                *ret_tools = unit_user_tools(u, (uid_t)uid);
                return true;
        case UNIT_USER_OPENING:
                park(s, u, uid, id, method, params);
                return false;
        case UNIT_USER_REFUSED:
        default:
                refuse(s, id, u, why ? why : "refused");
                return false;
        }
}

/* The user's session's list that corresponds to the unit's getter. */
static const cJSON *user_items(const cJSON *(*get)(const unit *), const unit *u, uid_t uid)
{
        if (get == unit_tools)
                return unit_user_tools(u, uid);
        if (get == unit_prompts)
                return unit_user_prompts(u, uid);
        if (get == unit_resources)
                return unit_user_resources(u, uid);
        if (get == unit_resource_templates)
                return unit_user_resource_templates(u, uid);
        return NULL;
}

gw_ulist gw_usession_list(gateway_session *s, unit *u, const cJSON *(*get)(const unit *),
                          const cJSON **ret_items)
{
        int64_t uid;
        mcp_client *c = NULL;
        const char *why = NULL;

        *ret_items = NULL;
        if (!s->gw->system_mode)
                return GW_ULIST_UNIT;
        uid = gw_session_uid(s);
        if (!unit_per_user_for(u, uid < 0 ? (uid_t)-1 : (uid_t)uid))
                return GW_ULIST_UNIT;
        /* No local account: no session of their own (README). */
        if (uid < 0)
                return GW_ULIST_NONE;
        switch (unit_user_client(u, (uid_t)uid, &c, &why)) {
        case UNIT_USER_SHARED:
                return GW_ULIST_UNIT;
        case UNIT_USER_READY:
                *ret_items = user_items(get, u, (uid_t)uid);
                return GW_ULIST_USER;
        case UNIT_USER_OPENING:
                return GW_ULIST_WAIT;
        case UNIT_USER_REFUSED:
        default:
                return GW_ULIST_NONE;
        }
}

bool gw_usession_hides(gateway_session *s, const unit *u)
{
        int64_t uid;

        if (!s->gw->system_mode)
                return false;
        uid = gw_session_uid(s);
        return unit_per_user_for(u, uid < 0 ? (uid_t)-1 : (uid_t)uid);
}

/* How well a template of templates matches uri: its literal characters + 1
 * (a ref naming the template itself: the most), 0 for none. */
static size_t template_score(const cJSON *templates, const char *uri, bool ref)
{
        const cJSON *t;
        size_t best = 0, lit;

        cJSON_ArrayForEach(t, templates)
        {
                const char *tpl = json_get_string(t, "uriTemplate");
                if (!tpl)
                        continue;
                if (ref && strcmp(tpl, uri) == 0)
                        return SIZE_MAX;
                if (gw_uri_template_match(tpl, uri, &lit) && lit + 1 > best)
                        best = lit + 1;
        }
        return best;
}

gw_uowner gw_usession_resource_owner(gateway_session *s, const char *uri, bool ref,
                                     const cJSON *id, const char *method, const cJSON *params,
                                     unit **ret)
{
        gateway *gw = s->gw;
        unit *const *units;
        size_t n, best = 0;
        unit *wait = NULL, *by_template = NULL;
        int64_t uid;

        *ret = NULL;
        if (!gw->system_mode || !gw->sv || !uri || (uid = gw_session_uid(s)) < 0)
                return GW_UOWNER_NONE;
        n = supervisor_units(gw->sv, &units);
        for (size_t i = 0; i < n; i++) {
                unit *u = units[i];
                const cJSON *res, *tpl;
                mcp_client *c = NULL;
                const char *why = NULL;
                size_t score;

                if (!gw_session_sees(s, u) || !unit_per_user_for(u, (uid_t)uid))
                        continue;
                switch (unit_user_client(u, (uid_t)uid, &c, &why)) {
                case UNIT_USER_READY:
                        res = unit_user_resources(u, (uid_t)uid);
                        tpl = unit_user_resource_templates(u, (uid_t)uid);
                        break;
                case UNIT_USER_SHARED:
                        if (unit_get_state(u) != UNIT_READY)
                                continue;
                        res = unit_resources(u);
                        tpl = unit_resource_templates(u);
                        break;
                case UNIT_USER_OPENING:
                        if (!wait)
                                wait = u;
                        continue;
                default:
                        continue;
                }
                if (json_array_find(res, "uri", uri)) {
                        *ret = u;
                        return GW_UOWNER_FOUND;
                }
                if ((score = template_score(tpl, uri, ref)) > best) {
                        best = score;
                        by_template = u;
                }
        }
        if (by_template) {
                *ret = by_template;
                return GW_UOWNER_FOUND;
        }
        if (wait) {
                park(s, wait, uid, id, method, params);
                return GW_UOWNER_PARKED;
        }
        return GW_UOWNER_NONE;
}

void gw_usession_park_list(gateway_session *s, unit *u, const cJSON *id, const char *method,
                           const cJSON *params)
{
        park(s, u, gw_session_uid(s), id, method, params);
}

static void mark_due(gateway *gw, const char *server, int64_t uid)
{
        bool any = false;

        for (gw_upark *p = gw->uparks; p; p = p->next)
                if (strcmp(p->server, server) == 0 && (uid < 0 || p->uid == uid)) {
                        p->due = true;
                        any = true;
                }
        if (any)
                gw_schedule_work(gw);
}

void gw_usession_replay(gateway *gw)
{
        gw_upark *due = NULL;

        /* Taken out first: a request dispatched again may park again. */
        for (gw_upark **pp = &gw->uparks; *pp;) {
                gw_upark *p = *pp;
                if (!p->due) {
                        pp = &p->next;
                        continue;
                }
                *pp = p->next;
                gw->n_uparks--;
                p->next = due;
                due = p;
        }
        while (due) {
                gw_upark *p = due;
                gateway_session *s;

                due = p->next;
                for (s = gw->sessions; s && s->serial != p->serial; s = s->next)
                        ;
                if (s) {
                        s->n_uwait--;
                        gw_dispatch(s, p->msg);
                        gw_session_check_drained(s);
                }
                free(p->server);
                cJSON_Delete(p->msg);
                free(p);
        }
}

void gw_usession_forget(gateway *gw, const char *server)
{
        mark_due(gw, server, -1);
}

void gw_usession_free_all(gateway *gw)
{
        while (gw->uparks) {
                gw_upark *p = gw->uparks;
                gw->uparks = p->next;
                free(p->server);
                cJSON_Delete(p->msg);
                free(p);
        }
        gw->n_uparks = 0;
}

/* Sessions of user uid that see u and take notifications. */
static bool user_client(const gateway_session *s, const unit *u, uid_t uid)
{
        return !s->control && s->initialized && !s->drained && gw_session_sees(s, u) &&
               gw_session_uid(s) == (int64_t)uid;
}

static void ignore_answer(void *ud, const cJSON *result, const cJSON *error)
{
        (void)ud;
        (void)result;
        if (error)
                log_debug("gateway: resources/subscribe on a user's session: %s",
                          json_get_string(error, "message"));
}

/* A user's session that opened (again, after an idle close) has no
 * subscriptions: the URIs of it the user's clients want are asked for again,
 * once each. */
static void resubscribe(gateway *gw, unit *u, uid_t uid, mcp_client *c)
{
        const cJSON *res = unit_user_resources(u, uid);
        const cJSON *caps = json_get_object(mcp_client_server_capabilities(c), "resources");
        _cleanup_json_ cJSON *done = NULL;

        if (mcp_client_modern(c) || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(caps, "subscribe")))
                return;
        done = cJSON_CreateObject();
        for (gateway_session *s = gw->sessions; s; s = s->next) {
                if (gw_session_uid(s) != (int64_t)uid || !gw_session_sees(s, u))
                        continue;
                for (size_t i = 0; i < s->n_subs; i++) {
                        const char *uri = s->subs[i];
                        cJSON *p;

                        if (!json_array_find(res, "uri", uri) || cJSON_HasObjectItem(done, uri))
                                continue;
                        cJSON_AddTrueToObject(done, uri);
                        p = cJSON_CreateObject();
                        cJSON_AddStringToObject(p, "uri", uri);
                        (void)mcp_client_request(c, "resources/subscribe", p, gw->timeout_ms, NULL,
                                                 ignore_answer, NULL);
                }
        }
}

void gw_ev_user_session(void *ud, unit *u, uid_t uid, mcp_client *c, int what, unsigned lists)
{
        static const struct {
                unsigned bit;
                const char *method;
        } kinds[] = {
                {UNIT_LIST_TOOLS, "notifications/tools/list_changed"},
                {UNIT_LIST_PROMPTS, "notifications/prompts/list_changed"},
                {UNIT_LIST_RESOURCES, "notifications/resources/list_changed"},
        };
        gateway *gw = ud;

        switch (what) {
        case UNIT_USER_OPENED:
                gw_upstream_hook_client(gw, c);
                break;
        case UNIT_USER_SETTLED:
                if (c) /* ready; an ended one has no session */
                        resubscribe(gw, u, uid, c);
                mark_due(gw, unit_name(u), uid);
                break;
        case UNIT_USER_LISTS:
                for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
                        _cleanup_json_ cJSON *n = NULL;

                        if (!(lists & kinds[i].bit))
                                continue;
                        n = jsonrpc_notification(kinds[i].method, NULL);
                        for (gateway_session *s = gw->sessions; s; s = s->next)
                                if (user_client(s, u, uid))
                                        gw_send_msg(s, n, NULL, false);
                }
                break;
        default:
                break;
        }
}

static bool wants_uri(const gateway_session *s, const char *uri)
{
        for (size_t i = 0; i < s->n_subs; i++)
                if (strcmp(s->subs[i], uri) == 0)
                        return true;
        return false;
}

void gw_ev_user_notification(void *ud, unit *u, uid_t uid, const char *method,
                                 const cJSON *params)
{
        gateway *gw = ud;
        _cleanup_json_ cJSON *p = NULL, *n = NULL;
        const char *logger;
        int level;

        if (strcmp(method, "notifications/resources/updated") == 0) {
                /* To the user's sessions subscribed to it. */
                const char *uri = json_get_string(params, "uri");

                if (!uri)
                        return;
                n = jsonrpc_notification(method, json_dup(params));
                for (gateway_session *s = gw->sessions; s; s = s->next)
                        if (user_client(s, u, uid) && wants_uri(s, uri))
                                gw_send_msg(s, n, NULL, false);
                return;
        }
        if (strncmp(method, "notifications/tasks/", 20) == 0) {
                /* Single-server sessions know the server's own task ids, the
                 * aggregate's are SERVER__ID (tasks.c). */
                _cleanup_json_ cJSON *q = json_dup(params), *nq = NULL;

                gw_tasks_qualify(q, unit_name(u));
                nq = jsonrpc_notification(method, steal_pointer(&q));
                n = jsonrpc_notification(method, json_dup(params));
                for (gateway_session *s = gw->sessions; s; s = s->next)
                        if (user_client(s, u, uid))
                                gw_send_msg(s, s->scope ? n : nq, NULL, false);
                return;
        }
        /* Log messages (with the server's name in the logger, as the unit's
         * own). */
        if (strcmp(method, "notifications/message") != 0)
                return;
        logger = json_get_string(params, "logger");
        level = gw_level_index(json_get_string(params, "level"));
        p = json_dup(params);
        {
                _cleanup_free_ char *l = logger ? xasprintf("%s/%s", unit_name(u), logger)
                                                : xstrdup(unit_name(u));
                json_set(p, "logger", cJSON_CreateString(l));
        }
        n = jsonrpc_notification(method, steal_pointer(&p));
        for (gateway_session *s = gw->sessions; s; s = s->next)
                if (user_client(s, u, uid) &&
                    !(level >= 0 && s->log_level >= 0 && level < s->log_level))
                        gw_send_msg(s, n, NULL, false);
}
