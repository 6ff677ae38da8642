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
                {now, "alice", "unix", "fs", "read", "ok", 5, 10, 20},
                {now, "alice", "unix", "fs", "read", "tool_error", 7, 10, 20},
                {now, NULL, "http", "fs", "read", "ok", 1, 10, 20},
                {now - 200LL * 86400 * 1000, "bob", "stdio", "mem", "get", "ok", 1, 1, 1},
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
        assert_int_equal(sqlite3_exec(raw, "DROP TABLE limits; PRAGMA user_version = 1", NULL,
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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_append_query),
                cmocka_unit_test(test_limits_rows),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
