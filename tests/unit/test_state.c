/* The state database (src/state/db.c): schema, appends with daily
 * aggregates, queries, retention, and the refusals of a read-only open, a
 * newer schema and a file that is not a database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/oauth_client.h"
#include "corral/paths.h"
#include "corral/state.h"

static void test_append_query(void **state)
{
        char dir[] = "/tmp/corral-state-XXXXXX";
        _cleanup_free_ char *path = NULL;
        corral_error err = {0};
        state_db *db = NULL;
        cJSON *rows = NULL;
        int64_t now = (int64_t)time(NULL) * 1000;
        const state_call calls[] = {
                {now, "alice", "unix", "fs", "read", "ok", 5, 10, 20, NULL},
                {now, "alice", "unix", "fs", "read", "tool_error", 7, 10, 20, NULL},
                {now, NULL, "http", "fs", "read", "ok", 1, 10, 20, NULL},
                {now - 200LL * 86400 * 1000, "bob", "stdio", "mem", "get", "ok", 1, 1, 1, NULL},
        };
        struct stat st;
        (void)state;

        assert_non_null(mkdtemp(dir));
        path = path_join(dir, "state.db");
        assert_int_equal(state_open(&db, path, true, &err), -EX_NOINPUT);
        corral_error_clear(&err);
        assert_int_equal(state_open(&db, path, false, &err), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(state_append_calls(db, calls, ARRAY_SIZE(calls), 90, &err), 0);
        assert_int_equal(state_query_calls(db, NULL, NULL, 0, &rows, &err), 0);
        /* bob's row is past the retention: deleted at once. */
        assert_int_equal(cJSON_GetArraySize(rows), 3);
        cJSON_Delete(rows);
        assert_int_equal(state_query_calls(db, "alice", "fs", 0, &rows, &err), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 2);
        assert_string_equal(json_get_string(cJSON_GetArrayItem(rows, 1), "outcome"), "tool_error");
        cJSON_Delete(rows);
        assert_int_equal(state_query_daily(db, NULL, &rows, &err), 0);
        /* alice fs read, anonymous fs read, and bob's old day (aggregates stay). */
        assert_int_equal(cJSON_GetArraySize(rows), 3);
        const cJSON *r;
        bool seen = false;
        cJSON_ArrayForEach(r, rows) if (strcmp(json_get_string(r, "user"), "alice") == 0)
        {
                assert_int_equal((int)json_get_number(r, "calls", 0), 2);
                assert_int_equal((int)json_get_number(r, "errors", 0), 1);
                assert_int_equal((int)json_get_number(r, "total_ms", 0), 12);
                assert_int_equal((int)json_get_number(r, "max_ms", 0), 7);
                seen = true;
        }
        assert_true(seen);
        cJSON_Delete(rows);
        db = state_close(db);

        /* A newer schema is refused, read-write and read-only. */
        sqlite3 *raw = NULL;
        assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
        assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(raw);
        assert_int_equal(state_open(&db, path, false, &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, "newer"));
        corral_error_clear(&err);
        assert_int_equal(state_open(&db, path, true, &err), -EX_DATAERR);
        corral_error_clear(&err);

        /* Not a database. */
        (void)unlink(path);
        _cleanup_free_ char *wal = xasprintf("%s-wal", path), *shm = xasprintf("%s-shm", path);
        (void)unlink(wal);
        (void)unlink(shm);
        assert_int_equal(write_file_atomic(path, "this is not a database, just some text......"
                                                 "............................................",
                                           88, 0600),
                         0);
        assert_int_equal(state_open(&db, path, false, &err), -EX_DATAERR);
        corral_error_clear(&err);
        assert_int_equal(rm_rf(dir), 0);
}

/* Rate-limit settings (schema 2), and a schema-1 file read as it is. */
static void test_limits_rows(void **state)
{
        char dir[] = "/tmp/corral-state-XXXXXX";
        _cleanup_free_ char *path = NULL;
        corral_error err = {0};
        state_db *db = NULL;
        cJSON *rows = NULL;
        sqlite3 *raw = NULL;
        int n = -1;
        const state_limit a = {"*", "echo", NULL, 3, 60000, 0};
        const state_limit b = {"alice", "echo", "slow", 0, 0, 2};
        (void)state;

        assert_non_null(mkdtemp(dir));
        path = path_join(dir, "state.db");
        assert_int_equal(state_open(&db, path, false, &err), 0);
        assert_int_equal(state_limit_set(db, &a, &err), 0);
        assert_int_equal(state_limit_set(db, &b, &err), 0);
        /* The same key again replaces. */
        const state_limit a2 = {"*", "echo", "", 5, 1000, 1};
        assert_int_equal(state_limit_set(db, &a2, &err), 0);
        assert_int_equal(state_query_limits(db, &rows, &err), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 2);
        assert_string_equal(json_get_string(cJSON_GetArrayItem(rows, 0), "tool"), "");
        assert_int_equal((int)json_get_number(cJSON_GetArrayItem(rows, 0), "calls", 0), 5);
        assert_int_equal((int)json_get_number(cJSON_GetArrayItem(rows, 1), "concurrent", 0), 2);
        cJSON_Delete(rows);
        assert_int_equal(state_limit_clear(db, "alice", "echo", "slow", &n, &err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(state_limit_clear(db, "alice", "echo", "slow", &n, &err), 0);
        assert_int_equal(n, 0);
        assert_int_equal(state_limit_clear(db, NULL, NULL, NULL, &n, &err), 0);
        assert_int_equal(n, 1);
        db = state_close(db);

        /* A file at schema 1 (before limits): read-only sees no settings;
         * read-write migrates it. */
        assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
        assert_int_equal(sqlite3_exec(raw, "DROP TABLE limits; DROP TABLE oauth_tokens; "
                                      "DROP TABLE api_tokens; ALTER TABLE calls DROP COLUMN "
                                      "arguments; PRAGMA user_version = 1", NULL,
                                      NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(raw);
        assert_int_equal(state_open(&db, path, true, &err), 0);
        assert_int_equal(state_query_limits(db, &rows, &err), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 0);
        cJSON_Delete(rows);
        db = state_close(db);
        assert_int_equal(state_open(&db, path, false, &err), 0);
        assert_int_equal(state_limit_set(db, &a, &err), 0);
        db = state_close(db);
        _cleanup_free_ char *cmd = xasprintf("rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

/* Schema 3: OAuth states per (uid, server) and API token hashes; a schema-2
 * file is migrated with its rows kept. */
static void test_tokens_rows(void **state)
{
        char dir[] = "/tmp/corral-state-XXXXXX";
        _cleanup_free_ char *path = NULL;
        corral_error err = {0};
        state_db *db = NULL;
        sqlite3 *raw = NULL;
        char *text = NULL;
        cJSON *rows = NULL;
        bool added = false;
        int n = -1;
        const state_limit a = {"*", "echo", NULL, 3, 60000, 0};
        const state_api_token t1 = {"id1", "ci", "trusted", "aa", "2026-01-01T00:00:00Z"};
        const state_api_token t2 = {"id2", "ops", "anchor", "bb", "2026-01-02T00:00:00Z"};
        (void)state;

        assert_non_null(mkdtemp(dir));
        path = path_join(dir, "state.db");
        /* A schema-2 file with a limit: migrated, the limit kept. */
        assert_int_equal(state_open(&db, path, false, &err), 0);
        assert_int_equal(state_limit_set(db, &a, &err), 0);
        db = state_close(db);
        assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
        assert_int_equal(sqlite3_exec(raw, "DROP TABLE oauth_tokens; DROP TABLE api_tokens; "
                                           "ALTER TABLE calls DROP COLUMN arguments; "
                                           "PRAGMA user_version = 2",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(raw);
        /* Read-only, schema 2: no tokens, no error. */
        assert_int_equal(state_open(&db, path, true, &err), 0);
        assert_int_equal(state_oauth_get(db, 1000, "x", &text, &err), 0);
        assert_null(text);
        assert_int_equal(state_api_token_list(db, &rows, &err), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 0);
        cJSON_Delete(rows);
        db = state_close(db);
        assert_int_equal(state_open(&db, path, false, &err), 0);
        assert_int_equal(state_query_limits(db, &rows, &err), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 1);
        cJSON_Delete(rows);

        /* OAuth: per uid and server; an import never overwrites. */
        assert_int_equal(state_oauth_put(db, 1000, "x", "{\"a\":1}", true, &added, &err), 0);
        assert_true(added);
        assert_int_equal(state_oauth_put(db, 1001, "x", "{\"a\":2}", true, NULL, &err), 0);
        assert_int_equal(state_oauth_put(db, 1000, "x", "{\"a\":3}", false, &added, &err), 0);
        assert_false(added);
        assert_int_equal(state_oauth_get(db, 1000, "x", &text, &err), 0);
        assert_string_equal(text, "{\"a\":1}");
        free(text);
        assert_int_equal(state_oauth_put(db, 1000, "x", "{\"a\":4}", true, NULL, &err), 0);
        assert_int_equal(state_oauth_get(db, 1000, "x", &text, &err), 0);
        assert_string_equal(text, "{\"a\":4}");
        free(text);
        assert_int_equal(state_oauth_get(db, 1000, "y", &text, &err), 0);
        assert_null(text);
        assert_int_equal(state_oauth_delete(db, 1000, "x", &err), 0);
        assert_int_equal(state_oauth_get(db, 1000, "x", &text, &err), 0);
        assert_null(text);
        assert_int_equal(state_oauth_get(db, 1001, "x", &text, &err), 0);
        assert_string_equal(text, "{\"a\":2}");
        free(text);
        assert_int_equal(state_oauth_put(db, 1002, "x", "{}", true, NULL, &err), 0);
        assert_int_equal(state_oauth_delete(db, (uid_t)-1, "x", &err), 0);
        assert_int_equal(state_oauth_get(db, 1001, "x", &text, &err), 0);
        assert_null(text);

        /* API tokens: a taken id is refused, an import skips it. */
        assert_int_equal(state_api_token_add(db, &t1, true, &err), 0);
        assert_int_equal(state_api_token_add(db, &t2, true, &err), 0);
        assert_true(state_api_token_add(db, &t1, true, &err) < 0);
        corral_error_clear(&err);
        assert_int_equal(state_api_token_add(db, &t1, false, &err), 0);
        assert_int_equal(state_api_token_list(db, &rows, &err), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 2);
        assert_string_equal(json_get_string(cJSON_GetArrayItem(rows, 1), "sha256"), "bb");
        cJSON_Delete(rows);
        assert_int_equal(state_api_token_remove(db, "id1", &n, &err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(state_api_token_remove(db, "id1", &n, &err), 0);
        assert_int_equal(n, 0);
        db = state_close(db);
        _cleanup_free_ char *cmd = xasprintf("rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

static void put_file(const char *path, const char *text)
{
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0600), 0);
}

/* The token files of earlier versions: read while they are there, moved into
 * the database by oauth_state_import() (removed only once imported), never
 * over a row that is there. */
static void test_oauth_import(void **state)
{
        char dir[] = "/tmp/corral-oauth-XXXXXX";
        corral_paths p = {0};
        corral_error err = {0};
        _cleanup_free_ char *f1 = NULL, *f2 = NULL, *legacy = NULL, *sdir = NULL;
        cJSON *j = NULL, *st = NULL;
        unsigned n = 0;
        uid_t me = geteuid();
        (void)state;

        assert_non_null(mkdtemp(dir));
        assert_int_equal(paths_init(&p, dir, &err), 0);
        f1 = remote_token_path(&p, "alpha", 4242);
        f2 = remote_token_path(&p, "beta", 4242);
        assert_int_equal(mkdir_p(f1, 0700), 0);
        assert_int_equal(rmdir(f1), 0);
        put_file(f1, "{\"access_token\":\"A1\"}");
        put_file(f2, "{\"access_token\":\"B1\"}");
        sdir = path_join(p.servers, "gamma");
        assert_int_equal(mkdir_p(sdir, 0755), 0);
        legacy = path_join(sdir, OAUTH_FILE);
        put_file(legacy, "{\"access_token\":\"G1\"}");
        /* Read from the files before the import. */
        j = oauth_state_load(&p, "alpha", 4242);
        assert_string_equal(json_get_string(j, "access_token"), "A1");
        cJSON_Delete(j);
        /* A row already there for beta wins over its file. */
        st = cJSON_Parse("{\"access_token\":\"B2\"}");
        assert_int_equal(oauth_state_save(&p, "beta", 4242, st, &err), 0);
        cJSON_Delete(st);
        assert_false(path_exists(f2)); /* the save removed the stale file */
        put_file(f2, "{\"access_token\":\"B1\"}");

        assert_int_equal(oauth_state_import(&p, &n, &err), 0);
        assert_int_equal(n, 2); /* alpha, gamma; beta had its row */
        assert_false(path_exists(f1));
        assert_false(path_exists(f2));
        assert_false(path_exists(legacy));
        j = oauth_state_load(&p, "alpha", 4242);
        assert_string_equal(json_get_string(j, "access_token"), "A1");
        cJSON_Delete(j);
        j = oauth_state_load(&p, "beta", 4242);
        assert_string_equal(json_get_string(j, "access_token"), "B2");
        cJSON_Delete(j);
        j = oauth_state_load(&p, "gamma", me);
        assert_string_equal(json_get_string(j, "access_token"), "G1");
        cJSON_Delete(j);
        assert_null(oauth_state_load(&p, "alpha", 4243));
        /* Forget: one user's, then everyone's. */
        assert_int_equal(oauth_state_forget(&p, "alpha", 4242, &err), 0);
        assert_null(oauth_state_load(&p, "alpha", 4242));
        /* and saved again after a logout */
        st = cJSON_Parse("{\"access_token\":\"A2\"}");
        assert_int_equal(oauth_state_save(&p, "alpha", 4242, st, &err), 0);
        cJSON_Delete(st);
        j = oauth_state_load(&p, "alpha", 4242);
        assert_non_null(j);
        assert_string_equal(json_get_string(j, "access_token"), "A2");
        cJSON_Delete(j);
        oauth_state_forget_all(&p, "gamma");
        assert_null(oauth_state_load(&p, "gamma", me));
        /* Nothing left to import. */
        assert_int_equal(oauth_state_import(&p, &n, &err), 0);
        assert_int_equal(n, 0);
        paths_done(&p);
        _cleanup_free_ char *cmd = xasprintf("rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

/* Arguments (schema 4): kept as given (the daemon redacted them), given
 * back parsed, absent when none; a schema-3 file reads without them and is
 * migrated by a writer. */
static void test_arguments_rows(void **state)
{
        char dir[] = "/tmp/corral-state-XXXXXX";
        _cleanup_free_ char *path = NULL;
        corral_error err = {0};
        state_db *db = NULL;
        cJSON *rows = NULL;
        sqlite3 *raw = NULL;
        int64_t now = (int64_t)time(NULL) * 1000;
        const state_call calls[] = {
                {now, "alice", "unix", "fs", "read", "ok", 5, 10, 20, "{\"path\":\"/etc\"}"},
                {now, "alice", "unix", "fs", "read", "ok", 5, 10, 20, NULL},
        };
        (void)state;

        assert_non_null(mkdtemp(dir));
        path = path_join(dir, "state.db");
        assert_int_equal(state_open(&db, path, false, &err), 0);
        assert_int_equal(state_append_calls(db, calls, ARRAY_SIZE(calls), 0, &err), 0);
        assert_int_equal(state_query_calls(db, NULL, NULL, 0, &rows, &err), 0);
        assert_string_equal(json_get_string(json_get_object(cJSON_GetArrayItem(rows, 0),
                                                            "arguments"),
                                            "path"),
                            "/etc");
        assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "arguments"));
        cJSON_Delete(rows);
        db = state_close(db);

        assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
        assert_int_equal(sqlite3_exec(raw, "ALTER TABLE calls DROP COLUMN arguments; "
                                           "PRAGMA user_version = 3",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(raw);
        assert_int_equal(state_open(&db, path, true, &err), 0);
        assert_int_equal(state_query_calls(db, NULL, NULL, 0, &rows, &err), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 2);
        assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "arguments"));
        cJSON_Delete(rows);
        db = state_close(db);
        assert_int_equal(state_open(&db, path, false, &err), 0);
        assert_int_equal(state_append_calls(db, calls, 1, 0, &err), 0);
        assert_int_equal(state_query_calls(db, NULL, NULL, 0, &rows, &err), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 3);
        assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 2), "arguments"));
        cJSON_Delete(rows);
        db = state_close(db);
        assert_int_equal(rm_rf(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_append_query),
                cmocka_unit_test(test_limits_rows),
                cmocka_unit_test(test_tokens_rows),
                cmocka_unit_test(test_oauth_import),
                cmocka_unit_test(test_arguments_rows),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
