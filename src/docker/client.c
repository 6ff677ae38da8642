/* Engine API calls over the unix socket with libcurl (Engine API v1.41).
 * Every call is blocking with its own timeout: the resolver and the CLI run
 * them directly, the docker runtime backend runs the short ones (create,
 * start, kill, wait on an exited container, remove) on the daemon's loop and
 * keeps the long-lived stdio stream (attach.c) on the loop itself. */
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "docker/internal.h"

#define RESP_MAX (16u << 20)       /* a JSON reply (inspect, list) */
#define LINE_MAX_BYTES (1u << 20)  /* one line of a progress or event stream */
#define ERRMSG_MAX 300             /* engine message quoted in an error */
#define CONNECT_TIMEOUT_MS 5000u
#define VERSION_TIMEOUT_MS 30000u /* a loaded Podman took over 10 s to answer it */
#define SHORT_TIMEOUT_MS 30000u
#define CONFIG_MAX (1u << 20)      /* ~/.docker/config.json */

struct docker {
        char *socket;
        char *api; /* negotiated, "1.41" */
        bool podman;
};

static bool curl_ready;

static void ensure_curl(void)
{
        if (!curl_ready) {
                (void)curl_global_init(CURL_GLOBAL_DEFAULT);
                curl_ready = true;
        }
}

/* ---- one request -------------------------------------------------------- */

typedef struct request {
        const char *method;
        const char *path;       /* absolute path with query, already escaped */
        bool versioned;         /* prefix /vX.Y */
        const char *body;       /* JSON or NULL */
        const char *auth;       /* X-Registry-Auth or NULL */
        unsigned timeout_ms;    /* 0: none */
        /* Streaming: called per line of the body; false stops the transfer. */
        bool (*line)(void *ud, const char *line, size_t n);
        void *ud;
        /* Raw body consumer instead of resp (logs). */
        size_t (*raw)(void *ud, const char *data, size_t n);
} request;

typedef struct transfer {
        const request *rq;
        strbuf resp;
        strbuf line;
        bool overflow;
        bool stopped;
} transfer;

static bool transfer_lines(transfer *t, bool final)
{
        if (docker_json_lines(&t->line, final, t->rq->line, t->rq->ud))
                return true;
        t->stopped = true;
        return false;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
        transfer *t = ud;
        size_t n = size * nmemb;

        if (t->rq->raw)
                return t->rq->raw(t->rq->ud, data, n);
        if (t->rq->line) {
                if (strbuf_append(&t->line, data, n) < 0) {
                        t->overflow = true;
                        return 0;
                }
                return transfer_lines(t, false) ? n : 0;
        }
        if (strbuf_append(&t->resp, data, n) < 0) {
                t->overflow = true;
                return 0;
        }
        return n;
}

/* The engine's {"message": …} or the body itself, trimmed and capped. */
static char *engine_message(const char *body)
{
        _cleanup_json_ cJSON *j = body ? cJSON_Parse(body) : NULL;
        const char *msg = json_get_string(j, "message");
        char *s;
        size_t n;

        if (!msg)
                msg = body && *body ? body : "no message";
        s = xstrndup(msg, ERRMSG_MAX);
        n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = '\0';
        for (char *p = s; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        return s;
}

int docker_status_code(long status)
{
        if (status == 404)
                return EX_NOINPUT;
        if (status >= 500)
                return EX_UNAVAILABLE;
        return EX_SOFTWARE;
}

/* Why a connection to the socket fails (curl only says that it did), or 0. */
static int connect_errno(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd, e = 0;

        if (strlen(path) >= sizeof(sa.sun_path))
                return ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                e = errno;
        (void)close(fd);
        return e;
}

/* Performs rq; *ret_status gets the HTTP status and *ret_body (optional) the
 * response body (owned) for non-streaming requests.  HTTP errors (>= 400)
 * are turned into err unless ret_status is given and allow_errors. */
static int perform(docker *d, const request *rq, long *ret_status, char **ret_body,
                   bool allow_errors, corral_error *err)
{
        _cleanup_free_ char *url = NULL;
        char curl_err[CURL_ERROR_SIZE] = "";
        struct curl_slist *hdrs = NULL;
        transfer t = {.rq = rq, .resp = STRBUF_INIT(RESP_MAX), .line = STRBUF_INIT(LINE_MAX_BYTES)};
        long status = 0;
        CURLcode rc;
        CURL *c;
        int r = 0;

        ensure_curl();
        c = curl_easy_init();
        if (!c)
                return corral_error_set(err, EX_OSERR, "docker: cannot create a curl handle");
        url = rq->versioned ? xasprintf("http://docker/v%s%s", d->api, rq->path)
                            : xasprintf("http://docker%s", rq->path);
        (void)curl_easy_setopt(c, CURLOPT_URL, url);
        (void)curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, d->socket);
        (void)curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
        (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
        (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
        if (rq->timeout_ms)
                (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
        (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
        (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        if (rq->auth) {
                _cleanup_free_ char *h = xasprintf("X-Registry-Auth: %s", rq->auth);
                hdrs = curl_slist_append(hdrs, h);
        }
        (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        if (rq->body) {
                (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
                (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(rq->body));
        } else if (strcmp(rq->method, "POST") == 0) {
                (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
                (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
        }

        rc = curl_easy_perform(c);
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (rc == CURLE_OK && rq->line && !t.stopped)
                (void)transfer_lines(&t, true);
        if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t.stopped)) {
                if (t.overflow)
                        r = corral_error_set(err, EX_DATAERR,
                                             "docker engine: %s %s: reply larger than %u bytes",
                                             rq->method, rq->path,
                                             rq->line ? LINE_MAX_BYTES : RESP_MAX);
                else if (rc == CURLE_OPERATION_TIMEDOUT && status != 0)
                        r = corral_error_set(err, EX_TEMPFAIL,
                                             "docker engine: %s %s: timed out after %u ms",
                                             rq->method, rq->path, rq->timeout_ms);
                else if (rc == CURLE_COULDNT_CONNECT && connect_errno(d->socket) > 0)
                        r = corral_error_errno(err, EX_UNAVAILABLE, connect_errno(d->socket),
                                               "docker engine unavailable: cannot connect to %s",
                                               d->socket);
                else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
                         status == 0)
                        r = corral_error_set(err, EX_UNAVAILABLE,
                                             "docker engine unavailable: cannot talk to %s: %s",
                                             d->socket, curl_err[0] ? curl_err
                                                                    : curl_easy_strerror(rc));
                else
                        r = corral_error_set(err, EX_UNAVAILABLE,
                                             "docker engine unavailable: %s %s: %s", rq->method,
                                             rq->path,
                                             curl_err[0] ? curl_err : curl_easy_strerror(rc));
                goto out;
        }
        if (status >= 400 && !allow_errors) {
                _cleanup_free_ char *msg = engine_message(t.resp.buf);
                r = corral_error_set(err, docker_status_code(status), "docker engine: %s",
                                     msg);
                goto out;
        }
        if (ret_status)
                *ret_status = status;
        if (ret_body)
                *ret_body = strbuf_steal(&t.resp);
out:
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(c);
        strbuf_done(&t.resp);
        strbuf_done(&t.line);
        return r;
}

static int call_json(docker *d, const char *method, const char *path, const char *body,
                     unsigned timeout_ms, cJSON **ret, corral_error *err)
{
        _cleanup_free_ char *resp = NULL;
        request rq = {.method = method, .path = path, .versioned = true, .body = body,
                      .timeout_ms = timeout_ms};
        int r = perform(d, &rq, NULL, &resp, false, err);

        if (r < 0)
                return r;
        if (!ret)
                return 0;
        *ret = cJSON_Parse(resp);
        if (!*ret)
                return corral_error_set(err, EX_DATAERR, "docker engine: %s %s: reply is not JSON",
                                        method, path);
        return 0;
}

static char *escape(const char *s);

char *docker_url_escape(const char *s)
{
        return escape(s);
}

static char *escape(const char *s)
{
        char *e, *r;

        ensure_curl();
        e = curl_easy_escape(NULL, s, 0);
        if (!e)
                abort();
        r = xstrdup(e);
        curl_free(e);
        return r;
}

/* Container ids and names come from us or the engine, but still go into a
 * URL path: only the characters of ids and names are let through. */
static int check_id(const char *id, corral_error *err)
{
        size_t n = id ? strlen(id) : 0;

        if (n == 0 || n > 128)
                return corral_error_set(err, EX_SOFTWARE, "docker: invalid container id");
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)id[i]) && !strchr("_.-", id[i]))
                        return corral_error_set(err, EX_SOFTWARE,
                                                "docker: invalid container id '%.64s'", id);
        return 0;
}

/* ---- connection and version --------------------------------------------- */

/* "1.41" → 141 (minor < 100). */
static int api_number(const char *v)
{
        unsigned major = 0, minor = 0;

        if (!v || sscanf(v, "%u.%u", &major, &minor) != 2 || minor >= 100 || major > 100)
                return -1;
        return (int)(major * 100 + minor);
}

docker *docker_free(docker *d)
{
        if (!d)
                return NULL;
        free(d->socket);
        free(d->api);
        free(d);
        return NULL;
}

/* Podman's compat /version lists a "Podman Engine" component. */
static bool is_podman(const cJSON *version)
{
        const cJSON *c;

        cJSON_ArrayForEach(c, cJSON_GetObjectItem(version, "Components"))
        {
                const char *name = json_get_string(c, "Name");
                if (name && strstr(name, "Podman"))
                        return true;
        }
        return false;
}

/* The engine socket: $DOCKER_HOST, else $CONTAINER_HOST (Podman's name for
 * it), else the first of Docker's default socket, rootful Podman's and the
 * caller's rootless Podman's that exists. */
static const char *engine_host(char *buf, size_t n)
{
        const char *host = getenv("DOCKER_HOST");
        const char *rt = getenv("XDG_RUNTIME_DIR");

        if (host && *host)
                return host;
        host = getenv("CONTAINER_HOST");
        if (host && *host)
                return host;
        if (path_exists(DOCKER_DEFAULT_SOCKET))
                return NULL;
        if (path_exists(PODMAN_ROOTFUL_SOCKET)) {
                snprintf(buf, n, "unix://%s", PODMAN_ROOTFUL_SOCKET);
                return buf;
        }
        if (rt && rt[0] == '/') {
                _cleanup_free_ char *p = xasprintf("%s/podman/podman.sock", rt);
                if (path_exists(p) && (size_t)snprintf(buf, n, "unix://%s", p) < n)
                        return buf;
        }
        return NULL;
}

bool docker_is_podman(const docker *d)
{
        return d && d->podman;
}

int docker_socket_resolve(char **ret, corral_error *err)
{
        char found[4200];
        const char *host = engine_host(found, sizeof(found));

        if (host && *host && strncmp(host, "unix://", 7) != 0)
                return corral_error_set(err, EX_CONFIG,
                                        "DOCKER_HOST=%.200s: only unix:// sockets are supported",
                                        host);
        if (host && *host && host[7] != '/')
                return corral_error_set(err, EX_CONFIG,
                                        "DOCKER_HOST=%.200s: the socket path must be absolute",
                                        host);
        *ret = xstrdup(host && *host ? host + 7 : DOCKER_DEFAULT_SOCKET);
        return 0;
}

bool docker_version_is_podman(const cJSON *version)
{
        return is_podman(version);
}

int docker_open(docker **ret, corral_error *err)
{
        char found[4200];
        const char *host = engine_host(found, sizeof(found));
        _cleanup_json_ cJSON *v = NULL;
        _cleanup_free_ char *resp = NULL;
        docker *d;
        int r, server, lo = api_number(DOCKER_API_MIN), hi = api_number(DOCKER_API_MAX);
        request rq = {.method = "GET", .path = "/version", .timeout_ms = VERSION_TIMEOUT_MS};

        if (host && *host && strncmp(host, "unix://", 7) != 0)
                return corral_error_set(err, EX_CONFIG,
                                        "DOCKER_HOST=%.200s: only unix:// sockets are supported",
                                        host);
        if (host && *host && host[7] != '/')
                return corral_error_set(err, EX_CONFIG,
                                        "DOCKER_HOST=%.200s: the socket path must be absolute",
                                        host);
        d = xcalloc(1, sizeof(*d));
        d->socket = xstrdup(host && *host ? host + 7 : DOCKER_DEFAULT_SOCKET);
        r = perform(d, &rq, NULL, &resp, false, err);
        if (r < 0) {
                docker_free(d);
                return r;
        }
        v = cJSON_Parse(resp);
        server = api_number(json_get_string(v, "ApiVersion"));
        if (server < 0) {
                docker_free(d);
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "docker engine unavailable: /version gives no ApiVersion");
        }
        if (server < lo) {
                r = corral_error_set(err, EX_UNAVAILABLE,
                                     "docker engine unavailable: API %s is older than %s",
                                     json_get_string(v, "ApiVersion"), DOCKER_API_MIN);
                docker_free(d);
                return r;
        }
        if (server > hi)
                server = hi;
        d->api = xasprintf("%d.%d", server / 100, server % 100);
        d->podman = is_podman(v);
        *ret = d;
        return 0;
}

const char *docker_socket_path(const docker *d)
{
        return d->socket;
}

const char *docker_api_version(const docker *d)
{
        return d->api;
}

int docker_ping(docker *d, corral_error *err)
{
        request rq = {.method = "GET", .path = "/_ping", .versioned = true,
                      .timeout_ms = SHORT_TIMEOUT_MS};
        _cleanup_free_ char *resp = NULL;

        return perform(d, &rq, NULL, &resp, false, err);
}

int docker_version(docker *d, cJSON **ret, corral_error *err)
{
        return call_json(d, "GET", "/version", NULL, SHORT_TIMEOUT_MS, ret, err);
}

int docker_info(docker *d, cJSON **ret, corral_error *err)
{
        return call_json(d, "GET", "/info", NULL, SHORT_TIMEOUT_MS, ret, err);
}

/* ---- images -------------------------------------------------------------- */

int docker_image_inspect(docker *d, const char *ref, cJSON **ret, corral_error *err)
{
        /* The reference is a path segment: '/' stays as it is (the engine's
         * router takes the rest of the path as the name). */
        _cleanup_free_ char *esc = escape(ref), *path = NULL;
        char *p, *q;

        for (p = q = esc; *p; p++) {
                if (strncmp(p, "%2F", 3) == 0) {
                        *q++ = '/';
                        p += 2;
                } else {
                        *q++ = *p;
                }
        }
        *q = '\0';
        path = xasprintf("/images/%s/json", esc);
        return call_json(d, "GET", path, NULL, SHORT_TIMEOUT_MS, ret, err);
}

typedef struct pull_state {
        docker_progress_fn progress;
        void *ud;
        char *error;
} pull_state;

static bool on_pull_line(void *ud, const char *line, size_t n)
{
        pull_state *ps = ud;
        cJSON *msg = NULL;
        char *e = NULL;
        int r = docker_pull_message(line, n, ERRMSG_MAX, &msg, &e);

        if (r < 0) {
                free(ps->error);
                ps->error = e;
                return false;
        }
        if (r > 0 && ps->progress)
                ps->progress(ps->ud, msg);
        cJSON_Delete(msg);
        return true;
}

static bool says_not_found(const char *msg)
{
        static const char *const phrases[] = {"not found", "manifest unknown", "does not exist",
                                              "repository name not known", "no such"};

        for (size_t i = 0; i < ARRAY_SIZE(phrases); i++)
                if (strcasestr(msg, phrases[i]))
                        return true;
        return false;
}

int docker_image_pull(docker *d, const docker_ref *ref, unsigned timeout_ms,
                      docker_progress_fn progress, void *ud, corral_error *err)
{
        _cleanup_free_ char *name = docker_ref_name(ref), *auth = NULL, *ename = NULL,
                            *etag = NULL, *path = NULL, *resp = NULL;
        pull_state ps = {.progress = progress, .ud = ud};
        long status = 0;
        int r;

        r = docker_registry_auth(ref->registry, &auth, err);
        if (r < 0)
                return r;
        ename = escape(name);
        etag = escape(ref->digest ? ref->digest : ref->tag);
        path = xasprintf("/images/create?fromImage=%s&tag=%s", ename, etag);
        request rq = {.method = "POST", .path = path, .versioned = true, .auth = auth,
                      .timeout_ms = timeout_ms, .line = on_pull_line, .ud = &ps};
        /* Errors before the stream starts come as a JSON body with a status:
         * read them as lines too (one line, {"message": …}). */
        r = perform(d, &rq, &status, &resp, true, err);
        if (r < 0) {
                free(ps.error);
                return r;
        }
        if (status >= 400 || ps.error) {
                _cleanup_free_ char *msg = ps.error ? ps.error : xstrdup("pull refused");
                int code = status == 404 || says_not_found(msg) ? EX_NOINPUT : EX_UNAVAILABLE;

                ps.error = NULL;
                return corral_error_set(err, code, "cannot pull %s: %s", name, msg);
        }
        return 0;
}

/* ---- containers ---------------------------------------------------------- */

int docker_container_create(docker *d, const char *name, const cJSON *config, char **ret_id,
                            corral_error *err)
{
        _cleanup_free_ char *body = json_print(config), *path = NULL;
        _cleanup_json_ cJSON *res = NULL;
        const char *id;
        int r;

        if (name) {
                _cleanup_free_ char *en = escape(name);
                path = xasprintf("/containers/create?name=%s", en);
        } else {
                path = xstrdup("/containers/create");
        }
        r = call_json(d, "POST", path, body, SHORT_TIMEOUT_MS, &res, err);
        if (r < 0)
                return r;
        id = json_get_string(res, "Id");
        if (!id || check_id(id, NULL) < 0)
                return corral_error_set(err, EX_DATAERR, "docker engine: create gave no Id");
        *ret_id = xstrdup(id);
        return 0;
}

static int container_post(docker *d, const char *id, const char *what, unsigned timeout_ms,
                          corral_error *err)
{
        _cleanup_free_ char *path = NULL;
        int r = check_id(id, err);

        if (r < 0)
                return r;
        path = xasprintf("/containers/%s/%s", id, what);
        return call_json(d, "POST", path, NULL, timeout_ms, NULL, err);
}

int docker_container_start(docker *d, const char *id, corral_error *err)
{
        return container_post(d, id, "start", SHORT_TIMEOUT_MS, err);
}

int docker_container_inspect(docker *d, const char *id, cJSON **ret, corral_error *err)
{
        _cleanup_free_ char *path = NULL;
        int r = check_id(id, err);

        if (r < 0)
                return r;
        path = xasprintf("/containers/%s/json", id);
        return call_json(d, "GET", path, NULL, SHORT_TIMEOUT_MS, ret, err);
}

int docker_container_wait(docker *d, const char *id, unsigned timeout_ms, int *ret_status,
                          corral_error *err)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ cJSON *res = NULL;
        const cJSON *code;
        int r = check_id(id, err);

        if (r < 0)
                return r;
        path = xasprintf("/containers/%s/wait?condition=not-running", id);
        r = call_json(d, "POST", path, NULL, timeout_ms, &res, err);
        if (r < 0)
                return r;
        code = cJSON_GetObjectItemCaseSensitive(res, "StatusCode");
        if (!cJSON_IsNumber(code))
                return corral_error_set(err, EX_DATAERR, "docker engine: wait gave no StatusCode");
        *ret_status = code->valueint;
        return 0;
}

int docker_container_kill(docker *d, const char *id, int sig, corral_error *err)
{
        _cleanup_free_ char *what = xasprintf("kill?signal=%d", sig);

        return container_post(d, id, what, SHORT_TIMEOUT_MS, err);
}

int docker_container_stop(docker *d, const char *id, unsigned timeout_s, corral_error *err)
{
        _cleanup_free_ char *what = xasprintf("stop?t=%u", timeout_s);

        return container_post(d, id, what, SHORT_TIMEOUT_MS + timeout_s * 1000u, err);
}

int docker_container_remove(docker *d, const char *id, bool force, corral_error *err)
{
        _cleanup_free_ char *path = NULL;
        int r = check_id(id, err);

        if (r < 0)
                return r;
        path = xasprintf("/containers/%s?v=1&force=%d", id, force ? 1 : 0);
        return call_json(d, "DELETE", path, NULL, SHORT_TIMEOUT_MS, NULL, err);
}

int docker_container_list(docker *d, const char *const *labels, char ***ret_ids,
                          corral_error *err)
{
        _cleanup_json_ cJSON *filters = cJSON_CreateObject(), *res = NULL;
        _cleanup_free_ char *ftext = NULL, *ef = NULL, *path = NULL;
        _cleanup_strv_ char **ids = NULL;
        cJSON *la = cJSON_AddArrayToObject(filters, "label");
        const cJSON *it;
        int r;

        for (size_t i = 0; labels && labels[i]; i++)
                cJSON_AddItemToArray(la, cJSON_CreateString(labels[i]));
        ftext = json_print(filters);
        ef = escape(ftext);
        path = xasprintf("/containers/json?all=1&filters=%s", ef);
        r = call_json(d, "GET", path, NULL, SHORT_TIMEOUT_MS, &res, err);
        if (r < 0)
                return r;
        if (!cJSON_IsArray(res))
                return corral_error_set(err, EX_DATAERR, "docker engine: list is not an array");
        ids = xcalloc(1, sizeof(*ids));
        cJSON_ArrayForEach(it, res)
        {
                const char *id = json_get_string(it, "Id");
                if (id && check_id(id, NULL) == 0)
                        ids = strv_push(ids, id);
        }
        *ret_ids = steal_pointer(&ids);
        return 0;
}

typedef struct logs_state {
        docker_demux dm;
        strbuf *out, *err;
        bool bad;
} logs_state;

static void on_log_frame(void *ud, unsigned stream, const char *data, size_t n)
{
        logs_state *ls = ud;
        strbuf *b = stream == 2 ? ls->err : ls->out;

        if (b)
                (void)strbuf_append(b, data, n);
}

static size_t on_logs(void *ud, const char *data, size_t n)
{
        logs_state *ls = ud;

        if (docker_demux_feed(&ls->dm, data, n, on_log_frame, ls) < 0) {
                ls->bad = true;
                return 0;
        }
        return n;
}

int docker_container_logs(docker *d, const char *id, unsigned tail, strbuf *out, strbuf *errout,
                          corral_error *err)
{
        _cleanup_free_ char *path = NULL;
        logs_state ls = {.out = out, .err = errout};
        int r = check_id(id, err);

        if (r < 0)
                return r;
        docker_demux_init(&ls.dm);
        path = xasprintf("/containers/%s/logs?stdout=1&stderr=1&tail=%u", id, tail);
        request rq = {.method = "GET", .path = path, .versioned = true,
                      .timeout_ms = SHORT_TIMEOUT_MS, .raw = on_logs, .ud = &ls};
        r = perform(d, &rq, NULL, NULL, false, err);
        if (r == 0 && ls.bad)
                r = corral_error_set(err, EX_DATAERR, "docker engine: logs: bad stream header");
        return r;
}

typedef struct events_state {
        bool (*fn)(void *ud, const cJSON *event);
        void *ud;
} events_state;

static bool on_event_line(void *ud, const char *line, size_t n)
{
        events_state *es = ud;
        _cleanup_json_ cJSON *ev = cJSON_ParseWithLength(line, n);

        return !ev || es->fn(es->ud, ev);
}

int docker_events(docker *d, long since, long until, const char *filters,
                  bool (*fn)(void *ud, const cJSON *event), void *ud, corral_error *err)
{
        _cleanup_free_ char *path = NULL, *ef = filters ? escape(filters) : NULL;
        events_state es = {.fn = fn, .ud = ud};

        path = xasprintf("/events?since=%ld&until=%ld%s%s", since, until, ef ? "&filters=" : "",
                         ef ? ef : "");
        request rq = {.method = "GET", .path = path, .versioned = true, .line = on_event_line,
                      .ud = &es};
        return perform(d, &rq, NULL, NULL, false, err);
}

/* ---- helpers ------------------------------------------------------------- */

int docker_remove_leftovers(const char *root_label, corral_error *err)
{
        _cleanup_(docker_freep) docker *d = NULL;
        _cleanup_strv_ char **ids = NULL;
        _cleanup_free_ char *label = xasprintf("%s=%s", DOCKER_LABEL_ROOT, root_label);
        const char *labels[] = {DOCKER_LABEL_SERVER, label, NULL};
        corral_error e = {0};
        int r, n = 0;

        if (docker_open(&d, &e) < 0)
                return 0;
        r = docker_container_list(d, labels, &ids, err);
        if (r < 0)
                return r;
        for (size_t i = 0; ids[i]; i++) {
                corral_error re = {0};
                if (docker_container_remove(d, ids[i], true, &re) < 0 && re.code != EX_NOINPUT)
                        log_warn("cannot remove leftover container %.12s: %s", ids[i], re.msg);
                else
                        n++;
        }
        return n;
}
