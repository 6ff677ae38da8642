/* corral-sandbox internals: the parsed policy and the steps of the launcher.
 * The policy file format is the contract in include/corral/sandbox.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "corral/macro.h"
#include "corral/sandbox.h"

/* Launcher exit codes (sysexits). */
#define SBX_EX_USAGE 64
#define SBX_EX_DATAERR 65
#define SBX_EX_NOINPUT 66
#define SBX_EX_OSERR 71

typedef struct sbx_mount {
        char *source; /* absolute host path */
        char *target; /* absolute inside path */
        bool writable;
} sbx_mount;

typedef struct sbx_policy {
        char *name;
        char *profile; /* default strict log */
        bool net_host;
        bool have_ids;
        uid_t uid;
        gid_t gid;
        char *pkg;  /* NULL when absent */
        char *data; /* NULL when absent */
        bool code_overlay; /* pkg as an overlay, its upper layer in data/overlay/ */
        char *cwd;
        sbx_mount mounts[SANDBOX_MAX_MOUNTS];
        size_t n_mounts;
        unsigned memory_mb, pids, tmp_mb, nofile, fsize_mb;
        double cpus;
        char **env; /* NULL-terminated "K=V", always has PATH */
} sbx_policy;

/* Messages: "corral-sandbox: …" on stderr. */
void sbx_warn(const char *fmt, ...) _printf_(1, 2);
/* sbx_warn() with ": strerror(errno)" appended. */
void sbx_warn_errno(const char *fmt, ...) _printf_(1, 2);

/* Launch timing for bench/sandbox-start and profiling: with
 * CORRAL_SANDBOX_TIMING=1 in the launcher's environment, each call prints
 * "corral-sandbox: timing PID +MICROSECONDS what" on stderr (microseconds
 * since sbx_timing_init(), shared by the launcher and its children).
 * Otherwise a no-op. */
void sbx_timing_init(void);
void sbx_mark(const char *what);

/* policy.c: parse JSON text; 0 or a launcher exit code with the message
 * printed. */
int sbx_policy_parse(sbx_policy *p, const char *json, size_t len);
int sbx_policy_load(sbx_policy *p, const char *path);
void sbx_policy_done(sbx_policy *p);
/* PATH value from p->env. */
const char *sbx_policy_path(const sbx_policy *p);

/* cgroup.c */
typedef struct sbx_cgroup {
        bool v2;
        char *dirs[3]; /* v2: dirs[0] only; v1: memory, pids, cpu (NULL = not set up) */
        unsigned memory_mb;
} sbx_cgroup;
/* Creates and configures the cgroups; warns and leaves dirs NULL where not
 * possible.  Never fails hard. */
void sbx_cgroup_setup(sbx_cgroup *cg, const sbx_policy *p);
/* Moves pid into every set-up cgroup; 0 or -errno. */
int sbx_cgroup_attach(sbx_cgroup *cg, pid_t pid);
/* How many processes the OOM killer killed in the memory cgroup: the
 * kernel's oom_kill counter (v2 memory.events, v1 memory.oom_control; 0
 * when there is none or it cannot be read). */
unsigned long sbx_cgroup_oom_kills(const sbx_cgroup *cg);
/* Kills what is left and removes the cgroups. */
void sbx_cgroup_cleanup(sbx_cgroup *cg);

/* caps.c */
int sbx_drop_caps(void);
int sbx_keep_caps_setid(uid_t uid, gid_t gid);

/* seccomp.c: the launcher compiles the profile's filter and writes it to fd
 * (one frame: magic, length, BPF program); the server reads that frame from
 * the other end into *prog (filter malloc'ed, the process execs or exits
 * soon after) and loads it as the last step before exec.  All 0 or -errno;
 * a short or malformed frame (the launcher failed or died) is an error, so
 * the server never runs unfiltered. */
struct sock_fprog;
int sbx_seccomp_send(const char *profile, int fd);
/* Compiles the profile (corral/syscalls.h) with libseccomp, uncached, into
 * *out (malloc'ed frame: magic, length in bytes, BPF program); *n its size.
 * -EINVAL for an unknown profile.  tests/unit/test_syscalls.c reads it. */
int sbx_seccomp_compile(const char *profile, uint32_t **out, size_t *n);
int sbx_seccomp_receive(int fd, struct sock_fprog *prog);
int sbx_seccomp_load(const struct sock_fprog *prog);

/* mounts.c: everything from the private mount namespace to pivot_root.
 * cmd_prefix: an extra read-only host directory for the command, or NULL.
 * Runs in the init as (inside) uid; fds holds O_PATH fds opened before the
 * uid switch.  0 or -1 with the message printed. */
typedef struct sbx_bind {
        int fd;          /* O_PATH to the host source */
        char *target;    /* inside path */
        bool writable;
        bool is_dir;
        int tree_fd;     /* a detached idmapped tree to attach instead, or -1 */
} sbx_bind;
typedef struct sbx_fs {
        sbx_bind binds[SANDBOX_MAX_MOUNTS + 32];
        size_t n;
} sbx_fs;
/* Opens the sources (as the original uid).  idmap_fds[i] (may be NULL): a
 * detached idmapped tree (sandbox_idmap_tree) for policy mount i, attached
 * in its place, or -1; fs keeps no ownership of them.  0 or a launcher exit
 * code. */
int sbx_fs_open(sbx_fs *fs, const sbx_policy *p, const char *cmd_prefix, const int *idmap_fds);
int sbx_fs_build(sbx_fs *fs, const sbx_policy *p);
void sbx_fs_close(sbx_fs *fs);
/* Brings "lo" up in a fresh net namespace. */
int sbx_loopback_up(void);

/* init.c: pid 1 inside.  Never returns.  ctl_r: the launcher's pipe, on
 * which the server receives its seccomp filter (sbx_seccomp_send). */
_noreturn_ void sbx_init_run(const sbx_policy *p, const char *exe, char **argv, int status_w,
                             int ctl_r);
