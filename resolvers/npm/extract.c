/* Package tarballs (.tgz) extracted with libarchive.  Every entry is checked
 * before anything is written (npm_tar_check_entry()), files are created
 * relative to directory fds opened with O_NOFOLLOW so nothing is written
 * through a symlink, and the entry count and unpacked size are capped before
 * the data is read (a sparse 1 GiB entry is refused from its header). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "corral/fs.h"
#include "corral/npm.h"
#include "corral/strbuf.h"

#define MAX_PATH_LEN 4096
#define MAX_COMPONENTS 128

/* Splits p into components, dropping "" and "."; false on ".." or too many. */
static bool split_path(const char *p, char ***ret)
{
        char **v = NULL;
        size_t n = 0;
        while (*p) {
                size_t len = strcspn(p, "/");
                if (len == 2 && p[0] == '.' && p[1] == '.') {
                        strv_free(v);
                        return false;
                }
                if (len > 0 && !(len == 1 && p[0] == '.')) {
                        if (++n > MAX_COMPONENTS) {
                                strv_free(v);
                                return false;
                        }
                        char *c = xstrndup(p, len);
                        v = strv_push(v, c);
                        free(c);
                }
                p += len;
                while (*p == '/')
                        p++;
        }
        *ret = v;
        return true;
}

static char *join_from(char **v, size_t from)
{
        strbuf b = STRBUF_INIT(0);
        for (size_t i = from; v && v[i]; i++) {
                if (b.len)
                        (void)strbuf_append(&b, "/", 1);
                (void)strbuf_append(&b, v[i], strlen(v[i]));
        }
        return strbuf_steal(&b);
}

/* The path inside the package: leading "./" and the first component dropped. */
static int strip_top(const char *path, char **ret, corral_error *err)
{
        *ret = NULL;
        if (!path || !*path)
                return corral_error_set(err, EX_DATAERR, "an entry has an empty path");
        if (strlen(path) > MAX_PATH_LEN)
                return corral_error_set(err, EX_DATAERR, "an entry's path is too long");
        if (path[0] == '/')
                return corral_error_set(err, EX_DATAERR, "entry '%.200s' has an absolute path",
                                        path);
        _cleanup_strv_ char **v = NULL;
        if (!split_path(path, &v))
                return corral_error_set(err, EX_DATAERR,
                                        "entry '%.200s' leaves the package ('..')", path);
        if (strv_length(v) < 2)
                return 0;
        *ret = join_from(v, 1);
        return 1;
}

int npm_tar_check_entry(const char *path, npm_entry_type type, const char *link, char **ret_rel,
                        char **ret_link, corral_error *err)
{
        *ret_rel = NULL;
        *ret_link = NULL;
        _cleanup_free_ char *rel = NULL;
        int r = strip_top(path, &rel, err);
        if (r <= 0)
                return r;
        switch (type) {
        case NPM_ENTRY_FILE:
        case NPM_ENTRY_DIR:
                break;
        case NPM_ENTRY_SYMLINK: {
                if (!link || !*link)
                        return corral_error_set(err, EX_DATAERR, "symlink '%.200s' has no target",
                                                path);
                if (link[0] == '/')
                        return corral_error_set(err, EX_DATAERR,
                                                "symlink '%.200s' points to an absolute path",
                                                path);
                if (strlen(link) > MAX_PATH_LEN)
                        return corral_error_set(err, EX_DATAERR,
                                                "symlink '%.200s' has a too long target", path);
                /* Resolved lexically from the link's own directory: entries are
                 * never written through symlinks, so that is where it sits. */
                _cleanup_strv_ char **dir = NULL;
                (void)split_path(rel, &dir);
                size_t depth = strv_length(dir) - 1;
                const char *p = link;
                while (*p) {
                        size_t len = strcspn(p, "/");
                        if (len == 2 && p[0] == '.' && p[1] == '.') {
                                if (depth == 0)
                                        return corral_error_set(err, EX_DATAERR,
                                                                "symlink '%.200s' points outside "
                                                                "the package",
                                                                path);
                                depth--;
                        } else if (len > 0 && !(len == 1 && p[0] == '.')) {
                                depth++;
                        }
                        p += len;
                        while (*p == '/')
                                p++;
                }
                *ret_link = xstrdup(link);
                break;
        }
        case NPM_ENTRY_HARDLINK: {
                _cleanup_free_ char *target = NULL;
                corral_error e2 = {0};
                r = link ? strip_top(link, &target, &e2) : -EX_DATAERR;
                if (r <= 0)
                        return corral_error_set(err, EX_DATAERR,
                                                "hardlink '%.200s' points outside the package",
                                                path);
                *ret_link = steal_pointer(&target);
                break;
        }
        case NPM_ENTRY_OTHER:
        default:
                return corral_error_set(err, EX_DATAERR,
                                        "entry '%.200s' is a device, fifo or socket", path);
        }
        *ret_rel = steal_pointer(&rel);
        return 1;
}

/* Opens the directory holding rel's last component under rootfd, creating
 * missing directories (0755) when create; never follows a symlink.  Returns
 * the fd and *leaf (borrowed from rel), or -1 with errno. */
static int open_parent(int rootfd, const char *rel, bool create, const char **leaf)
{
        int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        const char *p = rel;
        for (;;) {
                size_t len = strcspn(p, "/");
                if (p[len] == '\0') {
                        *leaf = p;
                        return fd;
                }
                char comp[256];
                if (len >= sizeof(comp)) {
                        close(fd);
                        errno = ENAMETOOLONG;
                        return -1;
                }
                memcpy(comp, p, len);
                comp[len] = '\0';
                /* Most folders exist already (earlier entries made them):
                 * open first, create only when missing. */
                int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (nfd < 0 && errno == ENOENT && create) {
                        if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
                                int e = errno;
                                close(fd);
                                errno = e;
                                return -1;
                        }
                        nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                int e = errno;
                close(fd);
                if (nfd < 0) {
                        errno = e;
                        return -1;
                }
                fd = nfd;
                p += len + 1;
        }
}

static npm_entry_type entry_type(struct archive_entry *e)
{
        if (archive_entry_hardlink(e))
                return NPM_ENTRY_HARDLINK;
        switch (archive_entry_filetype(e)) {
        case AE_IFREG:
                return NPM_ENTRY_FILE;
        case AE_IFDIR:
                return NPM_ENTRY_DIR;
        case AE_IFLNK:
                return NPM_ENTRY_SYMLINK;
        default:
                return NPM_ENTRY_OTHER;
        }
}

/* The folders entries went into lately, kept open: most entries then need
 * no path walk (an openat and a close per component each saved).  npm packs
 * files in path order, which interleaves folders (build/esm/a.js,
 * build/src/a.js, build/esm/b.js…), so a few are kept, not just the last.  A
 * folder made during extraction is never replaced by another type
 * (unlinkat() without AT_REMOVEDIR fails on it), so a kept fd keeps naming
 * the folder of its path. */
#define PARENT_SLOTS 32

typedef struct parent_slot {
        int fd; /* -1 when free */
        size_t len;
        char *rel;
} parent_slot;

typedef struct parent_cache {
        int rootfd;
        size_t next; /* the slot to reuse next (round robin) */
        parent_slot slots[PARENT_SLOTS];
} parent_cache;

static void parent_cache_init(parent_cache *pc, int rootfd)
{
        pc->rootfd = rootfd;
        pc->next = 0;
        for (size_t i = 0; i < PARENT_SLOTS; i++)
                pc->slots[i] = (parent_slot){.fd = -1};
}

static void parent_cache_done(parent_cache *pc)
{
        for (size_t i = 0; i < PARENT_SLOTS; i++) {
                if (pc->slots[i].fd >= 0)
                        close(pc->slots[i].fd);
                free(pc->slots[i].rel);
        }
}

static void parent_cache_freep(parent_cache **pc)
{
        if (*pc)
                parent_cache_done(*pc);
        free(*pc);
}

/* The fd of the folder holding rel (borrowed from pc), created as needed,
 * and *leaf; -1 with errno. */
static int cached_parent(parent_cache *pc, const char *rel, const char **leaf)
{
        const char *slash = strrchr(rel, '/');
        if (!slash) {
                *leaf = rel;
                return pc->rootfd;
        }
        size_t len = (size_t)(slash - rel);
        for (size_t i = 0; i < PARENT_SLOTS; i++) {
                parent_slot *sl = &pc->slots[i];
                if (sl->fd >= 0 && sl->len == len && memcmp(sl->rel, rel, len) == 0) {
                        *leaf = slash + 1;
                        return sl->fd;
                }
        }
        int fd = open_parent(pc->rootfd, rel, true, leaf);
        if (fd < 0)
                return -1;
        parent_slot *sl = &pc->slots[pc->next];
        pc->next = (pc->next + 1) % PARENT_SLOTS;
        if (sl->fd >= 0)
                close(sl->fd);
        free(sl->rel);
        *sl = (parent_slot){.fd = fd, .len = len, .rel = xstrndup(rel, len)};
        return fd;
}

static int write_entry(struct archive *a, struct archive_entry *e, parent_cache *pc,
                       const char *rel, npm_entry_type type, const char *link, uint64_t *total,
                       const npm_limits *lim, const char *what, corral_error *err)
{
        const char *leaf = NULL;
        int rootfd = pc->rootfd;
        int dfd = cached_parent(pc, rel, &leaf);
        if (dfd < 0)
                return corral_error_errno(err, EX_DATAERR, errno,
                                          "%s: cannot create the folder of '%.200s'", what, rel);
        if (type == NPM_ENTRY_DIR) {
                if (mkdirat(dfd, leaf, 0755) == 0)
                        return 0;
                if (errno != EEXIST)
                        return corral_error_errno(err, EX_DATAERR, errno,
                                                  "%s: cannot create '%.200s'", what, rel);
                struct stat st;
                if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        return corral_error_set(err, EX_DATAERR,
                                                "%s: '%.200s' is both a folder and something else",
                                                what, rel);
                return 0;
        }
        /* A later entry of the same path replaces an earlier one, as with
         * tar.  Files try O_EXCL first and replace only on EEXIST. */
        if (type != NPM_ENTRY_FILE && unlinkat(dfd, leaf, 0) < 0 && errno != ENOENT)
                return corral_error_errno(err, EX_DATAERR, errno, "%s: cannot replace '%.200s'",
                                          what, rel);
        if (type == NPM_ENTRY_SYMLINK) {
                if (symlinkat(link, dfd, leaf) < 0)
                        return corral_error_errno(err, EX_DATAERR, errno,
                                                  "%s: cannot create symlink '%.200s'", what, rel);
                return 0;
        }
        if (type == NPM_ENTRY_HARDLINK) {
                const char *tleaf = NULL;
                _cleanup_close_ int tfd = open_parent(rootfd, link, false, &tleaf);
                struct stat st;
                if (tfd < 0 || fstatat(tfd, tleaf, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        return corral_error_set(err, EX_DATAERR,
                                                "%s: hardlink '%.200s' does not point to a file "
                                                "of the package",
                                                what, rel);
                if (linkat(tfd, tleaf, dfd, leaf, 0) < 0)
                        return corral_error_errno(err, EX_DATAERR, errno,
                                                  "%s: cannot create hardlink '%.200s'", what, rel);
                return 0;
        }
        la_int64_t size = archive_entry_size(e);
        if (size < 0 || (uint64_t)size > lim->max_unpacked ||
            *total + (uint64_t)size > lim->max_unpacked)
                return corral_error_set(err, EX_DATAERR,
                                        "%s: refusing the tarball: it unpacks to more than %llu "
                                        "bytes",
                                        what, (unsigned long long)lim->max_unpacked);
        mode_t mode = (archive_entry_perm(e) & 0111) ? 0755 : 0644;
        int oflags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
        _cleanup_close_ int fd = openat(dfd, leaf, oflags, mode);
        if (fd < 0 && errno == EEXIST) {
                if (unlinkat(dfd, leaf, 0) < 0)
                        return corral_error_errno(err, EX_DATAERR, errno,
                                                  "%s: cannot replace '%.200s'", what, rel);
                fd = openat(dfd, leaf, oflags, mode);
        }
        if (fd < 0)
                return corral_error_errno(err, EX_DATAERR, errno, "%s: cannot create '%.200s'",
                                          what, rel);
        char buf[65536];
        uint64_t written = 0;
        for (;;) {
                la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
                if (n < 0)
                        return corral_error_set(err, EX_DATAERR, "%s: bad tarball: %s", what,
                                                archive_error_string(a));
                if (n == 0)
                        break;
                written += (uint64_t)n;
                if (written > (uint64_t)size || *total + written > lim->max_unpacked)
                        return corral_error_set(err, EX_DATAERR,
                                                "%s: refusing the tarball: it unpacks to more "
                                                "than %llu bytes",
                                                what, (unsigned long long)lim->max_unpacked);
                int w = write_all(fd, buf, (size_t)n);
                if (w < 0)
                        return corral_error_errno(err, EX_CANTCREAT, -w, "%s: cannot write '%.200s'",
                                                  what, rel);
        }
        *total += written;
        /* O_CREAT's mode went through the umask: set it unless the umask
         * is known to leave it alone. */
        if (!lim->umask_keeps_modes && fchmod(fd, mode) < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "%s: cannot chmod '%.200s'",
                                          what, rel);
        return 0;
}

static void archive_freep(struct archive **a)
{
        if (*a)
                archive_read_free(*a);
}

/* Opens the archive on a memory buffer (tgz) or, when tgz is NULL, on fd. */
static int extract(const void *tgz, size_t len, int fd, const char *dest, const npm_limits *lim,
                   npm_extract_stats *stats, const char *what, corral_error *err)
{
        int r = mkdir_p(dest, 0755);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s", dest);
        _cleanup_close_ int rootfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rootfd < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot open %s", dest);

        _cleanup_(archive_freep) struct archive *a = archive_read_new();
        if (!a)
                return corral_error_set(err, EX_SOFTWARE, "out of memory");
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_none(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        if ((tgz ? archive_read_open_memory(a, tgz, len) : archive_read_open_fd(a, fd, 65536)) !=
            ARCHIVE_OK)
                return corral_error_set(err, EX_DATAERR, "%s: not a tarball: %s", what,
                                        archive_error_string(a));
        uint64_t entries = 0, total = 0;
        bool any = false;
        _cleanup_(parent_cache_freep) parent_cache *pc = xmalloc(sizeof(*pc));
        parent_cache_init(pc, rootfd);
        for (;;) {
                struct archive_entry *e = NULL;
                int ar = archive_read_next_header(a, &e);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN)
                        return corral_error_set(err, EX_DATAERR, "%s: bad tarball: %s", what,
                                                archive_error_string(a));
                if (++entries > lim->max_entries)
                        return corral_error_set(err, EX_DATAERR,
                                                "%s: refusing the tarball: more than %llu entries",
                                                what, (unsigned long long)lim->max_entries);
                npm_entry_type type = entry_type(e);
                const char *link = type == NPM_ENTRY_HARDLINK  ? archive_entry_hardlink(e)
                                   : type == NPM_ENTRY_SYMLINK ? archive_entry_symlink(e)
                                                               : NULL;
                _cleanup_free_ char *rel = NULL;
                _cleanup_free_ char *norm_link = NULL;
                r = npm_tar_check_entry(archive_entry_pathname(e), type, link, &rel, &norm_link,
                                        err);
                if (r < 0) {
                        corral_error_prefix(err, "%s: refusing the tarball", what);
                        return r;
                }
                if (r == 0)
                        continue;
                r = write_entry(a, e, pc, rel, type, norm_link, &total, lim, what, err);
                if (r < 0)
                        return r;
                any = true;
        }
        if (!any)
                return corral_error_set(err, EX_DATAERR, "%s: the tarball holds no files", what);
        if (stats)
                *stats = (npm_extract_stats){.entries = entries, .bytes = total};
        return 0;
}

int npm_extract(const void *tgz, size_t len, const char *dest, const npm_limits *lim,
                const char *what, corral_error *err)
{
        /* An empty buffer is still a buffer, not the fd form. */
        return extract(tgz ? tgz : "", len, -1, dest, lim, NULL, what, err);
}

int npm_extract_fd(int fd, const char *dest, const npm_limits *lim, const char *what,
                   corral_error *err)
{
        return extract(NULL, 0, fd, dest, lim, NULL, what, err);
}

int npm_extract_fd_ex(int fd, const char *dest, const npm_limits *lim,
                      npm_extract_stats *ret_stats, const char *what, corral_error *err)
{
        return extract(NULL, 0, fd, dest, lim, ret_stats, what, err);
}
