/* The stdio transport adapter: one session on a pair of fds (`corral serve
 * --stdio` without a daemon; MCP 2025-11-25 basic/transports §stdio), at
 * level anchor.  Pipes and sockets go through libuv streams, ttys as ttys,
 * regular files with plain reads and writes. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "gateway/internal.h"

typedef struct gw_fdconn gw_fdconn;

typedef union gw_handle {
        uv_handle_t h;
        uv_stream_t st;
        uv_pipe_t pipe;
        uv_tty_t tty;
        uv_tcp_t tcp;
        uv_idle_t idle;
} gw_handle;

struct gw_fdconn {
        gw_adapter base; /* first: the adapter list holds &base */
        gateway *gw;
        gateway_session *s;
        int in_fd, out_fd;
        gw_handle *in;  /* a stream, or an idle handle reading a regular file */
        gw_handle *out; /* a stream, == in when both fds are one socket; NULL = blocking writes */
        size_t queued;
        unsigned handles; /* open uv handles pointing here; freed with the last */
        bool eof_reported, out_dead, closing;
        uv_timer_t *eof_timer;
        void (*on_eof)(void *ud);
        void *ud;
        char rbuf[GW_READ_CHUNK];
};

static void fd_eof_timer(uv_timer_t *t)
{
        gw_fdconn *fc = t->data;
        if (fc->on_eof && !fc->closing)
                fc->on_eof(fc->ud);
}

static void fd_handle_closed(uv_handle_t *h)
{
        gw_fdconn *fc = h->data;

        free(h);
        if (--fc->handles == 0)
                free(fc);
}

static void fd_close(gw_fdconn *fc)
{
        fc->closing = true;
        fc->s = gateway_session_free(fc->s);
        /* Pending writes still point at fc: it goes with its last handle. */
        if (fc->out && fc->out != fc->in)
                uv_close(&fc->out->h, fd_handle_closed);
        if (fc->in)
                uv_close(&fc->in->h, fd_handle_closed);
        uv_close((uv_handle_t *)fc->eof_timer, fd_handle_closed);
}

static void fd_adapter_free(gw_adapter *a)
{
        fd_close((gw_fdconn *)a);
}

static void fd_report_eof(gw_fdconn *fc)
{
        if (fc->eof_reported || fc->closing)
                return;
        fc->eof_reported = true;
        /* Deferred: the owner's on_eof usually shuts the supervisor down, which
         * must not happen inside a supervisor or mcp_client callback. */
        uv_timer_start(fc->eof_timer, fd_eof_timer, 0, 0);
}

static void fd_write_cb(void *owner, int status)
{
        gw_fdconn *fc = owner;

        if (status < 0 && status != UV_ECANCELED && !fc->out_dead && !fc->closing) {
                fc->out_dead = true;
                fd_report_eof(fc);
        }
}

static int fd_send(void *ud, const char *data, size_t len, const gateway_out *out)
{
        gw_fdconn *fc = ud;

        if (fc->out_dead)
                return -1;
        if (fc->out) {
                if (gw_stream_send(&fc->out->st, &fc->queued, fc, data, len, fd_write_cb) == 0)
                        return 0;
        } else if (write_all(fc->out_fd, data, len) == 0) {
                return 0;
        }
        /* The client's reading side is gone: nobody can receive answers. */
        fc->out_dead = true;
        fd_report_eof(fc);
        return -1;
}

static const gateway_session_ops fd_ops = {.send = fd_send};

static void fd_drained(gateway_session *s, void *ud)
{
        fd_report_eof(ud);
}

static void fd_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        gw_fdconn *fc = h->data;
        *buf = uv_buf_init(fc->rbuf, sizeof(fc->rbuf));
}

static void fd_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
        gw_fdconn *fc = st->data;

        if (nread > 0) {
                gateway_session_feed(fc->s, buf->base, (size_t)nread);
        } else if (nread < 0) {
                if (nread != UV_EOF)
                        log_debug("gateway: reading stdin: %s", uv_strerror((int)nread));
                uv_read_stop(st);
                gateway_session_close_input(fc->s);
        }
}

/* Regular files (and character devices such as /dev/null) cannot be polled:
 * read them a chunk per loop turn. */
static void fd_idle_read(uv_idle_t *idle)
{
        gw_fdconn *fc = idle->data;
        ssize_t n;

        do
                n = read(fc->in_fd, fc->rbuf, sizeof(fc->rbuf));
        while (n < 0 && errno == EINTR);
        if (n > 0) {
                gateway_session_feed(fc->s, fc->rbuf, (size_t)n);
                return;
        }
        uv_idle_stop(idle);
        gateway_session_close_input(fc->s);
}

/* A stream handle for fd, or NULL when fd is a file to use blocking I/O on. */
static int open_stream(uv_loop_t *loop, int fd, bool readable, gw_handle **ret, void *data)
{
        uv_handle_type t = uv_guess_handle(fd);
        gw_handle *h;
        int r;

        *ret = NULL;
        if (t != UV_NAMED_PIPE && t != UV_TTY && t != UV_TCP)
                return 0;
        h = xcalloc(1, sizeof(*h));
        if (t == UV_NAMED_PIPE) {
                r = uv_pipe_init(loop, &h->pipe, 0);
                if (r == 0)
                        r = uv_pipe_open(&h->pipe, fd);
        } else if (t == UV_TTY) {
                r = uv_tty_init(loop, &h->tty, fd, readable);
        } else {
                r = uv_tcp_init(loop, &h->tcp);
                if (r == 0)
                        r = uv_tcp_open(&h->tcp, fd);
        }
        if (r < 0) {
                if (h->h.type != UV_UNKNOWN_HANDLE)
                        uv_close(&h->h, gw_handle_free_cb);
                else
                        free(h);
                return r;
        }
        h->h.data = data;
        *ret = h;
        return 0;
}

int gateway_serve_fds(gateway *gw, int in_fd, int out_fd, void (*on_eof)(void *ud), void *ud,
                      corral_error *err)
{
        gw_fdconn *fc = xcalloc(1, sizeof(*fc));
        int r;

        fc->gw = gw;
        fc->in_fd = in_fd;
        fc->out_fd = out_fd;
        fc->on_eof = on_eof;
        fc->ud = ud;
        fc->eof_timer = gw_timer_new(gw->loop, fc);
        fc->handles = 1;
        r = open_stream(gw->loop, in_fd, true, &fc->in, fc);
        if (r == 0 && fc->in)
                fc->handles++;
        if (r == 0) {
                if (fc->in && in_fd == out_fd) {
                        fc->out = fc->in;
                } else {
                        r = open_stream(gw->loop, out_fd, false, &fc->out, fc);
                        if (r == 0 && fc->out)
                                fc->handles++;
                }
        }
        if (r == 0 && !fc->in) {
                fc->in = xcalloc(1, sizeof(*fc->in));
                if (uv_idle_init(gw->loop, &fc->in->idle) < 0)
                        abort();
                fc->in->h.data = fc;
                fc->handles++;
        }
        fc->s = gateway_session_new(
                gw, &fd_ops, fc,
                &(gateway_session_config){.level = CORRAL_LEVEL_ANCHOR, .uid = (int64_t)getuid(), .iface = "stdio"});
        gateway_session_set_on_drained(fc->s, fd_drained, fc);
        if (r == 0) {
                if (fc->in->h.type == UV_IDLE)
                        r = uv_idle_start(&fc->in->idle, fd_idle_read);
                else
                        r = uv_read_start(&fc->in->st, fd_alloc, fd_read);
        }
        if (r < 0) {
                fd_close(fc);
                return corral_error_set(err, EX_SOFTWARE, "cannot serve MCP on fds %d and %d: %s",
                                        in_fd, out_fd, uv_strerror(r));
        }
        fc->base.free = fd_adapter_free;
        gw_adapter_attach(gw, &fc->base);
        return 0;
}
