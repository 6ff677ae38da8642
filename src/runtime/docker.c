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
#include <unistd.h>

#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/http_client.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/runtime.h"
#include "corral/uvwrite.h"
#include "docker/internal.h"
#include "runtime/docker_internal.h"

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
                dk_fail(p, err);
                return;
        }
        if (!api || sscanf(api, "%u.%u", &major, &minor) != 2 || major * 100 + minor < 141) {
                (void)corral_error_set(&e, EX_UNAVAILABLE,
                                       "docker engine unavailable: API %s is older than %s",
                                       api ? api : "(none)", DOCKER_API_MIN);
                dk_fail(p, &e);
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
                dk_call_step(p, "GET", path, NULL, CALL_TIMEOUT_MS, true, false, after_list);
        }
}

static void remove_next_stale(runtime_process *p, long status, cJSON *j, const corral_error *err)
{
        if (err && err->code != EX_NOINPUT)
                log_warn("%s: cannot remove container %.12s: %s", p->name, p->stale[p->stale_i - 1],
                         err->msg);
        if (p->stale && p->stale[p->stale_i]) {
                _cleanup_free_ char *path =
                        xasprintf("/containers/%s?force=1&v=1", p->stale[p->stale_i++]);
                dk_call_step(p, "DELETE", path, NULL, CALL_TIMEOUT_MS, false, true,
                             remove_next_stale);
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
                dk_fail(p, err);
                return;
        }
        if (status == 404 && p->step == S_IMAGE) {
                /* Pruned since the install: fetch the pinned image again. */
                _cleanup_(docker_ref_done) docker_ref ref = {0};
                corral_error e = {0};
                _cleanup_free_ char *name = NULL, *ename = NULL, *etag = NULL, *path = NULL;
                if (docker_ref_parse(&ref, p->image, &e) < 0) {
                        dk_fail(p, &e);
                        return;
                }
                name = docker_ref_name(&ref);
                ename = docker_url_escape(name);
                etag = docker_url_escape(ref.digest ? ref.digest : ref.tag);
                path = xasprintf("/images/create?fromImage=%s&tag=%s", ename, etag);
                {
                        _cleanup_free_ char *auth = NULL;
                        if (docker_registry_auth_static(ref.registry, &auth, &e) < 0) {
                                dk_fail(p, &e);
                                return;
                        }
                        if (auth)
                                p->auth = xasprintf("X-Registry-Auth: %s", auth);
                }
                p->step = S_PULL;
                dk_call_step(p, "POST", path, NULL, PULL_TIMEOUT_MS, false, false, after_pull);
                return;
        }
        if (status == 404) {
                corral_error e = {0};
                (void)corral_error_set(&e, EX_NOINPUT, "image %s is not in the engine", p->image);
                dk_fail(p, &e);
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
                dk_fail(p, err);
                return;
        }
        if (e) {
                /* An error message in the progress stream fails the pull. */
                corral_error pe = {0};
                const char *nl = strchr(e, '\n');
                (void)corral_error_set(&pe, EX_UNAVAILABLE, "docker engine: pull of %s: %.*s",
                                       p->image, (int)(nl ? nl - e : 200), e);
                dk_fail(p, &pe);
                return;
        }
        step_image(p, S_IMAGE_AGAIN);
}

static void step_image(runtime_process *p, step s)
{
        _cleanup_free_ char *esc = docker_url_escape(p->image);
        _cleanup_free_ char *path = xasprintf("/images/%s/json", esc);

        p->step = s;
        dk_call_step(p, "GET", path, NULL, CALL_TIMEOUT_MS, true, true, after_image);
}

static void after_create(runtime_process *p, long status, cJSON *j, const corral_error *err)
{
        const char *id = json_get_string(j, "Id");
        corral_error e = {0};

        if (err || !id) {
                if (!err)
                        (void)corral_error_set(&e, EX_DATAERR,
                                               "docker engine: container create: no Id");
                dk_fail(p, err ? err : &e);
                return;
        }
        p->id = xstrdup(id);
        dk_procs_add(p);
        /* Attached before the start so that no output is lost. */
        p->step = S_ATTACH;
        dk_attach_connect(p);
}

static void step_create(runtime_process *p)
{
        _cleanup_json_ cJSON *config =
                docker_container_config(p->m, p->image, p->user, p->root_label);
        _cleanup_free_ char *body = NULL, *path = NULL;
        unsigned char rnd[4] = {0};

        /* Which daemon run made it: the next run removes it as a leftover. */
        cJSON_AddStringToObject(cJSON_GetObjectItem(config, "Labels"), DOCKER_LABEL_RUN,
                                dk_run_id());
        {
                corral_error err = {0};
                /* The host directories it was given (install --mount, corral
                 * mount, an imported docker run -v). */
                if (docker_config_mounts(config, p->m->mounts, &err) < 0) {
                        dk_fail(p, &err);
                        return;
                }
        }
        if (p->podman) {
                _cleanup_free_ char *dir = path_join(p->run_dir, "seccomp");
                corral_error err = {0};
                /* Its own range of host uids when the host has them for
                 * Podman to hand out (docker.h: not keep-id). */
                docker_config_set_userns(config, docker_podman_userns_mode());
                docker_config_podman_paths(config);
                if (docker_config_seccomp_file(config, dir, &err) < 0) {
                        dk_fail(p, &err);
                        return;
                }
        }
        body = cJSON_PrintUnformatted(config);
        (void)!getrandom(rnd, sizeof(rnd), GRND_NONBLOCK);
        path = xasprintf("/containers/create?name=corral-%s-%02x%02x%02x%02x", p->name, rnd[0],
                         rnd[1], rnd[2], rnd[3]);
        p->step = S_CREATE;
        dk_call_step(p, "POST", path, body, CALL_TIMEOUT_MS, true, false, after_create);
}

static void after_inspect(runtime_process *p, long status, cJSON *info, const corral_error *err)
{
        p->step = S_RUNNING;
        if (!err)
                p->pid = (int)json_get_number(json_get_object(info, "State"), "Pid", 0);
        if (p->kill_pending) {
                _cleanup_free_ char *path =
                        xasprintf("/containers/%s/kill?signal=%d", p->id, p->kill_pending);
                (void)dk_call_detached(p, "POST", path);
        }
}

static void after_start(runtime_process *p, long status, cJSON *j, const corral_error *err)
{
        _cleanup_free_ char *path = NULL;

        if (err) {
                dk_fail(p, err);
                return;
        }
        path = xasprintf("/containers/%s/json", p->id);
        p->step = S_INSPECT;
        dk_call_step(p, "GET", path, NULL, CALL_TIMEOUT_MS, true, false, after_inspect);
}

/* The upgrade is done: queued stdin goes out, early output is read, and the
 * container starts. */
void dk_attached(runtime_process *p, const char *rest, size_t n)
{
        _cleanup_free_ char *path = xasprintf("/containers/%s/start", p->id);

        if (n > 0 && docker_demux_feed(&p->dm, rest, n, dk_on_frame, p) < 0)
                log_warn("%s: bad stream header in the attach response", p->name);
        if (p->pending.len > 0)
                (void)uvwrite_send((uv_stream_t *)p->sock, &p->queued, DOCKER_STDIN_MAX,
                                   p->pending.buf, p->pending.len, dk_on_written, p);
        strbuf_done(&p->pending);
        if (p->close_pending)
                dk_shutdown_stdin(p);
        p->step = S_START;
        dk_call_step(p, "POST", path, NULL, CALL_TIMEOUT_MS, false, false, after_start);
}

/* ---- the end ------------------------------------------------------------- */

static void oom_reason(runtime_process *p)
{
        p->oom_killed = true;
        free(p->exit_reason);
        p->exit_reason = xasprintf(RUNTIME_OOM_REASON " (memory limit %u MiB)", p->memory_mb);
}

static void after_oom(runtime_process *p, long status, cJSON *info, const corral_error *err)
{
        /* The engine records the OOM kill of a process in the container's
         * memory cgroup, as the native launcher reports it. */
        if (p->oom_event ||
            (!err && json_get_bool(json_get_object(info, "State"), "OOMKilled", false)))
                oom_reason(p);
        dk_finish(p, p->exit_status);
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
                dk_finish(p, p->exit_status);
                return;
        }
        if (p->exit_status == -1) {
                dk_finish(p, -1);
                return;
        }
        if (p->oom_event) {
                after_oom(p, 0, NULL, NULL);
                return;
        }
        path = xasprintf("/containers/%s/json", p->id);
        p->step = S_OOM;
        dk_call_step(p, "GET", path, NULL, CALL_TIMEOUT_MS, true, false, after_oom);
}

static void after_wait(runtime_process *p, long status, cJSON *j, const corral_error *err)
{
        p->exit_status = err ? -1 : (int)json_get_number(j, "StatusCode", -1);
        if (err)
                log_warn("%s: container %.12s: %s", p->name, p->id, err->msg);
        /* A container that merely stopped leaves an engine that answers,
         * even when its wait call failed. */
        p->step = S_PING;
        dk_call_step(p, "GET", "/_ping", NULL, CALL_TIMEOUT_MS, false, false, after_ping);
}

/* No die event to go by: ask the engine (wait, ping, inspect). */
static void ask_engine(runtime_process *p)
{
        _cleanup_free_ char *path = xasprintf("/containers/%s/wait?condition=not-running", p->id);

        p->step = S_WAIT;
        dk_call_step(p, "POST", path, NULL, WAIT_TIMEOUT_MS, true, false, after_wait);
}

/* The engine's die event gave the status (and an oom event before it the
 * cause): no call is needed. */
static void end_from_events(runtime_process *p)
{
        if (p->oom_event)
                oom_reason(p);
        dk_finish(p, p->die_code);
}

static void on_die_timeout(uv_timer_t *t)
{
        runtime_process *p = t->data;

        if (!p->freed && !p->exited && p->step == S_DIE_WAIT)
                ask_engine(p);
}

/* The stream ended: the container stopped, or the engine went away. */
void dk_stream_ended(runtime_process *p)
{
        if (p->exited || p->step >= S_DIE_WAIT)
                return;
        p->write_closed = true;
        if (p->req) {
                http_request_cancel(p->req);
                p->req = NULL;
        }
        if (p->die_event && p->die_code >= 0) {
                end_from_events(p);
                return;
        }
        if (!p->die_event && dk_events_live()) {
                /* The die event normally follows within milliseconds. */
                p->step = S_DIE_WAIT;
                (void)uv_timer_start(p->timer, on_die_timeout, DIE_WAIT_MS, 0);
                return;
        }
        ask_engine(p);
}

static void on_die_grace(uv_timer_t *t)
{
        runtime_process *p = t->data;

        if (p->freed || p->exited || p->step >= S_DIE_WAIT)
                return;
        /* The engine says the container died but its stream stays open: it
         * is over all the same. */
        dk_close_handle((uv_handle_t *)p->sock);
        p->sock = NULL;
        dk_stream_ended(p);
}

void dk_proc_event(runtime_process *p, bool die, int code)
{
        if (p->freed || p->exited)
                return;
        if (!die) {
                p->oom_event = true;
                p->oom_events++;
                return;
        }
        p->die_event = true;
        p->die_code = code;
        if (p->step == S_DIE_WAIT) {
                if (code >= 0)
                        end_from_events(p);
                else
                        ask_engine(p);
                return;
        }
        if (p->step >= S_WAIT)
                return; /* already asking the engine; oom_event is used there */
        /* Its stream normally ends at once; what it still holds is read
         * first. */
        (void)uv_timer_start(p->timer, on_die_grace, DIE_GRACE_MS, 0);
}

void dk_events_lost(void)
{
        for (runtime_process *p = dk_engine.procs; p; p = p->next_proc)
                if (!p->freed && !p->exited && p->step == S_DIE_WAIT)
                        ask_engine(p);
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
        r = uvwrite_send((uv_stream_t *)p->sock, &p->queued, DOCKER_STDIN_MAX, data, n,
                         dk_on_written, p);
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
        dk_shutdown_stdin(p);
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
                                dk_remove_detached(p, p->id);
                        free(p->id);
                        p->id = NULL;
                        (void)corral_error_set(&err, EX_SOFTWARE, "stopped while starting");
                        free(p->exit_reason);
                        p->exit_reason = xstrdup("stopped while starting");
                        dk_finish(p, 128 + sig);
                        return 0;
                }
                p->kill_pending = sig;
                return 0;
        }
        path = xasprintf("/containers/%s/kill?signal=%d", p->id, sig);
        if (dk_call_detached(p, "POST", path) < 0)
                return -EIO;
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
        dk_procs_remove(p);
        if (p->req) {
                http_request_cancel(p->req);
                p->req = NULL;
        }
        /* Force removal kills a container that still runs.  With the engine
         * gone it would only fail: the next start removes what is left. */
        if (p->id && !p->engine_lost)
                dk_remove_detached(p, p->id);
        p->exited = true;
        dk_close_handle((uv_handle_t *)p->sock);
        p->sock = NULL;
        dk_close_handle((uv_handle_t *)p->timer);
        dk_maybe_release(p);
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
        /* A registry: install's spec names the server, not the image: the
         * docker resolver recorded the image's name. */
        if (m->kind && strcmp(m->kind, "registry") == 0 && m->resolved_url)
                spec = m->resolved_url;
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
        if (!dk_engine_get(loop))
                return corral_error_set(err, EX_SOFTWARE,
                                        "cannot start %s: no Engine API client on this loop",
                                        m->name);
        dk_events_ensure(sock, paths->servers);
        json = manifest_format(m);
        p = xcalloc(1, sizeof(*p));
        p->loop = loop;
        p->socket = steal_pointer(&sock);
        p->name = xstrdup(m->name);
        if (manifest_parse(&p->m, json, strlen(json), err) < 0) {
                p->freed = true;
                dk_maybe_release(p);
                return -EX_SOFTWARE;
        }
        /* Secret environment values from secrets.json, into the private copy. */
        for (size_t i = 0; i < p->m->n_env; i++) {
                _cleanup_free_ char *dir = NULL;
                if (p->m->env[i].value)
                        continue;
                dir = paths_server_dir(paths, m->name);
                p->m->env[i].value = manifest_secret_env(dir, p->m->env[i].key);
                if (!p->m->env[i].value) {
                        r = corral_error_set(err, EX_CONFIG,
                                             "cannot start %s: the secret value of %s is "
                                             "missing from secrets.json",
                                             m->name, p->m->env[i].key);
                        p->freed = true;
                        dk_maybe_release(p);
                        return r;
                }
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
        dk_call_step(p, "GET", "/version", NULL, CALL_TIMEOUT_MS, true, false, after_version);
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

const char *dk_run_id(void)
{
        static char id[17];

        if (!id[0]) {
                unsigned char rnd[8] = {0};
                (void)!getrandom(rnd, sizeof(rnd), GRND_NONBLOCK);
                for (size_t i = 0; i < sizeof(rnd); i++)
                        snprintf(id + 2 * i, 3, "%02x", rnd[i]);
        }
        return id;
}

typedef struct leftovers {
        char *sock;
        char *root_label;
} leftovers;

static void after_leftover_list(void *ud, cJSON *list, const corral_error *err)
{
        leftovers *lo = ud;
        const cJSON *c;
        unsigned n = 0;

        if (err)
                log_debug("cannot list leftover containers: %s", err->msg);
        cJSON_ArrayForEach(c, list)
        {
                const char *id = json_get_string(c, "Id");
                const char *run = json_get_string(json_get_object(c, "Labels"), DOCKER_LABEL_RUN);
                _cleanup_free_ char *path = NULL;
                if (!id || strspn(id, "0123456789abcdef") != strlen(id) ||
                    (run && strcmp(run, dk_run_id()) == 0))
                        continue;
                path = xasprintf("/containers/%s?force=1&v=1", id);
                if (dk_call_owned_by_none(lo->sock, NULL, "DELETE", path, NULL, NULL) == 0)
                        n++;
        }
        if (n > 0)
                log_info("removing %u leftover container%s of an earlier run", n,
                         n == 1 ? "" : "s");
        free(lo->sock);
        free(lo->root_label);
        free(lo);
}

void runtime_docker_remove_leftovers(uv_loop_t *loop, const char *root_label)
{
        _cleanup_free_ char *sock = NULL, *label = NULL, *text = NULL, *esc = NULL, *path = NULL;
        _cleanup_json_ cJSON *f = cJSON_CreateObject();
        cJSON *labels = cJSON_AddArrayToObject(f, "label");
        corral_error err = {0};
        leftovers *lo;

        if (docker_socket_resolve(&sock, &err) < 0 || access(sock, F_OK) < 0)
                return; /* no engine: nothing can be left */
        if (!dk_engine_get(loop))
                return;
        label = xasprintf("%s=%s", DOCKER_LABEL_ROOT, root_label);
        cJSON_AddItemToArray(labels, cJSON_CreateString(DOCKER_LABEL_SERVER));
        cJSON_AddItemToArray(labels, cJSON_CreateString(label));
        text = cJSON_PrintUnformatted(f);
        esc = docker_url_escape(text);
        path = xasprintf("/containers/json?all=1&filters=%s", esc);
        lo = xcalloc(1, sizeof(*lo));
        lo->sock = xstrdup(sock);
        lo->root_label = xstrdup(root_label);
        if (dk_call_owned_by_none(sock, NULL, "GET", path, after_leftover_list, lo) < 0) {
                free(lo->sock);
                free(lo->root_label);
                free(lo);
        }
        dk_engine_put();
}

size_t runtime_docker_pending(void)
{
        size_t n = dk_engine.http ? http_client_pending(dk_engine.http) : 0;

        if (!dk_engine.http)
                return 0;
        /* The /events stream never ends by itself and is not a call; but
         * while the client lives, a process is still being released (its
         * handles closing) or a call is in flight, and the client must go
         * before a daemon closes what is left on its loop. */
        n -= n > 0 && dk_events_live() ? 1 : 0;
        return n > 0 ? n : 1;
}

/* The engine relays the kernel's OOM kills in the container's cgroup as
 * "oom" events; State.OOMKilled counts when no event came. */
static unsigned docker_oom_kills(runtime_process *p)
{
        return p->oom_events ? p->oom_events : p->oom_killed ? 1 : 0;
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
        .oom_kills = docker_oom_kills,
        .service_lost = docker_service_lost,
};
