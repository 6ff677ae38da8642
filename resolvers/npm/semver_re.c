/* Hand-written matchers that follow node-semver's regular expressions
 * (XRANGEPLAIN, FULLPLAIN, LOOSEPLAIN and the COMPARATORTRIM extents) in
 * their greedy/backtracking order; see semver.c for why. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corral/macro.h"
#include "semver_internal.h"

/* ---- character classes ------------------------------------------------- */

/* Bytes of the JavaScript \s character at s (ASCII and the UTF-8 encodings of
 * the Unicode spaces ECMAScript counts), 0 when s is not whitespace. */
size_t sm_ws_len(const char *s)
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

bool sm_is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* [a-zA-Z0-9-]: prerelease and build identifier characters. */
bool sm_is_idc(char c)
{
        return sm_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

static size_t run_of(const char *s, size_t n, bool (*cls)(char))
{
        size_t i = 0;
        while (i < n && cls(s[i]))
                i++;
        return i;
}

/* JavaScript String.prototype.trim() bounds on [s, s+n). */
void sm_js_trim(const char **s, size_t *n)
{
        const char *p = *s, *e = *s + *n;
        size_t w;
        while (p < e && (w = sm_ws_len(p)) > 0 && p + w <= e)
                p += w;
        for (;;) {
                /* Whitespace is at most 3 bytes: look back for one ending at e. */
                size_t k;
                for (k = 1; k <= 3 && k <= (size_t)(e - p); k++)
                        if (sm_ws_len(e - k) == k)
                                break;
                if (k > 3 || k > (size_t)(e - p))
                        break;
                e -= k;
        }
        *s = p;
        *n = (size_t)(e - p);
}

/* ---- spans and captures -------------------------------------------------- */


bool sm_span_is(span a, const char *lit)
{
        return a.s && a.n == strlen(lit) && memcmp(a.s, lit, a.n) == 0;
}

/* node's isX(): absent, empty, x, X or *. */
bool sm_is_x(span a)
{
        return !a.s || a.n == 0 || sm_span_is(a, "x") || sm_span_is(a, "X") || sm_span_is(a, "*");
}




/* Is [s, s+n) one identifier of the kind, as the bounded regexes see it? */
static bool id_ok(const char *s, size_t k, ids_kind kind)
{
        if (k == 0)
                return false;
        if (kind == IDS_BUILD)
                return k <= RE_MAX_IDC;
        size_t d = run_of(s, k, sm_is_digit);
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
                size_t k = run_of(s + i, n - i, sm_is_idc);
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
        if (!sm_is_digit(s[0]))
                return 0;
        if (!loose && s[0] == '0')
                return 1;
        size_t k = run_of(s, n, sm_is_digit), max = loose ? RE_MAX_DIGITS : RE_MAX_DIGITS + 1;
        return k < max ? k : max;
}


/* Anchored match of [s, s+n) against XRANGEPLAIN, FULLPLAIN or LOOSEPLAIN
 * (per flags), filling the capture groups. */
bool sm_plain_match(const char *s, size_t n, int flags, plain *c)
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
                        else if (i < n && (w = sm_ws_len(s + i)) > 0 && i + w <= n)
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
                if (loose && len > 1 && sm_is_digit(s[i]) &&
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

size_t sm_greedy_ids(const char *s, size_t i, bool strict)
{
        /* One identifier then (\.id)*, each as the regex would take it. */
        for (bool first = true;; first = false) {
                size_t j = i;
                if (!first) {
                        if (s[j] != '.')
                                return i;
                        j++;
                }
                size_t k = run_of(s + j, SIZE_MAX, sm_is_idc);
                if (strict && k > 0 && run_of(s + j, k, sm_is_digit) == k)
                        k = s[j] == '0' ? 1 : k; /* NUMERICIDENTIFIER stops after a 0 */
                if (k == 0)
                        return first ? (size_t)-1 : i;
                i = j + k;
        }
}

static size_t greedy_build(const char *s, size_t i)
{
        if (s[i] == '+' && sm_is_idc(s[i + 1])) {
                size_t e = sm_greedy_ids(s, i + 1, false);
                if (e != (size_t)-1)
                        return e;
        }
        return i;
}

/* End of a greedy LOOSEPLAIN match starting at i, or 0 when none. */
size_t sm_ext_looseplain(const char *s, size_t i)
{
        i = skip_prefix(s, i);
        for (int k = 0; k < 3; k++) {
                if (k > 0) {
                        if (s[i] != '.')
                                return 0;
                        i++;
                }
                size_t d = run_of(s + i, SIZE_MAX, sm_is_digit);
                if (d == 0)
                        return 0;
                i += d;
        }
        if (s[i] == '-' && sm_is_idc(s[i + 1]))
                i = sm_greedy_ids(s, i + 1, false);
        else if (sm_is_idc(s[i]))
                i = sm_greedy_ids(s, i, false);
        return greedy_build(s, i);
}

/* End of a greedy (strict) XRANGEPLAIN match starting at i, or 0 when none. */
size_t sm_ext_xrangeplain(const char *s, size_t i)
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
                size_t e = sm_greedy_ids(s, i + 1, true);
                if (e != (size_t)-1)
                        i = e;
        }
        return greedy_build(s, i);
}

