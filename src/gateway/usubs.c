/* Resource subscriptions on MCP 2026-07-28 units (basic/patterns/
 * subscriptions): such a server has no resources/subscribe; it sends
 * notifications/resources/updated only on a subscriptions/listen stream
 * whose resourceSubscriptions name the URI.  What the gateway's sessions
 * subscribe to on such a unit (a 2025 client's resources/subscribe, a 2026
 * client's listen stream) is asked for on one listen stream per unit, its
 * resourceSubscriptions the union of the URIs the sessions that see the
 * unit want.
 *
 * A stream's filter is fixed when it opens, so a different set opens a new
 * stream; the one it replaces is cancelled once the new one is
 * acknowledged.  The server stamps every notification with its stream's id
 * (io.modelcontextprotocol/subscriptionId) and answers on one ordered
 * stream, so taking updates only from the newest acknowledged stream loses
 * none and delivers none twice: before the new stream's acknowledgement
 * only the old one was registered, after it the old one's copies are
 * dropped until its cancel arrives. */
#include <stdlib.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "corral/supervisor.h"
#include "gateway/internal.h"

typedef struct gw_ustream gw_ustream;
struct gw_ustream {
        gw_usub *owner; /* NULL once detached: its completion frees it */
        uint64_t handle;
        bool acked;
        gw_ustream *next;
};

struct gw_usub {
        char *server;
        const mcp_client *client; /* the session the streams were opened on */
        char **uris;              /* the newest stream's set, sorted */
        size_t n_uris;
        gw_ustream *streams; /* newest first */
        gw_usub *next;
};

static void usub_clear_uris(gw_usub *us)
{
        for (size_t i = 0; i < us->n_uris; i++)
                free(us->uris[i]);
        free(us->uris);
        us->uris = NULL;
        us->n_uris = 0;
}

/* Detaches st from us; cancels it upstream on c (NULL: the session is
 * gone or going, nothing is sent).  Its completion (now, or when the
 * session ends) frees it. */
static void stream_drop(gw_usub *us, gw_ustream *st, mcp_client *c)
{
        for (gw_ustream **pp = &us->streams; *pp; pp = &(*pp)->next)
                if (*pp == st) {
                        *pp = st->next;
                        break;
                }
        st->owner = NULL;
        st->next = NULL;
        if (c)
                mcp_client_cancel(c, st->handle, "subscriptions changed");
}

/* Drops from and every stream older than it. */
static void usub_drop_streams(gw_usub *us, mcp_client *c, gw_ustream *from)
{
        while (from) {
                gw_ustream *next = from->next;
                stream_drop(us, from, c);
                from = next;
        }
}

static void usub_free(gateway *gw, gw_usub *us, mcp_client *c)
{
        for (gw_usub **pp = &gw->usubs; *pp; pp = &(*pp)->next)
                if (*pp == us) {
                        *pp = us->next;
                        break;
                }
        usub_drop_streams(us, c, us->streams);
        usub_clear_uris(us);
        free(us->server);
        free(us);
}

void gw_usub_free_all(gateway *gw)
{
        while (gw->usubs)
                usub_free(gw, gw->usubs, NULL);
}

static gw_usub *usub_find(gateway *gw, const char *server)
{
        for (gw_usub *us = gw->usubs; us; us = us->next)
                if (strcmp(us->server, server) == 0)
                        return us;
        return NULL;
}

static void on_stream_end(void *ud, const cJSON *result, const cJSON *error)
{
        gw_ustream *st = ud;
        gw_usub *us = st->owner;

        if (us) {
                /* The server ended it (or the session closed): updates
                 * it carried stop until the set changes or the unit
                 * restarts. */
                const char *msg = error ? json_get_string(error, "message") : NULL;

                log_info("gateway: %s: the resource subscriptions stream ended: %s", us->server,
                         msg ? msg : "the server closed it");
                for (gw_ustream **pp = &us->streams; *pp; pp = &(*pp)->next)
                        if (*pp == st) {
                                *pp = st->next;
                                break;
                        }
                if (!us->streams)
                        usub_clear_uris(us);
        }
        free(st);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The URIs that sessions want from u, sorted and unique (owned, NULL when
 * none); *ret_n their count. */
static char **wanted_uris(gateway *gw, const unit *u, size_t *ret_n)
{
        gw_owners *own = gw_owners_get(gw);
        char **v = NULL;
        size_t n = 0, cap = 0, k = 0;

        for (gateway_session *s = gw->sessions; s; s = s->next) {
                if (!gw_session_sees(s, u))
                        continue;
                for (size_t i = 0; i < s->n_subs; i++) {
                        const char *owner = s->scope ? s->scope : gw_owners_lookup(own, s->subs[i]);

                        if (!owner || strcmp(owner, unit_name(u)) != 0)
                                continue;
                        if (n == cap) {
                                cap = cap ? 2 * cap : 8;
                                v = xrealloc(v, cap * sizeof(*v));
                        }
                        v[n++] = s->subs[i]; /* borrowed until copied below */
                }
        }
        if (!n) {
                *ret_n = 0;
                return NULL;
        }
        qsort(v, n, sizeof(*v), cmp_str);
        for (size_t i = 0; i < n && k < GW_USUB_URIS; i++)
                if (!k || strcmp(v[k - 1], v[i]) != 0)
                        v[k++] = v[i];
        if (k == GW_USUB_URIS)
                log_warn("gateway: %s: over %d subscribed resources; the rest get no updates",
                         unit_name(u), GW_USUB_URIS);
        for (size_t i = 0; i < k; i++)
                v[i] = xstrdup(v[i]);
        *ret_n = k;
        return v;
}

static bool same_set(char **a, size_t na, char **b, size_t nb)
{
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return true;
}

bool gw_usub_applies(const unit *u)
{
        mcp_client *c = unit_get_state(u) == UNIT_READY ? unit_client((unit *)u) : NULL;
        const cJSON *caps = json_get_object(mcp_client_server_capabilities(c), "resources");

        return c && mcp_client_modern(c) &&
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(caps, "subscribe"));
}

void gw_usub_sync(gateway *gw, unit *u)
{
        mcp_client *c = unit_get_state(u) == UNIT_READY ? unit_client(u) : NULL;
        gw_usub *us = usub_find(gw, unit_name(u));
        size_t n = 0;
        char **want;
        cJSON *params, *f, *list;
        gw_ustream *st;
        uint64_t handle;

        if (us && us->client != c) {
                /* A restarted unit: its old session's streams are gone. */
                usub_drop_streams(us, NULL, us->streams);
                usub_clear_uris(us);
                us->client = c;
        }
        if (!c || !gw_usub_applies(u)) {
                if (us)
                        usub_free(gw, us, c);
                return;
        }
        want = wanted_uris(gw, u, &n);
        if (us && same_set(want, n, us->uris, us->n_uris) && (n == 0 || us->streams)) {
                for (size_t i = 0; i < n; i++)
                        free(want[i]);
                free(want);
                return;
        }
        if (!n) {
                if (us)
                        usub_free(gw, us, c);
                return;
        }
        if (!us) {
                us = xcalloc(1, sizeof(*us));
                us->server = xstrdup(unit_name(u));
                us->client = c;
                us->next = gw->usubs;
                gw->usubs = us;
        }
        usub_clear_uris(us);
        us->uris = want;
        us->n_uris = n;
        params = cJSON_CreateObject();
        f = cJSON_AddObjectToObject(params, "notifications");
        list = cJSON_AddArrayToObject(f, "resourceSubscriptions");
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(list, cJSON_CreateString(want[i]));
        /* A stream not yet acknowledged that this one replaces never
         * delivered anything: it goes now, the acknowledged one when this
         * one is acknowledged. */
        for (gw_ustream *o = us->streams, *next; o; o = next) {
                next = o->next;
                if (!o->acked)
                        stream_drop(us, o, c);
        }
        st = xcalloc(1, sizeof(*st));
        st->owner = us;
        st->next = us->streams;
        us->streams = st;
        /* 0: the transport failed and on_stream_end has freed st. */
        handle = mcp_client_request(c, "subscriptions/listen", params, 0, NULL, on_stream_end, st);
        if (handle)
                st->handle = handle;
}

/* The stream of us whose id is params._meta's subscriptionId, else NULL. */
static gw_ustream *stream_of(gw_usub *us, const cJSON *params)
{
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(json_get_object(params, "_meta"),
                                                           META_SUBSCRIPTION_ID);

        if (!us || !cJSON_IsNumber(id))
                return NULL;
        for (gw_ustream *st = us->streams; st; st = st->next)
                if ((double)st->handle == id->valuedouble)
                        return st;
        return NULL;
}

void gw_usub_acknowledged(gateway *gw, unit *u, const cJSON *params)
{
        gw_usub *us = usub_find(gw, unit_name(u));
        gw_ustream *st = stream_of(us, params);

        if (!st || st->acked)
                return;
        st->acked = true;
        /* The older streams are now covered by this one. */
        usub_drop_streams(us, unit_client(u), st->next);
}

bool gw_usub_accept(gateway *gw, const unit *u, const cJSON *params)
{
        gw_usub *us = usub_find(gw, unit_name(u));
        gw_ustream *st = stream_of(us, params);

        if (!st)
                return false;
        /* Only the newest acknowledged stream's copy counts. */
        for (gw_ustream *o = us->streams; o != st; o = o->next)
                if (o->acked)
                        return false;
        return true;
}

void gw_usub_forget(gateway *gw, const char *server)
{
        gw_usub *us = usub_find(gw, server);

        if (us)
                usub_free(gw, us, NULL);
}

void gw_usub_resync_all(gateway *gw)
{
        for (gw_usub *us = gw->usubs, *next; us; us = next) {
                unit *u = gw->sv ? supervisor_find(gw->sv, us->server) : NULL;

                next = us->next;
                if (u)
                        gw_usub_sync(gw, u);
                else
                        usub_free(gw, us, NULL);
        }
}
