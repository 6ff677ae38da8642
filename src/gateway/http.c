/* The HTTP transport adapter (include/corral/gateway.h, "the HTTP adapter"):
 * routing, header checks, authentication and the MHD request handler (the
 * listener itself is in http_listen.c).  The
 * bytes and the HTTP grammar are libmicrohttpd's (src/http/server.c); the
 * sessions and their streams are in http_session.c.
 *
 * A request's life in the handler: the first call (headers only) makes an
 * hreq; body chunks are collected up to the cap; the last call checks the
 * Origin, asks the verifier about the bearer token (suspending the
 * connection while it answers), then routes.  A POST that carries a request
 * waits, suspended, for the first message the gateway sends for it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "corral/jsonutil.h"
#include "corral/metrics.h"
#include "corral/log.h"

#include "corral/macro.h"
#include "corral/supervisor.h"
#include "gateway/http_internal.h"

#define SESSION_HEADER "Mcp-Session-Id"
#define VERSION_HEADER "MCP-Protocol-Version"
#define LEGACY_VERSION "2025-03-26" /* assumed when a client sends no version header */

/* ---- responses ---- */

static void add_cors(hreq *r, struct MHD_Response *resp)
{
        const char *origin =
                MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN);

        if (!origin)
                return;
        /* Only allowed origins get this far (check_origin). */
        (void)MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
        (void)MHD_add_response_header(resp, "Vary", "Origin");
        (void)MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                                      SESSION_HEADER ", WWW-Authenticate");
}

static enum MHD_Result queue(hreq *r, unsigned status, const char *ctype, const char *body,
                             size_t len, const char *session_id)
{
        struct MHD_Response *resp =
                MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;

        if (ctype)
                (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
        if (session_id)
                (void)MHD_add_response_header(resp, SESSION_HEADER, session_id);
        if (r->www_authenticate && (status == 401 || status == 403))
                (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                              r->www_authenticate);
        add_cors(r, resp);
        ret = MHD_queue_response(r->conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* An HTTP error with a JSON-RPC error body (what the MCP SDKs send). */
static enum MHD_Result fail(hreq *r, unsigned status, int code, const char *fmt, ...)
        _printf_(4, 5);
static enum MHD_Result fail(hreq *r, unsigned status, int code, const char *fmt, ...)
{
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        _cleanup_json_ cJSON *m = jsonrpc_error(NULL, code, msg, NULL);
        _cleanup_free_ char *txt = json_print(m);
        return queue(r, status, "application/json", txt, strlen(txt), NULL);
}

/* ---- SSE streams ---- */

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
        hreq *r = cls;
        hstream *st = r->st;
        size_t n;

        if (!st || r->h->stopping)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (st->out.len) {
                n = st->out.len < max ? st->out.len : max;
                memcpy(buf, st->out.buf, n);
                strbuf_consume(&st->out, n);
                return (ssize_t)n;
        }
        if (st->done)
                return MHD_CONTENT_READER_END_OF_STREAM;
        /* Nothing to send: park the connection until deliver() wakes it. */
        r->suspended = true;
        MHD_suspend_connection(r->conn);
        return 0;
}

static enum MHD_Result queue_sse(hreq *r, const char *session_id)
{
        struct MHD_Response *resp =
                MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_reader, r, NULL);
        enum MHD_Result ret;

        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        if (session_id)
                (void)MHD_add_response_header(resp, SESSION_HEADER, session_id);
        add_cors(r, resp);
        ret = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* A POST's stream has its first message (or none yet: wait for it). */
static enum MHD_Result answer_stream(hreq *r)
{
        hstream *st = r->st;
        const char *sid = r->new_sess ? r->new_sess->id : NULL;

        if (!st)
                return fail(r, MHD_HTTP_SERVICE_UNAVAILABLE, CORRAL_RPC_UNAVAILABLE,
                            "the session ended before the request was answered");
        if (st->json) {
                enum MHD_Result ret =
                        queue(r,
                              st->sess->modern ? http_modern_status(st->sess, st->json, st->json_len)
                                               : MHD_HTTP_OK,
                              "application/json", st->json, st->json_len, sid);
                r->st = NULL;
                st->r = NULL;
                hstream_free(st);
                return ret;
        }
        if (st->sse)
                return queue_sse(r, sid);
        r->waiting = true;
        r->suspended = true;
        MHD_suspend_connection(r->conn);
        return MHD_YES;
}

/* ---- header checks ---- */

static const char *header(hreq *r, const char *name)
{
        return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* The resource URL for path (RFC 8707), or NULL: the verifier's default. */
static char *resource_url(gw_http *h, const char *path)
{
        return h->public_url ? xasprintf("%s%s", h->public_url, path) : NULL;
}

/* ---- authentication ---- */

static void on_auth(void *ud, const auth_result *res)
{
        hreq *r = ud;

        r->auth_req = NULL;
        r->auth_pending = false;
        r->auth_done = true;
        r->auth_status = res->status;
        r->www_authenticate = res->www_authenticate ? xstrdup(res->www_authenticate) : NULL;
        r->auth_message = res->message ? xstrdup(res->message) : NULL;
        if (res->status == 0 && res->identity) {
                r->user = res->identity->user ? xstrdup(res->identity->user) : NULL;
                r->user_level = res->identity->level;
        }
        hreq_wake(r);
}

/* true when the caller is known (r->auth_status says how it went); false
 * when the answer comes later (the connection is suspended). */
static bool authenticate(hreq *r, const char *url)
{
        gw_http *h = r->h;
        _cleanup_free_ char *res = NULL;
        auth_verify_req *req = NULL;

        if (r->auth_done)
                return true;
        if (!h->auth) {
                r->auth_done = true;
                r->user_level = CORRAL_LEVEL_ANCHOR;
                return true;
        }
        res = resource_url(h, url);
        r->auth_pending = true;
        if (auth_verify(h->auth, header(r, MHD_HTTP_HEADER_AUTHORIZATION), res, NULL, on_auth, r,
                        &req) == 1 ||
            r->auth_done)
                return true;
        r->auth_req = req;
        r->suspended = true;
        MHD_suspend_connection(r->conn);
        return false;
}

/* ---- routes ---- */

static bool streq_null(const char *a, const char *b)
{
        return a == b || (a && b && strcmp(a, b) == 0);
}

/* The server behind /servers/NAME/… exists and the caller may reach it. */
static bool server_reachable(gw_http *h, const char *name, corral_level level, const char *user)
{
        supervisor *sv = h->gw->sv;
        return sv && supervisor_find(sv, name) &&
               gateway_server_reachable(h->gw, name, level, user);
}

static enum MHD_Result well_known(hreq *r, const char *url)
{
        gw_http *h = r->h;
        const char *path = url + strlen(HTTP_WELL_KNOWN);
        _cleanup_free_ char *res = NULL, *txt = NULL;
        _cleanup_json_ cJSON *doc = NULL;

        if (!h->auth)
                return fail(r, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST,
                            "not found: this endpoint has no authorization configured");
        /* RFC 9728 §3.1: /.well-known/oauth-protected-resource/PATH describes
         * the resource at PATH; without a path, the aggregate /mcp. */
        res = resource_url(h, *path ? path : "/mcp");
        doc = auth_resource_metadata(h->auth, res);
        if (!doc)
                return fail(r, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST, "not found");
        txt = json_print(doc);
        return queue(r, MHD_HTTP_OK, "application/json", txt, strlen(txt), NULL);
}

/* GET on the MCP endpoint: the standalone stream, or the resumption of a cut
 * one (Last-Event-ID "STREAM-SEQ"). */
static enum MHD_Result get_stream(hreq *r, hsession *s)
{
        const char *last = header(r, "Last-Event-ID");
        hstream *st;

        if (!http_accepts(header(r, MHD_HTTP_HEADER_ACCEPT), "text/event-stream"))
                return fail(r, MHD_HTTP_NOT_ACCEPTABLE, JSONRPC_INVALID_REQUEST,
                            "not acceptable: the client must accept text/event-stream");
        if (last) {
                uint64_t stream, seq;
                if (!http_parse_last_event_id(last, &stream, &seq))
                        return fail(r, MHD_HTTP_BAD_REQUEST, JSONRPC_INVALID_REQUEST,
                                    "bad request: Last-Event-ID '%.64s' is not one of ours", last);
                st = hstream_find(s, stream);
                if (!st) {
                        /* Finished since: replay what it sent, then end. */
                        st = hstream_new(s, NULL);
                        st->id = stream;
                        st->done = true;
                        r->replay_only = true;
                }
                hsession_replay(s, st, stream, seq);
                st->sse = true;
        } else {
                st = hstream_find(s, 0);
                if (st && st->r)
                        return fail(r, MHD_HTTP_CONFLICT, JSONRPC_INVALID_REQUEST,
                                    "conflict: this session already has a GET stream open");
                if (!st)
                        st = hstream_new(s, NULL);
        }
        hstream_attach(st, r);
        return queue_sse(r, NULL);
}

/* A sessionless POST that is a 2026-07-28 request: its own session, freed
 * with the connection (closing the stream cancels the request). */
static enum MHD_Result post_modern(hreq *r, const cJSON *msg, jsonrpc_kind kind,
                                   const char *server, corral_level level, const char *version)
{
        gw_http *h = r->h;
        const char *why = kind == JSONRPC_REQUEST ? http_modern_mismatch(r->conn, msg, version) : NULL;
        hsession *s;

        if (why) {
                _cleanup_json_ cJSON *e = jsonrpc_error(cJSON_GetObjectItemCaseSensitive(msg, "id"),
                                                        MCP_HEADER_MISMATCH, why, NULL);
                _cleanup_free_ char *txt = json_print(e);
                return queue(r, MHD_HTTP_BAD_REQUEST, "application/json", txt, strlen(txt), NULL);
        }
        if (h->n_sessions >= h->max_sessions)
                return fail(r, MHD_HTTP_SERVICE_UNAVAILABLE, CORRAL_RPC_UNAVAILABLE,
                            "too many requests in flight (limit %u)", h->max_sessions);
        s = hsession_new(h, r->user, level, server, false);
        s->modern = true;
        s->gs->modern_only = true;
        if (kind == JSONRPC_REQUEST &&
            strcmp(json_get_string(msg, "method") ? json_get_string(msg, "method") : "",
                   "tools/call") == 0) {
                /* Custom headers, against the schema of a tool this caller
                 * may call (a hidden one is not looked at). */
                const cJSON *params = json_get_object(msg, "params");
                const cJSON *schema = gw_tool_input_schema(s->gs, json_get_string(params, "name"));

                why = schema ? http_modern_param_mismatch(r->conn, schema,
                                                          json_get_object(params, "arguments"))
                             : NULL;
                if (why) {
                        _cleanup_json_ cJSON *e = jsonrpc_error(
                                cJSON_GetObjectItemCaseSensitive(msg, "id"), MCP_HEADER_MISMATCH,
                                why, NULL);
                        _cleanup_free_ char *txt = json_print(e);
                        hsession_free(s);
                        return queue(r, MHD_HTTP_BAD_REQUEST, "application/json", txt, strlen(txt),
                                     NULL);
                }
        }
        r->modern_sess = s;
        if (kind != JSONRPC_REQUEST) {
                gateway_session_message(s->gs, r->body.buf, r->body.len);
                return queue(r, MHD_HTTP_ACCEPTED, NULL, "", 0, NULL);
        }
        hstream_attach(hstream_new(s, cJSON_GetObjectItemCaseSensitive(msg, "id")), r);
        gateway_session_message(s->gs, r->body.buf, r->body.len);
        return answer_stream(r);
}

static enum MHD_Result post_mcp(hreq *r, const char *server, corral_level level)
{
        gw_http *h = r->h;
        const char *ctype = header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
        const char *accept = header(r, MHD_HTTP_HEADER_ACCEPT);
        const char *sid = header(r, SESSION_HEADER);
        const char *version = header(r, VERSION_HEADER);
        const char *method;
        _cleanup_json_ cJSON *msg = NULL;
        hsession *s;
        jsonrpc_kind kind;

        if (!http_json_content_type(ctype))
                return fail(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, JSONRPC_INVALID_REQUEST,
                            "unsupported media type: Content-Type must be application/json");
        if (!http_accepts(accept, "application/json") || !http_accepts(accept, "text/event-stream"))
                return fail(r, MHD_HTTP_NOT_ACCEPTABLE, JSONRPC_INVALID_REQUEST,
                            "not acceptable: the client must accept both application/json and "
                            "text/event-stream");
        msg = jsonrpc_parse(r->body.buf ? r->body.buf : "", r->body.len);
        if (!msg)
                return fail(r, MHD_HTTP_BAD_REQUEST, JSONRPC_PARSE_ERROR,
                            "parse error: not one JSON value in UTF-8");
        if (cJSON_IsArray(msg))
                return fail(r, MHD_HTTP_BAD_REQUEST, JSONRPC_INVALID_REQUEST,
                            "invalid request: JSON-RPC batches are not supported");
        kind = jsonrpc_classify(msg);
        if (kind == JSONRPC_INVALID)
                return fail(r, MHD_HTTP_BAD_REQUEST, JSONRPC_INVALID_REQUEST,
                            "invalid request: not a JSON-RPC 2.0 message");
        method = json_get_string(msg, "method");
        if (!sid && kind != JSONRPC_RESPONSE && http_is_modern(msg, version))
                return post_modern(r, msg, kind, server, level, version);
        if (kind == JSONRPC_REQUEST && strcmp(method, "initialize") == 0 && !sid) {
                if (h->n_sessions >= h->max_sessions)
                        return fail(r, MHD_HTTP_SERVICE_UNAVAILABLE, CORRAL_RPC_UNAVAILABLE,
                                    "too many sessions (limit %u)", h->max_sessions);
                s = hsession_new(h, r->user, level, server, false);
                r->new_sess = s;
        } else {
                /* A 2026-07-28 client has no session: tell it the revision is
                 * not served (-32022) so it falls back to initialize. */
                if (!sid && version && !mcp_protocol_supported(version))
                        return fail(r, MHD_HTTP_BAD_REQUEST, -32022,
                                    "unsupported protocol version '%.32s': corral speaks "
                                    "2025-11-25 to 2024-11-05 with initialize",
                                    version);
                if (!sid)
                        return fail(r, MHD_HTTP_BAD_REQUEST, JSONRPC_INVALID_REQUEST,
                                    "bad request: missing " SESSION_HEADER " header");
                s = hsession_find(h, sid);
                if (!s || s->legacy || !streq_null(s->scope, server) ||
                    !streq_null(s->user, r->user))
                        return fail(r, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST,
                                    "not found: no session '%.64s' (it ended or never existed)",
                                    sid);
                if (version && !mcp_protocol_supported(version))
                        return fail(r, MHD_HTTP_BAD_REQUEST, JSONRPC_INVALID_REQUEST,
                                    "bad request: unsupported " VERSION_HEADER " '%.32s'", version);
        }
        s->last_active = uv_now(gateway_loop(h->gw));
        if (kind != JSONRPC_REQUEST) {
                gateway_session_message(s->gs, r->body.buf, r->body.len);
                if (kind == JSONRPC_NOTIFICATION && strcmp(method, "notifications/cancelled") == 0)
                        hsession_cancelled(s, cJSON_GetObjectItemCaseSensitive(
                                                      json_get_object(msg, "params"), "requestId"));
                return queue(r, MHD_HTTP_ACCEPTED, NULL, "", 0, NULL);
        }
        if (s->n_streams >= HTTP_STREAMS_MAX)
                return fail(r, MHD_HTTP_TOO_MANY_REQUESTS, CORRAL_RPC_UNAVAILABLE,
                            "too many requests in flight on this session");
        hstream_attach(hstream_new(s, cJSON_GetObjectItemCaseSensitive(msg, "id")), r);
        gateway_session_message(s->gs, r->body.buf, r->body.len);
        return answer_stream(r);
}

/* 2024-11-05 HTTP+SSE: GET /sse opens the session and its one stream; the
 * first event names where to POST. */
static enum MHD_Result legacy_sse(hreq *r, const char *server, corral_level level)
{
        gw_http *h = r->h;
        hsession *s;
        hstream *st;

        if (!http_accepts(header(r, MHD_HTTP_HEADER_ACCEPT), "text/event-stream"))
                return fail(r, MHD_HTTP_NOT_ACCEPTABLE, JSONRPC_INVALID_REQUEST,
                            "not acceptable: the client must accept text/event-stream");
        if (h->n_sessions >= h->max_sessions)
                return fail(r, MHD_HTTP_SERVICE_UNAVAILABLE, CORRAL_RPC_UNAVAILABLE,
                            "too many sessions (limit %u)", h->max_sessions);
        s = hsession_new(h, r->user, level, server, true);
        st = hstream_new(s, NULL);
        st->sse = true;
        if (server)
                strbuf_appendf(&st->out,
                               "event: endpoint\ndata: /servers/%s/messages?sessionId=%s\n\n",
                               server, s->id);
        else
                strbuf_appendf(&st->out, "event: endpoint\ndata: /messages?sessionId=%s\n\n",
                               s->id);
        hstream_attach(st, r);
        r->new_sess = s;
        return queue_sse(r, NULL);
}

static enum MHD_Result legacy_post(hreq *r, const char *server)
{
        const char *sid = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "sessionId");
        hsession *s = hsession_find(r->h, sid);
        _cleanup_json_ cJSON *msg = NULL;

        if (!s || !s->legacy || !streq_null(s->scope, server) || !streq_null(s->user, r->user))
                return fail(r, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST,
                            "not found: no session '%.64s'", sid ? sid : "");
        msg = jsonrpc_parse(r->body.buf ? r->body.buf : "", r->body.len);
        if (!msg)
                return fail(r, MHD_HTTP_BAD_REQUEST, JSONRPC_PARSE_ERROR,
                            "parse error: not one JSON value in UTF-8");
        s->last_active = uv_now(gateway_loop(r->h->gw));
        gateway_session_message(s->gs, r->body.buf, r->body.len);
        return queue(r, MHD_HTTP_ACCEPTED, "text/plain", "Accepted", 8, NULL);
}

static enum MHD_Result preflight(hreq *r)
{
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        add_cors(r, resp);
        (void)MHD_add_response_header(resp, "Access-Control-Allow-Methods",
                                      "GET, POST, DELETE, OPTIONS");
        (void)MHD_add_response_header(
                resp, "Access-Control-Allow-Headers",
                "Content-Type, Accept, Authorization, Last-Event-ID, " SESSION_HEADER
                ", " VERSION_HEADER);
        ret = MHD_queue_response(r->conn, MHD_HTTP_NO_CONTENT, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* Everything after the body has arrived. */
static enum MHD_Result route_request(hreq *r, const char *url, const char *method)
{
        gw_http *h = r->h;
        _cleanup_free_ char *server = NULL;
        http_route rt = http_parse_route(url, &server);
        corral_level level;

        if (!http_origin_allowed(h->origins, header(r, MHD_HTTP_HEADER_ORIGIN)))
                return fail(r, MHD_HTTP_FORBIDDEN, JSONRPC_INVALID_REQUEST,
                            "forbidden: Origin not allowed");
        if (h->metrics_only && rt != HTTP_ROUTE_METRICS)
                return fail(r, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST, "not found: %.128s",
                            url);
        if (rt == HTTP_ROUTE_HEALTH)
                return queue(r, MHD_HTTP_OK, "application/json", "{\"status\":\"ok\"}", 15, NULL);
        if (rt == HTTP_ROUTE_WELL_KNOWN)
                return well_known(r, url);
        if (rt == HTTP_ROUTE_NONE)
                return fail(r, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST, "not found: %.128s",
                            url);
        if (strcmp(method, "OPTIONS") == 0)
                return preflight(r);
        if (r->too_big)
                return fail(r, MHD_HTTP_CONTENT_TOO_LARGE, JSONRPC_INVALID_REQUEST,
                            "payload too large: over %zu bytes", h->max_body);
        if (!authenticate(r, url))
                return MHD_YES;
        if (r->auth_status)
                return fail(r, (unsigned)r->auth_status, JSONRPC_INVALID_REQUEST, "%s",
                            r->auth_message ? r->auth_message : "unauthorized");
        level = corral_level_min(h->level, r->user_level);
        /* A server the caller may not reach is answered exactly like one
         * that does not exist. */
        if (rt == HTTP_ROUTE_METRICS) {
                _cleanup_free_ char *text = NULL;
                if (strcmp(method, "GET") != 0)
                        return fail(r, MHD_HTTP_METHOD_NOT_ALLOWED, JSONRPC_INVALID_REQUEST,
                                    "method not allowed");
                if (!h->metrics_no_auth && !gateway_user_is_admin(h->gw, r->user))
                        return fail(r, MHD_HTTP_FORBIDDEN, JSONRPC_INVALID_REQUEST,
                                    "forbidden: /metrics is for admins");
                if (!(text = gateway_metrics_text(h->gw)))
                        return fail(r, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST,
                                    "not found: %.128s", url);
                return queue(r, MHD_HTTP_OK, METRICS_CONTENT_TYPE, text, strlen(text), NULL);
        }
        if (server && !server_reachable(h, server, level, r->user))
                return fail(r, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST, "not found: %.128s",
                            url);
        if (rt == HTTP_ROUTE_SSE) {
                if (strcmp(method, "GET") != 0)
                        return fail(r, MHD_HTTP_METHOD_NOT_ALLOWED, JSONRPC_INVALID_REQUEST,
                                    "method not allowed");
                return legacy_sse(r, server, level);
        }
        if (rt == HTTP_ROUTE_MESSAGES) {
                if (strcmp(method, "POST") != 0)
                        return fail(r, MHD_HTTP_METHOD_NOT_ALLOWED, JSONRPC_INVALID_REQUEST,
                                    "method not allowed");
                return legacy_post(r, server);
        }
        if (strcmp(method, "POST") == 0)
                return post_mcp(r, server, level);
        if (strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0) {
                const char *sid = header(r, SESSION_HEADER);
                const char *v = header(r, VERSION_HEADER);
                hsession *s = hsession_find(h, sid);

                /* 2026-07-28 has no GET stream and no sessions. */
                if (!sid && v && strcmp(v, MCP_MODERN_VERSION) == 0)
                        return fail(r, MHD_HTTP_METHOD_NOT_ALLOWED, JSONRPC_INVALID_REQUEST,
                                    "method not allowed: %s has no GET stream or sessions "
                                    "(use subscriptions/listen)",
                                    MCP_MODERN_VERSION);

                if (!sid)
                        return fail(r, MHD_HTTP_BAD_REQUEST, JSONRPC_INVALID_REQUEST,
                                    "bad request: missing " SESSION_HEADER " header");
                if (!s || s->legacy || s->modern || !streq_null(s->scope, server) ||
                    !streq_null(s->user, r->user))
                        return fail(r, MHD_HTTP_NOT_FOUND, JSONRPC_INVALID_REQUEST,
                                    "not found: no session '%.64s'", sid);
                s->last_active = uv_now(gateway_loop(h->gw));
                if (strcmp(method, "GET") == 0)
                        return get_stream(r, s);
                hsession_free(s);
                return queue(r, MHD_HTTP_OK, NULL, "", 0, NULL);
        }
        return fail(r, MHD_HTTP_METHOD_NOT_ALLOWED, JSONRPC_INVALID_REQUEST,
                    "method not allowed: %.16s", method);
}

enum MHD_Result gw_http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **con_cls)
{
        gw_http *h = cls;
        hreq *r = *con_cls;

        if (!r) {
                const char *len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                              MHD_HTTP_HEADER_CONTENT_LENGTH);
                r = xcalloc(1, sizeof(*r));
                r->h = h;
                r->conn = conn;
                r->body = STRBUF_INIT(h->max_body);
                r->next = h->reqs;
                if (h->reqs)
                        h->reqs->prev = r;
                h->reqs = r;
                *con_cls = r;
                if (len && strtoull(len, NULL, 10) > h->max_body) {
                        /* Answered before the body is read; MHD then closes. */
                        r->too_big = true;
                        return fail(r, MHD_HTTP_CONTENT_TOO_LARGE, JSONRPC_INVALID_REQUEST,
                                    "payload too large: over %zu bytes", h->max_body);
                }
                return MHD_YES;
        }
        if (*upload_data_size) {
                if (!r->too_big && strbuf_append(&r->body, upload_data, *upload_data_size) < 0)
                        r->too_big = true;
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (h->stopping)
                return MHD_NO;
        /* Back from a suspension: the verifier answered, or a stream has
         * its first message. */
        if (r->waiting) {
                r->waiting = false;
                return answer_stream(r);
        }
        if (r->auth_pending)
                return (r->suspended = true, MHD_suspend_connection(conn), MHD_YES);
        if (r->st) /* an SSE response is already queued */
                return MHD_YES;
        return route_request(r, url, method);
}

void gw_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
        gw_http *h = cls;
        hreq *r = *con_cls;
        hstream *st;

        if (!r)
                return;
        *con_cls = NULL;
        if (r->auth_req)
                auth_verify_cancel(r->auth_req);
        st = r->st;
        if (st && st->sess == r->modern_sess) {
                st->r = NULL;
                r->st = NULL;
        } else if (st) {
                hsession *s = st->sess;
                st->r = NULL;
                r->st = NULL;
                if (s->legacy && st->id == 0)
                        hsession_free(s); /* 2024-11-05: the session is its stream */
                else if (st->done || r->replay_only)
                        hstream_free(st);
        }
        if (r->modern_sess) {
                hsession *ms = r->modern_sess;
                r->modern_sess = NULL;
                hsession_free(ms); /* a 2026-07-28 request ends with its connection */
        }
        if (r->prev)
                r->prev->next = r->next;
        else if (h->reqs == r)
                h->reqs = r->next;
        if (r->next)
                r->next->prev = r->prev;
        strbuf_done(&r->body);
        free(r->www_authenticate);
        free(r->auth_message);
        free(r->user);
        free(r);
}
