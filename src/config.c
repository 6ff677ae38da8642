/* corral.json: site defaults. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "corral/config.h"
#include "corral/docker.h"
#include "corral/expand.h"
#include "corral/fs.h"
#include "corral/policy.h"
#include "corral/limits.h"
#include "corral/mgmt.h"
#include "gateway/connlimit.h"
#include "corral/jsonutil.h"
#include "state/audit.h"

static bool one_of(const char *s, const char *const *allowed);

int config_read(const char *path, bool expand, cJSON **ret, corral_error *err)
{
        _cleanup_free_ char *text = NULL;
        corral_error xerr = {0};
        size_t len = 0;

        int r = read_file(path, CONFIG_MAX_BYTES, &text, &len);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r == -EFBIG)
                return corral_error_set(err, EX_CONFIG, "%s: larger than %u bytes", path,
                                        CONFIG_MAX_BYTES);
        if (r < 0)
                return corral_error_errno(err, EX_CONFIG, -r, "cannot read %s", path);
        cJSON *j = cJSON_ParseWithLength(text, len);
        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return corral_error_set(err, EX_CONFIG, "%s: not a JSON object", path);
        }
        /* ${VAR} / ${VAR:-default} / $$ in string values, from the
         * environment of whoever reads it (the daemon's, the CLI's). */
        if (expand && expand_json(j, path, expand_getenv, NULL, &xerr) < 0) {
                cJSON_Delete(j);
                return corral_error_set(err, EX_CONFIG, "%s", xerr.msg);
        }
        *ret = j;
        return 0;
}

int config_load(const corral_paths *p, cJSON **ret, corral_error *err)
{
        return config_read(p->config, true, ret, err);
}

/* ---- the known keys of corral.json's objects ----------------------------
 * One table per object; the module that reads the object checks its values
 * (levels, URLs, groups), these tables its keys and their JSON types. */
#define K(name, type) {name, type, 0, 0, NULL}
#define N(name, min, max) {name, CONFIG_NUMBER, min, max, NULL}
#define END {NULL, 0, 0, 0, NULL}

static const config_key tls_keys[] = {K("cert", CONFIG_STRING), K("key", CONFIG_STRING), END};

/* src/daemon_http.c.  A listen entry is "ADDR:PORT" or one of these. */
static const config_key http_listen_keys[] = {
        K("addr", CONFIG_STRING),
        K("level", CONFIG_STRING),
        {"tls", CONFIG_OBJECT, 0, 0, tls_keys},
        END,
};
static const config_key http_keys[] = {
        K("listen", CONFIG_ARRAY), /* strings or objects: checked below */
        K("level", CONFIG_STRING),
        K("allowed_origins", CONFIG_STRINGS),
        K("public_url", CONFIG_STRING),
        {"tls", CONFIG_OBJECT, 0, 0, tls_keys},
        N("max_body_bytes", 1, 1 << 30),
        N("max_header_bytes", 1, 1 << 20),
        N("idle_timeout_s", 1, 86400),
        N("session_idle_s", 1, 7 * 86400),
        N("max_sessions", 1, 1000000),
        K("auth", CONFIG_STRING),
        END,
};

/* src/daemon_metrics.c */
static const config_key metrics_keys[] = {K("listen", CONFIG_STRING), K("auth", CONFIG_STRING),
                                          END};

/* src/gateway/mgmt.c */
static const config_key management_keys[] = {
        K("enabled", CONFIG_BOOL),
        K("level", CONFIG_STRING),
        K("change_level", CONFIG_STRING),
        END,
};

/* src/policy/limits.c (ranges and whole numbers checked there) */
static const config_key limit_rule_keys[] = {
        K("user", CONFIG_STRING),       K("server", CONFIG_STRING), K("tool", CONFIG_STRING),
        K("calls", CONFIG_NUMBER),      K("period_s", CONFIG_NUMBER),
        K("concurrent", CONFIG_NUMBER), END,
};
static const config_key limits_keys[] = {
        K("max_result_bytes", CONFIG_NUMBER),
        {"rules", CONFIG_ARRAY, 0, 0, limit_rule_keys},
        END,
};

/* src/users/users.c: the site policy of system mode */
static const config_key site_keys[] = {
        K("admin_group", CONFIG_STRING),
        K("socket_group", CONFIG_STRING),
        K("user_installs", CONFIG_BOOL),
        K("user_sources", CONFIG_STRINGS),
        K("user_profiles", CONFIG_STRINGS),
        K("user_network", CONFIG_STRINGS),
        K("user_mounts", CONFIG_BOOL),
        N("user_max_servers", 0, 100000),
        N("user_max_memory_mb", 0, 1u << 30),
        END,
};

/* src/auth/verify.c: "users": {"alice": "trusted" | {"level": "trusted"}} */
static const config_key user_entry_keys[] = {K("level", CONFIG_STRING), END};

static const struct {
        const char *name;
        const config_key *keys;
} object_tables[] = {
        {"http", http_keys},           {"metrics", metrics_keys}, {"management", management_keys},
        {"limits", limits_keys},       {"site", site_keys},       {"audit", audit_config_keys},
};

#undef K
#undef N
#undef END

const config_key *config_object_keys(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(object_tables); i++)
                if (strcmp(object_tables[i].name, name) == 0)
                        return object_tables[i].keys;
        return NULL;
}

/* The members of the objects above, and the shapes their tables cannot
 * say: http.listen entries, "users" entries. */
static int check_nested(const cJSON *config, corral_error *err)
{
        const cJSON *v, *e;
        int r, i = 0;

        for (size_t t = 0; t < ARRAY_SIZE(object_tables); t++)
                if ((r = config_check_object(
                             cJSON_GetObjectItemCaseSensitive(config, object_tables[t].name),
                             object_tables[t].name, object_tables[t].keys, err)) < 0)
                        return r;
        v = cJSON_GetObjectItemCaseSensitive(json_get_object(config, "http"), "listen");
        cJSON_ArrayForEach(e, v)
        {
                char where[48];
                snprintf(where, sizeof(where), "http.listen[%d]", i++);
                if (cJSON_IsObject(e)) {
                        if ((r = config_check_object(e, where, http_listen_keys, err)) < 0)
                                return r;
                } else if (!cJSON_IsString(e)) {
                        return corral_error_set(err, EX_CONFIG,
                                                "corral.json: %s must be \"ADDR:PORT\" or "
                                                "{\"addr\": …}",
                                                where);
                }
        }
        cJSON_ArrayForEach(e, json_get_object(config, "users"))
        {
                char where[96];
                snprintf(where, sizeof(where), "users.%.64s", e->string);
                if (cJSON_IsObject(e)) {
                        if ((r = config_check_object(e, where, user_entry_keys, err)) < 0)
                                return r;
                } else if (!cJSON_IsString(e)) {
                        return corral_error_set(err, EX_CONFIG,
                                                "corral.json: %s must be a level or "
                                                "{\"level\": LEVEL}",
                                                where);
                }
        }
        return 0;
}

int config_validate(const cJSON *config, corral_error *err)
{
        /* Every top-level key some module reads (config.h lists them). */
        static const char *const known[] = {
                "sandbox",        "docker",         "gateway",
                "http",           "auth",           "users",
                "registry",       "npm",            "npm_metadata_max_age",
                "cache_max_size", "github_url",     "git_auth",
                "smithery",       "site",           "tools",
                "mcp_registries", "registry_package_order",
                "smithery_api_key", "smithery_registry",
                "audit",          "limits",         "metrics",
                "management",     NULL};
        static const char *const objects[] = {"http",  "auth",   "users",  "npm",
                                              "git_auth", "smithery", "site", "tools",
                                              "audit", "limits", "metrics", "management",
                                              NULL};
        const cJSON *v;
        int r;

        if (!config)
                return 0;
        if (!cJSON_IsObject(config))
                return corral_error_set(err, EX_CONFIG, "corral.json: not a JSON object");
        cJSON_ArrayForEach(v, config)
        {
                if (!one_of(v->string, known))
                        return corral_error_set(err, EX_CONFIG,
                                                "corral.json: unknown key %.64s", v->string);
                if (one_of(v->string, objects) && !cJSON_IsObject(v))
                        return corral_error_set(err, EX_CONFIG, "corral.json: %s must be an object",
                                                v->string);
        }
        if ((r = check_nested(config, err)) < 0)
                return r;
        {
                manifest *m = manifest_new("validate");
                r = config_apply_sandbox(config, m, err);
                manifest_free(m);
                if (r < 0)
                        return r;
        }
        {
                connlimit_config g, c;
                if ((r = connlimit_config_load(config, &g, &c, err)) < 0)
                        return r;
        }
        /* The docker policy's own key check (a digest given: nothing refused). */
        if ((r = docker_policy_check(config, "docker:validate",
                                     "sha256:0000000000000000000000000000000000000000000000000000"
                                     "000000000000",
                                     err)) < 0)
                return r;
        {
                tool_policy tp;
                if ((r = tool_policy_load(config, &tp, err)) < 0)
                        return r;
                tool_policy_done(&tp);
        }
        {
                limit_set ls;
                if ((r = limit_set_from_config(config, &ls, err)) < 0)
                        return r;
                limit_set_done(&ls);
        }
        {
                mgmt_settings ms;
                if ((r = mgmt_settings_load(config, &ms, err)) < 0)
                        return r;
        }

        v = cJSON_GetObjectItemCaseSensitive(config, "cache_max_size");
        if (v && !cJSON_IsNumber(v) && !cJSON_IsString(v))
                return corral_error_set(err, EX_CONFIG,
                                        "corral.json: cache_max_size must be a number or a size");
        v = cJSON_GetObjectItemCaseSensitive(config, "npm_metadata_max_age");
        if (v && (!cJSON_IsNumber(v) || v->valuedouble < 0))
                return corral_error_set(err, EX_CONFIG,
                                        "corral.json: npm_metadata_max_age must be a number of "
                                        "seconds");
        v = cJSON_GetObjectItemCaseSensitive(config, "mcp_registries");
        if (v && !cJSON_IsString(v) && !cJSON_IsArray(v))
                return corral_error_set(err, EX_CONFIG,
                                        "corral.json: mcp_registries must be a URL or an array "
                                        "of URLs");
        v = cJSON_GetObjectItemCaseSensitive(config, "registry_package_order");
        if (v && !cJSON_IsArray(v))
                return corral_error_set(err, EX_CONFIG,
                                        "corral.json: registry_package_order must be an array");
        const char *strs[] = {"registry", "github_url", "smithery_api_key", "smithery_registry"};
        for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
                v = cJSON_GetObjectItemCaseSensitive(config, strs[i]);
                if (v && !cJSON_IsString(v))
                        return corral_error_set(err, EX_CONFIG, "corral.json: %s must be a string",
                                                strs[i]);
        }
        return 0;
}

static bool one_of(const char *s, const char *const *allowed)
{
        for (; *allowed; allowed++)
                if (strcmp(s, *allowed) == 0)
                        return true;
        return false;
}

static int get_limit(const cJSON *v, const char *key, double min, double max, double *ret,
                     corral_error *err)
{
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min ||
            v->valuedouble > max)
                return corral_error_set(err, EX_CONFIG,
                                        "corral.json: sandbox.%s must be a number from %g to %g",
                                        key, min, max);
        *ret = v->valuedouble;
        return 0;
}

int config_apply_sandbox(const cJSON *config, manifest *m, corral_error *err)
{
        static const char *const profiles[] = {"default", "strict", "log", "none", NULL};
        static const char *const networks[] = {"none", "host", NULL};
        const cJSON *sb = cJSON_GetObjectItemCaseSensitive(config, "sandbox");
        const char *profile = NULL, *network = NULL;
        double memory = m->memory_mb, pids = m->pids, cpus = m->cpus;
        _cleanup_strv_ char **mounts = NULL;
        const cJSON *v;
        int r;

        if (!sb)
                return 0;
        if (!cJSON_IsObject(sb))
                return corral_error_set(err, EX_CONFIG, "corral.json: sandbox must be an object");
        cJSON_ArrayForEach(v, sb)
        {
                const char *k = v->string;
                if (strcmp(k, "profile") == 0 || strcmp(k, "network") == 0) {
                        bool is_profile = k[0] == 'p';
                        if (!cJSON_IsString(v) ||
                            !one_of(v->valuestring, is_profile ? profiles : networks))
                                return corral_error_set(
                                        err, EX_CONFIG, "corral.json: sandbox.%s must be %s", k,
                                        is_profile ? "default, strict, log or none"
                                                   : "none or host");
                        *(is_profile ? &profile : &network) = v->valuestring;
                } else if (strcmp(k, "memory_mb") == 0) {
                        if ((r = get_limit(v, k, 1, 1048576, &memory, err)) < 0)
                                return r;
                } else if (strcmp(k, "pids") == 0) {
                        if ((r = get_limit(v, k, 1, 1000000, &pids, err)) < 0)
                                return r;
                } else if (strcmp(k, "cpus") == 0) {
                        if ((r = get_limit(v, k, 0.001, 1024, &cpus, err)) < 0)
                                return r;
                } else if (strcmp(k, "mounts") == 0) {
                        const cJSON *e;
                        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > 64)
                                return corral_error_set(err, EX_CONFIG,
                                                        "corral.json: sandbox.mounts must be an "
                                                        "array of at most 64 strings");
                        mounts = xcalloc(1, sizeof(char *));
                        cJSON_ArrayForEach(e, v)
                        {
                                if (!cJSON_IsString(e) || e->valuestring[0] != '/')
                                        return corral_error_set(
                                                err, EX_CONFIG,
                                                "corral.json: sandbox.mounts entries must be "
                                                "absolute paths (SRC[:DST][:ro|:rw])");
                                {
                                        size_t n = strlen(e->valuestring);
                                        /* A site default reaches every server
                                         * installed later: read-only only. */
                                        if (n > 3 && strcmp(e->valuestring + n - 3, ":rw") == 0)
                                                return corral_error_set(
                                                        err, EX_CONFIG,
                                                        "corral.json: sandbox.mounts is a default "
                                                        "for every new server and may only be "
                                                        "read-only; give '%.200s' to one server "
                                                        "with 'corral install --mount' or "
                                                        "'corral mount NAME add'",
                                                        e->valuestring);
                                }
                                mounts = strv_push(mounts, e->valuestring);
                        }
                } else {
                        return corral_error_set(err, EX_CONFIG,
                                                "corral.json: unknown key sandbox.%.64s", k);
                }
        }
        if (profile) {
                free(m->profile);
                m->profile = xstrdup(profile);
        }
        if (network) {
                free(m->network);
                m->network = xstrdup(network);
        }
        m->memory_mb = (unsigned)memory;
        m->pids = (unsigned)pids;
        m->cpus = cpus;
        if (mounts) {
                strv_free(m->mounts);
                m->mounts = steal_pointer(&mounts);
        }
        return 0;
}

static const char *type_name(const config_key *k, char *buf, size_t n)
{
        switch (k->type) {
        case CONFIG_BOOL:
                return "a boolean (true or false)";
        case CONFIG_NUMBER:
                if (k->min == 0 && k->max == 0)
                        return "a number";
                snprintf(buf, n, "a number from %g to %g", k->min, k->max);
                return buf;
        case CONFIG_STRING:
                return "a string";
        case CONFIG_STRINGS:
                return "a string or an array of strings";
        case CONFIG_OBJECT:
        case CONFIG_MAP:
                return "an object";
        case CONFIG_ARRAY:
                return k->sub ? "an array of objects" : "an array";
        case CONFIG_ANY:
                break;
        }
        return "a JSON value";
}

static bool type_ok(const config_key *k, const cJSON *v)
{
        const cJSON *e;

        switch (k->type) {
        case CONFIG_BOOL:
                return cJSON_IsBool(v);
        case CONFIG_NUMBER:
                return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
                       ((k->min == 0 && k->max == 0) ||
                        (v->valuedouble >= k->min && v->valuedouble <= k->max));
        case CONFIG_STRING:
                return cJSON_IsString(v);
        case CONFIG_STRINGS:
                if (cJSON_IsString(v))
                        return true;
                if (!cJSON_IsArray(v))
                        return false;
                cJSON_ArrayForEach(e, v) if (!cJSON_IsString(e)) return false;
                return true;
        case CONFIG_OBJECT:
        case CONFIG_MAP:
                return cJSON_IsObject(v);
        case CONFIG_ARRAY:
                if (!cJSON_IsArray(v))
                        return false;
                if (k->sub)
                        cJSON_ArrayForEach(e, v) if (!cJSON_IsObject(e)) return false;
                return true;
        case CONFIG_ANY:
                break;
        }
        return true;
}

/* One value against its key: its type, then what is inside. */
static int check_value(const cJSON *v, const char *where, const config_key *k, int depth,
                       corral_error *err);

static int check_members(const cJSON *obj, const char *path, const config_key *keys, int depth,
                         corral_error *err)
{
        const cJSON *v;
        int r;

        cJSON_ArrayForEach(v, obj)
        {
                const config_key *k = keys;
                char where[256];
                while (k->name && strcmp(k->name, v->string) != 0)
                        k++;
                snprintf(where, sizeof(where), "%s.%.64s", path, v->string);
                if (!k->name)
                        return corral_error_set(err, EX_CONFIG, "corral.json: unknown key %s",
                                                where);
                if ((r = check_value(v, where, k, depth, err)) < 0)
                        return r;
        }
        return 0;
}

static int check_value(const cJSON *v, const char *where, const config_key *k, int depth,
                       corral_error *err)
{
        char buf[96];
        const cJSON *e;
        int r, i = 0;

        if (!type_ok(k, v))
                return corral_error_set(err, EX_CONFIG, "corral.json: %s must be %s", where,
                                        type_name(k, buf, sizeof(buf)));
        if (!k->sub || depth > 8)
                return 0;
        if (k->type == CONFIG_OBJECT)
                return check_members(v, where, k->sub, depth + 1, err);
        if (k->type == CONFIG_ARRAY || k->type == CONFIG_MAP) {
                cJSON_ArrayForEach(e, v)
                {
                        char at[256];
                        if (k->type == CONFIG_ARRAY)
                                snprintf(at, sizeof(at), "%s[%d]", where, i++);
                        else
                                snprintf(at, sizeof(at), "%s.%.64s", where, e->string);
                        r = k->type == CONFIG_ARRAY
                                    ? check_members(e, at, k->sub, depth + 1, err)
                                    : check_value(e, at, &k->sub[0], depth + 1, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int config_check_object(const cJSON *obj, const char *path, const config_key *keys,
                        corral_error *err)
{
        if (!obj)
                return 0;
        if (!cJSON_IsObject(obj))
                return corral_error_set(err, EX_CONFIG, "corral.json: %s must be an object", path);
        return check_members(obj, path, keys, 0, err);
}
