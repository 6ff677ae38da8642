/* `docker run` option syntax (docker_run.h), shared by the registry
 * resolver's runtimeArguments and the importer: table-driven, with the
 * forms docker (spf13/pflag) takes and the hostile ones it must not
 * misread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "corral/docker_run.h"
#include "corral/macro.h"

/* ---- docker_run_next ---------------------------------------------------- */

typedef struct next_case {
        const char *argv[3]; /* read from argv[0] */
        docker_run_kind kind;
        docker_run_option opt;
        const char *name;  /* NULL: none */
        const char *value; /* NULL: none */
        const char *flags; /* NULL: none */
        size_t used;       /* arguments read */
} next_case;

static const next_case next_cases[] = {
        /* The four ways to give a value, long and short. */
        {{"--env=A=1"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_ENV, "env", "A=1", NULL, 1},
        {{"--env", "A=1"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_ENV, "env", "A=1", NULL, 2},
        {{"-e", "A"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_ENV, "env", "A", NULL, 2},
        {{"-eA=1", "img"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_ENV, "env", "A=1", NULL, 1},
        {{"-e=A=1", "img"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_ENV, "env", "A=1", NULL, 1},
        {{"-m512m"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_MEMORY, "memory", "512m", NULL, 1},
        {{"--env=", "x"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_ENV, "env", "", NULL, 1},
        {{"--volume", ""}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_VOLUME, "volume", "", NULL, 2},
        /* The next argument is the value whatever it looks like. */
        {{"-e", "-x"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_ENV, "env", "-x", NULL, 2},
        {{"--name", "--rm"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_NAME, "name", "--rm", NULL, 2},
        /* Aliases keep the spelling written. */
        {{"--net=host"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_NETWORK, "net", "host", NULL, 1},
        {{"--network", "none"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_NETWORK, "network", "none",
         NULL, 2},
        /* Flags: never the next argument; "=V" is docker's boolean. */
        {{"--rm", "img"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_RM, "rm", NULL, NULL, 1},
        {{"--rm=false"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_RM, "rm", "false", NULL, 1},
        {{"-i=x"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_INTERACTIVE, "interactive", "x", NULL, 1},
        {{"--privileged", "x"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_PRIVILEGED, "privileged",
         NULL, NULL, 1},
        /* Bundles of value-less short options, a lone one too. */
        {{"-it", "img"}, DOCKER_RUN_FLAGS, DOCKER_RUN_OPT_NONE, NULL, NULL, "it", 1},
        {{"-i"}, DOCKER_RUN_FLAGS, DOCKER_RUN_OPT_NONE, NULL, NULL, "i", 1},
        {{"-dit"}, DOCKER_RUN_FLAGS, DOCKER_RUN_OPT_NONE, NULL, NULL, "dit", 1},
        {{"-iP"}, DOCKER_RUN_FLAGS, DOCKER_RUN_OPT_NONE, NULL, NULL, "iP", 1},
        /* Not guessed: a letter that is no flag, a value-taking one inside a
         * bundle, and odd spellings. */
        {{"-ix"}, DOCKER_RUN_UNKNOWN, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{"-ite", "A=1"}, DOCKER_RUN_UNKNOWN, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{"-it=x"}, DOCKER_RUN_UNKNOWN, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{"-x"}, DOCKER_RUN_UNKNOWN, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{"-"}, DOCKER_RUN_UNKNOWN, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{"-=x"}, DOCKER_RUN_UNKNOWN, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{"--=x", "y"}, DOCKER_RUN_UNKNOWN, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{"---env", "A=1"}, DOCKER_RUN_UNKNOWN, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{"--ENV", "A=1"}, DOCKER_RUN_UNKNOWN, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{"--frobnicate", "x"}, DOCKER_RUN_UNKNOWN, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{"--e", "A=1"}, DOCKER_RUN_UNKNOWN, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{"-env", "A=1"}, DOCKER_RUN_OPTION, DOCKER_RUN_OPT_ENV, "env", "nv", NULL, 1},
        /* A value-taking option last, with none. */
        {{"--env"}, DOCKER_RUN_MISSING_VALUE, DOCKER_RUN_OPT_ENV, "env", NULL, NULL, 1},
        {{"-e"}, DOCKER_RUN_MISSING_VALUE, DOCKER_RUN_OPT_ENV, "env", NULL, NULL, 1},
        {{"-h"}, DOCKER_RUN_MISSING_VALUE, DOCKER_RUN_OPT_HOSTNAME, "hostname", NULL, NULL, 1},
        /* The end of the options, and what is not an option. */
        {{"--", "-e"}, DOCKER_RUN_END, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{"img", "-e"}, DOCKER_RUN_POSITIONAL, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
        {{""}, DOCKER_RUN_POSITIONAL, DOCKER_RUN_OPT_NONE, NULL, NULL, NULL, 1},
};

static void assert_str_or_null(const char *got, const char *want, const char *what,
                               const char *arg)
{
        if (!want && !got)
                return;
        if (!want || !got || strcmp(got, want) != 0)
                fail_msg("%s: %s is '%s', not '%s'", arg, what, got ? got : "(null)",
                         want ? want : "(null)");
}

static void test_next(void **state)
{
        (void)state;
        for (size_t c = 0; c < ARRAY_SIZE(next_cases); c++) {
                const next_case *t = &next_cases[c];
                char *argv[4] = {(char *)t->argv[0], (char *)t->argv[1], (char *)t->argv[2],
                                 NULL};
                docker_run_arg arg;
                size_t i = 0;
                docker_run_next(argv, &i, &arg);
                if (arg.kind != t->kind || arg.opt != t->opt || i != t->used)
                        fail_msg("%s: kind %d opt %d used %zu, not %d %d %zu", t->argv[0],
                                 arg.kind, arg.opt, i, t->kind, t->opt, t->used);
                assert_str_or_null(arg.name, t->name, "name", t->argv[0]);
                assert_str_or_null(arg.value, t->value, "value", t->argv[0]);
                assert_str_or_null(arg.flags, t->flags, "flags", t->argv[0]);
        }
}

/* A whole command line read to its end: each call moves past what it read. */
static void test_walk(void **state)
{
        (void)state;
        char *argv[] = {"-it", "--rm", "-e", "A=1", "--net=none", "-v", "/a:/b:ro",
                        "--", "img", "serve", NULL};
        const docker_run_kind want[] = {DOCKER_RUN_FLAGS, DOCKER_RUN_OPTION, DOCKER_RUN_OPTION,
                                        DOCKER_RUN_OPTION, DOCKER_RUN_OPTION, DOCKER_RUN_END,
                                        DOCKER_RUN_POSITIONAL, DOCKER_RUN_POSITIONAL};
        size_t i = 0, n = 0;
        docker_run_arg arg;

        while (argv[i]) {
                assert_true(n < ARRAY_SIZE(want));
                docker_run_next(argv, &i, &arg);
                assert_int_equal(arg.kind, want[n++]);
        }
        assert_int_equal(n, ARRAY_SIZE(want));
        assert_int_equal(i, ARRAY_SIZE(argv) - 1);
}

static void test_short(void **state)
{
        (void)state;
        assert_int_equal(docker_run_short('e'), DOCKER_RUN_OPT_ENV);
        assert_int_equal(docker_run_short('v'), DOCKER_RUN_OPT_VOLUME);
        assert_int_equal(docker_run_short('P'), DOCKER_RUN_OPT_PUBLISH_ALL);
        assert_int_equal(docker_run_short('p'), DOCKER_RUN_OPT_PUBLISH);
        assert_int_equal(docker_run_short('x'), DOCKER_RUN_OPT_NONE);
        assert_int_equal(docker_run_short('-'), DOCKER_RUN_OPT_NONE);
        assert_int_equal(docker_run_short('\0'), DOCKER_RUN_OPT_NONE);
}

/* ---- -e KEY[=VALUE] ------------------------------------------------------ */

static void test_env(void **state)
{
        (void)state;
        static const struct {
                const char *in, *key, *value;
                int r;
        } cases[] = {
                {"A=1", "A", "1", 0},     {"A", "A", NULL, 0},
                {"A=", "A", "", 0},       {"A=b=c", "A", "b=c", 0},
                {"A B=c", "A B", "c", 0}, {"=x", NULL, NULL, -EINVAL},
                {"=", NULL, NULL, -EINVAL}, {"", NULL, NULL, -EINVAL},
        };
        for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
                docker_run_env env = {.key = "untouched"};
                int r = docker_run_env_parse(cases[c].in, &env);
                if (r != cases[c].r)
                        fail_msg("'%s': %d, not %d", cases[c].in, r, cases[c].r);
                if (r < 0) {
                        assert_string_equal(env.key, "untouched"); /* not clobbered */
                        continue;
                }
                if (env.key_len != strlen(cases[c].key) ||
                    strncmp(env.key, cases[c].key, env.key_len) != 0)
                        fail_msg("'%s': key '%.*s'", cases[c].in, (int)env.key_len, env.key);
                assert_str_or_null(env.value, cases[c].value, "value", cases[c].in);
        }
}

/* ---- -v and --mount ------------------------------------------------------ */

typedef struct mount_case {
        const char *in;
        bool mount_syntax;
        const char *source, *target;
        bool bind;
        docker_run_mode mode;
        bool other;
} mount_case;

#define RO DOCKER_RUN_MODE_RO
#define RW DOCKER_RUN_MODE_RW
#define DEF DOCKER_RUN_MODE_DEFAULT

static const mount_case mount_cases[] = {
        {"/a:/b", false, "/a", "/b", true, DEF, false},
        {"/a:/b:ro", false, "/a", "/b", true, RO, false},
        {"/a:/b:readonly", false, "/a", "/b", true, RO, false},
        {"/a:/b:rw", false, "/a", "/b", true, RW, false},
        {"/a:/b:ro,rw", false, "/a", "/b", true, RW, false}, /* the last one */
        {"/a:/b:rw,,ro,", false, "/a", "/b", true, RO, false},
        {"/a:/b:z,ro", false, "/a", "/b", true, RO, true},
        {"/a:/b:rprivate", false, "/a", "/b", true, DEF, true},
        {"/a:/b:ro=false", false, "/a", "/b", true, DEF, true}, /* no "=" in -v options */
        {"/a:/b:", false, "/a", "/b", true, DEF, false},
        {"/a:/b:ro:x", false, "/a", "/b", true, DEF, true},
        {"data:/x", false, "data", "/x", true, DEF, false},
        {"/only", false, NULL, "/only", true, DEF, false}, /* anonymous */
        {":", false, "", "", true, DEF, false},
        {"", false, NULL, "", true, DEF, false},
        {"type=bind,source=/a,target=/b", true, "/a", "/b", true, DEF, false},
        {"type=bind,src=/a,dst=/b,readonly", true, "/a", "/b", true, RO, false},
        {"type=bind,src=/a,destination=/b,ro=true", true, "/a", "/b", true, RO, false},
        {"type=bind,src=/a,dst=/b,readonly=false", true, "/a", "/b", true, RW, false},
        {"type=bind,src=/a,dst=/b,rw", true, "/a", "/b", true, RW, false},
        {"type=bind,src=/a,dst=/b,rw=false", true, "/a", "/b", true, RO, false},
        {"type=bind,source=/a,source=/c,target=/b,target=/d", true, "/c", "/d", true, DEF,
         false},
        {"type=bind,src=/a,dst=/b,bind-propagation=rslave", true, "/a", "/b", true, DEF, true},
        {"type=volume,src=v,dst=/b", true, "v", "/b", false, DEF, false},
        {"type=bind,type=tmpfs,dst=/b", true, NULL, "/b", false, DEF, false},
        {"src=/a,dst=/b", true, "/a", "/b", false, DEF, false}, /* docker's default: volume */
        {"Type=bind,src=/a,dst=/b", true, "/a", "/b", false, DEF, true},
        {"type,src,dst", true, "", "", false, DEF, false},
        {",,,", true, NULL, NULL, false, DEF, false},
        {"", true, NULL, NULL, false, DEF, false},
        {"=", true, NULL, NULL, false, DEF, true},
};

static void test_mount(void **state)
{
        (void)state;
        for (size_t c = 0; c < ARRAY_SIZE(mount_cases); c++) {
                const mount_case *t = &mount_cases[c];
                docker_run_mount m;
                docker_run_mount_parse(t->in, t->mount_syntax, &m);
                assert_str_or_null(m.source, t->source, "source", t->in);
                assert_str_or_null(m.target, t->target, "target", t->in);
                if (m.bind != t->bind || m.mode != t->mode || m.other != t->other)
                        fail_msg("'%s': bind %d mode %d other %d, not %d %d %d", t->in, m.bind,
                                 m.mode, m.other, t->bind, t->mode, t->other);
                docker_run_mount_done(&m);
                assert_null(m.source);
                docker_run_mount_done(&m); /* twice is harmless */
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_next),  cmocka_unit_test(test_walk),
                cmocka_unit_test(test_short), cmocka_unit_test(test_env),
                cmocka_unit_test(test_mount),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
