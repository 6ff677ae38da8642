/* The two systemd service protocols corral speaks, without libsystemd:
 *
 * - readiness notification (sd_notify(3), systemd.service(5) Type=notify):
 *   one datagram of "KEY=VALUE\n" lines to the AF_UNIX socket named by
 *   $NOTIFY_SOCKET, a path or, starting with '@', an abstract name;
 * - socket activation (sd_listen_fds(3)): listening sockets passed as fds
 *   3 … 3+$LISTEN_FDS-1 when $LISTEN_PID is our pid, named by the
 *   colon-separated $LISTEN_FDNAMES (FileDescriptorName=, default the
 *   socket unit's name). */
#pragma once

#include <stddef.h>

#define SD_LISTEN_FDS_START 3
#define SD_LISTEN_FDS_MAX 64 /* more passed fds than this are refused */

/* Sends state (e.g. "READY=1", "RELOADING=1\nMONOTONIC_USEC=…",
 * "STOPPING=1") to $NOTIFY_SOCKET.  Returns 1 when sent, 0 when
 * $NOTIFY_SOCKET is unset or empty (not under systemd), or -errno (-EINVAL for
 * a name that is neither absolute nor abstract or too long for sun_path). */
int sd_notify_send(const char *state);

/* "RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC in µs>" as systemd wants it
 * (systemd.service(5), Type=notify-reload); sent with sd_notify_send(). */
int sd_notify_reloading(void);

/* The sockets systemd passed.  fds[i] is -1 once taken. */
typedef struct sd_listen {
        size_t n;
        int fds[SD_LISTEN_FDS_MAX];
        char *names[SD_LISTEN_FDS_MAX]; /* from $LISTEN_FDNAMES; NULL when absent */
        char *paths[SD_LISTEN_FDS_MAX]; /* bound AF_UNIX path; NULL for others */
} sd_listen;

/* Fills *ret from $LISTEN_PID/$LISTEN_FDS/$LISTEN_FDNAMES and unsets them
 * (children must not take them for theirs); each fd is made close-on-exec.
 * Returns the number of fds (0 when none were passed to this pid), or
 * -EINVAL (malformed values, more than SD_LISTEN_FDS_MAX, an fd that is not
 * open).  *ret is owned by the caller: sd_listen_done(). */
int sd_listen_take(sd_listen *ret);

/* Takes the passed socket bound to path, else the one named name (either may
 * be NULL): the fd, now owned by the caller, or -1 when there is none. */
int sd_listen_find(sd_listen *l, const char *path, const char *name);

/* Closes the fds nobody took and frees the strings. */
void sd_listen_done(sd_listen *l);
