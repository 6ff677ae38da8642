/* Checking a commit out of its mirror into staging: the tree is inspected
 * first (caps, escaping symlinks, submodules, LFS), then written with
 * filters disabled.  Submodules are fetched only when asked, and only from
 * https:// and git:// URLs. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "corral/fs.h"
#include "corral/git.h"
#include "git_internal.h"

#define MAX_LINK_TARGET 4096
#define MAX_GITMODULES (64u << 10)

typedef struct tree_scan {
        git_repository *repo;
        git_odb *odb;
        uint64_t max_bytes, max_entries;
        uint64_t bytes, entries;
        char **gitlinks;      /* paths of submodule entries */
        git_oid *gitlink_ids; /* their recorded commits */
        size_t n_gitlinks;
        bool lfs;
        corral_error *err;
        int rc;
} tree_scan;

/* Does target, a symlink in directory dir ("a/b/" or ""), stay inside the
 * tree?  Lexical: ".." may not climb above the top. */
static bool link_stays_inside(const char *dir, const char *target)
{
        if (target[0] == '/' || !target[0])
                return false;
        long depth = 0;
        for (const char *p = dir; *p; p++)
                if (*p == '/')
                        depth++;
        for (const char *c = target; *c;) {
                size_t n = strcspn(c, "/");
                if (n == 2 && c[0] == '.' && c[1] == '.')
                        depth--;
                else if (n > 0 && !(n == 1 && c[0] == '.'))
                        depth++;
                if (depth < 0)
                        return false;
                c += n;
                while (*c == '/')
                        c++;
        }
        return true;
}

static int read_blob(git_repository *repo, const git_oid *id, size_t max, char **ret,
                     size_t *ret_len)
{
        git_blob *b = NULL;
        if (git_blob_lookup(&b, repo, id) < 0)
                return -1;
        git_object_size_t n = git_blob_rawsize(b);
        if (n > max) {
                git_blob_free(b);
                return -1;
        }
        *ret = xstrndup(git_blob_rawcontent(b), (size_t)n);
        *ret_len = (size_t)n;
        git_blob_free(b);
        return 0;
}

static int scan_entry(const char *root, const git_tree_entry *e, void *payload)
{
        tree_scan *s = payload;
        const char *name = git_tree_entry_name(e);
        const git_oid *id = git_tree_entry_id(e);
        git_filemode_t mode = git_tree_entry_filemode(e);

        if (++s->entries > s->max_entries) {
                s->rc = corral_error_set(s->err, EX_DATAERR,
                                         "the tree has over %llu entries (CORRAL_GIT_MAX_ENTRIES)",
                                         (unsigned long long)s->max_entries);
                return -1;
        }
        if (mode == GIT_FILEMODE_COMMIT) {
                if (s->n_gitlinks >= GIT_MAX_SUBMODULES) {
                        s->rc = corral_error_set(s->err, EX_DATAERR,
                                                 "the tree has over %d submodules",
                                                 GIT_MAX_SUBMODULES);
                        return -1;
                }
                s->gitlinks = xrealloc(s->gitlinks, (s->n_gitlinks + 1) * sizeof(*s->gitlinks));
                s->gitlink_ids =
                        xrealloc(s->gitlink_ids, (s->n_gitlinks + 1) * sizeof(*s->gitlink_ids));
                s->gitlinks[s->n_gitlinks] = xasprintf("%s%s", root, name);
                git_oid_cpy(&s->gitlink_ids[s->n_gitlinks], id);
                s->n_gitlinks++;
                return 0;
        }
        if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE &&
            mode != GIT_FILEMODE_LINK)
                return 0;
        size_t len = 0;
        git_object_t type;
        if (git_odb_read_header(&len, &type, s->odb, id) < 0) {
                s->rc = corral_error_set(s->err, EX_DATAERR, "%s%s: %s", root, name,
                                         git_lib_message());
                return -1;
        }
        s->bytes += len;
        if (s->bytes > s->max_bytes) {
                s->rc = corral_error_set(s->err, EX_DATAERR,
                                         "the tree is over %llu bytes at %s%s "
                                         "(CORRAL_GIT_MAX_CHECKOUT)",
                                         (unsigned long long)s->max_bytes, root, name);
                return -1;
        }
        if (mode == GIT_FILEMODE_LINK) {
                _cleanup_free_ char *target = NULL;
                size_t tlen = 0;
                if (read_blob(s->repo, id, MAX_LINK_TARGET, &target, &tlen) < 0 ||
                    strlen(target) != tlen || !link_stays_inside(root, target)) {
                        s->rc = corral_error_set(s->err, EX_DATAERR,
                                                 "symlink %s%s points outside the repository "
                                                 "(-> %.200s); refusing to install it",
                                                 root, name, target ? target : "?");
                        return -1;
                }
        } else if (strcmp(name, ".gitattributes") == 0 && len < (1u << 20)) {
                _cleanup_free_ char *text = NULL;
                size_t tlen = 0;
                if (read_blob(s->repo, id, 1u << 20, &text, &tlen) == 0 &&
                    strstr(text, "filter=lfs"))
                        s->lfs = true;
        }
        return 0;
}

static void scan_done(tree_scan *s)
{
        for (size_t i = 0; i < s->n_gitlinks; i++)
                free(s->gitlinks[i]);
        free(s->gitlinks);
        free(s->gitlink_ids);
}

/* A submodule URL made absolute against the superproject's URL when
 * relative ("../x.git"), then allowed only as https:// or git://.  Owned, or
 * NULL when refused. */
static char *submodule_url(const char *super, const char *url)
{
        char *abs = NULL;
        if (strncmp(url, "./", 2) == 0 || strncmp(url, "../", 3) == 0) {
                _cleanup_free_ char *base = xstrdup(super);
                size_t n = strlen(base);
                while (n > 0 && base[n - 1] == '/')
                        base[--n] = '\0';
                const char *rest = url;
                for (;;) {
                        if (strncmp(rest, "./", 2) == 0) {
                                rest += 2;
                        } else if (strncmp(rest, "../", 3) == 0) {
                                char *slash = strrchr(base, '/');
                                const char *hostpart = strstr(base, "://");
                                if (!slash || !hostpart || slash < hostpart + 3 ||
                                    !strchr(hostpart + 3, '/'))
                                        return NULL;
                                *slash = '\0';
                                rest += 3;
                        } else {
                                break;
                        }
                }
                abs = xasprintf("%s/%s", base, rest);
        } else {
                abs = xstrdup(url);
        }
        if (strncmp(abs, "https://", 8) != 0 && strncmp(abs, "git://", 6) != 0) {
                free(abs);
                return NULL;
        }
        for (const char *p = abs; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f) {
                        free(abs);
                        return NULL;
                }
        return abs;
}

typedef struct gm_lookup {
        const char *path;
        char *name; /* owned once found */
} gm_lookup;

/* The URL recorded in .gitmodules (text, len bytes) for the submodule at
 * path; tmpdir holds the temporary copy git_config reads. */
static int gitmodules_url(const char *text, size_t len, const char *path, const char *tmpdir,
                          char **ret, corral_error *err)
{
        if (!text)
                return corral_error_set(err, EX_DATAERR,
                                        "submodule %s is not described in .gitmodules", path);
        _cleanup_free_ char *file = path_join(tmpdir, ".corral-gitmodules");
        int r = write_file_atomic(file, text, len, 0600);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot write %s", file);
        git_config *cfg = NULL;
        git_config_iterator *it = NULL;
        git_config_entry *ce;
        char *found = NULL;
        if (git_config_open_ondisk(&cfg, file) == 0 &&
            git_config_iterator_glob_new(&it, cfg, "^submodule\\..*\\.path$") == 0) {
                while (!found && git_config_next(&ce, it) == 0) {
                        if (strcmp(ce->value, path) != 0)
                                continue;
                        size_t nl = strlen(ce->name);
                        _cleanup_free_ char *key =
                                xasprintf("%.*s.url", (int)(nl - strlen(".path")), ce->name);
                        git_buf b = GIT_BUF_INIT;
                        if (git_config_get_string_buf(&b, cfg, key) == 0)
                                found = xstrdup(b.ptr);
                        git_buf_dispose(&b);
                }
        }
        git_config_iterator_free(it);
        git_config_free(cfg);
        (void)unlink(file);
        if (!found)
                return corral_error_set(err, EX_DATAERR, "submodule %s has no URL in .gitmodules",
                                        path);
        *ret = found;
        return 0;
}

static int checkout_at(const char *url, const char *commit, const char *dest,
                       const git_source_opts *o, unsigned depth, corral_error *err);

static int fetch_submodules(const char *url, const char *gitmodules, size_t gm_len,
                            const tree_scan *s, const char *dest, const git_source_opts *o,
                            unsigned depth, corral_error *err)
{
        if (!o->submodules) {
                fprintf(stderr, "corral: install: submodules not fetched (pass --submodules):");
                for (size_t i = 0; i < s->n_gitlinks; i++)
                        fprintf(stderr, " %s", s->gitlinks[i]);
                fputc('\n', stderr);
                return 0;
        }
        if (depth >= GIT_MAX_DEPTH)
                return corral_error_set(err, EX_DATAERR, "submodules nested over %d deep",
                                        GIT_MAX_DEPTH);
        /* Every URL is checked before anything is fetched. */
        char **urls = xcalloc(s->n_gitlinks + 1, sizeof(*urls));
        int r = 0;
        for (size_t i = 0; r >= 0 && i < s->n_gitlinks; i++) {
                _cleanup_free_ char *raw = NULL;
                r = gitmodules_url(gitmodules, gm_len, s->gitlinks[i], dest, &raw, err);
                if (r < 0)
                        break;
                urls[i] = submodule_url(url, raw);
                if (!urls[i])
                        r = corral_error_set(err, EX_DATAERR,
                                             "submodule %s: URL '%.200s' refused (only https:// "
                                             "and git:// submodules are fetched)",
                                             s->gitlinks[i], raw);
        }
        for (size_t i = 0; r >= 0 && i < s->n_gitlinks; i++) {
                char hex[41];
                git_oid_tostr(hex, sizeof(hex), &s->gitlink_ids[i]);
                git_resolution res = {0};
                r = git_source_resolve(urls[i], hex, o, &res, err);
                free(res.ref);
                if (r < 0) {
                        corral_error_prefix(err, "submodule %s", s->gitlinks[i]);
                        break;
                }
                _cleanup_free_ char *sub = path_join(dest, s->gitlinks[i]);
                (void)rmdir(sub);
                r = checkout_at(urls[i], hex, sub, o, depth + 1, err);
        }
        strv_free(urls);
        return r;
}

static int checkout_at(const char *url, const char *commit, const char *dest,
                       const git_source_opts *o, unsigned depth, corral_error *err)
{
        _cleanup_free_ char *shown = git_url_display(url);
        _cleanup_free_ char *mirror = git_mirror_path(o->cache_dir, url);
        if (path_exists(dest))
                return corral_error_set(err, EX_SOFTWARE, "%s already exists", dest);
        int lock = git_mirror_lock(mirror, err);
        if (lock < 0)
                return lock;
        git_lib_open();
        git_repository *repo = NULL;
        git_commit *c = NULL;
        git_tree *tree = NULL;
        git_oid id;
        char *gitmodules = NULL;
        size_t gm_len = 0;
        tree_scan s = {.max_bytes = git_env_limit("CORRAL_GIT_MAX_CHECKOUT",
                                                  GIT_DEFAULT_MAX_CHECKOUT),
                       .max_entries = git_env_limit("CORRAL_GIT_MAX_ENTRIES",
                                                    GIT_DEFAULT_MAX_ENTRIES),
                       .err = err};
        int r = 0;

        if (git_repository_open_bare(&repo, mirror) < 0 || git_oid_fromstr(&id, commit) < 0 ||
            git_commit_lookup(&c, repo, &id) < 0 || git_commit_tree(&tree, c) < 0) {
                r = corral_error_set(err, EX_NOINPUT, "commit %s of %s is not in the cache: %s",
                                     commit, shown, git_lib_message());
                goto out;
        }
        s.repo = repo;
        if (git_repository_odb(&s.odb, repo) < 0) {
                r = corral_error_set(err, EX_SOFTWARE, "%s: %s", shown, git_lib_message());
                goto out;
        }
        if (git_tree_walk(tree, GIT_TREEWALK_PRE, scan_entry, &s) < 0) {
                r = s.rc < 0 ? s.rc
                             : corral_error_set(err, EX_DATAERR, "cannot read the tree of %s: %s",
                                                shown, git_lib_message());
                goto out;
        }
        if ((r = mkdir_p(dest, 0755)) < 0) {
                r = corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s", dest);
                goto out;
        }
        git_checkout_options co;
        (void)git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
        co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX |
                               GIT_CHECKOUT_DONT_WRITE_INDEX;
        co.disable_filters = 1;
        co.dir_mode = 0755;
        /* In memory only (no gitlink, no config written): checkout looks up
         * submodules, which libgit2 refuses in a bare repository even with
         * a target directory. */
        if (git_repository_set_workdir(repo, dest, 0) < 0 ||
            git_checkout_tree(repo, (git_object *)tree, &co) < 0) {
                r = corral_error_set(err, EX_CANTCREAT, "cannot check out %s at %s: %s", shown,
                                     commit, git_lib_message());
                goto out;
        }
        if (s.lfs)
                fprintf(stderr, "corral: install: %s uses Git LFS; LFS files are left as "
                                "pointer files\n",
                        shown);
        if (s.n_gitlinks > 0) {
                git_tree_entry *e = NULL;
                if (git_tree_entry_bypath(&e, tree, ".gitmodules") == 0 &&
                    read_blob(repo, git_tree_entry_id(e), MAX_GITMODULES, &gitmodules, &gm_len) < 0)
                        r = corral_error_set(err, EX_DATAERR,
                                             ".gitmodules of %s is unreadable or too big", shown);
                git_tree_entry_free(e);
        }
out:
        git_odb_free(s.odb);
        s.odb = NULL;
        git_tree_free(tree);
        git_commit_free(c);
        git_repository_free(repo);
        git_lib_close();
        /* Submodules are handled without this mirror's lock: one that names
         * its own repository (or a cycle) must not wait on it forever. */
        close(lock);
        if (r >= 0 && s.n_gitlinks > 0)
                r = fetch_submodules(url, gitmodules, gm_len, &s, dest, o, depth, err);
        scan_done(&s);
        free(gitmodules);
        return r;
}

int git_source_checkout(const char *url, const char *commit, const char *dest,
                        const git_source_opts *o, corral_error *err)
{
        return checkout_at(url, commit, dest, o, 0, err);
}
