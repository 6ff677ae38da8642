/* Filesystem helpers. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "corral/fs.h"
#include "corral/strbuf.h"

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = xstrdup(path);
        size_t n = strlen(p);

        while (n > 1 && p[n - 1] == '/')
                p[--n] = '\0';
        /* Most callers make a folder whose parent exists: one mkdir, not
         * one per component. */
        if (mkdir(p, mode) == 0)
                return 0;
        if (errno == EEXIST)
                return dir_exists(p) ? 0 : -ENOTDIR;
        if (errno != ENOENT)
                return -errno;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0) {
                if (errno != EEXIST)
                        return -errno;
                if (!dir_exists(p))
                        return -ENOTDIR;
        }
        return 0;
}

static int rm_rf_at(int parent, const char *name)
{
        struct stat st;

        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -errno : 0;

        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* The code of an installed server is read-only; make it deletable. */
        (void)fchmod(fd, 0700);
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                int q = rm_rf_at(dirfd(d), de->d_name);
                if (q < 0 && r == 0)
                        r = q;
        }
        closedir(d);
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

int rm_rf(const char *path)
{
        return rm_rf_at(AT_FDCWD, path);
}

static int copy_file(int sfd_dir, const char *name, int dfd_dir, mode_t mode, corral_error *err,
                     const char *where)
{
        _cleanup_close_ int in = openat(sfd_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return corral_error_errno(err, EX_IOERR, errno, "cannot read %s", where);
        _cleanup_close_ int out = openat(dfd_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                                         mode);
        if (out < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot create copy of %s",
                                          where);
        char buf[65536];
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return corral_error_errno(err, EX_IOERR, errno, "cannot read %s", where);
                if (n == 0)
                        break;
                int r = write_all(out, buf, (size_t)n);
                if (r < 0)
                        return corral_error_errno(err, EX_IOERR, -r, "cannot write copy of %s",
                                                  where);
        }
        (void)fchmod(out, mode);
        return 0;
}

static int copy_dir_at(int sdir, int ddir, const char *where, unsigned depth, corral_error *err)
{
        if (depth > 256)
                return corral_error_set(err, EX_DATAERR, "%s: directories nested too deep", where);
        int dupfd = fcntl(sdir, F_DUPFD_CLOEXEC, 3);
        if (dupfd < 0)
                return corral_error_errno(err, EX_OSERR, errno, "cannot read %s", where);
        DIR *d = fdopendir(dupfd);
        if (!d) {
                close(dupfd);
                return corral_error_errno(err, EX_IOERR, errno, "cannot read %s", where);
        }
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                _cleanup_free_ char *sub = path_join(where, de->d_name);
                struct stat st;
                if (fstatat(sdir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = corral_error_errno(err, EX_IOERR, errno, "cannot stat %s", sub);
                } else if (S_ISDIR(st.st_mode)) {
                        if (mkdirat(ddir, de->d_name, 0755) < 0) {
                                r = corral_error_errno(err, EX_CANTCREAT, errno,
                                                       "cannot create copy of %s", sub);
                                break;
                        }
                        _cleanup_close_ int s2 = openat(sdir, de->d_name,
                                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        _cleanup_close_ int d2 = openat(ddir, de->d_name,
                                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (s2 < 0 || d2 < 0)
                                r = corral_error_errno(err, EX_IOERR, errno, "cannot open %s", sub);
                        else
                                r = copy_dir_at(s2, d2, sub, depth + 1, err);
                } else if (S_ISREG(st.st_mode)) {
                        r = copy_file(sdir, de->d_name, ddir, (st.st_mode & 0111) ? 0755 : 0644,
                                      err, sub);
                } else if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t n = readlinkat(sdir, de->d_name, target, sizeof(target) - 1);
                        if (n < 0) {
                                r = corral_error_errno(err, EX_IOERR, errno, "cannot read link %s",
                                                       sub);
                                break;
                        }
                        target[n] = '\0';
                        if (symlinkat(target, ddir, de->d_name) < 0)
                                r = corral_error_errno(err, EX_CANTCREAT, errno,
                                                       "cannot copy link %s", sub);
                } else {
                        r = corral_error_set(err, EX_DATAERR,
                                             "%s is a device, fifo or socket; refusing to copy it",
                                             sub);
                }
        }
        closedir(d);
        return r;
}

int copy_tree(const char *src, const char *dst, corral_error *err)
{
        _cleanup_close_ int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s < 0)
                return corral_error_errno(err, errno == ENOENT ? EX_NOINPUT : EX_IOERR, errno,
                                          "cannot open %s", src);
        if (mkdir(dst, 0755) < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot create %s", dst);
        _cleanup_close_ int d = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot open %s", dst);
        return copy_dir_at(s, d, src, 0, err);
}

int read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        strbuf b = STRBUF_INIT(max);
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        strbuf_done(&b);
                        return r;
                }
                if (n == 0)
                        break;
                if (strbuf_append(&b, buf, (size_t)n) < 0) {
                        strbuf_done(&b);
                        return -EFBIG;
                }
        }
        if (ret_len)
                *ret_len = b.len;
        *ret_data = strbuf_steal(&b);
        return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp.XXXXXX", path);
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, data, len);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

char *path_join(const char *a, const char *b)
{
        size_t la = strlen(a);
        while (la > 1 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        return xasprintf("%.*s/%s", (int)la, a, b);
}

bool path_exists(const char *path)
{
        struct stat st;
        return lstat(path, &st) == 0;
}

bool dir_exists(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *path_absolute(const char *path)
{
        char *r = realpath(path, NULL);
        return r;
}
