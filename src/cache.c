/* The download cache: measuring it, the size cap with LRU eviction, `corral
 * cache clean`, and taking back what a failed install added (contract and
 * layout in include/corral/cache.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corral/cache.h"
#include "corral/config.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"

#define SIDECAR_MAX 4096
#define MAX_DEPTH 128
/* Entries listed at once: a cache with more is measured and evicted in
 * passes of this many (the rest count as they are). */
#define MAX_ENTRIES 200000

/* ---- the cap ---------------------------------------------------------------- */

/* "N[K|M|G|T][iB|B]" → bytes; false when it is not that. */
static bool parse_size(const char *s, uint64_t *ret)
{
        char *end = NULL;
        if (!s || !isdigit((unsigned char)*s))
                return false;
        errno = 0;
        unsigned long long n = strtoull(s, &end, 10);
        if (errno)
                return false;
        unsigned shift = 0;
        switch (toupper((unsigned char)*end)) {
        case 'K':
                shift = 10;
                end++;
                break;
        case 'M':
                shift = 20;
                end++;
                break;
        case 'G':
                shift = 30;
                end++;
                break;
        case 'T':
                shift = 40;
                end++;
                break;
        default:
                break;
        }
        if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
                end += strlen(end);
        else if (!shift && strcmp(end, "B") == 0)
                end++;
        if (*end || n > (UINT64_MAX >> shift))
                return false;
        *ret = (uint64_t)n << shift;
        return true;
}

int cache_max_size(const corral_paths *p, uint64_t *ret, corral_error *err)
{
        const char *env = getenv("CORRAL_CACHE_MAX_SIZE");
        uint64_t v = CACHE_DEFAULT_MAX_SIZE;
        if (env && *env) {
                if (!parse_size(env, &v))
                        return corral_error_set(err, EX_CONFIG,
                                                "CORRAL_CACHE_MAX_SIZE: '%.64s' is not a size "
                                                "(bytes, or N with K, M, G or T)",
                                                env);
                *ret = v;
                return 0;
        }
        _cleanup_json_ cJSON *config = NULL;
        int r = config_load(p, &config, err);
        if (r < 0)
                return r;
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(config, "cache_max_size");
        if (cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble < 1.8e19)
                v = (uint64_t)j->valuedouble;
        else if (cJSON_IsString(j) && parse_size(j->valuestring, &v))
                ;
        else if (j)
                return corral_error_set(err, EX_CONFIG,
                                        "%s: \"cache_max_size\" must be a byte count or a string "
                                        "like \"2G\"",
                                        p->config);
        *ret = v;
        return 0;
}

/* ---- listing ------------------------------------------------------------------ */

typedef struct entry {
        char *path;
        cache_kind kind;
        uint64_t size;
        struct timespec stamp;
        char *key; /* npm tarballs and unpacked trees: KEY */
} entry;

typedef struct listing {
        entry *v;
        size_t n;
        char **leftovers; /* paths */
        uint64_t leftover_bytes;
} listing;

static void listing_done(listing *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].path);
                free(l->v[i].key);
        }
        free(l->v);
        strv_free(l->leftovers);
        *l = (listing){0};
}

static bool in_strv(char *const *v, const char *s)
{
        for (size_t i = 0; v && s && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

static bool has_suffix(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Sum of file sizes under the directory fd (closed here). */
static uint64_t tree_bytes(int fd, unsigned depth)
{
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return 0;
        }
        uint64_t sum = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH)
                        sum += tree_bytes(openat(dirfd(d), de->d_name,
                                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
                                          depth + 1);
                else if (S_ISREG(st.st_mode))
                        sum += (uint64_t)st.st_size;
        }
        closedir(d);
        return sum;
}

static uint64_t path_bytes(const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return 0;
        if (!S_ISDIR(st.st_mode))
                return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
        return tree_bytes(open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), 0);
}

static void add_entry(listing *l, cache_kind kind, char *path, uint64_t size,
                      const struct stat *stamp, char *key)
{
        if (l->n >= MAX_ENTRIES) {
                free(path);
                free(key);
                return;
        }
        l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->v[l->n++] = (entry){
                .path = path, .kind = kind, .size = size, .stamp = stamp->st_mtim, .key = key};
}

static void add_leftover(listing *l, const char *path)
{
        if (strv_length(l->leftovers) >= MAX_ENTRIES)
                return;
        l->leftover_bytes += path_bytes(path);
        l->leftovers = strv_push(l->leftovers, path);
}

/* Calls fn for each name in dir but "." and "..". */
static void each_name(const char *dir, void (*fn)(listing *, const char *dir, const char *name),
                      listing *l)
{
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        fn(l, dir, de->d_name);
        closedir(d);
}

static void list_tarball(listing *l, const char *dir, const char *name)
{
        _cleanup_free_ char *p = path_join(dir, name);
        struct stat st;
        if (strstr(name, ".tmp."))
                add_leftover(l, p);
        else if (has_suffix(name, ".tgz") && lstat(p, &st) == 0 && S_ISREG(st.st_mode))
                add_entry(l, CACHE_TARBALL, steal_pointer(&p), (uint64_t)st.st_size, &st,
                          xstrndup(name, strlen(name) - 4));
}

static void list_unpacked(listing *l, const char *dir, const char *name)
{
        _cleanup_free_ char *p = path_join(dir, name);
        struct stat st;
        if (strstr(name, ".tmp.")) {
                add_leftover(l, p);
                return;
        }
        if (has_suffix(name, ".json")) {
                /* A sidecar whose tree is gone. */
                _cleanup_free_ char *tree = xstrndup(p, strlen(p) - 5);
                if (!path_exists(tree))
                        add_leftover(l, p);
                return;
        }
        if (lstat(p, &st) < 0 || !S_ISDIR(st.st_mode))
                return;
        _cleanup_free_ char *sidecar = xasprintf("%s.json", p);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        struct stat sst;
        if (read_file(sidecar, SIDECAR_MAX, &data, &len) < 0 || stat(sidecar, &sst) < 0) {
                /* No sidecar: left half-made by an interrupted install. */
                add_leftover(l, p);
                return;
        }
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(data, len);
        double bytes = json_get_number(j, "bytes", -1);
        uint64_t size = bytes >= 0 && bytes < 9e15 ? (uint64_t)bytes : path_bytes(p);
        add_entry(l, CACHE_UNPACKED, steal_pointer(&p), size + (uint64_t)sst.st_size, &sst,
                  xstrdup(name));
}

static void list_packument(listing *l, const char *dir, const char *name)
{
        _cleanup_free_ char *p = path_join(dir, name);
        struct stat st, mst;
        if (strstr(name, ".tmp.")) {
                add_leftover(l, p);
                return;
        }
        if (!has_suffix(name, ".json") || lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
                return;
        _cleanup_free_ char *meta = xasprintf("%.*s.meta", (int)(strlen(p) - 5), p);
        uint64_t size = (uint64_t)st.st_size;
        if (lstat(meta, &mst) == 0 && S_ISREG(mst.st_mode))
                size += (uint64_t)mst.st_size;
        add_entry(l, CACHE_PACKUMENT, steal_pointer(&p), size, &st, NULL);
}

/* MCPB bundles (resolvers/mcpb/cache.c): SHA256.mcpb counted and evicted
 * as tarballs; url-HASH.json (which content a URL gave) as packuments. */
static void list_bundle(listing *l, const char *dir, const char *name)
{
        _cleanup_free_ char *p = path_join(dir, name);
        struct stat st;
        if (strstr(name, ".tmp."))
                add_leftover(l, p);
        else if (has_suffix(name, ".mcpb") && lstat(p, &st) == 0 && S_ISREG(st.st_mode))
                add_entry(l, CACHE_TARBALL, steal_pointer(&p), (uint64_t)st.st_size, &st,
                          xasprintf("mcpb-%.*s", (int)(strlen(name) - 5), name));
        else if (strncmp(name, "url-", 4) == 0)
                list_packument(l, dir, name);
}

static void list_git(listing *l, const char *dir, const char *name)
{
        _cleanup_free_ char *p = path_join(dir, name);
        struct stat st;
        if (has_suffix(name, ".git") && lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                add_entry(l, CACHE_GIT, steal_pointer(&p), path_bytes(p), &st, NULL);
}

static void list_cache(const char *cache_dir, listing *l)
{
        _cleanup_free_ char *tarballs = xasprintf("%s/npm/tarballs", cache_dir);
        _cleanup_free_ char *unpacked = xasprintf("%s/npm/unpacked", cache_dir);
        _cleanup_free_ char *packuments = xasprintf("%s/npm/packuments", cache_dir);
        _cleanup_free_ char *git = xasprintf("%s/git", cache_dir);
        _cleanup_free_ char *registry = xasprintf("%s/registry", cache_dir);
        each_name(tarballs, list_tarball, l);
        each_name(unpacked, list_unpacked, l);
        each_name(packuments, list_packument, l);
        /* MCP Registry and Smithery answers: the same HASH.json + .meta
         * pairs, counted, evicted and cleaned as packuments. */
        each_name(registry, list_packument, l);
        _cleanup_free_ char *bundles = xasprintf("%s/mcpb", cache_dir);
        each_name(bundles, list_bundle, l);
        each_name(git, list_git, l);
}

static void stats_add(cache_stats *s, const entry *e)
{
        s->bytes += e->size;
        s->entries++;
        switch (e->kind) {
        case CACHE_TARBALL:
                s->tarballs++;
                break;
        case CACHE_UNPACKED:
                s->unpacked++;
                break;
        case CACHE_PACKUMENT:
                s->packuments++;
                break;
        case CACHE_GIT:
                s->git_mirrors++;
                break;
        }
}

void cache_measure(const char *cache_dir, cache_stats *ret)
{
        listing l = {0};
        *ret = (cache_stats){0};
        list_cache(cache_dir, &l);
        for (size_t i = 0; i < l.n; i++)
                stats_add(ret, &l.v[i]);
        ret->leftovers = strv_length(l.leftovers);
        ret->leftover_bytes = l.leftover_bytes;
        listing_done(&l);
}

/* ---- removing ------------------------------------------------------------------ */

/* Removes one entry; 0, 1 when a git mirror is in use (kept), or -errno. */
static int remove_entry(cache_kind kind, const char *path)
{
        int r = 0;
        switch (kind) {
        case CACHE_TARBALL:
                r = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
                break;
        case CACHE_UNPACKED: {
                /* The sidecar first: a half-removed tree must not look valid. */
                _cleanup_free_ char *sidecar = xasprintf("%s.json", path);
                if (unlink(sidecar) < 0 && errno != ENOENT)
                        return -errno;
                r = rm_rf(path);
                break;
        }
        case CACHE_PACKUMENT: {
                size_t n = strlen(path);
                _cleanup_free_ char *meta = xasprintf("%.*s.meta", (int)(n > 5 ? n - 5 : n), path);
                (void)unlink(meta);
                r = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
                break;
        }
        case CACHE_GIT: {
                _cleanup_free_ char *lock = xasprintf("%s.lock", path);
                _cleanup_close_ int fd =
                        open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
                        return 1; /* `corral update` or an install is using it */
                r = rm_rf(path);
                break;
        }
        }
        return r == -ENOENT ? 0 : r;
}

static int remove_leftovers(listing *l, cache_stats *removed, corral_error *err)
{
        int ret = 0;
        for (size_t i = 0; l->leftovers && l->leftovers[i]; i++) {
                int r = rm_rf(l->leftovers[i]);
                if (r < 0 && r != -ENOENT && ret == 0)
                        ret = corral_error_errno(err, EX_CANTCREAT, -r, "cannot remove %s",
                                                 l->leftovers[i]);
                else if (r >= 0 && removed)
                        removed->leftovers++;
        }
        if (removed)
                removed->leftover_bytes += l->leftover_bytes;
        return ret;
}

static int remove_one(const entry *e, cache_stats *removed, corral_error *err)
{
        int r = remove_entry(e->kind, e->path);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot remove %s", e->path);
        if (r == 0 && removed)
                stats_add(removed, e);
        return r;
}

static int by_stamp(const void *a, const void *b)
{
        const entry *x = a, *y = b;
        if (x->stamp.tv_sec != y->stamp.tv_sec)
                return x->stamp.tv_sec < y->stamp.tv_sec ? -1 : 1;
        if (x->stamp.tv_nsec != y->stamp.tv_nsec)
                return x->stamp.tv_nsec < y->stamp.tv_nsec ? -1 : 1;
        return strcmp(x->path, y->path);
}

int cache_evict(const char *cache_dir, uint64_t max_bytes, cache_stats *ret_removed,
                corral_error *err)
{
        listing l = {0};
        if (ret_removed)
                *ret_removed = (cache_stats){0};
        list_cache(cache_dir, &l);
        int ret = remove_leftovers(&l, ret_removed, err);
        uint64_t total = 0;
        for (size_t i = 0; i < l.n; i++)
                total += l.v[i].size;
        if (l.n > 1) /* qsort(NULL, 0, …) is undefined (UBSan) */
                qsort(l.v, l.n, sizeof(*l.v), by_stamp);
        for (size_t i = 0; i < l.n && total > max_bytes; i++) {
                int r = remove_one(&l.v[i], ret_removed, err);
                if (r == 0)
                        total -= l.v[i].size;
                else if (r < 0 && ret == 0)
                        ret = r;
        }
        listing_done(&l);
        return ret;
}

int cache_clean(const char *cache_dir, char *const *keep, bool all, cache_stats *ret_removed,
                corral_error *err)
{
        listing l = {0};
        if (ret_removed)
                *ret_removed = (cache_stats){0};
        list_cache(cache_dir, &l);
        int ret = remove_leftovers(&l, ret_removed, err);
        for (size_t i = 0; i < l.n; i++) {
                const entry *e = &l.v[i];
                bool go = all || e->kind == CACHE_PACKUMENT;
                if (!go && (e->kind == CACHE_TARBALL || e->kind == CACHE_UNPACKED))
                        go = !in_strv(keep, e->key);
                if (!go)
                        continue;
                int r = remove_one(e, ret_removed, err);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        listing_done(&l);
        return ret;
}

void cache_touch(const char *path)
{
        (void)utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW);
}

/* ---- one install's additions ------------------------------------------------ */

struct cache_txn {
        cache_kind *kinds;
        char **paths;
        size_t n;
};

cache_txn *cache_txn_new(void)
{
        return xcalloc(1, sizeof(cache_txn));
}

void cache_txn_add(cache_txn *t, cache_kind kind, const char *path)
{
        if (!t)
                return;
        t->kinds = xrealloc(t->kinds, (t->n + 1) * sizeof(*t->kinds));
        t->paths = xrealloc(t->paths, (t->n + 1) * sizeof(*t->paths));
        t->kinds[t->n] = kind;
        t->paths[t->n++] = xstrdup(path);
}

cache_txn *cache_txn_finish(cache_txn *t, int result)
{
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n; i++) {
                if (result == -EX_CANTCREAT)
                        (void)remove_entry(t->kinds[i], t->paths[i]);
                free(t->paths[i]);
        }
        free(t->kinds);
        free(t->paths);
        free(t);
        return NULL;
}
