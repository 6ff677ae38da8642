/* The official MCP Registry's read API, v0.1 (openapi.yaml: ServerList,
 * ServerResponse): which registries, one server version, search. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "corral/config.h"
#include "corral/jsonutil.h"
#include "corral/registry.h"
#include "corral/remote.h"
#include "corral/strbuf.h"

#define URL_MAX 2048

static int add_url(char ***v, const char *s, size_t n, const char *from, corral_error *err)
{
        while (n > 0 && (s[n - 1] == '/' || s[n - 1] == ' '))
                n--;
        while (n > 0 && *s == ' ')
                s++, n--;
        if (n == 0)
                return 0;
        if (n > URL_MAX || strv_length(*v) >= REGISTRY_MAX_URLS)
                return corral_error_set(err, EX_CONFIG, "%s: too many or too long registry URLs",
                                        from);
        _cleanup_free_ char *u = xstrndup(s, n);
        if ((strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0) ||
            !remote_url_allowed(u, false))
                return corral_error_set(err, EX_CONFIG,
                                        "%s: registry URL '%.200s' must be https:// (http:// "
                                        "only to loopback)",
                                        from, u);
        *v = strv_push(*v, u);
        return 0;
}

int registry_urls(const corral_paths *paths, char ***ret, corral_error *err)
{
        _cleanup_strv_ char **v = NULL;
        const char *env = getenv("CORRAL_MCP_REGISTRY");
        int r;

        if (env && *env) {
                for (const char *p = env; *p;) {
                        size_t n = strcspn(p, ",");
                        if ((r = add_url(&v, p, n, "CORRAL_MCP_REGISTRY", err)) < 0)
                                return r;
                        p += n;
                        p += *p == ',';
                }
        } else {
                _cleanup_json_ cJSON *config = NULL;
                if ((r = config_load(paths, &config, err)) < 0)
                        return r;
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(config, "mcp_registries");
                const cJSON *e;
                if (cJSON_IsString(c)) {
                        if ((r = add_url(&v, c->valuestring, strlen(c->valuestring),
                                         "corral.json mcp_registries", err)) < 0)
                                return r;
                } else if (cJSON_IsArray(c)) {
                        cJSON_ArrayForEach(e, c)
                        {
                                if (!cJSON_IsString(e))
                                        return corral_error_set(err, EX_CONFIG,
                                                                "corral.json mcp_registries: "
                                                                "entries must be URLs");
                                if ((r = add_url(&v, e->valuestring, strlen(e->valuestring),
                                                 "corral.json mcp_registries", err)) < 0)
                                        return r;
                        }
                } else if (c) {
                        return corral_error_set(err, EX_CONFIG,
                                                "corral.json mcp_registries: a URL or an array "
                                                "of URLs");
                }
        }
        if (!v)
                v = strv_push(v, REGISTRY_DEFAULT_URL);
        *ret = steal_pointer(&v);
        return 0;
}

static int get_json(const registry_cache *c, const char *url, long *ret_status, cJSON **ret,
                    corral_error *err)
{
        _cleanup_free_ char *body = NULL;
        size_t len = 0;
        int r = registry_http_get(c, url, NULL, REGISTRY_DOC_MAX, ret_status, &body, &len, err);

        if (r < 0)
                return r;
        *ret = *ret_status == 200 ? cJSON_ParseWithLength(body, len) : NULL;
        return 0;
}

int registry_get_server(const registry_cache *c, char *const *urls, const char *name,
                        const char *version, cJSON **ret, char **ret_base, corral_error *err)
{
        _cleanup_free_ char *ename = registry_url_escape(name);
        _cleanup_free_ char *ever = registry_url_escape(version ? version : "latest");
        strbuf asked = STRBUF_INIT(0);
        corral_error last = {0};
        bool any_404 = false;

        for (size_t i = 0; urls && urls[i]; i++) {
                _cleanup_free_ char *url =
                        xasprintf("%s/v0.1/servers/%s/versions/%s", urls[i], ename, ever);
                _cleanup_json_ cJSON *doc = NULL;
                long status = 0;
                int r = get_json(c, url, &status, &doc, &last);

                (void)strbuf_appendf(&asked, "%s%s", i ? ", " : "", urls[i]);
                if (r < 0)
                        continue;
                if (status == 404) {
                        any_404 = true;
                        continue;
                }
                if (status != 200) {
                        corral_error_set(&last, EX_UNAVAILABLE, "%s answered HTTP %ld", url,
                                         status);
                        continue;
                }
                cJSON *server = cJSON_DetachItemFromObjectCaseSensitive(doc, "server");
                if (!server && cJSON_IsObject(doc) && json_get_string(doc, "name"))
                        server = steal_pointer(&doc);
                if (!cJSON_IsObject(server) || !json_get_string(server, "name")) {
                        cJSON_Delete(server);
                        strbuf_done(&asked);
                        return corral_error_set(err, EX_DATAERR,
                                                "%s: the answer is not a server.json", url);
                }
                if (strcmp(json_get_string(server, "name"), name) != 0) {
                        cJSON_Delete(server);
                        strbuf_done(&asked);
                        return corral_error_set(err, EX_DATAERR,
                                                "%s: the registry answered with another server "
                                                "(%.200s)",
                                                url, json_get_string(server, "name"));
                }
                strbuf_done(&asked);
                *ret = server;
                *ret_base = xstrdup(urls[i]);
                return 0;
        }
        int r;
        if (any_404 || !last.code)
                r = corral_error_set(err, EX_NOINPUT, "no server %s%s%s in %s", name,
                                     version ? " version " : "", version ? version : "",
                                     asked.buf ? asked.buf : "the registry");
        else
                r = corral_error_set(err, last.code, "%s", last.msg);
        strbuf_done(&asked);
        return r;
}

char *registry_package_types(const cJSON *server)
{
        static const char *const order[] = {"mcpb", "npm", "oci", "pypi", "nuget"};
        strbuf b = STRBUF_INIT(0);
        const cJSON *p;
        bool seen_other = false;

        for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
                cJSON_ArrayForEach(p, json_get_array(server, "packages"))
                {
                        const char *t = json_get_string(p, "registryType");
                        if (t && strcmp(t, order[i]) == 0) {
                                (void)strbuf_appendf(&b, "%s%s", b.len ? ", " : "", order[i]);
                                break;
                        }
                }
        }
        cJSON_ArrayForEach(p, json_get_array(server, "packages"))
        {
                const char *t = json_get_string(p, "registryType");
                bool known = false;
                for (size_t i = 0; t && i < ARRAY_SIZE(order); i++)
                        known = known || strcmp(t, order[i]) == 0;
                if (t && !known && !seen_other && strlen(t) < 32) {
                        (void)strbuf_appendf(&b, "%s%s", b.len ? ", " : "", t);
                        seen_other = true;
                }
        }
        if (cJSON_GetArraySize(json_get_array(server, "remotes")) > 0)
                (void)strbuf_appendf(&b, "%sremote", b.len ? ", " : "");
        if (!b.len)
                return xstrdup("-");
        return strbuf_steal(&b);
}

void registry_hits_free(registry_hit *h, size_t n)
{
        for (size_t i = 0; h && i < n; i++) {
                free(h[i].name);
                free(h[i].description);
                free(h[i].version);
                free(h[i].types);
                free(h[i].registry);
                free(h[i].install);
        }
        free(h);
}

static char *one_line(const char *s, size_t max)
{
        if (!s)
                return xstrdup("");
        char *o = xstrndup(s, max);
        for (char *p = o; *p; p++)
                if ((unsigned char)*p < ' ')
                        *p = ' ';
        return o;
}

int registry_search(const registry_cache *c, char *const *urls, const char *text, size_t limit,
                    registry_hit **ret, size_t *ret_n, corral_error *err)
{
        _cleanup_free_ char *etext = registry_url_escape(text);
        _cleanup_strv_ char **warnings = NULL;
        registry_hit *hits = NULL;
        size_t n = 0;
        bool any = false;
        corral_error last = {0};

        if (limit == 0 || limit > REGISTRY_SEARCH_MAX_RESULTS)
                limit = REGISTRY_SEARCH_MAX_RESULTS;
        for (size_t u = 0; urls && urls[u] && n < limit; u++) {
                _cleanup_free_ char *cursor = NULL;
                bool ok = true;

                for (unsigned page = 0; page < REGISTRY_SEARCH_MAX_PAGES && n < limit; page++) {
                        _cleanup_free_ char *ecur = cursor ? registry_url_escape(cursor) : NULL;
                        size_t want = limit - n < REGISTRY_SEARCH_PAGE ? limit - n
                                                                        : REGISTRY_SEARCH_PAGE;
                        _cleanup_free_ char *url = xasprintf(
                                "%s/v0.1/servers?search=%s&version=latest&limit=%zu%s%s", urls[u],
                                etext, want, ecur ? "&cursor=" : "", ecur ? ecur : "");
                        _cleanup_json_ cJSON *doc = NULL;
                        long status = 0;
                        const cJSON *e;

                        if (get_json(c, url, &status, &doc, &last) < 0) {
                                ok = false;
                                break;
                        }
                        if (status != 200 || !cJSON_IsArray(json_get_array(doc, "servers"))) {
                                corral_error_set(&last, EX_UNAVAILABLE,
                                                 "%s: HTTP %ld, not a server list", urls[u],
                                                 status);
                                ok = false;
                                break;
                        }
                        any = true;
                        cJSON_ArrayForEach(e, json_get_array(doc, "servers"))
                        {
                                const cJSON *sv = json_get_object(e, "server");
                                if (!sv)
                                        sv = e;
                                if (!json_get_string(sv, "name") || n >= limit)
                                        continue;
                                hits = xrealloc(hits, (n + 1) * sizeof(*hits));
                                hits[n].name = one_line(json_get_string(sv, "name"), 256);
                                hits[n].description =
                                        one_line(json_get_string(sv, "description"), 512);
                                hits[n].version = one_line(json_get_string(sv, "version"), 64);
                                hits[n].types = registry_package_types(sv);
                                hits[n].registry = xstrdup(urls[u]);
                                hits[n].install = xasprintf("registry:%s", hits[n].name);
                                n++;
                        }
                        const char *next =
                                json_get_string(json_get_object(doc, "metadata"), "nextCursor");
                        if (!next || !*next || strlen(next) > 1024 ||
                            (cursor && strcmp(cursor, next) == 0))
                                break;
                        free(cursor);
                        cursor = xstrdup(next);
                }
                if (!ok)
                        warnings = strv_push(warnings, last.msg);
        }
        /* A registry that failed is a warning only beside one that answered. */
        for (size_t i = 0; any && warnings && warnings[i]; i++)
                fprintf(stderr, "corral: search: warning: %s\n", warnings[i]);
        if (!any) {
                registry_hits_free(hits, n);
                return corral_error_set(err, last.code ? last.code : EX_UNAVAILABLE, "%s",
                                        last.code ? last.msg : "no registry answered");
        }
        *ret = hits;
        *ret_n = n;
        return 0;
}
