/* The text/event-stream parser (src/mcp/sse.c) against the WHATWG rules:
 * line endings, fields, multi-line data, ids kept across events, retry, the
 * BOM, comments, and the caps — with every input also fed one byte at a
 * time, since the network splits anywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "corral/sse.h"
#include "corral/strbuf.h"

typedef struct seen {
        strbuf out; /* "type|data|id\n" per event */
        unsigned n;
        int stop_at; /* return -7 on this event (1-based); 0: never */
} seen;

static int on_event(void *ud, const sse_event *ev)
{
        seen *s = ud;

        s->n++;
        assert_int_equal(strlen(ev->data), ev->data_len);
        (void)strbuf_appendf(&s->out, "%s|%s|%s\n", ev->type, ev->data, ev->id ? ev->id : "-");
        return s->stop_at && (int)s->n == s->stop_at ? -7 : 0;
}

static const struct {
        const char *in;
        const char *want;
        long retry;
} cases[] = {
        {"data: hello\n\n", "message|hello|-\n", -1},
        {"data:hello\r\n\r\n", "message|hello|-\n", -1},
        {"data: a\rdata: b\r\r", "message|a\nb|-\n", -1},
        {"data:  two spaces\n\n", "message| two spaces|-\n", -1},
        {"event: endpoint\ndata: /messages?sessionId=1\n\n", "endpoint|/messages?sessionId=1|-\n",
         -1},
        {"id: 7\ndata: x\n\ndata: y\n\n", "message|x|7\nmessage|y|7\n", -1},
        {"id: 1\nid\ndata: z\n\n", "message|z|\n", -1}, /* an empty id resets it */
        {": keep-alive\n\n: another\ndata: q\n\n", "message|q|-\n", -1},
        {"retry: 2500\ndata: r\n\n", "message|r|-\n", 2500},
        {"retry: 25x\n\n", "", -1},
        {"event: only-type\n\n", "", -1}, /* no data: nothing dispatched */
        {"data\n\n", "message||-\n", -1}, /* a field without colon: empty value */
        {"data: unfinished", "", -1},     /* no blank line: never dispatched */
        {"\xEF\xBB\xBF" "data: bom\n\n", "message|bom|-\n", -1},
        {"unknown: x\ndata: u\n\n", "message|u|-\n", -1},
        {"data: {\"jsonrpc\":\"2.0\"}\n\nevent: message\ndata: 2\n\n",
         "message|{\"jsonrpc\":\"2.0\"}|-\nmessage|2|-\n", -1},
};

static void run_case(const char *in, size_t n, size_t step, const char *want, long retry)
{
        sse_parser p;
        seen s = {.out = STRBUF_INIT(0)};
        corral_error err = {0};

        sse_parser_init(&p, 0);
        for (size_t i = 0; i < n; i += step)
                assert_int_equal(sse_parser_feed(&p, in + i, n - i < step ? n - i : step, on_event,
                                                 &s, &err),
                                 0);
        assert_string_equal(s.out.buf ? s.out.buf : "", want);
        assert_int_equal(sse_parser_retry(&p), retry);
        sse_parser_done(&p);
        strbuf_done(&s.out);
}

static void test_table(void **state)
{
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t n = strlen(cases[i].in);
                run_case(cases[i].in, n, n ? n : 1, cases[i].want, cases[i].retry);
                run_case(cases[i].in, n, 1, cases[i].want, cases[i].retry);
                run_case(cases[i].in, n, 3, cases[i].want, cases[i].retry);
        }
}

static void test_caps(void **state)
{
        sse_parser p;
        seen s = {.out = STRBUF_INIT(0)};
        corral_error err = {0};
        char chunk[256];

        /* An event's data over the cap, line by line. */
        sse_parser_init(&p, 1024);
        memset(chunk, 'x', sizeof(chunk));
        memcpy(chunk, "data: ", 6);
        chunk[sizeof(chunk) - 1] = '\n';
        int r = 0;
        for (int i = 0; i < 10 && r == 0; i++)
                r = sse_parser_feed(&p, chunk, sizeof(chunk), on_event, &s, &err);
        assert_int_equal(r, -EX_DATAERR);
        assert_non_null(strstr(err.msg, "event over 1024 bytes"));
        assert_int_equal(s.n, 0);
        sse_parser_done(&p);

        /* One line that never ends. */
        corral_error err2 = {0};
        sse_parser_init(&p, 1024);
        memset(chunk, 'y', sizeof(chunk));
        r = 0;
        for (int i = 0; i < 10 && r == 0; i++)
                r = sse_parser_feed(&p, chunk, sizeof(chunk), on_event, &s, &err2);
        assert_int_equal(r, -EX_DATAERR);
        assert_non_null(strstr(err2.msg, "line over"));
        sse_parser_done(&p);
        strbuf_done(&s.out);
}

static void test_stop(void **state)
{
        sse_parser p;
        seen s = {.out = STRBUF_INIT(0), .stop_at = 2};
        corral_error err = {0};
        const char *in = "data: 1\n\ndata: 2\n\ndata: 3\n\n";

        sse_parser_init(&p, 0);
        assert_int_equal(sse_parser_feed(&p, in, strlen(in), on_event, &s, &err), -7);
        assert_int_equal(s.n, 2);
        sse_parser_done(&p);
        strbuf_done(&s.out);
}

static void test_long_id_ignored(void **state)
{
        sse_parser p;
        seen s = {.out = STRBUF_INIT(0)};
        corral_error err = {0};
        char in[SSE_ID_MAX + 64];

        memcpy(in, "id: ", 4);
        memset(in + 4, 'i', SSE_ID_MAX + 1);
        memcpy(in + 4 + SSE_ID_MAX + 1, "\ndata: d\n\n", 11);
        sse_parser_init(&p, 0);
        assert_int_equal(sse_parser_feed(&p, in, strlen(in), on_event, &s, &err), 0);
        assert_string_equal(s.out.buf, "message|d|-\n");
        assert_null(sse_parser_last_id(&p));
        sse_parser_done(&p);
        strbuf_done(&s.out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_caps),
                cmocka_unit_test(test_stop),
                cmocka_unit_test(test_long_id_ignored),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
