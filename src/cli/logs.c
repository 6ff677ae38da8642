/* `corral logs NAME [-n LINES] [-f]`: a server's log file (LOGS/NAME.log),
 * its last LINES lines, and with -f what is written after, followed through
 * rotation by polling.  A non-root user of the system store cannot read the
 * 0640 file: the daemon runs this verb for them as its child with
 * --as-user, where another user's server does not exist.  Exit codes: 66 for
 * an unknown server, 77 or 74 when the file cannot be read. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/fs.h"
#include "corral/paths.h"
#include "corral/users.h"

#define LOG_FOLLOW_INTERVAL_MS 200
#define LOG_CHUNK 65536

static int copy_fd(int fd, off_t *pos)
{
        char buf[LOG_CHUNK];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : 0;
                if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
                        return -EIO;
                *pos += n;
        }
}

/* Offset where the last `lines` lines of fd (size bytes) start. */
static off_t tail_offset(int fd, off_t size, long lines)
{
        char buf[LOG_CHUNK];
        off_t end = size;
        long seen = 0;
        bool skip_final = true;

        if (lines <= 0)
                return size;
        while (end > 0) {
                off_t start = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
                ssize_t n = pread(fd, buf, (size_t)(end - start), start);
                if (n <= 0)
                        return 0;
                for (ssize_t i = n - 1; i >= 0; i--) {
                        if (buf[i] != '\n')
                                continue;
                        /* The newline that ends the file ends the last line. */
                        if (skip_final && start + i == size - 1) {
                                skip_final = false;
                                continue;
                        }
                        if (++seen == lines)
                                return start + i + 1;
                }
                skip_final = false;
                end = start;
        }
        return 0;
}

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

int cli_logs(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"follow", no_argument, NULL, 'f'},
                {"lines", required_argument, NULL, 'n'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        corral_error err = {0};
        corral_paths paths = {0};
        _cleanup_free_ char *log = NULL, *mpath = NULL;
        _cleanup_close_ int fd = -1;
        bool follow = false;
        long lines = -1;
        off_t pos = 0;
        const char *name = NULL, *as_user;
        struct stat st;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hfn:", opts, NULL)) != -1) {
                switch (c) {
                case 'f':
                        follow = true;
                        break;
                case 'n': {
                        char *end;
                        errno = 0;
                        lines = strtol(optarg, &end, 10);
                        if (errno || *end || lines < 0 || !*optarg)
                                return cli_usage_error(ctx, "-n takes a number of lines");
                        break;
                }
                default:
                        return c == 'h' ? cli_usage(ctx) : cli_bad_option(ctx, c, argv);
                }
        }
        c = cli_name_operand(ctx, argc, argv, &name);
        if (c != 0)
                return c;
        if (!server_name_valid(name))
                return cli_fail(ctx, EX_NOINPUT, "no such server '%s'", name);
        if (paths_init(&paths, ctx->root, &err) < 0)
                return cli_fail_error(ctx, &err);
        log = paths_log_file(&paths, name);
        mpath = paths_manifest(&paths, name);
        as_user = cli_acting_user(ctx, &paths);
        paths_done(&paths);
        if (!path_exists(mpath) && !path_exists(log))
                return cli_fail(ctx, EX_NOINPUT, "no such server '%s'", name);
        if (as_user) {
                /* Another user's server does not exist for this one (issue 15). */
                manifest *m = NULL;
                bool mine = manifest_load(&m, mpath, NULL) == 0 &&
                            users_owner_matches(m->owner, as_user);
                manifest_free(m);
                if (!mine)
                        return cli_fail(ctx, EX_NOINPUT, "no such server '%s'", name);
        }

        fd = open(log, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT)
                return cli_fail(ctx, errno == EACCES ? EX_NOPERM : EX_IOERR, "cannot read %s: %s",
                                log, strerror(errno));
        if (fd >= 0 && fstat(fd, &st) == 0) {
                pos = lines >= 0 ? tail_offset(fd, st.st_size, lines) : 0;
                if (lseek(fd, pos, SEEK_SET) < 0)
                        pos = 0;
                if (copy_fd(fd, &pos) < 0)
                        return cli_fail(ctx, EX_IOERR, "cannot read %s: %s", log, strerror(errno));
        }
        fflush(stdout);
        if (!follow)
                return 0;

        /* Follow by polling: rotation renames NAME.log away and starts a new
         * one, so the path is re-checked and the old file drained first. */
        for (;;) {
                struct stat now;

                sleep_ms(LOG_FOLLOW_INTERVAL_MS);
                if (fd >= 0)
                        (void)copy_fd(fd, &pos);
                if (stat(log, &now) == 0) {
                        bool replaced = fd < 0 || fstat(fd, &st) < 0 || st.st_ino != now.st_ino ||
                                        st.st_dev != now.st_dev;
                        if (!replaced && now.st_size < pos) {
                                /* Truncated in place: start over. */
                                pos = lseek(fd, 0, SEEK_SET) < 0 ? pos : 0;
                        } else if (replaced) {
                                int nfd = open(log, O_RDONLY | O_CLOEXEC);
                                if (nfd >= 0) {
                                        if (fd >= 0)
                                                (void)close(fd);
                                        fd = nfd;
                                        pos = 0;
                                }
                        }
                        if (fd >= 0)
                                (void)copy_fd(fd, &pos);
                }
                if (fflush(stdout) != 0)
                        return 0; /* the reader went away */
        }
}
