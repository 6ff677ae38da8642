/* The MCP client session's opening (src/mcp/client.c holds the session):
 * the 2025 `initialize` handshake (MCP 2025-11-25 basic/lifecycle), the
 * 2026-07-28 `server/discover` probe with its fallback (2026-07-28
 * basic/versioning, "Backward Compatibility"), the per-request `_meta` a
 * 2026-07-28 session adds, and what the opening learnt about the server. */
#include <string.h>
#include <sysexits.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "corral/mcp_client.h"
#include "mcp/internal.h"

/* How long a silent server delays the fallback to initialize. */
#define DISCOVER_TIMEOUT_MS 10000
/* server/discover sent at most this often when the server answers
 * UnsupportedProtocolVersionError naming 2026-07-28. */
#define DISCOVER_TRIES 2

const char *const mcp_protocol_versions[] = {
        "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL,
};

bool mcp_protocol_supported(const char *version)
{
        if (!version)
                return false;
        for (size_t i = 0; mcp_protocol_versions[i]; i++)
                if (strcmp(version, mcp_protocol_versions[i]) == 0)
                        return true;
        return false;
}

/* {name: "corral", version} (owned). */
static cJSON *client_info(void)
{
        cJSON *info = cJSON_CreateObject();

        cJSON_AddStringToObject(info, "name", "corral");
        cJSON_AddStringToObject(info, "version", CORRAL_VERSION);
        return info;
}

cJSON *mcpc_declared_caps(const mcp_client *c)
{
        cJSON *caps;

        if (c->declared)
                return json_dup(c->declared);
        caps = cJSON_CreateObject();
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "roots"), "listChanged", false);
        return caps;
}

/* 2026-07-28 basic/index §_meta: every request names the revision and the
 * client's capabilities; what the caller put there already stays. */
cJSON *mcpc_modern_meta(mcp_client *c, cJSON *params)
{
        cJSON *meta;

        if (!cJSON_IsObject(params)) {
                cJSON_Delete(params);
                params = cJSON_CreateObject();
        }
        meta = json_object_member(params, "_meta");
        if (!cJSON_HasObjectItem(meta, MCP_META_PROTOCOL_VERSION))
                cJSON_AddStringToObject(meta, MCP_META_PROTOCOL_VERSION, MCP_PROTOCOL_MODERN);
        if (!cJSON_HasObjectItem(meta, MCP_META_CLIENT_CAPS))
                cJSON_AddItemToObject(meta, MCP_META_CLIENT_CAPS, mcpc_declared_caps(c));
        if (!cJSON_HasObjectItem(meta, MCP_META_CLIENT_INFO))
                cJSON_AddItemToObject(meta, MCP_META_CLIENT_INFO, client_info());
        return params;
}


static void initialize_done(mcp_client *c, pending *p, const cJSON *result, const cJSON *error)
{
        if (error) {
                p->cb(p->ud, NULL, error);
                return;
        }
        const char *version = json_get_string(result, "protocolVersion");
        if (!version) {
                _cleanup_json_ cJSON *e =
                        mcpc_error_object(CORRAL_RPC_FAULTY, "initialize result has no protocolVersion");
                p->cb(p->ud, NULL, e);
                return;
        }
        if (!mcp_protocol_supported(version)) {
                _cleanup_free_ char *v = mcpc_snippet(version, strlen(version));
                _cleanup_free_ char *msg = xasprintf(
                        "server speaks unsupported protocol version '%s' (corral speaks %s, %s, "
                        "%s, %s)",
                        v, mcp_protocol_versions[0], mcp_protocol_versions[1],
                        mcp_protocol_versions[2], mcp_protocol_versions[3]);
                _cleanup_json_ cJSON *e = mcpc_error_object(CORRAL_RPC_FAULTY, msg);
                p->cb(p->ud, NULL, e);
                return;
        }
        free(c->version);
        c->version = xstrdup(version);
        cJSON_Delete(c->capabilities);
        cJSON_Delete(c->server_info);
        const cJSON *caps = json_get_object(result, "capabilities");
        const cJSON *info = json_get_object(result, "serverInfo");
        c->capabilities = caps ? json_dup(caps) : NULL;
        c->server_info = info ? json_dup(info) : NULL;
        free(c->instructions);
        const char *ins = json_get_string(result, "instructions");
        c->instructions = ins ? xstrdup(ins) : NULL;

        if (mcpc_send(c, jsonrpc_notification("notifications/initialized", NULL)) < 0) {
                _cleanup_json_ cJSON *e = mcpc_error_object(CORRAL_RPC_UNAVAILABLE,
                                                       "cannot send notifications/initialized: "
                                                       "transport closed");
                p->cb(p->ud, NULL, e);
                return;
        }
        p->cb(p->ud, result, NULL);
}

int mcp_client_initialize(mcp_client *c, uint64_t timeout_ms, mcp_response_cb cb, void *ud)
{
        cJSON *params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "protocolVersion", MCP_PROTOCOL_LATEST);
        if (c && c->declared) {
                cJSON_AddItemToObject(params, "capabilities", json_dup(c->declared));
        } else {
                cJSON *caps = cJSON_AddObjectToObject(params, "capabilities");
                cJSON *roots = cJSON_AddObjectToObject(caps, "roots");
                cJSON_AddBoolToObject(roots, "listChanged", false);
        }
        if (c)
                c->modern = false;
        cJSON_AddItemToObject(params, "clientInfo", client_info());

        pending *p = mcpc_pending_new(timeout_ms, NULL, cb, ud);
        p->cancellable = false;
        p->done = initialize_done;
        if (!c) {
                (void)mcpc_start(NULL, p, "initialize", params);
                return -EX_UNAVAILABLE;
        }
        mcpc_enter(c);
        uint64_t h = mcpc_start(c, p, "initialize", params);
        (void)mcpc_leave(c);
        return h ? 0 : -EX_UNAVAILABLE;
}

static bool names_modern(const cJSON *versions)
{
        const cJSON *v;

        cJSON_ArrayForEach(v, versions) if (cJSON_IsString(v) &&
                                            strcmp(v->valuestring, MCP_PROTOCOL_MODERN) == 0) return true;
        return false;
}

static uint64_t send_discover(mcp_client *c, uint64_t timeout_ms, unsigned tries,
                              mcp_response_cb cb, void *ud);

static void discover_done(mcp_client *c, pending *p, const cJSON *result, const cJSON *error)
{
        const cJSON *caps, *info, *meta;
        const char *ins;
        _cleanup_json_ cJSON *r = NULL;
        int code = error ? (int)json_get_number(error, "code", 0) : 0;

        if (error && code == CORRAL_RPC_UNAVAILABLE) {
                p->cb(p->ud, NULL, error);
                return;
        }
        if (code == MCP_RPC_UNSUPPORTED_VERSION && p->discover_tries < DISCOVER_TRIES &&
            names_modern(json_get_array(json_get_object(error, "data"), "supported"))) {
                /* A modern server that refused this request's version but
                 * names 2026-07-28 among those it speaks: ask again rather
                 * than fall back (2026-07-28 basic/versioning, "Protocol
                 * Version Negotiation"). */
                log_debug("mcp: server/discover refused the version; asking again");
                (void)send_discover(c, p->init_timeout_ms, p->discover_tries + 1, p->cb, p->ud);
                return;
        }
        if (error || !names_modern(json_get_array(result, "supportedVersions"))) {
                /* A 2025 server (-32601, -32022 without 2026-07-28, silence,
                 * or no 2026-07-28 in its list): the initialize handshake on
                 * the same stream. */
                log_debug("mcp: server/discover %s; falling back to initialize",
                          error ? "failed" : "names no " MCP_PROTOCOL_MODERN);
                (void)mcp_client_initialize(c, p->init_timeout_ms, p->cb, p->ud);
                return;
        }
        caps = json_get_object(result, "capabilities");
        meta = json_get_object(result, "_meta");
        info = json_get_object(meta, MCP_META_SERVER_INFO);
        if (!info)
                info = json_get_object(result, "serverInfo");
        ins = json_get_string(result, "instructions");
        c->modern = true;
        free(c->version);
        c->version = xstrdup(MCP_PROTOCOL_MODERN);
        cJSON_Delete(c->capabilities);
        cJSON_Delete(c->server_info);
        c->capabilities = caps ? json_dup(caps) : NULL;
        c->server_info = info ? json_dup(info) : NULL;
        free(c->instructions);
        c->instructions = ins ? xstrdup(ins) : NULL;

        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "protocolVersion", MCP_PROTOCOL_MODERN);
        cJSON_AddItemToObject(r, "capabilities", caps ? json_dup(caps) : cJSON_CreateObject());
        if (info)
                cJSON_AddItemToObject(r, "serverInfo", json_dup(info));
        if (ins)
                cJSON_AddStringToObject(r, "instructions", ins);
        p->cb(p->ud, r, NULL);
}

static uint64_t send_discover(mcp_client *c, uint64_t timeout_ms, unsigned tries,
                              mcp_response_cb cb, void *ud)
{
        cJSON *params, *meta;
        pending *p;
        uint64_t h;

        c->modern = false;
        params = cJSON_CreateObject();
        meta = cJSON_AddObjectToObject(params, "_meta");
        cJSON_AddStringToObject(meta, MCP_META_PROTOCOL_VERSION, MCP_PROTOCOL_MODERN);
        cJSON_AddItemToObject(meta, MCP_META_CLIENT_CAPS, mcpc_declared_caps(c));
        cJSON_AddItemToObject(meta, MCP_META_CLIENT_INFO, client_info());

        p = mcpc_pending_new(timeout_ms && timeout_ms < DISCOVER_TIMEOUT_MS ? timeout_ms
                                                                             : DISCOVER_TIMEOUT_MS,
                             NULL, cb, ud);
        p->cancellable = false;
        p->done = discover_done;
        p->init_timeout_ms = timeout_ms;
        p->discover_tries = tries;
        mcpc_enter(c);
        h = mcpc_start(c, p, "server/discover", params);
        (void)mcpc_leave(c);
        return h;
}

int mcp_client_connect(mcp_client *c, uint64_t timeout_ms, mcp_response_cb cb, void *ud)
{
        if (!c)
                return mcp_client_initialize(c, timeout_ms, cb, ud);
        return send_discover(c, timeout_ms, 1, cb, ud) ? 0 : -EX_UNAVAILABLE;
}

bool mcp_client_modern(const mcp_client *c)
{
        return c && c->modern;
}

const char *mcp_client_protocol_version(const mcp_client *c)
{
        return c ? c->version : NULL;
}

const cJSON *mcp_client_server_capabilities(const mcp_client *c)
{
        return c ? c->capabilities : NULL;
}

const char *mcp_client_server_instructions(const mcp_client *c)
{
        return c ? c->instructions : NULL;
}

const cJSON *mcp_client_server_info(const mcp_client *c)
{
        return c ? c->server_info : NULL;
}

size_t mcp_client_pending(const mcp_client *c)
{
        return c ? c->npending : 0;
}
