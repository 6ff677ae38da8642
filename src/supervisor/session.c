/* The MCP session on a unit's stdio: initialize, the tools/prompts/resources
 * lists kept fresh on list_changed, protocol faults, and health pings. */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "internal.h"

const list_slot unit_slots[N_SLOTS] = {
        [SLOT_TOOLS] = {"tools/list", "tools", "tools", UNIT_LIST_TOOLS},
        [SLOT_PROMPTS] = {"prompts/list", "prompts", "prompts", UNIT_LIST_PROMPTS},
        [SLOT_RESOURCES] = {"resources/list", "resources", "resources", UNIT_LIST_RESOURCES},
        [SLOT_TEMPLATES] = {"resources/templates/list", "resourceTemplates", "resources",
                            UNIT_LIST_RESOURCES},
};

/* ---- the session --------------------------------------------------------- */

/* Kills the server because it misbehaved; the exit then counts as a crash
 * reported with this reason. */
static void unit_fault_kill(unit *u, const char *fmt, ...) _printf_(2, 3);
static void unit_fault_kill(unit *u, const char *fmt, ...)
{
        char *why = NULL;
        va_list ap;

        if (u->fault || !u->proc)
                return;
        va_start(ap, fmt);
        if (vasprintf(&why, fmt, ap) < 0)
                abort();
        va_end(ap);
        u->fault = why;
        logfile_note(u->log, "%s; killing it", why);
        log_info("%s: %s; killing it", u->name, why);
        (void)u->be->kill(u->proc, SIGKILL);
}

static void become_ready(unit *u)
{
        supervisor *sv = u->sv;

        u->ready_since = uv_now(sv->loop);
        u->ping_misses = 0;
        u->ping_inflight = false;
        logfile_note(u->log, "ready (protocol %s, %d tools, %d prompts, %d resources)",
                     mcp_client_protocol_version(u->client),
                     u->lists[SLOT_TOOLS] ? cJSON_GetArraySize(u->lists[SLOT_TOOLS]) : 0,
                     u->lists[SLOT_PROMPTS] ? cJSON_GetArraySize(u->lists[SLOT_PROMPTS]) : 0,
                     u->lists[SLOT_RESOURCES] ? cJSON_GetArraySize(u->lists[SLOT_RESOURCES]) : 0);
        (void)uv_timer_start(u->ping, unit_on_ping_timer, sv_scaled(sv, PING_INTERVAL_MS),
                             sv_scaled(sv, PING_INTERVAL_MS));
        unit_set_state(u, UNIT_READY);
}

static void check_init_done(unit *u)
{
        /* A unit being killed for a fault never becomes ready. */
        if (u->state != UNIT_INITIALIZING || u->fault)
                return;
        for (unsigned i = 0; i < N_SLOTS; i++)
                if (u->fetching[i])
                        return;
        become_ready(u);
}

typedef struct fetch_ctx {
        unit *u;
        unsigned slot;
} fetch_ctx;

static void fetch_list(unit *u, unsigned i);

static void on_list(void *ud, const cJSON *result, const cJSON *error)
{
        fetch_ctx *ctx = ud;
        unit *u = ctx->u;
        unsigned i = ctx->slot;
        const cJSON *items;

        free(ctx);
        if (!u->client)
                return; /* the session is gone */
        u->fetching[i] = false;
        if (u->refetch[i]) {
                /* A list_changed arrived meanwhile: this answer may be stale. */
                fetch_list(u, i);
                return;
        }
        cJSON_Delete(u->lists[i]);
        items = result ? json_get_array(result, unit_slots[i].key) : NULL;
        u->lists[i] = items ? json_dup(items) : cJSON_CreateArray();
        if (error) {
                /* The unit stays ready for what works; status and info show
                 * why this list is empty until it loads again. */
                const char *msg = json_get_string(error, "message");
                char *why = xasprintf("%s failed: %s", unit_slots[i].method, msg ? msg : "error");
                logfile_note(u->log, "%s", why);
                log_warn("%s: %s", u->name, why);
                sv_set_str(&u->last_error, why);
                u->list_failed[i] = true;
        } else if (u->list_failed[i]) {
                u->list_failed[i] = false;
                size_t n = strlen(unit_slots[i].method);
                if (u->last_error && strncmp(u->last_error, unit_slots[i].method, n) == 0 &&
                    strncmp(u->last_error + n, " failed: ", 9) == 0)
                        sv_set_str(&u->last_error, NULL);
        }
        if (u->state == UNIT_INITIALIZING)
                check_init_done(u);
        else if (u->state == UNIT_READY && u->sv->ev.unit_lists)
                u->sv->ev.unit_lists(u->sv->ud, u, unit_slots[i].bit);
}

static void fetch_list(unit *u, unsigned i)
{
        fetch_ctx *ctx;

        if (u->fetching[i]) {
                u->refetch[i] = true;
                return;
        }
        u->fetching[i] = true;
        u->refetch[i] = false;
        ctx = xmalloc(sizeof(*ctx));
        ctx->u = u;
        ctx->slot = i;
        /* On a transport failure on_list has already run. */
        (void)mcp_client_list_all(u->client, unit_slots[i].method, unit_slots[i].key,
                                  sv_scaled(u->sv, LIST_TIMEOUT_MS), on_list, ctx);
}

static void on_listen_end(void *ud, const cJSON *result, const cJSON *error)
{
        unit *u = ud;
        const char *msg = error ? json_get_string(error, "message") : NULL;

        if (!u->client || u->state != UNIT_READY)
                return;
        logfile_note(u->log, "subscriptions/listen ended: %s; list changes are not followed",
                     msg ? msg : "the server closed it");
}

/* MCP 2026-07-28 basic/patterns/subscriptions: a 2026-07-28 server tells of
 * list changes only on a subscriptions/listen stream.  One is opened for the
 * lists the server says change, and kept for the session's life. */
static void listen_upstream(unit *u, const cJSON *caps)
{
        static const char *const keys[][2] = {{"tools", "toolsListChanged"},
                                              {"prompts", "promptsListChanged"},
                                              {"resources", "resourcesListChanged"}};
        cJSON *params = cJSON_CreateObject();
        cJSON *n = cJSON_AddObjectToObject(params, "notifications");

        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
                if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json_get_object(caps, keys[i][0]),
                                                                  "listChanged")))
                        cJSON_AddTrueToObject(n, keys[i][1]);
        if (!n->child) {
                cJSON_Delete(params);
                return;
        }
        (void)mcp_client_request(u->client, "subscriptions/listen", params, 0, NULL, on_listen_end,
                                 u);
}

void unit_on_initialized(void *ud, const cJSON *result, const cJSON *error)
{
        unit *u = ud;
        const cJSON *caps;

        if (!u->client || u->state != UNIT_INITIALIZING)
                return;
        if (error) {
                const char *msg = json_get_string(error, "message");

                if ((int)json_get_number(error, "code", 0) == CORRAL_RPC_TIMEOUT)
                        unit_fault_kill(u, "initialize timed out");
                else
                        unit_fault_kill(u, "protocol error: initialize failed: %s",
                                        msg ? msg : "error");
                return;
        }
        caps = mcp_client_server_capabilities(u->client);
        if (mcp_client_modern(u->client))
                listen_upstream(u, caps);
        for (unsigned i = 0; i < N_SLOTS && u->client; i++)
                if (json_get_object(caps, unit_slots[i].capability))
                        fetch_list(u, i);
        if (u->client)
                check_init_done(u);
}

static int client_send(void *ud, const char *data, size_t len)
{
        unit *u = ud;

        if (!u->proc)
                return -1;
        return u->be->write(u->proc, data, len);
}

int list_changed_slots(const char *method, int *first, int *last)
{
        if (strcmp(method, "notifications/tools/list_changed") == 0)
                *first = *last = SLOT_TOOLS;
        else if (strcmp(method, "notifications/prompts/list_changed") == 0)
                *first = *last = SLOT_PROMPTS;
        else if (strcmp(method, "notifications/resources/list_changed") == 0)
                *first = SLOT_RESOURCES, *last = SLOT_TEMPLATES;
        else
                return -1;
        return 0;
}

static void client_notification(void *ud, const char *method, const cJSON *params)
{
        unit *u = ud;
        supervisor *sv = u->sv;
        int first, last;

        if (!u->client)
                return;
        if (list_changed_slots(method, &first, &last) == 0) {
                /* Before the first fetch there is nothing to refresh: it is coming. */
                for (int i = first; i <= last; i++)
                        if ((u->state == UNIT_READY || u->state == UNIT_INITIALIZING) &&
                            (u->lists[i] || u->fetching[i]))
                                fetch_list(u, (unsigned)i);
                return;
        }
        /* notifications/subscriptions/acknowledged too: listen_upstream's
         * stream is acknowledged while initializing (not passed on), the
         * gateway's own for resource subscriptions once ready. */
        if (u->state == UNIT_READY && sv->ev.unit_notification)
                sv->ev.unit_notification(sv->ud, u, method, params);
}

static void client_fault(void *ud, mcp_fault kind, const char *why)
{
        unit *u = ud;

        if (!u->client)
                return;
        switch (u->state) {
        case UNIT_STARTING:
        case UNIT_INITIALIZING:
                unit_fault_kill(u, "protocol error: %s", why);
                break;
        case UNIT_READY:
                /* An oversize message may have been a response we now never
                 * match; a stray line costs nothing. */
                if (kind == MCP_FAULT_OVERSIZE)
                        unit_fault_kill(u, "protocol error: %s", why);
                else
                        logfile_note(u->log, "ignored: %s", why);
                break;
        default:
                logfile_note(u->log, "ignored: %s", why);
                break;
        }
}

const mcp_client_ops unit_client_ops = {
        .send = client_send,
        .on_notification = client_notification,
        .on_fault = client_fault,
};

/* ---- health ------------------------------------------------------------ */

static void on_pong(void *ud, const cJSON *result, const cJSON *error)
{
        unit *u = ud;

        if (!u->client || !u->ping_inflight)
                return;
        u->ping_inflight = false;
        if (u->state != UNIT_READY)
                return;
        /* Only silence is a miss: an error reply still shows a live server. */
        if (error && (int)json_get_number(error, "code", 0) == CORRAL_RPC_TIMEOUT) {
                u->ping_misses++;
                logfile_note(u->log, "ping %u of %u missed", u->ping_misses, PING_MISSES);
                if (u->ping_misses >= PING_MISSES)
                        unit_fault_kill(u, "health check failed: %u pings missed", PING_MISSES);
        } else {
                u->ping_misses = 0;
        }
}

void unit_on_ping_timer(uv_timer_t *t)
{
        unit *u = t->data;

        if (u->state != UNIT_READY || !u->client || u->ping_inflight || u->fault)
                return;
        u->ping_inflight = true;
        /* 2026-07-28 has no ping: server/discover is as cheap. */
        (void)mcp_client_request(u->client,
                                 mcp_client_modern(u->client) ? "server/discover" : "ping", NULL,
                                 sv_scaled(u->sv, PING_TIMEOUT_MS), NULL, on_pong, u);
}

