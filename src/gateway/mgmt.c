/* The gateway's own tools (issue 15, include/corral/mgmt.h): the tool
 * table with its schemas, who may list and call which, and the tools that
 * only read (list, status) or ask the control socket's code (restart).
 * MCP 2025-11-25 server/tools (§output-schema, §structured-content). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "corral/config.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/manifest.h"
#include "corral/policy.h"
#include "gateway/mgmt.h"

/* A server as corral__list shows it. */
#define SUMMARY_SCHEMA                                                                           \
        "{\"type\":\"object\",\"properties\":{"                                                \
        "\"name\":{\"type\":\"string\"},"                                                      \
        "\"owner\":{\"type\":[\"string\",\"null\"],\"description\":\"null: a global server\"}," \
        "\"enabled\":{\"type\":\"boolean\"},"                                                  \
        "\"state\":{\"type\":\"string\",\"description\":\"ready, starting, stopped, disabled, " \
        "backoff, failed, … (not_loaded: installed, not yet seen by the daemon)\"},"           \
        "\"kind\":{\"type\":\"string\"},\"spec\":{\"type\":\"string\"},"                       \
        "\"version\":{\"type\":[\"string\",\"null\"]},"                                        \
        "\"backend\":{\"type\":\"string\"},\"command\":{\"type\":\"array\",\"items\":{\"type\":" \
        "\"string\"}},\"sandbox\":{\"type\":\"string\"},\"network\":{\"type\":\"string\"},"    \
        "\"level\":{\"type\":\"string\"}},"                                                    \
        "\"required\":[\"name\",\"owner\",\"enabled\",\"state\",\"kind\",\"spec\"]}"

#define NAME_INPUT                                                                               \
        "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"description\":"  \
        "\"the server's name\"}},\"required\":[\"name\"]}"

/* What enabling (install, enable) answers. */
#define ENABLE_OUTPUT                                                                            \
        "{\"type\":\"object\",\"properties\":{"                                                \
        "\"name\":{\"type\":\"string\"},\"installed\":{\"type\":\"boolean\"},"                 \
        "\"enabled\":{\"type\":\"boolean\"},\"state\":{\"type\":\"string\"},"                  \
        "\"confirmation\":{\"type\":\"string\",\"enum\":[\"accepted\",\"declined\","           \
        "\"cancelled\",\"unavailable\",\"failed\",\"not_needed\"]},"                           \
        "\"message\":{\"type\":\"string\"},\"server\":" SUMMARY_SCHEMA "},"                    \
        "\"required\":[\"name\",\"installed\",\"enabled\",\"state\",\"confirmation\","         \
        "\"message\"]}"

#define DONE_OUTPUT                                                                              \
        "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"                 \
        "\"state\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}},"                  \
        "\"required\":[\"name\",\"message\"]}"

#define AUTH_ENTRY                                                                               \
        "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"                 \
        "\"state\":{\"type\":\"string\",\"enum\":[\"none\",\"pending\",\"authorized\","        \
        "\"expired\"]},\"issuer\":{\"type\":[\"string\",\"null\"]},"                           \
        "\"scope\":{\"type\":[\"string\",\"null\"]},"                                          \
        "\"expires_in\":{\"type\":[\"number\",\"null\"]},"                                     \
        "\"refresh_token\":{\"type\":\"boolean\"},\"error\":{\"type\":\"string\"}},"           \
        "\"required\":[\"name\",\"state\"]}"

static const struct mgmt_def {
        const char *name, *title, *description;
        bool change, read_only, destructive;
        const char *input, *output;
} defs[MT_COUNT] = {
        [MT_LIST] = {"list", "List MCP servers",
                     "The MCP servers installed in corral that you may see: name, owner, "
                     "enabled, state, source, sandbox and network.",
                     false, true, false, "{\"type\":\"object\",\"properties\":{}}",
                     "{\"type\":\"object\",\"properties\":{\"servers\":{\"type\":\"array\","
                     "\"items\":" SUMMARY_SCHEMA "}},\"required\":[\"servers\"]}"},
        [MT_STATUS] = {"status", "Server status",
                       "The running state of one server (name) or of all you may see: state, "
                       "pid, restarts, last error, tool counts.",
                       false, true, false,
                       "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}",
                       "{\"type\":\"object\",\"properties\":{\"version\":{\"type\":\"string\"},"
                       "\"servers\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
                       "\"properties\":{\"name\":{\"type\":\"string\"},\"state\":{\"type\":"
                       "\"string\"},\"enabled\":{\"type\":\"boolean\"}},\"required\":[\"name\","
                       "\"state\"]}}},\"required\":[\"version\",\"servers\"]}"},
        [MT_INSTALL] = {"install", "Install an MCP server",
                        "Installs a server from a source spec (npm:NAME[@RANGE], "
                        "registry:NAME, smithery:NAME, github:OWNER/REPO, docker:IMAGE, …) as "
                        "`corral install` does.  It stays disabled until you confirm what will "
                        "run (asked through elicitation when your client supports it; "
                        "otherwise `corral enable NAME`).",
                        true, false, false,
                        "{\"type\":\"object\",\"properties\":{"
                        "\"source\":{\"type\":\"string\",\"description\":\"the source spec\"},"
                        "\"name\":{\"type\":\"string\",\"description\":\"the server's name "
                        "(default: from the spec)\"},"
                        "\"sandbox\":{\"type\":\"string\",\"enum\":[\"default\",\"strict\","
                        "\"log\",\"none\"]}},\"required\":[\"source\"]}",
                        ENABLE_OUTPUT},
        [MT_UNINSTALL] = {"uninstall", "Uninstall an MCP server",
                          "Stops and removes an installed server (its data stays).", true, false,
                          true, NAME_INPUT, DONE_OUTPUT},
        [MT_ENABLE] = {"enable", "Enable an MCP server",
                       "Enables a disabled server after you confirm what will run (through "
                       "elicitation; without it, run `corral enable NAME`).",
                       true, false, false, NAME_INPUT, ENABLE_OUTPUT},
        [MT_DISABLE] = {"disable", "Disable an MCP server",
                        "Stops a server and keeps it from starting until it is enabled.", true,
                        false, false, NAME_INPUT, DONE_OUTPUT},
        [MT_RESTART] = {"restart", "Restart an MCP server", "Restarts a server.", true, false,
                        false, NAME_INPUT, DONE_OUTPUT},
        [MT_AUTH_START] = {"auth_start", "Start OAuth for a remote server",
                           "Starts the OAuth authorization of a remote server: open the "
                           "authorization_url, sign in, then pass the redirect URL (or code) to "
                           "corral__auth_complete.",
                           true, false, false, NAME_INPUT,
                           "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
                           "\"authorization_url\":{\"type\":\"string\"},\"message\":{\"type\":"
                           "\"string\"}},\"required\":[\"name\",\"authorization_url\","
                           "\"message\"]}"},
        [MT_AUTH_COMPLETE] = {"auth_complete", "Complete OAuth for a remote server",
                              "Completes an authorization begun with corral__auth_start with "
                              "the redirect URL or the code.",
                              true, false, false,
                              "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":"
                              "\"string\"},\"code\":{\"type\":\"string\",\"description\":"
                              "\"the redirect URL or the authorization code\"}},"
                              "\"required\":[\"name\",\"code\"]}",
                              DONE_OUTPUT},
        [MT_AUTH_STATUS] = {"auth_status", "OAuth state of remote servers",
                            "Whether each remote server (or the one named) is authorized, and "
                            "until when.  Tokens are never shown.",
                            false, true, false,
                            "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":"
                            "\"string\"}}}",
                            "{\"type\":\"object\",\"properties\":{\"servers\":{\"type\":"
                            "\"array\",\"items\":" AUTH_ENTRY "}},\"required\":[\"servers\"]}"},
};

static cJSON *tool_entry(const struct mgmt_def *d)
{
        cJSON *t = cJSON_CreateObject(), *a;

        cJSON_AddStringToObject(t, "name", d->name);
        cJSON_AddStringToObject(t, "title", d->title);
        cJSON_AddStringToObject(t, "description", d->description);
        cJSON_AddItemToObject(t, "inputSchema", cJSON_Parse(d->input));
        cJSON_AddItemToObject(t, "outputSchema", cJSON_Parse(d->output));
        a = cJSON_AddObjectToObject(t, "annotations");
        cJSON_AddStringToObject(a, "title", d->title);
        cJSON_AddBoolToObject(a, "readOnlyHint", d->read_only);
        cJSON_AddBoolToObject(a, "destructiveHint", d->destructive);
        cJSON_AddBoolToObject(a, "openWorldHint", d == &defs[MT_INSTALL]);
        return t;
}

/* ---- settings ---- */

int mgmt_settings_load(const cJSON *config, mgmt_settings *ret, corral_error *err)
{
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(config, "management"), *v;
        mgmt_settings m = {.enabled = true,
                           .level = CORRAL_LEVEL_TRUSTED,
                           .change_level = CORRAL_LEVEL_ANCHOR};

        int r;

        if (o && !cJSON_IsObject(o))
                return corral_error_set(err, EX_CONFIG, "corral.json: management must be an object");
        if ((r = config_check_object(o, "management", config_object_keys("management"), err)) < 0)
                return r;
        cJSON_ArrayForEach(v, o)
        {
                if (strcmp(v->string, "enabled") == 0) {
                        if (!cJSON_IsBool(v))
                                return corral_error_set(err, EX_CONFIG,
                                                        "corral.json: management.enabled must be "
                                                        "true or false");
                        m.enabled = cJSON_IsTrue(v);
                } else if (strcmp(v->string, "level") == 0 ||
                           strcmp(v->string, "change_level") == 0) {
                        corral_level *l = v->string[0] == 'l' ? &m.level : &m.change_level;
                        if (!cJSON_IsString(v) || corral_level_parse(v->valuestring, l) < 0)
                                return corral_error_set(err, EX_CONFIG,
                                                        "corral.json: management.%s must be "
                                                        "public, trusted or anchor",
                                                        v->string);
                }
        }
        *ret = m;
        return 0;
}

void gateway_set_mgmt(gateway *gw, const mgmt_backend *backend, void *ud,
                      const mgmt_settings *settings)
{
        mgmt_settings def = {.enabled = true,
                             .level = CORRAL_LEVEL_TRUSTED,
                             .change_level = CORRAL_LEVEL_ANCHOR};
        gw_mgmt *m = gw->mgmt;
        bool changed;

        if (!settings)
                settings = &def;
        if (!m) {
                m = gw->mgmt = xcalloc(1, sizeof(*m));
                m->all_tools = cJSON_CreateArray();
                for (size_t i = 0; i < MT_COUNT; i++)
                        cJSON_AddItemToArray(m->all_tools, tool_entry(&defs[i]));
                changed = settings->enabled;
        } else {
                changed = memcmp(&m->settings, settings, sizeof(*settings)) != 0;
        }
        m->backend = backend;
        m->ud = ud;
        m->settings = *settings;
        if (changed)
                gateway_tools_changed(gw);
}

void gw_mgmt_free(gateway *gw)
{
        gw_mgmt *m = gw->mgmt;

        if (!m)
                return;
        mgmt_ops_free_all(gw);
        cJSON_Delete(m->all_tools);
        free(m);
        gw->mgmt = NULL;
}

/* ---- who sees what ---- */

static bool mgmt_on(const gateway_session *s)
{
        const gw_mgmt *m = s->gw ? s->gw->mgmt : NULL;
        return m && m->backend && m->settings.enabled && !s->scope && !s->control;
}

static bool tool_visible(const gateway_session *s, enum mgmt_tool t)
{
        const gw_mgmt *m = s->gw->mgmt;
        corral_level need = defs[t].change ? m->settings.change_level : m->settings.level;

        return s->level >= need &&
               tool_policy_allows(s->gw->tools, s->user, s->admin, GW_MGMT_SERVER, defs[t].name);
}

cJSON *gw_mgmt_tools(gateway_session *s)
{
        cJSON *out = NULL;
        size_t i = 0;
        const cJSON *t;

        if (!mgmt_on(s))
                return NULL;
        cJSON_ArrayForEach(t, s->gw->mgmt->all_tools)
        {
                if (tool_visible(s, (enum mgmt_tool)i++)) {
                        if (!out)
                                out = cJSON_CreateArray();
                        cJSON_AddItemToArray(out, json_dup(t));
                }
        }
        return out;
}

/* ---- answers ---- */

static void send_result(gateway_session *s, const cJSON *id, bool modern, cJSON *r)
{
        if (modern)
                gw_modern_decorate(s, r, "tools/call");
        _cleanup_json_ cJSON *msg = jsonrpc_result(id, r);
        gw_send_msg(s, msg, id, true);
}

/* A tools/call result whose content is one text block. */
static cJSON *text_result(const char *text)
{
        cJSON *r = cJSON_CreateObject(), *c = cJSON_AddArrayToObject(r, "content");
        cJSON *t = cJSON_CreateObject();

        cJSON_AddStringToObject(t, "type", "text");
        cJSON_AddStringToObject(t, "text", text);
        cJSON_AddItemToArray(c, t);
        return r;
}

void mgmt_reply(gateway_session *s, const cJSON *id, bool modern, cJSON *take_structured)
{
        _cleanup_free_ char *text = json_print(take_structured);
        cJSON *r = text_result(text);

        cJSON_AddItemToObject(r, "structuredContent", take_structured);
        send_result(s, id, modern, r);
}

void mgmt_reply_error(gateway_session *s, const cJSON *id, bool modern, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        cJSON *r;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        r = text_result(msg);
        cJSON_AddBoolToObject(r, "isError", true);
        send_result(s, id, modern, r);
}

/* ---- list, status, restart ---- */

static void add_str(cJSON *o, const char *key, const char *v)
{
        cJSON_AddItemToObject(o, key, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

cJSON *mgmt_server_summary(const manifest *m, const unit *u)
{
        cJSON *o = cJSON_CreateObject(), *cmd;
        const char *state = "not_loaded";

        if (u) {
                unit_state st = unit_get_state(u);
                state = st == UNIT_STOPPED && !m->enabled ? "disabled" : unit_state_name(st);
        }
        cJSON_AddStringToObject(o, "name", m->name);
        add_str(o, "owner", m->owner);
        cJSON_AddBoolToObject(o, "enabled", m->enabled);
        cJSON_AddStringToObject(o, "state", state);
        add_str(o, "kind", m->kind ? m->kind : "?");
        add_str(o, "spec", m->spec ? m->spec : "");
        add_str(o, "version", m->resolved_version);
        add_str(o, "backend", m->backend ? m->backend : "native");
        cmd = cJSON_AddArrayToObject(o, "command");
        for (size_t i = 0; m->command && m->command[i]; i++)
                cJSON_AddItemToArray(cmd, cJSON_CreateString(m->command[i]));
        add_str(o, "sandbox", m->profile ? m->profile : "default");
        add_str(o, "network", m->network ? m->network : "none");
        cJSON_AddStringToObject(o, "level", corral_level_name(m->access_level));
        return o;
}

unit *mgmt_find(gateway_session *s, const char *name)
{
        unit *u = name && s->gw->sv ? supervisor_find(s->gw->sv, name) : NULL;

        return u && unit_manifest(u) && gw_session_sees(s, u) ? u : NULL;
}

static void do_list(gateway_session *s, const cJSON *id, bool modern)
{
        unit *const *units;
        size_t n = s->gw->sv ? supervisor_units(s->gw->sv, &units) : 0;
        cJSON *r = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(r, "servers");

        for (size_t i = 0; i < n; i++)
                if (unit_manifest(units[i]) && gw_session_sees(s, units[i]))
                        cJSON_AddItemToArray(list,
                                             mgmt_server_summary(unit_manifest(units[i]), units[i]));
        mgmt_reply(s, id, modern, r);
}

static void do_status(gateway_session *s, const cJSON *id, bool modern, const cJSON *args)
{
        const char *name = json_get_string(args, "name");
        unit *const *units;
        size_t n = s->gw->sv ? supervisor_units(s->gw->sv, &units) : 0;
        cJSON *r, *list;

        if (name && !mgmt_find(s, name)) {
                mgmt_reply_error(s, id, modern, "corral: status: no such server '%s'", name);
                return;
        }
        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "version", CORRAL_VERSION);
        list = cJSON_AddArrayToObject(r, "servers");
        for (size_t i = 0; i < n; i++)
                if (gw_session_sees(s, units[i]) &&
                    (!name || strcmp(name, unit_name(units[i])) == 0))
                        cJSON_AddItemToArray(list, unit_status_json(units[i]));
        mgmt_reply(s, id, modern, r);
}

static void do_restart(gateway_session *s, const cJSON *id, bool modern, const cJSON *args)
{
        gw_mgmt *m = s->gw->mgmt;
        const char *name = json_get_string(args, "name");
        corral_error err = {0};
        cJSON *r;
        int rc;

        if (!mgmt_find(s, name)) {
                mgmt_reply_error(s, id, modern, "corral: restart: no such server '%s'",
                                 name ? name : "");
                return;
        }
        rc = m->backend->lifecycle(m->ud, s, "restart", name, &err);
        if (rc < 0) {
                mgmt_reply_error(s, id, modern, "corral: restart: %s (exit %d)", err.msg, -rc);
                return;
        }
        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "name", name);
        cJSON_AddStringToObject(r, "state", unit_state_name(unit_get_state(mgmt_find(s, name))));
        cJSON_AddStringToObject(r, "message", "restarting");
        mgmt_reply(s, id, modern, r);
}

/* ---- dispatch ---- */

bool gw_mgmt_call(gateway_session *s, const cJSON *id, const cJSON *params)
{
        const char *name = json_get_string(params, "name");
        const cJSON *args = json_get_object(params, "arguments");
        bool modern = s->cur_method != NULL;
        size_t plen = strlen(GW_MGMT_SERVER "__");
        int t = -1;

        if (!name || !mgmt_on(s) || strncmp(name, GW_MGMT_SERVER "__", plen) != 0)
                return false;
        for (int i = 0; i < MT_COUNT; i++)
                if (strcmp(name + plen, defs[i].name) == 0)
                        t = i;
        /* A tool the caller may not see answers as a missing one (methods.c). */
        if (t < 0 || !tool_visible(s, (enum mgmt_tool)t))
                return false;
        log_debug("gateway: %s calls %s", s->user ? s->user : "anonymous", name);
        switch ((enum mgmt_tool)t) {
        case MT_LIST:
                do_list(s, id, modern);
                break;
        case MT_STATUS:
                do_status(s, id, modern, args);
                break;
        case MT_RESTART:
                do_restart(s, id, modern, args);
                break;
        default:
                mgmt_run(s, id, (enum mgmt_tool)t, params);
                break;
        }
        return true;
}

bool gw_mgmt_cancel(gateway_session *s, const cJSON *request_id)
{
        return s->gw && s->gw->mgmt && mgmt_ops_cancel(s, request_id);
}
