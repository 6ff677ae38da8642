/* The supervisor: one unit per installed, enabled server, each through a
 * runtime backend, with an MCP client session whose tools, prompts and
 * resources are cached.  Rules of DESIGN.md, "Supervisor":
 *   stopped → starting → initializing → ready; ready → backoff → starting on a
 *   crash; failed after 5 crashes in 60 s (until unit_restart()); stopping.
 *   Backoff 200 ms doubling to 30 s, reset after 60 s ready.
 *   unavailable: the service the backend runs on is down (the docker engine:
 *   start() failed with -EX_UNAVAILABLE, or the process ended with the
 *   backend's service_lost()); last_error says why, the start is retried
 *   every 5 s, and neither a crash nor a restart is counted; a successful
 *   start leaves it (→ initializing).
 *   pending_auth: a remote server answered 401 (or 403 insufficient_scope)
 *   and no token can be refreshed; neither a crash nor a restart is counted,
 *   and nothing is retried until a start or restart (`corral auth complete`
 *   asks the daemon for one).  Stop: close
 *   stdin, SIGTERM after 5 s, SIGKILL after 10 s.  Health: ping every 30 s,
 *   3 misses → restart.  stderr → log/NAME.log with rotation.
 * Timings can be shortened for tests with CORRAL_TEST_TIMESCALE (a divisor). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <cJSON.h>
#include <uv.h>

#include "corral/error.h"
#include "corral/manifest.h"
#include "corral/mcp_client.h"
#include "corral/store.h"

typedef enum {
        UNIT_STOPPED,
        UNIT_STARTING,
        UNIT_INITIALIZING,
        UNIT_READY,
        UNIT_BACKOFF,
        UNIT_FAILED,
        UNIT_STOPPING,
        UNIT_UNAVAILABLE,
        UNIT_PENDING_AUTH, /* a remote server wants authorization (the backend's
                              needs_auth()): no retry until unit_start() or
                              unit_restart() (`corral auth` asks for one) */
} unit_state;

typedef struct unit unit;
typedef struct supervisor supervisor;

typedef enum {
        UNIT_LIST_TOOLS = 1 << 0,
        UNIT_LIST_PROMPTS = 1 << 1,
        UNIT_LIST_RESOURCES = 1 << 2, /* resources and resource templates */
} unit_lists;

typedef struct supervisor_events {
        /* State changed (the unit's cached lists are valid when READY). */
        void (*unit_state)(void *ud, unit *u, unit_state old_state, unit_state new_state);
        /* One or more cached lists changed (bitmask of unit_lists), also when a
         * unit becomes ready or leaves ready. */
        void (*unit_lists)(void *ud, unit *u, unsigned which);
        /* A server notification the gateway may forward (notifications/message,
         * notifications/resources/updated).  list_changed is handled here. */
        void (*unit_notification)(void *ud, unit *u, const char *method, const cJSON *params);
        /* A unit is about to be freed (removed from the store on reload). */
        void (*unit_removed)(void *ud, unit *u);
        /* A per-user session of u for user uid (issue 15, unit_user_client()):
         * UNIT_USER_OPENED before its first message (c: its session, to hook
         * the server's requests), UNIT_USER_SETTLED once it is ready or
         * ended (requests that waited go on), UNIT_USER_LISTS when its lists
         * changed (lists: a bitmask of unit_lists; all of them when it ends
         * or closes). */
        void (*user_session)(void *ud, unit *u, uid_t uid, mcp_client *c, int what,
                             unsigned lists);
        /* A notification of a user's session other than list_changed: for
         * that user's clients only. */
        void (*user_notification)(void *ud, unit *u, uid_t uid, const char *method,
                                  const cJSON *params);
} supervisor_events;

enum { UNIT_USER_OPENED, UNIT_USER_SETTLED, UNIT_USER_LISTS };
typedef int unit_user_event;

/* s is borrowed and must outlive the supervisor.  Nothing starts until
 * supervisor_reconcile().  Returns an owned supervisor. */
supervisor *supervisor_new(uv_loop_t *loop, store *s, const supervisor_events *ev, void *ud);
/* Frees every unit (their processes must have been stopped:
 * supervisor_shutdown()).  Returns NULL. */
supervisor *supervisor_free(supervisor *sv);

/* Brings units in line with the store: start new or enabled servers, stop
 * removed or disabled ones, restart those whose manifest changed
 * (manifest_same_runtime()).  Malformed manifests are skipped with a warning
 * and reported in the unit list as failed.  Returns the number of changes. */
int supervisor_reconcile(supervisor *sv, corral_error *err);

/* Stops every unit (stdin close → SIGTERM → SIGKILL) and calls done once all
 * are reaped. */
void supervisor_shutdown(supervisor *sv, void (*done)(void *ud), void *ud);

/* Units in install order (installed_at, then name; units whose manifest never
 * loaded last).  Borrowed array, valid until the next reconcile or
 * unit_removed event. */
size_t supervisor_units(supervisor *sv, unit *const **ret);
unit *supervisor_find(supervisor *sv, const char *name);

/* Manual control: start (also from failed/backoff/unavailable/pending_auth: at once), stop (stays stopped until
 * start/restart or the next daemon start), restart.  0, or -EX_UNAVAILABLE when
 * the server is disabled. */
int unit_start(unit *u, corral_error *err);
int unit_stop(unit *u);
int unit_restart(unit *u, corral_error *err);

const char *unit_name(const unit *u);
unit_state unit_get_state(const unit *u);
const char *unit_state_name(unit_state s);
/* The last manifest that loaded; NULL when the server's manifest never loaded
 * (the unit is then failed, with the load error as last_error). */
const manifest *unit_manifest(const unit *u);
/* The MCP session when READY, else NULL. */
mcp_client *unit_client(unit *u);
/* The unit's MCP session in any state, also while initializing (NULL when no
 * process runs): the gateway hooks its server-to-client requests before
 * initialize is sent. */
mcp_client *unit_session(unit *u);
/* Cached lists (arrays of MCP items, borrowed; NULL when not ready). */
const cJSON *unit_tools(const unit *u);
const cJSON *unit_prompts(const unit *u);
const cJSON *unit_resources(const unit *u);
const cJSON *unit_resource_templates(const unit *u);
int unit_pid(const unit *u);
unsigned unit_restarts(const unit *u);
/* Exits the backend put down to the OOM killer, since the daemon started. */
unsigned unit_oom_kills(const unit *u);
/* Why it last stopped or failed ("exited with status 1", "killed by signal 9",
 * "initialize timed out", "sent an oversize message"), or why it is
 * unavailable ("docker engine unavailable: …"), or NULL. */
const char *unit_last_error(const unit *u);
/* Per-user sessions (issue 15): which session serves user uid's requests
 * to u.  A global remote server in a system-mode store whose
 * runtime.sessions is not "shared" (and that sets no Authorization header)
 * serves each user other than the daemon's through a session of their own
 * with their own token, opened here on first use:
 *   UNIT_USER_SHARED: the unit's own session (unit_client()) serves them;
 *   UNIT_USER_READY: *ret_client, theirs, ready (borrowed; valid until the
 *     user_session event says it settled or changed);
 *   UNIT_USER_OPENING: being opened; the UNIT_USER_SETTLED event follows
 *     (within the initialize and list timeouts);
 *   UNIT_USER_REFUSED: *ret_why says why in one line (no token of theirs:
 *     run `corral auth start NAME`; their session ended: its reason; the
 *     cap); borrowed until the next call.
 * Only the gateway of a system-mode store asks. */
typedef enum {
        UNIT_USER_SHARED,
        UNIT_USER_READY,
        UNIT_USER_OPENING,
        UNIT_USER_REFUSED,
} unit_user_route;
unit_user_route unit_user_client(unit *u, uid_t uid, mcp_client **ret_client,
                                 const char **ret_why);
/* Whether u serves user uid ((uid_t)-1: a user with no local account)
 * through per-user sessions, without opening one. */
bool unit_per_user_for(const unit *u, uid_t uid);
/* The lists of uid's ready session (borrowed, arrays of MCP items), else
 * NULL: as unit_tools() … unit_resource_templates() for the unit's own. */
const cJSON *unit_user_tools(const unit *u, uid_t uid);
const cJSON *unit_user_prompts(const unit *u, uid_t uid);
const cJSON *unit_user_resources(const unit *u, uid_t uid);
const cJSON *unit_user_resource_templates(const unit *u, uid_t uid);
/* uid's own session when it is ready (borrowed), else NULL; opens none. */
mcp_client *unit_user_ready_client(const unit *u, uid_t uid);
/* Whether c is one of u's per-user sessions, and whose (*ret_uid). */
bool unit_user_client_of(const unit *u, const mcp_client *c, uid_t *ret_uid);
/* Per-user sessions open or opening (status "user_sessions"). */
unsigned unit_user_sessions(const unit *u);

/* Status as JSON: {name, state, pid, restarts, enabled, backend, sandbox,
 * confined, last_error, tools, prompts, resources, resource_templates,
 * protocol_version, server_info}.  sandbox is the manifest's profile and
 * confined says whether the backend enforces it (false for the plain native
 * exec); tools … resource_templates are counts (0 unless ready); absent
 * strings are null.  Owned. */
cJSON *unit_status_json(const unit *u);
