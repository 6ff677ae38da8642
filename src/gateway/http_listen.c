/* The HTTP adapter's listeners (include/corral/gateway.h, "the HTTP
 * adapter"): gateway_http_listen() makes one — an MHD server on the loop
 * with its sweep timer — and http_free() ends it.  Requests are handled in
 * http.c. */
#include <stdlib.h>
#include <string.h>

#include "corral/log.h"
#include "corral/macro.h"
#include "gateway/http_internal.h"

/* ---- the listener ---- */

static void on_sweep(uv_timer_t *t)
{
        http_sweep(t->data);
}

static void http_free(gw_adapter *a)
{
        gw_http *h = (gw_http *)a;

        h->stopping = true;
        while (h->sessions)
                hsession_free(h->sessions);
        /* MHD wants no connection suspended when it stops. */
        for (hreq *r = h->reqs; r; r = r->next)
                if (r->suspended) {
                        r->suspended = false;
                        MHD_resume_connection(r->conn);
                }
        h->srv = http_server_free(h->srv);
        uv_close((uv_handle_t *)h->sweep, gw_handle_free_cb);
        for (char **o = h->origins; o && *o; o++)
                free(*o);
        free(h->origins);
        free(h->public_url);
        free(h);
}

cJSON *gateway_http_listeners_json(gateway *gw)
{
        cJSON *arr = cJSON_CreateArray();

        for (gw_adapter *a = gw->adapters; a; a = a->next) {
                gw_http *h = (gw_http *)a;
                cJSON *o;

                if (a->free != http_free || !h->srv)
                        continue;
                o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "listen", http_server_listen(h->srv));
                cJSON_AddNumberToObject(o, "port", http_server_port(h->srv));
                cJSON_AddStringToObject(o, "level", corral_level_name(h->level));
                cJSON_AddBoolToObject(o, "tls", h->tls);
                cJSON_AddStringToObject(o, "auth", h->auth ? "bearer" : "none");
                cJSON_AddBoolToObject(o, "loopback", http_server_loopback(h->srv));
                cJSON_AddStringToObject(o, "serves", h->metrics_only ? "metrics" : "mcp");
                cJSON_AddItemToArray(arr, o);
        }
        return arr;
}

int gateway_http_listen(gateway *gw, const gateway_http_config *cfg, bool allow_unauthenticated,
                        uint16_t *ret_port, corral_error *err)
{
        http_server_config scfg = {
                .listen = cfg->listen,
                .tls_cert_pem = cfg->tls_cert_pem,
                .tls_key_pem = cfg->tls_key_pem,
                .idle_timeout_s = cfg->idle_timeout_s,
                .max_header_bytes = cfg->max_header_bytes,
        };
        struct sockaddr_storage ss;
        gw_http *h;
        size_t n = 0;
        int r;

        if (http_server_parse_addr(cfg->listen, &ss) < 0)
                return corral_error_set(err, EX_USAGE,
                                        "invalid HTTP listen address '%s': expected HOST:PORT or "
                                        "[V6]:PORT with a numeric address",
                                        cfg->listen ? cfg->listen : "");
        if (!cfg->auth && !http_server_addr_loopback(&ss) && !allow_unauthenticated)
                return corral_error_set(err, EX_CONFIG,
                                        "refusing to serve MCP on %s without authentication: "
                                        "configure \"auth\", or write \"http\": {\"auth\": "
                                        "\"none\"} in corral.json to allow it",
                                        cfg->listen);
        h = xcalloc(1, sizeof(*h));
        h->gw = gw;
        h->level = cfg->level;
        h->auth = cfg->auth;
        h->metrics_only = cfg->metrics_only;
        h->metrics_no_auth = cfg->metrics_only && cfg->metrics_no_auth;
        h->tls = cfg->tls_cert_pem != NULL;
        h->max_body = cfg->max_body_bytes ? cfg->max_body_bytes : GATEWAY_HTTP_BODY_MAX;
        h->session_idle_ms =
                1000ull * (cfg->session_idle_s ? cfg->session_idle_s : GATEWAY_HTTP_SESSION_IDLE_S);
        h->max_sessions = cfg->max_sessions ? cfg->max_sessions : GATEWAY_HTTP_MAX_SESSIONS;
        h->public_url = cfg->public_url ? xstrdup(cfg->public_url) : NULL;
        if (h->public_url) {
                size_t len = strlen(h->public_url);
                while (len && h->public_url[len - 1] == '/')
                        h->public_url[--len] = '\0';
        }
        if (cfg->origins) {
                while (cfg->origins[n])
                        n++;
                h->origins = xcalloc(n + 1, sizeof(*h->origins));
                for (size_t i = 0; i < n; i++)
                        h->origins[i] = xstrdup(cfg->origins[i]);
        }
        h->sweep = gw_timer_new(gw->loop, h);
        h->base.free = http_free;
        r = http_server_new(gw->loop, &scfg, gw_http_on_request, h, gw_http_on_completed, h,
                            &h->srv, err);
        if (r < 0) {
                http_free(&h->base);
                return r;
        }
        uv_timer_start(h->sweep, on_sweep, HTTP_SWEEP_MS, HTTP_SWEEP_MS);
        gw_adapter_attach(gw, &h->base);
        if (!cfg->auth && !http_server_loopback(h->srv))
                log_warn("http: %s serves %s without authentication (\"auth\": \"none\")",
                         cfg->listen, h->metrics_only ? "/metrics" : "MCP");
        if (ret_port)
                *ret_port = http_server_port(h->srv);
        log_info("http: listening on %s (port %u, level %s%s)", cfg->listen,
                 http_server_port(h->srv), corral_level_name(cfg->level),
                 cfg->tls_cert_pem ? ", TLS" : "");
        return 0;
}
