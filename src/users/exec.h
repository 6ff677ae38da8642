/* corral/exec: store verbs run by the daemon for users (src/users/exec.c). */
#pragma once

#include <cJSON.h>

#include "control.h"

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
