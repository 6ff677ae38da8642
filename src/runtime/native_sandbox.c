/* The native backend's sandbox side: the server's environment, its command
 * resolved before the fork, and the corral-sandbox invocation (policy JSON,
 * include/corral/sandbox.h) built from a manifest.  The process side (fork,
 * exec, pipes, reaping) is native.c. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "corral/build_config.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/paths.h"
#include "corral/sandbox.h"
#include "native.h"

/* The environment of DESIGN.md "runtime": a fixed base plus the manifest's
 * own entries, which override the base by key. */
int native_build_env(const manifest *m, const char *server_dir, const char *home, char ***ret,
                     corral_error *err)
{
        _cleanup_strv_ char **env = NULL;

        env = strv_push(env, "PATH=" NATIVE_CLEAN_PATH);
        {
                _cleanup_free_ char *h = xasprintf("HOME=%s", home);
                env = strv_push(env, h);
        }
        env = strv_push(env, "TMPDIR=/tmp");
        env = strv_push(env, "LANG=C.UTF-8");
        for (size_t i = 0; i < m->n_env; i++) {
                const char *k = m->env[i].key;
                size_t klen = k ? strlen(k) : 0;
                _cleanup_free_ char *entry = NULL;
                size_t j;

                if (klen == 0 || strchr(k, '='))
                        return corral_error_set(err, EX_DATAERR,
                                                "invalid environment variable name '%s'",
                                                k ? k : "");
                if (m->env[i].value) {
                        entry = xasprintf("%s=%s", k, m->env[i].value);
                } else {
                        /* A secret: kept in secrets.json, never in the manifest. */
                        _cleanup_free_ char *v = manifest_secret_env(server_dir, k);
                        if (!v)
                                return corral_error_set(err, EX_CONFIG,
                                                        "the secret value of %s is missing from "
                                                        "%s/secrets.json",
                                                        k, server_dir);
                        entry = xasprintf("%s=%s", k, v);
                }
                for (j = 0; env[j]; j++)
                        if (strncmp(env[j], k, klen) == 0 && env[j][klen] == '=')
                                break;
                if (env[j]) {
                        free(env[j]);
                        env[j] = steal_pointer(&entry);
                } else {
                        env = strv_push(env, entry);
                }
        }
        *ret = steal_pointer(&env);
        return 0;
}

static bool is_executable_file(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* argv[0] resolved before the fork, on the environment's PATH rather than the
 * daemon's, so that execve() runs exactly what the clean environment names. */
int native_resolve_command(const char *cmd, const char *cwd, char *const *env, char **ret,
                           corral_error *err)
{
        const char *path = NATIVE_CLEAN_PATH;

        if (strchr(cmd, '/')) {
                _cleanup_free_ char *full = cmd[0] == '/' ? xstrdup(cmd) : path_join(cwd, cmd);

                if (!is_executable_file(full))
                        return corral_error_set(err, EX_NOINPUT, "command not found: %s", cmd);
                *ret = steal_pointer(&full);
                return 0;
        }
        for (size_t i = 0; env[i]; i++)
                if (strncmp(env[i], "PATH=", 5) == 0)
                        path = env[i] + 5;
        for (const char *s = path; *s;) {
                const char *e = strchrnul(s, ':');
                _cleanup_free_ char *dir = xstrndup(s, (size_t)(e - s));

                s = *e ? e + 1 : e;
                if (dir[0] != '/')
                        continue; /* relative PATH entries would depend on the cwd */
                _cleanup_free_ char *cand = path_join(dir, cmd);
                if (is_executable_file(cand)) {
                        *ret = steal_pointer(&cand);
                        return 0;
                }
        }
        return corral_error_set(err, EX_NOINPUT, "command not found: %s", cmd);
}

/* A relative path without ".." components. */
bool native_cwd_is_inside(const char *cwd)
{
        if (cwd[0] == '/')
                return false;
        for (const char *s = cwd; *s;) {
                size_t len = strcspn(s, "/");

                if (len == 2 && s[0] == '.' && s[1] == '.')
                        return false;
                s += len;
                s += *s == '/';
        }
        return true;
}

/* ---- the sandbox (include/corral/sandbox.h) ------------------------------ */

char *sandbox_launcher_path(void)
{
        const char *env = getenv("CORRAL_SANDBOX");
        char self[PATH_MAX];
        ssize_t n;
        char *slash, *p;

        if (is_executable_file(CORRAL_SANDBOX_PATH))
                return xstrdup(CORRAL_SANDBOX_PATH);
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        p = path_join(self, "corral-sandbox");
                        if (is_executable_file(p))
                                return p;
                        free(p);
                }
        }
        if (env && env[0])
                return xstrdup(env);
        return xstrdup(CORRAL_SANDBOX_PATH);
}

/* "SOURCE[:TARGET][:ro|:rw]" → a policy mounts entry. */
static int add_mount(cJSON *arr, const char *spec, corral_error *err)
{
        _cleanup_free_ char *s = xstrdup(spec);
        char *parts[3] = {NULL, NULL, NULL};
        size_t n = 0;
        bool writable = false;
        cJSON *o;

        for (char *tok = s, *save = NULL; (tok = strtok_r(tok, ":", &save)) && n < 3; tok = NULL)
                parts[n++] = tok;
        if (n > 1 && (strcmp(parts[n - 1], "ro") == 0 || strcmp(parts[n - 1], "rw") == 0)) {
                writable = strcmp(parts[n - 1], "rw") == 0;
                parts[--n] = NULL;
        }
        if (n == 0 || n > 2 || parts[0][0] != '/' || (parts[1] && parts[1][0] != '/'))
                return corral_error_set(err, EX_DATAERR,
                                        "invalid sandbox mount '%s': want SOURCE[:TARGET][:ro|:rw] "
                                        "with absolute paths",
                                        spec);
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "source", parts[0]);
        cJSON_AddStringToObject(o, "target", parts[1] ? parts[1] : parts[0]);
        cJSON_AddBoolToObject(o, "writable", writable);
        cJSON_AddItemToArray(arr, o);
        return 0;
}

int sandbox_invocation_for(const manifest *m, const corral_paths *paths, sandbox_invocation *inv,
                           corral_error *err)
{
        _cleanup_free_ char *server_dir = NULL, *home = NULL, *pkg = NULL, *exe = NULL;
        _cleanup_strv_ char **env = NULL;
        cJSON *pol = NULL, *arr, *envo;
        int k;

        memset(inv, 0, sizeof(*inv));
        if (!m || !m->name || !m->command || !m->command[0])
                return corral_error_set(err, EX_DATAERR, "cannot start server: empty command");
        if (m->cwd && !native_cwd_is_inside(m->cwd))
                return corral_error_set(err, EX_DATAERR,
                                        "cannot start %s: cwd '%s' leaves the server directory",
                                        m->name, m->cwd);
        inv->launcher = sandbox_launcher_path();
        if (!is_executable_file(inv->launcher)) {
                k = corral_error_set(err, EX_NOINPUT,
                                     "cannot start %s: sandbox launcher %s not found (install "
                                     "corral-sandbox there or next to corral, or set "
                                     "CORRAL_SANDBOX)",
                                     m->name, inv->launcher);
                goto fail;
        }
        server_dir = paths_server_dir(paths, m->name);
        inv->cwd = path_join(server_dir, m->cwd ? m->cwd : "pkg");
        pkg = paths_pkg_dir(paths, m->name);
        home = paths_data_dir(paths, m->name);
        if (mkdir(home, 0700) < 0 && errno != EEXIST) {
                k = corral_error_errno(err, EX_CANTCREAT, errno, "cannot create %s", home);
                goto fail;
        }
        k = native_build_env(m, server_dir, home, &env, err);
        if (k < 0)
                goto fail;
        k = native_resolve_command(m->command[0], inv->cwd, env, &exe, err);
        if (k < 0)
                goto fail;
        inv->argv = strv_copy(m->command);
        free(inv->argv[0]);
        inv->argv[0] = steal_pointer(&exe);

        pol = cJSON_CreateObject();
        cJSON_AddStringToObject(pol, "name", m->name);
        cJSON_AddStringToObject(pol, "profile", m->profile ? m->profile : "default");
        cJSON_AddStringToObject(pol, "network", m->network ? m->network : "none");
        cJSON_AddStringToObject(pol, "pkg", pkg);
        cJSON_AddStringToObject(pol, "code", manifest_code(m));
        cJSON_AddStringToObject(pol, "data", home);
        cJSON_AddStringToObject(pol, "cwd", inv->cwd);
        arr = cJSON_AddArrayToObject(pol, "mounts");
        for (size_t i = 0; m->mounts && m->mounts[i]; i++)
                if ((k = add_mount(arr, m->mounts[i], err)) < 0)
                        goto fail;
        /* What the command names by absolute path outside the package is
         * needed (`-- node /path/server.js`, server-filesystem's `-- /srv/x`):
         * that file or directory, read-only, and nothing beside it.  Never
         * "/" nor a directory holding the server's own store entry. */
        for (size_t i = 1; inv->argv[i]; i++) {
                struct stat st;
                const char *a = inv->argv[i];
                size_t alen = strlen(a);

                if (a[0] != '/' || alen < 2 || strstr(a, "/../") ||
                    strncmp(a, pkg, strlen(pkg)) == 0 ||
                    (strncmp(server_dir, a, alen) == 0 &&
                     (server_dir[alen] == '/' || server_dir[alen] == '\0' || a[alen - 1] == '/')) ||
                    stat(a, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) ||
                    cJSON_GetArraySize(arr) >= 32)
                        continue;
                {
                        const cJSON *e;
                        bool dup = false;
                        cJSON_ArrayForEach(e, arr) /* an explicit mount wins */
                                dup |= strcmp(json_get_string(e, "target"), a) == 0;
                        if (dup)
                                continue;
                }
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "source", a);
                cJSON_AddStringToObject(o, "target", a);
                cJSON_AddBoolToObject(o, "writable", false);
                cJSON_AddItemToArray(arr, o);
        }
        if (m->run_uid) { /* install --run-as-owner */
                cJSON_AddNumberToObject(pol, "uid", m->run_uid);
                cJSON_AddNumberToObject(pol, "gid", m->run_gid);
        }
        cJSON_AddNumberToObject(pol, "memory_mb", m->memory_mb);
        cJSON_AddNumberToObject(pol, "pids", m->pids);
        cJSON_AddNumberToObject(pol, "cpus", m->cpus);
        envo = cJSON_AddObjectToObject(pol, "env");
        for (size_t i = 0; env[i]; i++) {
                char *eq = strchr(env[i], '=');
                _cleanup_free_ char *key = xstrndup(env[i], (size_t)(eq - env[i]));
                cJSON_AddStringToObject(envo, key, eq + 1);
        }
        inv->policy = cJSON_PrintUnformatted(pol);
        cJSON_Delete(pol);
        if (!inv->policy)
                abort(); /* cJSON's only failure is out of memory */
        return 0;
fail:
        cJSON_Delete(pol);
        sandbox_invocation_done(inv);
        return k;
}

void sandbox_invocation_done(sandbox_invocation *inv)
{
        if (!inv)
                return;
        free(inv->launcher);
        free(inv->policy);
        strv_free(inv->argv);
        free(inv->cwd);
        memset(inv, 0, sizeof(*inv));
}

/* The launcher's own environment: only what sanitizer builds need. */
char **native_launcher_env(void)
{
        static const char *const keep[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"};
        char **env = strv_push(NULL, "PATH=" NATIVE_CLEAN_PATH);

        for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
                const char *v = getenv(keep[i]);
                if (v) {
                        _cleanup_free_ char *kv = xasprintf("%s=%s", keep[i], v);
                        env = strv_push(env, kv);
                }
        }
        return env;
}

char *native_oom_file(const char *name, int pid)
{
        struct statfs sf;
        bool v2 = statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
        _cleanup_free_ char *own = sandbox_own_cgroup(v2 ? NULL : "memory");

        if (!own)
                return NULL;
        if (strcmp(own, "/") == 0)
                own[0] = '\0';
        return v2 ? xasprintf("/sys/fs/cgroup%s/corral/%s-%d/memory.events", own, name, pid)
                  : xasprintf("/sys/fs/cgroup/memory%s/corral/%s-%d/memory.oom_control", own,
                              name, pid);
}

long native_oom_read(const char *file)
{
        _cleanup_fclose_ FILE *f = file ? fopen(file, "re") : NULL;
        char k[64];
        long v;

        if (!f)
                return -1;
        while (fscanf(f, "%63s %ld", k, &v) == 2)
                if (strcmp(k, "oom_kill") == 0)
                        return v < 0 ? 0 : v;
        return 0;
}
