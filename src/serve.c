/* `corral serve --stdio`: MCP on stdin/stdout (MCP 2025-11-25
 * basic/transports §stdio).  With a daemon running, the bytes are bridged to
 * its gateway socket unchanged; without one, a supervisor and gateway run in
 * this process until stdin closes (DESIGN.md, "Gateway": the default that
 * works with no set-up).  stdout carries the protocol and nothing else. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "corral/config.h"
#include "corral/daemon.h"
#include "corral/fs.h"
#include "corral/gateway.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/policy.h"
#include "corral/limits.h"
#include "corral/state.h"
#include "corral/supervisor.h"

#define BRIDGE_CHUNK 65536

/* A connected socket to the daemon's gateway, or -1 when none answers. */
static int connect_gateway(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -1;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        do
                r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        while (r < 0 && errno == EINTR);
        if (r < 0) {
                log_debug("serve: no daemon at %s (%s): running embedded", path, strerror(errno));
                return -1;
        }
        return steal_fd(&fd);
}

/* Copies stdin → sock and sock → stdout.  stdin's EOF half-closes the socket
 * (the daemon still answers what was asked); the daemon closing ends it. */
static int bridge(int sock, corral_error *err)
{
        struct pollfd pfd[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                {.fd = sock, .events = POLLIN}};
        _cleanup_free_ char *buf = xmalloc(BRIDGE_CHUNK);
        bool in_open = true;

        for (;;) {
                ssize_t n;

                pfd[0].fd = in_open ? STDIN_FILENO : -1;
                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return corral_error_errno(err, EX_SOFTWARE, errno, "poll");
                }
                if (in_open && pfd[0].revents) {
                        do
                                n = read(STDIN_FILENO, buf, BRIDGE_CHUNK);
                        while (n < 0 && errno == EINTR);
                        if (n > 0 && write_all(sock, buf, (size_t)n) < 0)
                                return 0; /* the daemon went away */
                        if (n <= 0) {
                                in_open = false;
                                (void)shutdown(sock, SHUT_WR);
                        }
                }
                if (pfd[1].revents) {
                        do
                                n = read(sock, buf, BRIDGE_CHUNK);
                        while (n < 0 && errno == EINTR);
                        if (n <= 0)
                                return 0;
                        if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
                                return 0; /* the client went away */
                }
        }
}

typedef struct embedded {
        uv_loop_t *loop;
        supervisor *sv;
        gateway *gw;
        uv_signal_t *sig[3];
        bool stopping;
} embedded;

static void on_stopped(void *ud)
{
        embedded *e = ud;
        uv_stop(e->loop);
}

static void stop(embedded *e)
{
        if (e->stopping)
                return;
        e->stopping = true;
        supervisor_shutdown(e->sv, on_stopped, e);
}

static void on_stdin_eof(void *ud)
{
        stop(ud);
}

static void on_signal(uv_signal_t *h, int signum)
{
        embedded *e = h->data;

        if (signum == SIGHUP) {
                corral_error err = {0};
                if (supervisor_reconcile(e->sv, &err) < 0)
                        log_warn("reload: %s", err.msg);
                return;
        }
        stop(e);
}

static void close_walk(uv_handle_t *h, void *arg)
{
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

static void free_handle(uv_handle_t *h)
{
        free(h);
}

static int run_embedded(store *s, corral_error *err)
{
        static const int signums[] = {SIGTERM, SIGINT, SIGHUP};
        corral_error rerr = {0};
        uv_loop_t loop;
        embedded e = {.loop = &loop};
        tool_policy tools = {0};
        mgmt_settings ms;
        control ctl;
        limiter *limits;
        int r;

        if (uv_loop_init(&loop) < 0)
                return corral_error_set(err, EX_SOFTWARE, "cannot create the event loop");
        limits = limiter_new();
        e.gw = gateway_new(&loop, NULL);
        e.sv = supervisor_new(&loop, s, &gateway_supervisor_events, e.gw);
        gateway_set_supervisor(e.gw, e.sv);
        ctl = (control){.st = s, .sv = e.sv, .gw = e.gw};
        {
                /* The tool lists apply here as on the daemon's sockets (issue 15). */
                _cleanup_json_ cJSON *config = NULL;
                r = config_load(&s->paths, &config, err);
                if (r == 0)
                        r = tool_policy_load(config, &tools, err);
                if (r == 0)
                        gateway_set_tool_policy(e.gw, &tools);
                /* The management tools too, their verbs run as children as
                 * the daemon's are (include/corral/mgmt.h). */
                if (r == 0 && (r = mgmt_settings_load(config, &ms, err)) == 0)
                        gateway_set_mgmt(e.gw, &control_mgmt_backend, &ctl, &ms);
                /* Limits too; the buckets are this process's own. */
                if (r == 0) {
                        _cleanup_free_ char *db = state_path(&s->paths);
                        if ((r = limiter_load(limits, config, db, err)) > 0) {
                                log_warn("%s", err->msg);
                                corral_error_clear(err);
                                r = 0;
                        }
                        gateway_set_limiter(e.gw, limits);
                }
        }
        if (r == 0)
                r = gateway_serve_fds(e.gw, STDIN_FILENO, STDOUT_FILENO, on_stdin_eof, &e, err);
        if (r == 0) {
                for (size_t i = 0; i < ARRAY_SIZE(signums); i++) {
                        e.sig[i] = xcalloc(1, sizeof(*e.sig[i]));
                        (void)uv_signal_init(&loop, e.sig[i]);
                        e.sig[i]->data = &e;
                        (void)uv_signal_start(e.sig[i], on_signal, signums[i]);
                }
                if (supervisor_reconcile(e.sv, &rerr) < 0)
                        log_warn("cannot load the store: %s", rerr.msg);
                uv_run(&loop, UV_RUN_DEFAULT);
        }
        e.sv = supervisor_free(e.sv);
        e.gw = gateway_free(e.gw);
        for (size_t i = 0; i < ARRAY_SIZE(e.sig); i++)
                if (e.sig[i])
                        uv_close((uv_handle_t *)e.sig[i], free_handle);
        uv_walk(&loop, close_walk, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&loop) < 0)
                log_warn("event loop still busy at exit");
        tool_policy_done(&tools);
        limiter_free(limits);
        return r;
}

int serve_stdio(store *s, corral_error *err)
{
        struct sigaction ign = {.sa_handler = SIG_IGN};
        _cleanup_close_ int sock = -1;

        /* A client that closes stdout must cost us EPIPE, not the process. */
        (void)sigaction(SIGPIPE, &ign, NULL);
        sock = connect_gateway(s->paths.gateway_sock);
        if (sock >= 0)
                return bridge(sock, err);
        return run_embedded(s, err);
}
