/* Packuments: the abbreviated documents of a dependency closure, fetched in
 * parallel (libcurl multi, fetch.c), trimmed to what resolution reads and
 * cached under CACHE/packuments/ with their validators; a cached copy is used
 * inside the freshness window, revalidated with If-None-Match after it, and
 * read alone with --offline. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "corral/cache.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "npm_internal.h"

#define ABBREVIATED "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"

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

pkgdoc *npm_doc_find(ctx *c, const char *name)
{
        for (pkgdoc *d = c->buckets[hash_name(name)]; d; d = d->next_in_bucket)
                if (strcmp(d->name, name) == 0)
                        return d;
        return NULL;
}

void npm_doc_free(pkgdoc *d)
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
        for (size_t i = 0; d->old_built && i < d->old_n; i++) {
                if (d->old_built[i]) {
                        free(d->old_built[i]->deps);
                        free(d->old_built[i]);
                }
        }
        free(d->old_built);
        cJSON_Delete(d->old_doc);
        strv_free(d->ranges);
        strv_free(d->soft);
        strv_free(d->pending);
        strv_free(d->hard);
        free(d->name);
        free(d->cache_base);
        free(d->url);
        free(d);
}

static bool str_in(char *const *v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

/* ---- packuments ----------------------------------------------------------- */

/* The trimmed documents' format in the cache: entries of another format are
 * not read (format 1 had no engines). */
#define PACKUMENT_FORMAT 2

static bool key_in(const char *k, const char *const *keys)
{
        for (size_t i = 0; k && keys[i]; i++)
                if (strcmp(k, keys[i]) == 0)
                        return true;
        return false;
}

static void keep_only(cJSON *obj, const char *const *keys)
{
        cJSON *e = obj ? obj->child : NULL;
        while (e) {
                cJSON *next = e->next;
                if (!key_in(e->string, keys))
                        cJSON_Delete(cJSON_DetachItemViaPointer(obj, e));
                e = next;
        }
}

/* j trimmed to what resolution reads, or NULL (j freed) when it is not a
 * packument. */
static cJSON *trim_tree(cJSON *j)
{
        cJSON *versions = cJSON_GetObjectItemCaseSensitive(j, "versions");
        if (!cJSON_IsObject(j) || !cJSON_IsObject(versions)) {
                cJSON_Delete(j);
                return NULL;
        }
        keep_only(j, npm_packument_doc_keys);
        cJSON *v;
        cJSON_ArrayForEach(v, versions)
        {
                keep_only(v, npm_packument_version_keys);
                keep_only(cJSON_GetObjectItemCaseSensitive(v, "dist"), npm_packument_dist_keys);
        }
        return j;
}

cJSON *npm_packument_parse_whole(const char *json, size_t len)
{
        return trim_tree(cJSON_ParseWithLength(json, len));
}

cJSON *npm_packument_parse(const char *json, size_t len)
{
        strbuf t = STRBUF_INIT(0);
        cJSON *j = NULL;
        if (npm_packument_trim_text(json, len, &t) == 0 && t.buf)
                j = trim_tree(cJSON_ParseWithLength(t.buf, t.len));
        strbuf_done(&t);
        return j ? j : npm_packument_parse_whole(json, len);
}

cJSON *npm_packument_from_manifest(const char *json, size_t len, const char *name)
{
        cJSON *v = cJSON_ParseWithLength(json, len);
        const char *version = json_get_string(v, "version");
        const char *vname = json_get_string(v, "name");
        if (!cJSON_IsObject(v) || !version || !*version || !vname || strcmp(vname, name) != 0) {
                cJSON_Delete(v);
                return NULL;
        }
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "name", name);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(doc, "dist-tags"), "latest", version);
        _cleanup_free_ char *key = xstrdup(version);
        cJSON_AddItemToObject(cJSON_AddObjectToObject(doc, "versions"), key, v);
        return trim_tree(doc);
}

void npm_doc_set(ctx *c, pkgdoc *d, cJSON *j)
{
        d->doc = j;
        d->versions = json_get_object(j, "versions");
        d->n_versions = (size_t)cJSON_GetArraySize(d->versions);
        d->built = xcalloc(d->n_versions + 1, sizeof(*d->built));
        d->state = DOC_LOADED;
        c->n_resolved++;
        npm_progress(c, "resolving", false);
}

/* Reads and parses the cached copy; NULL when there is none or it does not
 * parse.  Thread-safe. */
static cJSON *read_cached(const char *cache_base)
{
        _cleanup_free_ char *json_path = xasprintf("%s.json", cache_base);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (read_file(json_path, NPM_MAX_PACKUMENT, &data, &len) < 0)
                return NULL;
        return npm_packument_parse(data, len);
}

/* Loads the cached copy; false when there is none or it does not parse. */
static bool doc_from_cache(ctx *c, pkgdoc *d)
{
        cJSON *j = read_cached(d->cache_base);
        if (!j)
                return false;
        npm_doc_set(c, d, j);
        return true;
}

/* Parsing (and caching) a packument happens on a worker thread. */
typedef enum {
        PJ_FRESH,   /* the cached copy, inside the freshness window */
        PJ_REVALID, /* the cached copy, after a 304 */
        PJ_BODY,    /* a 200's body, to parse and cache */
} pj_kind;

typedef struct parse_job {
        npm_job j;
        pj_kind kind;
        pkgdoc *d; /* the worker reads only d->cache_base */
        char *name;   /* a part: the package the manifest must be of */
        strbuf body;
        char etag[256];
        char last_modified[128];
        cJSON *doc;
        bool created; /* the cache had no copy before this one */
} parse_job;

static void parse_run(npm_job *j)
{
        parse_job *p = (parse_job *)j;
        const char *base = p->d->cache_base;
        if (p->kind != PJ_BODY) {
                p->doc = read_cached(base);
                if (p->doc && p->kind == PJ_REVALID) {
                        /* Revalidated: fresh again for the whole window. */
                        _cleanup_free_ char *json_path = xasprintf("%s.json", base);
                        (void)utimensat(AT_FDCWD, json_path, NULL, 0);
                }
                return;
        }
        const char *body = p->body.buf ? p->body.buf : "";
        p->doc = p->name ? npm_packument_from_manifest(body, p->body.len, p->name)
                         : npm_packument_parse(body, p->body.len);
        strbuf_done(&p->body); /* the raw text is not needed any more */
        if (!p->doc)
                return;
        /* Kept (trimmed) even without validators (registry.npmjs.org sends
         * none for abbreviated documents): the freshness window and
         * --offline read it.  A cache file needs no fsync: a damaged one
         * does not parse and is fetched again. */
        _cleanup_free_ char *json_path = xasprintf("%s.json", base);
        _cleanup_free_ char *meta_path = xasprintf("%s.meta", base);
        _cleanup_free_ char *text = cJSON_PrintUnformatted(p->doc);
        bool had = path_exists(json_path);
        if (text && npm_write_cache_file(json_path, text, strlen(text)) >= 0) {
                p->created = !had;
                _cleanup_json_ cJSON *meta = cJSON_CreateObject();
                if (p->etag[0])
                        cJSON_AddStringToObject(meta, "etag", p->etag);
                if (p->last_modified[0])
                        cJSON_AddStringToObject(meta, "last_modified", p->last_modified);
                _cleanup_free_ char *mt = cJSON_PrintUnformatted(meta);
                if (meta->child && mt)
                        (void)npm_write_cache_file(meta_path, mt, strlen(mt));
                else
                        (void)unlink(meta_path);
        }
}

static int packument_done(void *ud, npm_http_req *q, corral_error *err);
static int doc_fetch(ctx *c, pkgdoc *d, corral_error *err);
static int doc_go_whole(ctx *c, pkgdoc *d, corral_error *err);

static void parse_complete(void *ud, npm_job *j)
{
        ctx *c = ud;
        parse_job *p = (parse_job *)j;
        pkgdoc *d = p->d;
        c->doc_jobs--;
        if (p->created) {
                _cleanup_free_ char *json_path = xasprintf("%s.json", d->cache_base);
                cache_txn_add(c->s->cache_txn, CACHE_PACKUMENT, json_path);
        }
        if (c->closing) {
                cJSON_Delete(p->doc);
        } else if (p->doc) {
                npm_doc_set(c, d, p->doc);
                if (d->partial && d->want_whole) {
                        int r = doc_go_whole(c, d, &c->hard_err);
                        if (r < 0 && c->hard_code == 0)
                                c->hard_code = r;
                }
        } else if (p->kind == PJ_BODY && d->partial) {
                /* Not a manifest of the package: ask for the whole document. */
                d->state = DOC_NEW;
                int r = doc_go_whole(c, d, &c->hard_err);
                if (r < 0 && c->hard_code == 0)
                        c->hard_code = r;
        } else if (p->kind == PJ_BODY) {
                d->state = DOC_FAILED;
                d->code = -corral_error_set(&d->err, EX_DATAERR,
                                            "%s: the registry sent invalid metadata", d->name);
        } else {
                int r;
                if (p->kind == PJ_REVALID) {
                        /* The cached copy went bad since the request: fetch
                         * it whole. */
                        _cleanup_free_ char *meta_path = xasprintf("%s.meta", d->cache_base);
                        (void)unlink(meta_path);
                        r = npm_http_get(&c->http, d->url, d->partial ? NULL : ABBREVIATED, NULL, NULL,
                                         NPM_MAX_PACKUMENT, NULL, packument_done, d, &c->hard_err);
                } else {
                        r = doc_fetch(c, d, &c->hard_err);
                }
                if (r < 0 && c->hard_code == 0)
                        c->hard_code = r;
        }
        strbuf_done(&p->body);
        free(p->name);
        free(p);
}

static void parse_submit(ctx *c, pkgdoc *d, pj_kind kind, npm_http_req *q)
{
        parse_job *p = xcalloc(1, sizeof(*p));
        *p = (parse_job){.j = {.run = parse_run, .complete = parse_complete, .urgent = true},
                         .kind = kind,
                         .d = d,
                         .name = d->partial ? xstrdup(d->name) : NULL,
                         .body = STRBUF_INIT(0)};
        if (q) {
                p->body = q->body;
                q->body = STRBUF_INIT(0);
                memcpy(p->etag, q->etag, sizeof(p->etag));
                memcpy(p->last_modified, q->last_modified, sizeof(p->last_modified));
        }
        d->state = DOC_FETCHING;
        c->doc_jobs++;
        npm_pool_submit(&c->pool, &p->j);
}

static int packument_done(void *ud, npm_http_req *q, corral_error *err)
{
        (void)err;
        ctx *c = ud;
        pkgdoc *d = q->item;
        if (q->result == CURLE_OK && q->status == 304) {
                parse_submit(c, d, PJ_REVALID, NULL);
                return 0;
        }
        if (q->result == CURLE_OK && q->status == 200 && !q->too_big) {
                parse_submit(c, d, PJ_BODY, q);
                return 0;
        }
        if (d->partial) {
                /* A registry without the manifest endpoint (or a package
                 * without a latest tag): the whole document decides. */
                d->state = DOC_NEW;
                int r = doc_go_whole(c, d, &c->hard_err);
                if (r < 0 && c->hard_code == 0)
                        c->hard_code = r;
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


/* Points d at its whole document, or at its part (NAME/latest). */
static void doc_locate(ctx *c, pkgdoc *d, bool partial)
{
        const char *reg = npm_config_registry_for(&c->cfg, d->name);
        /* Scoped names are requested as @scope%2fname, as npm does. */
        _cleanup_free_ char *url = NULL;
        const char *slash = strchr(d->name, '/');
        if (slash)
                url = xasprintf("%s%.*s%%2f%s%s", reg, (int)(slash - d->name), d->name, slash + 1,
                                partial ? "/latest" : "");
        else
                url = xasprintf("%s%s%s", reg, d->name, partial ? "/latest" : "");
        _cleanup_free_ char *key = sha256_hex(url);
        free(d->cache_base);
        free(d->url);
        d->cache_base = xasprintf("%s/packuments/v%d-%s", c->cache_dir, PACKUMENT_FORMAT, key);
        d->url = steal_pointer(&url);
        d->partial = partial;
}

static bool located_fresh(const ctx *c, const pkgdoc *d)
{
        _cleanup_free_ char *json_path = xasprintf("%s.json", d->cache_base);
        return cache_fresh(c, json_path);
}

/* Loads d (located) from the cache or the registry. */
static int doc_start(ctx *c, pkgdoc *d, corral_error *err)
{
        if (d->partial) {
                /* A whole copy in the cache (fresh, or any with --offline)
                 * serves as well as a part. */
                doc_locate(c, d, false);
                if ((c->opt->offline && doc_from_cache(c, d)) ||
                    (!c->opt->offline && located_fresh(c, d))) {
                        if (!c->opt->offline)
                                parse_submit(c, d, PJ_FRESH, NULL);
                        return 0;
                }
                doc_locate(c, d, true);
        }
        if (c->opt->offline) {
                /* --offline never touches the network, however old the copy. */
                if (!doc_from_cache(c, d)) {
                        d->state = DOC_FAILED;
                        d->code = -corral_error_set(&d->err, EX_UNAVAILABLE,
                                                    "--offline: the metadata of %s is not in the "
                                                    "cache",
                                                    d->name);
                }
                return 0;
        }
        if (located_fresh(c, d)) {
                /* Read on a worker; doc_fetch() follows when it does not parse. */
                parse_submit(c, d, PJ_FRESH, NULL);
                return 0;
        }
        return doc_fetch(c, d, err);
}

/* The document of name, requested (whole, or partial) when it is new. */
static int doc_request(ctx *c, const char *name, bool partial, pkgdoc **ret, corral_error *err)
{
        pkgdoc *d = npm_doc_find(c, name);
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
        doc_locate(c, d, partial);
        return doc_start(c, d, err);
}

/* A part is given up for the whole document (its versions stay alive: the
 * tree may hold them); one still on its way is given up when it lands. */
static int doc_go_whole(ctx *c, pkgdoc *d, corral_error *err)
{
        if (!d->partial)
                return 0;
        if (d->state == DOC_FETCHING) {
                d->want_whole = true;
                return 0;
        }
        if (d->state == DOC_LOADED) {
                d->old_doc = steal_pointer(&d->doc);
                d->old_built = steal_pointer(&d->built);
                d->old_n = d->n_versions;
                d->versions = NULL;
                d->n_versions = 0;
                c->n_resolved--;
        }
        d->want_whole = false;
        d->state = DOC_NEW;
        d->code = 0;
        corral_error_clear(&d->err);
        doc_locate(c, d, false);
        return doc_start(c, d, err);
}

/* Requests the document, revalidating the cached copy when there is one. */
static int doc_fetch(ctx *c, pkgdoc *d, corral_error *err)
{
        _cleanup_free_ char *json_path = xasprintf("%s.json", d->cache_base);
        _cleanup_free_ char *meta_path = xasprintf("%s.meta", d->cache_base);
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
        return npm_http_get(&c->http, d->url, d->partial ? NULL : ABBREVIATED, etag, lm,
                            NPM_MAX_PACKUMENT, NULL, packument_done, d, err);
}

/* Records that (name, range) is needed, hard or only for its peers; the
 * document is fetched once (past an optional peer, in part when that may
 * do). */
static int need(ctx *c, const char *name, const char *range, bool hard, corral_error *err)
{
        if (strncmp(range, "npm:", 4) == 0) {
                const char *p = range + 4;
                const char *at = strchr(p[0] == '@' ? p + 1 : p, '@');
                _cleanup_free_ char *real = at ? xstrndup(p, (size_t)(at - p)) : xstrdup(p);
                return need(c, real, at ? at + 1 : "*", hard, err);
        }
        pkgdoc *d = NULL;
        int r = doc_request(c, name, !hard, &d, err);
        if (r >= 0 && hard)
                r = doc_go_whole(c, d, err);
        if (r < 0)
                return r;
        /* Tarballs are fetched ahead only for what a tree can need without
         * an optional peer (one such as next is rarely installed). */
        if (hard && !str_in(d->hard, range))
                d->hard = strv_push(d->hard, range);
        if (str_in(d->ranges, range) || (!hard && str_in(d->soft, range)) ||
            str_in(d->pending, range))
                return 0;
        d->pending = strv_push(d->pending, range);
        return 0;
}

/* Are all the documents asked for loaded (or failed)? */
static bool docs_settled(const ctx *c)
{
        if (c->doc_jobs)
                return false;
        for (size_t i = 0; i < c->n_docs; i++)
                if (c->docs[i]->state == DOC_FETCHING)
                        return false;
        return true;
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
                        bool hard = str_in(d->hard, pending[k]);
                        if (d->partial && (hard || !npm_pick_latest(c, d, pending[k]))) {
                                /* The part cannot answer: the rest waits for
                                 * the whole document. */
                                for (size_t j = k; pending[j]; j++)
                                        d->pending = strv_push(d->pending, pending[j]);
                                *progressed = true;
                                int r = doc_go_whole(c, d, err);
                                if (r < 0) {
                                        strv_free(pending);
                                        return r;
                                }
                                break;
                        }
                        /* Reached only through a missing optional peer: the
                         * tree loads its peers into the peer set, and its
                         * dependencies only if it is ever placed. */
                        if (hard)
                                d->ranges = strv_push(d->ranges, pending[k]);
                        else
                                d->soft = strv_push(d->soft, pending[k]);
                        *progressed = true;
                        const npm_version *v = NULL;
                        corral_error ignored = {0};
                        /* Failures surface when the tree is built, where it is
                         * known whether the dependency was optional. */
                        if (npm_pick_in(c, d, pending[k], &v, &ignored) <= 0)
                                continue;
                        if (hard)
                                npm_prefetch(c, v);
                        for (size_t j = 0; j < v->n_deps; j++) {
                                npm_dep_kind kind = v->deps[j].kind;
                                bool peer = kind == NPM_DEP_PEER || kind == NPM_DEP_PEER_OPTIONAL;
                                if (!hard && !peer)
                                        continue;
                                int r = need(c, v->deps[j].name, v->deps[j].range,
                                             hard && kind != NPM_DEP_PEER_OPTIONAL, err);
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

/* Expands and waits until every document asked for is loaded. */
static int settle(ctx *c, int r, corral_error *err)
{
        for (;;) {
                if (r < 0)
                        return r;
                bool progressed = false;
                r = expand(c, &progressed, err);
                if (r < 0)
                        return r;
                /* Tarballs still downloading do not hold the tree back. */
                if (!progressed && docs_settled(c))
                        return 0;
                r = npm_wait(c, 200, err);
        }
}

int npm_resolve_closure(ctx *c, const char *name, const char *range, corral_error *err)
{
        return settle(c, need(c, name, range, true, err), err);
}

int npm_doc_whole(ctx *c, pkgdoc *d, corral_error *err)
{
        return settle(c, doc_go_whole(c, d, err), err);
}

int npm_doc_load(ctx *c, const char *name, pkgdoc **ret, corral_error *err)
{
        pkgdoc *d = NULL;
        int r = doc_request(c, name, false, &d, err);
        while (r >= 0 && (c->http.active > 0 || c->doc_jobs > 0))
                r = npm_wait(c, 200, err);
        if (r < 0)
                return r;
        if (d->state == DOC_FAILED)
                return corral_error_set(err, d->code, "%s", d->err.msg);
        *ret = d;
        return 0;
}

void npm_docs_free(ctx *c)
{
        for (size_t i = 0; i < c->n_docs; i++)
                npm_doc_free(c->docs[i]);
        free(c->docs);
        c->docs = NULL;
        c->n_docs = 0;
        memset(c->buckets, 0, sizeof(c->buckets));
}
