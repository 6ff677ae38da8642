/* The unpacked cache (pnpm's content-addressable store, per package): a
 * verified tarball is extracted once into CACHE/unpacked/KEY/ and every
 * install hard-links its files from there, so a warm install creates
 * directory entries, not inodes.  Files have pkg/'s modes (0644, 0755 when
 * executable; writable only by their owner, root); bins get their exec bits
 * here, once, so no install needs to chmod a shared inode differently.  The sidecar
 * KEY.json is written after the tree is in place, so an entry interrupted
 * half-way has none and counts as absent; its digest of the tree catches
 * files added, removed, renamed or resized since, and a file whose mode is
 * no longer 0644 or 0755 makes the entry damaged too. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "corral/cache.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/npm.h"

#define SIDECAR_MAX 4096
#define PACKAGE_JSON_MAX (1u << 20)
#define MAX_BINS 256
#define MAX_DEPTH 128
#define REL_MAX 4352

typedef struct tree_sum {
        uint64_t names; /* everything but the root */
        uint64_t digest; /* sum of per-entry hashes: independent of readdir order */
        uint64_t max_names;
} tree_sum;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * 1099511628211ull;
        return h;
}

/* Adds one entry: its path, type, and the size and exec bit of a file or the
 * target of a symlink. */
static void sum_entry(tree_sum *t, const char *rel, char type, const struct stat *st,
                      const char *target)
{
        uint64_t h = fnv(14695981039346656037ull, rel, strlen(rel) + 1);
        h = fnv(h, &type, 1);
        if (type == 'f') {
                char buf[48];
                int n = snprintf(buf, sizeof(buf), "%" PRIu64 ":%d", (uint64_t)st->st_size,
                                 (st->st_mode & 0111) ? 1 : 0);
                h = fnv(h, buf, (size_t)n);
        } else if (type == 'l' && target) {
                h = fnv(h, target, strlen(target));
        }
        t->digest += h;
        t->names++;
}

static DIR *open_dir_stream(int fd)
{
        int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        DIR *dir = d >= 0 ? fdopendir(d) : NULL;
        if (!dir && d >= 0)
                close(d);
        /* A dup shares the offset: an fd read to its end before reads nothing. */
        if (dir)
                rewinddir(dir);
        return dir;
}

/* Digests the tree under fd; -1 when it holds something the cache never
 * makes (devices, deep nesting) or more than t->max_names entries. */
static int sum_tree(int fd, char *rel, size_t rlen, unsigned depth, tree_sum *t)
{
        if (depth > MAX_DEPTH)
                return -1;
        DIR *d = open_dir_stream(fd);
        if (!d)
                return -1;
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                size_t nl = strlen(de->d_name);
                if (rlen + nl + 2 > REL_MAX || t->names >= t->max_names) {
                        r = -1;
                        break;
                }
                size_t sub = rlen;
                if (sub)
                        rel[sub++] = '/';
                memcpy(rel + sub, de->d_name, nl + 1);
                struct stat st;
                if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -1;
                } else if (S_ISDIR(st.st_mode)) {
                        sum_entry(t, rel, 'd', &st, NULL);
                        _cleanup_close_ int cfd = openat(
                                fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        r = cfd < 0 ? -1 : sum_tree(cfd, rel, sub + nl, depth + 1, t);
                } else if (S_ISREG(st.st_mode)) {
                        /* The modes the cache makes, and pkg/ keeps: the
                         * store trusts linked files to have them. */
                        mode_t m = st.st_mode & 07777;
                        if (m != 0644 && m != 0755)
                                r = -1;
                        else
                                sum_entry(t, rel, 'f', &st, NULL);
                } else if (S_ISLNK(st.st_mode)) {
                        char target[REL_MAX];
                        ssize_t n = readlinkat(fd, de->d_name, target, sizeof(target) - 1);
                        if (n < 0) {
                                r = -1;
                        } else {
                                target[n] = '\0';
                                sum_entry(t, rel, 'l', &st, target);
                        }
                } else {
                        r = -1;
                }
                rel[rlen] = '\0';
        }
        closedir(d);
        return r;
}

/* A private copy of a file that cannot be linked. */
static int copy_file(int sfd, const char *name, int dfd)
{
        _cleanup_close_ int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (in < 0 || fstat(in, &st) < 0)
                return -errno;
        mode_t mode = (st.st_mode & 0111) ? 0755 : 0644;
        int oflags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
        _cleanup_close_ int out = openat(dfd, name, oflags, mode);
        if (out < 0 && errno == EEXIST && unlinkat(dfd, name, 0) == 0)
                out = openat(dfd, name, oflags, mode);
        if (out < 0)
                return -errno;
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof(buf))) > 0) {
                int w = write_all(out, buf, (size_t)n);
                if (w < 0)
                        return w;
        }
        return n < 0 ? -errno : 0;
}

static int link_file(int sfd, const char *name, int dfd)
{
        if (linkat(sfd, name, dfd, name, 0) == 0)
                return 0;
        if (errno == EEXIST) {
                /* As with tar: what is already there is replaced. */
                if (unlinkat(dfd, name, 0) < 0)
                        return -errno;
                if (linkat(sfd, name, dfd, name, 0) == 0)
                        return 0;
        }
        if (errno == EXDEV || errno == EMLINK || errno == EPERM || errno == EACCES)
                return copy_file(sfd, name, dfd);
        return -errno;
}

static int make_symlink(int sfd, const char *name, int dfd)
{
        char target[REL_MAX];
        ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = '\0';
        if (symlinkat(target, dfd, name) == 0)
                return 0;
        if (errno != EEXIST || unlinkat(dfd, name, 0) < 0 || symlinkat(target, dfd, name) < 0)
                return -errno;
        return 0;
}

/* Recreates the tree under sfd in dfd: directories made, files linked,
 * symlinks recreated; never writes through a symlink in dfd. */
static int link_tree(int sfd, int dfd, char *rel, size_t rlen, unsigned depth, const char *what,
                     corral_error *err)
{
        if (depth > MAX_DEPTH)
                return corral_error_set(err, EX_DATAERR, "%s: folders nested too deep", what);
        DIR *d = open_dir_stream(sfd);
        if (!d)
                return corral_error_errno(err, EX_IOERR, errno, "%s: cannot read the cache", what);
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                size_t nl = strlen(de->d_name);
                if (rlen + nl + 2 > REL_MAX) {
                        r = corral_error_set(err, EX_DATAERR, "%s: a path is too long", what);
                        break;
                }
                size_t sub = rlen;
                if (sub)
                        rel[sub++] = '/';
                memcpy(rel + sub, de->d_name, nl + 1);
                unsigned char type = de->d_type;
                if (type == DT_UNKNOWN) {
                        struct stat st;
                        if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                st.st_mode = 0;
                        type = S_ISDIR(st.st_mode)   ? DT_DIR
                               : S_ISREG(st.st_mode) ? DT_REG
                               : S_ISLNK(st.st_mode) ? DT_LNK
                                                     : DT_UNKNOWN;
                }
                int q = 0;
                if (type == DT_DIR) {
                        if (mkdirat(dfd, de->d_name, 0755) < 0 && errno != EEXIST) {
                                q = -errno;
                        } else {
                                _cleanup_close_ int cs =
                                        openat(sfd, de->d_name,
                                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                                _cleanup_close_ int cd =
                                        openat(dfd, de->d_name,
                                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                                if (cs < 0 || cd < 0)
                                        q = -errno;
                                else
                                        r = link_tree(cs, cd, rel, sub + nl, depth + 1, what, err);
                        }
                } else if (type == DT_REG) {
                        q = link_file(sfd, de->d_name, dfd);
                } else if (type == DT_LNK) {
                        q = make_symlink(sfd, de->d_name, dfd);
                } else {
                        r = corral_error_set(err, EX_DATAERR,
                                             "%s: '%.200s' in the cache is not a file, folder "
                                             "or symlink",
                                             what, rel);
                }
                if (q < 0)
                        r = corral_error_errno(err, EX_CANTCREAT, -q, "%s: cannot install '%.200s'",
                                               what, rel);
                rel[rlen] = '\0';
        }
        closedir(d);
        return r;
}

static int materialise(int sfd, const char *dest, const char *what, corral_error *err)
{
        int r = mkdir_p(dest, 0755);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s", dest);
        _cleanup_close_ int dfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot open %s", dest);
        char rel[REL_MAX] = "";
        return link_tree(sfd, dfd, rel, 0, 0, what, err);
}

static void invalidate(const char *entry, const char *sidecar)
{
        /* The sidecar first: a half-removed entry must not look valid. */
        (void)unlink(sidecar);
        (void)rm_rf(entry);
}

int npm_unpacked_check(const char *cache_dir, const char *key, const npm_limits *lim,
                       const char *what, corral_error *err)
{
        _cleanup_free_ char *entry = xasprintf("%s/unpacked/%s", cache_dir, key);
        _cleanup_free_ char *sidecar = xasprintf("%s.json", entry);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (read_file(sidecar, SIDECAR_MAX, &data, &len) < 0) {
                /* No sidecar: absent, or left half-made by an interrupted install. */
                if (dir_exists(entry))
                        (void)rm_rf(entry);
                return 0;
        }
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(data, len);
        double entries = json_get_number(j, "entries", -1);
        double bytes = json_get_number(j, "bytes", -1);
        double names = json_get_number(j, "names", -1);
        const char *digest = json_get_string(j, "tree");
        if (entries < 0 || bytes < 0 || names < 0 || entries > 9e15 || bytes > 9e15 ||
            names > 9e15 || !digest) {
                invalidate(entry, sidecar);
                return 0;
        }
        /* The caps in force now apply whatever they were when it was cached. */
        if ((uint64_t)entries > lim->max_entries)
                return corral_error_set(err, EX_DATAERR,
                                        "%s: refusing the tarball: more than %llu entries", what,
                                        (unsigned long long)lim->max_entries);
        if ((uint64_t)bytes > lim->max_unpacked)
                return corral_error_set(err, EX_DATAERR,
                                        "%s: refusing the tarball: it unpacks to more than %llu "
                                        "bytes",
                                        what, (unsigned long long)lim->max_unpacked);
        _cleanup_close_ int sfd = open(entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        tree_sum t = {.max_names = (uint64_t)names};
        char rel[REL_MAX] = "";
        char hex[17];
        if (sfd >= 0 && sum_tree(sfd, rel, 0, 0, &t) >= 0)
                snprintf(hex, sizeof(hex), "%016" PRIx64, t.digest);
        if (sfd < 0 || t.names != (uint64_t)names || strcmp(hex, digest) != 0) {
                fprintf(stderr,
                        "corral: install: warning: the unpacked cache of %s is damaged; "
                        "extracting it again\n",
                        what);
                invalidate(entry, sidecar);
                return 0;
        }
        cache_touch(sidecar); /* its LRU stamp (include/corral/cache.h) */
        return 1;
}

int npm_unpacked_link(const char *src, const char *dest, const char *what, corral_error *err)
{
        _cleanup_close_ int sfd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0)
                return corral_error_errno(err, EX_IOERR, errno, "%s: cannot read the cache", what);
        return materialise(sfd, dest, what, err);
}

int npm_unpacked_install(const char *cache_dir, const char *key, const char *dest,
                         const npm_limits *lim, const char *what, corral_error *err)
{
        int r = npm_unpacked_check(cache_dir, key, lim, what, err);
        if (r <= 0)
                return r;
        _cleanup_free_ char *entry = xasprintf("%s/unpacked/%s", cache_dir, key);
        r = npm_unpacked_link(entry, dest, what, err);
        return r < 0 ? r : 1;
}

/* Bins declared in package.json become 0755 in the cache, once. */
static void preset_bins(int rootfd)
{
        _cleanup_close_ int pfd = openat(rootfd, "package.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (pfd < 0 || fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode) ||
            (uint64_t)st.st_size > PACKAGE_JSON_MAX)
                return;
        _cleanup_free_ char *data = xmalloc((size_t)st.st_size + 1);
        ssize_t n = read(pfd, data, (size_t)st.st_size);
        if (n < 0)
                return;
        _cleanup_json_ cJSON *pj = cJSON_ParseWithLength(data, (size_t)n);
        const cJSON *bin = cJSON_GetObjectItemCaseSensitive(pj, "bin");
        const cJSON *one = cJSON_IsString(bin) ? bin : NULL;
        const cJSON *e = one ? one : (cJSON_IsObject(bin) ? bin->child : NULL);
        for (int i = 0; e && i < MAX_BINS; i++, e = one ? NULL : e->next) {
                if (!cJSON_IsString(e))
                        continue;
                _cleanup_free_ char *rel = resolver_bin_path(e->valuestring);
                if (!rel)
                        continue;
                _cleanup_close_ int fd = openat(rootfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                struct stat fst;
                if (fd >= 0 && fstat(fd, &fst) == 0 && S_ISREG(fst.st_mode))
                        (void)fchmod(fd, 0755);
        }
}

int npm_unpacked_store(const char *cache_dir, const char *key, int fd, const npm_limits *lim,
                       char **ret_private, const char *what, corral_error *err)
{
        *ret_private = NULL;
        _cleanup_free_ char *udir = xasprintf("%s/unpacked", cache_dir);
        _cleanup_free_ char *tmp = xasprintf("%s/%s.tmp.XXXXXX", udir, key);
        if (mkdir_p(udir, 0755) < 0 || !mkdtemp(tmp))
                return 0;
        npm_extract_stats st = {0};
        int r = npm_extract_fd_ex(fd, tmp, lim, &st, what, err);
        _cleanup_close_ int tfd = -1;
        if (r >= 0) {
                tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (tfd < 0 || fchmod(tfd, 0755) < 0)
                        r = corral_error_errno(err, EX_CANTCREAT, errno, "cannot open %s", tmp);
        }
        if (r < 0) {
                (void)rm_rf(tmp);
                return r;
        }
        preset_bins(tfd);
        tree_sum t = {.max_names = UINT64_MAX};
        char rel[REL_MAX] = "";
        _cleanup_free_ char *entry = xasprintf("%s/%s", udir, key);
        _cleanup_free_ char *sidecar = xasprintf("%s.json", entry);
        if (sum_tree(tfd, rel, 0, 0, &t) < 0 || rename(tmp, entry) < 0) {
                /* Not cacheable, or another install's rename won: the
                 * private copy is what the caller links from. */
                *ret_private = steal_pointer(&tmp);
                return 1;
        }
        _cleanup_free_ char *json = xasprintf(
                "{\"entries\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"names\":%" PRIu64
                ",\"tree\":\"%016" PRIx64 "\"}\n",
                st.entries, st.bytes, t.names, t.digest);
        /* Without fsync: the tree itself is not synced either, and the
         * digest finds an entry a crash left short. */
        (void)npm_write_cache_file(sidecar, json, strlen(json));
        return 1;
}

int npm_unpacked_extract(const char *cache_dir, const char *key, int fd, const char *dest,
                         const npm_limits *lim, const char *what, corral_error *err)
{
        _cleanup_free_ char *private = NULL;
        off_t start = lseek(fd, 0, SEEK_CUR);
        int r = npm_unpacked_store(cache_dir, key, fd, lim, &private, what, err);
        if (r < 0)
                return r;
        if (r == 0) {
                if (start >= 0 && lseek(fd, start, SEEK_SET) < 0)
                        return corral_error_errno(err, EX_IOERR, errno,
                                                  "%s: cannot read the tarball", what);
                return npm_extract_fd(fd, dest, lim, what, err);
        }
        _cleanup_free_ char *entry = private ? NULL
                                             : xasprintf("%s/unpacked/%s", cache_dir, key);
        r = npm_unpacked_link(private ? private : entry, dest, what, err);
        if (private)
                (void)rm_rf(private);
        return r;
}

int npm_write_cache_file(const char *path, const void *data, size_t len)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp.XXXXXX", path);
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, data, len);
        if (r == 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        return r;
}
