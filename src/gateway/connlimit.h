/* Connection limits for the unix-socket adapter (issue 9): a local user must
 * not be able to lock everyone else out of the gateway or the control socket
 * by holding connections open.
 *
 * Each socket kind (control, gateway) has its own connlimit: a cap on all
 * connections, a smaller cap per peer uid (SO_PEERCRED), and a share of the
 * total that only admins may use (root, and the uid the daemon runs as), so
 * root's `corral status` and MCP clients always get in.  Refusals are counted
 * and logged at most once per CONNLIMIT_LOG_INTERVAL_MS, with the count.
 *
 * Timeouts are the adapter's job; their settings live here too:
 * first_message_ms bounds how long a connection may take to send its first
 * complete message, idle_ms how long a non-admin session with nothing in
 * flight may stay silent (0 turns either off). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <cJSON.h>

#include "corral/error.h"

#define CONNLIMIT_LOG_INTERVAL_MS 10000

typedef struct connlimit_config {
        unsigned max_conns;        /* all peers together */
        unsigned max_per_uid;      /* one non-admin uid */
        unsigned admin_reserved;   /* of max_conns, kept for admins */
        uint64_t first_message_ms; /* 0 = no deadline */
        uint64_t idle_ms;          /* 0 = never; admins are exempt */
} connlimit_config;

typedef struct connlimit connlimit;

/* The defaults for the control (control = true) or the gateway socket. */
connlimit_config connlimit_defaults(bool control);

/* Reads corral.json's "gateway" object (config may be NULL; other keys are
 * left to their modules) over the defaults:
 *   max_connections, max_connections_per_user, admin_reserved_connections
 *   (the gateway socket), max_control_connections,
 *   max_control_connections_per_user (the control socket),
 *   first_message_timeout_s, idle_timeout_s (both).
 * 0, or -EX_CONFIG naming the key (not a number, out of range: counts
 * 1..65536 with reserved < max, per-user <= max; timeouts 0..86400). */
int connlimit_config_load(const cJSON *config, connlimit_config *ret_gateway,
                          connlimit_config *ret_control, corral_error *err);

/* what names the socket in log lines ("gateway", "control").  Owned. */
connlimit *connlimit_new(const char *what, const connlimit_config *cfg);
connlimit *connlimit_free(connlimit *cl);
const connlimit_config *connlimit_get_config(const connlimit *cl);
/* Replaces cl's settings in place (a corral.json reload): connections
 * already admitted stay, even past a lowered cap; the next admissions and
 * the next timer a connection arms use the new values. */
void connlimit_set_config(connlimit *cl, const connlimit_config *cfg);

/* root and the daemon's own uid. */
bool connlimit_is_admin(int64_t uid);

/* Admits a connection from uid (-1 when unknown) at loop time now_ms: true
 * (counted; release it later) or false (refused: counted and, at most once an
 * interval, logged with the number refused since the last line). */
bool connlimit_admit(connlimit *cl, int64_t uid, uint64_t now_ms);
void connlimit_release(connlimit *cl, int64_t uid);
/* Connections now admitted; refusals since the start. */
unsigned connlimit_active(const connlimit *cl);
uint64_t connlimit_refused(const connlimit *cl);
