/* A Smithery stdio connection's stdioFunction (smithery.yaml's
 * commandFunction: JavaScript mapping the configuration to a command line)
 * read without running it.  Only the shape Smithery's documentation and
 * nearly every published server use is accepted:
 *
 *   [async] (config) => ({ command: 'npx', args: ['-y', 'PKG', config.x],
 *                          env: { KEY: config.y, OTHER: 'literal' } })
 *
 * also with `function (config) { return {…}; }` or `{ return {…}; }` as the
 * body, any parameter name, `param.x` or `param["x"]`, strings in '…', "…"
 * or `…` (no ${…}), comments, and trailing commas.  Anything else — another
 * key, a conditional, a call, an operator — is refused: corral does not
 * evaluate JavaScript. */
#include <ctype.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/registry.h"
#include "corral/strbuf.h"

#define FN_MAX (64u << 10)
#define TOKEN_MAX 4096
#define ITEMS_MAX 64

typedef struct lexer {
        const char *p, *end;
        char param[128];
        const char *why; /* the first reason it was refused */
} lexer;

static bool fail(lexer *l, const char *why)
{
        if (!l->why)
                l->why = why;
        return false;
}

static void skip_space(lexer *l)
{
        for (;;) {
                while (l->p < l->end && isspace((unsigned char)*l->p))
                        l->p++;
                if (l->end - l->p >= 2 && l->p[0] == '/' && l->p[1] == '/') {
                        while (l->p < l->end && *l->p != '\n')
                                l->p++;
                } else if (l->end - l->p >= 2 && l->p[0] == '/' && l->p[1] == '*') {
                        const char *e = strstr(l->p + 2, "*/");
                        l->p = e && e < l->end ? e + 2 : l->end;
                } else {
                        return;
                }
        }
}

/* The punctuation s (one or two characters) comes next: consumed. */
static bool punct(lexer *l, const char *s)
{
        size_t n = strlen(s);
        skip_space(l);
        if ((size_t)(l->end - l->p) >= n && memcmp(l->p, s, n) == 0) {
                l->p += n;
                return true;
        }
        return false;
}

static bool ident(lexer *l, char *buf, size_t cap)
{
        size_t n = 0;
        skip_space(l);
        if (l->p >= l->end || !(isalpha((unsigned char)*l->p) || *l->p == '_' || *l->p == '$'))
                return false;
        while (l->p < l->end &&
               (isalnum((unsigned char)*l->p) || *l->p == '_' || *l->p == '$')) {
                if (n + 1 >= cap)
                        return fail(l, "a name is too long");
                buf[n++] = *l->p++;
        }
        buf[n] = '\0';
        return true;
}

static bool keyword(lexer *l, const char *kw)
{
        const char *save = l->p;
        char buf[32];
        if (ident(l, buf, sizeof(buf)) && strcmp(buf, kw) == 0)
                return true;
        l->p = save;
        return false;
}

/* A string literal: *ret owned.  false when none comes next (nothing
 * consumed) or it is malformed (l->why set). */
static bool string(lexer *l, char **ret)
{
        strbuf b = STRBUF_INIT(TOKEN_MAX);
        char q;

        skip_space(l);
        if (l->p >= l->end || !strchr("'\"`", *l->p))
                return false;
        q = *l->p++;
        while (l->p < l->end && *l->p != q) {
                char c = *l->p++;
                if (q == '`' && c == '$' && l->p < l->end && *l->p == '{') {
                        strbuf_done(&b);
                        return fail(l, "a template string with ${…}");
                }
                if (c == '\n' && q != '`') {
                        strbuf_done(&b);
                        return fail(l, "an unterminated string");
                }
                if (c == '\\') {
                        if (l->p >= l->end)
                                break;
                        c = *l->p++;
                        switch (c) {
                        case 'n': c = '\n'; break;
                        case 't': c = '\t'; break;
                        case '\\': case '\'': case '"': case '`': case '/': break;
                        default:
                                strbuf_done(&b);
                                return fail(l, "a string escape other than \\n \\t \\\\ \\' \\\"");
                        }
                }
                if (strbuf_append(&b, &c, 1) < 0) {
                        strbuf_done(&b);
                        return fail(l, "a string is too long");
                }
        }
        if (l->p >= l->end) {
                strbuf_done(&b);
                return fail(l, "an unterminated string");
        }
        l->p++;
        *ret = b.buf ? strbuf_steal(&b) : xstrdup("");
        return true;
}

/* A value: a string literal (→ JSON string) or param.KEY / param["KEY"]
 * (→ {"config": "KEY"}). */
static cJSON *value(lexer *l)
{
        char name[128], *s = NULL;

        if (string(l, &s)) {
                cJSON *v = cJSON_CreateString(s);
                free(s);
                return v;
        }
        if (l->why)
                return NULL;
        if (!ident(l, name, sizeof(name)) || strcmp(name, l->param) != 0) {
                fail(l, "a value that is not a string or a configuration field");
                return NULL;
        }
        if (punct(l, ".")) {
                if (!ident(l, name, sizeof(name))) {
                        fail(l, "a configuration field without a name");
                        return NULL;
                }
        } else if (punct(l, "[")) {
                if (!string(l, &s) || !punct(l, "]")) {
                        free(s);
                        fail(l, "a configuration field that is not param[\"name\"]");
                        return NULL;
                }
                snprintf(name, sizeof(name), "%s", s);
                free(s);
        } else {
                fail(l, "the whole configuration used as a value");
                return NULL;
        }
        /* What follows must end the value: no operators, calls, or chains. */
        skip_space(l);
        if (l->p < l->end && !strchr(",]}", *l->p)) {
                fail(l, "an expression (corral reads plain fields only)");
                return NULL;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "config", name);
        return o;
}

static bool key(lexer *l, char *buf, size_t cap)
{
        char *s = NULL;
        if (string(l, &s)) {
                snprintf(buf, cap, "%s", s);
                bool ok = strlen(s) < cap;
                free(s);
                return ok || fail(l, "a key is too long");
        }
        return !l->why && ident(l, buf, cap);
}

static bool array(lexer *l, cJSON *out)
{
        if (!punct(l, "["))
                return fail(l, "args is not an array literal");
        while (!punct(l, "]")) {
                cJSON *v = value(l);
                if (!v)
                        return false;
                if (cJSON_GetArraySize(out) >= ITEMS_MAX) {
                        cJSON_Delete(v);
                        return fail(l, "too many arguments");
                }
                cJSON_AddItemToArray(out, v);
                if (!punct(l, ",") && !punct(l, "]"))
                        return fail(l, "args is not a plain list");
                else if (l->p[-1] == ']')
                        break;
        }
        return true;
}

static bool env_object(lexer *l, cJSON *out)
{
        char k[256];
        if (!punct(l, "{"))
                return fail(l, "env is not an object literal");
        while (!punct(l, "}")) {
                if (!key(l, k, sizeof(k)) || !punct(l, ":"))
                        return fail(l, "env is not a plain object");
                cJSON *v = value(l);
                if (!v)
                        return false;
                if (cJSON_GetArraySize(out) >= ITEMS_MAX ||
                    cJSON_GetObjectItemCaseSensitive(out, k)) {
                        cJSON_Delete(v);
                        return fail(l, "too many or repeated env keys");
                }
                cJSON_AddItemToObject(out, k, v);
                if (!punct(l, ",") && !punct(l, "}"))
                        return fail(l, "env is not a plain object");
                else if (l->p[-1] == '}')
                        break;
        }
        return true;
}

/* { command: '…', args: […], env: {…} } */
static bool result_object(lexer *l, cJSON *out)
{
        char k[64];
        if (!punct(l, "{"))
                return fail(l, "the function does not return an object literal");
        while (!punct(l, "}")) {
                if (!key(l, k, sizeof(k)) || !punct(l, ":"))
                        return fail(l, "the returned object is not plain");
                if (cJSON_GetObjectItemCaseSensitive(out, k))
                        return fail(l, "a repeated key");
                if (strcmp(k, "command") == 0) {
                        char *s = NULL;
                        if (!string(l, &s))
                                return fail(l, "command is not a string literal");
                        cJSON_AddStringToObject(out, "command", s);
                        free(s);
                } else if (strcmp(k, "args") == 0) {
                        if (!array(l, cJSON_AddArrayToObject(out, "args")))
                                return false;
                } else if (strcmp(k, "env") == 0) {
                        if (!env_object(l, cJSON_AddObjectToObject(out, "env")))
                                return false;
                } else {
                        return fail(l, "a key other than command, args and env");
                }
                if (!punct(l, ",") && !punct(l, "}"))
                        return fail(l, "the returned object is not plain");
                else if (l->p[-1] == '}')
                        break;
        }
        return true;
}

static bool function(lexer *l, cJSON *out)
{
        bool arrow;

        (void)keyword(l, "async");
        arrow = !keyword(l, "function");
        if (!arrow) {
                char dummy[128];
                (void)ident(l, dummy, sizeof(dummy)); /* a function's own name */
        }
        if (punct(l, "(")) {
                if (!ident(l, l->param, sizeof(l->param)))
                        l->param[0] = '\0'; /* no parameter: no field can be read */
                if (!punct(l, ")"))
                        return fail(l, "more than one parameter");
        } else if (!arrow || !ident(l, l->param, sizeof(l->param))) {
                return fail(l, "not a function");
        }
        if (arrow && !punct(l, "=>"))
                return fail(l, "not an arrow function");
        if (arrow && punct(l, "(")) {
                if (!result_object(l, out) || !punct(l, ")"))
                        return false;
        } else {
                if (!punct(l, "{") || !keyword(l, "return"))
                        return fail(l, "the body is not a single return");
                if (!result_object(l, out))
                        return false;
                (void)punct(l, ";");
                if (!punct(l, "}"))
                        return fail(l, "the body is not a single return");
        }
        (void)punct(l, ";");
        skip_space(l);
        return l->p == l->end || fail(l, "more than one function");
}

int smithery_read_stdio_function(const char *src, cJSON **ret, corral_error *err)
{
        lexer l = {0};
        _cleanup_json_ cJSON *out = cJSON_CreateObject();

        if (!src)
                return corral_error_set(err, EX_DATAERR, "the stdio connection has no "
                                                         "stdioFunction");
        if (strlen(src) > FN_MAX)
                return corral_error_set(err, EX_DATAERR, "the stdioFunction is over %u bytes",
                                        FN_MAX);
        l.p = src;
        l.end = src + strlen(src);
        if (!function(&l, out))
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "its stdioFunction is JavaScript corral does not evaluate "
                                        "(%s, at offset %zu): install the npm package with "
                                        "--env/-- instead",
                                        l.why ? l.why : "not understood", (size_t)(l.p - src));
        if (!json_get_string(out, "command"))
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "its stdioFunction gives no command");
        *ret = steal_pointer(&out);
        return 0;
}
