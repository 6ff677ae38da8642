/* Version choice: which version of a package a range (or dist-tag) picks,
 * by npm-pick-manifest's rules, and each version's dependencies and platform
 * fit as the tree builder (tree.c) sees them. */
#include <string.h>
#include <sys/utsname.h>

#include "corral/jsonutil.h"
#include "corral/semver.h"
#include "npm_internal.h"

#define MAX_DEPS_PER_VERSION 2000

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

static cJSON *list_json(char **v)
{
        if (!v)
                return NULL;
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; v[i]; i++)
                cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
        return a;
}

static bool platform_fits(const ctx *c, const cJSON *os, const cJSON *cpu, const cJSON *libc)
{
        return check_list(os, c->host_os) && check_list(cpu, c->host_cpu) &&
#ifdef __GLIBC__
               check_list(libc, "glibc");
#else
               check_list(libc, "musl");
#endif
}

bool npm_platform_fits_strv(const ctx *c, char **os, char **cpu, char **libc)
{
        _cleanup_json_ cJSON *o = list_json(os);
        _cleanup_json_ cJSON *p = list_json(cpu);
        _cleanup_json_ cJSON *l = list_json(libc);
        return platform_fits(c, o, p, l);
}

void npm_host_platform(ctx *c)
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

static bool engine_ok(const ctx *c, const cJSON *vj);

static npm_version *build_version(ctx *c, const cJSON *vj, const char *name, const char *version)
{
        npm_version *v = xcalloc(1, sizeof(*v));
        v->name = name;
        v->version = version;
        v->data = (void *)vj;
        v->engine_unmet = !engine_ok(c, vj);
        v->platform_ok = platform_fits(c, cJSON_GetObjectItemCaseSensitive(vj, "os"),
                                       cJSON_GetObjectItemCaseSensitive(vj, "cpu"),
                                       cJSON_GetObjectItemCaseSensitive(vj, "libc"));
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
                        npm_dep_kind kind = kinds[k].kind;
                        /* Optional peers are not installed for themselves,
                         * but npm weighs them when placing their set. */
                        if (kind == NPM_DEP_PEER &&
                            json_get_bool(json_get_object(meta, d->string), "optional", false))
                                kind = NPM_DEP_PEER_OPTIONAL;
                        v->deps = xrealloc(v->deps, (v->n_deps + 1) * sizeof(*v->deps));
                        v->deps[v->n_deps++] = (npm_dep){
                                .name = d->string, .range = d->valuestring, .kind = kind};
                }
        }
        return v;
}

static bool is_deprecated(const cJSON *vj)
{
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(vj, "deprecated");
        return cJSON_IsString(d) && d->valuestring[0];
}

/* engines.node accepts this host's node (npm-install-checks' checkEngine:
 * includePrerelease, a range that does not parse refuses).  Without a node
 * on the host every version fits, as npm does without a nodeVersion. */
static bool engine_ok(const ctx *c, const cJSON *vj)
{
        const cJSON *node = cJSON_GetObjectItemCaseSensitive(json_get_object(vj, "engines"), "node");
        if (!c->node_version || !node || cJSON_IsNull(node) || cJSON_IsFalse(node) ||
            (cJSON_IsString(node) && !node->valuestring[0]))
                return true;
        return cJSON_IsString(node) && semver_satisfies(c->node_version, node->valuestring, true);
}

/* npm-pick-manifest's order for the versions a range matches: fitting the
 * engine and not deprecated, then fitting the engine, then not deprecated,
 * then the highest.  rank() packs the first three into one number. */
static int rank(const ctx *c, const cJSON *vj)
{
        bool eng = engine_ok(c, vj), fresh = !is_deprecated(vj);
        return ((eng && fresh) << 2) | (eng << 1) | fresh;
}

/* The latest tag's version when npm-pick-manifest takes it for a range
 * (any: the range is "*"): it matches, suits this node, is not
 * deprecated. */
static const char *latest_fit(ctx *c, const pkgdoc *d, const char *range, bool any)
{
        const char *latest = json_get_string(json_get_object(d->doc, "dist-tags"), "latest");
        const cJSON *lj = latest ? cJSON_GetObjectItemCaseSensitive(d->versions, latest) : NULL;
        if (lj && (any || semver_satisfies_loose(latest, range, false)) && engine_ok(c, lj) &&
            !is_deprecated(lj))
                return latest;
        return NULL;
}

bool npm_pick_latest(ctx *c, const pkgdoc *d, const char *range)
{
        (void)npm_node_version(c); /* engine_ok() reads it */
        if (d->state != DOC_LOADED)
                return false;
        bool any = !range || !*range || strcmp(range, "*") == 0;
        if (!range || !*range)
                range = "*";
        semver_range *sr = NULL;
        corral_error rerr = {0};
        if (semver_range_parse_loose(&sr, range, &rerr) < 0)
                return strcmp(range, "latest") == 0 &&
                       json_get_string(json_get_object(d->doc, "dist-tags"), "latest");
        semver_range_free(sr);
        return latest_fit(c, d, range, any) != NULL;
}

int npm_pick_in(ctx *c, pkgdoc *d, const char *range, const npm_version **ret,
                corral_error *err)
{
        (void)npm_node_version(c); /* engine_ok() reads it */
        if (d->state == DOC_FAILED) {
                *err = d->err;
                return d->code == EX_NOINPUT ? 0 : -d->code;
        }
        if (d->state != DOC_LOADED)
                return corral_error_set(err, EX_SOFTWARE, "%s: metadata not fetched", d->name);
        bool any = !range || !*range || strcmp(range, "*") == 0;
        if (!range || !*range)
                range = "*";
        const cJSON *tags = json_get_object(d->doc, "dist-tags");
        const char *want = NULL;
        semver_range *sr = NULL;
        corral_error rerr = {0};
        /* npm-package-arg: a spec that is a (loose) range is a range, else a
         * dist-tag, which picks exactly its version. */
        if (semver_range_parse_loose(&sr, range, &rerr) < 0) {
                want = json_get_string(tags, range);
                if (!want) {
                        if (strchr(range, ':') || strchr(range, '/'))
                                return corral_error_set(err, EX_DATAERR,
                                                        "%s@%s: only registry dependencies are "
                                                        "supported",
                                                        d->name, range);
                        corral_error_set(err, EX_NOINPUT, "%s has no version or tag '%s'",
                                         d->name, range);
                        return 0;
                }
        } else {
                /* The latest tag when it matches, suits this node and is not
                 * deprecated; else the best of the matches by rank(). */
                want = latest_fit(c, d, range, any);
                semver best = {0};
                int best_rank = -1;
                const char *best_name = NULL;
                const cJSON *vj;
                cJSON_ArrayForEach(vj, d->versions)
                {
                        semver v;
                        if (want || !cJSON_IsObject(vj) || semver_parse(&v, vj->string, true) < 0)
                                continue;
                        if (!semver_range_test(sr, &v, false)) {
                                semver_done(&v);
                                continue;
                        }
                        int rk = rank(c, vj);
                        if (rk > best_rank || (rk == best_rank && semver_compare(&v, &best) > 0)) {
                                if (best_rank >= 0)
                                        semver_done(&best);
                                best = v;
                                best_rank = rk;
                                best_name = vj->string;
                        } else {
                                semver_done(&v);
                        }
                }
                if (!want && best_rank >= 0) {
                        want = best_name;
                        semver_done(&best);
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

int npm_pick(void *ud, const char *name, const char *range, const npm_version **ret,
                corral_error *err)
{
        ctx *c = ud;
        pkgdoc *d = npm_doc_find(c, name);
        if (!d || d->state == DOC_NEW) {
                /* Past an optional peer the closure followed peers only: a
                 * package placed there has its dependencies fetched now. */
                int r = npm_resolve_closure(c, name, range, err);
                if (r < 0)
                        return r;
                d = npm_doc_find(c, name);
        } else if (d->partial && !npm_pick_latest(c, d, range)) {
                int r = npm_doc_whole(c, d, err);
                if (r < 0)
                        return r;
        }
        if (!d)
                return corral_error_set(err, EX_SOFTWARE, "%s: metadata not fetched", name);
        return npm_pick_in(c, d, range, ret, err);
}
