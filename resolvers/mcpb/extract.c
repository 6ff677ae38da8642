/* Safe extraction of an MCPB zip with libarchive: every entry checked
 * before a byte of it is written, every cap in mcpb.h enforced. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/mcpb.h"

#define BLOCK (64u << 10)

static void archive_freep(struct archive **a)
{
        if (*a)
                archive_read_free(*a);
}

/* A relative path of plain components: no "", ".", ".." parts, no leading
 * '/', no NUL or control characters, within MCPB_MAX_PATH and
 * MCPB_MAX_DEPTH.  "dir/" (a directory entry) is fine. */
static bool path_ok(const char *p)
{
        size_t n = strlen(p), depth = 0;

        if (n == 0 || n > MCPB_MAX_PATH || p[0] == '/' || p[0] == '\\')
                return false;
        for (const char *c = p; *c;) {
                size_t len = strcspn(c, "/");
                if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                for (size_t i = 0; i < len; i++)
                        if ((unsigned char)c[i] < ' ' || c[i] == '\\')
                                return false;
                if (++depth > MCPB_MAX_DEPTH)
                        return false;
                c += len;
                if (*c == '/')
                        c++;
        }
        return true;
}

/* Creates every directory of rel's parent under dest. */
static int make_parents(const char *dest, const char *rel)
{
        _cleanup_free_ char *full = path_join(dest, rel);
        char *slash = strrchr(full, '/');

        if (!slash)
                return 0;
        *slash = '\0';
        return mkdir_p(full, 0755);
}

/* One entry's header against the rules and caps, in both passes: the
 * entry count (*entries, incremented), its path, its type (a regular file
 * or a directory, never a link), and its declared size against the caps
 * with total bytes already counted. */
static int check_entry(struct archive_entry *e, const mcpb_limits *lim, const char *what,
                       uint64_t *entries, uint64_t total, corral_error *err)
{
        const char *p = archive_entry_pathname(e);
        mode_t type = archive_entry_filetype(e);
        int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;

        if (++*entries > lim->max_entries)
                return corral_error_set(err, EX_DATAERR,
                                        "%s: more than %llu entries (MCPB_MAX_ENTRIES)", what,
                                        (unsigned long long)lim->max_entries);
        if (!p || !path_ok(p))
                return corral_error_set(err, EX_DATAERR,
                                        "%s: refusing entry '%.200s': absolute path, '..', or a "
                                        "path too long or deep",
                                        what, p ? p : "");
        if (archive_entry_symlink(e) || archive_entry_hardlink(e) || type == AE_IFLNK)
                return corral_error_set(err, EX_DATAERR,
                                        "%s: refusing entry '%.200s': links are not allowed in a "
                                        "bundle",
                                        what, p);
        if (type != AE_IFREG && type != AE_IFDIR)
                return corral_error_set(err, EX_DATAERR,
                                        "%s: refusing entry '%.200s': not a regular file or "
                                        "directory",
                                        what, p);
        if (declared < 0 || (uint64_t)declared > lim->max_entry ||
            total + (uint64_t)declared > lim->max_unpacked)
                return corral_error_set(err, EX_DATAERR,
                                        "%s: entry '%.200s' declares %lld bytes: over the caps "
                                        "(MCPB_MAX_ENTRY %llu, MCPB_MAX_UNPACKED %llu)",
                                        what, p, (long long)declared,
                                        (unsigned long long)lim->max_entry,
                                        (unsigned long long)lim->max_unpacked);
        return 0;
}

static int open_zip(struct archive *a, int fd, const char *what, corral_error *err)
{
        if (!a)
                return corral_error_set(err, EX_SOFTWARE, "libarchive: out of memory");
        archive_read_support_format_zip(a);
        archive_read_support_filter_none(a);
        if (archive_read_open_fd(a, fd, BLOCK) != ARCHIVE_OK)
                return corral_error_set(err, EX_DATAERR, "%s: not a zip file: %s", what,
                                        archive_error_string(a));
        return 0;
}

/* Pass 1: every header checked (check_entry, declared sizes summed) before
 * anything is written, data skipped. */
static int validate(int fd, const mcpb_limits *lim, const char *what, corral_error *err)
{
        _cleanup_(archive_freep) struct archive *a = archive_read_new();
        struct archive_entry *e;
        uint64_t entries = 0, total = 0;
        int r;

        if ((r = open_zip(a, fd, what, err)) < 0)
                return r;
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                if ((r = check_entry(e, lim, what, &entries, total, err)) < 0)
                        return r;
                total += archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : 0;
                (void)archive_read_data_skip(a);
        }
        if (r != ARCHIVE_EOF)
                return corral_error_set(err, EX_DATAERR, "%s: broken zip: %s", what,
                                        archive_error_string(a));
        return 0;
}

int mcpb_extract(int fd, const char *dest, const mcpb_limits *lim, const char *what,
                 corral_error *err)
{
        _cleanup_(archive_freep) struct archive *a = archive_read_new();
        struct archive_entry *e;
        uint64_t entries = 0, total = 0;
        _cleanup_free_ char *buf = xmalloc(BLOCK);
        int r;

        if ((r = validate(fd, lim, what, err)) < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return corral_error_errno(err, EX_IOERR, errno, "%s: rewinding", what);
        if ((r = open_zip(a, fd, what, err)) < 0)
                return r;
        if (mkdir(dest, 0755) < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot create %s", dest);

        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                const char *p = archive_entry_pathname(e);
                mode_t type = archive_entry_filetype(e);
                _cleanup_free_ char *rel = NULL, *full = NULL;
                _cleanup_close_ int out = -1;
                uint64_t written = 0;

                /* Checked again: the second read must not trust the first. */
                if ((r = check_entry(e, lim, what, &entries, total, err)) < 0)
                        return r;
                rel = xstrdup(p);
                while (rel[0] && rel[strlen(rel) - 1] == '/')
                        rel[strlen(rel) - 1] = '\0';
                full = path_join(dest, rel);
                if (type == AE_IFDIR || p[strlen(p) - 1] == '/') {
                        struct stat st;
                        if ((r = mkdir_p(full, 0755)) < 0)
                                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s",
                                                          full);
                        if (lstat(full, &st) < 0 || !S_ISDIR(st.st_mode))
                                return corral_error_set(err, EX_DATAERR,
                                                        "%s: entry '%.200s' is not a directory",
                                                        what, p);
                        continue;
                }
                if ((r = make_parents(dest, rel)) < 0)
                        return corral_error_errno(err, EX_DATAERR, -r,
                                                  "%s: cannot create the parent of '%.200s'", what,
                                                  p);
                /* Parents were made by us as directories and no link is ever
                 * created, so the path cannot lead outside dest; O_EXCL
                 * refuses a duplicate entry. */
                out = open(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           (archive_entry_perm(e) & 0111) ? 0755 : 0644);
                if (out < 0)
                        return corral_error_errno(err, errno == EEXIST ? EX_DATAERR : EX_CANTCREAT,
                                                  errno, "%s: entry '%.200s'", what, p);
                for (;;) {
                        la_ssize_t n = archive_read_data(a, buf, BLOCK);
                        if (n == 0)
                                break;
                        if (n < 0)
                                return corral_error_set(err, EX_DATAERR, "%s: entry '%.200s': %s",
                                                        what, p, archive_error_string(a));
                        written += (uint64_t)n;
                        total += (uint64_t)n;
                        if (written > lim->max_entry || total > lim->max_unpacked)
                                return corral_error_set(
                                        err, EX_DATAERR,
                                        "%s: entry '%.200s' unpacks past the caps (MCPB_MAX_ENTRY "
                                        "%llu, MCPB_MAX_UNPACKED %llu bytes)",
                                        what, p, (unsigned long long)lim->max_entry,
                                        (unsigned long long)lim->max_unpacked);
                        if (write_all(out, buf, (size_t)n) < 0)
                                return corral_error_errno(err, EX_CANTCREAT, errno,
                                                          "cannot write %s", full);
                }
        }
        if (r != ARCHIVE_EOF)
                return corral_error_set(err, EX_DATAERR, "%s: broken zip: %s", what,
                                        archive_error_string(a));
        return 0;
}
