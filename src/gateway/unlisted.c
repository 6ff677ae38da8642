/* A hidden tool on a single-server session (issue 15).
 *
 * /servers/NAME/mcp is the server itself: a name the server does not list is
 * passed to it and it answers in its own way (an isError result, a -32602
 * error, its own wording).  A tool the caller may not see must answer the
 * same way, or the difference would tell that it exists — yet neither the
 * call nor its arguments may reach the server.  So the gateway refuses it
 * itself and answers with the server's answer to a name it does not have,
 * learnt once per unit run: the first such call asks the server for a random
 * unlisted name with no arguments (a probe), later ones are answered from
 * that template with the caller's name in place of the probe's.  The unit's
 * next start forgets it. */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/strbuf.h"
#include "gateway/internal.h"

/* Every string in j (values, not keys) with each `from` replaced by `to`. */
static void replace_strings(cJSON *j, const char *from, const char *to)
{
        cJSON *item;

        if (cJSON_IsString(j) && strstr(j->valuestring, from)) {
                size_t nf = strlen(from);
                _cleanup_(strbuf_done) strbuf b = {0};
                const char *p = j->valuestring, *hit;
                while ((hit = strstr(p, from))) {
                        strbuf_append(&b, p, (size_t)(hit - p));
                        strbuf_append(&b, to, strlen(to));
                        p = hit + nf;
                }
                strbuf_append(&b, p, strlen(p));
                _cleanup_free_ char *v = strbuf_steal(&b);
                cJSON_SetValuestring(j, v);
                return;
        }
        cJSON_ArrayForEach(item, j) replace_strings(item, from, to);
}

cJSON *gw_unlisted_answer(const cJSON *answer, const char *probe, const char *name)
{
        cJSON *r = json_dup(answer);
        replace_strings(r, probe, name);
        return r;
}

void gw_unlisted_refuse(gateway_session *s, const cJSON *id, const char *server,
                        mcp_client *client, const char *name)
{
        gateway *gw = s->gw;
        const cJSON *t = json_get_object(gw->unlisted, server);
        unsigned char rnd[8];
        char probe[64];
        cJSON *params;

        if (t) {
                const cJSON *result = json_get_object(t, "result");
                cJSON *a = gw_unlisted_answer(result ? result : json_get_object(t, "error"),
                                              json_get_string(t, "probe"), name);
                if (result) {
                        gw_reply_result(s, id, a);
                } else {
                        gw_send_raw(s, id, "error", a);
                        cJSON_Delete(a);
                }
                return;
        }
        if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
                memset(rnd, 0x5a, sizeof(rnd));
        snprintf(probe, sizeof(probe), "corral-unlisted-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
                 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
        params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "name", probe);
        cJSON_AddItemToObject(params, "arguments", cJSON_CreateObject());
        gw_forward_probe(s, id, server, client, params, probe, name);
}

void gw_unlisted_learn(gateway *gw, const char *server, const char *probe, const cJSON *result,
                       const cJSON *error)
{
        cJSON *t = cJSON_CreateObject();

        if (!gw->unlisted)
                gw->unlisted = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "probe", probe);
        cJSON_AddItemToObject(t, result ? "result" : "error", json_dup(result ? result : error));
        json_set(gw->unlisted, server, t);
}

void gw_unlisted_forget(gateway *gw, const char *server)
{
        if (gw->unlisted)
                cJSON_DeleteItemFromObjectCaseSensitive(gw->unlisted, server);
}
