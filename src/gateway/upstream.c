/* Requests from servers to clients through the gateway (MCP 2025-11-25
 * client/{sampling,elicitation,roots}, basic/utilities/cancellation).
 *
 * Every unit's session declares the full client feature set upstream:
 * sampling, elicitation (form and url) and roots with listChanged.  A server
 * request is routed to one client session:
 *   1. the session with a call to that server in flight.  Over stdio a
 *      server's request names no call, so calls are ranked in the order
 *      they were written to the server and requests are counted per kind
 *      (sampling, elicitation, roots, other): a request goes to the call
 *      with the fewest requests of its kind routed so far, the earliest
 *      written on a tie — the k-th sampling request goes to the k-th call
 *      in flight, whatever roots/list requests came in between (so two
 *      clients calling the same tool at once each get their own);
 *   2. else the session that last sent that server a request or a roots
 *      change (a server asking for roots after notifications/roots/
 *      list_changed asks the client that changed them); on a user's own
 *      session to a per-user server (issue 15), the last of that user's;
 *   3. else nobody: the server gets -32601 at once, never a hang.
 * A session whose client did not declare the capability answers -32601 too
 * (the 2025 revisions' "not supported").  The request goes to the client
 * with a fresh numeric id, tied (for Streamable HTTP) to the stream of the
 * related call; the client's answer goes back under the server's id.  The
 * gateway's request timeout applies: on expiry the client gets
 * notifications/cancelled and the server an error.  A server's
 * notifications/cancelled is passed to the client; a client that goes away
 * fails its open requests upstream. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "gateway/internal.h"

/* ---- routing hints ---- */

static void touch(gateway *gw, const char *server, int64_t uid, gateway_session *s)
{
        gw_hint *h;

        for (h = gw->hints; h; h = h->next)
                if (h->uid == uid && strcmp(h->server, server) == 0) {
                        h->s = s;
                        return;
                }
        h = xcalloc(1, sizeof(*h));
        h->server = xstrdup(server);
        h->uid = uid;
        h->s = s;
        h->next = gw->hints;
        gw->hints = h;
}

void gw_upstream_touch(gateway *gw, const char *server, gateway_session *s)
{
        int64_t uid = gw->system_mode ? gw_session_uid(s) : -1;

        touch(gw, server, -1, s);
        if (uid >= 0) /* one per user and server: at most users × servers */
                touch(gw, server, uid, s);
}

/* uid -1: the last session of anyone's. */
static gateway_session *hinted(gateway *gw, const char *server, int64_t uid)
{
        for (gw_hint *h = gw->hints; h; h = h->next)
                if (h->uid == uid && strcmp(h->server, server) == 0)
                        return h->s;
        return NULL;
}

static void hints_forget(gateway *gw, gateway_session *s)
{
        for (gw_hint **hp = &gw->hints; *hp;) {
                gw_hint *h = *hp;
                if (h->s == s) {
                        *hp = h->next;
                        free(h->server);
                        free(h);
                } else {
                        hp = &h->next;
                }
        }
}

/* ---- routed requests ---- */

static void s2c_timer_closed(uv_handle_t *h)
{
        free(h);
}

static void s2c_free(gw_s2c *r)
{
        gateway_session *s = r->s;

        if (s) {
                if (r->prev)
                        r->prev->next = r->next;
                else
                        s->s2c = r->next;
                if (r->next)
                        r->next->prev = r->prev;
                s->n_s2c--;
        }
        if (r->timer) {
                uv_timer_stop(r->timer);
                uv_close((uv_handle_t *)r->timer, s2c_timer_closed);
        }
        free(r->server);
        free(r->key);
        cJSON_Delete(r->related);
        free(r);
        if (s)
                gw_session_check_drained(s);
}

static void respond_error(mcp_client *c, uint64_t handle, int code, const char *fmt, ...)
        _printf_(4, 5);
static void respond_error(mcp_client *c, uint64_t handle, int code, const char *fmt, ...)
{
        char msg[512];
        va_list ap;
        _cleanup_json_ cJSON *e = cJSON_CreateObject();

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        cJSON_AddNumberToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        (void)mcp_client_respond(c, handle, NULL, e);
}

static void notify_cancelled(gw_s2c *r, const char *reason)
{
        cJSON *p = cJSON_CreateObject();
        _cleanup_json_ cJSON *n = NULL;

        cJSON_AddNumberToObject(p, "requestId", (double)r->id);
        if (reason)
                cJSON_AddStringToObject(p, "reason", reason);
        n = jsonrpc_notification("notifications/cancelled", p);
        gw_send_msg(r->s, n, r->related, false);
}

static void on_s2c_timeout(uv_timer_t *t)
{
        gw_s2c *r = t->data;
        gateway *gw = r->s ? r->s->gw : NULL;
        uint64_t ms = gw ? gw->timeout_ms : 0;

        log_info("gateway: %s: the client did not answer a request within %llu ms", r->server,
                 (unsigned long long)ms);
        notify_cancelled(r, "timeout");
        if (r->local) {
                void (*answer)(void *, const cJSON *, const cJSON *) = r->local;
                void *ud = r->local_ud;
                _cleanup_json_ cJSON *e = cJSON_CreateObject();

                cJSON_AddNumberToObject(e, "code", CORRAL_RPC_TIMEOUT);
                cJSON_AddStringToObject(e, "message", "the client did not answer in time");
                s2c_free(r);
                answer(ud, NULL, e);
                return;
        }
        if (r->call) {
                gw_call *call = r->call;
                char msg[128];

                snprintf(msg, sizeof(msg), "the client did not answer the server's request within %llu ms",
                         (unsigned long long)ms);
                s2c_free(r);
                gw_mrtr25_fail(call, CORRAL_RPC_TIMEOUT, msg);
                return;
        }
        respond_error(r->client, r->handle, CORRAL_RPC_TIMEOUT,
                      "the client did not answer within %llu ms", (unsigned long long)ms);
        s2c_free(r);
}

static gw_s2c *find_by_handle(gateway *gw, const mcp_client *c, uint64_t handle)
{
        for (gateway_session *s = gw->sessions; s; s = s->next)
                for (gw_s2c *r = s->s2c; r; r = r->next)
                        if (r->client == c && r->handle == handle)
                                return r;
        return NULL;
}

/* The unit c is a session of; *ret_uid the user whose own session it is
 * (issue 15, usessions.c), else -1. */
static unit *unit_of(gateway *gw, const mcp_client *c, int64_t *ret_uid)
{
        unit *const *units;
        size_t n = gw->sv ? supervisor_units(gw->sv, &units) : 0;
        uid_t uid;

        *ret_uid = -1;
        for (size_t i = 0; i < n; i++) {
                if (unit_session(units[i]) == c)
                        return units[i];
                if (unit_user_client_of(units[i], c, &uid)) {
                        *ret_uid = uid;
                        return units[i];
                }
        }
        return NULL;
}

int gw_s2c_kind(const char *method)
{
        if (strcmp(method, "sampling/createMessage") == 0)
                return GW_S2C_SAMPLING;
        if (strcmp(method, "elicitation/create") == 0)
                return GW_S2C_ELICITATION;
        if (strcmp(method, "roots/list") == 0)
                return GW_S2C_ROOTS;
        return GW_S2C_OTHER;
}

/* Rule 1: of the calls to c in flight, the one with the fewest requests of
 * this kind routed to it, the earliest written on a tie.  seq is taken in
 * the same loop turn as the write to the unit, so seq order is the order the
 * server read the calls in. */
static gw_call *related_call(gateway *gw, const mcp_client *c, int kind)
{
        gw_call *best = gw_mrtr_parked_call(gw, c, kind, NULL);

        for (gateway_session *s = gw->sessions; s; s = s->next)
                for (gw_call *k = s->calls; k; k = k->next) {
                        if (k->client != c || k->completed || !k->s)
                                continue;
                        if (!best || k->n_routed[kind] < best->n_routed[kind] ||
                            (k->n_routed[kind] == best->n_routed[kind] && k->seq < best->seq))
                                best = k;
                }
        return best;
}

bool gw_caps_support(const cJSON *caps, const char *method, const cJSON *params,
                     const char **what)
{
        if (strcmp(method, "sampling/createMessage") == 0) {
                *what = "sampling";
                return cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(caps, "sampling"));
        }
        if (strcmp(method, "roots/list") == 0) {
                *what = "roots";
                return cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(caps, "roots"));
        }
        if (strcmp(method, "elicitation/create") == 0) {
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(caps, "elicitation");
                const char *mode = json_get_string(params, "mode");

                *what = "elicitation";
                if (!cJSON_IsObject(e))
                        return false;
                if (mode && strcmp(mode, "url") == 0) {
                        *what = "elicitation in url mode";
                        return cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(e, "url"));
                }
                /* {} means form mode (client/elicitation §capabilities). */
                return !e->child || cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(e, "form"));
        }
        *what = method;
        return false;
}

/* Sends method/params to s's client under a fresh id, on the stream of call
 * (when there is one); the answer goes to the unit (handle) or, with a key,
 * to call (gw_mrtr25_answer). */
static gw_s2c *s2c_open(gateway_session *s, gw_call *call, mcp_client *c, uint64_t handle,
                        const char *server, const char *method, const cJSON *params,
                        const char *key)
{
        gateway *gw = s->gw;
        gw_s2c *r = xcalloc(1, sizeof(*r));
        _cleanup_json_ cJSON *msg = NULL, *id = NULL;
        cJSON *p;

        r->s = s;
        r->id = ++s->next_s2c_id;
        r->client = c;
        r->handle = handle;
        r->server = xstrdup(server);
        r->related = call ? json_dup(call->id) : NULL;
        if (key) {
                r->call = call;
                r->key = xstrdup(key);
        }
        r->timer = gw_timer_new(gw->loop, r);
        r->next = s->s2c;
        if (s->s2c)
                s->s2c->prev = r;
        s->s2c = r;
        s->n_s2c++;
        uv_timer_start(r->timer, on_s2c_timeout, gw->timeout_ms, 0);

        id = cJSON_CreateNumber((double)r->id);
        p = cJSON_IsObject(params) ? json_dup(params) : NULL;
        msg = jsonrpc_request(id, method, p);
        gw_send_msg(s, msg, r->related, false);
        return r;
}

gw_s2c *gw_upstream_ask_local(gateway_session *s, const cJSON *related, const char *method,
                              const cJSON *params,
                              void (*answer)(void *ud, const cJSON *result, const cJSON *error),
                              void *ud)
{
        /* The related id makes s2c_open send it on that request's stream. */
        gw_call tmp = {.id = (cJSON *)related};
        gw_s2c *r;

        if (s->n_s2c >= GW_MAX_INFLIGHT)
                return NULL;
        r = s2c_open(s, related ? &tmp : NULL, NULL, 0, GW_MGMT_SERVER, method, params, NULL);
        r->local = answer;
        r->local_ud = ud;
        return r;
}

void gw_upstream_forget_local(gateway_session *s, void *ud)
{
        for (gw_s2c *r = s->s2c, *next; r; r = next) {
                next = r->next;
                if (r->local && r->local_ud == ud) {
                        notify_cancelled(r, "the call it belongs to ended");
                        s2c_free(r);
                }
        }
}

gw_s2c *gw_upstream_ask(gateway_session *s, gw_call *call, const char *key, const char *method,
                        const cJSON *params)
{
        if (s->n_s2c >= GW_MAX_INFLIGHT)
                return NULL;
        /* handle 0 names no request of the unit's: answers go to the call. */
        return s2c_open(s, call, call->client, 0, call->server, method, params, key);
}

static void on_server_request(void *ud, mcp_client *c, uint64_t handle, const char *method,
                              const cJSON *params)
{
        gateway *gw = ud;
        int64_t owner_uid;
        unit *u = unit_of(gw, c, &owner_uid);
        const char *server = u ? unit_name(u) : "?";
        int kind = gw_s2c_kind(method);
        gw_call *call;
        gateway_session *s;
        const char *what;

        /* Input for a task a 2026-07-28 client polls (tasks_ext.c). */
        if (gw_tasks_ext_server_request(gw, c, handle, method, params))
                return;
        call = related_call(gw, c, kind);
        if (call && call->modern) {
                /* 2026-07-28 has no server requests: MRTR (modern.c). */
                gw_mrtr_server_request(gw, call, c, handle, method, params);
                return;
        }
        s = call ? call->s : hinted(gw, server, owner_uid);
        if (s && !call && !s->initialized)
                s = NULL; /* only a 2025 session takes requests unrelated to a call */
        if (s && (s->drained || (u && !gw_session_sees(s, u))))
                s = NULL;
        /* A user's own session asks that user's clients only; the unit's
         * own session of a per-user server asks, outside a call, only a
         * client it serves — never one of a user with a session of their
         * own (issue 15), whose roots or answers would reach the server as
         * the daemon's identity. */
        if (s && owner_uid >= 0 && gw_session_uid(s) != owner_uid)
                s = NULL;
        if (s && !call && owner_uid < 0 && u && gw_usession_hides(s, u))
                s = NULL;
        log_debug("gateway: %s: %s routed to %s (call %llu)", server, method,
                  s ? (call ? "the caller" : "the last client") : "nobody",
                  call ? (unsigned long long)call->seq : 0ull);
        if (!s) {
                respond_error(c, handle, JSONRPC_METHOD_NOT_FOUND,
                              "%s: no client is connected to answer it", method);
                return;
        }
        if (!gw_caps_support(s->client_caps, method, params, &what)) {
                respond_error(c, handle, JSONRPC_METHOD_NOT_FOUND,
                              "%s: the client does not support %s", method, what);
                return;
        }
        if (s->n_s2c >= GW_MAX_INFLIGHT) {
                respond_error(c, handle, JSONRPC_INTERNAL_ERROR,
                              "%s: too many requests open to this client", method);
                return;
        }
        if (call)
                call->n_routed[kind]++;
        (void)s2c_open(s, call, c, handle, server, method, params, NULL);
}

static void on_server_cancelled(void *ud, mcp_client *c, uint64_t handle, const char *reason)
{
        gateway *gw = ud;
        gw_s2c *r = find_by_handle(gw, c, handle);

        if (!r) {
                (void)gw_tasks_ext_server_cancelled(gw, c, handle);
                return;
        }
        notify_cancelled(r, reason ? reason : "cancelled by the server");
        s2c_free(r);
}

static const mcp_client_requests requests = {
        .on_request = on_server_request,
        .on_cancelled = on_server_cancelled,
};

void gw_upstream_hook(gateway *gw, unit *u)
{
        gw_upstream_hook_client(gw, unit_session(u));
}

void gw_upstream_hook_client(gateway *gw, mcp_client *c)
{
        _cleanup_json_ cJSON *caps = cJSON_CreateObject();
        cJSON *e;

        if (!c)
                return;
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "roots"), "listChanged", true);
        cJSON_AddObjectToObject(caps, "sampling");
        e = cJSON_AddObjectToObject(caps, "elicitation");
        cJSON_AddObjectToObject(e, "form");
        cJSON_AddObjectToObject(e, "url");
        mcp_client_set_requests(c, &requests, gw, caps);
}

bool gw_upstream_response(gateway_session *s, const cJSON *msg)
{
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
        const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");

        for (gw_s2c *r = s->s2c; r; r = r->next) {
                _cleanup_json_ cJSON *mine = cJSON_CreateNumber((double)r->id);

                if (!jsonrpc_id_equal(mine, id))
                        continue;
                if (r->local) {
                        void (*answer)(void *, const cJSON *, const cJSON *) = r->local;
                        void *ud = r->local_ud;

                        s2c_free(r); /* result and error are msg's, not r's */
                        answer(ud, result, result ? NULL : error);
                        return true;
                }
                if (r->call) {
                        gw_call *call = r->call;
                        _cleanup_free_ char *key = steal_pointer(&r->key);

                        s2c_free(r);
                        gw_mrtr25_answer(call, key, result, result ? NULL : error);
                        return true;
                }
                (void)mcp_client_respond(r->client, r->handle, result, result ? NULL : error);
                s2c_free(r);
                return true;
        }
        return false;
}

void gw_upstream_roots_changed(gateway_session *s)
{
        gateway *gw = s->gw;
        unit *const *units;
        size_t n = gw && gw->sv ? supervisor_units(gw->sv, &units) : 0;

        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(s->client_caps, "roots")))
                return;
        for (size_t i = 0; i < n; i++) {
                mcp_client *c = NULL;

                if (!gw_session_sees(s, units[i]))
                        continue;
                /* A per-user server hears of a user's roots on that user's
                 * own session only (one not open asks for them when it
                 * opens); never on the unit's (issue 15). */
                if (gw_usession_hides(s, units[i]))
                        c = gw_session_uid(s) >= 0
                                    ? unit_user_ready_client(units[i], (uid_t)gw_session_uid(s))
                                    : NULL;
                else if (unit_get_state(units[i]) == UNIT_READY)
                        c = unit_client(units[i]);
                if (!c)
                        continue;
                gw_upstream_touch(gw, unit_name(units[i]), s);
                (void)mcp_client_notify(c, "notifications/roots/list_changed", NULL);
        }
}

void gw_upstream_call_cancelled(gateway_session *s, const gw_call *call, const char *reason)
{
        for (gw_s2c *r = s->s2c, *next; r; r = next) {
                next = r->next;
                if (r->client != call->client || !r->related ||
                    !jsonrpc_id_equal(r->related, call->id))
                        continue;
                notify_cancelled(r, reason);
                if (!r->call)
                        respond_error(r->client, r->handle, CORRAL_RPC_CANCELLED,
                                      "request cancelled: the client cancelled the call it "
                                      "belongs to");
                s2c_free(r);
        }
}

void gw_upstream_session_gone(gateway_session *s)
{
        while (s->s2c) {
                gw_s2c *r = s->s2c;
                if (!r->call && !r->local)
                        respond_error(r->client, r->handle, CORRAL_RPC_UNAVAILABLE,
                                      "the client disconnected");
                s2c_free(r);
        }
        if (s->gw)
                hints_forget(s->gw, s);
}
