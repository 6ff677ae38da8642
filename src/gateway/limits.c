/* Rate limits, concurrency caps and the result-size cap on tools/call
 * (issue 15; the rules and buckets are include/corral/limits.h): the
 * gateway's side — refusing a call at once with retryAfterMs, recording the
 * refusal for the audit log, and refusing an oversize result. */
#include <string.h>
#include <time.h>

#include "corral/jsonutil.h"
#include "corral/limits.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "gateway/internal.h"

static size_t json_len(const cJSON *j)
{
        _cleanup_free_ char *t = j ? cJSON_PrintUnformatted(j) : NULL;
        return t ? strlen(t) : 0;
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gw_record_refused(gateway_session *s, const char *server, const char *tool,
                       const cJSON *params, const char *outcome)
{
        gateway *gw = s->gw;
        gateway_call_record rec = {
                .ts_ms = now_ms(),
                .user = s->user,
                .iface = s->iface,
                .server = server ? server : "",
                .tool = tool ? tool : "",
                .outcome = outcome,
                .req_bytes = json_len(params),
                .arguments = gw->observer_args
                                     ? cJSON_GetObjectItemCaseSensitive(params, "arguments")
                                     : NULL,
        };

        if (gw->observer)
                gw->observer(gw->observer_ud, &rec);
}

bool gw_limits_admit(gateway_session *s, const cJSON *id, const char *server, const char *tool,
                     const cJSON *params, struct limit_hold **ret_hold)
{
        gateway *gw = s->gw;
        uint64_t retry = 0;
        _cleanup_json_ cJSON *limit = NULL;
        bool rate;
        cJSON *data;

        *ret_hold = NULL;
        if (!gw->limiter || !tool)
                return true;
        if (limiter_admit(gw->limiter, uv_now(gw->loop), s->user, server, tool, ret_hold, &retry,
                          &limit))
                return true;
        gw_record_refused(s, server, tool, params, "limited");
        log_debug("gateway: %s__%s for %s: refused by a %s limit, retry after %llu ms", server,
                  tool, s->user ? s->user : "(anonymous)", json_get_string(limit, "reason"),
                  (unsigned long long)retry);
        rate = strcmp(json_get_string(limit, "reason"), "rate") == 0;
        data = cJSON_CreateObject();
        cJSON_AddNumberToObject(data, "retryAfterMs", (double)retry);
        cJSON_AddItemToObject(data, "limit", steal_pointer(&limit));
        gw_reply_error(s, id, LIMITS_RPC_LIMITED, data,
                       "rate limited: %s__%s: %s limit reached, retry after %llu ms", server,
                       tool, rate ? "call rate" : "concurrent calls", (unsigned long long)retry);
        return false;
}

void gw_limits_done(gw_call *c)
{
        if (c->limiter)
                limiter_release(c->limiter, c->limit_hold);
        c->limit_hold = NULL;
}

cJSON *gw_limits_result_cap(const gw_call *c, const cJSON *result)
{
        uint64_t cap = limiter_max_result(c->limiter);
        size_t n;
        cJSON *e;

        if (!cap || !c->cap_tool)
                return NULL;
        n = json_len(result);
        if (n <= cap)
                return NULL;
        e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "code", LIMITS_RPC_RESULT_TOO_LARGE);
        {
                _cleanup_free_ char *m = xasprintf(
                        "result too large: %s__%s answered %zu bytes, over the cap of %llu "
                        "(corral.json limits.max_result_bytes); nothing of it was passed on",
                        c->server, c->cap_tool, n, (unsigned long long)cap);
                cJSON_AddStringToObject(e, "message", m);
        }
        {
                cJSON *d = cJSON_CreateObject();
                cJSON_AddNumberToObject(d, "resultBytes", (double)n);
                cJSON_AddNumberToObject(d, "maxResultBytes", (double)cap);
                cJSON_AddItemToObject(e, "data", d);
        }
        return e;
}
