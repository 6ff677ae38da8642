/* The syscall table both backends read (include/corral/syscalls.h).  The
 * allowlist is modelled on Docker's default profile
 * (moby/profiles/seccomp/default.json) without the calls it only grants to
 * CAP_SYS_ADMIN & co.  Edit here only: corral-sandbox compiles this table and
 * the docker backend translates it; tests/unit/test_syscalls.c checks that the
 * two filters decide every call alike. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "corral/macro.h"
#include "corral/syscalls.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

#define ALL SYSCALLS_ALL
#define NOT_STRICT (SYSCALLS_DEFAULT | SYSCALLS_LOG)
#define ALLOW(n, p) {#n, (p), 0, false, 0, 0, 0}
/* Allowed when (argument a & mask) == value. */
#define ALLOW_IF(n, p, a, m, v) {#n, (p), 0, true, (a), (m), (v)}
#define DENY(n, p, e) {#n, (p), (e), false, 0, 0, 0}
#define DENY_IF(n, p, e, a, m, v) {#n, (p), (e), true, (a), (m), (v)}
#define U32 0xffffffffull

const syscall_rule syscall_rules[] = {
        ALLOW(accept, NOT_STRICT), ALLOW(accept4, NOT_STRICT), ALLOW(access, ALL),
        ALLOW(alarm, ALL), ALLOW(arch_prctl, ALL), ALLOW(bind, NOT_STRICT), ALLOW(brk, ALL),
        ALLOW(capget, ALL), ALLOW(capset, ALL), ALLOW(chdir, ALL), ALLOW(chmod, ALL),
        ALLOW(chown, NOT_STRICT), ALLOW(chown32, NOT_STRICT), ALLOW(clock_adjtime, NOT_STRICT),
        ALLOW(clock_getres, ALL), ALLOW(clock_gettime, ALL), ALLOW(clock_nanosleep, ALL),
        ALLOW(close, ALL), ALLOW(close_range, ALL), ALLOW(connect, ALL),
        ALLOW(copy_file_range, ALL), ALLOW(creat, ALL), ALLOW(dup, ALL), ALLOW(dup2, ALL),
        ALLOW(dup3, ALL), ALLOW(epoll_create, ALL), ALLOW(epoll_create1, ALL),
        ALLOW(epoll_ctl, ALL), ALLOW(epoll_pwait, ALL), ALLOW(epoll_pwait2, ALL),
        ALLOW(epoll_wait, ALL), ALLOW(eventfd, ALL), ALLOW(eventfd2, ALL), ALLOW(execve, ALL),
        ALLOW(execveat, ALL), ALLOW(exit, ALL), ALLOW(exit_group, ALL), ALLOW(faccessat, ALL),
        ALLOW(faccessat2, ALL), ALLOW(fadvise64, ALL), ALLOW(fallocate, ALL),
        ALLOW(fanotify_mark, NOT_STRICT), ALLOW(fchdir, ALL), ALLOW(fchmod, ALL),
        ALLOW(fchmodat, ALL), ALLOW(fchmodat2, ALL), ALLOW(fchown, NOT_STRICT),
        ALLOW(fchownat, NOT_STRICT), ALLOW(fcntl, ALL), ALLOW(fdatasync, ALL),
        ALLOW(fgetxattr, ALL), ALLOW(flistxattr, ALL), ALLOW(flock, ALL), ALLOW(fork, ALL),
        ALLOW(fremovexattr, NOT_STRICT), ALLOW(fsetxattr, NOT_STRICT), ALLOW(fstat, ALL),
        ALLOW(fstatfs, ALL), ALLOW(fsync, ALL), ALLOW(ftruncate, ALL), ALLOW(futex, ALL),
        ALLOW(futex_waitv, ALL), ALLOW(futex_time64, ALL), ALLOW(futimesat, ALL),
        ALLOW(get_robust_list, ALL), ALLOW(get_thread_area, ALL), ALLOW(getcpu, ALL),
        ALLOW(getcwd, ALL), ALLOW(getdents, ALL), ALLOW(getdents64, ALL), ALLOW(getegid, ALL),
        ALLOW(geteuid, ALL), ALLOW(getgid, ALL), ALLOW(getgroups, ALL), ALLOW(getitimer, ALL),
        ALLOW(getpeername, ALL), ALLOW(getpgid, ALL), ALLOW(getpgrp, ALL), ALLOW(getpid, ALL),
        ALLOW(getppid, ALL), ALLOW(getpriority, ALL), ALLOW(getrandom, ALL), ALLOW(getresgid, ALL),
        ALLOW(getresuid, ALL), ALLOW(getrlimit, ALL), ALLOW(getrusage, ALL), ALLOW(getsid, ALL),
        ALLOW(getsockname, ALL), ALLOW(getsockopt, ALL), ALLOW(gettid, ALL),
        ALLOW(gettimeofday, ALL), ALLOW(getuid, ALL), ALLOW(getxattr, ALL),
        ALLOW(inotify_add_watch, ALL), ALLOW(inotify_init, ALL), ALLOW(inotify_init1, ALL),
        ALLOW(inotify_rm_watch, ALL), ALLOW(ioctl, ALL), ALLOW(ioprio_get, ALL),
        ALLOW(ioprio_set, NOT_STRICT), ALLOW(kill, ALL), ALLOW(landlock_add_rule, ALL),
        ALLOW(landlock_create_ruleset, ALL), ALLOW(landlock_restrict_self, ALL),
        ALLOW(lchown, NOT_STRICT), ALLOW(lgetxattr, ALL), ALLOW(link, ALL), ALLOW(linkat, ALL),
        ALLOW(listen, NOT_STRICT), ALLOW(listxattr, ALL), ALLOW(llistxattr, ALL),
        ALLOW(lremovexattr, NOT_STRICT), ALLOW(lseek, ALL), ALLOW(lsetxattr, NOT_STRICT),
        ALLOW(lstat, ALL), ALLOW(madvise, ALL), ALLOW(membarrier, ALL), ALLOW(memfd_create, ALL),
        ALLOW(memfd_secret, NOT_STRICT), ALLOW(mincore, ALL), ALLOW(mkdir, ALL),
        ALLOW(mkdirat, ALL), ALLOW(mlock, NOT_STRICT), ALLOW(mlock2, NOT_STRICT),
        ALLOW(mlockall, NOT_STRICT), ALLOW(mmap, ALL), ALLOW(mprotect, ALL),
        ALLOW(mq_getsetattr, NOT_STRICT), ALLOW(mq_notify, NOT_STRICT), ALLOW(mq_open, NOT_STRICT),
        ALLOW(mq_timedreceive, NOT_STRICT), ALLOW(mq_timedsend, NOT_STRICT),
        ALLOW(mq_unlink, NOT_STRICT), ALLOW(mremap, ALL), ALLOW(msgctl, NOT_STRICT),
        ALLOW(msgget, NOT_STRICT), ALLOW(msgrcv, NOT_STRICT), ALLOW(msgsnd, NOT_STRICT),
        ALLOW(msync, ALL), ALLOW(munlock, NOT_STRICT), ALLOW(munlockall, NOT_STRICT),
        ALLOW(munmap, ALL), ALLOW(name_to_handle_at, NOT_STRICT), ALLOW(nanosleep, ALL),
        ALLOW(newfstatat, ALL), ALLOW(open, ALL), ALLOW(openat, ALL), ALLOW(openat2, ALL),
        ALLOW(pause, ALL), ALLOW(pidfd_getfd, NOT_STRICT), ALLOW(pidfd_open, ALL),
        ALLOW(pidfd_send_signal, ALL), ALLOW(pipe, ALL), ALLOW(pipe2, ALL), ALLOW(pkey_alloc, ALL),
        ALLOW(pkey_free, ALL), ALLOW(pkey_mprotect, ALL), ALLOW(poll, ALL), ALLOW(ppoll, ALL),
        ALLOW(prctl, ALL), ALLOW(pread64, ALL), ALLOW(preadv, ALL), ALLOW(preadv2, ALL),
        ALLOW(prlimit64, ALL), ALLOW(process_mrelease, NOT_STRICT), ALLOW(pselect6, ALL),
        ALLOW(pwrite64, ALL), ALLOW(pwritev, ALL), ALLOW(pwritev2, ALL), ALLOW(read, ALL),
        ALLOW(readahead, ALL), ALLOW(readlink, ALL), ALLOW(readlinkat, ALL), ALLOW(readv, ALL),
        ALLOW(recvfrom, ALL), ALLOW(recvmmsg, ALL), ALLOW(recvmsg, ALL),
        ALLOW(remap_file_pages, NOT_STRICT), ALLOW(removexattr, NOT_STRICT), ALLOW(rename, ALL),
        ALLOW(renameat, ALL), ALLOW(renameat2, ALL), ALLOW(restart_syscall, ALL), ALLOW(rmdir, ALL),
        ALLOW(rseq, ALL), ALLOW(rt_sigaction, ALL), ALLOW(rt_sigpending, ALL),
        ALLOW(rt_sigprocmask, ALL), ALLOW(rt_sigqueueinfo, ALL), ALLOW(rt_sigreturn, ALL),
        ALLOW(rt_sigsuspend, ALL), ALLOW(rt_sigtimedwait, ALL), ALLOW(rt_tgsigqueueinfo, ALL),
        ALLOW(sched_get_priority_max, ALL), ALLOW(sched_get_priority_min, ALL),
        ALLOW(sched_getaffinity, ALL), ALLOW(sched_getattr, ALL), ALLOW(sched_getparam, ALL),
        ALLOW(sched_getscheduler, ALL), ALLOW(sched_rr_get_interval, ALL),
        ALLOW(sched_setaffinity, ALL), ALLOW(sched_setattr, NOT_STRICT),
        ALLOW(sched_setparam, NOT_STRICT), ALLOW(sched_setscheduler, NOT_STRICT),
        ALLOW(sched_yield, ALL), ALLOW(seccomp, ALL), ALLOW(select, ALL), ALLOW(semctl, NOT_STRICT),
        ALLOW(semget, NOT_STRICT), ALLOW(semop, NOT_STRICT), ALLOW(semtimedop, NOT_STRICT),
        ALLOW(sendfile, ALL), ALLOW(sendmmsg, ALL), ALLOW(sendmsg, ALL), ALLOW(sendto, ALL),
        ALLOW(set_robust_list, ALL), ALLOW(set_thread_area, ALL), ALLOW(set_tid_address, ALL),
        ALLOW(setfsgid, NOT_STRICT), ALLOW(setfsuid, NOT_STRICT), ALLOW(setgid, NOT_STRICT),
        ALLOW(setgroups, NOT_STRICT), ALLOW(setitimer, ALL), ALLOW(setpgid, ALL),
        ALLOW(setpriority, ALL), ALLOW(setregid, NOT_STRICT), ALLOW(setresgid, NOT_STRICT),
        ALLOW(setresuid, NOT_STRICT), ALLOW(setreuid, NOT_STRICT), ALLOW(setrlimit, ALL),
        ALLOW(setsid, ALL), ALLOW(setsockopt, ALL), ALLOW(setuid, NOT_STRICT),
        ALLOW(setxattr, NOT_STRICT), ALLOW(shmat, NOT_STRICT), ALLOW(shmctl, NOT_STRICT),
        ALLOW(shmdt, NOT_STRICT), ALLOW(shmget, NOT_STRICT), ALLOW(shutdown, ALL),
        ALLOW(sigaltstack, ALL), ALLOW(signalfd, ALL), ALLOW(signalfd4, ALL),
        ALLOW(socketpair, ALL), ALLOW(splice, ALL), ALLOW(stat, ALL), ALLOW(statfs, ALL),
        ALLOW(statx, ALL), ALLOW(symlink, ALL), ALLOW(symlinkat, ALL), ALLOW(sync, ALL),
        ALLOW(sync_file_range, ALL), ALLOW(syncfs, ALL), ALLOW(sysinfo, ALL), ALLOW(tee, ALL),
        ALLOW(tgkill, ALL), ALLOW(time, ALL), ALLOW(timer_create, ALL), ALLOW(timer_delete, ALL),
        ALLOW(timer_getoverrun, ALL), ALLOW(timer_gettime, ALL), ALLOW(timer_settime, ALL),
        ALLOW(timerfd_create, ALL), ALLOW(timerfd_gettime, ALL), ALLOW(timerfd_settime, ALL),
        ALLOW(times, ALL), ALLOW(tkill, ALL), ALLOW(truncate, ALL), ALLOW(umask, ALL),
        ALLOW(uname, ALL), ALLOW(unlink, ALL), ALLOW(unlinkat, ALL), ALLOW(utime, ALL),
        ALLOW(utimensat, ALL), ALLOW(utimes, ALL), ALLOW(vfork, ALL), ALLOW(wait4, ALL),
        ALLOW(waitid, ALL), ALLOW(waitpid, ALL), ALLOW(write, ALL), ALLOW(writev, ALL),
        /* clone only without namespace flags; clone3 hides its flags in
         * memory, so it reports ENOSYS and glibc falls back to clone. */
        ALLOW_IF(clone, ALL, 0, SYSCALLS_CLONE_NS_FLAGS, 0),
        DENY(clone3, ALL, ENOSYS),
        /* Address families a server needs; AF_ALG, AF_VSOCK, AF_PACKET and
         * the rest get the default action.  strict: local sockets only. */
        ALLOW_IF(socket, ALL, 0, U32, AF_UNIX),
        ALLOW_IF(socket, NOT_STRICT, 0, U32, AF_INET),
        ALLOW_IF(socket, NOT_STRICT, 0, U32, AF_INET6),
        ALLOW_IF(socket, NOT_STRICT, 0, U32, AF_NETLINK),
        /* personality: only the values Docker's profile allows (PER_LINUX,
         * PER_LINUX32, UNAME26 and the query), never ADDR_NO_RANDOMIZE. */
        ALLOW_IF(personality, NOT_STRICT, 0, U32, 0x0),
        ALLOW_IF(personality, NOT_STRICT, 0, U32, 0x8),
        ALLOW_IF(personality, NOT_STRICT, 0, U32, 0x20000),
        ALLOW_IF(personality, NOT_STRICT, 0, U32, 0x20008),
        ALLOW_IF(personality, NOT_STRICT, 0, U32, 0xffffffff),
        /* The calls that stay denied even when profiling. */
        DENY(mount, SYSCALLS_LOG, EPERM), DENY(umount2, SYSCALLS_LOG, EPERM),
        DENY(pivot_root, SYSCALLS_LOG, EPERM), DENY(unshare, SYSCALLS_LOG, EPERM),
        DENY(setns, SYSCALLS_LOG, EPERM), DENY(keyctl, SYSCALLS_LOG, EPERM),
        DENY(add_key, SYSCALLS_LOG, EPERM), DENY(request_key, SYSCALLS_LOG, EPERM),
        DENY(bpf, SYSCALLS_LOG, EPERM), DENY(perf_event_open, SYSCALLS_LOG, EPERM),
        DENY(ptrace, SYSCALLS_LOG, EPERM), DENY(process_vm_readv, SYSCALLS_LOG, EPERM),
        DENY(process_vm_writev, SYSCALLS_LOG, EPERM), DENY(kexec_load, SYSCALLS_LOG, EPERM),
        DENY(kexec_file_load, SYSCALLS_LOG, EPERM), DENY(init_module, SYSCALLS_LOG, EPERM),
        DENY(finit_module, SYSCALLS_LOG, EPERM), DENY(delete_module, SYSCALLS_LOG, EPERM),
        DENY(reboot, SYSCALLS_LOG, EPERM), DENY(swapon, SYSCALLS_LOG, EPERM),
        DENY(swapoff, SYSCALLS_LOG, EPERM), DENY(userfaultfd, SYSCALLS_LOG, EPERM),
        DENY(io_uring_setup, SYSCALLS_LOG, EPERM), DENY(io_uring_enter, SYSCALLS_LOG, EPERM),
        DENY(io_uring_register, SYSCALLS_LOG, EPERM),
        DENY(open_by_handle_at, SYSCALLS_LOG, EPERM),
        /* Namespace flags one by one: log would let them through otherwise. */
        DENY_IF(clone, SYSCALLS_LOG, EPERM, 0, 0x00020000, 0x00020000),
        DENY_IF(clone, SYSCALLS_LOG, EPERM, 0, 0x02000000, 0x02000000),
        DENY_IF(clone, SYSCALLS_LOG, EPERM, 0, 0x04000000, 0x04000000),
        DENY_IF(clone, SYSCALLS_LOG, EPERM, 0, 0x08000000, 0x08000000),
        DENY_IF(clone, SYSCALLS_LOG, EPERM, 0, 0x10000000, 0x10000000),
        DENY_IF(clone, SYSCALLS_LOG, EPERM, 0, 0x20000000, 0x20000000),
        DENY_IF(clone, SYSCALLS_LOG, EPERM, 0, 0x40000000, 0x40000000),
        DENY_IF(clone, SYSCALLS_LOG, EPERM, 0, 0x00000080, 0x00000080),
        /* Sockets of the families left out, while profiling. */
        DENY_IF(socket, SYSCALLS_LOG, EPERM, 0, U32, AF_VSOCK),
};

const size_t syscall_rules_n = ARRAY_SIZE(syscall_rules);

unsigned syscall_profile_bit(const char *profile)
{
        if (!profile)
                return 0;
        if (strcmp(profile, "default") == 0)
                return SYSCALLS_DEFAULT;
        if (strcmp(profile, "strict") == 0)
                return SYSCALLS_STRICT;
        if (strcmp(profile, "log") == 0)
                return SYSCALLS_LOG;
        return 0;
}

bool syscall_profile_logs(const char *profile)
{
        return syscall_profile_bit(profile) == SYSCALLS_LOG;
}
