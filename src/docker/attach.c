/* Attach: a hijacked HTTP/1.1 connection (Engine API v1.41, "Attach to a
 * container": "Connection: Upgrade", "Upgrade: tcp", 101 UPGRADED).  libcurl
 * cannot hand over a connection after an upgrade, so the request is written
 * and its response head read here, with poll() and a deadline; the socket
 * then carries stdin one way and the multiplexed stream the other. */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "corral/docker.h"
#include "corral/fs.h"
#include "docker/internal.h"

#define HEAD_MAX 16384u

static long long now_ms(void)
{
        struct timespec ts;

        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int unavailable(const docker *d, int errnum, corral_error *err)
{
        return corral_error_errno(err, EX_UNAVAILABLE, errnum,
                                  "docker engine unavailable: cannot attach through %s",
                                  docker_socket_path(d));
}

int docker_attach(docker *d, const char *id, unsigned timeout_ms, strbuf *early,
                  corral_error *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        const char *sock = docker_socket_path(d);
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *req = NULL;
        char head[HEAD_MAX + 1];
        size_t len = 0;
        long long deadline = now_ms() + timeout_ms;
        char *end = NULL;
        unsigned status = 0;

        for (const char *p = id; *p; p++)
                if (!isalnum((unsigned char)*p))
                        return corral_error_set(err, EX_SOFTWARE, "docker: invalid container id");
        if (strlen(sock) >= sizeof(sa.sun_path))
                return corral_error_set(err, EX_CONFIG, "docker socket path too long: %s", sock);
        memcpy(sa.sun_path, sock, strlen(sock) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return corral_error_errno(err, EX_OSERR, errno, "docker: socket");
        while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                if (errno != EINTR)
                        return unavailable(d, errno, err);

        req = xasprintf("POST /v%s/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1 "
                        "HTTP/1.1\r\nHost: docker\r\nContent-Type: text/plain\r\n"
                        "Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
                        docker_api_version(d), id);
        if (write_all(fd, req, strlen(req)) < 0)
                return unavailable(d, errno, err);

        while (!end) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                long long left = deadline - now_ms();
                ssize_t n;
                int pr;

                if (left <= 0)
                        return corral_error_set(err, EX_TEMPFAIL,
                                                "docker engine: attach timed out after %u ms",
                                                timeout_ms);
                pr = poll(&pfd, 1, (int)left);
                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr < 0)
                        return unavailable(d, errno, err);
                if (pr == 0)
                        continue;
                if (len == HEAD_MAX)
                        return corral_error_set(err, EX_DATAERR,
                                                "docker engine: attach response head too large");
                n = read(fd, head + len, HEAD_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return unavailable(d, errno, err);
                if (n == 0)
                        return corral_error_set(err, EX_UNAVAILABLE,
                                                "docker engine unavailable: attach connection "
                                                "closed");
                len += (size_t)n;
                head[len] = '\0';
                end = memmem(head, len, "\r\n\r\n", 4);
        }
        if (sscanf(head, "HTTP/1.%*[01] %3u", &status) != 1)
                return corral_error_set(err, EX_DATAERR, "docker engine: attach: bad status line");
        if (status != 101 && status != 200) {
                /* The body of an error is JSON {"message"}; quote what came. */
                char *body = end + 4, *nl;
                char *msg = strstr(body, "\"message\":\"");

                if (msg) {
                        msg += 11;
                        nl = strchr(msg, '"');
                        if (nl)
                                *nl = '\0';
                }
                return corral_error_set(err, docker_status_code(status),
                                        "docker engine: attach: %.300s",
                                        msg ? msg : "refused");
        }
        if (early) {
                size_t head_len = (size_t)(end + 4 - head);
                if (len > head_len && strbuf_append(early, end + 4, len - head_len) < 0)
                        return corral_error_set(err, EX_DATAERR,
                                                "docker engine: attach: early output too large");
        }
        return steal_fd(&fd);
}
