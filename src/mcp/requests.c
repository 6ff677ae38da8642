/* Requests from the server to the client (MCP 2025-11-25 client/{sampling,
 * elicitation,roots}, basic/utilities/{cancellation,ping}).  ping is answered
 * here; everything else goes to the owner's handler, which answers later
 * with mcp_client_respond().  Each open request is an `incoming` holding the
 * server's own id, so the owner only sees handles; notifications/cancelled
 * from the server and the session's end are reported to the owner so it can
 * stop whatever it started for the request. */
#include <stdlib.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "mcp/internal.h"

struct incoming {
        struct incoming *prev, *next;
        uint64_t handle;
        cJSON *id; /* the server's id */
};

void mcp_client_set_requests(mcp_client *c, const mcp_client_requests *rq, void *ud,
                             const cJSON *capabilities)
{
        if (!c)
                return;
        if (rq)
                c->rq = *rq;
        else
                memset(&c->rq, 0, sizeof(c->rq));
        c->rq_ud = ud;
        cJSON_Delete(c->declared);
        c->declared = capabilities ? json_dup(capabilities) : NULL;
}

static void in_unlink(mcp_client *c, struct incoming *in)
{
        if (in->prev)
                in->prev->next = in->next;
        else
                c->in_head = in->next;
        if (in->next)
                in->next->prev = in->prev;
        c->n_in--;
}

static void in_free(struct incoming *in)
{
        cJSON_Delete(in->id);
        free(in);
}

static void answer_default(mcp_client *c, const cJSON *id, const char *method)
{
        cJSON *reply;

        if (strcmp(method, "ping") == 0) {
                reply = jsonrpc_result(id, cJSON_CreateObject());
        } else if (strcmp(method, "roots/list") == 0 && !c->rq.on_request) {
                cJSON *r = cJSON_CreateObject();
                cJSON_AddArrayToObject(r, "roots");
                reply = jsonrpc_result(id, r);
        } else {
                log_debug("mcp: declining server request %s", method);
                reply = jsonrpc_error(id, JSONRPC_METHOD_NOT_FOUND,
                                      "method not supported by corral", NULL);
        }
        (void)mcpc_send(c, reply);
}

void mcpc_server_request(mcp_client *c, const cJSON *msg)
{
        const char *method = json_get_string(msg, "method");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
        struct incoming *in;

        if (!c->rq.on_request || strcmp(method, "ping") == 0) {
                answer_default(c, id, method);
                return;
        }
        if (c->n_in >= MCP_MAX_SERVER_REQUESTS) {
                (void)mcpc_send(c, jsonrpc_error(id, JSONRPC_INTERNAL_ERROR,
                                                 "too many requests to the client in flight",
                                                 NULL));
                return;
        }
        in = xcalloc(1, sizeof(*in));
        in->handle = ++c->next_in;
        in->id = json_dup(id);
        in->next = c->in_head;
        if (c->in_head)
                c->in_head->prev = in;
        c->in_head = in;
        c->n_in++;
        c->rq.on_request(c->rq_ud, c, in->handle, method,
                         cJSON_GetObjectItemCaseSensitive(msg, "params"));
}

void mcpc_server_cancelled(mcp_client *c, const cJSON *params)
{
        const cJSON *rid = cJSON_GetObjectItemCaseSensitive(params, "requestId");
        const char *reason = json_get_string(params, "reason");

        for (struct incoming *in = c->in_head; in; in = in->next)
                if (jsonrpc_id_equal(in->id, rid)) {
                        uint64_t h = in->handle;
                        in_unlink(c, in);
                        in_free(in);
                        if (c->rq.on_cancelled)
                                c->rq.on_cancelled(c->rq_ud, c, h, reason);
                        return;
                }
}

void mcpc_server_requests_drop(mcp_client *c)
{
        while (c->in_head) {
                struct incoming *in = c->in_head;
                uint64_t h = in->handle;

                in_unlink(c, in);
                in_free(in);
                if (c->rq.on_cancelled)
                        c->rq.on_cancelled(c->rq_ud, c, h, "session closed");
        }
}

int mcp_client_respond(mcp_client *c, uint64_t handle, const cJSON *result, const cJSON *error)
{
        struct incoming *in;
        cJSON *reply;
        int r;

        if (!c || c->dead)
                return -1;
        for (in = c->in_head; in && in->handle != handle; in = in->next)
                ;
        if (!in)
                return -1;
        in_unlink(c, in);
        if (result) {
                reply = jsonrpc_result(in->id, json_dup(result));
        } else {
                const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
                const char *msg = json_get_string(error, "message");
                const cJSON *data = cJSON_GetObjectItemCaseSensitive(error, "data");

                reply = jsonrpc_error(in->id, cJSON_IsNumber(code) ? code->valueint
                                                                   : JSONRPC_INTERNAL_ERROR,
                                      msg ? msg : "error", data ? json_dup(data) : NULL);
        }
        in_free(in);
        mcpc_enter(c);
        r = mcpc_send(c, reply);
        (void)mcpc_leave(c);
        return r;
}
