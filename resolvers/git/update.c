/* `corral update NAME` for git servers: re-resolve the ref, reinstall at the
 * new commit when it moved. */
#include <string.h>

#include "corral/fs.h"
#include "corral/git.h"
#include "git_internal.h"

static void manifest_freep(manifest **m)
{
        manifest_free(*m);
}

static bool strv_same(char *const *a, char *const *b)
{
        size_t i;
        for (i = 0; a && b && a[i] && b[i]; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return (!a || !a[i]) && (!b || !b[i]);
}

/* Was m's command detected from its tree (then it follows the tree), or
 * given at install (then it stays)? */
static bool command_was_detected(store *s, const manifest *m, const source_spec *spec)
{
        _cleanup_free_ char *pkg = paths_pkg_dir(&s->paths, m->name);
        _cleanup_free_ char *dir = spec->subdir ? path_join(pkg, spec->subdir) : xstrdup(pkg);
        manifest *probe = manifest_new(m->name);
        strv_free(probe->command);
        probe->command = NULL;
        corral_error e = {0};
        bool same = git_detect_command(dir, "", probe, &e) == 0 &&
                    strv_same(probe->command, m->command);
        manifest_free(probe);
        return same;
}

int git_update(store *s, const char *name, bool progress, bool dry_run, char **ret_old,
               char **ret_new, manifest **ret, corral_error *err)
{
        _cleanup_(manifest_freep) manifest *m = NULL;
        _cleanup_(spec_done) source_spec spec = {0};
        int r = store_load(s, name, &m, err);
        if (r < 0)
                return r;
        if ((r = spec_parse(&spec, m->spec, false, err)) < 0)
                return r;
        if (spec.kind != SPEC_GIT)
                return corral_error_set(err, EX_SOFTWARE, "%s is not a git server", name);
        if (spec.version && strlen(spec.version) == 40 &&
            strspn(spec.version, "0123456789abcdef") == 40)
                return corral_error_set(err, EX_USAGE,
                                        "cannot update %s: its spec pins commit %s (reinstall "
                                        "with another spec to change it)",
                                        name, spec.version);
        _cleanup_free_ char *base = NULL;
        if ((r = git_github_base(&s->paths, &base, err)) < 0)
                return r;
        _cleanup_free_ char *url = spec_git_url(&spec, base);
        git_auth *auth = NULL;
        if ((r = git_auth_load(&s->paths, &auth, err)) < 0)
                return r;
        git_source_opts o = {.cache_dir = s->paths.cache, .progress = progress, .auth = auth};
        git_resolution res = {0};
        r = git_source_resolve(url, spec.version, &o, &res, err);
        git_auth_free(auth);
        if (r < 0)
                return r;
        free(res.ref);
        const char *old = m->resolved_commit ? m->resolved_commit : "";
        if (dry_run || strcmp(old, res.commit) == 0) {
                *ret_old = xstrdup(old);
                *ret_new = xstrdup(res.commit);
                if (ret)
                        *ret = steal_pointer(&m);
                return 0;
        }

        install_options opt = {.spec = m->spec,
                               .name = m->name,
                               .force = true,
                               .update_from = m,
                               .progress = progress ? INSTALL_PROGRESS_TTY
                                                    : INSTALL_PROGRESS_NONE};
        if (!command_was_detected(s, m, &spec))
                opt.command = m->command;
        manifest *fresh = NULL;
        if ((r = resolver_install(s, &opt, &fresh, err)) < 0)
                return r;
        *ret_old = xstrdup(old);
        *ret_new = xstrdup(fresh->resolved_commit ? fresh->resolved_commit : "");
        if (ret)
                *ret = fresh;
        else
                manifest_free(fresh);
        return 0;
}
