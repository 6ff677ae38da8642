/* sd_notify and socket activation without libsystemd (include/corral/sd.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/macro.h"
#include "corral/sd.h"

int sd_notify_send(const char *state)
{
        const char *e = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;
        size_t len;
        socklen_t salen;
        ssize_t n;

        if (!e || !e[0])
                return 0;
        len = strlen(e);
        if ((e[0] != '/' && e[0] != '@') || len >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, e, len);
        if (e[0] == '@')
                sa.sun_path[0] = '\0'; /* abstract: the length, not a NUL, ends it */
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (e[0] == '/'));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        do
                n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return 1;
}

int sd_notify_reloading(void)
{
        struct timespec ts;
        char msg[80];

        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
                 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
        return sd_notify_send(msg);
}

static int parse_count(const char *s, long max, long *ret)
{
        char *end;
        long v;

        if (!s || !s[0])
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v < 0 || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static void unset_env(void)
{
        (void)unsetenv("LISTEN_PID");
        (void)unsetenv("LISTEN_FDS");
        (void)unsetenv("LISTEN_FDNAMES");
}

int sd_listen_take(sd_listen *ret)
{
        const char *spid = getenv("LISTEN_PID"), *sfds = getenv("LISTEN_FDS");
        const char *snames = getenv("LISTEN_FDNAMES");
        sd_listen l = {0};
        long pid, n;

        memset(ret, 0, sizeof(*ret));
        if (!spid || !sfds)
                return 0;
        if (parse_count(spid, (long)INT_MAX, &pid) < 0 ||
            parse_count(sfds, SD_LISTEN_FDS_MAX, &n) < 0) {
                unset_env();
                return -EINVAL;
        }
        if (pid != (long)getpid())
                return 0; /* meant for another process (we were forked or exec'd) */
        for (long i = 0; i < n; i++)
                if (fcntl(SD_LISTEN_FDS_START + (int)i, F_GETFD) < 0) {
                        unset_env();
                        return -EINVAL;
                }
        if (snames) {
                _cleanup_free_ char *copy = xstrdup(snames);
                char *rest = copy, *tok;
                size_t i = 0;

                /* strsep, not strtok: an empty name between colons counts. */
                while (i < (size_t)n && (tok = strsep(&rest, ":")) != NULL)
                        l.names[i++] = xstrdup(tok);
        }
        for (long i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + (int)i;
                struct sockaddr_un sa;
                socklen_t salen = sizeof(sa);

                (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
                l.fds[i] = fd;
                memset(&sa, 0, sizeof(sa));
                if (getsockname(fd, (struct sockaddr *)&sa, &salen) == 0 &&
                    sa.sun_family == AF_UNIX && salen > offsetof(struct sockaddr_un, sun_path) &&
                    sa.sun_path[0] == '/')
                        l.paths[i] = xstrndup(sa.sun_path,
                                              strnlen(sa.sun_path, salen - offsetof(struct sockaddr_un,
                                                                                    sun_path)));
        }
        l.n = (size_t)n;
        unset_env();
        *ret = l;
        return (int)n;
}

int sd_listen_find(sd_listen *l, const char *path, const char *name)
{
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < l->n; i++) {
                        const char *have = pass == 0 ? l->paths[i] : l->names[i];
                        const char *want = pass == 0 ? path : name;
                        int fd = l->fds[i];

                        if (fd < 0 || !have || !want || strcmp(have, want) != 0)
                                continue;
                        l->fds[i] = -1;
                        return fd;
                }
        return -1;
}

void sd_listen_done(sd_listen *l)
{
        for (size_t i = 0; i < l->n; i++) {
                if (l->fds[i] >= 0)
                        (void)close(l->fds[i]);
                free(l->names[i]);
                free(l->paths[i]);
        }
        memset(l, 0, sizeof(*l));
}
