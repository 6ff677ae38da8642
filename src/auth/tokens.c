/* Static API tokens for headless sites (`corral token`).  A token is
 * "corral_<id>_<secret>" with 32 random bytes of secret; only its SHA-256
 * is kept, in tokens.json beside servers/ under the store root (mode 0600,
 * replaced atomically under an flock).  A JSON file rather than SQLite: the
 * state database (src/db/) belongs to the users/audit issue, and a handful
 * of entries read whole on change needs no query engine.
 *
 *   { "version": 1, "tokens": [ { "id": "3f9a…", "user": "ci", "level": "trusted",
 *                                 "sha256": "hex", "created_at": "RFC 3339" } ] } */
#include <ctype.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include "auth/internal.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"

#define TOKENS_FILE_MAX (4u << 20)
#define TOKENS_MAX 10000
#define USER_MAX 128

char *tokens_file(const corral_paths *p)
{
        _cleanup_free_ char *copy = xstrdup(p->servers);
        return path_join(dirname(copy), "tokens.json");
}

void tokens_clear(token_table *t)
{
        for (size_t i = 0; i < t->n; i++) {
                free(t->v[i].id);
                free(t->v[i].user);
                free(t->v[i].created_at);
        }
        free(t->v);
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

/* Parses the file's contents into t (which must be empty). */
static int tokens_parse(const char *file, const char *data, size_t len, token_table *t,
                        corral_error *err)
{
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(data, len);
        const cJSON *arr = j ? cJSON_GetObjectItemCaseSensitive(j, "tokens") : NULL;
        int n;

        if (!cJSON_IsArray(arr) || (n = cJSON_GetArraySize(arr)) > TOKENS_MAX)
                return corral_error_set(err, EX_DATAERR, "%s: not a token file", file);
        t->v = xcalloc((size_t)n + 1, sizeof(*t->v));
        for (const cJSON *e = arr->child; e; e = e->next) {
                token_entry *te = &t->v[t->n];
                const char *id = json_get_string(e, "id"), *user = json_get_string(e, "user");
                const char *lv = json_get_string(e, "level"),
                           *at = json_get_string(e, "created_at");

                if (!id || !user || corral_level_parse(lv, &te->level) < 0 ||
                    hex_decode32(json_get_string(e, "sha256"), te->hash) < 0) {
                        tokens_clear(t);
                        return corral_error_set(err, EX_DATAERR, "%s: malformed entry", file);
                }
                te->id = xstrdup(id);
                te->user = xstrdup(user);
                te->created_at = xstrdup(at ? at : "");
                t->n++;
        }
        t->loaded = true;
        return 0;
}

static int tokens_read(const char *file, token_table *t, corral_error *err)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int rc = read_file(file, TOKENS_FILE_MAX, &data, &len);

        if (rc == -ENOENT) {
                t->loaded = true;
                return 0;
        }
        if (rc < 0)
                return corral_error_errno(err, EX_IOERR, -rc, "cannot read %s", file);
        return tokens_parse(file, data, len, t, err);
}

int tokens_refresh(const char *file, token_table *t, corral_error *err)
{
        struct stat st;
        token_table fresh = {0};
        int rc;

        /* One stat per check: a revoke by the CLI takes effect at once. */
        if (stat(file, &st) < 0) {
                if (errno != ENOENT)
                        return corral_error_errno(err, EX_IOERR, errno, "cannot stat %s", file);
                tokens_clear(t);
                t->loaded = true;
                return 0;
        }
        if (t->loaded && t->ino == st.st_ino && t->size == st.st_size &&
            t->mtime.tv_sec == st.st_mtim.tv_sec && t->mtime.tv_nsec == st.st_mtim.tv_nsec)
                return 0;
        rc = tokens_read(file, &fresh, err);
        if (rc < 0)
                return rc;
        tokens_clear(t);
        *t = fresh;
        t->ino = st.st_ino;
        t->size = st.st_size;
        t->mtime = st.st_mtim;
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

/* ---- the CLI's side ----------------------------------------------------- */

static int lock_open(const char *file, corral_error *err)
{
        _cleanup_free_ char *lock = xasprintf("%s.lock", file);
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

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

static cJSON *table_to_json(const token_table *t, bool with_hash)
{
        cJSON *arr = cJSON_CreateArray();

        for (size_t i = 0; i < t->n; i++) {
                cJSON *e = cJSON_CreateObject();
                (void)cJSON_AddStringToObject(e, "id", t->v[i].id);
                (void)cJSON_AddStringToObject(e, "user", t->v[i].user);
                (void)cJSON_AddStringToObject(e, "level", corral_level_name(t->v[i].level));
                if (with_hash) {
                        char hex[65];
                        for (int k = 0; k < 32; k++)
                                snprintf(hex + 2 * k, 3, "%02x", t->v[i].hash[k]);
                        (void)cJSON_AddStringToObject(e, "sha256", hex);
                }
                (void)cJSON_AddStringToObject(e, "created_at", t->v[i].created_at);
                cJSON_AddItemToArray(arr, e);
        }
        return arr;
}

static int table_write(const char *file, const token_table *t, corral_error *err)
{
        _cleanup_json_ cJSON *doc = cJSON_CreateObject();
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ char *dir = xstrdup(file);

        (void)cJSON_AddNumberToObject(doc, "version", 1);
        cJSON_AddItemToObject(doc, "tokens", table_to_json(t, true));
        text = cJSON_Print(doc);
        (void)mkdir_p(dirname(dir), 0755);
        if (write_file_atomic(file, text, strlen(text), 0600) < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot write %s", file);
        return 0;
}

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

int auth_token_create(const corral_paths *p, const char *user, corral_level level, char **ret_token,
                      char **ret_id, corral_error *err)
{
        _cleanup_free_ char *file = tokens_file(p);
        _cleanup_close_ int lock = -1;
        unsigned char idraw[6], secret[32];
        char id[13], sec[48];
        token_table t = {0};
        token_entry *e;
        char *token;
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        int rc;

        if (!user_ok(user))
                return corral_error_set(err, EX_USAGE,
                                        "user name must be 1-%d of A-Z a-z 0-9 . _ @ -", USER_MAX);
        if (RAND_bytes(idraw, sizeof(idraw)) != 1 || RAND_bytes(secret, sizeof(secret)) != 1)
                return corral_error_set(err, EX_SOFTWARE, "no random bytes from OpenSSL");
        for (size_t i = 0; i < sizeof(idraw); i++)
                snprintf(id + 2 * i, 3, "%02x", idraw[i]);
        b64url(secret, sizeof(secret), sec);
        OPENSSL_cleanse(secret, sizeof(secret));
        token = xasprintf("corral_%s_%s", id, sec);
        OPENSSL_cleanse(sec, sizeof(sec));

        lock = lock_open(file, err);
        if (lock < 0) {
                OPENSSL_cleanse(token, strlen(token));
                free(token);
                return lock;
        }
        rc = tokens_read(file, &t, err);
        if (rc < 0 || t.n >= TOKENS_MAX) {
                tokens_clear(&t);
                OPENSSL_cleanse(token, strlen(token));
                free(token);
                return rc < 0 ? rc
                              : corral_error_set(err, EX_CANTCREAT, "%s: too many tokens", file);
        }
        t.v = xrealloc(t.v, (t.n + 1) * sizeof(*t.v));
        e = &t.v[t.n++];
        memset(e, 0, sizeof(*e));
        e->id = xstrdup(id);
        e->user = xstrdup(user);
        e->level = level;
        (void)gmtime_r(&now, &tm);
        (void)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        e->created_at = xstrdup(stamp);
        sha256(token, e->hash);
        rc = table_write(file, &t, err);
        tokens_clear(&t);
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

int auth_token_list(const corral_paths *p, cJSON **ret, corral_error *err)
{
        _cleanup_free_ char *file = tokens_file(p);
        token_table t = {0};
        int rc = tokens_read(file, &t, err);

        if (rc < 0)
                return rc;
        *ret = table_to_json(&t, false);
        tokens_clear(&t);
        return 0;
}

int auth_token_revoke(const corral_paths *p, const char *id, corral_error *err)
{
        _cleanup_free_ char *file = tokens_file(p);
        _cleanup_close_ int lock = lock_open(file, err);
        token_table t = {0};
        size_t i;
        int rc;

        if (lock < 0)
                return lock;
        rc = tokens_read(file, &t, err);
        if (rc < 0)
                return rc;
        for (i = 0; i < t.n; i++)
                if (strcmp(t.v[i].id, id) == 0)
                        break;
        if (i == t.n) {
                tokens_clear(&t);
                return corral_error_set(err, EX_NOINPUT, "no token with id '%s'", id);
        }
        free(t.v[i].id);
        free(t.v[i].user);
        free(t.v[i].created_at);
        memmove(&t.v[i], &t.v[i + 1], (t.n - i - 1) * sizeof(*t.v));
        t.n--;
        rc = table_write(file, &t, err);
        tokens_clear(&t);
        return rc;
}

int auth_token_check(const corral_paths *p, const char *token, char **ret_user,
                     corral_level *ret_level, char **ret_id, corral_error *err)
{
        _cleanup_free_ char *file = tokens_file(p);
        token_table t = {0};
        const token_entry *e;
        int rc = tokens_read(file, &t, err);

        if (rc < 0)
                return rc;
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
