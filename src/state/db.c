/* The state database (include/corral/state.h): prepared statements with
 * bound parameters only, one transaction per write. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/state.h"
#include "state/internal.h"

/* Forward migrations: migrations[i] takes user_version i to i + 1. */
static const char *const migrations[] = {
        "CREATE TABLE calls (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, user TEXT, "
        "iface TEXT NOT NULL, server TEXT NOT NULL, tool TEXT NOT NULL, outcome TEXT NOT NULL, "
        "duration_ms INTEGER NOT NULL, req_bytes INTEGER NOT NULL, resp_bytes INTEGER NOT NULL);"
        "CREATE INDEX calls_ts ON calls(ts_ms);"
        "CREATE TABLE daily (day TEXT NOT NULL, user TEXT NOT NULL, server TEXT NOT NULL, "
        "tool TEXT NOT NULL, calls INTEGER NOT NULL, errors INTEGER NOT NULL, "
        "total_ms INTEGER NOT NULL, max_ms INTEGER NOT NULL, "
        "PRIMARY KEY (day, user, server, tool));",
        /* 2: rate-limit settings (`corral limit`, include/corral/limits.h). */
        "CREATE TABLE limits (user TEXT NOT NULL, server TEXT NOT NULL, tool TEXT NOT NULL, "
        "calls INTEGER NOT NULL, period_ms INTEGER NOT NULL, concurrent INTEGER NOT NULL, "
        "PRIMARY KEY (user, server, tool));",
        /* 3: tokens (src/state/tokens.c): each local user's OAuth state per
         * remote server (the JSON of include/corral/oauth_client.h, tokens
         * included: the file is 0600 root's), and `corral token`'s HTTP
         * tokens, of which only the SHA-256 is kept. */
        "CREATE TABLE oauth_tokens (uid INTEGER NOT NULL, server TEXT NOT NULL, "
        "state TEXT NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY (uid, server));"
        "CREATE TABLE api_tokens (id TEXT PRIMARY KEY, user TEXT NOT NULL, "
        "level TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);",
        /* 4: argument logging (src/state/audit.c, include/corral/redact.h). */
        "ALTER TABLE calls ADD COLUMN arguments TEXT;",
};
_Static_assert(ARRAY_SIZE(migrations) == STATE_SCHEMA_VERSION, "one migration per version");

int state_db_error(state_db *s, corral_error *err, int rc, const char *what)
{
        int code = EX_IOERR;

        switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                code = EX_TEMPFAIL;
                break;
        case SQLITE_PERM:
        case SQLITE_READONLY:
        case SQLITE_AUTH:
                code = EX_NOPERM;
                break;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_CONSTRAINT:
                code = EX_DATAERR;
                break;
        case SQLITE_CANTOPEN:
                code = EX_CANTCREAT;
                break;
        case SQLITE_FULL:
                code = EX_CANTCREAT;
                break;
        default:
                break;
        }
        return corral_error_set(err, code, "state database %s: %s: %s", s->path, what,
                                s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

char *state_path(const corral_paths *p)
{
        _cleanup_free_ char *top = xstrdup(p->servers);
        char *slash = strrchr(top, '/');
        if (slash && slash != top)
                *slash = '\0';
        return path_join(top, "state.db");
}

int state_exec(state_db *s, const char *sql, corral_error *err)
{
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : state_db_error(s, err, rc, "schema");
}

static int user_version(state_db *s, int *ret, corral_error *err)
{
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                *ret = sqlite3_column_int(st, 0);
                rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
        return rc == SQLITE_OK ? 0 : state_db_error(s, err, rc, "reading the schema version");
}

static int migrate(state_db *s, corral_error *err)
{
        int v = 0, r;

        if ((r = state_exec(s, "BEGIN IMMEDIATE", err)) < 0)
                return r;
        r = user_version(s, &v, err);
        if (r == 0 && v > STATE_SCHEMA_VERSION)
                r = corral_error_set(err, EX_DATAERR,
                                     "state database %s: schema %d is newer than this corral's "
                                     "(%d)",
                                     s->path, v, STATE_SCHEMA_VERSION);
        for (; r == 0 && v < STATE_SCHEMA_VERSION; v++) {
                char pragma[64];
                r = state_exec(s, migrations[v], err);
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
                if (r == 0)
                        r = state_exec(s, pragma, err);
        }
        if (r == 0)
                return state_exec(s, "COMMIT", err);
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

int state_open(state_db **ret, const char *path, bool readonly, corral_error *err)
{
        return state_open_busy(ret, path, readonly, STATE_BUSY_TIMEOUT_MS, err);
}

int state_open_busy(state_db **ret, const char *path, bool readonly, int busy_ms,
                    corral_error *err)
{
        state_db *s = xcalloc(1, sizeof(*s));
        int flags = readonly ? SQLITE_OPEN_READONLY
                             : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

        /* A reader that may write the file opens it read-write (and
         * query_only): a read-only connection to a WAL database fails with
         * "disk I/O error" when a writer in another process has just
         * checkpointed and removed the -wal and -shm files. */
        if (readonly && access(path, W_OK) == 0)
                flags = SQLITE_OPEN_READWRITE;
        int rc, r = 0, v = 0;

        s->path = xstrdup(path);
        /* A test's proof that a CLI left the writing to the daemon. */
        if (!readonly && getenv("CORRAL_TEST_NO_STATE_WRITE")) {
                r = corral_error_set(err, EX_SOFTWARE,
                                     "state database %s: opened for writing outside the daemon "
                                     "(CORRAL_TEST_NO_STATE_WRITE is set)",
                                     path);
                goto fail;
        }
        if (readonly && !path_exists(path)) {
                r = corral_error_set(err, EX_NOINPUT, "no state database at %s yet", path);
                goto fail;
        }
        if (readonly && access(path, R_OK) < 0) {
                r = corral_error_errno(err, errno == EACCES ? EX_NOPERM : EX_IOERR, errno,
                                       "cannot read %s (the audit log is root's)", path);
                goto fail;
        }
        if (!readonly && !path_exists(path)) {
                /* Created 0600 before SQLite opens it: the log names users.
                 * Only when it is not there: closing a descriptor of a file
                 * drops every POSIX lock this process holds on it, those of
                 * the daemon's other connections included (SQLite's locks;
                 * the next read of theirs fails, SQLITE_IOERR_SHORT_READ). */
                int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0 && errno != EEXIST) {
                        r = corral_error_errno(err, errno == EACCES ? EX_NOPERM : EX_CANTCREAT,
                                               errno, "cannot open %s", path);
                        goto fail;
                }
                if (fd >= 0)
                        (void)close(fd);
        } else if (!readonly && access(path, W_OK) < 0) {
                r = corral_error_errno(err, errno == EACCES ? EX_NOPERM : EX_CANTCREAT, errno,
                                       "cannot open %s", path);
                goto fail;
        }
        rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOFOLLOW, NULL);
        if (rc != SQLITE_OK) {
                r = state_db_error(s, err, rc, "open");
                goto fail;
        }
        (void)sqlite3_busy_timeout(s->db, busy_ms);
        (void)sqlite3_extended_result_codes(s->db, 1);
        if (readonly) {
                r = state_exec(s, "PRAGMA query_only = 1", err);
                if (r == 0)
                        r = user_version(s, &v, err);
                /* An older schema reads as it is until the daemon migrates it. */
                if (r == 0 && (v < 1 || v > STATE_SCHEMA_VERSION))
                        r = corral_error_set(err, EX_DATAERR,
                                             "state database %s: schema %d, this corral reads %d",
                                             path, v, STATE_SCHEMA_VERSION);
                s->version = v;
        } else {
                r = state_exec(s, "PRAGMA journal_mode=WAL", err);
                if (r == 0)
                        r = state_exec(s, "PRAGMA synchronous=NORMAL", err);
                if (r == 0)
                        r = migrate(s, err);
                s->version = STATE_SCHEMA_VERSION;
        }
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        state_close(s);
        return r;
}

int state_check_writable(const char *path, corral_error *err)
{
        static const char *const suffixes[] = {"", "-wal", "-shm"};

        for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
                char f[PATH_MAX];
                if (snprintf(f, sizeof(f), "%s%s", path, suffixes[i]) >= (int)sizeof(f))
                        return corral_error_set(err, EX_CANTCREAT, "state database %s: path too long",
                                                path);
                /* access(2) answers for root too: EROFS on a read-only
                 * mount, EPERM on an immutable file. */
                if (access(f, W_OK) < 0 && errno != ENOENT)
                        return corral_error_errno(err, errno == EROFS ? EX_CANTCREAT : EX_NOPERM,
                                                  errno, "state database %s: cannot write %s", path,
                                                  f);
        }
        return 0;
}

int state_schema_version(const state_db *s)
{
        return s->version;
}

void state_set_busy_timeout(state_db *s, int ms)
{
        (void)sqlite3_busy_timeout(s->db, ms);
}

state_db *state_close(state_db *s)
{
        if (!s)
                return NULL;
        if (s->db)
                (void)sqlite3_close_v2(s->db);
        free(s->path);
        free(s);
        return NULL;
}

void state_bind_text(sqlite3_stmt *st, int i, const char *v)
{
        if (v)
                (void)sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
        else
                (void)sqlite3_bind_null(st, i);
}

static void utc_day(int64_t ts_ms, char out[11])
{
        time_t t = (time_t)(ts_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(out, 11, "%Y-%m-%d", &tm);
}

int state_append_calls(state_db *s, const state_call *calls, size_t n, unsigned retention_days,
                       corral_error *err)
{
        static const char ins[] =
                "INSERT INTO calls (ts_ms, user, iface, server, tool, outcome, duration_ms, "
                "req_bytes, resp_bytes, arguments) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                "?10)";
        static const char agg[] =
                "INSERT INTO daily (day, user, server, tool, calls, errors, total_ms, max_ms) "
                "VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?6) ON CONFLICT (day, user, server, tool) DO "
                "UPDATE SET calls = calls + 1, errors = errors + ?5, total_ms = total_ms + ?6, "
                "max_ms = max(max_ms, ?6)";
        sqlite3_stmt *si = NULL, *sa = NULL, *sp = NULL;
        int rc, r;

        if ((r = state_exec(s, "BEGIN IMMEDIATE", err)) < 0)
                return r;
        rc = sqlite3_prepare_v2(s->db, ins, -1, &si, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_prepare_v2(s->db, agg, -1, &sa, NULL);
        for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
                const state_call *c = &calls[i];
                char day[11];
                (void)sqlite3_reset(si);
                (void)sqlite3_bind_int64(si, 1, c->ts_ms);
                state_bind_text(si, 2, c->user);
                state_bind_text(si, 3, c->iface ? c->iface : "?");
                state_bind_text(si, 4, c->server);
                state_bind_text(si, 5, c->tool);
                state_bind_text(si, 6, c->outcome);
                (void)sqlite3_bind_int64(si, 7, c->duration_ms);
                (void)sqlite3_bind_int64(si, 8, c->req_bytes);
                (void)sqlite3_bind_int64(si, 9, c->resp_bytes);
                state_bind_text(si, 10, c->arguments);
                rc = sqlite3_step(si);
                if (rc != SQLITE_DONE)
                        break;
                utc_day(c->ts_ms, day);
                (void)sqlite3_reset(sa);
                state_bind_text(sa, 1, day);
                state_bind_text(sa, 2, c->user ? c->user : "");
                state_bind_text(sa, 3, c->server);
                state_bind_text(sa, 4, c->tool);
                (void)sqlite3_bind_int(sa, 5, strcmp(c->outcome, "ok") != 0);
                (void)sqlite3_bind_int64(sa, 6, c->duration_ms);
                rc = sqlite3_step(sa);
                if (rc == SQLITE_DONE)
                        rc = SQLITE_OK;
        }
        if (rc == SQLITE_OK && retention_days > 0) {
                rc = sqlite3_prepare_v2(s->db, "DELETE FROM calls WHERE ts_ms < ?1", -1, &sp,
                                        NULL);
                if (rc == SQLITE_OK) {
                        int64_t cut = ((int64_t)time(NULL) - (int64_t)retention_days * 86400) * 1000;
                        (void)sqlite3_bind_int64(sp, 1, cut);
                        rc = sqlite3_step(sp) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
                }
        }
        r = rc == SQLITE_OK ? 0 : state_db_error(s, err, rc, "appending to the audit log");
        sqlite3_finalize(si);
        sqlite3_finalize(sa);
        sqlite3_finalize(sp);
        if (r == 0)
                return state_exec(s, "COMMIT", err);
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

static cJSON *column_json(sqlite3_stmt *st, int i)
{
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_NULL:
                return cJSON_CreateNull();
        case SQLITE_INTEGER:
                return cJSON_CreateNumber((double)sqlite3_column_int64(st, i));
        default:
                return cJSON_CreateString((const char *)sqlite3_column_text(st, i));
        }
}

/* Runs a prepared query into an array of objects named by keys. */
int state_rows_json(state_db *s, sqlite3_stmt *st, const char *const *keys, size_t n_keys,
                     cJSON **ret, corral_error *err)
{
        cJSON *arr = cJSON_CreateArray();
        size_t rows = 0;
        int rc;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW && rows++ < STATE_QUERY_MAX) {
                cJSON *o = cJSON_CreateObject();
                for (size_t i = 0; i < n_keys; i++) {
                        if (strcmp(keys[i], "time") == 0) {
                                int64_t ms = sqlite3_column_int64(st, (int)i);
                                time_t t = (time_t)(ms / 1000);
                                struct tm tm;
                                char buf[40];
                                gmtime_r(&t, &tm);
                                strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
                                snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ".%03dZ",
                                         (int)(ms % 1000));
                                cJSON_AddStringToObject(o, "time", buf);
                        } else if (strcmp(keys[i], "arguments") == 0) {
                                /* Stored as JSON text: given back as JSON,
                                 * and not at all when there is none. */
                                const char *t = (const char *)sqlite3_column_text(st, (int)i);
                                cJSON *a = t ? cJSON_Parse(t) : NULL;
                                if (a)
                                        cJSON_AddItemToObject(o, "arguments", a);
                        } else {
                                cJSON_AddItemToObject(o, keys[i], column_json(st, (int)i));
                        }
                }
                cJSON_AddItemToArray(arr, o);
        }
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
                cJSON_Delete(arr);
                return state_db_error(s, err, rc, "query");
        }
        *ret = arr;
        return 0;
}

int state_select_json(state_db *s, int min_version, const char *sql, const char *const *keys,
                      size_t n_keys, cJSON **ret, corral_error *err)
{
        sqlite3_stmt *st = NULL;
        int rc, r;

        if (s->version < min_version) {
                *ret = cJSON_CreateArray();
                return 0;
        }
        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return state_db_error(s, err, rc, "query");
        r = state_rows_json(s, st, keys, n_keys, ret, err);
        sqlite3_finalize(st);
        return r;
}

int state_query_calls(state_db *s, const char *user, const char *server, int64_t since_ms,
                      cJSON **ret, corral_error *err)
{
        static const char *const keys[] = {"time",          "user",           "interface",
                                           "server",        "tool",           "outcome",
                                           "duration_ms",   "request_bytes",  "response_bytes",
                                           "arguments"};
        /* An older file (read-only opens leave it as it is) has no
         * arguments column. */
        static const char with_args[] =
                "SELECT ts_ms, user, iface, server, tool, outcome, duration_ms, req_bytes, "
                "resp_bytes, arguments FROM calls WHERE (?1 IS NULL OR user = ?1) AND (?2 IS NULL "
                "OR server = ?2) AND ts_ms >= ?3 ORDER BY ts_ms, id";
        static const char without[] =
                "SELECT ts_ms, user, iface, server, tool, outcome, duration_ms, req_bytes, "
                "resp_bytes FROM calls WHERE (?1 IS NULL OR user = ?1) AND (?2 IS NULL OR server "
                "= ?2) AND ts_ms >= ?3 ORDER BY ts_ms, id";
        bool args = s->version >= STATE_SCHEMA_ARGUMENTS;
        const char *sql = args ? with_args : without;
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        int r;

        if (rc != SQLITE_OK)
                return state_db_error(s, err, rc, "query");
        state_bind_text(st, 1, user);
        state_bind_text(st, 2, server);
        (void)sqlite3_bind_int64(st, 3, since_ms);
        r = state_rows_json(s, st, keys, ARRAY_SIZE(keys) - !args, ret, err);
        sqlite3_finalize(st);
        return r;
}

int state_query_daily(state_db *s, const char *day, cJSON **ret, corral_error *err)
{
        static const char *const keys[] = {"day",    "user",     "server",  "tool",
                                           "calls",  "errors",   "total_ms", "max_ms"};
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db,
                                    "SELECT day, user, server, tool, calls, errors, total_ms, "
                                    "max_ms FROM daily WHERE ?1 IS NULL OR day = ?1 ORDER BY "
                                    "day, user, server, tool",
                                    -1, &st, NULL);
        int r;

        if (rc != SQLITE_OK)
                return state_db_error(s, err, rc, "query");
        state_bind_text(st, 1, day);
        r = state_rows_json(s, st, keys, ARRAY_SIZE(keys), ret, err);
        sqlite3_finalize(st);
        return r;
}

int state_limit_set(state_db *s, const state_limit *l, corral_error *err)
{
        sqlite3_stmt *st = NULL;
        int rc, r;

        if ((r = state_exec(s, "BEGIN IMMEDIATE", err)) < 0)
                return r;
        rc = sqlite3_prepare_v2(s->db,
                                "INSERT INTO limits (user, server, tool, calls, period_ms, "
                                "concurrent) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (user, "
                                "server, tool) DO UPDATE SET calls = ?4, period_ms = ?5, "
                                "concurrent = ?6",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
                state_bind_text(st, 1, l->user);
                state_bind_text(st, 2, l->server);
                state_bind_text(st, 3, l->tool ? l->tool : "");
                (void)sqlite3_bind_int64(st, 4, l->calls);
                (void)sqlite3_bind_int64(st, 5, l->period_ms);
                (void)sqlite3_bind_int64(st, 6, l->concurrent);
                rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
        }
        r = rc == SQLITE_OK ? 0 : state_db_error(s, err, rc, "setting a limit");
        sqlite3_finalize(st);
        if (r == 0)
                return state_exec(s, "COMMIT", err);
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

int state_limit_clear(state_db *s, const char *user, const char *server, const char *tool,
                      int *ret_n, corral_error *err)
{
        sqlite3_stmt *st = NULL;
        int rc, r;

        if ((r = state_exec(s, "BEGIN IMMEDIATE", err)) < 0)
                return r;
        rc = sqlite3_prepare_v2(s->db,
                                "DELETE FROM limits WHERE ?2 IS NULL OR (user = ?1 AND server = "
                                "?2 AND tool = ?3)",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
                state_bind_text(st, 1, user);
                state_bind_text(st, 2, server);
                state_bind_text(st, 3, tool ? tool : "");
                rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
        }
        if (rc == SQLITE_OK)
                *ret_n = sqlite3_changes(s->db);
        r = rc == SQLITE_OK ? 0 : state_db_error(s, err, rc, "clearing limits");
        sqlite3_finalize(st);
        if (r == 0)
                return state_exec(s, "COMMIT", err);
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

int state_query_limits(state_db *s, cJSON **ret, corral_error *err)
{
        static const char *const keys[] = {"user",  "server",    "tool",
                                           "calls", "period_ms", "concurrent"};

        return state_select_json(s, 2,
                                 "SELECT user, server, tool, calls, period_ms, concurrent FROM "
                                 "limits ORDER BY server, tool, user",
                                 keys, ARRAY_SIZE(keys), ret, err);
}
