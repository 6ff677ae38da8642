/* Management over MCP (issue 15): the gateway serves tools of its own,
 * corral__list, corral__status, corral__install, corral__uninstall,
 * corral__enable, corral__disable, corral__restart, corral__auth_start,
 * corral__auth_complete and corral__auth_status (src/gateway/mgmt*.c), on
 * every aggregate session (the gateway socket, `serve --stdio`, HTTP /mcp;
 * not the control socket and not /servers/NAME/mcp).  Each has an
 * inputSchema and an outputSchema and answers with structuredContent plus
 * the same JSON as text (MCP 2025-11-25 server/tools §structured-content).
 *
 * The tools change nothing themselves: store verbs run through the daemon's
 * corral/exec path (src/users/exec.c: the CLI verb as a child, with
 * --as-user for non-admins, so the per-user rules are the verb's own) and
 * restart through the control socket's (src/control.c); the daemon plugs
 * them in with gateway_set_mgmt(). */
#pragma once

#include <stdbool.h>
#include <cJSON.h>

#include "corral/error.h"
#include "corral/level.h"

struct gateway;
struct gateway_session;

/* corral.json "management" (unknown keys refused):
 *   "enabled": true        false: the tools are not listed and calls to
 *                          them are "unknown tool"
 *   "level": "trusted"     the level a caller needs to see list, status and
 *                          auth_status (like a server's default access)
 *   "change_level": "anchor"  the level the other tools need (stdio and
 *                          the unix sockets are anchor; an HTTP caller only
 *                          when its listener and token are) */
typedef struct mgmt_settings {
        bool enabled;
        corral_level level, change_level;
} mgmt_settings;

/* Reads config's "management" (config may be NULL: the defaults above) into
 * *ret.  0, or -EX_CONFIG with err naming the key. */
int mgmt_settings_load(const cJSON *config, mgmt_settings *ret, corral_error *err);

/* What a store verb run for a session reports back. */
typedef struct mgmt_exec_cb {
        /* Once, when the child exited and its output is read: its exit code
         * and stdout/stderr text (borrowed for the call). */
        void (*done)(void *ud, int exit_code, const char *out, const char *err);
        /* Each whole line of stderr as it arrives (NULL: none); borrowed. */
        void (*err_line)(void *ud, const char *line);
        void *ud;
} mgmt_exec_cb;

/* The daemon's side, borrowed by the gateway (ud is passed back). */
typedef struct mgmt_backend {
        /* Runs `corral --json --yes VERB ARGS…` for s's user (args a
         * NULL-terminated list, copied), as corral/exec does; cb->done is
         * called later on the loop.  Returns a job handle, or NULL with err
         * set (EX_TEMPFAIL too many running, EX_OSERR cannot spawn). */
        void *(*exec)(void *ud, struct gateway_session *s, const char *verb, char *const *args,
                      const mgmt_exec_cb *cb, corral_error *err);
        /* The job's callbacks will not be called any more (its owner went). */
        void (*forget)(void *ud, void *job);
        /* Cancels the job (MCP basic/utilities/cancellation, or its session
         * gone): its callbacks are not called, its child's process group
         * gets SIGTERM (SIGKILL after USERS_EXEC_KILL_MS), and once it has
         * exited what it left in staging is removed — an install is atomic
         * (staging, then one rename), so nothing half-installed remains.
         * NULL: forget() only. */
        void (*cancel)(void *ud, void *job);
        /* The store changed: the daemon reconciles its units with it now. */
        void (*reconcile)(void *ud);
        /* corral/start|stop|restart for s: 0, or a negative sysexits code with
         * err set (-EX_NOINPUT no such server for s, -EX_NOPERM a global
         * server and s is not an admin). */
        int (*lifecycle)(void *ud, struct gateway_session *s, const char *what, const char *name,
                         corral_error *err);
} mgmt_backend;

/* Turns the management tools on for gw with backend (borrowed; ud passed
 * back) and settings (copied; NULL: the defaults).  Call again with new
 * settings after a reload: sessions get notifications/tools/list_changed
 * when what they may list changed. */
void gateway_set_mgmt(struct gateway *gw, const mgmt_backend *backend, void *ud,
                      const mgmt_settings *settings);
