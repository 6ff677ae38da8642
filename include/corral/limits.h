/* Rate limits and guardrails on tool calls (issue 15): token buckets per
 * user per server (and per tool), concurrency caps, and a cap on the size of
 * one call's result.  Rules come from corral.json and from the state
 * database (`corral limit set`, include/corral/state.h):
 *
 *   { "limits": { "max_result_bytes": 8388608,
 *                 "rules": [ { "server": "GLOB", "tool": "GLOB", "user": "GLOB",
 *                              "calls": N, "period_s": S, "concurrent": C } ] } }
 *
 * server, tool and user are fnmatch(3) globs (user "*" when absent: every
 * user; tool absent: the rule counts every tool of the server together).
 * Each caller gets buckets of its own: a rule that matches is a bucket per
 * (rule, user, server) — per (rule, user, server, tool) when the rule names
 * a tool.  A bucket holds up to `calls` tokens and refills `calls` tokens per
 * `period_s` seconds, continuously (a token every period_s / calls); a call
 * takes one token from every bucket it matches, or none when one is empty.
 * `concurrent` caps the calls of a bucket in flight at once.  A refused
 * call is answered at once with LIMITS_RPC_LIMITED and data
 * {"retryAfterMs": N, "limit": {...the rule}}.  Anonymous callers share the
 * user name "" (matched by "*").
 *
 * max_result_bytes caps one tools/call result (as JSON text): a larger one
 * is not passed on, the caller gets LIMITS_RPC_RESULT_TOO_LARGE with data
 * {resultBytes, maxResultBytes} instead (never a truncated result).
 *
 * Time is the caller's: every function that needs it takes now_ms (a
 * monotonic clock in ms, the loop's uv_now()), so tests drive it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>

#include "corral/error.h"

#define LIMITS_RPC_LIMITED (-32005)   /* JSON-RPC error code of a limited call */
#define LIMITS_RPC_RESULT_TOO_LARGE (-32006) /* a result over max_result_bytes */
#define LIMITS_MAX_RULES 1024         /* corral.json and the database together */
#define LIMITS_MAX_BUCKETS 4096       /* least recently used idle buckets go first */
#define LIMITS_MAX_PATTERN_BYTES 256
#define LIMITS_MAX_CALLS 1000000      /* per period */
#define LIMITS_MAX_PERIOD_MS (30ull * 86400 * 1000)
#define LIMITS_MAX_CONCURRENT 65536
#define LIMITS_DEFAULT_MAX_RESULT (8u << 20) /* bytes; the transport's own cap is 16 MiB */
#define LIMITS_CONCURRENT_RETRY_MS 250 /* the hint for a call over a concurrency cap */

typedef struct limit_rule {
        char *user;         /* glob; never NULL ("*") */
        char *server;       /* glob */
        char *tool;         /* glob, or NULL: the server's tools together */
        uint32_t calls;     /* tokens per period; 0: no rate limit */
        uint64_t period_ms; /* > 0 when calls > 0 */
        uint32_t concurrent; /* in flight at once; 0: no cap */
        const char *source; /* "corral.json" or "database" (static) */
} limit_rule;

typedef struct limit_set {
        limit_rule *rules;
        size_t n;
        uint64_t max_result_bytes; /* 0: none beyond the transport's */
} limit_set;

/* Parses config's "limits" (config may be NULL: no rules, the default result
 * cap).  0, or -EX_CONFIG naming the key (unknown key, a glob empty or over
 * LIMITS_MAX_PATTERN_BYTES, calls/period_s/concurrent out of range, a rule
 * that limits nothing, too many rules).  *ret untouched on failure;
 * limit_set_done() frees. */
int limit_set_from_config(const cJSON *config, limit_set *ret, corral_error *err);
/* Appends the rules of rows, an array of {user, server, tool ("" for none),
 * calls, period_ms, concurrent} (state_query_limits()), as source
 * "database".  -EX_DATAERR for a row out of range (the row names it). */
int limit_set_add_rows(limit_set *set, const cJSON *rows, corral_error *err);
/* Checks one setting as limit_set_add_rows() will check its row when the
 * daemon reads it back (`corral limit set`, before it is written): 0, or
 * -EX_DATAERR naming what is out of range.  l is a struct state_limit
 * (include/corral/state.h). */
struct state_limit;
int limit_check_setting(const struct state_limit *l, corral_error *err);
void limit_set_done(limit_set *set);
/* The rules as a JSON array of {user, server, tool (null: per server),
 * calls, period_s, concurrent, source} (owned). */
cJSON *limit_set_json(const limit_set *set);

/* The live state: the rules in force and the buckets. */
typedef struct limiter limiter;
/* A call's hold on the concurrency slots it took; released once. */
typedef struct limit_hold limit_hold;

limiter *limiter_new(void);
/* Frees the buckets and rules.  Every hold must have been released.  NULL. */
limiter *limiter_free(limiter *l);
/* Replaces the rules (takes *set's contents, leaving it empty).  Buckets of
 * rules that stay the same keep their tokens and calls in flight. */
void limiter_set_rules(limiter *l, limit_set *set);
uint64_t limiter_max_result(const limiter *l);
/* Reads config's "limits" (may be NULL) and the settings in the state
 * database at db_path (NULL or a missing file: none) into l's rules.  0; 1
 * when the database could not be read (locked, unreadable, corrupt, not
 * writable — see state_check_writable(): err says why), in which case corral.json's rules apply and the database rules
 * in force before are kept; -EX_CONFIG (nothing changed) for a bad
 * "limits". */
int limiter_load(limiter *l, const cJSON *config, const char *db_path, corral_error *err);
/* The rules in force as limit_set_json() (owned). */
cJSON *limiter_rules_json(const limiter *l);

/* Admits one call of tool on server by user (NULL: anonymous) at now_ms:
 * true with *ret_hold (NULL when no rule matched) when every bucket it
 * matches has a token and a concurrency slot, which it takes; false, taking
 * nothing, with *ret_retry_ms (> 0, the time until the emptiest bucket has
 * a token, or LIMITS_CONCURRENT_RETRY_MS for a concurrency cap) and
 * *ret_limit (owned JSON of the refusing rule, with "reason": "rate" or
 * "concurrency"). */
bool limiter_admit(limiter *l, uint64_t now_ms, const char *user, const char *server,
                   const char *tool, limit_hold **ret_hold, uint64_t *ret_retry_ms,
                   cJSON **ret_limit);
/* Gives back the concurrency slots of h and frees it.  NULL is fine. */
void limiter_release(limiter *l, limit_hold *h);
