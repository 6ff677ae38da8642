/* The docker backend's attach stream: POST /containers/ID/attach upgraded
 * by hand on a libuv pipe (the engine hijacks the connection), then the
 * multiplexed stdout/stderr read on the loop and stdin written to it. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/http_client.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/runtime.h"
#include "corral/uvwrite.h"
#include "docker/internal.h"
#include "runtime/docker_internal.h"

/* ---- the attach stream ---------------------------------------------------- */

void dk_on_frame(void *ud, unsigned stream, const char *data, size_t n)
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
                        dk_fail(p, &err);
                        return;
                }
                end = memmem(p->head.buf, p->head.len, "\r\n\r\n", 4);
                if (!end)
                        return;
                if (sscanf(p->head.buf, "HTTP/1.%*[01] %3u", &status) != 1 ||
                    (status != 101 && status != 200)) {
                        (void)corral_error_set(&err, status >= 500 ? EX_UNAVAILABLE : EX_SOFTWARE,
                                               "docker engine: attach: %.*s", 100, p->head.buf);
                        dk_fail(p, &err);
                        return;
                }
                p->attached = true;
                {
                        size_t off = (size_t)(end + 4 - p->head.buf);
                        dk_attached(p, p->head.buf + off, p->head.len - off);
                }
                return;
        }
        if (nread > 0) {
                if (docker_demux_feed(&p->dm, buf->base, (size_t)nread, dk_on_frame, p) == 0)
                        return;
                log_warn("%s: container %.12s: bad stream header; killing it", p->name, p->id);
                if (p->id) {
                        _cleanup_free_ char *path =
                                xasprintf("/containers/%s/kill?signal=%d", p->id, SIGKILL);
                        (void)dk_call_detached(p, "POST", path);
                }
        } else if (nread == 0) {
                return;
        }
        dk_close_handle((uv_handle_t *)s);
        p->sock = NULL;
        if (!p->attached) {
                (void)corral_error_set(&err, EX_UNAVAILABLE,
                                       "docker engine unavailable: attach connection closed");
                dk_fail(p, &err);
                return;
        }
        dk_stream_ended(p);
}

void dk_on_written(void *owner, int status)
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
                dk_maybe_release(p);
                return;
        }
        if (status < 0) {
                (void)corral_error_set(&err, EX_UNAVAILABLE,
                                       "docker engine unavailable: cannot attach through %s: %s",
                                       p->socket, uv_strerror(status));
                dk_fail(p, &err);
                return;
        }
        head = xasprintf("POST /v%s/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1 "
                         "HTTP/1.1\r\nHost: docker\r\nContent-Type: text/plain\r\n"
                         "Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
                         p->api, p->id);
        if (uvwrite_send((uv_stream_t *)p->sock, &p->queued, DOCKER_STDIN_MAX, head, strlen(head),
                         dk_on_written, p) < 0 ||
            uv_read_start((uv_stream_t *)p->sock, on_alloc, on_read) < 0) {
                (void)corral_error_set(&err, EX_UNAVAILABLE,
                                       "docker engine unavailable: cannot attach through %s",
                                       p->socket);
                dk_fail(p, &err);
        }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
        runtime_process *p = req->data;

        p->shutdown = NULL;
        free(req);
        p->open_handles--;
        dk_maybe_release(p);
}

/* Half-close: the engine closes the container's stdin (StdinOnce) and keeps
 * streaming its output until it exits. */
void dk_shutdown_stdin(runtime_process *p)
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

void dk_attach_connect(runtime_process *p)
{
        p->sock = xcalloc(1, sizeof(*p->sock));
        (void)uv_pipe_init(p->loop, p->sock, 0);
        p->sock->data = p;
        p->open_handles++;
        p->connect = xcalloc(1, sizeof(*p->connect));
        p->connect->data = p;
        p->open_handles++;
        uv_pipe_connect(p->connect, p->sock, p->socket, on_attach_connected);
}
