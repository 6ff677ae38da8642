/* MCP client session (MCP 2025-11-25 basic/lifecycle, basic/utilities/
 * {cancellation,progress,ping}, server/{tools,prompts,resources}, client/roots)
 * over a byte transport the owner drives.
 *
 * Pending requests live in a doubly linked list and share one libuv timer that
 * is armed for the earliest deadline; expiry is found by a scan, which keeps
 * handle lifetimes simple (one uv_close at free).
 *
 * Re-entrancy: every public entry point holds a depth count while it runs.
 * mcp_client_free() inside a callback marks the session dead, completes what
 * is pending and leaves the struct to be destroyed by the outermost entry
 * point on its way out, so no frame ever touches freed memory. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sysexits.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "corral/mcp_client.h"
#include "mcp/internal.h"

#define PROGRESS_PREFIX "corral-"
#define SNIPPET_MAX 60
/* Ids stay exact in a JSON number (a double) up to 2^53. */
#define ID_MAX 9007199254740992.0

void mcpc_enter(mcp_client *c)
{
        c->depth++;
}

static void timer_closed(uv_handle_t *h)
{
        free(h);
}

static void destroy(mcp_client *c)
{
        c->timer->data = NULL;
        uv_close((uv_handle_t *)c->timer, timer_closed);
        jsonrpc_framer_done(&c->framer);
        free(c->version);
        cJSON_Delete(c->capabilities);
        cJSON_Delete(c->server_info);
        free(c->instructions);
        cJSON_Delete(c->declared);
        free(c);
}

/* Returns true when c has been destroyed. */
bool mcpc_leave(mcp_client *c)
{
        if (--c->depth == 0 && c->dead) {
                destroy(c);
                return true;
        }
        return false;
}

static void link_pending(mcp_client *c, pending *p)
{
        p->prev = c->tail;
        p->next = NULL;
        if (c->tail)
                c->tail->next = p;
        else
                c->head = p;
        c->tail = p;
        c->npending++;
}

static void unlink_pending(mcp_client *c, pending *p)
{
        if (p->prev)
                p->prev->next = p->next;
        else
                c->head = p->next;
        if (p->next)
                p->next->prev = p->prev;
        else
                c->tail = p->prev;
        p->prev = p->next = NULL;
        c->npending--;
        if (!c->head && c->armed != UINT64_MAX && !c->dead) {
                /* Nothing left to time out: let the loop exit if it has no
                 * other work. */
                uv_timer_stop(c->timer);
                c->armed = UINT64_MAX;
        }
}

static pending *find_pending(mcp_client *c, uint64_t id)
{
        for (pending *p = c->head; p; p = p->next)
                if (p->id == id)
                        return p;
        return NULL;
}

static void on_timer(uv_timer_t *t);

static uint64_t deadline_after(mcp_client *c, uint64_t ms)
{
        uint64_t now = uv_now(c->loop);
        return ms > UINT64_MAX - 1 - now ? UINT64_MAX - 1 : now + ms;
}

static void arm(mcp_client *c, uint64_t deadline)
{
        if (c->dead || deadline >= c->armed)
                return;
        uint64_t now = uv_now(c->loop);
        c->armed = deadline;
        uv_timer_start(c->timer, on_timer, deadline > now ? deadline - now : 0, 0);
}

/* Calls the request's completion and frees it.  p must already be unlinked. */
static void complete(mcp_client *c, pending *p, const cJSON *result, const cJSON *error)
{
        if (p->done)
                p->done(c, p, result, error);
        else if (p->cb)
                p->cb(p->ud, result, error);
        free(p);
}

cJSON *mcpc_error_object(int code, const char *message)
{
        cJSON *e = cJSON_CreateObject();
        if (!e)
                abort();
        cJSON_AddNumberToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", message);
        return e;
}

static void complete_error(mcp_client *c, pending *p, int code, const char *fmt, ...)
        _printf_(4, 5);
static void complete_error(mcp_client *c, pending *p, int code, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        _cleanup_json_ cJSON *e = mcpc_error_object(code, msg);
        complete(c, p, NULL, e);
}

/* Frames and writes msg (consumed).  The owner's send may re-enter the
 * session, so callers check c->dead afterwards. */
int mcpc_send(mcp_client *c, cJSON *msg)
{
        _cleanup_json_ cJSON *m = msg;
        size_t len;

        if (c->dead)
                return -1;
        _cleanup_free_ char *data = jsonrpc_frame(m, &len);
        return c->ops.send(c->ud, data, len) < 0 ? -1 : 0;
}

static void send_cancelled(mcp_client *c, uint64_t id, const char *reason)
{
        cJSON *params = cJSON_CreateObject();
        cJSON_AddNumberToObject(params, "requestId", (double)id);
        if (reason)
                cJSON_AddStringToObject(params, "reason", reason);
        (void)mcpc_send(c, jsonrpc_notification("notifications/cancelled", params));
}

char *mcpc_snippet(const char *s, size_t n)
{
        size_t k = n;
        bool cut = false;

        if (k > SNIPPET_MAX) {
                k = SNIPPET_MAX;
                while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
                        k--;
                cut = true;
        }
        char *r = xmalloc(k + 4);
        for (size_t i = 0; i < k; i++) {
                unsigned char ch = (unsigned char)s[i];
                r[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
        }
        if (cut) {
                memcpy(r + k, "...", 3);
                k += 3;
        }
        r[k] = '\0';
        return r;
}

static void fault(mcp_client *c, mcp_fault kind, const char *fmt, ...) _printf_(3, 4);
static void fault(mcp_client *c, mcp_fault kind, const char *fmt, ...)
{
        _cleanup_free_ char *why = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&why, fmt, ap) < 0)
                abort();
        va_end(ap);
        log_debug("mcp: server fault: %s", why);
        if (c->ops.on_fault && !c->dead)
                c->ops.on_fault(c->ud, kind, why);
}

static char *size_text(size_t n)
{
        if (n >= (1u << 20) && n % (1u << 20) == 0)
                return xasprintf("%zu MiB", n >> 20);
        if (n >= 1024 && n % 1024 == 0)
                return xasprintf("%zu KiB", n >> 10);
        return xasprintf("%zu bytes", n);
}

/* Starts p (already filled in) as request `method`.  params is consumed.
 * Returns p's id, or 0 when p was completed at once with an error. */
uint64_t mcpc_start(mcp_client *c, pending *p, const char *method, cJSON *params)
{
        if (!c || c->dead) {
                cJSON_Delete(params);
                complete_error(c, p, CORRAL_RPC_UNAVAILABLE, "session closed");
                return 0;
        }
        p->id = ++c->next_id;
        if (c->modern)
                params = mcpc_modern_meta(c, params);
        if (p->progress) {
                if (!cJSON_IsObject(params)) {
                        cJSON_Delete(params);
                        params = cJSON_CreateObject();
                }
                cJSON *meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
                if (!cJSON_IsObject(meta)) {
                        meta = cJSON_CreateObject();
                        json_set(params, "_meta", meta);
                }
                char token[32];
                snprintf(token, sizeof(token), PROGRESS_PREFIX "%" PRIu64, p->id);
                json_set(meta, "progressToken", cJSON_CreateString(token));
        }
        cJSON *id = cJSON_CreateNumber((double)p->id);
        cJSON *req = jsonrpc_request(id, method, params);
        cJSON_Delete(id);

        uint64_t handle = p->id;
        link_pending(c, p);
        if (p->timeout_ms) {
                p->deadline = deadline_after(c, p->timeout_ms);
                arm(c, p->deadline);
        }
        if (mcpc_send(c, req) < 0) {
                /* The owner's send may have freed the session, which completed
                 * p already; otherwise p is still ours to complete. */
                pending *q = find_pending(c, handle);
                if (q) {
                        unlink_pending(c, q);
                        complete_error(c, q, CORRAL_RPC_UNAVAILABLE,
                                       "%s: cannot send request: transport closed", method);
                }
                return 0;
        }
        if (c->dead)
                return 0;
        return handle;
}

pending *mcpc_pending_new(uint64_t timeout_ms, mcp_progress_cb progress, mcp_response_cb cb,
                            void *ud)
{
        pending *p = xcalloc(1, sizeof(*p));
        p->timeout_ms = timeout_ms;
        p->cancellable = true;
        p->progress = progress;
        p->cb = cb;
        p->ud = ud;
        return p;
}

mcp_client *mcp_client_new(uv_loop_t *loop, const mcp_client_ops *ops, void *ud, size_t max_message)
{
        mcp_client *c = xcalloc(1, sizeof(*c));
        c->loop = loop;
        c->ops = *ops;
        c->ud = ud;
        c->timer = xmalloc(sizeof(*c->timer));
        if (uv_timer_init(loop, c->timer) < 0)
                abort();
        c->timer->data = c;
        c->armed = UINT64_MAX;
        jsonrpc_framer_init(&c->framer, max_message);
        return c;
}

mcp_client *mcp_client_free(mcp_client *c)
{
        if (!c || c->dead)
                return NULL;
        mcpc_enter(c);
        c->dead = true;
        uv_timer_stop(c->timer);
        c->armed = UINT64_MAX;
        while (c->head) {
                pending *p = c->head;
                unlink_pending(c, p);
                complete_error(c, p, CORRAL_RPC_UNAVAILABLE, "session closed");
        }
        mcpc_server_requests_drop(c);
        (void)mcpc_leave(c);
        return NULL;
}

static void on_timer(uv_timer_t *t)
{
        mcp_client *c = t->data;
        pending *expired = NULL, **tailp = &expired;

        if (!c)
                return;
        mcpc_enter(c);
        c->armed = UINT64_MAX;
        uint64_t now = uv_now(c->loop);
        /* Take every expired request out first, so callbacks that issue or
         * cancel requests cannot disturb the walk. */
        for (pending *p = c->head, *next; p; p = next) {
                next = p->next;
                if (p->timeout_ms && p->deadline <= now) {
                        unlink_pending(c, p);
                        *tailp = p;
                        tailp = &p->next;
                }
        }
        for (pending *p = expired; p; p = p->next)
                if (p->cancellable)
                        send_cancelled(c, p->id, "timeout");
        while (expired) {
                pending *p = expired;
                expired = p->next;
                p->next = NULL;
                complete_error(c, p, CORRAL_RPC_TIMEOUT, "request timed out after %" PRIu64 " ms",
                               p->timeout_ms);
        }
        if (!c->dead) {
                uint64_t min = UINT64_MAX;
                for (pending *p = c->head; p; p = p->next)
                        if (p->timeout_ms && p->deadline < min)
                                min = p->deadline;
                arm(c, min);
        }
        (void)mcpc_leave(c);
}

static bool id_value(const cJSON *id, uint64_t *ret)
{
        double d;

        if (jsonrpc_id_type_of(id) != JSONRPC_ID_NUMBER)
                return false;
        /* jsonrpc_parse keeps ids as their text (raw items). */
        d = cJSON_IsRaw(id) ? strtod(id->valuestring, NULL) : id->valuedouble;
        if (!(d >= 1 && d <= ID_MAX) || d != (double)(uint64_t)d)
                return false;
        *ret = (uint64_t)d;
        return true;
}

static void handle_response(mcp_client *c, const cJSON *msg)
{
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
        uint64_t n;
        pending *p;

        if (cJSON_IsNull(id)) {
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(msg, "error");
                log_warn("mcp: server reported an error without a request id: %s",
                         json_get_string(e, "message"));
                return;
        }
        if (!id_value(id, &n) || !(p = find_pending(c, n))) {
                _cleanup_free_ char *s = json_print(id);
                log_debug("mcp: ignoring response to unknown request id %s", s);
                return;
        }
        unlink_pending(c, p);
        complete(c, p, cJSON_GetObjectItemCaseSensitive(msg, "result"),
                 cJSON_GetObjectItemCaseSensitive(msg, "error"));
}

static void handle_progress(mcp_client *c, const cJSON *params)
{
        const cJSON *token = cJSON_GetObjectItemCaseSensitive(params, "progressToken");
        const char *s = cJSON_IsString(token) ? token->valuestring : NULL;
        size_t plen = strlen(PROGRESS_PREFIX);
        pending *p = NULL;

        if (!s || strncmp(s, PROGRESS_PREFIX, plen) != 0) {
                /* Not one of ours: a token the owner put in params itself. */
                if (c->ops.on_notification)
                        c->ops.on_notification(c->ud, "notifications/progress", params);
                return;
        }
        const char *digits = s + plen;
        char *end;
        errno = 0;
        unsigned long long id = strtoull(digits, &end, 10);
        if (*digits >= '0' && *digits <= '9' && !*end && errno == 0)
                p = find_pending(c, id);
        if (!p || !p->progress) {
                log_debug("mcp: ignoring progress for unknown token %s", s);
                return;
        }
        if (p->timeout_ms) {
                /* The deadline moves later; an earlier armed timer just finds
                 * nothing expired and re-arms. */
                p->deadline = deadline_after(c, p->timeout_ms);
        }
        _cleanup_json_ cJSON *copy = json_dup(params);
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "progressToken");
        p->progress(p->ud, copy);
}

static void handle_notification(mcp_client *c, const cJSON *msg)
{
        const char *method = json_get_string(msg, "method");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");

        if (strcmp(method, "notifications/progress") == 0 && cJSON_IsObject(params)) {
                handle_progress(c, params);
                return;
        }
        if (strcmp(method, "notifications/cancelled") == 0) {
                mcpc_server_cancelled(c, params);
                return;
        }
        if (c->ops.on_notification)
                c->ops.on_notification(c->ud, method, params);
}

static void dispatch(mcp_client *c, const cJSON *msg, const char *line, size_t len)
{
        switch (jsonrpc_classify(msg)) {
        case JSONRPC_RESPONSE:
                handle_response(c, msg);
                break;
        case JSONRPC_NOTIFICATION:
                handle_notification(c, msg);
                break;
        case JSONRPC_REQUEST:
                mcpc_server_request(c, msg);
                break;
        case JSONRPC_INVALID: {
                _cleanup_free_ char *s = mcpc_snippet(line, len);
                fault(c, MCP_FAULT_INVALID, "sent an invalid JSON-RPC message: %s", s);
                break;
        }
        }
}

static int on_line(void *ud, const char *line, size_t len)
{
        mcp_client *c = ud;
        _cleanup_json_ cJSON *msg = NULL;

        /* A server's ill-formed UTF-8 is replaced (RFC 8259 §8.1), so it never
         * reaches a client; a client's is rejected by the gateway. */
        _cleanup_free_ char *fixed = jsonrpc_utf8_repair(line, len, &len);
        if (fixed)
                line = fixed;
        msg = jsonrpc_parse(line, len);
        if (!msg) {
                _cleanup_free_ char *s = mcpc_snippet(line, len);
                fault(c, MCP_FAULT_NOT_JSON, "sent a line that is not JSON: %s", s);
                return c->dead;
        }
        if (cJSON_IsArray(msg) && cJSON_GetArraySize(msg) > 0) {
                /* A JSON-RPC batch, which 2025-03-26 servers may send. */
                const cJSON *m;
                cJSON_ArrayForEach(m, msg)
                {
                        if (c->dead)
                                break;
                        dispatch(c, m, line, len);
                }
        } else {
                dispatch(c, msg, line, len);
        }
        return c->dead;
}

void mcp_client_feed(mcp_client *c, const char *data, size_t n)
{
        if (!c || c->dead)
                return;
        if (c->feeding) {
                /* The framer holds the line being dispatched; nested feeding
                 * would interleave two streams. */
                log_error("mcp: bug: mcp_client_feed() called from a session callback");
                return;
        }
        mcpc_enter(c);
        c->feeding = true;
        jsonrpc_frame_result r = jsonrpc_framer_feed(&c->framer, data, n, on_line, c);
        c->feeding = false;
        if (r == JSONRPC_FRAME_OVERSIZE && !c->dead) {
                _cleanup_free_ char *sz = size_text(c->framer.max);
                fault(c, MCP_FAULT_OVERSIZE, "sent a message over %s", sz);
        }
        (void)mcpc_leave(c);
}

uint64_t mcp_client_request(mcp_client *c, const char *method, cJSON *params, uint64_t timeout_ms,
                            mcp_progress_cb progress, mcp_response_cb cb, void *ud)
{
        if (!c)
                return mcpc_start(NULL, mcpc_pending_new(timeout_ms, progress, cb, ud), method, params);
        mcpc_enter(c);
        uint64_t h = mcpc_start(c, mcpc_pending_new(timeout_ms, progress, cb, ud), method, params);
        (void)mcpc_leave(c);
        return h;
}

void mcp_client_cancel(mcp_client *c, uint64_t handle, const char *reason)
{
        if (!c || c->dead)
                return;
        pending *p = find_pending(c, handle);
        if (!p)
                return;
        mcpc_enter(c);
        unlink_pending(c, p);
        if (p->cancellable)
                send_cancelled(c, p->id, reason);
        if (reason)
                complete_error(c, p, CORRAL_RPC_CANCELLED, "request cancelled: %s", reason);
        else
                complete_error(c, p, CORRAL_RPC_CANCELLED, "request cancelled");
        (void)mcpc_leave(c);
}

int mcp_client_notify(mcp_client *c, const char *method, cJSON *params)
{
        if (!c || c->dead) {
                cJSON_Delete(params);
                return -EX_UNAVAILABLE;
        }
        mcpc_enter(c);
        int r = mcpc_send(c, jsonrpc_notification(method, params));
        (void)mcpc_leave(c);
        return r < 0 ? -EX_UNAVAILABLE : 0;
}

