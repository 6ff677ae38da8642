/* MCP client session lifetimes and faults against a scripted server
 * (mcp_fixture.c): freeing with requests pending and from inside callbacks,
 * re-entrant requests, protocol faults, oversize lines, batches, send
 * failures. */
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

static void test_free_with_pending(void **state)
{
        fixture *fx = *state;
        reply a = {.fx = fx}, b = {.fx = fx}, l = {.fx = fx};

        mcp_client_request(fx->c, "tools/call", NULL, 5000, NULL, on_reply, &a);
        mcp_client_request(fx->c, "tools/call", NULL, 0, on_progress, on_reply, &b);
        mcp_client_list_all(fx->c, "tools/list", "tools", 5000, on_reply, &l);
        size_t before = nsent(fx);
        fx->c = mcp_client_free(fx->c);
        assert_null(fx->c);
        assert_int_equal(a.calls, 1);
        assert_int_equal(b.calls, 1);
        assert_int_equal(l.calls, 1);
        assert_int_equal(error_code(&a), CORRAL_RPC_UNAVAILABLE);
        assert_string_equal(error_message(&a), "session closed");
        assert_string_equal(error_message(&l), "session closed");
        assert_int_equal(nsent(fx), before);
        reply_done(&a);
        reply_done(&b);
        reply_done(&l);
}

static void test_free_in_callbacks(void **state)
{
        fixture *fx = *state;
        reply a = {.fx = fx, .free_client = true}, b = {.fx = fx, .issue_request = true};

        mcp_client_request(fx->c, "tools/call", NULL, 5000, NULL, on_reply, &a);
        mcp_client_request(fx->c, "tools/call", NULL, 5000, NULL, on_reply, &b);
        /* a's callback frees the session in the middle of this read; b is
         * completed by the free, and its attempt to issue a request fails at
         * once instead of touching a dying session. */
        const char *in = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n"
                         "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n";
        mcp_client_feed(fx->c, in, strlen(in));
        assert_null(fx->c);
        assert_int_equal(a.calls, 1);
        assert_non_null(a.result);
        /* b: "session closed", then the failed ping from inside its callback
         * (which is not re-issued again). */
        assert_int_equal(b.calls, 2);
        assert_int_equal(b.issued_handle, 0);
        assert_string_equal(error_message(&b), "session closed");
        reply_done(&a);
        reply_done(&b);
}

static void test_free_in_other_callbacks(void **state)
{
        fixture *fx = *state;
        reply a = {.fx = fx};

        fx->free_on_fault = true;
        mcp_client_request(fx->c, "tools/call", NULL, 5000, NULL, on_reply, &a);
        const char *in = "garbage\n{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n";
        mcp_client_feed(fx->c, in, strlen(in));
        assert_null(fx->c);
        assert_int_equal(fx->nfaults, 1);
        assert_int_equal(a.calls, 1);
        assert_int_equal(error_code(&a), CORRAL_RPC_UNAVAILABLE);

        fx->c = mcp_client_new(&fx->loop, &ops, fx, 0);
        fx->free_on_notification = true;
        reply b = {.fx = fx};
        mcp_client_request(fx->c, "tools/call", NULL, 20, NULL, on_reply, &b);
        feed(fx, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
        assert_null(fx->c);
        assert_int_equal(b.calls, 1);
        assert_string_equal(error_message(&b), "session closed");

        /* The owner's send frees the session (the transport died). */
        fx->c = mcp_client_new(&fx->loop, &ops, fx, 0);
        reply c = {.fx = fx}, d = {.fx = fx};
        mcp_client_request(fx->c, "tools/call", NULL, 5000, NULL, on_reply, &c);
        fx->free_in_send = true;
        assert_int_equal(mcp_client_request(fx->c, "ping", NULL, 5000, NULL, on_reply, &d), 0);
        assert_null(fx->c);
        assert_int_equal(c.calls, 1);
        assert_int_equal(d.calls, 1);
        assert_int_equal(error_code(&d), CORRAL_RPC_UNAVAILABLE);
        reply_done(&a);
        reply_done(&b);
        reply_done(&c);
        reply_done(&d);
}

static void test_reentrant_requests(void **state)
{
        fixture *fx = *state;
        reply a = {.fx = fx, .issue_request = true}, b = {.fx = fx}, c = {.fx = fx};

        mcp_client_request(fx->c, "tools/call", NULL, 5000, NULL, on_reply, &a);
        uint64_t hb = mcp_client_request(fx->c, "tools/call", NULL, 5000, NULL, on_reply, &b);
        mcp_client_request(fx->c, "tools/call", NULL, 5000, NULL, on_reply, &c);
        a.cancel_handle = hb;
        c.cancel_handle = 1; /* already completed by then: ignored */
        const char *in = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n"
                         "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n"
                         "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}\n";
        mcp_client_feed(fx->c, in, strlen(in));
        assert_int_equal(a.calls, 1);
        assert_int_equal(a.issued_handle, 4);
        assert_int_equal(b.calls, 1);
        assert_int_equal(error_code(&b), CORRAL_RPC_CANCELLED);
        assert_int_equal(c.calls, 1);
        assert_non_null(c.result);
        const cJSON *ping = find_sent(fx, "ping", 0);
        assert_non_null(ping);
        assert_int_equal(json_get_number(ping, "id", 0), 4);
        assert_int_equal(mcp_client_pending(fx->c), 1);

        /* A callback that re-issues a request on timeout keeps the timer
         * working. */
        fx->c = mcp_client_free(fx->c);
        assert_int_equal(a.calls, 2); /* the ping, closed by the free */
        fx->c = mcp_client_new(&fx->loop, &ops, fx, 0);
        reply t = {.fx = fx, .issue_request = true};
        mcp_client_request(fx->c, "slow", NULL, 20, NULL, on_reply, &t);
        uv_run(&fx->loop, UV_RUN_DEFAULT);
        assert_int_equal(t.calls, 1);
        assert_int_equal(error_code(&t), CORRAL_RPC_TIMEOUT);
        assert_int_equal(t.issued_handle, 2);
        assert_int_equal(mcp_client_pending(fx->c), 1);
        /* t is on this stack frame: close its ping before returning. */
        fx->c = mcp_client_free(fx->c);
        assert_int_equal(t.calls, 2);
        reply_done(&a);
        reply_done(&b);
        reply_done(&c);
        reply_done(&t);
}

static void test_faults(void **state)
{
        fixture *fx = *state;
        reply r = {.fx = fx};

        mcp_client_request(fx->c, "tools/call", NULL, 5000, NULL, on_reply, &r);
        feed(fx, "hello world");
        feed(fx, "%s",
             "Error: \x1b[31mcannot find module 'x'\x1b[0m at Object.<anonymous> "
             "(/srv/index.js:1:1) and much more text after that");
        feed(fx, "{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":{}}");
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}} trailing");
        feed(fx, "[]");
        /* 59 ASCII bytes then a 2-byte character: the cut keeps it whole or
         * drops it, never half. */
        feed(fx, "%s", "12345678901234567890123456789012345678901234567890123456789\xc3\xa9tail");
        assert_int_equal(fx->nfaults, 6);
        assert_string_equal(fx->faults[0], "sent a line that is not JSON: hello world");
        /* 60 bytes, escape bytes made printable. */
        assert_string_equal(fx->faults[1], "sent a line that is not JSON: Error: ?[31mcannot find "
                                           "module 'x'?[0m at Object.<anonymous>...");
        assert_string_equal(fx->faults[2], "sent an invalid JSON-RPC message: {\"jsonrpc\":\"1.0\","
                                           "\"id\":1,\"result\":{}}");
        assert_non_null(strstr(fx->faults[3], "not JSON"));
        assert_string_equal(fx->faults[4], "sent an invalid JSON-RPC message: []");
        assert_string_equal(fx->faults[5], "sent a line that is not JSON: "
                                           "12345678901234567890123456789012345678901234567890"
                                           "123456789...");
        /* The session is still usable. */
        assert_int_equal(r.calls, 0);
        feed(fx, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ok\":1}}");
        assert_int_equal(r.calls, 1);
        assert_non_null(r.result);
        reply_done(&r);
}

static void test_oversize(void **state)
{
        fixture *fx = *state;
        reply r = {.fx = fx};

        fx->c = mcp_client_free(fx->c);
        fx->c = mcp_client_new(&fx->loop, &ops, fx, 64);
        mcp_client_request(fx->c, "tools/call", NULL, 5000, NULL, on_reply, &r);
        char big[200];
        memset(big, 'x', sizeof(big));
        mcp_client_feed(fx->c, big, sizeof(big));
        mcp_client_feed(fx->c, big, sizeof(big));
        assert_int_equal(fx->nfaults, 1);
        assert_string_equal(fx->faults[0], "sent a message over 64 bytes");
        feed(fx, "\n{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
        assert_int_equal(fx->nfaults, 1);
        assert_int_equal(r.calls, 1);
        assert_non_null(r.result);
        reply_done(&r);

        /* The default cap, named in MiB. */
        fx->c = mcp_client_free(fx->c);
        fx->c = mcp_client_new(&fx->loop, &ops, fx, 0);
        size_t n = (16u << 20) + 1;
        char *huge = xmalloc(n + 1);
        memset(huge, ' ', n);
        huge[n] = '\n';
        mcp_client_feed(fx->c, huge, n + 1);
        free(huge);
        assert_int_equal(fx->nfaults, 2);
        assert_string_equal(fx->faults[1], "sent a message over 16 MiB");
}

static void test_batch(void **state)
{
        fixture *fx = *state;
        reply a = {.fx = fx}, b = {.fx = fx};

        mcp_client_request(fx->c, "ping", NULL, 0, NULL, on_reply, &a);
        mcp_client_request(fx->c, "ping", NULL, 0, NULL, on_reply, &b);
        feed(fx, "[{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}},"
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}]");
        assert_int_equal(a.calls, 1);
        assert_int_equal(b.calls, 1);
        assert_int_equal(b.order, 1);
        assert_int_equal(fx->nfaults, 0);
        reply_done(&a);
        reply_done(&b);
}

static void test_send_failure(void **state)
{
        fixture *fx = *state;
        reply a = {.fx = fx}, i = {.fx = fx}, l = {.fx = fx};

        fx->send_fail = true;
        assert_int_equal(mcp_client_request(fx->c, "ping", NULL, 1000, NULL, on_reply, &a), 0);
        assert_int_equal(a.calls, 1);
        assert_int_equal(error_code(&a), CORRAL_RPC_UNAVAILABLE);
        assert_non_null(strstr(error_message(&a), "transport closed"));
        assert_int_equal(mcp_client_initialize(fx->c, 1000, on_reply, &i), -EX_UNAVAILABLE);
        assert_int_equal(i.calls, 1);
        assert_int_equal(mcp_client_list_all(fx->c, "tools/list", "tools", 1000, on_reply, &l),
                         -EX_UNAVAILABLE);
        assert_int_equal(l.calls, 1);
        assert_int_equal(mcp_client_notify(fx->c, "notifications/roots/list_changed", NULL),
                         -EX_UNAVAILABLE);
        assert_int_equal(mcp_client_pending(fx->c), 0);

        /* No session at all (a unit that is not ready): still one answer. */
        reply n = {.fx = fx};
        assert_int_equal(
                mcp_client_request(NULL, "ping", cJSON_CreateObject(), 10, NULL, on_reply, &n), 0);
        assert_int_equal(n.calls, 1);
        assert_string_equal(error_message(&n), "session closed");
        reply_done(&n);

        fx->send_fail = false;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "level", "debug");
        assert_int_equal(mcp_client_notify(fx->c, "notifications/x", p), 0);
        assert_int_equal(nsent(fx), 1);
        assert_int_equal(jsonrpc_classify(sent(fx, 0)), JSONRPC_NOTIFICATION);
        assert_string_equal(json_get_string(json_get_object(sent(fx, 0), "params"), "level"),
                            "debug");
        reply_done(&a);
        reply_done(&i);
        reply_done(&l);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_free_with_pending, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_in_callbacks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_in_other_callbacks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reentrant_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_send_failure, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

