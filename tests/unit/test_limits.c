/* Rate limits and concurrency caps (src/policy/limits.c): exact counts on a
 * clock the test drives, per user, per server and per tool; the config and
 * database row checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/limits.h"
#include "corral/macro.h"

static limiter *with(const char *json)
{
        _cleanup_json_ cJSON *config = cJSON_Parse(json);
        corral_error err = {0};
        limiter *l = limiter_new();
        limit_set set;

        assert_non_null(config);
        if (limit_set_from_config(config, &set, &err) < 0)
                fail_msg("%s", err.msg);
        limiter_set_rules(l, &set);
        return l;
}

/* Admits a call; on refusal checks retry and the reason. */
static bool admit(limiter *l, uint64_t now, const char *user, const char *server,
                  const char *tool, limit_hold **hold, uint64_t *retry, const char **reason)
{
        limit_hold *h = NULL;
        uint64_t r = 0;
        cJSON *lim = NULL;
        static char why[32];
        bool ok = limiter_admit(l, now, user, server, tool, &h, &r, &lim);

        if (ok) {
                assert_null(lim);
                if (hold)
                        *hold = h;
                else
                        limiter_release(l, h);
        } else {
                assert_null(h);
                assert_true(r > 0);
                assert_non_null(lim);
                snprintf(why, sizeof(why), "%s", json_get_string(lim, "reason"));
                cJSON_Delete(lim);
                if (reason)
                        *reason = why;
        }
        if (retry)
                *retry = ok ? 0 : r;
        return ok;
}

static void test_bucket_counts(void **state)
{
        /* 3 calls per 3 s: a token every second. */
        limiter *l = with("{\"limits\":{\"rules\":[{\"server\":\"echo\",\"calls\":3,"
                          "\"period_s\":3}]}}");
        uint64_t retry;
        const char *why;

        for (int i = 0; i < 3; i++)
                assert_true(admit(l, 1000, "alice", "echo", "echo", NULL, NULL, NULL));
        assert_false(admit(l, 1000, "alice", "echo", "echo", NULL, &retry, &why));
        assert_int_equal(retry, 1000);
        assert_string_equal(why, "rate");
        /* The refusal took nothing: 999 ms later one ms is still missing. */
        assert_false(admit(l, 1999, "alice", "echo", "other", NULL, &retry, NULL));
        assert_int_equal(retry, 1);
        /* Refilled: exactly one more call. */
        assert_true(admit(l, 2000, "alice", "echo", "echo", NULL, NULL, NULL));
        assert_false(admit(l, 2000, "alice", "echo", "echo", NULL, NULL, NULL));
        /* Each user has buckets of their own; other servers are not limited. */
        for (int i = 0; i < 3; i++)
                assert_true(admit(l, 2000, "bob", "echo", "echo", NULL, NULL, NULL));
        assert_false(admit(l, 2000, "bob", "echo", "echo", NULL, NULL, NULL));
        for (int i = 0; i < 3; i++) /* anonymous: one user "" */
                assert_true(admit(l, 2000, NULL, "echo", "x", NULL, NULL, NULL));
        assert_false(admit(l, 2000, NULL, "echo", "x", NULL, NULL, NULL));
        for (int i = 0; i < 10; i++)
                assert_true(admit(l, 2000, "alice", "fs", "read", NULL, NULL, NULL));
        /* A long idle time refills to the cap, not past it. */
        for (int i = 0; i < 3; i++)
                assert_true(admit(l, 1000000, "alice", "echo", "echo", NULL, NULL, NULL));
        assert_false(admit(l, 1000000, "alice", "echo", "echo", NULL, NULL, NULL));
        limiter_free(l);
}

static void test_per_tool_and_users(void **state)
{
        /* Per tool for everyone; the server as a whole only for alice. */
        limiter *l = with("{\"limits\":{\"rules\":["
                          "{\"server\":\"s*\",\"tool\":\"slow*\",\"calls\":1,\"period_s\":60},"
                          "{\"user\":\"alice\",\"server\":\"srv\",\"calls\":2,\"period_s\":60}]}}");
        uint64_t retry;

        assert_true(admit(l, 0, "bob", "srv", "slow_a", NULL, NULL, NULL));
        assert_false(admit(l, 0, "bob", "srv", "slow_a", NULL, &retry, NULL));
        assert_int_equal(retry, 60000);
        assert_true(admit(l, 0, "bob", "srv", "slow_b", NULL, NULL, NULL)); /* its own bucket */
        for (int i = 0; i < 5; i++)
                assert_true(admit(l, 0, "bob", "srv", "fast", NULL, NULL, NULL));
        /* alice: 2 calls on srv, whichever tools. */
        assert_true(admit(l, 0, "alice", "srv", "fast", NULL, NULL, NULL));
        assert_true(admit(l, 0, "alice", "srv", "slow_a", NULL, NULL, NULL));
        assert_false(admit(l, 0, "alice", "srv", "fast", NULL, NULL, NULL));
        /* A refusal by one rule takes no token from the other. */
        assert_false(admit(l, 0, "alice", "srv", "slow_b", NULL, NULL, NULL));
        assert_true(admit(l, 60000, "alice", "srv", "slow_b", NULL, NULL, NULL));
        limiter_free(l);
}

static void test_concurrency(void **state)
{
        limiter *l = with("{\"limits\":{\"rules\":[{\"server\":\"*\",\"concurrent\":2}]}}");
        limit_hold *a = NULL, *b = NULL, *c = NULL;
        const char *why;
        uint64_t retry;

        assert_true(admit(l, 0, "u", "s", "t", &a, NULL, NULL));
        assert_true(admit(l, 0, "u", "s", "t2", &b, NULL, NULL));
        assert_non_null(a);
        assert_false(admit(l, 0, "u", "s", "t", NULL, &retry, &why));
        assert_string_equal(why, "concurrency");
        assert_int_equal(retry, LIMITS_CONCURRENT_RETRY_MS);
        assert_true(admit(l, 0, "v", "s", "t", &c, NULL, NULL)); /* another user */
        limiter_release(l, a);
        assert_true(admit(l, 0, "u", "s", "t", &a, NULL, NULL));
        limiter_release(l, a);
        limiter_release(l, b);
        limiter_release(l, c);
        limiter_release(l, NULL);
        limiter_free(l);
}

static void test_reload_keeps_buckets(void **state)
{
        const char *json = "{\"limits\":{\"rules\":[{\"server\":\"e\",\"calls\":1,"
                           "\"period_s\":100}]}}";
        _cleanup_json_ cJSON *config = cJSON_Parse(json);
        limiter *l = with(json);
        corral_error err = {0};
        limit_set set;

        assert_true(admit(l, 0, "u", "e", "t", NULL, NULL, NULL));
        assert_false(admit(l, 0, "u", "e", "t", NULL, NULL, NULL));
        /* The same rule again (a reload): still empty. */
        assert_int_equal(limit_set_from_config(config, &set, &err), 0);
        limiter_set_rules(l, &set);
        assert_false(admit(l, 1, "u", "e", "t", NULL, NULL, NULL));
        /* No rules: everything goes. */
        assert_int_equal(limit_set_from_config(NULL, &set, &err), 0);
        assert_int_equal(set.max_result_bytes, LIMITS_DEFAULT_MAX_RESULT);
        limiter_set_rules(l, &set);
        assert_true(admit(l, 1, "u", "e", "t", NULL, NULL, NULL));
        limiter_free(l);
}

static void test_many_buckets(void **state)
{
        /* More callers than buckets: the least recently used idle ones go,
         * a bucket with a call in flight stays. */
        limiter *l = with("{\"limits\":{\"rules\":[{\"server\":\"*\",\"tool\":\"*\","
                          "\"calls\":1,\"period_s\":1000,\"concurrent\":1}]}}");
        limit_hold *held = NULL;
        char tool[32];

        assert_true(admit(l, 0, "u", "s", "keep", &held, NULL, NULL));
        for (int i = 0; i < LIMITS_MAX_BUCKETS + 10; i++) {
                snprintf(tool, sizeof(tool), "t%d", i);
                assert_true(admit(l, (uint64_t)i + 1, "u", "s", tool, NULL, NULL, NULL));
        }
        assert_false(admit(l, 100000, "u", "s", "keep", NULL, NULL, NULL));
        limiter_release(l, held);
        limiter_free(l);
}

static void test_bad_config(void **state)
{
        static const char *const bad[] = {
                "{\"limits\":[]}",
                "{\"limits\":{\"nope\":1}}",
                "{\"limits\":{\"max_result_bytes\":-1}}",
                "{\"limits\":{\"rules\":{}}}",
                "{\"limits\":{\"rules\":[{\"calls\":1,\"period_s\":1}]}}",
                "{\"limits\":{\"rules\":[{\"server\":\"\",\"calls\":1,\"period_s\":1}]}}",
                "{\"limits\":{\"rules\":[{\"server\":\"s\"}]}}",
                "{\"limits\":{\"rules\":[{\"server\":\"s\",\"calls\":1}]}}",
                "{\"limits\":{\"rules\":[{\"server\":\"s\",\"calls\":1.5,\"period_s\":1}]}}",
                "{\"limits\":{\"rules\":[{\"server\":\"s\",\"calls\":1,\"period_s\":0}]}}",
                "{\"limits\":{\"rules\":[{\"server\":\"s\",\"concurrent\":-1}]}}",
                "{\"limits\":{\"rules\":[{\"server\":\"s\",\"concurrent\":1,\"x\":1}]}}",
                "{\"limits\":{\"rules\":[{\"server\":1,\"concurrent\":1}]}}",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_json_ cJSON *config = cJSON_Parse(bad[i]);
                corral_error err = {0};
                limit_set set;
                assert_non_null(config);
                if (limit_set_from_config(config, &set, &err) != -EX_CONFIG)
                        fail_msg("accepted: %s", bad[i]);
                assert_non_null(strstr(err.msg, "limits"));
        }
        {
                /* A database row out of range is refused, naming it. */
                _cleanup_json_ cJSON *rows = cJSON_Parse(
                        "[{\"user\":\"*\",\"server\":\"s\",\"tool\":\"\",\"calls\":5,"
                        "\"period_ms\":0,\"concurrent\":0}]");
                corral_error err = {0};
                limit_set set = {0};
                assert_int_equal(limit_set_add_rows(&set, rows, &err), -EX_DATAERR);
                assert_non_null(strstr(err.msg, "s/*"));
                limit_set_done(&set);
        }
}

/* A state database that cannot be read: corral.json's rules apply, the
 * database rules in force stay, and the failure is said (never silent). */
static void test_load_bad_database(void **state)
{
        char dir[] = "/tmp/corral-limits-XXXXXX";
        _cleanup_free_ char *path = NULL, *cmd = NULL;
        _cleanup_json_ cJSON *config = cJSON_Parse(
                "{\"limits\":{\"rules\":[{\"server\":\"a\",\"concurrent\":1}]}}");
        corral_error err = {0};
        limiter *l = limiter_new();
        limit_set set = {0};
        _cleanup_json_ cJSON *rows = cJSON_Parse(
                "[{\"user\":\"*\",\"server\":\"b\",\"tool\":\"\",\"calls\":1,"
                "\"period_ms\":1000,\"concurrent\":0}]");
        _cleanup_json_ cJSON *j = NULL;
        FILE *f;

        assert_non_null(mkdtemp(dir));
        path = xasprintf("%s/state.db", dir);
        /* No file yet: no database rules, no failure. */
        assert_int_equal(limiter_load(l, config, path, &err), 0);
        /* The rules a database gave before it broke. */
        assert_int_equal(limit_set_add_rows(&set, rows, &err), 0);
        limiter_set_rules(l, &set);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("this is not an SQLite database, not even close to one; corrupt\n", f);
        fclose(f);
        assert_int_equal(limiter_load(l, config, path, &err), 1);
        assert_non_null(strstr(err.msg, "were not read"));
        j = limiter_rules_json(l);
        assert_int_equal(cJSON_GetArraySize(j), 2);
        assert_string_equal(json_get_string(cJSON_GetArrayItem(j, 0), "server"), "a");
        assert_string_equal(json_get_string(cJSON_GetArrayItem(j, 1), "source"), "database");
        /* A bad corral.json "limits" changes nothing. */
        {
                _cleanup_json_ cJSON *bad = cJSON_Parse("{\"limits\":{\"x\":1}}");
                corral_error_clear(&err);
                assert_int_equal(limiter_load(l, bad, NULL, &err), -EX_CONFIG);
                _cleanup_json_ cJSON *same = limiter_rules_json(l);
                assert_int_equal(cJSON_GetArraySize(same), 2);
        }
        limiter_free(l);
        cmd = xasprintf("rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bucket_counts),
                cmocka_unit_test(test_per_tool_and_users),
                cmocka_unit_test(test_concurrency),
                cmocka_unit_test(test_reload_keeps_buckets),
                cmocka_unit_test(test_many_buckets),
                cmocka_unit_test(test_bad_config),
                cmocka_unit_test(test_load_bad_database),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
