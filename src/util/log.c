/* stderr diagnostics. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "corral/log.h"

static log_level current = LOG_LEVEL_WARN;
static int daemon_mode;

void log_set_level(log_level level) { current = level; }
void log_set_daemon(int d) { daemon_mode = d; }

void log_init_from_env(void)
{
        static const char *const names[] = { "error", "warn", "info", "debug" };
        const char *e = getenv("CORRAL_LOG");

        if (!e)
                return;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (strcasecmp(e, names[i]) == 0)
                        current = (log_level)i;
}

void log_msg(log_level level, const char *fmt, ...)
{
        static const char *const prefix[] = { "error", "warning", "info", "debug" };
        char line[2048];
        size_t n = 0;
        va_list ap;

        if (level > current)
                return;
        if (daemon_mode) {
                struct timespec ts;
                struct tm tm;
                clock_gettime(CLOCK_REALTIME, &ts);
                gmtime_r(&ts.tv_sec, &tm);
                n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
                n += (size_t)snprintf(line + n, sizeof(line) - n, "corral[%d]: %s: ", (int)getpid(),
                                      prefix[level]);
        } else {
                n = (size_t)snprintf(line, sizeof(line), "corral: %s: ", prefix[level]);
        }
        va_start(ap, fmt);
        if (n < sizeof(line))
                vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
        fprintf(stderr, "%s\n", line);
}
