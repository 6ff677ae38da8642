/* The daemon's HTTP listeners from corral.json "http" and `corral daemon
 * --http ADDR:PORT` (include/corral/daemon.h).  Off unless one of them asks.
 *
 *   "http": {
 *     "listen": ["127.0.0.1:8080", {"addr": "[::]:8443", "level": "trusted",
 *                                   "tls": {"cert": PATH, "key": PATH}}],
 *     "level": "public",               interface level of listeners without one
 *     "allowed_origins": ["https://app.example.com"],   default: loopback origins
 *     "public_url": "https://mcp.example.com",          base of the resource URLs
 *     "tls": {"cert": PATH, "key": PATH},               for listeners without one
 *     "max_body_bytes": 4194304, "max_header_bytes": 32768,
 *     "idle_timeout_s": 60, "session_idle_s": 1800, "max_sessions": 4096,
 *     "auth": "none"                   allow a non-loopback listener without auth
 *   }
 * Bearer tokens are required on every listener when corral.json has an
 * "auth" object (include/corral/auth.h: issuers, static tokens, "users"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "corral/auth.h"
#include "corral/config.h"
#include "corral/daemon.h"
#include "corral/fs.h"
#include "corral/gateway.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"

#define HTTP_LISTENERS_MAX 16
#define HTTP_ORIGINS_MAX 256
#define TLS_FILE_MAX (1u << 20)

static int bad(corral_error *err, const char *key, const char *why)
{
        return corral_error_set(err, EX_CONFIG, "corral.json: http.%s: %s", key, why);
}

static int get_uint(const cJSON *http, const char *key, unsigned long long max,
                    unsigned long long *out, corral_error *err)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(http, key);

        if (!v)
                return 0;
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > (double)max ||
            v->valuedouble != (double)(unsigned long long)v->valuedouble)
                return corral_error_set(err, EX_CONFIG,
                                        "corral.json: http.%s: must be a whole number from 1 to "
                                        "%llu",
                                        key, max);
        *out = (unsigned long long)v->valuedouble;
        return 0;
}

static int get_level(const cJSON *obj, const char *key, corral_level *out, corral_error *err)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "level");

        if (!v)
                return 0;
        if (!cJSON_IsString(v) || corral_level_parse(v->valuestring, out) < 0)
                return bad(err, key, "level must be \"public\", \"trusted\" or \"anchor\"");
        return 0;
}

/* {"cert": PATH, "key": PATH} → both files' PEM text (owned). */
static int load_tls(const cJSON *tls, const char *key, char **ret_cert, char **ret_key,
                    corral_error *err)
{
        const char *cert = json_get_string(tls, "cert"), *k = json_get_string(tls, "key");
        size_t len;

        if (!cJSON_IsObject(tls) || !cert || !k)
                return bad(err, key, "tls must be {\"cert\": PATH, \"key\": PATH}");
        if (read_file(cert, TLS_FILE_MAX, ret_cert, &len) < 0)
                return corral_error_errno(err, EX_CONFIG, errno,
                                          "corral.json: http.%s: cannot read %s", key, cert);
        if (read_file(k, TLS_FILE_MAX, ret_key, &len) < 0) {
                *ret_cert = (free(*ret_cert), NULL);
                return corral_error_errno(err, EX_CONFIG, errno,
                                          "corral.json: http.%s: cannot read %s", key, k);
        }
        return 0;
}

/* Many idle HTTP connections need many fds: take the hard limit. */
static void raise_nofile(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int daemon_http_start(gateway *gw, const corral_paths *p, const char *cli_listen,
                      struct auth **ret_auth, corral_error *err)
{
        _cleanup_json_ cJSON *config = NULL;
        const cJSON *http, *listen, *origins, *v;
        gateway_http_config base = {.level = CORRAL_LEVEL_PUBLIC};
        unsigned long long n;
        _cleanup_free_ const char **origin_v = NULL;
        _cleanup_free_ char *cert = NULL, *key = NULL;
        bool auth_none = false;
        const cJSON *items[HTTP_LISTENERS_MAX + 1];
        size_t n_items = 0;
        int r;

        r = config_load(p, &config, err);
        if (r < 0)
                return r;
        http = cJSON_GetObjectItemCaseSensitive(config, "http");
        if (http && !cJSON_IsObject(http))
                return corral_error_set(err, EX_CONFIG, "corral.json: http: must be an object");
        if ((r = config_check_object(http, "http", config_object_keys("http"), err)) < 0)
                return r;
        listen = cJSON_GetObjectItemCaseSensitive(http, "listen");
        if (!cli_listen && (!listen || cJSON_GetArraySize(listen) == 0))
                return 0; /* off by default */
        if (listen && (!cJSON_IsArray(listen) || cJSON_GetArraySize(listen) > HTTP_LISTENERS_MAX))
                return bad(err, "listen", "must be an array of at most 16 addresses");

        if ((r = get_level(http, "level", &base.level, err)) < 0)
                return r;
        v = cJSON_GetObjectItemCaseSensitive(http, "auth");
        if (v) {
                if (!cJSON_IsString(v) || strcmp(v->valuestring, "none") != 0)
                        return bad(err, "auth", "the only value is \"none\"");
                auth_none = true;
        }
        /* corral.json "auth" turns bearer tokens on for every listener
         * (issuers and/or `corral token` static tokens). */
        if (cJSON_GetObjectItemCaseSensitive(config, "auth")) {
                if (!*ret_auth && (r = auth_new(gateway_loop(gw), config, p, ret_auth, err)) < 0)
                        return r;
                if (auth_enabled(*ret_auth))
                        base.auth = *ret_auth;
        }
        origins = cJSON_GetObjectItemCaseSensitive(http, "allowed_origins");
        if (origins) {
                size_t i = 0;
                if (!cJSON_IsArray(origins) || cJSON_GetArraySize(origins) > HTTP_ORIGINS_MAX)
                        return bad(err, "allowed_origins", "must be an array of strings");
                origin_v = xcalloc((size_t)cJSON_GetArraySize(origins) + 1, sizeof(*origin_v));
                cJSON_ArrayForEach(v, origins)
                {
                        if (!cJSON_IsString(v))
                                return bad(err, "allowed_origins", "must be an array of strings");
                        origin_v[i++] = v->valuestring;
                }
                base.origins = origin_v;
        }
        v = cJSON_GetObjectItemCaseSensitive(http, "public_url");
        if (v) {
                if (!cJSON_IsString(v) || (strncmp(v->valuestring, "https://", 8) != 0 &&
                                           strncmp(v->valuestring, "http://", 7) != 0))
                        return bad(err, "public_url", "must be an http(s):// URL");
                base.public_url = v->valuestring;
        }
        n = 0;
        if ((r = get_uint(http, "max_body_bytes", 1ull << 30, &n, err)) < 0)
                return r;
        base.max_body_bytes = (size_t)n;
        n = 0;
        if ((r = get_uint(http, "max_header_bytes", 1ull << 20, &n, err)) < 0)
                return r;
        base.max_header_bytes = (size_t)n;
        n = 0;
        if ((r = get_uint(http, "idle_timeout_s", 86400, &n, err)) < 0)
                return r;
        base.idle_timeout_s = (unsigned)n;
        n = 0;
        if ((r = get_uint(http, "session_idle_s", 7 * 86400, &n, err)) < 0)
                return r;
        base.session_idle_s = (unsigned)n;
        n = 0;
        if ((r = get_uint(http, "max_sessions", 1000000, &n, err)) < 0)
                return r;
        base.max_sessions = (unsigned)n;
        v = cJSON_GetObjectItemCaseSensitive(http, "tls");
        if (v && (r = load_tls(v, "tls", &cert, &key, err)) < 0)
                return r;
        base.tls_cert_pem = cert;
        base.tls_key_pem = key;

        cJSON_ArrayForEach(v, listen) items[n_items++] = v;
        raise_nofile();
        for (size_t i = 0; i <= n_items; i++) {
                gateway_http_config cfg = base;
                _cleanup_free_ char *lcert = NULL, *lkey = NULL;
                uint16_t port = 0;

                if (i == n_items) {
                        if (!cli_listen)
                                break;
                        cfg.listen = cli_listen;
                } else if (cJSON_IsString(items[i])) {
                        cfg.listen = items[i]->valuestring;
                } else if (cJSON_IsObject(items[i])) {
                        const cJSON *tls = cJSON_GetObjectItemCaseSensitive(items[i], "tls");
                        cfg.listen = json_get_string(items[i], "addr");
                        if (!cfg.listen)
                                return bad(err, "listen", "an object needs \"addr\"");
                        if ((r = get_level(items[i], "listen", &cfg.level, err)) < 0)
                                return r;
                        if (tls) {
                                if ((r = load_tls(tls, "listen", &lcert, &lkey, err)) < 0)
                                        return r;
                                cfg.tls_cert_pem = lcert;
                                cfg.tls_key_pem = lkey;
                        }
                } else {
                        return bad(err, "listen", "entries are \"ADDR:PORT\" or {\"addr\": …}");
                }
                r = gateway_http_listen(gw, &cfg, auth_none, &port, err);
                if (r < 0)
                        return r;
                fprintf(stderr, "corral: MCP over HTTP on %s (port %u, level %s)\n", cfg.listen,
                        port, corral_level_name(cfg.level));
        }
        return 0;
}
