/* The git resolver: spec → clone URL → mirror → commit → pkg/ → command.
 * Builds of the checked-out tree happen in resolvers/build.c, inside the
 * sandbox. */
#include <string.h>
#include <unistd.h>

#include "corral/build.h"
#include "corral/config.h"
#include "corral/cache.h"
#include "corral/fs.h"
#include "corral/git.h"
#include "corral/jsonutil.h"
#include "corral/npm.h"
#include "git_internal.h"

#define PACKAGE_JSON_MAX (1u << 20)
#define DEFAULT_GITHUB "https://github.com"

int git_github_base(const corral_paths *paths, char **ret, corral_error *err)
{
        const char *env = getenv("CORRAL_GITHUB_URL");
        if (env && *env) {
                *ret = xstrdup(env);
                return 0;
        }
        _cleanup_json_ cJSON *config = NULL;
        int r = config_load(paths, &config, err);
        if (r < 0)
                return r;
        const cJSON *v = config ? cJSON_GetObjectItemCaseSensitive(config, "github_url") : NULL;
        if (v && (!cJSON_IsString(v) || !v->valuestring[0]))
                return corral_error_set(err, EX_CONFIG, "%s: \"github_url\" must be a URL string",
                                        paths->config);
        *ret = xstrdup(v ? v->valuestring : DEFAULT_GITHUB);
        return 0;
}

/* Transports corral fetches from; ssh needs keys and agents it does not
 * handle, ext:: runs programs. */
static int check_url(const char *url, corral_error *err)
{
        static const char *const ok[] = {"https://", "http://", "git://", "file://"};
        const char *p = strstr(url, "://");
        if (p) {
                size_t hl = strcspn(p + 3, "/?#");
                const char *at = memchr(p + 3, '@', hl);
                if (at && memchr(p + 3, ':', (size_t)(at - p - 3)))
                        return corral_error_set(err, EX_USAGE,
                                                "refusing a git URL with a password: credentials "
                                                "would be recorded in the manifest");
        }
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
                if (strncmp(url, ok[i], strlen(ok[i])) == 0)
                        return 0;
        return corral_error_set(err, EX_UNAVAILABLE,
                                "git over ssh is not supported: use an https:// or git:// URL");
}

static void manifest_freep(manifest **m)
{
        manifest_free(*m);
}

cJSON *git_read_package_json(const char *dir, corral_error *err, int *rc)
{
        _cleanup_free_ char *path = path_join(dir, "package.json");
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        *rc = 0;
        int r = read_file(path, PACKAGE_JSON_MAX, &text, &len);
        if (r == -ENOENT)
                return NULL;
        if (r < 0) {
                *rc = corral_error_errno(err, EX_DATAERR, -r, "cannot read %s", path);
                return NULL;
        }
        cJSON *j = cJSON_ParseWithLength(text, len);
        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                *rc = corral_error_set(err, EX_DATAERR, "%s is not a JSON object", path);
        }
        return j;
}

static bool has_file(const char *dir, const char *name)
{
        _cleanup_free_ char *p = path_join(dir, name);
        return path_exists(p);
}

int git_detect_command(const char *dir, const char *where, manifest *m, corral_error *err)
{
        int r;
        _cleanup_json_ cJSON *pkg = git_read_package_json(dir, err, &r);
        if (r < 0)
                return r;
        if (pkg) {
                _cleanup_free_ char *bin = NULL;
                _cleanup_free_ char *path = NULL;
                resolver_bin b = resolver_pick_bin(pkg, NULL, &bin);
                if (b == RESOLVER_BIN_AMBIGUOUS)
                        return corral_error_set(err, EX_USAGE,
                                                "%s/package.json has several bins (%s): pass -- "
                                                "CMD ARGS",
                                                where, bin);
                const char *main_ = json_get_string(pkg, "main");
                if (b == RESOLVER_BIN_ONE)
                        path = resolver_bin_path(bin);
                else if (main_)
                        path = resolver_bin_path(main_);
                if (path) {
                        strv_free(m->command);
                        m->command = xcalloc(3, sizeof(char *));
                        m->command[0] = xstrdup("node");
                        m->command[1] = steal_pointer(&path);
                        const char *v = json_get_string(pkg, "version");
                        if (v && strlen(v) < 256 && !m->resolved_version)
                                m->resolved_version = xstrdup(v);
                        return 0;
                }
                return corral_error_set(err, EX_USAGE,
                                        "%s/package.json has neither \"bin\" nor \"main\": pass -- "
                                        "CMD ARGS",
                                        where);
        }
        static const char *const others[] = {"pyproject.toml", "setup.py", "go.mod",
                                             "Cargo.toml"};
        for (size_t i = 0; i < ARRAY_SIZE(others); i++)
                if (has_file(dir, others[i]))
                        return corral_error_set(err, EX_UNAVAILABLE,
                                                "%s has %s: building that kind of project is not "
                                                "supported yet (pass -- CMD ARGS to install the "
                                                "tree as it is)",
                                                where, others[i]);
        return corral_error_set(err, EX_USAGE,
                                "%s has no package.json: pass -- CMD ARGS to say how to run it",
                                where);
}

#define MAX_ROOT_DEPS 2000

int git_package_deps(const cJSON *pkg, bool dev, bool (*skip)(const char *name, void *ud),
                     void *ud, npm_dep **deps, size_t *n, corral_error *err)
{
        static const struct {
                const char *key;
                npm_dep_kind kind;
                bool dev;
        } keys[] = {{"dependencies", NPM_DEP_PROD, false},
                    {"optionalDependencies", NPM_DEP_OPTIONAL, false},
                    {"devDependencies", NPM_DEP_PROD, true}};
        for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
                if (keys[k].dev && !dev)
                        continue;
                const cJSON *e;
                cJSON_ArrayForEach(e, json_get_object(pkg, keys[k].key))
                {
                        bool dup = false;
                        for (size_t i = 0; i < *n; i++)
                                dup |= strcmp((*deps)[i].name, e->string) == 0;
                        if (dup || (skip && skip(e->string, ud)))
                                continue;
                        if (!cJSON_IsString(e) || !spec_npm_name_valid(e->string) ||
                            *n >= MAX_ROOT_DEPS)
                                return corral_error_set(err, EX_DATAERR,
                                                        "package.json: bad or too many %s",
                                                        keys[k].key);
                        *deps = xrealloc(*deps, (*n + 1) * sizeof(**deps));
                        (*deps)[(*n)++] = (npm_dep){.name = e->string, .range = e->valuestring,
                                                    .kind = keys[k].kind};
                }
        }
        return 0;
}

const char *git_build_event(const cJSON *pkg, const char **ret_script, corral_error *err)
{
        const cJSON *scripts = json_get_object(pkg, "scripts");
        const char *event = json_get_string(scripts, "build") ? "build" : "prepare";
        const char *script = json_get_string(scripts, event);
        *ret_script = script;
        if (script && strlen(script) > 8192) {
                corral_error_set(err, EX_DATAERR, "the %s script is too long", event);
                return NULL;
        }
        return event;
}

int git_run_script(store *s, const install_options *opt, const char *pkg_dir, const char *dir,
                   const cJSON *pkg, const char *event, const char *script, const manifest *m,
                   corral_error *err)
{
        _cleanup_free_ char *staging = xstrdup(pkg_dir);
        char *slash = strrchr(staging, '/');
        if (slash)
                *slash = '\0';
        _cleanup_free_ char *home = path_join(staging, "build-home");
        _cleanup_free_ char *log = paths_log_file(&s->paths, m->name);
        const char *pname = json_get_string(pkg, "name");
        const char *pver = json_get_string(pkg, "version");
        _cleanup_free_ char *what = strcmp(dir, pkg_dir) == 0
                                            ? xasprintf("%s script", event)
                                            : xasprintf("%s script of %s", event,
                                                        pname ? pname : "a workspace");
        _cleanup_free_ char *ev = xasprintf("npm_lifecycle_event=%s", event);
        _cleanup_free_ char *en = xasprintf("npm_package_name=%s", pname ? pname : "");
        _cleanup_free_ char *evr = xasprintf("npm_package_version=%s", pver ? pver : "");
        char *env[] = {ev, en, evr, NULL};
        char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)script, NULL};
        build_step st = {.name = m->name,
                         .tree = pkg_dir,
                         .cwd = dir,
                         .home = home,
                         .argv = argv,
                         .env = env,
                         .log_path = log,
                         .what = what,
                         .progress = opt->progress == INSTALL_PROGRESS_TTY};
        int r = build_run(&st, err);
        (void)rm_rf(home);
        if (r < 0)
                return r;
        return build_check_tree(pkg_dir, err);
}

/* package.json's dependencies (with devDependencies when there is a build)
 * installed by corral's npm resolver, then the "build" script (else
 * "prepare") run with `sh -c` as npm runs scripts, inside the sandbox
 * (include/corral/build.h), then devDependencies pruned by installing the
 * production dependencies alone. */
static int git_build(store *s, const install_options *opt, const char *dir, const char *pkg_dir,
                     manifest *m, corral_error *err)
{
        int r;
        _cleanup_json_ cJSON *pkg = git_read_package_json(dir, err, &r);
        if (r < 0 || !pkg)
                return r;
        if (cJSON_GetObjectItemCaseSensitive(pkg, "workspaces"))
                return git_workspaces_refuse_root(dir, pkg, err);
        const char *script = NULL;
        const char *event = git_build_event(pkg, &script, err);
        if (!event)
                return -EX_DATAERR;
        _cleanup_free_ npm_dep *deps = NULL;
        size_t n_deps = 0, n_prod = 0;
        _cleanup_free_ npm_dep *prod = NULL;
        if ((r = git_package_deps(pkg, script != NULL, NULL, NULL, &deps, &n_deps, err)) < 0 ||
            (r = git_package_deps(pkg, false, NULL, NULL, &prod, &n_prod, err)) < 0)
                return r;
        _cleanup_free_ char *nm = path_join(dir, "node_modules");
        if (n_deps > 0 || path_exists(nm)) {
                /* A node_modules/ committed to the repository is not trusted. */
                (void)rm_rf(nm);
        }
        if (n_deps > 0 && (r = npm_install_dependencies(s, opt, dir, deps, n_deps, m, err)) < 0)
                return r;
        if (!script)
                return 0;
        if (n_deps > 0 && (r = npm_unshare_tree(dir, err)) < 0)
                return r;
        if ((r = git_run_script(s, opt, pkg_dir, dir, pkg, event, script, m, err)) < 0)
                return r;
        if (n_deps > n_prod) {
                /* Prune: the production tree alone (hard-linked from the
                 * cache again, as npm installs are). */
                (void)rm_rf(nm);
                r = npm_install_dependencies(s, opt, dir, prod, n_prod, m, err);
        }
        return r;
}

int resolver_git_fetch(store *s, const install_options *opt, const source_spec *spec,
                       const char *pkg_dir, manifest *m, corral_error *err)
{
        _cleanup_free_ char *base = NULL;
        int r = git_github_base(&s->paths, &base, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *url = spec_git_url(spec, base);
        if ((r = check_url(url, err)) < 0)
                return r;

        _cleanup_(git_auth_freep) git_auth *auth = NULL;
        if ((r = git_auth_load(&s->paths, &auth, err)) < 0)
                return r;
        git_source_opts o = {.cache_dir = s->paths.cache,
                             .offline = opt->offline,
                             .submodules = opt->submodules,
                             .progress = opt->progress == INSTALL_PROGRESS_TTY,
                             .auth = auth};
        const char *ref = spec->version;
        _cleanup_(manifest_freep) manifest *old = NULL;
        if (opt->frozen) {
                r = store_load(s, m->name, &old, err);
                if (r < 0)
                        return r == -EX_NOINPUT
                                       ? corral_error_set(err, EX_USAGE,
                                                          "--frozen: '%s' is not installed, so "
                                                          "there is no commit to reinstall",
                                                          m->name)
                                       : r;
                if (!old->resolved_commit || !old->kind || strcmp(old->kind, "git") != 0)
                        return corral_error_set(err, EX_USAGE, "--frozen: '%s' has no git commit",
                                                m->name);
                ref = old->resolved_commit;
        }
        git_resolution res = {0};
        _cleanup_free_ char *dir = NULL;
        _cleanup_free_ char *mirror = git_mirror_path(o.cache_dir, url);
        bool had_mirror = dir_exists(mirror);
        r = git_source_resolve(url, ref, &o, &res, err);
        if (!had_mirror && dir_exists(mirror))
                cache_txn_add(s->cache_txn, CACHE_GIT, mirror);
        else if (r >= 0)
                cache_touch(mirror); /* its LRU stamp */
        if (r < 0)
                return r;
        r = git_source_checkout(url, res.commit, pkg_dir, &o, err);
        if (r < 0)
                goto out;

        free(m->resolved_url);
        m->resolved_url = git_url_display(url);
        free(m->resolved_commit);
        m->resolved_commit = xstrdup(res.commit);
        free(m->resolved_version);
        m->resolved_version = xstrdup(old && old->resolved_version ? old->resolved_version
                                                                   : res.ref);

        dir = spec->subdir ? path_join(pkg_dir, spec->subdir) : xstrdup(pkg_dir);
        if (spec->subdir) {
                if (!dir_exists(dir)) {
                        r = corral_error_set(err, EX_NOINPUT, "no directory '%s' at %s",
                                             spec->subdir, res.commit);
                        goto out;
                }
                free(m->cwd);
                m->cwd = path_join("pkg", spec->subdir);
        }
        if (!opt->command) {
                /* #SUBDIR naming a package of the root's npm workspaces. */
                r = spec->subdir ? git_workspaces_build(s, opt, pkg_dir, spec->subdir, m, err) : 0;
                if (r == 0 && has_file(dir, "Dockerfile") && !has_file(dir, "package.json"))
                        r = git_dockerfile_build(s, opt, dir, pkg_dir, m, err);
                if (r == 0)
                        r = git_build(s, opt, dir, pkg_dir, m, err);
                if (r < 0)
                        goto out;
        }
        if (opt->command) {
                strv_free(m->command);
                m->command = strv_copy(opt->command);
        } else if (!m->command || !m->command[0]) {
                strv_free(m->command);
                m->command = NULL;
                r = git_detect_command(dir, spec->subdir ? spec->subdir : "the repository", m,
                                       err);
                if (r < 0)
                        goto out;
        }
        r = 0;
out:
        free(res.ref);
        return r;
}
