/* The gateway's session lifecycle and logging (MCP 2025-11-25 basic/lifecycle,
 * server/utilities/logging): initialize, answered once first starts have
 * settled, with the aggregate's or the passed-through server's capabilities
 * and instructions; logging/setLevel, one upstream level for every session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "corral/strbuf.h"
#include "gateway/internal.h"

static const char *const log_levels[GW_LOG_LEVELS] = {"debug", "info",     "notice", "warning",
                                                      "error", "critical", "alert",  "emergency"};

bool gw_units_settled(gateway *gw)
{
        unit *const *units;
        size_t n = gw->sv ? supervisor_units(gw->sv, &units) : 0;

        /* Only a first start counts: a unit that keeps crashing in its
         * handshake must not hold up every client that connects. */
        for (size_t i = 0; i < n; i++) {
                unit_state st = unit_get_state(units[i]);
                if ((st == UNIT_STARTING || st == UNIT_INITIALIZING) &&
                    unit_restarts(units[i]) == 0)
                        return false;
        }
        return true;
}

/* Capabilities a server declares that corral passes on to a client that
 * sees only that server: lists (listChanged: corral itself announces changes
 * when the unit restarts), subscribe, completions, logging, tasks.  Anything
 * else (experimental, extensions corral does not know) is dropped: corral
 * would not route its methods. */
static void scoped_capabilities(cJSON *out, const cJSON *caps)
{
        static const char *const kept[] = {"tools", "prompts", "resources", "completions",
                                           "logging", "tasks"};

        for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(caps, kept[i]);
                cJSON *copy;

                if (!cJSON_IsObject(c))
                        continue;
                copy = json_dup(c);
                if (i < 3)
                        json_set(copy, "listChanged", cJSON_CreateBool(true));
                cJSON_AddItemToObject(out, kept[i], copy);
        }
}

/* A single-server session presents that server: its capabilities (less
 * what corral does not forward), serverInfo and instructions. */
static cJSON *scoped_initialize_result(gateway_session *s, const char *version)
{
        unit *u = s->gw && s->gw->sv ? supervisor_find(s->gw->sv, s->scope) : NULL;
        mcp_client *c = u && unit_get_state(u) == UNIT_READY ? unit_client(u) : NULL;
        const cJSON *info = c ? mcp_client_server_info(c) : NULL;
        const char *instructions = c ? mcp_client_server_instructions(c) : NULL;
        cJSON *r = cJSON_CreateObject();

        cJSON_AddStringToObject(r, "protocolVersion", version);
        scoped_capabilities(cJSON_AddObjectToObject(r, "capabilities"),
                            c ? mcp_client_server_capabilities(c) : NULL);
        if (cJSON_IsObject(info)) {
                cJSON_AddItemToObject(r, "serverInfo", json_dup(info));
        } else {
                cJSON *i = cJSON_AddObjectToObject(r, "serverInfo");
                cJSON_AddStringToObject(i, "name", s->scope);
                cJSON_AddStringToObject(i, "version", CORRAL_VERSION);
        }
        if (instructions)
                cJSON_AddStringToObject(r, "instructions", instructions);
        return r;
}

/* The capability object at caps.<a>.<b> of a ready unit's server. */
static bool server_has(const unit *u, const char *a, const char *b)
{
        mcp_client *c = unit_get_state(u) == UNIT_READY ? unit_client((unit *)u) : NULL;
        const cJSON *o = json_get_object(mcp_client_server_capabilities(c), a);

        if (!o || !b)
                return o != NULL;
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, b)) ||
               cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, b));
}

/* The aggregate: list_changed always (units come and go), resources.subscribe
 * when a ready server the session sees supports it, and the instructions of
 * every such server, each under its name. */
static cJSON *initialize_result(gateway_session *s, const char *version)
{
        gateway *gw = s->gw;
        unit *const *units;
        size_t n = gw && gw->sv ? supervisor_units(gw->sv, &units) : 0;
        cJSON *r = cJSON_CreateObject();
        cJSON *caps = cJSON_AddObjectToObject(r, "capabilities");
        cJSON *res, *info, *tasks;
        bool subscribe = false;
        strbuf ins = STRBUF_INIT(0);

        strbuf_appendf(&ins, "corral aggregates several MCP servers: tools and prompts are "
                             "named SERVER__NAME; resources keep their URIs.");
        for (size_t i = 0; i < n; i++) {
                mcp_client *c;
                const char *text;

                if (unit_get_state(units[i]) != UNIT_READY || !gw_session_sees(s, units[i]))
                        continue;
                subscribe |= server_has(units[i], "resources", "subscribe");
                c = unit_client(units[i]);
                text = mcp_client_server_instructions(c);
                if (text && *text)
                        strbuf_appendf(&ins, "\n\n## %s\n\n%s", unit_name(units[i]), text);
        }
        cJSON_AddStringToObject(r, "protocolVersion", version);
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged", true);
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "prompts"), "listChanged", true);
        res = cJSON_AddObjectToObject(caps, "resources");
        cJSON_AddBoolToObject(res, "listChanged", true);
        if (subscribe)
                cJSON_AddBoolToObject(res, "subscribe", true);
        cJSON_AddObjectToObject(caps, "completions");
        cJSON_AddObjectToObject(caps, "logging");
        tasks = gw_tasks_capability(s);
        if (tasks)
                cJSON_AddItemToObject(caps, "tasks", tasks);
        info = cJSON_AddObjectToObject(r, "serverInfo");
        cJSON_AddStringToObject(info, "name", "corral");
        cJSON_AddStringToObject(info, "version", CORRAL_VERSION);
        cJSON_AddStringToObject(r, "instructions", ins.buf);
        strbuf_done(&ins);
        return r;
}

static void answer_initialize(gateway_session *s)
{
        gw_reply_result(s, s->init_id,
                        s->scope ? scoped_initialize_result(s, s->init_version)
                                 : initialize_result(s, s->init_version));
        s->initialized = true;
        s->init_pending = false;
        s->init_id = (cJSON_Delete(s->init_id), NULL);
        s->init_version = (free(s->init_version), NULL);
        /* Not replayed here: this may run inside a supervisor callback. */
        if (s->backlog && s->gw)
                gw_schedule_work(s->gw);
        gw_session_check_drained(s);
}

void gw_answer_pending_inits(gateway *gw)
{
        for (gateway_session *s = gw->sessions; s; s = s->next)
                if (s->init_pending)
                        answer_initialize(s);
        uv_timer_stop(gw->init_timer);
}

static void on_init_timer(uv_timer_t *t)
{
        gateway *gw = t->data;
        log_info("gateway: answering initialize while some servers are still starting");
        gw_answer_pending_inits(gw);
}

void gw_handle_initialize(gateway_session *s, const cJSON *id, const cJSON *params)
{
        const char *asked = json_get_string(params, "protocolVersion");
        gateway *gw = s->gw;

        if (s->initialized || s->init_pending) {
                gw_reply_error(s, id, JSONRPC_INVALID_REQUEST, NULL,
                               "invalid request: the session is already initialized");
                return;
        }
        /* MCP basic/lifecycle §version negotiation: echo a version we speak,
         * else offer our latest and let the client decide. */
        s->init_version =
                xstrdup(asked && mcp_protocol_supported(asked) ? asked : MCP_PROTOCOL_LATEST);
        s->init_id = json_dup(id);
        s->init_pending = true;
        cJSON_Delete(s->client_caps);
        s->client_caps = json_get_object(params, "capabilities")
                                 ? json_dup(json_get_object(params, "capabilities"))
                                 : NULL;
        /* A client connecting right after start-up would see an empty tool
         * list; wait a little for first starts to settle instead.  The grace
         * is anchored at the gateway's start, so a server that hangs in its
         * handshake delays clients once, not every time. */
        uint64_t now = uv_now(gw->loop);
        if (now < gw->init_deadline && !gw_units_settled(gw)) {
                if (!uv_is_active((uv_handle_t *)gw->init_timer))
                        uv_timer_start(gw->init_timer, on_init_timer, gw->init_deadline - now, 0);
                return;
        }
        answer_initialize(s);
}

int gw_level_index(const char *level)
{
        for (size_t i = 0; level && i < ARRAY_SIZE(log_levels); i++)
                if (strcmp(level, log_levels[i]) == 0)
                        return (int)i;
        return -1;
}

const char *gw_level_name(int index)
{
        return index >= 0 && index < GW_LOG_LEVELS ? log_levels[index] : "debug";
}

static void ignore_response(void *ud, const cJSON *result, const cJSON *error)
{
        if (error)
                log_debug("gateway: logging/setLevel: %s", json_get_string(error, "message"));
}

void gw_send_level(gateway *gw, unit *u)
{
        mcp_client *c = unit_get_state(u) == UNIT_READY ? unit_client(u) : NULL;
        cJSON *p;

        if (!c || gw->upstream_level < 0 ||
            !cJSON_GetObjectItemCaseSensitive(mcp_client_server_capabilities(c), "logging"))
                return;
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "level", log_levels[gw->upstream_level]);
        (void)mcp_client_request(c, "logging/setLevel", p, gw->timeout_ms, NULL, ignore_response,
                                 NULL);
}

void gw_handle_set_level(gateway_session *s, const cJSON *id, const cJSON *params)
{
        gateway *gw = s->gw;
        int level = gw_level_index(json_get_string(params, "level"));
        int lowest = -1;

        if (level < 0) {
                gw_reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                               "invalid params: level must be one of debug, info, notice, warning, "
                               "error, critical, alert, emergency");
                return;
        }
        s->log_level = level;
        /* Units have one level for every session: ask for the most verbose
         * one any session wants and filter per session on the way out. */
        for (gateway_session *o = gw->sessions; o; o = o->next)
                if (o->log_level >= 0 && (lowest < 0 || o->log_level < lowest))
                        lowest = o->log_level;
        if (lowest != gw->upstream_level) {
                unit *const *units;
                size_t n = gw->sv ? supervisor_units(gw->sv, &units) : 0;

                gw->upstream_level = lowest;
                for (size_t i = 0; i < n; i++)
                        gw_send_level(gw, units[i]);
        }
        gw_reply_result(s, id, cJSON_CreateObject());
}

cJSON *gw_session_description(gateway_session *s, const char *version)
{
        return s->scope ? scoped_initialize_result(s, version) : initialize_result(s, version);
}
