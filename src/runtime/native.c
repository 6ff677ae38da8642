/* The native runtime backend: plain fork/exec of a manifest's command in the
 * server's directory, with a clean environment, stdio on pipes, its own
 * process group and PR_SET_PDEATHSIG so no server outlives the daemon.
 *
 * uv_spawn() is not used because it offers no hook between fork and exec for
 * setsid() and prctl(PR_SET_PDEATHSIG).  Children are reaped from one SIGCHLD
 * handler per loop with waitpid() on our own pids only, so other code on the
 * loop (uv_spawn users) keeps working. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <cJSON.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corral/build_config.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/paths.h"
#include "corral/runtime.h"
#include "corral/sandbox.h"
#include "corral/uvwrite.h"
#include "native.h"

#define NATIVE_STDIN_MAX (64u << 20) /* bytes queued for a server's stdin */
#define NATIVE_EXIT_GRACE_MS 200     /* wait for stdout EOF after the reap */
#define NATIVE_READ_BUF 65536
#define NATIVE_POLICY_FD 4 /* corral-sandbox --policy /dev/fd/4 */
#define NATIVE_STATUS_FD 5 /* corral-sandbox --status-fd 5 */

typedef struct reaper reaper;

struct runtime_process {
        reaper *r;
        runtime_process *next; /* in r->procs */
        runtime_callbacks cb;
        void *ud;
        pid_t pid; /* also the process group id (setsid) */
        bool reaped;
        bool exit_called;
        bool freed;
        int exit_status;
        int term_signal;
        uv_pipe_t *in, *out, *err; /* NULL once closed */
        uv_timer_t *timer;         /* delivers on_exit */
        int status_fd;             /* corral-sandbox --status-fd, read end; -1 unsandboxed */
        char *exit_reason;         /* e.g. the OOM kill the launcher reported */
        char *oom_file;            /* the memory cgroup's oom_kill counter, or NULL */
        long oom_seen;             /* its largest value read so far */
        long oom_final;            /* the launcher's last count; -1 until it reported */
        unsigned open_handles;     /* the struct is freed when this drops to 0 after free() */
        size_t queued;             /* stdin bytes not yet written */
        char outbuf[NATIVE_READ_BUF];
        char errbuf[NATIVE_READ_BUF];
};

/* One SIGCHLD watcher per loop, shared by all of its processes. */
struct reaper {
        uv_loop_t *loop;
        uv_signal_t *sig;
        unsigned refs;
        runtime_process *procs;
        reaper *next;
};

static reaper *reapers;

static void free_handle(uv_handle_t *h)
{
        free(h);
}

static void reaper_update_ref(reaper *r)
{
        bool alive = false;

        /* Keep the loop running while a child is still to be reaped, but let
         * an idle watcher not hold it open. */
        for (runtime_process *p = r->procs; p; p = p->next)
                alive |= !p->reaped;
        if (alive)
                uv_ref((uv_handle_t *)r->sig);
        else
                uv_unref((uv_handle_t *)r->sig);
}

static void process_schedule_exit(runtime_process *p);

static void decode_status(runtime_process *p, int status)
{
        if (WIFSIGNALED(status)) {
                p->exit_status = -1;
                p->term_signal = WTERMSIG(status);
        } else {
                p->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                p->term_signal = 0;
        }
}

/* The launcher's one status line, written before it exited. */
static void read_sandbox_status(runtime_process *p)
{
        char buf[512];
        ssize_t n;
        cJSON *j;

        if (p->status_fd < 0)
                return;
        do
                n = read(p->status_fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        (void)close(p->status_fd);
        p->status_fd = -1;
        if (n <= 0)
                return;
        buf[n] = '\0';
        j = cJSON_Parse(buf);
        {
                /* The kernel's count, read by the launcher before it removed
                 * the cgroup (an older launcher: only whether it is 0). */
                const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "oom_kills");
                p->oom_final = cJSON_IsNumber(k) && k->valuedouble >= 0 ? (long)k->valuedouble
                               : cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "oom_kill"))
                                       ? 1
                                       : 0;
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "oom_kill"))) {
                const cJSON *mb = cJSON_GetObjectItemCaseSensitive(j, "memory_mb");
                free(p->exit_reason);
                p->exit_reason = xasprintf(RUNTIME_OOM_REASON " (memory limit %u MiB)",
                                           cJSON_IsNumber(mb) ? (unsigned)mb->valuedouble : 0);
        }
        cJSON_Delete(j);
}

static void process_try_reap(runtime_process *p)
{
        siginfo_t si;
        int status = 0, r;

        memset(&si, 0, sizeof(si));
        do
                r = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
                /* ECHILD: someone else reaped it; nothing to wait for any more. */
                p->reaped = true;
                p->exit_status = -1;
                p->term_signal = 0;
                process_schedule_exit(p);
                return;
        }
        if (si.si_pid == 0)
                return;
        /* The zombie still pins the process group id, so this cannot hit a
         * recycled group: leftovers of the server die with it. */
        (void)kill(-p->pid, SIGKILL);
        do
                r = waitpid(p->pid, &status, 0);
        while (r < 0 && errno == EINTR);
        decode_status(p, status);
        read_sandbox_status(p);
        p->reaped = true;
        process_schedule_exit(p);
}

static void on_sigchld(uv_signal_t *h, int signum)
{
        reaper *r = h->data;

        /* Only starts timers, never calls out, so the list cannot change under us. */
        for (runtime_process *p = r->procs; p; p = p->next)
                if (!p->reaped)
                        process_try_reap(p);
        reaper_update_ref(r);
}

static reaper *reaper_get(uv_loop_t *loop)
{
        reaper *r;

        for (r = reapers; r; r = r->next)
                if (r->loop == loop) {
                        r->refs++;
                        return r;
                }
        r = xcalloc(1, sizeof(*r));
        r->loop = loop;
        r->sig = xcalloc(1, sizeof(*r->sig));
        if (uv_signal_init(loop, r->sig) < 0) {
                free(r->sig);
                free(r);
                return NULL;
        }
        r->sig->data = r;
        if (uv_signal_start(r->sig, on_sigchld, SIGCHLD) < 0) {
                uv_close((uv_handle_t *)r->sig, free_handle);
                free(r);
                return NULL;
        }
        uv_unref((uv_handle_t *)r->sig);
        r->refs = 1;
        r->next = reapers;
        reapers = r;
        return r;
}

static void reaper_put(reaper *r)
{
        if (!r || --r->refs > 0)
                return;
        for (reaper **pp = &reapers; *pp; pp = &(*pp)->next)
                if (*pp == r) {
                        *pp = r->next;
                        break;
                }
        uv_close((uv_handle_t *)r->sig, free_handle);
        free(r);
}

static void on_process_handle_closed(uv_handle_t *h)
{
        runtime_process *p = h->data;

        free(h);
        if (--p->open_handles == 0 && p->freed) {
                free(p->exit_reason);
                free(p->oom_file);
                free(p);
        }
}

static void close_process_handle(runtime_process *p, uv_handle_t *h)
{
        if (h && !uv_is_closing(h))
                uv_close(h, on_process_handle_closed);
}

static void on_exit_timer(uv_timer_t *t)
{
        runtime_process *p = t->data;

        if (p->freed || p->exit_called)
                return;
        p->exit_called = true;
        /* Last thing: the owner may free p from here. */
        if (p->cb.on_exit)
                p->cb.on_exit(p->ud, p->exit_status, p->term_signal);
}

/* on_exit once the process is reaped and its output drained, or at most
 * NATIVE_EXIT_GRACE_MS after the reap (grandchildren may hold the pipes). */
static void process_schedule_exit(runtime_process *p)
{
        if (!p->reaped || p->exit_called || p->freed)
                return;
        if (!p->out && !p->err)
                (void)uv_timer_start(p->timer, on_exit_timer, 0, 0);
        else if (!uv_is_active((uv_handle_t *)p->timer))
                (void)uv_timer_start(p->timer, on_exit_timer, NATIVE_EXIT_GRACE_MS, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        runtime_process *p = h->data;

        if ((uv_pipe_t *)h == p->out)
                *buf = uv_buf_init(p->outbuf, sizeof(p->outbuf));
        else
                *buf = uv_buf_init(p->errbuf, sizeof(p->errbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
        runtime_process *p = s->data;
        bool is_out = (uv_pipe_t *)s == p->out;

        if (nread > 0) {
                if (is_out && p->cb.on_stdout)
                        p->cb.on_stdout(p->ud, buf->base, (size_t)nread);
                else if (!is_out && p->cb.on_stderr)
                        p->cb.on_stderr(p->ud, buf->base, (size_t)nread);
                return;
        }
        if (nread == 0 || p->freed)
                return;
        /* EOF or a read error: this stream is done. */
        if (is_out)
                p->out = NULL;
        else
                p->err = NULL;
        close_process_handle(p, (uv_handle_t *)s);
        process_schedule_exit(p);
}

static void native_close_stdin(runtime_process *p);

static void on_written(void *owner, int status)
{
        runtime_process *p = owner;

        /* EPIPE: the server closed its stdin; later writes fail fast. */
        if (status < 0 && status != UV_ECANCELED && !p->freed)
                native_close_stdin(p);
}

static int native_write(runtime_process *p, const char *data, size_t n)
{
        int r;

        if (!p || p->freed || p->reaped || !p->in)
                return -1;
        r = uvwrite_send((uv_stream_t *)p->in, &p->queued, NATIVE_STDIN_MAX, data, n, on_written,
                         p);
        if (r < 0 && r != -ENOBUFS)
                native_close_stdin(p);
        return r < 0 ? -1 : 0;
}

static void native_close_stdin(runtime_process *p)
{
        uv_pipe_t *in;

        if (!p || !p->in)
                return;
        in = p->in;
        p->in = NULL;
        close_process_handle(p, (uv_handle_t *)in);
}

static int native_kill(runtime_process *p, int sig)
{
        if (!p || p->reaped)
                return -ESRCH;
        if (kill(-p->pid, sig) < 0)
                return -errno;
        return 0;
}

static int native_pid(const runtime_process *p)
{
        return p && !p->reaped ? (int)p->pid : 0;
}

static runtime_process *native_free(runtime_process *p)
{
        if (!p)
                return NULL;
        if (!p->reaped) {
                int status = 0, r;

                (void)kill(-p->pid, SIGKILL);
                do
                        r = waitpid(p->pid, &status, 0);
                while (r < 0 && errno == EINTR);
                p->reaped = true;
        }
        p->freed = true;
        if (p->status_fd >= 0) {
                (void)close(p->status_fd);
                p->status_fd = -1;
        }
        for (runtime_process **pp = &p->r->procs; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        break;
                }
        reaper_update_ref(p->r);
        reaper_put(p->r);
        p->r = NULL;
        native_close_stdin(p);
        close_process_handle(p, (uv_handle_t *)p->out);
        close_process_handle(p, (uv_handle_t *)p->err);
        p->out = p->err = NULL;
        /* The timer is open until here, so the struct always goes away in a
         * close callback, after any callback that is running now returns. */
        close_process_handle(p, (uv_handle_t *)p->timer);
        return NULL;
}

/* ---- starting ---------------------------------------------------------- */

enum { STAGE_SETSID = 1, STAGE_PDEATHSIG, STAGE_DUP, STAGE_CHDIR, STAGE_EXEC };

typedef struct child_report {
        int stage;
        int errnum;
} child_report;

typedef struct child_args {
        pid_t parent;
        int in_r, out_w, err_w, report_w;
        int policy_fd, status_w; /* -1 unsandboxed; else become fds 4 and 5 */
        int max_fd;
        const char *cwd;
        const char *exe;
        char *const *argv;
        char *const *envp;
} child_args;

static _noreturn_ void child_fail(int fd, int stage)
{
        child_report rep = {stage, errno};

        (void)!write(fd, &rep, sizeof(rep));
        _exit(127);
}

/* Runs between fork and exec: async-signal-safe calls only. */
static _noreturn_ void child_exec(const child_args *a)
{
        struct sigaction sa;
        sigset_t none;
        int rep = a->report_w;

        if (setsid() < 0)
                child_fail(rep, STAGE_SETSID);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                child_fail(rep, STAGE_PDEATHSIG);
        if (getppid() != a->parent)
                _exit(127); /* the daemon died before the death signal was armed */

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        for (int s = 1; s < _NSIG; s++)
                (void)sigaction(s, &sa, NULL);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);

        /* Every pipe fd is >= 6 (see move_above_stdio), so these cannot clobber
         * each other; then the report pipe moves to 3 and the rest is closed. */
        if (dup2(a->in_r, 0) < 0 || dup2(a->out_w, 1) < 0 || dup2(a->err_w, 2) < 0)
                child_fail(rep, STAGE_DUP);
        if (rep != 3) {
                if (dup2(rep, 3) < 0)
                        child_fail(rep, STAGE_DUP);
                rep = 3;
        }
        (void)fcntl(rep, F_SETFD, FD_CLOEXEC);
        if (a->policy_fd >= 0 &&
            (dup2(a->policy_fd, NATIVE_POLICY_FD) < 0 || dup2(a->status_w, NATIVE_STATUS_FD) < 0))
                child_fail(rep, STAGE_DUP);
        {
                int first = a->policy_fd >= 0 ? NATIVE_STATUS_FD + 1 : 4;
                if (close_range((unsigned)first, ~0U, 0) < 0)
                        for (int fd = first; fd < a->max_fd; fd++)
                                (void)close(fd);
        }

        if (chdir(a->cwd) < 0)
                child_fail(rep, STAGE_CHDIR);
        execve(a->exe, a->argv, a->envp);
        child_fail(rep, STAGE_EXEC);
}

static int move_above_stdio(int *fd)
{
        int nfd;

        /* Above every fd the child dup2()s onto (0-5), so none is clobbered. */
        if (*fd > NATIVE_STATUS_FD)
                return 0;
        nfd = fcntl(*fd, F_DUPFD_CLOEXEC, NATIVE_STATUS_FD + 1);
        if (nfd < 0)
                return -1;
        (void)close(*fd);
        *fd = nfd;
        return 0;
}

static void close_fds(int *fds, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0) {
                        (void)close(fds[i]);
                        fds[i] = -1;
                }
}

/* Wraps *fd in a libuv pipe; on success the handle owns the fd and *fd is -1. */
static int init_pipe(uv_loop_t *loop, runtime_process *p, uv_pipe_t **ret, int *fd)
{
        uv_pipe_t *h = xcalloc(1, sizeof(*h));
        int flags;

        if (uv_pipe_init(loop, h, 0) < 0) {
                free(h);
                return -1;
        }
        h->data = p;
        p->open_handles++;
        *ret = h;
        flags = fcntl(*fd, F_GETFL);
        if (flags >= 0)
                (void)fcntl(*fd, F_SETFL, flags | O_NONBLOCK);
        if (uv_pipe_open(h, *fd) < 0)
                return -1;
        *fd = -1;
        return 0;
}

static int native_start(uv_loop_t *loop, const manifest *m, const corral_paths *paths,
                        const runtime_callbacks *cb, void *ud, runtime_process **ret,
                        corral_error *err)
{
        _cleanup_free_ char *server_dir = NULL, *cwd = NULL, *home = NULL, *exe = NULL;
        _cleanup_strv_ char **env = NULL, **sbx_argv = NULL;
        _cleanup_(sandbox_invocation_done) sandbox_invocation inv = {0};
        int fds[8] = {-1, -1, -1, -1, -1, -1, -1, -1}; /* in, out, err, report: r/w pairs */
        int sfds[3] = {-1, -1, -1}; /* policy memfd, status pipe r/w */
        bool sandboxed = m && m->profile && strcmp(m->profile, "none") != 0;
        struct sigaction pipe_sa;
        struct rlimit rl;
        sigset_t all, old;
        child_args a;
        child_report rep;
        runtime_process *p;
        reaper *r;
        pid_t pid;
        ssize_t n;
        int k;

        if (!m || !m->name || !m->command || !m->command[0])
                return corral_error_set(err, EX_DATAERR, "cannot start server: empty command");
        if (m->cwd && !native_cwd_is_inside(m->cwd))
                return corral_error_set(err, EX_DATAERR,
                                        "cannot start %s: cwd '%s' leaves the server directory",
                                        m->name, m->cwd);

        /* A server that closes its stdin must not kill the daemon with SIGPIPE
         * on our next write; the child gets the default back before exec. */
        if (sigaction(SIGPIPE, NULL, &pipe_sa) == 0 && pipe_sa.sa_handler == SIG_DFL)
                (void)signal(SIGPIPE, SIG_IGN);

        server_dir = paths_server_dir(paths, m->name);
        cwd = path_join(server_dir, m->cwd ? m->cwd : "pkg");
        home = paths_data_dir(paths, m->name);
        if (mkdir(home, 0700) < 0 && errno != EEXIST)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot create %s", home);
        k = native_build_env(m, server_dir, home, &env, err);
        if (k < 0)
                return k;
        k = native_resolve_command(m->command[0], cwd, env, &exe, err);
        if (k < 0)
                return k;
        if (sandboxed) {
                size_t len;

                k = sandbox_invocation_for(m, paths, &inv, err);
                if (k < 0)
                        return k;
                len = strlen(inv.policy);
                sfds[0] = memfd_create("corral-policy", MFD_CLOEXEC);
                if (sfds[0] < 0 || write_all(sfds[0], inv.policy, len) < 0 ||
                    pipe2(sfds + 1, O_CLOEXEC) < 0 || move_above_stdio(&sfds[0]) < 0 ||
                    move_above_stdio(&sfds[1]) < 0 || move_above_stdio(&sfds[2]) < 0) {
                        int e = errno;
                        close_fds(sfds, 3);
                        return corral_error_errno(err, EX_OSERR, e,
                                                  "cannot start %s: passing the policy", m->name);
                }
                sbx_argv = strv_push(sbx_argv, inv.launcher);
                sbx_argv = strv_push(sbx_argv, "--status-fd");
                sbx_argv = strv_push(sbx_argv, "5");
                sbx_argv = strv_push(sbx_argv, "--policy");
                sbx_argv = strv_push(sbx_argv, "/dev/fd/4");
                sbx_argv = strv_push(sbx_argv, "--");
                for (size_t i = 0; inv.argv[i]; i++)
                        sbx_argv = strv_push(sbx_argv, inv.argv[i]);
                strv_free(env);
                env = native_launcher_env();
                free(exe);
                exe = xstrdup(inv.launcher);
        }

        r = reaper_get(loop);
        if (!r) {
                close_fds(sfds, 3);
                return corral_error_set(err, EX_OSERR, "cannot start %s: cannot watch SIGCHLD",
                                        m->name);
        }
        for (int i = 0; i < 8; i += 2)
                if (pipe2(fds + i, O_CLOEXEC) < 0) {
                        int e = errno;
                        close_fds(fds, 8);
                        close_fds(sfds, 3);
                        reaper_put(r);
                        return corral_error_errno(err, EX_OSERR, e, "cannot start %s: pipe",
                                                  m->name);
                }
        for (int i = 0; i < 8; i++)
                if (move_above_stdio(&fds[i]) < 0) {
                        int e = errno;
                        close_fds(fds, 8);
                        close_fds(sfds, 3);
                        reaper_put(r);
                        return corral_error_errno(err, EX_OSERR, e, "cannot start %s: fcntl",
                                                  m->name);
                }

        memset(&a, 0, sizeof(a));
        a.parent = getpid();
        a.in_r = fds[0];
        a.out_w = fds[3];
        a.err_w = fds[5];
        a.report_w = fds[7];
        a.max_fd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                                   rl.rlim_cur < 65536
                           ? (int)rl.rlim_cur
                           : 65536;
        a.cwd = cwd;
        a.exe = exe;
        a.argv = sandboxed ? sbx_argv : m->command;
        a.envp = env;
        a.policy_fd = sandboxed ? sfds[0] : -1;
        a.status_w = sandboxed ? sfds[2] : -1;

        /* Blocked across fork so no handler of ours (libuv's signal pipe) can
         * run in the child before it resets them. */
        sigfillset(&all);
        (void)sigprocmask(SIG_SETMASK, &all, &old);
        pid = fork();
        if (pid == 0)
                child_exec(&a);
        (void)sigprocmask(SIG_SETMASK, &old, NULL);
        if (pid < 0) {
                int e = errno;
                close_fds(fds, 8);
                close_fds(sfds, 3);
                reaper_put(r);
                return corral_error_errno(err, EX_OSERR, e, "cannot start %s: fork", m->name);
        }
        /* Close the child's ends. */
        close_fds(&fds[0], 1);
        close_fds(&fds[3], 1);
        close_fds(&fds[5], 1);
        close_fds(&fds[7], 1);
        close_fds(&sfds[0], 1);
        close_fds(&sfds[2], 1);

        /* exec closes the report pipe (CLOEXEC): EOF means it ran. */
        do
                n = read(fds[6], &rep, sizeof(rep));
        while (n < 0 && errno == EINTR);
        close_fds(&fds[6], 1);
        if (n != 0) {
                int status, w;

                do
                        w = waitpid(pid, &status, 0);
                while (w < 0 && errno == EINTR);
                close_fds(fds, 8);
                close_fds(sfds, 3);
                reaper_put(r);
                if (n != (ssize_t)sizeof(rep))
                        return corral_error_set(err, EX_OSERR, "cannot start %s: child failed",
                                                m->name);
                switch (rep.stage) {
                case STAGE_CHDIR:
                        return corral_error_errno(err, rep.errnum == ENOENT ? EX_NOINPUT : EX_OSERR,
                                                  rep.errnum, "cannot start %s: chdir to %s",
                                                  m->name, cwd);
                case STAGE_EXEC:
                        if (rep.errnum == ENOENT)
                                return corral_error_set(err, EX_NOINPUT, "command not found: %s",
                                                        m->command[0]);
                        return corral_error_errno(err, EX_OSERR, rep.errnum,
                                                  "cannot start %s: exec %s", m->name, exe);
                default:
                        return corral_error_errno(err, EX_OSERR, rep.errnum,
                                                  "cannot start %s: setting up the child", m->name);
                }
        }

        p = xcalloc(1, sizeof(*p));
        p->r = r;
        p->cb = *cb;
        p->ud = ud;
        p->pid = pid;
        p->status_fd = steal_fd(&sfds[1]);
        p->oom_file = sandboxed ? native_oom_file(m->name, pid) : NULL;
        p->oom_final = sandboxed ? -1 : 0;
        p->timer = xcalloc(1, sizeof(*p->timer));
        (void)uv_timer_init(loop, p->timer);
        p->timer->data = p;
        p->open_handles = 1;
        p->next = r->procs;
        r->procs = p;
        reaper_update_ref(r);

        k = init_pipe(loop, p, &p->in, &fds[1]);
        if (k == 0)
                k = init_pipe(loop, p, &p->out, &fds[2]);
        if (k == 0)
                k = init_pipe(loop, p, &p->err, &fds[4]);
        if (k == 0)
                k = uv_read_start((uv_stream_t *)p->out, on_alloc, on_read);
        if (k == 0)
                k = uv_read_start((uv_stream_t *)p->err, on_alloc, on_read);
        if (k < 0) {
                close_fds(fds, 8);
                close_fds(sfds, 3);
                (void)native_free(p);
                return corral_error_set(err, EX_OSERR, "cannot start %s: cannot watch its pipes",
                                        m->name);
        }
        *ret = p;
        return 0;
}

static const char *native_exit_reason(const runtime_process *p)
{
        return p ? p->exit_reason : NULL;
}

/* The kernel's count while the server runs (its cgroup's counter), the
 * launcher's once it ended. */
static unsigned native_oom_kills(runtime_process *p)
{
        long n;

        if (p->oom_final >= 0)
                return (unsigned)(p->oom_final > p->oom_seen ? p->oom_final : p->oom_seen);
        n = native_oom_read(p->oom_file);
        if (n > p->oom_seen)
                p->oom_seen = n;
        return (unsigned)p->oom_seen;
}

const runtime_backend runtime_native = {
        .name = "native",
        .confines = true,
        .exit_reason = native_exit_reason,
        .oom_kills = native_oom_kills,
        .start = native_start,
        .write = native_write,
        .close_stdin = native_close_stdin,
        .kill = native_kill,
        .pid = native_pid,
        .free = native_free,
};
