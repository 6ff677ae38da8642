/* Error reporting: every fallible function takes `corral_error *err` last and
 * returns a negative sysexits(3) code on failure (e.g. -EX_DATAERR), >= 0 on
 * success.  The message is one line, "what went wrong: why", printed by the CLI
 * as "corral: VERB: <message>". */
#pragma once

#include <sysexits.h>

#include "corral/macro.h"

typedef struct corral_error {
        int code;       /* sysexits code, 0 when unset */
        char msg[1024]; /* one line, NUL-terminated */
} corral_error;

/* Sets err (when not NULL) and returns -code, so callers can write
 * `return corral_error_set(err, EX_NOINPUT, "no such server '%s'", name);`.
 * A second set on an already-set error keeps the first message. */
int corral_error_set(corral_error *err, int code, const char *fmt, ...) _printf_(3, 4);

/* Like corral_error_set(), appending ": strerror(errnum)". errnum is positive.
 * ENOSPC and EDQUOT always give EX_CANTCREAT (73), whatever code says. */
int corral_error_errno(corral_error *err, int code, int errnum, const char *fmt, ...) _printf_(4, 5);

/* Prefixes an already-set message with "prefix: " (context as the error bubbles up). */
void corral_error_prefix(corral_error *err, const char *fmt, ...) _printf_(2, 3);

static inline void corral_error_clear(corral_error *err)
{
        if (err) {
                err->code = 0;
                err->msg[0] = '\0';
        }
}
