/* The tree builder (resolvers/npm/tree.c, place.c) against a table of
 * arborist's cases: each row is a small registry, the root's dependencies and
 * the tree npm builds (every place with its version; "!" marks an inert
 * node: kept for the lock, not installed here).  The rows marked "npm" were
 * checked against real npm on the registry stand-in
 * (tests/integration/npm-placement.test.mjs has the same cases). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "corral/npm.h"
#include "corral/semver.h"

/* A registry row: "name@version dep=range peer=range! opt=range? popt=range~",
 * a leading '-' on the row: not for this platform. */
typedef struct row_case {
        const char *what;
        const char *registry[16];
        const char *root; /* the root's dependencies, same syntax after the name */
        const char *want;
} row_case;

typedef struct reg {
        npm_version v[16];
        npm_dep deps[16][8];
        char text[16][160];
        size_t n;
} reg;

static size_t parse_deps(char *p, npm_dep *deps)
{
        size_t n = 0;
        for (char *tok = strtok(p, " "); tok && n < 8; tok = strtok(NULL, " ")) {
                char *eq = strchr(tok, '=');
                if (!eq)
                        continue;
                *eq = '\0';
                size_t l = strlen(eq + 1);
                npm_dep_kind k = NPM_DEP_PROD;
                char last = eq[l];
                if (last == '!')
                        k = NPM_DEP_PEER;
                else if (last == '?')
                        k = NPM_DEP_OPTIONAL;
                else if (last == '~')
                        k = NPM_DEP_PEER_OPTIONAL;
                if (k != NPM_DEP_PROD)
                        eq[l] = '\0';
                deps[n++] = (npm_dep){tok, eq + 1, k};
        }
        return n;
}

static void reg_load(reg *r, const row_case *c)
{
        memset(r, 0, sizeof(*r));
        for (size_t i = 0; c->registry[i]; i++) {
                char *t = r->text[i];
                bool ok = c->registry[i][0] != '-';
                strncpy(t, c->registry[i] + !ok, sizeof(r->text[i]) - 1);
                char *sp = strchr(t, ' ');
                if (sp)
                        *sp = '\0';
                char *at = strchr(t + 1, '@');
                *at = '\0';
                r->v[i] = (npm_version){.name = t, .version = at + 1, .platform_ok = ok,
                                        .deps = r->deps[i]};
                r->v[i].n_deps = sp ? parse_deps(sp + 1, r->deps[i]) : 0;
                r->n++;
        }
}

/* The highest version whose semver satisfies range (no dist-tags here). */
static int pick(void *ud, const char *name, const char *range, const npm_version **ret,
                corral_error *err)
{
        reg *r = ud;
        const npm_version *best = NULL;
        for (size_t i = 0; i < r->n; i++) {
                if (strcmp(r->v[i].name, name) != 0 ||
                    !semver_satisfies_loose(r->v[i].version, range, false))
                        continue;
                if (!best) {
                        best = &r->v[i];
                        continue;
                }
                semver a, b;
                assert_int_equal(semver_parse(&a, r->v[i].version, true), 0);
                assert_int_equal(semver_parse(&b, best->version, true), 0);
                if (semver_compare(&a, &b) > 0)
                        best = &r->v[i];
                semver_done(&a);
                semver_done(&b);
        }
        if (!best) {
                corral_error_set(err, EX_NOINPUT, "no version of %s matches %s", name, range);
                return 0;
        }
        *ret = best;
        return 1;
}

static int dump(const npm_node *n, void *ud)
{
        char *buf = ud;
        size_t len = strlen(buf);
        snprintf(buf + len, 2048 - len, "%s@%s%s ", n->path + strlen("node_modules/"),
                 n->v->version, n->inert ? "!" : "");
        return 0;
}

static const row_case cases[] = {
        {"nesting on conflict; a copy below is not shadowed; an optional dependency of "
         "another platform stays in the tree, inert; a missing optional one is left out",
         {"a@1.0.0 c=^1", "b@1.0.0 c=^2 d=^1", "c@1.0.0", "c@2.0.0", "d@1.0.0 c=^2",
          "e@1.0.0 p=^1! opt=^1? win=^1?", "p@1.0.0", "-win@1.0.0"},
         "b=^1 a=^1 e=^1",
         "a@1.0.0 b@1.0.0 b/node_modules/c@2.0.0 c@1.0.0 d@1.0.0 "
         "d/node_modules/c@2.0.0 e@1.0.0 p@1.0.0 win@1.0.0! "},
        {"npm: a peer replaces a hoisted newer version all dependents accept (app-a)",
         {"a@1.0.0", "a@1.1.0", "b@1.0.0 a=1.0.0!", "app@1.0.0 a=^1.0.0 b=1.0.0"},
         "app=^1",
         "a@1.0.0 app@1.0.0 b@1.0.0 "},
        {"npm: a package stays where its peer resolves to a fitting version (app-b)",
         {"z@1.0.0", "z@2.0.0", "p@1.0.0 z=^2.0.0!", "m@1.0.0 z=^2.0.0 p=^1.0.0",
          "app@1.0.0 z=1.0.0 m=^1.0.0"},
         "app=^1",
         "app@1.0.0 m@1.0.0 m/node_modules/p@1.0.0 m/node_modules/z@2.0.0 z@1.0.0 "},
        {"npm: a peer set is placed as a group: a peer's peer blocks the hoist (app-g)",
         {"h@1.0.0", "h@2.0.0", "i@1.0.0 h=^2.0.0!", "g@1.0.0 i=^1.0.0!",
          "k@1.0.0 g=^1.0.0 h=^2.0.0", "app@1.0.0 h=1.0.0 k=^1.0.0"},
         "app=^1",
         "app@1.0.0 h@1.0.0 k@1.0.0 k/node_modules/g@1.0.0 k/node_modules/h@2.0.0 "
         "k/node_modules/i@1.0.0 "},
        {"npm: a peer the dependent's own version does not satisfy replaces it at the top; "
         "the dependent's copy nests (app-c)",
         {"c@1.0.0", "c@2.0.0", "g@1.0.0 c=^2.0.0!", "app@1.0.0 c=1.0.0 g=^1.0.0"},
         "app=^1",
         "app@1.0.0 app/node_modules/c@1.0.0 c@2.0.0 g@1.0.0 "},
        {"an optional peer is not installed, but its set is weighed: the version the "
         "tree already has is reused",
         {"x@1.0.0", "x@2.0.0", "w@1.0.0 x=^1.0.0~", "app@1.0.0 w=^1 x=^1"},
         "app=^1",
         "app@1.0.0 w@1.0.0 x@1.0.0 "},
        {"a cycle resolves to the copy above",
         {"a@1.0.0 b=^1", "b@1.0.0 a=^1"},
         "a=^1",
         "a@1.0.0 b@1.0.0 "},
        {"what only an inert optional package needs is inert too",
         {"-native@1.0.0 helper=^1", "helper@1.0.0", "app@1.0.0 native=^1?"},
         "app=^1",
         "app@1.0.0 helper@1.0.0! native@1.0.0! "},
};

static void test_table(void **state)
{
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const row_case *c = &cases[i];
                reg r;
                reg_load(&r, c);
                char rootdeps[160];
                snprintf(rootdeps, sizeof(rootdeps), "%s", c->root);
                npm_dep deps[8];
                npm_version root = {.name = "", .version = "0.0.0", .platform_ok = true,
                                    .deps = deps};
                root.n_deps = parse_deps(rootdeps, deps);
                npm_node *tree = NULL;
                corral_error err = {0};
                int rc = npm_tree_build(&tree, &root, pick, &r, 100, &err);
                if (rc != 0)
                        fail_msg("%s: %s", c->what, err.msg);
                char buf[2048] = "";
                npm_tree_walk(tree, dump, buf);
                if (strcmp(buf, c->want) != 0)
                        fail_msg("%s:\n  got  %s\n  want %s", c->what, buf, c->want);
                npm_tree_free(tree);
        }
}

static void test_limits(void **state)
{
        reg r;
        row_case c = {"", {"a@1.0.0 b=^1", "b@1.0.0 c=^1", "c@1.0.0"}, "", ""};
        reg_load(&r, &c);
        npm_dep deps[] = {{"a", "^1", NPM_DEP_PROD}};
        npm_version root = {.name = "", .version = "0.0.0", .platform_ok = true, .deps = deps,
                            .n_deps = 1};
        npm_node *tree = NULL;
        corral_error err = {0};
        /* The package cap. */
        assert_int_equal(npm_tree_build(&tree, &root, pick, &r, 2, &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, "more than 2 packages"));
        /* A missing non-optional dependency fails, naming it. */
        npm_dep bad[] = {{"nope", "^1", NPM_DEP_PROD}};
        root.deps = bad;
        corral_error_clear(&err);
        assert_int_equal(npm_tree_build(&tree, &root, pick, &r, 100, &err), -EX_NOINPUT);
        assert_non_null(strstr(err.msg, "nope"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
