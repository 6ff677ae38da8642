/* remote_probe() (include/corral/remote.h): one MCP client session to a
 * remote server on a private libuv loop, for the CLI. */
#include <string.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/mcp_client.h"
#include "corral/remote.h"

typedef struct probe {
        uv_loop_t loop;
        http_client *hc;
        remote_session *s;
        mcp_client *c;
        remote_probe_result *res;
        unsigned timeout_ms;
        bool list_tools;
        const char *call_tool;
        const char *call_args;
        bool done;
        bool ended;
        int r;
        corral_error *err;
} probe;

static void finish(probe *p, int r)
{
        if (p->done)
                return;
        p->done = true;
        p->r = r;
        uv_stop(&p->loop);
}

static int probe_send(void *ud, const char *data, size_t len)
{
        probe *p = ud;

        while (len > 0 && data[len - 1] == '\n')
                len--;
        return remote_session_send(p->s, data, len);
}

static void on_message(void *ud, const char *json, size_t len)
{
        probe *p = ud;
        _cleanup_free_ char *framed = xmalloc(len + 1);

        memcpy(framed, json, len);
        framed[len] = '\n';
        if (p->c)
                mcp_client_feed(p->c, framed, len + 1);
}

static void on_end(void *ud, remote_end why, const char *reason)
{
        probe *p = ud;

        p->ended = true;
        p->res->end = why;
        if (p->done)
                return;
        if (why == REMOTE_END_AUTH) {
                const char *c = remote_session_challenge(p->s);
                p->res->challenge = c ? xstrdup(c) : NULL;
                finish(p, corral_error_set(p->err, EX_NOPERM, "%s", reason));
        } else if (why == REMOTE_END_FAILED && strstr(reason, "answered HTTP 5") == NULL &&
                   strstr(reason, "cannot reach") == NULL) {
                /* Answers that are not MCP (HTML, a broken stream). */
                finish(p, corral_error_set(p->err, EX_PROTOCOL, "not an MCP server: %s", reason));
        } else {
                finish(p, corral_error_set(p->err, EX_UNAVAILABLE, "%s", reason));
        }
}

static const remote_ops ops = {.on_message = on_message, .on_end = on_end};

static void on_fault(void *ud, mcp_fault kind, const char *why)
{
        probe *p = ud;

        finish(p, corral_error_set(p->err, EX_PROTOCOL, "not an MCP server: it %s", why));
}

static const mcp_client_ops client_ops = {.send = probe_send, .on_fault = on_fault};

static int rpc_error(probe *p, const cJSON *error, const char *what)
{
        const char *msg = json_get_string(error, "message");
        int code = (int)json_get_number(error, "code", 0);

        if (p->done)
                return p->r;
        return corral_error_set(p->err,
                                code == CORRAL_RPC_TIMEOUT ? EX_UNAVAILABLE : EX_PROTOCOL,
                                "%s failed: %s", what, msg ? msg : "error");
}

static void on_called(void *ud, const cJSON *result, const cJSON *error)
{
        probe *p = ud;

        if (p->done)
                return;
        p->res->call = json_dup(result ? result : error);
        p->res->call_failed = error != NULL;
        finish(p, 0);
}

static void call_tool(probe *p)
{
        cJSON *params = cJSON_CreateObject();
        cJSON *args = cJSON_Parse(p->call_args ? p->call_args : "{}");

        if (!cJSON_IsObject(args)) {
                cJSON_Delete(args);
                cJSON_Delete(params);
                finish(p, corral_error_set(p->err, EX_USAGE,
                                           "the tool's arguments must be a JSON object"));
                return;
        }
        cJSON_AddStringToObject(params, "name", p->call_tool);
        cJSON_AddItemToObject(params, "arguments", args);
        (void)mcp_client_request(p->c, "tools/call", params, p->timeout_ms, NULL, on_called, p);
}

static void on_tools(void *ud, const cJSON *result, const cJSON *error)
{
        probe *p = ud;

        if (p->done)
                return;
        if (error) {
                finish(p, rpc_error(p, error, "tools/list"));
                return;
        }
        p->res->tools = json_dup(json_get_array(result, "tools"));
        if (p->call_tool)
                call_tool(p);
        else
                finish(p, 0);
}

static void on_init(void *ud, const cJSON *result, const cJSON *error)
{
        probe *p = ud;
        const cJSON *info;

        if (p->done)
                return;
        if (error) {
                finish(p, rpc_error(p, error, "initialize"));
                return;
        }
        info = mcp_client_server_info(p->c);
        p->res->server_name = json_get_string(info, "name")
                                      ? xstrdup(json_get_string(info, "name"))
                                      : NULL;
        p->res->server_version = json_get_string(info, "version")
                                         ? xstrdup(json_get_string(info, "version"))
                                         : NULL;
        p->res->protocol_version = xstrdup(mcp_client_protocol_version(p->c));
        p->res->transport = xstrdup(remote_session_transport(p->s));
        p->res->capabilities = json_dup(mcp_client_server_capabilities(p->c));
        if (p->list_tools)
                (void)mcp_client_list_all(p->c, "tools/list", "tools", p->timeout_ms, on_tools, p);
        else if (p->call_tool)
                call_tool(p);
        else
                finish(p, 0);
}

void remote_probe_result_done(remote_probe_result *r)
{
        free(r->server_name);
        free(r->server_version);
        free(r->protocol_version);
        free(r->transport);
        free(r->challenge);
        cJSON_Delete(r->capabilities);
        cJSON_Delete(r->tools);
        cJSON_Delete(r->call);
        memset(r, 0, sizeof(*r));
}

int remote_probe(const remote_config *cfg, unsigned timeout_ms, bool list_tools,
                 const char *call_tool_name, const char *call_args, remote_probe_result *ret,
                 corral_error *err)
{
        probe p = {0};
        int r;

        memset(ret, 0, sizeof(*ret));
        p.res = ret;
        p.err = err;
        p.timeout_ms = timeout_ms;
        p.list_tools = list_tools;
        p.call_tool = call_tool_name;
        p.call_args = call_args;
        if (uv_loop_init(&p.loop) < 0)
                return corral_error_set(err, EX_OSERR, "cannot create an event loop");
        r = http_client_new(&p.loop, &p.hc, err);
        if (r == 0)
                r = remote_session_new(p.hc, &p.loop, cfg, &ops, &p, &p.s, err);
        if (r == 0) {
                p.c = mcp_client_new(&p.loop, &client_ops, &p, 0);
                /* server/discover first (2026-07-28), falling back to
                 * initialize; HTTP+SSE is 2024-11-05 only. */
                if (cfg->transport == REMOTE_TRANSPORT_SSE)
                        (void)mcp_client_initialize(p.c, timeout_ms, on_init, &p);
                else
                        (void)mcp_client_connect(p.c, timeout_ms, on_init, &p);
                if (!p.done)
                        (void)uv_run(&p.loop, UV_RUN_DEFAULT);
                r = p.r;
                /* A polite end: the session is deleted on the server. */
                p.c = mcp_client_free(p.c);
                if (!p.ended) {
                        p.done = true;
                        remote_session_close(p.s);
                        while (!p.ended && uv_run(&p.loop, UV_RUN_ONCE))
                                ;
                }
        }
        p.s = remote_session_free(p.s);
        p.hc = http_client_free(p.hc);
        (void)uv_run(&p.loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&p.loop);
        return r;
}
