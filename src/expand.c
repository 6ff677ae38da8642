/* `${VAR}` expansion (include/corral/expand.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "corral/expand.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/strbuf.h"

#define SECRETS_MAX (1u << 20)

bool expand_needed(const char *s)
{
        return s && (strstr(s, "${") || strstr(s, "$$"));
}

const char *expand_getenv(void *ud, const char *name)
{
        return getenv(name);
}

int expand_vars(const char *s, expand_lookup_fn lookup, void *ud, char **ret, corral_error *err)
{
        strbuf b = STRBUF_INIT(EXPAND_MAX_BYTES);
        unsigned refs = 0;
        const char *p = s;

        if (strlen(s) > EXPAND_MAX_BYTES)
                return corral_error_set(err, EX_DATAERR, "a value longer than %u bytes",
                                        EXPAND_MAX_BYTES);
        while (*p) {
                const char *d = strchr(p, '$');
                if (!d) {
                        if (strbuf_append(&b, p, strlen(p)) < 0)
                                goto toobig;
                        break;
                }
                if (strbuf_append(&b, p, (size_t)(d - p)) < 0)
                        goto toobig;
                if (d[1] == '$') {
                        if (strbuf_append(&b, "$", 1) < 0)
                                goto toobig;
                        p = d + 2;
                        continue;
                }
                if (d[1] != '{') {
                        if (strbuf_append(&b, "$", 1) < 0)
                                goto toobig;
                        p = d + 1;
                        continue;
                }
                if (++refs > EXPAND_MAX_REFS) {
                        strbuf_done(&b);
                        return corral_error_set(err, EX_DATAERR,
                                                "more than %d ${…} references in one value",
                                                EXPAND_MAX_REFS);
                }
                const char *n = d + 2, *e = n;
                while (isalnum((unsigned char)*e) || *e == '_')
                        e++;
                size_t nlen = (size_t)(e - n);
                const char *close = strchr(e, '}');
                if (!close) {
                        strbuf_done(&b);
                        return corral_error_set(err, EX_DATAERR, "unterminated '${' in '%.64s'",
                                                s);
                }
                if (nlen == 0 || nlen > EXPAND_NAME_MAX || isdigit((unsigned char)*n) ||
                    (*e != '}' && strncmp(e, ":-", 2) != 0)) {
                        strbuf_done(&b);
                        return corral_error_set(err, EX_DATAERR,
                                                "'%.*s' is not a ${NAME} or ${NAME:-default} "
                                                "reference (NAME is letters, digits and '_')",
                                                (int)((close - d + 1) > 80 ? 80 : (close - d + 1)),
                                                d);
                }
                char name[EXPAND_NAME_MAX + 1];
                memcpy(name, n, nlen);
                name[nlen] = '\0';
                const char *v = lookup(ud, name);
                if (*e == ':') {
                        if (!v || !*v) {
                                v = e + 2;
                                if (strbuf_append(&b, v, (size_t)(close - v)) < 0)
                                        goto toobig;
                                p = close + 1;
                                continue;
                        }
                } else if (!v) {
                        strbuf_done(&b);
                        return corral_error_set(err, EX_DATAERR,
                                                "${%s} is not set and has no default", name);
                }
                if (strbuf_append(&b, v, strlen(v)) < 0)
                        goto toobig;
                p = close + 1;
        }
        *ret = strbuf_steal(&b);
        return 0;
toobig:
        strbuf_done(&b);
        return corral_error_set(err, EX_DATAERR, "'%.64s' expands to more than %u bytes", s,
                                EXPAND_MAX_BYTES);
}

static int expand_node(cJSON *j, strbuf *path, expand_lookup_fn lookup, void *ud,
                       corral_error *err, unsigned depth)
{
        cJSON *c;
        int r;

        if (depth > 64)
                return corral_error_set(err, EX_DATAERR, "nested deeper than 64 levels");
        if (cJSON_IsString(j) && expand_needed(j->valuestring)) {
                _cleanup_free_ char *out = NULL;
                if ((r = expand_vars(j->valuestring, lookup, ud, &out, err)) < 0) {
                        if (path->len)
                                corral_error_prefix(err, "%s", path->buf);
                        return r;
                }
                if (!cJSON_SetValuestring(j, out))
                        return corral_error_set(err, EX_SOFTWARE, "out of memory");
                return 0;
        }
        if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
                return 0;
        size_t i = 0;
        cJSON_ArrayForEach(c, j)
        {
                size_t mark = path->len;
                if (cJSON_IsObject(j))
                        (void)strbuf_appendf(path, "%s%s", mark ? "." : "", c->string);
                else
                        (void)strbuf_appendf(path, "[%zu]", i);
                r = expand_node(c, path, lookup, ud, err, depth + 1);
                path->len = mark;
                if (path->buf)
                        path->buf[mark] = '\0';
                if (r < 0)
                        return r;
                i++;
        }
        return 0;
}

int expand_json(cJSON *j, const char *what, expand_lookup_fn lookup, void *ud, corral_error *err)
{
        strbuf path = STRBUF_INIT(4096);
        int r = expand_node(j, &path, lookup, ud, err, 0);

        strbuf_done(&path);
        if (r < 0)
                corral_error_prefix(err, "%s", what);
        return r;
}

/* Lookups for a server: its secrets first, then the environment. */
typedef struct server_lookup {
        const cJSON *secrets; /* secrets.json "env", or NULL */
        bool no_environ;      /* a user's own server: not the daemon's environment */
} server_lookup;

static const char *server_lookup_fn(void *ud, const char *name)
{
        server_lookup *l = ud;
        const char *v = json_get_string(l->secrets, name);
        return v || l->no_environ ? v : getenv(name);
}

static bool manifest_needs_expansion(const manifest *m)
{
        for (size_t i = 0; i < m->n_env; i++)
                if (!m->env[i].value || expand_needed(m->env[i].value))
                        return true;
        for (size_t i = 1; m->command && m->command[0] && m->command[i]; i++)
                if (expand_needed(m->command[i]))
                        return true;
        return false;
}

int expand_manifest(const manifest *m, const corral_paths *paths, manifest **ret,
                    corral_error *err)
{
        _cleanup_free_ char *dir = NULL, *sp = NULL, *data = NULL, *text = NULL;
        _cleanup_json_ cJSON *secrets = NULL;
        server_lookup l = {0};
        manifest *copy = NULL;
        size_t len = 0;
        int r;

        *ret = NULL;
        if (!manifest_needs_expansion(m))
                return 0;
        dir = paths_server_dir(paths, m->name);
        sp = path_join(dir, "secrets.json");
        r = read_file(sp, SECRETS_MAX, &data, &len);
        if (r == 0) {
                secrets = cJSON_ParseWithLength(data, len);
                if (!cJSON_IsObject(secrets))
                        return corral_error_set(err, EX_CONFIG, "%s: %s is not a JSON object",
                                                m->name, sp);
        } else if (r != -ENOENT) {
                return corral_error_errno(err, EX_CONFIG, -r, "%s: cannot read %s", m->name, sp);
        }
        l.secrets = json_get_object(secrets, "env");
        /* The daemon's environment is the site's (its corral.json ${VAR}s,
         * systemd's Environment=): a server a user installed must not read
         * it through a ${VAR} in its own arguments. */
        l.no_environ = m->owner != NULL;

        /* A copy through the manifest's own JSON form: every field kept. */
        text = manifest_format(m);
        if ((r = manifest_parse(&copy, text, strlen(text), err)) < 0)
                return r;
        for (size_t i = 0; i < copy->n_env; i++) {
                manifest_env *e = &copy->env[i];
                char *out = NULL;

                if (!e->value) {
                        const char *v = json_get_string(l.secrets, e->key);
                        if (!v) {
                                manifest_free(copy);
                                return corral_error_set(err, EX_CONFIG,
                                                        "%s: the secret value of %s is missing "
                                                        "from %s",
                                                        m->name, e->key, sp);
                        }
                        e->value = xstrdup(v);
                        continue;
                }
                if (!expand_needed(e->value))
                        continue;
                if ((r = expand_vars(e->value, server_lookup_fn, &l, &out, err)) < 0) {
                        corral_error_prefix(err, "%s: env %s", m->name, e->key);
                        err->code = EX_CONFIG;
                        manifest_free(copy);
                        return -EX_CONFIG;
                }
                free(e->value);
                e->value = out;
        }
        for (size_t i = 1; copy->command[i]; i++) {
                char *out = NULL;
                if (!expand_needed(copy->command[i]))
                        continue;
                if ((r = expand_vars(copy->command[i], server_lookup_fn, &l, &out, err)) < 0) {
                        corral_error_prefix(err, "%s: argument %zu", m->name, i);
                        err->code = EX_CONFIG;
                        manifest_free(copy);
                        return -EX_CONFIG;
                }
                free(copy->command[i]);
                copy->command[i] = out;
        }
        *ret = copy;
        return 0;
}
