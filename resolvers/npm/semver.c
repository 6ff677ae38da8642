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
#include <string.h>

#include "corral/macro.h"
#include "corral/semver.h"
#include "corral/strbuf.h"

#define MAX_SAFE 9007199254740991ULL /* Number.MAX_SAFE_INTEGER */

/* ---- character classes ------------------------------------------------- */

/* Bytes of the JavaScript \s character at s (ASCII and the UTF-8 encodings of
 * the Unicode spaces ECMAScript counts), 0 when s is not whitespace. */
static size_t ws_len(const char *s)
{
        const unsigned char *u = (const unsigned char *)s;
        switch (u[0]) {
        case ' ':
        case '\t':
        case '\n':
        case '\v':
        case '\f':
        case '\r':
                return 1;
        case 0xc2:
                return u[1] == 0xa0 ? 2 : 0;
        case 0xe1:
                return u[1] == 0x9a && u[2] == 0x80 ? 3 : 0;
        case 0xe2:
                if (u[1] == 0x80 && ((u[2] >= 0x80 && u[2] <= 0x8a) || u[2] == 0xa8 ||
                                     u[2] == 0xa9 || u[2] == 0xaf))
                        return 3;
                return u[1] == 0x81 && u[2] == 0x9f ? 3 : 0;
        case 0xe3:
                return u[1] == 0x80 && u[2] == 0x80 ? 3 : 0;
        case 0xef:
                return u[1] == 0xbb && u[2] == 0xbf ? 3 : 0;
        default:
                return 0;
        }
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* [a-zA-Z0-9-]: prerelease and build identifier characters. */
static bool is_idc(char c)
{
        return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

static size_t run_of(const char *s, size_t n, bool (*cls)(char))
{
        size_t i = 0;
        while (i < n && cls(s[i]))
                i++;
        return i;
}

/* JavaScript String.prototype.trim() bounds on [s, s+n). */
static void js_trim(const char **s, size_t *n)
{
        const char *p = *s, *e = *s + *n;
        size_t w;
        while (p < e && (w = ws_len(p)) > 0 && p + w <= e)
                p += w;
        for (;;) {
                /* Whitespace is at most 3 bytes: look back for one ending at e. */
                size_t k;
                for (k = 1; k <= 3 && k <= (size_t)(e - p); k++)
                        if (ws_len(e - k) == k)
                                break;
                if (k > 3 || k > (size_t)(e - p))
                        break;
                e -= k;
        }
        *s = p;
        *n = (size_t)(e - p);
}

/* ---- spans and captures -------------------------------------------------- */

typedef struct span {
        const char *s; /* NULL: the group did not participate */
        size_t n;
} span;

static bool span_is(span a, const char *lit)
{
        return a.s && a.n == strlen(lit) && memcmp(a.s, lit, a.n) == 0;
}

/* node's isX(): absent, empty, x, X or *. */
static bool is_x(span a)
{
        return !a.s || a.n == 0 || span_is(a, "x") || span_is(a, "X") || span_is(a, "*");
}

typedef struct plain {
        span all;       /* the whole match, prefix included */
        span M, m, p;   /* numeric or x identifiers */
        span pr, build; /* without '-' / '+' */
} plain;

/* node-semver matches with "safe" regexes whose repetitions are bounded
 * (\d{0,256}, [a-zA-Z0-9-]{0,250}); identifiers past those lengths do not
 * match.  Only ranges can hold such long ones (versions are capped at 256). */
#define RE_MAX_DIGITS 256
#define RE_MAX_IDC 250

typedef enum { IDS_STRICT, IDS_LOOSE, IDS_BUILD } ids_kind;

/* Is [s, s+n) one identifier of the kind, as the bounded regexes see it? */
static bool id_ok(const char *s, size_t k, ids_kind kind)
{
        if (k == 0)
                return false;
        if (kind == IDS_BUILD)
                return k <= RE_MAX_IDC;
        size_t d = run_of(s, k, is_digit);
        if (d < k) /* NONNUMERICIDENTIFIER: \d*[a-zA-Z-][a-zA-Z0-9-]* */
                return d <= RE_MAX_DIGITS && k - d - 1 <= RE_MAX_IDC;
        if (kind == IDS_LOOSE)
                return k <= RE_MAX_DIGITS;
        return k == 1 || (s[0] != '0' && k <= RE_MAX_DIGITS + 1);
}

/* Is [s, s+n) a dot-separated list of prerelease (strict: numeric ones
 * without leading zeros) or build identifiers? */
static bool id_list_ok(const char *s, size_t n, ids_kind kind)
{
        if (n == 0)
                return false;
        size_t i = 0;
        for (;;) {
                size_t k = run_of(s + i, n - i, is_idc);
                if (!id_ok(s + i, k, kind))
                        return false;
                i += k;
                if (i == n)
                        return true;
                if (s[i] != '.')
                        return false;
                i++;
        }
}

/* Anchored match of what may follow the patch number: PRERELEASE? BUILD? (or
 * their loose forms). */
static bool tail_ok(const char *s, size_t n, bool loose, plain *c)
{
        c->pr = (span){NULL, 0};
        c->build = (span){NULL, 0};
        if (n == 0)
                return true;
        const char *plus = memchr(s, '+', n);
        size_t q = plus ? (size_t)(plus - s) : n;
        if (q > 0) {
                if (s[0] == '-' && id_list_ok(s + 1, q - 1, loose ? IDS_LOOSE : IDS_STRICT))
                        c->pr = (span){s + 1, q - 1};
                else if (loose && id_list_ok(s, q, IDS_LOOSE))
                        c->pr = (span){s, q}; /* PRERELEASELOOSE's dash is optional */
                else
                        return false;
        }
        if (plus) {
                if (!id_list_ok(s + q + 1, n - q - 1, IDS_BUILD))
                        return false;
                c->build = (span){s + q + 1, n - q - 1};
        }
        return true;
}

/* Length of a numeric identifier at s: "0" | [1-9][0-9]* strictly, [0-9]+
 * loosely; also x, X and "*" when xr.  0 when none. */
static size_t num_at(const char *s, size_t n, bool loose, bool xr)
{
        if (n == 0)
                return 0;
        if (xr && (s[0] == 'x' || s[0] == 'X' || s[0] == '*'))
                return 1;
        if (!is_digit(s[0]))
                return 0;
        if (!loose && s[0] == '0')
                return 1;
        size_t k = run_of(s, n, is_digit), max = loose ? RE_MAX_DIGITS : RE_MAX_DIGITS + 1;
        return k < max ? k : max;
}

enum {
        PLAIN_XR = 1,     /* XRANGEPLAIN: x identifiers, minor and patch optional */
        PLAIN_LOOSE = 2,  /* loose numbers and prerelease */
        PLAIN_V_ONLY = 4, /* prefix is "v?" (FULLPLAIN) instead of "[v=\s]*" */
};

/* Anchored match of [s, s+n) against XRANGEPLAIN, FULLPLAIN or LOOSEPLAIN
 * (per flags), filling the capture groups. */
static bool plain_match(const char *s, size_t n, int flags, plain *c)
{
        bool loose = flags & PLAIN_LOOSE, xr = flags & PLAIN_XR;
        size_t i = 0;
        *c = (plain){.all = {s, n}};
        if (flags & PLAIN_V_ONLY) {
                if (i < n && s[i] == 'v')
                        i++;
        } else {
                for (;;) {
                        size_t w;
                        if (i < n && (s[i] == 'v' || s[i] == '='))
                                i++;
                        else if (i < n && (w = ws_len(s + i)) > 0 && i + w <= n)
                                i += w;
                        else
                                break;
                }
        }
        span *parts[3] = {&c->M, &c->m, &c->p};
        for (int k = 0; k < 3; k++) {
                if (k > 0) {
                        if (i == n && xr)
                                return true; /* "1" and "1.2" are x-ranges */
                        if (i >= n || s[i] != '.')
                                return false;
                        i++;
                }
                size_t len = num_at(s + i, n - i, loose, xr);
                if (len == 0)
                        return false;
                if (k < 2) {
                        *parts[k] = (span){s + i, len};
                        i += len;
                        continue;
                }
                /* The patch number is greedy but gives digits back to a
                 * dash-less loose prerelease when the rest fails otherwise
                 * ("1.2.34.5" is 1.2.3-4.5 loosely). */
                if (tail_ok(s + i + len, n - i - len, loose, c)) {
                        *parts[k] = (span){s + i, len};
                        return true;
                }
                /* Any shorter split gives the same verdict (the tail then
                 * starts with >= 1 digit), so one retry stands for them all:
                 * the regex would settle on the longest that works. */
                if (loose && len > 1 && is_digit(s[i]) &&
                    tail_ok(s + i + len - 1, n - i - len + 1, loose, c)) {
                        *parts[k] = (span){s + i, len - 1};
                        return true;
                }
                return false;
        }
        return false;
}

/* ---- unanchored greedy extents (for the global COMPARATORTRIM rewrite) --- */

/* These scan NUL-terminated text: no class matches the NUL, so SIZE_MAX
 * bounds are safe and keep the global scan linear. */

static size_t skip_prefix(const char *s, size_t i)
{
        while (s[i] == 'v' || s[i] == '=' || s[i] == ' ')
                i++;
        return i;
}

static size_t greedy_ids(const char *s, size_t i, bool strict)
{
        /* One identifier then (\.id)*, each as the regex would take it. */
        for (bool first = true;; first = false) {
                size_t j = i;
                if (!first) {
                        if (s[j] != '.')
                                return i;
                        j++;
                }
                size_t k = run_of(s + j, SIZE_MAX, is_idc);
                if (strict && k > 0 && run_of(s + j, k, is_digit) == k)
                        k = s[j] == '0' ? 1 : k; /* NUMERICIDENTIFIER stops after a 0 */
                if (k == 0)
                        return first ? (size_t)-1 : i;
                i = j + k;
        }
}

static size_t greedy_build(const char *s, size_t i)
{
        if (s[i] == '+' && is_idc(s[i + 1])) {
                size_t e = greedy_ids(s, i + 1, false);
                if (e != (size_t)-1)
                        return e;
        }
        return i;
}

/* End of a greedy LOOSEPLAIN match starting at i, or 0 when none. */
static size_t ext_looseplain(const char *s, size_t i)
{
        i = skip_prefix(s, i);
        for (int k = 0; k < 3; k++) {
                if (k > 0) {
                        if (s[i] != '.')
                                return 0;
                        i++;
                }
                size_t d = run_of(s + i, SIZE_MAX, is_digit);
                if (d == 0)
                        return 0;
                i += d;
        }
        if (s[i] == '-' && is_idc(s[i + 1]))
                i = greedy_ids(s, i + 1, false);
        else if (is_idc(s[i]))
                i = greedy_ids(s, i, false);
        return greedy_build(s, i);
}

/* End of a greedy (strict) XRANGEPLAIN match starting at i, or 0 when none. */
static size_t ext_xrangeplain(const char *s, size_t i)
{
        i = skip_prefix(s, i);
        size_t len = num_at(s + i, SIZE_MAX, false, true);
        if (len == 0)
                return 0;
        i += len;
        for (int k = 1; k < 3; k++) {
                if (s[i] != '.')
                        return i;
                len = num_at(s + i + 1, SIZE_MAX, false, true);
                if (len == 0)
                        return i;
                i += 1 + len;
        }
        if (s[i] == '-') {
                size_t e = greedy_ids(s, i + 1, true);
                if (e != (size_t)-1)
                        i = e;
        }
        return greedy_build(s, i);
}

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
                if (!is_digit(*s))
                        return false;
        return true;
}

static int parse_span(semver *ret, const char *s, size_t n, bool loose)
{
        if (n > SEMVER_MAX_LENGTH)
                return -EX_DATAERR;
        js_trim(&s, &n);
        plain c;
        if (!plain_match(s, n, loose ? PLAIN_LOOSE : PLAIN_V_ONLY, &c))
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
        return parse_span(ret, s, strlen(s), loose);
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

/* ---- comparators and ranges ------------------------------------------- */

typedef enum { OP_ANY, OP_EQ, OP_GT, OP_GE, OP_LT, OP_LE } cmp_op;

typedef struct comparator {
        cmp_op op;
        semver v;    /* unset for OP_ANY */
        char *value; /* node's Comparator#value: operator + version, "" for any */
} comparator;

typedef struct cset {
        comparator *c;
        size_t n;
} cset;

typedef struct variant {
        cset *sets;
        size_t n; /* 0: the range did not parse with this option (never satisfied) */
} variant;

struct semver_range {
        bool loose;
        variant var[2]; /* [include_prerelease] */
};

static void cset_done(cset *s)
{
        for (size_t i = 0; i < s->n; i++) {
                if (s->c[i].op != OP_ANY)
                        semver_done(&s->c[i].v);
                free(s->c[i].value);
        }
        free(s->c);
        s->c = NULL;
        s->n = 0;
}

static void variant_done(variant *v)
{
        for (size_t i = 0; i < v->n; i++)
                cset_done(&v->sets[i]);
        free(v->sets);
        v->sets = NULL;
        v->n = 0;
}

semver_range *semver_range_free(semver_range *r)
{
        if (r) {
                variant_done(&r->var[0]);
                variant_done(&r->var[1]);
                free(r);
        }
        return NULL;
}

typedef struct opts {
        bool loose, incpr;
} opts;

static void sb_add(strbuf *b, const char *s, size_t n)
{
        (void)strbuf_append(b, s, n);
}

static void sb_span(strbuf *b, span a)
{
        if (a.s)
                sb_add(b, a.s, a.n);
}

static void sb_str(strbuf *b, const char *s)
{
        sb_add(b, s, strlen(s));
}

/* `${+x + 1}` for a numeric identifier, rendered as JavaScript would.  Up to
 * MAX_SAFE this is exact; beyond it node rejects the digits later, except
 * that from 1e21 on JavaScript switches to exponent form ("3e+23"), which a
 * loose comparator then reads as patch "3", prerelease "e", build "+23". */
static void sb_inc(strbuf *b, span a)
{
        _cleanup_free_ char *t = xstrndup(a.s, a.n);
        double d = strtod(t, NULL) + 1;
        if (d < 1e21) {
                (void)strbuf_appendf(b, "%.0f", d);
                return;
        }
        /* Number#toString: the shortest digits that read back as d. */
        char buf[64];
        for (int prec = 0; prec <= 17; prec++) {
                snprintf(buf, sizeof(buf), "%.*e", prec, d);
                if (strtod(buf, NULL) == d)
                        break;
        }
        sb_str(b, buf);
}

/* Removes "+build" metadata (node's BUILD regex), everywhere or only the first. */
static char *strip_build(const char *s, bool once)
{
        strbuf b = STRBUF_INIT(0);
        size_t i = 0, n = strlen(s);
        sb_add(&b, "", 0);
        while (i < n) {
                if (s[i] == '+' && is_idc(s[i + 1])) {
                        i = greedy_ids(s, i + 1, false);
                        if (once) {
                                sb_add(&b, s + i, n - i);
                                break;
                        }
                        continue;
                }
                sb_add(&b, s + i, 1);
                i++;
        }
        return strbuf_steal(&b);
}

static char *js_trim_dup(const char *s, size_t n)
{
        js_trim(&s, &n);
        return xstrndup(s, n);
}

/* HYPHENRANGE: "A - B" as a whole becomes ">=A <=B", with x-range and
 * prerelease refinements (node's hyphenReplace). */
static char *hyphen_replace(const char *s, const opts *o)
{
        size_t n = strlen(s), lead = n > 0 && s[0] == ' ' ? 1 : 0, end = n;
        if (end > lead && s[end - 1] == ' ')
                end--;
        const char *sep = strstr(s + lead, " - ");
        int fl = PLAIN_XR | (o->loose ? PLAIN_LOOSE : 0);
        plain f, t;
        if (!sep)
                return xstrdup(s);
        size_t a1 = (size_t)(sep - s), b0 = a1 + 3;
        if (b0 > end || !plain_match(s + lead, a1 - lead, fl, &f) ||
            !plain_match(s + b0, end - b0, fl, &t))
                return xstrdup(s);
        const char *z = o->incpr ? "-0" : "";
        strbuf b = STRBUF_INIT(0);
        if (is_x(f.M)) {
                /* nothing */
        } else if (is_x(f.m)) {
                sb_str(&b, ">=");
                sb_span(&b, f.M);
                sb_str(&b, ".0.0");
                sb_str(&b, z);
        } else if (is_x(f.p)) {
                sb_str(&b, ">=");
                sb_span(&b, f.M);
                sb_str(&b, ".");
                sb_span(&b, f.m);
                sb_str(&b, ".0");
                sb_str(&b, z);
        } else {
                sb_str(&b, ">=");
                sb_span(&b, f.all);
                if (!f.pr.s)
                        sb_str(&b, z);
        }
        sb_str(&b, " ");
        if (is_x(t.M)) {
                /* nothing */
        } else if (is_x(t.m)) {
                sb_str(&b, "<");
                sb_inc(&b, t.M);
                sb_str(&b, ".0.0-0");
        } else if (is_x(t.p)) {
                sb_str(&b, "<");
                sb_span(&b, t.M);
                sb_str(&b, ".");
                sb_inc(&b, t.m);
                sb_str(&b, ".0-0");
        } else if (t.pr.s) {
                sb_str(&b, "<=");
                sb_span(&b, t.M);
                sb_str(&b, ".");
                sb_span(&b, t.m);
                sb_str(&b, ".");
                sb_span(&b, t.p);
                sb_str(&b, "-");
                sb_span(&b, t.pr);
        } else if (o->incpr) {
                sb_str(&b, "<");
                sb_span(&b, t.M);
                sb_str(&b, ".");
                sb_span(&b, t.m);
                sb_str(&b, ".");
                sb_inc(&b, t.p);
                sb_str(&b, "-0");
        } else {
                sb_str(&b, "<=");
                sb_span(&b, t.all);
        }
        char *r = js_trim_dup(b.buf, b.len);
        strbuf_done(&b);
        return r;
}

/* The GTLT alternatives at s, longest first, as the regex backtracks. */
static size_t gtlt_options(const char *s, size_t out[3])
{
        size_t k = 0;
        if (s[0] == '<' || s[0] == '>') {
                if (s[1] == '=')
                        out[k++] = 2;
                out[k++] = 1;
        } else if (s[0] == '=') {
                out[k++] = 1;
        }
        out[k++] = 0;
        return k;
}

/* COMPARATORTRIM, global: "> 1.2.3" becomes ">1.2.3". */
static char *comparator_trim(const char *s)
{
        strbuf b = STRBUF_INIT(0);
        size_t n = strlen(s), pos = 0;
        sb_add(&b, "", 0);
        for (size_t p = 0; p < n;) {
                bool found = false;
                size_t keep = 0, r = 0, e = 0;
                for (int s1 = s[p] == ' '; s1 >= 0 && !found; s1--) {
                        size_t q = p + (size_t)s1, gs[3];
                        size_t ng = gtlt_options(s + q, gs);
                        for (size_t gi = 0; gi < ng && !found; gi++) {
                                size_t g = gs[gi];
                                for (int s2 = s[q + g] == ' '; s2 >= 0 && !found; s2--) {
                                        size_t r0 = q + g + (size_t)s2;
                                        size_t x = ext_looseplain(s, r0);
                                        if (!x)
                                                x = ext_xrangeplain(s, r0);
                                        if (x) {
                                                found = true;
                                                keep = q + g;
                                                r = r0;
                                                e = x;
                                        }
                                }
                        }
                }
                if (!found) {
                        p++;
                        continue;
                }
                sb_add(&b, s + pos, keep - pos);
                sb_add(&b, s + r, e - r);
                pos = p = e;
        }
        sb_add(&b, s + pos, n - pos);
        return strbuf_steal(&b);
}

/* TILDETRIM ("~ 1", "~> 1" become "~1") and CARETTRIM ("^ 1" becomes "^1"). */
static char *lone_trim(const char *s, char op)
{
        strbuf b = STRBUF_INIT(0);
        size_t n = strlen(s);
        sb_add(&b, "", 0);
        for (size_t i = 0; i < n; i++) {
                sb_add(&b, s + i, 1);
                if (s[i] != op)
                        continue;
                if (op == '~' && s[i + 1] == '>' && s[i + 2] == ' ')
                        i += 2;
                else if (s[i + 1] == ' ')
                        i += 1;
        }
        return strbuf_steal(&b);
}

typedef char *(*token_fn)(const char *tok, const opts *o);

/* s.split(/\s+/).map(fn).join(' '), after s.trim() when trim is set. */
static char *map_tokens(const char *s, token_fn fn, const opts *o, bool trim)
{
        size_t n = strlen(s);
        if (trim)
                js_trim(&s, &n);
        strbuf b = STRBUF_INIT(0);
        sb_add(&b, "", 0);
        size_t start = 0, i = 0;
        bool first = true;
        for (;;) {
                size_t w = 0;
                while (i < n && (w = ws_len(s + i)) == 0)
                        i++;
                _cleanup_free_ char *tok = xstrndup(s + start, i - start);
                _cleanup_free_ char *out = fn(tok, o);
                if (!first)
                        sb_str(&b, " ");
                first = false;
                sb_str(&b, out);
                if (i >= n)
                        break;
                while (i < n && (w = ws_len(s + i)) > 0)
                        i += w;
                start = i;
        }
        return strbuf_steal(&b);
}

/* What node's replaceCaret and replaceTilde have in common: the whole range
 * when the major or the minor is an x (returns true), else the lower bound
 * ">=M.m.p" followed by " <", for the caller to finish with its upper bound. */
static bool caret_tilde_head(strbuf *b, const plain *c, const opts *o)
{
        const char *z = o->incpr ? "-0" : "";
        sb_add(b, "", 0);
        if (is_x(c->M))
                return true;
        sb_str(b, ">=");
        sb_span(b, c->M);
        if (is_x(c->m)) {
                sb_str(b, ".0.0");
                sb_str(b, z);
                sb_str(b, " <");
                sb_inc(b, c->M);
                sb_str(b, ".0.0-0");
                return true;
        }
        sb_str(b, ".");
        sb_span(b, c->m);
        sb_str(b, ".");
        if (is_x(c->p)) {
                sb_str(b, "0");
                sb_str(b, z);
        } else {
                sb_span(b, c->p);
                if (c->pr.s) {
                        sb_str(b, "-");
                        sb_span(b, c->pr);
                }
        }
        sb_str(b, " <");
        return false;
}

static char *replace_caret(const char *tok, const opts *o)
{
        plain c;
        if (tok[0] != '^' ||
            !plain_match(tok + 1, strlen(tok + 1), PLAIN_XR | (o->loose ? PLAIN_LOOSE : 0), &c))
                return xstrdup(tok);
        strbuf b = STRBUF_INIT(0);
        if (caret_tilde_head(&b, &c, o))
                return strbuf_steal(&b);
        /* node compares the identifier strings to "0" (so loose "00" is not 0). */
        if (span_is(c.M, "0")) {
                sb_span(&b, c.M);
                sb_str(&b, ".");
                if (!is_x(c.p) && span_is(c.m, "0")) {
                        sb_span(&b, c.m);
                        sb_str(&b, ".");
                        sb_inc(&b, c.p);
                        sb_str(&b, "-0");
                } else {
                        sb_inc(&b, c.m);
                        sb_str(&b, ".0-0");
                }
        } else {
                sb_inc(&b, c.M);
                sb_str(&b, ".0.0-0");
        }
        return strbuf_steal(&b);
}

static char *replace_tilde(const char *tok, const opts *o)
{
        plain c;
        size_t k = tok[0] == '~' && tok[1] == '>' ? 2 : 1;
        if (tok[0] != '~' ||
            !plain_match(tok + k, strlen(tok + k), PLAIN_XR | (o->loose ? PLAIN_LOOSE : 0), &c))
                return xstrdup(tok);
        strbuf b = STRBUF_INIT(0);
        if (caret_tilde_head(&b, &c, o))
                return strbuf_steal(&b);
        sb_span(&b, c.M);
        sb_str(&b, ".");
        sb_inc(&b, c.m);
        sb_str(&b, ".0-0");
        return strbuf_steal(&b);
}

static void sb_num_or_inc(strbuf *b, span a, bool inc, const char *lit)
{
        if (lit)
                sb_str(b, lit);
        else if (inc)
                sb_inc(b, a);
        else
                sb_span(b, a);
}

static char *replace_xrange(const char *tok0, const opts *o)
{
        _cleanup_free_ char *tok = js_trim_dup(tok0, strlen(tok0));
        size_t gs[3], ng = gtlt_options(tok, gs), g = 0;
        plain c;
        bool found = false;
        int fl = PLAIN_XR | (o->loose ? PLAIN_LOOSE : 0);
        for (size_t gi = 0; gi < ng && !found; gi++) {
                g = gs[gi];
                size_t w = ws_len(tok + g);
                if (w && plain_match(tok + g + w, strlen(tok + g + w), fl, &c))
                        found = true;
                else if (plain_match(tok + g, strlen(tok + g), fl, &c))
                        found = true;
        }
        if (!found)
                return xstrdup(tok);
        if ((is_x(c.M) && !is_x(c.m)) || (is_x(c.m) && c.p.s && !is_x(c.p)))
                return xstrdup(tok);
        char gtlt[3] = {0};
        memcpy(gtlt, tok, g);
        bool xM = is_x(c.M), xm = xM || is_x(c.m), xp = xm || is_x(c.p);
        if (strcmp(gtlt, "=") == 0 && xp)
                gtlt[0] = '\0';
        const char *pr = o->incpr ? "-0" : "";
        strbuf b = STRBUF_INIT(0);
        sb_add(&b, "", 0);
        if (xM) {
                sb_str(&b, strcmp(gtlt, ">") == 0 || strcmp(gtlt, "<") == 0 ? "<0.0.0-0" : "*");
        } else if (gtlt[0] && xp) {
                bool incM = false, incm = false;
                if (strcmp(gtlt, ">") == 0) {
                        memcpy(gtlt, ">=", 3);
                        if (xm)
                                incM = true;
                        else
                                incm = true;
                } else if (strcmp(gtlt, "<=") == 0) {
                        memcpy(gtlt, "<", 2);
                        if (xm)
                                incM = true;
                        else
                                incm = true;
                }
                if (strcmp(gtlt, "<") == 0)
                        pr = "-0";
                sb_str(&b, gtlt);
                sb_num_or_inc(&b, c.M, incM, NULL);
                sb_str(&b, ".");
                sb_num_or_inc(&b, c.m, incm, xm && !incm ? "0" : NULL);
                sb_str(&b, ".0");
                sb_str(&b, pr);
        } else if (xm) {
                sb_str(&b, ">=");
                sb_span(&b, c.M);
                sb_str(&b, ".0.0");
                sb_str(&b, pr);
                sb_str(&b, " <");
                sb_inc(&b, c.M);
                sb_str(&b, ".0.0-0");
        } else if (xp) {
                sb_str(&b, ">=");
                sb_span(&b, c.M);
                sb_str(&b, ".");
                sb_span(&b, c.m);
                sb_str(&b, ".0");
                sb_str(&b, pr);
                sb_str(&b, " <");
                sb_span(&b, c.M);
                sb_str(&b, ".");
                sb_inc(&b, c.m);
                sb_str(&b, ".0-0");
        } else {
                sb_str(&b, tok);
        }
        return strbuf_steal(&b);
}

/* STAR, first match only: "(<|>)?=?\s*\*" disappears. */
static char *replace_stars(const char *s0)
{
        _cleanup_free_ char *s = js_trim_dup(s0, strlen(s0));
        size_t n = strlen(s);
        for (size_t p = 0; p < n; p++) {
                for (int a = s[p] == '<' || s[p] == '>'; a >= 0; a--) {
                        size_t i = p + (size_t)a;
                        for (int e = s[i] == '='; e >= 0; e--) {
                                size_t j = i + (size_t)e;
                                for (int w = s[j] == ' '; w >= 0; w--) {
                                        size_t k = j + (size_t)w;
                                        if (s[k] == '*') {
                                                char *r = xmalloc(n);
                                                memcpy(r, s, p);
                                                memcpy(r + p, s + k + 1, n - k);
                                                return r;
                                        }
                                }
                        }
                }
        }
        return xstrdup(s);
}

static char *parse_comparator_str(const char *tok, const opts *o)
{
        _cleanup_free_ char *a = strip_build(tok, true);
        _cleanup_free_ char *b = map_tokens(a, replace_caret, o, true);
        _cleanup_free_ char *c = map_tokens(b, replace_tilde, o, true);
        _cleanup_free_ char *d = map_tokens(c, replace_xrange, o, false);
        return replace_stars(d);
}

/* COMPARATOR / COMPARATORLOOSE: operator length and version span. */
static bool comparator_match(const char *tok, bool loose, size_t *ret_g, span *ret_v)
{
        if (!*tok) {
                *ret_g = 0;
                *ret_v = (span){NULL, 0};
                return true;
        }
        size_t gs[3], ng = gtlt_options(tok, gs);
        plain c;
        int fl = loose ? PLAIN_LOOSE : PLAIN_V_ONLY;
        for (size_t gi = 0; gi < ng; gi++) {
                size_t g = gs[gi], w = ws_len(tok + g);
                for (int k = w > 0; k >= 0; k--) {
                        const char *v = tok + g + (k ? w : 0);
                        if (plain_match(v, strlen(v), fl, &c)) {
                                *ret_g = g;
                                *ret_v = (span){v, strlen(v)};
                                return true;
                        }
                }
        }
        return false;
}

static int comparator_parse(comparator *ret, const char *tok, bool loose)
{
        size_t g;
        span v;
        if (!comparator_match(tok, loose, &g, &v))
                return -EX_DATAERR;
        if (!v.s) {
                *ret = (comparator){.op = OP_ANY, .value = xstrdup("")};
                return 0;
        }
        comparator c = {0};
        if (g == 2)
                c.op = tok[0] == '<' ? OP_LE : OP_GE;
        else if (g == 1 && tok[0] != '=')
                c.op = tok[0] == '<' ? OP_LT : OP_GT;
        else
                c.op = OP_EQ;
        if (parse_span(&c.v, v.s, v.n, loose) < 0)
                return -EX_DATAERR;
        static const char *const names[] = {"", "", ">", ">=", "<", "<="};
        _cleanup_free_ char *f = semver_format(&c.v);
        c.value = xasprintf("%s%s", names[c.op], f);
        *ret = c;
        return 0;
}

static void comparator_done(comparator *c)
{
        if (c->op != OP_ANY)
                semver_done(&c->v);
        free(c->value);
}

static bool is_null_set(const comparator *c)
{
        return strcmp(c->value, "<0.0.0-0") == 0;
}

/* s.split(sep) with a literal separator; returns a NULL-terminated vector. */
static char **split_lit(const char *s, const char *sep)
{
        char **v = NULL;
        size_t k = strlen(sep);
        for (;;) {
                const char *e = strstr(s, sep);
                _cleanup_free_ char *part = xstrndup(s, e ? (size_t)(e - s) : strlen(s));
                v = strv_push(v, part);
                if (!e)
                        return v;
                s = e + k;
        }
}

/* Range#parseRange for one ||-separated part.  0 (set possibly empty in loose
 * mode) or -EX_DATAERR. */
static int parse_part(cset *ret, const char *part, const opts *o)
{
        _cleanup_free_ char *a = strip_build(part, false);
        _cleanup_free_ char *b = hyphen_replace(a, o);
        _cleanup_free_ char *c = comparator_trim(b);
        _cleanup_free_ char *d = lone_trim(c, '~');
        _cleanup_free_ char *e = lone_trim(d, '^');
        _cleanup_strv_ char **pieces = split_lit(e, " ");
        strbuf j = STRBUF_INIT(0);
        sb_add(&j, "", 0);
        for (size_t i = 0; pieces[i]; i++) {
                _cleanup_free_ char *x = parse_comparator_str(pieces[i], o);
                if (i)
                        sb_str(&j, " ");
                sb_str(&j, x);
        }
        _cleanup_free_ char *joined = strbuf_steal(&j);

        /* split(/\s+/): joined only holds ASCII spaces by now. */
        cset s = {0};
        comparator *all = NULL;
        size_t nall = 0, n = strlen(joined), i = 0;
        int r = 0;
        for (;;) {
                size_t k = i;
                while (k < n && joined[k] != ' ')
                        k++;
                _cleanup_free_ char *tok = xstrndup(joined + i, k - i);
                if (strcmp(tok, o->incpr ? ">=0.0.0-0" : ">=0.0.0") == 0)
                        tok[0] = '\0';
                size_t g;
                span v;
                if (!o->loose || comparator_match(tok, true, &g, &v)) {
                        comparator cmp;
                        r = comparator_parse(&cmp, tok, o->loose);
                        if (r < 0)
                                break;
                        all = xrealloc(all, (nall + 1) * sizeof(*all));
                        all[nall++] = cmp;
                }
                if (k >= n)
                        break;
                i = k;
                while (i < n && joined[i] == ' ')
                        i++;
        }
        /* Every comparator is built (and may fail) before the null set wins. */
        for (size_t m = 0; r >= 0 && m < nall; m++) {
                if (!is_null_set(&all[m]))
                        continue;
                for (size_t q = 0; q < nall; q++)
                        if (q != m)
                                comparator_done(&all[q]);
                s.c = xmalloc(sizeof(*s.c));
                s.c[0] = all[m];
                s.n = 1;
                free(all);
                *ret = s;
                return 0;
        }
        for (size_t m = 0; m < nall; m++) {
                size_t q;
                for (q = 0; r >= 0 && q < s.n; q++)
                        if (strcmp(s.c[q].value, all[m].value) == 0)
                                break;
                if (r < 0 || q < s.n) {
                        comparator_done(&all[m]);
                        continue;
                }
                s.c = xrealloc(s.c, (s.n + 1) * sizeof(*s.c));
                s.c[s.n++] = all[m];
        }
        free(all);
        if (r < 0) {
                cset_done(&s);
                return r;
        }
        if (s.n > 1) {
                for (size_t m = 0; m < s.n; m++) {
                        if (s.c[m].op == OP_ANY) {
                                comparator_done(&s.c[m]);
                                memmove(&s.c[m], &s.c[m + 1], (s.n - m - 1) * sizeof(*s.c));
                                s.n--;
                                break;
                        }
                }
        }
        *ret = s;
        return 0;
}

static bool set_is_any(const cset *s)
{
        return s->n == 1 && s->c[0].op == OP_ANY;
}

/* The Range constructor on whitespace-normalized text. */
static int parse_variant(variant *ret, const char *raw, const opts *o)
{
        _cleanup_strv_ char **parts = split_lit(raw, "||");
        variant v = {0};
        for (size_t i = 0; parts[i]; i++) {
                const char *p = parts[i];
                size_t n = strlen(p);
                js_trim(&p, &n);
                _cleanup_free_ char *t = xstrndup(p, n);
                cset s;
                if (parse_part(&s, t, o) < 0) {
                        variant_done(&v);
                        return -EX_DATAERR;
                }
                if (s.n == 0) {
                        cset_done(&s);
                        continue;
                }
                v.sets = xrealloc(v.sets, (v.n + 1) * sizeof(*v.sets));
                v.sets[v.n++] = s;
        }
        if (v.n == 0)
                return -EX_DATAERR;
        if (v.n > 1) {
                /* Null sets go unless all are null; then any "*" set wins. */
                cset *keep = xcalloc(v.n, sizeof(*keep));
                size_t k = 0;
                for (size_t i = 0; i < v.n; i++)
                        if (!is_null_set(&v.sets[i].c[0]))
                                keep[k++] = v.sets[i];
                if (k == 0) {
                        for (size_t i = 1; i < v.n; i++)
                                cset_done(&v.sets[i]);
                        v.n = 1;
                        free(keep);
                } else {
                        for (size_t i = 0; i < v.n; i++)
                                if (is_null_set(&v.sets[i].c[0]))
                                        cset_done(&v.sets[i]);
                        free(v.sets);
                        v.sets = keep;
                        v.n = k;
                        for (size_t i = 0; i < v.n && v.n > 1; i++) {
                                if (!set_is_any(&v.sets[i]))
                                        continue;
                                for (size_t m = 0; m < v.n; m++)
                                        if (m != i)
                                                cset_done(&v.sets[m]);
                                v.sets[0] = v.sets[i];
                                v.n = 1;
                        }
                }
        }
        *ret = v;
        return 0;
}

/* Parses both includePrerelease variants; the one selected by `need` must
 * succeed, the other may fail (it then never matches): node parses a range
 * only under the options it is given. */
static int parse_range(semver_range **ret, const char *s, bool loose, bool need, corral_error *err)
{
        if (!s)
                return corral_error_set(err, EX_DATAERR, "invalid version range: none given");
        size_t n = strlen(s);
        if (n > SEMVER_RANGE_MAX_LENGTH)
                return corral_error_set(err, EX_DATAERR,
                                        "invalid version range '%.64s…': longer than %d bytes", s,
                                        SEMVER_RANGE_MAX_LENGTH);
        /* range.trim().replace(/\s+/g, ' ') */
        const char *p = s;
        js_trim(&p, &n);
        strbuf b = STRBUF_INIT(0);
        sb_add(&b, "", 0);
        for (size_t i = 0; i < n;) {
                size_t w = ws_len(p + i);
                if (w && i + w <= n) {
                        while (i < n && (w = ws_len(p + i)) > 0 && i + w <= n)
                                i += w;
                        sb_str(&b, " ");
                        continue;
                }
                sb_add(&b, p + i, 1);
                i++;
        }
        _cleanup_free_ char *raw = strbuf_steal(&b);
        semver_range *r = xcalloc(1, sizeof(*r));
        r->loose = loose;
        for (int k = 0; k < 2; k++) {
                if (parse_variant(&r->var[k], raw, &(opts){loose, k == 1}) >= 0)
                        continue;
                r->var[k] = (variant){0};
                if (k == (int)need) {
                        semver_range_free(r);
                        return corral_error_set(err, EX_DATAERR, "invalid version range '%.200s'",
                                                s);
                }
        }
        *ret = r;
        return 0;
}

int semver_range_parse(semver_range **ret, const char *s, corral_error *err)
{
        return parse_range(ret, s, false, false, err);
}

int semver_range_parse_loose(semver_range **ret, const char *s, corral_error *err)
{
        return parse_range(ret, s, true, false, err);
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
        if (!v || parse_range(&range, r, loose, include_prerelease, NULL) < 0)
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
        sb_add(&b, "", 0);
        for (size_t i = 0; i < va->n; i++) {
                if (i)
                        sb_str(&b, "||");
                for (size_t k = 0; k < va->sets[i].n; k++) {
                        if (k)
                                sb_str(&b, " ");
                        sb_str(&b, va->sets[i].c[k].value);
                }
        }
        return strbuf_steal(&b);
}
