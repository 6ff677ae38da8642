/* corral-sandbox: run one command confined by a policy file
 * (include/corral/sandbox.h).  The launcher stays outside as the parent and
 * monitor; the child it clones into fresh namespaces becomes pid 1 there. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
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
              "       corral-sandbox --version\n"
              "Runs COMMAND confined by the JSON policy FILE (see corral-sandbox(1)).\n",
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

static void close_idmaps(const sbx_policy *p, int *fds)
{
        for (size_t i = 0; i < p->n_mounts; i++)
                if (fds[i] >= 0) {
                        close(fds[i]);
                        fds[i] = -1;
                }
}

/* Writable mounts of host paths that the server's uid/gid do not own are
 * idmapped (include/corral/sandbox.h): the server writes files owned by the
 * path's owner and nothing on the host is chowned.  Only root can idmap; an
 * unprivileged launcher runs the server as the caller, who needs no mapping.
 * fds[i] for policy mount i, -1 when it is a plain bind.  0 or an exit code
 * with the message printed (and nothing left open). */
static int open_idmaps(const sbx_policy *p, uid_t uid, gid_t gid, int *fds)
{
        for (size_t i = 0; i < p->n_mounts; i++)
                fds[i] = -1;
        if (geteuid() != 0)
                return 0;
        for (size_t i = 0; i < p->n_mounts; i++) {
                const char *src = p->mounts[i].source, *what = NULL;
                struct stat st;
                int r;

                if (!p->mounts[i].writable)
                        continue;
                if (stat(src, &st) < 0) {
                        r = errno;
                        sbx_warn_errno("cannot mount %s", src);
                        close_idmaps(p, fds);
                        return r == ENOENT ? SBX_EX_NOINPUT : SBX_EX_OSERR;
                }
                if (st.st_uid == uid && st.st_gid == gid)
                        continue;
                r = sandbox_idmap_tree(src, st.st_uid, st.st_gid, uid, gid, &fds[i], &what);
                if (r < 0) {
                        errno = -r;
                        sbx_warn_errno("cannot give %s to the server read-write without "
                                       "chowning it: %s",
                                       src, what);
                        sbx_warn("hint: run the server as the owner of %s (policy \"uid\": "
                                 "%u, \"gid\": %u), or mount it read-only",
                                 src, (unsigned)st.st_uid, (unsigned)st.st_gid);
                        close_idmaps(p, fds);
                        return SBX_EX_OSERR;
                }
        }
        return 0;
}

typedef struct child_ctx {
        const sbx_policy *p;
        sbx_fs *fs;
        const char *exe;
        const char *prefix;
        char **argv;
        const int *idmap_fds;
        int ctl_r, status_w;
} child_ctx;

/* The launcher's messages on the control pipe, in this order: the user
 * namespace map is written; the cgroups are joined (or given up with a
 * warning); then the seccomp frame for the server.  EOF instead means the
 * launcher failed or died: the sandbox ends there. */
#define CTL_MAPPED 'g'
#define CTL_CGROUPS 'c'

static void await(int fd, char what)
{
        char c;
        ssize_t n;

        do
                n = read(fd, &c, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1 || c != what)
                _exit(SBX_EX_OSERR); /* launcher gone or failed */
}

static _noreturn_ void child_main(child_ctx *c)
{
        int r;

        /* The launcher is our parent: if it dies, so does the sandbox. */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        /* Host paths are opened with the launcher's credentials, which stay
         * ours until the uid switch below (the map does not change them):
         * done while the launcher writes the map. */
        r = sbx_fs_open(c->fs, c->p, c->prefix, c->idmap_fds);
        if (r)
                _exit(r);
        await(c->ctl_r, CTL_MAPPED);
        sbx_mark("child: sources opened, map written");
        r = sbx_keep_caps_setid(SANDBOX_INSIDE_UID, SANDBOX_INSIDE_UID);
        if (r < 0) {
                errno = -r;
                sbx_warn_errno("cannot switch to the sandbox uid");
                _exit(SBX_EX_OSERR);
        }
        if (sbx_fs_build(c->fs, c->p) < 0)
                _exit(SBX_EX_OSERR);
        sbx_mark("child: filesystem built");
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
        /* The launcher set the cgroups up meanwhile.  The cgroup namespace is
         * rooted where we are when it is created, so that waits until we are
         * in the server's cgroups; so does the server's fork (a v1 move takes
         * only us, not children forked before it). */
        await(c->ctl_r, CTL_CGROUPS);
        sbx_mark("child: cgroups joined");
        if (unshare(CLONE_NEWCGROUP) < 0) {
                sbx_warn_errno("cannot create a cgroup namespace");
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
        sbx_mark("child: privileges dropped");
        sbx_init_run(c->p, c->exe, c->argv, c->status_w, c->ctl_r);
}

/* 0, or -errno (-EPIPE: the sandbox is gone already). */
static int ctl_send(int fd, char what)
{
        ssize_t n;

        do
                n = write(fd, &what, 1);
        while (n < 0 && errno == EINTR);
        return n == 1 ? 0 : -errno;
}

static void status_line(int fd, int exit_status, int term_signal, unsigned long oom_kills,
                        unsigned memory_mb)
{
        char buf[200];
        int n;

        if (fd < 0)
                return;
        n = snprintf(buf, sizeof(buf),
                     "{\"exit_status\":%d,\"term_signal\":%d,\"oom_kill\":%s,\"oom_kills\":%lu,"
                     "\"memory_mb\":%u}\n",
                     exit_status, term_signal, oom_kills ? "true" : "false", oom_kills, memory_mb);
        (void)!write(fd, buf, (size_t)n);
}

static int run(const sbx_policy *p, char **argv, int status_fd, int *term_signal)
{
        _cleanup_free_ char *exe = NULL, *prefix = NULL;
        sbx_fs fs;
        sbx_cgroup cg;
        child_ctx c;
        int ctl[2] = {-1, -1}, st[2] = {-1, -1};
        int idmap_fds[SANDBOX_MAX_MOUNTS];
        uid_t uid;
        gid_t gid;
        unsigned long flags;
        sigset_t set, old;
        pid_t pid;
        char map[64];
        int r, status = 0, server_status = -1;
        unsigned long oom_kills;

        r = resolve(p, argv[0], &exe, &prefix);
        if (r)
                return r;
        if (geteuid() == 0) {
                uid = p->have_ids ? p->uid : sandbox_uid_for(p->name);
                gid = p->have_ids ? p->gid : sandbox_uid_for(p->name);
                /* The server would keep the launcher's supplementary groups
                 * (unmapped inside, but still checked by the kernel on host
                 * files): drop them while we still may. */
                if (setgroups(0, NULL) < 0) {
                        sbx_warn_errno("cannot drop supplementary groups");
                        return SBX_EX_OSERR;
                }
        } else {
                uid = getuid();
                gid = getgid();
        }
        r = chown_data(p, uid, gid);
        if (r)
                return r;

        sbx_mark("command resolved");
        memset(&cg, 0, sizeof(cg));
        if (pipe2(ctl, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0) {
                sbx_warn_errno("cannot create pipes");
                return SBX_EX_OSERR;
        }

        memset(&fs, 0, sizeof(fs));
        memset(&c, 0, sizeof(c));
        c.p = p;
        c.fs = &fs;
        c.exe = exe;
        c.prefix = prefix;
        c.argv = argv;
        c.ctl_r = ctl[0];
        c.status_w = st[1];
        r = open_idmaps(p, uid, gid, idmap_fds);
        if (r) {
                close(ctl[0]);
                close(ctl[1]);
                close(st[0]);
                close(st[1]);
                return r;
        }
        c.idmap_fds = idmap_fds;

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
                close(ctl[1]);
                close(st[0]);
                if (status_fd >= 0)
                        close(status_fd);
                (void)sigprocmask(SIG_SETMASK, &old, NULL);
                child_main(&c);
        }
        close(ctl[0]);
        close(st[1]);
        close_idmaps(p, idmap_fds); /* the sandbox has its copies */
        if (pid < 0) {
                sbx_warn_errno("cannot create namespaces (clone)");
                if (errno == EPERM || errno == ENOSPC)
                        sbx_warn("hint: user namespaces may be disabled "
                                 "(kernel.unprivileged_userns_clone, user.max_user_namespaces)");
                close(ctl[1]);
                close(st[0]);
                return SBX_EX_OSERR;
        }
        sbx_mark("cloned");
        snprintf(map, sizeof(map), "%u %u 1\n", SANDBOX_INSIDE_UID, (unsigned)uid);
        r = write_proc(pid, "uid_map", map);
        if (r == 0)
                r = write_proc(pid, "setgroups", "deny");
        if (r == 0) {
                snprintf(map, sizeof(map), "%u %u 1\n", SANDBOX_INSIDE_UID, (unsigned)gid);
                r = write_proc(pid, "gid_map", map);
        }
        /* A sandbox that failed closes its end of the control pipe: the
         * write fails rather than kill us (its cgroups must still go). */
        (void)signal(SIGPIPE, SIG_IGN);
        if (r < 0) {
                errno = -r;
                sbx_warn_errno("cannot write the user namespace map");
        } else {
                sbx_mark("uid map written");
                r = ctl_send(ctl[1], CTL_MAPPED);
        }
        /* Each of these overlaps the sandbox building its filesystem. */
        if (r == 0) {
                sbx_cgroup_setup(&cg, p);
                (void)sbx_cgroup_attach(&cg, pid);
                sbx_mark("cgroups joined");
                r = ctl_send(ctl[1], CTL_CGROUPS);
        }
        if (r == 0) {
                r = sbx_seccomp_send(p->profile, ctl[1]);
                if (r < 0 && r != -EPIPE) {
                        errno = -r;
                        sbx_warn_errno("cannot compile the seccomp profile %s", p->profile);
                }
                sbx_mark("seccomp filter sent");
        }
        close(ctl[1]);
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
        sbx_mark("sandbox exited");
        if (server_status == -1)
                server_status = status; /* the init failed or was killed */

        oom_kills = sbx_cgroup_oom_kills(&cg);
        if (oom_kills)
                sbx_warn("%s: killed by the OOM killer (memory limit %u MiB)", p->name,
                         p->memory_mb);
        sbx_cgroup_cleanup(&cg);
        sbx_mark("cgroups removed");
        status_line(status_fd, WIFEXITED(server_status) ? WEXITSTATUS(server_status) : -1,
                    WIFSIGNALED(server_status) ? WTERMSIG(server_status) : 0, oom_kills,
                    p->memory_mb);
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
                } else if (strcmp(argv[i], "--version") == 0) {
                        printf("corral-sandbox %s\n", CORRAL_VERSION);
                        return 0;
                } else {
                        return usage();
                }
        }
        if (!policy_path || i >= argc)
                return usage();
        sbx_timing_init();
        sbx_mark("start");
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
        /* Nothing the caller left open may reach the server (the status fd
         * included: only the launcher writes it).  One call where the kernel
         * has it (5.11). */
        if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                for (int fd = 3; fd < 1024; fd++)
                        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        sbx_mark("fds marked cloexec");
        r = sbx_policy_load(&p, policy_path);
        sbx_mark("policy loaded");
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
