/* The state database (issue 15): SQLite (WAL, busy_timeout, schema version
 * in PRAGMA user_version with forward migrations), written by the daemon
 * only while it runs (`corral limit`, `corral token` and `corral auth` ask it;
 * they open the file themselves only when no daemon runs, holding its
 * run/daemon.lock meanwhile — src/cli/state_route.c).  It holds the
 * tool-call audit log, its daily aggregates and the rate-limit settings,
 * the OAuth tokens of remote servers per local user and the HTTP API tokens
 * (their hashes).
 *
 * Schema 1:
 *   calls(id, ts_ms, user, iface, server, tool, outcome, duration_ms,
 *         req_bytes, resp_bytes)      one row per tools/call
 *   daily(day, user, server, tool, calls, errors, total_ms, max_ms)
 *                                     per UTC day, updated with every row
 * Schema 2:
 *   limits(user, server, tool, calls, period_ms, concurrent)
 *                                     `corral limit set` (tool "" = per server)
 * Schema 3 (src/state/tokens.c):
 *   oauth_tokens(uid, server, state, updated_ms)
 *                                     a local user's OAuth state for a remote
 *                                     server (include/corral/oauth_client.h)
 *   api_tokens(id, user, level, sha256, created_at)
 *                                     `corral token`: only the SHA-256 kept
 * Schema 4:
 *   calls.arguments                   the call's arguments, redacted and capped
 *                                     (include/corral/redact.h), as JSON text;
 *                                     NULL unless the site turned argument
 *                                     logging on ("audit": {"arguments": true})
 * Rows older than the retention are deleted as new ones come (daily
 * aggregates stay). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cJSON.h>

#include "corral/error.h"
#include "corral/paths.h"

#define STATE_SCHEMA_VERSION 4
#define STATE_SCHEMA_ARGUMENTS 4 /* the first with calls.arguments */
#define STATE_BUSY_TIMEOUT_MS 2000
#define STATE_DEFAULT_RETENTION_DAYS 90
#define STATE_QUERY_MAX 100000 /* rows one query returns */

typedef struct state_db state_db;

/* One finished tools/call.  Strings borrowed; user NULL anonymous. */
typedef struct state_call {
        int64_t ts_ms; /* when it started, ms since the epoch (UTC) */
        const char *user;
        const char *iface;   /* "unix", "stdio", "http" */
        const char *server;
        const char *tool;
        const char *outcome; /* "ok", "tool_error" (isError), "error" (JSON-RPC error),
                              * "limited" (refused by a rate limit, not forwarded) */
        int64_t duration_ms;
        int64_t req_bytes, resp_bytes;
        const char *arguments; /* JSON text, already redacted and capped; NULL none */
} state_call;

/* The database file of a store: state.db beside servers/ (owned). */
char *state_path(const corral_paths *p);

/* Opens (read-only: never creates or migrates, reads an older schema as it
 * is) or creates the database at
 * path, mode 0600.  Read-write: WAL, synchronous NORMAL, busy_timeout,
 * migrations to STATE_SCHEMA_VERSION.  -EX_NOINPUT (read-only and missing),
 * -EX_NOPERM, -EX_DATAERR (not a database, corrupt, or a newer schema),
 * -EX_TEMPFAIL (locked past the busy timeout), -EX_CANTCREAT. */
int state_open(state_db **ret, const char *path, bool readonly, corral_error *err);
/* state_open() waiting at most busy_ms for another process's lock (the
 * open's migration included): the daemon's loop waits little.  With
 * CORRAL_TEST_NO_STATE_WRITE in the environment a read-write open fails
 * (-EX_SOFTWARE): a test's proof that a CLI left the writing to the daemon. */
int state_open_busy(state_db **ret, const char *path, bool readonly, int busy_ms,
                    corral_error *err);
state_db *state_close(state_db *db);
/* How long a statement waits for another process's lock before failing with
 * -EX_TEMPFAIL (ms; state_open() sets STATE_BUSY_TIMEOUT_MS).  The daemon's
 * writer waits little: it runs on the event loop. */
void state_set_busy_timeout(state_db *db, int ms);
/* Whether path and its WAL and shared-memory files (those that exist) may be
 * written by this process: 0, or -EX_NOPERM / -EX_CANTCREAT (read-only
 * mount) naming the file.  A writer checks before every use: SQLite maps the
 * -shm file, and a write to a mapping the kernel will not write back (an
 * immutable file, a file system remounted read-only) is SIGBUS, not an
 * error SQLite could return. */
int state_check_writable(const char *path, corral_error *err);

/* Appends n calls and updates their daily aggregates in one transaction,
 * then deletes calls older than retention_days (0: keep all).  All or none:
 * on failure nothing is written.  Error codes as state_open(). */
int state_append_calls(state_db *db, const state_call *calls, size_t n, unsigned retention_days,
                       corral_error *err);

/* Calls, oldest first, filtered by user and server (NULL: any) and since_ms
 * (0: all): a JSON array of {time (RFC 3339 UTC, ms), user, interface,
 * server, tool, outcome, duration_ms, request_bytes, response_bytes, and
 * arguments (the stored JSON, parsed) when a row has them} (owned), at most
 * STATE_QUERY_MAX. */
int state_query_calls(state_db *db, const char *user, const char *server, int64_t since_ms,
                      cJSON **ret, corral_error *err);
/* Daily aggregates of day ("YYYY-MM-DD"; NULL: every day): a JSON array of
 * {day, user, server, tool, calls, errors, total_ms, max_ms} (owned). */
int state_query_daily(state_db *db, const char *day, cJSON **ret, corral_error *err);

/* A rate-limit setting (include/corral/limits.h); strings borrowed, tool
 * NULL or "" for the server's tools together. */
typedef struct state_limit {
        const char *user, *server, *tool; /* globs */
        int64_t calls, period_ms, concurrent;
} state_limit;

/* Adds or replaces the setting for (user, server, tool), in a transaction.
 * Error codes as state_open(). */
int state_limit_set(state_db *db, const state_limit *l, corral_error *err);
/* Deletes the setting for (user, server, tool) — every setting when server
 * is NULL — and sets *ret_n to how many went. */
int state_limit_clear(state_db *db, const char *user, const char *server, const char *tool,
                      int *ret_n, corral_error *err);
/* The settings: a JSON array of {user, server, tool ("" per server), calls,
 * period_ms, concurrent} (owned); empty on a schema-1 file. */
int state_query_limits(state_db *db, cJSON **ret, corral_error *err);

/* ---- schema 3: tokens (src/state/tokens.c) ---- */

#define STATE_OAUTH_STATE_MAX (256u << 10) /* bytes of one OAuth state */

/* The OAuth state (JSON text, owned) of server for local user uid in *ret,
 * or NULL when there is none (and on a file older than schema 3). */
int state_oauth_get(state_db *db, uid_t uid, const char *server, char **ret, corral_error *err);
/* Stores it (at most STATE_OAUTH_STATE_MAX bytes, else -EX_DATAERR); with
 * replace false only when there is none yet (an import never overwrites).
 * *ret_added (may be NULL): whether a row was written.  One transaction. */
int state_oauth_put(state_db *db, uid_t uid, const char *server, const char *state, bool replace,
                    bool *ret_added, corral_error *err);
/* Deletes server's state for uid, or every user's when uid is (uid_t)-1
 * (uninstall).  No row is not an error. */
int state_oauth_delete(state_db *db, uid_t uid, const char *server, corral_error *err);

/* An HTTP API token of `corral token`: strings borrowed; sha256 is the hex
 * SHA-256 of the token (the token itself is never stored). */
typedef struct state_api_token {
        const char *id, *user, *level, *sha256, *created_at;
} state_api_token;

/* Adds t; with replace false an id or hash already there is left as it is
 * (an import).  -EX_DATAERR for an id or hash taken (replace true). */
int state_api_token_add(state_db *db, const state_api_token *t, bool replace,
                        corral_error *err);
/* Removes token id; *ret_n how many went (0 or 1). */
int state_api_token_remove(state_db *db, const char *id, int *ret_n, corral_error *err);
/* Every token: a JSON array of {id, user, level, sha256, created_at}
 * (owned), oldest first; empty on a file older than schema 3. */
int state_api_token_list(state_db *db, cJSON **ret, corral_error *err);
/* Every OAuth state of every user, parsed: a JSON array (owned), at most
 * STATE_QUERY_MAX; empty on a file older than schema 3.  For redaction
 * (include/corral/redact.h): the tokens in them are secrets. */
int state_oauth_states(state_db *db, cJSON **ret, corral_error *err);
/* The schema version of the file as db opened it (a read-only open may
 * find an older one than STATE_SCHEMA_VERSION). */
int state_schema_version(const state_db *db);
/* PRAGMA data_version: changes when another connection commits, so a
 * reader knows when to read again (-1 when it cannot be read). */
int64_t state_data_version(state_db *db);
