/* Who writes the state database for a CLI verb (issue 15: "written by the
 * daemon only"): the store's daemon when one runs — the verb asks it on the
 * control socket — else the verb itself, holding the daemon's lock
 * (run/daemon.lock) while it writes so that no daemon starts meanwhile.
 * The daemon's own children (corral/exec, the management tools) write
 * themselves: the daemon asked them to; they know its lock by the pid it
 * wrote there, their parent's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/fs.h"
#include "corral/oauth_client.h"
#include "corral/paths.h"

/* Whether the pid in the lock file fd is our parent's. */
static bool locked_by_parent(int fd)
{
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        char *end = NULL;
        long pid;

        if (n <= 0)
                return false;
        buf[n] = '\0';
        pid = strtol(buf, &end, 10);
        return end != buf && pid > 1 && (pid_t)pid == getppid();
}

/* Whether the control socket at path takes a connection. */
static bool socket_answers(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return false;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        do
                r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        while (r < 0 && errno == EINTR);
        return r == 0;
}

int cli_state_writer(const cli_ctx *ctx, const corral_paths *p, int *ret_lock)
{
        _cleanup_free_ char *path = path_join(p->run, "daemon.lock");
        _cleanup_close_ int fd = -1;
        struct stat st;

        (void)ctx;
        *ret_lock = -1;
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                /* Not ours to lock (another user's store) or no run/ yet:
                 * the daemon if its socket is there, else the verb (whose
                 * open of the database says what is wrong). */
                return stat(p->control_sock, &st) == 0 && S_ISSOCK(st.st_mode) ? CLI_STATE_DAEMON
                                                                             : CLI_STATE_DIRECT;
        }
        for (int tries = 0; flock(fd, LOCK_EX | LOCK_NB) < 0;) {
                if (errno == EINTR)
                        continue;
                if (errno != EWOULDBLOCK)
                        return CLI_STATE_DIRECT;
                if (locked_by_parent(fd))
                        return CLI_STATE_DIRECT;
                /* A daemon that answers; or one starting, or another CLI
                 * writing for a few ms: wait that out (2 s at most). */
                if (socket_answers(p->control_sock) || ++tries >= 100)
                        return CLI_STATE_DAEMON;
                (void)usleep(20000);
        }
        *ret_lock = steal_fd(&fd);
        return CLI_STATE_DIRECT;
}

void cli_state_forget_oauth(const cli_ctx *ctx, const corral_paths *p, const char *name)
{
        int lock = -1;

        if (cli_state_writer(ctx, p, &lock) == CLI_STATE_DAEMON) {
                cJSON *params = cJSON_CreateObject(), *res = NULL;
                corral_error err = {0};

                cJSON_AddStringToObject(params, "name", name);
                if (cli_rpc(ctx, "corral/oauth_forget", params, 10000, &res, &err) < 0)
                        fprintf(stderr,
                                "corral: %s: warning: the OAuth tokens of %s stay in the state "
                                "database: %s\n",
                                ctx->verb, name, err.msg);
                cJSON_Delete(res);
                return;
        }
        oauth_state_forget_all(p, name);
        if (lock >= 0)
                (void)close(lock);
}
