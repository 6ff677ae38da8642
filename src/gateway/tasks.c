/* MCP 2025-11-25 tasks (basic/utilities/tasks, experimental) on the
 * aggregate: task ids are namespaced per unit, SERVER__ID, as tool names
 * are, so tasks/get, tasks/result and tasks/cancel find their server and
 * two servers' ids never collide.  tasks/list walks the units that list
 * tasks one after the other: its cursor names the unit and that unit's own
 * cursor.  A single-server session (/servers/NAME/mcp) passes tasks through
 * unchanged (methods.c); 2026-07-28 requests get -32601 (modern.c). */
#include <stdlib.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "gateway/internal.h"

#define RELATED_TASK "io.modelcontextprotocol/related-task"
#define TASKS_CURSOR_MAX 4096

/* caps into into (both objects): what either has; objects merged. */
static void merge(cJSON *into, const cJSON *caps)
{
        const cJSON *k;

        cJSON_ArrayForEach(k, caps)
        {
                cJSON *have;

                if (!k->string)
                        continue;
                have = cJSON_GetObjectItemCaseSensitive(into, k->string);
                if (!have)
                        cJSON_AddItemToObject(into, k->string, json_dup(k));
                else if (cJSON_IsObject(have) && cJSON_IsObject(k))
                        merge(have, k);
        }
}

/* The session s's tasks on u live on: the caller's own to a per-user server
 * (issue 15, usessions.c; one not open has none), else the unit's. */
static mcp_client *tasks_client(gateway_session *s, unit *u)
{
        int64_t uid;

        if (gw_usession_hides(s, u))
                return (uid = gw_session_uid(s)) >= 0 ? unit_user_ready_client(u, (uid_t)uid)
                                                      : NULL;
        return unit_get_state(u) == UNIT_READY ? unit_client(u) : NULL;
}

static bool tasks_ready(gateway_session *s, unit *u, const char *what)
{
        mcp_client *c = tasks_client(s, u);
        const cJSON *t = json_get_object(mcp_client_server_capabilities(c), "tasks");

        if (!t || !gw_session_sees(s, u))
                return false;
        return !what || cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(t, what));
}

cJSON *gw_tasks_capability(gateway_session *s)
{
        unit *const *units;
        size_t n = s->gw && s->gw->sv ? supervisor_units(s->gw->sv, &units) : 0;
        cJSON *r = NULL;

        for (size_t i = 0; i < n; i++) {
                if (!tasks_ready(s, units[i], NULL))
                        continue;
                if (!r)
                        r = cJSON_CreateObject();
                merge(r, json_get_object(mcp_client_server_capabilities(tasks_client(s, units[i])),
                                         "tasks"));
        }
        return r;
}

static void qualify_id(cJSON *o, const char *server)
{
        const char *id = json_get_string(o, "taskId");

        if (id) {
                _cleanup_free_ char *q = gateway_qualify(server, id);
                json_set(o, "taskId", cJSON_CreateString(q));
        }
}

void gw_tasks_qualify(cJSON *r, const char *server)
{
        cJSON *t;

        if (!cJSON_IsObject(r))
                return;
        qualify_id(r, server); /* tasks/get, tasks/cancel, notifications/tasks/status */
        t = cJSON_GetObjectItemCaseSensitive(r, "task"); /* CreateTaskResult */
        if (cJSON_IsObject(t))
                qualify_id(t, server);
        t = cJSON_GetObjectItemCaseSensitive(r, "tasks"); /* tasks/list */
        if (cJSON_IsArray(t)) {
                cJSON *e;
                cJSON_ArrayForEach(e, t) qualify_id(e, server);
        }
        t = cJSON_GetObjectItemCaseSensitive(json_get_object(r, "_meta"), RELATED_TASK);
        if (cJSON_IsObject(t))
                qualify_id(t, server); /* tasks/result */
}

/* The unit after `after` (NULL: the first) that lists tasks for s. */
static unit *next_lister(gateway_session *s, const char *after)
{
        unit *const *units;
        size_t n = s->gw && s->gw->sv ? supervisor_units(s->gw->sv, &units) : 0;
        bool passed = after == NULL;

        for (size_t i = 0; i < n; i++) {
                if (!passed) {
                        passed = strcmp(unit_name(units[i]), after) == 0;
                        continue;
                }
                if (tasks_ready(s, units[i], "list"))
                        return units[i];
        }
        return NULL;
}

void gw_tasks_list_page(gateway_session *s, cJSON *r, const char *server)
{
        const char *nc = json_get_string(r, "nextCursor");
        unit *next;

        if (nc && strlen(nc) < TASKS_CURSOR_MAX) {
                _cleanup_free_ char *local = xasprintf("c%s", nc);
                _cleanup_free_ char *q = gateway_qualify(server, local);
                json_set(r, "nextCursor", cJSON_CreateString(q));
                return;
        }
        next = s ? next_lister(s, server) : NULL;
        if (next) {
                _cleanup_free_ char *q = gateway_qualify(unit_name(next), "s");
                json_set(r, "nextCursor", cJSON_CreateString(q));
        } else {
                cJSON_DeleteItemFromObjectCaseSensitive(r, "nextCursor");
        }
}

static void tasks_list(gateway_session *s, const cJSON *id, const cJSON *params)
{
        const char *cursor = json_get_string(params, "cursor");
        _cleanup_free_ char *server = NULL, *local = NULL;
        cJSON *fwd;
        unit *u;

        if (cursor) {
                if (!gateway_split(cursor, &server, &local) ||
                    (local[0] != 'c' && local[0] != 's') ||
                    !(u = s->gw->sv ? supervisor_find(s->gw->sv, server) : NULL) ||
                    !tasks_ready(s, u, "list")) {
                        gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                                       "invalid params: unknown cursor");
                        return;
                }
        } else if (!(u = next_lister(s, NULL))) {
                cJSON *r = cJSON_CreateObject();
                cJSON_AddArrayToObject(r, "tasks");
                gw_reply_result(s, id, r);
                return;
        }
        fwd = params ? json_dup(params) : cJSON_CreateObject();
        if (local && local[0] == 'c')
                json_set(fwd, "cursor", cJSON_CreateString(local + 1));
        else
                cJSON_DeleteItemFromObjectCaseSensitive(fwd, "cursor");
        gw_forward(s, id, unit_name(u), tasks_client(s, u), "tasks/list", fwd);
}

void gw_tasks_handle(gateway_session *s, const cJSON *id, const char *method,
                     const cJSON *params)
{
        const char *task = json_get_string(params, "taskId");
        _cleanup_free_ char *server = NULL, *local = NULL;
        cJSON *fwd;
        unit *u;

        if (strcmp(method, "tasks/list") == 0) {
                tasks_list(s, id, params);
                return;
        }
        if (strcmp(method, "tasks/get") != 0 && strcmp(method, "tasks/result") != 0 &&
            strcmp(method, "tasks/cancel") != 0) {
                gw_reply_error(s, id, JSONRPC_METHOD_NOT_FOUND, NULL, "method not found: '%s'",
                               method);
                return;
        }
        /* An id of a server the caller cannot see reads as unknown. */
        if (!task || !gateway_split(task, &server, &local) ||
            !(u = s->gw->sv ? supervisor_find(s->gw->sv, server) : NULL) ||
            !tasks_ready(s, u, NULL)) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: unknown task '%.200s': task ids are SERVER__ID",
                               task ? task : "");
                return;
        }
        fwd = json_dup(params);
        json_set(fwd, "taskId", cJSON_CreateString(local));
        gw_forward(s, id, server, tasks_client(s, u), method, fwd);
}
