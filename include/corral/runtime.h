/* Runtime backends: how a unit's process is started, fed and stopped.  The
 * supervisor only talks to this interface; the native backend (here: plain
 * fork/exec; later: exec of corral-sandbox) and the docker backend plug in
 * behind it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "corral/error.h"
#include "corral/manifest.h"
#include "corral/paths.h"

typedef struct runtime_process runtime_process;

typedef struct runtime_callbacks {
        void (*on_stdout)(void *ud, const char *data, size_t n); /* MCP messages */
        void (*on_stderr)(void *ud, const char *data, size_t n); /* to the log */
        /* The process has exited and been reaped (exit_status, or term_signal
         * when killed).  Called once; the process may then be freed. */
        void (*on_exit)(void *ud, int exit_status, int term_signal);
} runtime_callbacks;

typedef struct runtime_backend {
        const char *name; /* "native", … */
        /* Whether servers run confined by the manifest's sandbox policy.  The
         * native backend is a plain fork/exec until corral-sandbox exists, and
         * listings say "unconfined" for it. */
        bool confines;
        /* Starts m's command.  Native: in servers/NAME/<cwd>, with a clean
         * environment (PATH, HOME=data dir, LANG, TMPDIR, plus m->env), stdin/
         * stdout/stderr on pipes, its own process group, PR_SET_PDEATHSIG.
         * Returns 0 and an owned process, or -EX_OSERR / -EX_NOINPUT, or
         * -EX_UNAVAILABLE when a service the backend needs is down (the
         * docker engine): the supervisor shows the unit unavailable and
         * retries without counting a crash. */
        int (*start)(uv_loop_t *loop, const manifest *m, const corral_paths *paths,
                     const runtime_callbacks *cb, void *ud, runtime_process **ret,
                     corral_error *err);
        /* Queues bytes for stdin (copied).  0 or -1 when stdin is closed. */
        int (*write)(runtime_process *p, const char *data, size_t n);
        /* Closes stdin (the polite first step of a stop). */
        void (*close_stdin)(runtime_process *p);
        /* Signals the process group.  0 or -errno. */
        int (*kill)(runtime_process *p, int sig);
        /* The main pid, or 0 once reaped. */
        int (*pid)(const runtime_process *p);
        /* Frees after on_exit (or kills with SIGKILL and reaps synchronously
         * before freeing when still running).  Returns NULL. */
        runtime_process *(*free)(runtime_process *p);
        /* Optional (NULL allowed): why the process ended when the backend
         * knows better than the exit status, e.g. "killed by the OOM killer
         * (memory limit 512 MiB)"; NULL otherwise.  Valid until free(). */
        const char *(*exit_reason)(const runtime_process *p);
#define RUNTIME_OOM_REASON "killed by the OOM killer" /* how an OOM kill's reason starts */
        /* Optional (NULL allowed): how many processes of this run the kernel's
         * OOM killer has killed so far — while it runs too (a child killed
         * while the server lives on) — from the kernel, not from exit text:
         * the memory cgroup's oom_kill counter (native: cgroup v2
         * memory.events, v1 memory.oom_control), the engine's OOM report
         * (docker).  Never decreases for one process; valid until free(). */
        unsigned (*oom_kills)(runtime_process *p);
        /* Optional (NULL allowed): whether the process ended because the
         * service it runs on went away (the docker engine stopped), not by
         * the server's doing.  The supervisor then shows the unit unavailable
         * and retries without counting a crash; exit_reason says why. */
        bool (*service_lost)(const runtime_process *p);
        /* Optional (NULL allowed): whether the process ended because the
         * server wants authorization that only a person can give (a remote
         * server's 401 with no token to refresh).  The supervisor then shows
         * the unit pending_auth and does not retry; exit_reason says why. */
        bool (*needs_auth)(const runtime_process *p);
        /* Optional (NULL allowed): whether the process ended in a way a
         * restart cannot mend (a remote server still refusing the scope it
         * was re-authorized for).  The supervisor then fails the unit at once
         * with exit_reason. */
        bool (*fatal)(const runtime_process *p);
} runtime_backend;

extern const runtime_backend runtime_native;
/* Docker containers through the Engine API (src/runtime/docker.c). */
extern const runtime_backend runtime_docker;
/* Remote MCP servers over Streamable HTTP / HTTP+SSE (src/runtime/remote.c). */
extern const runtime_backend runtime_remote;
/* runtime_remote's start with the OAuth tokens of user uid instead of
 * remote_token_uid(m)'s: a per-user session to a global remote server
 * (issue 15, src/supervisor/usession.c).  Same returns as start(); the
 * process is driven and freed through runtime_remote. */
int runtime_remote_start_as(uv_loop_t *loop, const manifest *m, const corral_paths *paths,
                            uid_t uid, const runtime_callbacks *cb, void *ud,
                            runtime_process **ret, corral_error *err);
/* Engine API calls the docker backend still has in flight, including
 * removals of containers whose process was already freed (at least 1 while
 * any freed process is still being released): a daemon that shuts down runs
 * its loop until this is 0 (each call has its own timeout), after which the
 * backend holds nothing on the loop. */
size_t runtime_docker_pending(void);
/* Removes (force), on loop and without waiting, the containers labelled
 * with root_label (the store's servers dir) that an earlier daemon run left
 * behind: those without this run's io.corral.run label.  No engine socket:
 * nothing can be left, nothing is done. */
void runtime_docker_remove_leftovers(uv_loop_t *loop, const char *root_label);

/* The backend for a manifest's runtime.backend; NULL when not built yet. */
const runtime_backend *runtime_backend_find(const char *name);
