/* The docker backend's view of the engine's /events stream (Engine API
 * "Monitor events", GET /events, newline-delimited JSON), filtered by the
 * store's label and type container: "die" (Action; Docker gives the status
 * in Actor.Attributes.exitCode, Podman's compat API in containerExitCode)
 * and "oom" reach the process of that container.  The stream is one request
 * on the loop's libcurl multi client with no timeout; when it ends (the
 * engine restarted or went away) it is opened again after a backoff, with
 * `since` the last event's time so that nothing in between is missed. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "docker/internal.h"
#include "runtime/docker_internal.h"

#define EVENT_LINE_MAX (64u << 10) /* bytes of one event; longer ones are dropped */
#define RETRY_MIN_MS 1000u
#define RETRY_MAX_MS 30000u

struct dk_events {
        char *sock;
        char *root_label;
        http_request *req; /* the stream, NULL between connections */
        uv_timer_t *retry; /* reconnects */
        unsigned backoff_ms;
        long since; /* unix time of the last event seen */
        strbuf line;
        bool skipping; /* dropping the rest of an overlong line */
};

static void events_open(struct dk_events *ev);

void dk_procs_add(runtime_process *p)
{
        if (p->listed)
                return;
        p->next_proc = dk_engine.procs;
        dk_engine.procs = p;
        p->listed = true;
}

void dk_procs_remove(runtime_process *p)
{
        if (!p->listed)
                return;
        for (runtime_process **q = &dk_engine.procs; *q; q = &(*q)->next_proc)
                if (*q == p) {
                        *q = p->next_proc;
                        break;
                }
        p->listed = false;
        p->next_proc = NULL;
}

static void dispatch(struct dk_events *ev, const cJSON *e)
{
        const char *type = json_get_string(e, "Type");
        const char *action = json_get_string(e, "Action");
        const cJSON *actor = json_get_object(e, "Actor");
        const cJSON *attrs = json_get_object(actor, "Attributes");
        const char *id = json_get_string(actor, "ID");
        const char *code;
        double t = json_get_number(e, "time", 0);
        bool die;

        if (t > (double)ev->since)
                ev->since = (long)t;
        if (!type || strcmp(type, "container") != 0 || !action || !id)
                return;
        if (strcmp(action, "die") == 0 || strcmp(action, "died") == 0)
                die = true;
        else if (strcmp(action, "oom") == 0)
                die = false;
        else
                return;
        code = json_get_string(attrs, "exitCode");
        if (!code)
                code = json_get_string(attrs, "containerExitCode");
        for (runtime_process *p = dk_engine.procs; p; p = p->next_proc)
                if (p->id && strcmp(p->id, id) == 0) {
                        char *end = NULL;
                        long c = code ? strtol(code, &end, 10) : -1;
                        if (!code || !end || *end || c < 0 || c > 255)
                                c = -1;
                        dk_proc_event(p, die, (int)c);
                        return;
                }
}

static void feed_line(struct dk_events *ev)
{
        _cleanup_json_ cJSON *e = NULL;

        if (ev->line.len == 0)
                return;
        e = cJSON_ParseWithLength(ev->line.buf, ev->line.len);
        if (e)
                dispatch(ev, e);
}

static int on_data(void *ud, http_request *req, const char *data, size_t len)
{
        struct dk_events *ev = ud;

        if (http_request_status(req) != 200)
                return 0;   /* the error body is not events; on_done says why */
        ev->backoff_ms = 0; /* the engine answers: a later end retries soon */
        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                size_t n = nl ? (size_t)(nl - data) : len;
                if (!ev->skipping && strbuf_append(&ev->line, data, n) < 0) {
                        log_warn("docker engine: an event longer than %u bytes; dropped",
                                 EVENT_LINE_MAX);
                        ev->skipping = true;
                }
                if (nl) {
                        if (!ev->skipping)
                                feed_line(ev);
                        ev->skipping = false;
                        strbuf_reset(&ev->line);
                        n++;
                }
                data += n;
                len -= n;
        }
        return 0;
}

static void on_retry(uv_timer_t *t)
{
        events_open(t->data);
}

static void on_done(void *ud, const http_response *resp)
{
        struct dk_events *ev = ud;

        ev->req = NULL;
        strbuf_reset(&ev->line);
        ev->skipping = false;
        if (resp->result < 0 || resp->status != 200)
                log_debug("docker engine: /events ended: %s (HTTP %ld)",
                          resp->error ? resp->error : "closed", resp->status);
        dk_events_lost();
        ev->backoff_ms = ev->backoff_ms ? ev->backoff_ms * 2 : RETRY_MIN_MS;
        if (ev->backoff_ms > RETRY_MAX_MS)
                ev->backoff_ms = RETRY_MAX_MS;
        (void)uv_timer_start(ev->retry, on_retry, ev->backoff_ms, 0);
}

static void events_open(struct dk_events *ev)
{
        _cleanup_json_ cJSON *f = cJSON_CreateObject();
        _cleanup_free_ char *label = xasprintf("%s=%s", DOCKER_LABEL_ROOT, ev->root_label);
        _cleanup_free_ char *text = NULL, *esc = NULL, *url = NULL;
        corral_error err = {0};
        http_request_opts o = {0};

        if (!dk_engine.http || ev->req)
                return;
        cJSON_AddItemToArray(cJSON_AddArrayToObject(f, "type"), cJSON_CreateString("container"));
        cJSON_AddItemToArray(cJSON_AddArrayToObject(f, "label"), cJSON_CreateString(label));
        text = cJSON_PrintUnformatted(f);
        esc = docker_url_escape(text);
        url = xasprintf("http://docker/events?since=%ld&filters=%s", ev->since, esc);
        o.method = "GET";
        o.url = url;
        o.unix_socket = ev->sock;
        o.timeout_ms = UINT_MAX;
        o.on_data = on_data;
        o.on_done = on_done;
        o.userdata = ev;
        if (http_request_start(dk_engine.http, &o, &ev->req, &err) < 0) {
                log_warn("docker engine: cannot watch /events: %s", err.msg);
                ev->req = NULL;
        }
}

void dk_events_ensure(const char *sock, const char *root_label)
{
        struct dk_events *ev = dk_engine.events;

        if (ev)
                return;
        ev = xcalloc(1, sizeof(*ev));
        ev->sock = xstrdup(sock);
        ev->root_label = xstrdup(root_label);
        ev->since = (long)time(NULL);
        ev->line = STRBUF_INIT(EVENT_LINE_MAX);
        ev->retry = xcalloc(1, sizeof(*ev->retry));
        (void)uv_timer_init(dk_engine.loop, ev->retry);
        ev->retry->data = ev;
        dk_engine.events = ev;
        events_open(ev);
}

bool dk_events_live(void)
{
        return dk_engine.events && dk_engine.events->req;
}

static void free_timer(uv_handle_t *h)
{
        free(h);
}

void dk_events_stop(void)
{
        struct dk_events *ev = dk_engine.events;

        if (!ev)
                return;
        dk_engine.events = NULL;
        if (ev->req)
                http_request_cancel(ev->req);
        uv_close((uv_handle_t *)ev->retry, free_timer);
        free(ev->sock);
        free(ev->root_label);
        strbuf_done(&ev->line);
        free(ev);
}
