/* The daemon's /metrics listener apart from MCP (include/corral/daemon.h):
 *
 *   "metrics": {"listen": "127.0.0.1:9464", "auth": "bearer" | "none"}
 *
 * "bearer" (the default) is the check of /metrics on the MCP listeners: a
 * bearer token (corral.json "auth") whose user is an admin.  "none" serves
 * them to whoever connects, said in the log; nothing else is served there. */
#include <stdio.h>
#include <string.h>

#include "corral/auth.h"
#include "corral/config.h"
#include "corral/daemon.h"
#include "corral/gateway.h"
#include "corral/jsonutil.h"
#include "corral/log.h"

static int bad(corral_error *err, const char *key, const char *why)
{
        return corral_error_set(err, EX_CONFIG, "corral.json: metrics.%s: %s", key, why);
}

int daemon_metrics_start(struct gateway *gw, const corral_paths *p, struct auth **ret_auth,
                         corral_error *err)
{
        _cleanup_json_ cJSON *config = NULL;
        gateway_http_config cfg = {.level = CORRAL_LEVEL_ANCHOR, .metrics_only = true};
        const cJSON *m, *k;
        const char *mode = "bearer";
        uint16_t port = 0;
        int r;

        if ((r = config_load(p, &config, err)) < 0)
                return r;
        m = cJSON_GetObjectItemCaseSensitive(config, "metrics");
        if (!m)
                return 0;
        if (!cJSON_IsObject(m))
                return corral_error_set(err, EX_CONFIG, "corral.json: metrics: must be an object");
        if ((r = config_check_object(m, "metrics", config_object_keys("metrics"), err)) < 0)
                return r;
        cfg.listen = json_get_string(m, "listen");
        if (!cfg.listen)
                return bad(err, "listen", "must be \"ADDR:PORT\"");
        k = cJSON_GetObjectItemCaseSensitive(m, "auth");
        if (k) {
                if (!cJSON_IsString(k) || (strcmp(k->valuestring, "bearer") != 0 &&
                                           strcmp(k->valuestring, "none") != 0))
                        return bad(err, "auth", "must be \"bearer\" or \"none\"");
                mode = k->valuestring;
        }
        if (strcmp(mode, "none") == 0) {
                cfg.metrics_no_auth = true;
        } else {
                if (!*ret_auth && cJSON_GetObjectItemCaseSensitive(config, "auth") &&
                    (r = auth_new(gateway_loop(gw), config, p, ret_auth, err)) < 0)
                        return r;
                if (!*ret_auth || !auth_enabled(*ret_auth))
                        return bad(err, "auth",
                                   "\"bearer\" needs corral.json \"auth\" (issuers or `corral "
                                   "token`); write \"none\" to serve /metrics to anyone who "
                                   "connects");
                cfg.auth = *ret_auth;
        }
        r = gateway_http_listen(gw, &cfg, cfg.metrics_no_auth, &port, err);
        if (r < 0)
                return r;
        fprintf(stderr, "corral: metrics on %s (port %u, auth %s)\n", cfg.listen, port, mode);
        return 0;
}
