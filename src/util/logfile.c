/* Per-server log files with size rotation (DESIGN.md, "Supervisor": stderr →
 * per-server log with size rotation). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
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
        uint64_t pending; /* lines dropped since the last notice */
        uint64_t dropped; /* lines dropped since logfile_open() */
        int drop_errno;   /* why the last write failed */
        bool mid_line;    /* the file does not end with a newline */
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
        lf->mid_line = false;
}

/* Lines in data[0..n): its newlines, and one more for a fragment after the
 * last (a write without a newline is a line as far as the reader can tell). */
static uint64_t count_lines(const char *data, size_t n)
{
        uint64_t lines = 0;
        for (size_t i = 0; i < n; i++)
                lines += data[i] == '\n';
        return lines + (n > 0 && data[n - 1] != '\n');
}

/* Appends data; on a failed write the unwritten rest is counted as dropped
 * lines.  0, or -1 when something was dropped. */
static int append(logfile *lf, const char *data, size_t n)
{
        size_t done = 0;
        while (done < n) {
                ssize_t w = write(lf->fd, data + done, n - done);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        lf->drop_errno = w < 0 ? errno : ENOSPC;
                        uint64_t lost = count_lines(data + done, n - done);
                        lf->pending += lost;
                        lf->dropped += lost;
                        break;
                }
                done += (size_t)w;
                lf->size += (size_t)w;
                lf->mid_line = data[done - 1] != '\n';
        }
        return done == n ? 0 : -1;
}

/* "<RFC 3339 time> corral: <text>\n" into line (LOGFILE_NOTE_MAX bytes),
 * control characters of text replaced; returns the length. */
static size_t format_note(char *line, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));
static size_t format_note(char *line, const char *fmt, va_list ap)
{
        struct timespec ts;
        struct tm tm;
        size_t n, start;
        int r;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, LOGFILE_NOTE_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, LOGFILE_NOTE_MAX - n,
                              ".%03ldZ corral: ", ts.tv_nsec / 1000000);
        start = n;
        r = vsnprintf(line + n, LOGFILE_NOTE_MAX - n, fmt, ap);
        if (r < 0)
                r = 0;
        n += (size_t)r;
        if (n > LOGFILE_NOTE_MAX - 2)
                n = LOGFILE_NOTE_MAX - 2;
        /* Notes may quote text a server sent; keep them to one line. */
        for (size_t i = start; i < n; i++)
                if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
                        line[i] = '?';
        line[n++] = '\n';
        return n;
}

static size_t note_line(char *line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t note_line(char *line, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        size_t n = format_note(line, fmt, ap);
        va_end(ap);
        return n;
}

/* Once writing works again: one line saying how many were lost.  0 when
 * nothing is pending or the notice went in. */
static int flush_drop_notice(logfile *lf)
{
        char line[LOGFILE_NOTE_MAX + 1];
        size_t n = 0;

        if (lf->pending == 0)
                return 0;
        /* After a torn line the notice starts a line of its own. */
        if (lf->mid_line)
                line[n++] = '\n';
        bool full = lf->drop_errno == ENOSPC || lf->drop_errno == EDQUOT;
        n += note_line(line + n, "%llu log lines dropped (%s)", (unsigned long long)lf->pending,
                       full ? "disk full" : strerror(lf->drop_errno));
        /* The notice itself is not a dropped line of the server's. */
        uint64_t pending = lf->pending, dropped = lf->dropped;
        if (append(lf, line, n) < 0) {
                lf->pending = pending;
                lf->dropped = dropped;
                return -1;
        }
        lf->pending = 0;
        return 0;
}

void logfile_write(logfile *lf, const char *data, size_t n)
{
        if (!lf || n == 0)
                return;
        if (lf->size > 0 && lf->size + n > lf->max)
                rotate(lf);
        if (flush_drop_notice(lf) < 0) {
                uint64_t lost = count_lines(data, n);
                lf->pending += lost;
                lf->dropped += lost;
                return;
        }
        (void)append(lf, data, n);
}

void logfile_note(logfile *lf, const char *fmt, ...)
{
        char line[LOGFILE_NOTE_MAX];
        va_list ap;
        size_t n;

        if (!lf)
                return;
        va_start(ap, fmt);
        n = format_note(line, fmt, ap);
        va_end(ap);
        logfile_write(lf, line, n);
}

uint64_t logfile_dropped(const logfile *lf)
{
        return lf ? lf->dropped : 0;
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
