/* smithery:QUALIFIED_NAME: a server from the Smithery registry (GET
 * {registry}/servers/{qualifiedName}) run here: a stdio connection's MCPB
 * bundle (bundleUrl), or the npm package its stdioFunction runs with npx
 * when it takes no configuration; an http connection is a remote unit, as
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
static int smithery_config(const store *s, char **ret_base, char **ret_key, corral_error *err)
{
        _cleanup_json_ cJSON *config = NULL;
        const char *base = getenv("CORRAL_SMITHERY_REGISTRY");
        const char *key = getenv("SMITHERY_API_KEY");
        int r = config_load(&s->paths, &config, err);

        if (r < 0)
                return r;
        if (!base || !*base)
                base = json_get_string(config, "smithery_registry");
        if (!base || !*base)
                base = SMITHERY_DEFAULT;
        if (!key || !*key)
                key = json_get_string(config, "smithery_api_key");
        if (key && (strpbrk(key, "\r\n") || strlen(key) > 4096))
                return corral_error_set(err, EX_CONFIG, "the Smithery API key is malformed");
        *ret_base = xstrdup(base);
        while (**ret_base && (*ret_base)[strlen(*ret_base) - 1] == '/')
                (*ret_base)[strlen(*ret_base) - 1] = '\0';
        *ret_key = key && *key ? xstrdup(key) : NULL;
        return 0;
}

static int fetch_doc(const char *base, const char *key, const char *name, cJSON **ret,
                     corral_error *err)
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
        r = registry_http_get(url, auth ? headers : NULL, SMITHERY_DOC_MAX, &status, &body, &len,
                              err);

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
static int ask_schema(registry_inputs *in, const cJSON *schema, corral_error *err)
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
        }
        return 0;
}

/* The npm package of an stdioFunction that runs `npx [-y] PACKAGE`: owned,
 * or NULL. */
static char *npx_package(const char *fn)
{
        const char *p = fn ? strstr(fn, "npx") : NULL;
        const char *args = p ? strstr(p, "args") : NULL;

        for (const char *q = args; q && *q;) {
                const char *open = strpbrk(q, "'\"`");
                if (!open)
                        break;
                const char *close = strchr(open + 1, *open);
                if (!close)
                        break;
                _cleanup_free_ char *tok = xstrndup(open + 1, (size_t)(close - open - 1));
                q = close + 1;
                if (tok[0] == '-')
                        continue;
                _cleanup_free_ char *name = xstrdup(tok);
                char *at = strchr(name[0] == '@' ? name + 1 : name, '@');
                if (at)
                        *at = '\0';
                if (spec_npm_name_valid(name))
                        return steal_pointer(&tok);
                return NULL;
        }
        return NULL;
}

int resolver_smithery_fetch(store *s, const install_options *opt, const source_spec *spec,
                            const char *pkg_dir, manifest *m, corral_error *err)
{
        _cleanup_free_ char *base = NULL, *key = NULL;
        _cleanup_json_ cJSON *doc = NULL;
        _cleanup_(registry_inputs_done) registry_inputs in = {0};
        const cJSON *c, *bundle = NULL, *npm = NULL, *http = NULL;
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
        if ((r = smithery_config(s, &base, &key, err)) < 0 ||
            (r = fetch_doc(base, key, spec->name, &doc, err)) < 0)
                return r;
        cJSON_ArrayForEach(c, json_get_array(doc, "connections"))
        {
                const char *type = json_get_string(c, "type");
                if (!type)
                        continue;
                if (strcmp(type, "stdio") == 0 && json_get_string(c, "bundleUrl") && !bundle)
                        bundle = c;
                else if (strcmp(type, "stdio") == 0 && !npm &&
                         npx_package(json_get_string(c, "stdioFunction")))
                        npm = c;
                else if (strcmp(type, "http") == 0 && !http)
                        http = c;
        }
        if (want) {
                bundle = strcmp(want, "mcpb") == 0 ? bundle : NULL;
                npm = strcmp(want, "npm") == 0 ? npm : NULL;
                http = strcmp(want, "remote") == 0 ? http : NULL;
        }
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
                if ((r = ask_schema(&in, json_get_object(bundle, "configSchema"), err)) < 0)
                        return r;
                return mcpb_install(s, opt, NULL, url, NULL, &in, pkg_dir, m, err);
        }
        /* An npx package: the stdioFunction maps the configuration to its
         * command line, which corral does not evaluate. */
        const cJSON *schema = json_get_object(npm, "configSchema");
        if (cJSON_GetArraySize(json_get_object(schema, "properties")) > 0)
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "%s runs from npm with a configuration its "
                                        "stdioFunction turns into a command line, which corral "
                                        "does not evaluate: install the npm package with "
                                        "--env/-- instead",
                                        spec->name);
        _cleanup_free_ char *pkg = npx_package(json_get_string(npm, "stdioFunction"));
        _cleanup_free_ char *raw = xasprintf("npm:%s", pkg);
        _cleanup_(spec_done) source_spec sub = {0};
        if ((r = registry_inputs_finish(&in, err)) < 0 || (r = spec_parse(&sub, raw, false, err)) < 0)
                return r;
        m->registry_package = xstrdup("npm");
        m->registry_identifier = xstrdup(pkg);
        return resolver_npm_fetch(s, opt, &sub, pkg_dir, m, err);
}
