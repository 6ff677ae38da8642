/* The docker runtime backend: each start creates a fresh hardened container
 * (docker_container_config()) from the manifest's pinned image, attaches to
 * its stdio before starting it, and reads the attach stream on the loop.  The
 * stream's end means the container stopped: its status is then read with a
 * wait call and the container is removed when the process is freed, so a
 * restart always re-creates it.
 *
 * No Engine API call blocks the loop: every one (version, list, remove,
 * image inspect and pull, create, start, inspect, kill, wait, ping) goes
 * through the loop's libcurl multi client (corral/http_client.h), and the
 * attach upgrade is written and read on the loop too.  start() therefore
 * returns at once with a process that is still being set up: stdin written
 * meanwhile is queued, and a setup that fails ends the process through
 * on_exit with exit_reason() saying why.  An engine that cannot be reached
 * (or answers 5xx or times out) makes service_lost() true, so the supervisor
 * shows the unit unavailable and retries slowly without counting a crash. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>

#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/http_client.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/runtime.h"
#include "corral/uvwrite.h"
#include "docker/internal.h"

#define DOCKER_STDIN_MAX (64u << 20) /* bytes queued for a server's stdin */
#define DOCKER_READ_BUF 65536
#define ATTACH_HEAD_MAX 16384u
#define CALL_TIMEOUT_MS 30000u
#define WAIT_TIMEOUT_MS 10000u
#define PULL_TIMEOUT_MS 600000u
#define REPLY_MAX (16u << 20)

/* One libcurl multi client per loop, shared by every docker process and the
 * removals that outlive them; freed when nothing uses it. */
static struct {
        uv_loop_t *loop;
        http_client *http;
        unsigned users;
} engine;

static http_client *engine_get(uv_loop_t *loop)
{
        if (engine.http && engine.loop != loop)
                return NULL; /* one loop per process (the daemon's) */
        if (!engine.http) {
                corral_error err = {0};
                if (http_client_new(loop, &engine.http, &err) < 0)
                        return NULL;
                engine.loop = loop;
        }
        engine.users++;
        return engine.http;
}

static void engine_put(void)
{
        if (engine.users > 0 && --engine.users == 0) {
                engine.http = http_client_free(engine.http);
                engine.loop = NULL;
        }
}

typedef enum step {
        S_VERSION,
        S_LIST,
        S_REMOVE_STALE,
        S_IMAGE,
        S_PULL,
        S_IMAGE_AGAIN,
        S_CREATE,
        S_ATTACH,
        S_START,
        S_INSPECT,
        S_RUNNING,
        S_WAIT,
        S_PING,
        S_OOM,
        S_ENDED,
} step;

struct runtime_process {
        uv_loop_t *loop;
        char *socket; /* the engine's unix socket */
        char *api;    /* negotiated API version */
        bool podman;
        char *id;
        char *name;       /* server name, for messages */
        manifest *m;      /* a copy, for the steps after start() */
        char *image;
        char *user;       /* the image's own User, or NULL */
        char *run_dir;    /* paths->run */
        char *root_label; /* paths->servers */
        char **stale;     /* containers of an earlier run left to remove */
        size_t stale_i;
        step step;
        http_request *req; /* the call in flight */
        runtime_callbacks cb;
        void *ud;
        uv_pipe_t *sock;         /* the attach connection; NULL once closed */
        uv_connect_t *connect;   /* attach connect in flight */
        uv_shutdown_t *shutdown; /* stdin half-close in flight */
        uv_timer_t *timer;       /* delivers on_exit */
        unsigned open_handles;   /* struct freed when 0 after free() */
        strbuf head;             /* attach response head */
        bool attached;           /* the upgrade is done; the stream is the container's */
        strbuf pending;          /* stdin written before the attach */
        bool close_pending;      /* close_stdin() before the attach */
        int kill_pending;        /* signal asked for before the start */
        docker_demux dm;
        int pid;
        unsigned memory_mb;
        bool write_closed;
        bool exited;
        bool exit_called;
        bool freed;
        bool engine_lost;  /* the engine went away or failed us */
        const char *body;  /* during a reply callback: the raw body */
        char *auth;        /* X-Registry-Auth header line of the next call, or NULL */
        char *exit_reason; /* set when known better than the status */
        int exit_status;
        int term_signal;
        size_t queued;
        char buf[DOCKER_READ_BUF];
};

static void maybe_release(runtime_process *p)
{
        if (p->open_handles > 0 || !p->freed || p->req)
                return;
        free(p->socket);
        free(p->api);
        free(p->id);
        free(p->name);
        p->m = manifest_free(p->m);
        free(p->image);
        free(p->user);
        free(p->run_dir);
        free(p->root_label);
        strv_free(p->stale);
        free(p->auth);
        strbuf_done(&p->head);
        strbuf_done(&p->pending);
        free(p->exit_reason);
        free(p);
        engine_put();
}

static void on_handle_closed(uv_handle_t *h)
{
        runtime_process *p = h->data;

        free(h);
        p->open_handles--;
        maybe_release(p);
}

static void close_handle(uv_handle_t *h)
{
        if (h && !uv_is_closing(h))
                uv_close(h, on_handle_closed);
}

static void on_exit_timer(uv_timer_t *t)
{
        runtime_process *p = t->data;

        if (p->freed || p->exit_called)
                return;
        p->exit_called = true;
        if (p->cb.on_exit)
                p->cb.on_exit(p->ud, p->exit_status, p->term_signal);
}

/* The process is over (setup failed, or the container stopped): on_exit on
 * the next loop turn. */
static void finish(runtime_process *p, int status)
{
        p->exited = true;
        p->write_closed = true;
        p->step = S_ENDED;
        /* With Init the container's status is the init's, which reports a
         * signal death of the server as 128 + signal, as shells do. */
        if (status > 128 && status < 128 + 65) {
                p->exit_status = -1;
                p->term_signal = status - 128;
        } else {
                p->exit_status = status;
                p->term_signal = 0;
        }
        close_handle((uv_handle_t *)p->sock);
        p->sock = NULL;
        (void)uv_timer_start(p->timer, on_exit_timer, 0, 0);
}

/* Setup failed: why, and whether the engine is to blame. */
static void fail(runtime_process *p, const corral_error *err)
{
        int code = err->code;

        free(p->exit_reason);
        p->exit_reason = xasprintf("cannot start: %s", err->msg);
        p->engine_lost = code == EX_UNAVAILABLE || code == EX_TEMPFAIL;
        log_warn("%s: %s", p->name, p->exit_reason);
        finish(p, -1);
}

/* ---- Engine API calls on the loop --------------------------------------- */

typedef void (*reply_fn)(runtime_process *p, long status, cJSON *json, const corral_error *err);

typedef struct call {
        runtime_process *p; /* NULL: detached (a removal after free) */
        char *header;       /* one extra request header, or NULL */
        reply_fn fn;
        char *what;         /* "POST /containers/create", for messages */
        bool json;          /* parse the body */
        bool allow_404;     /* 404 is an answer, not an error */
} call;

static void on_reply(void *ud, const http_response *resp)
{
        call *c = ud;
        runtime_process *p = c->p;
        corral_error err = {0};
        _cleanup_json_ cJSON *j = NULL;

        if (p)
                p->req = NULL;
        if (resp->result < 0) {
                (void)corral_error_set(&err, resp->result == -EX_TEMPFAIL ? EX_TEMPFAIL
                                                                          : EX_UNAVAILABLE,
                                       "docker engine unavailable: %s: %s", c->what,
                                       resp->error ? resp->error : "no answer");
        } else if (resp->status >= 400 && !(c->allow_404 && resp->status == 404)) {
                _cleanup_json_ cJSON *e = cJSON_Parse(resp->body);
                const char *msg = json_get_string(e, "message");
                (void)corral_error_set(&err, docker_status_code(resp->status),
                                       "docker engine: %s: %.300s", c->what,
                                       msg ? msg : resp->body);
        } else if (c->json && resp->status < 300) {
                j = cJSON_ParseWithLength(resp->body, resp->body_len);
                if (!j)
                        (void)corral_error_set(&err, EX_DATAERR,
                                               "docker engine: %s: reply is not JSON", c->what);
        }
        if (p && c->fn && !p->freed) {
                p->body = resp->body;
                c->fn(p, resp->status, err.code ? NULL : j, err.code ? &err : NULL);
                p->body = NULL;
        }
        if (p)
                maybe_release(p);
        else
                engine_put();
        free(c->what);
        free(c->header);
        free(c);
}

/* Starts METHOD /vAPI/PATH (path already escaped; unversioned before the
 * version is known); fn gets the answer on a later loop turn. */
static int engine_call(runtime_process *p, http_client *http, const char *sock, const char *api,
                       const char *method, const char *path, const char *body,
                       unsigned timeout_ms, bool json, reply_fn fn, http_request **ret,
                       call **ret_call)
{
        const char *headers[] = {"Content-Type: application/json", p ? p->auth : NULL, NULL};
        _cleanup_free_ char *url = api ? xasprintf("http://docker/v%s%s", api, path)
                                       : xasprintf("http://docker%s", path);
        call *c = xcalloc(1, sizeof(*c));
        http_request_opts o = {
                .method = method,
                .url = url,
                .headers = headers,
                .body = body ? body : (strcmp(method, "POST") == 0 ? "" : NULL),
                .body_len = body ? strlen(body) : 0,
                .unix_socket = sock,
                .max_body = REPLY_MAX,
                .timeout_ms = timeout_ms,
                .on_done = on_reply,
                .userdata = c,
        };
        corral_error err = {0};
        int r;

        c->p = p;
        c->fn = fn;
        c->json = json;
        c->what = xasprintf("%s %s", method, path);
        if (p && p->auth) {
                free(p->auth);
                p->auth = NULL;
        }
        if (ret_call)
                *ret_call = c;
        r = http_request_start(http, &o, ret, &err);
        if (r < 0) {
                free(c->what);
                free(c);
                return r;
        }
        return 0;
}

static void call_step(runtime_process *p, const char *method, const char *path, const char *body,
                      unsigned timeout_ms, bool json, bool allow_404, reply_fn fn)
{
        call *c = NULL;

        if (engine_call(p, engine.http, p->socket, p->api, method, path, body, timeout_ms, json,
                        fn, &p->req, &c) < 0) {
                corral_error err = {0};
                (void)corral_error_set(&err, EX_SOFTWARE, "cannot start an Engine API call");
                fail(p, &err);
                return;
        }
        c->allow_404 = allow_404;
}

/* DELETE /containers/ID?force=1&v=1, owned by nobody: it completes after
 * the process is gone (a daemon shutting down runs the loop until the
 * client has nothing in flight). */
static void remove_detached(runtime_process *p, const char *id)
{
        _cleanup_free_ char *path = xasprintf("/containers/%s?force=1&v=1", id);

        if (!engine.http || !p->api)
                return;
        engine.users++;
        if (engine_call(NULL, engine.http, p->socket, p->api, "DELETE", path, NULL,
                        CALL_TIMEOUT_MS, false, NULL, NULL, NULL) < 0)
                engine_put();
}

/* ---- the attach stream ---------------------------------------------------- */

static void on_frame(void *ud, unsigned stream, const char *data, size_t n)
{
        runtime_process *p = ud;

        if (stream == 1 && p->cb.on_stdout)
                p->cb.on_stdout(p->ud, data, n);
        else if (stream == 2 && p->cb.on_stderr)
                p->cb.on_stderr(p->ud, data, n);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        runtime_process *p = h->data;

        *buf = uv_buf_init(p->buf, sizeof(p->buf));
}

static void stream_ended(runtime_process *p);
static void attached(runtime_process *p, const char *rest, size_t n);

/* The attach response head, then the multiplexed stream. */
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
        runtime_process *p = s->data;
        corral_error err = {0};

        if (p->freed)
                return;
        if (nread > 0 && !p->attached) {
                char *end;
                unsigned status = 0;

                if (strbuf_append(&p->head, buf->base, (size_t)nread) < 0) {
                        (void)corral_error_set(&err, EX_DATAERR,
                                               "docker engine: attach response head too large");
                        fail(p, &err);
                        return;
                }
                end = memmem(p->head.buf, p->head.len, "\r\n\r\n", 4);
                if (!end)
                        return;
                if (sscanf(p->head.buf, "HTTP/1.%*[01] %3u", &status) != 1 ||
                    (status != 101 && status != 200)) {
                        (void)corral_error_set(&err, status >= 500 ? EX_UNAVAILABLE : EX_SOFTWARE,
                                               "docker engine: attach: %.*s", 100,
                                               p->head.buf);
                        fail(p, &err);
                        return;
                }
                p->attached = true;
                {
                        size_t off = (size_t)(end + 4 - p->head.buf);
                        attached(p, p->head.buf + off, p->head.len - off);
                }
                return;
        }
        if (nread > 0) {
                if (docker_demux_feed(&p->dm, buf->base, (size_t)nread, on_frame, p) == 0)
                        return;
                log_warn("%s: container %.12s: bad stream header; killing it", p->name, p->id);
                if (p->id) {
                        _cleanup_free_ char *path =
                                xasprintf("/containers/%s/kill?signal=%d", p->id, SIGKILL);
                        engine.users++;
                        if (engine_call(NULL, engine.http, p->socket, p->api, "POST", path, NULL,
                                        CALL_TIMEOUT_MS, false, NULL, NULL, NULL) < 0)
                                engine_put();
                }
        } else if (nread == 0) {
                return;
        }
        close_handle((uv_handle_t *)s);
        p->sock = NULL;
        if (!p->attached) {
                (void)corral_error_set(&err, EX_UNAVAILABLE,
                                       "docker engine unavailable: attach connection closed");
                fail(p, &err);
                return;
        }
        stream_ended(p);
}

static void on_written(void *owner, int status)
{
        runtime_process *p = owner;

        if (status < 0)
                p->write_closed = true;
}

static void on_attach_connected(uv_connect_t *req, int status)
{
        runtime_process *p = req->data;
        corral_error err = {0};
        _cleanup_free_ char *head = NULL;

        free(req);
        p->connect = NULL;
        p->open_handles--;
        if (p->freed) {
                maybe_release(p);
                return;
        }
        if (status < 0) {
                (void)corral_error_set(&err, EX_UNAVAILABLE,
                                       "docker engine unavailable: cannot attach through %s: %s",
                                       p->socket, uv_strerror(status));
                fail(p, &err);
                return;
        }
        head = xasprintf("POST /v%s/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1 "
                         "HTTP/1.1\r\nHost: docker\r\nContent-Type: text/plain\r\n"
                         "Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
                         p->api, p->id);
        if (uvwrite_send((uv_stream_t *)p->sock, &p->queued, DOCKER_STDIN_MAX, head, strlen(head),
                         on_written, p) < 0 ||
            uv_read_start((uv_stream_t *)p->sock, on_alloc, on_read) < 0) {
                (void)corral_error_set(&err, EX_UNAVAILABLE,
                                       "docker engine unavailable: cannot attach through %s",
                                       p->socket);
                fail(p, &err);
        }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
        runtime_process *p = req->data;

        p->shutdown = NULL;
        free(req);
        p->open_handles--;
        maybe_release(p);
}

/* Half-close: the engine closes the container's stdin (StdinOnce) and keeps
 * streaming its output until it exits. */
static void shutdown_stdin(runtime_process *p)
{
        p->shutdown = xcalloc(1, sizeof(*p->shutdown));
        p->shutdown->data = p;
        if (uv_shutdown(p->shutdown, (uv_stream_t *)p->sock, on_shutdown) < 0) {
                free(p->shutdown);
                p->shutdown = NULL;
                return;
        }
        p->open_handles++;
}

/* ---- the steps ------------------------------------------------------------ */

static void step_create(runtime_process *p);
static void step_image(runtime_process *p, step s);

static void after_list(runtime_process *p, long status, cJSON *list, const corral_error *err);

static void after_version(runtime_process *p, long status, cJSON *v, const corral_error *err)
{
        const char *api = json_get_string(v, "ApiVersion");
        unsigned major = 0, minor = 0;
        corral_error e = {0};

        if (err) {
                fail(p, err);
                return;
        }
        if (!api || sscanf(api, "%u.%u", &major, &minor) != 2 ||
            major * 100 + minor < 141) {
                (void)corral_error_set(&e, EX_UNAVAILABLE,
                                       "docker engine unavailable: API %s is older than %s",
                                       api ? api : "(none)", DOCKER_API_MIN);
                fail(p, &e);
                return;
        }
        if (major * 100 + minor > 145)
                major = 1, minor = 45;
        p->api = xasprintf("%u.%u", major, minor);
        p->podman = docker_version_is_podman(v);
        {
                _cleanup_free_ char *l1 = xasprintf("%s=%s", DOCKER_LABEL_SERVER, p->name);
                _cleanup_free_ char *l2 = xasprintf("%s=%s", DOCKER_LABEL_ROOT, p->root_label);
                _cleanup_json_ cJSON *f = cJSON_CreateObject();
                cJSON *labels = cJSON_AddArrayToObject(f, "label");
                _cleanup_free_ char *text = NULL, *esc = NULL, *path = NULL;
                cJSON_AddItemToArray(labels, cJSON_CreateString(l1));
                cJSON_AddItemToArray(labels, cJSON_CreateString(l2));
                text = cJSON_PrintUnformatted(f);
                esc = docker_url_escape(text);
                path = xasprintf("/containers/json?all=1&filters=%s", esc);
                p->step = S_LIST;
                call_step(p, "GET", path, NULL, CALL_TIMEOUT_MS, true, false, after_list);
        }
}

static void remove_next_stale(runtime_process *p, long status, cJSON *j, const corral_error *err)
{
        if (err && err->code != EX_NOINPUT)
                log_warn("%s: cannot remove container %.12s: %s", p->name,
                         p->stale[p->stale_i - 1], err->msg);
        if (p->stale && p->stale[p->stale_i]) {
                _cleanup_free_ char *path =
                        xasprintf("/containers/%s?force=1&v=1", p->stale[p->stale_i++]);
                call_step(p, "DELETE", path, NULL, CALL_TIMEOUT_MS, false, true, remove_next_stale);
                return;
        }
        step_image(p, S_IMAGE);
}

static void after_list(runtime_process *p, long status, cJSON *list, const corral_error *err)
{
        const cJSON *c, *all = err ? NULL : list;

        /* A listing that fails only leaves the stale ones for later. */
        cJSON_ArrayForEach(c, all)
        {
                const char *id = json_get_string(c, "Id");
                if (id)
                        p->stale = strv_push(p->stale, id);
        }
        p->stale_i = 0;
        p->step = S_REMOVE_STALE;
        remove_next_stale(p, 0, NULL, NULL);
}

static void after_pull(runtime_process *p, long status, cJSON *j, const corral_error *err);

static void after_image(runtime_process *p, long status, cJSON *info, const corral_error *err)
{
        const char *user;

        if (err) {
                fail(p, err);
                return;
        }
        if (status == 404 && p->step == S_IMAGE) {
                /* Pruned since the install: fetch the pinned image again. */
                _cleanup_(docker_ref_done) docker_ref ref = {0};
                corral_error e = {0};
                _cleanup_free_ char *name = NULL, *ename = NULL, *etag = NULL, *path = NULL;
                if (docker_ref_parse(&ref, p->image, &e) < 0) {
                        fail(p, &e);
                        return;
                }
                name = docker_ref_name(&ref);
                ename = docker_url_escape(name);
                etag = docker_url_escape(ref.digest ? ref.digest : ref.tag);
                path = xasprintf("/images/create?fromImage=%s&tag=%s", ename, etag);
                {
                        _cleanup_free_ char *auth = NULL;
                        if (docker_registry_auth(ref.registry, &auth, &e) < 0) {
                                fail(p, &e);
                                return;
                        }
                        if (auth)
                                p->auth = xasprintf("X-Registry-Auth: %s", auth);
                }
                p->step = S_PULL;
                call_step(p, "POST", path, NULL, PULL_TIMEOUT_MS, false, false, after_pull);
                return;
        }
        if (status == 404) {
                corral_error e = {0};
                (void)corral_error_set(&e, EX_NOINPUT, "image %s is not in the engine", p->image);
                fail(p, &e);
                return;
        }
        user = json_get_string(json_get_object(info, "Config"), "User");
        p->user = user && *user ? xstrdup(user) : NULL;
        step_create(p);
}

static void after_pull(runtime_process *p, long status, cJSON *j, const corral_error *err)
{
        const char *e = p->body ? strstr(p->body, "\"error\"") : NULL;

        if (err) {
                fail(p, err);
                return;
        }
        if (e) {
                /* An error message in the progress stream fails the pull. */
                corral_error pe = {0};
                const char *nl = strchr(e, '\n');
                (void)corral_error_set(&pe, EX_UNAVAILABLE, "docker engine: pull of %s: %.*s",
                                       p->image, (int)(nl ? nl - e : 200), e);
                fail(p, &pe);
                return;
        }
        step_image(p, S_IMAGE_AGAIN);
}

static void step_image(runtime_process *p, step s)
{
        _cleanup_free_ char *esc = docker_url_escape(p->image);
        _cleanup_free_ char *path = xasprintf("/images/%s/json", esc);

        p->step = s;
        call_step(p, "GET", path, NULL, CALL_TIMEOUT_MS, true, true, after_image);
}

static void after_create(runtime_process *p, long status, cJSON *j, const corral_error *err)
{
        const char *id = json_get_string(j, "Id");
        corral_error e = {0};

        if (err || !id) {
                if (!err)
                        (void)corral_error_set(&e, EX_DATAERR,
                                               "docker engine: container create: no Id");
                fail(p, err ? err : &e);
                return;
        }
        p->id = xstrdup(id);
        /* Attached before the start so that no output is lost. */
        p->step = S_ATTACH;
        p->sock = xcalloc(1, sizeof(*p->sock));
        (void)uv_pipe_init(p->loop, p->sock, 0);
        p->sock->data = p;
        p->open_handles++;
        p->connect = xcalloc(1, sizeof(*p->connect));
        p->connect->data = p;
        p->open_handles++;
        uv_pipe_connect(p->connect, p->sock, p->socket, on_attach_connected);
}

static void step_create(runtime_process *p)
{
        _cleanup_json_ cJSON *config =
                docker_container_config(p->m, p->image, p->user, p->root_label);
        _cleanup_free_ char *body = NULL, *path = NULL;
        unsigned char rnd[4] = {0};

        if (p->podman) {
                _cleanup_free_ char *dir = path_join(p->run_dir, "seccomp");
                corral_error err = {0};
                if (docker_config_seccomp_file(config, dir, &err) < 0) {
                        fail(p, &err);
                        return;
                }
        }
        body = cJSON_PrintUnformatted(config);
        (void)!getrandom(rnd, sizeof(rnd), GRND_NONBLOCK);
        path = xasprintf("/containers/create?name=corral-%s-%02x%02x%02x%02x", p->name, rnd[0],
                         rnd[1], rnd[2], rnd[3]);
        p->step = S_CREATE;
        call_step(p, "POST", path, body, CALL_TIMEOUT_MS, true, false, after_create);
}

static void after_inspect(runtime_process *p, long status, cJSON *info, const corral_error *err)
{
        p->step = S_RUNNING;
        if (!err)
                p->pid = (int)json_get_number(json_get_object(info, "State"), "Pid", 0);
        if (p->kill_pending) {
                _cleanup_free_ char *path =
                        xasprintf("/containers/%s/kill?signal=%d", p->id, p->kill_pending);
                engine.users++;
                if (engine_call(NULL, engine.http, p->socket, p->api, "POST", path, NULL,
                                CALL_TIMEOUT_MS, false, NULL, NULL, NULL) < 0)
                        engine_put();
        }
}

static void after_start(runtime_process *p, long status, cJSON *j, const corral_error *err)
{
        _cleanup_free_ char *path = NULL;

        if (err) {
                fail(p, err);
                return;
        }
        path = xasprintf("/containers/%s/json", p->id);
        p->step = S_INSPECT;
        call_step(p, "GET", path, NULL, CALL_TIMEOUT_MS, true, false, after_inspect);
}

/* The upgrade is done: queued stdin goes out, early output is read, and the
 * container starts. */
static void attached(runtime_process *p, const char *rest, size_t n)
{
        _cleanup_free_ char *path = xasprintf("/containers/%s/start", p->id);

        if (n > 0 && docker_demux_feed(&p->dm, rest, n, on_frame, p) < 0)
                log_warn("%s: bad stream header in the attach response", p->name);
        if (p->pending.len > 0)
                (void)uvwrite_send((uv_stream_t *)p->sock, &p->queued, DOCKER_STDIN_MAX,
                                   p->pending.buf, p->pending.len, on_written, p);
        strbuf_done(&p->pending);
        if (p->close_pending)
                shutdown_stdin(p);
        p->step = S_START;
        call_step(p, "POST", path, NULL, CALL_TIMEOUT_MS, false, false, after_start);
}

/* ---- the end ------------------------------------------------------------- */

static void after_oom(runtime_process *p, long status, cJSON *info, const corral_error *err)
{
        /* The engine records the OOM kill of a process in the container's
         * memory cgroup, as the native launcher reports it. */
        if (!err && json_get_bool(json_get_object(info, "State"), "OOMKilled", false))
                p->exit_reason = xasprintf("killed by the OOM killer (memory limit %u MiB)",
                                           p->memory_mb);
        finish(p, p->exit_status);
}

static void after_ping(runtime_process *p, long status, cJSON *j, const corral_error *err)
{
        _cleanup_free_ char *path = NULL;

        if (err) {
                p->engine_lost = true;
                free(p->exit_reason);
                p->exit_reason = xstrdup(err->code == EX_UNAVAILABLE
                                                 ? err->msg
                                                 : "docker engine unavailable: it does not "
                                                   "answer a ping");
                log_warn("%s: container %.12s: %s", p->name, p->id, p->exit_reason);
                finish(p, p->exit_status);
                return;
        }
        if (p->exit_status == -1) {
                finish(p, -1);
                return;
        }
        path = xasprintf("/containers/%s/json", p->id);
        p->step = S_OOM;
        call_step(p, "GET", path, NULL, CALL_TIMEOUT_MS, true, false, after_oom);
}

static void after_wait(runtime_process *p, long status, cJSON *j, const corral_error *err)
{
        p->exit_status = err ? -1 : (int)json_get_number(j, "StatusCode", -1);
        if (err)
                log_warn("%s: container %.12s: %s", p->name, p->id, err->msg);
        /* A container that merely stopped leaves an engine that answers,
         * even when its wait call failed. */
        p->step = S_PING;
        call_step(p, "GET", "/_ping", NULL, CALL_TIMEOUT_MS, false, false, after_ping);
}

/* The stream ended: the container stopped, or the engine went away. */
static void stream_ended(runtime_process *p)
{
        _cleanup_free_ char *path = xasprintf("/containers/%s/wait?condition=not-running", p->id);

        if (p->exited || p->step >= S_WAIT)
                return;
        p->write_closed = true;
        if (p->req) {
                http_request_cancel(p->req);
                p->req = NULL;
        }
        p->step = S_WAIT;
        call_step(p, "POST", path, NULL, WAIT_TIMEOUT_MS, true, false, after_wait);
}

/* ---- the backend interface ----------------------------------------------- */

static int docker_write(runtime_process *p, const char *data, size_t n)
{
        int r;

        if (!p || p->freed || p->write_closed)
                return -1;
        if (!p->attached) {
                if (p->close_pending || strbuf_append(&p->pending, data, n) < 0)
                        return -1;
                return 0;
        }
        if (!p->sock)
                return -1;
        r = uvwrite_send((uv_stream_t *)p->sock, &p->queued, DOCKER_STDIN_MAX, data, n, on_written,
                         p);
        if (r < 0 && r != -ENOBUFS)
                p->write_closed = true;
        return r < 0 ? -1 : 0;
}

static void docker_close_stdin(runtime_process *p)
{
        if (!p || p->write_closed)
                return;
        if (!p->attached) {
                p->close_pending = true;
                return;
        }
        if (!p->sock)
                return;
        p->write_closed = true;
        shutdown_stdin(p);
}

static int docker_kill(runtime_process *p, int sig)
{
        _cleanup_free_ char *path = NULL;

        if (!p || p->exited)
                return -ESRCH;
        if (p->step < S_INSPECT) {
                /* Not started yet: a SIGKILL or SIGTERM ends the setup. */
                if (sig == SIGKILL || sig == SIGTERM) {
                        corral_error err = {0};
                        if (p->req) {
                                http_request_cancel(p->req);
                                p->req = NULL;
                        }
                        if (p->id)
                                remove_detached(p, p->id);
                        free(p->id);
                        p->id = NULL;
                        (void)corral_error_set(&err, EX_SOFTWARE, "stopped while starting");
                        free(p->exit_reason);
                        p->exit_reason = xstrdup("stopped while starting");
                        finish(p, 128 + sig);
                        return 0;
                }
                p->kill_pending = sig;
                return 0;
        }
        path = xasprintf("/containers/%s/kill?signal=%d", p->id, sig);
        engine.users++;
        if (engine_call(NULL, engine.http, p->socket, p->api, "POST", path, NULL, CALL_TIMEOUT_MS,
                        false, NULL, NULL, NULL) < 0) {
                engine_put();
                return -EIO;
        }
        return 0;
}

static int docker_pid(const runtime_process *p)
{
        return p && !p->exited ? p->pid : 0;
}

static runtime_process *docker_proc_free(runtime_process *p)
{
        if (!p)
                return NULL;
        p->freed = true;
        if (p->req) {
                http_request_cancel(p->req);
                p->req = NULL;
        }
        /* Force removal kills a container that still runs.  With the engine
         * gone it would only fail: the next start removes what is left. */
        if (p->id && !p->engine_lost)
                remove_detached(p, p->id);
        p->exited = true;
        close_handle((uv_handle_t *)p->sock);
        p->sock = NULL;
        close_handle((uv_handle_t *)p->timer);
        maybe_release(p);
        return NULL;
}

/* The image a start runs: the pinned digest when the install recorded one. */
static int manifest_image(const manifest *m, char **ret, corral_error *err)
{
        _cleanup_(docker_ref_done) docker_ref ref = {0};
        const char *spec = m->spec ? m->spec : "";
        int r;

        /* Built from a git source's Dockerfile: the image id the build gave. */
        if (m->kind && strcmp(m->kind, "git") == 0) {
                if (!m->resolved_digest)
                        return corral_error_set(err, EX_DATAERR,
                                                "cannot start %s: no image id in its manifest",
                                                m->name);
                *ret = xstrdup(m->resolved_digest);
                return 0;
        }
        if (strncmp(spec, "docker:", 7) == 0)
                spec += 7;
        r = docker_ref_parse(&ref, spec, err);
        if (r < 0) {
                corral_error_prefix(err, "cannot start %s", m->name);
                return -EX_DATAERR;
        }
        if (m->resolved_digest)
                *ret = docker_ref_pinned(&ref, m->resolved_digest);
        else
                *ret = docker_ref_tagged(&ref);
        return 0;
}

static int docker_start(uv_loop_t *loop, const manifest *m, const corral_paths *paths,
                        const runtime_callbacks *cb, void *ud, runtime_process **ret,
                        corral_error *err)
{
        _cleanup_free_ char *image = NULL, *sock = NULL;
        _cleanup_free_ char *json = NULL;
        runtime_process *p;
        int r;

        if (!m || !m->name || !m->command || !m->command[0])
                return corral_error_set(err, EX_DATAERR, "cannot start server: empty command");
        r = manifest_image(m, &image, err);
        if (r < 0)
                return r;
        r = docker_socket_resolve(&sock, err);
        if (r < 0)
                return r;
        if (!engine_get(loop))
                return corral_error_set(err, EX_SOFTWARE,
                                        "cannot start %s: no Engine API client on this loop",
                                        m->name);
        json = manifest_format(m);
        p = xcalloc(1, sizeof(*p));
        p->loop = loop;
        p->socket = steal_pointer(&sock);
        p->name = xstrdup(m->name);
        if (manifest_parse(&p->m, json, strlen(json), err) < 0) {
                p->freed = true;
                maybe_release(p);
                return -EX_SOFTWARE;
        }
        p->image = steal_pointer(&image);
        p->run_dir = xstrdup(paths->run);
        p->root_label = xstrdup(paths->servers);
        p->memory_mb = m->memory_mb;
        p->cb = *cb;
        p->ud = ud;
        p->head = STRBUF_INIT(ATTACH_HEAD_MAX);
        p->pending = STRBUF_INIT(DOCKER_STDIN_MAX);
        docker_demux_init(&p->dm);
        p->timer = xcalloc(1, sizeof(*p->timer));
        (void)uv_timer_init(loop, p->timer);
        p->timer->data = p;
        p->open_handles = 1;
        p->step = S_VERSION;
        call_step(p, "GET", "/version", NULL, CALL_TIMEOUT_MS, true, false, after_version);
        *ret = p;
        return 0;
}

static const char *docker_exit_reason(const runtime_process *p)
{
        return p ? p->exit_reason : NULL;
}

static bool docker_service_lost(const runtime_process *p)
{
        return p && p->engine_lost;
}

size_t runtime_docker_pending(void)
{
        return engine.http ? http_client_pending(engine.http) : 0;
}

const runtime_backend runtime_docker = {
        .name = "docker",
        .confines = true,
        .start = docker_start,
        .write = docker_write,
        .close_stdin = docker_close_stdin,
        .kill = docker_kill,
        .pid = docker_pid,
        .free = docker_proc_free,
        .exit_reason = docker_exit_reason,
        .service_lost = docker_service_lost,
};
