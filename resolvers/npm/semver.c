/* node-semver (v7) versions and ranges.
 *
 * node-semver defines ranges by a pipeline of regular-expression rewrites
 * (hyphen ranges, operator/tilde/caret whitespace trimming, then per-token
 * caret, tilde, x-range and star desugaring) followed by a comparator parse.
 * npm's behaviour on odd inputs ("> =1.2", "^1.x.5", "1.2.3 - =2") falls out
 * of those rewrites, so this file reproduces each step on strings, with small
 * hand-written matchers that follow the regexes' greedy/backtracking order,
 * instead of inventing a grammar that would disagree at the edges.
 *
 * A range is parsed twice, without and with node's includePrerelease option,
 * because that option changes the desugaring (lower bounds gain "-0"), not
 * only the test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corral/macro.h"
#include "semver_internal.h"

/* ---- versions ---------------------------------------------------------- */

/* Digits to a number as JavaScript's unary + would see them, saturated: any
 * value above MAX_SAFE becomes MAX_SAFE + 1 (node rejects those anyway). */
static uint64_t num_value(span a)
{
        uint64_t v = 0;
        for (size_t i = 0; i < a.n; i++) {
                v = v * 10 + (uint64_t)(a.s[i] - '0');
                if (v > MAX_SAFE)
                        return MAX_SAFE + 1;
        }
        return v;
}

static bool all_digits(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!sm_is_digit(*s))
                        return false;
        return true;
}

int sm_parse_span(semver *ret, const char *s, size_t n, bool loose)
{
        if (n > SEMVER_MAX_LENGTH)
                return -EX_DATAERR;
        sm_js_trim(&s, &n);
        plain c;
        if (!sm_plain_match(s, n, loose ? PLAIN_LOOSE : PLAIN_V_ONLY, &c))
                return -EX_DATAERR;
        semver v = {num_value(c.M), num_value(c.m), num_value(c.p), NULL, NULL};
        if (v.major > MAX_SAFE || v.minor > MAX_SAFE || v.patch > MAX_SAFE)
                return -EX_DATAERR;
        if (c.pr.s) {
                size_t i = 0;
                while (i <= c.pr.n) {
                        const char *dot = memchr(c.pr.s + i, '.', c.pr.n - i);
                        size_t k = dot ? (size_t)(dot - (c.pr.s + i)) : c.pr.n - i;
                        _cleanup_free_ char *id = xstrndup(c.pr.s + i, k);
                        /* node turns numeric identifiers below MAX_SAFE into
                         * numbers, which drops loose leading zeros. */
                        if (all_digits(id)) {
                                uint64_t x = num_value((span){id, k});
                                if (x < MAX_SAFE) {
                                        free(id);
                                        id = xasprintf("%llu", (unsigned long long)x);
                                }
                        }
                        v.pre = strv_push(v.pre, id);
                        i += k + 1;
                }
        }
        if (c.build.s)
                v.build = xstrndup(c.build.s, c.build.n);
        *ret = v;
        return 0;
}

int semver_parse(semver *ret, const char *s, bool loose)
{
        if (!s)
                return -EX_DATAERR;
        return sm_parse_span(ret, s, strlen(s), loose);
}

void semver_done(semver *v)
{
        if (!v)
                return;
        strv_free(v->pre);
        free(v->build);
        v->pre = NULL;
        v->build = NULL;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
        return a < b ? -1 : a > b ? 1 : 0;
}

/* node's compareIdentifiers(): numeric identifiers compare as numbers (as
 * doubles, as JavaScript does) and sort before alphanumeric ones. */
static int compare_ids(const char *a, const char *b)
{
        bool an = all_digits(a), bn = all_digits(b);
        if (an && bn) {
                double x = strtod(a, NULL), y = strtod(b, NULL);
                return x < y ? -1 : x > y ? 1 : 0;
        }
        if (an != bn)
                return an ? -1 : 1;
        int r = strcmp(a, b);
        return r < 0 ? -1 : r > 0 ? 1 : 0;
}

int semver_compare(const semver *a, const semver *b)
{
        int r = cmp_u64(a->major, b->major);
        if (!r)
                r = cmp_u64(a->minor, b->minor);
        if (!r)
                r = cmp_u64(a->patch, b->patch);
        if (r)
                return r;
        if (!a->pre || !b->pre)
                return a->pre ? -1 : b->pre ? 1 : 0;
        for (size_t i = 0;; i++) {
                const char *x = a->pre[i], *y = b->pre[i];
                if (!x && !y)
                        return 0;
                if (!y)
                        return 1;
                if (!x)
                        return -1;
                if (strcmp(x, y) != 0)
                        /* Like comparePre(): the first differing pair decides,
                         * even when it compares equal as numbers. */
                        return compare_ids(x, y);
        }
}

char *semver_format(const semver *v)
{
        strbuf b = STRBUF_INIT(0);
        (void)strbuf_appendf(&b, "%llu.%llu.%llu", (unsigned long long)v->major,
                             (unsigned long long)v->minor, (unsigned long long)v->patch);
        for (size_t i = 0; v->pre && v->pre[i]; i++)
                (void)strbuf_appendf(&b, "%c%s", i ? '.' : '-', v->pre[i]);
        return strbuf_steal(&b);
}

static bool comparator_test(const comparator *c, const semver *v)
{
        if (c->op == OP_ANY)
                return true;
        int r = semver_compare(v, &c->v);
        switch (c->op) {
        case OP_EQ:
                return r == 0;
        case OP_GT:
                return r > 0;
        case OP_GE:
                return r >= 0;
        case OP_LT:
                return r < 0;
        case OP_LE:
                return r <= 0;
        default:
                return true;
        }
}

static bool set_test(const cset *s, const semver *v, bool incpr)
{
        for (size_t i = 0; i < s->n; i++)
                if (!comparator_test(&s->c[i], v))
                        return false;
        if (!v->pre || incpr)
                return true;
        /* A prerelease passes only when a comparator opts into prereleases of
         * the same [major, minor, patch] tuple. */
        for (size_t i = 0; i < s->n; i++) {
                const semver *a = &s->c[i].v;
                if (s->c[i].op != OP_ANY && a->pre && a->major == v->major &&
                    a->minor == v->minor && a->patch == v->patch)
                        return true;
        }
        return false;
}

bool semver_range_test(const semver_range *r, const semver *v, bool include_prerelease)
{
        if (!r || !v)
                return false;
        const variant *va = &r->var[include_prerelease ? 1 : 0];
        for (size_t i = 0; i < va->n; i++)
                if (set_test(&va->sets[i], v, include_prerelease))
                        return true;
        return false;
}

static bool satisfies(const char *v, const char *r, bool loose, bool include_prerelease)
{
        semver_range *range = NULL;
        semver ver;
        if (!v || sm_parse_range(&range, r, loose, include_prerelease, NULL) < 0)
                return false;
        bool ok = false;
        if (semver_parse(&ver, v, loose) >= 0) {
                ok = semver_range_test(range, &ver, include_prerelease);
                semver_done(&ver);
        }
        semver_range_free(range);
        return ok;
}

bool semver_satisfies(const char *v, const char *r, bool include_prerelease)
{
        return satisfies(v, r, false, include_prerelease);
}

bool semver_satisfies_loose(const char *v, const char *r, bool include_prerelease)
{
        return satisfies(v, r, true, include_prerelease);
}

const char *semver_max_satisfying(const char *const *versions, size_t n, const semver_range *range)
{
        const char *best = NULL;
        semver bv = {0};
        if (!range)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                semver v;
                if (!versions[i] || semver_parse(&v, versions[i], range->loose) < 0)
                        continue;
                if (semver_range_test(range, &v, false) && (!best || semver_compare(&bv, &v) < 0)) {
                        semver_done(&bv);
                        bv = v;
                        best = versions[i];
                } else {
                        semver_done(&v);
                }
        }
        semver_done(&bv);
        return best;
}

char *semver_range_format(const semver_range *r, bool include_prerelease)
{
        const variant *va = &r->var[include_prerelease ? 1 : 0];
        if (va->n == 0)
                return NULL;
        strbuf b = STRBUF_INIT(0);
        sm_sb_add(&b, "", 0);
        for (size_t i = 0; i < va->n; i++) {
                if (i)
                        sm_sb_str(&b, "||");
                for (size_t k = 0; k < va->sets[i].n; k++) {
                        if (k)
                                sm_sb_str(&b, " ");
                        sm_sb_str(&b, va->sets[i].c[k].value);
                }
        }
        return strbuf_steal(&b);
}

