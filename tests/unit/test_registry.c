/* Inputs of server.json documents (resolvers/registry/inputs.c), MCPB
 * substitution (resolvers/mcpb/mcpb.c), the mcpb: spec and Smithery
 * stdioFunctions read without running them (resolvers/registry/smithery_fn.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "corral/jsonutil.h"
#include "corral/mcpb.h"
#include "corral/registry.h"
#include "corral/spec.h"

static void test_input_values(void **state)
{
        (void)state;
        static const struct {
                const char *input; /* an Input object */
                const char *key;
                const char *set;   /* --set entry or NULL */
                int want;          /* registry_input_value()'s return */
                const char *value; /* when 1 */
        } cases[] = {
                {"{\"default\":\"info\"}", "LOG", NULL, 1, "info"},
                {"{\"default\":\"info\"}", "LOG", "LOG=debug", 1, "debug"},
                {"{\"isRequired\":true}", "TOKEN", NULL, 0, NULL},
                {"{}", "OPT", NULL, 0, NULL},
                {"{\"choices\":[\"a\",\"b\"]}", "C", "C=z", -EX_USAGE, NULL},
                {"{\"choices\":[\"a\",\"b\"]}", "C", "C=b", 1, "b"},
                {"{\"format\":\"number\"}", "N", "N=12x", -EX_USAGE, NULL},
                {"{\"format\":\"number\"}", "N", "N=12.5", 1, "12.5"},
                {"{\"format\":\"boolean\"}", "B", "B=yes", -EX_USAGE, NULL},
                {"{\"default\":8080}", "PORT", NULL, 1, "8080"},
                /* A fixed value: only its variables are asked. */
                {"{\"value\":\"stdio\"}", "mode", NULL, 1, "stdio"},
                {"{\"value\":\"--dir={d}\",\"variables\":{\"d\":{\"default\":\"/x\"}}}", "a", NULL, 1,
                 "--dir=/x"},
                {"{\"value\":\"{u}:{p}\",\"variables\":{\"u\":{},\"p\":{\"isRequired\":true}}}", "a",
                 "u=me", 0, NULL},
                {"{\"value\":\"{unknown}\"}", "a", NULL, 1, "{unknown}"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                char *sets[] = {(char *)cases[i].set, NULL};
                install_options opt = {.sets = cases[i].set ? sets : NULL};
                registry_inputs in;
                corral_error err = {0};
                char *v = NULL;
                cJSON *input = cJSON_Parse(cases[i].input);

                assert_non_null(input);
                assert_int_equal(registry_inputs_init(&in, &opt, &err), 0);
                int r = registry_input_value(&in, cases[i].key, input, &v, &err);
                if (r != cases[i].want)
                        fail_msg("case %zu: %d (%s), wanted %d", i, r, err.msg, cases[i].want);
                if (r == 1)
                        assert_string_equal(v, cases[i].value);
                free(v);
                cJSON_Delete(input);
                registry_inputs_done(&in);
        }
}

static void test_inputs_finish(void **state)
{
        (void)state;
        char *sets[] = {"TOKEN=x", "TYPO=y", NULL};
        install_options opt = {.sets = sets};
        registry_inputs in;
        corral_error err = {0};
        char *v = NULL;
        cJSON *req = cJSON_Parse("{\"isRequired\":true}");

        assert_int_equal(registry_inputs_init(&in, &opt, &err), 0);
        assert_int_equal(registry_input_value(&in, "TOKEN", req, &v, &err), 1);
        free(v);
        assert_int_equal(registry_input_value(&in, "A", req, &v, &err), 0);
        assert_int_equal(registry_input_value(&in, "B", req, &v, &err), 0);
        assert_int_equal(registry_inputs_finish(&in, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "missing required values: A, B"));
        registry_inputs_done(&in);

        /* Nothing missing: the unknown --set key is named. */
        corral_error_clear(&err);
        assert_int_equal(registry_inputs_init(&in, &opt, &err), 0);
        assert_int_equal(registry_input_value(&in, "TOKEN", req, &v, &err), 1);
        free(v);
        assert_int_equal(registry_inputs_finish(&in, &err), -EX_USAGE);
        if (!strstr(err.msg, "--set TYPO"))
                fail_msg("%s", err.msg);
        assert_non_null(strstr(err.msg, "it takes: TOKEN"));
        registry_inputs_done(&in);
        cJSON_Delete(req);
}

static void test_args(void **state)
{
        (void)state;
        char *sets[] = {"port=9000", "verbose=true", "db=main", NULL};
        install_options opt = {.sets = sets};
        registry_inputs in;
        corral_error err = {0};
        char **argv = NULL;
        cJSON *args = cJSON_Parse(
                "[{\"type\":\"positional\",\"value\":\"serve\"},"
                "{\"type\":\"named\",\"name\":\"--port\"},"
                "{\"type\":\"named\",\"name\":\"--verbose\",\"format\":\"boolean\"},"
                "{\"type\":\"named\",\"name\":\"--quiet\",\"format\":\"boolean\"},"
                "{\"type\":\"named\",\"name\":\"--host\",\"default\":\"localhost\"},"
                "{\"type\":\"positional\",\"valueHint\":\"db\",\"isRequired\":true}]");

        assert_int_equal(registry_inputs_init(&in, &opt, &err), 0);
        assert_int_equal(registry_args_append(&in, args, &argv, &err), 0);
        assert_int_equal(registry_inputs_finish(&in, &err), 0);
        const char *want[] = {"serve", "--port", "9000", "--verbose", "--host", "localhost", "main"};
        assert_int_equal(strv_length(argv), ARRAY_SIZE(want));
        for (size_t i = 0; i < ARRAY_SIZE(want); i++)
                assert_string_equal(argv[i], want[i]);
        strv_free(argv);
        registry_inputs_done(&in);
        cJSON_Delete(args);

        /* A secret argument would be in the process list: refused. */
        argv = NULL;
        args = cJSON_Parse("[{\"type\":\"named\",\"name\":\"--key\",\"isSecret\":true}]");
        assert_int_equal(registry_inputs_init(&in, &opt, &err), 0);
        assert_int_equal(registry_args_append(&in, args, &argv, &err), -EX_USAGE);
        strv_free(argv);
        registry_inputs_done(&in);
        cJSON_Delete(args);

        /* With somewhere to keep them: the value in secret_args, a ${REF}
         * in argv; a plain value's "$" doubled for the start-time expansion. */
        char *sets2[] = {"key=hunter2", "port=a$b${X}", NULL};
        install_options opt2 = {.sets = sets2};
        cJSON *secrets = cJSON_CreateObject();
        argv = NULL;
        args = cJSON_Parse("[{\"type\":\"named\",\"name\":\"--key\",\"isSecret\":true},"
                           "{\"type\":\"named\",\"name\":\"--port\"},"
                           "{\"type\":\"positional\",\"valueHint\":\"key\",\"value\":\"x\","
                           "\"isSecret\":true}]");
        assert_int_equal(registry_inputs_init(&in, &opt2, &err), 0);
        in.secret_args = secrets;
        assert_int_equal(registry_args_append(&in, args, &argv, &err), 0);
        assert_int_equal(registry_inputs_finish(&in, &err), 0);
        const char *want2[] = {"--key", "${CORRAL_ARG_KEY}", "--port", "a$$b$${X}",
                               "${CORRAL_ARG_KEY_2}"};
        assert_int_equal(strv_length(argv), ARRAY_SIZE(want2));
        for (size_t i = 0; i < ARRAY_SIZE(want2); i++)
                assert_string_equal(argv[i], want2[i]);
        assert_string_equal(json_get_string(secrets, "CORRAL_ARG_KEY"), "hunter2");
        assert_string_equal(json_get_string(secrets, "CORRAL_ARG_KEY_2"), "x");
        strv_free(argv);
        registry_inputs_done(&in);
        cJSON_Delete(args);
        cJSON_Delete(secrets);
}

static void test_npm_runtime_args(void **state)
{
        (void)state;
        corral_error err = {0};
        char **flags = NULL;
        char *ok[] = {"-y", "--max-old-space-size", "256", "--node-options",
                      "--enable-source-maps --stack-size=900", "--no-warnings", NULL};
        assert_int_equal(registry_npm_runtime_args(ok, "npx", &flags, &err), 0);
        const char *want[] = {"--max-old-space-size=256", "--enable-source-maps",
                              "--stack-size=900", "--no-warnings"};
        assert_int_equal(strv_length(flags), ARRAY_SIZE(want));
        for (size_t i = 0; i < ARRAY_SIZE(want); i++)
                assert_string_equal(flags[i], want[i]);
        strv_free(flags);

        /* Options that run other code, npx's --package: refused, all named. */
        char *bad[] = {"--require", "./x.js", "--inspect", "--package=evil", "-y", NULL};
        flags = NULL;
        assert_int_equal(registry_npm_runtime_args(bad, NULL, &flags, &err), -EX_UNAVAILABLE);
        assert_null(flags);
        assert_non_null(strstr(err.msg, "--require"));
        assert_non_null(strstr(err.msg, "--inspect"));
        assert_non_null(strstr(err.msg, "--package=evil"));
        char *loader[] = {"--experimental-loader=./x.mjs", NULL};
        err = (corral_error){0};
        assert_int_equal(registry_npm_runtime_args(loader, "node", &flags, &err),
                         -EX_UNAVAILABLE);
        /* A flag this node does not know: asked, refused. */
        char *unknown[] = {"--experimental-corral-no-such-flag", NULL};
        err = (corral_error){0};
        assert_int_equal(registry_npm_runtime_args(unknown, "node", &flags, &err),
                         -EX_UNAVAILABLE);
        assert_non_null(strstr(err.msg, "does not take"));
        char *bunx[] = {"--bun", NULL};
        assert_int_equal(registry_npm_runtime_args(bunx, "bunx", &flags, &err), -EX_UNAVAILABLE);
        assert_int_equal(registry_npm_runtime_args(NULL, "bunx", &flags, &err), 0);
}

/* Every '|'-separated word of words is in msg. */
static void assert_all_named(const char *msg, const char *words)
{
        for (const char *w = words; *w;) {
                size_t n = strcspn(w, "|");
                char *one = xstrndup(w, n);
                if (!strstr(msg, one))
                        fail_msg("'%s' not in: %s", one, msg);
                free(one);
                w += n + (w[n] == '|');
        }
}

static void test_oci_runtime_args(void **state)
{
        (void)state;
        corral_error err = {0};
        manifest *m = manifest_new("t");
        cJSON *secrets = cJSON_Parse("{\"CORRAL_ARG_TOKEN\":\"API_TOKEN=s3\"}");
        m->env = xcalloc(1, sizeof(*m->env));
        m->env[0].key = xstrdup("FROM_VARS");
        m->env[0].value = xstrdup("1");
        m->n_env = 1;
        char *ok[] = {"-i", "--rm", "-e", "MODE=fast", "--env=FROM_VARS", "-e",
                      "${CORRAL_ARG_TOKEN}", "-v", "/tmp:/data", "--mount",
                      "type=bind,source=/usr,target=/host-usr,rw", "--network", "none",
                      "--memory", "256m", "--cpus", "8", "-p", "8080:8080", "-it", NULL};
        assert_int_equal(registry_oci_runtime_args(ok, secrets, m, &err), 0);
        assert_int_equal(m->n_env, 3);
        assert_string_equal(m->env[1].key, "MODE");
        assert_string_equal(m->env[1].value, "fast");
        assert_string_equal(m->env[2].key, "API_TOKEN");
        assert_null(m->env[2].value);
        assert_string_equal(json_get_string(secrets, "API_TOKEN"), "s3");
        assert_null(cJSON_GetObjectItem(secrets, "CORRAL_ARG_TOKEN"));
        assert_string_equal(m->mounts[0], "/tmp:/data:ro");
        assert_string_equal(m->mounts[1], "/usr:/host-usr:rw");
        assert_int_equal(m->memory_mb, 256);
        assert_true(m->cpus < 2); /* 8 is more than the policy's: kept */

        err = (corral_error){0};
        char *bad[] = {"--privileged", "--network", "host", "-v", "data:/data", "--frobnicate",
                       "-e", "NOT_GIVEN", NULL};
        assert_int_equal(registry_oci_runtime_args(bad, secrets, m, &err), -EX_UNAVAILABLE);
        assert_all_named(err.msg,
                         "--privileged|--network host|-v data:/data|--frobnicate|NOT_GIVEN");

        /* Mount options beyond ro/rw are not guessed; a value missing at the
         * end is named; a bundle of flags that are all left out is left out. */
        err = (corral_error){0};
        char *odd[] = {"-iP", "-v", "/tmp:/x:z", "--mount",
                       "type=bind,src=/tmp,dst=/y,bind-propagation=rslave", "--env", NULL};
        assert_int_equal(registry_oci_runtime_args(odd, secrets, m, &err), -EX_UNAVAILABLE);
        assert_all_named(err.msg,
                         "-v /tmp:/x:z|bind-propagation=rslave|--env (without a value)");
        assert_null(strstr(err.msg, "-iP"));
        assert_int_equal(strv_length(m->mounts), 2);
        cJSON_Delete(secrets);
        manifest_free(m);
}

static void test_mcpb_substitute(void **state)
{
        (void)state;
        cJSON *values = cJSON_Parse("{\"key\":\"abc\", \"inj\":\"${SITE_SECRET}$$\"}");
        static const struct {
                const char *in, *out;
                unsigned flags;
                int want;
        } cases[] = {
                {"${__dirname}/server/index.js", "/srv/pkg/server/index.js", 0, 0},
                {"${user_config.key}", "abc", 0, 0},
                {"--k=${user_config.key}!", "--k=abc!", 0, 0},
                {"${user_config.unset}", "", 0, 0},
                {"${HOME}/x", "/data/x", 0, 0},
                {"plain", "plain", 0, 0},
                {"${nope}", NULL, 0, -EX_DATAERR},
                {"${__dirname", NULL, 0, -EX_DATAERR},
                /* For the manifest: a value never names a variable there. */
                {"--k=${user_config.inj}", "--k=$${SITE_SECRET}$$$$", MCPB_SUB_ESCAPE, 0},
                {"a$b ${user_config.key}", "a$$b abc", MCPB_SUB_ESCAPE, 0},
                {"--t=${user_config.inj}", "--t=${SITE_SECRET}$$", MCPB_SUB_ESCAPE | MCPB_SUB_REFS,
                 0},
                {"${user_config.inj}", "${SITE_SECRET}$$", 0, 0},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                corral_error err = {0};
                char *out = NULL;
                int r = mcpb_substitute(cases[i].in, "/srv/pkg", "/data", values, cases[i].flags,
                                        &out, &err);
                assert_int_equal(r, cases[i].want);
                if (r == 0)
                        assert_string_equal(out, cases[i].out);
                free(out);
        }
        cJSON_Delete(values);
}

static void test_mcpb_spec(void **state)
{
        (void)state;
        static const struct {
                const char *spec;
                const char *name; /* default server name */
                bool url;
        } cases[] = {
                {"./dist/weather.mcpb", "weather", false},
                {"/tmp/x/text-editor.mcpb", "text-editor", false},
                {"mcpb:./b.zip", "b-zip", false},
                {"mcpb:https://example.com/r/v1/notes.mcpb", "notes", true},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                source_spec s = {0};
                corral_error err = {0};
                assert_int_equal(spec_parse(&s, cases[i].spec, false, &err), 0);
                assert_int_equal(s.kind, SPEC_MCPB);
                assert_int_equal(s.url != NULL, cases[i].url);
                char *n = spec_default_name(&s);
                assert_non_null(n);
                assert_string_equal(n, cases[i].name);
                free(n);
                spec_done(&s);
        }
}

/* What each stdioFunction reads as (compact JSON), or NULL: refused. */
static void test_smithery_fn(void **state)
{
        (void)state;
        static const struct {
                const char *src, *want;
        } cases[] = {
                {"(config) => ({ command: 'npx', args: ['-y', '@x/brave'], env: { BRAVE_API_KEY: "
                 "config.braveApiKey } })",
                 "{\"command\":\"npx\",\"args\":[\"-y\",\"@x/brave\"],\"env\":{\"BRAVE_API_KEY\":{"
                 "\"config\":\"braveApiKey\"}}}"},
                {"config=>({command:\"npx\",args:[\"p\",config[\"a-b\"],],})",
                 "{\"command\":\"npx\",\"args\":[\"p\",{\"config\":\"a-b\"}]}"},
                {"async function f(c) { // comment\n return { command: `npx`, env: {'K': 'v'} }; }",
                 "{\"command\":\"npx\",\"env\":{\"K\":\"v\"}}"},
                {"(c) => ({ command: 'npx', args: ['a\\'b\\n'] }) ;", "{\"command\":\"npx\",\"args\":[\"a'b\\n\"]}"},
                /* Everything that would need JavaScript evaluated: refused. */
                {"(c) => ({ command: 'npx', args: c.debug ? ['a'] : ['b'] })", NULL},
                {"(c) => ({ command: 'npx', args: [c.a + 'x'] })", NULL},
                {"(c) => ({ command: 'npx', args: [c.a.b] })", NULL},
                {"(c) => ({ command: 'npx', args: [String(c.a)] })", NULL},
                {"(c) => ({ command: 'npx', args: [`${c.a}`] })", NULL},
                {"(c) => ({ command: 'npx', args: [...c.list] })", NULL},
                {"(c) => ({ command: 'npx', args: [other.a] })", NULL},
                {"(c) => ({ command: 'npx', cwd: '/' })", NULL},
                {"(c) => ({ command: c.cmd })", NULL},
                {"(c) => ({ args: ['x'] })", NULL},
                {"(c) => ({ command: 'npx' }); process.exit(1)", NULL},
                {"(a, b) => ({ command: 'npx' })", NULL},
                {"(c) => { const x = 1; return { command: 'npx' } }", NULL},
                {"(c) => ({ command: 'npx', args: ['unterminated", NULL},
                {"", NULL},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                cJSON *fn = NULL;
                corral_error err = {0};
                int r = smithery_read_stdio_function(cases[i].src, &fn, &err);
                if (!cases[i].want) {
                        if (r == 0)
                                fail_msg("case %zu accepted: %s", i, cases[i].src);
                        assert_null(fn);
                        continue;
                }
                if (r != 0)
                        fail_msg("case %zu refused: %s", i, err.msg);
                char *got = cJSON_PrintUnformatted(fn);
                assert_string_equal(got, cases[i].want);
                free(got);
                cJSON_Delete(fn);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_input_values), cmocka_unit_test(test_inputs_finish),
                cmocka_unit_test(test_args),         cmocka_unit_test(test_mcpb_substitute),
                cmocka_unit_test(test_npm_runtime_args), cmocka_unit_test(test_oci_runtime_args),
                cmocka_unit_test(test_mcpb_spec),    cmocka_unit_test(test_smithery_fn),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
