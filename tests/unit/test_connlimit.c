/* Connection limits: per-socket and per-uid caps, the admin share, and the
 * corral.json keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "corral/jsonutil.h"
#include "gateway/connlimit.h"

static void test_caps_and_admin_share(void **state)
{
        connlimit_config c = {.max_conns = 10, .max_per_uid = 4, .admin_reserved = 3};
        connlimit *cl = connlimit_new("test", &c);
        int64_t user = geteuid() == 1000 ? 1001 : 1000;

        for (int i = 0; i < 4; i++)
                assert_true(connlimit_admit(cl, user, 0));
        assert_false(connlimit_admit(cl, user, 0)); /* per-uid */
        for (int i = 0; i < 3; i++)
                assert_true(connlimit_admit(cl, user + 1, 0));
        /* 7 open: the last 3 are for admins only. */
        assert_false(connlimit_admit(cl, user + 2, 0));
        assert_false(connlimit_admit(cl, -1, 0));
        for (int i = 0; i < 3; i++)
                assert_true(connlimit_admit(cl, 0, 0));
        assert_false(connlimit_admit(cl, 0, 0)); /* total */
        assert_int_equal(connlimit_active(cl), 10);
        assert_int_equal(connlimit_refused(cl), 4);
        connlimit_release(cl, user);
        connlimit_release(cl, 0);
        assert_true(connlimit_admit(cl, 0, 0));
        assert_false(connlimit_admit(cl, user + 2, 0));
        connlimit_release(cl, 0);
        connlimit_release(cl, user);
        assert_false(connlimit_admit(cl, user + 2, 0)); /* 7 open */
        connlimit_release(cl, user);
        assert_true(connlimit_admit(cl, user + 2, 0));
        cl = connlimit_free(cl);
}

static void test_config(void **state)
{
        connlimit_config g, c;
        corral_error err = {0};
        _cleanup_json_ cJSON *ok = cJSON_Parse(
                "{\"gateway\":{\"max_connections\":50,\"max_connections_per_user\":5,"
                "\"admin_reserved_connections\":10,\"idle_timeout_s\":1.5,"
                "\"max_control_connections\":8}}");

        assert_int_equal(connlimit_config_load(NULL, &g, &c, &err), 0);
        assert_int_equal(g.max_conns, connlimit_defaults(false).max_conns);
        assert_int_equal(connlimit_config_load(ok, &g, &c, &err), 0);
        assert_int_equal(g.max_conns, 50);
        assert_int_equal(g.max_per_uid, 5);
        assert_int_equal(g.admin_reserved, 10);
        assert_int_equal(g.idle_ms, 1500);
        assert_int_equal(c.idle_ms, 1500);
        assert_int_equal(c.max_conns, 8);
        assert_true(c.admin_reserved < c.max_conns);

        static const char *const bad[] = {
                "{\"gateway\":1}",
                "{\"gateway\":{\"max_connections\":0}}",
                "{\"gateway\":{\"max_connections\":\"9\"}}",
                "{\"gateway\":{\"max_connections\":10,\"admin_reserved_connections\":10}}",
                "{\"gateway\":{\"idle_timeout_s\":-1}}",
                "{\"gateway\":{\"max_connections\":1.5}}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                _cleanup_json_ cJSON *j = cJSON_Parse(bad[i]);
                corral_error e = {0};
                assert_int_equal(connlimit_config_load(j, &g, &c, &e), -EX_CONFIG);
                corral_error_clear(&e);
        }
        corral_error_clear(&err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_caps_and_admin_share),
                cmocka_unit_test(test_config),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
