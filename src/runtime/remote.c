/* The remote runtime backend: a unit whose "process" is an MCP session over
 * HTTP (src/remote/transport.c).  The supervisor writes newline-framed
 * JSON-RPC to it as to a child's stdin and reads the server's messages as
 * stdout, so states, backoff, health pings and the gateway work unchanged.
 *
 * How endings map onto the restart policy (issue 12): a 5xx, a refused
 * connection, a stream cut without resumption or a forgotten session (404:
 * initialize again) is a crash (exit status 1: backoff, crash loop);
 * a 401, a network that is down (DNS, TLS set-up) or a connection refused
 * before the session was established is not a crash: service_lost() makes
 * the unit `unavailable`, retried every 5 s, with last_error saying why
 * ("needs authorization: …", "unreachable: …"). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <strings.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/paths.h"
#include "corral/remote.h"
#include "corral/runtime.h"
#include "corral/strbuf.h"

#define SECRETS_MAX (1u << 20)

/* One http_client per loop, shared by the loop's remote units. */
typedef struct shared_client {
        struct shared_client *next;
        uv_loop_t *loop;
        http_client *hc;
        unsigned refs;
} shared_client;

static shared_client *clients;

static http_client *client_ref(uv_loop_t *loop, corral_error *err)
{
        shared_client *c;

        for (c = clients; c; c = c->next)
                if (c->loop == loop) {
                        c->refs++;
                        return c->hc;
                }
        c = xcalloc(1, sizeof(*c));
        if (http_client_new(loop, &c->hc, err) < 0) {
                free(c);
                return NULL;
        }
        c->loop = loop;
        c->refs = 1;
        c->next = clients;
        clients = c;
        return c->hc;
}

static void client_unref(uv_loop_t *loop)
{
        for (shared_client **pp = &clients; *pp; pp = &(*pp)->next) {
                shared_client *c = *pp;
                if (c->loop != loop)
                        continue;
                if (--c->refs == 0) {
                        *pp = c->next;
                        (void)http_client_free(c->hc);
                        free(c);
                }
                return;
        }
}

struct runtime_process {
        uv_loop_t *loop;
        remote_session *s;
        runtime_callbacks cb;
        void *ud;
        char *name;
        char *reason;
        bool lost;
        bool ended;
        bool established; /* the server has answered on this session */
        strbuf line; /* a partial message written by the session */
};

static void on_message(void *ud, const char *json, size_t len)
{
        runtime_process *p = ud;
        _cleanup_free_ char *framed = xmalloc(len + 1);

        p->established = true;
        memcpy(framed, json, len);
        framed[len] = '\n';
        if (p->cb.on_stdout)
                p->cb.on_stdout(p->ud, framed, len + 1);
}

static void on_end(void *ud, remote_end why, const char *reason)
{
        runtime_process *p = ud;
        int status = 0, sig = 0;

        p->ended = true;
        free(p->reason);
        switch (why) {
        case REMOTE_END_CLOSED:
                p->reason = NULL;
                break;
        case REMOTE_END_KILLED:
                sig = SIGKILL;
                p->reason = NULL;
                break;
        case REMOTE_END_AUTH:
                p->lost = true;
                p->reason = xasprintf("needs authorization: %s (run `corral auth status %s`)",
                                      reason, p->name);
                break;
        case REMOTE_END_UNREACHABLE:
                p->lost = true;
                p->reason = xasprintf("network unavailable: %s", reason);
                break;
        case REMOTE_END_REFUSED:
                /* A server that went away is a crash (backoff, then a new
                 * session); one that is not there when starting is down,
                 * retried without counting crashes, so an outage longer than
                 * the crash-loop window does not leave the unit failed. */
                if (p->established) {
                        status = 1;
                        p->reason = xstrdup(reason);
                } else {
                        p->lost = true;
                        p->reason = xasprintf("unreachable: %s", reason);
                }
                break;
        default:
                status = 1;
                p->reason = xstrdup(reason);
                break;
        }
        if (p->reason)
                log_info("%s: %s", p->name, p->reason);
        if (p->cb.on_exit)
                p->cb.on_exit(p->ud, status, sig);
}

static const remote_ops ops = {
        .on_message = on_message,
        .on_end = on_end,
};

/* The request headers: the manifest's, secret values from secrets.json
 * ({"headers": {NAME: VALUE}}), and the stored access token as a bearer
 * (oauth.json, written by `corral auth`) unless a header sets
 * Authorization itself. */
char **remote_unit_headers(const manifest *m, const corral_paths *paths, corral_error *err)
{
        _cleanup_free_ char *dir = paths_server_dir(paths, m->name);
        _cleanup_free_ char *sp = path_join(dir, "secrets.json");
        _cleanup_free_ char *tp = path_join(dir, "oauth.json");
        _cleanup_free_ char *data = NULL;
        _cleanup_json_ cJSON *secrets = NULL, *tokens = NULL;
        char **h = xcalloc(1, sizeof(char *));
        bool have_auth = false;
        size_t len;

        if (read_file(sp, SECRETS_MAX, &data, &len) == 0)
                secrets = cJSON_ParseWithLength(data, len);
        free(data);
        data = NULL;
        if (read_file(tp, SECRETS_MAX, &data, &len) == 0)
                tokens = cJSON_ParseWithLength(data, len);
        for (size_t i = 0; i < m->n_headers; i++) {
                const char *v = m->headers[i].value;
                _cleanup_free_ char *line = NULL;

                if (!v)
                        v = json_get_string(json_get_object(secrets, "headers"), m->headers[i].key);
                if (!v) {
                        strv_free(h);
                        corral_error_set(err, EX_CONFIG,
                                         "the secret value of header %s is missing from %s",
                                         m->headers[i].key, sp);
                        return NULL;
                }
                if (strcasecmp(m->headers[i].key, "Authorization") == 0)
                        have_auth = true;
                line = xasprintf("%s: %s", m->headers[i].key, v);
                h = strv_push(h, line);
        }
        if (!have_auth) {
                const char *tok = json_get_string(tokens, "access_token");
                if (tok && *tok && !strpbrk(tok, "\r\n")) {
                        _cleanup_free_ char *line = xasprintf("Authorization: Bearer %s", tok);
                        h = strv_push(h, line);
                }
        }
        return h;
}

static int remote_start(uv_loop_t *loop, const manifest *m, const corral_paths *paths,
                        const runtime_callbacks *cb, void *ud, runtime_process **ret,
                        corral_error *err)
{
        _cleanup_strv_ char **headers = NULL;
        runtime_process *p;
        http_client *hc;
        remote_config cfg = {0};
        int r;

        if (!m || !m->command || !m->command[0])
                return corral_error_set(err, EX_DATAERR, "cannot start server: no URL");
        headers = remote_unit_headers(m, paths, err);
        if (!headers)
                return -EX_NOINPUT;
        hc = client_ref(loop, err);
        if (!hc)
                return -EX_OSERR;
        cfg.url = m->command[0];
        cfg.transport = m->transport && strcmp(m->transport, "sse") == 0 ? REMOTE_TRANSPORT_SSE
                                                                          : REMOTE_TRANSPORT_HTTP;
        cfg.fallback = true;
        cfg.headers = headers;
        cfg.ca_file = getenv("CORRAL_CA_BUNDLE");
        p = xcalloc(1, sizeof(*p));
        p->loop = loop;
        p->cb = *cb;
        p->ud = ud;
        p->name = xstrdup(m->name);
        p->line = STRBUF_INIT(32u << 20); /* a message the gateway accepted */
        r = remote_session_new(hc, loop, &cfg, &ops, p, &p->s, err);
        if (r < 0) {
                client_unref(loop);
                free(p->name);
                free(p);
                return -EX_DATAERR;
        }
        *ret = p;
        return 0;
}

/* The session writes one message per call, '\n'-terminated; anything else is
 * split at newlines all the same. */
static int remote_write(runtime_process *p, const char *data, size_t n)
{
        if (!p || p->ended)
                return -1;
        for (size_t i = 0; i < n; i++) {
                if (data[i] != '\n') {
                        (void)strbuf_append(&p->line, data + i, 1);
                        continue;
                }
                if (p->line.len > 0 && remote_session_send(p->s, p->line.buf, p->line.len) < 0)
                        return -1;
                strbuf_reset(&p->line);
        }
        return 0;
}

static void remote_close_stdin(runtime_process *p)
{
        if (p && !p->ended)
                remote_session_close(p->s);
}

static int remote_kill(runtime_process *p, int sig)
{
        if (!p || p->ended)
                return -ESRCH;
        remote_session_abort(p->s);
        return 0;
}

static int remote_pid(const runtime_process *p)
{
        return 0; /* nothing runs here */
}

static runtime_process *remote_free(runtime_process *p)
{
        if (!p)
                return NULL;
        p->s = remote_session_free(p->s);
        client_unref(p->loop);
        strbuf_done(&p->line);
        free(p->name);
        free(p->reason);
        free(p);
        return NULL;
}

static const char *remote_exit_reason(const runtime_process *p)
{
        return p ? p->reason : NULL;
}

static bool remote_service_lost(const runtime_process *p)
{
        return p && p->lost;
}

const runtime_backend runtime_remote = {
        .name = "remote",
        .confines = false,
        .start = remote_start,
        .write = remote_write,
        .close_stdin = remote_close_stdin,
        .kill = remote_kill,
        .pid = remote_pid,
        .free = remote_free,
        .exit_reason = remote_exit_reason,
        .service_lost = remote_service_lost,
};
