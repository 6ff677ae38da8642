/* MCP 2026-07-28 facing clients (basic/versioning, basic/index §_meta,
 * server/discover, basic/patterns/mrtr, basic/patterns/subscriptions), next
 * to the 2025 revisions on the same entry points.
 *
 * A request is a 2026-07-28 one when its params._meta names a revision
 * (io.modelcontextprotocol/protocolVersion), when it is server/discover, or
 * when it arrives as a sessionless HTTP POST that says 2026-07-28 in
 * MCP-Protocol-Version (the HTTP adapter marks that session modern_only).
 * Such a request is served on its own, whatever the session did before:
 * its _meta carries the client's capabilities, results carry resultType
 * (and ttlMs/cacheScope on lists and resources/read), and the methods the
 * revision removed (initialize, ping, logging/setLevel, resources/subscribe,
 * resources/unsubscribe) are -32601.
 *
 * Units speak 2025-11-25.  When a unit asks the client something (sampling,
 * elicitation, roots) during a 2026-07-28 call, the call is answered with
 * resultType "input_required": inputRequests carries the unit's request
 * under a key, requestState an unguessable handle.  The unit's call stays in
 * flight, parked; the client's retry (same method and name, the handle in
 * requestState, the answers in inputResponses) hands each answer to the unit
 * under its own id and takes the call over (MRTR translation, issue 11).  A
 * parked call the client does not come back for is cancelled after the
 * gateway's request timeout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "corral/supervisor.h"
#include "gateway/internal.h"

#define MRTR_PREFIX "corral-mrtr-"

typedef struct {
        char key[16];
        uint64_t handle; /* the unit's id for its request (mcp_client_respond) */
        cJSON *request;  /* {method, params} */
        bool sent;       /* in an input_required the client got */
} mrtr_pending;

struct gw_mrtr {
        gateway *gw;
        char token[sizeof(MRTR_PREFIX) + 32];
        gw_call *call; /* NULL once the unit answered it */
        mcp_client *client;
        char *user, *scope;
        corral_level level;
        mrtr_pending pending[GW_MRTR_PENDING];
        size_t n_pending;
        unsigned next_key;
        cJSON *result, *error; /* the unit's answer that came while parked */
        uv_timer_t *timer;
        gw_mrtr *prev, *next;
};

struct gw_listen {
        cJSON *id;
        bool tools, prompts, resources;
        char **uris;
        size_t n_uris;
        char **tasks; /* taskIds (tasks extension), as the client knows them */
        size_t n_tasks;
        gw_listen *next;
};

static const char *const removed_methods[] = {
        "initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe",
};

bool gw_modern_wanted(const gateway_session *s, const char *method, const cJSON *params)
{
        const cJSON *meta = json_get_object(params, "_meta");

        if (s->modern_only || strcmp(method, "server/discover") == 0)
                return true;
        return cJSON_GetObjectItemCaseSensitive(meta, META_PROTOCOL_VERSION) != NULL;
}

static bool cacheable(const char *method)
{
        static const char *const m[] = {"tools/list", "prompts/list", "resources/list",
                                        "resources/templates/list", "resources/read",
                                        "server/discover"};

        for (size_t i = 0; i < ARRAY_SIZE(m); i++)
                if (strcmp(method, m[i]) == 0)
                        return true;
        return false;
}

/* serverInfo of what s sees: the passed-through server's own, or corral. */
static cJSON *server_info(const gateway_session *s)
{
        unit *u = s->scope && s->gw && s->gw->sv ? supervisor_find(s->gw->sv, s->scope) : NULL;
        mcp_client *c = u && unit_get_state(u) == UNIT_READY ? unit_client(u) : NULL;
        const cJSON *info = c ? mcp_client_server_info(c) : NULL;
        cJSON *r;

        if (cJSON_IsObject(info) && json_get_string(info, "name") &&
            json_get_string(info, "version"))
                return json_dup(info);
        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "name", s->scope ? s->scope : "corral");
        cJSON_AddStringToObject(r, "version", CORRAL_VERSION);
        return r;
}

void gw_modern_decorate(const gateway_session *s, cJSON *r, const char *method)
{
        cJSON *meta;

        if (!cJSON_IsObject(r))
                return;
        if (!cJSON_HasObjectItem(r, "resultType"))
                cJSON_AddStringToObject(r, "resultType", "complete");
        if (method && cacheable(method)) {
                /* Lists change when units come and go (listen streams say
                 * so), and they are filtered by the caller's level. */
                if (!cJSON_HasObjectItem(r, "ttlMs"))
                        cJSON_AddNumberToObject(r, "ttlMs", 0);
                if (!cJSON_HasObjectItem(r, "cacheScope"))
                        cJSON_AddStringToObject(r, "cacheScope", "private");
        }
        meta = json_object_member(r, "_meta");
        if (!cJSON_HasObjectItem(meta, META_SERVER_INFO))
                cJSON_AddItemToObject(meta, META_SERVER_INFO, server_info(s));
}

static cJSON *supported_versions(void)
{
        cJSON *a = cJSON_CreateArray();

        cJSON_AddItemToArray(a, cJSON_CreateString(MCP_MODERN_VERSION));
        for (size_t i = 0; mcp_protocol_versions[i]; i++)
                cJSON_AddItemToArray(a, cJSON_CreateString(mcp_protocol_versions[i]));
        return a;
}

static void handle_discover(gateway_session *s, const cJSON *id)
{
        cJSON *d = gw_session_description(s, MCP_MODERN_VERSION);
        cJSON *r = cJSON_CreateObject();
        cJSON *caps = cJSON_DetachItemFromObjectCaseSensitive(d, "capabilities");
        cJSON *ins = cJSON_DetachItemFromObjectCaseSensitive(d, "instructions");

        /* Per-request logLevel is not offered (no notifications/message goes
         * to 2026-07-28 requests); the 2025 tasks are the extension now. */
        cJSON_DeleteItemFromObjectCaseSensitive(caps, "logging");
        if (cJSON_HasObjectItem(caps, "tasks")) {
                /* 2025 tasks of the units, served as the extension (tasks_ext.c). */
                cJSON_DeleteItemFromObjectCaseSensitive(caps, "tasks");
                (void)json_object_member(json_object_member(caps, "extensions"), TASKS_EXT);
        }
        cJSON_AddItemToObject(r, "supportedVersions", supported_versions());
        cJSON_AddItemToObject(r, "capabilities", caps ? caps : cJSON_CreateObject());
        if (ins)
                cJSON_AddItemToObject(r, "instructions", ins);
        cJSON_Delete(d);
        gw_modern_decorate(s, r, "server/discover");
        gw_reply_result(s, id, r);
}

/* ---- subscriptions/listen ---- */

static void listen_free(gw_listen *l)
{
        for (size_t i = 0; i < l->n_uris; i++)
                free(l->uris[i]);
        free(l->uris);
        for (size_t i = 0; i < l->n_tasks; i++)
                free(l->tasks[i]);
        free(l->tasks);
        cJSON_Delete(l->id);
        free(l);
}

void gw_listen_free_all(gateway_session *s)
{
        while (s->listens) {
                gw_listen *l = s->listens;
                s->listens = l->next;
                listen_free(l);
        }
        s->n_listens = 0;
}

bool gw_listen_cancel(gateway_session *s, const cJSON *request_id)
{
        for (gw_listen **lp = &s->listens; *lp; lp = &(*lp)->next)
                if (jsonrpc_id_equal((*lp)->id, request_id)) {
                        gw_listen *l = *lp;
                        *lp = l->next;
                        s->n_listens--;
                        listen_free(l);
                        return true;
                }
        return false;
}

static void handle_listen(gateway_session *s, const cJSON *id, const cJSON *params)
{
        const cJSON *f = json_get_object(params, "notifications");
        const cJSON *uris = cJSON_GetObjectItemCaseSensitive(f, "resourceSubscriptions");
        const cJSON *tids = cJSON_GetObjectItemCaseSensitive(f, "taskIds");
        const cJSON *caps = json_get_object(json_get_object(params, "_meta"), META_CLIENT_CAPS);
        const cJSON *u;
        cJSON *ack, *honored, *meta;
        _cleanup_json_ cJSON *n = NULL;
        gw_listen *l;

        if (!f || (uris && !cJSON_IsArray(uris)) || (tids && !cJSON_IsArray(tids))) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: notifications must be an object "
                               "(resourceSubscriptions an array of URIs)");
                return;
        }
        if (s->n_listens >= GW_MAX_LISTENS || cJSON_GetArraySize(uris) > GW_LISTEN_URIS ||
            cJSON_GetArraySize(tids) > GW_LISTEN_TASKS) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: at most %d listen streams per connection, "
                               "%d resourceSubscriptions and %d taskIds each",
                               GW_MAX_LISTENS, GW_LISTEN_URIS, GW_LISTEN_TASKS);
                return;
        }
        if (cJSON_GetArraySize(tids) > 0 && !gw_tasks_ext_declared(caps)) {
                gw_tasks_ext_missing(s, id, "taskIds");
                return;
        }
        l = xcalloc(1, sizeof(*l));
        l->id = json_dup(id);
        l->tools = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "toolsListChanged"));
        l->prompts = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "promptsListChanged"));
        l->resources = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "resourcesListChanged"));
        honored = cJSON_CreateObject();
        if (l->tools)
                cJSON_AddTrueToObject(honored, "toolsListChanged");
        if (l->prompts)
                cJSON_AddTrueToObject(honored, "promptsListChanged");
        if (l->resources)
                cJSON_AddTrueToObject(honored, "resourcesListChanged");
        if (uris) {
                cJSON *kept = cJSON_AddArrayToObject(honored, "resourceSubscriptions");
                l->uris = xcalloc((size_t)cJSON_GetArraySize(uris) + 1, sizeof(*l->uris));
                cJSON_ArrayForEach(u, uris)
                {
                        if (!cJSON_IsString(u))
                                continue;
                        l->uris[l->n_uris++] = xstrdup(u->valuestring);
                        cJSON_AddItemToArray(kept, cJSON_CreateString(u->valuestring));
                        gw_subscribe_upstream(s, u->valuestring);
                }
        }
        if (cJSON_GetArraySize(tids) > 0) {
                cJSON *kept = cJSON_AddArrayToObject(honored, "taskIds");
                l->tasks = xcalloc((size_t)cJSON_GetArraySize(tids) + 1, sizeof(*l->tasks));
                cJSON_ArrayForEach(u, tids)
                {
                        if (!cJSON_IsString(u))
                                continue;
                        l->tasks[l->n_tasks++] = xstrdup(u->valuestring);
                        cJSON_AddItemToArray(kept, cJSON_CreateString(u->valuestring));
                }
        }
        l->next = s->listens;
        s->listens = l;
        s->n_listens++;
        ack = cJSON_CreateObject();
        cJSON_AddItemToObject(ack, "notifications", honored);
        meta = cJSON_AddObjectToObject(ack, "_meta");
        cJSON_AddItemToObject(meta, META_SUBSCRIPTION_ID, json_dup(id));
        n = jsonrpc_notification("notifications/subscriptions/acknowledged", ack);
        gw_send_msg(s, n, id, false);
}

void gw_listen_notify(gateway *gw, const char *method, unsigned list_bit, const char *uri,
                      const unit *from)
{
        for (gateway_session *s = gw->sessions; s; s = s->next) {
                if (s->drained || (from && !gw_session_sees(s, from)))
                        continue;
                for (gw_listen *l = s->listens; l; l = l->next) {
                        bool want = false;
                        cJSON *p, *meta;
                        _cleanup_json_ cJSON *n = NULL;

                        if (uri) {
                                for (size_t i = 0; i < l->n_uris && !want; i++)
                                        want = strcmp(l->uris[i], uri) == 0;
                        } else {
                                want = (list_bit == UNIT_LIST_TOOLS && l->tools) ||
                                       (list_bit == UNIT_LIST_PROMPTS && l->prompts) ||
                                       (list_bit == UNIT_LIST_RESOURCES && l->resources);
                        }
                        if (!want)
                                continue;
                        p = cJSON_CreateObject();
                        if (uri)
                                cJSON_AddStringToObject(p, "uri", uri);
                        meta = cJSON_AddObjectToObject(p, "_meta");
                        cJSON_AddItemToObject(meta, META_SUBSCRIPTION_ID, json_dup(l->id));
                        n = jsonrpc_notification(method, p);
                        gw_send_msg(s, n, l->id, false);
                }
        }
}

/* The id s knows task (the server's own) by: SERVER__ID on the aggregate. */
static char *task_id_for(const gateway_session *s, const unit *from, const char *task)
{
        return s->scope ? xstrdup(task) : gateway_qualify(unit_name(from), task);
}

static bool listen_has_task(const gw_listen *l, const char *id)
{
        for (size_t i = 0; i < l->n_tasks; i++)
                if (strcmp(l->tasks[i], id) == 0)
                        return true;
        return false;
}

bool gw_listen_wants_task(gateway *gw, const unit *from, const char *task)
{
        for (gateway_session *s = gw->sessions; s; s = s->next) {
                _cleanup_free_ char *id = NULL;

                if (s->drained || !s->listens || !gw_session_sees(s, from))
                        continue;
                id = task_id_for(s, from, task);
                for (gw_listen *l = s->listens; l; l = l->next)
                        if (listen_has_task(l, id))
                                return true;
        }
        return false;
}

void gw_listen_task(gateway *gw, const unit *from, const char *task, const cJSON *detailed)
{
        for (gateway_session *s = gw->sessions; s; s = s->next) {
                _cleanup_free_ char *id = NULL;

                if (s->drained || !s->listens || !gw_session_sees(s, from))
                        continue;
                id = task_id_for(s, from, task);
                for (gw_listen *l = s->listens; l; l = l->next) {
                        cJSON *p, *meta;
                        _cleanup_json_ cJSON *n = NULL;

                        if (!listen_has_task(l, id))
                                continue;
                        p = json_dup(detailed);
                        json_set(p, "taskId", cJSON_CreateString(id));
                        meta = json_object_member(p, "_meta");
                        json_set(meta, META_SUBSCRIPTION_ID, json_dup(l->id));
                        n = jsonrpc_notification("notifications/tasks", p);
                        gw_send_msg(s, n, l->id, false);
                }
        }
}

/* ---- MRTR: a unit's requests as input_required ---- */

static void mrtr_timer_closed(uv_handle_t *h)
{
        free(h);
}

static void respond_error(mcp_client *c, uint64_t handle, int code, const char *msg)
{
        _cleanup_json_ cJSON *e = cJSON_CreateObject();

        cJSON_AddNumberToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        (void)mcp_client_respond(c, handle, NULL, e);
}

/* Frees m; with fail_pending, the unit's open requests get an error (only
 * while its call lives: the session is gone otherwise). */
static void mrtr_free(gw_mrtr *m, const char *why)
{
        gateway *gw = m->gw;

        for (size_t i = 0; i < m->n_pending; i++) {
                if (why && m->call)
                        respond_error(m->client, m->pending[i].handle, CORRAL_RPC_CANCELLED, why);
                cJSON_Delete(m->pending[i].request);
        }
        if (m->call)
                m->call->mrtr = NULL;
        if (m->prev)
                m->prev->next = m->next;
        else if (gw->mrtrs == m)
                gw->mrtrs = m->next;
        if (m->next)
                m->next->prev = m->prev;
        gw->n_mrtrs--;
        if (m->timer) {
                uv_timer_stop(m->timer);
                uv_close((uv_handle_t *)m->timer, mrtr_timer_closed);
        }
        cJSON_Delete(m->result);
        cJSON_Delete(m->error);
        free(m->user);
        free(m->scope);
        free(m);
}

void gw_mrtr_free_all(gateway *gw)
{
        while (gw->mrtrs)
                mrtr_free(gw->mrtrs, NULL);
}

static void on_mrtr_timeout(uv_timer_t *t)
{
        gw_mrtr *m = t->data;
        gw_call *call = m->call;

        log_info("gateway: a 2026-07-28 client did not retry its %s within %llu ms: cancelling it",
                 call ? call->method : "call", (unsigned long long)m->gw->timeout_ms);
        if (call) {
                call->mrtr = NULL;
                m->call = NULL;
                for (size_t i = 0; i < m->n_pending; i++)
                        respond_error(m->client, m->pending[i].handle, CORRAL_RPC_TIMEOUT,
                                      "the client did not retry the request in time");
                m->n_pending = 0;
                /* Detached: the unit is told, nobody is answered. */
                gw_cancel_call(call, "the client did not retry in time");
        }
        mrtr_free(m, NULL);
}

gw_call *gw_mrtr_parked_call(gateway *gw, const mcp_client *c, int kind, gw_call *best)
{
        for (gw_mrtr *m = gw->mrtrs; m; m = m->next) {
                gw_call *k = m->call;
                if (!k || k->s || k->completed || k->client != c)
                        continue;
                if (!best || k->n_routed[kind] < best->n_routed[kind] ||
                    (k->n_routed[kind] == best->n_routed[kind] && k->seq < best->seq))
                        best = k;
        }
        return best;
}

/* Answers the attached call's client with input_required for every request
 * not answered yet, and parks the call until the retry. */
static void mrtr_ask(gw_mrtr *m)
{
        gw_call *call = m->call;
        gateway_session *s = call->s;
        cJSON *r = cJSON_CreateObject();
        cJSON *reqs = cJSON_AddObjectToObject(r, "inputRequests");

        cJSON_AddStringToObject(r, "resultType", "input_required");
        for (size_t i = 0; i < m->n_pending; i++) {
                cJSON_AddItemToObject(reqs, m->pending[i].key, json_dup(m->pending[i].request));
                m->pending[i].sent = true;
        }
        cJSON_AddStringToObject(r, "requestState", m->token);
        gw_modern_decorate(s, r, call->method);
        gw_reply_result(s, call->id, r);
        gw_call_detach(call);
        uv_timer_start(m->timer, on_mrtr_timeout, m->gw->timeout_ms, 0);
        gw_session_check_drained(s);
}

void gw_mrtr_server_request(gateway *gw, gw_call *call, mcp_client *c, uint64_t handle,
                            const char *method, const cJSON *params)
{
        gw_mrtr *m = call->mrtr;
        const char *what;
        mrtr_pending *p;

        if (!gw_caps_support(call->caps, method, params, &what)) {
                /* 2026-07-28 basic/index: MissingRequiredClientCapability. */
                respond_error(c, handle, JSONRPC_METHOD_NOT_FOUND,
                              "the client does not support this request");
                if (call->s) {
                        cJSON *data = cJSON_CreateObject();
                        cJSON *req = cJSON_AddObjectToObject(data, "requiredCapabilities");
                        const char *cap = strncmp(what, "elicitation", 11) == 0 ? "elicitation"
                                                                                : what;
                        cJSON_AddObjectToObject(req, cap);
                        gw_reply_error(call->s, call->id, MCP_MISSING_CLIENT_CAPABILITY, data,
                                       "missing required client capability: the server asked "
                                       "for %s",
                                       what);
                        gw_cancel_call(call, "the client lacks a capability the server needs");
                }
                return;
        }
        if (!m) {
                unsigned char rnd[16];

                if (gw->n_mrtrs >= GW_MAX_MRTR || !call->s) {
                        respond_error(c, handle, JSONRPC_INTERNAL_ERROR,
                                      "too many calls waiting for client input");
                        return;
                }
                if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
                        abort();
                m = xcalloc(1, sizeof(*m));
                m->gw = gw;
                memcpy(m->token, MRTR_PREFIX, sizeof(MRTR_PREFIX) - 1);
                for (size_t i = 0; i < sizeof(rnd); i++)
                        snprintf(m->token + sizeof(MRTR_PREFIX) - 1 + 2 * i, 3, "%02x", rnd[i]);
                m->call = call;
                m->client = c;
                m->user = call->s->user ? xstrdup(call->s->user) : NULL;
                m->scope = call->s->scope ? xstrdup(call->s->scope) : NULL;
                m->level = call->s->level;
                m->timer = gw_timer_new(gw->loop, m);
                m->next = gw->mrtrs;
                if (gw->mrtrs)
                        gw->mrtrs->prev = m;
                gw->mrtrs = m;
                gw->n_mrtrs++;
                call->mrtr = m;
        }
        if (m->n_pending >= GW_MRTR_PENDING) {
                respond_error(c, handle, JSONRPC_INTERNAL_ERROR,
                              "too many requests open for this call");
                return;
        }
        call->n_routed[gw_s2c_kind(method)]++;
        p = &m->pending[m->n_pending++];
        snprintf(p->key, sizeof(p->key), "corral-%u", ++m->next_key);
        p->handle = handle;
        p->sent = false;
        p->request = cJSON_CreateObject();
        cJSON_AddStringToObject(p->request, "method", method);
        cJSON_AddItemToObject(p->request, "params",
                              cJSON_IsObject(params) ? json_dup(params) : cJSON_CreateObject());
        log_debug("gateway: %s: %s for a 2026-07-28 call: input_required", call->server, method);
        /* A parked call asks at its next retry. */
        if (call->s)
                mrtr_ask(m);
}

void gw_mrtr_call_done(gw_call *call, const cJSON *result, const cJSON *error)
{
        gw_mrtr *m = call->mrtr;

        call->mrtr = NULL;
        m->call = NULL;
        /* The unit no longer waits for answers to its requests. */
        for (size_t i = 0; i < m->n_pending; i++)
                cJSON_Delete(m->pending[i].request);
        m->n_pending = 0;
        if (call->s) {
                /* Attached: the caller gets the answer the usual way. */
                mrtr_free(m, NULL);
                return;
        }
        m->result = result ? json_dup(result) : NULL;
        m->error = result ? NULL : json_dup(error);
}

static gw_mrtr *mrtr_find(gateway *gw, const char *token)
{
        for (gw_mrtr *m = gw->mrtrs; m; m = m->next)
                if (strcmp(m->token, token) == 0)
                        return m;
        return NULL;
}

static bool streq_null(const char *a, const char *b)
{
        return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether the retry asks for what the parked call is: same method and
 * name (SERVER__NAME on the aggregate), same caller. */
static bool retry_matches(const gateway_session *s, const gw_mrtr *m, const char *method,
                          const cJSON *params)
{
        const gw_call *k = m->call;
        const char *name = json_get_string(params, "name");
        const char *uri = json_get_string(params, "uri");
        _cleanup_free_ char *server = NULL, *local = NULL;

        if (!streq_null(s->user, m->user) || !streq_null(s->scope, m->scope) ||
            s->level != m->level)
                return false;
        if (!k)
                return true; /* answered already: the caller matches */
        if (strcmp(method, k->method) != 0)
                return false;
        if (strcmp(method, "resources/read") == 0)
                return uri && strcmp(uri, k->name) == 0;
        if (!name)
                return false;
        if (s->scope)
                return strcmp(name, k->name) == 0;
        return gateway_split(name, &server, &local) && strcmp(server, k->server) == 0 &&
               strcmp(local, k->name) == 0;
}

static void mrtr_retry(gateway_session *s, const cJSON *id, const char *method,
                       const cJSON *params, gw_mrtr *m)
{
        const cJSON *answers = json_get_object(params, "inputResponses");
        size_t kept = 0;

        if (!retry_matches(s, m, method, params)) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: requestState belongs to another request");
                return;
        }
        if (!m->call) {
                /* The unit answered while the client was away. */
                if (m->result) {
                        cJSON *r = json_dup(m->result);
                        gw_modern_decorate(s, r, method);
                        gw_reply_result(s, id, r);
                } else {
                        gw_send_raw(s, id, "error", m->error);
                }
                mrtr_free(m, NULL);
                return;
        }
        for (size_t i = 0; i < m->n_pending; i++) {
                mrtr_pending *p = &m->pending[i];
                const cJSON *a = p->sent ? json_get_object(answers, p->key) : NULL;

                if (a) {
                        (void)mcp_client_respond(m->client, p->handle, a, NULL);
                        cJSON_Delete(p->request);
                } else {
                        m->pending[kept++] = *p;
                }
        }
        m->n_pending = kept;
        uv_timer_stop(m->timer);
        gw_call_attach(s, m->call, id);
        {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(json_get_object(params, "_meta"),
                                                                  "progressToken");
                cJSON_Delete(m->call->progress_token);
                m->call->progress_token = t && jsonrpc_id_valid(t) ? json_dup(t) : NULL;
        }
        /* What is still unanswered is asked again (mrtr §error handling). */
        if (m->n_pending)
                mrtr_ask(m);
}

/* ---- dispatch ---- */

/* The tasks extension's methods (tasks_ext.c). */
static bool task_method(const char *method)
{
        return strcmp(method, "tasks/get") == 0 || strcmp(method, "tasks/update") == 0 ||
               strcmp(method, "tasks/cancel") == 0;
}

void gw_modern_dispatch(gateway_session *s, const cJSON *id, const char *method,
                        const cJSON *params,
                        void (*shared)(gateway_session *s, const cJSON *id, const char *method,
                                       const cJSON *params))
{
        const cJSON *meta = json_get_object(params, "_meta");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, META_PROTOCOL_VERSION);
        const char *state;
        static const char *const served[] = {"tools/list", "prompts/list", "resources/list",
                                             "resources/templates/list", "tools/call",
                                             "prompts/get", "resources/read",
                                             "completion/complete"};
        bool known = false;

        s->ladder = true;
        /* basic/index §_meta: protocolVersion and clientCapabilities are
         * required on every request. */
        if (!meta || !cJSON_IsString(v) ||
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(meta, META_CLIENT_CAPS))) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: _meta must carry %s and %s",
                               META_PROTOCOL_VERSION, META_CLIENT_CAPS);
                return;
        }
        if (strcmp(v->valuestring, MCP_MODERN_VERSION) != 0) {
                cJSON *data = cJSON_CreateObject();
                cJSON_AddItemToObject(data, "supported", supported_versions());
                cJSON_AddStringToObject(data, "requested", v->valuestring);
                gw_reply_error(s, id, MCP_UNSUPPORTED_PROTOCOL_VERSION, data,
                               "unsupported protocol version '%.32s': corral serves %s per "
                               "request, and %s to 2024-11-05 after initialize",
                               v->valuestring, MCP_MODERN_VERSION, mcp_protocol_versions[0]);
                return;
        }
        for (size_t i = 0; i < ARRAY_SIZE(removed_methods); i++)
                if (strcmp(method, removed_methods[i]) == 0) {
                        gw_reply_error(s, id, JSONRPC_METHOD_NOT_FOUND, NULL,
                                       "method not found: '%s' is not part of %s", method,
                                       MCP_MODERN_VERSION);
                        return;
                }
        for (size_t i = 0; i < ARRAY_SIZE(served); i++)
                known |= strcmp(method, served[i]) == 0;
        known |= strcmp(method, "server/discover") == 0 ||
                 strcmp(method, "subscriptions/listen") == 0 || task_method(method);
        if (!known) {
                gw_reply_error(s, id, JSONRPC_METHOD_NOT_FOUND, NULL,
                               "method not found: '%s'%s", method,
                               strncmp(method, "tasks/", 6) == 0
                                       ? " (the tasks extension has tasks/get, tasks/update "
                                         "and tasks/cancel)"
                                       : "");
                return;
        }
        s->ladder = false;
        if (strcmp(method, "server/discover") == 0) {
                handle_discover(s, id);
                return;
        }
        if (strcmp(method, "subscriptions/listen") == 0) {
                handle_listen(s, id, params);
                return;
        }
        state = json_get_string(params, "requestState");
        if (state && strncmp(state, MRTR_PREFIX, sizeof(MRTR_PREFIX) - 1) == 0) {
                gw_mrtr *m = mrtr_find(s->gw, state);

                if (!m) {
                        gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                                       "invalid params: requestState is unknown or expired");
                        return;
                }
                mrtr_retry(s, id, method, params, m);
                return;
        }
        s->cur_method = method;
        if (task_method(method))
                gw_tasks_ext_handle(s, id, method, params);
        else
                shared(s, id, method, params);
        s->cur_method = NULL;
}
