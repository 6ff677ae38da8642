/* The values a server.json asks for (server.schema.json: Input,
 * KeyValueInput, PositionalArgument, NamedArgument, "variables"): from
 * --set, --config, the terminal, or the input's default. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/registry.h"
#include "corral/strbuf.h"

#define CONFIG_FILE_MAX (1u << 20)
#define MAX_SETS 256
#define MAX_DEPTH 2 /* a value's {variables} hold no further templates */

int registry_inputs_init(registry_inputs *in, const install_options *opt, corral_error *err)
{
        size_t n = strv_length(opt->sets);

        memset(in, 0, sizeof(*in));
        if (n > MAX_SETS)
                return corral_error_set(err, EX_USAGE, "too many --set options (at most %d)",
                                        MAX_SETS);
        for (size_t i = 0; i < n; i++) {
                const char *eq = strchr(opt->sets[i], '=');
                if (!eq || eq == opt->sets[i])
                        return corral_error_set(err, EX_USAGE,
                                                "invalid --set '%.64s': expected KEY=VALUE",
                                                opt->sets[i]);
                if (strlen(eq + 1) > REGISTRY_VALUE_MAX)
                        return corral_error_set(err, EX_USAGE, "--set %.*s: value too long",
                                                (int)(eq - opt->sets[i]), opt->sets[i]);
        }
        in->sets = opt->sets;
        in->used_sets = n ? xcalloc(n, sizeof(bool)) : NULL;
        in->interactive = opt->interactive;
        in->sets_optional = opt->sets_optional;
        in->record = cJSON_CreateObject();
        if (opt->config_file) {
                _cleanup_free_ char *data = NULL;
                size_t len = 0;
                int r = read_file(opt->config_file, CONFIG_FILE_MAX, &data, &len);
                if (r < 0)
                        return corral_error_errno(err, r == -ENOENT ? EX_NOINPUT : EX_USAGE, -r,
                                                  "--config %s", opt->config_file);
                in->config = cJSON_ParseWithLength(data, len);
                if (!cJSON_IsObject(in->config))
                        return corral_error_set(err, EX_USAGE,
                                                "--config %s: not a JSON object of KEY: VALUE",
                                                opt->config_file);
                const cJSON *e;
                cJSON_ArrayForEach(e, in->config)
                {
                        const cJSON *x;
                        bool ok = cJSON_IsString(e) || cJSON_IsNumber(e) || cJSON_IsBool(e);
                        if (cJSON_IsArray(e) && cJSON_GetArraySize(e) <= REGISTRY_MAX_INPUTS) {
                                ok = true; /* an isRepeated argument's values */
                                cJSON_ArrayForEach(x, e) ok = ok && cJSON_IsString(x);
                        }
                        if (!ok)
                                return corral_error_set(err, EX_USAGE,
                                                        "--config %s: %.64s: values are strings, "
                                                        "numbers, booleans or (for a repeated "
                                                        "argument) an array of strings",
                                                        opt->config_file, e->string);
                }
        }
        return 0;
}

void registry_inputs_done(registry_inputs *in)
{
        free(in->used_sets);
        cJSON_Delete(in->config);
        cJSON_Delete(in->record);
        strv_free(in->missing);
        strv_free(in->known);
        memset(in, 0, sizeof(*in));
}

static bool strv_has(char *const *v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

/* --set KEY=VALUE, then --config. */
static char *given(registry_inputs *in, const char *key)
{
        size_t klen = strlen(key);
        for (size_t i = 0; in->sets && in->sets[i]; i++)
                if (strncmp(in->sets[i], key, klen) == 0 && in->sets[i][klen] == '=') {
                        in->used_sets[i] = true;
                        return xstrdup(in->sets[i] + klen + 1);
                }
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(in->config, key);
        if (cJSON_IsString(c))
                return xstrdup(c->valuestring);
        if (cJSON_IsBool(c))
                return xstrdup(cJSON_IsTrue(c) ? "true" : "false");
        if (cJSON_IsNumber(c)) {
                char buf[64];
                snprintf(buf, sizeof(buf), "%.17g", c->valuedouble);
                return xstrdup(buf);
        }
        return NULL;
}

static char *ask(const char *key, const cJSON *input, const char *def, bool secret)
{
        return registry_ask(key, json_get_string(input, "description"), def, secret);
}

char *registry_ask(const char *key, const char *desc, const char *def, bool secret)
{
        struct termios old, quiet;
        bool noecho = false;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        fprintf(stderr, "%s%s%.200s%s", key, desc ? " (" : "", desc ? desc : "", desc ? ")" : "");
        if (def && !secret)
                fprintf(stderr, " [%.200s]", def);
        fprintf(stderr, ": ");
        fflush(stderr);
        if (secret && tcgetattr(STDIN_FILENO, &old) == 0) {
                quiet = old;
                quiet.c_lflag &= ~(tcflag_t)ECHO;
                /* TCSANOW: what was typed ahead is the answer, not discarded. */
                noecho = tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
        }
        n = getline(&line, &cap, stdin);
        if (noecho) {
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &old);
                fputc('\n', stderr);
        }
        if (n < 0) {
                free(line);
                return NULL;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
        if (n == 0) {
                free(line);
                return def ? xstrdup(def) : NULL;
        }
        return line;
}

static int check_value(const char *key, const cJSON *input, const char *v, corral_error *err)
{
        const cJSON *choices = json_get_array(input, "choices");
        const char *format = json_get_string(input, "format");
        const cJSON *c;

        if (strlen(v) > REGISTRY_VALUE_MAX || strpbrk(v, "\n\r"))
                return corral_error_set(err, EX_USAGE, "%s: value too long or not one line", key);
        if (cJSON_GetArraySize(choices) > 0) {
                bool ok = false;
                strbuf b = STRBUF_INIT(512);
                cJSON_ArrayForEach(c, choices)
                {
                        if (!cJSON_IsString(c))
                                continue;
                        ok = ok || strcmp(c->valuestring, v) == 0;
                        (void)strbuf_appendf(&b, "%s%s", b.len ? ", " : "", c->valuestring);
                }
                if (!ok) {
                        int r = corral_error_set(err, EX_USAGE, "%s: '%.64s' is not one of: %s",
                                                 key, v, b.buf ? b.buf : "");
                        strbuf_done(&b);
                        return r;
                }
                strbuf_done(&b);
        }
        if (format && strcmp(format, "number") == 0) {
                char *end = NULL;
                (void)strtod(v, &end);
                if (!*v || *end)
                        return corral_error_set(err, EX_USAGE, "%s: '%.64s' is not a number", key,
                                                v);
        }
        if (format && strcmp(format, "boolean") == 0 && strcmp(v, "true") != 0 &&
            strcmp(v, "false") != 0)
                return corral_error_set(err, EX_USAGE, "%s: '%.64s' is not true or false", key, v);
        return 0;
}

static int value_of(registry_inputs *in, const char *key, const cJSON *input, unsigned depth,
                    char **ret, corral_error *err);

/* "{name}" in a fixed value → the variable's value (input's "variables"). */
static int fill(registry_inputs *in, const char *tmpl, const cJSON *input, unsigned depth,
                char **ret, corral_error *err)
{
        const cJSON *vars = json_get_object(input, "variables");
        strbuf b = STRBUF_INIT(REGISTRY_VALUE_MAX);
        bool complete = true;
        int r;

        for (const char *p = tmpl; *p;) {
                const char *close = *p == '{' ? strchr(p, '}') : NULL;
                const cJSON *var = NULL;
                if (close && close - p > 1 && close - p < 128) {
                        _cleanup_free_ char *name = xstrndup(p + 1, (size_t)(close - p - 1));
                        var = json_get_object(vars, name);
                        if (var) {
                                _cleanup_free_ char *v = NULL;
                                r = value_of(in, name, var, depth + 1, &v, err);
                                if (r < 0) {
                                        strbuf_done(&b);
                                        return r;
                                }
                                if (r == 0)
                                        complete = false;
                                else if (strbuf_append(&b, v, strlen(v)) < 0)
                                        goto too_long;
                                p = close + 1;
                                continue;
                        }
                }
                if (strbuf_append(&b, p, 1) < 0)
                        goto too_long;
                p++;
        }
        if (!complete) {
                strbuf_done(&b);
                return 0;
        }
        *ret = strbuf_steal(&b);
        return 1;
too_long:
        strbuf_done(&b);
        return corral_error_set(err, EX_USAGE, "a value is longer than %d bytes",
                                REGISTRY_VALUE_MAX);
}

static int value_of(registry_inputs *in, const char *key, const cJSON *input, unsigned depth,
                    char **ret, corral_error *err)
{
        const char *fixed = json_get_string(input, "value");
        const cJSON *defj = cJSON_GetObjectItemCaseSensitive(input, "default");
        bool required = json_get_bool(input, "isRequired", false);
        bool secret = json_get_bool(input, "isSecret", false);
        _cleanup_free_ char *def = NULL, *v = NULL;
        int r;

        if (depth > MAX_DEPTH)
                return corral_error_set(err, EX_DATAERR, "%s: variables nested too deep", key);
        if (!strv_has(in->known, key)) {
                if (strv_length(in->known) >= REGISTRY_MAX_INPUTS)
                        return corral_error_set(err, EX_DATAERR, "more than %d inputs",
                                                REGISTRY_MAX_INPUTS);
                in->known = strv_push(in->known, key);
        }
        if (fixed) {
                /* A fixed value; only its {variables} are the user's. */
                return fill(in, fixed, input, depth, ret, err);
        }
        if (cJSON_IsString(defj))
                def = xstrdup(defj->valuestring);
        else if (cJSON_IsNumber(defj))
                def = xasprintf("%.17g", defj->valuedouble);
        else if (cJSON_IsBool(defj))
                def = xstrdup(cJSON_IsTrue(defj) ? "true" : "false");
        v = given(in, key);
        if (!v && in->interactive)
                v = ask(key, input, def, secret);
        if (v && in->record && !cJSON_GetObjectItemCaseSensitive(in->record, key))
                cJSON_AddStringToObject(in->record, key, v);
        if (!v && def)
                v = steal_pointer(&def);
        if (!v) {
                if (required && !strv_has(in->missing, key))
                        in->missing = strv_push(in->missing, key);
                return 0;
        }
        if ((r = check_value(key, input, v, err)) < 0)
                return r;
        *ret = steal_pointer(&v);
        return 1;
}

int registry_input_value(registry_inputs *in, const char *key, const cJSON *input, char **ret,
                         corral_error *err)
{
        if (!key || !*key || strlen(key) > 256)
                return corral_error_set(err, EX_DATAERR, "an input without a usable name");
        return value_of(in, key, input, 0, ret, err);
}

int registry_template(registry_inputs *in, const char *tmpl, const cJSON *input, char **ret,
                      corral_error *err)
{
        return fill(in, tmpl, input, 0, ret, err);
}

int registry_inputs_finish(registry_inputs *in, corral_error *err)
{
        if (in->missing) {
                strbuf b = STRBUF_INIT(0);
                for (size_t i = 0; in->missing[i]; i++)
                        (void)strbuf_appendf(&b, "%s%s", i ? ", " : "", in->missing[i]);
                int r = corral_error_set(err, EX_USAGE,
                                         "missing required values: %s (give them with --set "
                                         "KEY=VALUE or --config FILE.json)",
                                         b.buf);
                strbuf_done(&b);
                return r;
        }
        for (size_t i = 0; in->sets && in->sets[i] && !in->sets_optional; i++)
                if (!in->used_sets[i]) {
                        strbuf b = STRBUF_INIT(0);
                        for (size_t k = 0; in->known && in->known[k]; k++)
                                (void)strbuf_appendf(&b, "%s%s", k ? ", " : "", in->known[k]);
                        int r = corral_error_set(
                                err, EX_USAGE, "--set %.*s: this server takes no such input%s%s%s",
                                (int)strcspn(in->sets[i], "="), in->sets[i],
                                b.len ? " (it takes: " : "", b.len ? b.buf : "", b.len ? ")" : "");
                        strbuf_done(&b);
                        return r;
                }
        return 0;
}

/* The key of an argument: a named one's name without dashes, a positional
 * one's valueHint (else "argN"). */
static char *arg_key(const cJSON *a, size_t idx)
{
        const char *name = json_get_string(a, "name");
        const char *hint = json_get_string(a, "valueHint");
        if (name) {
                while (*name == '-')
                        name++;
                return xstrdup(name);
        }
        if (hint)
                return xstrdup(hint);
        return xasprintf("arg%zu", idx + 1);
}

/* An isRepeated argument's values: every --set KEY=VALUE in order, else
 * the --config array (or value).  0 when none was given. */
static int repeated_values(registry_inputs *in, const char *key, const cJSON *input, char ***ret,
                           corral_error *err)
{
        _cleanup_strv_ char **v = NULL;
        size_t klen = strlen(key);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(in->config, key), *e;
        int r;

        for (size_t i = 0; in->sets && in->sets[i]; i++)
                if (strncmp(in->sets[i], key, klen) == 0 && in->sets[i][klen] == '=') {
                        in->used_sets[i] = true;
                        v = strv_push(v, in->sets[i] + klen + 1);
                }
        if (!v && cJSON_IsArray(c))
                cJSON_ArrayForEach(e, c) v = strv_push(v, e->valuestring);
        if (!v)
                return 0;
        if (!strv_has(in->known, key))
                in->known = strv_push(in->known, key);
        for (size_t i = 0; v[i]; i++)
                if ((r = check_value(key, input, v[i], err)) < 0)
                        return r;
        if (in->record && !cJSON_GetObjectItemCaseSensitive(in->record, key)) {
                cJSON *arr = cJSON_AddArrayToObject(in->record, key);
                for (size_t i = 0; v[i]; i++)
                        cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]));
        }
        *ret = steal_pointer(&v);
        return 1;
}

/* "CORRAL_ARG_" and key upper-cased, other characters '_', made unique
 * among the names in in->secret_args by a "_2", "_3"… suffix. */
static char *secret_arg_name(const registry_inputs *in, const char *key)
{
        _cleanup_free_ char *base = xasprintf("CORRAL_ARG_%.64s", key);
        for (char *c = base + 11; *c; c++)
                *c = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_';
        char *name = xstrdup(base);
        for (unsigned n = 2; cJSON_GetObjectItemCaseSensitive(in->secret_args, name); n++) {
                free(name);
                name = xasprintf("%s_%u", base, n);
        }
        return name;
}

/* One argument value onto *argv: a secret one as a ${NAME} reference to
 * its value in in->secret_args, any other with "$" doubled so that the
 * start-time expansion (expand.h) gives it back as it is. */
static void push_value(registry_inputs *in, char ***argv, const char *key, const char *v,
                       bool secret)
{
        if (secret) {
                _cleanup_free_ char *name = secret_arg_name(in, key);
                _cleanup_free_ char *ref = xasprintf("${%s}", name);
                cJSON_AddStringToObject(in->secret_args, name, v);
                *argv = strv_push(*argv, ref);
                return;
        }
        strbuf b = STRBUF_INIT(0);
        for (const char *c = v; *c; c++)
                (void)strbuf_append(&b, *c == '$' ? "$$" : c, *c == '$' ? 2 : 1);
        char *e = strbuf_steal(&b);
        *argv = strv_push(*argv, e);
        free(e);
}

int registry_args_append(registry_inputs *in, const cJSON *args, char ***argv, corral_error *err)
{
        const cJSON *a;
        size_t idx = 0;

        cJSON_ArrayForEach(a, args)
        {
                const char *type = json_get_string(a, "type");
                const char *name = json_get_string(a, "name");
                _cleanup_free_ char *key = arg_key(a, idx++), *v = NULL;
                bool named = type && strcmp(type, "named") == 0;
                int r;

                if (!cJSON_IsObject(a) || (named && (!name || !*name)))
                        return corral_error_set(err, EX_DATAERR,
                                                "an argument of the server.json is malformed");
                bool secret = json_get_bool(a, "isSecret", false);
                if (secret && !in->secret_args)
                        return corral_error_set(err, EX_USAGE,
                                                "argument %s is a secret: corral keeps secrets out "
                                                "of command lines (not supported here)",
                                                key);
                if (json_get_bool(a, "isRepeated", false) && !json_get_string(a, "value")) {
                        _cleanup_strv_ char **vals = NULL;
                        if ((r = repeated_values(in, key, a, &vals, err)) < 0)
                                return r;
                        for (size_t i = 0; r > 0 && vals[i]; i++) {
                                if (named)
                                        *argv = strv_push(*argv, name);
                                push_value(in, argv, key, vals[i], secret);
                        }
                        if (r > 0)
                                continue; /* else one value, asked as any other */
                }
                r = registry_input_value(in, key, a, &v, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue; /* no value: left out (a required one is in missing) */
                if (named) {
                        const char *format = json_get_string(a, "format");
                        if (format && strcmp(format, "boolean") == 0) {
                                if (strcmp(v, "true") == 0)
                                        *argv = strv_push(*argv, name);
                                continue;
                        }
                        *argv = strv_push(*argv, name);
                }
                push_value(in, argv, key, v, secret);
        }
        return 0;
}
