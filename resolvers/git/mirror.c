/* Cached bare mirrors (CACHE/git/<sha256(url)>.git) and ref resolution with
 * libgit2.  A mirror keeps the branches and tags of its remote (forced,
 * pruned), and its HEAD follows the remote default branch. */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <git2.h>
#include <openssl/evp.h>

#include "corral/fs.h"
#include "corral/git.h"
#include "git_internal.h"

uint64_t git_env_limit(const char *name, uint64_t def)
{
        const char *v = getenv(name);
        if (!v || !*v)
                return def;
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || end == v || n == 0)
                return def;
        if (*end == 'k' || *end == 'K')
                n <<= 10, end++;
        else if (*end == 'M')
                n <<= 20, end++;
        else if (*end == 'G')
                n <<= 30, end++;
        return *end ? def : (uint64_t)n;
}

/* libgit2 1.5.1 (Debian 12) leaks one PCRE2 match block per non-matching
 * git_regexp_match() (its config globs, e.g. url.*.insteadof, on every
 * remote lookup): not ours to fix, so LeakSanitizer is told to ignore what
 * is allocated between git_lib_open() and git_lib_close() in sanitizer
 * builds.  Our own code outside those calls stays checked. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LSAN_OFF() __lsan_disable()
#define LSAN_ON() __lsan_enable()
#else
#define LSAN_OFF() ((void)0)
#define LSAN_ON() ((void)0)
#endif

/* libgit2's own state is reference-counted: every entry point pairs these. */
void git_lib_open(void)
{
        LSAN_OFF();
        git_libgit2_init();
        /* No user or system git config: no url.insteadOf rewrites, no filter
         * drivers, no credential helpers that run programs. */
        static const int levels[] = {GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG,
                                     GIT_CONFIG_LEVEL_GLOBAL, GIT_CONFIG_LEVEL_PROGRAMDATA};
        for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
                (void)git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, levels[i], "");
}

void git_lib_close(void)
{
        git_libgit2_shutdown();
        LSAN_ON();
}

const char *git_lib_message(void)
{
        const git_error *e = git_error_last();
        return e && e->message ? e->message : "unknown libgit2 error";
}

char *git_url_display(const char *url)
{
        /* scheme://user:secret@host/… → scheme://host/… */
        const char *p = strstr(url, "://");
        if (!p)
                return xstrdup(url);
        p += 3;
        size_t hl = strcspn(p, "/?#");
        const char *at = memchr(p, '@', hl);
        if (!at)
                return xstrdup(url);
        return xasprintf("%.*s%s", (int)(p - url), url, at + 1);
}

char *git_mirror_path(const char *cache_dir, const char *url)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        char hex[33];
        (void)EVP_Digest(url, strlen(url), md, &len, EVP_sha256(), NULL);
        for (size_t i = 0; i < 16; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        return xasprintf("%s/git/%s.git", cache_dir, hex);
}

int git_mirror_lock(const char *mirror, corral_error *err)
{
        _cleanup_free_ char *lock = xasprintf("%s.lock", mirror);
        _cleanup_free_ char *dir = xstrdup(mirror);
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = '\0';
        int r = mkdir_p(dir, 0755);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s", dir);
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot open %s", lock);
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR) {
                        int e = errno;
                        close(fd);
                        return corral_error_errno(err, EX_CANTCREAT, e, "cannot lock %s", lock);
                }
        return fd;
}

/* ---- fetching ------------------------------------------------------------ */

typedef struct fetch_state {
        git_auth *auth;
        uint64_t max_bytes;
        bool too_big;
        bool progress;
        size_t last_pct;
} fetch_state;

static int on_transfer(const git_indexer_progress *st, void *payload)
{
        fetch_state *f = payload;
        if (st->received_bytes > f->max_bytes) {
                f->too_big = true;
                return -1;
        }
        if (f->progress && st->total_objects) {
                size_t pct = (size_t)st->received_objects * 100 / st->total_objects;
                if (pct != f->last_pct) {
                        f->last_pct = pct;
                        fprintf(stderr, "\rcorral: fetching: %zu%% of %u objects, %zu KiB", pct,
                                st->total_objects, st->received_bytes >> 10);
                }
        }
        return 0;
}

/* Opens the mirror, creating it (bare, remote "origin" with the mirror
 * refspecs) the first time. */
static int mirror_open(const char *path, const char *url, git_repository **ret, corral_error *err)
{
        git_repository *repo = NULL;
        if (dir_exists(path) && git_repository_open_bare(&repo, path) == 0) {
                *ret = repo;
                return 0;
        }
        (void)rm_rf(path);
        git_remote *remote = NULL;
        if (git_repository_init(&repo, path, 1) < 0 ||
            git_remote_create_with_fetchspec(&remote, repo, "origin", url,
                                             "+refs/heads/*:refs/heads/*") < 0 ||
            git_remote_add_fetch(repo, "origin", "+refs/tags/*:refs/tags/*") < 0) {
                int r = corral_error_set(err, EX_CANTCREAT, "cannot create the git mirror %s: %s",
                                         path, git_lib_message());
                git_remote_free(remote);
                git_repository_free(repo);
                (void)rm_rf(path);
                return r;
        }
        git_remote_free(remote);
        *ret = repo;
        return 0;
}

static int on_credentials(git_credential **out, const char *url, const char *user,
                          unsigned int allowed, void *payload)
{
        const fetch_state *f = payload;
        return git_auth_credential(out, url, user, allowed, f->auth);
}

static int fetch_error(const fetch_state *f, const char *shown, corral_error *err)
{
        int r = git_auth_error(f->auth, shown, err);
        if (r < 0)
                return r;
        if (f->too_big)
                return corral_error_set(err, EX_DATAERR,
                                        "cannot fetch %s: over %llu bytes received "
                                        "(CORRAL_GIT_MAX_FETCH)",
                                        shown, (unsigned long long)f->max_bytes);
        return corral_error_set(err, EX_UNAVAILABLE, "cannot fetch %s: %s", shown,
                                git_lib_message());
}

/* Connects, records the remote's default branch as the mirror's HEAD,
 * downloads the mirror refspecs (plus extra, e.g. a bare commit id) and
 * updates and prunes the refs. */
static int mirror_fetch(git_repository *repo, const char *url, const char *extra,
                        bool progress, git_auth *auth, corral_error *err)
{
        _cleanup_free_ char *shown = git_url_display(url);
        git_remote *remote = NULL;
        git_auth_reset(auth);
        fetch_state f = {.auth = auth,
                         .max_bytes = git_env_limit("CORRAL_GIT_MAX_FETCH", GIT_DEFAULT_MAX_FETCH),
                         .progress = progress,
                         .last_pct = (size_t)-1};
        git_fetch_options fo;
        (void)git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
        fo.callbacks.transfer_progress = on_transfer;
        fo.callbacks.credentials = on_credentials;
        fo.callbacks.payload = &f;
        fo.prune = GIT_FETCH_PRUNE;
        fo.update_fetchhead = 0;
        fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
        fo.follow_redirects = GIT_REMOTE_REDIRECT_INITIAL;
        git_remote_connect_options co;
        (void)git_remote_connect_options_init(&co, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
        co.callbacks = fo.callbacks;
        co.follow_redirects = fo.follow_redirects;
        git_buf head = GIT_BUF_INIT;
        int r = 0;

        if (git_remote_lookup(&remote, repo, "origin") < 0 ||
            git_remote_set_instance_url(remote, url) < 0)
                return corral_error_set(err, EX_CANTCREAT, "broken git mirror for %s: %s", shown,
                                        git_lib_message());
        if (git_remote_connect_ext(remote, GIT_DIRECTION_FETCH, &co) < 0) {
                r = fetch_error(&f, shown, err);
                goto out;
        }
        char *specs[1] = {(char *)extra};
        git_strarray extra_specs = {.strings = specs, .count = 1};
        if (git_remote_download(remote, extra ? &extra_specs : NULL, &fo) < 0) {
                r = fetch_error(&f, shown, err);
                goto out;
        }
        if (progress && f.last_pct != (size_t)-1)
                fputc('\n', stderr);
        if (git_remote_update_tips(remote, &fo.callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE,
                                   "corral: fetch") < 0 ||
            (!extra && git_remote_prune(remote, &fo.callbacks) < 0)) {
                r = corral_error_set(err, EX_CANTCREAT, "cannot update the mirror of %s: %s",
                                     shown, git_lib_message());
                goto out;
        }
        /* The remote's HEAD, so that later --offline resolves know it too. */
        if (git_remote_default_branch(&head, remote) == 0 &&
            strncmp(head.ptr, "refs/heads/", 11) == 0)
                (void)git_repository_set_head(repo, head.ptr);
out:
        git_buf_dispose(&head);
        if (remote)
                (void)git_remote_disconnect(remote);
        git_remote_free(remote);
        return r;
}

static bool is_full_commit(const char *ref)
{
        if (!ref || strlen(ref) != 40)
                return false;
        for (const char *p = ref; *p; p++)
                if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
                        return false;
        return true;
}

/* ref → commit in the mirror: refs/tags/REF, refs/heads/REF, a full id, or
 * HEAD when ref is NULL.  1 found, 0 not found. */
static int lookup_ref(git_repository *repo, const char *ref, git_oid *ret, char **ret_name)
{
        git_object *obj = NULL;
        if (!ref) {
                git_reference *head = NULL;
                if (git_repository_head(&head, repo) < 0)
                        return 0;
                const char *n = git_reference_name(head);
                *ret_name = xstrdup(strncmp(n, "refs/heads/", 11) == 0 ? n + 11 : n);
                int ok = git_reference_peel(&obj, head, GIT_OBJECT_COMMIT) == 0;
                if (ok)
                        git_oid_cpy(ret, git_object_id(obj));
                git_object_free(obj);
                git_reference_free(head);
                if (!ok) {
                        free(*ret_name);
                        *ret_name = NULL;
                }
                return ok;
        }
        if (is_full_commit(ref)) {
                git_oid id;
                if (git_oid_fromstr(&id, ref) < 0 ||
                    git_object_lookup(&obj, repo, &id, GIT_OBJECT_COMMIT) < 0)
                        return 0;
                git_oid_cpy(ret, &id);
                git_object_free(obj);
                *ret_name = xstrdup(ref);
                return 1;
        }
        static const char *const prefixes[] = {"refs/tags/", "refs/heads/"};
        for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
                _cleanup_free_ char *full = xasprintf("%s%s", prefixes[i], ref);
                git_reference *r = NULL;
                if (git_reference_lookup(&r, repo, full) < 0)
                        continue;
                int ok = git_reference_peel(&obj, r, GIT_OBJECT_COMMIT) == 0;
                if (ok)
                        git_oid_cpy(ret, git_object_id(obj));
                git_object_free(obj);
                git_reference_free(r);
                if (ok) {
                        *ret_name = xstrdup(ref);
                        return 1;
                }
        }
        return 0;
}

int git_source_resolve(const char *url, const char *ref, const git_source_opts *o,
                       git_resolution *ret, corral_error *err)
{
        _cleanup_free_ char *shown = git_url_display(url);
        _cleanup_free_ char *mirror = git_mirror_path(o->cache_dir, url);
        if (ref && strlen(ref) > GIT_MAX_REF)
                return corral_error_set(err, EX_USAGE, "git ref too long");
        int lock = git_mirror_lock(mirror, err);
        if (lock < 0)
                return lock;
        git_lib_open();
        git_repository *repo = NULL;
        git_oid id;
        char *name = NULL;
        int r;

        if (o->offline && !dir_exists(mirror)) {
                r = corral_error_set(err, EX_UNAVAILABLE, "--offline: %s is not in the cache",
                                     shown);
                goto out;
        }
        if ((r = mirror_open(mirror, url, &repo, err)) < 0)
                goto out;
        if (!o->offline && (r = mirror_fetch(repo, url, NULL, o->progress, o->auth, err)) < 0)
                goto out;
        r = lookup_ref(repo, ref, &id, &name);
        if (r == 0 && !o->offline && is_full_commit(ref)) {
                /* A commit no branch or tag reaches: ask for it by id (servers
                 * that allow it, as GitHub does). */
                _cleanup_free_ char *spec = xasprintf("%s:refs/corral/pinned/%s", ref, ref);
                corral_error e2 = {0};
                if (mirror_fetch(repo, url, spec, o->progress, o->auth, &e2) == 0)
                        r = lookup_ref(repo, ref, &id, &name);
        }
        if (r == 0) {
                r = ref ? corral_error_set(err, EX_NOINPUT, "no branch, tag or commit '%s' in %s",
                                           ref, shown)
                        : corral_error_set(err, EX_NOINPUT, "%s has no default branch (HEAD)",
                                           shown);
                goto out;
        }
        git_oid_tostr(ret->commit, sizeof(ret->commit), &id);
        ret->ref = steal_pointer(&name);
        r = 0;
out:
        free(name);
        git_repository_free(repo);
        git_lib_close();
        close(lock);
        return r;
}
