/* corral.json: loading and the sandbox policy defaults (issue 4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "corral/config.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"

typedef struct fixture {
        char dir[64];
        corral_paths paths;
} fixture;

static int setup(void **state)
{
        fixture *f = xcalloc(1, sizeof(*f));
        corral_error err = {0};

        snprintf(f->dir, sizeof(f->dir), "/tmp/corral-config-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        assert_int_equal(paths_init(&f->paths, f->dir, &err), 0);
        _cleanup_free_ char *etc = path_join(f->dir, "etc"); /* --root layout: DIR/etc/corral.json */
        assert_int_equal(mkdir_p(etc, 0755), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        fixture *f = *state;
        paths_done(&f->paths);
        (void)rm_rf(f->dir);
        free(f);
        return 0;
}

static void write_config(fixture *f, const char *text)
{
        assert_int_equal(write_file_atomic(f->paths.config, text, strlen(text), 0644), 0);
}

static void test_missing_file_is_empty(void **state)
{
        fixture *f = *state;
        corral_error err = {0};
        cJSON *c = (cJSON *)1;
        manifest *m = manifest_new("x");

        assert_int_equal(config_load(&f->paths, &c, &err), 0);
        assert_null(c);
        assert_int_equal(config_apply_sandbox(NULL, m, &err), 0);
        assert_string_equal(m->profile, "default");
        assert_int_equal(m->memory_mb, 512);
        manifest_free(m);
}

static void test_sandbox_defaults_applied(void **state)
{
        fixture *f = *state;
        corral_error err = {0};
        _cleanup_json_ cJSON *c = NULL;
        manifest *m = manifest_new("x");

        write_config(f, "{\"registry\": \"https://r.example/\", \"sandbox\": {\"profile\": "
                        "\"strict\", \"network\": \"host\", \"memory_mb\": 256, \"pids\": 64, "
                        "\"cpus\": 0.5, \"mounts\": [\"/srv/docs:/docs:ro\"]}}");
        assert_int_equal(config_load(&f->paths, &c, &err), 0);
        assert_int_equal(config_apply_sandbox(c, m, &err), 0);
        assert_string_equal(m->profile, "strict");
        assert_string_equal(m->network, "host");
        assert_int_equal(m->memory_mb, 256);
        assert_int_equal(m->pids, 64);
        assert_true(m->cpus == 0.5);
        assert_int_equal(strv_length(m->mounts), 1);
        assert_string_equal(m->mounts[0], "/srv/docs:/docs:ro");
        manifest_free(m);
}

static void test_bad_config(void **state)
{
        static const struct {
                const char *text;
                int load; /* expected config_load result */
                const char *msg;
        } cases[] = {
                {"not json", -EX_CONFIG, "not a JSON object"},
                {"[1,2]", -EX_CONFIG, "not a JSON object"},
                {"{\"sandbox\": 3}", 0, "sandbox must be an object"},
                {"{\"sandbox\": {\"profil\": \"none\"}}", 0, "unknown key sandbox.profil"},
                {"{\"sandbox\": {\"profile\": \"lax\"}}", 0, "sandbox.profile must be"},
                {"{\"sandbox\": {\"network\": \"bridge\"}}", 0, "sandbox.network must be"},
                {"{\"sandbox\": {\"memory_mb\": 0}}", 0, "sandbox.memory_mb must be"},
                {"{\"sandbox\": {\"memory_mb\": \"512\"}}", 0, "sandbox.memory_mb must be"},
                {"{\"sandbox\": {\"pids\": 2000000}}", 0, "sandbox.pids must be"},
                {"{\"sandbox\": {\"cpus\": 0}}", 0, "sandbox.cpus must be"},
                {"{\"sandbox\": {\"mounts\": [\"relative\"]}}", 0, "absolute paths"},
                {"{\"sandbox\": {\"mounts\": \"/a\"}}", 0, "sandbox.mounts must be"},
                {"{\"sandbox\": {\"mounts\": [\"/srv/docs:rw\"]}}", 0, "may only be read-only"},
        };
        fixture *f = *state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                corral_error err = {0};
                _cleanup_json_ cJSON *c = NULL;
                manifest *m = manifest_new("x");

                write_config(f, cases[i].text);
                int r = config_load(&f->paths, &c, &err);
                assert_int_equal(r, cases[i].load);
                if (r == 0) {
                        assert_int_equal(config_apply_sandbox(c, m, &err), -EX_CONFIG);
                        /* m is unchanged on failure */
                        assert_string_equal(m->profile, "default");
                        assert_int_equal(m->memory_mb, 512);
                }
                assert_int_equal(err.code, EX_CONFIG);
                if (!strstr(err.msg, cases[i].msg))
                        fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
                manifest_free(m);
        }
}

/* Each top-level key's shape as the module that reads it takes it. */
static void test_validate_shapes(void **state)
{
        (void)state;
        static const struct {
                const char *json;
                int want;
                const char *msg;
        } cases[] = {
                {"{\"smithery_api_key\": \"k\", \"smithery_registry\": \"http://127.0.0.1:1\"}",
                 0, NULL},
                {"{\"mcp_registries\": \"http://127.0.0.1:2\"}", 0, NULL},
                {"{\"mcp_registries\": [\"http://127.0.0.1:2\"], "
                 "\"registry_package_order\": [\"npm\", \"oci\"]}",
                 0, NULL},
                {"{\"smithery_api_key\": {}}", -EX_CONFIG, "smithery_api_key must be a string"},
                {"{\"mcp_registries\": 5}", -EX_CONFIG, "mcp_registries must be"},
                {"{\"registry_package_order\": \"npm\"}", -EX_CONFIG,
                 "registry_package_order must be an array"},
                {"{\"audit\": []}", -EX_CONFIG, "audit must be an object"},
                {"{\"audit\": {\"arguments\": true, \"arguments_max_bytes\": 1024, "
                 "\"retention_days\": 7, \"enabled\": true}}",
                 0, NULL},
                {"{\"audit\": {\"argument\": true}}", -EX_CONFIG, "unknown key audit.argument"},
                {"{\"audit\": {\"arguments\": 1}}", -EX_CONFIG,
                 "audit.arguments must be a boolean"},
                {"{\"audit\": {\"arguments_max_bytes\": 100}}", -EX_CONFIG,
                 "audit.arguments_max_bytes must be a number from 256 to 65536"},
                {"{\"nope\": 1}", -EX_CONFIG, "unknown key nope"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                cJSON *c = cJSON_Parse(cases[i].json);
                corral_error err = {0};
                int r = config_validate(c, &err);
                if (r != cases[i].want)
                        fail_msg("case %zu: %d (%s)", i, r, err.msg);
                if (cases[i].msg && !strstr(err.msg, cases[i].msg))
                        fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
                cJSON_Delete(c);
        }
}

/* The keys inside the objects: an unknown nested key and a wrong type are
 * refused naming the dotted key, from one table per object. */
static void test_validate_nested(void **state)
{
        (void)state;
        static const struct {
                const char *json;
                const char *msg; /* NULL: accepted */
        } cases[] = {
                {"{\"http\": {\"listen\": [\"127.0.0.1:0\", {\"addr\": \"[::1]:0\", "
                 "\"level\": \"trusted\", \"tls\": {\"cert\": \"/c\", \"key\": \"/k\"}}], "
                 "\"max_sessions\": 10, \"allowed_origins\": [\"https://a\"], \"auth\": "
                 "\"none\"}, \"metrics\": {\"listen\": \"127.0.0.1:0\", \"auth\": \"none\"}, "
                 "\"management\": {\"enabled\": false}, \"limits\": {\"max_result_bytes\": 10, "
                 "\"rules\": [{\"server\": \"s\", \"concurrent\": 1}]}, \"site\": "
                 "{\"socket_group\": \"root\", \"user_max_servers\": 3, \"user_sources\": "
                 "[\"npm\"]}, \"users\": {\"alice\": \"trusted\", \"bob\": {\"level\": "
                 "\"public\"}}}",
                 NULL},
                {"{\"http\": {\"max_sesions\": 10}}", "unknown key http.max_sesions"},
                {"{\"http\": {\"max_sessions\": \"10\"}}",
                 "http.max_sessions must be a number from 1 to 1e+06"},
                {"{\"http\": {\"tls\": {\"cert\": \"/c\", \"kye\": \"/k\"}}}",
                 "unknown key http.tls.kye"},
                {"{\"http\": {\"listen\": [{\"addr\": \"x\", \"levle\": \"anchor\"}]}}",
                 "unknown key http.listen[0].levle"},
                {"{\"http\": {\"listen\": [5]}}", "http.listen[0] must be"},
                {"{\"metrics\": {\"listen\": \"x\", \"port\": 1}}", "unknown key metrics.port"},
                {"{\"metrics\": {\"listen\": 9464}}", "metrics.listen must be a string"},
                {"{\"management\": {\"enable\": true}}", "unknown key management.enable"},
                {"{\"management\": {\"enabled\": \"yes\"}}",
                 "management.enabled must be a boolean"},
                {"{\"limits\": {\"rules\": [{\"server\": \"s\", \"cals\": 1}]}}",
                 "unknown key limits.rules[0].cals"},
                {"{\"limits\": {\"rules\": {}}}", "limits.rules must be an array of objects"},
                {"{\"limits\": {\"max_result\": 1}}", "unknown key limits.max_result"},
                {"{\"site\": {\"user_install\": true}}", "unknown key site.user_install"},
                {"{\"site\": {\"user_installs\": 1}}", "site.user_installs must be a boolean"},
                {"{\"site\": {\"user_sources\": [1]}}",
                 "site.user_sources must be a string or an array of strings"},
                {"{\"audit\": {\"retention\": 1}}", "unknown key audit.retention"},
                {"{\"users\": {\"alice\": {\"lvl\": \"public\"}}}",
                 "unknown key users.alice.lvl"},
                {"{\"users\": {\"alice\": 3}}", "users.alice must be a level"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                cJSON *c = cJSON_Parse(cases[i].json);
                corral_error err = {0};
                int r;
                assert_non_null(c);
                r = config_validate(c, &err);
                if (!cases[i].msg && r != 0)
                        fail_msg("case %zu: refused: %s", i, err.msg);
                if (cases[i].msg && (r != -EX_CONFIG || !strstr(err.msg, cases[i].msg)))
                        fail_msg("case %zu: %d '%s' lacks '%s'", i, r, err.msg, cases[i].msg);
                cJSON_Delete(c);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_missing_file_is_empty, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sandbox_defaults_applied, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
                cmocka_unit_test(test_validate_shapes),
                cmocka_unit_test(test_validate_nested),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
