/* The OAuth client's token store (include/corral/oauth_client.h): one file
 * per (server, local user), oauth/UID/NAME.json beside servers/, so that
 * tokens survive `corral update` (which replaces servers/NAME) and each user
 * authorizes for themself.  servers/NAME/oauth.json, where tokens lived
 * before, is still read for the store's own user and moved on the next
 * save. */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/oauth_client.h"
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

cJSON *oauth_state_load(const corral_paths *paths, const char *name, uid_t uid)
{
        _cleanup_free_ char *p = NULL, *legacy = NULL;
        bool missing = false;
        cJSON *j;

        if (uid == (uid_t)-1)
                return NULL;
        p = remote_token_path(paths, name, uid);
        j = load_file(p, &missing);
        if (j || !missing || uid != geteuid())
                return j;
        legacy = legacy_path(paths, name);
        return load_file(legacy, NULL);
}

int oauth_state_save(const corral_paths *paths, const char *name, uid_t uid, const cJSON *state,
                     corral_error *err)
{
        _cleanup_free_ char *p = NULL, *top = NULL, *dir = NULL, *text = NULL, *legacy = NULL;
        int r;

        if (uid == (uid_t)-1)
                return corral_error_set(err, EX_NOUSER, "%s has an owner with no user id", name);
        p = remote_token_path(paths, name, uid);
        top = store_top(paths);
        dir = xasprintf("%s/" TOKEN_DIR, top);
        /* oauth/ lets each user reach their own directory, which is theirs alone. */
        if (mkdir(dir, 0711) < 0 && errno != EEXIST)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot create %s", dir);
        free(dir);
        dir = xasprintf("%s/" TOKEN_DIR "/%u", top, (unsigned)uid);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return corral_error_errno(err, errno == EACCES ? EX_NOPERM : EX_CANTCREAT, errno,
                                          "cannot create %s", dir);
        text = json_print(state);
        r = write_file_atomic(p, text, strlen(text), 0600);
        if (r < 0)
                return corral_error_errno(err, r == -EACCES ? EX_NOPERM : EX_CANTCREAT, -r,
                                          "cannot write %s", p);
        legacy = legacy_path(paths, name);
        (void)unlink(legacy);
        return 0;
}

int oauth_state_forget(const corral_paths *paths, const char *name, uid_t uid, corral_error *err)
{
        _cleanup_free_ char *p = remote_token_path(paths, name, uid);
        _cleanup_free_ char *legacy = legacy_path(paths, name);

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
        DIR *d = opendir(dir);
        struct dirent *e;

        if (!d)
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

void oauth_set_str(cJSON *o, const char *key, const char *v)
{
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        if (v)
                cJSON_AddStringToObject(o, key, v);
}
