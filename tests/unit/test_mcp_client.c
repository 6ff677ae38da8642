/* MCP client session against a scripted server (mcp_fixture.c): requests,
 * responses out of order, server requests, timeouts, cancel, progress,
 * initialize and paginated lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sysexits.h>
#include <cmocka.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/mcp_client.h"
#include "mcp_fixture.h"

static void test_out_of_order(void **state)
{
        fixture *fx = *state;
        reply r[3] = {{.fx = fx}, {.fx = fx}, {.fx = fx}};

        for (int i = 0; i < 3; i++) {
                cJSON *params = cJSON_CreateObject();
                cJSON_AddNumberToObject(params, "i", i);
                uint64_t h = mcp_client_request(fx->c, "tools/call", params, 5000, NULL, on_reply,
                                                &r[i]);
                assert_int_equal(h, (uint64_t)i + 1);
        }
        assert_int_equal(mcp_client_pending(fx->c), 3);
        assert_int_equal(nsent(fx), 3);
        for (int i = 0; i < 3; i++) {
                const cJSON *m = sent(fx, (size_t)i);
                assert_int_equal(jsonrpc_classify(m), JSONRPC_REQUEST);
                assert_int_equal(json_get_number(m, "id", 0), i + 1);
                assert_string_equal(json_get_string(m, "method"), "tools/call");
                assert_int_equal(json_get_number(json_get_object(m, "params"), "i", -1), i);
        }

        /* Responses 3, 1, 2 in one read, with a notification, an unknown id and
         * an id of the wrong type between them. */
        const char *batch =
                "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"n\":3}}\n"
                "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":"
                "\"info\",\"data\":\"hi\"}}\n"
                "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{}}\n"
                "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"n\":-1}}\n"
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"n\":1}}\r\n"
                "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32602,\"message\":\"bad\"}}\n";
        mcp_client_feed(fx->c, batch, strlen(batch));

        assert_int_equal(mcp_client_pending(fx->c), 0);
        assert_int_equal(r[2].order, 1);
        assert_int_equal(r[0].order, 2);
        assert_int_equal(r[1].order, 3);
        for (int i = 0; i < 3; i++)
                assert_int_equal(r[i].calls, 1);
        assert_int_equal(json_get_number(r[0].result, "n", 0), 1);
        assert_int_equal(json_get_number(r[2].result, "n", 0), 3);
        assert_int_equal(error_code(&r[1]), -32602);
        assert_string_equal(error_message(&r[1]), "bad");

        assert_int_equal(cJSON_GetArraySize(fx->notes), 1);
        const cJSON *n = cJSON_GetArrayItem(fx->notes, 0);
        assert_string_equal(json_get_string(n, "method"), "notifications/message");
        assert_string_equal(json_get_string(json_get_object(n, "params"), "data"), "hi");
        assert_int_equal(fx->nfaults, 0);
        /* Nothing was sent in reply to responses or notifications. */
        assert_int_equal(nsent(fx), 3);
        for (int i = 0; i < 3; i++)
                reply_done(&r[i]);
}

static void test_split_reads(void **state)
{
        fixture *fx = *state;
        reply r = {.fx = fx};
        const char *resp = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"text\":\"a\\nb\"}}\n";

        assert_int_equal(mcp_client_request(fx->c, "ping", NULL, 0, NULL, on_reply, &r), 1);
        for (size_t i = 0; resp[i]; i++) {
                assert_int_equal(r.calls, 0);
                mcp_client_feed(fx->c, resp + i, 1);
        }
        assert_int_equal(r.calls, 1);
        assert_string_equal(json_get_string(r.result, "text"), "a\nb");
        reply_done(&r);
}

static void test_server_requests(void **state)
{
        fixture *fx = *state;

        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":\"r-1\",\"method\":\"roots/list\",\"params\":{}}");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"sampling/createMessage\",\"params\":"
                 "{\"messages\":[]}}");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                 "{\"requestId\":7}}");
        assert_int_equal(nsent(fx), 3);

        const cJSON *m = sent(fx, 0);
        assert_int_equal(jsonrpc_classify(m), JSONRPC_RESPONSE);
        assert_int_equal(json_get_number(m, "id", 0), 5);
        const cJSON *res = json_get_object(m, "result");
        assert_non_null(res);
        assert_null(res->child);

        m = sent(fx, 1);
        assert_int_equal(jsonrpc_classify(m), JSONRPC_RESPONSE);
        assert_string_equal(json_get_string(m, "id"), "r-1");
        const cJSON *roots = json_get_array(json_get_object(m, "result"), "roots");
        assert_non_null(roots);
        assert_int_equal(cJSON_GetArraySize(roots), 0);

        m = sent(fx, 2);
        assert_int_equal(jsonrpc_classify(m), JSONRPC_RESPONSE);
        assert_int_equal(json_get_number(m, "id", 0), 7);
        const cJSON *e = json_get_object(m, "error");
        assert_int_equal(json_get_number(e, "code", 0), -32601);
        assert_string_equal(json_get_string(e, "message"), "method not supported by corral");
        assert_null(json_get_object(m, "result"));

        /* The server's own cancellation is not passed on to the owner. */
        assert_int_equal(cJSON_GetArraySize(fx->notes), 0);
        assert_int_equal(fx->nfaults, 0);
}

/* With a request handler: requests (not ping) go to the owner under handles,
 * answers go back under the server's ids, the server's cancellation and the
 * session's end are reported, and the declared capabilities are sent. */
typedef struct seen_requests {
        uint64_t handles[4];
        char *methods[4];
        size_t n;
        uint64_t cancelled[4];
        char *reasons[4];
        size_t n_cancelled;
} seen_requests;

static void rq_request(void *ud, mcp_client *c, uint64_t handle, const char *method,
                       const cJSON *params)
{
        seen_requests *sr = ud;
        assert_true(sr->n < 4);
        sr->handles[sr->n] = handle;
        sr->methods[sr->n++] = xstrdup(method);
}

static void rq_cancelled(void *ud, mcp_client *c, uint64_t handle, const char *reason)
{
        seen_requests *sr = ud;
        assert_true(sr->n_cancelled < 4);
        sr->cancelled[sr->n_cancelled] = handle;
        sr->reasons[sr->n_cancelled++] = xstrdup(reason ? reason : "");
}

static void test_server_requests_routed(void **state)
{
        fixture *fx = *state;
        static const mcp_client_requests rq = {.on_request = rq_request,
                                               .on_cancelled = rq_cancelled};
        seen_requests sr = {0};
        _cleanup_json_ cJSON *caps = cJSON_Parse("{\"sampling\":{},\"roots\":{\"listChanged\":true}}");
        reply r = {.fx = fx};

        mcp_client_set_requests(fx->c, &rq, &sr, caps);
        assert_int_equal(mcp_client_initialize(fx->c, 0, on_reply, &r), 0);
        const cJSON *init = find_sent(fx, "initialize", 0);
        assert_non_null(init);
        const cJSON *sent_caps = json_get_object(json_get_object(init, "params"), "capabilities");
        assert_true(cJSON_Compare(sent_caps, caps, true));

        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":\"r-1\",\"method\":\"roots/list\"}");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"sampling/createMessage\","
                 "\"params\":{\"messages\":[]}}");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"elicitation/create\"}");
        /* ping is answered here, the others wait for the owner. */
        assert_int_equal(sr.n, 3);
        assert_string_equal(sr.methods[0], "roots/list");
        assert_string_equal(sr.methods[1], "sampling/createMessage");
        assert_int_equal(nsent(fx), 2); /* initialize, pong */

        _cleanup_json_ cJSON *roots = cJSON_Parse("{\"roots\":[{\"uri\":\"file:///x\"}]}");
        assert_int_equal(mcp_client_respond(fx->c, sr.handles[0], roots, NULL), 0);
        const cJSON *m = sent(fx, 2);
        assert_string_equal(json_get_string(m, "id"), "r-1");
        assert_true(cJSON_Compare(json_get_object(m, "result"), roots, true));
        /* Answered once only. */
        assert_int_equal(mcp_client_respond(fx->c, sr.handles[0], roots, NULL), -1);

        _cleanup_json_ cJSON *err = cJSON_Parse("{\"code\":-1,\"message\":\"User rejected\"}");
        assert_int_equal(mcp_client_respond(fx->c, sr.handles[1], NULL, err), 0);
        m = sent(fx, 3);
        assert_int_equal(json_get_number(m, "id", 0), 7);
        assert_int_equal(json_get_number(json_get_object(m, "error"), "code", 0), -1);

        /* The server cancels 8: the owner hears of it and cannot answer it. */
        feed(fx, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                 "{\"requestId\":8,\"reason\":\"gave up\"}}");
        assert_int_equal(sr.n_cancelled, 1);
        assert_int_equal(sr.cancelled[0], sr.handles[2]);
        assert_string_equal(sr.reasons[0], "gave up");
        assert_int_equal(mcp_client_respond(fx->c, sr.handles[2], roots, NULL), -1);
        assert_int_equal(nsent(fx), 4);

        /* An open request is reported when the session ends. */
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"roots/list\"}");
        assert_int_equal(sr.n, 4);
        fx->c = mcp_client_free(fx->c);
        assert_int_equal(sr.n_cancelled, 2);
        assert_int_equal(sr.cancelled[1], sr.handles[3]);
        assert_string_equal(sr.reasons[1], "session closed");
        reply_done(&r);
        for (size_t i = 0; i < sr.n; i++)
                free(sr.methods[i]);
        for (size_t i = 0; i < sr.n_cancelled; i++)
                free(sr.reasons[i]);
}

static void test_timeout(void **state)
{
        fixture *fx = *state;
        reply a = {.fx = fx}, b = {.fx = fx}, c = {.fx = fx};

        uint64_t start = uv_now(&fx->loop);
        assert_int_equal(mcp_client_request(fx->c, "tools/call", NULL, 20, NULL, on_reply, &a), 1);
        assert_int_equal(mcp_client_request(fx->c, "tools/call", NULL, 0, NULL, on_reply, &b), 2);
        assert_int_equal(mcp_client_request(fx->c, "tools/call", NULL, 60, NULL, on_reply, &c), 3);
        /* The loop ends when nothing is left to time out: b has no timeout. */
        uv_run(&fx->loop, UV_RUN_DEFAULT);

        assert_int_equal(a.calls, 1);
        assert_int_equal(c.calls, 1);
        assert_int_equal(b.calls, 0);
        assert_int_equal(a.order, 1);
        assert_int_equal(c.order, 2);
        assert_true(a.completed_at - start >= 20);
        assert_true(c.completed_at - start >= 60);
        assert_int_equal(error_code(&a), CORRAL_RPC_TIMEOUT);
        assert_string_equal(error_message(&a), "request timed out after 20 ms");
        assert_string_equal(error_message(&c), "request timed out after 60 ms");

        const cJSON *n = find_sent(fx, "notifications/cancelled", 0);
        assert_non_null(n);
        assert_int_equal(jsonrpc_classify(n), JSONRPC_NOTIFICATION);
        assert_int_equal(json_get_number(json_get_object(n, "params"), "requestId", 0), 1);
        assert_string_equal(json_get_string(json_get_object(n, "params"), "reason"), "timeout");
        /* Sent before the callback ran. */
        assert_int_equal(a.sent_at_completion, 4);
        n = find_sent(fx, "notifications/cancelled", 1);
        assert_non_null(n);
        assert_int_equal(json_get_number(json_get_object(n, "params"), "requestId", 0), 3);
        assert_null(find_sent(fx, "notifications/cancelled", 2));

        /* A late answer is dropped; b still completes normally. */
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
        assert_int_equal(a.calls, 1);
        assert_int_equal(error_code(&a), CORRAL_RPC_TIMEOUT);
        assert_int_equal(mcp_client_pending(fx->c), 1);
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"ok\":true}}");
        assert_int_equal(b.calls, 1);
        assert_true(json_get_bool(b.result, "ok", false));
        assert_int_equal(fx->nfaults, 0);
        reply_done(&a);
        reply_done(&b);
        reply_done(&c);
}

static void test_cancel(void **state)
{
        fixture *fx = *state;
        reply a = {.fx = fx}, b = {.fx = fx};

        uint64_t ha = mcp_client_request(fx->c, "tools/call", NULL, 5000, NULL, on_reply, &a);
        uint64_t hb = mcp_client_request(fx->c, "tools/call", NULL, 5000, NULL, on_reply, &b);
        mcp_client_cancel(fx->c, ha, "user pressed stop");
        assert_int_equal(a.calls, 1);
        assert_int_equal(error_code(&a), CORRAL_RPC_CANCELLED);
        assert_string_equal(error_message(&a), "request cancelled: user pressed stop");
        assert_int_equal(nsent(fx), 3);
        const cJSON *n = sent(fx, 2);
        assert_string_equal(json_get_string(n, "method"), "notifications/cancelled");
        const cJSON *p = json_get_object(n, "params");
        assert_int_equal(json_get_number(p, "requestId", 0), (double)ha);
        assert_string_equal(json_get_string(p, "reason"), "user pressed stop");

        /* Again, unknown handles, and a late response: all ignored. */
        mcp_client_cancel(fx->c, ha, "again");
        mcp_client_cancel(fx->c, 12345, "unknown");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{}}", (int)ha);
        assert_int_equal(a.calls, 1);
        assert_int_equal(nsent(fx), 3);

        mcp_client_cancel(fx->c, hb, NULL);
        assert_int_equal(b.calls, 1);
        assert_string_equal(error_message(&b), "request cancelled");
        p = json_get_object(sent(fx, 3), "params");
        assert_int_equal(json_get_number(p, "requestId", 0), (double)hb);
        assert_null(cJSON_GetObjectItem(p, "reason"));
        assert_int_equal(mcp_client_pending(fx->c), 0);
        /* Nothing keeps the loop alive once every request is done. */
        assert_int_equal(uv_run(&fx->loop, UV_RUN_NOWAIT), 0);
        reply_done(&a);
        reply_done(&b);
}

static void tick(uv_timer_t *t)
{
        fixture *fx = t->data;
        if (++fx->ticks <= 4) {
                feed(fx,
                     "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":"
                     "{\"progressToken\":\"corral-1\",\"progress\":%d,\"total\":4}}",
                     fx->ticks);
                return;
        }
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"done\":true}}");
        uv_timer_stop(t);
}

static void test_progress(void **state)
{
        fixture *fx = *state;
        reply r = {.fx = fx};
        cJSON *params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "name", "long");
        cJSON *meta = cJSON_AddObjectToObject(params, "_meta");
        cJSON_AddNumberToObject(meta, "other", 1);

        uint64_t start = uv_now(&fx->loop);
        assert_int_equal(
                mcp_client_request(fx->c, "tools/call", params, 100, on_progress, on_reply, &r), 1);
        const cJSON *p = json_get_object(sent(fx, 0), "params");
        assert_string_equal(json_get_string(p, "name"), "long");
        assert_string_equal(json_get_string(json_get_object(p, "_meta"), "progressToken"),
                            "corral-1");
        assert_int_equal(json_get_number(json_get_object(p, "_meta"), "other", 0), 1);

        /* Progress every 40 ms keeps a 100 ms timeout from firing for 200 ms. */
        fx->ticker.data = fx;
        uv_timer_init(&fx->loop, &fx->ticker);
        uv_timer_start(&fx->ticker, tick, 40, 40);
        uv_run(&fx->loop, UV_RUN_DEFAULT);
        uv_close((uv_handle_t *)&fx->ticker, NULL);

        assert_int_equal(r.calls, 1);
        assert_non_null(r.result);
        assert_true(json_get_bool(r.result, "done", false));
        assert_true(r.completed_at - start >= 200);
        assert_int_equal(r.progress_calls, 4);
        assert_int_equal(json_get_number(r.last_progress, "progress", 0), 4);
        assert_int_equal(json_get_number(r.last_progress, "total", 0), 4);
        assert_null(cJSON_GetObjectItem(r.last_progress, "progressToken"));
        assert_null(find_sent(fx, "notifications/cancelled", 0));

        /* Tokens that are not ours go to the owner; stale ones of ours are
         * dropped. */
        feed(fx, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":"
                 "{\"progressToken\":\"client-9\",\"progress\":1}}");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":"
                 "{\"progressToken\":\"corral-1\",\"progress\":5}}");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":"
                 "{\"progressToken\":\"corral-x\",\"progress\":5}}");
        assert_int_equal(r.progress_calls, 4);
        assert_int_equal(cJSON_GetArraySize(fx->notes), 1);
        assert_string_equal(json_get_string(cJSON_GetArrayItem(fx->notes, 0), "method"),
                            "notifications/progress");

        /* Progress stops: the timeout fires 30 ms after the last one. */
        reply q = {.fx = fx};
        start = uv_now(&fx->loop);
        assert_int_equal(
                mcp_client_request(fx->c, "tools/call", NULL, 30, on_progress, on_reply, &q), 2);
        p = json_get_object(find_sent(fx, "tools/call", 1), "params");
        assert_string_equal(json_get_string(json_get_object(p, "_meta"), "progressToken"),
                            "corral-2");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":"
                 "{\"progressToken\":\"corral-2\",\"progress\":1}}");
        uv_run(&fx->loop, UV_RUN_DEFAULT);
        assert_int_equal(q.progress_calls, 1);
        assert_int_equal(q.calls, 1);
        assert_int_equal(error_code(&q), CORRAL_RPC_TIMEOUT);
        assert_true(q.completed_at - start >= 30);
        const cJSON *n = find_sent(fx, "notifications/cancelled", 0);
        assert_non_null(n);
        assert_int_equal(json_get_number(json_get_object(n, "params"), "requestId", 0), 2);
        reply_done(&r);
        reply_done(&q);
}

static void check_initialize_request(const cJSON *m)
{
        assert_int_equal(jsonrpc_classify(m), JSONRPC_REQUEST);
        assert_string_equal(json_get_string(m, "method"), "initialize");
        const cJSON *p = json_get_object(m, "params");
        assert_string_equal(json_get_string(p, "protocolVersion"), "2025-11-25");
        const cJSON *roots = json_get_object(json_get_object(p, "capabilities"), "roots");
        assert_non_null(roots);
        assert_false(json_get_bool(roots, "listChanged", true));
        const cJSON *info = json_get_object(p, "clientInfo");
        assert_string_equal(json_get_string(info, "name"), "corral");
        assert_string_equal(json_get_string(info, "version"), CORRAL_VERSION);
}

static void test_initialize_accepted(void **state)
{
        fixture *fx = *state;

        assert_null(mcp_client_protocol_version(fx->c));
        assert_null(mcp_client_server_info(fx->c));
        for (size_t i = 0; mcp_protocol_versions[i]; i++) {
                reply r = {.fx = fx};
                const char *v = mcp_protocol_versions[i];
                size_t base = nsent(fx);

                assert_int_equal(mcp_client_initialize(fx->c, 1000, on_reply, &r), 0);
                const cJSON *m = sent(fx, base);
                check_initialize_request(m);
                feed(fx,
                     "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{\"protocolVersion\":\"%s\","
                     "\"capabilities\":{\"tools\":{\"listChanged\":true}},"
                     "\"serverInfo\":{\"name\":\"srv\",\"version\":\"1.2\"}}}",
                     (int)json_get_number(m, "id", 0), v);
                assert_int_equal(r.calls, 1);
                assert_non_null(r.result);
                /* notifications/initialized went out before the callback. */
                assert_int_equal(r.sent_at_completion, base + 2);
                const cJSON *n = sent(fx, base + 1);
                assert_int_equal(jsonrpc_classify(n), JSONRPC_NOTIFICATION);
                assert_string_equal(json_get_string(n, "method"), "notifications/initialized");
                assert_string_equal(mcp_client_protocol_version(fx->c), v);
                assert_non_null(json_get_object(mcp_client_server_capabilities(fx->c), "tools"));
                assert_string_equal(json_get_string(mcp_client_server_info(fx->c), "name"), "srv");
                reply_done(&r);
        }
        assert_true(mcp_protocol_supported("2024-11-05"));
        assert_false(mcp_protocol_supported("2024-10-07"));
        assert_false(mcp_protocol_supported(NULL));
}

static void test_initialize_rejected(void **state)
{
        fixture *fx = *state;
        reply r = {.fx = fx}, s = {.fx = fx}, t = {.fx = fx};

        assert_null(mcp_client_protocol_version(fx->c));
        assert_int_equal(mcp_client_initialize(fx->c, 1000, on_reply, &r), 0);
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"1999-01-01\","
                 "\"capabilities\":{},\"serverInfo\":{\"name\":\"old\"}}}");
        assert_int_equal(r.calls, 1);
        assert_int_equal(error_code(&r), CORRAL_RPC_FAULTY);
        assert_non_null(strstr(error_message(&r), "'1999-01-01'"));
        assert_null(find_sent(fx, "notifications/initialized", 0));
        assert_null(mcp_client_protocol_version(fx->c));
        assert_null(mcp_client_server_capabilities(fx->c));

        assert_int_equal(mcp_client_initialize(fx->c, 1000, on_reply, &s), 0);
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"capabilities\":{}}}");
        assert_int_equal(error_code(&s), CORRAL_RPC_FAULTY);
        assert_non_null(strstr(error_message(&s), "protocolVersion"));

        /* An error from the server is passed through. */
        assert_int_equal(mcp_client_initialize(fx->c, 1000, on_reply, &t), 0);
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32602,\"message\":"
                 "\"Unsupported protocol version\",\"data\":{\"supported\":[\"2099-01-01\"]}}}");
        assert_int_equal(error_code(&t), -32602);
        assert_null(find_sent(fx, "notifications/initialized", 0));
        reply_done(&r);
        reply_done(&s);
        reply_done(&t);
}

static void test_initialize_timeout(void **state)
{
        fixture *fx = *state;
        reply r = {.fx = fx};

        assert_int_equal(mcp_client_initialize(fx->c, 20, on_reply, &r), 0);
        uv_run(&fx->loop, UV_RUN_DEFAULT);
        assert_int_equal(r.calls, 1);
        assert_int_equal(error_code(&r), CORRAL_RPC_TIMEOUT);
        /* basic/lifecycle: initialize is never cancelled. */
        assert_null(find_sent(fx, "notifications/cancelled", 0));
        assert_int_equal(nsent(fx), 1);
        reply_done(&r);
}

/* MCP 2026-07-28 basic/versioning: server/discover first, modern when the
 * server names 2026-07-28, initialize otherwise. */
static void test_connect_modern(void **state)
{
        fixture *fx = *state;
        reply r = {.fx = fx}, q = {.fx = fx};
        _cleanup_json_ cJSON *caps = cJSON_Parse("{\"sampling\":{}}");

        mcp_client_set_requests(fx->c, NULL, NULL, caps);
        assert_int_equal(mcp_client_connect(fx->c, 1000, on_reply, &r), 0);
        const cJSON *d = find_sent(fx, "server/discover", 0);
        assert_non_null(d);
        const cJSON *meta = json_get_object(json_get_object(d, "params"), "_meta");
        assert_string_equal(json_get_string(meta, MCP_META_PROTOCOL_VERSION), "2026-07-28");
        assert_true(cJSON_Compare(json_get_object(meta, MCP_META_CLIENT_CAPS), caps, true));
        assert_string_equal(json_get_string(json_get_object(meta, MCP_META_CLIENT_INFO), "name"),
                            "corral");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"supportedVersions\":"
                 "[\"2026-07-28\"],\"capabilities\":{\"tools\":{}},\"instructions\":\"hi\","
                 "\"resultType\":\"complete\",\"_meta\":{\"io.modelcontextprotocol/serverInfo\":"
                 "{\"name\":\"m\",\"version\":\"2\"}}}}");
        assert_int_equal(r.calls, 1);
        assert_non_null(r.result);
        assert_string_equal(json_get_string(r.result, "protocolVersion"), "2026-07-28");
        assert_string_equal(json_get_string(json_get_object(r.result, "serverInfo"), "name"), "m");
        assert_true(mcp_client_modern(fx->c));
        assert_string_equal(mcp_client_protocol_version(fx->c), "2026-07-28");
        assert_string_equal(mcp_client_server_instructions(fx->c), "hi");
        /* No initialize, no initialized notification. */
        assert_int_equal(nsent(fx), 1);

        /* Every later request names the revision and the capabilities; what
         * the caller put in _meta stays. */
        cJSON *params = cJSON_Parse("{\"name\":\"t\",\"_meta\":{\"io.modelcontextprotocol/"
                                    "clientCapabilities\":{\"roots\":{}}}}");
        assert_true(mcp_client_request(fx->c, "tools/call", params, 0, NULL, on_reply, &q) > 0);
        meta = json_get_object(json_get_object(sent(fx, 1), "params"), "_meta");
        assert_string_equal(json_get_string(meta, MCP_META_PROTOCOL_VERSION), "2026-07-28");
        assert_non_null(json_get_object(json_get_object(meta, MCP_META_CLIENT_CAPS), "roots"));
        assert_null(json_get_object(json_get_object(meta, MCP_META_CLIENT_CAPS), "sampling"));
        reply_done(&r);
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}");
        reply_done(&q);
}

static void test_connect_fallback(void **state)
{
        fixture *fx = *state;
        reply r = {.fx = fx}, q = {.fx = fx}, t = {.fx = fx};

        /* A 2025 server: -32601, then the initialize handshake. */
        assert_int_equal(mcp_client_connect(fx->c, 1000, on_reply, &r), 0);
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,"
                 "\"message\":\"Method not found\"}}");
        assert_int_equal(r.calls, 0);
        const cJSON *init = find_sent(fx, "initialize", 0);
        assert_non_null(init);
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"protocolVersion\":\"2025-11-25\","
                 "\"capabilities\":{},\"serverInfo\":{\"name\":\"old\",\"version\":\"1\"}}}");
        assert_int_equal(r.calls, 1);
        assert_non_null(r.result);
        assert_false(mcp_client_modern(fx->c));
        assert_string_equal(mcp_client_protocol_version(fx->c), "2025-11-25");
        reply_done(&r);
        /* 2025 requests carry no revision in _meta. */
        assert_true(mcp_client_request(fx->c, "tools/list", NULL, 0, NULL, on_reply, &q) > 0);
        assert_null(json_get_object(sent(fx, nsent(fx) - 1), "params"));
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[]}}");
        reply_done(&q);

        /* A server that names no 2026-07-28, or says nothing: initialize too,
         * and the silent probe is not cancelled. */
        size_t base = nsent(fx);
        assert_int_equal(mcp_client_connect(fx->c, 1000, on_reply, &t), 0);
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"supportedVersions\":[\"2099-01-01\"]}}");
        assert_string_equal(json_get_string(sent(fx, base + 1), "method"), "initialize");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32603,\"message\":\"no\"}}");
        assert_int_equal(t.calls, 1);
        reply_done(&t);

        reply u = {.fx = fx};
        base = nsent(fx);
        assert_int_equal(mcp_client_connect(fx->c, 30, on_reply, &u), 0);
        uv_run(&fx->loop, UV_RUN_DEFAULT);
        assert_int_equal(u.calls, 1);
        assert_int_equal(error_code(&u), CORRAL_RPC_TIMEOUT);
        assert_string_equal(json_get_string(sent(fx, base), "method"), "server/discover");
        assert_string_equal(json_get_string(sent(fx, base + 1), "method"), "initialize");
        assert_null(find_sent(fx, "notifications/cancelled", 0));
        reply_done(&u);
}

/* UnsupportedProtocolVersionError (-32022): a server naming 2026-07-28 among
 * its versions is asked again (once), one naming only 2025 revisions gets
 * initialize (2026-07-28 basic/versioning). */
static void test_connect_version_retry(void **state)
{
        fixture *fx = *state;
        reply r = {.fx = fx}, t = {.fx = fx};

        assert_int_equal(mcp_client_connect(fx->c, 1000, on_reply, &r), 0);
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32022,\"message\":"
                 "\"Unsupported protocol version\",\"data\":{\"supported\":[\"2026-07-28\"],"
                 "\"requested\":\"x\"}}}");
        assert_int_equal(r.calls, 0);
        assert_string_equal(json_get_string(sent(fx, 1), "method"), "server/discover");
        /* Every modern request names corral in _meta (SHOULD). */
        assert_non_null(json_get_object(json_get_object(json_get_object(sent(fx, 1), "params"),
                                                        "_meta"),
                                        MCP_META_CLIENT_INFO));
        /* Asked once more only: a second refusal falls back. */
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32022,\"message\":"
                 "\"no\",\"data\":{\"supported\":[\"2026-07-28\"]}}}");
        assert_string_equal(json_get_string(sent(fx, 2), "method"), "initialize");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32603,\"message\":\"no\"}}");
        assert_int_equal(r.calls, 1);
        reply_done(&r);

        size_t base = nsent(fx);
        assert_int_equal(mcp_client_connect(fx->c, 1000, on_reply, &t), 0);
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32022,\"message\":"
                 "\"no\",\"data\":{\"supported\":[\"2025-11-25\"]}}}");
        assert_string_equal(json_get_string(sent(fx, base + 1), "method"), "initialize");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"protocolVersion\":\"2025-11-25\","
                 "\"capabilities\":{}}}");
        assert_int_equal(t.calls, 1);
        assert_false(mcp_client_modern(fx->c));
        reply_done(&t);
}

/* Answers the latest request with a page of count items named from first. */
static void answer_page(fixture *fx, const char *key, int first, int count, const char *next)
{
        const cJSON *req = sent(fx, nsent(fx) - 1);
        cJSON *res = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(res, key);
        for (int i = 0; i < count; i++) {
                cJSON *item = cJSON_CreateObject();
                char name[32];
                snprintf(name, sizeof(name), "t%d", first + i);
                cJSON_AddStringToObject(item, "name", name);
                cJSON_AddItemToArray(arr, item);
        }
        if (next)
                cJSON_AddStringToObject(res, "nextCursor", next);
        _cleanup_json_ cJSON *resp = jsonrpc_result(cJSON_GetObjectItem(req, "id"), res);
        size_t len;
        _cleanup_free_ char *s = jsonrpc_frame(resp, &len);
        mcp_client_feed(fx->c, s, len);
}

static void test_list_all(void **state)
{
        fixture *fx = *state;
        reply r = {.fx = fx};

        assert_int_equal(mcp_client_list_all(fx->c, "tools/list", "tools", 1000, on_reply, &r), 0);
        assert_int_equal(mcp_client_pending(fx->c), 1);
        const cJSON *m = sent(fx, 0);
        assert_string_equal(json_get_string(m, "method"), "tools/list");
        assert_null(json_get_string(json_get_object(m, "params"), "cursor"));
        answer_page(fx, "tools", 0, 2, "c1");
        assert_int_equal(r.calls, 0);
        m = sent(fx, 1);
        assert_string_equal(json_get_string(m, "method"), "tools/list");
        assert_string_equal(json_get_string(json_get_object(m, "params"), "cursor"), "c1");
        answer_page(fx, "tools", 2, 1, "c2");
        assert_string_equal(json_get_string(json_get_object(sent(fx, 2), "params"), "cursor"),
                            "c2");
        answer_page(fx, "tools", 3, 0, NULL);

        assert_int_equal(r.calls, 1);
        assert_int_equal(mcp_client_pending(fx->c), 0);
        const cJSON *tools = json_get_array(r.result, "tools");
        assert_non_null(tools);
        assert_int_equal(cJSON_GetArraySize(tools), 3);
        for (int i = 0; i < 3; i++) {
                char name[16];
                snprintf(name, sizeof(name), "t%d", i);
                assert_string_equal(json_get_string(cJSON_GetArrayItem(tools, i), "name"), name);
        }
        assert_int_equal(nsent(fx), 3);
        reply_done(&r);
}

static void test_list_all_errors(void **state)
{
        fixture *fx = *state;
        reply r[6];
        for (size_t i = 0; i < ARRAY_SIZE(r); i++)
                r[i] = (reply){.fx = fx};

        /* A server that hands back the cursor it was given. */
        mcp_client_list_all(fx->c, "prompts/list", "prompts", 1000, on_reply, &r[0]);
        answer_page(fx, "prompts", 0, 1, "same");
        answer_page(fx, "prompts", 1, 1, "same");
        assert_int_equal(r[0].calls, 1);
        assert_int_equal(error_code(&r[0]), CORRAL_RPC_FAULTY);
        assert_non_null(strstr(error_message(&r[0]), "cursor"));

        /* A result without the key. */
        mcp_client_list_all(fx->c, "resources/list", "resources", 1000, on_reply, &r[1]);
        answer_page(fx, "tools", 0, 1, NULL);
        assert_int_equal(error_code(&r[1]), CORRAL_RPC_FAULTY);
        assert_string_equal(error_message(&r[1]),
                            "resources/list: result has no 'resources' array");

        /* Too many items, over two pages. */
        mcp_client_list_all(fx->c, "tools/list", "tools", 1000, on_reply, &r[2]);
        answer_page(fx, "tools", 0, 6000, "next");
        assert_int_equal(r[2].calls, 0);
        answer_page(fx, "tools", 6000, 4001, NULL);
        assert_int_equal(r[2].calls, 1);
        assert_non_null(strstr(error_message(&r[2]), "more than 10000 items"));

        /* Exactly 10000 is fine. */
        mcp_client_list_all(fx->c, "tools/list", "tools", 1000, on_reply, &r[3]);
        answer_page(fx, "tools", 0, 10000, NULL);
        assert_int_equal(cJSON_GetArraySize(json_get_array(r[3].result, "tools")), 10000);

        /* Endless pagination. */
        mcp_client_list_all(fx->c, "resources/templates/list", "resourceTemplates", 1000, on_reply,
                            &r[4]);
        size_t before = nsent(fx);
        for (int i = 0; i < 1000 && r[4].calls == 0; i++) {
                char cursor[16];
                snprintf(cursor, sizeof(cursor), "p%d", i);
                answer_page(fx, "resourceTemplates", i, 1, cursor);
        }
        assert_int_equal(r[4].calls, 1);
        assert_non_null(strstr(error_message(&r[4]), "more than 1000 pages"));
        assert_int_equal(nsent(fx) - before, 999);

        /* A server error on page two is passed through. */
        mcp_client_list_all(fx->c, "tools/list", "tools", 1000, on_reply, &r[5]);
        answer_page(fx, "tools", 0, 1, "c");
        feed(fx,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"error\":{\"code\":-32602,\"message\":"
             "\"Invalid cursor\"}}",
             (int)json_get_number(sent(fx, nsent(fx) - 1), "id", 0));
        assert_int_equal(r[5].calls, 1);
        assert_string_equal(error_message(&r[5]), "Invalid cursor");
        assert_int_equal(mcp_client_pending(fx->c), 0);
        for (size_t i = 0; i < ARRAY_SIZE(r); i++)
                reply_done(&r[i]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_split_reads, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_requests_routed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_progress, setup, teardown),
                cmocka_unit_test_setup_teardown(test_initialize_accepted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_initialize_rejected, setup, teardown),
                cmocka_unit_test_setup_teardown(test_initialize_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_connect_modern, setup, teardown),
                cmocka_unit_test_setup_teardown(test_connect_fallback, setup, teardown),
                cmocka_unit_test_setup_teardown(test_connect_version_retry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_list_all, setup, teardown),
                cmocka_unit_test_setup_teardown(test_list_all_errors, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

