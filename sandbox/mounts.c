/* The filesystem inside: a fresh tmpfs root, read-only binds of the host
 * runtime, the server's pkg (ro) and data (rw) at their host paths, a
 * minimal /dev, a fresh /proc, a capped /tmp, then pivot_root. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CORRAL_SANDBOX_LAUNCHER_ONLY
#include "sandbox.h"

#define NEWROOT "/tmp"

static const char *const system_ro[] = {
        "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
        "/etc/ssl", "/etc/ca-certificates", "/etc/alternatives", "/etc/ld.so.cache",
        "/etc/localtime",
};
static const char *const net_ro[] = {
        "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/gai.conf", "/etc/host.conf",
};
static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom"};

static int add_bind(sbx_fs *fs, const char *source, const char *target, bool writable,
                    bool required)
{
        struct stat st;
        sbx_bind *b;
        int fd;

        if (fs->n >= ARRAY_SIZE(fs->binds)) {
                sbx_warn("too many mounts");
                return SBX_EX_DATAERR;
        }
        fd = open(source, O_PATH | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                if (!required)
                        return 0;
                errno = e;
                sbx_warn_errno("cannot mount %s", source);
                return e == ENOENT ? SBX_EX_NOINPUT : SBX_EX_OSERR;
        }
        b = &fs->binds[fs->n++];
        b->fd = fd;
        b->target = xstrdup(target);
        b->writable = writable;
        b->is_dir = S_ISDIR(st.st_mode);
        b->tree_fd = -1;
        return 0;
}

/* A top-level symlink such as /bin -> usr/bin (merged /usr) is recreated
 * as a symlink rather than bound. */
typedef struct sbx_link {
        char *path, *dest;
} sbx_link;
static sbx_link links[16];
static size_t n_links;

int sbx_fs_open(sbx_fs *fs, const sbx_policy *p, const char *cmd_prefix, const int *idmap_fds)
{
        int r;

        memset(fs, 0, sizeof(*fs));
        for (size_t i = 0; i < ARRAY_SIZE(system_ro); i++) {
                char dest[4096];
                ssize_t n = readlink(system_ro[i], dest, sizeof(dest) - 1);

                if (n > 0 && n_links < ARRAY_SIZE(links) && strchr(system_ro[i] + 1, '/') == NULL) {
                        dest[n] = '\0';
                        links[n_links].path = xstrdup(system_ro[i]);
                        links[n_links].dest = xstrdup(dest);
                        n_links++;
                        continue;
                }
                r = add_bind(fs, system_ro[i], system_ro[i], false, false);
                if (r)
                        return r;
        }
        if (p->net_host)
                for (size_t i = 0; i < ARRAY_SIZE(net_ro); i++) {
                        r = add_bind(fs, net_ro[i], net_ro[i], false, false);
                        if (r)
                                return r;
                }
        if (cmd_prefix && (r = add_bind(fs, cmd_prefix, cmd_prefix, false, true)))
                return r;
        if (p->pkg && (r = add_bind(fs, p->pkg, p->pkg, false, true)))
                return r;
        if (p->data && (r = add_bind(fs, p->data, p->data, true, true)))
                return r;
        for (size_t i = 0; i < p->n_mounts; i++) {
                r = add_bind(fs, p->mounts[i].source, p->mounts[i].target, p->mounts[i].writable,
                             true);
                if (r)
                        return r;
                if (idmap_fds)
                        fs->binds[fs->n - 1].tree_fd = idmap_fds[i];
        }
        for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
                char src[64];
                snprintf(src, sizeof(src), "/dev/%s", dev_nodes[i]);
                r = add_bind(fs, src, src, true, true);
                if (r)
                        return r;
        }
        return 0;
}

void sbx_fs_close(sbx_fs *fs)
{
        for (size_t i = 0; i < fs->n; i++) {
                if (fs->binds[i].fd >= 0)
                        close(fs->binds[i].fd);
                free(fs->binds[i].target);
        }
        fs->n = 0;
        for (size_t i = 0; i < n_links; i++) {
                free(links[i].path);
                free(links[i].dest);
        }
        n_links = 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
        char buf[4096];
        size_t n = strlen(path);

        if (n >= sizeof(buf))
                return -ENAMETOOLONG;
        memcpy(buf, path, n + 1);
        for (char *s = buf + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int make_mountpoint(const char *dest, bool is_dir)
{
        struct stat st;
        char parent[4096];
        char *slash;
        int fd;

        if (lstat(dest, &st) == 0)
                return 0;
        if (is_dir)
                return mkdir_p(dest, 0755);
        snprintf(parent, sizeof(parent), "%s", dest);
        slash = strrchr(parent, '/');
        if (slash && slash != parent) {
                *slash = '\0';
                int r = mkdir_p(parent, 0755);
                if (r < 0)
                        return r;
        }
        fd = open(dest, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        close(fd);
        return 0;
}

/* Read-only (or not) remount of a bind, keeping the flags the kernel locks
 * in a user namespace (nosuid, nodev, noexec, atime) as they are. */
static int remount_bind(const char *dest, bool writable, bool allow_dev)
{
        struct statvfs sv;
        unsigned long fl = MS_REMOUNT | MS_BIND | MS_NOSUID;

        if (statvfs(dest, &sv) < 0)
                return -errno;
        if (sv.f_flag & ST_NODEV)
                fl |= MS_NODEV;
        if (sv.f_flag & ST_NOEXEC)
                fl |= MS_NOEXEC;
        if (sv.f_flag & ST_NOATIME)
                fl |= MS_NOATIME;
        if (sv.f_flag & ST_NODIRATIME)
                fl |= MS_NODIRATIME;
        if (sv.f_flag & ST_RELATIME)
                fl |= MS_RELATIME;
        if (!allow_dev)
                fl |= MS_NODEV;
        if (!writable || (sv.f_flag & ST_RDONLY))
                fl |= MS_RDONLY;
        return mount(NULL, dest, NULL, fl, NULL) < 0 ? -errno : 0;
}

static int bind_one(const sbx_bind *b, bool allow_dev)
{
        char dest[4096], src[64];
        int r;

        if ((size_t)snprintf(dest, sizeof(dest), NEWROOT "%s", b->target) >= sizeof(dest))
                return -ENAMETOOLONG;
        r = make_mountpoint(dest, b->is_dir);
        if (r < 0) {
                errno = -r;
                sbx_warn_errno("cannot create mount point %s", b->target);
                return -1;
        }
        if (b->tree_fd >= 0) {
                /* Idmapped by the launcher (sandbox_idmap_tree), already
                 * nosuid and nodev; writable: only writable mounts get one. */
                if (move_mount(b->tree_fd, "", AT_FDCWD, dest, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
                        sbx_warn_errno("cannot attach the idmapped mount %s", b->target);
                        return -1;
                }
                return 0;
        }
        snprintf(src, sizeof(src), "/proc/self/fd/%d", b->fd);
        if (mount(src, dest, NULL, MS_BIND | MS_REC, NULL) < 0) {
                sbx_warn_errno("cannot bind %s", b->target);
                return -1;
        }
        r = remount_bind(dest, b->writable, allow_dev);
        if (r < 0) {
                errno = -r;
                sbx_warn_errno("cannot remount %s", b->target);
                return -1;
        }
        return 0;
}

/* The upper layer gets every directory of pkg, owned by the server: a merged
 * directory takes its owner and mode from the upper layer, so the server can
 * create and replace files anywhere in its code (the files themselves stay
 * the host's until replaced).  Bounded: at most SKELETON_MAX directories. */
#define SKELETON_MAX 100000
static const char *skel_lower, *skel_upper;
static size_t skel_count;

static int skel_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        char dest[4096];
        size_t n = strlen(skel_lower);

        (void)st;
        (void)ftw;
        if (type != FTW_D || strncmp(path, skel_lower, n) != 0)
                return 0;
        if (++skel_count > SKELETON_MAX)
                return 1;
        if ((size_t)snprintf(dest, sizeof(dest), "%s%s", skel_upper, path + n) >= sizeof(dest))
                return 0;
        if (mkdir(dest, 0755) < 0 && errno != EEXIST)
                return 0;
        return 0;
}

static void make_skeleton(const char *lower, const char *upper)
{
        skel_lower = lower;
        skel_upper = upper;
        skel_count = 0;
        if (nftw(lower, skel_visit, 16, FTW_PHYS) > 0)
                sbx_warn("code overlay: more than %d directories; the rest stay read-only",
                         SKELETON_MAX);
}

/* pkg as an overlay (policy "code": "overlay"): the read-only bind of pkg
 * already in the new root is the lower layer, data/overlay/upper the upper
 * one, so the server can write beside its code while the host's pkg never
 * changes.  data/overlay is then hidden from the server behind an empty
 * read-only tmpfs: changing an overlay's layers under it is undefined.
 * 0; 1 with a warning when the kernel or the filesystem refuses (the server
 * then runs with pkg read-only, as before); -1 when the layers cannot be
 * hidden. */
static int mount_code_overlay(const sbx_policy *p)
{
        char dir[2048], upper[2100], work[2100], target[4096], opts[8192];

        /* Through the new root: NEWROOT covers the host's /tmp, where pkg
         * and data may live. */
        if ((size_t)snprintf(dir, sizeof(dir), NEWROOT "%s/overlay", p->data) >= sizeof(dir) ||
            strpbrk(p->pkg, ",:\\") || strpbrk(p->data, ",:\\")) {
                sbx_warn("code overlay: paths with ',', ':' or '\\' cannot be overlay options; "
                         "pkg stays read-only");
                return 1;
        }
        snprintf(upper, sizeof(upper), "%s/upper", dir);
        snprintf(work, sizeof(work), "%s/work", dir);
        snprintf(target, sizeof(target), NEWROOT "%s", p->pkg);
        if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
            (mkdir(upper, 0755) < 0 && errno != EEXIST) ||
            (mkdir(work, 0700) < 0 && errno != EEXIST)) {
                sbx_warn_errno("code overlay: cannot create %s; pkg stays read-only", dir);
                return 1;
        }
        make_skeleton(target, upper);
        if ((size_t)snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s,userxattr",
                             target, upper, work) >= sizeof(opts)) {
                sbx_warn("code overlay: paths too long; pkg stays read-only");
                return 1;
        }
        if (mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV, opts) < 0) {
                sbx_warn_errno("code overlay: cannot mount over %s; pkg stays read-only", p->pkg);
                return 1;
        }
        if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
                  "mode=0,size=4k") < 0)
        {
                sbx_warn_errno("cannot hide the code overlay's layers");
                return -1;
        }
        return 0;
}

static int write_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        size_t n = strlen(text);
        bool ok;

        if (fd < 0)
                return -1;
        ok = write(fd, text, n) == (ssize_t)n;
        close(fd);
        return ok ? 0 : -1;
}

static int fail(const char *what)
{
        sbx_warn_errno("%s", what);
        return -1;
}

int sbx_fs_build(sbx_fs *fs, const sbx_policy *p)
{
        char opts[64], buf[1024];
        const char *home = p->data ? p->data : "/";

        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return fail("cannot make mounts private");
        if (mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
                return fail("cannot mount the root tmpfs");
        for (size_t i = 0; i < n_links; i++) {
                snprintf(buf, sizeof(buf), NEWROOT "%s", links[i].path);
                if (symlink(links[i].dest, buf) < 0)
                        return fail("cannot create a symlink in the new root");
        }
        /* /tmp first: pkg and data may live under the host's /tmp and are
         * bound on top of the private one. */
        snprintf(opts, sizeof(opts), "mode=1777,size=%um", p->tmp_mb ? p->tmp_mb : 1);
        if (mkdir(NEWROOT "/tmp", 0755) < 0 ||
            mount("tmpfs", NEWROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                return fail("cannot mount /tmp");
        /* Everything but the device nodes, which need /dev first. */
        for (size_t i = 0; i < fs->n; i++)
                if (strncmp(fs->binds[i].target, "/dev/", 5) != 0 && bind_one(&fs->binds[i], false))
                        return -1;
        if (p->code_overlay && p->pkg && p->data && mount_code_overlay(p) < 0)
                return -1;

        if (mkdir(NEWROOT "/dev", 0755) < 0 ||
            mount("tmpfs", NEWROOT "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
                return fail("cannot mount /dev");
        for (size_t i = 0; i < fs->n; i++)
                if (strncmp(fs->binds[i].target, "/dev/", 5) == 0 && bind_one(&fs->binds[i], true))
                        return -1;
        if (symlink("/proc/self/fd", NEWROOT "/dev/fd") < 0 ||
            symlink("/proc/self/fd/0", NEWROOT "/dev/stdin") < 0 ||
            symlink("/proc/self/fd/1", NEWROOT "/dev/stdout") < 0 ||
            symlink("/proc/self/fd/2", NEWROOT "/dev/stderr") < 0)
                return fail("cannot create /dev links");
        snprintf(opts, sizeof(opts), "mode=1777,size=%um", SANDBOX_SHM_MB);
        if (mkdir(NEWROOT "/dev/shm", 01777) < 0 ||
            mount("tmpfs", NEWROOT "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
                return fail("cannot mount /dev/shm");
        if (mount(NULL, NEWROOT "/dev", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
                  NULL) < 0)
                return fail("cannot make /dev read-only");

        if (mkdir(NEWROOT "/proc", 0555) < 0 ||
            mount("proc", NEWROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return fail("cannot mount /proc");
        /* Docker's read-only /proc list, plus /proc/pressure: its files are
         * 0666 (Linux >= 6.4), and a PSI trigger written there is host-wide
         * kernel state.  Missing entries (kernels without SysRq or PSI) are
         * skipped. */
        static const char *const proc_readonly[] = {
                NEWROOT "/proc/sys", NEWROOT "/proc/sysrq-trigger", NEWROOT "/proc/pressure",
                NEWROOT "/proc/bus", NEWROOT "/proc/fs",            NEWROOT "/proc/irq",
        };
        for (size_t i = 0; i < sizeof(proc_readonly) / sizeof(proc_readonly[0]); i++) {
                const char *ro = proc_readonly[i];
                if (access(ro, F_OK) < 0 && errno == ENOENT)
                        continue;
                if (mount(ro, ro, NULL, MS_BIND | MS_REC, NULL) < 0 ||
                    mount(NULL, ro, NULL,
                          MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          NULL) < 0) {
                        sbx_warn_errno("cannot make %s read-only", ro + strlen(NEWROOT));
                        return -1;
                }
        }

        if (mkdir_p(NEWROOT "/etc", 0755) < 0)
                return fail("cannot create /etc");
        snprintf(buf, sizeof(buf),
                 "root:x:0:0:root:/:/usr/sbin/nologin\n"
                 "server:x:%u:%u:%s:%s:/usr/sbin/nologin\n"
                 "nobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n",
                 SANDBOX_INSIDE_UID, SANDBOX_INSIDE_UID, p->name, home);
        if (write_file(NEWROOT "/etc/passwd", buf) < 0)
                return fail("cannot write /etc/passwd");
        snprintf(buf, sizeof(buf), "root:x:0:\nserver:x:%u:\nnogroup:x:65534:\n",
                 SANDBOX_INSIDE_UID);
        if (write_file(NEWROOT "/etc/group", buf) < 0)
                return fail("cannot write /etc/group");

        if (chdir(NEWROOT) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
                return fail("cannot pivot_root");
        if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
                return fail("cannot detach the old root");
        if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
            0)
                return fail("cannot make the root read-only");
        return 0;
}

int sbx_loopback_up(void)
{
        struct ifreq ifr;
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int r = 0;

        if (fd < 0)
                return -errno;
        memset(&ifr, 0, sizeof(ifr));
        memcpy(ifr.ifr_name, "lo", 3);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                r = -errno;
        else {
                ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
                if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                        r = -errno;
        }
        close(fd);
        return r;
}
