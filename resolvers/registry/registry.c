/* registry:NAME[@VERSION]: a server.json from the official MCP Registry,
 * one of its packages (or remotes) chosen and installed by the resolver of
 * its kind, with the inputs it declares filled in. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corral/config.h"
#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/mcpb.h"
#include "corral/npm.h"
#include "corral/registry.h"
#include "corral/strbuf.h"

#define NPM_PUBLIC "https://registry.npmjs.org"
#define SECRETS_FILE_MAX (1u << 20)

static const char *const default_order[] = {"mcpb", "npm", "oci", "remote"};

static bool is_type(const char *t)
{
        for (size_t i = 0; i < ARRAY_SIZE(default_order); i++)
                if (strcmp(default_order[i], t) == 0)
                        return true;
        return false;
}

/* The order packages are tried in: --package alone, else corral.json's
 * "registry_package_order", else the default. */
static int package_order(const store *s, const install_options *opt, char ***ret,
                         corral_error *err)
{
        _cleanup_strv_ char **v = NULL;
        _cleanup_json_ cJSON *config = NULL;
        const cJSON *e;
        int r;

        if (opt->package_type) {
                if (!is_type(opt->package_type))
                        return corral_error_set(err, EX_USAGE,
                                                "--package is mcpb, npm, oci or remote, not "
                                                "'%.32s'",
                                                opt->package_type);
                *ret = strv_push(NULL, opt->package_type);
                return 0;
        }
        if ((r = config_load(&s->paths, &config, err)) < 0)
                return r;
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(config, "registry_package_order");
        if (c && !cJSON_IsArray(c))
                return corral_error_set(err, EX_CONFIG,
                                        "corral.json registry_package_order: an array of mcpb, "
                                        "npm, oci, remote");
        cJSON_ArrayForEach(e, c)
        {
                if (!cJSON_IsString(e) || !is_type(e->valuestring))
                        return corral_error_set(err, EX_CONFIG,
                                                "corral.json registry_package_order: entries are "
                                                "mcpb, npm, oci or remote");
                v = strv_push(v, e->valuestring);
        }
        if (!v)
                for (size_t i = 0; i < ARRAY_SIZE(default_order); i++)
                        v = strv_push(v, default_order[i]);
        *ret = steal_pointer(&v);
        return 0;
}

/* The first package of type that runs over stdio (a package whose transport
 * is HTTP would be a local web server: not a unit corral runs yet). */
static const cJSON *find_package(const cJSON *server, const char *type)
{
        const cJSON *p;
        size_t n = 0;

        if (strcmp(type, "remote") == 0) {
                cJSON_ArrayForEach(p, json_get_array(server, "remotes"))
                {
                        const char *t = json_get_string(p, "type");
                        if (n++ >= REGISTRY_MAX_PACKAGES)
                                break;
                        if (t && (strcmp(t, "streamable-http") == 0 || strcmp(t, "sse") == 0) &&
                            json_get_string(p, "url"))
                                return p;
                }
                return NULL;
        }
        cJSON_ArrayForEach(p, json_get_array(server, "packages"))
        {
                const char *t = json_get_string(p, "registryType");
                const char *tr = json_get_string(json_get_object(p, "transport"), "type");
                if (n++ >= REGISTRY_MAX_PACKAGES)
                        break;
                if (t && strcmp(t, type) == 0 && json_get_string(p, "identifier") &&
                    (!tr || strcmp(tr, "stdio") == 0))
                        return p;
        }
        return NULL;
}

static void note_skipped(const cJSON *server)
{
        const cJSON *p;
        cJSON_ArrayForEach(p, json_get_array(server, "packages"))
        {
                const char *t = json_get_string(p, "registryType");
                const char *tr = json_get_string(json_get_object(p, "transport"), "type");
                const char *id = json_get_string(p, "identifier");
                if (!t || !id)
                        continue;
                if (strcmp(t, "pypi") == 0 || strcmp(t, "nuget") == 0)
                        fprintf(stderr,
                                "corral: install: note: skipping %s package %.200s (corral "
                                "cannot install %s packages yet)\n",
                                t, id, t);
                else if (is_type(t) && tr && strcmp(tr, "stdio") != 0)
                        fprintf(stderr,
                                "corral: install: note: skipping %s package %.200s (transport "
                                "%.32s: corral runs stdio packages)\n",
                                t, id, tr);
        }
}

/* The server's secrets.json beside pkg_dir (an empty object when there is
 * none or it is not one); *ret_path owned. */
static cJSON *read_secrets(const char *pkg_dir, char **ret_path)
{
        _cleanup_free_ char *staging = xstrdup(pkg_dir), *data = NULL;
        cJSON *doc = NULL;
        size_t len = 0;

        *strrchr(staging, '/') = '\0';
        *ret_path = path_join(staging, "secrets.json");
        if (read_file(*ret_path, SECRETS_FILE_MAX, &data, &len) == 0)
                doc = cJSON_ParseWithLength(data, len);
        if (!cJSON_IsObject(doc)) {
                cJSON_Delete(doc);
                doc = cJSON_CreateObject();
        }
        return doc;
}

/* doc's member key replaced by take_value, and the file written (0600). */
static int write_secrets_member(const char *path, cJSON *doc, const char *key, cJSON *take_value,
                                corral_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r;

        cJSON_DeleteItemFromObjectCaseSensitive(doc, key);
        cJSON_AddItemToObject(doc, key, take_value);
        text = json_print(doc);
        r = write_file_atomic(path, text, strlen(text), 0600);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot write %s", path);
        return 0;
}

int registry_write_secret_env(const char *pkg_dir, cJSON *env, corral_error *err)
{
        _cleanup_free_ char *sp = NULL;
        _cleanup_json_ cJSON *doc = read_secrets(pkg_dir, &sp);

        /* Merged: a bundle's sensitive user_config and the registry's
         * secret variables both end here. */
        cJSON *old = cJSON_GetObjectItemCaseSensitive(doc, "env");
        if (cJSON_IsObject(old)) {
                const cJSON *e;
                cJSON_ArrayForEach(e, old)
                {
                        if (cJSON_IsString(e) && !cJSON_GetObjectItemCaseSensitive(env, e->string))
                                cJSON_AddStringToObject(env, e->string, e->valuestring);
                }
        }
        return write_secrets_member(sp, doc, "env", env, err);
}

int registry_write_inputs(const char *pkg_dir, const registry_inputs *in, corral_error *err)
{
        _cleanup_free_ char *sp = NULL;
        _cleanup_json_ cJSON *doc = NULL;

        if (cJSON_GetArraySize(in->record) == 0)
                return 0;
        doc = read_secrets(pkg_dir, &sp);
        return write_secrets_member(sp, doc, "inputs", cJSON_Duplicate(in->record, true), err);
}

/* environmentVariables → m->env (plain) or *secrets (isSecret; the manifest
 * keeps the key with a null value). */
static int add_env(registry_inputs *in, const cJSON *vars, manifest *m, cJSON *secrets,
                   corral_error *err)
{
        const cJSON *e;
        cJSON_ArrayForEach(e, vars)
        {
                const char *name = json_get_string(e, "name");
                _cleanup_free_ char *v = NULL;
                bool ok = name && *name && strlen(name) <= 256;
                for (const char *c = name; ok && *c; c++)
                        ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_' ||
                             (c > name && *c >= '0' && *c <= '9');
                if (!ok)
                        return corral_error_set(err, EX_DATAERR,
                                                "environment variable name '%.64s' of the "
                                                "server.json is not usable",
                                                name ? name : "");
                int r = registry_input_value(in, name, e, &v, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                size_t i;
                for (i = 0; i < m->n_env; i++)
                        if (strcmp(m->env[i].key, name) == 0)
                                break; /* --env given: it wins */
                if (i < m->n_env)
                        continue;
                if (m->n_env >= REGISTRY_MAX_INPUTS)
                        return corral_error_set(err, EX_DATAERR, "too many environment variables");
                m->env = xrealloc(m->env, (m->n_env + 1) * sizeof(*m->env));
                m->env[m->n_env].key = xstrdup(name);
                m->env[m->n_env].value = NULL;
                if (json_get_bool(e, "isSecret", false))
                        cJSON_AddStringToObject(secrets, name, v);
                else
                        m->env[m->n_env].value = steal_pointer(&v);
                m->n_env++;
        }
        return 0;
}

/* Remote headers: "Name: value" lines, plain or secret. */
static int add_headers(registry_inputs *in, const cJSON *headers, char ***plain, char ***secret,
                       corral_error *err)
{
        const cJSON *h;
        cJSON_ArrayForEach(h, headers)
        {
                const char *name = json_get_string(h, "name");
                _cleanup_free_ char *v = NULL, *line = NULL;
                if (!name || !*name || strlen(name) > 256 || strpbrk(name, ": \r\n"))
                        return corral_error_set(err, EX_DATAERR,
                                                "a header of the server.json is malformed");
                int r = registry_input_value(in, name, h, &v, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                line = xasprintf("%s: %s", name, v);
                if (json_get_bool(h, "isSecret", false))
                        *secret = strv_push(*secret, line);
                else
                        *plain = strv_push(*plain, line);
        }
        return 0;
}

/* The npm resolver's spec for a package ("npm:ID@VERSION"). */
static int npm_spec(const cJSON *pkg, source_spec *ret, corral_error *err)
{
        const char *id = json_get_string(pkg, "identifier");
        const char *ver = json_get_string(pkg, "version");
        _cleanup_free_ char *raw = ver ? xasprintf("npm:%s@%s", id, ver) : xasprintf("npm:%s", id);
        return spec_parse(ret, raw, false, err);
}

/* The docker resolver's spec: identifier (a full reference since the
 * 2025-12 schema; older documents give the tag in "version" and the
 * registry in registryBaseUrl). */
static int oci_spec(const cJSON *pkg, source_spec *ret, corral_error *err)
{
        const char *id = json_get_string(pkg, "identifier");
        const char *ver = json_get_string(pkg, "version");
        const char *base = json_get_string(pkg, "registryBaseUrl");
        const char *last = strrchr(id, '/');
        bool tagged = strchr(last ? last : id, ':') || strchr(id, '@');
        const char *first_slash = strchr(id, '/');
        bool has_host = first_slash && (memchr(id, '.', (size_t)(first_slash - id)) ||
                                        memchr(id, ':', (size_t)(first_slash - id)) ||
                                        strncmp(id, "localhost/", 10) == 0);
        _cleanup_free_ char *host = NULL, *raw = NULL;

        if (!has_host && base) {
                const char *h = strstr(base, "://");
                h = h ? h + 3 : base;
                size_t n = strcspn(h, "/");
                if (!(n == 9 && strncmp(h, "docker.io", 9) == 0) &&
                    !(n == 17 && strncmp(h, "registry-1.docker.io", 17) == 0))
                        host = xstrndup(h, n);
        }
        raw = xasprintf("docker:%s%s%s%s%s", host ? host : "", host ? "/" : "", id,
                        !tagged && ver ? ":" : "", !tagged && ver ? ver : "");
        return spec_parse(ret, raw, false, err);
}

static void record(manifest *m, const char *base, const cJSON *server, const char *type,
                   const cJSON *pkg)
{
        m->registry_url = xstrdup(base);
        m->registry_name = xstrdup(json_get_string(server, "name"));
        m->registry_version =
                json_get_string(server, "version") ? xstrdup(json_get_string(server, "version"))
                                                   : NULL;
        m->registry_package = xstrdup(type);
        const char *id = json_get_string(pkg, strcmp(type, "remote") == 0 ? "url" : "identifier");
        m->registry_identifier = id ? xstrdup(id) : NULL;
}

int resolver_registry_fetch(store *s, const install_options *opt, const source_spec *spec,
                            const char *pkg_dir, manifest *m, corral_error *err)
{
        _cleanup_strv_ char **urls = NULL, **order = NULL, **args = NULL, **rt_args = NULL;
        _cleanup_strv_ char **headers = NULL, **secret_headers = NULL, **node_flags = NULL;
        _cleanup_json_ cJSON *server = NULL;
        _cleanup_json_ cJSON *secrets = cJSON_CreateObject();
        _cleanup_free_ char *base = NULL;
        _cleanup_(registry_inputs_done) registry_inputs in = {0};
        _cleanup_(registry_cache_done) registry_cache cache = {0};
        _cleanup_(spec_done) source_spec sub = {0};
        install_options o = *opt;
        const cJSON *pkg = NULL;
        const char *type = NULL;
        int r;

        if ((r = registry_urls(&s->paths, &urls, err)) < 0 ||
            (r = package_order(s, opt, &order, err)) < 0 ||
            (r = registry_cache_init(&cache, &s->paths, opt->offline, err)) < 0)
                return r;
        if ((r = registry_get_server(&cache, urls, spec->name, spec->version, &server, &base,
                                     err)) < 0)
                return r;
        for (size_t i = 0; order[i] && !pkg; i++) {
                pkg = find_package(server, order[i]);
                type = order[i];
        }
        if (!pkg) {
                _cleanup_free_ char *offered = registry_package_types(server);
                note_skipped(server);
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "%s offers no package corral can install%s%s (offered: "
                                        "%s; corral installs stdio mcpb, npm and oci packages "
                                        "and streamable-http/sse remotes)",
                                        spec->name, opt->package_type ? " of type " : "",
                                        opt->package_type ? opt->package_type : "", offered);
        }
        if ((r = registry_inputs_init(&in, opt, err)) < 0)
                return r;
        in.secret_args = secrets; /* secret arguments: ${CORRAL_ARG_…} from secrets.json */

        if (strcmp(type, "remote") == 0) {
                const char *tmpl = json_get_string(pkg, "url");
                _cleanup_free_ char *url = NULL;
                if (opt->command)
                        return corral_error_set(err, EX_USAGE, "a remote server takes no command");
                r = registry_template(&in, tmpl, pkg, &url, err);
                if (r < 0 || (r = add_headers(&in, json_get_array(pkg, "headers"), &headers,
                                              &secret_headers, err)) < 0 ||
                    (r = registry_inputs_finish(&in, err)) < 0)
                        return r;
                if (!url)
                        return corral_error_set(err, EX_DATAERR, "%s: remote without a URL",
                                                spec->name);
                if ((r = spec_parse(&sub, url, true, err)) < 0)
                        return r;
                o.headers = headers;
                o.secret_headers = secret_headers;
                o.transport = strcmp(json_get_string(pkg, "type"), "sse") == 0 ? "sse" : "http";
                o.env = NULL;
                record(m, base, server, type, pkg);
                r = resolver_remote_fetch(s, &o, &sub, pkg_dir, m, err);
                if (r == 0 && (r = registry_write_inputs(pkg_dir, &in, err)) == 0)
                        note_skipped(server);
                return r;
        }

        /* A local package: its arguments and environment. */
        if ((r = registry_args_append(&in, json_get_array(pkg, "runtimeArguments"), &rt_args,
                                      err)) < 0 ||
            (r = registry_args_append(&in, json_get_array(pkg, "packageArguments"), &args, err)) <
                    0 ||
            (r = add_env(&in, json_get_array(pkg, "environmentVariables"), m, secrets, err)) < 0)
                return r;
        /* A bundle's own user_config is asked too before the end. */
        if (strcmp(type, "mcpb") != 0 && (r = registry_inputs_finish(&in, err)) < 0)
                return r;
        for (size_t i = 0; opt->command && opt->command[i]; i++)
                args = strv_push(args, opt->command[i]);
        o.command = args;
        record(m, base, server, type, pkg);

        if (strcmp(type, "npm") == 0) {
                const char *rb = json_get_string(pkg, "registryBaseUrl");
                if ((r = npm_spec(pkg, &sub, err)) < 0)
                        return r;
                if (rb && !opt->registry && strncmp(rb, NPM_PUBLIC, strlen(NPM_PUBLIC)) != 0)
                        o.registry = rb;
                if ((r = registry_npm_runtime_args(rt_args, json_get_string(pkg, "runtimeHint"),
                                                   &node_flags, err)) < 0)
                        return r;
                r = resolver_npm_fetch(s, &o, &sub, pkg_dir, m, err);
                /* node FLAGS SCRIPT ARGS */
                if (r == 0 && node_flags && m->command && m->command[0] &&
                    strcmp(m->command[0], "node") == 0) {
                        char **cmd = strv_push(NULL, m->command[0]);
                        for (size_t i = 0; node_flags[i]; i++)
                                cmd = strv_push(cmd, node_flags[i]);
                        for (size_t i = 1; m->command[i]; i++)
                                cmd = strv_push(cmd, m->command[i]);
                        strv_free(m->command);
                        m->command = cmd;
                }
        } else if (strcmp(type, "oci") == 0) {
                _cleanup_json_ cJSON *config = NULL;
                if ((r = oci_spec(pkg, &sub, err)) < 0)
                        return r;
                if ((r = config_load(&s->paths, &config, err)) < 0 ||
                    (r = docker_policy_check(config, sub.raw, sub.digest, err)) < 0)
                        return r;
                /* `docker run` options onto the container's configuration. */
                if ((r = registry_oci_runtime_args(rt_args, secrets, m, err)) < 0)
                        return r;
                /* packageArguments go after the image, as `docker run IMAGE
                 * ARGS`: they replace its Cmd, its Entrypoint stays. */
                o.command = NULL;
                o.image_args = args;
                r = resolver_docker_fetch(s, &o, &sub, pkg_dir, m, err);
        } else {
                const char *sha = json_get_string(pkg, "fileSha256");
                if (!sha)
                        return corral_error_set(err, EX_DATAERR,
                                                "%s: its mcpb package gives no fileSha256 to "
                                                "verify the bundle with",
                                                spec->name);
                r = mcpb_install(s, &o, NULL, json_get_string(pkg, "identifier"), sha, &in,
                                 pkg_dir, m, err);
        }
        if (r < 0)
                return r;
        if (cJSON_GetArraySize(secrets) > 0 &&
            (r = registry_write_secret_env(pkg_dir, steal_pointer(&secrets), err)) < 0)
                return r;
        if ((r = registry_write_inputs(pkg_dir, &in, err)) < 0)
                return r;
        /* Notes only once it worked: a failure is one line. */
        note_skipped(server);
        return 0;
}
