/* corral/exec: store verbs run by the daemon for users (src/users/exec.c). */
#pragma once

#include <cJSON.h>

#include "control.h"
#include "corral/mgmt.h"

/* Answers a corral/exec request {verb, args: [...], json, yes, quiet} on s
 * when the child it runs exits: {exit, stdout, stderr}; refusals are
 * JSON-RPC errors with data.exit (77 not allowed, 75 too many running).
 * `logs -f` needs "stream": true: its output goes to s as it comes, as
 * notifications corral/output {stream: "stdout"|"stderr", data}, the child
 * ends when s goes, and the answer is {exit} (at most 4 per user, 32 in
 * all).  Only a system-mode daemon (ctl->system) serves it. */
void users_exec_request(control *ctl, gateway_session *s, const cJSON *id, const cJSON *params);

/* Ends every streamed job's child (SIGTERM): at daemon shutdown, since they
 * would otherwise follow a log forever. */
void users_exec_stop_streams(control *ctl);

enum { USERS_EXEC_JSON = 1, USERS_EXEC_YES = 2, USERS_EXEC_QUIET = 4 };

/* Runs `corral [--root R] [--as-user USER] [--json] [--yes] [--quiet] VERB
 * ARGS…` (args NULL-terminated, copied) as a child of the daemon for user
 * (an admin's without --as-user), the path corral/exec takes, for the
 * management tools (include/corral/mgmt.h): cb (copied) hears of its end on
 * the loop.  The job (owned by ctl), or NULL with err set: EX_TEMPFAIL too
 * many running (per user and in all, shared with corral/exec), EX_OSERR
 * cannot spawn.  verb is not checked here: callers pick it. */
struct exec_job *users_exec_start(control *ctl, const char *user, bool admin, const char *verb,
                                  char *const *args, unsigned flags, const mgmt_exec_cb *cb,
                                  corral_error *err);
/* The job's callbacks will not be called (it runs to its end all the same);
 * a job that already ended is ignored. */
void users_exec_forget(control *ctl, struct exec_job *job);
/* Forgets the job and ends its child (mgmt_backend.cancel): SIGTERM to its
 * process group, SIGKILL USERS_EXEC_KILL_MS later if it is still there;
 * once it exited, the store's staging leftovers are swept. */
#define USERS_EXEC_KILL_MS 5000
void users_exec_cancel(control *ctl, struct exec_job *job);
