/* Tarballs into pkg/: each distinct tarball (by integrity) is an entry that
 * goes, on the worker threads (pool.c), from the unpacked cache, or else the
 * content-addressed tarball cache, or else the registry (streamed to a
 * temporary file and hashed on the main thread as it arrives), to a verified
 * extraction in the unpacked cache; then every package of the tree using it
 * is linked from there, a nested package after the one whose folder holds it.
 * Entries start while packuments are still being resolved (npm_prefetch():
 * the version picked for a range is nearly always the one placed), so
 * downloads and extraction overlap resolution; a prefetched entry that fails
 * fails the install only when the tree needs it.  Nothing unverified is ever
 * extracted, and an entry becomes visible in the unpacked cache only whole
 * (unpacked.c). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "corral/cache.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "npm_internal.h"

/* Tarballs downloading at once: each holds a temporary file open. */
#define MAX_TARBALL_TRANSFERS 48
#define ENTRY_BUCKETS 1024

typedef enum { E_PROBE, E_QUEUED, E_NET, E_EXTRACT, E_READY, E_FAILED } entry_state;

typedef struct npm_entry {
        char *key; /* npm_integrity_key() */
        char *url;
        char *what; /* name@version, for messages */
        npm_integrity want;
        char *cache_file; /* CACHE/tarballs/KEY.tgz */
        entry_state state;
        int code; /* E_FAILED: the negative code, err the message */
        corral_error err;
        /* E_READY: the folder to link from (the cache entry, or a private
         * copy removed at the end), or without a writable cache, the verified
         * tarball to extract into each destination */
        char *src;
        bool src_private;
        int direct_fd;
        /* while downloading (main thread) */
        int fd;
        char *tmp_path;
        npm_hasher *hasher;
        int write_errno;
        struct npm_entry *next_net;
        struct npm_entry *next_in_bucket;
} npm_entry;

static unsigned key_bucket(const char *s)
{
        unsigned h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        return h % ENTRY_BUCKETS;
}

static void entry_fail(npm_entry *e, int code, const corral_error *err)
{
        e->state = E_FAILED;
        e->code = code < 0 ? code : -EX_SOFTWARE;
        e->err = *err;
}

static void download_discard(npm_entry *e)
{
        if (e->fd >= 0)
                close(e->fd);
        e->fd = -1;
        if (e->tmp_path)
                (void)unlink(e->tmp_path);
        free(e->tmp_path);
        e->tmp_path = NULL;
        e->hasher = npm_hasher_free(e->hasher);
}

void npm_entries_free(ctx *c)
{
        for (size_t i = 0; i < c->n_entries; i++) {
                npm_entry *e = c->entries[i];
                download_discard(e);
                if (e->direct_fd >= 0)
                        close(e->direct_fd);
                if (e->src_private)
                        (void)rm_rf(e->src);
                free(e->src);
                free(e->key);
                free(e->url);
                free(e->what);
                free(e->cache_file);
                free(e);
        }
        free(c->entries);
        free(c->entry_buckets);
        c->entries = NULL;
        c->entry_buckets = NULL;
        c->n_entries = 0;
        c->net_queue = c->net_queue_tail = NULL;
}

/* ---- probing the caches (worker) ------------------------------------------ */

typedef struct probe_job {
        npm_job j;
        npm_entry *e; /* read only on the worker */
        const char *cache_dir;
        npm_limits lim;
        int r; /* <0 failed, 0 not cached, 1 ready */
        corral_error err;
        char *private;
        int direct_fd;
        bool stored; /* a new unpacked entry, made from the cached tarball */
} probe_job;

/* The cached tarball into the unpacked cache, when its bytes still match. */
static void probe_run(npm_job *j)
{
        probe_job *p = (probe_job *)j;
        const npm_entry *e = p->e;
        p->r = npm_unpacked_check(p->cache_dir, e->key, &p->lim, e->what, &p->err);
        if (p->r > 0)
                cache_touch(e->cache_file); /* the package was used: LRU stamp */
        if (p->r != 0)
                return;
        int fd = open(e->cache_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return;
        npm_hasher *h = npm_hasher_new(&e->want);
        if (!h) {
                close(fd);
                p->r = corral_error_set(&p->err, EX_SOFTWARE, "out of memory");
                return;
        }
        char buf[65536];
        size_t total = 0;
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0 && total <= NPM_MAX_TARBALL) {
                npm_hasher_update(h, buf, (size_t)n);
                total += (size_t)n;
        }
        corral_error e2 = {0};
        bool ok = n == 0 && total <= NPM_MAX_TARBALL &&
                  npm_hasher_finish(h, &e->want, e->what, &e2) >= 0;
        npm_hasher_free(h);
        if (!ok) {
                close(fd);
                (void)unlink(e->cache_file);
                return;
        }
        if (lseek(fd, 0, SEEK_SET) < 0) {
                p->r = corral_error_errno(&p->err, EX_IOERR, errno, "%s: cannot read the tarball",
                                          e->what);
                close(fd);
                return;
        }
        cache_touch(e->cache_file);
        p->r = npm_unpacked_store(p->cache_dir, e->key, fd, &p->lim, &p->private, e->what,
                                  &p->err);
        p->stored = p->r > 0 && !p->private;
        if (p->r == 0) {
                p->direct_fd = fd;
                p->r = 1;
                return;
        }
        close(fd);
}

static void entry_ready(ctx *c, npm_entry *e, char *private, int direct_fd)
{
        e->state = E_READY;
        if (direct_fd >= 0) {
                e->direct_fd = direct_fd;
        } else if (private) {
                e->src = private;
                e->src_private = true;
        } else {
                e->src = xasprintf("%s/unpacked/%s", c->cache_dir, e->key);
        }
}

static void net_enqueue(ctx *c, npm_entry *e)
{
        e->state = E_QUEUED;
        e->next_net = NULL;
        if (c->net_queue_tail)
                c->net_queue_tail->next_net = e;
        else
                c->net_queue = e;
        c->net_queue_tail = e;
}

static void probe_complete(void *ud, npm_job *j)
{
        ctx *c = ud;
        probe_job *p = (probe_job *)j;
        npm_entry *e = p->e;
        if (p->stored) {
                _cleanup_free_ char *entry = xasprintf("%s/unpacked/%s", c->cache_dir, e->key);
                cache_txn_add(c->s->cache_txn, CACHE_UNPACKED, entry);
        }
        if (c->closing) {
                if (p->private)
                        (void)rm_rf(p->private);
                if (p->direct_fd >= 0)
                        close(p->direct_fd);
                free(p->private);
        } else if (p->r < 0) {
                entry_fail(e, p->r, &p->err);
        } else if (p->r > 0) {
                entry_ready(c, e, p->private, p->direct_fd);
        } else if (c->opt->offline) {
                corral_error err = {0};
                int r = corral_error_set(&err, EX_UNAVAILABLE,
                                         "--offline: the tarball of %s is not in the cache",
                                         e->what);
                entry_fail(e, r, &err);
        } else {
                net_enqueue(c, e);
        }
        free(p);
}

/* The entry of a tarball, made and set going when it is new. */
static npm_entry *entry_get(ctx *c, const npm_integrity *want, const char *url, const char *name,
                            const char *version)
{
        if (!c->entry_buckets)
                c->entry_buckets = xcalloc(ENTRY_BUCKETS, sizeof(*c->entry_buckets));
        _cleanup_free_ char *key = npm_integrity_key(want);
        unsigned b = key_bucket(key);
        for (npm_entry *e = c->entry_buckets[b]; e; e = e->next_in_bucket)
                if (strcmp(e->key, key) == 0)
                        return e;
        npm_entry *e = xcalloc(1, sizeof(*e));
        e->key = steal_pointer(&key);
        e->url = xstrdup(url);
        e->what = xasprintf("%s@%s", name, version);
        e->want = *want;
        e->cache_file = xasprintf("%s/tarballs/%s.tgz", c->cache_dir, e->key);
        e->fd = -1;
        e->direct_fd = -1;
        e->state = E_PROBE;
        e->next_in_bucket = c->entry_buckets[b];
        c->entry_buckets[b] = e;
        c->entries = xrealloc(c->entries, (c->n_entries + 1) * sizeof(*c->entries));
        c->entries[c->n_entries++] = e;
        probe_job *p = xcalloc(1, sizeof(*p));
        *p = (probe_job){.j = {.run = probe_run, .complete = probe_complete, .urgent = true},
                         .e = e,
                         .cache_dir = c->cache_dir,
                         .lim = c->limits,
                         .direct_fd = -1};
        npm_pool_submit(&c->pool, &p->j);
        return e;
}

void npm_prefetch(ctx *c, const npm_version *v)
{
        if (c->opt->offline || !v->platform_ok || c->n_entries >= NPM_MAX_PACKAGES)
                return;
        const cJSON *dist = json_get_object(v->data, "dist");
        const char *url = json_get_string(dist, "tarball");
        if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
                return;
        npm_integrity want;
        corral_error ignored = {0};
        if (npm_integrity_parse(&want, json_get_string(dist, "integrity"),
                                json_get_string(dist, "shasum"), &ignored) < 0)
                return;
        (void)entry_get(c, &want, url, v->name, v->version);
}

/* ---- downloading (main thread) and extracting (worker) -------------------- */

typedef struct extract_job {
        npm_job j;
        npm_entry *e; /* read only on the worker */
        const char *cache_dir;
        npm_limits lim;
        int fd;
        char *tmp_path; /* the downloaded tarball */
        int r;
        corral_error err;
        char *private;
        bool direct;
        bool cached; /* the tarball was renamed into the cache */
} extract_job;

static void extract_run(npm_job *j)
{
        extract_job *x = (extract_job *)j;
        const npm_entry *e = x->e;
        if (lseek(x->fd, 0, SEEK_SET) < 0) {
                x->r = corral_error_errno(&x->err, EX_IOERR, errno,
                                          "%s: cannot read the tarball", e->what);
                return;
        }
        x->r = npm_unpacked_store(x->cache_dir, e->key, x->fd, &x->lim, &x->private, e->what,
                                  &x->err);
        if (x->r == 0) {
                x->direct = true;
                return;
        }
        /* Only verified bytes of a tarball that extracted enter the cache. */
        if (x->r > 0 && rename(x->tmp_path, e->cache_file) == 0) {
                free(x->tmp_path);
                x->tmp_path = NULL;
                x->cached = true;
        }
}

static void extract_complete(void *ud, npm_job *j)
{
        ctx *c = ud;
        extract_job *x = (extract_job *)j;
        npm_entry *e = x->e;
        /* What this install added to the cache, also while it is failing
         * (cache.h: taken back when it fails on a full disk). */
        if (x->cached)
                cache_txn_add(c->s->cache_txn, CACHE_TARBALL, e->cache_file);
        if (x->r > 0 && !x->private) {
                _cleanup_free_ char *entry = xasprintf("%s/unpacked/%s", c->cache_dir, e->key);
                cache_txn_add(c->s->cache_txn, CACHE_UNPACKED, entry);
        }
        if (c->closing) {
                if (x->private)
                        (void)rm_rf(x->private);
                free(x->private);
        } else if (x->r < 0) {
                entry_fail(e, x->r, &x->err);
        } else {
                entry_ready(c, e, x->private, x->direct ? x->fd : -1);
                if (x->direct)
                        x->fd = -1;
        }
        if (x->fd >= 0)
                close(x->fd);
        if (x->tmp_path)
                (void)unlink(x->tmp_path);
        free(x->tmp_path);
        free(x);
}

static int tarball_sink(void *item, const char *data, size_t n)
{
        npm_entry *e = item;
        int w = write_all(e->fd, data, n);
        if (w < 0) {
                e->write_errno = -w;
                return -1;
        }
        npm_hasher_update(e->hasher, data, n);
        return 0;
}

static int tarball_done(void *ud, npm_http_req *q, corral_error *unused)
{
        (void)unused;
        ctx *c = ud;
        npm_entry *e = q->item;
        c->net_active--;
        _cleanup_free_ char *what = xasprintf("tarball of %s", e->what);
        corral_error err = {0};
        int r;
        if (e->write_errno)
                r = corral_error_errno(&err, EX_CANTCREAT, e->write_errno, "%s: cannot write %s",
                                       what, e->tmp_path);
        else if (q->result != CURLE_OK || q->status != 200 || q->too_big)
                r = npm_http_error(q, what, &err);
        else
                r = npm_hasher_finish(e->hasher, &e->want, e->what, &err);
        if (r < 0) {
                download_discard(e);
                entry_fail(e, r, &err);
                return 0;
        }
        c->n_fetched++;
        e->hasher = npm_hasher_free(e->hasher);
        e->state = E_EXTRACT;
        extract_job *x = xcalloc(1, sizeof(*x));
        *x = (extract_job){.j = {.run = extract_run, .complete = extract_complete},
                           .e = e,
                           .cache_dir = c->cache_dir,
                           .lim = c->limits,
                           .fd = e->fd,
                           .tmp_path = steal_pointer(&e->tmp_path)};
        e->fd = -1;
        npm_pool_submit(&c->pool, &x->j);
        return 0;
}

/* Streamed to a temporary file next to its cache name while hashed, so no
 * tarball is ever held in memory whole. */
static int download_start(ctx *c, npm_entry *e, corral_error *err)
{
        _cleanup_free_ char *tdir = xasprintf("%s/tarballs", c->cache_dir);
        (void)mkdir_p(tdir, 0755);
        e->tmp_path = xasprintf("%s.tmp.XXXXXX", e->cache_file);
        e->fd = mkostemp(e->tmp_path, O_CLOEXEC);
        if (e->fd < 0) {
                int r = corral_error_errno(err, EX_CANTCREAT, errno, "cannot create a file in %s",
                                           tdir);
                free(e->tmp_path);
                e->tmp_path = NULL;
                return r;
        }
        e->hasher = npm_hasher_new(&e->want);
        if (!e->hasher) {
                download_discard(e);
                return corral_error_set(err, EX_SOFTWARE, "out of memory");
        }
        int r = npm_http_get(&c->http, e->url, NULL, NULL, NULL, NPM_MAX_TARBALL, tarball_sink,
                             tarball_done, e, err);
        if (r < 0) {
                download_discard(e);
                return r;
        }
        e->state = E_NET;
        c->net_active++;
        return 0;
}

static void pump_net(ctx *c)
{
        while (c->net_queue && c->net_active < MAX_TARBALL_TRANSFERS) {
                npm_entry *e = c->net_queue;
                c->net_queue = e->next_net;
                if (!c->net_queue)
                        c->net_queue_tail = NULL;
                corral_error err = {0};
                int r = download_start(c, e, &err);
                if (r < 0)
                        entry_fail(e, r, &err);
        }
}

int npm_wait(ctx *c, int timeout_ms, corral_error *err)
{
        size_t n = npm_pool_reap(&c->pool, c);
        if (c->hard_code < 0) {
                *err = c->hard_err;
                return c->hard_code;
        }
        pump_net(c);
        size_t before = c->pool.pending;
        int r = npm_http_step(&c->http, n ? 0 : timeout_ms, err);
        if (r < 0)
                return r;
        /* Nothing on the network, workers busy: sleep until one finishes. */
        if (n == 0 && c->http.active == 0 && before > 0 && timeout_ms > 0)
                (void)curl_multi_poll(c->http.multi, NULL, 0, timeout_ms, NULL);
        return 0;
}

/* ---- linking into pkg/ ------------------------------------------------------ */

typedef struct link_job {
        npm_job j;
        size_t index;
        char *src, *dest, *what;
        int r;
        corral_error err;
} link_job;

static void link_run(npm_job *j)
{
        link_job *l = (link_job *)j;
        l->r = npm_unpacked_link(l->src, l->dest, l->what, &l->err);
}

static void link_complete(void *ud, npm_job *j)
{
        ctx *c = ud;
        link_job *l = (link_job *)j;
        if (!c->closing && c->cur_ts) {
                tarball *t = &c->cur_ts[l->index];
                if (l->r < 0) {
                        t->stage = T_FAILED;
                        t->code = l->r;
                        t->err = l->err;
                } else {
                        t->stage = T_LINKED;
                        c->n_extracted++;
                        npm_progress(c, "installing", false);
                }
        }
        free(l->src);
        free(l->dest);
        free(l->what);
        free(l);
}

static int cmp_path(const void *a, const void *b)
{
        const tarball *const *x = a, *const *y = b;
        return strcmp((*x)->path, (*y)->path);
}

/* For each tarball, the one whose folder holds it (its path up to the last
 * "/node_modules/"), when the tree has it. */
static void find_parents(tarball *ts, size_t n)
{
        tarball **by = xcalloc(n ? n : 1, sizeof(*by));
        for (size_t i = 0; i < n; i++)
                by[i] = &ts[i];
        qsort(by, n, sizeof(*by), cmp_path);
        for (size_t i = 0; i < n; i++) {
                ts[i].parent = -1;
                const char *p = ts[i].path, *last = NULL;
                for (const char *q = strstr(p, "/node_modules/"); q;
                     q = strstr(q + 1, "/node_modules/"))
                        last = q;
                if (!last)
                        continue;
                _cleanup_free_ char *pp = xstrndup(p, (size_t)(last - p));
                tarball key = {.path = pp};
                tarball *kp = &key;
                tarball **hit = bsearch(&kp, by, n, sizeof(*by), cmp_path);
                if (hit)
                        ts[i].parent = *hit - ts;
        }
        free(by);
}

int npm_install_tarballs(ctx *c, tarball *ts, size_t n, corral_error *err)
{
        c->n_tarballs = n;
        find_parents(ts, n);
        for (size_t i = 0; i < n; i++) {
                ts[i].stage = ts[i].inert ? T_LINKED : T_WAITING;
                if (!ts[i].inert)
                        ts[i].entry = entry_get(c, &ts[i].want, ts[i].url, ts[i].name,
                                                ts[i].version);
        }
        c->cur_ts = ts;
        int r = 0;
        for (;;) {
                bool all = true;
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        tarball *t = &ts[i];
                        if (t->stage == T_LINKED)
                                continue;
                        all = false;
                        if (t->stage == T_FAILED) {
                                *err = t->err;
                                r = t->code;
                                break;
                        }
                        npm_entry *e = t->entry;
                        if (t->stage == T_LINKING)
                                continue;
                        if (e->state == E_FAILED) {
                                *err = e->err;
                                r = e->code;
                                break;
                        }
                        if (e->state != E_READY ||
                            (t->parent >= 0 && ts[t->parent].stage != T_LINKED))
                                continue;
                        _cleanup_free_ char *dest = path_join(c->pkg_dir, t->path);
                        if (e->direct_fd >= 0) {
                                /* No writable cache: straight from the verified tarball. */
                                c->direct_extracted = true;
                                if (lseek(e->direct_fd, 0, SEEK_SET) < 0)
                                        r = corral_error_errno(err, EX_IOERR, errno,
                                                               "%s: cannot read the tarball",
                                                               e->what);
                                else
                                        r = npm_extract_fd(e->direct_fd, dest, &c->limits, e->what,
                                                           err);
                                if (r >= 0) {
                                        t->stage = T_LINKED;
                                        c->n_extracted++;
                                }
                                continue;
                        }
                        link_job *l = xcalloc(1, sizeof(*l));
                        *l = (link_job){.j = {.run = link_run, .complete = link_complete},
                                        .index = i,
                                        .src = xstrdup(e->src),
                                        .dest = steal_pointer(&dest),
                                        .what = xstrdup(e->what)};
                        t->stage = T_LINKING;
                        npm_pool_submit(&c->pool, &l->j);
                }
                if (r < 0 || all)
                        break;
                r = npm_wait(c, 200, err);
                if (r < 0)
                        break;
        }
        /* The rest of the work is the tree's: prefetches nobody needed are
         * dropped (their downloads end with the HTTP client), and no thread
         * is left when install scripts fork. */
        c->cur_ts = NULL;
        c->closing = true;
        npm_pool_done(&c->pool, c);
        return r < 0 ? r : 0;
}
