/* The one syscall policy of both runtime backends (issue 17): the table that
 * corral-sandbox compiles with libseccomp (sandbox/seccomp.c) and that the
 * docker backend sends to the engine as a Docker seccomp profile
 * (src/docker/seccomp.c, the JSON format of moby's profiles/seccomp
 * default.json).  Data only: no libseccomp here, so both binaries link it.
 *
 * A profile ("default", "strict", "log") is a default action and the rules
 * whose `profiles` set includes it, applied in table order:
 *   default: anything not allowed fails with EPERM;
 *   strict:  the same, with fewer calls allowed (no inet sockets, no set*id,
 *            no SysV IPC, …);
 *   log:     the default profile's allowlist, everything else is allowed and
 *            logged by the kernel (SCMP_ACT_LOG), except the calls the log
 *            profile denies explicitly (escapes stay closed while profiling).
 * A rule with an argument condition matches only when
 * (argument[arg] & mask) == value; several rules for one call are alternatives
 * (any one that matches decides). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYSCALLS_DEFAULT 1u
#define SYSCALLS_STRICT 2u
#define SYSCALLS_LOG 4u
#define SYSCALLS_ALL (SYSCALLS_DEFAULT | SYSCALLS_STRICT | SYSCALLS_LOG)

/* The clone flags that make namespaces: clone is allowed only without them
 * (CLONE_NEWNS, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWCGROUP, NEWTIME). */
#define SYSCALLS_CLONE_NS_FLAGS 0x7e020080ull

typedef struct syscall_rule {
        const char *name;   /* the kernel's (and libseccomp's) name */
        unsigned profiles;  /* SYSCALLS_* set */
        int errno_ret;      /* 0: allow; else the call fails with this errno */
        bool has_arg;       /* false: the rule matches every call */
        unsigned arg;       /* argument index 0-5 */
        uint64_t mask;      /* matches when (argument & mask) == value */
        uint64_t value;
} syscall_rule;

extern const syscall_rule syscall_rules[];
extern const size_t syscall_rules_n;

/* The SYSCALLS_* bit of a profile name, or 0 for an unknown one. */
unsigned syscall_profile_bit(const char *profile);
/* Whether the profile's default action is to log and allow (true: "log")
 * rather than to fail with EPERM. */
bool syscall_profile_logs(const char *profile);
