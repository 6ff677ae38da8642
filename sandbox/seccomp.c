/* seccomp profiles (libseccomp).  The allowlist is modelled on Docker's
 * default profile (moby/profiles/seccomp/default.json), without the calls it
 * only grants to CAP_SYS_ADMIN & co.  Anything not listed gets EPERM
 * (default, strict) or is logged and allowed (log).  The architecture is
 * checked: a foreign-arch syscall kills the process. */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#define CORRAL_SANDBOX_LAUNCHER_ONLY
#include "sandbox.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* S: also in strict. D: default and log only. */
#define S 1
#define D 0

static const struct {
        const char *name;
        int strict;
} allow[] = {
        {"accept", D}, {"accept4", D}, {"access", S}, {"alarm", S}, {"arch_prctl", S},
        {"bind", D}, {"brk", S}, {"capget", S}, {"capset", S}, {"chdir", S}, {"chmod", S},
        {"chown", D}, {"chown32", D}, {"clock_adjtime", D}, {"clock_getres", S},
        {"clock_gettime", S}, {"clock_nanosleep", S}, {"close", S}, {"close_range", S},
        {"connect", S}, {"copy_file_range", S}, {"creat", S}, {"dup", S}, {"dup2", S},
        {"dup3", S}, {"epoll_create", S}, {"epoll_create1", S}, {"epoll_ctl", S},
        {"epoll_pwait", S}, {"epoll_pwait2", S}, {"epoll_wait", S}, {"eventfd", S},
        {"eventfd2", S}, {"execve", S}, {"execveat", S}, {"exit", S}, {"exit_group", S},
        {"faccessat", S}, {"faccessat2", S}, {"fadvise64", S}, {"fallocate", S},
        {"fanotify_mark", D}, {"fchdir", S}, {"fchmod", S}, {"fchmodat", S}, {"fchmodat2", S},
        {"fchown", D}, {"fchownat", D}, {"fcntl", S}, {"fdatasync", S}, {"fgetxattr", S},
        {"flistxattr", S}, {"flock", S}, {"fork", S}, {"fremovexattr", D}, {"fsetxattr", D},
        {"fstat", S}, {"fstatfs", S}, {"fsync", S}, {"ftruncate", S}, {"futex", S},
        {"futex_waitv", S}, {"futex_time64", S}, {"futimesat", S}, {"get_robust_list", S},
        {"get_thread_area", S}, {"getcpu", S}, {"getcwd", S}, {"getdents", S},
        {"getdents64", S}, {"getegid", S}, {"geteuid", S}, {"getgid", S}, {"getgroups", S},
        {"getitimer", S}, {"getpeername", S}, {"getpgid", S}, {"getpgrp", S}, {"getpid", S},
        {"getppid", S}, {"getpriority", S}, {"getrandom", S}, {"getresgid", S},
        {"getresuid", S}, {"getrlimit", S}, {"getrusage", S}, {"getsid", S},
        {"getsockname", S}, {"getsockopt", S}, {"gettid", S}, {"gettimeofday", S},
        {"getuid", S}, {"getxattr", S}, {"inotify_add_watch", S}, {"inotify_init", S},
        {"inotify_init1", S}, {"inotify_rm_watch", S}, {"ioctl", S}, {"ioprio_get", S},
        {"ioprio_set", D}, {"kill", S}, {"landlock_add_rule", S},
        {"landlock_create_ruleset", S}, {"landlock_restrict_self", S}, {"lchown", D},
        {"lgetxattr", S}, {"link", S}, {"linkat", S}, {"listen", D}, {"listxattr", S},
        {"llistxattr", S}, {"lremovexattr", D}, {"lseek", S}, {"lsetxattr", D}, {"lstat", S},
        {"madvise", S}, {"membarrier", S}, {"memfd_create", S}, {"memfd_secret", D},
        {"mincore", S}, {"mkdir", S}, {"mkdirat", S}, {"mlock", D}, {"mlock2", D},
        {"mlockall", D}, {"mmap", S}, {"mprotect", S}, {"mq_getsetattr", D},
        {"mq_notify", D}, {"mq_open", D}, {"mq_timedreceive", D}, {"mq_timedsend", D},
        {"mq_unlink", D}, {"mremap", S}, {"msgctl", D}, {"msgget", D}, {"msgrcv", D},
        {"msgsnd", D}, {"msync", S}, {"munlock", D}, {"munlockall", D}, {"munmap", S},
        {"name_to_handle_at", D}, {"nanosleep", S}, {"newfstatat", S}, {"open", S},
        {"openat", S}, {"openat2", S}, {"pause", S}, {"pidfd_getfd", D}, {"pidfd_open", S},
        {"pidfd_send_signal", S}, {"pipe", S}, {"pipe2", S}, {"pkey_alloc", S},
        {"pkey_free", S}, {"pkey_mprotect", S}, {"poll", S}, {"ppoll", S}, {"prctl", S},
        {"pread64", S}, {"preadv", S}, {"preadv2", S}, {"prlimit64", S},
        {"process_mrelease", D}, {"pselect6", S}, {"pwrite64", S}, {"pwritev", S},
        {"pwritev2", S}, {"read", S}, {"readahead", S}, {"readlink", S}, {"readlinkat", S},
        {"readv", S}, {"recvfrom", S}, {"recvmmsg", S}, {"recvmsg", S},
        {"remap_file_pages", D}, {"removexattr", D}, {"rename", S}, {"renameat", S},
        {"renameat2", S}, {"restart_syscall", S}, {"rmdir", S}, {"rseq", S},
        {"rt_sigaction", S}, {"rt_sigpending", S}, {"rt_sigprocmask", S},
        {"rt_sigqueueinfo", S}, {"rt_sigreturn", S}, {"rt_sigsuspend", S},
        {"rt_sigtimedwait", S}, {"rt_tgsigqueueinfo", S}, {"sched_get_priority_max", S},
        {"sched_get_priority_min", S}, {"sched_getaffinity", S}, {"sched_getattr", S},
        {"sched_getparam", S}, {"sched_getscheduler", S}, {"sched_rr_get_interval", S},
        {"sched_setaffinity", S}, {"sched_setattr", D}, {"sched_setparam", D},
        {"sched_setscheduler", D}, {"sched_yield", S}, {"seccomp", S}, {"select", S},
        {"semctl", D}, {"semget", D}, {"semop", D}, {"semtimedop", D}, {"sendfile", S},
        {"sendmmsg", S}, {"sendmsg", S}, {"sendto", S}, {"set_robust_list", S},
        {"set_thread_area", S}, {"set_tid_address", S}, {"setfsgid", D}, {"setfsuid", D},
        {"setgid", D}, {"setgroups", D}, {"setitimer", S}, {"setpgid", S},
        {"setpriority", S}, {"setregid", D}, {"setresgid", D}, {"setresuid", D},
        {"setreuid", D}, {"setrlimit", S}, {"setsid", S}, {"setsockopt", S}, {"setuid", D},
        {"setxattr", D}, {"shmat", D}, {"shmctl", D}, {"shmdt", D}, {"shmget", D},
        {"shutdown", S}, {"sigaltstack", S}, {"signalfd", S}, {"signalfd4", S},
        {"socketpair", S}, {"splice", S}, {"stat", S}, {"statfs", S}, {"statx", S},
        {"symlink", S}, {"symlinkat", S}, {"sync", S}, {"sync_file_range", S}, {"syncfs", S},
        {"sysinfo", S}, {"tee", S}, {"tgkill", S}, {"time", S}, {"timer_create", S},
        {"timer_delete", S}, {"timer_getoverrun", S}, {"timer_gettime", S},
        {"timer_settime", S}, {"timerfd_create", S}, {"timerfd_gettime", S},
        {"timerfd_settime", S}, {"times", S}, {"tkill", S}, {"truncate", S}, {"umask", S},
        {"uname", S}, {"unlink", S}, {"unlinkat", S}, {"utime", S}, {"utimensat", S},
        {"utimes", S}, {"vfork", S}, {"wait4", S}, {"waitid", S}, {"waitpid", S},
        {"write", S}, {"writev", S},
};

#define NS_FLAGS                                                                                   \
        (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |                \
         CLONE_NEWNET | CLONE_NEWCGROUP | 0x00000080 /* CLONE_NEWTIME */)

int sbx_seccomp_load(const char *profile)
{
        bool strict = strcmp(profile, "strict") == 0;
        bool logging = strcmp(profile, "log") == 0;
        scmp_filter_ctx ctx;
        int r;

        ctx = seccomp_init(logging ? SCMP_ACT_LOG : SCMP_ACT_ERRNO(EPERM));
        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < ARRAY_SIZE(allow); i++) {
                int nr;

                if (strict && !allow[i].strict)
                        continue;
                nr = seccomp_syscall_resolve_name(allow[i].name);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* not on this architecture */
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
                if (r < 0 && r != -EEXIST)
                        goto out;
        }
        /* clone only without namespace flags; clone3 hides its flags in
         * memory, so it reports ENOSYS and glibc falls back to clone. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, NS_FLAGS, 0));
        if (r < 0)
                goto out;
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        if (r < 0)
                goto out;
        /* Address families a server needs; AF_ALG, AF_VSOCK and the rest get
         * the default action.  strict: local sockets only. */
        {
                static const int fams[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};
                for (size_t i = 0; i < (strict ? 1 : ARRAY_SIZE(fams)); i++) {
                        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                                             SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu,
                                                     (scmp_datum_t)fams[i]));
                        if (r < 0)
                                goto out;
                }
        }
        if (logging) {
                /* The calls the issue names stay denied even when profiling. */
                static const char *const deny[] = {
                        "mount", "umount2", "pivot_root", "unshare", "setns", "keyctl",
                        "add_key", "request_key", "bpf", "perf_event_open", "ptrace",
                        "process_vm_readv", "process_vm_writev", "kexec_load",
                        "kexec_file_load", "init_module", "finit_module", "delete_module",
                        "reboot", "swapon", "swapoff", "userfaultfd", "io_uring_setup",
                        "io_uring_enter", "io_uring_register", "open_by_handle_at",
                };
                for (size_t i = 0; i < ARRAY_SIZE(deny); i++) {
                        int nr = seccomp_syscall_resolve_name(deny[i]);
                        if (nr == __NR_SCMP_ERROR)
                                continue;
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
                        if (r < 0)
                                goto out;
                }
                for (unsigned long bit = 1; bit; bit <<= 1) {
                        if (!(NS_FLAGS & bit))
                                continue;
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                             SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit));
                        if (r < 0)
                                goto out;
                }
        }
        r = seccomp_load(ctx);
out:
        seccomp_release(ctx);
        return r;
}
