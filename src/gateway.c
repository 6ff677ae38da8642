/* The gateway: one MCP server facing clients, aggregating every ready unit
 * (DESIGN.md, "Gateway"; MCP 2025-11-25 basic/lifecycle, basic/utilities/
 * {cancellation,progress,ping}, server/{tools,prompts,resources},
 * server/utilities/{completion,logging,pagination}).
 *
 * A session speaks JSON-RPC with one client.  Requests for a unit are
 * forwarded through its mcp_client, which gives them fresh ids; the answer
 * goes back under the client's own id.  Every forwarded request is a gw_call
 * linked to its session until mcp_client completes it, and mcp_client
 * completes every request exactly once (result, error, timeout, cancel or
 * session closed), so a client always gets an answer.
 *
 * Transports: unix-socket connections (gateway_listen) and one session on a
 * pair of fds (gateway_serve_fds).  A client that closes its sending side
 * still gets the answers to what it asked before; a client that goes away
 * entirely has its in-flight requests cancelled upstream. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/gateway.h"
#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "corral/mcp_client.h"
#include "corral/strbuf.h"
#include "corral/uvwrite.h"
#include "gateway_internal.h"

#define GW_WRITE_QUEUE_MAX (64u << 20) /* bytes queued to a client that does not read */
#define GW_MAX_CONNECTIONS 1024        /* per gateway, all listeners together */
#define GW_MAX_INFLIGHT 1024           /* forwarded requests per session */
#define GW_MAX_SUBSCRIPTIONS 1024      /* resources/subscribe per session */
#define GW_MAX_TIMEOUT_MS (24ull * 3600 * 1000)
/* For this long after the gateway starts, initialize waits for units still on
 * their first start; after that it answers at once. */
#define GW_INIT_WAIT_MS 10000
#define GW_READ_CHUNK 65536
#define GW_BACKLOG_MAX (16u << 20)          /* bytes held while initialize is pending */
#define META_TIMEOUT_KEY "corral/timeoutMs" /* _meta key: per-request timeout */

static const char *const log_levels[] = {"debug", "info",     "notice", "warning",
                                         "error", "critical", "alert",  "emergency"};

typedef struct gw_call gw_call;
typedef struct gw_listener gw_listener;
typedef struct gw_conn gw_conn;
typedef struct gw_fdconn gw_fdconn;

struct gateway {
        uv_loop_t *loop;
        supervisor *sv;
        bool system_mode;
        uint64_t timeout_ms;
        uint64_t init_deadline; /* loop time (ms) after which initialize never waits */
        size_t page_size;

        gateway_session *sessions;
        gw_listener *listeners;
        gw_conn *conns;
        size_t n_conns;
        gw_fdconn *fdconns;

        gw_owners *owners;
        bool owners_dirty;

        unsigned changed;         /* unit_lists bits waiting for notify_timer */
        uv_timer_t *notify_timer; /* deferred work: list_changed (coalesced within a
                                   * loop turn) and replaying held messages */
        uv_timer_t *init_timer;   /* bounds deferred initialize answers */
        int upstream_level;       /* logging/setLevel sent to units; -1 none */
};

struct gateway_session {
        gateway *gw; /* NULL once the gateway is gone */
        const gateway_session_ops *ops;
        void *ud;
        bool control;
        bool initialized;  /* initialize answered */
        bool init_pending; /* initialize waiting for units to settle */
        cJSON *init_id;
        char *init_version;
        bool eof;      /* the client will send nothing more */
        bool drained;  /* on_drained already called */
        int log_level; /* logging/setLevel index; -1 = not set */
        jsonrpc_framer framer;
        cJSON *backlog; /* messages received while initialize was pending */
        size_t backlog_bytes;
        gw_call *calls;
        size_t n_calls;
        char **subs; /* resources/subscribe URIs */
        size_t n_subs;
        /* Transport hook: called once after eof when nothing is in flight. */
        void (*on_drained)(gateway_session *s, void *ud);
        void *drained_ud;
        gateway_session *prev, *next;
};

struct gw_call {
        gateway_session *s; /* NULL once detached (client gone or cancelled) */
        cJSON *id;          /* the client's id */
        cJSON *progress_token;
        char *server;
        mcp_client *client;
        uint64_t handle;
        bool starting, completed;
        gw_call *prev, *next;
};

static void session_check_drained(gateway_session *s);
static void schedule_work(gateway *gw);
static void replay_backlog(gateway_session *s);

/* ---- sending ---- */

static void session_send(gateway_session *s, const char *data, size_t len)
{
        if (s->ops && s->ops->send)
                (void)s->ops->send(s->ud, data, len);
}

static void send_msg(gateway_session *s, const cJSON *msg)
{
        size_t len;
        _cleanup_free_ char *f = jsonrpc_frame(msg, &len);
        session_send(s, f, len);
}

/* {"jsonrpc":"2.0","id":ID,"<member>":VALUE}\n without copying VALUE into a
 * new tree: results can be megabytes. */
static void send_raw(gateway_session *s, const cJSON *id, const char *member, const cJSON *value)
{
        _cleanup_free_ char *idtxt = id ? json_print(id) : xstrdup("null");
        _cleanup_free_ char *vtxt = json_print(value);
        strbuf b = STRBUF_INIT(0);

        strbuf_appendf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"%s\":", idtxt, member);
        strbuf_append(&b, vtxt, strlen(vtxt));
        strbuf_append(&b, "}\n", 2);
        session_send(s, b.buf, b.len);
        strbuf_done(&b);
}

static void reply_error(gateway_session *s, const cJSON *id, int code, cJSON *take_data,
                        const char *fmt, ...) _printf_(5, 6);
static void reply_error(gateway_session *s, const cJSON *id, int code, cJSON *take_data,
                        const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        _cleanup_json_ cJSON *m = jsonrpc_error(id, code, msg, take_data);
        send_msg(s, m);
}

static void reply_result(gateway_session *s, const cJSON *id, cJSON *take_result)
{
        _cleanup_json_ cJSON *m = jsonrpc_result(id, take_result);
        send_msg(s, m);
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
                reply_error(s, id, error_code, NULL, "%s", error_message ? error_message : "error");
                return;
        }
        reply_result(s, id, result);
}

void gateway_session_reply_error(gateway_session *s, const cJSON *id, int code, const char *message,
                                 cJSON *take_data)
{
        if (!s) {
                cJSON_Delete(take_data);
                return;
        }
        reply_error(s, id, code, take_data, "%s", message ? message : "error");
}

/* Data marking "not found" for the CLI (exit 66, sysexits EX_NOINPUT). */
static cJSON *data_not_found(void)
{
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "exit", EX_NOINPUT);
        return d;
}

/* Sessions that get notifications: initialized MCP clients still listening
 * (not the control socket's, and not one that closed and was fully answered). */
static bool session_live(const gateway_session *s)
{
        return !s->control && s->initialized && !s->drained;
}

static void broadcast(gateway *gw, const cJSON *msg, const char *sub_uri, int level)
{
        _cleanup_free_ char *f = NULL;
        size_t len = 0;

        for (gateway_session *s = gw->sessions; s; s = s->next) {
                if (!session_live(s))
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
                session_send(s, f, len);
        }
}

/* ---- forwarding ---- */

static void call_free(gw_call *c)
{
        cJSON_Delete(c->id);
        cJSON_Delete(c->progress_token);
        free(c->server);
        free(c);
}

static void call_detach(gw_call *c)
{
        gateway_session *s = c->s;

        if (!s)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        s->n_calls--;
        c->s = NULL;
}

static bool corral_code(int code)
{
        return code <= CORRAL_RPC_UNAVAILABLE && code >= CORRAL_RPC_FAULTY;
}

static void on_call_response(void *ud, const cJSON *result, const cJSON *error)
{
        gw_call *c = ud;
        gateway_session *s = c->s;

        if (s) {
                if (result) {
                        send_raw(s, c->id, "result", result);
                } else {
                        _cleanup_json_ cJSON *e = json_dup(error);
                        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
                        const char *msg = json_get_string(e, "message");

                        /* corral's own errors (timeout, session closed, …) say
                         * which server they come from; the unit's errors pass
                         * through untouched. */
                        if (cJSON_IsNumber(code) && corral_code(code->valueint) && msg) {
                                _cleanup_free_ char *m =
                                        xasprintf("server '%s': %s", c->server, msg);
                                json_set(e, "message", cJSON_CreateString(m));
                        }
                        send_raw(s, c->id, "error", e);
                }
                call_detach(c);
                session_check_drained(s);
        }
        c->completed = true;
        if (!c->starting)
                call_free(c);
}

static void on_call_progress(void *ud, const cJSON *params)
{
        gw_call *c = ud;
        _cleanup_json_ cJSON *p = NULL, *n = NULL;

        if (!c->s || !c->progress_token)
                return;
        p = json_dup(params);
        json_set(p, "progressToken", json_dup(c->progress_token));
        n = jsonrpc_notification("notifications/progress", steal_pointer(&p));
        send_msg(c->s, n);
}

/* Takes the client's progressToken and corral's timeout out of params._meta
 * (mcp_client puts its own token in).  Returns the token (owned) or NULL. */
static cJSON *take_meta(gateway *gw, cJSON *params, uint64_t *ret_timeout)
{
        cJSON *meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
        cJSON *token = NULL;
        const cJSON *t;

        *ret_timeout = gw->timeout_ms;
        if (!cJSON_IsObject(meta))
                return NULL;
        token = cJSON_DetachItemFromObjectCaseSensitive(meta, "progressToken");
        if (token && !cJSON_IsString(token) && !cJSON_IsNumber(token)) {
                cJSON_Delete(token);
                token = NULL;
        }
        t = cJSON_GetObjectItemCaseSensitive(meta, META_TIMEOUT_KEY);
        if (cJSON_IsNumber(t) && t->valuedouble >= 1) {
                double ms = t->valuedouble;
                *ret_timeout = ms > (double)GW_MAX_TIMEOUT_MS ? GW_MAX_TIMEOUT_MS : (uint64_t)ms;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(meta, META_TIMEOUT_KEY);
        if (!meta->child)
                cJSON_DeleteItemFromObjectCaseSensitive(params, "_meta");
        return token;
}

/* Forwards method with params (consumed) to client, answering id when done. */
static void forward(gateway_session *s, const cJSON *id, const char *server, mcp_client *client,
                    const char *method, cJSON *params)
{
        uint64_t timeout;
        cJSON *token = take_meta(s->gw, params, &timeout);
        gw_call *c;
        uint64_t h;

        if (s->n_calls >= GW_MAX_INFLIGHT) {
                cJSON_Delete(token);
                cJSON_Delete(params);
                reply_error(s, id, CORRAL_RPC_UNAVAILABLE, NULL,
                            "too many requests in flight on this session (limit %d)",
                            GW_MAX_INFLIGHT);
                return;
        }
        c = xcalloc(1, sizeof(*c));
        c->s = s;
        c->id = json_dup(id);
        c->progress_token = token;
        c->server = xstrdup(server);
        c->client = client;
        c->next = s->calls;
        if (s->calls)
                s->calls->prev = c;
        s->calls = c;
        s->n_calls++;

        /* The response callback may run before mcp_client_request returns
         * (transport gone); `starting` keeps c alive until then. */
        c->starting = true;
        h = mcp_client_request(client, method, params, timeout, token ? on_call_progress : NULL,
                               on_call_response, c);
        c->starting = false;
        if (c->completed) {
                call_free(c);
                return;
        }
        c->handle = h;
}

static bool ids_equal(const cJSON *a, const cJSON *b)
{
        if (cJSON_IsString(a) && cJSON_IsString(b))
                return strcmp(a->valuestring, b->valuestring) == 0;
        if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
                return a->valuedouble == b->valuedouble;
        return false;
}

static void cancel_call(gw_call *c, const char *reason)
{
        /* Detach first: per MCP cancellation the client gets no answer for a
         * request it cancelled, and a departed client none at all. */
        call_detach(c);
        if (c->handle)
                mcp_client_cancel(c->client, c->handle, reason);
}

/* ---- lookups ---- */

static gw_owners *owners(gateway *gw)
{
        unit *const *units;
        size_t n, k = 0;

        if (gw->owners && !gw->owners_dirty)
                return gw->owners;
        gw->owners = gw_owners_free(gw->owners);
        n = gw->sv ? supervisor_units(gw->sv, &units) : 0;
        _cleanup_free_ gw_source *res = xcalloc(n ? n : 1, sizeof(*res));
        _cleanup_free_ gw_source *tpl = xcalloc(n ? n : 1, sizeof(*tpl));
        for (size_t i = 0; i < n; i++) {
                if (unit_get_state(units[i]) != UNIT_READY)
                        continue;
                res[k] = (gw_source){unit_name(units[i]), unit_resources(units[i])};
                tpl[k] = (gw_source){unit_name(units[i]), unit_resource_templates(units[i])};
                k++;
        }
        gw->owners = gw_owners_build(res, k, tpl, k);
        gw->owners_dirty = false;
        return gw->owners;
}

/* The unit's client when it is ready; otherwise answers id with an error
 * naming the unit and its state and returns NULL. */
static mcp_client *ready_client(gateway_session *s, const cJSON *id, unit *u)
{
        unit_state st = unit_get_state(u);
        mcp_client *c = st == UNIT_READY ? unit_client(u) : NULL;
        const char *why;
        cJSON *data;

        if (c)
                return c;
        why = unit_last_error(u);
        data = cJSON_CreateObject();
        cJSON_AddStringToObject(data, "server", unit_name(u));
        cJSON_AddStringToObject(data, "state", unit_state_name(st));
        if (why)
                reply_error(s, id, CORRAL_RPC_UNAVAILABLE, data, "server '%s' is %s: %s",
                            unit_name(u), unit_state_name(st), why);
        else
                reply_error(s, id, CORRAL_RPC_UNAVAILABLE, data, "server '%s' is %s", unit_name(u),
                            unit_state_name(st));
        return NULL;
}

static bool list_has(const cJSON *list, const char *name)
{
        const cJSON *item;

        cJSON_ArrayForEach(item, list)
        {
                const char *n = json_get_string(item, "name");
                if (n && strcmp(n, name) == 0)
                        return true;
        }
        return false;
}

/* ---- method handlers ---- */

static bool units_settled(gateway *gw)
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

static cJSON *initialize_result(const char *version)
{
        cJSON *r = cJSON_CreateObject();
        cJSON *caps = cJSON_AddObjectToObject(r, "capabilities");
        cJSON *info;

        cJSON_AddStringToObject(r, "protocolVersion", version);
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged", true);
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "prompts"), "listChanged", true);
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "resources"), "listChanged", true);
        cJSON_AddObjectToObject(caps, "completions");
        cJSON_AddObjectToObject(caps, "logging");
        info = cJSON_AddObjectToObject(r, "serverInfo");
        cJSON_AddStringToObject(info, "name", "corral");
        cJSON_AddStringToObject(info, "version", CORRAL_VERSION);
        cJSON_AddStringToObject(r, "instructions",
                                "corral aggregates several MCP servers: tools and prompts are "
                                "named SERVER__NAME; resources keep their URIs.");
        return r;
}

static void answer_initialize(gateway_session *s)
{
        reply_result(s, s->init_id, initialize_result(s->init_version));
        s->initialized = true;
        s->init_pending = false;
        s->init_id = (cJSON_Delete(s->init_id), NULL);
        s->init_version = (free(s->init_version), NULL);
        /* Not replayed here: this may run inside a supervisor callback. */
        if (s->backlog && s->gw)
                schedule_work(s->gw);
        session_check_drained(s);
}

static void answer_pending_inits(gateway *gw)
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
        answer_pending_inits(gw);
}

static void handle_initialize(gateway_session *s, const cJSON *id, const cJSON *params)
{
        const char *asked = json_get_string(params, "protocolVersion");
        gateway *gw = s->gw;

        if (s->initialized || s->init_pending) {
                reply_error(s, id, JSONRPC_INVALID_REQUEST, NULL,
                            "invalid request: the session is already initialized");
                return;
        }
        /* MCP basic/lifecycle §version negotiation: echo a version we speak,
         * else offer our latest and let the client decide. */
        s->init_version =
                xstrdup(asked && mcp_protocol_supported(asked) ? asked : MCP_PROTOCOL_LATEST);
        s->init_id = json_dup(id);
        s->init_pending = true;
        /* A client connecting right after start-up would see an empty tool
         * list; wait a little for first starts to settle instead.  The grace
         * is anchored at the gateway's start, so a server that hangs in its
         * handshake delays clients once, not every time. */
        uint64_t now = uv_now(gw->loop);
        if (now < gw->init_deadline && !units_settled(gw)) {
                if (!uv_is_active((uv_handle_t *)gw->init_timer))
                        uv_timer_start(gw->init_timer, on_init_timer, gw->init_deadline - now, 0);
                return;
        }
        answer_initialize(s);
}

static void handle_list(gateway_session *s, const cJSON *id, const cJSON *params, const char *key,
                        bool qualify, const cJSON *(*get)(const unit *))
{
        gateway *gw = s->gw;
        const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(params, "cursor");
        unit *const *units;
        size_t n = gw->sv ? supervisor_units(gw->sv, &units) : 0, k = 0;
        cJSON *page;

        if (cursor && !cJSON_IsString(cursor)) {
                reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL, "invalid params: invalid cursor");
                return;
        }
        _cleanup_free_ gw_source *src = xcalloc(n ? n : 1, sizeof(*src));
        for (size_t i = 0; i < n; i++)
                if (unit_get_state(units[i]) == UNIT_READY)
                        src[k++] = (gw_source){unit_name(units[i]), get(units[i])};
        page = gw_list_page(src, k, key, qualify, cursor ? cursor->valuestring : NULL,
                            gw->page_size);
        if (!page) {
                reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL, "invalid params: invalid cursor");
                return;
        }
        reply_result(s, id, page);
}

/* tools/call and prompts/get: SERVER__NAME → the unit, with the name restored. */
static void handle_named(gateway_session *s, const cJSON *id, const cJSON *params,
                         const char *method, const char *what)
{
        gateway *gw = s->gw;
        const char *name = json_get_string(params, "name");
        _cleanup_free_ char *server = NULL, *local = NULL;
        const cJSON *list;
        mcp_client *client;
        unit *u;
        cJSON *fwd;

        if (!name) {
                reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL, "invalid params: missing %s name",
                            what);
                return;
        }
        if (!gateway_split(name, &server, &local)) {
                reply_error(s, id, JSONRPC_INVALID_PARAMS, data_not_found(),
                            "unknown %s '%s': names are SERVER__NAME", what, name);
                return;
        }
        u = gw->sv ? supervisor_find(gw->sv, server) : NULL;
        if (!u) {
                reply_error(s, id, JSONRPC_INVALID_PARAMS, data_not_found(),
                            "unknown %s '%s': no server '%s'", what, name, server);
                return;
        }
        client = ready_client(s, id, u);
        if (!client)
                return;
        list = strcmp(what, "tool") == 0 ? unit_tools(u) : unit_prompts(u);
        if (!list_has(list, local)) {
                reply_error(s, id, JSONRPC_INVALID_PARAMS, data_not_found(),
                            "unknown %s '%s': server '%s' has no %s '%s'", what, name, server, what,
                            local);
                return;
        }
        fwd = json_dup(params);
        json_set(fwd, "name", cJSON_CreateString(local));
        forward(s, id, server, client, method, fwd);
}

static bool session_subscribed(const gateway_session *s, const char *uri)
{
        for (size_t i = 0; i < s->n_subs; i++)
                if (strcmp(s->subs[i], uri) == 0)
                        return true;
        return false;
}

static void sub_remove(gateway_session *s, const char *uri)
{
        for (size_t i = 0; i < s->n_subs; i++)
                if (strcmp(s->subs[i], uri) == 0) {
                        free(s->subs[i]);
                        s->subs[i] = s->subs[--s->n_subs];
                        s->subs[s->n_subs] = NULL;
                        return;
                }
}

/* resources/read, resources/subscribe, resources/unsubscribe: by URI owner. */
static void handle_resource(gateway_session *s, const cJSON *id, const cJSON *params,
                            const char *method)
{
        gateway *gw = s->gw;
        const char *uri = json_get_string(params, "uri");
        bool subscribe = strcmp(method, "resources/subscribe") == 0;
        bool unsubscribe = strcmp(method, "resources/unsubscribe") == 0;
        const char *owner;
        mcp_client *client;
        unit *u;

        if (!uri) {
                reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL, "invalid params: missing uri");
                return;
        }
        if (unsubscribe) {
                sub_remove(s, uri);
                /* Upstream subscriptions are shared by every session: keep it
                 * while another session still wants updates. */
                for (gateway_session *o = gw->sessions; o; o = o->next)
                        if (o != s && session_subscribed(o, uri)) {
                                reply_result(s, id, cJSON_CreateObject());
                                return;
                        }
        }
        owner = gw_owners_lookup(owners(gw), uri);
        u = owner && gw->sv ? supervisor_find(gw->sv, owner) : NULL;
        if (!u) {
                cJSON *data = cJSON_CreateObject();
                cJSON_AddStringToObject(data, "uri", uri);
                if (subscribe || unsubscribe)
                        reply_error(s, id, JSONRPC_INVALID_PARAMS, data,
                                    "unknown resource '%s': no ready server lists it", uri);
                else
                        reply_error(s, id, MCP_RESOURCE_NOT_FOUND, data,
                                    "resource not found: '%s': no ready server lists it", uri);
                return;
        }
        client = ready_client(s, id, u);
        if (!client)
                return;
        if (subscribe && !session_subscribed(s, uri)) {
                if (s->n_subs >= GW_MAX_SUBSCRIPTIONS) {
                        reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                                    "too many subscriptions on this session (limit %d)",
                                    GW_MAX_SUBSCRIPTIONS);
                        return;
                }
                s->subs = xrealloc(s->subs, (s->n_subs + 2) * sizeof(*s->subs));
                s->subs[s->n_subs++] = xstrdup(uri);
                s->subs[s->n_subs] = NULL;
        }
        forward(s, id, owner, client, method, json_dup(params));
}

static void handle_complete(gateway_session *s, const cJSON *id, const cJSON *params)
{
        gateway *gw = s->gw;
        const cJSON *ref = json_get_object(params, "ref");
        const char *type = json_get_string(ref, "type");
        _cleanup_free_ char *server = NULL, *local = NULL;
        const cJSON *caps;
        mcp_client *client;
        unit *u = NULL;
        cJSON *fwd;

        if (type && strcmp(type, "ref/prompt") == 0) {
                const char *name = json_get_string(ref, "name");
                if (!name || !gateway_split(name, &server, &local)) {
                        reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                                    "invalid params: unknown prompt '%s'", name ? name : "");
                        return;
                }
                u = gw->sv ? supervisor_find(gw->sv, server) : NULL;
        } else if (type && strcmp(type, "ref/resource") == 0) {
                const char *uri = json_get_string(ref, "uri");
                const char *owner = gw_owners_lookup_ref(owners(gw), uri);
                if (owner) {
                        server = xstrdup(owner);
                        u = gw->sv ? supervisor_find(gw->sv, owner) : NULL;
                }
        } else {
                reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                            "invalid params: ref.type must be ref/prompt or ref/resource");
                return;
        }
        if (!u) {
                reply_error(s, id, JSONRPC_INVALID_PARAMS, data_not_found(),
                            "invalid params: no server for this %s reference",
                            strcmp(type, "ref/prompt") == 0 ? "prompt" : "resource");
                return;
        }
        client = ready_client(s, id, u);
        if (!client)
                return;
        caps = mcp_client_server_capabilities(client);
        if (!cJSON_GetObjectItemCaseSensitive(caps, "completions")) {
                /* We advertise completions for all units; one that has none
                 * simply offers nothing. */
                cJSON *r = cJSON_CreateObject();
                cJSON *c = cJSON_AddObjectToObject(r, "completion");
                cJSON_AddArrayToObject(c, "values");
                cJSON_AddBoolToObject(c, "hasMore", false);
                reply_result(s, id, r);
                return;
        }
        fwd = json_dup(params);
        if (local)
                json_set(cJSON_GetObjectItemCaseSensitive(fwd, "ref"), "name",
                         cJSON_CreateString(local));
        forward(s, id, server, client, "completion/complete", fwd);
}

static int level_index(const char *level)
{
        for (size_t i = 0; level && i < ARRAY_SIZE(log_levels); i++)
                if (strcmp(level, log_levels[i]) == 0)
                        return (int)i;
        return -1;
}

static void ignore_response(void *ud, const cJSON *result, const cJSON *error)
{
        if (error)
                log_debug("gateway: logging/setLevel: %s", json_get_string(error, "message"));
}

static void send_level(gateway *gw, unit *u)
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

static void handle_set_level(gateway_session *s, const cJSON *id, const cJSON *params)
{
        gateway *gw = s->gw;
        int level = level_index(json_get_string(params, "level"));
        int lowest = -1;

        if (level < 0) {
                reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
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
                        send_level(gw, units[i]);
        }
        reply_result(s, id, cJSON_CreateObject());
}

static void handle_request(gateway_session *s, const cJSON *id, const char *method,
                           const cJSON *params)
{
        if (params && !cJSON_IsObject(params)) {
                reply_error(s, id, JSONRPC_INVALID_PARAMS, NULL,
                            "invalid params: params must be an object");
                return;
        }
        if (strcmp(method, "ping") == 0) {
                reply_result(s, id, cJSON_CreateObject());
                return;
        }
        if (strcmp(method, "initialize") == 0) {
                handle_initialize(s, id, params);
                return;
        }
        if (!s->control && !s->initialized) {
                reply_error(s, id, JSONRPC_INVALID_REQUEST, NULL,
                            "invalid request: '%s' before initialize", method);
                return;
        }
        if (strcmp(method, "tools/list") == 0)
                handle_list(s, id, params, "tools", true, unit_tools);
        else if (strcmp(method, "prompts/list") == 0)
                handle_list(s, id, params, "prompts", true, unit_prompts);
        else if (strcmp(method, "resources/list") == 0)
                handle_list(s, id, params, "resources", false, unit_resources);
        else if (strcmp(method, "resources/templates/list") == 0)
                handle_list(s, id, params, "resourceTemplates", false, unit_resource_templates);
        else if (strcmp(method, "tools/call") == 0)
                handle_named(s, id, params, method, "tool");
        else if (strcmp(method, "prompts/get") == 0)
                handle_named(s, id, params, method, "prompt");
        else if (strcmp(method, "resources/read") == 0 ||
                 strcmp(method, "resources/subscribe") == 0 ||
                 strcmp(method, "resources/unsubscribe") == 0)
                handle_resource(s, id, params, method);
        else if (strcmp(method, "completion/complete") == 0)
                handle_complete(s, id, params);
        else if (strcmp(method, "logging/setLevel") == 0)
                handle_set_level(s, id, params);
        else if (!(s->ops->extra_method && s->ops->extra_method(s->ud, s, id, method, params)))
                reply_error(s, id, JSONRPC_METHOD_NOT_FOUND, NULL, "method not found: '%s'",
                            method);
}

static void handle_notification(gateway_session *s, const char *method, const cJSON *params)
{
        if (strcmp(method, "notifications/cancelled") == 0) {
                const cJSON *rid = cJSON_GetObjectItemCaseSensitive(params, "requestId");
                const char *reason = json_get_string(params, "reason");

                for (gw_call *c = s->calls; c; c = c->next)
                        if (ids_equal(c->id, rid)) {
                                cancel_call(c, reason ? reason : "cancelled by the client");
                                break;
                        }
                session_check_drained(s);
        }
        /* notifications/initialized, roots/list_changed, progress: nothing to do. */
}

static void dispatch(gateway_session *s, const cJSON *msg)
{
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");

        switch (jsonrpc_classify(msg)) {
        case JSONRPC_REQUEST:
                handle_request(s, id, json_get_string(msg, "method"),
                               cJSON_GetObjectItemCaseSensitive(msg, "params"));
                break;
        case JSONRPC_NOTIFICATION:
                handle_notification(s, json_get_string(msg, "method"),
                                    json_get_object(msg, "params"));
                break;
        case JSONRPC_RESPONSE:
                /* The gateway sends clients no requests; stray answers are dropped. */
                break;
        case JSONRPC_INVALID:
                if (!cJSON_IsString(id) && !cJSON_IsNumber(id))
                        id = NULL;
                reply_error(s, id, JSONRPC_INVALID_REQUEST, NULL,
                            "invalid request: not a JSON-RPC 2.0 message");
                break;
        }
}

static bool is_ping(const cJSON *msg)
{
        const char *method = json_get_string(msg, "method");
        return method && strcmp(method, "ping") == 0 && cJSON_HasObjectItem(msg, "id");
}

static int on_line(void *ud, const char *line, size_t len)
{
        gateway_session *s = ud;
        cJSON *msg = cJSON_ParseWithLength(line, len);

        if (!msg) {
                reply_error(s, NULL, JSONRPC_PARSE_ERROR, NULL, "parse error: invalid JSON");
                return 0;
        }
        if (cJSON_IsArray(msg)) {
                cJSON_Delete(msg);
                reply_error(s, NULL, JSONRPC_INVALID_REQUEST, NULL,
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
                        reply_error(s, cJSON_IsString(id) || cJSON_IsNumber(id) ? id : NULL,
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
        dispatch(s, msg);
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
                dispatch(s, msg);
                cJSON_Delete(msg);
        }
        cJSON_Delete(backlog);
        s->backlog = NULL;
        s->backlog_bytes = 0;
        session_check_drained(s);
}

/* ---- sessions ---- */

gateway_session *gateway_session_new(gateway *gw, const gateway_session_ops *ops, void *ud,
                                     bool control)
{
        gateway_session *s = xcalloc(1, sizeof(*s));

        s->gw = gw;
        s->ops = ops;
        s->ud = ud;
        s->control = control;
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
                reply_error(s, NULL, JSONRPC_INVALID_REQUEST, NULL,
                            "invalid request: message larger than %u bytes",
                            JSONRPC_DEFAULT_MAX_MESSAGE);
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
        if (!s)
                return NULL;
        while (s->calls)
                cancel_call(s->calls, "the client disconnected");
        session_unlink(s);
        cJSON_Delete(s->init_id);
        free(s->init_version);
        cJSON_Delete(s->backlog);
        for (size_t i = 0; i < s->n_subs; i++)
                free(s->subs[i]);
        free(s->subs);
        jsonrpc_framer_done(&s->framer);
        free(s);
        return NULL;
}

/* The client sends nothing more; what it asked is still answered. */
static void session_input_closed(gateway_session *s)
{
        s->eof = true;
        session_check_drained(s);
}

static void session_check_drained(gateway_session *s)
{
        if (!s->eof || s->drained || s->calls || s->init_pending || s->backlog || !s->on_drained)
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
        changed = gw->changed;
        gw->changed = 0;
        for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
                if (changed & kinds[i].bit) {
                        _cleanup_json_ cJSON *n = jsonrpc_notification(kinds[i].method, NULL);
                        broadcast(gw, n, NULL, -1);
                }
}

static void schedule_work(gateway *gw)
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
                schedule_work(gw);
}

#define ALL_LISTS (UNIT_LIST_TOOLS | UNIT_LIST_PROMPTS | UNIT_LIST_RESOURCES)

static void ev_unit_state(void *ud, unit *u, unit_state old_state, unit_state new_state)
{
        gateway *gw = ud;

        gw->owners_dirty = true;
        if (old_state == UNIT_READY || new_state == UNIT_READY)
                schedule_changed(gw, ALL_LISTS);
        if (new_state == UNIT_READY)
                send_level(gw, u);
        if (units_settled(gw))
                answer_pending_inits(gw);
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
                int level = level_index(json_get_string(params, "level"));

                json_set(p, "logger", cJSON_CreateString(l));
                n = jsonrpc_notification(method, steal_pointer(&p));
                broadcast(gw, n, NULL, level < 0 ? (int)ARRAY_SIZE(log_levels) - 1 : level);
        } else if (strcmp(method, "notifications/resources/updated") == 0) {
                const char *uri = json_get_string(params, "uri");
                _cleanup_json_ cJSON *n = NULL;

                if (!uri)
                        return;
                n = jsonrpc_notification(method, json_dup(params));
                broadcast(gw, n, uri, -1);
        }
}

static void ev_unit_removed(void *ud, unit *u)
{
        gateway *gw = ud;
        schedule_changed(gw, ALL_LISTS);
        gw->owners_dirty = true;
}

const supervisor_events gateway_supervisor_events = {
        .unit_state = ev_unit_state,
        .unit_lists = ev_unit_lists,
        .unit_notification = ev_unit_notification,
        .unit_removed = ev_unit_removed,
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

static uv_timer_t *timer_new(uv_loop_t *loop, void *data)
{
        uv_timer_t *t = xcalloc(1, sizeof(*t));
        if (uv_timer_init(loop, t) < 0)
                abort();
        t->data = data;
        return t;
}

static void handle_free_cb(uv_handle_t *h)
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
        gw->notify_timer = timer_new(loop, gw);
        gw->init_timer = timer_new(loop, gw);
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

cJSON *gateway_collisions_json(gateway *gw)
{
        return gw_owners_collisions_json(owners(gw));
}

/* ---- unix socket transport ---- */

struct gw_listener {
        uv_pipe_t pipe;
        gateway *gw;
        char *path;
        bool control;
        const gateway_session_ops *ops_extra;
        void *ud_extra;
        gw_listener *next;
};

struct gw_conn {
        uv_pipe_t pipe;
        gateway *gw; /* NULL once the gateway is gone */
        gateway_session *s;
        const gateway_session_ops *ops_extra;
        void *ud_extra;
        size_t queued;
        bool closing;
        char rbuf[GW_READ_CHUNK];
        gw_conn *prev, *next;
};

static void conn_close_cb(uv_handle_t *h)
{
        gw_conn *conn = h->data;

        conn->s = gateway_session_free(conn->s);
        if (conn->gw) {
                gateway *gw = conn->gw;
                if (conn->prev)
                        conn->prev->next = conn->next;
                else
                        gw->conns = conn->next;
                if (conn->next)
                        conn->next->prev = conn->prev;
                gw->n_conns--;
        }
        free(conn);
}

static void conn_close(gw_conn *conn)
{
        if (conn->closing)
                return;
        conn->closing = true;
        /* The session is freed in the close callback, never here: this may
         * run inside gateway_session_feed() for the same session. */
        uv_close((uv_handle_t *)&conn->pipe, conn_close_cb);
}

static void write_cb(void *owner, int status)
{
        gw_conn *conn = owner;

        if (status < 0 && status != UV_ECANCELED) {
                log_debug("gateway: write to client failed: %s", uv_strerror(status));
                conn_close(conn);
        }
}

/* Queues data on stream; -1 when over the cap or the stream failed. */
static int stream_send(uv_stream_t *st, size_t *queued, void *owner, const char *data, size_t len,
                       uvwrite_done_fn cb)
{
        int r = uvwrite_send(st, queued, GW_WRITE_QUEUE_MAX, data, len, cb, owner);

        if (r == -ENOBUFS)
                log_warn("gateway: dropping a client that does not read (over %u MiB queued)",
                         GW_WRITE_QUEUE_MAX >> 20);
        return r < 0 ? -1 : 0;
}

static int conn_send(void *ud, const char *data, size_t len)
{
        gw_conn *conn = ud;

        if (conn->closing)
                return -1;
        if (stream_send((uv_stream_t *)&conn->pipe, &conn->queued, conn, data, len, write_cb) < 0) {
                conn_close(conn);
                return -1;
        }
        return 0;
}

static bool conn_extra(void *ud, gateway_session *s, const cJSON *id, const char *method,
                       const cJSON *params)
{
        gw_conn *conn = ud;

        if (!conn->ops_extra || !conn->ops_extra->extra_method)
                return false;
        return conn->ops_extra->extra_method(conn->ud_extra, s, id, method, params);
}

static const gateway_session_ops conn_ops = {.send = conn_send, .extra_method = conn_extra};

static void conn_drained(gateway_session *s, void *ud)
{
        conn_close(ud);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        gw_conn *conn = h->data;
        *buf = uv_buf_init(conn->rbuf, sizeof(conn->rbuf));
}

static void conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
        gw_conn *conn = st->data;

        if (nread > 0) {
                gateway_session_feed(conn->s, buf->base, (size_t)nread);
        } else if (nread == UV_EOF) {
                uv_read_stop(st);
                session_input_closed(conn->s);
        } else if (nread < 0) {
                conn_close(conn);
        }
}

static void on_connection(uv_stream_t *server, int status)
{
        gw_listener *l = server->data;
        gateway *gw = l->gw;
        gw_conn *conn;

        if (status < 0) {
                log_warn("gateway: accept on %s: %s", l->path, uv_strerror(status));
                return;
        }
        conn = xcalloc(1, sizeof(*conn));
        if (uv_pipe_init(gw->loop, &conn->pipe, 0) < 0)
                abort();
        conn->pipe.data = conn;
        if (uv_accept(server, (uv_stream_t *)&conn->pipe) < 0 ||
            gw->n_conns >= GW_MAX_CONNECTIONS) {
                if (gw->n_conns >= GW_MAX_CONNECTIONS)
                        log_warn("gateway: refusing a connection on %s: %d clients already",
                                 l->path, GW_MAX_CONNECTIONS);
                conn->closing = true;
                uv_close((uv_handle_t *)&conn->pipe, handle_free_cb);
                return;
        }
        conn->gw = gw;
        conn->ops_extra = l->ops_extra;
        conn->ud_extra = l->ud_extra;
        conn->s = gateway_session_new(gw, &conn_ops, conn, l->control);
        conn->s->on_drained = conn_drained;
        conn->s->drained_ud = conn;
        conn->next = gw->conns;
        if (gw->conns)
                gw->conns->prev = conn;
        gw->conns = conn;
        gw->n_conns++;
        if (uv_read_start((uv_stream_t *)&conn->pipe, conn_alloc, conn_read) < 0)
                conn_close(conn);
}

/* 1 when something answers on path, 0 when nothing is there (a stale socket
 * file is removed), or a negative sysexits code. */
static int probe_socket(const char *path, corral_error *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if (lstat(path, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot use socket %s", path);
        }
        if (!S_ISSOCK(st.st_mode))
                return corral_error_set(err, EX_CANTCREAT,
                                        "cannot use socket %s: it exists and is not a socket",
                                        path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "socket");
        memcpy(sa.sun_path, path, strlen(path) + 1);
        do
                r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        while (r < 0 && errno == EINTR);
        if (r == 0)
                return 1;
        if (errno != ECONNREFUSED && errno != ENOENT)
                return corral_error_errno(err, errno == EACCES ? EX_NOPERM : EX_CANTCREAT, errno,
                                          "cannot check socket %s", path);
        if (unlink(path) < 0 && errno != ENOENT)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot remove stale socket %s",
                                          path);
        log_info("removed stale socket %s", path);
        return 0;
}

int gateway_listen(gateway *gw, const char *path, bool control,
                   const gateway_session_ops *ops_extra, void *ud_extra, corral_error *err)
{
        struct sockaddr_un sa;
        mode_t mode = !control && gw->system_mode ? 0666 : 0600;
        mode_t old_mask;
        gw_listener *l;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return corral_error_set(err, EX_CANTCREAT,
                                        "cannot listen on %s: socket path longer than %zu bytes",
                                        path, sizeof(sa.sun_path) - 1);
        r = probe_socket(path, err);
        if (r < 0)
                return r;
        if (r > 0)
                return corral_error_set(err, EX_TEMPFAIL,
                                        "a daemon is already running for this store (%s answers)",
                                        path);

        l = xcalloc(1, sizeof(*l));
        if (uv_pipe_init(gw->loop, &l->pipe, 0) < 0)
                abort();
        l->pipe.data = l;
        l->gw = gw;
        l->control = control;
        l->ops_extra = ops_extra;
        l->ud_extra = ud_extra;
        /* The umask makes the socket private from the moment it exists, not
         * only after the chmod below. */
        old_mask = umask(0777 & ~mode);
        r = uv_pipe_bind(&l->pipe, path);
        umask(old_mask);
        if (r == 0) {
                l->path = xstrdup(path);
                if (chmod(path, mode) < 0)
                        r = uv_translate_sys_error(errno);
        }
        if (r == 0)
                r = uv_listen((uv_stream_t *)&l->pipe, 128, on_connection);
        if (r < 0) {
                if (l->path)
                        (void)unlink(l->path);
                free(l->path);
                uv_close((uv_handle_t *)&l->pipe, handle_free_cb);
                return corral_error_set(err, EX_CANTCREAT, "cannot listen on %s: %s", path,
                                        uv_strerror(r));
        }
        l->next = gw->listeners;
        gw->listeners = l;
        log_debug("gateway: listening on %s (%s)", path, control ? "control" : "mcp");
        return 0;
}

/* ---- fd transport (stdio) ---- */

typedef union gw_handle {
        uv_handle_t h;
        uv_stream_t st;
        uv_pipe_t pipe;
        uv_tty_t tty;
        uv_tcp_t tcp;
        uv_idle_t idle;
} gw_handle;

struct gw_fdconn {
        gateway *gw;
        gateway_session *s;
        int in_fd, out_fd;
        gw_handle *in;  /* a stream, or an idle handle reading a regular file */
        gw_handle *out; /* a stream, == in when both fds are one socket; NULL = blocking writes */
        size_t queued;
        unsigned handles; /* open uv handles pointing here; freed with the last */
        bool eof_reported, out_dead, closing;
        uv_timer_t *eof_timer;
        void (*on_eof)(void *ud);
        void *ud;
        char rbuf[GW_READ_CHUNK];
        gw_fdconn *next;
};

static void fd_eof_timer(uv_timer_t *t)
{
        gw_fdconn *fc = t->data;
        if (fc->on_eof && !fc->closing)
                fc->on_eof(fc->ud);
}

static void fd_handle_closed(uv_handle_t *h)
{
        gw_fdconn *fc = h->data;

        free(h);
        if (--fc->handles == 0)
                free(fc);
}

static void fd_close(gw_fdconn *fc)
{
        fc->closing = true;
        fc->s = gateway_session_free(fc->s);
        /* Pending writes still point at fc: it goes with its last handle. */
        if (fc->out && fc->out != fc->in)
                uv_close(&fc->out->h, fd_handle_closed);
        if (fc->in)
                uv_close(&fc->in->h, fd_handle_closed);
        uv_close((uv_handle_t *)fc->eof_timer, fd_handle_closed);
}

static void fd_report_eof(gw_fdconn *fc)
{
        if (fc->eof_reported || fc->closing)
                return;
        fc->eof_reported = true;
        /* Deferred: the owner's on_eof usually shuts the supervisor down, which
         * must not happen inside a supervisor or mcp_client callback. */
        uv_timer_start(fc->eof_timer, fd_eof_timer, 0, 0);
}

static void fd_write_cb(void *owner, int status)
{
        gw_fdconn *fc = owner;

        if (status < 0 && status != UV_ECANCELED && !fc->out_dead && !fc->closing) {
                fc->out_dead = true;
                fd_report_eof(fc);
        }
}

static int fd_send(void *ud, const char *data, size_t len)
{
        gw_fdconn *fc = ud;

        if (fc->out_dead)
                return -1;
        if (fc->out) {
                if (stream_send(&fc->out->st, &fc->queued, fc, data, len, fd_write_cb) == 0)
                        return 0;
        } else if (write_all(fc->out_fd, data, len) == 0) {
                return 0;
        }
        /* The client's reading side is gone: nobody can receive answers. */
        fc->out_dead = true;
        fd_report_eof(fc);
        return -1;
}

static const gateway_session_ops fd_ops = {.send = fd_send};

static void fd_drained(gateway_session *s, void *ud)
{
        fd_report_eof(ud);
}

static void fd_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        gw_fdconn *fc = h->data;
        *buf = uv_buf_init(fc->rbuf, sizeof(fc->rbuf));
}

static void fd_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
        gw_fdconn *fc = st->data;

        if (nread > 0) {
                gateway_session_feed(fc->s, buf->base, (size_t)nread);
        } else if (nread < 0) {
                if (nread != UV_EOF)
                        log_debug("gateway: reading stdin: %s", uv_strerror((int)nread));
                uv_read_stop(st);
                session_input_closed(fc->s);
        }
}

/* Regular files (and character devices such as /dev/null) cannot be polled:
 * read them a chunk per loop turn. */
static void fd_idle_read(uv_idle_t *idle)
{
        gw_fdconn *fc = idle->data;
        ssize_t n;

        do
                n = read(fc->in_fd, fc->rbuf, sizeof(fc->rbuf));
        while (n < 0 && errno == EINTR);
        if (n > 0) {
                gateway_session_feed(fc->s, fc->rbuf, (size_t)n);
                return;
        }
        uv_idle_stop(idle);
        session_input_closed(fc->s);
}

/* A stream handle for fd, or NULL when fd is a file to use blocking I/O on. */
static int open_stream(uv_loop_t *loop, int fd, bool readable, gw_handle **ret, void *data)
{
        uv_handle_type t = uv_guess_handle(fd);
        gw_handle *h;
        int r;

        *ret = NULL;
        if (t != UV_NAMED_PIPE && t != UV_TTY && t != UV_TCP)
                return 0;
        h = xcalloc(1, sizeof(*h));
        if (t == UV_NAMED_PIPE) {
                r = uv_pipe_init(loop, &h->pipe, 0);
                if (r == 0)
                        r = uv_pipe_open(&h->pipe, fd);
        } else if (t == UV_TTY) {
                r = uv_tty_init(loop, &h->tty, fd, readable);
        } else {
                r = uv_tcp_init(loop, &h->tcp);
                if (r == 0)
                        r = uv_tcp_open(&h->tcp, fd);
        }
        if (r < 0) {
                if (h->h.type != UV_UNKNOWN_HANDLE)
                        uv_close(&h->h, handle_free_cb);
                else
                        free(h);
                return r;
        }
        h->h.data = data;
        *ret = h;
        return 0;
}

int gateway_serve_fds(gateway *gw, int in_fd, int out_fd, void (*on_eof)(void *ud), void *ud,
                      corral_error *err)
{
        gw_fdconn *fc = xcalloc(1, sizeof(*fc));
        int r;

        fc->gw = gw;
        fc->in_fd = in_fd;
        fc->out_fd = out_fd;
        fc->on_eof = on_eof;
        fc->ud = ud;
        fc->eof_timer = timer_new(gw->loop, fc);
        fc->handles = 1;
        r = open_stream(gw->loop, in_fd, true, &fc->in, fc);
        if (r == 0 && fc->in)
                fc->handles++;
        if (r == 0) {
                if (fc->in && in_fd == out_fd) {
                        fc->out = fc->in;
                } else {
                        r = open_stream(gw->loop, out_fd, false, &fc->out, fc);
                        if (r == 0 && fc->out)
                                fc->handles++;
                }
        }
        if (r == 0 && !fc->in) {
                fc->in = xcalloc(1, sizeof(*fc->in));
                if (uv_idle_init(gw->loop, &fc->in->idle) < 0)
                        abort();
                fc->in->h.data = fc;
                fc->handles++;
        }
        fc->s = gateway_session_new(gw, &fd_ops, fc, false);
        fc->s->on_drained = fd_drained;
        fc->s->drained_ud = fc;
        if (r == 0) {
                if (fc->in->h.type == UV_IDLE)
                        r = uv_idle_start(&fc->in->idle, fd_idle_read);
                else
                        r = uv_read_start(&fc->in->st, fd_alloc, fd_read);
        }
        if (r < 0) {
                fd_close(fc);
                return corral_error_set(err, EX_SOFTWARE, "cannot serve MCP on fds %d and %d: %s",
                                        in_fd, out_fd, uv_strerror(r));
        }
        fc->next = gw->fdconns;
        gw->fdconns = fc;
        return 0;
}

/* ---- teardown ---- */

gateway *gateway_free(gateway *gw)
{
        if (!gw)
                return NULL;
        while (gw->listeners) {
                gw_listener *l = gw->listeners;
                gw->listeners = l->next;
                if (l->path)
                        (void)unlink(l->path);
                free(l->path);
                uv_close((uv_handle_t *)&l->pipe, handle_free_cb);
        }
        while (gw->conns) {
                gw_conn *conn = gw->conns;
                gw->conns = conn->next;
                conn->s = gateway_session_free(conn->s);
                conn->gw = NULL;
                if (!conn->closing) {
                        conn->closing = true;
                        uv_close((uv_handle_t *)&conn->pipe, conn_close_cb);
                }
        }
        while (gw->fdconns) {
                gw_fdconn *fc = gw->fdconns;
                gw->fdconns = fc->next;
                fd_close(fc);
        }
        /* Sessions owned by other callers outlive us detached. */
        while (gw->sessions)
                session_unlink(gw->sessions);
        uv_close((uv_handle_t *)gw->notify_timer, handle_free_cb);
        uv_close((uv_handle_t *)gw->init_timer, handle_free_cb);
        gw_owners_free(gw->owners);
        free(gw);
        return NULL;
}
