/* smithery:QUALIFIED_NAME: a server from the Smithery registry (GET
 * {registry}/servers/{qualifiedName}) run here: a stdio connection's MCPB
 * bundle (bundleUrl), or the npm package its stdioFunction runs with npx
 * (smithery_fn.c reads it) with the configuration filled in; an http
 * connection is a remote unit, as
 * smithery-hosted: (resolvers/remote.c) installs it. */
#include <ctype.h>
#include <string.h>

#include "corral/config.h"
#include "corral/jsonutil.h"
#include "corral/mcpb.h"
#include "corral/npm.h"
#include "corral/registry.h"
#include "corral/strbuf.h"

#define SMITHERY_DEFAULT "https://registry.smithery.ai"
#define SMITHERY_DOC_MAX (4u << 20)
#define SCHEMA_MAX_PROPERTIES 64

/* The registry: $CORRAL_SMITHERY_REGISTRY, corral.json "smithery_registry",
 * the public one; the key: $SMITHERY_API_KEY, corral.json
 * "smithery_api_key". */
static int smithery_config(const store *s, char **ret_base, char **ret_key, bool *ret_explicit,
                           corral_error *err)
{
        _cleanup_json_ cJSON *config = NULL;
        const char *base = getenv("CORRAL_SMITHERY_REGISTRY");
        const char *key = getenv("SMITHERY_API_KEY");
        int r = config_load(&s->paths, &config, err);

        if (r < 0)
                return r;
        if (!base || !*base)
                base = json_get_string(config, "smithery_registry");
        bool chosen = base && *base;
        if (!chosen)
                base = SMITHERY_DEFAULT;
        if (!key || !*key)
                key = json_get_string(config, "smithery_api_key");
        if (ret_explicit)
                *ret_explicit = (key && *key) || chosen;
        if (key && (strpbrk(key, "\r\n") || strlen(key) > 4096))
                return corral_error_set(err, EX_CONFIG, "the Smithery API key is malformed");
        *ret_base = xstrdup(base);
        while (**ret_base && (*ret_base)[strlen(*ret_base) - 1] == '/')
                (*ret_base)[strlen(*ret_base) - 1] = '\0';
        *ret_key = key && *key ? xstrdup(key) : NULL;
        return 0;
}

static int fetch_doc(const registry_cache *c, const char *base, const char *key,
                     const char *name, cJSON **ret, corral_error *err)
{
        _cleanup_free_ char *url = NULL, *auth = NULL, *body = NULL;
        const char *headers[] = {NULL, NULL};
        long status = 0;
        size_t len = 0;
        int r;

        if (!base || !name)
                return corral_error_set(err, EX_SOFTWARE, "Smithery: no registry or name");
        url = xasprintf("%s/servers/%s", base, name);
        if (key)
                headers[0] = auth = xasprintf("Authorization: Bearer %s", key);
        r = registry_http_get(c, url, auth ? headers : NULL, SMITHERY_DOC_MAX, &status, &body,
                              &len, err);
        if (r < 0) {
                corral_error_prefix(err, "Smithery registry");
                return r;
        }
        if (status == 404)
                return corral_error_set(err, EX_NOINPUT, "no server '%s' in the Smithery registry",
                                        name);
        if (status == 401 || status == 403)
                return corral_error_set(err, EX_NOPERM,
                                        "the Smithery registry refused the request (HTTP %ld): "
                                        "set SMITHERY_API_KEY",
                                        status);
        if (status != 200)
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "the Smithery registry answered HTTP %ld for %s", status,
                                        name);
        *ret = cJSON_ParseWithLength(body, len);
        if (!cJSON_IsObject(*ret)) {
                cJSON_Delete(*ret);
                *ret = NULL;
                return corral_error_set(err, EX_DATAERR,
                                        "the Smithery registry's answer for %s is not a JSON "
                                        "object",
                                        name);
        }
        return 0;
}

/* configSchema (JSON Schema, an object's properties) → inputs: each
 * property asked like a server.json input (description, default, enum as
 * choices, number/integer/boolean as format, "required"). */
static int ask_schema(registry_inputs *in, const cJSON *schema, cJSON *values, corral_error *err)
{
        const cJSON *props = json_get_object(schema, "properties");
        const cJSON *req = json_get_array(schema, "required");
        const cJSON *p;
        int n = 0;

        cJSON_ArrayForEach(p, props)
        {
                _cleanup_json_ cJSON *input = cJSON_CreateObject();
                _cleanup_free_ char *v = NULL;
                const char *type = json_get_string(p, "type");
                const cJSON *def = cJSON_GetObjectItemCaseSensitive(p, "default");
                const cJSON *e;
                bool required = false;
                int r;

                if (++n > SCHEMA_MAX_PROPERTIES)
                        return corral_error_set(err, EX_DATAERR,
                                                "configSchema has more than %d properties",
                                                SCHEMA_MAX_PROPERTIES);
                cJSON_ArrayForEach(e, req) required |= cJSON_IsString(e) &&
                                                       strcmp(e->valuestring, p->string) == 0;
                if (json_get_string(p, "description"))
                        cJSON_AddStringToObject(input, "description",
                                                json_get_string(p, "description"));
                cJSON_AddBoolToObject(input, "isRequired", required);
                if (type && (strcmp(type, "number") == 0 || strcmp(type, "integer") == 0))
                        cJSON_AddStringToObject(input, "format", "number");
                else if (type && strcmp(type, "boolean") == 0)
                        cJSON_AddStringToObject(input, "format", "boolean");
                else if (type && strcmp(type, "string") != 0)
                        return corral_error_set(err, EX_UNAVAILABLE,
                                                "configSchema property %.64s is of type %.32s: "
                                                "corral takes strings, numbers and booleans",
                                                p->string, type);
                if (def && (cJSON_IsString(def) || cJSON_IsNumber(def) || cJSON_IsBool(def)))
                        cJSON_AddItemToObject(input, "default", cJSON_Duplicate(def, true));
                if (cJSON_IsArray(json_get_array(p, "enum")))
                        cJSON_AddItemToObject(input, "choices",
                                              cJSON_Duplicate(json_get_array(p, "enum"), true));
                r = registry_input_value(in, p->string, input, &v, err);
                if (r < 0)
                        return r;
                if (r > 0 && values)
                        cJSON_AddStringToObject(values, p->string, v);
        }
        return 0;
}

/* The npm package an stdioFunction (read by smithery_read_stdio_function)
 * runs with `npx [-y] PACKAGE ARGS…`: its index in args, or -1. */
static int npx_package(const cJSON *fn)
{
        const char *cmd = json_get_string(fn, "command");
        const cJSON *a;
        int i = 0;

        if (!cmd || strcmp(cmd, "npx") != 0)
                return -1;
        cJSON_ArrayForEach(a, json_get_array(fn, "args"))
        {
                if (!cJSON_IsString(a))
                        return -1; /* the package from the configuration: no */
                const char *t = a->valuestring;
                if (strcmp(t, "-y") == 0 || strcmp(t, "--yes") == 0 || strcmp(t, "-q") == 0 ||
                    strcmp(t, "--quiet") == 0) {
                        i++;
                        continue;
                }
                if (t[0] == '-')
                        return -1; /* --package, -c …: not the plain form */
                _cleanup_free_ char *name = xstrdup(t);
                char *at = strchr(name[0] == '@' ? name + 1 : name, '@');
                if (at)
                        *at = '\0';
                return spec_npm_name_valid(name) ? i : -1;
        }
        return -1;
}

/* A stdio connection's npm install: the configuration asked as configSchema
 * says, the stdioFunction's remaining args and env filled from it (a field
 * without a value leaves its argument or variable out).  Values from the
 * configuration in env go to secrets.json (a JSON Schema does not say which
 * are secret); literals stay in the manifest. */
static int install_npx(store *s, const install_options *opt, registry_inputs *in,
                       const cJSON *conn, const cJSON *fn, const char *pkg_dir, manifest *m,
                       corral_error *err)
{
        _cleanup_json_ cJSON *values = cJSON_CreateObject();
        _cleanup_json_ cJSON *secrets = cJSON_CreateObject();
        _cleanup_strv_ char **args = NULL;
        _cleanup_(spec_done) source_spec sub = {0};
        install_options o = *opt;
        const cJSON *a, *e;
        int at = npx_package(fn), i = 0, r;
        const char *pkg = cJSON_GetArrayItem(json_get_array(fn, "args"), at)->valuestring;
        _cleanup_free_ char *raw = xasprintf("npm:%s", pkg);

        if (opt->command)
                return corral_error_set(err, EX_USAGE,
                                        "the stdioFunction gives the command: nothing goes "
                                        "after --");
        if ((r = ask_schema(in, json_get_object(conn, "configSchema"), values, err)) < 0 ||
            (r = registry_inputs_finish(in, err)) < 0 ||
            (r = spec_parse(&sub, raw, false, err)) < 0)
                return r;
        cJSON_ArrayForEach(a, json_get_array(fn, "args"))
        {
                const char *field = json_get_string(a, "config");
                if (i++ <= at)
                        continue;
                if (cJSON_IsString(a))
                        args = strv_push(args, a->valuestring);
                else if (json_get_string(values, field))
                        args = strv_push(args, json_get_string(values, field));
        }
        cJSON_ArrayForEach(e, json_get_object(fn, "env"))
        {
                const char *field = json_get_string(e, "config");
                const char *v = cJSON_IsString(e) ? e->valuestring : json_get_string(values, field);
                bool ok = *e->string && strlen(e->string) <= 256;
                for (const char *c = e->string; ok && *c; c++)
                        ok = isalnum((unsigned char)*c) || *c == '_';
                if (!ok)
                        return corral_error_set(err, EX_DATAERR,
                                                "environment variable name '%.64s' of the "
                                                "stdioFunction is not usable",
                                                e->string);
                if (!v)
                        continue;
                size_t k;
                for (k = 0; k < m->n_env; k++)
                        if (strcmp(m->env[k].key, e->string) == 0)
                                break; /* --env given: it wins */
                if (k < m->n_env)
                        continue;
                m->env = xrealloc(m->env, (m->n_env + 1) * sizeof(*m->env));
                m->env[m->n_env].key = xstrdup(e->string);
                m->env[m->n_env].value = cJSON_IsString(e) ? xstrdup(v) : NULL;
                if (!cJSON_IsString(e))
                        cJSON_AddStringToObject(secrets, e->string, v);
                m->n_env++;
        }
        o.command = args;
        m->registry_package = xstrdup("npm");
        m->registry_identifier = xstrdup(pkg);
        if ((r = resolver_npm_fetch(s, &o, &sub, pkg_dir, m, err)) < 0)
                return r;
        if (cJSON_GetArraySize(secrets) > 0)
                return registry_write_secret_env(pkg_dir, steal_pointer(&secrets), err);
        return 0;
}

int resolver_smithery_fetch(store *s, const install_options *opt, const source_spec *spec,
                            const char *pkg_dir, manifest *m, corral_error *err)
{
        _cleanup_free_ char *base = NULL, *key = NULL;
        _cleanup_json_ cJSON *doc = NULL;
        _cleanup_(registry_inputs_done) registry_inputs in = {0};
        _cleanup_(registry_cache_done) registry_cache cache = {0};
        _cleanup_json_ cJSON *fn = NULL;
        const cJSON *c, *bundle = NULL, *npm = NULL, *http = NULL;
        corral_error fn_err = {0};
        const char *want = opt->package_type;
        int r;

        for (const char *p = spec->name; *p; p++)
                if (!isalnum((unsigned char)*p) && !strchr("@/._-", *p))
                        return corral_error_set(err, EX_USAGE,
                                                "invalid Smithery qualified name '%.64s'",
                                                spec->name);
        if (want && strcmp(want, "mcpb") != 0 && strcmp(want, "npm") != 0 &&
            strcmp(want, "remote") != 0)
                return corral_error_set(err, EX_USAGE,
                                        "--package for smithery: is mcpb, npm or remote");
        if ((r = smithery_config(s, &base, &key, NULL, err)) < 0 ||
            (r = registry_cache_init(&cache, &s->paths, opt->offline, err)) < 0 ||
            (r = fetch_doc(&cache, base, key, spec->name, &doc, err)) < 0)
                return r;
        cJSON_ArrayForEach(c, json_get_array(doc, "connections"))
        {
                const char *type = json_get_string(c, "type");
                if (!type)
                        continue;
                if (strcmp(type, "stdio") == 0 && json_get_string(c, "bundleUrl") && !bundle) {
                        bundle = c;
                } else if (strcmp(type, "stdio") == 0 && !npm &&
                           json_get_string(c, "stdioFunction")) {
                        /* Kept: why it cannot be read, for the error. */
                        cJSON *f = NULL;
                        if (smithery_read_stdio_function(json_get_string(c, "stdioFunction"), &f,
                                                         fn_err.code ? NULL : &fn_err) == 0 &&
                            npx_package(f) >= 0) {
                                npm = c;
                                fn = f;
                        } else {
                                if (f && !fn_err.code)
                                        corral_error_set(&fn_err, EX_UNAVAILABLE,
                                                         "its stdioFunction does not run `npx "
                                                         "PACKAGE`");
                                cJSON_Delete(f);
                        }
                } else if (strcmp(type, "http") == 0 && !http) {
                        http = c;
                }
        }
        if (want) {
                bundle = strcmp(want, "mcpb") == 0 ? bundle : NULL;
                npm = strcmp(want, "npm") == 0 ? npm : NULL;
                http = strcmp(want, "remote") == 0 ? http : NULL;
        }
        if (!bundle && !npm && !http && fn_err.code && (!want || strcmp(want, "npm") == 0))
                return corral_error_set(err, fn_err.code, "%s: %s", spec->name, fn_err.msg);
        if (!bundle && !npm && !http)
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "%s has no connection corral can install%s%s (a stdio "
                                        "bundle, a stdio npx package, or an http deployment)",
                                        spec->name, want ? " of type " : "", want ? want : "");
        m->registry_url = xstrdup(base);
        m->registry_name = xstrdup(spec->name);
        if (!bundle && !npm) {
                m->registry_package = xstrdup("remote");
                return resolver_smithery_hosted_fetch(s, opt, spec, pkg_dir, m, err);
        }
        if ((r = registry_inputs_init(&in, opt, err)) < 0)
                return r;
        if (bundle) {
                const char *url = json_get_string(bundle, "bundleUrl");
                m->registry_package = xstrdup("mcpb");
                m->registry_identifier = xstrdup(url);
                if (opt->command)
                        return corral_error_set(err, EX_USAGE,
                                                "a bundle's command is its manifest's: nothing "
                                                "goes after --");
                /* configSchema's values are the bundle's user_config. */
                if ((r = ask_schema(&in, json_get_object(bundle, "configSchema"), NULL, err)) < 0)
                        return r;
                r = mcpb_install(s, opt, NULL, url, NULL, &in, pkg_dir, m, err);
        } else {
                r = install_npx(s, opt, &in, npm, fn, pkg_dir, m, err);
        }
        /* The values given, for `corral update` to give again. */
        return r < 0 ? r : registry_write_inputs(pkg_dir, &in, err);
}

/* A text field of a list entry, one line, at most max bytes. */
static char *field(const cJSON *o, const char *key, size_t max)
{
        const char *v = json_get_string(o, key);
        char *r = xstrndup(v ? v : "", max);
        for (char *p = r; *p; p++)
                if ((unsigned char)*p < ' ')
                        *p = ' ';
        return r;
}

int smithery_search(const store *s, const registry_cache *c, const char *text, size_t limit,
                    registry_hit **hits, size_t *n, corral_error *err)
{
        _cleanup_free_ char *base = NULL, *key = NULL, *auth = NULL;
        _cleanup_free_ char *etext = registry_url_escape(text);
        const char *headers[] = {NULL, NULL};
        size_t size = limit < SMITHERY_SEARCH_PAGE ? limit : SMITHERY_SEARCH_PAGE, got = 0;
        bool explicit_ = false;
        int r;

        if ((r = smithery_config(s, &base, &key, &explicit_, err)) < 0)
                return r;
        if (!explicit_)
                return 1;
        if (key)
                headers[0] = auth = xasprintf("Authorization: Bearer %s", key);
        for (unsigned page = 1; page <= REGISTRY_SEARCH_MAX_PAGES && got < limit; page++) {
                _cleanup_free_ char *url = xasprintf("%s/servers?q=%s&page=%u&pageSize=%zu", base,
                                                     etext, page, size ? size : 1);
                _cleanup_free_ char *body = NULL;
                _cleanup_json_ cJSON *doc = NULL;
                long status = 0;
                size_t len = 0;
                const cJSON *e;

                r = registry_http_get(c, url, auth ? headers : NULL, SMITHERY_DOC_MAX, &status,
                                      &body, &len, err);
                if (r < 0) {
                        corral_error_prefix(err, "Smithery registry %s", base);
                        return r;
                }
                if (status == 401 || status == 403)
                        return corral_error_set(err, EX_NOPERM,
                                                "the Smithery registry %s refused the search "
                                                "(HTTP %ld): set SMITHERY_API_KEY",
                                                base, status);
                doc = status == 200 ? cJSON_ParseWithLength(body, len) : NULL;
                if (!cJSON_IsArray(json_get_array(doc, "servers")))
                        return corral_error_set(err, status == 200 ? EX_DATAERR : EX_UNAVAILABLE,
                                                "Smithery registry %s: HTTP %ld, not a server "
                                                "list",
                                                base, status);
                cJSON_ArrayForEach(e, json_get_array(doc, "servers"))
                {
                        const char *qn = json_get_string(e, "qualifiedName");
                        if (!qn || !*qn || got >= limit)
                                continue;
                        *hits = xrealloc(*hits, (*n + 1) * sizeof(**hits));
                        registry_hit *h = &(*hits)[*n];
                        h->name = field(e, "qualifiedName", 256);
                        h->description = field(e, "description", 512);
                        h->version = xstrdup("-");
                        h->types = xstrdup(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
                                                   e, "remote"))
                                                   ? "remote"
                                                   : "local");
                        h->registry = xstrdup(base);
                        h->install = xasprintf("smithery:%s", h->name);
                        (*n)++;
                        got++;
                }
                /* pagination: {currentPage, pageSize, totalPages, totalCount} */
                const cJSON *pg = json_get_object(doc, "pagination");
                const cJSON *tp = cJSON_GetObjectItemCaseSensitive(pg, "totalPages");
                if (cJSON_GetArraySize(json_get_array(doc, "servers")) == 0 ||
                    !cJSON_IsNumber(tp) || tp->valuedouble <= (double)page)
                        break;
        }
        return 0;
}
