/* manifest.json v1: round trip, stable formatting, validation of malformed
 * input, save/load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "corral/fs.h"
#include "corral/manifest.h"

static const char full[] =
        "{ \"manifest_version\": 1, \"name\": \"everything\",\n"
        "  \"source\": { \"spec\": \"npm:@modelcontextprotocol/server-everything\", \"kind\": "
        "\"npm\",\n"
        "    \"resolved\": { \"version\": \"2026.8.31\", \"url\": \"https://r/e.tgz\",\n"
        "      \"integrity\": \"sha512-abc\", \"commit\": null, \"digest\": null },\n"
        "    \"lock\": [ { \"name\": \"zod\", \"version\": \"3.0.0\", \"integrity\": \"sha512-z\" "
        "},\n"
        "              { \"name\": \"x\", \"version\": \"1.0.0\", \"integrity\": null } ] },\n"
        "  \"runtime\": { \"backend\": \"native\", \"command\": [\"node\", \"dist/index.js\", "
        "\"--a b\"],\n"
        "    \"env\": { \"B_KEY\": \"2\", \"A_KEY\": \"quote\\\" and \\u00e9\" }, \"cwd\": \"pkg\" "
        "},\n"
        "  \"sandbox\": { \"profile\": \"strict\", \"network\": \"host\", \"mounts\": "
        "[\"/srv/x:ro\"],\n"
        "    \"run_as\": { \"uid\": 1000, \"gid\": 100 },\n"
        "    \"memory_mb\": 256, \"pids\": 64, \"cpus\": 0.5 },\n"
        "  \"restart\": \"always\", \"enabled\": false, \"owner\": \"alice\",\n"
        "  \"installed_at\": \"2026-01-02T03:04:05Z\", \"corral_version\": \"0.1.0\",\n"
        "  \"future_field\": 42 }";

static manifest *parse_ok(const char *json)
{
        manifest *m = NULL;
        corral_error err = {0};
        int r = manifest_parse(&m, json, strlen(json), &err);
        if (r != 0) {
                print_error("parse failed: %s\n", err.msg);
                fail();
        }
        return m;
}

static void test_parse_full(void **state)
{
        (void)state;
        manifest *m = parse_ok(full);
        assert_string_equal(m->name, "everything");
        assert_string_equal(m->spec, "npm:@modelcontextprotocol/server-everything");
        assert_string_equal(m->kind, "npm");
        assert_string_equal(m->resolved_version, "2026.8.31");
        assert_string_equal(m->resolved_integrity, "sha512-abc");
        assert_null(m->resolved_commit);
        assert_null(m->resolved_digest);
        assert_int_equal(m->n_lock, 2);
        assert_string_equal(m->lock[0].name, "zod");
        assert_null(m->lock[1].integrity);
        assert_int_equal(strv_length(m->command), 3);
        assert_string_equal(m->command[2], "--a b");
        assert_int_equal(m->n_env, 2);
        assert_string_equal(m->env[0].key, "B_KEY"); /* file order kept */
        assert_string_equal(m->env[1].value, "quote\" and \xc3\xa9");
        assert_string_equal(m->profile, "strict");
        assert_string_equal(m->network, "host");
        assert_string_equal(m->mounts[0], "/srv/x:ro");
        assert_null(m->mounts[1]);
        assert_int_equal(m->memory_mb, 256);
        assert_int_equal(m->pids, 64);
        assert_true(m->cpus == 0.5);
        assert_int_equal(m->run_uid, 1000);
        assert_int_equal(m->run_gid, 100);
        assert_string_equal(m->restart, "always");
        assert_false(m->enabled);
        assert_string_equal(m->owner, "alice");
        assert_string_equal(m->installed_at, "2026-01-02T03:04:05Z");
        manifest_free(m);
}

static void test_round_trip(void **state)
{
        (void)state;
        manifest *a = parse_ok(full);
        char *t1 = manifest_format(a);
        manifest *b = parse_ok(t1);
        char *t2 = manifest_format(b);
        /* stable: formatting the re-parsed manifest gives the same bytes */
        assert_string_equal(t1, t2);
        assert_true(t1[strlen(t1) - 1] == '\n');
        assert_true(manifest_same_runtime(a, b));
        assert_int_equal(a->enabled, b->enabled);
        assert_string_equal(a->installed_at, b->installed_at);
        /* nulls stay nulls, unknown fields are dropped */
        assert_non_null(strstr(t1, "\"commit\":\tnull"));
        assert_null(strstr(t1, "future_field"));
        free(t1);
        free(t2);
        manifest_free(a);
        manifest_free(b);
}

static void test_new_defaults(void **state)
{
        (void)state;
        manifest *m = manifest_new("memory");
        assert_string_equal(m->backend, "native");
        assert_string_equal(m->cwd, "pkg");
        assert_string_equal(m->profile, "default");
        assert_string_equal(m->network, "none");
        assert_int_equal(m->memory_mb, 512);
        assert_int_equal(m->pids, 256);
        assert_true(m->cpus == 1.0);
        assert_string_equal(m->restart, "on-failure");
        assert_true(m->enabled);
        assert_null(m->owner);
        assert_int_equal(strlen(m->installed_at), 20);
        assert_true(m->installed_at[19] == 'Z');

        /* without a command it is not a valid manifest */
        free(m->spec);
        m->spec = xstrdup("./memory");
        char *t = manifest_format(m);
        manifest *p = NULL;
        corral_error err = {0};
        assert_int_equal(manifest_parse(&p, t, strlen(t), &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, "runtime.command"));
        free(t);

        m->command = strv_push(m->command, "node");
        m->command = strv_push(m->command, "index.js");
        t = manifest_format(m);
        p = parse_ok(t);
        assert_true(manifest_same_runtime(m, p));
        assert_null(p->resolved_version);
        assert_int_equal(p->n_lock, 0);
        assert_int_equal(p->n_env, 0);

        /* what makes a unit restart, and what does not */
        p->enabled = false;
        free(p->installed_at);
        p->installed_at = xstrdup("2000-01-01T00:00:00Z");
        assert_true(manifest_same_runtime(m, p));
        free(p->command[1]);
        p->command[1] = xstrdup("other.js");
        assert_false(manifest_same_runtime(m, p));
        free(p->command[1]);
        p->command[1] = xstrdup("index.js");
        p->memory_mb = 1024;
        assert_false(manifest_same_runtime(m, p));
        p->memory_mb = 512;
        free(p->resolved_version);
        p->resolved_version = xstrdup("1.0.0");
        assert_false(manifest_same_runtime(m, p));
        free(t);
        manifest_free(p);
        manifest_free(m);
        assert_null(manifest_free(NULL));
}

#define BASE_SOURCE "\"source\":{\"spec\":\"./x\",\"kind\":\"local\"}"
#define BASE_RUNTIME "\"runtime\":{\"command\":[\"node\"]}"
#define BASE_TAIL "\"installed_at\":\"2026-01-01T00:00:00Z\",\"corral_version\":\"0.1.0\""
#define M(...) "{\"manifest_version\":1,\"name\":\"x\"," __VA_ARGS__ "}"
#define OK_BODY BASE_SOURCE "," BASE_RUNTIME "," BASE_TAIL

static void test_minimal_ok(void **state)
{
        (void)state;
        manifest *m = parse_ok(M(OK_BODY));
        assert_string_equal(m->backend, "native");
        assert_string_equal(m->profile, "default");
        assert_int_equal(m->memory_mb, 512);
        manifest_free(m);
}

/* The remote backend: command [URL], transport, headers with secret (null)
 * values; round-trips; malformed remote fields are refused by name. */
static void test_remote(void **state)
{
        (void)state;
        manifest *m = parse_ok(M(BASE_SOURCE ",\"runtime\":{\"backend\":\"remote\","
                                 "\"command\":[\"https://mcp.example.com/mcp\"],"
                                 "\"headers\":{\"X-Team\":\"blue\",\"X-Key\":null},"
                                 "\"session_idle_s\":2,\"sessions_max\":1024}," BASE_TAIL));
        assert_string_equal(m->transport, "http");
        assert_int_equal(m->session_idle_s, 2);
        assert_int_equal(m->sessions_max, 1024);
        assert_int_equal(m->n_headers, 2);
        assert_string_equal(m->headers[0].key, "X-Team");
        assert_string_equal(m->headers[0].value, "blue");
        assert_null(m->headers[1].value);
        _cleanup_free_ char *text = manifest_format(m);
        manifest *back = NULL;
        corral_error err = {0};
        assert_int_equal(manifest_parse(&back, text, strlen(text), &err), 0);
        assert_true(manifest_same_runtime(m, back));
        assert_int_equal(back->session_idle_s, 2);
        assert_int_equal(back->sessions_max, 1024);
        free(back->headers[0].value);
        back->headers[0].value = xstrdup("red");
        assert_false(manifest_same_runtime(m, back));
        manifest_free(back);
        manifest_free(m);

        static const struct {
                const char *json;
                const char *msg;
        } bad[] = {
                {M(BASE_SOURCE ",\"runtime\":{\"backend\":\"remote\",\"command\":[\"node\"]}," BASE_TAIL),
                 "must be [URL]"},
                {M(BASE_SOURCE ",\"runtime\":{\"backend\":\"remote\",\"command\":[\"https://h/\"],"
                   "\"transport\":\"ws\"}," BASE_TAIL),
                 "runtime.transport"},
                {M(BASE_SOURCE ",\"runtime\":{\"backend\":\"remote\",\"command\":[\"https://h/\"],"
                   "\"headers\":{\"Bad Name\":\"v\"}}," BASE_TAIL),
                 "invalid header name"},
                {M(BASE_SOURCE ",\"runtime\":{\"backend\":\"remote\",\"command\":[\"https://h/\"],"
                   "\"headers\":{\"X\":\"a\\r\\nInjected: 1\"}}," BASE_TAIL),
                 "invalid value"},
                {M(BASE_SOURCE ",\"runtime\":{\"backend\":\"remote\",\"command\":[\"https://h/\"],"
                   "\"headers\":{\"X\":1}}," BASE_TAIL),
                 "strings or null"},
                /* Users' sessions (issue 15): the idle time and the cap. */
                {M(BASE_SOURCE ",\"runtime\":{\"backend\":\"remote\",\"command\":[\"https://h/\"],"
                   "\"session_idle_s\":1}," BASE_TAIL),
                 "runtime.session_idle_s"},
                {M(BASE_SOURCE ",\"runtime\":{\"backend\":\"remote\",\"command\":[\"https://h/\"],"
                   "\"session_idle_s\":86401}," BASE_TAIL),
                 "runtime.session_idle_s"},
                {M(BASE_SOURCE ",\"runtime\":{\"backend\":\"remote\",\"command\":[\"https://h/\"],"
                   "\"sessions_max\":0}," BASE_TAIL),
                 "runtime.sessions_max"},
                {M(BASE_SOURCE ",\"runtime\":{\"backend\":\"remote\",\"command\":[\"https://h/\"],"
                   "\"sessions_max\":1025}," BASE_TAIL),
                 "runtime.sessions_max"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                manifest *x = NULL;
                corral_error e = {0};
                assert_int_equal(manifest_parse(&x, bad[i].json, strlen(bad[i].json), &e),
                                 -EX_DATAERR);
                if (!strstr(e.msg, bad[i].msg))
                        fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, bad[i].msg);
        }
}

/* manifest "access": default trusted; per-tool levels override the
 * server's; round-trips through manifest_to_json. */
static void test_access(void **state)
{
        (void)state;
        static const struct {
                const char *access; /* the "access" member, or NULL */
                corral_level server, echo, other;
        } cases[] = {
                {NULL, CORRAL_LEVEL_TRUSTED, CORRAL_LEVEL_TRUSTED, CORRAL_LEVEL_TRUSTED},
                {"{}", CORRAL_LEVEL_TRUSTED, CORRAL_LEVEL_TRUSTED, CORRAL_LEVEL_TRUSTED},
                {"{\"level\":\"public\"}", CORRAL_LEVEL_PUBLIC, CORRAL_LEVEL_PUBLIC,
                 CORRAL_LEVEL_PUBLIC},
                {"{\"level\":\"public\",\"tools\":{\"echo\":\"anchor\"}}", CORRAL_LEVEL_PUBLIC,
                 CORRAL_LEVEL_ANCHOR, CORRAL_LEVEL_PUBLIC},
                {"{\"tools\":{\"echo\":\"public\"}}", CORRAL_LEVEL_TRUSTED, CORRAL_LEVEL_PUBLIC,
                 CORRAL_LEVEL_TRUSTED},
        };
        static const char *const bad[] = {
                "[]", "{\"level\":\"root\"}", "{\"level\":2}", "{\"tools\":[]}",
                "{\"tools\":{\"echo\":\"admin\"}}",
        };

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *json =
                        cases[i].access ? xasprintf(M(OK_BODY ",\"access\":%s"), cases[i].access)
                                        : xstrdup(M(OK_BODY));
                manifest *m = parse_ok(json);
                assert_int_equal(m->access_level, cases[i].server);
                assert_int_equal(manifest_tool_level(m, "echo"), cases[i].echo);
                assert_int_equal(manifest_tool_level(m, "other"), cases[i].other);
                /* Round trip. */
                _cleanup_free_ char *out = manifest_format(m);
                manifest *m2 = parse_ok(out);
                assert_int_equal(m2->access_level, cases[i].server);
                assert_int_equal(manifest_tool_level(m2, "echo"), cases[i].echo);
                manifest_free(m2);
                manifest_free(m);
        }
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_free_ char *json = xasprintf(M(OK_BODY ",\"access\":%s"), bad[i]);
                manifest *m = NULL;
                corral_error err = {0};
                assert_true(manifest_parse(&m, json, strlen(json), &err) < 0);
                assert_non_null(strstr(err.msg, "access"));
                assert_null(m);
        }
}

static void test_malformed(void **state)
{
        (void)state;
        static const struct {
                const char *json;
                const char *msg;
        } bad[] = {
                {"", "not valid JSON"},
                {"not json", "not valid JSON"},
                {"{\"manifest_version\":1,", "not valid JSON"},
                {"[1,2]", "not a JSON object"},
                {"{}", "manifest_version"},
                {"{\"manifest_version\":2,\"name\":\"x\"}", "unsupported version 2"},
                {"{\"manifest_version\":\"1\"}", "manifest_version"},
                {"{\"manifest_version\":1," OK_BODY "}", "name: missing"},
                {"{\"manifest_version\":1,\"name\":\"Bad_Name\"," OK_BODY "}", "name:"},
                {"{\"manifest_version\":1,\"name\":\"a__b\"," OK_BODY "}", "name:"},
                {"{\"manifest_version\":1,\"name\":7," OK_BODY "}", "name: must be a string"},
                {M(BASE_RUNTIME "," BASE_TAIL), "source: missing"},
                {M("\"source\":[]," BASE_RUNTIME "," BASE_TAIL), "source: must be an object"},
                {M("\"source\":{\"kind\":\"local\"}," BASE_RUNTIME "," BASE_TAIL),
                 "source.spec: missing"},
                {M("\"source\":{\"spec\":\"\",\"kind\":\"local\"}," BASE_RUNTIME "," BASE_TAIL),
                 "source.spec: must not be empty"},
                {M("\"source\":{\"spec\":\"x\",\"kind\":\"ftp\"}," BASE_RUNTIME "," BASE_TAIL),
                 "source.kind"},
                {M("\"source\":{\"spec\":\"x\",\"kind\":\"npm\",\"resolved\":{\"version\":1}}"
                   "," BASE_RUNTIME "," BASE_TAIL),
                 "source.resolved.version: must be a string or null"},
                {M("\"source\":{\"spec\":\"x\",\"kind\":\"npm\",\"lock\":{}}," BASE_RUNTIME
                   "," BASE_TAIL),
                 "source.lock: must be an array"},
                {M("\"source\":{\"spec\":\"x\",\"kind\":\"npm\",\"lock\":[{\"name\":\"a\"}]}"
                   "," BASE_RUNTIME "," BASE_TAIL),
                 "source.lock[].version: missing"},
                {M("\"source\":{\"spec\":\"x\",\"kind\":\"npm\",\"lock\":[1]}," BASE_RUNTIME
                   "," BASE_TAIL),
                 "source.lock"},
                {M(BASE_SOURCE "," BASE_TAIL), "runtime: missing"},
                {M(BASE_SOURCE ",\"runtime\":{}," BASE_TAIL), "runtime.command: missing"},
                {M(BASE_SOURCE ",\"runtime\":{\"command\":[]}," BASE_TAIL),
                 "runtime.command: must not be empty"},
                {M(BASE_SOURCE ",\"runtime\":{\"command\":[\"\"]}," BASE_TAIL), "runtime.command"},
                {M(BASE_SOURCE ",\"runtime\":{\"command\":\"node x\"}," BASE_TAIL),
                 "runtime.command: must be an array of strings"},
                {M(BASE_SOURCE ",\"runtime\":{\"command\":[\"node\",3]}," BASE_TAIL),
                 "runtime.command: must be an array of strings"},
                {M(BASE_SOURCE ",\"runtime\":{\"command\":[\"n\"],\"backend\":\"vm\"}," BASE_TAIL),
                 "runtime.backend"},
                {M(BASE_SOURCE ",\"runtime\":{\"command\":[\"n\"],\"env\":[]}," BASE_TAIL),
                 "runtime.env: must be an object"},
                {M(BASE_SOURCE ",\"runtime\":{\"command\":[\"n\"],\"env\":{\"A\":1}}," BASE_TAIL),
                 "runtime.env: values must be strings"},
                {M(BASE_SOURCE
                   ",\"runtime\":{\"command\":[\"n\"],\"env\":{\"1A\":\"x\"}}," BASE_TAIL),
                 "runtime.env: keys"},
                {M(BASE_SOURCE
                   ",\"runtime\":{\"command\":[\"n\"],\"env\":{\"A=B\":\"x\"}}," BASE_TAIL),
                 "runtime.env: keys"},
                {M(BASE_SOURCE ",\"runtime\":{\"command\":[\"n\"],\"env\":{\"A\":\"1\",\"A\":\"2\"}"
                               "}," BASE_TAIL),
                 "runtime.env: duplicate key"},
                {M(BASE_SOURCE ",\"runtime\":{\"command\":[\"n\"],\"cwd\":\"/etc\"}," BASE_TAIL),
                 "runtime.cwd"},
                {M(BASE_SOURCE
                   ",\"runtime\":{\"command\":[\"n\"],\"cwd\":\"pkg/../..\"}," BASE_TAIL),
                 "runtime.cwd"},
                {M(OK_BODY ",\"sandbox\":{\"profile\":\"loose\"}"), "sandbox.profile"},
                {M(OK_BODY ",\"sandbox\":{\"network\":\"bridge\"}"), "sandbox.network"},
                {M(OK_BODY ",\"sandbox\":{\"memory_mb\":-1}"), "sandbox.memory_mb"},
                {M(OK_BODY ",\"sandbox\":{\"memory_mb\":0}"), "sandbox.memory_mb"},
                {M(OK_BODY ",\"sandbox\":{\"memory_mb\":1.5}"), "sandbox.memory_mb"},
                {M(OK_BODY ",\"sandbox\":{\"pids\":\"10\"}"), "sandbox.pids"},
                {M(OK_BODY ",\"sandbox\":{\"pids\":1e12}"), "sandbox.pids"},
                {M(OK_BODY ",\"sandbox\":{\"cpus\":0}"), "sandbox.cpus"},
                {M(OK_BODY ",\"sandbox\":{\"mounts\":\"/x\"}"), "sandbox.mounts"},
                {M(OK_BODY ",\"sandbox\":{\"run_as\":{\"uid\":0,\"gid\":0}}"),
                 "sandbox.run_as.uid"},
                {M(OK_BODY ",\"sandbox\":{\"run_as\":{\"uid\":1000}}"), "sandbox.run_as"},
                {M(OK_BODY ",\"sandbox\":{\"run_as\":7}"), "sandbox.run_as"},
                {M(OK_BODY ",\"sandbox\":true"), "sandbox: must be an object"},
                {M(OK_BODY ",\"restart\":\"sometimes\""), "restart"},
                {M(OK_BODY ",\"enabled\":\"yes\""), "enabled: must be true or false"},
                {M(OK_BODY ",\"owner\":5"), "owner: must be a string or null"},
                {M(BASE_SOURCE "," BASE_RUNTIME ",\"corral_version\":\"0.1.0\""),
                 "installed_at: missing"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                manifest *m = (manifest *)0x1;
                corral_error err = {0};
                int r = manifest_parse(&m, bad[i].json, strlen(bad[i].json), &err);
                if (r != -EX_DATAERR || !strstr(err.msg, bad[i].msg)) {
                        print_error("case %zu (%s): rc %d, message '%s', want '%s'\n", i,
                                    bad[i].json, r, err.msg, bad[i].msg);
                        fail();
                }
                assert_ptr_equal(m, (manifest *)0x1); /* not clobbered on failure */
                assert_int_equal(err.code, EX_DATAERR);
        }
}

static void test_caps(void **state)
{
        (void)state;
        /* 257 command entries */
        char *json = NULL;
        {
                size_t cap = 8192, len = 0;
                json = xmalloc(cap);
                len += (size_t)snprintf(json + len, cap - len,
                                        "{\"manifest_version\":1,\"name\":\"x\"," BASE_SOURCE
                                        ",\"runtime\":{\"command\":[");
                for (int i = 0; i < 257; i++)
                        len += (size_t)snprintf(json + len, cap - len, "%s\"a\"", i ? "," : "");
                snprintf(json + len, cap - len, "]}," BASE_TAIL "}");
        }
        manifest *m = NULL;
        corral_error err = {0};
        assert_int_equal(manifest_parse(&m, json, strlen(json), &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, "too many"));
        free(json);

        /* a string over the per-field cap */
        size_t n = 10000;
        char *big = xmalloc(n + 1);
        memset(big, 'a', n);
        big[n] = '\0';
        json = xasprintf("{\"manifest_version\":1,\"name\":\"x\",\"source\":{\"spec\":\"%s\","
                         "\"kind\":\"local\"}," BASE_RUNTIME "," BASE_TAIL "}",
                         big);
        corral_error_clear(&err);
        assert_int_equal(manifest_parse(&m, json, strlen(json), &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, "source.spec: too long"));
        free(json);
        free(big);

        /* the whole-text cap is checked before parsing */
        corral_error_clear(&err);
        assert_int_equal(manifest_parse(&m, "{}", MANIFEST_MAX_BYTES + 1, &err), -EX_DATAERR);

        /* not NUL-terminated input: only len bytes are read */
        const char *ok = M(OK_BODY) "garbage";
        m = NULL;
        assert_int_equal(manifest_parse(&m, ok, strlen(ok) - 7, &err), 0);
        manifest_free(m);
}

static void test_save_load(void **state)
{
        (void)state;
        char dir[] = "/tmp/corral-test-manifest.XXXXXX";
        assert_non_null(mkdtemp(dir));
        char *path = path_join(dir, "manifest.json");
        corral_error err = {0};
        manifest *m = NULL;

        assert_int_equal(manifest_load(&m, path, &err), -EX_NOINPUT);

        manifest *a = parse_ok(full);
        assert_int_equal(manifest_save(a, path, &err), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0644);
        assert_int_equal(manifest_load(&m, path, &err), 0);
        assert_true(manifest_same_runtime(a, m));
        manifest_free(m);

        assert_int_equal(write_file_atomic(path, "{oops", 5, 0644), 0);
        corral_error_clear(&err);
        assert_int_equal(manifest_load(&m, path, &err), -EX_DATAERR);

        char *sub = path_join(dir, "nodir/manifest.json");
        corral_error_clear(&err);
        assert_int_equal(manifest_save(a, sub, &err), -EX_CANTCREAT);
        free(sub);

        manifest_free(a);
        assert_int_equal(rm_rf(dir), 0);
        free(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_full),   cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_new_defaults), cmocka_unit_test(test_minimal_ok),
                cmocka_unit_test(test_malformed),    cmocka_unit_test(test_caps),
                cmocka_unit_test(test_save_load),    cmocka_unit_test(test_access),
                cmocka_unit_test(test_remote),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
