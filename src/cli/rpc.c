/* The CLI side of the control socket: one blocking JSON-RPC 2.0 request per
 * call (src/cli/cli.h, cli_rpc).  Newline-delimited, like the gateway. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/paths.h"

#define RPC_ID 1
#define RPC_READ_CHUNK 65536

typedef struct rpc_read {
        const cli_ctx *ctx;
        bool progress_tty;
        cli_rpc_notify_fn on_notify;
        void *notify_ud;
        bool stop; /* on_notify asked to end the call */
        cJSON *response; /* owned once found */
} rpc_read;

static void print_progress(const cli_ctx *ctx, const cJSON *params)
{
        double progress = json_get_number(params, "progress", NAN);
        double total = json_get_number(params, "total", NAN);
        const char *message = json_get_string(params, "message");

        if (isnan(progress))
                return;
        if (!isnan(total))
                fprintf(stderr, "corral: %s: progress %g/%g%s%s\n", ctx->verb, progress, total,
                        message ? ": " : "", message ? message : "");
        else
                fprintf(stderr, "corral: %s: progress %g%s%s\n", ctx->verb, progress,
                        message ? ": " : "", message ? message : "");
}

static int on_line(void *ud, const char *line, size_t len)
{
        rpc_read *rr = ud;
        _cleanup_json_ cJSON *msg = cJSON_ParseWithLength(line, len);
        const cJSON *id;

        if (!msg)
                return 0;
        switch (jsonrpc_classify(msg)) {
        case JSONRPC_RESPONSE:
                id = cJSON_GetObjectItemCaseSensitive(msg, "id");
                if (cJSON_IsNumber(id) && id->valuedouble == RPC_ID) {
                        rr->response = steal_pointer(&msg);
                        return 1;
                }
                /* id null: the daemon could not read our request at all. */
                if (cJSON_IsNull(id) && cJSON_GetObjectItemCaseSensitive(msg, "error")) {
                        rr->response = steal_pointer(&msg);
                        return 1;
                }
                break;
        case JSONRPC_NOTIFICATION:
                if (rr->progress_tty &&
                    strcmp(json_get_string(msg, "method"), "notifications/progress") == 0)
                        print_progress(rr->ctx, json_get_object(msg, "params"));
                else if (rr->on_notify &&
                         rr->on_notify(rr->notify_ud, json_get_string(msg, "method"),
                                       json_get_object(msg, "params")) < 0) {
                        rr->stop = true;
                        return 1;
                }
                break;
        default:
                break;
        }
        return 0;
}

static int send_all(int fd, const char *data, size_t len)
{
        while (len) {
                ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += n;
                len -= (size_t)n;
        }
        return 0;
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Maps a JSON-RPC error object to cli.h's codes, keeping the daemon's message. */
static int map_error(const cJSON *error, corral_error *err)
{
        const char *msg = json_get_string(error, "message");
        const cJSON *data = json_get_object(error, "data");
        double exit_code = json_get_number(data, "exit", 0);
        int code = (int)json_get_number(error, "code", 0);

        if (!msg || !*msg)
                msg = "the daemon reported an error";
        if (exit_code >= EX__BASE && exit_code <= EX__MAX)
                return corral_error_set(err, (int)exit_code, "%s", msg);
        if (code == JSONRPC_INVALID_PARAMS)
                return corral_error_set(err, EX_DATAERR, "%s", msg);
        if (code == CORRAL_RPC_TIMEOUT) /* try again (or with a longer --timeout) */
                return corral_error_set(err, EX_TEMPFAIL, "%s", msg);
        return corral_error_set(err, EX_UNAVAILABLE, "%s", msg);
}

int cli_rpc(const cli_ctx *ctx, const char *method, cJSON *params, unsigned timeout_ms,
            cJSON **ret_result, corral_error *err)
{
        return cli_rpc_stream(ctx, method, params, timeout_ms, NULL, NULL, ret_result, err);
}

int cli_rpc_stream(const cli_ctx *ctx, const char *method, cJSON *params, unsigned timeout_ms,
                   cli_rpc_notify_fn on_notify, void *ud, cJSON **ret_result, corral_error *err)
{
        _cleanup_json_ cJSON *owned_params = params;
        corral_paths paths = {0};
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *frame = NULL, *buf = NULL;
        jsonrpc_framer framer;
        rpc_read rr = {.ctx = ctx, .progress_tty = isatty(STDERR_FILENO) == 1,
                       .on_notify = on_notify, .notify_ud = ud};
        const cJSON *error, *result;
        int64_t deadline = 0;
        size_t len;
        int r;

        r = paths_init(&paths, ctx->root, err);
        if (r < 0)
                return r;
        if (strlen(paths.control_sock) >= sizeof(sa.sun_path)) {
                r = corral_error_set(err, EX_UNAVAILABLE, "control socket path too long: %s",
                                     paths.control_sock);
                paths_done(&paths);
                return r;
        }
        memcpy(sa.sun_path, paths.control_sock, strlen(paths.control_sock) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                paths_done(&paths);
                return corral_error_errno(err, EX_OSERR, errno, "socket");
        }
        do
                r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        while (r < 0 && errno == EINTR);
        if (r < 0) {
                int e = errno;
                if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
                        r = corral_error_set(err, EX_UNAVAILABLE,
                                             "the daemon is not running (no control socket at %s)",
                                             paths.control_sock);
                else
                        r = corral_error_errno(err, e == EACCES ? EX_NOPERM : EX_UNAVAILABLE, e,
                                               "cannot reach the daemon at %s", paths.control_sock);
                paths_done(&paths);
                return r;
        }
        paths_done(&paths);

        {
                _cleanup_json_ cJSON *id = cJSON_CreateNumber(RPC_ID);
                _cleanup_json_ cJSON *req =
                        jsonrpc_request(id, method, steal_pointer(&owned_params));
                frame = jsonrpc_frame(req, &len);
        }
        r = send_all(fd, frame, len);
        if (r < 0)
                return corral_error_errno(err, EX_UNAVAILABLE, -r,
                                          "cannot send the request to the daemon");

        jsonrpc_framer_init(&framer, JSONRPC_DEFAULT_MAX_MESSAGE);
        buf = xmalloc(RPC_READ_CHUNK);
        if (timeout_ms)
                deadline = now_ms() + timeout_ms;
        while (!rr.response && !rr.stop) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                int wait = -1;
                ssize_t n;

                if (timeout_ms) {
                        int64_t left = deadline - now_ms();
                        if (left <= 0) {
                                r = corral_error_set(err, EX_TEMPFAIL,
                                                     "no answer from the daemon within %u s",
                                                     (timeout_ms + 999) / 1000);
                                break;
                        }
                        wait = (int)(left > 60000 ? 60000 : left);
                }
                r = poll(&pfd, 1, wait);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        r = corral_error_errno(err, EX_OSERR, errno, "poll");
                        break;
                }
                if (r == 0)
                        continue;
                n = read(fd, buf, RPC_READ_CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = corral_error_set(err, EX_UNAVAILABLE,
                                             "the daemon closed the connection before answering");
                        break;
                }
                /* A progress notification shows the request is alive. */
                if (timeout_ms)
                        deadline = now_ms() + timeout_ms;
                if (jsonrpc_framer_feed(&framer, buf, (size_t)n, on_line, &rr) ==
                    JSONRPC_FRAME_OVERSIZE) {
                        r = corral_error_set(err, EX_UNAVAILABLE,
                                             "the daemon sent a message over %u MiB",
                                             JSONRPC_DEFAULT_MAX_MESSAGE >> 20);
                        break;
                }
                r = 0;
        }
        jsonrpc_framer_done(&framer);
        if (rr.stop) {
                *ret_result = NULL;
                return 0;
        }
        if (!rr.response)
                return r < 0 ? r : corral_error_set(err, EX_UNAVAILABLE, "no answer");

        error = cJSON_GetObjectItemCaseSensitive(rr.response, "error");
        result = cJSON_GetObjectItemCaseSensitive(rr.response, "result");
        if (error) {
                r = map_error(error, err);
                cJSON_Delete(rr.response);
                return r;
        }
        *ret_result = cJSON_DetachItemViaPointer(rr.response, (cJSON *)result);
        cJSON_Delete(rr.response);
        return 0;
}
