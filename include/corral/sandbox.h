/* corral-sandbox: the policy contract between the daemon (native runtime
 * backend, `corral run`) and the standalone launcher in sandbox/ (issue 4,
 * DESIGN.md "Security defaults").
 *
 *   corral-sandbox [--status-fd N] --policy FILE -- CMD [ARGS…]
 *
 * FILE is JSON (at most SANDBOX_POLICY_MAX_BYTES), "-" or absent keys take the
 * defaults below; unknown keys are an error (a typo must not loosen a policy):
 *
 *   { "name":      "memory",      required, [a-z0-9][a-z0-9-]{0,47}: hostname
 *                                 inside, cgroup name, uid derivation
 *     "profile":   "default",     seccomp: "default" (allowlist modelled on
 *                                 Docker's, EPERM otherwise), "strict"
 *                                 (narrower: no inet sockets, no process
 *                                 tracing/personality/… calls), "log" (the
 *                                 allowlist allowed, everything else allowed
 *                                 and logged by the kernel: profiling)
 *     "network":   "none",        "none": own net namespace, loopback only;
 *                                 "host": the host's network, plus
 *                                 /etc/resolv.conf, hosts, nsswitch.conf
 *     "uid": N, "gid": N,         the unprivileged host uid/gid the server
 *                                 runs as outside (root launcher only);
 *                                 default sandbox_uid_for(name); as a
 *                                 non-root user always the caller's own ids
 *     "pkg":  "/host/path",       shown at the SAME absolute path, as "code" says
 *     "code": "overlay"|"readonly", overlay (default when data is given;
 *                                 readonly for the strict profile or without
 *                                 data): pkg is writable inside through an
 *                                 overlay whose upper layer persists in
 *                                 data/overlay/{upper,work} (hidden inside);
 *                                 the host's pkg never changes.  readonly: a
 *                                 read-only bind
 *     "data": "/host/path",       bound read-write at the SAME absolute path;
 *                                 chowned to uid:gid (top directory only)
 *                                 when the launcher runs as root
 *     "cwd":  "/inside/path",     default: data, else "/"
 *     "mounts": [ { "source": "/host/path", "target": "/inside/path"
 *                   (default: source), "writable": false } ],
 *                                 as root, a writable mount whose source
 *                                 is not owned by uid:gid is an idmapped
 *                                 bind (sandbox_idmap_tree): the server
 *                                 writes files owned by the source's owner,
 *                                 nothing is chowned; where the kernel or
 *                                 filesystem cannot idmap, the launcher
 *                                 fails (71) naming the fallback ("uid")
 *     "memory_mb": 512, "pids": 256, "cpus": 1.0,   cgroup limits; 0 = none
 *     "tmp_mb": 64,               size of the private /tmp (tmpfs)
 *     "nofile": 1024,             RLIMIT_NOFILE
 *     "fsize_mb": 1024,           RLIMIT_FSIZE
 *     "env": { "K": "V" } }       the command's whole environment (the
 *                                 launcher's own is not passed on); PATH
 *                                 defaults to SANDBOX_DEFAULT_PATH
 *
 * Paths are kept: pkg, data and mounts appear inside at their host paths
 * (target defaults to source), so a manifest's relative command run from
 * pkg and HOME=<data dir> work unchanged.  Everything else inside is a fresh
 * read-only tmpfs root with read-only binds of /usr, /bin, /sbin, /lib*,
 * /etc/ssl, /etc/ca-certificates, /etc/ld.so.cache, /etc/localtime (those that
 * exist), the prefix of CMD when it lives elsewhere (e.g. ~/.nvm/…/bin/node →
 * its version directory), a minimal /dev (null zero full random urandom, fd
 * links), a fresh /proc (sys and sysrq-trigger read-only), a size-capped
 * /tmp, generated /etc/passwd and /etc/group; no /sys.
 *
 * Inside, the server is uid/gid SANDBOX_INSIDE_UID in its own user, mount,
 * pid, ipc, uts, cgroup and (network none) net namespaces, with no
 * capabilities, no_new_privs, every fd beyond 0/1/2 closed, rlimits (core 0,
 * nofile, fsize) and the seccomp profile loaded last before exec.  A minimal
 * init is pid 1 (reaps, forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/2).
 *
 * The launcher stays outside as the parent and monitor: it forwards the same
 * signals, removes the cgroups when the server is gone (stale ones of earlier
 * launchers killed with SIGKILL are removed at the next start), and exits
 * with the server's status (re-raising its terminating signal).  With
 * --status-fd N it writes one JSON line to fd N before exiting:
 *   {"exit_status": 0, "term_signal": 0, "oom_kill": false, "memory_mb": 512}
 * and also prints the OOM kill on stderr.  cgroups: v2 when
 * /sys/fs/cgroup is unified, else the v1 memory, pids and cpu hierarchies;
 * created under the launcher's own cgroup as corral/<name>-<pid>.  When they
 * cannot be created (an unprivileged user without delegation), the launcher
 * warns on stderr and runs without those limits.
 *
 * Exit codes of the launcher itself: 64 usage, 65 bad policy, 66 a path in
 * the policy or CMD not found, 71 (EX_OSERR) setting up the sandbox failed
 * (message "corral-sandbox: what: why" on stderr); otherwise the server's. */
#pragma once

#include <stdint.h>

#define SANDBOX_POLICY_MAX_BYTES (1u << 20)
#define SANDBOX_MAX_MOUNTS 64
#define SANDBOX_MAX_ENV 256
#define SANDBOX_INSIDE_UID 1000u
#define SANDBOX_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define SANDBOX_DEFAULT_MEMORY_MB 512u
#define SANDBOX_DEFAULT_PIDS 256u
#define SANDBOX_DEFAULT_CPUS 1.0
#define SANDBOX_DEFAULT_TMP_MB 64u
/* /dev/shm inside (a tmpfs of this size); the docker backend's ShmSize. */
#define SANDBOX_SHM_MB 1u
#define SANDBOX_DEFAULT_NOFILE 1024u
#define SANDBOX_DEFAULT_FSIZE_MB 1024u
/* Dedicated host uids for servers started by root: SANDBOX_UID_BASE plus a
 * 24-bit FNV-1a hash of the name (uid == gid).  Far above login users and
 * the usual /etc/subuid ranges (100000…). */
#define SANDBOX_UID_BASE 0x60000000u

/* The host uid (and gid) a server named `name` runs as when root starts it. */
static inline uint32_t sandbox_uid_for(const char *name)
{
        uint32_t h = 2166136261u;

        for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
                h ^= *s;
                h *= 16777619u;
        }
        return SANDBOX_UID_BASE + (h & 0xffffffu);
}

#include <sys/types.h>

/* A detached copy of the mount at source (a directory or file), idmapped so
 * that a process of host uid/gid writes files owned by disk_uid/disk_gid and
 * sees them as its own (mount_setattr(2) MOUNT_ATTR_IDMAP, Linux >= 5.12),
 * nosuid and nodev; attach it with move_mount(2).  Needs CAP_SYS_ADMIN in the
 * initial user namespace (root).  0 with *ret_fd (O_CLOEXEC, owned), or
 * -errno with *ret_what naming the step that failed (-EINVAL from the last
 * step: the filesystem or kernel cannot idmap).  sandbox/idmap.c. */
int sandbox_idmap_tree(const char *source, uid_t disk_uid, gid_t disk_gid, uid_t uid, gid_t gid,
                       int *ret_fd, const char **ret_what);

/* The calling process's own cgroup path (as in /proc/self/cgroup, "/" for
 * the root) in the v1 hierarchy of controller ctrl ("memory", "pids", …), or
 * in the v2 unified hierarchy when ctrl is NULL; see cgroups(7).  Owned by
 * the caller; NULL when there is no such line or /proc cannot be read.  The
 * launcher makes each server's cgroup under its own, so the daemon finds it
 * under the same path.  sandbox/cgroup_path.c. */
char *sandbox_own_cgroup(const char *ctrl);

/* ---- the daemon's side (libcorral, src/runtime/native.c) ----------------
 *
 * A manifest's sandbox.mounts entries are "SOURCE[:TARGET][:ro|:rw]" (host
 * paths, absolute; read-only unless ":rw"), turned into policy "mounts".
 * Command arguments that are absolute paths of existing files or directories
 * outside pkg (`-- node /path/server.js`, server-filesystem's `-- /srv/docs`)
 * are bound read-only too, each alone (never "/" nor an ancestor of the
 * server's store entry); writable access needs an explicit ":rw" mount. */

#ifndef CORRAL_SANDBOX_LAUNCHER_ONLY
#include "corral/error.h"

struct manifest;
struct corral_paths;

/* The corral-sandbox to run (owned): at the path fixed at build time
 * ($(LIBEXECDIR)/corral/corral-sandbox, see the Makefile), else next to this
 * corral (the build tree, a relocated install), else $CORRAL_SANDBOX; the
 * first that is an executable file, or with none the build-time path (for
 * the error message). */
char *sandbox_launcher_path(void);

/* How the native backend and `corral run` start a sandboxed server. */
typedef struct sandbox_invocation {
        char *launcher; /* corral-sandbox: sandbox_launcher_path() */
        char *policy;   /* the policy JSON text */
        char **argv;    /* the server's command, argv[0] absolute when it was resolvable */
        char *cwd;      /* host (= inside) working directory */
} sandbox_invocation;

/* Fills *inv for m (profile other than "none") in the store of paths; the
 * data dir is created.  0, or -EX_NOINPUT (launcher or command missing),
 * -EX_DATAERR (bad mounts or env), -EX_CANTCREAT.  inv is owned by the caller
 * (sandbox_invocation_done). */
int sandbox_invocation_for(const struct manifest *m, const struct corral_paths *paths,
                           sandbox_invocation *inv, corral_error *err);
void sandbox_invocation_done(sandbox_invocation *inv);
#endif
