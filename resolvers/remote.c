/* Remote MCP servers (`corral install URL --remote`): nothing to fetch; the
 * manifest records the endpoint, and the server is probed once. */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/remote.h"
#include "corral/resolver.h"

#define PROBE_TIMEOUT_MS 30000u

/* "Name: value" → name and value (owned); -EX_USAGE when malformed. */
static int split_header(const char *line, const char *opt, char **ret_name, char **ret_value,
                        corral_error *err)
{
        const char *c = strchr(line, ':');
        const char *v;
        size_t n;

        if (!c || c == line)
                return corral_error_set(err, EX_USAGE, "%s '%.64s': expected 'Name: value'", opt,
                                        line);
        n = (size_t)(c - line);
        for (size_t i = 0; i < n; i++)
                if (!isgraph((unsigned char)line[i]))
                        return corral_error_set(err, EX_USAGE, "%s: invalid header name '%.*s'",
                                                opt, (int)(n > 64 ? 64 : n), line);
        v = c + 1;
        while (*v == ' ' || *v == '\t')
                v++;
        if (strpbrk(v, "\r\n") || strlen(line) > REMOTE_HEADER_MAX)
                return corral_error_set(err, EX_USAGE, "%s %.*s: invalid value", opt, (int)n,
                                        line);
        if (n == 14 && strncasecmp(line, "Mcp-Session-Id", n) == 0)
                return corral_error_set(err, EX_USAGE, "%s: Mcp-Session-Id is the transport's",
                                        opt);
        *ret_name = xstrndup(line, n);
        *ret_value = xstrdup(v);
        return 0;
}

static int add_headers(manifest *m, char *const *lines, bool secret, cJSON *secrets,
                       corral_error *err)
{
        for (size_t i = 0; lines && lines[i]; i++) {
                _cleanup_free_ char *name = NULL, *value = NULL;
                int r = split_header(lines[i], secret ? "--secret-header" : "--header", &name,
                                     &value, err);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < m->n_headers; j++)
                        if (strcasecmp(m->headers[j].key, name) == 0)
                                return corral_error_set(err, EX_USAGE, "header %s given twice",
                                                        name);
                if (m->n_headers >= REMOTE_HEADERS_MAX)
                        return corral_error_set(err, EX_USAGE, "more than %d headers",
                                                REMOTE_HEADERS_MAX);
                m->headers = xrealloc(m->headers, (m->n_headers + 1) * sizeof(*m->headers));
                m->headers[m->n_headers].key = xstrdup(name);
                m->headers[m->n_headers].value = secret ? NULL : xstrdup(value);
                m->n_headers++;
                if (secret)
                        cJSON_AddStringToObject(secrets, name, value);
        }
        return 0;
}

static int install_remote(const install_options *opt, const char *url, const char *pkg_dir,
                          manifest *m, corral_error *err)
{
        _cleanup_json_ cJSON *secrets = cJSON_CreateObject();
        _cleanup_free_ char *staging = NULL, *sp = NULL;
        _cleanup_strv_ char **headers = NULL;
        remote_probe_result res = {0};
        remote_config cfg = {0};
        int r;

        if (opt->command)
                return corral_error_set(err, EX_USAGE, "a remote server takes no command");
        if (opt->env)
                return corral_error_set(err, EX_USAGE,
                                        "a remote server takes no --env (use --header)");
        if (!remote_url_allowed(url, opt->insecure_http))
                return corral_error_set(err, EX_USAGE,
                                        "refusing plain http:// to %s: use https://, or "
                                        "--insecure-http to send requests unencrypted",
                                        url);
        if (opt->transport && strcmp(opt->transport, "http") != 0 &&
            strcmp(opt->transport, "sse") != 0)
                return corral_error_set(err, EX_USAGE, "--transport is http or sse, not '%.32s'",
                                        opt->transport);
        free(m->backend);
        m->backend = xstrdup("remote");
        strv_free(m->command);
        m->command = strv_push(NULL, url);
        m->transport = xstrdup(opt->transport ? opt->transport : "http");
        free(m->resolved_url);
        m->resolved_url = xstrdup(url);
        /* No process runs here: the sandbox policy does not apply, and the
         * listings say "unconfined" as for any backend that does not confine. */
        if ((r = add_headers(m, opt->headers, false, secrets, err)) < 0 ||
            (r = add_headers(m, opt->secret_headers, true, secrets, err)) < 0)
                return r;
        if (mkdir(pkg_dir, 0755) < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot create %s", pkg_dir);
        staging = xstrdup(pkg_dir);
        *strrchr(staging, '/') = '\0';
        if (cJSON_GetArraySize(secrets) > 0) {
                _cleanup_json_ cJSON *doc = cJSON_CreateObject();
                _cleanup_free_ char *text = NULL;

                cJSON_AddItemToObject(doc, "headers", steal_pointer(&secrets));
                text = json_print(doc);
                sp = path_join(staging, "secrets.json");
                r = write_file_atomic(sp, text, strlen(text), 0600);
                if (r < 0)
                        return corral_error_errno(err, EX_CANTCREAT, -r, "cannot write %s", sp);
        }

        /* The headers as the unit will send them, secrets included. */
        for (size_t i = 0; opt->headers && opt->headers[i]; i++)
                headers = strv_push(headers, opt->headers[i]);
        for (size_t i = 0; opt->secret_headers && opt->secret_headers[i]; i++)
                headers = strv_push(headers, opt->secret_headers[i]);
        cfg.url = url;
        cfg.transport = strcmp(m->transport, "sse") == 0 ? REMOTE_TRANSPORT_SSE
                                                         : REMOTE_TRANSPORT_HTTP;
        cfg.fallback = true;
        cfg.headers = headers;
        cfg.ca_file = getenv("CORRAL_CA_BUNDLE");
        r = remote_probe(&cfg, PROBE_TIMEOUT_MS, false, NULL, NULL, &res, err);
        if (r == -EX_NOPERM) {
                /* Installed all the same: the unit waits for `corral auth`. */
                corral_error_clear(err);
                log_info("%s: %s answered 401: authorization required (corral auth)", m->name,
                         url);
                remote_probe_result_done(&res);
                return 0;
        }
        if (r < 0) {
                corral_error_prefix(err, "cannot install %s", url);
                remote_probe_result_done(&res);
                return r;
        }
        if (strcmp(res.transport, "sse") == 0 && strcmp(m->transport, "sse") != 0) {
                /* A 2024-11-05 server: no need to try Streamable HTTP first each start. */
                free(m->transport);
                m->transport = xstrdup("sse");
        }
        free(m->resolved_version);
        m->resolved_version = res.server_version ? xstrdup(res.server_version) : NULL;
        log_info("%s: %s %s, protocol %s over %s", m->name,
                 res.server_name ? res.server_name : "(unnamed)",
                 res.server_version ? res.server_version : "", res.protocol_version,
                 res.transport);
        remote_probe_result_done(&res);
        return 0;
}

int resolver_remote_fetch(store *s, const install_options *opt, const source_spec *spec,
                          const char *pkg_dir, manifest *m, corral_error *err)
{
        return install_remote(opt, spec->url, pkg_dir, m, err);
}

#define SMITHERY_REGISTRY_DEFAULT "https://registry.smithery.ai"

/* The MCP endpoint of a Smithery server document (GET /servers/{name}):
 * an "http" connection's url or deploymentUrl, else the server's
 * deploymentUrl + "/mcp".  Owned, or NULL. */
static char *smithery_endpoint(const cJSON *doc)
{
        const cJSON *c;
        const char *dep = json_get_string(doc, "deploymentUrl");

        cJSON_ArrayForEach(c, json_get_array(doc, "connections"))
        {
                const char *type = json_get_string(c, "type");
                const char *u = json_get_string(c, "url");
                if (!u)
                        u = json_get_string(c, "deploymentUrl");
                if (type && strcmp(type, "http") == 0 && u)
                        return xstrdup(u);
        }
        if (!dep || !*dep)
                return NULL;
        return xasprintf("%s%s", dep, dep[strlen(dep) - 1] == '/' ? "mcp" : "/mcp");
}

int resolver_smithery_hosted_fetch(store *s, const install_options *opt, const source_spec *spec,
                                   const char *pkg_dir, manifest *m, corral_error *err)
{
        const char *registry = getenv("CORRAL_SMITHERY_REGISTRY");
        const char *key = getenv("SMITHERY_API_KEY");
        _cleanup_free_ char *base = NULL, *url = NULL, *body = NULL, *endpoint = NULL,
                              *auth = NULL;
        _cleanup_json_ cJSON *doc = NULL;
        const char *headers[3] = {NULL, NULL, NULL};
        long status = 0;
        int r;

        if (!registry || !*registry)
                registry = SMITHERY_REGISTRY_DEFAULT;
        base = xstrdup(registry);
        while (*base && base[strlen(base) - 1] == '/')
                base[strlen(base) - 1] = '\0';
        for (const char *c = spec->name; *c; c++)
                if (!isalnum((unsigned char)*c) && !strchr("@/._-", *c))
                        return corral_error_set(err, EX_USAGE,
                                                "invalid Smithery qualified name '%.64s'",
                                                spec->name);
        url = xasprintf("%s/servers/%s", base, spec->name);
        if (key && *key) {
                if (strpbrk(key, "\r\n"))
                        return corral_error_set(err, EX_CONFIG, "SMITHERY_API_KEY is malformed");
                auth = xasprintf("Authorization: Bearer %s", key);
                headers[0] = auth;
        }
        r = remote_fetch(url, headers, &status, &body, err);
        if (r < 0) {
                corral_error_prefix(err, "Smithery registry");
                return r;
        }
        if (status == 404)
                return corral_error_set(err, EX_NOINPUT, "no server '%s' in the Smithery registry",
                                        spec->name);
        if (status == 401 || status == 403)
                return corral_error_set(err, EX_NOPERM,
                                        "the Smithery registry refused the request (HTTP %ld): "
                                        "set SMITHERY_API_KEY",
                                        status);
        if (status != 200)
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "the Smithery registry answered HTTP %ld for %s", status,
                                        spec->name);
        doc = cJSON_Parse(body);
        if (!cJSON_IsObject(doc))
                return corral_error_set(err, EX_DATAERR,
                                        "the Smithery registry's answer for %s is not a JSON "
                                        "object",
                                        spec->name);
        if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "remote")))
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "%s is not hosted by Smithery: it runs locally "
                                        "(smithery:%s, not supported yet)",
                                        spec->name, spec->name);
        endpoint = smithery_endpoint(doc);
        if (!endpoint)
                return corral_error_set(err, EX_DATAERR,
                                        "the Smithery registry gives no HTTP deployment for %s",
                                        spec->name);
        if (strncmp(endpoint, "https://", 8) != 0 && !remote_url_allowed(endpoint, false))
                return corral_error_set(err, EX_DATAERR,
                                        "the Smithery deployment URL of %s is not https://: "
                                        "%.200s",
                                        spec->name, endpoint);
        return install_remote(opt, endpoint, pkg_dir, m, err);
}
