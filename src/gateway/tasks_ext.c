/* The MCP 2026-07-28 tasks extension (io.modelcontextprotocol/tasks,
 * SEP-2663) served to 2026-07-28 requests in front of units that speak the
 * 2025-11-25 experimental tasks (tasks.c):
 *
 * - tools/call of a tool whose execution.taskSupport is "required" or
 *   "optional", from a request whose clientCapabilities declare the
 *   extension, goes to the unit task-augmented (params.task); its
 *   CreateTaskResult {task} is answered as resultType "task" with the
 *   task's fields inline (ttl → ttlMs, pollInterval → pollIntervalMs).  A
 *   "required" tool called without the extension is -32021.
 * - tasks/get asks the unit's tasks/get and, for a completed or failed
 *   task, its tasks/result, and answers the DetailedTask (result or error
 *   inline); tasks/update is acknowledged once the task is known (corral
 *   never puts inputRequests in a task, so every response is for a key
 *   that is not outstanding, which the extension says to ignore);
 *   tasks/cancel is the unit's tasks/cancel, acknowledged empty.
 * - A unit's notifications/tasks/status reach the subscriptions/listen
 *   streams whose taskIds name the task, as notifications/tasks with the
 *   DetailedTask (modern.c).
 *
 * Task ids are the aggregate's SERVER__ID (tasks.c) or, on
 * /servers/NAME/mcp, the server's own. */
#include <stdlib.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "corral/supervisor.h"
#include "gateway/internal.h"

bool gw_tasks_ext_declared(const cJSON *caps)
{
        return cJSON_IsObject(
                cJSON_GetObjectItemCaseSensitive(json_get_object(caps, "extensions"), TASKS_EXT));
}

void gw_tasks_ext_missing(gateway_session *s, const cJSON *id, const char *what)
{
        cJSON *data = cJSON_CreateObject();
        cJSON *req = cJSON_AddObjectToObject(data, "requiredCapabilities");

        cJSON_AddObjectToObject(cJSON_AddObjectToObject(req, "extensions"), TASKS_EXT);
        gw_reply_error(s, id, MCP_MISSING_CLIENT_CAPABILITY, data,
                       "missing required client capability: %s needs the %s extension", what,
                       TASKS_EXT);
}

static const char *task_support(const unit *u, const char *tool)
{
        const cJSON *item;

        cJSON_ArrayForEach(item, unit_tools(u))
        {
                const char *n = json_get_string(item, "name");

                if (n && strcmp(n, tool) == 0)
                        return json_get_string(json_get_object(item, "execution"), "taskSupport");
        }
        return NULL;
}

bool gw_tasks_ext_call(gateway_session *s, const cJSON *id, unit *u, const char *tool,
                       cJSON *fwd)
{
        const char *support = task_support(u, tool);
        const cJSON *caps = json_get_object(json_get_object(fwd, "_meta"), META_CLIENT_CAPS);
        mcp_client *c = unit_client(u);

        if (!support || strcmp(support, "forbidden") == 0 || (c && mcp_client_modern(c)))
                return true; /* a 2026-07-28 unit decides itself */
        if (!gw_tasks_ext_declared(caps)) {
                if (strcmp(support, "required") != 0)
                        return true;
                gw_tasks_ext_missing(s, id, "this tool");
                return false;
        }
        if (!cJSON_HasObjectItem(fwd, "task"))
                cJSON_AddObjectToObject(fwd, "task");
        return true;
}

/* The 2025 Task fields of t into r under their 2026-07-28 names. */
static void task_fields(cJSON *r, const cJSON *t)
{
        const cJSON *k;

        cJSON_ArrayForEach(k, t)
        {
                const char *name = k->string;

                if (!name || strcmp(name, "_meta") == 0 || strcmp(name, "resultType") == 0)
                        continue;
                if (strcmp(name, "ttl") == 0)
                        name = "ttlMs";
                else if (strcmp(name, "pollInterval") == 0)
                        name = "pollIntervalMs";
                json_set(r, name, json_dup(k));
        }
        if (!cJSON_HasObjectItem(r, "ttlMs"))
                cJSON_AddNullToObject(r, "ttlMs");
}

cJSON *gw_tasks_ext_created(const cJSON *result)
{
        const cJSON *t = json_get_object(result, "task");
        cJSON *r;

        if (!t || !json_get_string(t, "taskId"))
                return NULL;
        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "resultType", "task");
        task_fields(r, t);
        return r;
}

bool gw_tasks_ext_terminal_needs_result(const cJSON *task)
{
        const char *st = json_get_string(task, "status");

        return st && (strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0);
}

cJSON *gw_tasks_ext_detailed(const cJSON *task, const cJSON *result, const cJSON *error)
{
        cJSON *r = cJSON_CreateObject();
        const char *st = json_get_string(task, "status");

        task_fields(r, task);
        if (st && strcmp(st, "input_required") == 0 && !cJSON_HasObjectItem(r, "inputRequests"))
                cJSON_AddObjectToObject(r, "inputRequests"); /* not relayed (README) */
        if (!st || (!result && !error))
                return r;
        if (strcmp(st, "completed") == 0 && result) {
                cJSON *res = json_dup(result);

                cJSON_DeleteItemFromObjectCaseSensitive(res, "_meta");
                cJSON_AddItemToObject(r, "result", res);
        } else if (strcmp(st, "completed") == 0) {
                /* The unit says completed but cannot give the result. */
                json_set(r, "status", cJSON_CreateString("failed"));
                cJSON_AddItemToObject(r, "error", json_dup(error));
        } else if (strcmp(st, "failed") == 0) {
                cJSON *e;

                if (error) {
                        e = json_dup(error);
                } else {
                        /* A 2025 unit stores a failed tool's result; the
                         * extension wants the JSON-RPC error. */
                        const char *m = json_get_string(task, "statusMessage");

                        e = cJSON_CreateObject();
                        cJSON_AddNumberToObject(e, "code", JSONRPC_INTERNAL_ERROR);
                        cJSON_AddStringToObject(e, "message", m ? m : "the task failed");
                        cJSON_AddItemToObject(cJSON_AddObjectToObject(e, "data"), "result",
                                              json_dup(result));
                }
                cJSON_AddItemToObject(r, "error", e);
        }
        return r;
}

void gw_tasks_ext_handle(gateway_session *s, const cJSON *id, const char *method,
                         const cJSON *params)
{
        const char *task = json_get_string(params, "taskId");
        const cJSON *caps = json_get_object(json_get_object(params, "_meta"), META_CLIENT_CAPS);
        _cleanup_free_ char *server = NULL, *local = NULL;
        unit *u = NULL;
        mcp_client *c;
        cJSON *fwd;

        if (!gw_tasks_ext_declared(caps)) {
                gw_tasks_ext_missing(s, id, method);
                return;
        }
        if (task && s->scope) {
                server = xstrdup(s->scope);
                local = xstrdup(task);
        } else if (task && !gateway_split(task, &server, &local)) {
                task = NULL;
        }
        if (task && s->gw->sv)
                u = supervisor_find(s->gw->sv, server);
        c = u && gw_session_sees(s, u) && unit_get_state(u) == UNIT_READY ? unit_client(u) : NULL;
        if (!c || (!mcp_client_modern(c) &&
                   !json_get_object(mcp_client_server_capabilities(c), "tasks"))) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: unknown task '%.200s'%s", task ? task : "",
                               s->scope ? "" : ": task ids are SERVER__ID");
                return;
        }
        if (strcmp(method, "tasks/update") == 0 && !mcp_client_modern(c)) {
                /* Known task: acknowledged (the file comment says why). */
                method = "tasks/get";
                s->ext_update = true;
        }
        fwd = json_dup(params);
        json_set(fwd, "taskId", cJSON_CreateString(local));
        gw_forward(s, id, server, c, method, fwd);
        s->ext_update = false;
}

/* A finished task's result being fetched for listen streams. */
struct gw_tfetch {
        gateway *gw; /* NULL once the gateway is gone */
        char *server;
        cJSON *task;
        struct gw_tfetch *next;
};

static void tfetch_unlink(struct gw_tfetch *f)
{
        for (struct gw_tfetch **pp = &f->gw->tfetches; *pp; pp = &(*pp)->next)
                if (*pp == f) {
                        *pp = f->next;
                        return;
                }
}

static void on_task_result(void *ud, const cJSON *result, const cJSON *error)
{
        struct gw_tfetch *f = ud;
        unit *u;

        if (f->gw) {
                tfetch_unlink(f);
                u = f->gw->sv ? supervisor_find(f->gw->sv, f->server) : NULL;
                if (u) {
                        _cleanup_json_ cJSON *d = gw_tasks_ext_detailed(f->task, result, error);
                        gw_listen_task(f->gw, u, json_get_string(f->task, "taskId"), d);
                }
        }
        free(f->server);
        cJSON_Delete(f->task);
        free(f);
}

void gw_tasks_ext_status(gateway *gw, unit *u, const cJSON *params)
{
        const char *task = json_get_string(params, "taskId");
        mcp_client *c = unit_client(u);
        struct gw_tfetch *f;
        cJSON *p;

        if (!task || !c || mcp_client_modern(c) || !gw_listen_wants_task(gw, u, task))
                return;
        if (!gw_tasks_ext_terminal_needs_result(params)) {
                _cleanup_json_ cJSON *d = gw_tasks_ext_detailed(params, NULL, NULL);
                gw_listen_task(gw, u, task, d);
                return;
        }
        f = xcalloc(1, sizeof(*f));
        f->gw = gw;
        f->server = xstrdup(unit_name(u));
        f->task = json_dup(params);
        f->next = gw->tfetches;
        gw->tfetches = f;
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "taskId", task);
        /* On a transport failure on_task_result has run already. */
        (void)mcp_client_request(c, "tasks/result", p, gw->timeout_ms, NULL, on_task_result, f);
}

void gw_tasks_ext_free_all(gateway *gw)
{
        while (gw->tfetches) {
                struct gw_tfetch *f = gw->tfetches;
                gw->tfetches = f->next;
                f->gw = NULL;
                f->next = NULL;
        }
}
