/* Trimming a packument's text before it is parsed.  The registry may send a
 * package's full document (every version's readme-less manifest: its
 * contributors, repository, scripts…); @types/node's is 9.4 MB, of which
 * resolution reads under a tenth.  Building a cJSON tree of all of it costs
 * more than the download, and it sits on the resolution's critical path
 * (the next level of dependencies waits for it).  So one pass over the
 * text checks its JSON syntax (RFC 8259) and copies out only the members
 * resolution reads (npm_packument_keep_*), and cJSON parses that.
 *
 * A member is dropped only when its key, as written (no escapes), is not one
 * of the kept ones at that level; a key written with escapes is kept and
 * left to the tree trim after parsing.  Text the scanner does not accept
 * goes whole to cJSON, so what a document parses to never depends on this
 * pass: tests/fuzz/fuzz_packument.c compares the two ways. */
#include <string.h>

#include "npm_internal.h"

const char *const npm_packument_doc_keys[] = {"name", "dist-tags", "versions", NULL};
const char *const npm_packument_version_keys[] = {
        "dependencies", "optionalDependencies", "peerDependencies", "peerDependenciesMeta",
        "os",           "cpu",                  "libc",             "deprecated",
        "dist",         "engines",              NULL};
const char *const npm_packument_dist_keys[] = {"tarball", "integrity", "shasum", NULL};

/* Deeper nesting is refused, as cJSON refuses it (CJSON_NESTING_LIMIT). */
#define MAX_DEPTH 1000

typedef struct scan {
        const char *p, *end;
        strbuf *out;
} scan;

static void ws(scan *s)
{
        while (s->p < s->end &&
               (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
                s->p++;
}

static bool hex(char ch)
{
        return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Not a quote, a backslash or a control character: inside a string as is. */
static inline bool plain(char ch)
{
        return (unsigned char)ch >= 0x20 && ch != '"' && ch != '\\';
}

/* A string at s->p (RFC 8259 section 7); *escaped tells whether it holds
 * escapes.  false when it is not one. */
static bool string(scan *s, bool *escaped)
{
        if (s->p >= s->end || *s->p != '"')
                return false;
        const char *p = s->p + 1;
        bool esc = false;
        for (;;) {
                /* The common case, eight bytes at a time: none special. */
                while (s->end - p >= 8 && plain(p[0]) && plain(p[1]) && plain(p[2]) &&
                       plain(p[3]) && plain(p[4]) && plain(p[5]) && plain(p[6]) && plain(p[7]))
                        p += 8;
                while (p < s->end && plain(*p))
                        p++;
                if (p >= s->end || (unsigned char)*p < 0x20)
                        return false;
                if (*p == '"')
                        break;
                esc = true;
                if (p + 1 >= s->end)
                        return false;
                char ch = p[1];
                if (ch == 'u') {
                        if (s->end - p < 6 || !hex(p[2]) || !hex(p[3]) || !hex(p[4]) ||
                            !hex(p[5]))
                                return false;
                        p += 6;
                } else if (strchr("\"\\/bfnrt", ch) && ch) {
                        p += 2;
                } else {
                        return false;
                }
        }
        s->p = p + 1;
        if (escaped)
                *escaped = esc;
        return true;
}

static bool digits(scan *s)
{
        const char *start = s->p;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
                s->p++;
        return s->p > start;
}

/* A number (section 6) or true/false/null at s->p. */
static bool scalar(scan *s)
{
        static const char *const lits[] = {"true", "false", "null"};
        for (size_t i = 0; i < ARRAY_SIZE(lits); i++) {
                size_t n = strlen(lits[i]);
                if ((size_t)(s->end - s->p) >= n && memcmp(s->p, lits[i], n) == 0) {
                        s->p += n;
                        return true;
                }
        }
        if (s->p < s->end && *s->p == '-')
                s->p++;
        if (s->p < s->end && *s->p == '0')
                s->p++;
        else if (!digits(s))
                return false;
        if (s->p < s->end && *s->p == '.') {
                s->p++;
                if (!digits(s))
                        return false;
        }
        if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
                s->p++;
                if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
                        s->p++;
                if (!digits(s))
                        return false;
        }
        return true;
}

/* A key and its colon. */
static bool key(scan *s, bool *escaped)
{
        ws(s);
        if (!string(s, escaped))
                return false;
        ws(s);
        if (s->p >= s->end || *s->p != ':')
                return false;
        s->p++;
        return true;
}

/* Any value at s->p (after white space), without recursion: containers
 * still open are on a stack of their closing characters. */
static bool value(scan *s)
{
        char stack[MAX_DEPTH];
        size_t depth = 0;
        for (;;) {
                ws(s);
                if (s->p >= s->end)
                        return false;
                char ch = *s->p;
                bool closed = false;
                if (ch == '{' || ch == '[') {
                        if (depth == MAX_DEPTH)
                                return false;
                        stack[depth++] = ch == '{' ? '}' : ']';
                        s->p++;
                        ws(s);
                        if (s->p < s->end && *s->p == stack[depth - 1]) {
                                s->p++;
                                depth--;
                                closed = true;
                        } else if (ch == '{') {
                                if (!key(s, NULL))
                                        return false;
                                continue;
                        } else {
                                continue;
                        }
                } else if (ch == '"') {
                        if (!string(s, NULL))
                                return false;
                } else if (!scalar(s)) {
                        return false;
                }
                (void)closed;
                /* After a value: close what ends here, or go on after a comma. */
                for (;;) {
                        if (depth == 0)
                                return true;
                        ws(s);
                        if (s->p >= s->end)
                                return false;
                        if (*s->p == stack[depth - 1]) {
                                s->p++;
                                depth--;
                                continue;
                        }
                        if (*s->p != ',')
                                return false;
                        s->p++;
                        if (stack[depth - 1] == '}' && !key(s, NULL))
                                return false;
                        break;
                }
        }
}

static bool kept(const char *k, size_t n, const char *const *keys)
{
        for (size_t i = 0; keys[i]; i++)
                if (strlen(keys[i]) == n && memcmp(keys[i], k, n) == 0)
                        return true;
        return false;
}

/* The levels of a packument: the document, its versions object, a version,
 * a version's dist. */
typedef enum { L_DOC, L_VERSIONS, L_VERSION, L_DIST } level;

static bool object(scan *s, level lv);

/* The value of member k at level lv: filtered further down, or copied. */
static bool member_value(scan *s, level lv, const char *k, size_t kn, bool escaped)
{
        ws(s);
        level sub = lv;
        if (!escaped && s->p < s->end && *s->p == '{') {
                if (lv == L_DOC && kn == 8 && memcmp(k, "versions", 8) == 0)
                        sub = L_VERSIONS;
                else if (lv == L_VERSIONS)
                        sub = L_VERSION;
                else if (lv == L_VERSION && kn == 4 && memcmp(k, "dist", 4) == 0)
                        sub = L_DIST;
        }
        if (sub != lv)
                return object(s, sub);
        const char *start = s->p;
        if (!value(s))
                return false;
        strbuf_append(s->out, start, (size_t)(s->p - start));
        return true;
}

/* An object at level lv, copied with the members kept at that level. */
static bool object(scan *s, level lv)
{
        static const char *const *const keys[] = {
                [L_DOC] = npm_packument_doc_keys,
                [L_VERSIONS] = NULL, /* every version */
                [L_VERSION] = npm_packument_version_keys,
                [L_DIST] = npm_packument_dist_keys,
        };
        ws(s);
        if (s->p >= s->end || *s->p != '{')
                return false;
        s->p++;
        strbuf_append(s->out, "{", 1);
        ws(s);
        if (s->p < s->end && *s->p == '}') {
                s->p++;
                strbuf_append(s->out, "}", 1);
                return true;
        }
        bool first = true;
        for (;;) {
                ws(s);
                const char *kstart = s->p;
                bool escaped = false;
                if (!string(s, &escaped))
                        return false;
                const char *kend = s->p;
                ws(s);
                if (s->p >= s->end || *s->p != ':')
                        return false;
                s->p++;
                const char *k = kstart + 1;
                size_t kn = (size_t)(kend - kstart) - 2;
                if (escaped || !keys[lv] || kept(k, kn, keys[lv])) {
                        if (!first)
                                strbuf_append(s->out, ",", 1);
                        first = false;
                        strbuf_append(s->out, kstart, (size_t)(kend - kstart));
                        strbuf_append(s->out, ":", 1);
                        if (!member_value(s, lv, k, kn, escaped))
                                return false;
                } else if (!value(s)) {
                        return false;
                }
                ws(s);
                if (s->p >= s->end)
                        return false;
                if (*s->p == '}') {
                        s->p++;
                        strbuf_append(s->out, "}", 1);
                        return true;
                }
                if (*s->p != ',')
                        return false;
                s->p++;
        }
}

int npm_packument_trim_text(const char *json, size_t len, strbuf *out)
{
        scan s = {.p = json, .end = json + len, .out = out};
        return object(&s, L_DOC) ? 0 : -1;
}
