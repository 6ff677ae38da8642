/* node-semver ranges: the rewrite pipeline (hyphen ranges, comparator
 * trimming, caret/tilde/x-range/star desugaring) and the comparator parse;
 * see semver.c for why the steps are reproduced on strings. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corral/macro.h"
#include "semver_internal.h"

/* ---- comparators and ranges ------------------------------------------- */






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


void sm_sb_add(strbuf *b, const char *s, size_t n)
{
        (void)strbuf_append(b, s, n);
}

static void sb_span(strbuf *b, span a)
{
        if (a.s)
                sm_sb_add(b, a.s, a.n);
}

void sm_sb_str(strbuf *b, const char *s)
{
        sm_sb_add(b, s, strlen(s));
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
        sm_sb_str(b, buf);
}

/* Removes "+build" metadata (node's BUILD regex), everywhere or only the first. */
static char *strip_build(const char *s, bool once)
{
        strbuf b = STRBUF_INIT(0);
        size_t i = 0, n = strlen(s);
        sm_sb_add(&b, "", 0);
        while (i < n) {
                if (s[i] == '+' && sm_is_idc(s[i + 1])) {
                        i = sm_greedy_ids(s, i + 1, false);
                        if (once) {
                                sm_sb_add(&b, s + i, n - i);
                                break;
                        }
                        continue;
                }
                sm_sb_add(&b, s + i, 1);
                i++;
        }
        return strbuf_steal(&b);
}

static char *js_trim_dup(const char *s, size_t n)
{
        sm_js_trim(&s, &n);
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
        if (b0 > end || !sm_plain_match(s + lead, a1 - lead, fl, &f) ||
            !sm_plain_match(s + b0, end - b0, fl, &t))
                return xstrdup(s);
        const char *z = o->incpr ? "-0" : "";
        strbuf b = STRBUF_INIT(0);
        if (sm_is_x(f.M)) {
                /* nothing */
        } else if (sm_is_x(f.m)) {
                sm_sb_str(&b, ">=");
                sb_span(&b, f.M);
                sm_sb_str(&b, ".0.0");
                sm_sb_str(&b, z);
        } else if (sm_is_x(f.p)) {
                sm_sb_str(&b, ">=");
                sb_span(&b, f.M);
                sm_sb_str(&b, ".");
                sb_span(&b, f.m);
                sm_sb_str(&b, ".0");
                sm_sb_str(&b, z);
        } else {
                sm_sb_str(&b, ">=");
                sb_span(&b, f.all);
                if (!f.pr.s)
                        sm_sb_str(&b, z);
        }
        sm_sb_str(&b, " ");
        if (sm_is_x(t.M)) {
                /* nothing */
        } else if (sm_is_x(t.m)) {
                sm_sb_str(&b, "<");
                sb_inc(&b, t.M);
                sm_sb_str(&b, ".0.0-0");
        } else if (sm_is_x(t.p)) {
                sm_sb_str(&b, "<");
                sb_span(&b, t.M);
                sm_sb_str(&b, ".");
                sb_inc(&b, t.m);
                sm_sb_str(&b, ".0-0");
        } else if (t.pr.s) {
                sm_sb_str(&b, "<=");
                sb_span(&b, t.M);
                sm_sb_str(&b, ".");
                sb_span(&b, t.m);
                sm_sb_str(&b, ".");
                sb_span(&b, t.p);
                sm_sb_str(&b, "-");
                sb_span(&b, t.pr);
        } else if (o->incpr) {
                sm_sb_str(&b, "<");
                sb_span(&b, t.M);
                sm_sb_str(&b, ".");
                sb_span(&b, t.m);
                sm_sb_str(&b, ".");
                sb_inc(&b, t.p);
                sm_sb_str(&b, "-0");
        } else {
                sm_sb_str(&b, "<=");
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
        sm_sb_add(&b, "", 0);
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
                                        size_t x = sm_ext_looseplain(s, r0);
                                        if (!x)
                                                x = sm_ext_xrangeplain(s, r0);
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
                sm_sb_add(&b, s + pos, keep - pos);
                sm_sb_add(&b, s + r, e - r);
                pos = p = e;
        }
        sm_sb_add(&b, s + pos, n - pos);
        return strbuf_steal(&b);
}

/* TILDETRIM ("~ 1", "~> 1" become "~1") and CARETTRIM ("^ 1" becomes "^1"). */
static char *lone_trim(const char *s, char op)
{
        strbuf b = STRBUF_INIT(0);
        size_t n = strlen(s);
        sm_sb_add(&b, "", 0);
        for (size_t i = 0; i < n; i++) {
                sm_sb_add(&b, s + i, 1);
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
                sm_js_trim(&s, &n);
        strbuf b = STRBUF_INIT(0);
        sm_sb_add(&b, "", 0);
        size_t start = 0, i = 0;
        bool first = true;
        for (;;) {
                size_t w = 0;
                while (i < n && (w = sm_ws_len(s + i)) == 0)
                        i++;
                _cleanup_free_ char *tok = xstrndup(s + start, i - start);
                _cleanup_free_ char *out = fn(tok, o);
                if (!first)
                        sm_sb_str(&b, " ");
                first = false;
                sm_sb_str(&b, out);
                if (i >= n)
                        break;
                while (i < n && (w = sm_ws_len(s + i)) > 0)
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
        sm_sb_add(b, "", 0);
        if (sm_is_x(c->M))
                return true;
        sm_sb_str(b, ">=");
        sb_span(b, c->M);
        if (sm_is_x(c->m)) {
                sm_sb_str(b, ".0.0");
                sm_sb_str(b, z);
                sm_sb_str(b, " <");
                sb_inc(b, c->M);
                sm_sb_str(b, ".0.0-0");
                return true;
        }
        sm_sb_str(b, ".");
        sb_span(b, c->m);
        sm_sb_str(b, ".");
        if (sm_is_x(c->p)) {
                sm_sb_str(b, "0");
                sm_sb_str(b, z);
        } else {
                sb_span(b, c->p);
                if (c->pr.s) {
                        sm_sb_str(b, "-");
                        sb_span(b, c->pr);
                }
        }
        sm_sb_str(b, " <");
        return false;
}

static char *replace_caret(const char *tok, const opts *o)
{
        plain c;
        if (tok[0] != '^' ||
            !sm_plain_match(tok + 1, strlen(tok + 1), PLAIN_XR | (o->loose ? PLAIN_LOOSE : 0), &c))
                return xstrdup(tok);
        strbuf b = STRBUF_INIT(0);
        if (caret_tilde_head(&b, &c, o))
                return strbuf_steal(&b);
        /* node compares the identifier strings to "0" (so loose "00" is not 0). */
        if (sm_span_is(c.M, "0")) {
                sb_span(&b, c.M);
                sm_sb_str(&b, ".");
                if (!sm_is_x(c.p) && sm_span_is(c.m, "0")) {
                        sb_span(&b, c.m);
                        sm_sb_str(&b, ".");
                        sb_inc(&b, c.p);
                        sm_sb_str(&b, "-0");
                } else {
                        sb_inc(&b, c.m);
                        sm_sb_str(&b, ".0-0");
                }
        } else {
                sb_inc(&b, c.M);
                sm_sb_str(&b, ".0.0-0");
        }
        return strbuf_steal(&b);
}

static char *replace_tilde(const char *tok, const opts *o)
{
        plain c;
        size_t k = tok[0] == '~' && tok[1] == '>' ? 2 : 1;
        if (tok[0] != '~' ||
            !sm_plain_match(tok + k, strlen(tok + k), PLAIN_XR | (o->loose ? PLAIN_LOOSE : 0), &c))
                return xstrdup(tok);
        strbuf b = STRBUF_INIT(0);
        if (caret_tilde_head(&b, &c, o))
                return strbuf_steal(&b);
        sb_span(&b, c.M);
        sm_sb_str(&b, ".");
        sb_inc(&b, c.m);
        sm_sb_str(&b, ".0-0");
        return strbuf_steal(&b);
}

static void sb_num_or_inc(strbuf *b, span a, bool inc, const char *lit)
{
        if (lit)
                sm_sb_str(b, lit);
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
                size_t w = sm_ws_len(tok + g);
                if (w && sm_plain_match(tok + g + w, strlen(tok + g + w), fl, &c))
                        found = true;
                else if (sm_plain_match(tok + g, strlen(tok + g), fl, &c))
                        found = true;
        }
        if (!found)
                return xstrdup(tok);
        if ((sm_is_x(c.M) && !sm_is_x(c.m)) || (sm_is_x(c.m) && c.p.s && !sm_is_x(c.p)))
                return xstrdup(tok);
        char gtlt[3] = {0};
        memcpy(gtlt, tok, g);
        bool xM = sm_is_x(c.M), xm = xM || sm_is_x(c.m), xp = xm || sm_is_x(c.p);
        if (strcmp(gtlt, "=") == 0 && xp)
                gtlt[0] = '\0';
        const char *pr = o->incpr ? "-0" : "";
        strbuf b = STRBUF_INIT(0);
        sm_sb_add(&b, "", 0);
        if (xM) {
                sm_sb_str(&b, strcmp(gtlt, ">") == 0 || strcmp(gtlt, "<") == 0 ? "<0.0.0-0" : "*");
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
                sm_sb_str(&b, gtlt);
                sb_num_or_inc(&b, c.M, incM, NULL);
                sm_sb_str(&b, ".");
                sb_num_or_inc(&b, c.m, incm, xm && !incm ? "0" : NULL);
                sm_sb_str(&b, ".0");
                sm_sb_str(&b, pr);
        } else if (xm) {
                sm_sb_str(&b, ">=");
                sb_span(&b, c.M);
                sm_sb_str(&b, ".0.0");
                sm_sb_str(&b, pr);
                sm_sb_str(&b, " <");
                sb_inc(&b, c.M);
                sm_sb_str(&b, ".0.0-0");
        } else if (xp) {
                sm_sb_str(&b, ">=");
                sb_span(&b, c.M);
                sm_sb_str(&b, ".");
                sb_span(&b, c.m);
                sm_sb_str(&b, ".0");
                sm_sb_str(&b, pr);
                sm_sb_str(&b, " <");
                sb_span(&b, c.M);
                sm_sb_str(&b, ".");
                sb_inc(&b, c.m);
                sm_sb_str(&b, ".0-0");
        } else {
                sm_sb_str(&b, tok);
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
                size_t g = gs[gi], w = sm_ws_len(tok + g);
                for (int k = w > 0; k >= 0; k--) {
                        const char *v = tok + g + (k ? w : 0);
                        if (sm_plain_match(v, strlen(v), fl, &c)) {
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
        if (sm_parse_span(&c.v, v.s, v.n, loose) < 0)
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
        sm_sb_add(&j, "", 0);
        for (size_t i = 0; pieces[i]; i++) {
                _cleanup_free_ char *x = parse_comparator_str(pieces[i], o);
                if (i)
                        sm_sb_str(&j, " ");
                sm_sb_str(&j, x);
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
                sm_js_trim(&p, &n);
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
int sm_parse_range(semver_range **ret, const char *s, bool loose, bool need, corral_error *err)
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
        sm_js_trim(&p, &n);
        strbuf b = STRBUF_INIT(0);
        sm_sb_add(&b, "", 0);
        for (size_t i = 0; i < n;) {
                size_t w = sm_ws_len(p + i);
                if (w && i + w <= n) {
                        while (i < n && (w = sm_ws_len(p + i)) > 0 && i + w <= n)
                                i += w;
                        sm_sb_str(&b, " ");
                        continue;
                }
                sm_sb_add(&b, p + i, 1);
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
        return sm_parse_range(ret, s, false, false, err);
}

int semver_range_parse_loose(semver_range **ret, const char *s, corral_error *err)
{
        return sm_parse_range(ret, s, true, false, err);
}

