/* One-line error messages carried up to the CLI. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "corral/error.h"

static void sanitize(char *s)
{
        /* Messages are one line: a server or registry may have put newlines in. */
        for (; *s; s++)
                if (*s == '\n' || *s == '\r')
                        *s = ' ';
}

static int verror(corral_error *err, int code, int errnum, const char *fmt, va_list ap)
{
        if (!err)
                return -code;
        if (err->code != 0)
                return -err->code;
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        if (errnum > 0) {
                size_t n = strlen(err->msg);
                snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
        }
        sanitize(err->msg);
        return -code;
}

int corral_error_set(corral_error *err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = verror(err, code, 0, fmt, ap);
        va_end(ap);
        return r;
}

int corral_error_errno(corral_error *err, int code, int errnum, const char *fmt, ...)
{
        va_list ap;
        /* A full disk or quota is "can't create" wherever it shows up
         * (sysexits EX_CANTCREAT), never an I/O or data error: one exit
         * code for ENOSPC on every path (issue 9). */
        if (errnum == ENOSPC || errnum == EDQUOT)
                code = EX_CANTCREAT;
        va_start(ap, fmt);
        int r = verror(err, code, errnum, fmt, ap);
        va_end(ap);
        return r;
}

void corral_error_prefix(corral_error *err, const char *fmt, ...)
{
        char prefix[512], old[sizeof(err->msg)];
        va_list ap;

        if (!err || err->code == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof(old));
        /* Truncation is acceptable: the message stays one bounded line. */
        size_t n = strnlen(prefix, sizeof(prefix) - 1);
        if (n > sizeof(err->msg) - 3)
                n = sizeof(err->msg) - 3;
        memcpy(err->msg, prefix, n);
        memcpy(err->msg + n, ": ", 2);
        size_t rest = sizeof(err->msg) - n - 2;
        size_t ol = strnlen(old, rest - 1);
        memcpy(err->msg + n + 2, old, ol);
        err->msg[n + 2 + ol] = '\0';
        sanitize(err->msg);
}
