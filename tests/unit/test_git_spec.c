/* Git source specs (issue 14): the forms the git resolver takes, the clone
 * URL behind github: (spec_git_url() with a configured base), fragments with
 * a ref and a subdirectory, file:// repositories.  Table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "corral/spec.h"

typedef struct git_case {
        const char *in;
        int rc; /* 0 or -EX_USAGE */
        const char *name, *ref, *subdir;
        const char *url_default; /* spec_git_url(s, NULL) */
        const char *url_mirror;  /* spec_git_url(s, "git://127.0.0.1:9418/gh/") */
        const char *msg;         /* substring of the error message */
} git_case;

#define MIRROR "git://127.0.0.1:9418/gh/"

static const git_case cases[] = {
        {"github:o/r", 0, "o/r", NULL, NULL, "https://github.com/o/r.git",
         "git://127.0.0.1:9418/gh/o/r.git", NULL},
        {"github:o/r@v1.0#src/memory", 0, "o/r", "v1.0", "src/memory",
         "https://github.com/o/r.git", "git://127.0.0.1:9418/gh/o/r.git", NULL},
        {"github.com/o/r.git@main", 0, "o/r", "main", NULL, "https://github.com/o/r.git",
         "git://127.0.0.1:9418/gh/o/r.git", NULL},
        {"https://github.com/o/r", 0, "o/r", NULL, NULL, "https://github.com/o/r.git",
         "git://127.0.0.1:9418/gh/o/r.git", NULL},
        /* URL forms never move to the GitHub base */
        {"https://example.com/a/r.git#v2:pkg/x", 0, "a/r", "v2", "pkg/x",
         "https://example.com/a/r.git", "https://example.com/a/r.git", NULL},
        {"git+https://example.com/r.git#:sub", 0, "r", NULL, "sub", "https://example.com/r.git",
         "https://example.com/r.git", NULL},
        {"git://127.0.0.1:9418/srv.git#0123456789abcdef0123456789abcdef01234567", 0, "srv",
         "0123456789abcdef0123456789abcdef01234567", NULL, "git://127.0.0.1:9418/srv.git",
         "git://127.0.0.1:9418/srv.git", NULL},
        {"file:///srv/git/tool.git", 0, "srv/git/tool", NULL, NULL, "file:///srv/git/tool.git",
         "file:///srv/git/tool.git", NULL},
        {"file://localhost/srv/x#main", 0, "srv/x", "main", NULL, "file://localhost/srv/x",
         "file://localhost/srv/x", NULL},
        {"git+file:///tmp/r#t1:a/b", 0, "tmp/r", "t1", "a/b", "file:///tmp/r", "file:///tmp/r",
         NULL},
        /* refused */
        {"file://host/x.git", -EX_USAGE, NULL, NULL, NULL, NULL, NULL, "absolute path"},
        {"file://relative", -EX_USAGE, NULL, NULL, NULL, NULL, NULL, "absolute path"},
        {"file:///a/../etc", -EX_USAGE, NULL, NULL, NULL, NULL, NULL, "repository path"},
        {"file:///", -EX_USAGE, NULL, NULL, NULL, NULL, NULL, "repository path"},
        {"https://example.com/r.git#", -EX_USAGE, NULL, NULL, NULL, NULL, NULL, "empty git ref"},
        {"https://example.com/r.git#v1:../x", -EX_USAGE, NULL, NULL, NULL, NULL, NULL,
         "subdirectory"},
        {"https://example.com/r.git#v1:/x", -EX_USAGE, NULL, NULL, NULL, NULL, NULL,
         "subdirectory"},
        {"git://h/r.git#--upload-pack=x", -EX_USAGE, NULL, NULL, NULL, NULL, NULL, "git ref"},
        {"github:o/r@a..b", -EX_USAGE, NULL, NULL, NULL, NULL, NULL, "git ref"},
        {"github:o/r#a/./b", -EX_USAGE, NULL, NULL, NULL, NULL, NULL, "subdirectory"},
};

static void check_str(const char *want, const char *got, const char *what, const char *in)
{
        if (!want && !got)
                return;
        if (!want || !got || strcmp(want, got) != 0) {
                print_error("%s: %s: want '%s', got '%s'\n", in, what, want ? want : "(null)",
                            got ? got : "(null)");
                fail();
        }
}

static void test_git_specs(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                const git_case *c = &cases[i];
                source_spec s = {0};
                corral_error err = {0};
                int r = spec_parse(&s, c->in, false, &err);
                if (r != c->rc) {
                        print_error("'%s': rc %d, want %d (%s)\n", c->in, r, c->rc, err.msg);
                        fail();
                }
                if (r < 0) {
                        if (!strstr(err.msg, c->msg)) {
                                print_error("'%s': message '%s' lacks '%s'\n", c->in, err.msg,
                                            c->msg);
                                fail();
                        }
                        continue;
                }
                assert_int_equal(s.kind, SPEC_GIT);
                check_str(c->name, s.name, "name", c->in);
                check_str(c->ref, s.version, "ref", c->in);
                check_str(c->subdir, s.subdir, "subdir", c->in);
                char *u = spec_git_url(&s, NULL);
                check_str(c->url_default, u, "url", c->in);
                free(u);
                u = spec_git_url(&s, MIRROR);
                check_str(c->url_mirror, u, "mirror url", c->in);
                free(u);
                spec_done(&s);
        }
}

static void test_git_url_not_git(void **state)
{
        (void)state;
        source_spec s = {0};
        assert_int_equal(spec_parse(&s, "npm:foo", false, NULL), 0);
        assert_null(spec_git_url(&s, NULL));
        spec_done(&s);
        assert_null(spec_git_url(NULL, NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_git_specs),
                cmocka_unit_test(test_git_url_not_git),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
