/* Tool allow/deny lists (src/policy/tools.c) and the site policy for users'
 * installs (src/users/users.c), table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/policy.h"
#include "corral/users.h"

static tool_policy load(const char *json)
{
        _cleanup_json_ cJSON *config = json ? cJSON_Parse(json) : NULL;
        corral_error err = {0};
        tool_policy p;

        if (json)
                assert_non_null(config);
        assert_int_equal(tool_policy_load(config, &p, &err), 0);
        return p;
}

static void test_tool_lists(void **state)
{
        static const struct {
                const char *config, *user;
                bool admin;
                const char *server, *tool;
                bool want;
        } cases[] = {
                /* No lists: the default denylist for non-admins only. */
                {NULL, "alice", false, "fs", "read_file", true},
                {NULL, "alice", false, "fs", "write_file", false},
                {NULL, "alice", false, "sh", "exec", false},
                {NULL, "alice", false, "sh", "run_command", false},
                {NULL, "alice", true, "fs", "write_file", true},
                {NULL, NULL, false, "mem", "delete_entities", false},
                /* An allow pattern lifts the default denylist. */
                {"{\"tools\":{\"allow\":[\"fs__*\"]}}", "alice", false, "fs", "write_file", true},
                /* ... and is a whitelist. */
                {"{\"tools\":{\"allow\":[\"fs__*\"]}}", "alice", false, "mem", "read_graph", false},
                {"{\"tools\":{\"allow\":[\"fs__*\"]}}", "root", true, "mem", "read_graph", false},
                /* Deny wins, for admins too. */
                {"{\"tools\":{\"allow\":[\"*\"],\"deny\":[\"fs__write_*\"]}}", "root", true, "fs",
                 "write_file", false},
                {"{\"tools\":{\"allow\":[\"*\"],\"deny\":[\"fs__write_*\"]}}", "alice", false, "fs",
                 "read_file", true},
                /* Per user. */
                {"{\"tools\":{\"users\":{\"bob\":{\"deny\":[\"mem__*\"]}}}}", "bob", false, "mem",
                 "read_graph", false},
                {"{\"tools\":{\"users\":{\"bob\":{\"deny\":[\"mem__*\"]}}}}", "alice", false, "mem",
                 "read_graph", true},
                {"{\"tools\":{\"users\":{\"bob\":{\"allow\":[\"fs__write_file\"]}}}}", "bob", false,
                 "fs", "write_file", true},
                {"{\"tools\":{\"users\":{\"bob\":{\"allow\":[\"fs__write_file\"]}}}}", "alice",
                 false, "fs", "write_file", false},
                {"{\"tools\":{\"users\":{\"bob\":{\"allow\":[\"fs__write_file\"],\"deny\":[\"fs__"
                 "*\"]}}}}",
                 "bob", false, "fs", "write_file", false},
                /* The default denylist turned off. */
                {"{\"tools\":{\"default_denylist\":false}}", "alice", false, "fs", "write_file",
                 true},
                /* Globs: a tool name with "__" and brackets. */
                {"{\"tools\":{\"deny\":[\"s__a__*\"]}}", "root", true, "s", "a__b", false},
                {"{\"tools\":{\"deny\":[\"s__[ab]\"]}}", "root", true, "s", "c", true},
        };
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                tool_policy p = load(cases[i].config);
                bool got = tool_policy_allows(&p, cases[i].user, cases[i].admin, cases[i].server,
                                              cases[i].tool);
                if (got != cases[i].want)
                        fail_msg("case %zu (%s, %s %s__%s): got %d", i,
                                 cases[i].config ? cases[i].config : "-",
                                 cases[i].user ? cases[i].user : "-", cases[i].server,
                                 cases[i].tool, got);
                tool_policy_done(&p);
        }
}

static void test_tool_lists_bad_config(void **state)
{
        static const char *const bad[] = {
                "{\"tools\":[]}",
                "{\"tools\":{\"alow\":[]}}",
                "{\"tools\":{\"deny\":\"*\"}}",
                "{\"tools\":{\"deny\":[\"\"]}}",
                "{\"tools\":{\"deny\":[1]}}",
                "{\"tools\":{\"default_denylist\":1}}",
                "{\"tools\":{\"users\":{\"a\":{\"deny\":[\"x\"],\"level\":1}}}}",
                "{\"tools\":{\"users\":[]}}",
        };
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_json_ cJSON *config = cJSON_Parse(bad[i]);
                corral_error err = {0};
                tool_policy p = {0};
                assert_non_null(config);
                if (tool_policy_load(config, &p, &err) != -EX_CONFIG)
                        fail_msg("accepted %s", bad[i]);
                assert_non_null(strstr(err.msg, "tools"));
        }
}

static void test_site_policy(void **state)
{
        _cleanup_json_ cJSON *bad = cJSON_Parse("{\"site\":{\"user_sandbox\":[]}}");
        _cleanup_json_ cJSON *loose =
                cJSON_Parse("{\"site\":{\"user_profiles\":[\"none\"],\"user_network\":[\"host\"],"
                            "\"user_sources\":[\"local\"],\"user_max_servers\":1}}");
        corral_error err = {0};
        users_site site;
        source_spec spec = {0};
        manifest *m = manifest_new("x");
        (void)state;

        assert_int_equal(users_site_load(bad, &site, &err), -EX_CONFIG);
        corral_error_clear(&err);
        /* The defaults. */
        assert_int_equal(users_site_load(NULL, &site, &err), 0);
        assert_string_equal(site.admin_group, "corral-admin");
        assert_int_equal(spec_parse(&spec, "./dir", false, &err), 0);
        corral_error_clear(&err);
        assert_int_equal(users_check_spec(&site, &spec, NULL, NULL, &err), -EX_NOPERM);
        spec_done(&spec);
        assert_int_equal(spec_parse(&spec, "npm:foo", false, &err), 0);
        corral_error_clear(&err);
        assert_int_equal(users_check_spec(&site, &spec, NULL, NULL, &err), 0);
        char *cmd[] = {"node", "../../etc/passwd", NULL};
        corral_error_clear(&err);
        assert_int_equal(users_check_spec(&site, &spec, cmd, NULL, &err), -EX_NOPERM);
        spec_done(&spec);
        corral_error_clear(&err);
        assert_int_equal(users_check_manifest(&site, m, 0, 0, &err), 0);
        free(m->profile);
        m->profile = xstrdup("none");
        corral_error_clear(&err);
        assert_int_equal(users_check_manifest(&site, m, 0, 0, &err), -EX_NOPERM);
        free(m->profile);
        m->profile = xstrdup("default");
        corral_error_clear(&err);
        assert_int_equal(users_check_manifest(&site, m, 0, 8000, &err), -EX_NOPERM);
        users_site_done(&site);

        assert_int_equal(users_site_load(loose, &site, &err), 0);
        assert_int_equal(spec_parse(&spec, "./dir", false, &err), 0);
        corral_error_clear(&err);
        assert_int_equal(users_check_spec(&site, &spec, NULL, NULL, &err), 0);
        spec_done(&spec);
        free(m->profile);
        m->profile = xstrdup("none");
        corral_error_clear(&err);
        assert_int_equal(users_check_manifest(&site, m, 0, 0, &err), 0);
        corral_error_clear(&err);
        assert_int_equal(users_check_manifest(&site, m, 1, 0, &err), -EX_NOPERM);
        users_site_done(&site);
        manifest_free(m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tool_lists),
                cmocka_unit_test(test_tool_lists_bad_config),
                cmocka_unit_test(test_site_policy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
