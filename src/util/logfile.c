/* Per-server log files with size rotation (DESIGN.md, "Supervisor": stderr →
 * per-server log with size rotation). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/logfile.h"
#include "corral/macro.h"

#define LOGFILE_DEFAULT_MAX (10u << 20)
#define LOGFILE_DEFAULT_KEEP 3u
#define LOGFILE_MAX_KEEP 100u  /* bounds the rename loop */
#define LOGFILE_NOTE_MAX 2048u /* one supervisor line, timestamp included */

struct logfile {
        char *path;
        int fd;
        size_t size; /* bytes in the current file, as far as we know */
        size_t max;
        unsigned keep;
};

static int open_append(const char *path, size_t *ret_size)
{
        struct stat st;
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);

        if (fd < 0)
                return -1;
        *ret_size = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size : 0;
        return fd;
}

logfile *logfile_open(const char *path, size_t max_bytes, unsigned keep)
{
        size_t size = 0;
        int fd = open_append(path, &size);
        logfile *lf;

        if (fd < 0)
                return NULL;
        lf = xcalloc(1, sizeof(*lf));
        lf->path = xstrdup(path);
        lf->fd = fd;
        lf->size = size;
        lf->max = max_bytes ? max_bytes : LOGFILE_DEFAULT_MAX;
        keep = keep ? keep : LOGFILE_DEFAULT_KEEP;
        lf->keep = keep > LOGFILE_MAX_KEEP ? LOGFILE_MAX_KEEP : keep;
        return lf;
}

/* NAME.log.(keep-1) → NAME.log.keep … NAME.log → NAME.log.1, then a fresh
 * NAME.log.  The oldest file is overwritten by the rename. */
static void rotate(logfile *lf)
{
        size_t size = 0;
        int fd;

        for (unsigned i = lf->keep; i > 0; i--) {
                _cleanup_free_ char *to = xasprintf("%s.%u", lf->path, i);
                _cleanup_free_ char *from =
                        i > 1 ? xasprintf("%s.%u", lf->path, i - 1) : xstrdup(lf->path);
                (void)rename(from, to);
        }
        fd = open_append(lf->path, &size);
        if (fd < 0)
                return; /* keep writing to the old (renamed) file rather than lose lines */
        (void)close(lf->fd);
        lf->fd = fd;
        lf->size = size;
}

void logfile_write(logfile *lf, const char *data, size_t n)
{
        if (!lf || n == 0)
                return;
        if (lf->size > 0 && lf->size + n > lf->max)
                rotate(lf);
        if (write_all(lf->fd, data, n) == 0)
                lf->size += n;
}

void logfile_note(logfile *lf, const char *fmt, ...)
{
        char line[LOGFILE_NOTE_MAX];
        struct timespec ts;
        struct tm tm;
        size_t n, start;
        va_list ap;
        int r;

        if (!lf)
                return;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ corral: ", ts.tv_nsec / 1000000);
        start = n;
        va_start(ap, fmt);
        r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
        if (r < 0)
                r = 0;
        n += (size_t)r;
        if (n > sizeof(line) - 2)
                n = sizeof(line) - 2;
        /* Notes may quote text a server sent; keep them to one line. */
        for (size_t i = start; i < n; i++)
                if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
                        line[i] = '?';
        line[n++] = '\n';
        logfile_write(lf, line, n);
}

logfile *logfile_close(logfile *lf)
{
        if (!lf)
                return NULL;
        if (lf->fd >= 0)
                (void)close(lf->fd);
        free(lf->path);
        free(lf);
        return NULL;
}
