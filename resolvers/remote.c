/* Remote MCP servers (`corral install URL --remote`): nothing to fetch; the
 * manifest records the endpoint, and the server is probed once. */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <openssl/evp.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/registry.h"
#include "corral/remote.h"
#include "corral/resolver.h"
#include "corral/strbuf.h"

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

/* query: the secret query of a smithery-hosted server's config, or NULL. */
static int install_remote(const install_options *opt, const char *url, const char *query,
                          const char *pkg_dir, manifest *m, corral_error *err)
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
        if (opt->sessions && strcmp(opt->sessions, "shared") != 0 &&
            strcmp(opt->sessions, "per_user") != 0 &&
            strcmp(opt->sessions, "per_user_or_shared") != 0)
                return corral_error_set(err, EX_USAGE,
                                        "--sessions is shared, per_user or per_user_or_shared, "
                                        "not '%.32s'",
                                        opt->sessions);
        free(m->backend);
        m->backend = xstrdup("remote");
        strv_free(m->command);
        m->command = strv_push(NULL, url);
        m->transport = xstrdup(opt->transport ? opt->transport : "http");
        m->sessions = opt->sessions ? xstrdup(opt->sessions) : NULL;
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
        if (cJSON_GetArraySize(secrets) > 0 || query) {
                _cleanup_json_ cJSON *doc = cJSON_CreateObject();
                _cleanup_free_ char *text = NULL;

                cJSON_AddItemToObject(doc, "headers", steal_pointer(&secrets));
                if (query)
                        cJSON_AddStringToObject(doc, "query", query);
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
        cfg.query = query;
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
        return install_remote(opt, spec->url, NULL, pkg_dir, m, err);
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

/* The configSchema of a server document's "http" connection (JSON Schema,
 * an object's properties), or NULL. */
static const cJSON *smithery_schema(const cJSON *doc)
{
        const cJSON *c;

        cJSON_ArrayForEach(c, json_get_array(doc, "connections"))
        {
                const char *type = json_get_string(c, "type");
                const cJSON *sc = json_get_object(c, "configSchema");
                if (type && strcmp(type, "http") == 0 && sc)
                        return sc;
        }
        return NULL;
}

/* VALUE of --set as the JSON the property's schema wants (type string,
 * number, integer, boolean, or array/object given as JSON; enum checked).
 * Owned, or NULL with err set. */
static cJSON *config_value(const char *server, const char *key, const char *value,
                           const cJSON *prop, corral_error *err)
{
        const char *type = json_get_string(prop, "type");
        const cJSON *en = json_get_array(prop, "enum");
        cJSON *v = NULL;
        char *end = NULL;

        if (!type || strcmp(type, "string") == 0) {
                v = cJSON_CreateString(value);
        } else if (strcmp(type, "number") == 0 || strcmp(type, "integer") == 0) {
                double d = strtod(value, &end);
                if (!*value || !end || *end || d != d ||
                    (strcmp(type, "integer") == 0 && d != (double)(long long)d)) {
                        corral_error_set(err, EX_USAGE, "%s: config %s is %s %s, not '%.64s'",
                                         server, key, type[0] == 'i' ? "an" : "a", type, value);
                        return NULL;
                }
                v = cJSON_CreateNumber(d);
        } else if (strcmp(type, "boolean") == 0) {
                if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
                        corral_error_set(err, EX_USAGE,
                                         "%s: config %s is true or false, not '%.64s'", server,
                                         key, value);
                        return NULL;
                }
                v = cJSON_CreateBool(strcmp(value, "true") == 0);
        } else if (strcmp(type, "array") == 0 || strcmp(type, "object") == 0) {
                v = cJSON_Parse(value);
                if (!v || (type[0] == 'a' ? !cJSON_IsArray(v) : !cJSON_IsObject(v))) {
                        cJSON_Delete(v);
                        corral_error_set(err, EX_USAGE, "%s: config %s is a JSON %s", server,
                                         key, type);
                        return NULL;
                }
        } else {
                corral_error_set(err, EX_DATAERR, "%s: config %s has a type corral does not "
                                                  "know ('%.32s')",
                                 server, key, type);
                return NULL;
        }
        if (en) {
                const cJSON *e;
                bool ok = false;
                cJSON_ArrayForEach(e, en)
                {
                        if (cJSON_Compare(e, v, true))
                                ok = true;
                }
                if (!ok) {
                        _cleanup_free_ char *choices = cJSON_PrintUnformatted(en);
                        cJSON_Delete(v);
                        corral_error_set(err, EX_USAGE, "%s: config %s is one of %.200s", server,
                                         key, choices);
                        return NULL;
                }
        }
        return v;
}

/* "&NAME=VALUE" (both escaped) onto q for one configuration value, an
 * object's members as NAME.MEMBER (Smithery's dot notation), at most 4
 * levels deep; arrays as their JSON text. */
static void query_param(strbuf *q, const char *name, const cJSON *v, unsigned depth)
{
        _cleanup_free_ char *en = registry_url_escape(name), *text = NULL, *ev = NULL;
        const cJSON *e;

        if (cJSON_IsObject(v) && depth < 4) {
                cJSON_ArrayForEach(e, v)
                {
                        _cleanup_free_ char *sub = xasprintf("%s.%s", name, e->string);
                        query_param(q, sub, e, depth + 1);
                }
                return;
        }
        if (cJSON_IsString(v))
                text = xstrdup(v->valuestring);
        else if (cJSON_IsBool(v))
                text = xstrdup(cJSON_IsTrue(v) ? "true" : "false");
        else
                text = cJSON_PrintUnformatted(v);
        ev = registry_url_escape(text ? text : "");
        (void)strbuf_appendf(q, "&%s=%s", en, ev);
}

/* The settings of a hosted server's configuration as KEY=VALUE: --set
 * first, then the --config FILE object's members not set (strings as they
 * are, other values as JSON), then, on a terminal, each property still
 * without a value asked for (without echo: it is kept as a secret; an empty
 * answer leaves it out).  Owned. */
static int smithery_settings(const install_options *opt, const cJSON *props, char ***ret,
                             corral_error *err)
{
        _cleanup_strv_ char **v = NULL;
        _cleanup_json_ cJSON *file = NULL;
        const cJSON *e;

        for (size_t i = 0; opt->sets && opt->sets[i]; i++)
                v = strv_push(v, opt->sets[i]);
        if (opt->config_file) {
                _cleanup_free_ char *data = NULL;
                size_t len = 0;
                int r = read_file(opt->config_file, 1u << 20, &data, &len);
                if (r < 0)
                        return corral_error_errno(err, r == -ENOENT ? EX_NOINPUT : EX_USAGE, -r,
                                                  "--config %s", opt->config_file);
                file = cJSON_ParseWithLength(data, len);
                if (!cJSON_IsObject(file))
                        return corral_error_set(err, EX_USAGE, "--config %s: not a JSON object",
                                                opt->config_file);
        }
        cJSON_ArrayForEach(e, file)
        {
                bool set = false;
                size_t n = strlen(e->string);
                for (size_t i = 0; opt->sets && opt->sets[i] && !set; i++)
                        set = strncmp(opt->sets[i], e->string, n) == 0 && opt->sets[i][n] == '=';
                if (set || strv_length(v) >= 256)
                        continue;
                _cleanup_free_ char *text = cJSON_IsString(e) ? xstrdup(e->valuestring)
                                                              : cJSON_PrintUnformatted(e);
                _cleanup_free_ char *kv = xasprintf("%s=%s", e->string, text);
                v = strv_push(v, kv);
        }
        const cJSON *ask_props = opt->interactive ? props : NULL;
        cJSON_ArrayForEach(e, ask_props)
        {
                bool have = false;
                size_t n = strlen(e->string);
                for (size_t i = 0; v && v[i] && !have; i++)
                        have = strncmp(v[i], e->string, n) == 0 && v[i][n] == '=';
                if (have)
                        continue;
                const cJSON *def = cJSON_GetObjectItemCaseSensitive(e, "default");
                _cleanup_free_ char *d = def ? (cJSON_IsString(def) ? xstrdup(def->valuestring)
                                                                    : cJSON_PrintUnformatted(def))
                                             : NULL;
                _cleanup_free_ char *a = registry_ask(e->string, json_get_string(e, "description"),
                                                      d, true);
                if (a && *a && (!d || strcmp(a, d) != 0)) {
                        _cleanup_free_ char *kv = xasprintf("%s=%s", e->string, a);
                        v = strv_push(v, kv);
                }
        }
        *ret = steal_pointer(&v);
        return 0;
}

/* The server's configuration from --set KEY=VALUE, --config and the
 * terminal (smithery_settings()), checked against its configSchema
 * (properties, required, additionalProperties, types, enum), as Smithery's
 * hosted servers read it: each property in the query under its name (or
 * its "x-from" {"query": NAME}; objects in dot notation), or in a header
 * when "x-from" says {"header": NAME} (*ret_headers, "Name: value" lines,
 * kept as secrets), and all of it as config=BASE64(JSON) too (the shape of
 * @smithery/sdk's createSmitheryUrl, which earlier servers read).
 * *ret_query is NULL when there is nothing to send.  -EX_USAGE names what
 * is missing or wrong. */
static int smithery_config(const char *server, const cJSON *doc, const install_options *opt,
                           char **ret_query, char ***ret_headers, corral_error *err)
{
        const cJSON *schema = smithery_schema(doc);
        const cJSON *props = json_get_object(schema, "properties");
        const cJSON *req;
        const cJSON *ap = cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties");
        bool open = cJSON_IsTrue(ap) || cJSON_IsObject(ap);
        _cleanup_json_ cJSON *config = cJSON_CreateObject();
        _cleanup_strv_ char **settings = NULL, **headers = NULL;
        strbuf missing = STRBUF_INIT(4096);
        _cleanup_free_ char *text = NULL, *b64 = NULL;
        size_t n;
        int r;

        if ((r = smithery_settings(opt, props, &settings, err)) < 0)
                return r;
        for (size_t i = 0; settings && settings[i]; i++) {
                const char *eq = strchr(settings[i], '=');
                _cleanup_free_ char *key = xstrndup(settings[i], (size_t)(eq - settings[i]));
                const cJSON *prop = props ? cJSON_GetObjectItemCaseSensitive(props, key) : NULL;
                cJSON *v;

                if (!prop && !open) {
                        strbuf known = STRBUF_INIT(4096);
                        const cJSON *p;
                        cJSON_ArrayForEach(p, props)
                        {
                                (void)strbuf_appendf(&known, "%s%s", known.len ? ", " : "",
                                                     p->string);
                        }
                        corral_error_set(err, EX_USAGE, "%s takes no config %s%s%s", server, key,
                                         known.len ? "; it takes " : "",
                                         known.len ? known.buf : "");
                        strbuf_done(&known);
                        return -EX_USAGE;
                }
                if (cJSON_GetObjectItemCaseSensitive(config, key))
                        return corral_error_set(err, EX_USAGE, "config %s given twice", key);
                v = config_value(server, key, eq + 1, prop, err);
                if (!v)
                        return -err->code;
                cJSON_AddItemToObject(config, key, v);
        }
        cJSON_ArrayForEach(req, json_get_array(schema, "required"))
        {
                const cJSON *prop;
                if (!cJSON_IsString(req) ||
                    cJSON_GetObjectItemCaseSensitive(config, req->valuestring))
                        continue;
                prop = props ? cJSON_GetObjectItemCaseSensitive(props, req->valuestring) : NULL;
                if (prop && cJSON_GetObjectItemCaseSensitive(prop, "default"))
                        continue;
                (void)strbuf_appendf(&missing, "%s%s%s%.120s%s", missing.len ? ", " : "",
                                     req->valuestring,
                                     json_get_string(prop, "description") ? " (" : "",
                                     json_get_string(prop, "description")
                                             ? json_get_string(prop, "description")
                                             : "",
                                     json_get_string(prop, "description") ? ")" : "");
        }
        if (missing.len) {
                corral_error_set(err, EX_USAGE,
                                 "%s needs config: %s; pass --set KEY=VALUE (KEY=- reads the "
                                 "value from stdin)",
                                 server, missing.buf);
                strbuf_done(&missing);
                return -EX_USAGE;
        }
        strbuf_done(&missing);
        *ret_query = NULL;
        if (cJSON_GetArraySize(config) == 0)
                return 0;
        text = cJSON_PrintUnformatted(config);
        n = strlen(text);
        b64 = xmalloc(4 * ((n + 2) / 3) + 1);
        (void)EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)text, (int)n);
        {
                /* base64's + / = percent-encoded for the query. */
                strbuf q = STRBUF_INIT(0);
                (void)strbuf_append(&q, "config=", 7);
                for (const char *c = b64; *c; c++) {
                        if (*c == '+' || *c == '/' || *c == '=')
                                (void)strbuf_appendf(&q, "%%%02X", (unsigned char)*c);
                        else
                                (void)strbuf_append(&q, c, 1);
                }
                const cJSON *v;
                cJSON_ArrayForEach(v, config)
                {
                        const cJSON *prop = cJSON_GetObjectItemCaseSensitive(props, v->string);
                        const cJSON *xf = json_get_object(prop, "x-from");
                        const char *h = json_get_string(xf, "header");
                        const char *qn = json_get_string(xf, "query");
                        if (h && *h && !strpbrk(h, ": \r\n") && strlen(h) < 128 &&
                            !cJSON_IsObject(v) && !cJSON_IsArray(v)) {
                                _cleanup_free_ char *t =
                                        cJSON_IsString(v) ? xstrdup(v->valuestring)
                                                          : cJSON_PrintUnformatted(v);
                                _cleanup_free_ char *line = xasprintf("%s: %s", h, t);
                                headers = strv_push(headers, line);
                                continue;
                        }
                        query_param(&q, qn && *qn ? qn : v->string, v, 0);
                }
                *ret_query = strbuf_steal(&q);
        }
        *ret_headers = steal_pointer(&headers);
        return 0;
}

int resolver_smithery_hosted_fetch(store *s, const install_options *opt, const source_spec *spec,
                                   const char *pkg_dir, manifest *m, corral_error *err)
{
        const char *registry = getenv("CORRAL_SMITHERY_REGISTRY");
        const char *key = getenv("SMITHERY_API_KEY");
        _cleanup_free_ char *base = NULL, *url = NULL, *body = NULL, *endpoint = NULL,
                              *auth = NULL, *query = NULL;
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
        _cleanup_strv_ char **from_header = NULL, **secret = NULL;
        r = smithery_config(spec->name, doc, opt, &query, &from_header, err);
        if (r < 0)
                return r;
        /* x-from headers: secret headers of the unit. */
        install_options o = *opt;
        for (size_t i = 0; opt->secret_headers && opt->secret_headers[i]; i++)
                secret = strv_push(secret, opt->secret_headers[i]);
        for (size_t i = 0; from_header && from_header[i]; i++)
                secret = strv_push(secret, from_header[i]);
        o.secret_headers = secret;
        return install_remote(&o, endpoint, query, pkg_dir, m, err);
}
