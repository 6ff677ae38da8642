/* Diagnostics on stderr for the daemon and CLI ("corral[PID]: level: msg" in
 * the daemon, plain in the CLI).  Never used for server output: that goes to
 * per-server log files (see logfile.h). */
#pragma once

#include "corral/macro.h"

typedef enum { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG } log_level;

/* Default LOG_LEVEL_WARN; CORRAL_LOG=debug|info|warn|error overrides. */
void log_set_level(log_level level);
void log_init_from_env(void);
/* Daemon mode prefixes lines with a timestamp and pid. */
void log_set_daemon(int daemon);
void log_msg(log_level level, const char *fmt, ...) _printf_(2, 3);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
