/* `corral daemon` and `corral serve --stdio`: the long-running sides. */
#pragma once

#include "corral/error.h"
#include "corral/store.h"

/* Runs the supervisor, the gateway socket and the control socket on one libuv
 * loop in the foreground until SIGTERM or SIGINT (then stops every server and
 * reaps it before returning 0; a second SIGTERM or SIGINT meanwhile SIGKILLs
 * the servers still running).  SIGHUP and the control method corral/reload
 * reconcile with the store.  Only one daemon per store: a second one fails
 * with -EX_TEMPFAIL.  s is borrowed. */
typedef struct daemon_options {
        /* `--http ADDR:PORT`: an HTTP listener besides corral.json's; NULL none. */
        const char *http_listen;
        /* `--system`: the system store's rules on any store (issue 15): sockets
         * 0660 root:SOCKET_GROUP, per-user servers, admins, corral/exec. */
        bool system;
} daemon_options;

int daemon_run(store *s, const daemon_options *opts, corral_error *err);

/* Starts the HTTP listeners of corral.json "http" (src/daemon_http.c
 * documents the keys) plus cli_listen (may be NULL) on gw.  When corral.json
 * configures "auth", *ret_auth is the verifier they share (the caller frees
 * it with auth_free() after the gateway).  0 when none is
 * asked for or all listen; -EX_CONFIG for a bad setting or a non-loopback
 * listener without authentication, -EX_USAGE/-EX_CANTCREAT from
 * gateway_http_listen(). */
struct gateway;
struct auth;
int daemon_http_start(struct gateway *gw, const corral_paths *p, const char *cli_listen,
                      struct auth **ret_auth, corral_error *err);
/* The /metrics listener of corral.json "metrics": {"listen": ADDR:PORT,
 * "auth": "bearer" (default: a bearer token of an admin, with *auth as
 * daemon_http_start() makes it) | "none" (no check at all)} on gw, serving
 * nothing else.  0 when not configured or listening; -EX_CONFIG for a bad
 * key or "bearer" without corral.json "auth"; gateway_http_listen()'s
 * errors. */
int daemon_metrics_start(struct gateway *gw, const corral_paths *p, struct auth **auth,
                         corral_error *err);

/* MCP on stdin/stdout: bridges to the daemon's gateway socket when a daemon
 * answers there, otherwise runs an embedded supervisor and gateway in-process
 * until stdin closes and every request read has been answered (then stops its
 * servers).  Returns 0 when stdin closed or the daemon hung up.  s is
 * borrowed. */
int serve_stdio(store *s, corral_error *err);

/* Control socket methods (JSON-RPC 2.0 on run/control.sock, besides the
 * gateway's MCP methods, which work there without initialize):
 *   corral/status   {}                → {version, pid, units:[unit_status_json…], collisions:[…]}
 *   corral/start    {name}            → {}
 *   corral/stop     {name}            → {}
 *   corral/restart  {name}            → {}
 *   corral/reload   {}                → {changes: N}
 * Errors: -32602 invalid params; -32602 "no such server 'NAME'" with data
 * {exit: 66} for unknown names; CORRAL_RPC_UNAVAILABLE with data {exit: N}
 * when a unit cannot be started (N = 69 for a disabled server) or reload fails.
 * The CLI (cli_rpc) turns data.exit into its exit code. */
