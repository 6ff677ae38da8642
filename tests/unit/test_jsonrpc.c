/* JSON-RPC framing, classification, builders and serialisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"

typedef struct lines {
        char **v;
        size_t n;
        int stop_after; /* stop feeding after this many lines; 0 = never */
} lines;

static int collect(void *ud, const char *line, size_t len)
{
        lines *l = ud;
        assert_int_equal(strlen(line), len); /* NUL-terminated at len */
        l->v = xrealloc(l->v, (l->n + 1) * sizeof(char *));
        l->v[l->n++] = xstrndup(line, len);
        return l->stop_after && (int)l->n >= l->stop_after;
}

static void lines_done(lines *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        *l = (lines){0};
}

static void assert_lines(const lines *l, const char *const *want, size_t n)
{
        assert_int_equal(l->n, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(l->v[i], want[i]);
}

static const char stream[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n"
                             "\r\n"
                             "\n"
                             "{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\r\n"
                             "   \n"
                             "[1,2,\"a\\nb\"]\n"
                             "tail";
static const char *const stream_lines[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"x\"}",
        "[1,2,\"a\\nb\"]",
};

static void test_split_every_offset(void **state)
{
        size_t n = strlen(stream);

        for (size_t cut = 0; cut <= n; cut++) {
                jsonrpc_framer f;
                lines l = {0};
                jsonrpc_framer_init(&f, 0);
                assert_int_equal(jsonrpc_framer_feed(&f, stream, cut, collect, &l),
                                 JSONRPC_FRAME_OK);
                assert_int_equal(jsonrpc_framer_feed(&f, stream + cut, n - cut, collect, &l),
                                 JSONRPC_FRAME_OK);
                assert_lines(&l, stream_lines, ARRAY_SIZE(stream_lines));
                /* "tail" waits for its newline. */
                assert_int_equal(jsonrpc_framer_feed(&f, "\n", 1, collect, &l), JSONRPC_FRAME_OK);
                assert_int_equal(l.n, 4);
                assert_string_equal(l.v[3], "tail");
                lines_done(&l);
                jsonrpc_framer_done(&f);
        }
}

static void test_byte_at_a_time(void **state)
{
        jsonrpc_framer f;
        lines l = {0};

        jsonrpc_framer_init(&f, 0);
        for (size_t i = 0; i < strlen(stream); i++)
                assert_int_equal(jsonrpc_framer_feed(&f, stream + i, 1, collect, &l),
                                 JSONRPC_FRAME_OK);
        assert_lines(&l, stream_lines, ARRAY_SIZE(stream_lines));
        lines_done(&l);
        jsonrpc_framer_done(&f);
}

static void test_merged(void **state)
{
        jsonrpc_framer f;
        lines l = {0};

        jsonrpc_framer_init(&f, 0);
        assert_int_equal(jsonrpc_framer_feed(&f, stream, strlen(stream), collect, &l),
                         JSONRPC_FRAME_OK);
        assert_lines(&l, stream_lines, ARRAY_SIZE(stream_lines));
        lines_done(&l);
        jsonrpc_framer_done(&f);
}

static void test_default_max(void **state)
{
        jsonrpc_framer f;
        jsonrpc_framer_init(&f, 0);
        assert_int_equal(f.max, 16u << 20);
        jsonrpc_framer_done(&f);
        jsonrpc_framer_init(&f, 100);
        assert_int_equal(f.max, 100);
        jsonrpc_framer_done(&f);
}

static void test_oversize_then_valid(void **state)
{
        jsonrpc_framer f;
        lines l = {0};
        const char *const want[] = {"ok1", "0123456789abcdef", "0123456789abcdef", "ok2"};

        jsonrpc_framer_init(&f, 16);
        /* One feed: over, exactly max, exactly max + '\r', max + 1, valid. */
        const char *in = "ok1\n"
                         "0123456789abcdefXXXXXXXXXXX\n"
                         "0123456789abcdef\n"
                         "0123456789abcdef\r\n"
                         "0123456789abcdefg\n"
                         "ok2\n";
        assert_int_equal(jsonrpc_framer_feed(&f, in, strlen(in), collect, &l),
                         JSONRPC_FRAME_OVERSIZE);
        assert_lines(&l, want, ARRAY_SIZE(want));
        /* The framer is clean afterwards. */
        assert_int_equal(jsonrpc_framer_feed(&f, "ok3\n", 4, collect, &l), JSONRPC_FRAME_OK);
        assert_int_equal(l.n, 5);
        assert_string_equal(l.v[4], "ok3");
        lines_done(&l);
        jsonrpc_framer_done(&f);
}

static void test_oversize_across_feeds(void **state)
{
        jsonrpc_framer f;
        lines l = {0};

        jsonrpc_framer_init(&f, 16);
        assert_int_equal(jsonrpc_framer_feed(&f, "0123456789", 10, collect, &l), JSONRPC_FRAME_OK);
        assert_int_equal(jsonrpc_framer_feed(&f, "0123456789", 10, collect, &l),
                         JSONRPC_FRAME_OVERSIZE);
        assert_true(f.discarding);
        /* Still inside the oversize line: dropped silently, no second report. */
        assert_int_equal(jsonrpc_framer_feed(&f, "{\"a\":1}", 7, collect, &l), JSONRPC_FRAME_OK);
        assert_int_equal(jsonrpc_framer_feed(&f, "zz\n{\"b\":2}\n", 11, collect, &l),
                         JSONRPC_FRAME_OK);
        assert_false(f.discarding);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.v[0], "{\"b\":2}");

        /* Oversize reached while the line's newline is in the same chunk. */
        assert_int_equal(jsonrpc_framer_feed(&f, "0123456789", 10, collect, &l), JSONRPC_FRAME_OK);
        assert_int_equal(jsonrpc_framer_feed(&f, "0123456789\nok\n", 14, collect, &l),
                         JSONRPC_FRAME_OVERSIZE);
        assert_false(f.discarding);
        assert_int_equal(l.n, 2);
        assert_string_equal(l.v[1], "ok");
        lines_done(&l);
        jsonrpc_framer_done(&f);
}

static void test_stop(void **state)
{
        jsonrpc_framer f;
        lines l = {.stop_after = 1};

        jsonrpc_framer_init(&f, 0);
        assert_int_equal(jsonrpc_framer_feed(&f, "a\nb\nc\n", 6, collect, &l), JSONRPC_FRAME_STOP);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.v[0], "a");
        lines_done(&l);
        jsonrpc_framer_done(&f);
}

static const struct {
        const char *json;
        jsonrpc_kind kind;
} classify_table[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", JSONRPC_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"ping\",\"params\":{}}", JSONRPC_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"m\",\"params\":[1]}", JSONRPC_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":3}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":\"s\"}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"result\":{}}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", JSONRPC_NOTIFICATION},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":{\"a\":1}}", JSONRPC_NOTIFICATION},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", JSONRPC_RESPONSE},
        {"{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":null}", JSONRPC_RESPONSE},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,\"message\":\"no\"}}",
         JSONRPC_RESPONSE},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"parse\"}}",
         JSONRPC_RESPONSE},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1,\"message\":\"m\",\"data\":[]}}",
         JSONRPC_RESPONSE},
        {"{\"jsonrpc\":\"2.0\",\"id\":1}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"result\":{}}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{\"code\":1,\"message\":\"m\"}}",
         JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.5,\"message\":\"m\"}}",
         JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"1\",\"message\":\"m\"}}",
         JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1,\"message\":7}}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"bad\"}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1e12,\"message\":\"m\"}}",
         JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":[1],\"result\":{}}", JSONRPC_INVALID},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":{}}", JSONRPC_INVALID},
        {"{\"jsonrpc\":2.0,\"id\":1,\"result\":{}}", JSONRPC_INVALID},
        {"{\"id\":1,\"result\":{}}", JSONRPC_INVALID},
        {"{}", JSONRPC_INVALID},
        {"[]", JSONRPC_INVALID},
        {"[{\"jsonrpc\":\"2.0\",\"method\":\"n\"}]", JSONRPC_INVALID},
        {"\"2.0\"", JSONRPC_INVALID},
        {"null", JSONRPC_INVALID},
        {"42", JSONRPC_INVALID},
};

static void test_classify_table(void **state)
{
        for (size_t i = 0; i < ARRAY_SIZE(classify_table); i++) {
                _cleanup_json_ cJSON *j = cJSON_Parse(classify_table[i].json);
                assert_non_null(j);
                if (jsonrpc_classify(j) != classify_table[i].kind)
                        fail_msg("classify(%s) = %d, want %d", classify_table[i].json,
                                 jsonrpc_classify(j), classify_table[i].kind);
        }
        assert_int_equal(jsonrpc_classify(NULL), JSONRPC_INVALID);
}

static cJSON *reparse(const cJSON *m)
{
        size_t len;
        _cleanup_free_ char *s = jsonrpc_frame(m, &len);
        assert_int_equal(strlen(s), len);
        assert_true(len > 1);
        assert_int_equal(s[len - 1], '\n');
        assert_null(memchr(s, '\n', len - 1));
        assert_null(memchr(s, '\r', len));
        cJSON *r = cJSON_Parse(s);
        assert_non_null(r);
        return r;
}

static void test_builders(void **state)
{
        _cleanup_json_ cJSON *id = cJSON_CreateNumber(7);
        cJSON *params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "text", "line one\nline two\r\n\ttab \"q\" \\");

        _cleanup_json_ cJSON *req = jsonrpc_request(id, "tools/call", params);
        _cleanup_json_ cJSON *r1 = reparse(req);
        assert_int_equal(jsonrpc_classify(r1), JSONRPC_REQUEST);
        assert_string_equal(json_get_string(r1, "jsonrpc"), "2.0");
        assert_string_equal(json_get_string(r1, "method"), "tools/call");
        assert_int_equal(json_get_number(r1, "id", 0), 7);
        assert_string_equal(json_get_string(json_get_object(r1, "params"), "text"),
                            "line one\nline two\r\n\ttab \"q\" \\");

        _cleanup_json_ cJSON *note = jsonrpc_notification("notifications/initialized", NULL);
        _cleanup_json_ cJSON *r2 = reparse(note);
        assert_int_equal(jsonrpc_classify(r2), JSONRPC_NOTIFICATION);
        assert_null(cJSON_GetObjectItem(r2, "params"));
        assert_null(cJSON_GetObjectItem(r2, "id"));

        _cleanup_json_ cJSON *sid = cJSON_CreateString("s-1");
        _cleanup_json_ cJSON *res = jsonrpc_result(sid, NULL);
        _cleanup_json_ cJSON *r3 = reparse(res);
        assert_int_equal(jsonrpc_classify(r3), JSONRPC_RESPONSE);
        assert_string_equal(json_get_string(r3, "id"), "s-1");
        assert_true(cJSON_IsObject(cJSON_GetObjectItem(r3, "result")));
        assert_null(cJSON_GetObjectItem(r3, "result")->child);

        _cleanup_json_ cJSON *err = jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, "parse error",
                                                  cJSON_CreateString("detail"));
        _cleanup_json_ cJSON *r4 = reparse(err);
        assert_int_equal(jsonrpc_classify(r4), JSONRPC_RESPONSE);
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(r4, "id")));
        const cJSON *e = json_get_object(r4, "error");
        assert_int_equal(json_get_number(e, "code", 0), -32700);
        assert_string_equal(json_get_string(e, "message"), "parse error");
        assert_string_equal(json_get_string(e, "data"), "detail");
}

/* jsonrpc_parse: ids keep their exact text; echoing one through the builders
 * gives the same bytes back. */
static void test_parse_exact_ids(void **state)
{
        static const char *const ids[] = {
                "9007199254740993", "-0", "1.50", "1e400", "1E+2",
                "123456789012345678901234567890123456789012345678901234567890123456789",
                "\"\\u0000x\"", "\"a\\\"b\\\\c\\/\\u00e9\"", "\"\xc3\xa9\xf0\x9f\x98\x80\"", "\"\"",
        };
        for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
                _cleanup_free_ char *line =
                        xasprintf("{ \"jsonrpc\":\"2.0\" , \"id\" : %s ,\"method\":\"ping\"}", ids[i]);
                _cleanup_json_ cJSON *m = jsonrpc_parse(line, strlen(line));
                assert_non_null(m);
                assert_int_equal(jsonrpc_classify(m), JSONRPC_REQUEST);
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
                assert_int_equal(jsonrpc_id_type_of(id),
                                 ids[i][0] == '"' ? JSONRPC_ID_STRING : JSONRPC_ID_NUMBER);
                _cleanup_json_ cJSON *r = jsonrpc_result(id, NULL);
                _cleanup_free_ char *out = json_print(r);
                _cleanup_free_ char *want = xasprintf("\"id\":%s,", ids[i]);
                assert_non_null(strstr(out, want));
        }
}

static void test_parse_nested_ids_and_escaped_keys(void **state)
{
        const char *line = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                           "\"params\":{\"x\":[\"}\",{\"requestId\":1}],\"requestId\":"
                           "9007199254740993,\"_meta\":{\"progressToken\":\"\\u0000t\"}},"
                           "\"\\u0069d\":99999999999999999999}";
        _cleanup_json_ cJSON *m = jsonrpc_parse(line, strlen(line));
        assert_non_null(m);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "params");
        const cJSON *rid = cJSON_GetObjectItemCaseSensitive(p, "requestId");
        assert_true(cJSON_IsRaw(rid));
        assert_string_equal(rid->valuestring, "9007199254740993");
        const cJSON *tok = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(p, "_meta"), "progressToken");
        assert_string_equal(tok->valuestring, "\"\\u0000t\"");
        /* "\u0069d" is "id" once decoded, as cJSON sees it. */
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
        assert_true(cJSON_IsRaw(id));
        assert_string_equal(id->valuestring, "99999999999999999999");

        _cleanup_json_ cJSON *a = cJSON_CreateRaw("9007199254740993");
        _cleanup_json_ cJSON *b = cJSON_CreateNumber(9007199254740992.0);
        assert_true(jsonrpc_id_equal(a, rid));
        assert_false(jsonrpc_id_equal(a, b));
}

static void test_parse_rejects(void **state)
{
        static const char *const bad[] = {
                "{\"jsonrpc\":\"2.0\",\"id\":\"\xff\",\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":\"\xc0\xaf\",\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":\"\xed\xa0\x80\",\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":\"\xf4\x90\x80\x80\",\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":\"\xe2\x82\"}}",
                "{\"jsonrpc\":\"2.0\",\"id\":\"a\tb\",\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x",
                "{\"jsonrpc\":\"2.0\",\"id\":01,\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":1.,\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":",
                "",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                cJSON *m = jsonrpc_parse(bad[i], strlen(bad[i]));
                if (m)
                        fail_msg("accepted: %s", bad[i]);
        }
        assert_null(jsonrpc_parse("{\"a\":1}\0{}", 10));
}

static void test_utf8_repair(void **state)
{
        size_t n = 0;
        char *fixed;

        assert_null(jsonrpc_utf8_repair("ok \xc3\xa9", 5, &n));
        fixed = jsonrpc_utf8_repair("a\xff" "b\xe2\x82", 5, &n);
        assert_non_null(fixed);
        assert_int_equal(n, 1 + 3 + 1 + 3 + 3);
        assert_memory_equal(fixed, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd", n);
        free(fixed);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_split_every_offset),
                cmocka_unit_test(test_byte_at_a_time),
                cmocka_unit_test(test_merged),
                cmocka_unit_test(test_default_max),
                cmocka_unit_test(test_oversize_then_valid),
                cmocka_unit_test(test_oversize_across_feeds),
                cmocka_unit_test(test_stop),
                cmocka_unit_test(test_classify_table),
                cmocka_unit_test(test_builders),
                cmocka_unit_test(test_parse_exact_ids),
                cmocka_unit_test(test_parse_nested_ids_and_escaped_keys),
                cmocka_unit_test(test_parse_rejects),
                cmocka_unit_test(test_utf8_repair),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
