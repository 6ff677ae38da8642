/* Where corral keeps things (DESIGN.md, "Paths"). */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/paths.h"

/* sun_path holds 108 bytes including the terminating NUL. */
#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define ROOT_MAX 4000
#define SYSTEM_RUN "/run/corral"

/* Lexically normalised absolute form of a path that may not exist yet
 * (realpath(3) needs it to exist): "." and empty components dropped, ".."
 * pops one.  NULL when the cwd cannot be read. */
static char *absolute_lexical(const char *path)
{
        _cleanup_free_ char *joined = NULL;

        if (path[0] == '/') {
                joined = xstrdup(path);
        } else {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd)
                        return NULL;
                joined = xasprintf("%s/%s", cwd, path);
        }

        size_t n = strlen(joined);
        char *out = xmalloc(n + 2);
        size_t len = 0;
        const char *p = joined;
        while (*p) {
                while (*p == '/')
                        p++;
                const char *start = p;
                while (*p && *p != '/')
                        p++;
                size_t clen = (size_t)(p - start);
                if (clen == 0 || (clen == 1 && start[0] == '.'))
                        continue;
                if (clen == 2 && start[0] == '.' && start[1] == '.') {
                        while (len > 0 && out[len - 1] != '/')
                                len--;
                        if (len > 0)
                                len--; /* the '/' before the popped component */
                        continue;
                }
                out[len++] = '/';
                memcpy(out + len, start, clen);
                len += clen;
        }
        if (len == 0)
                out[len++] = '/';
        out[len] = '\0';
        return out;
}

/* An XDG base directory: the variable when set to an absolute path (the XDG
 * spec says relative values are to be ignored), else HOME/fallback. */
static char *xdg_dir(const char *var, const char *home, const char *fallback)
{
        const char *v = getenv(var);
        if (v && v[0] == '/')
                return xstrdup(v);
        return xasprintf("%s/%s", home, fallback);
}

static int fill_root(corral_paths *p, const char *root, const char *origin, corral_error *err)
{
        if (root[0] == '\0')
                return corral_error_set(err, EX_CONFIG, "%s: empty root directory", origin);
        if (strlen(root) > ROOT_MAX)
                return corral_error_set(err, EX_CONFIG, "%s: root directory path too long", origin);
        _cleanup_free_ char *abs = absolute_lexical(root);
        if (!abs)
                return corral_error_errno(err, EX_CONFIG, errno, "%s: cannot make '%s' absolute",
                                          origin, root);
        /* "/" as root would put servers/ and etc/ at the top of the filesystem. */
        if (strcmp(abs, "/") == 0)
                return corral_error_set(err, EX_CONFIG, "%s: '/' cannot be the root directory",
                                        origin);
        p->mode = PATHS_ROOT;
        p->config = xasprintf("%s/etc/corral.json", abs);
        p->servers = xasprintf("%s/servers", abs);
        p->data = xasprintf("%s/data", abs);
        p->staging = xasprintf("%s/staging", abs);
        p->cache = xasprintf("%s/cache", abs);
        p->log = xasprintf("%s/log", abs);
        p->run = xasprintf("%s/run", abs);
        return 0;
}

static void fill_system(corral_paths *p)
{
        p->mode = PATHS_SYSTEM;
        p->config = xstrdup("/etc/corral/corral.json");
        p->servers = xstrdup("/var/lib/corral/servers");
        p->data = xstrdup("/var/lib/corral/data");
        p->staging = xstrdup("/var/lib/corral/staging");
        p->cache = xstrdup("/var/cache/corral");
        p->log = xstrdup("/var/log/corral");
        p->run = xstrdup(SYSTEM_RUN);
}

static int fill_user(corral_paths *p, corral_error *err)
{
        const char *home = getenv("HOME");
        if (!home || home[0] != '/') {
                struct passwd *pw = getpwuid(getuid());
                home = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
        }
        if (!home)
                return corral_error_set(err, EX_CONFIG,
                                        "cannot find the user directories: HOME is not set "
                                        "(use --root DIR)");

        _cleanup_free_ char *config = xdg_dir("XDG_CONFIG_HOME", home, ".config");
        _cleanup_free_ char *data = xdg_dir("XDG_DATA_HOME", home, ".local/share");
        _cleanup_free_ char *cache = xdg_dir("XDG_CACHE_HOME", home, ".cache");
        _cleanup_free_ char *state = xdg_dir("XDG_STATE_HOME", home, ".local/state");
        const char *runtime = getenv("XDG_RUNTIME_DIR");

        p->mode = PATHS_USER;
        p->config = xasprintf("%s/corral/corral.json", config);
        p->servers = xasprintf("%s/corral/servers", data);
        p->data = xasprintf("%s/corral/data", data);
        p->staging = xasprintf("%s/corral/staging", data);
        p->cache = xasprintf("%s/corral", cache);
        p->log = xasprintf("%s/corral/log", state);
        if (runtime && runtime[0] == '/')
                p->run = xasprintf("%s/corral", runtime);
        else
                p->run = xasprintf("%s/corral/run", state);
        return 0;
}

/* Fills p for mode (root and origin for PATHS_ROOT), then the socket paths. */
static int fill_and_check(corral_paths *p, paths_mode mode, const char *root, const char *origin,
                          corral_error *err)
{
        corral_paths tmp = {0};
        int r;

        switch (mode) {
        case PATHS_ROOT:
                r = root ? fill_root(&tmp, root, origin, err)
                         : corral_error_set(err, EX_CONFIG, "%s: no root directory", origin);
                break;
        case PATHS_SYSTEM:
                r = (fill_system(&tmp), 0);
                break;
        case PATHS_USER:
                r = fill_user(&tmp, err);
                break;
        default:
                r = corral_error_set(err, EX_CONFIG, "unknown paths mode %d", (int)mode);
                break;
        }
        if (r < 0) {
                paths_done(&tmp);
                return r;
        }

        tmp.control_sock = xasprintf("%s/control.sock", tmp.run);
        tmp.gateway_sock = xasprintf("%s/mcp.sock", tmp.run);
        /* Fail here rather than at bind(2)/connect(2), where the truncation
         * would surface as a baffling "no such file". */
        if (strlen(tmp.control_sock) > SOCKET_PATH_MAX ||
            strlen(tmp.gateway_sock) > SOCKET_PATH_MAX) {
                r = corral_error_set(err, EX_CONFIG,
                                     "socket path '%s' is too long: unix sockets allow %zu bytes "
                                     "(use a shorter --root or XDG_RUNTIME_DIR)",
                                     tmp.gateway_sock, (size_t)SOCKET_PATH_MAX);
                paths_done(&tmp);
                return r;
        }
        *p = tmp;
        return 0;
}

/* --store system|user, for the whole process; -1 = not chosen. */
static int chosen_mode = -1;

void paths_choose_store(paths_mode mode)
{
        chosen_mode = (int)mode;
}

bool paths_system_daemon_reachable(const char *control_sock)
{
        struct stat st;

        /* connect(2) to a unix socket needs write permission on it: the
         * system sockets are 0660 root:corral, so this is group membership. */
        return stat(control_sock, &st) == 0 && S_ISSOCK(st.st_mode) &&
               access(control_sock, W_OK) == 0;
}

int paths_init(corral_paths *p, const char *root, corral_error *err)
{
        const char *env_root = getenv("CORRAL_ROOT");

        if (root)
                return paths_init_mode(p, PATHS_ROOT, root, err);
        if (chosen_mode >= 0)
                return paths_init_mode(p, (paths_mode)chosen_mode, NULL, err);
        if (env_root && env_root[0])
                return fill_and_check(p, PATHS_ROOT, env_root, "CORRAL_ROOT", err);
        if (geteuid() == 0 || paths_system_daemon_reachable(SYSTEM_RUN "/control.sock"))
                return paths_init_mode(p, PATHS_SYSTEM, NULL, err);
        return paths_init_mode(p, PATHS_USER, NULL, err);
}

int paths_init_mode(corral_paths *p, paths_mode mode, const char *root, corral_error *err)
{
        return fill_and_check(p, mode, root, "--root", err);
}

int paths_ensure(const corral_paths *p, corral_error *err)
{
        const char *dirs[] = {p->servers, p->data, p->staging, p->cache, p->log};
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                int r = mkdir_p(dirs[i], 0755);
                if (r < 0)
                        return corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s",
                                                  dirs[i]);
        }
        /* The control socket grants full control over the store: in user and
         * --root mode only the owner may reach it. */
        mode_t run_mode = p->mode == PATHS_SYSTEM ? 0755 : 0700;
        int r = mkdir_p(p->run, run_mode);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s", p->run);
        return 0;
}

char *paths_server_dir(const corral_paths *p, const char *name)
{
        return xasprintf("%s/%s", p->servers, name);
}

char *paths_manifest(const corral_paths *p, const char *name)
{
        return xasprintf("%s/%s/manifest.json", p->servers, name);
}

char *paths_pkg_dir(const corral_paths *p, const char *name)
{
        return xasprintf("%s/%s/pkg", p->servers, name);
}

char *paths_data_dir(const corral_paths *p, const char *name)
{
        return xasprintf("%s/%s", p->data, name);
}

char *paths_log_file(const corral_paths *p, const char *name)
{
        return xasprintf("%s/%s.log", p->log, name);
}

void paths_done(corral_paths *p)
{
        if (!p)
                return;
        free(p->config);
        free(p->servers);
        free(p->data);
        free(p->staging);
        free(p->cache);
        free(p->log);
        free(p->run);
        free(p->control_sock);
        free(p->gateway_sock);
        *p = (corral_paths){0};
}
