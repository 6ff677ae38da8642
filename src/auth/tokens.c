/* Static API tokens for headless sites (`corral token`).  A token is
 * "corral_<id>_<secret>" with 32 random bytes of secret; only its SHA-256
 * is kept, in the state database's api_tokens table (schema 3,
 * include/corral/state.h), written by the daemon while it runs
 * (src/control_state.c) and by the CLI only when no daemon runs
 * (src/cli/state_route.c).
 *
 * tokens.json beside servers/ is the file of earlier versions:
 *   { "version": 1, "tokens": [ { "id": "3f9a…", "user": "ci", "level": "trusted",
 *                                 "sha256": "hex", "created_at": "RFC 3339" } ] }
 * It is only read, by the import (auth_tokens_import()), and removed once
 * its rows are committed.
 *
 * The HTTP verifier keeps the rows in memory (token_table) and reads them
 * again when PRAGMA data_version says another connection committed, or the
 * file was replaced: one stat and one pragma per check, so a revoke takes
 * effect at the next request and a new token works without a reload. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "auth/internal.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"

#define TOKENS_FILE_MAX (4u << 20)
#define TOKENS_MAX 10000
#define USER_MAX 128
/* The verifier runs on the daemon's loop: it waits this long at most for
 * another process's lock, then keeps the rows it read last. */
#define TOKENS_BUSY_MS 5
#define TOKENS_WARN_EVERY_S 10

char *auth_tokens_file(const corral_paths *p)
{
        _cleanup_free_ char *copy = xstrdup(p->servers);
        return path_join(dirname(copy), "tokens.json");
}

static void entries_clear(token_table *t)
{
        for (size_t i = 0; i < t->n; i++) {
                free(t->v[i].id);
                free(t->v[i].user);
                free(t->v[i].created_at);
        }
        free(t->v);
        t->v = NULL;
        t->n = 0;
}

void tokens_clear(token_table *t)
{
        entries_clear(t);
        t->db = state_close(t->db);
        free(t->why);
        memset(t, 0, sizeof(*t));
}

static int hex_decode32(const char *hex, unsigned char out[32])
{
        if (!hex || strlen(hex) != 64)
                return -1;
        for (int i = 0; i < 32; i++) {
                unsigned v;
                if (!isxdigit((unsigned char)hex[2 * i]) ||
                    !isxdigit((unsigned char)hex[2 * i + 1]) || sscanf(hex + 2 * i, "%2x", &v) != 1)
                        return -1;
                out[i] = (unsigned char)v;
        }
        return 0;
}

static void hex_encode32(const unsigned char in[32], char out[65])
{
        for (int k = 0; k < 32; k++)
                snprintf(out + 2 * k, 3, "%02x", in[k]);
}

/* Rows [{id, user, level, sha256, created_at}] → entries of t (empty).  A
 * malformed row is left out: it can match no token. */
static void entries_from_rows(token_table *t, const cJSON *rows)
{
        int n = cJSON_GetArraySize(rows);

        t->v = xcalloc((size_t)n + 1, sizeof(*t->v));
        for (const cJSON *e = rows ? rows->child : NULL; e; e = e->next) {
                token_entry *te = &t->v[t->n];
                const char *id = json_get_string(e, "id"), *user = json_get_string(e, "user");
                const char *at = json_get_string(e, "created_at");

                if (!id || !user || corral_level_parse(json_get_string(e, "level"), &te->level) < 0 ||
                    hex_decode32(json_get_string(e, "sha256"), te->hash) < 0)
                        continue;
                te->id = xstrdup(id);
                te->user = xstrdup(user);
                te->created_at = xstrdup(at ? at : "");
                t->n++;
        }
}

/* A read that failed: the rows read last stay (said in the log at most
 * every TOKENS_WARN_EVERY_S), or, when there are none yet, the failure. */
static int keep_last(token_table *t, int r, corral_error *err)
{
        time_t now = time(NULL);

        t->db = state_close(t->db);
        if (!t->loaded)
                return r;
        if (!t->why || strcmp(t->why, err->msg) != 0 || now - t->warned >= TOKENS_WARN_EVERY_S) {
                log_warn("auth: keeping the %zu API token(s) read last: %s", t->n, err->msg);
                free(t->why);
                t->why = xstrdup(err->msg);
                t->warned = now;
        }
        corral_error_clear(err);
        return 0;
}

int tokens_refresh(const char *path, token_table *t, corral_error *err)
{
        _cleanup_json_ cJSON *rows = NULL;
        struct stat st;
        int64_t v;
        int r;

        if (stat(path, &st) < 0) {
                if (errno != ENOENT)
                        return keep_last(t, corral_error_errno(err, EX_IOERR, errno,
                                                               "cannot stat %s", path),
                                         err);
                /* No database: no token was ever made. */
                entries_clear(t);
                t->db = state_close(t->db);
                t->loaded = true;
                return 0;
        }
        /* Replaced or restored under us: read the file that is there now. */
        if (t->db && t->ino != st.st_ino)
                t->db = state_close(t->db);
        /* A connection opened on a file older than schema 3 (the daemon
         * migrates it at its start) is opened again to see the table. */
        if (t->db && state_schema_version(t->db) < 3)
                t->db = state_close(t->db);
        if (t->db) {
                v = state_data_version(t->db);
                if (v >= 0 && t->loaded && v == t->version)
                        return 0;
        }
        if (!t->db) {
                r = state_open_busy(&t->db, path, true, TOKENS_BUSY_MS, err);
                if (r < 0)
                        return keep_last(t, r, err);
                t->ino = st.st_ino;
        }
        /* Taken before the rows: a commit in between is read again next time. */
        v = state_data_version(t->db);
        if (v < 0)
                return keep_last(t, corral_error_set(err, EX_IOERR, "%s: cannot read it", path),
                                 err);
        r = state_api_token_list(t->db, &rows, err);
        if (r < 0)
                return keep_last(t, r, err);
        entries_clear(t);
        entries_from_rows(t, rows);
        t->version = v;
        t->loaded = true;
        if (t->why) {
                log_info("auth: API tokens read again (%zu)", t->n);
                free(t->why);
                t->why = NULL;
        }
        return 0;
}

static void sha256(const char *s, unsigned char out[32])
{
        (void)SHA256((const unsigned char *)s, strlen(s), out);
}

const token_entry *tokens_lookup(const token_table *t, const char *token)
{
        unsigned char h[32];
        const token_entry *found = NULL;

        sha256(token, h);
        /* Every entry compared, in constant time each: neither the position
         * nor a common prefix shows in the timing. */
        for (size_t i = 0; i < t->n; i++)
                if (CRYPTO_memcmp(h, t->v[i].hash, sizeof(h)) == 0)
                        found = &t->v[i];
        OPENSSL_cleanse(h, sizeof(h));
        return found;
}

/* ---- the import of tokens.json ------------------------------------------ */

/* Parses the old file's contents into rows [{id, user, level, sha256,
 * created_at}] (owned). */
static int file_parse(const char *file, const char *data, size_t len, cJSON **ret,
                      corral_error *err)
{
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(data, len);
        const cJSON *arr = j ? cJSON_GetObjectItemCaseSensitive(j, "tokens") : NULL;
        cJSON *rows;

        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > TOKENS_MAX)
                return corral_error_set(err, EX_DATAERR, "%s: not a token file", file);
        rows = cJSON_CreateArray();
        for (const cJSON *e = arr->child; e; e = e->next) {
                unsigned char h[32];
                corral_level lv;
                const char *at = json_get_string(e, "created_at");
                cJSON *o;

                if (!json_get_string(e, "id") || !json_get_string(e, "user") ||
                    corral_level_parse(json_get_string(e, "level"), &lv) < 0 ||
                    hex_decode32(json_get_string(e, "sha256"), h) < 0) {
                        cJSON_Delete(rows);
                        return corral_error_set(err, EX_DATAERR, "%s: malformed entry", file);
                }
                o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "id", json_get_string(e, "id"));
                cJSON_AddStringToObject(o, "user", json_get_string(e, "user"));
                cJSON_AddStringToObject(o, "level", corral_level_name(lv));
                cJSON_AddStringToObject(o, "sha256", json_get_string(e, "sha256"));
                cJSON_AddStringToObject(o, "created_at", at ? at : "");
                cJSON_AddItemToArray(rows, o);
        }
        *ret = rows;
        return 0;
}

int auth_tokens_import(const corral_paths *p, state_db *db, unsigned *ret_n, corral_error *err)
{
        _cleanup_free_ char *file = auth_tokens_file(p);
        _cleanup_free_ char *lock = xasprintf("%s.lock", file);
        _cleanup_free_ char *data = NULL;
        _cleanup_json_ cJSON *rows = NULL;
        _cleanup_close_ int fd = -1;
        size_t len = 0;
        unsigned n = 0;
        int rc;

        if (ret_n)
                *ret_n = 0;
        if (!path_exists(file))
                return 0;
        /* An older corral's `corral token` held this while it wrote. */
        fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0)
                while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
                        ;
        rc = read_file(file, TOKENS_FILE_MAX, &data, &len);
        if (rc == -ENOENT)
                return 0;
        if (rc < 0)
                return corral_error_errno(err, EX_IOERR, -rc, "cannot read %s", file);
        if ((rc = file_parse(file, data, len, &rows, err)) < 0)
                return rc;
        for (const cJSON *e = rows->child; e; e = e->next) {
                state_api_token t = {
                        .id = json_get_string(e, "id"),
                        .user = json_get_string(e, "user"),
                        .level = json_get_string(e, "level"),
                        .sha256 = json_get_string(e, "sha256"),
                        .created_at = json_get_string(e, "created_at"),
                };
                /* One already there (a half-done import) is left as it is. */
                if ((rc = state_api_token_add(db, &t, false, err)) < 0)
                        return rc;
                n++;
        }
        /* Every row is committed: the file goes (its lock file with it). */
        if (unlink(file) < 0 && errno != ENOENT)
                return corral_error_errno(err, EX_IOERR, errno, "cannot remove %s", file);
        (void)unlink(lock);
        if (ret_n)
                *ret_n = n;
        return 0;
}

/* ---- create, list, revoke ---------------------------------------------- */

static bool user_ok(const char *u)
{
        size_t n = u ? strlen(u) : 0;

        if (n == 0 || n > USER_MAX)
                return false;
        for (; *u; u++)
                if (!isalnum((unsigned char)*u) && !strchr("._@-", *u))
                        return false;
        return true;
}

static void b64url(const unsigned char *in, size_t n, char *out)
{
        int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

        for (int i = 0; i < len; i++)
                out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
        while (len > 0 && out[len - 1] == '=')
                out[--len] = '\0';
}

int auth_token_create_in(state_db *db, const char *user, corral_level level, char **ret_token,
                         char **ret_id, corral_error *err)
{
        _cleanup_json_ cJSON *rows = NULL;
        unsigned char idraw[6], secret[32], h[32];
        char id[13], sec[48], hex[65], stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        char *token;
        int rc;

        if (!user_ok(user))
                return corral_error_set(err, EX_USAGE,
                                        "user name must be 1-%d of A-Z a-z 0-9 . _ @ -", USER_MAX);
        if ((rc = state_api_token_list(db, &rows, err)) < 0)
                return rc;
        if (cJSON_GetArraySize(rows) >= TOKENS_MAX)
                return corral_error_set(err, EX_CANTCREAT, "too many tokens (at most %d)",
                                        TOKENS_MAX);
        if (RAND_bytes(idraw, sizeof(idraw)) != 1 || RAND_bytes(secret, sizeof(secret)) != 1)
                return corral_error_set(err, EX_SOFTWARE, "no random bytes from OpenSSL");
        for (size_t i = 0; i < sizeof(idraw); i++)
                snprintf(id + 2 * i, 3, "%02x", idraw[i]);
        b64url(secret, sizeof(secret), sec);
        OPENSSL_cleanse(secret, sizeof(secret));
        token = xasprintf("corral_%s_%s", id, sec);
        OPENSSL_cleanse(sec, sizeof(sec));
        sha256(token, h);
        hex_encode32(h, hex);
        (void)gmtime_r(&now, &tm);
        (void)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        {
                state_api_token t = {.id = id,
                                     .user = user,
                                     .level = corral_level_name(level),
                                     .sha256 = hex,
                                     .created_at = stamp};
                rc = state_api_token_add(db, &t, true, err);
        }
        if (rc < 0) {
                OPENSSL_cleanse(token, strlen(token));
                free(token);
                return rc;
        }
        *ret_token = token;
        if (ret_id)
                *ret_id = xstrdup(id);
        return 0;
}

int auth_token_list_in(state_db *db, cJSON **ret, corral_error *err)
{
        cJSON *rows = NULL;
        int rc = state_api_token_list(db, &rows, err);

        if (rc < 0)
                return rc;
        for (cJSON *e = rows->child; e; e = e->next)
                cJSON_DeleteItemFromObjectCaseSensitive(e, "sha256");
        *ret = rows;
        return 0;
}

int auth_token_revoke_in(state_db *db, const char *id, corral_error *err)
{
        int n = 0, rc = state_api_token_remove(db, id, &n, err);

        if (rc < 0)
                return rc;
        if (n == 0)
                return corral_error_set(err, EX_NOINPUT, "no token with id '%s'", id);
        return 0;
}

/* ---- the same on a store's database, opened here (no daemon runs) ------ */

/* The store's database, read-write, with tokens.json imported. */
static int open_store_db(const corral_paths *p, state_db **ret, corral_error *err)
{
        _cleanup_free_ char *path = state_path(p);
        int rc = state_open(ret, path, false, err);

        if (rc < 0)
                return rc;
        if ((rc = auth_tokens_import(p, *ret, NULL, err)) < 0)
                *ret = state_close(*ret);
        return rc;
}

int auth_token_create(const corral_paths *p, const char *user, corral_level level, char **ret_token,
                      char **ret_id, corral_error *err)
{
        state_db *db = NULL;
        int rc;

        if (!user_ok(user))
                return corral_error_set(err, EX_USAGE,
                                        "user name must be 1-%d of A-Z a-z 0-9 . _ @ -", USER_MAX);
        if ((rc = open_store_db(p, &db, err)) < 0)
                return rc;
        rc = auth_token_create_in(db, user, level, ret_token, ret_id, err);
        state_close(db);
        return rc;
}

int auth_token_list(const corral_paths *p, cJSON **ret, corral_error *err)
{
        state_db *db = NULL;
        int rc;

        if ((rc = open_store_db(p, &db, err)) < 0)
                return rc;
        rc = auth_token_list_in(db, ret, err);
        state_close(db);
        return rc;
}

int auth_token_revoke(const corral_paths *p, const char *id, corral_error *err)
{
        state_db *db = NULL;
        int rc;

        if ((rc = open_store_db(p, &db, err)) < 0)
                return rc;
        rc = auth_token_revoke_in(db, id, err);
        state_close(db);
        return rc;
}

int auth_token_check(const corral_paths *p, const char *token, char **ret_user,
                     corral_level *ret_level, char **ret_id, corral_error *err)
{
        _cleanup_free_ char *path = state_path(p);
        token_table t = {0};
        const token_entry *e;
        int rc = tokens_refresh(path, &t, err);

        if (rc < 0) {
                tokens_clear(&t);
                return rc;
        }
        e = tokens_lookup(&t, token);
        if (!e) {
                tokens_clear(&t);
                return corral_error_set(err, EX_NOPERM, "unknown or revoked API token");
        }
        *ret_user = xstrdup(e->user);
        *ret_level = e->level;
        if (ret_id)
                *ret_id = xstrdup(e->id);
        tokens_clear(&t);
        return 0;
}
