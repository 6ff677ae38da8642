/* Tokens in the state database (include/corral/state.h, schema 3): the
 * OAuth state of remote servers per local user, and the hashes of
 * `corral token`'s HTTP tokens.  Prepared statements, one transaction per
 * write. */
#include <string.h>
#include <time.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "state/internal.h"

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One statement in its own transaction; *ret_changes the rows it changed. */
static int write_one(state_db *s, sqlite3_stmt *st, const char *what, int *ret_changes,
                     corral_error *err)
{
        int rc, r;

        if ((r = state_exec(s, "BEGIN IMMEDIATE", err)) < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE && ret_changes)
                *ret_changes = sqlite3_changes(s->db);
        r = rc == SQLITE_DONE ? 0 : state_db_error(s, err, rc, what);
        if (r == 0)
                return state_exec(s, "COMMIT", err);
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

int state_oauth_get(state_db *s, uid_t uid, const char *server, char **ret, corral_error *err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        *ret = NULL;
        if (s->version < 3)
                return 0;
        rc = sqlite3_prepare_v2(s->db, "SELECT state FROM oauth_tokens WHERE uid = ?1 AND server = ?2",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
                (void)sqlite3_bind_int64(st, 1, (int64_t)uid);
                state_bind_text(st, 2, server);
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) {
                        const char *v = (const char *)sqlite3_column_text(st, 0);
                        *ret = v ? xstrdup(v) : NULL;
                        rc = SQLITE_DONE;
                }
        }
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : state_db_error(s, err, rc, "reading OAuth tokens");
}

int state_oauth_put(state_db *s, uid_t uid, const char *server, const char *state, bool replace,
                    bool *ret_added, corral_error *err)
{
        sqlite3_stmt *st = NULL;
        int rc, r, n = 0;

        if (ret_added)
                *ret_added = false;
        if (strlen(state) > STATE_OAUTH_STATE_MAX)
                return corral_error_set(err, EX_DATAERR, "OAuth state of %s over %u bytes", server,
                                        STATE_OAUTH_STATE_MAX);
        rc = sqlite3_prepare_v2(s->db,
                                replace ? "INSERT INTO oauth_tokens (uid, server, state, updated_ms) "
                                          "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (uid, server) DO "
                                          "UPDATE SET state = ?3, updated_ms = ?4"
                                        : "INSERT INTO oauth_tokens (uid, server, state, updated_ms) "
                                          "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return state_db_error(s, err, rc, "storing OAuth tokens");
        (void)sqlite3_bind_int64(st, 1, (int64_t)uid);
        state_bind_text(st, 2, server);
        state_bind_text(st, 3, state);
        (void)sqlite3_bind_int64(st, 4, now_ms());
        r = write_one(s, st, "storing OAuth tokens", &n, err);
        sqlite3_finalize(st);
        if (r == 0 && ret_added)
                *ret_added = n > 0;
        return r;
}

int state_oauth_delete(state_db *s, uid_t uid, const char *server, corral_error *err)
{
        sqlite3_stmt *st = NULL;
        int rc, r;

        if (s->version < 3)
                return 0;
        rc = sqlite3_prepare_v2(s->db,
                                "DELETE FROM oauth_tokens WHERE server = ?2 AND (?1 < 0 OR uid = ?1)",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return state_db_error(s, err, rc, "deleting OAuth tokens");
        (void)sqlite3_bind_int64(st, 1, uid == (uid_t)-1 ? -1 : (int64_t)uid);
        state_bind_text(st, 2, server);
        r = write_one(s, st, "deleting OAuth tokens", NULL, err);
        sqlite3_finalize(st);
        return r;
}

int state_api_token_add(state_db *s, const state_api_token *t, bool replace, corral_error *err)
{
        sqlite3_stmt *st = NULL;
        int rc, r;

        rc = sqlite3_prepare_v2(s->db,
                                replace ? "INSERT INTO api_tokens (id, user, level, sha256, "
                                          "created_at) VALUES (?1, ?2, ?3, ?4, ?5)"
                                        : "INSERT INTO api_tokens (id, user, level, sha256, "
                                          "created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT "
                                          "DO NOTHING",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return state_db_error(s, err, rc, "adding a token");
        state_bind_text(st, 1, t->id);
        state_bind_text(st, 2, t->user);
        state_bind_text(st, 3, t->level);
        state_bind_text(st, 4, t->sha256);
        state_bind_text(st, 5, t->created_at ? t->created_at : "");
        r = write_one(s, st, "adding a token", NULL, err);
        sqlite3_finalize(st);
        return r;
}

int state_api_token_remove(state_db *s, const char *id, int *ret_n, corral_error *err)
{
        sqlite3_stmt *st = NULL;
        int rc, r;

        *ret_n = 0;
        if (s->version < 3)
                return 0;
        rc = sqlite3_prepare_v2(s->db, "DELETE FROM api_tokens WHERE id = ?1", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return state_db_error(s, err, rc, "removing a token");
        state_bind_text(st, 1, id);
        r = write_one(s, st, "removing a token", ret_n, err);
        sqlite3_finalize(st);
        return r;
}

int state_api_token_list(state_db *s, cJSON **ret, corral_error *err)
{
        static const char *const keys[] = {"id", "user", "level", "sha256", "created_at"};

        return state_select_json(s, 3,
                                 "SELECT id, user, level, sha256, created_at FROM api_tokens "
                                 "ORDER BY rowid",
                                 keys, ARRAY_SIZE(keys), ret, err);
}

int64_t state_data_version(state_db *s)
{
        sqlite3_stmt *st = NULL;
        int64_t v = -1;

        if (sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

int state_oauth_states(state_db *s, cJSON **ret, corral_error *err)
{
        sqlite3_stmt *st = NULL;
        cJSON *arr = cJSON_CreateArray();
        size_t rows = 0;
        int rc = SQLITE_DONE;

        if (s->version >= 3) {
                rc = sqlite3_prepare_v2(s->db, "SELECT state FROM oauth_tokens", -1, &st, NULL);
                while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW &&
                       rows++ < STATE_QUERY_MAX) {
                        const char *v = (const char *)sqlite3_column_text(st, 0);
                        cJSON *j = v ? cJSON_Parse(v) : NULL;
                        if (j)
                                cJSON_AddItemToArray(arr, j);
                        rc = SQLITE_OK;
                }
                if (rc == SQLITE_ROW || rc == SQLITE_OK)
                        rc = SQLITE_DONE;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                cJSON_Delete(arr);
                return state_db_error(s, err, rc, "reading OAuth tokens");
        }
        *ret = arr;
        return 0;
}
