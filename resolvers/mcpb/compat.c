/* A bundle's server.type and compatibility against this host (MCPB
 * MANIFEST.md "compatibility": platforms, runtimes.node, runtimes.python):
 * the runtime a bundle needs is looked for where its server will look for
 * it, and its version asked. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/mcpb.h"
#include "corral/semver.h"
#include "runtime/native.h"

extern char **environ;

#define VERSION_OUT_MAX 128

/* prog on NATIVE_CLEAN_PATH, the PATH a native server's command is looked
 * up on (owned), or NULL. */
static char *find_on_clean_path(const char *prog)
{
        _cleanup_free_ char *path = xstrdup(NATIVE_CLEAN_PATH);
        for (char *save = NULL, *dir = strtok_r(path, ":", &save); dir;
             dir = strtok_r(NULL, ":", &save)) {
                char *p = path_join(dir, prog);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

/* The first line `prog --version` prints (stdout or stderr: python 2 wrote
 * it to stderr), owned; NULL when prog cannot run.  prog with a slash runs
 * as it is, else on the caller's PATH. */
static char *program_version(const char *prog)
{
        int pfd[2];
        pid_t pid;
        char buf[VERSION_OUT_MAX] = {0};
        size_t n = 0;
        posix_spawn_file_actions_t fa;
        char *argv[] = {(char *)prog, "--version", NULL};

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return NULL;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, pfd[1], STDERR_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        int r = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pfd[1]);
        if (r != 0) {
                close(pfd[0]);
                return NULL;
        }
        for (;;) {
                ssize_t k = read(pfd[0], buf + n, sizeof(buf) - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t)k;
                if (n >= sizeof(buf) - 1)
                        break;
        }
        close(pfd[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !buf[0])
                return NULL;
        return xstrdup(buf);
}

/* "v22.3.0" → "22.3.0", "Python 3.11.2" → "3.11.2" (owned). */
static char *bare_version(const char *line)
{
        const char *p = line;
        while (*p && !(*p >= '0' && *p <= '9'))
                p++;
        return xstrndup(p, strcspn(p, " \t"));
}

/* runtimes.python is often written PEP 440 style (">=3.10,<4"): the commas
 * become the blanks of an npm range; "==" becomes "=". */
static char *python_range(const char *r)
{
        char *out = xstrdup(r);
        for (char *c = out; *c; c++)
                if (*c == ',')
                        *c = ' ';
        for (char *c = strstr(out, "=="); c; c = strstr(c, "=="))
                memmove(c, c + 1, strlen(c + 1) + 1);
        return out;
}

int mcpb_check_compat(const cJSON *man, const char *type, corral_error *err)
{
        const cJSON *compat = json_get_object(man, "compatibility");
        const cJSON *plats = json_get_array(compat, "platforms");
        const cJSON *runtimes = json_get_object(compat, "runtimes");
        const cJSON *p;

        if (plats) {
                bool linux_ok = false;
                cJSON_ArrayForEach(p, plats) linux_ok |= cJSON_IsString(p) &&
                                                         strcmp(p->valuestring, "linux") == 0;
                if (!linux_ok)
                        return corral_error_set(err, EX_UNAVAILABLE,
                                                "the bundle's compatibility.platforms does not "
                                                "include linux");
        }
        if (strcmp(type, "node") == 0) {
                const char *want = json_get_string(runtimes, "node");
                _cleanup_free_ char *line = program_version("node");
                _cleanup_free_ char *have = line ? bare_version(line) : NULL;
                if (!have)
                        return corral_error_set(err, EX_UNAVAILABLE,
                                                "the bundle is a node server and node is not "
                                                "installed on this host");
                if (want && !semver_satisfies(have, want, true))
                        return corral_error_set(err, EX_UNAVAILABLE,
                                                "the bundle needs node %.64s; this host has %s",
                                                want, have);
                return 0;
        }
        if (strcmp(type, "python") == 0) {
                const char *want = json_get_string(runtimes, "python");
                _cleanup_free_ char *exe = find_on_clean_path("python3");
                _cleanup_free_ char *line = exe ? program_version(exe) : NULL;
                _cleanup_free_ char *have = line ? bare_version(line) : NULL;
                if (!have)
                        return corral_error_set(err, EX_UNAVAILABLE,
                                                "the bundle is a python server and python3 is "
                                                "not installed on this host (%s)",
                                                NATIVE_CLEAN_PATH);
                if (want) {
                        _cleanup_free_ char *range = python_range(want);
                        if (!semver_satisfies_loose(have, range, false))
                                return corral_error_set(err, EX_UNAVAILABLE,
                                                        "the bundle needs python %.64s; this "
                                                        "host has %s",
                                                        want, have);
                }
                return 0;
        }
        if (strcmp(type, "uv") == 0) {
                _cleanup_free_ char *exe = find_on_clean_path("uv");
                if (!exe)
                        return corral_error_set(err, EX_UNAVAILABLE,
                                                "the bundle is a uv server and uv is not "
                                                "installed on this host (%s)",
                                                NATIVE_CLEAN_PATH);
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "the bundle is a uv server: uv installs its "
                                        "dependencies from PyPI when it starts, which corral's "
                                        "sandbox cannot reach (not supported)");
        }
        if (strcmp(type, "binary") == 0)
                return 0;
        return corral_error_set(err, EX_UNAVAILABLE,
                                "the bundle's server.type is '%.32s': corral runs node, python "
                                "and binary bundles",
                                type);
}
