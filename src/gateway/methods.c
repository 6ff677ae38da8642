/* The gateway's MCP methods (DESIGN.md, "Gateway"; MCP 2025-11-25
 * basic/lifecycle, server/{tools,prompts,resources},
 * server/utilities/{completion,logging,pagination}): initialize, the
 * aggregated lists, and forwarding a request to the unit that owns it with
 * progress and cancellation carried both ways. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "corral/manifest.h"
#include "corral/policy.h"
#include "corral/strbuf.h"
#include "corral/users.h"
#include "gateway/internal.h"

/* ---- lookups ---- */

static corral_level unit_level(const unit *u)
{
        const manifest *m = unit_manifest(u);
        return m ? m->access_level : CORRAL_LEVEL_DEFAULT;
}

static corral_level tool_level(const unit *u, const char *tool)
{
        const manifest *m = unit_manifest(u);
        return m ? manifest_tool_level(m, tool) : CORRAL_LEVEL_DEFAULT;
}

/* Whether the session sees unit u at all: its level reaches the server's,
 * and a single-server session sees only its own. */
bool gw_session_sees(const gateway_session *s, const unit *u)
{
        const manifest *m = unit_manifest(u);

        if (s->scope && strcmp(s->scope, unit_name(u)) != 0)
                return false;
        /* Per-user servers (issue 15): the owner's and admins' only. */
        if (!gateway_session_may_see(s, m ? m->owner : NULL))
                return false;
        return s->level >= unit_level(u);
}

bool gateway_server_reachable(gateway *gw, const char *name, corral_level level, const char *user)
{
        unit *u = gw->sv ? supervisor_find(gw->sv, name) : NULL;
        const manifest *m = u ? unit_manifest(u) : NULL;

        if (!u || level < unit_level(u))
                return false;
        return !gw->system_mode || !m || users_owner_matches(m->owner, user) ||
               users_identity_is_admin(gw->site, -1, user);
}

/* The unit a name is routed to for s: its scope, or SERVER of SERVER__NAME
 * (with *ret_local the NAME part, owned).  NULL (and nothing answered) when
 * the name is not routable or the session may not see that server. */
static unit *route_name(gateway_session *s, const char *name, char **ret_server, char **ret_local)
{
        unit *u;

        *ret_server = *ret_local = NULL;
        if (s->scope) {
                *ret_server = xstrdup(s->scope);
                *ret_local = xstrdup(name);
        } else if (!gateway_split(name, ret_server, ret_local)) {
                return NULL;
        }
        u = s->gw->sv ? supervisor_find(s->gw->sv, *ret_server) : NULL;
        return u && gw_session_sees(s, u) ? u : NULL;
}

gw_owners *gw_owners_get(gateway *gw)
{
        unit *const *units;
        size_t n, k = 0;

        if (gw->owners && !gw->owners_dirty)
                return gw->owners;
        gw->owners = gw_owners_free(gw->owners);
        n = gw->sv ? supervisor_units(gw->sv, &units) : 0;
        _cleanup_free_ gw_source *res = xcalloc(n ? n : 1, sizeof(*res));
        _cleanup_free_ gw_source *tpl = xcalloc(n ? n : 1, sizeof(*tpl));
        for (size_t i = 0; i < n; i++) {
                if (unit_get_state(units[i]) != UNIT_READY)
                        continue;
                res[k] = (gw_source){unit_name(units[i]), unit_resources(units[i])};
                tpl[k] = (gw_source){unit_name(units[i]), unit_resource_templates(units[i])};
                k++;
        }
        gw->owners = gw_owners_build(res, k, tpl, k);
        gw->owners_dirty = false;
        return gw->owners;
}

/* The unit's client when it is ready; otherwise answers id with an error
 * naming the unit and its state and returns NULL. */
static mcp_client *ready_client(gateway_session *s, const cJSON *id, unit *u)
{
        unit_state st = unit_get_state(u);
        mcp_client *c = st == UNIT_READY ? unit_client(u) : NULL;
        const char *why;
        cJSON *data;

        if (c)
                return c;
        why = unit_last_error(u);
        data = cJSON_CreateObject();
        cJSON_AddStringToObject(data, "server", unit_name(u));
        cJSON_AddStringToObject(data, "state", unit_state_name(st));
        if (why)
                gw_reply_error(s, id, CORRAL_RPC_UNAVAILABLE, data, "server '%s' is %s: %s",
                               unit_name(u), unit_state_name(st), why);
        else
                gw_reply_error(s, id, CORRAL_RPC_UNAVAILABLE, data, "server '%s' is %s",
                               unit_name(u), unit_state_name(st));
        return NULL;
}

/* ---- method handlers ---- */


/* Whether s may not reach tool of u: its level, or the allow/deny lists
 * (issue 15, include/corral/policy.h). */
static bool tool_hidden(const gateway_session *s, const unit *u, const char *tool)
{
        return tool_level(u, tool) > s->level ||
               !tool_policy_allows(s->gw->tools, s->user, s->admin, unit_name(u), tool);
}

const cJSON *gw_tool_input_schema(gateway_session *s, const char *name)
{
        _cleanup_free_ char *server = NULL, *local = NULL;
        unit *u = name ? route_name(s, name, &server, &local) : NULL;
        const cJSON *item;

        if (!u || unit_get_state(u) != UNIT_READY || tool_hidden(s, u, local))
                return NULL;
        cJSON_ArrayForEach(item, unit_tools(u))
        {
                const char *n = json_get_string(item, "name");

                if (n && strcmp(n, local) == 0)
                        return json_get_object(item, "inputSchema");
        }
        return NULL;
}

/* items without the tools s may not reach (a copy), or NULL when all are. */
static cJSON *filter_tools(const gateway_session *s, const unit *u, const cJSON *items)
{
        const cJSON *item;
        cJSON *out;
        bool any = false;

        cJSON_ArrayForEach(item, items)
        {
                const char *n = json_get_string(item, "name");
                any |= n && tool_hidden(s, u, n);
        }
        if (!any)
                return NULL;
        out = cJSON_CreateArray();
        cJSON_ArrayForEach(item, items)
        {
                const char *n = json_get_string(item, "name");
                if (n && !tool_hidden(s, u, n))
                        cJSON_AddItemToArray(out, json_dup(item));
        }
        return out;
}

static void handle_list(gateway_session *s, const cJSON *id, const char *method,
                        const cJSON *params, const char *key, bool qualify,
                        const cJSON *(*get)(const unit *))
{
        gateway *gw = s->gw;
        const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(params, "cursor");
        unit *const *units;
        size_t n = gw->sv ? supervisor_units(gw->sv, &units) : 0, k = 0;
        bool tools = get == unit_tools;
        unit *wait = NULL;
        cJSON *page;

        if (cursor && !cJSON_IsString(cursor)) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: invalid cursor");
                return;
        }
        _cleanup_free_ gw_source *src = xcalloc(n + 1, sizeof(*src));
        _cleanup_free_ cJSON **owned = xcalloc(n + 1, sizeof(*owned));
        /* The gateway's own tools first (issue 15, mgmt.c). */
        if (tools && (owned[n] = gw_mgmt_tools(s)))
                src[k++] = (gw_source){GW_MGMT_SERVER, owned[n]};
        for (size_t i = 0; i < n; i++) {
                const cJSON *items;
                gw_ulist how;

                if (!gw_session_sees(s, units[i]))
                        continue;
                /* A per-user server's lists are the caller's session's
                 * (issue 15, usessions.c). */
                how = gw_usession_list(s, units[i], get, &items);
                if (how == GW_ULIST_WAIT && !wait)
                        wait = units[i];
                if (how == GW_ULIST_WAIT || how == GW_ULIST_NONE ||
                    (how == GW_ULIST_UNIT && unit_get_state(units[i]) != UNIT_READY))
                        continue;
                if (how == GW_ULIST_UNIT)
                        items = get(units[i]);
                if (tools && (owned[i] = filter_tools(s, units[i], items)))
                        items = owned[i];
                src[k++] = (gw_source){unit_name(units[i]), items};
        }
        if (wait) {
                /* Asked again once that user's session is ready or ended. */
                for (size_t i = 0; i <= n; i++)
                        cJSON_Delete(owned[i]);
                gw_usession_park_list(s, wait, id, method, params);
                return;
        }
        page = gw_list_page(src, k, key, qualify && !s->scope, cursor ? cursor->valuestring : NULL,
                            gw->page_size);
        for (size_t i = 0; i <= n; i++)
                cJSON_Delete(owned[i]);
        if (!page) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: invalid cursor");
                return;
        }
        gw_reply_result(s, id, page);
}

/* tools/call and prompts/get: SERVER__NAME → the unit, with the name restored. */
static void handle_named(gateway_session *s, const cJSON *id, const cJSON *params,
                         const char *method, const char *what)
{
        const char *name = json_get_string(params, "name");
        _cleanup_free_ char *server = NULL, *local = NULL;
        bool tool = strcmp(what, "tool") == 0, hidden, ready;
        const cJSON *list, *utools = NULL;
        mcp_client *client, *uclient = NULL;
        unit *u;
        cJSON *fwd;

        if (!name) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: missing %s name", what);
                return;
        }
        if (tool && cJSON_HasObjectItem(params, "arguments") &&
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(params, "arguments"))) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: arguments must be an object");
                return;
        }
        if (tool && gw_mgmt_call(s, id, params))
                return; /* the gateway's own (issue 15, mgmt.c) */
        if (!s->scope && !gateway_split(name, NULL, NULL)) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, gw_data_not_found(s),
                               "unknown %s '%s': names are SERVER__NAME", what, name);
                return;
        }
        /* A server or tool above the caller's level answers exactly as one
         * that does not exist, so names cannot be probed. */
        u = route_name(s, name, &server, &local);
        if (!u) {
                if (tool) /* the audit log (issue 15, limits.c) */
                        gw_record_refused(s, server, local, params, "not_found");
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, gw_data_not_found(s),
                               "unknown %s '%s': no server '%s'", what, name, server);
                return;
        }
        /* A per-user server answers from the caller's own session
         * (issue 15, usessions.c): refused or parked here when it has none
         * ready. */
        if (!gw_usession_route(s, u, id, method, params, &uclient, &utools))
                return;
        ready = uclient || unit_get_state(u) == UNIT_READY;
        list = uclient ? (tool ? utools : unit_user_prompts(u, (uid_t)gw_session_uid(s)))
               : tool  ? unit_tools(u)
                       : unit_prompts(u);
        hidden = tool && json_array_find(list, "name", local) && tool_hidden(s, u, local);
        /* A single-server session is that server: it answers names it does
         * not list itself.  A hidden tool is refused here and answered as
         * the server answers such a name (unlisted.c); it never reaches the
         * server. */
        if (s->scope && hidden && ready) {
                gw_record_refused(s, server, local, params, "denied");
                if ((client = uclient ? uclient : ready_client(s, id, u)))
                        gw_unlisted_refuse(s, id, server, client, local);
                return;
        }
        if (!s->scope && ready && (!json_array_find(list, "name", local) || hidden)) {
                if (tool)
                        gw_record_refused(s, server, local, params,
                                          hidden ? "denied" : "not_found");
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, gw_data_not_found(s),
                               "unknown %s '%s': server '%s' has no %s '%s'", what, name, server,
                               what, local);
                return;
        }
        client = uclient ? uclient : ready_client(s, id, u);
        if (!client)
                return;
        fwd = json_dup(params);
        json_set(fwd, "name", cJSON_CreateString(local));
        /* The 2026-07-28 tasks extension (tasks_ext.c). */
        if (tool && s->cur_method && !gw_tasks_ext_call(s, id, u, local, fwd)) {
                cJSON_Delete(fwd);
                return;
        }
        gw_forward(s, id, server, client, method, fwd);
}

static bool session_subscribed(const gateway_session *s, const char *uri)
{
        for (size_t i = 0; i < s->n_subs; i++)
                if (strcmp(s->subs[i], uri) == 0)
                        return true;
        return false;
}

static void sub_remove(gateway_session *s, const char *uri)
{
        for (size_t i = 0; i < s->n_subs; i++)
                if (strcmp(s->subs[i], uri) == 0) {
                        free(s->subs[i]);
                        s->subs[i] = s->subs[--s->n_subs];
                        s->subs[s->n_subs] = NULL;
                        return;
                }
}

/* resources/read, resources/subscribe, resources/unsubscribe: by URI owner. */
static void handle_resource(gateway_session *s, const cJSON *id, const cJSON *params,
                            const char *method)
{
        gateway *gw = s->gw;
        const char *uri = json_get_string(params, "uri");
        bool subscribe = strcmp(method, "resources/subscribe") == 0;
        bool unsubscribe = strcmp(method, "resources/unsubscribe") == 0;
        const char *owner;
        const cJSON *utools = NULL;
        mcp_client *client, *uclient = NULL;
        bool per_user;
        unit *u;

        if (!uri) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL, "invalid params: missing uri");
                return;
        }
        if (unsubscribe)
                sub_remove(s, uri);
        /* A single-server session asks its server whatever the owner table
         * says (a collision must not hide its own resources). */
        owner = s->scope ? s->scope : gw_owners_lookup(gw_owners_get(gw), uri);
        u = owner && gw->sv ? supervisor_find(gw->sv, owner) : NULL;
        if (u && (!gw_session_sees(s, u) || (!s->scope && gw_usession_hides(s, u))))
                u = NULL;
        /* A per-user server's resources are the caller's session's (issue
         * 15, usessions.c): looked up in what that session lists. */
        if (!u && !s->scope &&
            gw_usession_resource_owner(s, uri, false, id, method, params, &u) == GW_UOWNER_PARKED)
                return;
        per_user = u && gw_usession_hides(s, u);
        if (u)
                owner = unit_name(u);
        if (unsubscribe) {
                /* Upstream subscriptions are shared by the sessions of one
                 * upstream session: keep it while another still wants
                 * updates (of a per-user server: another of the user's). */
                for (gateway_session *o = gw->sessions; o; o = o->next)
                        if (o != s && session_subscribed(o, uri) &&
                            (!per_user || gw_session_uid(o) == gw_session_uid(s))) {
                                gw_reply_result(s, id, cJSON_CreateObject());
                                return;
                        }
        }
        if (!u) {
                cJSON *data = cJSON_CreateObject();
                cJSON_AddStringToObject(data, "uri", uri);
                if (subscribe || unsubscribe)
                        gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, data,
                                       "unknown resource '%s': no ready server lists it", uri);
                else
                        gw_reply_error(s, id,
                                       s->cur_method ? JSONRPC_INVALID_PARAMS
                                                     : MCP_RESOURCE_NOT_FOUND,
                                       data,
                                       "resource not found: '%s': no ready server lists it", uri);
                return;
        }
        if (per_user && !gw_usession_route(s, u, id, method, params, &uclient, &utools))
                return;
        client = uclient ? uclient : ready_client(s, id, u);
        if (!client)
                return;
        if ((subscribe || unsubscribe) && uclient && mcp_client_modern(uclient)) {
                gw_reply_error(s, id, JSONRPC_METHOD_NOT_FOUND, NULL,
                               "method not found: server '%s' serves each user through their "
                               "own session, and subscriptions on MCP 2026-07-28 sessions are "
                               "not per user yet",
                               unit_name(u));
                return;
        }
        if ((subscribe || unsubscribe) && mcp_client_modern(client) && !gw_usub_applies(u)) {
                gw_reply_error(s, id, JSONRPC_METHOD_NOT_FOUND, NULL,
                               "method not found: server '%s' does not offer resource "
                               "subscriptions",
                               unit_name(u));
                return;
        }
        if (subscribe && !session_subscribed(s, uri)) {
                if (s->n_subs >= GW_MAX_SUBSCRIPTIONS) {
                        gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                                       "too many subscriptions on this session (limit %d)",
                                       GW_MAX_SUBSCRIPTIONS);
                        return;
                }
                s->subs = xrealloc(s->subs, (s->n_subs + 2) * sizeof(*s->subs));
                s->subs[s->n_subs++] = xstrdup(uri);
                s->subs[s->n_subs] = NULL;
        }
        if ((subscribe || unsubscribe) && mcp_client_modern(client)) {
                /* 2026-07-28 has no resources/subscribe: the unit's listen
                 * stream carries the URI (usubs.c). */
                gw_usub_sync(gw, u);
                gw_reply_result(s, id, cJSON_CreateObject());
                return;
        }
        gw_forward(s, id, owner, client, method, json_dup(params));
}

static void ignore_answer(void *ud, const cJSON *result, const cJSON *error)
{
        if (error)
                log_debug("gateway: resources/subscribe again: %s",
                          json_get_string(error, "message"));
}

/* A unit that restarted has forgotten its subscriptions: every URI a session
 * still wants from it is subscribed again, once. */
void gw_resubscribe(gateway *gw, unit *u)
{
        mcp_client *c = unit_get_state(u) == UNIT_READY ? unit_client(u) : NULL;
        const cJSON *caps = json_get_object(mcp_client_server_capabilities(c), "resources");
        gw_owners *own;
        _cleanup_json_ cJSON *done = NULL;

        if (c && mcp_client_modern(c)) {
                gw_usub_sync(gw, u);
                return;
        }
        if (!c || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(caps, "subscribe")))
                return;
        own = gw_owners_get(gw);
        done = cJSON_CreateObject();
        for (gateway_session *s = gw->sessions; s; s = s->next)
                for (size_t i = 0; i < s->n_subs; i++) {
                        const char *uri = s->subs[i];
                        const char *owner = s->scope ? s->scope : gw_owners_lookup(own, uri);
                        cJSON *p;

                        if (!owner || strcmp(owner, unit_name(u)) != 0 ||
                            cJSON_HasObjectItem(done, uri))
                                continue;
                        cJSON_AddTrueToObject(done, uri);
                        p = cJSON_CreateObject();
                        cJSON_AddStringToObject(p, "uri", uri);
                        (void)mcp_client_request(c, "resources/subscribe", p, gw->timeout_ms, NULL,
                                                 ignore_answer, NULL);
                }
}

static void handle_complete(gateway_session *s, const cJSON *id, const cJSON *params)
{
        gateway *gw = s->gw;
        const cJSON *ref = json_get_object(params, "ref");
        const char *type = json_get_string(ref, "type");
        _cleanup_free_ char *server = NULL, *local = NULL;
        const cJSON *caps, *utools = NULL;
        mcp_client *client, *uclient = NULL;
        unit *u = NULL;
        cJSON *fwd;

        if (type && strcmp(type, "ref/prompt") == 0) {
                const char *name = json_get_string(ref, "name");
                if (!name || (!s->scope && !gateway_split(name, NULL, NULL))) {
                        gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                                       "invalid params: unknown prompt '%s'", name ? name : "");
                        return;
                }
                u = route_name(s, name, &server, &local);
        } else if (type && strcmp(type, "ref/resource") == 0) {
                const char *uri = json_get_string(ref, "uri");
                const char *owner =
                        s->scope ? s->scope : gw_owners_lookup_ref(gw_owners_get(gw), uri);
                if (owner) {
                        u = gw->sv ? supervisor_find(gw->sv, owner) : NULL;
                        if (u && (!gw_session_sees(s, u) ||
                                  (!s->scope && gw_usession_hides(s, u))))
                                u = NULL;
                }
                /* A per-user server's: in the caller's session's lists. */
                if (!u && !s->scope &&
                    gw_usession_resource_owner(s, uri, true, id, "completion/complete", params,
                                               &u) == GW_UOWNER_PARKED)
                        return;
                if (u)
                        server = xstrdup(unit_name(u));
        } else {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: ref.type must be ref/prompt or ref/resource");
                return;
        }
        if (!u) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, gw_data_not_found(s),
                               "invalid params: no server for this %s reference",
                               strcmp(type, "ref/prompt") == 0 ? "prompt" : "resource");
                return;
        }
        if (gw_usession_hides(s, u) &&
            !gw_usession_route(s, u, id, "completion/complete", params, &uclient, &utools))
                return;
        client = uclient ? uclient : ready_client(s, id, u);
        if (!client)
                return;
        caps = mcp_client_server_capabilities(client);
        if (!cJSON_GetObjectItemCaseSensitive(caps, "completions")) {
                /* We advertise completions for all units; one that has none
                 * simply offers nothing. */
                cJSON *r = cJSON_CreateObject();
                cJSON *c = cJSON_AddObjectToObject(r, "completion");
                cJSON_AddArrayToObject(c, "values");
                cJSON_AddBoolToObject(c, "hasMore", false);
                gw_reply_result(s, id, r);
                return;
        }
        fwd = json_dup(params);
        if (local)
                json_set(cJSON_GetObjectItemCaseSensitive(fwd, "ref"), "name",
                         cJSON_CreateString(local));
        gw_forward(s, id, server, client, "completion/complete", fwd);
}


/* A single-server session passes the methods it has no aggregate meaning
 * for (2025-11-25 experimental tasks: tasks/get, tasks/result, tasks/list,
 * tasks/cancel) to its server unchanged: task ids are the server's own. */
static void handle_scoped_passthrough(gateway_session *s, const cJSON *id, const char *method,
                                      const cJSON *params)
{
        unit *u = s->gw->sv ? supervisor_find(s->gw->sv, s->scope) : NULL;
        mcp_client *client;

        if (!u || !gw_session_sees(s, u)) {
                gw_reply_error(s, id, JSONRPC_METHOD_NOT_FOUND, NULL, "method not found: '%s'",
                               method);
                return;
        }
        client = ready_client(s, id, u);
        if (!client)
                return;
        gw_forward(s, id, s->scope, client, method, params ? json_dup(params) : NULL);
}

/* The methods both revisions share, after each revision's own checks. */
static void handle_shared(gateway_session *s, const cJSON *id, const char *method,
                          const cJSON *params)
{
        if (strcmp(method, "tools/list") == 0)
                handle_list(s, id, method, params, "tools", true, unit_tools);
        else if (strcmp(method, "prompts/list") == 0)
                handle_list(s, id, method, params, "prompts", true, unit_prompts);
        else if (strcmp(method, "resources/list") == 0)
                handle_list(s, id, method, params, "resources", false, unit_resources);
        else if (strcmp(method, "resources/templates/list") == 0)
                handle_list(s, id, method, params, "resourceTemplates", false, unit_resource_templates);
        else if (strcmp(method, "tools/call") == 0)
                handle_named(s, id, params, method, "tool");
        else if (strcmp(method, "prompts/get") == 0)
                handle_named(s, id, params, method, "prompt");
        else if (strcmp(method, "resources/read") == 0 ||
                 strcmp(method, "resources/subscribe") == 0 ||
                 strcmp(method, "resources/unsubscribe") == 0)
                handle_resource(s, id, params, method);
        else if (strcmp(method, "completion/complete") == 0)
                handle_complete(s, id, params);
        else if (strcmp(method, "logging/setLevel") == 0)
                gw_handle_set_level(s, id, params);
        else if (!(s->ops->extra_method && s->ops->extra_method(s->ud, s, id, method, params)))
                gw_reply_error(s, id, JSONRPC_METHOD_NOT_FOUND, NULL, "method not found: '%s'",
                               method);
}

static void handle_request(gateway_session *s, const cJSON *id, const char *method,
                           const cJSON *params)
{
        if (params && !cJSON_IsObject(params)) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: params must be an object");
                return;
        }
        if (!s->control && gw_modern_wanted(s, method, params)) {
                gw_modern_dispatch(s, id, method, params, handle_shared);
                return;
        }
        if (strcmp(method, "ping") == 0) {
                gw_reply_result(s, id, cJSON_CreateObject());
                return;
        }
        if (strcmp(method, "initialize") == 0) {
                gw_handle_initialize(s, id, params);
                return;
        }
        if (!s->control && !s->initialized) {
                gw_reply_error(s, id, JSONRPC_INVALID_REQUEST, NULL,
                               "invalid request: '%s' before initialize", method);
                return;
        }
        if (s->scope && strncmp(method, "tasks/", 6) == 0) {
                handle_scoped_passthrough(s, id, method, params);
                return;
        }
        if (!s->control && strncmp(method, "tasks/", 6) == 0) {
                gw_tasks_handle(s, id, method, params);
                return;
        }
        handle_shared(s, id, method, params);
}

static void handle_notification(gateway_session *s, const char *method, const cJSON *params)
{
        if (strcmp(method, "notifications/cancelled") == 0) {
                const cJSON *rid = cJSON_GetObjectItemCaseSensitive(params, "requestId");
                const char *reason = json_get_string(params, "reason");

                if (gw_listen_cancel(s, rid) || gw_mgmt_cancel(s, rid))
                        return;
                for (gw_call *c = s->calls; c; c = c->next)
                        if (jsonrpc_id_equal(c->id, rid)) {
                                gw_cancel_call(c, reason ? reason : "cancelled by the client");
                                break;
                        }
                gw_session_check_drained(s);
        } else if (strcmp(method, "notifications/roots/list_changed") == 0 ||
                   strcmp(method, "notifications/initialized") == 0) {
                /* A client with roots that arrives counts as a change too:
                 * servers then ask it (upstream.c, rule 2). */
                gw_upstream_roots_changed(s);
        }
        /* progress and the rest: nothing to do. */
}

void gw_dispatch(gateway_session *s, const cJSON *msg)
{
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");

        switch (jsonrpc_classify(msg)) {
        case JSONRPC_REQUEST:
                handle_request(s, id, json_get_string(msg, "method"),
                               cJSON_GetObjectItemCaseSensitive(msg, "params"));
                break;
        case JSONRPC_NOTIFICATION:
                handle_notification(s, json_get_string(msg, "method"),
                                    json_get_object(msg, "params"));
                break;
        case JSONRPC_RESPONSE:
                /* Answers to servers' requests (upstream.c); strays are dropped. */
                (void)gw_upstream_response(s, msg);
                break;
        case JSONRPC_INVALID:
                if (!jsonrpc_id_valid(id))
                        id = NULL;
                gw_reply_error(s, id, JSONRPC_INVALID_REQUEST, NULL,
                               "invalid request: not a JSON-RPC 2.0 message");
                break;
        }
}

void gw_subscribe_upstream(gateway_session *s, const char *uri)
{
        gateway *gw = s->gw;
        const char *owner;
        unit *u;
        mcp_client *c;
        cJSON *p;

        if (session_subscribed(s, uri) || s->n_subs >= GW_MAX_SUBSCRIPTIONS)
                return;
        s->subs = xrealloc(s->subs, (s->n_subs + 2) * sizeof(*s->subs));
        s->subs[s->n_subs++] = xstrdup(uri);
        s->subs[s->n_subs] = NULL;
        owner = s->scope ? s->scope : gw_owners_lookup(gw_owners_get(gw), uri);
        u = owner && gw->sv ? supervisor_find(gw->sv, owner) : NULL;
        c = u && gw_session_sees(s, u) && unit_get_state(u) == UNIT_READY ? unit_client(u) : NULL;
        if (!c)
                return; /* gw_resubscribe asks when it becomes ready */
        if (mcp_client_modern(c)) {
                gw_usub_sync(gw, u);
                return;
        }
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "uri", uri);
        (void)mcp_client_request(c, "resources/subscribe", p, gw->timeout_ms, NULL, ignore_answer,
                                 NULL);
}
