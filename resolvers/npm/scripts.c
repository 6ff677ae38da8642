/* npm lifecycle scripts with --allow-scripts (issue 14): preinstall,
 * install and postinstall (and `node-gyp rebuild` for a package with a
 * binding.gyp and no install script, as npm does) of every package of the
 * installed tree, run inside corral-sandbox with the build policy of
 * include/corral/build.h: no network, the tree writable, the host compiler
 * and node headers read-only.  Deepest packages first, so a package's
 * dependencies are built before it.  The tree's files are un-shared from
 * the unpacked cache first, so a script can never write into the cache. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corral/build.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/npm.h"

#define PACKAGE_JSON_MAX (1u << 20)
#define SCRIPT_MAX 8192

/* npm's own node-gyp (bundled with npm), found beside the npm on PATH. */
static const char *const gyp_bins[] = {
        "/usr/lib/node_modules/npm/bin/node-gyp-bin",
        "/usr/local/lib/node_modules/npm/bin/node-gyp-bin",
        "/usr/share/nodejs/npm/bin/node-gyp-bin",
};

static int unshare_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
        (void)f;
        if (flag != FTW_F || !S_ISREG(st->st_mode) || st->st_nlink < 2)
                return 0;
        _cleanup_free_ char *tmp = xasprintf("%s.corral-copy", p);
        _cleanup_close_ int in = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int out =
                open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 0755);
        if (in < 0 || out < 0)
                return -1;
        char buf[65536];
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 || (n > 0 && write_all(out, buf, (size_t)n) < 0)) {
                        (void)unlink(tmp);
                        return -1;
                }
                if (n == 0)
                        break;
        }
        if (rename(tmp, p) < 0) {
                (void)unlink(tmp);
                return -1;
        }
        return 0;
}

int npm_unshare_tree(const char *dir, corral_error *err)
{
        if (nftw(dir, unshare_one, 32, FTW_PHYS | FTW_MOUNT) != 0)
                return corral_error_errno(err, EX_CANTCREAT, errno,
                                          "cannot copy %s out of the package cache", dir);
        return 0;
}

static unsigned depth_of(const char *path)
{
        unsigned d = 0;
        for (const char *q = strstr(path, "node_modules/"); q; q = strstr(q + 1, "node_modules/"))
                d++;
        return d;
}

static int run_one(const char *name, const char *pkg_dir, const char *path, const char *event,
                   const char *script, const cJSON *pj, const install_options *opt,
                   const char *log, corral_error *err)
{
        _cleanup_free_ char *dir = path_join(pkg_dir, path);
        _cleanup_free_ char *staging = xstrdup(pkg_dir);
        char *slash = strrchr(staging, '/');
        if (slash)
                *slash = '\0';
        _cleanup_free_ char *home = path_join(staging, "build-home");
        const char *pname = json_get_string(pj, "name");
        const char *pver = json_get_string(pj, "version");
        _cleanup_free_ char *what = xasprintf("%s script of %s@%s", event, pname ? pname : path,
                                              pver ? pver : "?");
        _cleanup_free_ char *ev = xasprintf("npm_lifecycle_event=%s", event);
        _cleanup_free_ char *en = xasprintf("npm_package_name=%s", pname ? pname : "");
        _cleanup_free_ char *evr = xasprintf("npm_package_version=%s", pver ? pver : "");
        const char *gyp = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(gyp_bins) && !gyp; i++)
                if (dir_exists(gyp_bins[i]))
                        gyp = gyp_bins[i];
        /* Packages' own bins, then npm's node-gyp, then the system. */
        _cleanup_free_ char *pathv = xasprintf("PATH=%s/node_modules/.bin:%s/node_modules/.bin:%s%s"
                                               "/usr/local/bin:/usr/bin:/bin",
                                               dir, pkg_dir, gyp ? gyp : "", gyp ? ":" : "");
        char *env[] = {ev, en, evr, pathv,
                       /* node headers of the host's node: never downloaded */
                       (char *)"npm_config_nodedir=/usr", (char *)"npm_config_build_from_source=true",
                       NULL};
        char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)script, NULL};
        build_step st = {.name = name,
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
        return r;
}

int npm_scripts_run(store *s, const install_options *opt, const char *pkg_dir, const manifest *m,
                    char ***ret_ran, corral_error *err)
{
        int r = npm_unshare_tree(pkg_dir, err);
        if (r < 0)
                return r;
        /* Deepest first; a stable order among equals (the lock's). */
        size_t n = m->n_lock;
        size_t *order = xcalloc(n ? n : 1, sizeof(*order));
        for (size_t i = 0; i < n; i++)
                order[i] = i;
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && depth_of(m->lock[order[j]].path) >
                                                    depth_of(m->lock[order[j - 1]].path);
                     j--) {
                        size_t t = order[j];
                        order[j] = order[j - 1];
                        order[j - 1] = t;
                }
        _cleanup_free_ char *log = paths_log_file(&s->paths, m->name);
        char **ran = NULL;
        for (size_t k = 0; r >= 0 && k < n; k++) {
                const manifest_lock_entry *e = &m->lock[order[k]];
                if (!e->path)
                        continue;
                _cleanup_free_ char *dir = path_join(pkg_dir, e->path);
                _cleanup_free_ char *pjp = path_join(dir, "package.json");
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                if (read_file(pjp, PACKAGE_JSON_MAX, &text, &len) < 0)
                        continue;
                _cleanup_json_ cJSON *pj = cJSON_ParseWithLength(text, len);
                const cJSON *scripts = json_get_object(pj, "scripts");
                _cleanup_free_ char *gyp = path_join(dir, "binding.gyp");
                static const char *const events[] = {"preinstall", "install", "postinstall"};
                bool any = false;
                for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(events); i++) {
                        const char *script = json_get_string(scripts, events[i]);
                        if (!script && strcmp(events[i], "install") == 0 && path_exists(gyp))
                                script = "node-gyp rebuild";
                        if (!script)
                                continue;
                        if (strlen(script) > SCRIPT_MAX)
                                r = corral_error_set(err, EX_DATAERR,
                                                     "the %s script of %s is too long", events[i],
                                                     e->name);
                        else
                                r = run_one(m->name, pkg_dir, e->path, events[i], script, pj, opt,
                                            log, err);
                        any = true;
                }
                if (any && r >= 0) {
                        _cleanup_free_ char *label = xasprintf("%s@%s", e->name, e->version);
                        ran = strv_push(ran, label);
                }
        }
        free(order);
        if (r >= 0)
                r = build_check_tree(pkg_dir, err);
        if (r < 0) {
                strv_free(ran);
                return r;
        }
        if (ran && opt->progress != INSTALL_PROGRESS_JSON) {
                fprintf(stderr, "corral: install: install scripts run in the sandbox:");
                for (size_t i = 0; ran[i]; i++)
                        fprintf(stderr, " %s", ran[i]);
                fputc('\n', stderr);
        }
        *ret_ran = ran;
        return 0;
}
