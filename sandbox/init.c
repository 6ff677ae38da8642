/* Inside the namespaces: finish the set-up as pid 1, start the server as
 * pid 2 and stay as a minimal init (reap, forward signals, report the
 * server's status). */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CORRAL_SANDBOX_LAUNCHER_ONLY
#include "sandbox.h"

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static void on_signal(int sig)
{
        (void)sig;
}

static _noreturn_ void server_exec(const sbx_policy *p, const char *exe, char **argv, int ctl_r)
{
        struct rlimit rl;
        struct sock_fprog prog;
        sigset_t none;

        /* The server leads its own session: the init signals its group. */
        (void)setsid();
        (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
                (void)signal(forwarded[i], SIG_DFL);
        (void)signal(SIGPIPE, SIG_DFL);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);

        rl.rlim_cur = rl.rlim_max = 0;
        if (setrlimit(RLIMIT_CORE, &rl) < 0)
                goto fail;
        rl.rlim_cur = rl.rlim_max = p->nofile;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                goto fail;
        rl.rlim_cur = rl.rlim_max = (rlim_t)p->fsize_mb << 20;
        if (p->fsize_mb && setrlimit(RLIMIT_FSIZE, &rl) < 0)
                goto fail;
        if (chdir(p->cwd) < 0) {
                sbx_warn_errno("cannot change to %s", p->cwd);
                _exit(SBX_EX_NOINPUT);
        }
        /* Usually there already: compiled outside while we built the
         * filesystem. */
        errno = -sbx_seccomp_receive(ctl_r, &prog);
        if (errno) {
                sbx_warn_errno("cannot receive the seccomp profile %s", p->profile);
                _exit(SBX_EX_OSERR);
        }
        sbx_mark("server: rlimits set, filter received");
        if (syscall(SYS_close_range, 3U, ~0U, 0) < 0)
                for (int fd = 3; fd < 65536; fd++)
                        (void)close(fd);
        errno = -sbx_seccomp_load(&prog);
        if (errno) {
                sbx_warn_errno("cannot load the seccomp profile %s", p->profile);
                _exit(SBX_EX_OSERR);
        }
        sbx_mark("server: seccomp loaded, exec");
        execve(exe, argv, p->env);
        sbx_warn_errno("cannot execute %s", exe);
        _exit(errno == ENOENT ? 127 : 126);
fail:
        sbx_warn_errno("cannot set resource limits");
        _exit(SBX_EX_OSERR);
}

_noreturn_ void sbx_init_run(const sbx_policy *p, const char *exe, char **argv, int status_w,
                             int ctl_r)
{
        struct sigaction sa;
        sigset_t set;
        pid_t server;
        int status = 0;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&set);
        for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++) {
                (void)sigaction(forwarded[i], &sa, NULL);
                sigaddset(&set, forwarded[i]);
        }
        sigaddset(&set, SIGCHLD);
        (void)sigprocmask(SIG_BLOCK, &set, NULL);

        sbx_mark("init: forking the server");
        server = fork();
        if (server < 0) {
                sbx_warn_errno("cannot fork the server");
                _exit(SBX_EX_OSERR);
        }
        if (server == 0) {
                close(status_w);
                server_exec(p, exe, argv, ctl_r);
        }
        close(ctl_r);
        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&set, &si);

                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        (void)kill(-server, sig);
                        continue;
                }
                for (;;) {
                        int st;
                        pid_t w = waitpid(-1, &st, WNOHANG);
                        if (w <= 0)
                                break;
                        if (w == server) {
                                status = st;
                                goto done;
                        }
                }
        }
done:
        sbx_mark("init: server reaped");
        /* Whatever the server left behind dies with this pid namespace. */
        (void)!write(status_w, &status, sizeof(status));
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}
