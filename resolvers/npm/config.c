/* Registry configuration: --registry, corral.json, $npm_config_registry and
 * the registry=, @scope:registry= and //host/:_authToken= lines of ~/.npmrc. */
#include <ctype.h>
#include <string.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/npm.h"

#define DEFAULT_REGISTRY "https://registry.npmjs.org/"
#define NPMRC_MAX (1u << 20)
#define CONFIG_MAX (1u << 20)
#define MAX_URL 2048
#define MAX_SCOPES 256

static int check_url(const char *url, const char *where, char **ret, corral_error *err)
{
        size_t n = strlen(url);
        if (n == 0 || n > MAX_URL ||
            (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
                return corral_error_set(err, EX_CONFIG,
                                        "invalid registry URL '%.200s' (%s): expected http:// or "
                                        "https://",
                                        url, where);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)url[i] <= ' ')
                        return corral_error_set(err, EX_CONFIG,
                                                "invalid registry URL '%.200s' (%s)", url, where);
        *ret = url[n - 1] == '/' ? xstrdup(url) : xasprintf("%s/", url);
        return 0;
}

static char *trim(char *s)
{
        while (isspace((unsigned char)*s))
                s++;
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
                s[--n] = '\0';
        return s;
}

/* Reads a config file that may be absent: 1 with *data set, 0 when it does
 * not exist, or -EX_CONFIG. */
static int read_optional(const char *path, size_t max, char **data, size_t *len,
                         corral_error *err)
{
        int r = read_file(path, max, data, len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return corral_error_errno(err, EX_CONFIG, -r, "cannot read %s", path);
        return 1;
}

/* Parses ~/.npmrc (ini lines key=value, ';' and '#' comments). */
static int load_npmrc(npm_config *c, char **registry, corral_error *err)
{
        const char *user = getenv("NPM_CONFIG_USERCONFIG");
        if (!user)
                user = getenv("npm_config_userconfig");
        _cleanup_free_ char *path = NULL;
        if (user && *user)
                path = xstrdup(user);
        else if (getenv("HOME"))
                path = path_join(getenv("HOME"), ".npmrc");
        if (!path)
                return 0;
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_optional(path, NPMRC_MAX, &data, &len, err);
        if (r <= 0)
                return r;
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *l = trim(line);
                if (!*l || *l == ';' || *l == '#')
                        continue;
                char *eq = strchr(l, '=');
                if (!eq)
                        continue;
                *eq = '\0';
                char *key = trim(l);
                char *val = trim(eq + 1);
                size_t vl = strlen(val);
                if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
                        val[vl - 1] = '\0';
                        val++;
                }
                size_t kl = strlen(key);
                if (strcmp(key, "registry") == 0) {
                        free(*registry);
                        *registry = NULL;
                        if ((r = check_url(val, path, registry, err)) < 0)
                                return r;
                } else if (key[0] == '@' && kl > 9 && strcmp(key + kl - 9, ":registry") == 0) {
                        if (strv_length(c->scopes) >= MAX_SCOPES)
                                continue;
                        _cleanup_free_ char *url = NULL;
                        if ((r = check_url(val, path, &url, err)) < 0)
                                return r;
                        _cleanup_free_ char *scope = xstrndup(key, kl - 9);
                        c->scopes = strv_push(c->scopes, scope);
                        c->scope_registries = strv_push(c->scope_registries, url);
                } else if (strncmp(key, "//", 2) == 0 && kl > 12 &&
                           strcmp(key + kl - 11, ":_authToken") == 0 && c->n_auth < MAX_SCOPES) {
                        c->auth = xrealloc(c->auth, (c->n_auth + 1) * sizeof(*c->auth));
                        _cleanup_free_ char *pfx = xstrndup(key, kl - 11);
                        c->auth[c->n_auth].prefix =
                                pfx[strlen(pfx) - 1] == '/' ? xstrdup(pfx) : xasprintf("%s/", pfx);
                        c->auth[c->n_auth].token = xstrdup(val);
                        c->n_auth++;
                }
        }
        return 0;
}

static int parse_max_age(const char *v, const char *where, long *ret, corral_error *err)
{
        char *end = NULL;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || !end || end == v || *end || x < 0 || x > NPM_MAX_METADATA_MAX_AGE)
                return corral_error_set(err, EX_CONFIG,
                                        "invalid metadata max age '%.40s' (%s): expected seconds "
                                        "from 0 to %ld",
                                        v, where, NPM_MAX_METADATA_MAX_AGE);
        *ret = (long)x;
        return 0;
}

static int load_corral_json(const char *config_path, char **registry, long *max_age,
                            corral_error *err)
{
        if (!config_path)
                return 0;
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_optional(config_path, CONFIG_MAX, &data, &len, err);
        if (r <= 0)
                return r;
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(data, len);
        if (!cJSON_IsObject(j))
                return corral_error_set(err, EX_CONFIG, "%s: not a JSON object", config_path);
        const cJSON *age = cJSON_GetObjectItemCaseSensitive(j, "npm_metadata_max_age");
        if (age) {
                double v = cJSON_IsNumber(age) ? age->valuedouble : -1;
                if (v < 0 || v > (double)NPM_MAX_METADATA_MAX_AGE || v != (double)(long)v)
                        return corral_error_set(err, EX_CONFIG,
                                                "%s: \"npm_metadata_max_age\" must be seconds "
                                                "from 0 to %ld",
                                                config_path, NPM_MAX_METADATA_MAX_AGE);
                *max_age = (long)v;
        }
        const cJSON *reg = cJSON_GetObjectItemCaseSensitive(j, "registry");
        if (!reg)
                return 0;
        if (!cJSON_IsString(reg))
                return corral_error_set(err, EX_CONFIG, "%s: \"registry\" must be a string",
                                        config_path);
        return check_url(reg->valuestring, config_path, registry, err);
}

int npm_config_load(npm_config *ret, const char *cli_registry, const char *config_path,
                    corral_error *err)
{
        npm_config c = {.metadata_max_age = NPM_DEFAULT_METADATA_MAX_AGE};
        _cleanup_free_ char *rc_registry = NULL;
        _cleanup_free_ char *json_registry = NULL;
        int r = load_npmrc(&c, &rc_registry, err);
        if (r >= 0)
                r = load_corral_json(config_path, &json_registry, &c.metadata_max_age, err);
        const char *env_age = getenv("CORRAL_NPM_METADATA_MAX_AGE");
        if (r >= 0 && env_age && *env_age)
                r = parse_max_age(env_age, "CORRAL_NPM_METADATA_MAX_AGE", &c.metadata_max_age, err);
        if (r >= 0 && cli_registry) {
                r = check_url(cli_registry, "--registry", &c.registry, err);
                /* --registry names the one registry to use, scoped ones included. */
                strv_free(c.scopes);
                strv_free(c.scope_registries);
                c.scopes = c.scope_registries = NULL;
        } else if (r >= 0 && json_registry) {
                c.registry = steal_pointer(&json_registry);
        } else if (r >= 0 && getenv("npm_config_registry") && *getenv("npm_config_registry")) {
                r = check_url(getenv("npm_config_registry"), "npm_config_registry", &c.registry,
                              err);
        } else if (r >= 0 && rc_registry) {
                c.registry = steal_pointer(&rc_registry);
        } else if (r >= 0) {
                c.registry = xstrdup(DEFAULT_REGISTRY);
        }
        if (r < 0) {
                npm_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

void npm_config_done(npm_config *c)
{
        free(c->registry);
        strv_free(c->scopes);
        strv_free(c->scope_registries);
        for (size_t i = 0; i < c->n_auth; i++) {
                free(c->auth[i].prefix);
                explicit_bzero(c->auth[i].token, strlen(c->auth[i].token));
                free(c->auth[i].token);
        }
        free(c->auth);
        *c = (npm_config){0};
}

const char *npm_config_registry_for(const npm_config *c, const char *name)
{
        if (name[0] == '@') {
                const char *slash = strchr(name, '/');
                size_t sl = slash ? (size_t)(slash - name) : strlen(name);
                for (size_t i = 0; c->scopes && c->scopes[i]; i++)
                        if (strlen(c->scopes[i]) == sl && strncmp(c->scopes[i], name, sl) == 0)
                                return c->scope_registries[i];
        }
        return c->registry;
}

const char *npm_config_token_for(const npm_config *c, const char *url)
{
        /* The prefix is compared against the URL without its scheme, so a
         * token for //host/ never goes to another host. */
        const char *p = strstr(url, "://");
        if (!p)
                return NULL;
        p++; /* "//host/..." */
        const char *best = NULL;
        size_t best_len = 0;
        for (size_t i = 0; i < c->n_auth; i++) {
                size_t n = strlen(c->auth[i].prefix);
                if (strncmp(p, c->auth[i].prefix, n) == 0 && n > best_len) {
                        best = c->auth[i].token;
                        best_len = n;
                }
        }
        return best;
}
