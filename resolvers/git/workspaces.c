/* npm workspaces in a git source: `REPO#SUBDIR` where the repository's root
 * package.json declares "workspaces" (the array form, or {"packages": [...]})
 * and SUBDIR is one of them — the shape of modelcontextprotocol/servers.
 *
 * As `npm install -w SUBDIR && npm run build -w SUBDIR` would: the
 * dependencies of the root, of the workspace and of the sibling workspaces it
 * depends on (transitively) are installed by corral's npm resolver into the
 * root's node_modules/, the siblings are linked there as
 * node_modules/NAME -> ../DIR, each of them with a "build" (else "prepare")
 * script is built inside the sandbox, dependencies first, and the
 * devDependencies are then pruned.  Patterns are plain directories or
 * globs without "**" and "!" (glob(3)); every match must stay inside the
 * tree.  A name installed by two of them with different ranges gets the
 * first one's range (the workspace's own first, then its siblings', then the
 * root's), where npm would nest a second copy. */
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/npm.h"
#include "corral/spec.h"
#include "corral/strbuf.h"
#include "git_internal.h"

#define MAX_PATTERNS 256
#define MAX_PATTERN_LEN 512
#define MAX_WORKSPACES 1000

typedef struct workspace {
        char *rel;  /* the directory, relative to the root, without "./" or "/" */
        char *name; /* package.json "name" */
        cJSON *pkg;
        bool needed;
        bool built;
} workspace;

typedef struct ws_set {
        workspace *v;
        size_t n;
} ws_set;

static void ws_set_done(ws_set *ws)
{
        for (size_t i = 0; i < ws->n; i++) {
                free(ws->v[i].rel);
                free(ws->v[i].name);
                cJSON_Delete(ws->v[i].pkg);
        }
        free(ws->v);
        *ws = (ws_set){0};
}

static workspace *ws_find(const ws_set *ws, const char *name)
{
        for (size_t i = 0; i < ws->n; i++)
                if (strcmp(ws->v[i].name, name) == 0)
                        return &ws->v[i];
        return NULL;
}

static bool ws_is_member(const char *name, void *ud)
{
        return ws_find(ud, name) != NULL;
}

static int check_pattern(const char *p, corral_error *err)
{
        if (strlen(p) > MAX_PATTERN_LEN || !*p)
                return corral_error_set(err, EX_DATAERR,
                                        "package.json: a \"workspaces\" pattern is empty or too "
                                        "long");
        if (p[0] == '/' || p[0] == '!' || strstr(p, "**"))
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "package.json: workspace pattern '%s' is not supported "
                                        "(absolute, negated and \"**\" patterns are not)",
                                        p);
        for (const char *c = p; *c;) {
                size_t n = strcspn(c, "/");
                if (n == 2 && c[0] == '.' && c[1] == '.')
                        return corral_error_set(err, EX_DATAERR,
                                                "package.json: workspace pattern '%s' leaves the "
                                                "repository",
                                                p);
                c += n;
                c += *c == '/';
        }
        return 0;
}

/* rel of an absolute path under root_real ("" for the root itself), or NULL
 * when it resolves outside (a symlink in the tree). */
static char *rel_inside(const char *root_real, const char *path)
{
        char real[PATH_MAX];
        if (!realpath(path, real))
                return NULL;
        size_t n = strlen(root_real);
        if (strncmp(real, root_real, n) != 0 || (real[n] != '/' && real[n] != '\0'))
                return NULL;
        return xstrdup(real[n] == '/' ? real + n + 1 : real + n);
}

static int add_match(ws_set *ws, const char *root, const char *root_real, const char *path,
                     corral_error *err)
{
        _cleanup_free_ char *rel = rel_inside(root_real, path);
        if (!rel)
                return corral_error_set(err, EX_DATAERR,
                                        "workspace %s resolves outside the repository",
                                        path + strlen(root) + 1);
        if (!*rel)
                return 0; /* the root itself is not a workspace */
        for (size_t i = 0; i < ws->n; i++)
                if (strcmp(ws->v[i].rel, rel) == 0)
                        return 0;
        int r;
        cJSON *pkg = git_read_package_json(path, err, &r);
        if (r < 0)
                return r;
        if (!pkg)
                return 0; /* npm skips a match without package.json */
        const char *name = json_get_string(pkg, "name");
        if (!name || !spec_npm_name_valid(name)) {
                cJSON_Delete(pkg);
                return corral_error_set(err, EX_DATAERR,
                                        "workspace %s: package.json has no valid \"name\"", rel);
        }
        if (ws_find(ws, name)) {
                r = corral_error_set(err, EX_DATAERR, "workspaces: two packages are named '%s'",
                                     name);
                cJSON_Delete(pkg);
                return r;
        }
        if (ws->n >= MAX_WORKSPACES) {
                cJSON_Delete(pkg);
                return corral_error_set(err, EX_DATAERR, "more than %u workspaces",
                                        MAX_WORKSPACES);
        }
        ws->v = xrealloc(ws->v, (ws->n + 1) * sizeof(*ws->v));
        ws->v[ws->n++] = (workspace){.rel = steal_pointer(&rel), .name = xstrdup(name),
                                     .pkg = pkg};
        return 0;
}

/* The root package.json's workspaces, expanded; 0 with none declared. */
static int ws_load(const char *root, const cJSON *root_pkg, ws_set *ws, corral_error *err)
{
        const cJSON *decl = cJSON_GetObjectItemCaseSensitive(root_pkg, "workspaces");
        if (cJSON_IsObject(decl))
                decl = cJSON_GetObjectItemCaseSensitive(decl, "packages");
        if (!decl)
                return 0;
        if (!cJSON_IsArray(decl) || cJSON_GetArraySize(decl) > MAX_PATTERNS)
                return corral_error_set(err, EX_DATAERR,
                                        "package.json: \"workspaces\" must be an array of at "
                                        "most %u patterns",
                                        MAX_PATTERNS);
        char root_real[PATH_MAX];
        if (!realpath(root, root_real))
                return corral_error_errno(err, EX_IOERR, errno, "cannot resolve %s", root);
        const cJSON *e;
        cJSON_ArrayForEach(e, decl)
        {
                if (!cJSON_IsString(e))
                        return corral_error_set(err, EX_DATAERR,
                                                "package.json: \"workspaces\" holds a non-string");
                int r = check_pattern(e->valuestring, err);
                if (r < 0)
                        return r;
                _cleanup_free_ char *full = path_join(root, e->valuestring);
                glob_t g = {0};
                int gr = glob(full, GLOB_ONLYDIR | GLOB_NOESCAPE, NULL, &g);
                if (gr == GLOB_NOSPACE) {
                        globfree(&g);
                        return corral_error_set(err, EX_OSERR, "out of memory");
                }
                for (size_t i = 0; gr == 0 && i < g.gl_pathc && r >= 0; i++)
                        r = add_match(ws, root, root_real, g.gl_pathv[i], err);
                globfree(&g);
                if (r < 0)
                        return r;
        }
        return 0;
}

static char *ws_list(const ws_set *ws)
{
        strbuf b = STRBUF_INIT(4096);
        for (size_t i = 0; i < ws->n && i < 20; i++)
                (void)strbuf_appendf(&b, "%s%s", i ? ", " : "", ws->v[i].rel);
        if (ws->n > 20)
                (void)strbuf_appendf(&b, ", …");
        char *list = strbuf_steal(&b);
        return list ? list : xstrdup("none");
}

int git_workspaces_refuse_root(const char *root, const cJSON *root_pkg, corral_error *err)
{
        ws_set ws = {0};
        int r = ws_load(root, root_pkg, &ws, err);
        if (r >= 0) {
                _cleanup_free_ char *list = ws_list(&ws);
                r = corral_error_set(err, EX_USAGE,
                                     "the repository is an npm workspaces root: name the server "
                                     "with #SUBDIR (workspaces: %s)",
                                     list);
        }
        ws_set_done(&ws);
        return r;
}

/* Marks the workspaces w depends on, and theirs. */
static void ws_mark(ws_set *ws, workspace *w, unsigned depth)
{
        static const char *const keys[] = {"dependencies", "optionalDependencies",
                                           "devDependencies"};
        if (w->needed || depth > MAX_WORKSPACES)
                return;
        w->needed = true;
        for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
                const cJSON *e;
                cJSON_ArrayForEach(e, json_get_object(w->pkg, keys[k]))
                {
                        workspace *d = ws_find(ws, e->string);
                        if (d)
                                ws_mark(ws, d, depth + 1);
                }
        }
}

static int ws_collect_deps(const ws_set *ws, const workspace *target, const cJSON *root_pkg,
                           bool dev, npm_dep **deps, size_t *n, corral_error *err)
{
        int r = git_package_deps(target->pkg, dev, ws_is_member, (void *)ws, deps, n, err);
        for (size_t i = 0; r >= 0 && i < ws->n; i++)
                if (ws->v[i].needed && &ws->v[i] != target)
                        r = git_package_deps(ws->v[i].pkg, dev, ws_is_member, (void *)ws, deps,
                                             n, err);
        if (r >= 0)
                r = git_package_deps(root_pkg, dev, ws_is_member, (void *)ws, deps, n, err);
        return r;
}

/* node_modules/NAME -> ../REL for every needed workspace. */
static int ws_link(const char *root, const ws_set *ws, corral_error *err)
{
        for (size_t i = 0; i < ws->n; i++) {
                const workspace *w = &ws->v[i];
                if (!w->needed)
                        continue;
                _cleanup_free_ char *link = xasprintf("%s/node_modules/%s", root, w->name);
                _cleanup_free_ char *parent = xstrdup(link);
                *strrchr(parent, '/') = '\0';
                bool scoped = w->name[0] == '@';
                _cleanup_free_ char *target = xasprintf("%s%s", scoped ? "../../" : "../", w->rel);
                (void)rm_rf(link);
                if (mkdir_p(parent, 0755) < 0 || symlink(target, link) < 0)
                        return corral_error_errno(err, EX_CANTCREAT, errno,
                                                  "cannot link workspace %s", w->name);
        }
        return 0;
}

/* Builds w after the workspaces it depends on. */
static int ws_build_one(store *s, const install_options *opt, const char *root, ws_set *ws,
                        workspace *w, const manifest *m, unsigned depth, corral_error *err)
{
        static const char *const keys[] = {"dependencies", "optionalDependencies",
                                           "devDependencies"};
        if (w->built || depth > MAX_WORKSPACES)
                return 0;
        w->built = true;
        for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
                const cJSON *e;
                cJSON_ArrayForEach(e, json_get_object(w->pkg, keys[k]))
                {
                        workspace *d = ws_find(ws, e->string);
                        int r = d ? ws_build_one(s, opt, root, ws, d, m, depth + 1, err) : 0;
                        if (r < 0)
                                return r;
                }
        }
        const char *script = NULL;
        const char *event = git_build_event(w->pkg, &script, err);
        if (!event)
                return -EX_DATAERR;
        if (!script)
                return 0;
        _cleanup_free_ char *dir = path_join(root, w->rel);
        return git_run_script(s, opt, root, dir, w->pkg, event, script, m, err);
}

static int ws_install(store *s, const install_options *opt, const char *root, const ws_set *ws,
                      const npm_dep *deps, size_t n, manifest *m, corral_error *err)
{
        int r = n > 0 ? npm_install_dependencies(s, opt, root, deps, n, m, err) : 0;
        return r < 0 ? r : ws_link(root, ws, err);
}

int git_workspaces_build(store *s, const install_options *opt, const char *root,
                         const char *subdir, manifest *m, corral_error *err)
{
        int r;
        _cleanup_json_ cJSON *root_pkg = git_read_package_json(root, err, &r);
        if (r < 0 || !root_pkg || !cJSON_GetObjectItemCaseSensitive(root_pkg, "workspaces"))
                return r;
        ws_set ws = {0};
        _cleanup_free_ npm_dep *deps = NULL, *prod = NULL;
        size_t n_deps = 0, n_prod = 0;
        _cleanup_free_ char *want = xstrdup(subdir);
        _cleanup_free_ char *nm = path_join(root, "node_modules");
        if ((r = ws_load(root, root_pkg, &ws, err)) < 0)
                goto out;
        for (size_t l = strlen(want); l > 0 && want[l - 1] == '/'; l--)
                want[l - 1] = '\0';
        const char *w = strncmp(want, "./", 2) == 0 ? want + 2 : want;
        workspace *target = NULL;
        for (size_t i = 0; i < ws.n && !target; i++)
                if (strcmp(ws.v[i].rel, w) == 0)
                        target = &ws.v[i];
        if (!target) {
                r = 0; /* a directory outside the workspaces installs on its own */
                goto out;
        }
        ws_mark(&ws, target, 0);
        bool building = false;
        for (size_t i = 0; i < ws.n; i++) {
                const char *script = NULL;
                if (ws.v[i].needed && !git_build_event(ws.v[i].pkg, &script, err)) {
                        r = -EX_DATAERR;
                        goto out;
                }
                building |= ws.v[i].needed && script;
        }
        if ((r = ws_collect_deps(&ws, target, root_pkg, building, &deps, &n_deps, err)) < 0 ||
            (r = ws_collect_deps(&ws, target, root_pkg, false, &prod, &n_prod, err)) < 0)
                goto out;

        /* node_modules/ committed to the repository are not trusted. */
        (void)rm_rf(nm);
        for (size_t i = 0; i < ws.n; i++)
                if (ws.v[i].needed) {
                        _cleanup_free_ char *wnm = xasprintf("%s/%s/node_modules", root,
                                                             ws.v[i].rel);
                        (void)rm_rf(wnm);
                }
        if ((r = ws_install(s, opt, root, &ws, deps, n_deps, m, err)) < 0)
                goto out;
        if (building) {
                if (n_deps > 0 && (r = npm_unshare_tree(root, err)) < 0)
                        goto out;
                if ((r = ws_build_one(s, opt, root, &ws, target, m, 0, err)) < 0)
                        goto out;
                if (n_deps > n_prod) {
                        (void)rm_rf(nm);
                        if ((r = ws_install(s, opt, root, &ws, prod, n_prod, m, err)) < 0)
                                goto out;
                }
        }
        r = 1;
out:
        ws_set_done(&ws);
        return r;
}
