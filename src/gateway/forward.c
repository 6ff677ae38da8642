/* Forwarding a client's request to the unit that owns it (DESIGN.md,
 * "Gateway"; MCP 2025-11-25 basic/utilities/{progress,cancellation}): ids
 * remapped, progress and cancellation carried both ways, the answer recorded
 * for the audit log.  The method handlers are in methods.c. */
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


static void call_free(gw_call *c)
{
        cJSON_Delete(c->id);
        cJSON_Delete(c->progress_token);
        free(c->server);
        free(c->probe);
        free(c->probe_for);
        free(c->method);
        free(c->name);
        cJSON_Delete(c->caps);
        free(c->rec_tool);
        free(c->rec_user);
        cJSON_Delete(c->rec_args);
        gw_limits_done(c);
        free(c->cap_tool);
        free(c->retry_method);
        cJSON_Delete(c->retry_params);
        cJSON_Delete(c->answers);
        free(c->retry_state);
        cJSON_Delete(c->task_stash);
        free(c);
}

void gw_call_detach(gw_call *c)
{
        gateway_session *s = c->s;

        if (!s)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        s->n_calls--;
        c->s = NULL;
}

void gw_call_attach(gateway_session *s, gw_call *c, const cJSON *id)
{
        cJSON_Delete(c->id);
        c->id = json_dup(id);
        c->s = s;
        c->next = s->calls;
        if (s->calls)
                s->calls->prev = c;
        s->calls = c;
        s->n_calls++;
}

static void call_detach(gw_call *c)
{
        gw_call_detach(c);
}

static bool corral_code(int code)
{
        return code <= CORRAL_RPC_UNAVAILABLE && code >= CORRAL_RPC_FAULTY;
}

static bool corral_error_of(const cJSON *error)
{
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
        return cJSON_IsNumber(code) && corral_code(code->valueint);
}

static int64_t clock_ms(clockid_t id)
{
        struct timespec ts;
        clock_gettime(id, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t json_len(const cJSON *j)
{
        _cleanup_free_ char *t = j ? cJSON_PrintUnformatted(j) : NULL;
        return t ? strlen(t) : 0;
}

/* The observer's record of a finished tools/call (issue 15). */
static void call_record(gw_call *c, const cJSON *result, const cJSON *error)
{
        gateway *gw = c->rec_gw;
        gateway_call_record rec = {
                .ts_ms = c->rec_start_ms,
                .duration_ms = clock_ms(CLOCK_MONOTONIC) - c->rec_start_mono,
                .user = c->rec_user,
                .iface = c->rec_iface,
                .server = c->server,
                .tool = c->rec_tool,
                .outcome = error ? "error"
                           : cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "isError"))
                                   ? "tool_error"
                                   : "ok",
                .req_bytes = c->rec_req_bytes,
                .resp_bytes = json_len(result ? result : error),
                .arguments = c->rec_args,
        };
        if (gw->observer)
                gw->observer(gw->observer_ud, &rec);
}

static void on_call_progress(void *ud, const cJSON *params);
static void on_call_response(void *ud, const cJSON *result, const cJSON *error);

/* Sends c upstream as method (params consumed): the first send and the retry
 * of an input_required round alike. */
static void call_send(gw_call *c, mcp_client *client, const char *method, cJSON *params,
                      uint64_t timeout)
{
        uint64_t h;

        /* The response callback may run before mcp_client_request returns
         * (transport gone); `starting` keeps c alive until then. */
        c->starting = true;
        h = mcp_client_request(client, method, params, timeout,
                               c->progress_token ? on_call_progress : NULL, on_call_response, c);
        c->starting = false;
        if (c->completed) {
                call_free(c);
                return;
        }
        c->handle = h;
        /* mcp_client_request wrote the call to the unit just now: seq is the
         * order the server reads calls in (upstream.c, rule 1). */
        c->seq = ++c->s->gw->call_seq;
}

/* ---- input_required of a 2026-07-28 unit to a 2025 client ----
 *
 * MCP 2026-07-28 basic/patterns/mrtr, translated for a client of the 2025
 * revisions: each of the unit's inputRequests becomes a request to the
 * client (elicitation/create, sampling/createMessage, roots/list) on the
 * call's stream; once every one is answered the call is sent to the unit
 * again with the answers in inputResponses (under the unit's keys) and the
 * unit's requestState.  Between rounds nothing is in flight at the unit;
 * the client's answers are bounded by the gateway's request timeout, the
 * rounds by GW_MRTR_ROUNDS. */

static bool streq(const char *a, const char *b)
{
        return a && b && strcmp(a, b) == 0;
}

void gw_mrtr25_fail(gw_call *c, int code, const char *msg)
{
        gateway_session *s = c->s;

        if (s) {
                gw_upstream_call_cancelled(s, c, "the call failed");
                gw_reply_error(s, c->id, code, NULL, "server '%s': %s", c->server, msg);
                call_detach(c);
                gw_session_check_drained(s);
        }
        call_free(c);
}

static void mrtr25_retry(gw_call *c)
{
        gateway_session *s = c->s;
        unit *u = s && s->gw->sv ? supervisor_find(s->gw->sv, c->server) : NULL;
        cJSON *params;

        if (!u || unit_get_state(u) != UNIT_READY || unit_client(u) != c->client) {
                gw_mrtr25_fail(c, CORRAL_RPC_UNAVAILABLE,
                               "the server restarted while the client answered its request");
                return;
        }
        params = json_dup(c->retry_params);
        json_set(params, "inputResponses", c->answers ? steal_pointer(&c->answers)
                                                       : cJSON_CreateObject());
        if (c->retry_state)
                json_set(params, "requestState", cJSON_CreateString(c->retry_state));
        c->parked25 = false;
        call_send(c, c->client, c->retry_method, params, s->gw->timeout_ms);
}

static void mrtr25_start(gw_call *c, const cJSON *result)
{
        gateway_session *s = c->s;
        const cJSON *reqs = json_get_object(result, "inputRequests");
        const char *state = json_get_string(result, "requestState");
        const cJSON *r;
        const char *what;

        c->handle = 0;
        c->parked25 = true;
        if (++c->rounds > GW_MRTR_ROUNDS) {
                char msg[96];
                snprintf(msg, sizeof(msg), "the server asked for input more than %d times in one call",
                         GW_MRTR_ROUNDS);
                gw_mrtr25_fail(c, JSONRPC_INTERNAL_ERROR, msg);
                return;
        }
        if (cJSON_GetArraySize(reqs) > GW_MRTR_PENDING) {
                char msg[96];
                snprintf(msg, sizeof(msg), "the server asked for more than %d inputs at once",
                         GW_MRTR_PENDING);
                gw_mrtr25_fail(c, JSONRPC_INTERNAL_ERROR, msg);
                return;
        }
        free(c->retry_state);
        c->retry_state = state ? xstrdup(state) : NULL;
        cJSON_Delete(c->answers);
        c->answers = cJSON_CreateObject();
        c->waiting = 0;
        cJSON_ArrayForEach(r, reqs)
        {
                const char *method = json_get_string(r, "method");
                const cJSON *params = json_get_object(r, "params");

                if (!method || !r->string) {
                        gw_mrtr25_fail(c, JSONRPC_INTERNAL_ERROR,
                                       "input_required: an input request without a method");
                        return;
                }
                if (!gw_caps_support(s->client_caps, method, params, &what)) {
                        char msg[160];
                        snprintf(msg, sizeof(msg),
                                 "the server asked for %.64s, which the client did not declare",
                                 what);
                        gw_mrtr25_fail(c, JSONRPC_INTERNAL_ERROR, msg);
                        return;
                }
        }
        cJSON_ArrayForEach(r, reqs)
        {
                if (!gw_upstream_ask(s, c, r->string, json_get_string(r, "method"),
                                     json_get_object(r, "params"))) {
                        gw_mrtr25_fail(c, JSONRPC_INTERNAL_ERROR,
                                       "too many requests open to this client");
                        return;
                }
                c->waiting++;
        }
        if (!c->waiting)
                mrtr25_retry(c); /* requestState only: come back at once */
}

void gw_mrtr25_answer(gw_call *c, const char *key, const cJSON *result, const cJSON *error)
{
        if (!result) {
                char msg[256];
                const char *m = json_get_string(error, "message");

                snprintf(msg, sizeof(msg), "the client refused the server's request: %.160s",
                         m ? m : "error");
                gw_mrtr25_fail(c, JSONRPC_INTERNAL_ERROR, msg);
                return;
        }
        json_set(c->answers, key, json_dup(result));
        if (c->waiting && --c->waiting == 0)
                mrtr25_retry(c);
}

static void on_call_response(void *ud, const cJSON *result, const cJSON *error)
{
        gw_call *c = ud;
        gateway_session *s = c->s;
        const char *unit_task = json_get_string(result, "taskId"); /* before SERVER__ */
        _cleanup_json_ cJSON *modern = NULL, *too_big = NULL, *tasks = NULL, *ext = NULL;

        if (s && result && c->retry_params &&
            streq(json_get_string(result, "resultType"), "input_required")) {
                /* The call goes on (its limits hold too) until the last round. */
                mrtr25_start(c, result);
                return;
        }
        if (s && result && c->task_ext && !c->task_ack && !c->task_stash &&
            gw_tasks_ext_terminal_needs_result(result) && json_get_string(result, "taskId")) {
                /* tasks/get of a finished task: the DetailedTask carries its
                 * result, so the unit's tasks/result is asked next. */
                cJSON *p = cJSON_CreateObject();

                cJSON_AddStringToObject(p, "taskId", json_get_string(result, "taskId"));
                c->task_stash = json_dup(result);
                call_send(c, c->client, "tasks/result", p, s->gw->timeout_ms);
                return;
        }
        gw_limits_done(c);
        if (c->probe && (result || !corral_error_of(error)))
                /* The server's own answer to a name it does not have. */
                gw_unlisted_learn(c->probe_gw, c->server, c->probe, result, error);
        if (result && c->cap_tool && (too_big = gw_limits_result_cap(c, result))) {
                result = NULL; /* refused whole (issue 15), never truncated */
                error = too_big;
        }
        if (c->rec_tool)
                call_record(c, result, error);

        if (c->mrtr)
                gw_mrtr_call_done(c, result, error);
        if (s && c->task_ns && result) {
                /* Task ids of the aggregate are SERVER__ID (tasks.c). */
                tasks = json_dup(result);
                gw_tasks_qualify(tasks, c->server);
                if (c->tasks_list)
                        gw_tasks_list_page(s, tasks, c->server);
                result = tasks;
        }
        if (s && c->task_stash) {
                /* The 2026-07-28 tasks extension (tasks_ext.c). */
                if (c->task_ns)
                        gw_tasks_qualify(c->task_stash, c->server);
                ext = gw_tasks_ext_detailed(c->task_stash, result, error);
                result = ext;
                error = NULL;
        } else if (s && c->task_ext && result) {
                ext = c->task_ack ? cJSON_CreateObject() : gw_tasks_ext_detailed(result, NULL, NULL);
                if (!c->task_ack)
                        gw_tasks_ext_inputs(s->gw, c->client, unit_task, ext);
                result = ext;
        } else if (s && c->modern && result && strcmp(c->method, "tools/call") == 0 &&
                   !mcp_client_modern(c->client) && (ext = gw_tasks_ext_created(result))) {
                result = ext;
        }
        if (s && c->modern && result) {
                /* A 2026-07-28 request: resultType and caching hints. */
                modern = json_dup(result);
                gw_modern_decorate(s, modern, c->method);
                result = modern;
        } else if (s && c->modern && error && strcmp(c->method, "resources/read") == 0 &&
                   cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(error, "code")) &&
                   cJSON_GetObjectItemCaseSensitive(error, "code")->valueint ==
                           MCP_RESOURCE_NOT_FOUND) {
                /* 2026-07-28 renumbered "resource not found" to -32602. */
                modern = json_dup(error);
                json_set(modern, "code", cJSON_CreateNumber(JSONRPC_INVALID_PARAMS));
                error = modern;
        }

        if (s) {
                _cleanup_json_ cJSON *out = NULL;
                if (result) {
                        out = json_dup(result);
                } else {
                        const cJSON *code;
                        const char *msg;

                        out = json_dup(error);
                        code = cJSON_GetObjectItemCaseSensitive(out, "code");
                        msg = json_get_string(out, "message");
                        /* corral's own errors (timeout, session closed, …) say
                         * which server they come from; the unit's errors pass
                         * through untouched. */
                        if (cJSON_IsNumber(code) && corral_code(code->valueint) && msg) {
                                _cleanup_free_ char *m =
                                        xasprintf("server '%s': %s", c->server, msg);
                                json_set(out, "message", cJSON_CreateString(m));
                        }
                }
                if (c->probe) {
                        /* A probe standing in for a hidden tool: the answer
                         * names the tool the client asked for. */
                        cJSON *named = gw_unlisted_answer(out, c->probe, c->probe_for);
                        cJSON_Delete(out);
                        out = named;
                }
                gw_send_raw(s, c->id, result ? "result" : "error", out);
                call_detach(c);
                gw_session_check_drained(s);
        }
        c->completed = true;
        if (!c->starting)
                call_free(c);
}

static void on_call_progress(void *ud, const cJSON *params)
{
        gw_call *c = ud;
        _cleanup_json_ cJSON *p = NULL, *n = NULL;

        if (!c->s || !c->progress_token)
                return;
        p = json_dup(params);
        json_set(p, "progressToken", json_dup(c->progress_token));
        n = jsonrpc_notification("notifications/progress", steal_pointer(&p));
        gw_send_msg(c->s, n, c->id, false);
}

/* Takes the client's progressToken and corral's timeout out of params._meta
 * (mcp_client puts its own token in).  Returns the token (owned) or NULL. */
static cJSON *take_meta(gateway *gw, cJSON *params, uint64_t *ret_timeout)
{
        cJSON *meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
        cJSON *token = NULL;
        const cJSON *t;

        *ret_timeout = gw->timeout_ms;
        if (!cJSON_IsObject(meta))
                return NULL;
        /* 2026-07-28 per-request metadata is for corral: units speak 2025. */
        for (cJSON *k = meta->child, *next; k; k = next) {
                next = k->next;
                if (k->string && strncmp(k->string, "io.modelcontextprotocol/", 24) == 0)
                        cJSON_DeleteItemFromObjectCaseSensitive(meta, k->string);
        }
        token = cJSON_DetachItemFromObjectCaseSensitive(meta, "progressToken");
        if (token && !jsonrpc_id_valid(token)) {
                cJSON_Delete(token);
                token = NULL;
        }
        t = cJSON_GetObjectItemCaseSensitive(meta, META_TIMEOUT_KEY);
        if (cJSON_IsNumber(t) && t->valuedouble >= 1) {
                double ms = t->valuedouble;
                *ret_timeout = ms > (double)GW_MAX_TIMEOUT_MS ? GW_MAX_TIMEOUT_MS : (uint64_t)ms;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(meta, META_TIMEOUT_KEY);
        if (!meta->child)
                cJSON_DeleteItemFromObjectCaseSensitive(params, "_meta");
        return token;
}

/* A request to a 2026-07-28 unit names the revision and carries the
 * capabilities of the client it is for (basic/index §_meta), so the unit asks
 * (input_required) only for what that client can give. */
static cJSON *modern_params(cJSON *params, const cJSON *caps, int lvl)
{
        cJSON *meta;

        if (!cJSON_IsObject(params)) {
                cJSON_Delete(params);
                params = cJSON_CreateObject();
        }
        meta = json_object_member(params, "_meta");
        json_set(meta, MCP_META_PROTOCOL_VERSION, cJSON_CreateString(MCP_PROTOCOL_MODERN));
        json_set(meta, MCP_META_CLIENT_CAPS,
                 cJSON_IsObject(caps) ? json_dup(caps) : cJSON_CreateObject());
        if (lvl >= 0)
                json_set(meta, META_LOG_LEVEL, cJSON_CreateString(gw_level_name(lvl)));
        return params;
}

/* probe set: a tools/call for that unlisted name standing in for the hidden
 * tool probe_for (unlisted.c): no limits, no call record (the refusal was
 * recorded), the answer learnt and shown with probe_for's name. */
static void forward(gateway_session *s, const cJSON *id, const char *server, mcp_client *client,
                    const char *method, cJSON *params, const char *probe, const char *probe_for)
{
        uint64_t timeout;
        const cJSON *caps = json_get_object(json_get_object(params, "_meta"), META_CLIENT_CAPS);
        _cleanup_json_ cJSON *modern_caps = s->cur_method && caps ? json_dup(caps) : NULL;
        const char *ll = json_get_string(json_get_object(params, "_meta"), META_LOG_LEVEL);
        int lvl = s->cur_method && ll ? gw_level_index(ll) : -1;
        cJSON *token = take_meta(s->gw, params, &timeout);
        bool tool_call = !probe && strcmp(method, "tools/call") == 0;
        const char *tool = json_get_string(params, "name");
        struct limit_hold *hold = NULL;
        gw_call *c;

        if (s->n_calls >= GW_MAX_INFLIGHT) {
                cJSON_Delete(token);
                cJSON_Delete(params);
                gw_reply_error(s, id, CORRAL_RPC_UNAVAILABLE, NULL,
                               "too many requests in flight on this session (limit %d)",
                               GW_MAX_INFLIGHT);
                return;
        }
        /* Rate limits (issue 15, limits.c): a refused call is answered there. */
        if (tool_call && !gw_limits_admit(s, id, server, tool, params, &hold)) {
                cJSON_Delete(token);
                cJSON_Delete(params);
                return;
        }
        c = xcalloc(1, sizeof(*c));
        c->s = s;
        c->id = json_dup(id);
        c->progress_token = token;
        c->server = xstrdup(server);
        c->client = client;
        if (probe) {
                c->probe_gw = s->gw;
                c->probe = xstrdup(probe);
                c->probe_for = xstrdup(probe_for);
        }
        if (tool_call && s->gw->limiter) {
                c->limiter = s->gw->limiter;
                c->limit_hold = hold;
                c->cap_tool = xstrdup(tool ? tool : "");
        }
        if (s->gw->observer && tool_call) {
                c->rec_gw = s->gw;
                c->rec_tool = xstrdup(tool ? tool : "");
                c->rec_user = s->user ? xstrdup(s->user) : NULL;
                c->rec_iface = s->iface;
                c->rec_start_ms = clock_ms(CLOCK_REALTIME);
                c->rec_start_mono = clock_ms(CLOCK_MONOTONIC);
                c->rec_req_bytes = json_len(params);
                if (s->gw->observer_args) {
                        const cJSON *a = cJSON_GetObjectItemCaseSensitive(params, "arguments");
                        c->rec_args = a ? json_dup(a) : NULL;
                }
        }
        if (s->cur_method) {
                const char *n = json_get_string(params, "name");
                c->modern = true;
                c->method = xstrdup(s->cur_method);
                c->name = xstrdup(n ? n : json_get_string(params, "uri") ? json_get_string(params, "uri") : "");
                c->caps = modern_caps ? steal_pointer(&modern_caps) : cJSON_CreateObject();
                /* MRTR fields of a retry are corral's, not a 2025 unit's; a
                 * 2026-07-28 unit minted them itself. */
                if (!mcp_client_modern(client)) {
                        cJSON_DeleteItemFromObjectCaseSensitive(params, "inputResponses");
                        cJSON_DeleteItemFromObjectCaseSensitive(params, "requestState");
                }
        }
        if (mcp_client_modern(client)) {
                params = modern_params(params, c->modern ? c->caps : s->client_caps,
                                       c->log_level);
                if (!c->modern) {
                        /* A 2025 client: the unit's input_required is asked
                         * of it and the request sent again (mrtr25_start). */
                        c->retry_method = xstrdup(method);
                        c->retry_params = json_dup(params);
                }
        }
        c->log_level = lvl;
        c->task_ns = !s->scope;
        c->tasks_list = !s->scope && strcmp(method, "tasks/list") == 0;
        if (c->modern && !mcp_client_modern(client) && strncmp(method, "tasks/", 6) == 0) {
                c->task_ext = true;
                c->task_ack = s->ext_update || strcmp(method, "tasks/cancel") == 0;
        }
        if (!s->cur_method)
                gw_upstream_touch(s->gw, server, s);
        c->next = s->calls;
        if (s->calls)
                s->calls->prev = c;
        s->calls = c;
        s->n_calls++;

        call_send(c, client, method, params, timeout);
}

void gw_forward(gateway_session *s, const cJSON *id, const char *server, mcp_client *client,
                const char *method, cJSON *params)
{
        forward(s, id, server, client, method, params, NULL, NULL);
}

void gw_forward_probe(gateway_session *s, const cJSON *id, const char *server, mcp_client *client,
                      cJSON *params, const char *probe, const char *probe_for)
{
        forward(s, id, server, client, "tools/call", params, probe, probe_for);
}

void gw_cancel_call(gw_call *c, const char *reason)
{
        /* Detach first: per MCP cancellation the client gets no answer for a
         * request it cancelled, and a departed client none at all. */
        if (c->s)
                gw_upstream_call_cancelled(c->s, c, reason);
        call_detach(c);
        if (c->parked25) {
                /* Between rounds nothing is in flight at the unit. */
                call_free(c);
                return;
        }
        if (c->handle)
                mcp_client_cancel(c->client, c->handle, reason);
}
