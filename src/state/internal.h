/* Internals of the state database (include/corral/state.h) shared by its
 * files: db.c (open, migrations, the audit log and limits) and tokens.c
 * (OAuth and HTTP tokens, schema 3). */
#pragma once

#include <sqlite3.h>

#include "corral/state.h"

struct state_db {
        sqlite3 *db;
        char *path;
        int version; /* the file's schema (a read-only open may find an older one) */
};

/* Sets err from SQLite's rc (EX_TEMPFAIL locked, EX_NOPERM read-only,
 * EX_DATAERR corrupt, EX_CANTCREAT cannot open or full, else EX_IOERR),
 * naming the file and what was being done; returns -code. */
int state_db_error(state_db *s, corral_error *err, int rc, const char *what);
/* Runs sql (no parameters: BEGIN, COMMIT, schema); 0 or as state_db_error(). */
int state_exec(state_db *s, const char *sql, corral_error *err);
/* Binds v (NULL: SQL NULL), copied. */
void state_bind_text(sqlite3_stmt *st, int i, const char *v);
/* Steps st into a JSON array of objects with keys (column i → keys[i];
 * "time" renders ms as RFC 3339), at most STATE_QUERY_MAX rows. */
int state_rows_json(state_db *s, sqlite3_stmt *st, const char *const *keys, size_t n_keys,
                    cJSON **ret, corral_error *err);
/* Runs sql (no parameters) into *ret as state_rows_json() does; an empty
 * array when the file's schema is older than min_version (the table is not
 * there: read-only opens leave the file as it is). */
int state_select_json(state_db *s, int min_version, const char *sql, const char *const *keys,
                      size_t n_keys, cJSON **ret, corral_error *err);
