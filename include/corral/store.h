/* The store of installed servers (DESIGN.md, "Paths" and "Layout").
 * Installs are atomic: code is fetched into a staging dir, the manifest written
 * there, and the dir renamed into servers/NAME; a crash at any point leaves
 * either the old state or the new one, and staging leftovers are removed at the
 * next store_open().  Writers hold an exclusive flock on <servers>/.lock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "corral/error.h"
#include "corral/manifest.h"
#include "corral/paths.h"

/* A staging dir of this process and the fd holding the flock on its .lock
 * file, which tells store_open() in other processes that it is live. */
typedef struct store_staged {
        char *dir;
        int lock_fd;
} store_staged;

typedef struct store {
        corral_paths paths;
        int lock_fd; /* -1 when not locked */
        unsigned lock_depth; /* nested store_lock() calls */
        store_staged *staged; /* live staging dirs; removed by store_free() */
        size_t n_staged;
        /* The running install's additions to the download cache (resolvers
         * record them; include/corral/cache.h); NULL outside an install. */
        struct cache_txn *cache_txn;
        /* The user this store is opened for (issue 15, include/corral/users.h;
         * borrowed, NULL: unrestricted, as root or the store's owner).  With
         * it, servers owned by another user do not exist: store_load and
         * store_remove answer -EX_NOINPUT "no such server", store_list leaves
         * them out, and store_commit writes this user as the owner (a name
         * held by someone else's server fails with -EX_CANTCREAT "taken"). */
        const char *as_user;
        /* Set by a resolver that left every file it put under the staging
         * dir's pkg/ 0644 or 0755 and every directory 0755 (the npm
         * resolver, linking checked cache entries): store_commit() then
         * skips its own pass over pkg/.  Cleared by store_stage(),
         * store_commit() and store_abort(). */
        bool pkg_modes_checked;
} store;

/* Resolves paths (see paths_init()), creates the directories, and removes
 * staging leftovers not locked by a live install.  *ret owned; store_free(). */
int store_open(store **ret, const char *root, corral_error *err);
store *store_free(store *s);
/* Removes the staging leftovers no live install holds (their .lock not
 * flocked), as store_open() does: after an install killed midway. */
void store_sweep_staging(store *s);

/* Takes the store's write lock (blocking).  0 or -EX_CANTCREAT.  Calls
 * nest: the lock is released by the matching last store_unlock().  The
 * writers below take it themselves when the caller does not hold it. */
int store_lock(store *s, corral_error *err);
void store_unlock(store *s);

/* Creates a fresh staging dir for an install of NAME; returns its path (owned).
 * The caller fills <dir>/pkg/ and calls store_commit() or store_abort(). */
int store_stage(store *s, const char *name, char **ret_dir, corral_error *err);
/* Writes m to <staging>/manifest.json and renames the staging dir to
 * servers/<m->name>.  With replace, an existing server is swapped out
 * atomically (RENAME_EXCHANGE) and then removed; without it an existing name
 * fails with -EX_CANTCREAT ("already installed").  Creates data/NAME. */
int store_commit(store *s, const char *staging_dir, const manifest *m, bool replace,
                 corral_error *err);
/* The servers user owns (s->as_user's rules do not apply), not counting
 * except (may be NULL): their number and the sum of their memory_mb, for
 * quotas.  0 or store_list()'s errors. */
int store_owned_by(store *s, const char *user, const char *except, unsigned *ret_count,
                   unsigned *ret_memory_mb, corral_error *err);
/* Removes a staging dir (after a failed install).  Staging dirs neither
 * committed nor aborted are removed by store_free(). */
void store_abort(store *s, const char *staging_dir);

/* Loads servers/NAME/manifest.json.  -EX_NOINPUT when NAME is not installed,
 * -EX_USAGE for an invalid name, -EX_DATAERR for a malformed manifest. */
int store_load(store *s, const char *name, manifest **ret, corral_error *err);
/* Whether s->as_user may change m (enable, disable, access, mount, update,
 * reset): a global server is an admin's.  0 or -EX_NOPERM. */
int store_may_change(const store *s, const manifest *m, corral_error *err);
/* Sorted names of installed servers (NULL-terminated, owned; strv_free()). */
int store_list(store *s, char ***ret_names, corral_error *err);
/* Rewrites the manifest's "enabled" atomically. */
int store_set_enabled(store *s, const char *name, bool enabled, corral_error *err);
/* Removes servers/NAME (renamed into staging first, so it vanishes atomically).
 * Data under data/NAME is kept unless purge. */
int store_remove(store *s, const char *name, bool purge, corral_error *err);
