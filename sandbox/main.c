/* corral-sandbox: run one command confined by a policy file
 * (include/corral/sandbox.h).  The launcher stays outside as the parent and
 * monitor; the child it clones into fresh namespaces becomes pid 1 there. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CORRAL_SANDBOX_LAUNCHER_ONLY
#include "sandbox.h"

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
/* Replaces the SIGKILL death signal a supervisor may have armed, so that the
 * cgroups are still removed when the supervisor dies. */
#define SBX_PARENT_DIED (SIGRTMIN + 1)

static int usage(void)
{
        fputs("usage: corral-sandbox [--status-fd N] --policy FILE -- COMMAND [ARGS...]\n"
              "Runs COMMAND confined by the JSON policy FILE (see include/corral/sandbox.h).\n",
              stderr);
        return SBX_EX_USAGE;
}

static bool under(const char *path, const char *dir)
{
        size_t n = strlen(dir);

        return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Whether the host path will be visible inside as is. */
static bool visible_inside(const sbx_policy *p, const char *path)
{
        static const char *const sys[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
                                          "/libx32"};

        for (size_t i = 0; i < ARRAY_SIZE(sys); i++)
                if (under(path, sys[i]))
                        return true;
        if ((p->pkg && under(path, p->pkg)) || (p->data && under(path, p->data)))
                return true;
        for (size_t i = 0; i < p->n_mounts; i++)
                if (strcmp(p->mounts[i].source, p->mounts[i].target) == 0 &&
                    under(path, p->mounts[i].source))
                        return true;
        return false;
}

/* COMMAND resolved on the host the way it will be inside: with a '/' relative
 * to the policy's cwd, else on the policy's PATH.  *prefix is set to a
 * directory to bind read-only when the file lives outside the standard binds
 * (an interpreter under ~/.nvm or /opt: its version directory). */
static int resolve(const sbx_policy *p, const char *cmd, char **exe, char **prefix)
{
        _cleanup_free_ char *found = NULL;
        char real[PATH_MAX];

        *prefix = NULL;
        if (strchr(cmd, '/')) {
                found = cmd[0] == '/' ? xstrdup(cmd) : xasprintf("%s/%s", p->cwd, cmd);
        } else {
                for (const char *s = sbx_policy_path(p); *s;) {
                        size_t len = strcspn(s, ":");
                        _cleanup_free_ char *cand = xasprintf("%.*s/%s", (int)len, s, cmd);
                        s += len;
                        s += *s == ':';
                        if (cand[0] == '/' && access(cand, X_OK) == 0) {
                                found = steal_pointer(&cand);
                                break;
                        }
                }
        }
        if (!found || !realpath(found, real)) {
                sbx_warn("command not found: %s", cmd);
                return SBX_EX_NOINPUT;
        }
        if (!visible_inside(p, real)) {
                char *s = xstrdup(real), *slash;
                /* .../PREFIX/bin/node -> .../PREFIX */
                for (int i = 0; i < 2 && (slash = strrchr(s, '/')) && slash != s; i++)
                        *slash = '\0';
                *prefix = s;
        }
        *exe = xstrdup(real);
        return 0;
}

static int write_proc(pid_t pid, const char *file, const char *text)
{
        char path[64];
        int fd, r = 0;
        size_t n = strlen(text);

        snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, text, n) != (ssize_t)n)
                r = -errno;
        close(fd);
        return r;
}

/* The data dir belongs to the server's dedicated uid (top directory only;
 * never through a symlink). */
static int chown_data(const sbx_policy *p, uid_t uid, gid_t gid)
{
        int fd;
        struct stat st;

        if (!p->data || geteuid() != 0)
                return 0;
        fd = open(p->data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                sbx_warn_errno("cannot open the data dir %s", p->data);
                return errno == ENOENT ? SBX_EX_NOINPUT : SBX_EX_OSERR;
        }
        if (fstat(fd, &st) == 0 && (st.st_uid != uid || st.st_gid != gid) &&
            fchown(fd, uid, gid) < 0) {
                sbx_warn_errno("cannot hand the data dir %s to uid %u", p->data, (unsigned)uid);
                close(fd);
                return SBX_EX_OSERR;
        }
        close(fd);
        return 0;
}

typedef struct child_ctx {
        const sbx_policy *p;
        sbx_fs *fs;
        const char *exe;
        const char *prefix;
        char **argv;
        int go_r, status_w;
        pid_t launcher;
} child_ctx;

static _noreturn_ void child_main(child_ctx *c)
{
        char go;
        int r;

        /* The launcher is our parent: if it dies, so does the sandbox. */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (read(c->go_r, &go, 1) != 1)
                _exit(SBX_EX_OSERR); /* launcher gone or failed */
        close(c->go_r);
        /* Host paths are opened while still the launcher's uid. */
        r = sbx_fs_open(c->fs, c->p, c->prefix);
        if (r)
                _exit(r);
        r = sbx_keep_caps_setid(SANDBOX_INSIDE_UID, SANDBOX_INSIDE_UID);
        if (r < 0) {
                errno = -r;
                sbx_warn_errno("cannot switch to the sandbox uid");
                _exit(SBX_EX_OSERR);
        }
        if (unshare(CLONE_NEWCGROUP) < 0) {
                sbx_warn_errno("cannot create a cgroup namespace");
                _exit(SBX_EX_OSERR);
        }
        if (sbx_fs_build(c->fs, c->p) < 0)
                _exit(SBX_EX_OSERR);
        sbx_fs_close(c->fs);
        if (sethostname(c->p->name, strlen(c->p->name)) < 0) {
                sbx_warn_errno("cannot set the hostname");
                _exit(SBX_EX_OSERR);
        }
        if (!c->p->net_host && (r = sbx_loopback_up()) < 0) {
                errno = -r;
                sbx_warn_errno("cannot bring up the loopback interface");
                _exit(SBX_EX_OSERR);
        }
        r = sbx_drop_caps();
        if (r < 0) {
                errno = -r;
                sbx_warn_errno("cannot drop capabilities");
                _exit(SBX_EX_OSERR);
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                sbx_warn_errno("cannot set no_new_privs");
                _exit(SBX_EX_OSERR);
        }
        /* The server shares our uid: keep it out of the init's memory and
         * /proc files (environ, mem, fds). */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        sbx_init_run(c->p, c->exe, c->argv, c->status_w);
}

static void status_line(int fd, int exit_status, int term_signal, bool oom, unsigned memory_mb)
{
        char buf[160];
        int n;

        if (fd < 0)
                return;
        n = snprintf(buf, sizeof(buf),
                     "{\"exit_status\":%d,\"term_signal\":%d,\"oom_kill\":%s,\"memory_mb\":%u}\n",
                     exit_status, term_signal, oom ? "true" : "false", memory_mb);
        (void)!write(fd, buf, (size_t)n);
}

static int run(const sbx_policy *p, char **argv, int status_fd, int *term_signal)
{
        _cleanup_free_ char *exe = NULL, *prefix = NULL;
        sbx_fs fs;
        sbx_cgroup cg;
        child_ctx c;
        int go[2] = {-1, -1}, st[2] = {-1, -1};
        uid_t uid;
        gid_t gid;
        unsigned long flags;
        sigset_t set, old;
        pid_t pid;
        char map[64];
        int r, status = 0, server_status = -1;
        bool oom;

        r = resolve(p, argv[0], &exe, &prefix);
        if (r)
                return r;
        if (geteuid() == 0) {
                uid = p->have_ids ? p->uid : sandbox_uid_for(p->name);
                gid = p->have_ids ? p->gid : sandbox_uid_for(p->name);
        } else {
                uid = getuid();
                gid = getgid();
        }
        r = chown_data(p, uid, gid);
        if (r)
                return r;

        sbx_cgroup_setup(&cg, p);
        if (pipe2(go, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0) {
                sbx_warn_errno("cannot create pipes");
                sbx_cgroup_cleanup(&cg);
                return SBX_EX_OSERR;
        }

        memset(&fs, 0, sizeof(fs));
        memset(&c, 0, sizeof(c));
        c.p = p;
        c.fs = &fs;
        c.exe = exe;
        c.prefix = prefix;
        c.argv = argv;
        c.go_r = go[0];
        c.status_w = st[1];
        c.launcher = getpid();

        /* Signals wait in the mask until the child is there to forward to. */
        sigemptyset(&set);
        for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
                sigaddset(&set, forwarded[i]);
        sigaddset(&set, SIGCHLD);
        sigaddset(&set, SBX_PARENT_DIED);
        (void)sigprocmask(SIG_BLOCK, &set, &old);

        flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
        if (!p->net_host)
                flags |= CLONE_NEWNET;
        pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0) {
                close(go[1]);
                close(st[0]);
                if (status_fd >= 0)
                        close(status_fd);
                (void)sigprocmask(SIG_SETMASK, &old, NULL);
                child_main(&c);
        }
        close(go[0]);
        close(st[1]);
        if (pid < 0) {
                sbx_warn_errno("cannot create namespaces (clone)");
                if (errno == EPERM || errno == ENOSPC)
                        sbx_warn("hint: user namespaces may be disabled "
                                 "(kernel.unprivileged_userns_clone, user.max_user_namespaces)");
                close(go[1]);
                close(st[0]);
                sbx_cgroup_cleanup(&cg);
                return SBX_EX_OSERR;
        }
        snprintf(map, sizeof(map), "%u %u 1\n", SANDBOX_INSIDE_UID, (unsigned)uid);
        r = write_proc(pid, "uid_map", map);
        if (r == 0)
                r = write_proc(pid, "setgroups", "deny");
        if (r == 0) {
                snprintf(map, sizeof(map), "%u %u 1\n", SANDBOX_INSIDE_UID, (unsigned)gid);
                r = write_proc(pid, "gid_map", map);
        }
        if (r < 0) {
                errno = -r;
                sbx_warn_errno("cannot write the user namespace map");
        } else {
                (void)sbx_cgroup_attach(&cg, pid);
                /* Not much to do about a signal here: the child then dies by
                 * PDEATHSIG or EOF. */
                if (write(go[1], "g", 1) != 1)
                        r = -errno;
        }
        close(go[1]);
        if (r < 0)
                (void)kill(pid, SIGKILL);

        /* Our stdin/stdout belong to the server now: a copy kept here would
         * delay its EOF. */
        {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0) {
                        (void)dup2(null, 0);
                        (void)dup2(null, 1);
                        if (null > 2)
                                close(null);
                }
        }

        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&set, &si);
                pid_t w;

                if (sig < 0)
                        continue;
                if (sig == SBX_PARENT_DIED) {
                        /* Our parent (the daemon) is gone: end the sandbox
                         * now, then clean up below as for any exit. */
                        (void)kill(pid, SIGKILL);
                        continue;
                }
                if (sig != SIGCHLD) {
                        (void)kill(pid, sig);
                        continue;
                }
                w = waitpid(pid, &status, WNOHANG);
                if (w == pid)
                        break;
        }
        {
                int s;
                if (read(st[0], &s, sizeof(s)) == (ssize_t)sizeof(s))
                        server_status = s;
        }
        close(st[0]);
        if (server_status == -1)
                server_status = status; /* the init failed or was killed */

        oom = sbx_cgroup_oom_killed(&cg);
        if (oom)
                sbx_warn("%s: killed by the OOM killer (memory limit %u MiB)", p->name,
                         p->memory_mb);
        sbx_cgroup_cleanup(&cg);
        status_line(status_fd, WIFEXITED(server_status) ? WEXITSTATUS(server_status) : -1,
                    WIFSIGNALED(server_status) ? WTERMSIG(server_status) : 0, oom, p->memory_mb);
        if (WIFSIGNALED(server_status)) {
                *term_signal = WTERMSIG(server_status);
                return 128 + *term_signal;
        }
        return WIFEXITED(server_status) ? WEXITSTATUS(server_status) : SBX_EX_OSERR;
}

int main(int argc, char **argv)
{
        const char *policy_path = NULL;
        int status_fd = -1, i, r, sig = 0;
        sbx_policy p;

        for (i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                } else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc) {
                        policy_path = argv[++i];
                } else if (strcmp(argv[i], "--status-fd") == 0 && i + 1 < argc) {
                        char *end;
                        long v = strtol(argv[++i], &end, 10);
                        if (*end || v < 3 || v > 1 << 20)
                                return usage();
                        status_fd = (int)v;
                } else if (strcmp(argv[i], "--help") == 0) {
                        (void)usage();
                        return 0;
                } else {
                        return usage();
                }
        }
        if (!policy_path || i >= argc)
                return usage();
        {
                pid_t ppid = getppid();
                sigset_t pd;

                sigemptyset(&pd);
                sigaddset(&pd, SBX_PARENT_DIED);
                (void)sigprocmask(SIG_BLOCK, &pd, NULL);
                if (prctl(PR_SET_PDEATHSIG, SBX_PARENT_DIED, 0, 0, 0) == 0 && getppid() != ppid)
                        return SBX_EX_OSERR; /* the parent died before that */
        }
        if (status_fd >= 0 && fcntl(status_fd, F_GETFD) < 0)
                return usage();
        /* Nothing the caller left open may reach the server. */
        for (int fd = 3; fd < 1024; fd++)
                if (fd != status_fd)
                        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (status_fd >= 0)
                (void)fcntl(status_fd, F_SETFD, FD_CLOEXEC);
        r = sbx_policy_load(&p, policy_path);
        if (r) {
                sbx_policy_done(&p);
                return r;
        }
        r = run(&p, argv + i, status_fd, &sig);
        sbx_policy_done(&p);
        if (sig) {
                /* Die the way the server died, so our parent sees the signal. */
                struct sigaction sa;
                sigset_t none;

                memset(&sa, 0, sizeof(sa));
                sa.sa_handler = SIG_DFL;
                (void)sigaction(sig, &sa, NULL);
                sigemptyset(&none);
                sigaddset(&none, sig);
                (void)sigprocmask(SIG_UNBLOCK, &none, NULL);
                (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
                (void)kill(getpid(), sig);
        }
        return r;
}
