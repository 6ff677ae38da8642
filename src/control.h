/* The control socket's corral/… methods (include/corral/daemon.h lists them),
 * plugged into the gateway as a session's extra methods. */
#pragma once

#include "corral/gateway.h"
#include "corral/mgmt.h"
#include "corral/store.h"
#include "corral/supervisor.h"

/* Everything the methods work on; all borrowed, owned by daemon_run(). */
typedef struct control {
        store *st;
        supervisor *sv;
        gateway *gw;
        bool system; /* system mode: users, owners, admins (issue 15) */
        struct exec_job *exec_jobs; /* corral/exec children running (src/users/exec.c) */
        struct tool_policy *tools;  /* the daemon's allow/deny lists, re-read on reload */
        struct audit_log *audit;    /* the audit log writer, NULL when off */
        struct limiter *limiter;    /* rate limits (issue 15), re-read on reload */
        /* corral/reload re-reads corral.json through this first (NULL: not
         * at all): 0, or a negative code with err set when it is refused
         * (the running configuration stays). */
        int (*reload_config)(void *ud, corral_error *err);
        void *reload_ud;
        const char *config_error; /* shown by corral/status; NULL when none */
        /* corral.json keys changed since the daemon started that it reads
         * only then ("http, auth"): shown by corral/status and corral/reload
         * until a restart; NULL when none. */
        const char *restart_needed;
        struct cJSON *tools_seen; /* corral.json "tools" as last applied (owned) */
        bool mgmt_on; /* the management tools are plugged in (reload re-reads them) */
} control;

/* Re-reads corral.json's "tools" into ctl->tools (a bad file keeps the old
 * lists, with a warning) and its "limits" with the state database's limit
 * settings into ctl->limiter: part of reload, SIGHUP and the watcher.  When
 * the lists changed, every session gets notifications/tools/list_changed. */
void control_reload_policy(control *ctl);

/* The methods that write the state database (src/control_state.c):
 * corral/token_create|token_list|token_revoke|limit_set|limit_clear, for
 * the store's owner.  False when method is none of them. */
bool control_state_method(control *ctl, gateway_session *s, const cJSON *id, const char *method,
                          const cJSON *params);

/* extra_method for gateway_listen(..., control=true, &control_ops, &ctl). */
extern const gateway_session_ops control_ops;

/* The management tools' backend (include/corral/mgmt.h) with a control as
 * ud: store verbs through users_exec_start(), restart as corral/restart. */
extern const mgmt_backend control_mgmt_backend;
