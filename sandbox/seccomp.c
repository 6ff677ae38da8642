/* seccomp profiles (libseccomp).  The allowlist is modelled on Docker's
 * default profile (moby/profiles/seccomp/default.json), without the calls it
 * only grants to CAP_SYS_ADMIN & co.  Anything not listed gets EPERM
 * (default, strict) or is logged and allowed (log).  The architecture is
 * checked: a foreign-arch syscall kills the process.
 *
 * Compiling the rules into BPF costs a millisecond or two, so the launcher
 * keeps the compiled program in a private cache (below) and otherwise
 * compiles it outside while the sandbox builds its filesystem; either way it
 * hands the program over a pipe that only the launcher can write, and the
 * server loads it last before exec.  The program is the one libseccomp would
 * have loaded (same rules, same arch checks, no filter flags). */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CORRAL_SANDBOX_LAUNCHER_ONLY
#include "sandbox.h"
#include "corral/syscalls.h"

/* Frame on the pipe: the magic, the program length in bytes (host order),
 * then the program. */
#define FRAME_MAGIC 0x53424246u /* "SBBF" */
#define PROG_MAX_BYTES (BPF_MAXINSNS * sizeof(struct sock_filter))

static int build(const char *profile, scmp_filter_ctx *out)
{
        unsigned bit = syscall_profile_bit(profile);
        scmp_filter_ctx ctx;
        int r = -EINVAL;

        *out = NULL;
        if (!bit)
                return -EINVAL;
        ctx = seccomp_init(syscall_profile_logs(profile) ? SCMP_ACT_LOG : SCMP_ACT_ERRNO(EPERM));
        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                goto out;
        /* A binary tree over syscall numbers: the same decisions, in a few
         * comparisons instead of a walk down the whole list, which also makes
         * the kernel's load (its per-syscall action cache) three times
         * faster. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < syscall_rules_n; i++) {
                const syscall_rule *rule = &syscall_rules[i];
                uint32_t action = rule->errno_ret ? SCMP_ACT_ERRNO((uint32_t)rule->errno_ret)
                                                  : SCMP_ACT_ALLOW;
                int nr;

                if (!(rule->profiles & bit))
                        continue;
                nr = seccomp_syscall_resolve_name(rule->name);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* not on this architecture */
                if (rule->has_arg)
                        r = seccomp_rule_add(ctx, action, nr, 1,
                                             SCMP_CMP64(rule->arg, SCMP_CMP_MASKED_EQ, rule->mask,
                                                        rule->value));
                else
                        r = seccomp_rule_add(ctx, action, nr, 0);
                if (r < 0 && r != -EEXIST)
                        goto out;
        }
        *out = ctx;
        return 0;
out:
        seccomp_release(ctx);
        return r;
}

static int write_full(int fd, const void *buf, size_t n)
{
        const char *p = buf;

        while (n) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

static int read_full(int fd, void *buf, size_t n)
{
        char *p = buf;

        while (n) {
                ssize_t k = read(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EPIPE; /* the launcher gave up */
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

/* The compiled program is cached per profile in a directory only the
 * launcher's user can write and no sandbox sees: /run/corral-sandbox for
 * root, $XDG_RUNTIME_DIR/corral-sandbox otherwise (no cache without one).
 * A file holds the cache key (launcher binary identity, libseccomp version,
 * architecture, profile) then the frame; any mismatch or doubt about the
 * file's owner or mode is a miss and the profile is compiled again. */
#define CACHE_KEY_MAX 192

static bool cache_dir(char *buf, size_t n)
{
        const char *rt = getenv("XDG_RUNTIME_DIR");
        int k;

        if (geteuid() == 0)
                k = snprintf(buf, n, "/run/corral-sandbox");
        else if (rt && rt[0] == '/')
                k = snprintf(buf, n, "%s/corral-sandbox", rt);
        else
                return false;
        return k > 0 && (size_t)k < n;
}

static bool cache_key(char *key, const char *profile)
{
        const struct scmp_version *v = seccomp_version();
        struct stat st;

        memset(key, 0, CACHE_KEY_MAX);
        if (stat("/proc/self/exe", &st) < 0 || !v)
                return false;
        snprintf(key, CACHE_KEY_MAX, "%s %x %u.%u.%u %lx %lx %lx %lld.%09ld", profile,
                 seccomp_arch_native(), v->major, v->minor, v->micro, (unsigned long)st.st_dev,
                 (unsigned long)st.st_ino, (unsigned long)st.st_size, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
        return true;
}

/* Only our own, not writable by anyone else. */
static bool trusted(int fd, bool dir)
{
        struct stat st;

        return fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
               (dir ? S_ISDIR(st.st_mode) && (st.st_mode & 077) == 0
                    : S_ISREG(st.st_mode) && (st.st_mode & 022) == 0);
}

static int cache_open_dir(bool create)
{
        char dir[4096];
        int fd;

        if (!cache_dir(dir, sizeof(dir)))
                return -1;
        if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -1;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && !trusted(fd, true)) {
                close(fd);
                return -1;
        }
        return fd;
}

/* The cached frame for key, or NULL; *n its size. */
static uint32_t *cache_read(const char *profile, const char *key, size_t *n)
{
        _cleanup_close_ int dir = cache_open_dir(false);
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t max = CACHE_KEY_MAX + 2 * sizeof(uint32_t) + PROG_MAX_BYTES;
        ssize_t k;
        uint32_t head[2];

        if (dir < 0)
                return NULL;
        fd = openat(dir, profile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || !trusted(fd, false))
                return NULL;
        buf = xmalloc(max + 1);
        k = read(fd, buf, max + 1);
        if (k < (ssize_t)(CACHE_KEY_MAX + sizeof(head)) || (size_t)k > max ||
            memcmp(buf, key, CACHE_KEY_MAX) != 0)
                return NULL;
        memcpy(head, buf + CACHE_KEY_MAX, sizeof(head));
        if (head[0] != FRAME_MAGIC || head[1] == 0 || head[1] > PROG_MAX_BYTES ||
            head[1] % sizeof(struct sock_filter) ||
            (size_t)k != CACHE_KEY_MAX + sizeof(head) + head[1])
                return NULL;
        *n = sizeof(head) + head[1];
        {
                uint32_t *frame = xmalloc(*n);
                memcpy(frame, buf + CACHE_KEY_MAX, *n);
                return frame;
        }
}

/* Best effort: write to a temporary name, then rename over the old one. */
static void cache_write(const char *profile, const char *key, const uint32_t *frame, size_t n)
{
        _cleanup_close_ int dir = cache_open_dir(true);
        char tmp[96];
        int fd;
        bool ok;

        if (dir < 0)
                return;
        snprintf(tmp, sizeof(tmp), ".%s.%ld", profile, (long)getpid());
        (void)unlinkat(dir, tmp, 0);
        fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        ok = write_full(fd, key, CACHE_KEY_MAX) == 0 && write_full(fd, frame, n) == 0;
        ok = close(fd) == 0 && ok;
        if (!ok || renameat(dir, tmp, dir, profile) < 0)
                (void)unlinkat(dir, tmp, 0);
}

int sbx_seccomp_compile(const char *profile, uint32_t **out, size_t *n)
{
        scmp_filter_ctx ctx;
        _cleanup_close_ int mem = -1;
        _cleanup_free_ uint32_t *frame = NULL;
        off_t len;
        int r;

        r = build(profile, &ctx);
        if (r < 0)
                return r;
        /* libseccomp 2.5 only exports to an fd. */
        mem = memfd_create("corral-seccomp", MFD_CLOEXEC);
        if (mem < 0) {
                r = -errno;
                seccomp_release(ctx);
                return r;
        }
        r = seccomp_export_bpf(ctx, mem);
        seccomp_release(ctx);
        if (r < 0)
                return r;
        len = lseek(mem, 0, SEEK_CUR);
        if (len <= 0 || (size_t)len > PROG_MAX_BYTES || len % sizeof(struct sock_filter))
                return -E2BIG;
        frame = xmalloc(2 * sizeof(uint32_t) + (size_t)len);
        frame[0] = FRAME_MAGIC;
        frame[1] = (uint32_t)len;
        if (pread(mem, frame + 2, (size_t)len, 0) != len)
                return -EIO;
        *n = 2 * sizeof(uint32_t) + (size_t)len;
        *out = steal_pointer(&frame);
        return 0;
}

int sbx_seccomp_send(const char *profile, int fd)
{
        _cleanup_free_ uint32_t *frame = NULL;
        char key[CACHE_KEY_MAX];
        bool keyed = cache_key(key, profile);
        size_t n = 0;
        int r;

        if (keyed && (frame = cache_read(profile, key, &n)))
                return write_full(fd, frame, n);
        r = sbx_seccomp_compile(profile, &frame, &n);
        if (r < 0)
                return r;
        r = write_full(fd, frame, n);
        if (r == 0 && keyed)
                cache_write(profile, key, frame, n);
        return r;
}

int sbx_seccomp_receive(int fd, struct sock_fprog *prog)
{
        uint32_t head[2];
        _cleanup_free_ struct sock_filter *insns = NULL;
        int r;

        memset(prog, 0, sizeof(*prog));
        r = read_full(fd, head, sizeof(head));
        if (r < 0)
                return r;
        if (head[0] != FRAME_MAGIC || head[1] == 0 || head[1] > PROG_MAX_BYTES ||
            head[1] % sizeof(struct sock_filter))
                return -EBADMSG;
        insns = xmalloc(head[1]);
        r = read_full(fd, insns, head[1]);
        if (r < 0)
                return r;
        prog->len = (unsigned short)(head[1] / sizeof(struct sock_filter));
        prog->filter = steal_pointer(&insns);
        return 0;
}

int sbx_seccomp_load(const struct sock_fprog *prog)
{
        if (!prog->filter || !prog->len)
                return -EINVAL;
        /* libseccomp's seccomp_load() would set no_new_privs itself; the init
         * set it already and fork kept it, which the kernel requires anyway
         * of a process without CAP_SYS_ADMIN. */
        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
                return -EPERM;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0)
                return -errno;
        return 0;
}
