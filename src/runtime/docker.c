/* The docker runtime backend: each start creates a fresh hardened container
 * (docker_container_config()) from the manifest's pinned image, attaches to
 * its stdio before starting it, and hands the attach socket to the loop as a
 * uv_pipe_t.  The stream's end means the container stopped: its status is
 * then read with a wait call and the container is removed when the process is
 * freed, so a restart always re-creates it.
 *
 * The Engine API calls (create, attach, start, inspect, kill, wait on an
 * exited container, remove) are blocking, each with a timeout (at most 30 s,
 * normally milliseconds); only the stdio stream runs on the loop.  An engine
 * that cannot be reached fails start() with -EX_UNAVAILABLE, and a stream
 * that ends with the engine gone reports service_lost(); the supervisor then
 * shows the unit unavailable and retries slowly without counting a crash. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>

#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/runtime.h"
#include "corral/uvwrite.h"
#include "docker/internal.h"

#define DOCKER_STDIN_MAX (64u << 20) /* bytes queued for a server's stdin */
#define DOCKER_READ_BUF 65536
#define DOCKER_EARLY_MAX (1u << 20)
#define ATTACH_TIMEOUT_MS 10000u
#define WAIT_TIMEOUT_MS 10000u
#define PULL_TIMEOUT_MS 600000u

struct runtime_process {
        docker *d;
        char *id;
        char *name; /* server name, for messages */
        runtime_callbacks cb;
        void *ud;
        uv_pipe_t *sock;          /* the attach connection; NULL once closed */
        uv_shutdown_t *shutdown;  /* stdin half-close in flight */
        uv_timer_t *timer;        /* delivers on_exit */
        unsigned open_handles;    /* struct freed when 0 after free() */
        docker_demux dm;
        int pid;
        unsigned memory_mb;
        bool write_closed;
        bool exited;
        bool exit_called;
        bool freed;
        bool engine_lost; /* the stream ended because the engine went away */
        char *exit_reason; /* set with engine_lost */
        int exit_status;
        int term_signal;
        size_t queued;
        char buf[DOCKER_READ_BUF];
};

static void on_handle_closed(uv_handle_t *h)
{
        runtime_process *p = h->data;

        free(h);
        if (--p->open_handles == 0 && p->freed) {
                free(p->id);
                free(p->name);
                free(p->exit_reason);
                free(p);
        }
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

/* The stream ended: the container stopped, or the engine went away.  A
 * ping tells which: a container that merely stopped leaves an engine that
 * answers, even when its wait call failed. */
static void process_ended(runtime_process *p)
{
        corral_error err = {0}, perr = {0};
        int status = -1;

        if (p->exited)
                return;
        p->exited = true;
        p->write_closed = true;
        if (docker_container_wait(p->d, p->id, WAIT_TIMEOUT_MS, &status, &err) < 0)
                status = -1;
        if (docker_ping(p->d, &perr) < 0) {
                p->engine_lost = true;
                p->exit_reason = xstrdup(perr.code == EX_UNAVAILABLE
                                                 ? perr.msg
                                                 : "docker engine unavailable: it does not "
                                                   "answer a ping");
                log_warn("%s: container %.12s: %s", p->name, p->id, p->exit_reason);
        } else if (status == -1) {
                log_warn("%s: container %.12s: %s", p->name, p->id, err.msg);
        } else {
                /* The engine records the OOM kill of a process in the
                 * container's memory cgroup, as the native launcher reports
                 * it. */
                _cleanup_json_ cJSON *info = NULL;
                if (docker_container_inspect(p->d, p->id, &info, NULL) == 0 &&
                    json_get_bool(json_get_object(info, "State"), "OOMKilled", false))
                        p->exit_reason = xasprintf("killed by the OOM killer (memory limit %u MiB)",
                                                   p->memory_mb);
        }
        /* With Init the container's status is docker-init's, which reports a
         * signal death of the server as 128 + signal, as shells do. */
        if (status > 128 && status < 128 + 65) {
                p->exit_status = -1;
                p->term_signal = status - 128;
        } else {
                p->exit_status = status;
                p->term_signal = 0;
        }
        (void)uv_timer_start(p->timer, on_exit_timer, 0, 0);
}

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

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
        runtime_process *p = s->data;

        if (p->freed)
                return;
        if (nread > 0) {
                if (docker_demux_feed(&p->dm, buf->base, (size_t)nread, on_frame, p) == 0)
                        return;
                log_warn("%s: container %.12s: bad stream header; killing it", p->name, p->id);
                (void)docker_container_kill(p->d, p->id, SIGKILL, NULL);
        } else if (nread == 0) {
                return;
        }
        p->sock = NULL;
        close_handle((uv_handle_t *)s);
        process_ended(p);
}

static void on_written(void *owner, int status)
{
        runtime_process *p = owner;

        if (status < 0)
                p->write_closed = true;
}

static int docker_write(runtime_process *p, const char *data, size_t n)
{
        int r;

        if (!p || p->freed || p->write_closed || !p->sock)
                return -1;
        r = uvwrite_send((uv_stream_t *)p->sock, &p->queued, DOCKER_STDIN_MAX, data, n, on_written,
                         p);
        if (r < 0 && r != -ENOBUFS)
                p->write_closed = true;
        return r < 0 ? -1 : 0;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
        runtime_process *p = req->data;

        p->shutdown = NULL;
        free(req);
        if (--p->open_handles == 0 && p->freed) {
                free(p->id);
                free(p->name);
                free(p->exit_reason);
                free(p);
        }
}

/* Half-close: the engine closes the container's stdin (StdinOnce) and keeps
 * streaming its output until it exits. */
static void docker_close_stdin(runtime_process *p)
{
        if (!p || p->write_closed || !p->sock)
                return;
        p->write_closed = true;
        p->shutdown = xcalloc(1, sizeof(*p->shutdown));
        p->shutdown->data = p;
        if (uv_shutdown(p->shutdown, (uv_stream_t *)p->sock, on_shutdown) < 0) {
                free(p->shutdown);
                p->shutdown = NULL;
                return;
        }
        p->open_handles++;
}

static int docker_kill(runtime_process *p, int sig)
{
        corral_error err = {0};

        if (!p || p->exited)
                return -ESRCH;
        if (docker_container_kill(p->d, p->id, sig, &err) < 0) {
                log_warn("%s: cannot signal container %.12s: %s", p->name, p->id, err.msg);
                return err.code == EX_NOINPUT || err.code == EX_SOFTWARE ? -ESRCH : -EIO;
        }
        return 0;
}

static int docker_pid(const runtime_process *p)
{
        return p && !p->exited ? p->pid : 0;
}

static void remove_container(docker *d, const char *name, const char *id)
{
        corral_error err = {0};

        if (docker_container_remove(d, id, true, &err) < 0 && err.code != EX_NOINPUT)
                log_warn("%s: cannot remove container %.12s: %s", name, id, err.msg);
}

static runtime_process *docker_proc_free(runtime_process *p)
{
        if (!p)
                return NULL;
        p->freed = true;
        /* Force removal kills a container that still runs.  With the engine
         * gone it would only fail: the next start removes what is left
         * (remove_stale()). */
        if (!p->engine_lost)
                remove_container(p->d, p->name, p->id);
        p->exited = true;
        p->d = docker_free(p->d);
        close_handle((uv_handle_t *)p->sock);
        p->sock = NULL;
        close_handle((uv_handle_t *)p->timer);
        return NULL;
}

/* ---- starting ------------------------------------------------------------- */

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

static void remove_stale(docker *d, const manifest *m, const char *root)
{
        _cleanup_free_ char *l1 = xasprintf("%s=%s", DOCKER_LABEL_SERVER, m->name);
        _cleanup_free_ char *l2 = xasprintf("%s=%s", DOCKER_LABEL_ROOT, root);
        const char *labels[] = {l1, l2, NULL};
        _cleanup_strv_ char **ids = NULL;

        if (docker_container_list(d, labels, &ids, NULL) < 0)
                return;
        for (size_t i = 0; ids[i]; i++)
                remove_container(d, m->name, ids[i]);
}

static int image_user(docker *d, const manifest *m, const char *image, char **ret,
                      corral_error *err)
{
        _cleanup_json_ cJSON *info = NULL;
        const char *user;
        int r = docker_image_inspect(d, image, &info, err);

        if (r == -EX_NOINPUT) {
                /* Pruned since the install: fetch the pinned image again. */
                _cleanup_(docker_ref_done) docker_ref ref = {0};
                corral_error_clear(err);
                r = docker_ref_parse(&ref, image, err);
                if (r == 0)
                        r = docker_image_pull(d, &ref, PULL_TIMEOUT_MS, NULL, NULL, err);
                if (r == 0)
                        r = docker_image_inspect(d, image, &info, err);
        }
        if (r < 0) {
                corral_error_prefix(err, "cannot start %s", m->name);
                return r == -EX_NOINPUT ? r : -EX_UNAVAILABLE;
        }
        user = json_get_string(json_get_object(info, "Config"), "User");
        *ret = user && *user ? xstrdup(user) : NULL;
        return 0;
}

static int docker_start(uv_loop_t *loop, const manifest *m, const corral_paths *paths,
                        const runtime_callbacks *cb, void *ud, runtime_process **ret,
                        corral_error *err)
{
        _cleanup_(docker_freep) docker *d = NULL;
        _cleanup_free_ char *image = NULL, *user = NULL, *id = NULL, *cname = NULL;
        _cleanup_json_ cJSON *config = NULL, *info = NULL;
        strbuf early = STRBUF_INIT(DOCKER_EARLY_MAX);
        _cleanup_close_ int fd = -1;
        unsigned char rnd[4] = {0};
        runtime_process *p;
        int r, flags;

        if (!m || !m->name || !m->command || !m->command[0])
                return corral_error_set(err, EX_DATAERR, "cannot start server: empty command");
        r = manifest_image(m, &image, err);
        if (r < 0)
                return r;
        r = docker_open(&d, err);
        if (r < 0)
                return r == -EX_CONFIG ? r : -EX_UNAVAILABLE;
        remove_stale(d, m, paths->servers);
        r = image_user(d, m, image, &user, err);
        if (r < 0)
                return r;

        config = docker_container_config(m, image, user, paths->servers);
        if (docker_is_podman(d)) {
                _cleanup_free_ char *dir = path_join(paths->run, "seccomp");
                r = docker_config_seccomp_file(config, dir, err);
                if (r < 0)
                        return r;
        }
        (void)!getrandom(rnd, sizeof(rnd), GRND_NONBLOCK);
        cname = xasprintf("corral-%s-%02x%02x%02x%02x", m->name, rnd[0], rnd[1], rnd[2], rnd[3]);
        r = docker_container_create(d, cname, config, &id, err);
        if (r < 0) {
                corral_error_prefix(err, "cannot create a container for %s", m->name);
                return r == -EX_SOFTWARE ? -EX_DATAERR : -EX_UNAVAILABLE;
        }
        /* Attached before the start so that no output is lost. */
        r = docker_attach(d, id, ATTACH_TIMEOUT_MS, &early, err);
        if (r >= 0) {
                fd = r;
                r = docker_container_start(d, id, err);
        }
        if (r >= 0)
                r = docker_container_inspect(d, id, &info, err);
        if (r < 0) {
                remove_container(d, m->name, id);
                strbuf_done(&early);
                corral_error_prefix(err, "cannot start %s", m->name);
                /* An engine that refuses the command (not found) will refuse it again. */
                return r == -EX_UNAVAILABLE || r == -EX_TEMPFAIL ? -EX_UNAVAILABLE : -EX_NOINPUT;
        }

        p = xcalloc(1, sizeof(*p));
        p->d = steal_pointer(&d);
        p->id = steal_pointer(&id);
        p->name = xstrdup(m->name);
        p->cb = *cb;
        p->ud = ud;
        p->pid = (int)json_get_number(json_get_object(info, "State"), "Pid", 0);
        p->memory_mb = m->memory_mb;
        docker_demux_init(&p->dm);
        p->timer = xcalloc(1, sizeof(*p->timer));
        (void)uv_timer_init(loop, p->timer);
        p->timer->data = p;
        p->open_handles = 1;
        p->sock = xcalloc(1, sizeof(*p->sock));
        (void)uv_pipe_init(loop, p->sock, 0);
        p->sock->data = p;
        p->open_handles++;
        flags = fcntl(fd, F_GETFL);
        if (flags >= 0)
                (void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        r = uv_pipe_open(p->sock, fd);
        if (r == 0) {
                fd = -1;
                r = uv_read_start((uv_stream_t *)p->sock, on_alloc, on_read);
        }
        if (r < 0) {
                strbuf_done(&early);
                (void)docker_proc_free(p);
                return corral_error_set(err, EX_OSERR, "cannot start %s: cannot watch its stdio",
                                        m->name);
        }
        if (early.len > 0 && docker_demux_feed(&p->dm, early.buf, early.len, on_frame, p) < 0)
                log_warn("%s: bad stream header in the attach response", m->name);
        strbuf_done(&early);
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
