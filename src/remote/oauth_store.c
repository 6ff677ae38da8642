/* The OAuth client's token store (include/corral/oauth_client.h): one row
 * per (local user, server) in the state database (include/corral/state.h,
 * schema 3, state.db beside servers/, 0600), so that tokens survive
 * `corral update` (which replaces servers/NAME), each user authorizes for
 * themself, and the daemon can write a user's tokens for them (a user cannot
 * write the system store).  The files of earlier versions —
 * oauth/UID/NAME.json, and servers/NAME/oauth.json for the store's own user
 * — are still read while they are there, imported by the daemon at its
 * start (oauth_state_import()) and removed once their row is committed. */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/oauth_client.h"
#include "corral/spec.h"
#include "corral/state.h"
#include "remote/oauth_internal.h"

#define TOKEN_DIR "oauth"

/* The directory that holds servers/ (and oauth/): the store's top. */
static char *store_top(const corral_paths *p)
{
        char *top = xstrdup(p->servers);
        size_t n = strlen(top);
        char *slash;

        while (n > 1 && top[n - 1] == '/')
                top[--n] = '\0';
        slash = strrchr(top, '/');
        if (slash && slash != top)
                *slash = '\0';
        return top;
}

char *remote_token_path(const corral_paths *p, const char *unit, uid_t uid)
{
        _cleanup_free_ char *top = store_top(p);

        return xasprintf("%s/" TOKEN_DIR "/%u/%s.json", top, (unsigned)uid, unit);
}

uid_t remote_token_uid(const manifest *m)
{
        const char *o = m ? m->owner : NULL;
        char *end = NULL;
        unsigned long n;

        if (!o || !*o)
                return geteuid();
        n = strtoul(o, &end, 10);
        if (end && !*end && n < (uid_t)-1)
                return (uid_t)n;
        {
                /* A name: issue 15's owners.  Looked up at a unit's start. */
                struct passwd pw, *res = NULL;
                char buf[4096];
                if (getpwnam_r(o, &pw, buf, sizeof(buf), &res) == 0 && res)
                        return res->pw_uid;
        }
        return (uid_t)-1; /* an owner that does not exist has no tokens */
}

static char *legacy_path(const corral_paths *paths, const char *name)
{
        _cleanup_free_ char *dir = paths_server_dir(paths, name);
        return path_join(dir, OAUTH_FILE);
}

/* The JSON object in p, owned; NULL, with *missing when p does not exist. */
static cJSON *load_file(const char *p, bool *missing)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        cJSON *j;
        int r = read_file(p, OAUTH_DOC_MAX, &data, &len);

        if (missing)
                *missing = r == -ENOENT;
        if (r < 0)
                return NULL;
        j = cJSON_ParseWithLength(data, len);
        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

/* The state database of the store at paths, opened read-only (-EX_NOINPUT
 * when it is not there) or read-write (created and migrated); errors as
 * state_open(). */
static int db_open(const corral_paths *paths, bool readonly, state_db **ret, corral_error *err)
{
        _cleanup_free_ char *path = state_path(paths);

        *ret = NULL;
        if (readonly && !path_exists(path))
                return -EX_NOINPUT;
        return state_open(ret, path, readonly, err);
}

static cJSON *parse_state(const char *text)
{
        cJSON *j = text ? cJSON_Parse(text) : NULL;

        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

/* The files of earlier versions for (name, uid): the per-user file, and
 * the legacy one for the store's own user. */
static cJSON *load_files(const corral_paths *paths, const char *name, uid_t uid)
{
        _cleanup_free_ char *p = remote_token_path(paths, name, uid), *legacy = NULL;
        bool missing = false;
        cJSON *j = load_file(p, &missing);

        if (j || !missing || uid != geteuid())
                return j;
        legacy = legacy_path(paths, name);
        return load_file(legacy, NULL);
}

static void unlink_files(const corral_paths *paths, const char *name, uid_t uid)
{
        _cleanup_free_ char *p = remote_token_path(paths, name, uid);
        _cleanup_free_ char *legacy = legacy_path(paths, name);

        (void)unlink(p);
        if (uid == geteuid())
                (void)unlink(legacy);
}

cJSON *oauth_state_load(const corral_paths *paths, const char *name, uid_t uid)
{
        state_db *db = NULL;
        _cleanup_free_ char *text = NULL;
        corral_error e = {0};
        int r;

        if (uid == (uid_t)-1)
                return NULL;
        r = db_open(paths, true, &db, &e);
        if (r == 0) {
                r = state_oauth_get(db, uid, name, &text, &e);
                db = state_close(db);
                if (text)
                        return parse_state(text);
        }
        /* Never silent (a unit would wait for an authorization it has);
         * a user who may not read the database has no rows there. */
        if (r < 0 && r != -EX_NOINPUT && r != -EX_NOPERM)
                log_warn("oauth: tokens of %s: %s", name, e.msg);
        /* Not in the database: a file not imported yet. */
        return load_files(paths, name, uid);
}

int oauth_state_save(const corral_paths *paths, const char *name, uid_t uid, const cJSON *state,
                     corral_error *err)
{
        _cleanup_free_ char *text = NULL;
        state_db *db;
        int r;

        if (uid == (uid_t)-1)
                return corral_error_set(err, EX_NOUSER, "%s has an owner with no user id", name);
        if ((r = db_open(paths, false, &db, err)) < 0)
                return r;
        text = json_print(state);
        r = state_oauth_put(db, uid, name, text, true, NULL, err);
        db = state_close(db);
        if (r < 0)
                return r;
        /* The row is committed: a file of an earlier version is stale now. */
        unlink_files(paths, name, uid);
        return 0;
}

int oauth_state_forget(const corral_paths *paths, const char *name, uid_t uid, corral_error *err)
{
        _cleanup_free_ char *dbp = state_path(paths);
        _cleanup_free_ char *p = remote_token_path(paths, name, uid);
        _cleanup_free_ char *legacy = legacy_path(paths, name);

        if (path_exists(dbp)) {
                state_db *db = NULL;
                int r = db_open(paths, false, &db, err);
                if (r < 0)
                        return r;
                r = state_oauth_delete(db, uid, name, err);
                db = state_close(db);
                if (r < 0)
                        return r;
        }
        if (unlink(p) < 0 && errno != ENOENT)
                return corral_error_errno(err, EX_IOERR, errno, "cannot remove %s", p);
        if (uid == geteuid() && unlink(legacy) < 0 && errno != ENOENT && errno != ENOTDIR)
                return corral_error_errno(err, EX_IOERR, errno, "cannot remove %s", legacy);
        return 0;
}

void oauth_state_forget_all(const corral_paths *paths, const char *name)
{
        _cleanup_free_ char *top = store_top(paths);
        _cleanup_free_ char *dir = xasprintf("%s/" TOKEN_DIR, top);
        _cleanup_free_ char *dbp = state_path(paths);
        DIR *d;
        struct dirent *e;

        if (path_exists(dbp)) {
                state_db *db = NULL;
                if (db_open(paths, false, &db, NULL) == 0)
                        (void)state_oauth_delete(db, (uid_t)-1, name, NULL);
                state_close(db);
        }
        if (!(d = opendir(dir)))
                return;
        while ((e = readdir(d))) {
                char *end = NULL;
                unsigned long uid = strtoul(e->d_name, &end, 10);
                if (e->d_name[0] < '0' || e->d_name[0] > '9' || !end || *end)
                        continue;
                (void)oauth_state_forget(paths, name, (uid_t)uid, NULL);
        }
        closedir(d);
}

/* Imports one file for (name, uid): the row added unless one is there, the
 * file removed once the row is committed.  1 imported, 0 skipped, < 0. */
static int import_file(state_db *db, const char *file, const char *name, uid_t uid,
                       corral_error *err)
{
        _cleanup_json_ cJSON *j = load_file(file, NULL);
        _cleanup_free_ char *text = NULL;
        bool added = false;
        int r;

        if (!j || !server_name_valid(name))
                return 0; /* unreadable or not ours: left where it is */
        text = json_print(j);
        if ((r = state_oauth_put(db, uid, name, text, false, &added, err)) < 0)
                return r;
        if (unlink(file) < 0 && errno != ENOENT)
                log_warn("oauth: cannot remove %s after importing it: %s", file, strerror(errno));
        return added;
}

int oauth_state_import(const corral_paths *paths, unsigned *ret_n, corral_error *err)
{
        _cleanup_free_ char *top = store_top(paths);
        _cleanup_free_ char *dir = xasprintf("%s/" TOKEN_DIR, top);
        state_db *db = NULL;
        unsigned n = 0;
        int r = 0;
        DIR *d;
        struct dirent *e;

        *ret_n = 0;
        /* oauth/UID/NAME.json */
        if ((d = opendir(dir))) {
                while (r >= 0 && (e = readdir(d))) {
                        char *end = NULL;
                        unsigned long uid = strtoul(e->d_name, &end, 10);
                        _cleanup_free_ char *udir = NULL;
                        DIR *ud;
                        struct dirent *f;

                        if (e->d_name[0] < '0' || e->d_name[0] > '9' || !end || *end ||
                            uid >= (uid_t)-1)
                                continue;
                        udir = path_join(dir, e->d_name);
                        if (!(ud = opendir(udir)))
                                continue;
                        while (r >= 0 && (f = readdir(ud))) {
                                size_t len = strlen(f->d_name);
                                _cleanup_free_ char *name = NULL, *file = NULL;
                                if (len <= 5 || strcmp(f->d_name + len - 5, ".json") != 0)
                                        continue;
                                if (!db && (r = db_open(paths, false, &db, err)) < 0)
                                        break;
                                name = xstrndup(f->d_name, len - 5);
                                file = path_join(udir, f->d_name);
                                r = import_file(db, file, name, (uid_t)uid, err);
                                n += r > 0;
                        }
                        closedir(ud);
                        (void)rmdir(udir); /* when empty */
                }
                closedir(d);
                (void)rmdir(dir);
        }
        /* servers/NAME/oauth.json of the versions before: the store's user's. */
        if (r >= 0 && (d = opendir(paths->servers))) {
                while (r >= 0 && (e = readdir(d))) {
                        _cleanup_free_ char *file = NULL;
                        if (e->d_name[0] == '.' || !server_name_valid(e->d_name))
                                continue;
                        file = legacy_path(paths, e->d_name);
                        if (!path_exists(file))
                                continue;
                        if (!db && (r = db_open(paths, false, &db, err)) < 0)
                                break;
                        r = import_file(db, file, e->d_name, geteuid(), err);
                        n += r > 0;
                }
                closedir(d);
        }
        state_close(db);
        *ret_n = n;
        return r < 0 ? r : 0;
}

void oauth_set_str(cJSON *o, const char *key, const char *v)
{
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        if (v)
                cJSON_AddStringToObject(o, key, v);
}
