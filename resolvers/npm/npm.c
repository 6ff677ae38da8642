/* `corral install npm:PKG`: packuments (abbreviated, cached with ETag
 * revalidation) are fetched in parallel until the dependency closure is known,
 * the hoisted tree is built (tree.c), packages are linked from the unpacked
 * cache (unpacked.c) or their tarballs come from the content-addressed cache
 * or the registry, are verified (integrity.c), extracted (extract.c) into the
 * unpacked cache and linked into pkg/node_modules, bins are linked, and the
 * manifest gets the command, the lock and the packages whose install scripts
 * were skipped. */
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <time.h>

#include <openssl/evp.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/semver.h"
#include "npm_internal.h"

#define ABBREVIATED "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
#define MAX_DEPS_PER_VERSION 2000
#define PACKAGE_JSON_MAX (1u << 20)
#define HASH_BUCKETS 4096
#define MAX_BINS 256

typedef enum { DOC_NEW, DOC_FETCHING, DOC_LOADED, DOC_FAILED } doc_state;

typedef struct pkgdoc {
        char *name;
        doc_state state;
        cJSON *doc;
        const cJSON *versions; /* doc.versions */
        npm_version **built;   /* lazily built, parallel to versions' members */
        size_t n_versions;
        char **ranges; /* ranges already expanded in the closure */
        char **pending; /* ranges waiting for the document */
        int code;       /* failure */
        corral_error err;
        char *cache_base; /* cache path without extension */
        struct pkgdoc *next_in_bucket;
} pkgdoc;

typedef struct tarball {
        char *path; /* under pkg/ */
        char *name;
        char *version;
        char *url;
        char *integrity; /* the SRI string as published (or "sha1-…" from shasum) */
        npm_integrity want;
        char *cache_file;
        /* while downloading */
        int fd; /* the temporary file; -1 when none */
        char *tmp_path;
        npm_hasher *hasher;
        int write_errno;
} tarball;

typedef struct ctx {
        store *s;
        const install_options *opt;
        npm_config cfg;
        npm_http http;
        char *cache_dir;
        pkgdoc *buckets[HASH_BUCKETS];
        pkgdoc **docs;
        size_t n_docs;
        char *pkg_dir;
        npm_limits limits;
        /* progress */
        size_t n_resolved, n_tarballs, n_extracted, n_fetched;
        unsigned long long bytes;
        struct timespec last_progress;
        bool progress_line;
        char host_os[16], host_cpu[80];
} ctx;

/* ---- progress ----------------------------------------------------------- */

static void progress(ctx *c, const char *phase, bool force)
{
        int mode = c->opt->progress;
        if (mode == INSTALL_PROGRESS_NONE)
                return;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - c->last_progress.tv_sec) * 1000 +
                  (now.tv_nsec - c->last_progress.tv_nsec) / 1000000;
        if (!force && ms < 100)
                return;
        c->last_progress = now;
        if (mode == INSTALL_PROGRESS_JSON) {
                fprintf(stderr,
                        "{\"event\":\"progress\",\"phase\":\"%s\",\"packages\":%zu,"
                        "\"tarballs\":%zu,\"extracted\":%zu,\"downloaded\":%zu,\"bytes\":%llu}\n",
                        phase, c->n_resolved, c->n_tarballs, c->n_extracted, c->n_fetched,
                        c->bytes);
        } else {
                fprintf(stderr, "\r\033[K%s: %zu packages, %zu/%zu extracted, %.1f MiB downloaded",
                        phase, c->n_resolved, c->n_extracted, c->n_tarballs,
                        (double)c->bytes / (1 << 20));
                c->progress_line = true;
        }
        fflush(stderr);
}

static void progress_end(ctx *c)
{
        if (c->progress_line) {
                fputs("\r\033[K", stderr);
                fflush(stderr);
                c->progress_line = false;
        }
}

static void on_bytes(void *ud, size_t n)
{
        ctx *c = ud;
        c->bytes += n;
        progress(c, "downloading", false);
}

/* ---- helpers ------------------------------------------------------------ */

static char *sha256_hex(const char *s)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
        char hex[65];
        for (unsigned i = 0; i < n && i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        hex[64] = '\0';
        return xstrdup(hex);
}

static unsigned hash_name(const char *s)
{
        unsigned h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        return h % HASH_BUCKETS;
}

static pkgdoc *doc_find(ctx *c, const char *name)
{
        for (pkgdoc *d = c->buckets[hash_name(name)]; d; d = d->next_in_bucket)
                if (strcmp(d->name, name) == 0)
                        return d;
        return NULL;
}

static void doc_free(pkgdoc *d)
{
        if (!d)
                return;
        for (size_t i = 0; d->built && i < d->n_versions; i++) {
                if (d->built[i]) {
                        free(d->built[i]->deps);
                        free(d->built[i]);
                }
        }
        free(d->built);
        cJSON_Delete(d->doc);
        strv_free(d->ranges);
        strv_free(d->pending);
        free(d->name);
        free(d->cache_base);
        free(d);
}

static bool str_in(char *const *v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

/* npm's checkList: "any", plain entries (one must match) and "!x" negations. */
static bool check_list(const cJSON *list, const char *value)
{
        if (!list)
                return true;
        if (cJSON_IsString(list))
                return strcmp(list->valuestring, "any") == 0 ||
                       (list->valuestring[0] == '!' ? strcmp(list->valuestring + 1, value) != 0
                                                    : strcmp(list->valuestring, value) == 0);
        if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
                return true;
        int n = 0, negated = 0;
        bool match = false;
        const cJSON *e;
        cJSON_ArrayForEach(e, list)
        {
                n++;
                if (!cJSON_IsString(e))
                        continue;
                const char *t = e->valuestring;
                if (n == 1 && !e->next && strcmp(t, "any") == 0)
                        return true;
                if (t[0] == '!') {
                        negated++;
                        if (strcmp(t + 1, value) == 0)
                                return false;
                } else if (strcmp(t, value) == 0) {
                        match = true;
                }
        }
        return match || negated == n;
}

static void host_platform(ctx *c)
{
        snprintf(c->host_os, sizeof(c->host_os), "linux");
        struct utsname u;
        const char *cpu = "x64";
        if (uname(&u) == 0) {
                static const char *const map[][2] = {
                        {"x86_64", "x64"},  {"aarch64", "arm64"}, {"i686", "ia32"},
                        {"i386", "ia32"},   {"armv7l", "arm"},    {"ppc64le", "ppc64"},
                        {"s390x", "s390x"}, {"riscv64", "riscv64"},
                };
                cpu = u.machine;
                for (size_t i = 0; i < ARRAY_SIZE(map); i++)
                        if (strcmp(u.machine, map[i][0]) == 0)
                                cpu = map[i][1];
        }
        snprintf(c->host_cpu, sizeof(c->host_cpu), "%s", cpu);
}

static npm_version *build_version(ctx *c, const cJSON *vj, const char *name, const char *version)
{
        npm_version *v = xcalloc(1, sizeof(*v));
        v->name = name;
        v->version = version;
        v->data = (void *)vj;
        const cJSON *libc = cJSON_GetObjectItemCaseSensitive(vj, "libc");
        v->platform_ok = check_list(cJSON_GetObjectItemCaseSensitive(vj, "os"), c->host_os) &&
                         check_list(cJSON_GetObjectItemCaseSensitive(vj, "cpu"), c->host_cpu) &&
#ifdef __GLIBC__
                         check_list(libc, "glibc");
#else
                         check_list(libc, "musl");
#endif
        static const struct {
                const char *key;
                npm_dep_kind kind;
        } kinds[] = {
                {"peerDependencies", NPM_DEP_PEER},
                {"dependencies", NPM_DEP_PROD},
                {"optionalDependencies", NPM_DEP_OPTIONAL},
        };
        const cJSON *meta = json_get_object(vj, "peerDependenciesMeta");
        for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
                const cJSON *deps = json_get_object(vj, kinds[k].key);
                const cJSON *d;
                cJSON_ArrayForEach(d, deps)
                {
                        if (!cJSON_IsString(d) || !d->string || v->n_deps >= MAX_DEPS_PER_VERSION)
                                continue;
                        if (kinds[k].kind == NPM_DEP_PEER &&
                            json_get_bool(json_get_object(meta, d->string), "optional", false))
                                continue;
                        v->deps = xrealloc(v->deps, (v->n_deps + 1) * sizeof(*v->deps));
                        v->deps[v->n_deps++] = (npm_dep){
                                .name = d->string, .range = d->valuestring, .kind = kinds[k].kind};
                }
        }
        return v;
}

static bool is_deprecated(const cJSON *vj)
{
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(vj, "deprecated");
        return cJSON_IsString(d) && d->valuestring[0];
}

static int pick_in(ctx *c, pkgdoc *d, const char *range, const npm_version **ret,
                   corral_error *err)
{
        if (d->state == DOC_FAILED) {
                *err = d->err;
                return d->code == EX_NOINPUT ? 0 : -d->code;
        }
        if (d->state != DOC_LOADED)
                return corral_error_set(err, EX_SOFTWARE, "%s: metadata not fetched", d->name);
        if (!range || !*range)
                range = "*";
        const cJSON *tags = json_get_object(d->doc, "dist-tags");
        const char *want = json_get_string(tags, range);
        const char *latest = json_get_string(tags, "latest");
        semver_range *sr = NULL;
        corral_error rerr = {0};
        if (!want && semver_range_parse(&sr, range, &rerr) < 0) {
                if (strchr(range, ':') || strchr(range, '/'))
                        return corral_error_set(err, EX_DATAERR,
                                                "%s@%s: only registry dependencies are supported",
                                                d->name, range);
                corral_error_set(err, EX_NOINPUT, "%s has no version or tag '%s'", d->name, range);
                return 0;
        }
        if (!want) {
                /* npm-pick-manifest: the latest tag when it fits, else the
                 * highest match, non-deprecated versions first. */
                semver lv;
                if (latest && semver_parse(&lv, latest, true) >= 0) {
                        const cJSON *lj = cJSON_GetObjectItemCaseSensitive(d->versions, latest);
                        if (lj && !is_deprecated(lj) && semver_range_test(sr, &lv, false))
                                want = latest;
                        semver_done(&lv);
                }
                if (!want) {
                        _cleanup_free_ const char **good = xcalloc(d->n_versions + 1, sizeof(char *));
                        _cleanup_free_ const char **all = xcalloc(d->n_versions + 1, sizeof(char *));
                        size_t ng = 0, na = 0;
                        const cJSON *vj;
                        cJSON_ArrayForEach(vj, d->versions)
                        {
                                all[na++] = vj->string;
                                if (!is_deprecated(vj))
                                        good[ng++] = vj->string;
                        }
                        want = semver_max_satisfying(good, ng, sr);
                        if (!want)
                                want = semver_max_satisfying(all, na, sr);
                }
                semver_range_free(sr);
                if (!want) {
                        corral_error_set(err, EX_NOINPUT, "no version of %s matches '%s'", d->name,
                                         range);
                        return 0;
                }
        }
        size_t i = 0;
        const cJSON *vj;
        cJSON_ArrayForEach(vj, d->versions)
        {
                if (strcmp(vj->string, want) == 0)
                        break;
                i++;
        }
        if (!vj || !cJSON_IsObject(vj)) {
                corral_error_set(err, EX_NOINPUT, "%s: tag '%s' names the missing version %s",
                                 d->name, range, want);
                return 0;
        }
        if (!d->built[i])
                d->built[i] = build_version(c, vj, d->name, vj->string);
        *ret = d->built[i];
        return 1;
}

static int pick(void *ud, const char *name, const char *range, const npm_version **ret,
                corral_error *err)
{
        ctx *c = ud;
        pkgdoc *d = doc_find(c, name);
        if (!d)
                return corral_error_set(err, EX_SOFTWARE, "%s: metadata not fetched", name);
        return pick_in(c, d, range, ret, err);
}

/* ---- packuments ----------------------------------------------------------- */

/* What the resolver reads from a version object; the rest (devDependencies,
 * engines, bin, signatures, attestations…) is dropped as soon as a document
 * is parsed, so neither memory nor the cache holds it. */
static const char *const version_keys[] = {
        "dependencies", "optionalDependencies", "peerDependencies", "peerDependenciesMeta",
        "os",           "cpu",                  "libc",             "deprecated",
        "dist",
};
static const char *const dist_keys[] = {"tarball", "integrity", "shasum"};
static const char *const doc_keys[] = {"name", "dist-tags", "versions"};

static bool key_in(const char *k, const char *const *keys, size_t n)
{
        for (size_t i = 0; k && i < n; i++)
                if (strcmp(k, keys[i]) == 0)
                        return true;
        return false;
}

static void keep_only(cJSON *obj, const char *const *keys, size_t n)
{
        cJSON *e = obj ? obj->child : NULL;
        while (e) {
                cJSON *next = e->next;
                if (!key_in(e->string, keys, n))
                        cJSON_Delete(cJSON_DetachItemViaPointer(obj, e));
                e = next;
        }
}

/* Parses a packument and trims it to what resolution needs; NULL when it is
 * not a packument. */
static cJSON *packument_parse(const char *json, size_t len)
{
        cJSON *j = cJSON_ParseWithLength(json, len);
        cJSON *versions = cJSON_GetObjectItemCaseSensitive(j, "versions");
        if (!cJSON_IsObject(j) || !cJSON_IsObject(versions)) {
                cJSON_Delete(j);
                return NULL;
        }
        keep_only(j, doc_keys, ARRAY_SIZE(doc_keys));
        cJSON *v;
        cJSON_ArrayForEach(v, versions)
        {
                keep_only(v, version_keys, ARRAY_SIZE(version_keys));
                keep_only(cJSON_GetObjectItemCaseSensitive(v, "dist"), dist_keys,
                          ARRAY_SIZE(dist_keys));
        }
        return j;
}

/* Takes ownership of the trimmed document j. */
static void doc_set(ctx *c, pkgdoc *d, cJSON *j)
{
        d->doc = j;
        d->versions = json_get_object(j, "versions");
        d->n_versions = (size_t)cJSON_GetArraySize(d->versions);
        d->built = xcalloc(d->n_versions + 1, sizeof(*d->built));
        d->state = DOC_LOADED;
        c->n_resolved++;
        progress(c, "resolving", false);
}

/* Loads the cached copy; false when there is none or it does not parse. */
static bool doc_from_cache(ctx *c, pkgdoc *d)
{
        _cleanup_free_ char *json_path = xasprintf("%s.json", d->cache_base);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (read_file(json_path, NPM_MAX_PACKUMENT, &data, &len) < 0)
                return false;
        cJSON *j = packument_parse(data, len);
        if (!j)
                return false;
        doc_set(c, d, j);
        return true;
}

static int packument_done(void *ud, npm_http_req *q, corral_error *err)
{
        ctx *c = ud;
        pkgdoc *d = q->item;
        _cleanup_free_ char *json_path = xasprintf("%s.json", d->cache_base);
        _cleanup_free_ char *meta_path = xasprintf("%s.meta", d->cache_base);
        if (q->result == CURLE_OK && q->status == 304) {
                if (doc_from_cache(c, d)) {
                        /* Revalidated: fresh again for the whole window. */
                        (void)utimensat(AT_FDCWD, json_path, NULL, 0);
                        return 0;
                }
                /* The cached copy went bad since the request: fetch it whole. */
                (void)unlink(meta_path);
                return npm_http_get(&c->http, q->url, ABBREVIATED, NULL, NULL, NPM_MAX_PACKUMENT,
                                    NULL, packument_done, d, err);
        }
        if (q->result == CURLE_OK && q->status == 200 && !q->too_big) {
                cJSON *j = packument_parse(q->body.buf ? q->body.buf : "", q->body.len);
                strbuf_done(&q->body); /* the raw text is not needed any more */
                if (!j) {
                        d->state = DOC_FAILED;
                        d->code = -corral_error_set(&d->err, EX_DATAERR,
                                                    "%s: the registry sent invalid metadata",
                                                    d->name);
                        return 0;
                }
                /* Kept (trimmed) even without validators (registry.npmjs.org
                 * sends none for abbreviated documents): the freshness window
                 * and --offline read it. */
                (void)mkdir_p(c->cache_dir, 0755);
                _cleanup_free_ char *text = cJSON_PrintUnformatted(j);
                if (text && write_file_atomic(json_path, text, strlen(text), 0644) >= 0) {
                        _cleanup_json_ cJSON *meta = cJSON_CreateObject();
                        if (q->etag[0])
                                cJSON_AddStringToObject(meta, "etag", q->etag);
                        if (q->last_modified[0])
                                cJSON_AddStringToObject(meta, "last_modified", q->last_modified);
                        _cleanup_free_ char *mt = cJSON_PrintUnformatted(meta);
                        if (meta->child && mt)
                                (void)write_file_atomic(meta_path, mt, strlen(mt), 0644);
                        else
                                (void)unlink(meta_path);
                }
                doc_set(c, d, j);
                return 0;
        }
        d->state = DOC_FAILED;
        _cleanup_free_ char *what = xasprintf("package %s", d->name);
        if (q->result == CURLE_OK && q->status == 404)
                d->code = -corral_error_set(&d->err, EX_NOINPUT,
                                            "unknown package '%s': the registry has no such "
                                            "package (HTTP 404)",
                                            d->name);
        else
                d->code = -npm_http_error(q, what, &d->err);
        return 0;
}

/* v when it can go into a request header as is (no control characters). */
static const char *header_safe(const char *v)
{
        if (!v || !*v || strlen(v) > 255)
                return NULL;
        for (const char *p = v; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return NULL;
        return v;
}

/* Is the cached document at json_path younger than the freshness window? */
static bool cache_fresh(const ctx *c, const char *json_path)
{
        struct stat st;
        if (c->cfg.metadata_max_age <= 0 || stat(json_path, &st) < 0)
                return false;
        time_t now = time(NULL);
        /* A modification time in the future (clock changes) is not trusted. */
        return st.st_mtime <= now + 60 && now - st.st_mtime < c->cfg.metadata_max_age;
}

static int doc_request(ctx *c, const char *name, pkgdoc **ret, corral_error *err)
{
        pkgdoc *d = doc_find(c, name);
        if (d) {
                *ret = d;
                return 0;
        }
        if (c->n_docs >= NPM_MAX_PACKAGES)
                return corral_error_set(err, EX_DATAERR,
                                        "refusing the install: more than %d distinct packages",
                                        NPM_MAX_PACKAGES);
        d = xcalloc(1, sizeof(*d));
        d->name = xstrdup(name);
        unsigned b = hash_name(name);
        d->next_in_bucket = c->buckets[b];
        c->buckets[b] = d;
        c->docs = xrealloc(c->docs, (c->n_docs + 1) * sizeof(*c->docs));
        c->docs[c->n_docs++] = d;
        *ret = d;

        if (!spec_npm_name_valid(name)) {
                d->state = DOC_FAILED;
                d->code = -corral_error_set(&d->err, EX_DATAERR, "invalid package name '%.100s'",
                                            name);
                return 0;
        }
        const char *reg = npm_config_registry_for(&c->cfg, name);
        /* Scoped names are requested as @scope%2fname, as npm does. */
        _cleanup_free_ char *url = NULL;
        const char *slash = strchr(name, '/');
        if (slash)
                url = xasprintf("%s%.*s%%2f%s", reg, (int)(slash - name), name, slash + 1);
        else
                url = xasprintf("%s%s", reg, name);
        _cleanup_free_ char *key = sha256_hex(url);
        d->cache_base = xasprintf("%s/packuments/%s", c->cache_dir, key);
        _cleanup_free_ char *json_path = xasprintf("%s.json", d->cache_base);
        _cleanup_free_ char *meta_path = xasprintf("%s.meta", d->cache_base);

        if (c->opt->offline) {
                /* --offline never touches the network, however old the copy. */
                if (!doc_from_cache(c, d)) {
                        d->state = DOC_FAILED;
                        d->code = -corral_error_set(&d->err, EX_UNAVAILABLE,
                                                    "--offline: the metadata of %s is not in the "
                                                    "cache",
                                                    name);
                }
                return 0;
        }
        if (cache_fresh(c, json_path) && doc_from_cache(c, d))
                return 0;
        _cleanup_free_ char *pdir = xasprintf("%s/packuments", c->cache_dir);
        (void)mkdir_p(pdir, 0755);
        /* Stale or missing: revalidate with the validators the registry gave. */
        const char *etag = NULL, *lm = NULL;
        _cleanup_free_ char *mdata = NULL;
        _cleanup_json_ cJSON *meta = NULL;
        size_t mlen = 0;
        if (path_exists(json_path) && read_file(meta_path, 4096, &mdata, &mlen) >= 0 &&
            (meta = cJSON_ParseWithLength(mdata, mlen))) {
                etag = header_safe(json_get_string(meta, "etag"));
                lm = header_safe(json_get_string(meta, "last_modified"));
        }
        d->state = DOC_FETCHING;
        return npm_http_get(&c->http, url, ABBREVIATED, etag, lm, NPM_MAX_PACKUMENT, NULL,
                            packument_done, d, err);
}

/* Records that (name, range) is needed; the document is fetched once. */
static int need(ctx *c, const char *name, const char *range, corral_error *err)
{
        if (strncmp(range, "npm:", 4) == 0) {
                const char *p = range + 4;
                const char *at = strchr(p[0] == '@' ? p + 1 : p, '@');
                _cleanup_free_ char *real = at ? xstrndup(p, (size_t)(at - p)) : xstrdup(p);
                return need(c, real, at ? at + 1 : "*", err);
        }
        pkgdoc *d = NULL;
        int r = doc_request(c, name, &d, err);
        if (r < 0)
                return r;
        if (str_in(d->ranges, range) || str_in(d->pending, range))
                return 0;
        d->pending = strv_push(d->pending, range);
        return 0;
}

/* Expands pending ranges of loaded documents until nothing changes. */
static int expand(ctx *c, bool *progressed, corral_error *err)
{
        *progressed = false;
        for (size_t i = 0; i < c->n_docs; i++) {
                pkgdoc *d = c->docs[i];
                if (!d->pending || d->state == DOC_FETCHING || d->state == DOC_NEW)
                        continue;
                char **pending = steal_pointer(&d->pending);
                for (size_t k = 0; pending[k]; k++) {
                        d->ranges = strv_push(d->ranges, pending[k]);
                        *progressed = true;
                        const npm_version *v = NULL;
                        corral_error ignored = {0};
                        /* Failures surface when the tree is built, where it is
                         * known whether the dependency was optional. */
                        if (pick_in(c, d, pending[k], &v, &ignored) <= 0)
                                continue;
                        for (size_t j = 0; j < v->n_deps; j++) {
                                int r = need(c, v->deps[j].name, v->deps[j].range, err);
                                if (r < 0) {
                                        strv_free(pending);
                                        return r;
                                }
                        }
                }
                strv_free(pending);
        }
        return 0;
}

static int resolve_closure(ctx *c, const char *name, const char *range, corral_error *err)
{
        int r = need(c, name, range, err);
        for (;;) {
                if (r < 0)
                        return r;
                bool progressed = false;
                r = expand(c, &progressed, err);
                if (r < 0)
                        return r;
                if (!progressed && c->http.active == 0)
                        return 0;
                if (c->http.active > 0)
                        r = npm_http_step(&c->http, 200, err);
        }
}

/* ---- tarballs ------------------------------------------------------------- */

/* Tarballs downloading at once: each holds a temporary file open. */
#define MAX_TARBALL_TRANSFERS 48

static void tarball_discard(tarball *t)
{
        if (t->fd >= 0)
                close(t->fd);
        t->fd = -1;
        if (t->tmp_path)
                (void)unlink(t->tmp_path);
        free(t->tmp_path);
        t->tmp_path = NULL;
        t->hasher = npm_hasher_free(t->hasher);
}

/* Extracts the verified tarball open at fd into pkg/PATH. */
static int install_tarball(ctx *c, tarball *t, int fd, corral_error *err)
{
        _cleanup_free_ char *what = xasprintf("%s@%s", t->name, t->version);
        if (lseek(fd, 0, SEEK_SET) < 0)
                return corral_error_errno(err, EX_IOERR, errno, "%s: cannot read the tarball",
                                          what);
        _cleanup_free_ char *dest = path_join(c->pkg_dir, t->path);
        _cleanup_free_ char *key = npm_integrity_key(&t->want);
        int r = npm_unpacked_extract(c->cache_dir, key, fd, dest, &c->limits, what, err);
        if (r < 0)
                return r;
        c->n_extracted++;
        progress(c, "installing", false);
        return 0;
}

/* The cached tarball, when there is one whose bytes still match. */
static int tarball_from_cache(ctx *c, tarball *t, corral_error *err)
{
        _cleanup_close_ int fd = open(t->cache_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return 0;
        npm_hasher *h = npm_hasher_new(&t->want);
        if (!h)
                return corral_error_set(err, EX_SOFTWARE, "out of memory");
        char buf[65536];
        size_t total = 0;
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0 && total <= NPM_MAX_TARBALL) {
                npm_hasher_update(h, buf, (size_t)n);
                total += (size_t)n;
        }
        _cleanup_free_ char *what = xasprintf("%s@%s", t->name, t->version);
        corral_error e2 = {0};
        int ok = n == 0 && total <= NPM_MAX_TARBALL && npm_hasher_finish(h, &t->want, what, &e2) >= 0;
        npm_hasher_free(h);
        if (!ok) {
                (void)unlink(t->cache_file);
                return 0;
        }
        int r = install_tarball(c, t, fd, err);
        return r < 0 ? r : 1;
}

static int tarball_sink(void *item, const char *data, size_t n)
{
        tarball *t = item;
        int w = write_all(t->fd, data, n);
        if (w < 0) {
                t->write_errno = -w;
                return -1;
        }
        npm_hasher_update(t->hasher, data, n);
        return 0;
}

static int tarball_done(void *ud, npm_http_req *q, corral_error *err)
{
        ctx *c = ud;
        tarball *t = q->item;
        _cleanup_free_ char *what = xasprintf("tarball of %s@%s", t->name, t->version);
        int r;
        if (t->write_errno)
                r = corral_error_errno(err, EX_CANTCREAT, t->write_errno, "%s: cannot write %s",
                                       what, t->tmp_path);
        else if (q->result != CURLE_OK || q->status != 200 || q->too_big)
                r = npm_http_error(q, what, err);
        else
                r = npm_hasher_finish(t->hasher, &t->want, what + strlen("tarball of "), err);
        if (r >= 0) {
                c->n_fetched++;
                r = install_tarball(c, t, t->fd, err);
        }
        /* Only verified bytes of a tarball that extracted enter the cache. */
        if (r >= 0 && rename(t->tmp_path, t->cache_file) == 0) {
                free(t->tmp_path);
                t->tmp_path = NULL;
        }
        tarball_discard(t);
        return r;
}

static int tarball_start(ctx *c, tarball *t, corral_error *err)
{
        _cleanup_free_ char *key = npm_integrity_key(&t->want);
        t->cache_file = xasprintf("%s/tarballs/%s.tgz", c->cache_dir, key);
        /* Already unpacked: linked from the cache, the tarball left unread. */
        _cleanup_free_ char *what = xasprintf("%s@%s", t->name, t->version);
        _cleanup_free_ char *dest = path_join(c->pkg_dir, t->path);
        int r = npm_unpacked_install(c->cache_dir, key, dest, &c->limits, what, err);
        if (r > 0) {
                c->n_extracted++;
                progress(c, "installing", false);
        }
        if (r == 0)
                r = tarball_from_cache(c, t, err);
        if (r != 0)
                return r;
        if (c->opt->offline)
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "--offline: the tarball of %s@%s is not in the cache",
                                        t->name, t->version);
        /* Streamed to a temporary file next to its cache name while hashed,
         * so no tarball is ever held in memory whole. */
        _cleanup_free_ char *tdir = xasprintf("%s/tarballs", c->cache_dir);
        (void)mkdir_p(tdir, 0755);
        t->tmp_path = xasprintf("%s.tmp.XXXXXX", t->cache_file);
        t->fd = mkostemp(t->tmp_path, O_CLOEXEC);
        if (t->fd < 0) {
                r = corral_error_errno(err, EX_CANTCREAT, errno, "cannot create a file in %s",
                                       tdir);
                free(t->tmp_path);
                t->tmp_path = NULL;
                return r;
        }
        t->hasher = npm_hasher_new(&t->want);
        if (!t->hasher) {
                tarball_discard(t);
                return corral_error_set(err, EX_SOFTWARE, "out of memory");
        }
        return npm_http_get(&c->http, t->url, NULL, NULL, NULL, NPM_MAX_TARBALL, tarball_sink,
                            tarball_done, t, err);
}

static int fetch_tarballs(ctx *c, tarball *ts, size_t n, corral_error *err)
{
        c->n_tarballs = n;
        int r = 0;
        size_t next = 0;
        while (r >= 0 && (next < n || c->http.active > 0)) {
                while (r >= 0 && next < n && c->http.active < MAX_TARBALL_TRANSFERS)
                        r = tarball_start(c, &ts[next++], err);
                if (r >= 0 && c->http.active > 0)
                        r = npm_http_step(&c->http, 200, err);
        }
        return r;
}

/* ---- after extraction: bins, scripts, engines ----------------------------- */

static int read_pkg_json(const char *dir, cJSON **ret)
{
        _cleanup_free_ char *p = path_join(dir, "package.json");
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        *ret = NULL;
        int r = read_file(p, PACKAGE_JSON_MAX, &data, &len);
        if (r < 0)
                return r;
        *ret = cJSON_ParseWithLength(data, len);
        if (!cJSON_IsObject(*ret)) {
                cJSON_Delete(*ret);
                *ret = NULL;
                return -EINVAL;
        }
        return 0;
}

static void link_bin(ctx *c, const char *path, const char *folder, const char *bin_name,
                     const char *target)
{
        _cleanup_free_ char *rel = resolver_bin_path(target);
        if (!rel || !bin_name[0] || strchr(bin_name, '/') || bin_name[0] == '.')
                return;
        _cleanup_free_ char *pkgdir = path_join(c->pkg_dir, path);
        _cleanup_close_ int dfd = open(pkgdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return;
        /* The target must be a file of the package, reached without symlinks
         * to the outside; it becomes executable as npm makes it. */
        _cleanup_close_ int fd = openat(dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return;
        /* Bins come executable from the unpacked cache; a linked inode is
         * shared with the cache and other installs, so it is never chmodded. */
        if ((st.st_mode & 0111) != 0111 && st.st_nlink == 1)
                (void)fchmod(fd, 0755);
        size_t pl = strlen(path), fl = strlen(folder);
        _cleanup_free_ char *nm = xstrndup(path, pl - fl - 1); /* ".../node_modules" */
        _cleanup_free_ char *bindir = xasprintf("%s/%s/.bin", c->pkg_dir, nm);
        (void)mkdir_p(bindir, 0755);
        _cleanup_free_ char *link = path_join(bindir, bin_name);
        _cleanup_free_ char *to = xasprintf("../%s/%s", folder, rel);
        (void)symlink(to, link);
}

/* `node --version`, run directly (no shell) with its stdout on a pipe and
 * its stderr on /dev/null; NULL when there is no node. */
static char *host_node_version(void)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return NULL;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        char *argv[] = {"node", "--version", NULL};
        pid_t pid = -1;
        int sr = posix_spawnp(&pid, "node", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(p[1]);
        char buf[64] = "";
        size_t len = 0;
        if (sr == 0) {
                ssize_t n;
                while (len < sizeof(buf) - 1 &&
                       ((n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0 ||
                        (n < 0 && errno == EINTR)))
                        if (n > 0)
                                len += (size_t)n;
                buf[len] = '\0';
        }
        close(p[0]);
        if (sr != 0)
                return NULL;
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return NULL;
        buf[strcspn(buf, "\r\n")] = '\0';
        return buf[0] ? xstrdup(buf[0] == 'v' ? buf + 1 : buf) : NULL;
}

typedef struct post {
        ctx *c;
        char **skipped;
        char *node_version;
} post;

static int post_install(ctx *c, const char *path, post *p)
{
        const char *folder = strrchr(path, '/');
        folder = folder ? folder + 1 : path;
        /* Scoped: the folder is the last two components. */
        const char *nm = strstr(path, "node_modules/");
        const char *last_nm = NULL;
        for (const char *q = nm; q; q = strstr(q + 1, "node_modules/"))
                last_nm = q;
        if (last_nm)
                folder = last_nm + strlen("node_modules/");
        _cleanup_free_ char *dir = path_join(c->pkg_dir, path);
        _cleanup_json_ cJSON *pj = NULL;
        if (read_pkg_json(dir, &pj) < 0)
                return 0;
        const char *name = json_get_string(pj, "name");
        const char *version = json_get_string(pj, "version");
        const cJSON *bin = cJSON_GetObjectItemCaseSensitive(pj, "bin");
        if (cJSON_IsString(bin)) {
                const char *base = name && strchr(name, '/') ? strchr(name, '/') + 1 : name;
                if (base)
                        link_bin(c, path, folder, base, bin->valuestring);
        } else if (cJSON_IsObject(bin)) {
                int n = 0;
                const cJSON *e;
                cJSON_ArrayForEach(e, bin)
                {
                        if (++n > MAX_BINS)
                                break;
                        if (cJSON_IsString(e) && e->string)
                                link_bin(c, path, folder, e->string, e->valuestring);
                }
        }
        const cJSON *scripts = json_get_object(pj, "scripts");
        _cleanup_free_ char *gyp = path_join(dir, "binding.gyp");
        if (json_get_string(scripts, "preinstall") || json_get_string(scripts, "install") ||
            json_get_string(scripts, "postinstall") || path_exists(gyp)) {
                _cleanup_free_ char *label =
                        xasprintf("%s@%s", name ? name : folder, version ? version : "?");
                p->skipped = strv_push(p->skipped, label);
        }
        const char *eng = json_get_string(json_get_object(pj, "engines"), "node");
        if (eng && p->node_version && !semver_satisfies(p->node_version, eng, true))
                fprintf(stderr,
                        "corral: install: warning: %s@%s wants node %s, this host has %s\n",
                        name ? name : folder, version ? version : "?", eng, p->node_version);
        return 0;
}

/* ---- the command ----------------------------------------------------------- */

static int make_command(ctx *c, const char *top, char *const *extra, manifest *m,
                        corral_error *err)
{
        _cleanup_free_ char *rel_top = xasprintf("node_modules/%s", top);
        _cleanup_free_ char *dir = path_join(c->pkg_dir, rel_top);
        _cleanup_json_ cJSON *pj = NULL;
        if (read_pkg_json(dir, &pj) < 0)
                return corral_error_set(err, EX_DATAERR, "%s: no valid package.json", top);
        _cleanup_free_ char *chosen = NULL;
        resolver_bin br = resolver_pick_bin(pj, top, &chosen);
        if (br == RESOLVER_BIN_AMBIGUOUS)
                return corral_error_set(err, EX_USAGE,
                                        "%s has several bins (%s) and none named after the "
                                        "package",
                                        top, chosen);
        if (br == RESOLVER_BIN_NONE)
                return corral_error_set(err, EX_USAGE,
                                        "%s has no \"bin\": it is a library, not a server", top);
        _cleanup_free_ char *norm = resolver_bin_path(chosen);
        if (!norm)
                return corral_error_set(err, EX_DATAERR, "%s: bin '%s' points outside the package",
                                        top, chosen);
        char *argv[] = {"node", NULL, NULL};
        _cleanup_free_ char *script = xasprintf("%s/%s", rel_top, norm);
        argv[1] = script;
        char **cmd = strv_copy(argv);
        for (size_t i = 0; extra && extra[i]; i++)
                cmd = strv_push(cmd, extra[i]);
        strv_free(m->command);
        m->command = cmd;
        return 0;
}

/* ---- lock ----------------------------------------------------------------- */

static bool lock_path_valid(const char *path)
{
        /* node_modules/NAME(/node_modules/NAME)* with valid npm names only. */
        const char *p = path;
        while (*p) {
                if (strncmp(p, "node_modules/", 13) != 0)
                        return false;
                p += 13;
                const char *end = strstr(p, "/node_modules/");
                size_t n = end ? (size_t)(end - p) : strlen(p);
                _cleanup_free_ char *name = xstrndup(p, n);
                if (!spec_npm_name_valid(name))
                        return false;
                p += n;
                if (*p == '/')
                        p++;
        }
        return p != path;
}

typedef struct collect_ctx {
        tarball *ts;
        size_t n;
        int r;
        corral_error *err;
} collect_ctx;

static int collect_node(const npm_node *n, void *ud)
{
        collect_ctx *cc = ud;
        const cJSON *vj = n->v->data;
        const cJSON *dist = json_get_object(vj, "dist");
        const char *url = json_get_string(dist, "tarball");
        const char *sri = json_get_string(dist, "integrity");
        const char *shasum = json_get_string(dist, "shasum");
        if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
                return corral_error_set(cc->err, EX_DATAERR, "%s@%s: no tarball URL", n->v->name,
                                        n->v->version);
        tarball t = {.fd = -1};
        int r = npm_integrity_parse(&t.want, sri, shasum, cc->err);
        if (r < 0) {
                corral_error_prefix(cc->err, "%s@%s", n->v->name, n->v->version);
                return r;
        }
        t.path = xstrdup(n->path);
        t.name = xstrdup(n->v->name);
        t.version = xstrdup(n->v->version);
        t.url = xstrdup(url);
        t.integrity = sri && *sri ? xstrdup(sri) : xasprintf("sha1-%s", shasum);
        if (!sri || !*sri) {
                /* Record the shasum as SRI so the lock always carries a hash. */
                unsigned char b64[64];
                EVP_EncodeBlock(b64, t.want.digest, (int)t.want.len);
                free(t.integrity);
                t.integrity = xasprintf("sha1-%s", b64);
        }
        cc->ts = xrealloc(cc->ts, (cc->n + 1) * sizeof(*cc->ts));
        cc->ts[cc->n++] = t;
        return 0;
}

static void tarballs_free(tarball *ts, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                tarball_discard(&ts[i]);
                free(ts[i].path);
                free(ts[i].name);
                free(ts[i].version);
                free(ts[i].url);
                free(ts[i].integrity);
                free(ts[i].cache_file);
        }
        free(ts);
}

static int from_lock(store *s, const manifest *m, tarball **ret, size_t *ret_n, corral_error *err)
{
        manifest *old = NULL;
        int r = store_load(s, m->name, &old, err);
        if (r == -EX_NOINPUT) {
                corral_error_clear(err);
                return corral_error_set(err, EX_USAGE,
                                        "--frozen: '%s' is not installed, so there is no lock to "
                                        "reinstall",
                                        m->name);
        }
        if (r < 0)
                return r;
        tarball *ts = NULL;
        size_t n = 0;
        if (strcmp(old->kind, "npm") != 0 || old->n_lock == 0)
                r = corral_error_set(err, EX_USAGE, "--frozen: '%s' has no npm lock", m->name);
        for (size_t i = 0; r >= 0 && i < old->n_lock; i++) {
                const manifest_lock_entry *l = &old->lock[i];
                if (!l->path || !lock_path_valid(l->path) || !l->resolved || !l->integrity ||
                    (strncmp(l->resolved, "https://", 8) != 0 &&
                     strncmp(l->resolved, "http://", 7) != 0)) {
                        r = corral_error_set(err, EX_DATAERR,
                                             "--frozen: lock entry %zu of '%s' (%s) lacks a valid "
                                             "path, URL or integrity",
                                             i, m->name, l->name);
                        break;
                }
                tarball t = {.fd = -1};
                r = npm_integrity_parse(&t.want, l->integrity, NULL, err);
                if (r < 0)
                        break;
                t.path = xstrdup(l->path);
                t.name = xstrdup(l->name);
                t.version = xstrdup(l->version);
                t.url = xstrdup(l->resolved);
                t.integrity = xstrdup(l->integrity);
                ts = xrealloc(ts, (n + 1) * sizeof(*ts));
                ts[n++] = t;
        }
        manifest_free(old);
        if (r < 0) {
                tarballs_free(ts, n);
                return r;
        }
        *ret = ts;
        *ret_n = n;
        return 0;
}

/* ---- limits ---------------------------------------------------------------- */

static uint64_t env_limit(const char *var, uint64_t def)
{
        const char *v = getenv(var);
        if (!v || !*v)
                return def;
        char *end = NULL;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || !end || *end || x == 0)
                return def;
        return x;
}

/* ---- entry point ------------------------------------------------------------ */

static void docs_free(ctx *c)
{
        for (size_t i = 0; i < c->n_docs; i++)
                doc_free(c->docs[i]);
        free(c->docs);
        c->docs = NULL;
        c->n_docs = 0;
        memset(c->buckets, 0, sizeof(c->buckets));
}

static void ctx_done(ctx *c)
{
        docs_free(c);
        npm_http_done(&c->http);
        npm_config_done(&c->cfg);
        free(c->cache_dir);
        free(c->pkg_dir);
}

static int write_root_package(const char *pkg_dir, const char *name, const char *version,
                              corral_error *err)
{
        _cleanup_json_ cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "private", true);
        cJSON *deps = cJSON_AddObjectToObject(j, "dependencies");
        _cleanup_free_ char *range = xasprintf("^%s", version);
        cJSON_AddStringToObject(deps, name, range);
        _cleanup_free_ char *text = cJSON_Print(j);
        _cleanup_free_ char *path = path_join(pkg_dir, "package.json");
        _cleanup_free_ char *body = xasprintf("%s\n", text);
        int r = write_file_atomic(path, body, strlen(body), 0644);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot write %s", path);
        return 0;
}

int resolver_npm_fetch(store *s, const install_options *opt, const source_spec *spec,
                       const char *pkg_dir, manifest *m, corral_error *err)
{
        if (opt->allow_scripts)
                return corral_error_set(err, EX_USAGE,
                                        "--allow-scripts is not available yet: install scripts "
                                        "would run unconfined until the sandbox can run them; "
                                        "install without it (scripts are skipped and listed)");
        ctx c = {.s = s, .opt = opt};
        host_platform(&c);
        c.limits.max_unpacked = env_limit("CORRAL_NPM_MAX_UNPACKED", NPM_DEFAULT_MAX_UNPACKED);
        c.limits.max_entries = env_limit("CORRAL_NPM_MAX_ENTRIES", NPM_DEFAULT_MAX_ENTRIES);
        c.cache_dir = path_join(s->paths.cache, "npm");
        c.pkg_dir = xstrdup(pkg_dir);
        clock_gettime(CLOCK_MONOTONIC, &c.last_progress);
        int r = npm_config_load(&c.cfg, opt->registry, s->paths.config, err);
        if (r < 0) {
                ctx_done(&c);
                return r;
        }
        r = npm_http_init(&c.http, &c.cfg, err);
        c.http.userdata = &c;
        c.http.on_bytes = on_bytes;
        npm_node *tree = NULL;
        tarball *ts = NULL;
        size_t n_ts = 0;
        post p = {.c = &c};
        const char *top_version = NULL;
        _cleanup_free_ char *top_path = NULL;
        if (r < 0)
                goto out;
        if ((r = mkdir_p(pkg_dir, 0755)) < 0) {
                r = corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s", pkg_dir);
                goto out;
        }

        if (opt->frozen) {
                r = from_lock(s, m, &ts, &n_ts, err);
        } else {
                const char *range = spec->version ? spec->version : "latest";
                r = resolve_closure(&c, spec->name, range, err);
                if (r < 0)
                        goto out;
                npm_dep root_dep = {.name = spec->name, .range = range, .kind = NPM_DEP_PROD};
                npm_version root_v = {.name = "", .version = "0.0.0", .deps = &root_dep,
                                      .n_deps = 1, .platform_ok = true};
                r = npm_tree_build(&tree, &root_v, pick, &c, NPM_MAX_PACKAGES, err);
                if (r == -EX_NOINPUT) {
                        /* The root's own failure reads better without "depends on". */
                        pkgdoc *d = doc_find(&c, spec->name);
                        const npm_version *v = NULL;
                        corral_error e2 = {0};
                        if (d && pick_in(&c, d, range, &v, &e2) <= 0 && e2.msg[0]) {
                                corral_error_clear(err);
                                corral_error_set(err, EX_NOINPUT, "%s", e2.msg);
                        }
                }
                if (r < 0)
                        goto out;
                collect_ctx cc = {.err = err};
                r = npm_tree_walk(tree, collect_node, &cc);
                ts = cc.ts;
                n_ts = cc.n;
                /* The tarball list owns what is left to know: the metadata
                 * goes before the downloads start. */
                tree = npm_tree_free(tree);
                docs_free(&c);
        }
        if (r < 0)
                goto out;
        progress(&c, "resolved", true);
        r = fetch_tarballs(&c, ts, n_ts, err);
        if (r < 0)
                goto out;

        p.node_version = host_node_version();
        for (size_t i = 0; i < n_ts; i++)
                post_install(&c, ts[i].path, &p);

        top_path = xasprintf("node_modules/%s", spec->name);
        for (size_t i = 0; i < n_ts; i++)
                if (strcmp(ts[i].path, top_path) == 0) {
                        top_version = ts[i].version;
                        free(m->resolved_version);
                        m->resolved_version = xstrdup(ts[i].version);
                        free(m->resolved_url);
                        m->resolved_url = xstrdup(ts[i].url);
                        free(m->resolved_integrity);
                        m->resolved_integrity = xstrdup(ts[i].integrity);
                }
        if (!top_version) {
                r = corral_error_set(err, EX_DATAERR, "%s is not in the installed tree",
                                     spec->name);
                goto out;
        }
        if ((r = write_root_package(pkg_dir, spec->name, top_version, err)) < 0 ||
            (r = make_command(&c, spec->name, opt->command, m, err)) < 0)
                goto out;
        m->lock = xcalloc(n_ts ? n_ts : 1, sizeof(*m->lock));
        m->n_lock = n_ts;
        for (size_t i = 0; i < n_ts; i++) {
                m->lock[i].name = xstrdup(ts[i].name);
                m->lock[i].version = xstrdup(ts[i].version);
                m->lock[i].integrity = xstrdup(ts[i].integrity);
                m->lock[i].resolved = xstrdup(ts[i].url);
                m->lock[i].path = xstrdup(ts[i].path);
        }
        strv_free(m->scripts_skipped);
        m->scripts_skipped = steal_pointer(&p.skipped);
        if (m->scripts_skipped && opt->progress != INSTALL_PROGRESS_JSON) {
                fprintf(stderr, "corral: install: install scripts not run (corral never runs "
                                "them):");
                for (size_t i = 0; m->scripts_skipped[i]; i++)
                        fprintf(stderr, " %s", m->scripts_skipped[i]);
                fputc('\n', stderr);
        }
        progress(&c, "done", true);
        r = 0;
out:
        progress_end(&c);
        strv_free(p.skipped);
        free(p.node_version);
        tarballs_free(ts, n_ts);
        npm_tree_free(tree);
        ctx_done(&c);
        return r;
}
