/* Source spec parsing (DESIGN.md, "Source specs"), server names and default
 * names: table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "corral/spec.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef struct spec_case {
        const char *in;
        bool remote;
        int rc; /* 0 or -EX_USAGE */
        spec_kind kind;
        const char *name, *version, *digest, *subdir, *url;
        const char *default_name; /* NULL: no name can be derived */
        const char *msg;          /* substring of the error message */
} spec_case;

static const spec_case cases[] = {
        /* npm */
        {"npm:@modelcontextprotocol/server-memory", false, 0, SPEC_NPM,
         "@modelcontextprotocol/server-memory", NULL, NULL, NULL, NULL, "memory", NULL},
        {"npm:@modelcontextprotocol/server-everything@^2026.8.31", false, 0, SPEC_NPM,
         "@modelcontextprotocol/server-everything", "^2026.8.31", NULL, NULL, NULL, "everything",
         NULL},
        {"npm:left-pad", false, 0, SPEC_NPM, "left-pad", NULL, NULL, NULL, NULL, "left-pad", NULL},
        {"npm:foo@latest", false, 0, SPEC_NPM, "foo", "latest", NULL, NULL, NULL, "foo", NULL},
        {"npm:foo@>=1.0.0 <2", false, 0, SPEC_NPM, "foo", ">=1.0.0 <2", NULL, NULL, NULL, "foo",
         NULL},
        {"@scope/mcp-server-fetch", false, 0, SPEC_NPM, "@scope/mcp-server-fetch", NULL, NULL, NULL,
         NULL, "fetch", NULL},
        {"@scope/pkg@1.2.3", false, 0, SPEC_NPM, "@scope/pkg", "1.2.3", NULL, NULL, NULL, "pkg",
         NULL},
        {"github-mcp-server@1.x", false, 0, SPEC_NPM, "github-mcp-server", "1.x", NULL, NULL, NULL,
         "github", NULL},
        {"npm:server-", false, 0, SPEC_NPM, "server-", NULL, NULL, NULL, NULL, "server", NULL},
        {"npm:Foo", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "invalid npm"},
        {"npm:.hidden", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "invalid npm"},
        {"npm:_under", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "invalid npm"},
        {"npm:@scope", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "invalid npm"},
        {"npm:@/x", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "invalid npm"},
        {"npm:@s/", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "invalid npm"},
        {"npm:a/b", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "invalid npm"},
        {"npm:foo bar", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "invalid npm"},
        {"npm:foo@", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "range"},
        {"npm:foo@$(rm)", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "range"},
        {"npm:node_modules", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL,
         "invalid npm"},
        {"npm:", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "empty"},
        {"foo", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "ambiguous"},
        /* smithery */
        {"smithery:@smithery-ai/github", false, 0, SPEC_SMITHERY, "@smithery-ai/github", NULL, NULL,
         NULL, NULL, "github", NULL},
        {"smithery:exa", false, 0, SPEC_SMITHERY, "exa", NULL, NULL, NULL, NULL, "exa", NULL},
        {"smithery-hosted:@owner/Weather_Server", false, 0, SPEC_SMITHERY_HOSTED,
         "@owner/Weather_Server", NULL, NULL, NULL, NULL, "weather-server", NULL},
        {"smithery:@owner", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "Smithery"},
        {"smithery:a b", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "Smithery"},
        /* official registry */
        {"registry:io.github.modelcontextprotocol/server-filesystem", false, 0, SPEC_REGISTRY,
         "io.github.modelcontextprotocol/server-filesystem", NULL, NULL, NULL, NULL, "filesystem",
         NULL},
        {"registry:com.example/weather@1.0.2", false, 0, SPEC_REGISTRY, "com.example/weather",
         "1.0.2", NULL, NULL, NULL, "weather", NULL},
        {"registry:nodots/x", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "registry"},
        {"registry:com.example", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL,
         "registry"},
        {"registry:com.example/x@", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL,
         "version"},
        /* git */
        {"github:modelcontextprotocol/servers", false, 0, SPEC_GIT, "modelcontextprotocol/servers",
         NULL, NULL, NULL, "https://github.com/modelcontextprotocol/servers.git", "servers", NULL},
        {"github:modelcontextprotocol/servers@v1.2#src/memory", false, 0, SPEC_GIT,
         "modelcontextprotocol/servers", "v1.2", NULL, "src/memory",
         "https://github.com/modelcontextprotocol/servers.git", "memory", NULL},
        {"github:o/r#sub", false, 0, SPEC_GIT, "o/r", NULL, NULL, "sub",
         "https://github.com/o/r.git", "sub", NULL},
        {"github.com/owner/my-mcp-server", false, 0, SPEC_GIT, "owner/my-mcp-server", NULL, NULL,
         NULL, "https://github.com/owner/my-mcp-server.git", "my", NULL},
        {"https://github.com/owner/repo", false, 0, SPEC_GIT, "owner/repo", NULL, NULL, NULL,
         "https://github.com/owner/repo.git", "repo", NULL},
        {"https://gitlab.com/group/sub/proj.git", false, 0, SPEC_GIT, "group/sub/proj", NULL, NULL,
         NULL, "https://gitlab.com/group/sub/proj.git", "proj", NULL},
        {"https://example.com/x.git#v2", false, 0, SPEC_GIT, "x", "v2", NULL, NULL,
         "https://example.com/x.git", "x", NULL},
        {"git@github.com:owner/repo.git", false, 0, SPEC_GIT, "owner/repo", NULL, NULL, NULL,
         "git@github.com:owner/repo.git", "repo", NULL},
        {"git+https://example.org/a/b.git", false, 0, SPEC_GIT, "a/b", NULL, NULL, NULL,
         "https://example.org/a/b.git", "b", NULL},
        {"git+ssh://git@example.org/a/b.git#main", false, 0, SPEC_GIT, "a/b", "main", NULL, NULL,
         "ssh://git@example.org/a/b.git", "b", NULL},
        {"git://127.0.0.1/srv.git", false, 0, SPEC_GIT, "srv", NULL, NULL, NULL,
         "git://127.0.0.1/srv.git", "srv", NULL},
        {"github:onlyowner", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "OWNER/REPO"},
        {"github:a/b/c", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "OWNER/REPO"},
        {"github:-a/b", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "OWNER/REPO"},
        {"github:a/..", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "OWNER/REPO"},
        {"github:a/b#../etc", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL,
         "subdirectory"},
        {"github:a/b#/abs", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL,
         "subdirectory"},
        {"github:a/b@-x", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "ref"},
        {"github:a/b@x..y", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "ref"},
        {"git@:x.git", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "git URL"},
        {"git+https://", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "git URL"},
        /* docker */
        {"docker:mcp/fetch", false, 0, SPEC_DOCKER, "mcp/fetch", NULL, NULL, NULL, NULL, "fetch",
         NULL},
        {"docker:ghcr.io/x/foo-mcp:1", false, 0, SPEC_DOCKER, "ghcr.io/x/foo-mcp", "1", NULL, NULL,
         NULL, "foo-mcp", NULL},
        {"docker:localhost:5000/a/b:v1.0@sha256:" HEX64, false, 0, SPEC_DOCKER,
         "localhost:5000/a/b", "v1.0", "sha256:" HEX64, NULL, NULL, "b", NULL},
        {"docker:alpine@sha256:" HEX64, false, 0, SPEC_DOCKER, "alpine", NULL, "sha256:" HEX64,
         NULL, NULL, "alpine", NULL},
        {"docker:alpine@sha256:abc", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL,
         "digest"},
        {"docker:alpine@sha512:" HEX64, false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL,
         "digest"},
        {"docker:alpine@sha256:"
         "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
         false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "digest"},
        {"docker:Alpine", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "image name"},
        {"docker:alpine:", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "tag"},
        {"docker:a//b", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "image name"},
        /* the engine's grammar: no separator right after a '.' */
        {"docker:a.-b", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "image name"},
        {"docker:bad_host:5000x/a", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL,
         "registry host"},
        {"docker:", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "empty"},
        /* local */
        {"./everything", false, 0, SPEC_LOCAL, "./everything", NULL, NULL, NULL, NULL, "everything",
         NULL},
        {"../srv/mcp-server-notes/", false, 0, SPEC_LOCAL, "../srv/mcp-server-notes/", NULL, NULL,
         NULL, NULL, "notes", NULL},
        {"/opt/My_Server", false, 0, SPEC_LOCAL, "/opt/My_Server", NULL, NULL, NULL, NULL,
         "my-server", NULL},
        {".", false, 0, SPEC_LOCAL, ".", NULL, NULL, NULL, NULL, NULL, NULL},
        {"..", false, 0, SPEC_LOCAL, "..", NULL, NULL, NULL, NULL, NULL, NULL},
        {"/", false, 0, SPEC_LOCAL, "/", NULL, NULL, NULL, NULL, NULL, NULL},
        {"./dir", true, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "--remote"},
        /* remote */
        {"https://mcp.example.com/mcp", true, 0, SPEC_REMOTE, "https://mcp.example.com/mcp", NULL,
         NULL, NULL, "https://mcp.example.com/mcp", "example", NULL},
        {"http://127.0.0.1:8080/mcp", true, 0, SPEC_REMOTE, "http://127.0.0.1:8080/mcp", NULL, NULL,
         NULL, "http://127.0.0.1:8080/mcp", "127-0-0-1", NULL},
        {"https://mcp.example.com/mcp", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL,
         "--remote"},
        {"https:///mcp", true, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "invalid URL"},
        {"npm:foo", true, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "--remote"},
        /* unknown and malformed */
        {"foo:bar", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL,
         "unknown source kind 'foo:'"},
        {"pypi:mcp-server-time", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL,
         "unknown"},
        {"ftp://x/y", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "unknown"},
        {"", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "empty"},
        {"./a\nb", false, -EX_USAGE, 0, NULL, NULL, NULL, NULL, NULL, NULL, "control"},
};

static void assert_str_or_null(const char *want, const char *got, const char *what, const char *in)
{
        if (!want && !got)
                return;
        if (!want || !got || strcmp(want, got) != 0) {
                print_error("%s: %s: want '%s', got '%s'\n", in, what, want ? want : "(null)",
                            got ? got : "(null)");
                fail();
        }
}

static void test_spec_table(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                const spec_case *c = &cases[i];
                source_spec s = {0};
                corral_error err = {0};
                int r = spec_parse(&s, c->in, c->remote, &err);
                if (r != c->rc) {
                        print_error("'%s': rc %d, want %d (%s)\n", c->in, r, c->rc, err.msg);
                        fail();
                }
                if (r < 0) {
                        assert_int_equal(err.code, EX_USAGE);
                        if (c->msg && !strstr(err.msg, c->msg)) {
                                print_error("'%s': message '%s' lacks '%s'\n", c->in, err.msg,
                                            c->msg);
                                fail();
                        }
                        /* *ret untouched on failure */
                        assert_null(s.raw);
                        assert_null(s.name);
                        continue;
                }
                if (s.kind != c->kind) {
                        print_error("'%s': kind %s, want %s\n", c->in, spec_kind_name(s.kind),
                                    spec_kind_name(c->kind));
                        fail();
                }
                assert_string_equal(s.raw, c->in);
                assert_str_or_null(c->name, s.name, "name", c->in);
                assert_str_or_null(c->version, s.version, "version", c->in);
                assert_str_or_null(c->digest, s.digest, "digest", c->in);
                assert_str_or_null(c->subdir, s.subdir, "subdir", c->in);
                assert_str_or_null(c->url, s.url, "url", c->in);
                char *dn = spec_default_name(&s);
                assert_str_or_null(c->default_name, dn, "default name", c->in);
                if (dn)
                        assert_true(server_name_valid(dn));
                free(dn);
                spec_done(&s);
        }
}

static void test_spec_limits(void **state)
{
        (void)state;
        corral_error err = {0};
        source_spec s = {0};

        /* npm's 214-character limit, scope included */
        char name[300];
        memset(name, 'a', sizeof(name));
        memcpy(name, "npm:", 4);
        name[4 + 214] = '\0';
        assert_int_equal(spec_parse(&s, name, false, &err), 0);
        spec_done(&s);
        name[4 + 214] = 'a';
        name[4 + 215] = '\0';
        assert_int_equal(spec_parse(&s, name, false, &err), -EX_USAGE);

        /* whole spec cap */
        size_t big = 5000;
        char *huge = xmalloc(big + 1);
        memset(huge, 'a', big);
        memcpy(huge, "./", 2);
        huge[big] = '\0';
        corral_error_clear(&err);
        assert_int_equal(spec_parse(&s, huge, false, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "too long"));
        free(huge);

        corral_error_clear(&err);
        assert_int_equal(spec_parse(&s, NULL, false, &err), -EX_USAGE);

        /* a long default name is cut to 48 and stays valid */
        assert_int_equal(
                spec_parse(&s, "./aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, &err),
                0);
        char *dn = spec_default_name(&s);
        assert_non_null(dn);
        assert_int_equal(strlen(dn), 48);
        assert_true(server_name_valid(dn));
        free(dn);
        spec_done(&s);

        /* a name cut right after a '-' loses the dash */
        assert_int_equal(
                spec_parse(&s, "./aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bb", false, &err),
                0);
        dn = spec_default_name(&s);
        assert_string_equal(dn, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        free(dn);
        spec_done(&s);

        /* nothing usable left */
        assert_int_equal(spec_parse(&s, "./___", false, &err), 0);
        assert_null(spec_default_name(&s));
        spec_done(&s);
        assert_null(spec_default_name(NULL));
}

static void test_server_names(void **state)
{
        (void)state;
        static const struct {
                const char *name;
                bool valid;
        } names[] = {
                {"memory", true},
                {"a", true},
                {"0day", true},
                {"my-server-2", true},
                {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true},   /* 48 */
                {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false}, /* 49 */
                {"", false},
                {"-lead", false},
                {"Upper", false},
                {"a__b", false},
                {"a_b", false},
                {"a.b", false},
                {"a/b", false},
                {"..", false},
                {"a b", false},
                {NULL, false},
        };
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (server_name_valid(names[i].name) != names[i].valid) {
                        print_error("server_name_valid('%s') != %d\n",
                                    names[i].name ? names[i].name : "(null)", names[i].valid);
                        fail();
                }
}

static void test_npm_names(void **state)
{
        (void)state;
        assert_true(spec_npm_name_valid("@modelcontextprotocol/server-everything"));
        assert_true(spec_npm_name_valid("a.b_c-d"));
        assert_false(spec_npm_name_valid("../x"));
        assert_false(spec_npm_name_valid("@a/../b"));
        assert_false(spec_npm_name_valid("@a/b/c"));
        assert_false(spec_npm_name_valid("/abs"));
        assert_false(spec_npm_name_valid(""));
        assert_false(spec_npm_name_valid(NULL));
        assert_false(spec_npm_name_valid("favicon.ico"));
}

static void test_kind_names(void **state)
{
        (void)state;
        assert_string_equal(spec_kind_name(SPEC_NPM), "npm");
        assert_string_equal(spec_kind_name(SPEC_SMITHERY_HOSTED), "smithery-hosted");
        assert_string_equal(spec_kind_name(SPEC_GIT), "git");
        assert_string_equal(spec_kind_name(SPEC_LOCAL), "local");
        assert_string_equal(spec_kind_name(SPEC_REMOTE), "remote");
        assert_string_equal(spec_kind_name((spec_kind)99), "unknown");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spec_table),   cmocka_unit_test(test_spec_limits),
                cmocka_unit_test(test_server_names), cmocka_unit_test(test_npm_names),
                cmocka_unit_test(test_kind_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
