/* Build steps under corral-sandbox (include/corral/build.h): a policy is
 * written beside the tree, the launcher is forked and exec'd as the native
 * backend does, its output is streamed and logged, and a wall-clock limit
 * kills it. */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "corral/build.h"
#include "corral/fs.h"
#include "corral/sandbox.h"
#include "corral/strbuf.h"

#define BUILD_PATH "/usr/local/bin:/usr/bin:/bin"
#define TAIL_MAX 512

/* npm's PATH for a script: node_modules/.bin of cwd and of every directory
 * above it up to the tree's root (a workspace sees the root's tools), then
 * the system's. */
static char *script_path(const char *tree, const char *cwd)
{
        strbuf b = STRBUF_INIT(1u << 16);
        _cleanup_free_ char *dir = xstrdup(cwd);
        size_t tl = strlen(tree);
        for (;;) {
                (void)strbuf_appendf(&b, "%s/node_modules/.bin:", dir);
                char *slash = strrchr(dir, '/');
                if (strlen(dir) <= tl || !slash || (size_t)(slash - dir) < tl)
                        break;
                *slash = '\0';
        }
        (void)strbuf_appendf(&b, "%s", BUILD_PATH);
        return strbuf_steal(&b);
}

static unsigned env_uint(const char *name, unsigned def, unsigned max)
{
        const char *v = getenv(name);
        char *end = NULL;
        if (!v || !*v)
                return def;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (errno || *end || n == 0 || n > max)
                return def;
        return (unsigned)n;
}

/* ---- ownership of the tree ---------------------------------------------- */

static uid_t chown_uid;
static gid_t chown_gid;
static int chown_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
        (void)st, (void)flag, (void)f;
        return lchown(p, chown_uid, chown_gid) < 0 && errno != ENOENT ? -1 : 0;
}

static int chown_tree(const char *dir, uid_t uid, gid_t gid)
{
        chown_uid = uid;
        chown_gid = gid;
        return nftw(dir, chown_one, 32, FTW_PHYS | FTW_MOUNT) < 0 ? -errno : 0;
}

/* ---- the checks after a build ------------------------------------------- */

static const char *check_root;
static size_t check_root_len;
static char check_bad[PATH_MAX + 64];
static int check_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
        (void)f;
        if (flag == FTW_SL) {
                char target[PATH_MAX];
                ssize_t n = readlink(p, target, sizeof(target) - 1);
                if (n < 0)
                        return 0;
                target[n] = '\0';
                /* Lexically: from the link's directory, never above the root. */
                long depth = 0;
                for (const char *c = p + check_root_len; *c; c++)
                        depth += *c == '/';
                depth--; /* the link's own name */
                bool ok = target[0] != '/';
                for (const char *c = target; ok && *c;) {
                        size_t k = strcspn(c, "/");
                        if (k == 2 && c[0] == '.' && c[1] == '.')
                                depth--;
                        else if (k > 0 && !(k == 1 && c[0] == '.'))
                                depth++;
                        ok = depth >= 0;
                        c += k;
                        while (*c == '/')
                                c++;
                }
                if (!ok) {
                        snprintf(check_bad, sizeof(check_bad), "symlink %s points outside (-> %s)",
                                 p + check_root_len + 1, target);
                        return 1;
                }
        } else if (flag == FTW_F && !S_ISREG(st->st_mode)) {
                snprintf(check_bad, sizeof(check_bad), "%s is a device, fifo or socket",
                         p + check_root_len + 1);
                return 1;
        }
        return 0;
}

int build_check_tree(const char *tree, corral_error *err)
{
        check_root = tree;
        check_root_len = strlen(tree);
        check_bad[0] = '\0';
        int r = nftw(tree, check_one, 32, FTW_PHYS | FTW_MOUNT);
        if (r < 0)
                return corral_error_errno(err, EX_IOERR, errno, "cannot read %s", tree);
        if (r > 0)
                return corral_error_set(err, EX_DATAERR, "the build left %.900s; refusing it",
                                        check_bad);
        return 0;
}

/* ---- running ------------------------------------------------------------- */

static char *policy_json(const build_step *st, uid_t uid, bool root)
{
        cJSON *pol = cJSON_CreateObject();
        cJSON_AddStringToObject(pol, "name", st->name);
        cJSON_AddStringToObject(pol, "profile", "default");
        cJSON_AddStringToObject(pol, "network", "none");
        if (root) {
                cJSON_AddNumberToObject(pol, "uid", uid);
                cJSON_AddNumberToObject(pol, "gid", uid);
        }
        cJSON_AddStringToObject(pol, "data", st->tree);
        cJSON_AddStringToObject(pol, "cwd", st->cwd ? st->cwd : st->tree);
        cJSON *mounts = cJSON_AddArrayToObject(pol, "mounts");
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "source", st->home);
        cJSON_AddBoolToObject(m, "writable", true);
        cJSON_AddItemToArray(mounts, m);
        cJSON_AddNumberToObject(pol, "memory_mb",
                                env_uint("CORRAL_BUILD_MEMORY_MB", BUILD_DEFAULT_MEMORY_MB,
                                         1u << 20));
        cJSON_AddNumberToObject(pol, "pids",
                                env_uint("CORRAL_BUILD_PIDS", BUILD_DEFAULT_PIDS, 1000000));
        cJSON_AddNumberToObject(pol, "cpus", 2.0);
        cJSON_AddNumberToObject(pol, "tmp_mb", 512);
        cJSON *env = cJSON_AddObjectToObject(pol, "env");
        _cleanup_free_ char *path = script_path(st->tree, st->cwd ? st->cwd : st->tree);
        cJSON_AddStringToObject(env, "PATH", path);
        cJSON_AddStringToObject(env, "HOME", st->home);
        cJSON_AddStringToObject(env, "TMPDIR", "/tmp");
        cJSON_AddStringToObject(env, "CI", "1");
        cJSON_AddStringToObject(env, "npm_config_offline", "true");
        cJSON_AddStringToObject(env, "npm_config_update_notifier", "false");
        for (size_t i = 0; st->env && st->env[i]; i++) {
                const char *eq = strchr(st->env[i], '=');
                if (!eq)
                        continue;
                _cleanup_free_ char *k = xstrndup(st->env[i], (size_t)(eq - st->env[i]));
                cJSON_DeleteItemFromObjectCaseSensitive(env, k);
                cJSON_AddStringToObject(env, k, eq + 1);
        }
        char *text = cJSON_PrintUnformatted(pol);
        cJSON_Delete(pol);
        if (!text)
                abort();
        return text;
}

static long long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The output: to stderr when asked, to the log (capped), and its last line
 * kept for the error message. */
typedef struct sink {
        int log_fd;
        size_t logged;
        bool progress;
        char tail[TAIL_MAX]; /* the last complete non-empty line */
        size_t tail_len;
        char cur[TAIL_MAX]; /* the line being read */
        size_t cur_len;
} sink;

static void sink_write(sink *s, const char *buf, size_t n)
{
        if (s->progress)
                (void)write_all(STDERR_FILENO, buf, n);
        if (s->log_fd >= 0 && s->logged < BUILD_MAX_LOG) {
                size_t k = n < BUILD_MAX_LOG - s->logged ? n : BUILD_MAX_LOG - s->logged;
                (void)write_all(s->log_fd, buf, k);
                s->logged += k;
        }
        for (size_t i = 0; i < n; i++) {
                if (buf[i] == '\n' || buf[i] == '\r') {
                        if (s->cur_len > 0) {
                                memcpy(s->tail, s->cur, s->cur_len);
                                s->tail_len = s->cur_len;
                                s->tail[s->tail_len] = '\0';
                                s->cur_len = 0;
                        }
                } else if (s->cur_len + 1 < TAIL_MAX) {
                        unsigned char c = (unsigned char)buf[i];
                        s->cur[s->cur_len++] = (char)(c < ' ' || c == 0x7f ? ' ' : c);
                }
        }
}

static int drain(int fd, sink *s)
{
        char buf[16384];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n > 0) {
                        sink_write(s, buf, (size_t)n);
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                return n == 0 ? 0 : (errno == EAGAIN ? 1 : -1);
        }
}

int build_run(const build_step *st, corral_error *err)
{
        _cleanup_free_ char *exe = sandbox_launcher_path();
        if (access(exe, X_OK) < 0)
                return corral_error_set(err, EX_NOINPUT,
                                        "cannot run the %s: sandbox launcher %s not found", st->what,
                                        exe);
        bool root = geteuid() == 0;
        uid_t uid = root ? sandbox_uid_for(st->name) : geteuid();
        int r = mkdir_p(st->home, 0700);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s", st->home);
        if (root && (chown_tree(st->tree, uid, uid) < 0 || chown_tree(st->home, uid, uid) < 0))
                return corral_error_errno(err, EX_OSERR, errno, "cannot hand %s to the build",
                                          st->tree);

        /* The policy lives beside the tree, outside what the build can write. */
        _cleanup_free_ char *policy = policy_json(st, uid, root);
        _cleanup_free_ char *pfile = xasprintf("%s.build-policy.json", st->tree);
        if ((r = write_file_atomic(pfile, policy, strlen(policy), 0600)) < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot write %s", pfile);

        sink out = {.log_fd = -1, .progress = st->progress};
        if (st->log_path) {
                _cleanup_free_ char *dir = xstrdup(st->log_path);
                char *slash = strrchr(dir, '/');
                if (slash) {
                        *slash = '\0';
                        (void)mkdir_p(dir, 0755);
                }
                out.log_fd = open(st->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        }
        {
                strbuf hdr = {0};
                strbuf_appendf(&hdr, "corral: build: %s:", st->what);
                for (size_t i = 0; st->argv[i]; i++)
                        strbuf_appendf(&hdr, " %s", st->argv[i]);
                strbuf_append(&hdr, "\n", 1);
                if (out.log_fd >= 0)
                        (void)write_all(out.log_fd, hdr.buf, hdr.len);
                strbuf_done(&hdr);
        }

        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                r = corral_error_errno(err, EX_OSERR, errno, "cannot create a pipe");
                goto out;
        }
        size_t argc = strv_length(st->argv);
        char **argv = xcalloc(argc + 5, sizeof(char *));
        argv[0] = exe;
        argv[1] = (char *)"--policy";
        argv[2] = pfile;
        argv[3] = (char *)"--";
        for (size_t i = 0; i < argc; i++)
                argv[4 + i] = st->argv[i];
        char *envp[] = {(char *)"PATH=" BUILD_PATH, NULL};
        unsigned timeout = env_uint("CORRAL_BUILD_TIMEOUT", BUILD_DEFAULT_TIMEOUT, 86400);

        pid_t pid = fork();
        if (pid == 0) {
                setpgid(0, 0);
                int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(pipefd[1], 1) < 0 ||
                    dup2(pipefd[1], 2) < 0)
                        _exit(71);
                execve(exe, argv, envp);
                _exit(127);
        }
        free(argv);
        close(pipefd[1]);
        if (pid < 0) {
                close(pipefd[0]);
                r = corral_error_errno(err, EX_OSERR, errno, "cannot fork");
                goto out;
        }
        (void)setpgid(pid, pid);
        (void)fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

        long long deadline = now_ms() + (long long)timeout * 1000;
        bool timed_out = false, pipe_open = true;
        int status = 0;
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid)
                        break;
                long long left = deadline - now_ms();
                if (left <= 0 && !timed_out) {
                        timed_out = true;
                        (void)kill(-pid, SIGTERM);
                        deadline = now_ms() + 3000;
                        continue;
                }
                if (left <= 0 && timed_out) {
                        (void)kill(-pid, SIGKILL);
                        (void)waitpid(pid, &status, 0);
                        break;
                }
                struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
                int wait_ms = left > 200 ? 200 : (int)left;
                if (pipe_open && poll(&pfd, 1, wait_ms) > 0) {
                        if (drain(pipefd[0], &out) == 0)
                                pipe_open = false;
                } else if (!pipe_open) {
                        usleep((useconds_t)wait_ms * 1000);
                }
        }
        if (pipe_open)
                (void)drain(pipefd[0], &out);
        close(pipefd[0]);
        if (out.cur_len > 0) {
                memcpy(out.tail, out.cur, out.cur_len);
                out.tail_len = out.cur_len;
                out.tail[out.tail_len] = '\0';
        }

        if (timed_out)
                r = corral_error_set(err, EX_TEMPFAIL,
                                     "the %s ran over %u s and was killed (CORRAL_BUILD_TIMEOUT)",
                                     st->what, timeout);
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                r = 0;
        else if (WIFEXITED(status))
                r = corral_error_set(err, EX_DATAERR, "the %s failed with exit status %d%s%.300s",
                                     st->what, WEXITSTATUS(status), out.tail_len ? ": " : "",
                                     out.tail);
        else
                r = corral_error_set(err, EX_DATAERR, "the %s was killed by signal %d%s%.300s",
                                     st->what, WTERMSIG(status), out.tail_len ? ": " : "",
                                     out.tail);
out:
        if (out.log_fd >= 0)
                close(out.log_fd);
        (void)unlink(pfile);
        if (root && chown_tree(st->tree, 0, 0) < 0 && r >= 0)
                r = corral_error_errno(err, EX_OSERR, errno, "cannot take %s back from the build",
                                       st->tree);
        if (root)
                (void)chown_tree(st->home, 0, 0);
        return r;
}
