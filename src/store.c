/* The store of installed servers: atomic installs through staging dirs and
 * rename(2), one writer at a time (flock on servers/.lock). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "corral/fs.h"
#include "corral/log.h"
#include "corral/spec.h"
#include "corral/store.h"
#include "corral/jsonutil.h"
#include "corral/users.h"

#define STAGING_LOCK ".lock"
#define MAX_SERVERS 100000
#define MAX_DEPTH 256

static int flock_retry(int fd, int op)
{
        for (;;) {
                if (flock(fd, op) == 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

static int open_store_lock(const store *s)
{
        _cleanup_free_ char *path = path_join(s->paths.servers, ".lock");
        return open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
}

int store_lock(store *s, corral_error *err)
{
        if (s->lock_depth > 0) {
                s->lock_depth++;
                return 0;
        }
        _cleanup_close_ int fd = open_store_lock(s);
        if (fd < 0)
                return corral_error_errno(err, errno == EACCES ? EX_NOPERM : EX_CANTCREAT, errno,
                                          "cannot open the store lock in %s", s->paths.servers);
        int r = flock_retry(fd, LOCK_EX);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot lock the store");
        s->lock_fd = steal_fd(&fd);
        s->lock_depth = 1;
        return 0;
}

void store_unlock(store *s)
{
        if (!s || s->lock_depth == 0)
                return;
        if (--s->lock_depth == 0) {
                closep(&s->lock_fd);
                s->lock_fd = -1;
        }
}

/* Creates and flocks <dir>/.lock: the mark of a staging dir in use. */
static int staging_lock_create(const char *dir)
{
        _cleanup_free_ char *path = path_join(dir, STAGING_LOCK);
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        int r = flock_retry(fd, LOCK_EX | LOCK_NB);
        if (r < 0)
                return r;
        return steal_fd(&fd);
}

/* Whether a staging entry belongs to a live install: its .lock is flocked.
 * Entries without a lock file are leftovers (they are only ever created and
 * locked under the store lock, which the caller holds). */
static bool staging_entry_live(int staging_fd, const char *name)
{
        _cleanup_free_ char *lock = path_join(name, STAGING_LOCK);
        _cleanup_close_ int fd = openat(staging_fd, lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return false;
        return flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

/* Removes staging leftovers of installs and removals that died.  Skipped
 * (until the next run) while another process holds the store lock. */
static void clean_staging(store *s)
{
        _cleanup_close_ int lock = open_store_lock(s);
        if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0)
                return;

        _cleanup_close_ int sfd = open(s->paths.staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sfd < 0)
                return;
        int dfd = fcntl(sfd, F_DUPFD_CLOEXEC, 3);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (staging_entry_live(sfd, de->d_name))
                        continue;
                _cleanup_free_ char *path = path_join(s->paths.staging, de->d_name);
                int r = rm_rf(path);
                if (r < 0)
                        log_warn("cannot remove staging leftover %s: %s", path, strerror(-r));
                else
                        log_debug("removed staging leftover %s", path);
        }
        closedir(d);
}

void store_sweep_staging(store *s)
{
        clean_staging(s);
}

int store_open(store **ret, const char *root, corral_error *err)
{
        store *s = xcalloc(1, sizeof(*s));
        s->lock_fd = -1;
        int r = paths_init(&s->paths, root, err);
        if (r < 0) {
                free(s);
                return r;
        }
        r = paths_ensure(&s->paths, err);
        if (r < 0) {
                store_free(s);
                return r;
        }
        clean_staging(s);
        *ret = s;
        return 0;
}

static void drop_staged(store *s, size_t i)
{
        closep(&s->staged[i].lock_fd);
        free(s->staged[i].dir);
        s->staged[i] = s->staged[--s->n_staged];
}

static ssize_t find_staged(const store *s, const char *dir)
{
        for (size_t i = 0; i < s->n_staged; i++)
                if (strcmp(s->staged[i].dir, dir) == 0)
                        return (ssize_t)i;
        return -1;
}

store *store_free(store *s)
{
        if (!s)
                return NULL;
        while (s->n_staged > 0) {
                (void)rm_rf(s->staged[s->n_staged - 1].dir);
                drop_staged(s, s->n_staged - 1);
        }
        free(s->staged);
        closep(&s->lock_fd);
        paths_done(&s->paths);
        free(s);
        return NULL;
}

/* A fresh, locked staging dir named NAME.XXXXXX, tracked in s->staged. */
static int stage_dir(store *s, const char *name, char **ret_dir, corral_error *err)
{
        int r = store_lock(s, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = xasprintf("%s/%s.XXXXXX", s->paths.staging, name);
        if (!mkdtemp(dir)) {
                r = corral_error_errno(err, EX_CANTCREAT, errno,
                                       "cannot create a staging dir in %s", s->paths.staging);
                store_unlock(s);
                return r;
        }
        int fd = staging_lock_create(dir);
        if (fd < 0) {
                r = corral_error_errno(err, EX_CANTCREAT, -fd, "cannot lock staging dir %s", dir);
                (void)rm_rf(dir);
                store_unlock(s);
                return r;
        }
        s->staged = xrealloc(s->staged, (s->n_staged + 1) * sizeof(*s->staged));
        s->staged[s->n_staged++] = (store_staged){.dir = xstrdup(dir), .lock_fd = fd};
        store_unlock(s);
        *ret_dir = steal_pointer(&dir);
        return 0;
}

static int invalid_name(corral_error *err, const char *name)
{
        return corral_error_set(err, EX_USAGE,
                                "invalid server name '%.64s': use 1 to 48 lower-case letters, "
                                "digits and '-', starting with a letter or digit",
                                name ? name : "");
}

int store_stage(store *s, const char *name, char **ret_dir, corral_error *err)
{
        s->pkg_modes_checked = false;
        if (!server_name_valid(name))
                return invalid_name(err, name);
        return stage_dir(s, name, ret_dir, err);
}

/* Code under pkg/ is the server's to read, never to write: files 0644 or
 * 0755 (any exec bit kept), directories 0755, whatever the fetcher left. */
static int normalise_modes(int dirfd_, const char *where, unsigned depth, corral_error *err)
{
        if (depth > MAX_DEPTH)
                return corral_error_set(err, EX_DATAERR, "%s: directories nested too deep", where);
        int dfd = fcntl(dirfd_, F_DUPFD_CLOEXEC, 3);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                int e = errno;
                if (dfd >= 0)
                        close(dfd);
                return corral_error_errno(err, EX_IOERR, e, "cannot read %s", where);
        }
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                struct stat st;
                if (fstatat(dirfd_, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = corral_error_errno(err, EX_IOERR, errno, "cannot stat %s/%s", where,
                                               de->d_name);
                } else if (S_ISDIR(st.st_mode)) {
                        if (fchmodat(dirfd_, de->d_name, 0755, 0) < 0) {
                                r = corral_error_errno(err, EX_IOERR, errno, "cannot chmod %s/%s",
                                                       where, de->d_name);
                                break;
                        }
                        _cleanup_close_ int sub =
                                openat(dirfd_, de->d_name,
                                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        _cleanup_free_ char *subpath = path_join(where, de->d_name);
                        if (sub < 0)
                                r = corral_error_errno(err, EX_IOERR, errno, "cannot open %s",
                                                       subpath);
                        else
                                r = normalise_modes(sub, subpath, depth + 1, err);
                } else if (S_ISREG(st.st_mode)) {
                        mode_t mode = (st.st_mode & 0111) ? 0755 : 0644;
                        if ((st.st_mode & 07777) != mode &&
                            fchmodat(dirfd_, de->d_name, mode, 0) < 0)
                                r = corral_error_errno(err, EX_IOERR, errno, "cannot chmod %s/%s",
                                                       where, de->d_name);
                } else if (!S_ISLNK(st.st_mode)) {
                        r = corral_error_set(err, EX_DATAERR,
                                             "%s/%s is a device, fifo or socket; refusing to "
                                             "install it",
                                             where, de->d_name);
                }
        }
        closedir(d);
        return r;
}

static void fsync_dir(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                (void)fsync(fd);
}

static bool streq_null(const char *a, const char *b)
{
        return a == b || (a && b && strcmp(a, b) == 0);
}

int store_may_change(const store *s, const manifest *m, corral_error *err)
{
        if (s->as_user && !m->owner)
                return corral_error_set(err, EX_NOPERM,
                                        "'%s' is a global server: only an admin may change it",
                                        m->name);
        return 0;
}

/* The owner recorded in servers/NAME/manifest.json (owned; NULL global).
 * *ret_exists says whether there is such a server at all. */
static char *installed_owner(store *s, const char *name, bool *ret_exists)
{
        _cleanup_free_ char *path = paths_manifest(&s->paths, name);
        manifest *m = NULL;
        char *owner;

        *ret_exists = false;
        if (manifest_load(&m, path, NULL) < 0) {
                _cleanup_free_ char *dir = paths_server_dir(&s->paths, name);
                *ret_exists = dir_exists(dir);
                return NULL;
        }
        *ret_exists = true;
        owner = m->owner ? xstrdup(m->owner) : NULL;
        manifest_free(m);
        return owner;
}

/* m with owner (a copy through its JSON form: every field, one code path). */
static int manifest_with_owner(const manifest *m, const char *owner, manifest **ret,
                               corral_error *err)
{
        _cleanup_json_ cJSON *j = manifest_to_json(m);
        _cleanup_free_ char *text = NULL;

        json_set(j, "owner", owner ? cJSON_CreateString(owner) : cJSON_CreateNull());
        text = json_print(j);
        return manifest_parse(ret, text, strlen(text), err);
}

static int already_installed(corral_error *err, const char *name)
{
        return corral_error_set(err, EX_CANTCREAT,
                                "server '%s' is already installed (use --force to replace it)",
                                name);
}

/* Moves staging into place as target.  replace swaps with an existing target
 * and leaves the old server at staging for the caller to remove. */
static int activate(const char *staging, const char *target, const char *name, bool replace,
                    bool *ret_swapped, corral_error *err)
{
        *ret_swapped = false;
        if (replace) {
                if (renameat2(AT_FDCWD, staging, AT_FDCWD, target, RENAME_EXCHANGE) == 0) {
                        *ret_swapped = true;
                        return 0;
                }
                if (errno != ENOENT && errno != EINVAL && errno != ENOSYS)
                        return corral_error_errno(err, EX_CANTCREAT, errno, "cannot replace %s",
                                                  target);
                if (errno != ENOENT && path_exists(target)) {
                        /* No RENAME_EXCHANGE on this filesystem: two renames,
                         * with a short window where the server is absent. */
                        _cleanup_free_ char *aside = xasprintf("%s.old", staging);
                        if (rename(target, aside) < 0)
                                return corral_error_errno(err, EX_CANTCREAT, errno,
                                                          "cannot move %s aside", target);
                        if (rename(staging, target) < 0) {
                                int e = errno;
                                (void)rename(aside, target);
                                return corral_error_errno(err, EX_CANTCREAT, e, "cannot install %s",
                                                          target);
                        }
                        if (rename(aside, staging) < 0)
                                (void)rm_rf(aside);
                        *ret_swapped = true;
                        return 0;
                }
        }
        if (renameat2(AT_FDCWD, staging, AT_FDCWD, target, RENAME_NOREPLACE) == 0)
                return 0;
        if (errno == EEXIST || errno == ENOTEMPTY)
                return already_installed(err, name);
        if (errno != EINVAL && errno != ENOSYS)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot install %s", target);
        if (path_exists(target))
                return already_installed(err, name);
        if (rename(staging, target) < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot install %s", target);
        return 0;
}

int store_commit(store *s, const char *staging_dir, const manifest *m, bool replace,
                 corral_error *err)
{
        if (!server_name_valid(m->name))
                return invalid_name(err, m->name);
        ssize_t idx = find_staged(s, staging_dir);
        if (idx < 0)
                return corral_error_set(err, EX_SOFTWARE, "%s is not a staging dir of this store",
                                        staging_dir);
        int r = store_lock(s, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *pkg = path_join(staging_dir, "pkg");
        _cleanup_free_ char *mpath = path_join(staging_dir, "manifest.json");
        _cleanup_free_ char *lock = path_join(staging_dir, STAGING_LOCK);
        _cleanup_free_ char *target = paths_server_dir(&s->paths, m->name);
        _cleanup_free_ char *data = paths_data_dir(&s->paths, m->name);
        bool swapped = false;
        _cleanup_close_ int pfd = -1;

        /* Ownership (issue 15): a user's install is theirs; replacing keeps
         * the owner an admin's reinstall does not name. */
        bool exists = false;
        _cleanup_free_ char *old_owner = installed_owner(s, m->name, &exists);
        const char *owner = s->as_user ? s->as_user : m->owner ? m->owner : old_owner;
        manifest *owned = NULL;
        if (exists && s->as_user && !users_owner_matches(old_owner, s->as_user)) {
                r = corral_error_set(err, EX_CANTCREAT,
                                     "the name '%s' is taken on this system: choose another "
                                     "with --name",
                                     m->name);
                goto out;
        }
        if (exists && s->as_user && !old_owner) {
                r = corral_error_set(err, EX_NOPERM,
                                     "'%s' is a global server: only an admin may replace it",
                                     m->name);
                goto out;
        }
        if (!streq_null(owner, m->owner)) {
                r = manifest_with_owner(m, owner, &owned, err);
                if (r < 0)
                        goto out;
                m = owned;
        }

        pfd = open(pkg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (pfd >= 0) {
                /* The npm resolver checks modes as it links (unpacked.c). */
                if (!s->pkg_modes_checked)
                        r = normalise_modes(pfd, pkg, 0, err);
                if (r >= 0 && fchmod(pfd, 0755) < 0)
                        r = corral_error_errno(err, EX_IOERR, errno, "cannot chmod %s", pkg);
                if (r < 0)
                        goto out;
        }
        r = manifest_save(m, mpath, err);
        if (r < 0)
                goto out;
        r = mkdir_p(data, 0755);
        if (r < 0) {
                r = corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s", data);
                goto out;
        }
        /* mkdtemp made it 0700; the installed dir is world-readable like pkg/. */
        if (chmod(staging_dir, 0755) < 0) {
                r = corral_error_errno(err, EX_IOERR, errno, "cannot chmod %s", staging_dir);
                goto out;
        }
        /* The lock file must not travel into servers/NAME; the store lock
         * covers the dir from here to the rename. */
        (void)unlink(lock);
        r = activate(staging_dir, target, m->name, replace, &swapped, err);
        if (r < 0) {
                int fd = staging_lock_create(staging_dir);
                if (fd >= 0) {
                        closep(&s->staged[idx].lock_fd);
                        s->staged[idx].lock_fd = fd;
                }
                goto out;
        }
        fsync_dir(s->paths.servers);
        if (swapped) {
                int q = rm_rf(staging_dir);
                if (q < 0)
                        log_warn("cannot remove the replaced server in %s: %s", staging_dir,
                                 strerror(-q));
        }
        drop_staged(s, (size_t)idx);
        r = 0;
out:
        s->pkg_modes_checked = false;
        manifest_free(owned);
        store_unlock(s);
        return r;
}

void store_abort(store *s, const char *staging_dir)
{
        if (!s || !staging_dir)
                return;
        s->pkg_modes_checked = false;
        ssize_t idx = find_staged(s, staging_dir);
        if (idx < 0)
                return;
        int r = rm_rf(staging_dir);
        if (r < 0)
                log_warn("cannot remove staging dir %s: %s", staging_dir, strerror(-r));
        drop_staged(s, (size_t)idx);
}

int store_load(store *s, const char *name, manifest **ret, corral_error *err)
{
        if (!server_name_valid(name))
                return invalid_name(err, name);
        _cleanup_free_ char *dir = paths_server_dir(&s->paths, name);
        _cleanup_free_ char *path = paths_manifest(&s->paths, name);
        struct stat st;
        if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return corral_error_set(err, EX_NOINPUT, "no such server '%s'", name);

        manifest *m = NULL;
        int r = manifest_load(&m, path, err);
        if (r == -EX_NOINPUT) {
                corral_error_clear(err);
                return corral_error_set(err, EX_DATAERR, "server '%s': manifest.json is missing",
                                        name);
        }
        if (r < 0) {
                corral_error_prefix(err, "server '%s'", name);
                return r;
        }
        if (strcmp(m->name, name) != 0) {
                r = corral_error_set(err, EX_DATAERR,
                                     "server '%s': invalid manifest: name: '%s' does not match "
                                     "its directory",
                                     name, m->name);
                manifest_free(m);
                return r;
        }
        if (s->as_user && !users_owner_matches(m->owner, s->as_user)) {
                manifest_free(m);
                return corral_error_set(err, EX_NOINPUT, "no such server '%s'", name);
        }
        *ret = m;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_list(store *s, char ***ret_names, corral_error *err)
{
        _cleanup_close_ int fd = open(s->paths.servers, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT)
                return corral_error_errno(err, EX_IOERR, errno, "cannot read %s", s->paths.servers);
        _cleanup_strv_ char **names = xcalloc(1, sizeof(char *));
        size_t n = 0;
        if (fd >= 0) {
                int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
                if (!d) {
                        int e = errno;
                        if (dfd >= 0)
                                close(dfd);
                        return corral_error_errno(err, EX_IOERR, e, "cannot read %s",
                                                  s->paths.servers);
                }
                struct dirent *de;
                while ((de = readdir(d))) {
                        struct stat st;
                        if (de->d_name[0] == '.' || !server_name_valid(de->d_name))
                                continue;
                        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                            !S_ISDIR(st.st_mode))
                                continue;
                        if (n >= MAX_SERVERS) {
                                closedir(d);
                                return corral_error_set(err, EX_DATAERR,
                                                        "more than %d servers in %s", MAX_SERVERS,
                                                        s->paths.servers);
                        }
                        names = xrealloc(names, (n + 2) * sizeof(char *));
                        names[n++] = xstrdup(de->d_name);
                        names[n] = NULL;
                }
                closedir(d);
        }
        qsort(names, n, sizeof(char *), cmp_str);
        if (s->as_user) {
                /* Other users' servers do not exist for this one. */
                size_t w = 0;
                for (size_t i = 0; i < n; i++) {
                        bool exists;
                        _cleanup_free_ char *owner = installed_owner(s, names[i], &exists);
                        if (users_owner_matches(owner, s->as_user))
                                names[w++] = names[i];
                        else
                                free(names[i]);
                }
                names[w] = NULL;
        }
        *ret_names = steal_pointer(&names);
        return 0;
}

int store_owned_by(store *s, const char *user, const char *except, unsigned *ret_count,
                   unsigned *ret_memory_mb, corral_error *err)
{
        const char *as = s->as_user;
        _cleanup_strv_ char **names = NULL;
        unsigned count = 0, memory = 0;
        int r;

        s->as_user = NULL;
        r = store_list(s, &names, err);
        s->as_user = as;
        if (r < 0)
                return r;
        for (size_t i = 0; names[i]; i++) {
                _cleanup_free_ char *path = paths_manifest(&s->paths, names[i]);
                manifest *m = NULL;
                if ((except && strcmp(names[i], except) == 0) ||
                    manifest_load(&m, path, NULL) < 0)
                        continue;
                if (m->owner && user && strcmp(m->owner, user) == 0) {
                        count++;
                        memory += m->memory_mb;
                }
                manifest_free(m);
        }
        *ret_count = count;
        *ret_memory_mb = memory;
        return 0;
}

int store_set_enabled(store *s, const char *name, bool enabled, corral_error *err)
{
        int r = store_lock(s, err);
        if (r < 0)
                return r;
        manifest *m = NULL;
        r = store_load(s, name, &m, err);
        if (r >= 0)
                r = store_may_change(s, m, err);
        if (r >= 0 && m->enabled != enabled) {
                _cleanup_free_ char *path = paths_manifest(&s->paths, name);
                m->enabled = enabled;
                r = manifest_save(m, path, err);
        }
        manifest_free(m);
        store_unlock(s);
        return r < 0 ? r : 0;
}

int store_remove(store *s, const char *name, bool purge, corral_error *err)
{
        if (!server_name_valid(name))
                return invalid_name(err, name);
        int r = store_lock(s, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *dir = paths_server_dir(&s->paths, name);
        _cleanup_free_ char *tmp = NULL, *victim = NULL;
        struct stat st;
        if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                r = corral_error_set(err, EX_NOINPUT, "no such server '%s'", name);
                goto out;
        }
        if (s->as_user) {
                bool exists;
                _cleanup_free_ char *owner = installed_owner(s, name, &exists);
                if (!users_owner_matches(owner, s->as_user)) {
                        r = corral_error_set(err, EX_NOINPUT, "no such server '%s'", name);
                        goto out;
                }
                if (!owner) {
                        r = corral_error_set(err, EX_NOPERM,
                                             "'%s' is a global server: only an admin may "
                                             "uninstall it",
                                             name);
                        goto out;
                }
        }
        r = stage_dir(s, name, &tmp, err);
        if (r < 0)
                goto out;
        victim = path_join(tmp, "server");
        if (rename(dir, victim) < 0) {
                r = corral_error_errno(err, errno == EACCES ? EX_NOPERM : EX_CANTCREAT, errno,
                                       "cannot remove %s", dir);
                store_abort(s, tmp);
                goto out;
        }
        fsync_dir(s->paths.servers);
        store_abort(s, tmp);
        if (purge) {
                _cleanup_free_ char *data = paths_data_dir(&s->paths, name);
                int q = rm_rf(data);
                if (q < 0) {
                        r = corral_error_errno(err, EX_IOERR, -q,
                                               "removed '%s' but not its data %s", name, data);
                        goto out;
                }
        }
        r = 0;
out:
        store_unlock(s);
        return r;
}
