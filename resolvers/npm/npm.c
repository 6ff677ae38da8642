/* `corral install npm:PKG`: packuments (abbreviated, cached with ETag
 * revalidation) are fetched in parallel until the dependency closure is known,
 * the hoisted tree is built (tree.c), packages are linked from the unpacked
 * cache (unpacked.c) or their tarballs come from the content-addressed cache
 * or the registry, are verified (integrity.c), extracted (extract.c) into the
 * unpacked cache and linked into pkg/node_modules, bins are linked, and the
 * manifest gets the command, the lock and the packages whose install scripts
 * were skipped. */
#include <fcntl.h>
#include <malloc.h>
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

#define PACKAGE_JSON_MAX (1u << 20)
#define MAX_BINS 256

/* ---- progress ----------------------------------------------------------- */

void npm_progress(ctx *c, const char *phase, bool force)
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
        npm_progress(c, "downloading", false);
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
        /* Best effort, like the chmod above; a glibc with _FORTIFY_SOURCE
         * warns on a (void) cast, hence the if. */
        if (symlink(to, link) < 0)
                return;
}

/* `node --version`, started directly (no shell) with its stdout on a pipe
 * and its stderr on /dev/null; it runs while the first packuments load. */
static void node_version_start(ctx *c)
{
        c->node_pid = -1;
        c->node_fd = -1;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return;
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
        if (sr != 0) {
                close(p[0]);
                return;
        }
        c->node_pid = pid;
        c->node_fd = p[0];
}

const char *npm_node_version(ctx *c)
{
        if (c->node_fd < 0)
                return c->node_version;
        char buf[64] = "";
        size_t len = 0;
        ssize_t n;
        while (len < sizeof(buf) - 1 &&
               ((n = read(c->node_fd, buf + len, sizeof(buf) - 1 - len)) > 0 ||
                (n < 0 && errno == EINTR)))
                if (n > 0)
                        len += (size_t)n;
        buf[len] = '\0';
        close(c->node_fd);
        c->node_fd = -1;
        int status = 0;
        while (waitpid(c->node_pid, &status, 0) < 0 && errno == EINTR)
                ;
        c->node_pid = -1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return NULL;
        buf[strcspn(buf, "\r\n")] = '\0';
        free(c->node_version);
        c->node_version = buf[0] ? xstrdup(buf[0] == 'v' ? buf + 1 : buf) : NULL;
        return c->node_version;
}

typedef struct post {
        ctx *c;
        char **skipped;
        char **engines_unmet;
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
        /* Chosen although it does not fit: no version of it did (npm too
         * installs the highest then, with an EBADENGINE warning). */
        if (eng && npm_node_version(c) && !semver_satisfies(c->node_version, eng, true)) {
                _cleanup_free_ char *label = xasprintf("%s@%s wants node %s", name ? name : folder,
                                                       version ? version : "?", eng);
                fprintf(stderr, "corral: install: warning: %s, this host has %s\n", label,
                        c->node_version);
                p->engines_unmet = strv_push(p->engines_unmet, label);
        }
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

/* os/cpu/libc as the lock keeps them: a string or an array of strings
 * becomes a list (capped); anything else, none. */
static char **platform_list(const cJSON *j)
{
        if (cJSON_IsString(j))
                return strv_push(NULL, j->valuestring);
        char **v = NULL;
        const cJSON *e;
        size_t n = 0;
        if (!cJSON_IsArray(j))
                return NULL;
        cJSON_ArrayForEach(e, j)
        {
                if (cJSON_IsString(e) && n++ < 64)
                        v = strv_push(v, e->valuestring);
        }
        return v;
}

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
        tarball t = {0};
        int r = npm_integrity_parse(&t.want, sri, shasum, cc->err);
        if (r < 0) {
                corral_error_prefix(cc->err, "%s@%s", n->v->name, n->v->version);
                return r;
        }
        t.path = xstrdup(n->path);
        t.optional = n->optional;
        t.inert = n->inert;
        t.os = platform_list(cJSON_GetObjectItemCaseSensitive(vj, "os"));
        t.cpu = platform_list(cJSON_GetObjectItemCaseSensitive(vj, "cpu"));
        t.libc = platform_list(cJSON_GetObjectItemCaseSensitive(vj, "libc"));
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
                free(ts[i].path);
                free(ts[i].name);
                free(ts[i].version);
                free(ts[i].url);
                free(ts[i].integrity);
                strv_free(ts[i].os);
                strv_free(ts[i].cpu);
                strv_free(ts[i].libc);
        }
        free(ts);
}

static int from_lock(ctx *c, store *s, const manifest *m, tarball **ret, size_t *ret_n,
                     corral_error *err)
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
                tarball t = {0};
                r = npm_integrity_parse(&t.want, l->integrity, NULL, err);
                if (r < 0)
                        break;
                t.path = xstrdup(l->path);
                t.optional = l->optional;
                t.os = strv_copy(l->os);
                t.cpu = strv_copy(l->cpu);
                t.libc = strv_copy(l->libc);
                t.inert = l->optional && !npm_platform_fits_strv(c, t.os, t.cpu, t.libc);
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


/* An install parses hundreds of packuments on the worker threads: with
 * glibc's defaults each thread's heap grows a page at a time (mprotect) and
 * is trimmed back between documents, and bodies past the mmap threshold
 * come as fresh zeroed pages each time.  While the resolver runs, heaps
 * keep what they grew to; ctx_done() gives it back. */
static void malloc_for_install(bool on)
{
        mallopt(M_MMAP_THRESHOLD, on ? 32 << 20 : 128 << 10);
        mallopt(M_TRIM_THRESHOLD, on ? 256 << 20 : 128 << 10);
        mallopt(M_TOP_PAD, on ? 8 << 20 : 128 << 10);
        if (!on)
                malloc_trim(0);
}

static void ctx_done(ctx *c)
{
        /* Jobs still running end first: they hold entries and the multi
         * handle they wake. */
        c->closing = true;
        npm_pool_done(&c->pool, c);
        npm_entries_free(c);
        if (c->node_fd >= 0)
                (void)npm_node_version(c);
        npm_docs_free(c);
        npm_http_done(&c->http);
        npm_config_done(&c->cfg);
        malloc_for_install(false);
        free(c->cache_dir);
        free(c->pkg_dir);
        free(c->node_version);
}

/* Does this process's umask leave mode 0755 alone (Linux >= 4.7 shows it
 * in /proc/self/status; unknown counts as no)? */
static bool umask_keeps_0755(void)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (read_file("/proc/self/status", 1u << 16, &data, &len) < 0)
                return false;
        const char *u = strstr(data, "\nUmask:");
        if (!u)
                return false;
        char *end = NULL;
        unsigned long m = strtoul(u + 8, &end, 8);
        return end != u + 8 && (m & 0755) == 0;
}

/* One install's context: host platform, limits, cache, registry config and
 * the HTTP client.  On failure the caller still owes ctx_done(). */
static int ctx_init(ctx *c, store *s, const install_options *opt, const char *pkg_dir,
                    corral_error *err)
{
        int r;

        *c = (ctx){.s = s, .opt = opt, .node_fd = -1, .node_pid = -1};
        malloc_for_install(true);
        npm_host_platform(c);
        node_version_start(c);
        c->umask_keeps_0755 = umask_keeps_0755();
        c->limits.max_unpacked = env_limit("CORRAL_NPM_MAX_UNPACKED", NPM_DEFAULT_MAX_UNPACKED);
        c->limits.max_entries = env_limit("CORRAL_NPM_MAX_ENTRIES", NPM_DEFAULT_MAX_ENTRIES);
        c->limits.umask_keeps_modes = c->umask_keeps_0755;
        c->cache_dir = path_join(s->paths.cache, "npm");
        c->pkg_dir = xstrdup(pkg_dir);
        clock_gettime(CLOCK_MONOTONIC, &c->last_progress);
        r = npm_config_load(&c->cfg, opt->registry, s->paths.config, err);
        if (r < 0)
                return r;
        r = npm_http_init(&c->http, &c->cfg, err);
        c->http.userdata = c;
        c->http.on_bytes = on_bytes;
        if (r < 0)
                return r;
        return npm_pool_init(&c->pool, c->http.multi, err);
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

/* Lifecycle scripts of the packages installed in DIR: run inside the sandbox
 * with --allow-scripts (scripts.c), else listed in the manifest and named on
 * stderr.  Takes *skipped. */
static int finish_scripts(store *s, const install_options *opt, const char *dir, manifest *m,
                          char ***skipped, corral_error *err)
{
        if (opt->allow_scripts && *skipped) {
                _cleanup_strv_ char **ran = NULL;
                int r = npm_scripts_run(s, opt, dir, m, &ran, err);
                if (r < 0)
                        return r;
                strv_free(*skipped);
                *skipped = NULL;
        }
        strv_free(m->scripts_skipped);
        m->scripts_skipped = steal_pointer(skipped);
        if (m->scripts_skipped && opt->progress != INSTALL_PROGRESS_JSON) {
                fprintf(stderr, "corral: install: install scripts not run (pass --allow-scripts "
                                "to run them in the sandbox):");
                for (size_t i = 0; m->scripts_skipped[i]; i++)
                        fprintf(stderr, " %s", m->scripts_skipped[i]);
                fputc('\n', stderr);
        }
        return 0;
}

int npm_available(store *s, const char *name, const char *range, const char *registry,
                  char **ret_wanted, char **ret_latest, corral_error *err)
{
        install_options opt = {.registry = registry};
        const npm_version *v = NULL;
        pkgdoc *d = NULL;
        ctx c;
        int r = ctx_init(&c, s, &opt, "", err);

        if (r >= 0)
                r = npm_doc_load(&c, name, &d, err);
        if (r >= 0 && (r = npm_pick_in(&c, d, range ? range : "*", &v, err)) > 0) {
                *ret_wanted = xstrdup(v->version);
                corral_error ignored = {0};
                *ret_latest = npm_pick_in(&c, d, "latest", &v, &ignored) > 0
                                      ? xstrdup(v->version)
                                      : xstrdup(*ret_wanted);
                r = 0;
        } else if (r == 0) {
                r = -EX_NOINPUT;
        }
        ctx_done(&c);
        return r;
}

int resolver_npm_fetch(store *s, const install_options *opt, const source_spec *spec,
                       const char *pkg_dir, manifest *m, corral_error *err)
{
        ctx c;
        int r = ctx_init(&c, s, opt, pkg_dir, err);
        if (r < 0) {
                ctx_done(&c);
                return r;
        }
        npm_node *tree = NULL;
        tarball *ts = NULL;
        size_t n_ts = 0;
        post p = {.c = &c};
        const char *top_version = NULL;
        _cleanup_free_ char *top_path = NULL;
        npm_trace("start %s", spec->name);
        if ((r = mkdir_p(pkg_dir, 0755)) < 0) {
                r = corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s", pkg_dir);
                goto out;
        }

        if (opt->frozen) {
                r = from_lock(&c, s, m, &ts, &n_ts, err);
        } else {
                /* npm-package-arg reads a bare name as the range "*" (the latest tag
                 * when it fits, else the best version by npm-pick-manifest). */
                const char *range = spec->version ? spec->version : "*";
                r = npm_resolve_closure(&c, spec->name, range, err);
                if (r < 0)
                        goto out;
                npm_trace("closure fetched: %zu documents", c.n_docs);
                npm_dep root_dep = {.name = spec->name, .range = range, .kind = NPM_DEP_PROD};
                npm_version root_v = {.name = "", .version = "0.0.0", .deps = &root_dep,
                                      .n_deps = 1, .platform_ok = true};
                r = npm_tree_build(&tree, &root_v, npm_pick, &c, NPM_MAX_PACKAGES, err);
                if (r == -EX_NOINPUT) {
                        /* The root's own failure reads better without "depends on". */
                        pkgdoc *d = npm_doc_find(&c, spec->name);
                        const npm_version *v = NULL;
                        corral_error e2 = {0};
                        if (d && npm_pick_in(&c, d, range, &v, &e2) <= 0 && e2.msg[0]) {
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
                npm_docs_free(&c);
        }
        if (r < 0)
                goto out;
        npm_progress(&c, "resolved", true);
        npm_trace("tree built: %zu packages", n_ts);
        r = npm_install_tarballs(&c, ts, n_ts, err);
        if (r < 0)
                goto out;
        npm_trace("tarballs linked");

        for (size_t i = 0; i < n_ts; i++)
                if (!ts[i].inert)
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
                m->lock[i].optional = ts[i].optional;
                m->lock[i].inert = ts[i].inert;
                m->lock[i].os = steal_pointer(&ts[i].os);
                m->lock[i].cpu = steal_pointer(&ts[i].cpu);
                m->lock[i].libc = steal_pointer(&ts[i].libc);
        }
        /* Files linked from checked cache entries (0644/0755, unpacked.c),
         * folders made 0755: nothing for the store to fix, unless install
         * scripts wrote into pkg/. */
        bool modes_checked = c.umask_keeps_0755 && !c.direct_extracted &&
                             !(opt->allow_scripts && p.skipped);
        if ((r = finish_scripts(s, opt, pkg_dir, m, &p.skipped, err)) < 0)
                goto out;
        s->pkg_modes_checked = modes_checked;
        strv_free(m->engines_unmet);
        m->engines_unmet = steal_pointer(&p.engines_unmet);
        npm_progress(&c, "done", true);
        npm_trace("resolver done");
        r = 0;
out:
        progress_end(&c);
        strv_free(p.skipped);
        strv_free(p.engines_unmet);
        tarballs_free(ts, n_ts);
        npm_tree_free(tree);
        ctx_done(&c);
        return r;
}

/* ---- a package.json's dependencies (git sources, issue 14) ---------------- */

static void lock_clear(manifest *m)
{
        for (size_t i = 0; i < m->n_lock; i++) {
                free(m->lock[i].name);
                free(m->lock[i].version);
                free(m->lock[i].integrity);
                free(m->lock[i].resolved);
                free(m->lock[i].path);
        }
        free(m->lock);
        m->lock = NULL;
        m->n_lock = 0;
}

int npm_install_dependencies(store *s, const install_options *opt, const char *dir,
                             const npm_dep *deps, size_t n_deps, manifest *m, corral_error *err)
{
        ctx c;
        int r = ctx_init(&c, s, opt, dir, err);
        if (r < 0) {
                ctx_done(&c);
                return r;
        }
        npm_node *tree = NULL;
        tarball *ts = NULL;
        size_t n_ts = 0;
        post p = {.c = &c};
        for (size_t i = 0; r >= 0 && i < n_deps; i++) {
                r = npm_resolve_closure(&c, deps[i].name, deps[i].range, err);
                if (r < 0 && deps[i].kind == NPM_DEP_OPTIONAL) {
                        corral_error_clear(err);
                        r = 0;
                }
        }
        if (r < 0)
                goto out;
        npm_version root_v = {.name = "", .version = "0.0.0", .deps = (npm_dep *)deps,
                              .n_deps = n_deps, .platform_ok = true};
        r = npm_tree_build(&tree, &root_v, npm_pick, &c, NPM_MAX_PACKAGES, err);
        if (r < 0)
                goto out;
        collect_ctx cc = {.err = err};
        r = npm_tree_walk(tree, collect_node, &cc);
        ts = cc.ts;
        n_ts = cc.n;
        tree = npm_tree_free(tree);
        npm_docs_free(&c);
        if (r < 0)
                goto out;
        npm_progress(&c, "resolved", true);
        if ((r = npm_install_tarballs(&c, ts, n_ts, err)) < 0)
                goto out;
        for (size_t i = 0; i < n_ts; i++)
                post_install(&c, ts[i].path, &p);
        lock_clear(m);
        m->lock = xcalloc(n_ts ? n_ts : 1, sizeof(*m->lock));
        m->n_lock = n_ts;
        for (size_t i = 0; i < n_ts; i++) {
                m->lock[i].name = xstrdup(ts[i].name);
                m->lock[i].version = xstrdup(ts[i].version);
                m->lock[i].integrity = xstrdup(ts[i].integrity);
                m->lock[i].resolved = xstrdup(ts[i].url);
                m->lock[i].path = xstrdup(ts[i].path);
        }
        if ((r = finish_scripts(s, opt, dir, m, &p.skipped, err)) < 0)
                goto out;
        npm_progress(&c, "done", true);
        r = 0;
out:
        progress_end(&c);
        strv_free(p.skipped);
        strv_free(p.engines_unmet);
        tarballs_free(ts, n_ts);
        npm_tree_free(tree);
        ctx_done(&c);
        return r;
}
