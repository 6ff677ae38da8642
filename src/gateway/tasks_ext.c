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

static void tinput_answer(gateway *gw, mcp_client *c, const char *task, const cJSON *answers);

static bool streq_status(const cJSON *task, const char *status)
{
        const char *st = json_get_string(task, "status");

        return st && strcmp(st, status) == 0;
}

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
                cJSON_AddObjectToObject(r, "inputRequests"); /* filled by gw_tasks_ext_inputs */
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
                /* The answers go to the unit's requests; a known task is
                 * acknowledged. */
                tinput_answer(s->gw, c, local, json_get_object(params, "inputResponses"));
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


/* ---- input a 2025 unit asks for during a task ----
 *
 * 2025-11-25 delivers a task's requests (elicitation/create, …, tagged with
 * io.modelcontextprotocol/related-task) on the requester's tasks/result.
 * Once a 2026-07-28 client's tasks/get shows a task input_required, corral
 * opens that tasks/result itself and keeps the unit's requests for the task
 * under keys of its own; tasks/get lists them as inputRequests, tasks/update
 * answers them under the unit's ids.  The tasks/result ends with the task. */

#define RELATED_TASK_KEY "io.modelcontextprotocol/related-task"

typedef struct {
        char key[24];
        uint64_t handle;
        cJSON *request; /* {method, params} */
} tinput_pending;

struct gw_tinput {
        gateway *gw; /* NULL once the gateway is gone */
        mcp_client *client;
        char *task; /* the unit's own id */
        tinput_pending pending[GW_TINPUT_PENDING];
        size_t n_pending;
        unsigned next_key;
        struct gw_tinput *next;
};

static struct gw_tinput *tinput_find(gateway *gw, const mcp_client *c, const char *task)
{
        for (struct gw_tinput *t = gw->tinputs; t; t = t->next)
                if (t->client == c && strcmp(t->task, task) == 0)
                        return t;
        return NULL;
}

static void tinput_drop(struct gw_tinput *t, size_t i)
{
        cJSON_Delete(t->pending[i].request);
        t->pending[i] = t->pending[--t->n_pending];
}

static void on_tinput_result(void *ud, const cJSON *result, const cJSON *error)
{
        struct gw_tinput *t = ud;

        if (t->gw) {
                for (struct gw_tinput **pp = &t->gw->tinputs; *pp; pp = &(*pp)->next)
                        if (*pp == t) {
                                *pp = t->next;
                                break;
                        }
        }
        /* The task ended: its requests were answered or are moot. */
        while (t->n_pending)
                tinput_drop(t, t->n_pending - 1);
        free(t->task);
        free(t);
}

static size_t n_tinputs(const gateway *gw)
{
        size_t n = 0;

        for (const struct gw_tinput *t = gw->tinputs; t; t = t->next)
                n++;
        return n;
}

void gw_tasks_ext_inputs(gateway *gw, mcp_client *c, const char *task, cJSON *detailed)
{
        struct gw_tinput *t;
        cJSON *reqs, *p;

        if (!c || !task || !streq_status(detailed, "input_required"))
                return;
        t = tinput_find(gw, c, task);
        if (!t) {
                if (n_tinputs(gw) >= GW_MAX_TINPUTS)
                        return;
                t = xcalloc(1, sizeof(*t));
                t->gw = gw;
                t->client = c;
                t->task = xstrdup(task);
                t->next = gw->tinputs;
                gw->tinputs = t;
                p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "taskId", task);
                /* No timeout: the task's own ttl bounds it.  On a transport
                 * failure on_tinput_result has run (and freed t). */
                if (!mcp_client_request(c, "tasks/result", p, 0, NULL, on_tinput_result, t))
                        return;
        }
        reqs = json_object_member(detailed, "inputRequests");
        for (size_t i = 0; i < t->n_pending; i++)
                json_set(reqs, t->pending[i].key, json_dup(t->pending[i].request));
}

bool gw_tasks_ext_server_request(gateway *gw, mcp_client *c, uint64_t handle,
                                 const char *method, const cJSON *params)
{
        const cJSON *rel = json_get_object(json_get_object(params, "_meta"), RELATED_TASK_KEY);
        const char *task = json_get_string(rel, "taskId");
        struct gw_tinput *t = task ? tinput_find(gw, c, task) : NULL;
        tinput_pending *p;
        cJSON *q;

        if (!t)
                return false;
        if (t->n_pending >= GW_TINPUT_PENDING) {
                _cleanup_json_ cJSON *e = cJSON_CreateObject();

                cJSON_AddNumberToObject(e, "code", JSONRPC_INTERNAL_ERROR);
                cJSON_AddStringToObject(e, "message", "too many requests open for this task");
                (void)mcp_client_respond(c, handle, NULL, e);
                return true;
        }
        p = &t->pending[t->n_pending++];
        snprintf(p->key, sizeof(p->key), "corral-%u", ++t->next_key);
        p->handle = handle;
        p->request = cJSON_CreateObject();
        cJSON_AddStringToObject(p->request, "method", method);
        q = cJSON_IsObject(params) ? json_dup(params) : cJSON_CreateObject();
        cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(q, "_meta"),
                                                RELATED_TASK_KEY);
        cJSON_AddItemToObject(p->request, "params", q);
        return true;
}

bool gw_tasks_ext_server_cancelled(gateway *gw, const mcp_client *c, uint64_t handle)
{
        for (struct gw_tinput *t = gw->tinputs; t; t = t->next)
                for (size_t i = 0; t->client == c && i < t->n_pending; i++)
                        if (t->pending[i].handle == handle) {
                                tinput_drop(t, i);
                                return true;
                        }
        return false;
}

/* tasks/update's inputResponses to the unit, under its own ids; keys not
 * outstanding are ignored (the extension says so). */
static void tinput_answer(gateway *gw, mcp_client *c, const char *task, const cJSON *answers)
{
        struct gw_tinput *t = tinput_find(gw, c, task);

        for (size_t i = 0; t && i < t->n_pending;) {
                const cJSON *a = json_get_object(answers, t->pending[i].key);

                if (!a) {
                        i++;
                        continue;
                }
                (void)mcp_client_respond(c, t->pending[i].handle, a, NULL);
                tinput_drop(t, i);
        }
}

void gw_tasks_ext_free_all(gateway *gw)
{
        while (gw->tfetches) {
                struct gw_tfetch *f = gw->tfetches;
                gw->tfetches = f->next;
                f->gw = NULL;
                f->next = NULL;
        }
        while (gw->tinputs) {
                struct gw_tinput *t = gw->tinputs;
                gw->tinputs = t->next;
                t->gw = NULL;
                t->next = NULL;
        }
}
