/* Connection caps per socket and per peer uid, with a share kept for
 * admins, and rate-limited refusal logging (see connlimit.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "gateway/connlimit.h"

#define CONNLIMIT_MAX 65536
#define TIMEOUT_MAX_S 86400

typedef struct peer {
        int64_t uid;
        unsigned n;
} peer;

struct connlimit {
        char *what;
        connlimit_config cfg;
        unsigned active;
        peer *peers; /* uids with at least one connection */
        size_t n_peers;
        uint64_t refused;        /* since the start */
        uint64_t refused_unlogged;
        uint64_t last_log_ms;
        bool logged_once;
};

connlimit_config connlimit_defaults(bool control)
{
        if (control)
                return (connlimit_config){.max_conns = 128,
                                          .max_per_uid = 16,
                                          .admin_reserved = 32,
                                          .first_message_ms = 30000,
                                          .idle_ms = 600000};
        return (connlimit_config){.max_conns = 1024,
                                  .max_per_uid = 64,
                                  .admin_reserved = 128,
                                  .first_message_ms = 30000,
                                  .idle_ms = 600000};
}

static int get_count(const cJSON *g, const char *key, unsigned *v, corral_error *err)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(g, key);

        if (!j)
                return 0;
        if (!cJSON_IsNumber(j) || !(j->valuedouble >= 1 && j->valuedouble <= CONNLIMIT_MAX) ||
            j->valuedouble != (double)(unsigned)j->valuedouble)
                return corral_error_set(err, EX_CONFIG,
                                        "gateway.%s must be an integer from 1 to %d", key,
                                        CONNLIMIT_MAX);
        *v = (unsigned)j->valuedouble;
        return 0;
}

static int get_timeout(const cJSON *g, const char *key, uint64_t *ms, corral_error *err)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(g, key);

        if (!j)
                return 0;
        if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0 && j->valuedouble <= TIMEOUT_MAX_S))
                return corral_error_set(err, EX_CONFIG,
                                        "gateway.%s must be a number of seconds from 0 to %d",
                                        key, TIMEOUT_MAX_S);
        *ms = (uint64_t)(j->valuedouble * 1000);
        return 0;
}

static int check(const connlimit_config *c, const char *which, corral_error *err)
{
        if (c->admin_reserved >= c->max_conns || c->max_per_uid > c->max_conns)
                return corral_error_set(err, EX_CONFIG,
                                        "gateway: %s limits: the admin share must be smaller "
                                        "than the total and the per-user cap at most the total",
                                        which);
        return 0;
}

int connlimit_config_load(const cJSON *config, connlimit_config *ret_gateway,
                          connlimit_config *ret_control, corral_error *err)
{
        connlimit_config g = connlimit_defaults(false), c = connlimit_defaults(true);
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(config, "gateway");
        uint64_t first = g.first_message_ms, idle = g.idle_ms;
        int r = 0;

        if (j && !cJSON_IsObject(j))
                return corral_error_set(err, EX_CONFIG, "gateway must be an object");
        if (j) {
                if ((r = get_count(j, "max_connections", &g.max_conns, err)) < 0 ||
                    (r = get_count(j, "max_connections_per_user", &g.max_per_uid, err)) < 0 ||
                    (r = get_count(j, "admin_reserved_connections", &g.admin_reserved, err)) < 0 ||
                    (r = get_count(j, "max_control_connections", &c.max_conns, err)) < 0 ||
                    (r = get_count(j, "max_control_connections_per_user", &c.max_per_uid, err)) <
                            0 ||
                    (r = get_timeout(j, "first_message_timeout_s", &first, err)) < 0 ||
                    (r = get_timeout(j, "idle_timeout_s", &idle, err)) < 0)
                        return r;
        }
        /* The control socket keeps its admin share inside its own total. */
        if (c.admin_reserved >= c.max_conns)
                c.admin_reserved = c.max_conns / 4;
        if (c.max_per_uid > c.max_conns)
                c.max_per_uid = c.max_conns;
        g.first_message_ms = c.first_message_ms = first;
        g.idle_ms = c.idle_ms = idle;
        if ((r = check(&g, "gateway socket", err)) < 0 || (r = check(&c, "control socket", err)) < 0)
                return r;
        *ret_gateway = g;
        *ret_control = c;
        return 0;
}

connlimit *connlimit_new(const char *what, const connlimit_config *cfg)
{
        connlimit *cl = xcalloc(1, sizeof(*cl));

        cl->what = xstrdup(what);
        cl->cfg = *cfg;
        return cl;
}

connlimit *connlimit_free(connlimit *cl)
{
        if (!cl)
                return NULL;
        if (cl->refused_unlogged)
                log_warn("%s socket: refused %llu connection(s) since the last report",
                         cl->what, (unsigned long long)cl->refused_unlogged);
        free(cl->peers);
        free(cl->what);
        free(cl);
        return NULL;
}

const connlimit_config *connlimit_get_config(const connlimit *cl)
{
        return &cl->cfg;
}

void connlimit_set_config(connlimit *cl, const connlimit_config *cfg)
{
        if (cl)
                cl->cfg = *cfg;
}

bool connlimit_is_admin(int64_t uid)
{
        return uid == 0 || (uid >= 0 && (uid_t)uid == geteuid());
}

static peer *find_peer(connlimit *cl, int64_t uid)
{
        for (size_t i = 0; i < cl->n_peers; i++)
                if (cl->peers[i].uid == uid)
                        return &cl->peers[i];
        return NULL;
}

static void report(connlimit *cl, uint64_t now_ms, const char *why)
{
        if (!cl->refused_unlogged)
                return;
        if (cl->logged_once && now_ms - cl->last_log_ms < CONNLIMIT_LOG_INTERVAL_MS)
                return;
        log_warn("%s socket: refused %llu connection(s) in the last %llu s (%s; %u open)",
                 cl->what, (unsigned long long)cl->refused_unlogged,
                 (unsigned long long)(cl->logged_once ? (now_ms - cl->last_log_ms + 999) / 1000
                                                      : 0),
                 why, cl->active);
        cl->refused_unlogged = 0;
        cl->last_log_ms = now_ms;
        cl->logged_once = true;
}

bool connlimit_admit(connlimit *cl, int64_t uid, uint64_t now_ms)
{
        bool admin = connlimit_is_admin(uid);
        peer *p = find_peer(cl, uid);
        const char *why = NULL;

        if (admin) {
                if (cl->active >= cl->cfg.max_conns)
                        why = "all connections in use";
        } else if (cl->active + cl->cfg.admin_reserved >= cl->cfg.max_conns) {
                why = "the rest is kept for admins";
        } else if (p && p->n >= cl->cfg.max_per_uid) {
                why = "per-user cap reached";
        }
        if (why) {
                cl->refused++;
                cl->refused_unlogged++;
                report(cl, now_ms, why);
                return false;
        }
        if (!p) {
                cl->peers = xrealloc(cl->peers, (cl->n_peers + 1) * sizeof(*cl->peers));
                p = &cl->peers[cl->n_peers++];
                *p = (peer){.uid = uid};
        }
        p->n++;
        cl->active++;
        report(cl, now_ms, "earlier refusals");
        return true;
}

void connlimit_release(connlimit *cl, int64_t uid)
{
        peer *p = find_peer(cl, uid);

        if (!p || !cl->active)
                return;
        cl->active--;
        if (--p->n == 0)
                *p = cl->peers[--cl->n_peers];
}

unsigned connlimit_active(const connlimit *cl)
{
        return cl->active;
}

uint64_t connlimit_refused(const connlimit *cl)
{
        return cl->refused;
}
