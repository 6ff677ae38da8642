/* The gateway's routing core (DESIGN.md, "Gateway"; MCP 2025-11-25
 * basic/lifecycle, basic/utilities/{cancellation,progress,ping}): the gateway
 * object, client sessions, message framing and the supervisor's events.  It
 * knows no transport: adapters (unix.c, stdio.c, the HTTP adapter) create
 * sessions with a caller identity, feed them messages and receive what the
 * gateway sends through gateway_session_ops.  The MCP methods are in
 * methods.c.
 *
 * A session speaks JSON-RPC with one client.  Requests for a unit are
 * forwarded through its mcp_client, which gives them fresh ids; the answer
 * goes back under the client's own id.  Every forwarded request is a gw_call
 * linked to its session until mcp_client completes it, and mcp_client
 * completes every request exactly once (result, error, timeout, cancel or
 * session closed), so a client always gets an answer.  A client that closes
 * its sending side still gets the answers to what it asked before; a client
 * that goes away entirely has its in-flight requests cancelled upstream. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "corral/strbuf.h"
#include "corral/users.h"
#include "gateway/internal.h"

static void replay_backlog(gateway_session *s);

/* ---- sending ---- */

static void session_send(gateway_session *s, const char *data, size_t len, const cJSON *id,
                         bool response)
{
        gateway_out out = {.id = id, .response = response};

        if (s->ops && s->ops->send)
                (void)s->ops->send(s->ud, data, len, &out);
}

void gw_send_msg(gateway_session *s, const cJSON *msg, const cJSON *id, bool response)
{
        size_t len;
        _cleanup_free_ char *f = jsonrpc_frame(msg, &len);
        session_send(s, f, len, id, response);
}

/* {"jsonrpc":"2.0","id":ID,"<member>":VALUE}\n without copying VALUE into a
 * new tree: results can be megabytes. */
void gw_send_raw(gateway_session *s, const cJSON *id, const char *member, const cJSON *value)
{
        _cleanup_free_ char *idtxt = id ? json_print(id) : xstrdup("null");
        _cleanup_free_ char *vtxt = json_print(value);
        strbuf b = STRBUF_INIT(0);

        strbuf_appendf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"%s\":", idtxt, member);
        strbuf_append(&b, vtxt, strlen(vtxt));
        strbuf_append(&b, "}\n", 2);
        session_send(s, b.buf, b.len, id, true);
        strbuf_done(&b);
}

void gw_reply_error(gateway_session *s, const cJSON *id, int code, cJSON *take_data,
                    const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        _cleanup_json_ cJSON *m = jsonrpc_error(id, code, msg, take_data);
        gw_send_msg(s, m, id, true);
}

void gw_reply_result(gateway_session *s, const cJSON *id, cJSON *take_result)
{
        if (s->cur_method)
                gw_modern_decorate(s, take_result, s->cur_method);
        _cleanup_json_ cJSON *m = jsonrpc_result(id, take_result);
        gw_send_msg(s, m, id, true);
}

void gateway_session_reply(gateway_session *s, const cJSON *id, cJSON *result, int error_code,
                           const char *error_message)
{
        if (!s) {
                cJSON_Delete(result);
                return;
        }
        if (error_code) {
                cJSON_Delete(result);
                gw_reply_error(s, id, error_code, NULL, "%s",
                               error_message ? error_message : "error");
                return;
        }
        gw_reply_result(s, id, result);
}

void gateway_session_notify(gateway_session *s, const char *method, cJSON *take_params)
{
        if (!s) {
                cJSON_Delete(take_params);
                return;
        }
        _cleanup_json_ cJSON *m = jsonrpc_notification(method, take_params);
        gw_send_msg(s, m, NULL, false);
}

void gateway_session_reply_error(gateway_session *s, const cJSON *id, int code, const char *message,
                                 cJSON *take_data)
{
        if (!s) {
                cJSON_Delete(take_data);
                return;
        }
        gw_reply_error(s, id, code, take_data, "%s", message ? message : "error");
}

/* Data marking "not found" for the CLI (exit 66, sysexits EX_NOINPUT): only
 * on the control socket; MCP clients get no corral-internal fields. */
cJSON *gw_data_not_found(const gateway_session *s)
{
        cJSON *d;

        if (!s->control)
                return NULL;
        d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "exit", EX_NOINPUT);
        return d;
}

/* Sessions that get notifications: initialized MCP clients still listening
 * (not the control socket's, and not one that closed and was fully answered). */
static bool session_live(const gateway_session *s)
{
        return !s->control && s->initialized && !s->drained;
}

/* To every live session; with from set, only those that see that unit. */
static void broadcast(gateway *gw, const cJSON *msg, const char *sub_uri, int level,
                      const unit *from)
{
        _cleanup_free_ char *f = NULL;
        size_t len = 0;

        for (gateway_session *s = gw->sessions; s; s = s->next) {
                if (!session_live(s) || (from && !gw_session_sees(s, from)))
                        continue;
                if (level >= 0 && s->log_level >= 0 && level < s->log_level)
                        continue;
                if (sub_uri) {
                        bool found = false;
                        for (size_t i = 0; i < s->n_subs && !found; i++)
                                found = strcmp(s->subs[i], sub_uri) == 0;
                        if (!found)
                                continue;
                }
                if (!f)
                        f = jsonrpc_frame(msg, &len);
                session_send(s, f, len, NULL, false);
        }
}

/* ---- framing ---- */

static bool is_ping(const cJSON *msg)
{
        const char *method = json_get_string(msg, "method");
        return method && strcmp(method, "ping") == 0 && cJSON_HasObjectItem(msg, "id");
}

static int on_line(void *ud, const char *line, size_t len)
{
        gateway_session *s = ud;
        cJSON *msg = jsonrpc_parse(line, len);

        s->n_messages++;
        if (!msg) {
                gw_reply_error(s, NULL, JSONRPC_PARSE_ERROR, NULL,
                               "parse error: not one JSON value in UTF-8");
                return 0;
        }
        if (cJSON_IsArray(msg)) {
                cJSON_Delete(msg);
                gw_reply_error(s, NULL, JSONRPC_INVALID_REQUEST, NULL,
                               "invalid request: JSON-RPC batches are not supported");
                return 0;
        }
        /* A client that sends on without waiting for the initialize answer
         * (common with piped stdio) has its messages held, in order, until
         * initialize is answered; only pings are answered meanwhile. */
        if ((s->init_pending || s->backlog) && !is_ping(msg)) {
                if (!s->backlog)
                        s->backlog = cJSON_CreateArray();
                if (s->backlog_bytes + len > GW_BACKLOG_MAX) {
                        const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
                        gw_reply_error(s, jsonrpc_id_valid(id) ? id : NULL,
                                       JSONRPC_INVALID_REQUEST, NULL,
                                       "invalid request: too much sent before initialize was "
                                       "answered");
                        cJSON_Delete(msg);
                        return 0;
                }
                s->backlog_bytes += len;
                cJSON_AddItemToArray(s->backlog, msg);
                return 0;
        }
        gw_dispatch(s, msg);
        cJSON_Delete(msg);
        return 0;
}

/* Runs what a session sent while its initialize was pending. */
static void replay_backlog(gateway_session *s)
{
        cJSON *backlog = s->backlog;

        if (!backlog || s->init_pending)
                return;
        while (backlog->child) {
                cJSON *msg = cJSON_DetachItemViaPointer(backlog, backlog->child);
                gw_dispatch(s, msg);
                cJSON_Delete(msg);
        }
        cJSON_Delete(backlog);
        s->backlog = NULL;
        s->backlog_bytes = 0;
        gw_session_check_drained(s);
}

/* ---- sessions ---- */

gateway_session *gateway_session_new(gateway *gw, const gateway_session_ops *ops, void *ud,
                                     const gateway_session_config *cfg)
{
        gateway_session *s = xcalloc(1, sizeof(*s));

        s->gw = gw;
        s->ops = ops;
        s->ud = ud;
        s->control = cfg->control;
        s->level = cfg->level;
        s->uid = cfg->uid;
        s->user = cfg->user ? xstrdup(cfg->user) : NULL;
        /* Identity (issue 15): a unix peer is its uid's user. */
        if (!s->user && s->uid >= 0)
                s->user = users_name_of_uid((uid_t)s->uid);
        s->admin = !gw->system_mode || users_identity_is_admin(gw->site, s->uid, s->user);
        s->serial = ++gw->session_seq;
        s->iface = cfg->iface ? cfg->iface : "unix";
        s->scope = cfg->server ? xstrdup(cfg->server) : NULL;
        s->log_level = -1;
        jsonrpc_framer_init(&s->framer, JSONRPC_DEFAULT_MAX_MESSAGE);
        s->next = gw->sessions;
        if (gw->sessions)
                gw->sessions->prev = s;
        gw->sessions = s;
        return s;
}

void gateway_session_feed(gateway_session *s, const char *data, size_t n)
{
        if (!s || !s->gw || s->eof)
                return;
        if (jsonrpc_framer_feed(&s->framer, data, n, on_line, s) == JSONRPC_FRAME_OVERSIZE)
                gw_reply_error(s, NULL, JSONRPC_INVALID_REQUEST, NULL,
                               "invalid request: message larger than %u bytes",
                               JSONRPC_DEFAULT_MAX_MESSAGE);
}

void gateway_session_message(gateway_session *s, const char *json, size_t len)
{
        if (!s || !s->gw || s->eof)
                return;
        (void)on_line(s, json, len);
}

void gateway_session_set_on_drained(gateway_session *s,
                                    void (*on_drained)(gateway_session *s, void *ud), void *ud)
{
        s->on_drained = on_drained;
        s->drained_ud = ud;
}

bool gateway_session_busy(const gateway_session *s)
{
        return s->calls || s->init_pending || s->backlog || s->n_mgmt || s->n_uwait;
}

gateway *gateway_session_gateway(const gateway_session *s)
{
        return s->gw;
}

uv_loop_t *gateway_loop(const gateway *gw)
{
        return gw->loop;
}

static void session_unlink(gateway_session *s)
{
        gateway *gw = s->gw;

        if (!gw)
                return;
        if (s->prev)
                s->prev->next = s->next;
        else
                gw->sessions = s->next;
        if (s->next)
                s->next->prev = s->prev;
        s->prev = s->next = NULL;
        s->gw = NULL;
}

gateway_session *gateway_session_free(gateway_session *s)
{
        gateway *gw;

        if (!s)
                return NULL;
        gw = s->gw;
        while (s->calls)
                gw_cancel_call(s->calls, "the client disconnected");
        gw_mgmt_session_gone(s);
        gw_upstream_session_gone(s);
        gw_listen_free_all(s);
        session_unlink(s);
        if (gw && s->n_subs)
                gw_usub_resync_all(gw);
        cJSON_Delete(s->client_caps);
        cJSON_Delete(s->init_id);
        free(s->init_version);
        cJSON_Delete(s->backlog);
        for (size_t i = 0; i < s->n_subs; i++)
                free(s->subs[i]);
        free(s->subs);
        free(s->user);
        free(s->scope);
        jsonrpc_framer_done(&s->framer);
        free(s);
        return NULL;
}

void gateway_session_close_input(gateway_session *s)
{
        if (!s)
                return;
        s->eof = true;
        gw_session_check_drained(s);
}

void gw_session_check_drained(gateway_session *s)
{
        if (!s->eof || s->drained || s->calls || s->init_pending || s->backlog || s->n_mgmt ||
            s->n_uwait || !s->on_drained)
                return;
        s->drained = true;
        s->on_drained(s, s->drained_ud);
}

/* ---- supervisor events ---- */

static void on_notify_timer(uv_timer_t *t)
{
        static const struct {
                unsigned bit;
                const char *method;
        } kinds[] = {
                {UNIT_LIST_TOOLS, "notifications/tools/list_changed"},
                {UNIT_LIST_PROMPTS, "notifications/prompts/list_changed"},
                {UNIT_LIST_RESOURCES, "notifications/resources/list_changed"},
        };
        gateway *gw = t->data;
        unsigned changed;

        for (gateway_session *s = gw->sessions; s; s = s->next)
                replay_backlog(s);
        gw_usession_replay(gw);
        changed = gw->changed;
        gw->changed = 0;
        for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
                if (changed & kinds[i].bit) {
                        _cleanup_json_ cJSON *n = jsonrpc_notification(kinds[i].method, NULL);
                        broadcast(gw, n, NULL, -1, NULL);
                        gw_listen_notify(gw, kinds[i].method, kinds[i].bit, NULL, NULL);
                }
}

void gw_schedule_work(gateway *gw)
{
        if (!uv_is_active((uv_handle_t *)gw->notify_timer))
                uv_timer_start(gw->notify_timer, on_notify_timer, 0, 0);
}

static void schedule_changed(gateway *gw, unsigned which)
{
        gw->changed |= which;
        if (which & UNIT_LIST_RESOURCES)
                gw->owners_dirty = true;
        if (gw->changed)
                gw_schedule_work(gw);
}

#define ALL_LISTS (UNIT_LIST_TOOLS | UNIT_LIST_PROMPTS | UNIT_LIST_RESOURCES)

void gateway_tools_changed(gateway *gw)
{
        schedule_changed(gw, UNIT_LIST_TOOLS);
}

static void ev_unit_state(void *ud, unit *u, unit_state old_state, unit_state new_state)
{
        gateway *gw = ud;

        gw->owners_dirty = true;
        if (new_state == UNIT_INITIALIZING) {
                gw_upstream_hook(gw, u);
                gw_unlisted_forget(gw, unit_name(u)); /* a new run may answer otherwise */
        }
        if (old_state == UNIT_READY || new_state == UNIT_READY)
                schedule_changed(gw, ALL_LISTS);
        if (old_state == UNIT_READY && new_state != UNIT_READY)
                gw_usub_forget(gw, unit_name(u));
        if (new_state == UNIT_READY) {
                gw_send_level(gw, u);
                gw_resubscribe(gw, u);
        }
        if (gw_units_settled(gw))
                gw_answer_pending_inits(gw);
}

static void ev_unit_lists(void *ud, unit *u, unsigned which)
{
        gateway *gw = ud;
        gw->owners_dirty = true;
        schedule_changed(gw, which & ALL_LISTS);
}

static void ev_unit_notification(void *ud, unit *u, const char *method, const cJSON *params)
{
        gateway *gw = ud;

        if (strcmp(method, "notifications/message") == 0) {
                _cleanup_json_ cJSON *p = json_dup(params), *n = NULL;
                const char *logger = json_get_string(params, "logger");
                _cleanup_free_ char *l =
                        logger ? xasprintf("%s/%s", unit_name(u), logger) : xstrdup(unit_name(u));
                int level = gw_level_index(json_get_string(params, "level"));

                json_set(p, "logger", cJSON_CreateString(l));
                n = jsonrpc_notification(method, steal_pointer(&p));
                broadcast(gw, n, NULL, level < 0 ? GW_LOG_LEVELS - 1 : level, u);
                /* 2026-07-28 requests that asked (_meta logLevel) get the
                 * unit's messages while their call runs, on its stream. */
                for (gateway_session *s = gw->sessions; s; s = s->next)
                        for (gw_call *c = s->calls; c; c = c->next)
                                if (c->modern && c->log_level >= 0 && !c->completed &&
                                    c->client == unit_client(u) &&
                                    (level < 0 ? GW_LOG_LEVELS - 1 : level) >= c->log_level)
                                        gw_send_msg(s, n, c->id, false);
        } else if (strncmp(method, "notifications/tasks/", 20) == 0) {
                /* Single-server sessions know the server's own task ids,
                 * the aggregate's are SERVER__ID (tasks.c). */
                _cleanup_json_ cJSON *n = jsonrpc_notification(method, json_dup(params));
                _cleanup_json_ cJSON *q = json_dup(params), *nq = NULL;
                _cleanup_free_ char *f = NULL, *fq = NULL;
                size_t len = 0, lenq = 0;

                gw_tasks_qualify(q, unit_name(u));
                nq = jsonrpc_notification(method, steal_pointer(&q));
                if (strcmp(method, "notifications/tasks/status") == 0)
                        gw_tasks_ext_status(gw, u, params); /* 2026 listen streams */
                for (gateway_session *s = gw->sessions; s; s = s->next) {
                        if (!session_live(s) || !gw_session_sees(s, u))
                                continue;
                        if (s->scope) {
                                if (!f)
                                        f = jsonrpc_frame(n, &len);
                                session_send(s, f, len, NULL, false);
                        } else {
                                if (!fq)
                                        fq = jsonrpc_frame(nq, &lenq);
                                session_send(s, fq, lenq, NULL, false);
                        }
                }
        } else if (strcmp(method, "notifications/subscriptions/acknowledged") == 0) {
                gw_usub_acknowledged(gw, u, params);
        } else if (strcmp(method, "notifications/resources/updated") == 0) {
                const char *uri = json_get_string(params, "uri");
                _cleanup_json_ cJSON *p = NULL, *n = NULL;

                if (!uri)
                        return;
                p = json_dup(params);
                if (mcp_client_modern(unit_client(u))) {
                        /* A 2026-07-28 unit's copy on our listen stream
                         * (usubs.c); its stream id means nothing here. */
                        if (!gw_usub_accept(gw, u, params))
                                return;
                        cJSON *meta = cJSON_GetObjectItemCaseSensitive(p, "_meta");

                        cJSON_DeleteItemFromObjectCaseSensitive(meta, META_SUBSCRIPTION_ID);
                        if (cJSON_IsObject(meta) && !meta->child)
                                cJSON_DeleteItemFromObjectCaseSensitive(p, "_meta");
                }
                n = jsonrpc_notification(method, steal_pointer(&p));
                broadcast(gw, n, uri, -1, u);
                gw_listen_notify(gw, method, 0, uri, u);
        }
}

static void ev_unit_removed(void *ud, unit *u)
{
        gateway *gw = ud;
        schedule_changed(gw, ALL_LISTS);
        gw->owners_dirty = true;
        gw_usub_forget(gw, unit_name(u));
        gw_unlisted_forget(gw, unit_name(u));
        gw_usession_forget(gw, unit_name(u));
}

const supervisor_events gateway_supervisor_events = {
        .unit_state = ev_unit_state,
        .unit_lists = ev_unit_lists,
        .unit_notification = ev_unit_notification,
        .unit_removed = ev_unit_removed,
        .user_session = gw_ev_user_session,
        .user_notification = gw_ev_user_notification,
};

/* ---- gateway ---- */

static uint64_t env_ms(const char *name, uint64_t def)
{
        const char *v = getenv(name);
        char *end;
        unsigned long long n;

        if (!v || !*v)
                return def;
        errno = 0;
        n = strtoull(v, &end, 10);
        if (errno || *end || n == 0) {
                log_warn("ignoring %s='%s': not a positive number", name, v);
                return def;
        }
        return n > GW_MAX_TIMEOUT_MS ? GW_MAX_TIMEOUT_MS : n;
}

uv_timer_t *gw_timer_new(uv_loop_t *loop, void *data)
{
        uv_timer_t *t = xcalloc(1, sizeof(*t));
        if (uv_timer_init(loop, t) < 0)
                abort();
        t->data = data;
        return t;
}

void gw_handle_free_cb(uv_handle_t *h)
{
        free(h);
}

gateway *gateway_new(uv_loop_t *loop, supervisor *sv)
{
        gateway *gw = xcalloc(1, sizeof(*gw));

        gw->loop = loop;
        gw->sv = sv;
        gw->timeout_ms = env_ms("CORRAL_REQUEST_TIMEOUT_MS", GATEWAY_DEFAULT_TIMEOUT_MS);
        gw->init_deadline = uv_now(loop) + GW_INIT_WAIT_MS;
        gw->page_size = (size_t)env_ms("CORRAL_GATEWAY_PAGE_SIZE", GATEWAY_PAGE_SIZE);
        gw->upstream_level = -1;
        gw->owners_dirty = true;
        gw->notify_timer = gw_timer_new(loop, gw);
        gw->init_timer = gw_timer_new(loop, gw);
        return gw;
}

void gateway_set_supervisor(gateway *gw, supervisor *sv)
{
        gw->sv = sv;
        gw->owners_dirty = true;
}

void gateway_set_system_mode(gateway *gw, bool system)
{
        gw->system_mode = system;
}

void gateway_set_site(gateway *gw, const struct users_site *site)
{
        gw->site = site;
}

void gateway_set_call_observer(gateway *gw, gateway_call_observer fn, void *ud)
{
        gw->observer = fn;
        gw->observer_ud = ud;
}

void gateway_set_call_arguments(gateway *gw, bool on)
{
        gw->observer_args = on;
}

void gateway_set_limiter(gateway *gw, struct limiter *l)
{
        gw->limiter = l;
}

void gateway_set_metrics(gateway *gw, char *(*render)(void *ud), void *ud)
{
        gw->metrics_render = render;
        gw->metrics_ud = ud;
}

char *gateway_metrics_text(gateway *gw)
{
        return gw->metrics_render ? gw->metrics_render(gw->metrics_ud) : NULL;
}

bool gateway_user_is_admin(const gateway *gw, const char *user)
{
        return !gw->system_mode || users_identity_is_admin(gw->site, -1, user);
}

void gateway_set_tool_policy(gateway *gw, const struct tool_policy *tools)
{
        gw->tools = tools;
}

const char *gateway_session_user(const gateway_session *s)
{
        return s->user;
}

uint64_t gateway_session_serial(const gateway_session *s)
{
        return s->serial;
}

gateway_session *gateway_find_session(gateway *gw, uint64_t serial)
{
        for (gateway_session *s = gw ? gw->sessions : NULL; s; s = s->next)
                if (s->serial == serial)
                        return s;
        return NULL;
}

bool gateway_session_admin(const gateway_session *s)
{
        return s->admin;
}

bool gateway_session_may_see(const gateway_session *s, const char *owner)
{
        return s->admin || users_owner_matches(owner, s->user);
}

void gw_adapter_attach(gateway *gw, gw_adapter *a)
{
        a->prev = NULL;
        a->next = gw->adapters;
        if (gw->adapters)
                gw->adapters->prev = a;
        gw->adapters = a;
}

void gw_adapter_detach(gateway *gw, gw_adapter *a)
{
        if (a->prev)
                a->prev->next = a->next;
        else if (gw->adapters == a)
                gw->adapters = a->next;
        if (a->next)
                a->next->prev = a->prev;
        a->prev = a->next = NULL;
}

cJSON *gateway_collisions_json(gateway *gw)
{
        return gw_owners_collisions_json(gw_owners_get(gw));
}

/* ---- teardown ---- */

gateway *gateway_free(gateway *gw)
{
        if (!gw)
                return NULL;
        gw_mgmt_free(gw);
        while (gw->adapters) {
                gw_adapter *a = gw->adapters;
                gw_adapter_detach(gw, a);
                a->free(a);
        }
        /* Sessions owned by other callers outlive us detached. */
        while (gw->sessions)
                session_unlink(gw->sessions);
        uv_close((uv_handle_t *)gw->notify_timer, gw_handle_free_cb);
        uv_close((uv_handle_t *)gw->init_timer, gw_handle_free_cb);
        gw_owners_free(gw->owners);
        gw_mrtr_free_all(gw);
        gw_usub_free_all(gw);
        gw_usession_free_all(gw);
        gw_tasks_ext_free_all(gw);
        cJSON_Delete(gw->unlisted);
        while (gw->hints) {
                gw_hint *h = gw->hints;
                gw->hints = h->next;
                free(h->server);
                free(h);
        }
        free(gw);
        return NULL;
}
