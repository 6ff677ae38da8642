/* Per-server log files with size rotation: NAME.log, NAME.log.1 … NAME.log.N. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct logfile logfile;

/* Opens (appending, O_CLOEXEC, 0640) path; rotates once the file passes
 * max_bytes (0 = 10 MiB), keeping keep (0 = 3) old files.  NULL with errno. */
logfile *logfile_open(const char *path, size_t max_bytes, unsigned keep);
/* Appends; rotates first when needed.  A write that fails (a full disk
 * must not stop a server) is dropped and its lines counted (newlines, and a
 * trailing fragment as one); the next write that works is preceded by one
 * line "<time> corral: N log lines dropped (disk full)" (or the error's
 * text when it was not ENOSPC/EDQUOT). */
void logfile_write(logfile *lf, const char *data, size_t n);
/* Lines dropped since logfile_open() (0 for NULL). */
uint64_t logfile_dropped(const logfile *lf);
/* Writes one line "<RFC 3339 time> corral: <text>\n" (supervisor events). */
void logfile_note(logfile *lf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
logfile *logfile_close(logfile *lf);
