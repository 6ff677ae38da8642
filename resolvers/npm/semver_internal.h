/* Internals shared by the semver files: capture spans and the matchers that
 * stand in for node-semver's regular expressions (semver_re.c), versions and
 * range tests (semver.c), and the range rewrites and parse (semver_range.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "corral/semver.h"
#include "corral/strbuf.h"

#define MAX_SAFE 9007199254740991ULL /* Number.MAX_SAFE_INTEGER */

typedef struct span {
        const char *s; /* NULL: the group did not participate */
        size_t n;
} span;

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

enum {
        PLAIN_XR = 1,     /* XRANGEPLAIN: x identifiers, minor and patch optional */
        PLAIN_LOOSE = 2,  /* loose numbers and prerelease */
        PLAIN_V_ONLY = 4, /* prefix is "v?" (FULLPLAIN) instead of "[v=\s]*" */
};

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

typedef struct opts {
        bool loose, incpr;
} opts;


/* semver_re.c */
size_t sm_ws_len(const char *s);
bool sm_is_digit(char c);
bool sm_is_idc(char c);
void sm_js_trim(const char **s, size_t *n);
bool sm_span_is(span a, const char *lit);
bool sm_is_x(span a);
bool sm_plain_match(const char *s, size_t n, int flags, plain *c);
size_t sm_greedy_ids(const char *s, size_t i, bool strict);
size_t sm_ext_looseplain(const char *s, size_t i);
size_t sm_ext_xrangeplain(const char *s, size_t i);

/* semver.c */
int sm_parse_span(semver *ret, const char *s, size_t n, bool loose);

/* semver_range.c */
void sm_sb_add(strbuf *b, const char *s, size_t n);
void sm_sb_str(strbuf *b, const char *s);
int sm_parse_range(semver_range **ret, const char *s, bool loose, bool need, corral_error *err);
