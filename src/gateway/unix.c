/* The unix-socket transport adapter (DESIGN.md, "Gateway", entry points):
 * the gateway socket and the control socket.  Each connection is one
 * session of newline-delimited JSON-RPC at level anchor, with the peer's uid
 * from SO_PEERCRED.  All listeners of one gateway share one gw_unix adapter,
 * which holds the connection limits (connlimit.h: one per socket kind, per
 * peer uid, an admin share, first-message deadline and idle timeout) and
 * frees everything with the gateway. */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/log.h"
#include "corral/macro.h"
#include "corral/users.h"
#include "gateway/connlimit.h"
#include "gateway/internal.h"

typedef struct gw_listener gw_listener;
typedef struct gw_conn gw_conn;

typedef struct gw_unix {
        gw_adapter base; /* first: the adapter list holds &base */
        gateway *gw;
        gw_listener *listeners;
        gw_conn *conns;
        connlimit *limits[2]; /* [0] gateway socket, [1] control socket */
        /* One read buffer for every connection: libuv fills it and calls
         * conn_read() at once, which copies what it keeps.  Per connection
         * it made a 2,000-connection flood cost ~64 KiB each (66 MB RSS). */
        char rbuf[GW_READ_CHUNK];
} gw_unix;

struct gw_listener {
        uv_pipe_t pipe;
        gw_unix *u;
        char *path;
        bool control;
        const gateway_session_ops *ops_extra;
        void *ud_extra;
        gw_listener *next;
};

struct gw_conn {
        uv_pipe_t pipe;
        gw_unix *u; /* NULL once the gateway is gone */
        gateway_session *s;
        const gateway_session_ops *ops_extra;
        void *ud_extra;
        size_t queued;
        bool closing;
        connlimit *limit; /* the one this connection is counted in */
        int64_t uid;
        bool admin;
        uv_timer_t *timer; /* first-message deadline, then idle timeout */
        gw_conn *prev, *next;
};

static void conn_close_cb(uv_handle_t *h)
{
        gw_conn *conn = h->data;

        conn->s = gateway_session_free(conn->s);
        if (conn->u) {
                gw_unix *u = conn->u;
                if (conn->prev)
                        conn->prev->next = conn->next;
                else
                        u->conns = conn->next;
                if (conn->next)
                        conn->next->prev = conn->prev;
                connlimit_release(conn->limit, conn->uid);
        }
        free(conn);
}

static void conn_timer_stop(gw_conn *conn)
{
        if (conn->timer) {
                uv_close((uv_handle_t *)conn->timer, gw_handle_free_cb);
                conn->timer = NULL;
        }
}

static void conn_close(gw_conn *conn)
{
        if (conn->closing)
                return;
        conn->closing = true;
        conn_timer_stop(conn);
        /* The session is freed in the close callback, never here: this may
         * run inside gateway_session_feed() for the same session. */
        uv_close((uv_handle_t *)&conn->pipe, conn_close_cb);
}

static void write_cb(void *owner, int status)
{
        gw_conn *conn = owner;

        if (status < 0 && status != UV_ECANCELED) {
                log_debug("gateway: write to client failed: %s", uv_strerror(status));
                conn_close(conn);
        }
}

static int conn_send(void *ud, const char *data, size_t len, const gateway_out *out)
{
        gw_conn *conn = ud;

        if (conn->closing)
                return -1;
        if (gw_stream_send((uv_stream_t *)&conn->pipe, &conn->queued, conn, data, len, write_cb) <
            0) {
                conn_close(conn);
                return -1;
        }
        return 0;
}

static bool conn_extra(void *ud, gateway_session *s, const cJSON *id, const char *method,
                       const cJSON *params)
{
        gw_conn *conn = ud;

        if (!conn->ops_extra || !conn->ops_extra->extra_method)
                return false;
        return conn->ops_extra->extra_method(conn->ud_extra, s, id, method, params);
}

static const gateway_session_ops conn_ops = {.send = conn_send, .extra_method = conn_extra};

static void conn_drained(gateway_session *s, void *ud)
{
        conn_close(ud);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        gw_conn *conn = h->data;

        /* No adapter (it is being freed): libuv reports UV_ENOBUFS. */
        *buf = conn->u ? uv_buf_init(conn->u->rbuf, sizeof(conn->u->rbuf)) : uv_buf_init(NULL, 0);
}

/* Before the first complete message: the deadline set at accept.  After:
 * the idle timeout (non-admins only), restarted by every read. */
static void conn_timeout(uv_timer_t *t)
{
        gw_conn *conn = t->data;
        const connlimit_config *cfg = connlimit_get_config(conn->limit);

        if (conn->closing)
                return;
        if (!conn->s || !conn->s->n_messages) {
                log_debug("gateway: closing a connection (uid %lld): no complete message in "
                          "%llu ms",
                          (long long)conn->uid, (unsigned long long)cfg->first_message_ms);
                conn_close(conn);
                return;
        }
        if (gateway_session_busy(conn->s)) {
                (void)uv_timer_start(t, conn_timeout, cfg->idle_ms, 0);
                return;
        }
        log_debug("gateway: closing a connection (uid %lld): idle for %llu ms", (long long)conn->uid,
                  (unsigned long long)cfg->idle_ms);
        conn_close(conn);
}

static void conn_arm(gw_conn *conn)
{
        const connlimit_config *cfg = connlimit_get_config(conn->limit);

        if (conn->closing || !conn->timer || !conn->s || !conn->s->n_messages)
                return;
        if (conn->admin || !cfg->idle_ms)
                conn_timer_stop(conn);
        else
                (void)uv_timer_start(conn->timer, conn_timeout, cfg->idle_ms, 0);
}

static void conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
        gw_conn *conn = st->data;

        if (nread > 0) {
                gateway_session_feed(conn->s, buf->base, (size_t)nread);
                conn_arm(conn);
        } else if (nread == UV_EOF) {
                uv_read_stop(st);
                gateway_session_close_input(conn->s);
        } else if (nread < 0) {
                conn_close(conn);
        }
}

static void on_connection(uv_stream_t *server, int status)
{
        gw_listener *l = server->data;
        gw_unix *u = l->u;
        gateway *gw = u->gw;
        gateway_session_config cfg = {
                .control = l->control, .level = CORRAL_LEVEL_ANCHOR, .uid = -1};
        struct ucred cred;
        socklen_t cred_len = sizeof(cred);
        uv_os_fd_t fd;
        gw_conn *conn;

        if (status < 0) {
                log_warn("gateway: accept on %s: %s", l->path, uv_strerror(status));
                return;
        }
        conn = xcalloc(1, sizeof(*conn));
        if (uv_pipe_init(gw->loop, &conn->pipe, 0) < 0)
                abort();
        conn->pipe.data = conn;
        conn->uid = -1;
        if (uv_accept(server, (uv_stream_t *)&conn->pipe) < 0) {
                conn->closing = true;
                uv_close((uv_handle_t *)&conn->pipe, gw_handle_free_cb);
                return;
        }
        if (uv_fileno((uv_handle_t *)&conn->pipe, &fd) == 0 &&
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0)
                conn->uid = cfg.uid = cred.uid;
        conn->limit = u->limits[l->control];
        if (!connlimit_admit(conn->limit, conn->uid, uv_now(gw->loop))) {
                conn->closing = true;
                uv_close((uv_handle_t *)&conn->pipe, gw_handle_free_cb);
                return;
        }
        conn->admin = connlimit_is_admin(conn->uid);
        conn->u = u;
        conn->ops_extra = l->ops_extra;
        conn->ud_extra = l->ud_extra;
        conn->s = gateway_session_new(gw, &conn_ops, conn, &cfg);
        gateway_session_set_on_drained(conn->s, conn_drained, conn);
        conn->next = u->conns;
        if (u->conns)
                u->conns->prev = conn;
        u->conns = conn;
        if (connlimit_get_config(conn->limit)->first_message_ms ||
            connlimit_get_config(conn->limit)->idle_ms) {
                conn->timer = gw_timer_new(gw->loop, conn);
                if (connlimit_get_config(conn->limit)->first_message_ms)
                        (void)uv_timer_start(conn->timer, conn_timeout,
                                             connlimit_get_config(conn->limit)->first_message_ms,
                                             0);
        }
        if (uv_read_start((uv_stream_t *)&conn->pipe, conn_alloc, conn_read) < 0)
                conn_close(conn);
}

/* 1 when something answers on path, 0 when nothing is there (a stale socket
 * file is removed), or a negative sysexits code. */
static int probe_socket(const char *path, corral_error *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if (lstat(path, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot use socket %s", path);
        }
        if (!S_ISSOCK(st.st_mode))
                return corral_error_set(err, EX_CANTCREAT,
                                        "cannot use socket %s: it exists and is not a socket",
                                        path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "socket");
        memcpy(sa.sun_path, path, strlen(path) + 1);
        do
                r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        while (r < 0 && errno == EINTR);
        if (r == 0)
                return 1;
        if (errno != ECONNREFUSED && errno != ENOENT)
                return corral_error_errno(err, errno == EACCES ? EX_NOPERM : EX_CANTCREAT, errno,
                                          "cannot check socket %s", path);
        if (unlink(path) < 0 && errno != ENOENT)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot remove stale socket %s",
                                          path);
        log_info("removed stale socket %s", path);
        return 0;
}

static void unix_free(gw_adapter *a)
{
        gw_unix *u = (gw_unix *)a;

        while (u->listeners) {
                gw_listener *l = u->listeners;
                u->listeners = l->next;
                if (l->path)
                        (void)unlink(l->path);
                free(l->path);
                uv_close((uv_handle_t *)&l->pipe, gw_handle_free_cb);
        }
        while (u->conns) {
                gw_conn *conn = u->conns;
                u->conns = conn->next;
                conn->s = gateway_session_free(conn->s);
                conn->u = NULL;
                conn_timer_stop(conn);
                if (!conn->closing) {
                        conn->closing = true;
                        uv_close((uv_handle_t *)&conn->pipe, conn_close_cb);
                }
        }
        for (size_t i = 0; i < ARRAY_SIZE(u->limits); i++)
                u->limits[i] = connlimit_free(u->limits[i]);
        free(u);
}

/* The gateway's unix adapter, made on first use. */
static gw_unix *unix_adapter(gateway *gw)
{
        gw_unix *u;

        for (gw_adapter *a = gw->adapters; a; a = a->next)
                if (a->free == unix_free)
                        return (gw_unix *)a;
        u = xcalloc(1, sizeof(*u));
        u->base.free = unix_free;
        u->gw = gw;
        for (int control = 0; control < 2; control++) {
                connlimit_config c = connlimit_defaults(control);
                u->limits[control] = connlimit_new(control ? "control" : "gateway", &c);
        }
        gw_adapter_attach(gw, &u->base);
        return u;
}

/* System mode: the group whose members may use the sockets (the "corral"
 * group of sysusers.d/corral.conf), or -1 when it does not exist. */
static gid_t socket_group(const gateway *gw)
{
        struct group gr, *res = NULL;
        char buf[4096];
        const char *name = gw->site && gw->site->socket_group ? gw->site->socket_group : "corral";

        if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || !res)
                return (gid_t)-1;
        return res->gr_gid;
}

static gw_listener *listener_new(gateway *gw, bool control,
                                 const gateway_session_ops *ops_extra, void *ud_extra)
{
        gw_listener *l = xcalloc(1, sizeof(*l));

        if (uv_pipe_init(gw->loop, &l->pipe, 0) < 0)
                abort();
        l->pipe.data = l;
        l->u = unix_adapter(gw);
        l->control = control;
        l->ops_extra = ops_extra;
        l->ud_extra = ud_extra;
        return l;
}

static void listener_add(gw_listener *l, const char *path, bool control, const char *how)
{
        l->next = l->u->listeners;
        l->u->listeners = l;
        log_debug("gateway: listening on %s (%s, %s)", path, control ? "control" : "mcp", how);
}

int gateway_set_limits(gateway *gw, const cJSON *config, corral_error *err)
{
        connlimit_config c[2];
        gw_unix *u;
        int r;

        if ((r = connlimit_config_load(config, &c[0], &c[1], err)) < 0)
                return r;
        u = unix_adapter(gw);
        for (int control = 0; control < 2; control++) {
                if (u->limits[control]) {
                        /* A reload: the connections in use stay admitted. */
                        connlimit_set_config(u->limits[control], &c[control]);
                        continue;
                }
                u->limits[control] = connlimit_new(control ? "control" : "gateway", &c[control]);
        }
        return 0;
}

int gateway_listen(gateway *gw, const char *path, bool control,
                   const gateway_session_ops *ops_extra, void *ud_extra, corral_error *err)
{
        struct sockaddr_un sa;
        gid_t group = gw->system_mode ? socket_group(gw) : (gid_t)-1;
        mode_t mode = group != (gid_t)-1 ? 0660 : 0600;
        mode_t old_mask;
        gw_listener *l;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return corral_error_set(err, EX_CANTCREAT,
                                        "cannot listen on %s: socket path longer than %zu bytes",
                                        path, sizeof(sa.sun_path) - 1);
        r = probe_socket(path, err);
        if (r < 0)
                return r;
        if (r > 0)
                return corral_error_set(err, EX_TEMPFAIL,
                                        "a daemon is already running for this store (%s answers)",
                                        path);
        if (gw->system_mode && group == (gid_t)-1)
                log_warn("no '%s' group: %s is for root only",
                         gw->site && gw->site->socket_group ? gw->site->socket_group : "corral",
                         path);

        l = listener_new(gw, control, ops_extra, ud_extra);
        /* The umask makes the socket private from the moment it exists; the
         * group gets it only after the chown below. */
        old_mask = umask(0177);
        r = uv_pipe_bind(&l->pipe, path);
        umask(old_mask);
        if (r == 0) {
                l->path = xstrdup(path);
                if (group != (gid_t)-1 && chown(path, 0, group) < 0)
                        r = uv_translate_sys_error(errno);
                else if (chmod(path, mode) < 0)
                        r = uv_translate_sys_error(errno);
        }
        if (r == 0)
                r = uv_listen((uv_stream_t *)&l->pipe, 128, on_connection);
        if (r < 0) {
                if (l->path)
                        (void)unlink(l->path);
                free(l->path);
                uv_close((uv_handle_t *)&l->pipe, gw_handle_free_cb);
                return corral_error_set(err, EX_CANTCREAT, "cannot listen on %s: %s", path,
                                        uv_strerror(r));
        }
        listener_add(l, path, control, "bound");
        return 0;
}

int gateway_listen_fd(gateway *gw, int fd, const char *path, bool control,
                      const gateway_session_ops *ops_extra, void *ud_extra, corral_error *err)
{
        gw_listener *l = listener_new(gw, control, ops_extra, ud_extra);
        int r = uv_pipe_open(&l->pipe, fd);

        /* l->path stays NULL: the socket file is systemd's, never unlinked here. */
        if (r < 0)
                (void)close(fd); /* not the pipe's yet */
        else
                r = uv_listen((uv_stream_t *)&l->pipe, 128, on_connection);
        if (r < 0) {
                uv_close((uv_handle_t *)&l->pipe, gw_handle_free_cb);
                return corral_error_set(err, EX_CANTCREAT, "cannot listen on %s (fd %d): %s", path,
                                        fd, uv_strerror(r));
        }
        listener_add(l, path, control, "socket activation");
        return 0;
}
