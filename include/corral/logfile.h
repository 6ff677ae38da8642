/* Per-server log files with size rotation: NAME.log, NAME.log.1 … NAME.log.N. */
#pragma once

#include <stddef.h>

typedef struct logfile logfile;

/* Opens (appending, O_CLOEXEC, 0640) path; rotates once the file passes
 * max_bytes (0 = 10 MiB), keeping keep (0 = 3) old files.  NULL with errno. */
logfile *logfile_open(const char *path, size_t max_bytes, unsigned keep);
/* Appends; rotates first when needed.  Write errors are dropped (a full disk
 * must not stop a server). */
void logfile_write(logfile *lf, const char *data, size_t n);
/* Writes one line "<RFC 3339 time> corral: <text>\n" (supervisor events). */
void logfile_note(logfile *lf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
logfile *logfile_close(logfile *lf);
