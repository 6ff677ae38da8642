/* Sandboxed builds (resolvers/build.c, issue 14): every build step of a git
 * source and every npm lifecycle script runs under corral-sandbox with a
 * build policy, never on the host:
 *
 *   - network "none" (dependencies are fetched by corral before, outside);
 *   - the tree being built (in staging) and a throw-away build HOME
 *     writable, everything else as the launcher gives it (a read-only tmpfs
 *     root with read-only binds of /usr, /bin, /lib…: the host toolchain,
 *     node, cc, make, python3), a private /tmp;
 *   - memory CORRAL_BUILD_MEMORY_MB (default 2048), pids CORRAL_BUILD_PIDS
 *     (default 512), 2 CPUs, the default seccomp profile;
 *   - a wall-clock limit CORRAL_BUILD_TIMEOUT seconds (default 600): the
 *     build is then killed (the launcher's process group, SIGTERM then
 *     SIGKILL) and fails with EX_TEMPFAIL;
 *   - as root, the build runs as the server's dedicated uid
 *     (sandbox_uid_for()); the tree is handed to that uid for the build and
 *     back to root after it.  Whatever the build leaves running dies with
 *     its pid namespace when the command exits.
 *
 * Output is streamed to stderr (when progress is asked) and appended to the
 * server's log (log/NAME.log) with a header line per step; at most
 * BUILD_MAX_LOG bytes per step are kept. */
#pragma once

#include <stdbool.h>

#include "corral/error.h"

#define BUILD_DEFAULT_TIMEOUT 600u
#define BUILD_DEFAULT_MEMORY_MB 2048u
#define BUILD_DEFAULT_PIDS 512u
#define BUILD_MAX_LOG (16u << 20)

typedef struct build_step {
        const char *name;     /* the server's name: policy name, uid, cgroup */
        const char *tree;     /* absolute; writable inside, at the same path */
        const char *cwd;      /* absolute, inside tree; NULL = tree */
        const char *home;     /* absolute; the build's HOME (writable), created */
        char *const *argv;    /* argv[0] absolute, or looked up on the build PATH */
        char *const *env;     /* extra KEY=VALUE, or NULL */
        const char *log_path; /* appended to; NULL = no log */
        const char *what;     /* for messages: "build script", "install script of x" */
        bool progress;        /* stream the output to stderr */
} build_step;

/* Runs one step in the sandbox and waits for it (blocking: the CLI's
 * install, never the daemon's loop).  0 when it exited 0; -EX_DATAERR when
 * it failed (exit status or signal, an OOM kill, named in the message with
 * the last line of its output), -EX_TEMPFAIL when the wall-clock limit
 * killed it, -EX_NOINPUT when corral-sandbox is missing, -EX_OSERR /
 * -EX_CANTCREAT when the step cannot be set up. */
int build_run(const build_step *step, corral_error *err);

/* After a build: refuses a tree (-EX_DATAERR) that holds a symlink that is
 * absolute or leaves the tree, or a device, fifo or socket. */
int build_check_tree(const char *tree, corral_error *err);
