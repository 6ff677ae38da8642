/* Rate limits and guardrails on tool calls (include/corral/limits.h).
 *
 * A bucket counts in "credit": one token is period_ms credit, so refilling
 * `calls` tokens per period_ms is `calls` credit per ms and every step is
 * integer arithmetic (no drift, exact counts in tests). */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "corral/fs.h"
#include "corral/config.h"
#include "corral/jsonutil.h"
#include "corral/limits.h"
#include "corral/macro.h"
#include "corral/state.h"

typedef struct bucket {
        char *key;      /* rule identity, user, server, tool: NUL-separated fields */
        size_t key_len;
        uint64_t credit; /* tokens × period_ms */
        uint64_t last_ms; /* when credit was last brought up to date */
        uint64_t used_ms; /* last admit that looked at it (LRU eviction) */
        uint32_t inflight;
        bool pinned; /* taken by the admit running now: never evicted under it */
} bucket;

struct limiter {
        limit_set set;
        bucket **buckets;
        size_t n_buckets;
};

struct limit_hold {
        size_t n;
        bucket *b[];
};

/* ---- rules ---- */

static void rule_done(limit_rule *r)
{
        free(r->user);
        free(r->server);
        free(r->tool);
}

void limit_set_done(limit_set *set)
{
        for (size_t i = 0; i < set->n; i++)
                rule_done(&set->rules[i]);
        free(set->rules);
        set->rules = NULL;
        set->n = 0;
}

static bool glob_ok(const char *g)
{
        return g && g[0] && strlen(g) <= LIMITS_MAX_PATTERN_BYTES;
}

/* Checks r's ranges; where names it in the message. */
static int rule_check(const limit_rule *r, const char *where, int code, corral_error *err)
{
        if (!glob_ok(r->user) || !glob_ok(r->server) || (r->tool && !glob_ok(r->tool)))
                return corral_error_set(err, code,
                                        "%s: user, server and tool are globs of 1 to %d bytes",
                                        where, LIMITS_MAX_PATTERN_BYTES);
        if (r->calls > LIMITS_MAX_CALLS)
                return corral_error_set(err, code, "%s: calls must be 0 to %d", where,
                                        LIMITS_MAX_CALLS);
        if (r->calls && (r->period_ms < 1 || r->period_ms > LIMITS_MAX_PERIOD_MS))
                return corral_error_set(err, code,
                                        "%s: period_s must be above 0 and at most %llu", where,
                                        (unsigned long long)(LIMITS_MAX_PERIOD_MS / 1000));
        if (r->concurrent > LIMITS_MAX_CONCURRENT)
                return corral_error_set(err, code, "%s: concurrent must be 0 to %d", where,
                                        LIMITS_MAX_CONCURRENT);
        if (!r->calls && !r->concurrent)
                return corral_error_set(err, code, "%s: the rule limits nothing (set calls or "
                                        "concurrent)", where);
        return 0;
}

static void set_push(limit_set *set, const limit_rule *r)
{
        set->rules = xrealloc(set->rules, (set->n + 1) * sizeof(*set->rules));
        set->rules[set->n++] = *r;
}

/* A whole number in [0, max] from j (absent: 0); -1 when it is not one. */
static int64_t count_of(const cJSON *j, double max)
{
        if (!j)
                return 0;
        if (!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > max ||
            j->valuedouble != (double)(int64_t)j->valuedouble)
                return -1;
        return (int64_t)j->valuedouble;
}

static int rule_from_json(const cJSON *o, const char *where, limit_rule *ret, corral_error *err)
{
        static const char *const keys[] = {"user", "server", "tool", "calls", "period_s",
                                           "concurrent", NULL};
        limit_rule r = {.source = "corral.json"};
        const cJSON *k, *p;
        int64_t calls, conc;
        int rc;

        if (!cJSON_IsObject(o))
                return corral_error_set(err, EX_CONFIG, "%s: must be an object", where);
        cJSON_ArrayForEach(k, o)
        {
                bool known = false;
                for (size_t i = 0; keys[i]; i++)
                        known |= strcmp(k->string, keys[i]) == 0;
                if (!known)
                        return corral_error_set(err, EX_CONFIG, "%s: unknown key %.64s", where,
                                                k->string);
        }
        for (size_t i = 0; i < 3; i++) {
                k = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
                if (k && !cJSON_IsString(k))
                        return corral_error_set(err, EX_CONFIG, "%s.%s: must be a string",
                                                where, keys[i]);
        }
        calls = count_of(cJSON_GetObjectItemCaseSensitive(o, "calls"), LIMITS_MAX_CALLS);
        conc = count_of(cJSON_GetObjectItemCaseSensitive(o, "concurrent"), LIMITS_MAX_CONCURRENT);
        if (calls < 0)
                return corral_error_set(err, EX_CONFIG, "%s.calls: must be a whole number from "
                                        "0 to %d", where, LIMITS_MAX_CALLS);
        if (conc < 0)
                return corral_error_set(err, EX_CONFIG, "%s.concurrent: must be a whole number "
                                        "from 0 to %d", where, LIMITS_MAX_CONCURRENT);
        p = cJSON_GetObjectItemCaseSensitive(o, "period_s");
        if (p && (!cJSON_IsNumber(p) || !(p->valuedouble * 1000 >= 1) ||
                  p->valuedouble * 1000 > (double)LIMITS_MAX_PERIOD_MS))
                return corral_error_set(err, EX_CONFIG, "%s.period_s: must be a number of "
                                        "seconds from 0.001 to %llu", where,
                                        (unsigned long long)(LIMITS_MAX_PERIOD_MS / 1000));
        if (calls && !p)
                return corral_error_set(err, EX_CONFIG, "%s: calls needs period_s", where);
        r.calls = (uint32_t)calls;
        r.concurrent = (uint32_t)conc;
        r.period_ms = p ? (uint64_t)(p->valuedouble * 1000 + 0.5) : 0;
        if (!cJSON_GetObjectItemCaseSensitive(o, "server"))
                return corral_error_set(err, EX_CONFIG, "%s: missing server", where);
        r.server = xstrdup(json_get_string(o, "server"));
        r.user = xstrdup(json_get_string(o, "user") ? json_get_string(o, "user") : "*");
        r.tool = json_get_string(o, "tool") ? xstrdup(json_get_string(o, "tool")) : NULL;
        if ((rc = rule_check(&r, where, EX_CONFIG, err)) < 0) {
                rule_done(&r);
                return rc;
        }
        *ret = r;
        return 0;
}

int limit_set_from_config(const cJSON *config, limit_set *ret, corral_error *err)
{
        const cJSON *lim = cJSON_GetObjectItemCaseSensitive(config, "limits"), *k, *rules;
        limit_set set = {.max_result_bytes = LIMITS_DEFAULT_MAX_RESULT};
        int64_t max;
        size_t i = 0;
        int r;

        if (!lim) {
                *ret = set;
                return 0;
        }
        if (!cJSON_IsObject(lim))
                return corral_error_set(err, EX_CONFIG, "corral.json: limits must be an object");
        if ((r = config_check_object(lim, "limits", config_object_keys("limits"), err)) < 0)
                return r;
        k = cJSON_GetObjectItemCaseSensitive(lim, "max_result_bytes");
        max = count_of(k, (double)(1ull << 40));
        if (max < 0)
                return corral_error_set(err, EX_CONFIG, "corral.json: limits.max_result_bytes: "
                                        "must be a whole number of bytes (0: no cap)");
        if (k)
                set.max_result_bytes = (uint64_t)max;
        rules = cJSON_GetObjectItemCaseSensitive(lim, "rules");
        if (rules && !cJSON_IsArray(rules))
                return corral_error_set(err, EX_CONFIG,
                                        "corral.json: limits.rules must be an array");
        if (cJSON_GetArraySize(rules) > LIMITS_MAX_RULES)
                return corral_error_set(err, EX_CONFIG,
                                        "corral.json: limits.rules: more than %d rules",
                                        LIMITS_MAX_RULES);
        cJSON_ArrayForEach(k, rules)
        {
                char where[64];
                limit_rule rule;
                snprintf(where, sizeof(where), "corral.json: limits.rules[%zu]", i++);
                if ((r = rule_from_json(k, where, &rule, err)) < 0) {
                        limit_set_done(&set);
                        return r;
                }
                set_push(&set, &rule);
        }
        *ret = set;
        return 0;
}

int limit_set_add_rows(limit_set *set, const cJSON *rows, corral_error *err)
{
        const cJSON *row;
        int r;

        cJSON_ArrayForEach(row, rows)
        {
                const char *tool = json_get_string(row, "tool");
                double calls = json_get_number(row, "calls", -1);
                double period = json_get_number(row, "period_ms", -1);
                double conc = json_get_number(row, "concurrent", -1);
                limit_rule rule = {.source = "database"};
                char where[LIMITS_MAX_PATTERN_BYTES * 2 + 64];

                snprintf(where, sizeof(where), "state database: limit %.256s/%.256s",
                         json_get_string(row, "server") ? json_get_string(row, "server") : "?",
                         tool && tool[0] ? tool : "*");
                if (set->n >= LIMITS_MAX_RULES)
                        return corral_error_set(err, EX_DATAERR, "%s: more than %d rules", where,
                                                LIMITS_MAX_RULES);
                if (calls < 0 || calls > LIMITS_MAX_CALLS || period < 0 ||
                    period > (double)LIMITS_MAX_PERIOD_MS || conc < 0 ||
                    conc > LIMITS_MAX_CONCURRENT)
                        return corral_error_set(err, EX_DATAERR, "%s: a value is out of range",
                                                where);
                rule.user = xstrdup(json_get_string(row, "user") ? json_get_string(row, "user")
                                                                 : "");
                rule.server = xstrdup(json_get_string(row, "server") ? json_get_string(row, "server")
                                                                     : "");
                rule.tool = tool && tool[0] ? xstrdup(tool) : NULL;
                rule.calls = (uint32_t)calls;
                rule.period_ms = (uint64_t)period;
                rule.concurrent = (uint32_t)conc;
                if ((r = rule_check(&rule, where, EX_DATAERR, err)) < 0) {
                        rule_done(&rule);
                        return r;
                }
                set_push(set, &rule);
        }
        return 0;
}

int limit_check_setting(const state_limit *l, corral_error *err)
{
        _cleanup_json_ cJSON *rows = cJSON_CreateArray();
        cJSON *row = cJSON_CreateObject();
        limit_set check = {0};
        int r;

        cJSON_AddStringToObject(row, "user", l->user);
        cJSON_AddStringToObject(row, "server", l->server);
        cJSON_AddStringToObject(row, "tool", l->tool ? l->tool : "");
        cJSON_AddNumberToObject(row, "calls", (double)l->calls);
        cJSON_AddNumberToObject(row, "period_ms", (double)l->period_ms);
        cJSON_AddNumberToObject(row, "concurrent", (double)l->concurrent);
        cJSON_AddItemToArray(rows, row);
        r = limit_set_add_rows(&check, rows, err);
        limit_set_done(&check);
        return r;
}

static cJSON *rule_json(const limit_rule *r)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "user", r->user);
        cJSON_AddStringToObject(o, "server", r->server);
        cJSON_AddItemToObject(o, "tool", r->tool ? cJSON_CreateString(r->tool) : cJSON_CreateNull());
        cJSON_AddNumberToObject(o, "calls", r->calls);
        cJSON_AddNumberToObject(o, "period_s", (double)r->period_ms / 1000);
        cJSON_AddNumberToObject(o, "concurrent", r->concurrent);
        cJSON_AddStringToObject(o, "source", r->source);
        return o;
}

cJSON *limit_set_json(const limit_set *set)
{
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < set->n; i++)
                cJSON_AddItemToArray(arr, rule_json(&set->rules[i]));
        return arr;
}

/* ---- the limiter ---- */

limiter *limiter_new(void)
{
        limiter *l = xcalloc(1, sizeof(*l));
        l->set.max_result_bytes = LIMITS_DEFAULT_MAX_RESULT;
        return l;
}

static void bucket_free(bucket *b)
{
        if (b) {
                free(b->key);
                free(b);
        }
}

limiter *limiter_free(limiter *l)
{
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_buckets; i++)
                bucket_free(l->buckets[i]);
        free(l->buckets);
        limit_set_done(&l->set);
        free(l);
        return NULL;
}

void limiter_set_rules(limiter *l, limit_set *set)
{
        limit_set_done(&l->set);
        l->set = *set;
        *set = (limit_set){0};
}

uint64_t limiter_max_result(const limiter *l)
{
        return l ? l->set.max_result_bytes : 0;
}

cJSON *limiter_rules_json(const limiter *l)
{
        return limit_set_json(&l->set);
}

int limiter_load(limiter *l, const cJSON *config, const char *db_path, corral_error *err)
{
        limit_set set;
        state_db *db = NULL;
        _cleanup_json_ cJSON *rows = NULL;
        int r, dr = 0;

        if ((r = limit_set_from_config(config, &set, err)) < 0)
                return r;
        if (db_path) {
                corral_error derr = {0};
                /* Even a reader writes the -shm mapping, which this process
                 * shares with the daemon's writer: a file that cannot be
                 * written is not opened (state_check_writable()). */
                dr = path_exists(db_path) ? state_check_writable(db_path, &derr) : 0;
                if (dr == 0)
                        dr = state_open(&db, db_path, true, &derr);
                if (dr == -EX_NOINPUT)
                        dr = 0; /* no database yet: no settings */
                else if (dr == 0)
                        dr = state_query_limits(db, &rows, &derr);
                if (dr == 0 && rows)
                        dr = limit_set_add_rows(&set, rows, &derr);
                db = state_close(db);
                if (dr < 0) {
                        /* Keep what the database said before. */
                        for (size_t i = set.n; i-- > 0;)
                                if (strcmp(set.rules[i].source, "database") == 0) {
                                        rule_done(&set.rules[i]);
                                        set.rules[i] = set.rules[--set.n];
                                }
                        for (size_t i = 0; i < l->set.n; i++) {
                                const limit_rule *o = &l->set.rules[i];
                                limit_rule c = *o;
                                if (strcmp(o->source, "database") != 0)
                                        continue;
                                c.user = xstrdup(o->user);
                                c.server = xstrdup(o->server);
                                c.tool = o->tool ? xstrdup(o->tool) : NULL;
                                set_push(&set, &c);
                        }
                        (void)corral_error_set(err, derr.code ? derr.code : EX_IOERR,
                                         "limits: the state database's settings were not read "
                                         "(the ones in force are kept): %s",
                                         derr.msg);
                }
        }
        limiter_set_rules(l, &set);
        return dr < 0 ? 1 : 0;
}

static bool matches(const char *glob, const char *s)
{
        return fnmatch(glob, s, 0) == 0;
}

/* The bucket key: the rule's identity (so a reload that keeps a rule keeps
 * its buckets) and the caller's user, server and tool (NUL-separated). */
static char *bucket_key(const limit_rule *r, const char *user, const char *server,
                        const char *tool, size_t *ret_len)
{
        char head[96];
        size_t n = 0;
        const char *parts[] = {head, r->user, r->server, r->tool ? r->tool : "", user, server,
                               r->tool ? tool : ""};
        char *key, *p;

        snprintf(head, sizeof(head), "%u/%llu/%u", r->calls, (unsigned long long)r->period_ms,
                 r->concurrent);
        for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
                n += strlen(parts[i]) + 1;
        key = p = xmalloc(n);
        for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
                size_t len = strlen(parts[i]) + 1;
                memcpy(p, parts[i], len);
                p += len;
        }
        *ret_len = n;
        return key;
}

/* The bucket for key, made (full) when there is none; NULL when the table is
 * full of buckets with calls in flight. */
static bucket *bucket_get(limiter *l, const limit_rule *r, char *key, size_t len, uint64_t now)
{
        bucket *b;
        size_t lru = SIZE_MAX;

        for (size_t i = 0; i < l->n_buckets; i++) {
                b = l->buckets[i];
                if (b->key_len == len && memcmp(b->key, key, len) == 0) {
                        free(key);
                        return b;
                }
                if (!b->inflight && !b->pinned && (lru == SIZE_MAX || b->used_ms < l->buckets[lru]->used_ms))
                        lru = i;
        }
        if (l->n_buckets >= LIMITS_MAX_BUCKETS) {
                if (lru == SIZE_MAX) {
                        free(key);
                        return NULL;
                }
                /* An idle bucket forgotten starts full again: under this many
                 * callers the oldest may get a fresh allowance. */
                bucket_free(l->buckets[lru]);
                l->buckets[lru] = l->buckets[--l->n_buckets];
        }
        b = xcalloc(1, sizeof(*b));
        b->key = key;
        b->key_len = len;
        b->credit = (uint64_t)r->calls * r->period_ms;
        b->last_ms = now;
        l->buckets = xrealloc(l->buckets, (l->n_buckets + 1) * sizeof(*l->buckets));
        l->buckets[l->n_buckets++] = b;
        return b;
}

static void refill(bucket *b, const limit_rule *r, uint64_t now)
{
        uint64_t cap = (uint64_t)r->calls * r->period_ms;

        if (now > b->last_ms) {
                uint64_t add = (now - b->last_ms) * (uint64_t)r->calls;
                b->credit = add >= cap - b->credit ? cap : b->credit + add;
        }
        b->last_ms = now;
        if (b->credit > cap)
                b->credit = cap;
}

static cJSON *refusal(const limit_rule *r, const char *reason)
{
        cJSON *o = rule_json(r);
        cJSON_AddStringToObject(o, "reason", reason);
        return o;
}

bool limiter_admit(limiter *l, uint64_t now_ms, const char *user, const char *server,
                   const char *tool, limit_hold **ret_hold, uint64_t *ret_retry_ms,
                   cJSON **ret_limit)
{
        _cleanup_free_ bucket **got = NULL;
        _cleanup_free_ const limit_rule **rules = NULL;
        size_t n = 0;
        uint64_t retry = 0;
        const limit_rule *worst = NULL;
        const char *reason = NULL;
        limit_hold *h;

        *ret_hold = NULL;
        if (!l || !l->set.n)
                return true;
        if (!user)
                user = "";
        got = xcalloc(l->set.n, sizeof(*got));
        rules = xcalloc(l->set.n, sizeof(*rules));
        for (size_t i = 0; i < l->set.n; i++) {
                const limit_rule *r = &l->set.rules[i];
                size_t len;
                char *key;
                bucket *b;

                if (!matches(r->user, user) || !matches(r->server, server) ||
                    (r->tool && !matches(r->tool, tool)))
                        continue;
                key = bucket_key(r, user, server, tool, &len);
                b = bucket_get(l, r, key, len, now_ms);
                if (!b) {
                        /* Every bucket busy: nothing to count this call in. */
                        worst = r;
                        reason = "concurrency";
                        retry = retry > LIMITS_CONCURRENT_RETRY_MS ? retry
                                                                  : LIMITS_CONCURRENT_RETRY_MS;
                        continue;
                }
                if (b->pinned)
                        continue; /* the same rule twice counts once */
                b->pinned = true;
                b->used_ms = now_ms;
                refill(b, r, now_ms);
                if (r->calls && b->credit < r->period_ms) {
                        uint64_t need = r->period_ms - b->credit;
                        uint64_t wait = (need + r->calls - 1) / r->calls;
                        if (wait > retry || !worst) {
                                retry = wait > retry ? wait : retry;
                                worst = r;
                                reason = "rate";
                        }
                } else if (r->concurrent && b->inflight >= r->concurrent) {
                        if (!worst) {
                                worst = r;
                                reason = "concurrency";
                        }
                        retry = retry > LIMITS_CONCURRENT_RETRY_MS ? retry
                                                                  : LIMITS_CONCURRENT_RETRY_MS;
                }
                got[n] = b;
                rules[n++] = r;
        }
        for (size_t i = 0; i < n; i++)
                got[i]->pinned = false;
        if (worst) {
                *ret_retry_ms = retry ? retry : 1;
                *ret_limit = refusal(worst, reason);
                return false;
        }
        if (!n)
                return true;
        h = xmalloc(sizeof(*h) + n * sizeof(h->b[0]));
        h->n = 0;
        for (size_t i = 0; i < n; i++) {
                if (rules[i]->calls)
                        got[i]->credit -= rules[i]->period_ms; /* checked above */
                if (rules[i]->concurrent) {
                        got[i]->inflight++;
                        h->b[h->n++] = got[i];
                }
        }
        if (!h->n) {
                free(h);
                h = NULL;
        }
        *ret_hold = h;
        return true;
}

void limiter_release(limiter *l, limit_hold *h)
{
        (void)l;
        if (!h)
                return;
        for (size_t i = 0; i < h->n; i++)
                if (h->b[i]->inflight)
                        h->b[i]->inflight--;
        free(h);
}
