/* Upgrades of registry: installs (`corral outdated`, `corral update`): the
 * registry the manifest records is asked again for the server's latest
 * version, and the values the install was given are given again. */
#include <string.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/registry.h"
#include "corral/store.h"

#define SECRETS_FILE_MAX (1u << 20)

int registry_available(store *s, const manifest *m, char **ret_wanted, char **ret_latest,
                       corral_error *err)
{
        _cleanup_(spec_done) source_spec spec = {0};
        _cleanup_(registry_cache_done) registry_cache cache = {0};
        _cleanup_json_ cJSON *latest = NULL, *pinned = NULL;
        _cleanup_free_ char *base = NULL, *base2 = NULL;
        char *urls[2] = {m->registry_url, NULL};
        int r;

        if (!m->registry_url || !m->registry_name || !m->spec)
                return corral_error_set(err, EX_DATAERR,
                                        "%s: the manifest records no registry (source.registry)",
                                        m->name);
        if ((r = spec_parse(&spec, m->spec, false, err)) < 0 ||
            (r = registry_cache_init(&cache, &s->paths, false, err)) < 0)
                return r;
        cache.max_age = 0; /* asked again (a 304 is cheap) */
        if ((r = registry_get_server(&cache, urls, m->registry_name, NULL, &latest, &base, err)) <
            0)
                return r;
        const char *lv = json_get_string(latest, "version");
        if (!lv)
                return corral_error_set(err, EX_DATAERR, "%s: the latest server.json has no version",
                                        m->registry_name);
        *ret_latest = xstrdup(lv);
        if (spec.version) {
                if ((r = registry_get_server(&cache, urls, m->registry_name, spec.version, &pinned,
                                             &base2, err)) < 0) {
                        free(*ret_latest);
                        *ret_latest = NULL;
                        return r;
                }
                const char *pv = json_get_string(pinned, "version");
                *ret_wanted = xstrdup(pv ? pv : spec.version);
        } else {
                *ret_wanted = xstrdup(lv);
        }
        return 0;
}

char **registry_update_sets(store *s, const manifest *m)
{
        _cleanup_free_ char *dir = paths_server_dir(&s->paths, m->name);
        _cleanup_free_ char *sp = path_join(dir, "secrets.json"), *data = NULL;
        _cleanup_json_ cJSON *doc = NULL;
        char **sets = NULL;
        const cJSON *e, *x;
        size_t len = 0;

        if (read_file(sp, SECRETS_FILE_MAX, &data, &len) < 0)
                return NULL;
        doc = cJSON_ParseWithLength(data, len);
        cJSON_ArrayForEach(e, json_get_object(doc, "inputs"))
        {
                if (cJSON_IsString(e)) {
                        _cleanup_free_ char *kv = xasprintf("%s=%s", e->string, e->valuestring);
                        sets = strv_push(sets, kv);
                }
                const cJSON *arr = cJSON_IsArray(e) ? e : NULL;
                cJSON_ArrayForEach(x, arr)
                {
                        if (!cJSON_IsString(x))
                                continue;
                        _cleanup_free_ char *kv = xasprintf("%s=%s", e->string, x->valuestring);
                        sets = strv_push(sets, kv);
                }
        }
        return sets;
}
