/* Control methods on run/control.sock (include/corral/daemon.h): what the
 * CLI's start, stop, restart, status and reload verbs ask the daemon.  They
 * answer at once; the units' state changes follow on the loop. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "corral/fs.h"
#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/sd.h"
#include "corral/config.h"
#include "corral/policy.h"
#include "corral/limits.h"
#include "corral/state.h"
#include "corral/spec.h"
#include "state/audit.h"
#include "users/exec.h"

static const char *unit_owner(const unit *u)
{
        const manifest *m = unit_manifest(u);
        return m ? m->owner : NULL;
}

static void reply_error(gateway_session *s, const cJSON *id, int code, int exit_code,
                        const char *fmt, ...) _printf_(5, 6);
static void reply_error(gateway_session *s, const cJSON *id, int code, int exit_code,
                        const char *fmt, ...)
{
        char msg[1024];
        cJSON *data = NULL;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (exit_code) {
                data = cJSON_CreateObject();
                cJSON_AddNumberToObject(data, "exit", exit_code);
        }
        gateway_session_reply_error(s, id, code, msg, data);
}

/* The unit named in params, or NULL after answering the error. */
static unit *find_unit(control *ctl, gateway_session *s, const cJSON *id, const cJSON *params)
{
        const char *name = json_get_string(params, "name");
        _cleanup_free_ char *mpath = NULL;
        bool name_hidden = false;
        unit *u;

        if (!name) {
                reply_error(s, id, JSONRPC_INVALID_PARAMS, 0, "invalid params: missing name");
                return NULL;
        }
        u = supervisor_find(ctl->sv, name);
        /* Another user's server answers exactly like one that does not
         * exist (issue 15). */
        if (u && !gateway_session_may_see(s, unit_owner(u)))
                u = NULL, name_hidden = true;
        if (u)
                return u;
        /* Installed after the daemon last reconciled: say how to get it in. */
        mpath = server_name_valid(name) && gateway_session_admin(s) && !name_hidden
                        ? paths_manifest(&ctl->st->paths, name)
                        : NULL;
        if (mpath && path_exists(mpath))
                reply_error(s, id, JSONRPC_INVALID_PARAMS, EX_NOINPUT,
                            "no such server '%s' in the daemon yet: run 'corral reload'", name);
        else
                reply_error(s, id, JSONRPC_INVALID_PARAMS, EX_NOINPUT, "no such server '%s'", name);
        return NULL;
}

static void reply_empty(gateway_session *s, const cJSON *id)
{
        gateway_session_reply(s, id, cJSON_CreateObject(), 0, NULL);
}

static void status(control *ctl, gateway_session *s, const cJSON *id)
{
        cJSON *r = cJSON_CreateObject();
        cJSON *units = cJSON_CreateArray();
        unit *const *list;
        size_t n = supervisor_units(ctl->sv, &list);

        cJSON_AddStringToObject(r, "version", CORRAL_VERSION);
        cJSON_AddNumberToObject(r, "pid", (double)getpid());
        cJSON_AddStringToObject(r, "control_socket", ctl->st->paths.control_sock);
        cJSON_AddStringToObject(r, "gateway_socket", ctl->st->paths.gateway_sock);
        for (size_t i = 0; i < n; i++)
                if (gateway_session_may_see(s, unit_owner(list[i])))
                        cJSON_AddItemToArray(units, unit_status_json(list[i]));
        cJSON_AddItemToObject(r, "units", units);
        cJSON_AddItemToObject(r, "collisions", gateway_collisions_json(ctl->gw));
        cJSON_AddItemToObject(r, "http", gateway_http_listeners_json(ctl->gw));
        if (gateway_session_admin(s))
                cJSON_AddItemToObject(r, "audit", audit_status_json(ctl->audit));
        if (ctl->config_error)
                cJSON_AddStringToObject(r, "config_error", ctl->config_error);
        if (ctl->restart_needed)
                cJSON_AddStringToObject(r, "restart_needed", ctl->restart_needed);
        gateway_session_reply(s, id, r, 0, NULL);
}

/* What corral/start|stop|restart and the management tools do to u for s:
 * 0, or a negative sysexits code with err set. */
static int do_lifecycle(control *ctl, gateway_session *s, unit *u, const char *what,
                        corral_error *err)
{
        int r;

        if (!gateway_session_admin(s) && !unit_owner(u))
                return corral_error_set(err, EX_NOPERM,
                                        "cannot %s '%s': a global server is an admin's to %s",
                                        what, unit_name(u), what);
        if (strcmp(what, "start") == 0)
                r = unit_start(u, err);
        else if (strcmp(what, "stop") == 0)
                r = unit_stop(u);
        else
                r = unit_restart(u, err);
        if (r < 0) {
                if (!err->msg[0])
                        corral_error_set(err, -r, "cannot %s server '%s'", what, unit_name(u));
                return r;
        }
        log_info("control: %s %s", what, unit_name(u));
        return 0;
}

static void lifecycle(control *ctl, gateway_session *s, const cJSON *id, const char *what,
                      const cJSON *params)
{
        corral_error err = {0};
        unit *u = find_unit(ctl, s, id, params);
        int r;

        if (!u)
                return;
        r = do_lifecycle(ctl, s, u, what, &err);
        if (r < 0) {
                reply_error(s, id, CORRAL_RPC_UNAVAILABLE, -r, "%s", err.msg);
                return;
        }
        reply_empty(s, id);
}

/* ---- the management tools' side (include/corral/mgmt.h) ---- */

static void *mgmt_exec(void *ud, gateway_session *s, const char *verb, char *const *args,
                       const mgmt_exec_cb *cb, corral_error *err)
{
        control *ctl = ud;
        const char *user = gateway_session_user(s);
        bool admin = gateway_session_admin(s);

        /* A user's verbs run as that user (--as-user); one without a name
         * cannot be anyone's. */
        if (!admin && !user) {
                corral_error_set(err, EX_NOPERM,
                                 "an anonymous caller cannot manage servers here");
                return NULL;
        }
        return users_exec_start(ctl, user ? user : "", admin, verb, args,
                                USERS_EXEC_JSON | USERS_EXEC_YES, cb, err);
}

static void mgmt_forget(void *ud, void *job)
{
        users_exec_forget(ud, job);
}

static void mgmt_cancel(void *ud, void *job)
{
        users_exec_cancel(ud, job);
}

static void mgmt_reconcile(void *ud)
{
        control *ctl = ud;
        corral_error err = {0};

        if (supervisor_reconcile(ctl->sv, &err) < 0)
                log_warn("reload: %s", err.msg);
}

static int mgmt_lifecycle(void *ud, gateway_session *s, const char *what, const char *name,
                          corral_error *err)
{
        control *ctl = ud;
        unit *u = name ? supervisor_find(ctl->sv, name) : NULL;

        if (!u || !gateway_session_may_see(s, unit_owner(u)))
                return corral_error_set(err, EX_NOINPUT, "no such server '%s'", name ? name : "");
        return do_lifecycle(ctl, s, u, what, err);
}

const mgmt_backend control_mgmt_backend = {
        .exec = mgmt_exec,
        .forget = mgmt_forget,
        .cancel = mgmt_cancel,
        .reconcile = mgmt_reconcile,
        .lifecycle = mgmt_lifecycle,
};

static void reload(control *ctl, gateway_session *s, const cJSON *id)
{
        corral_error err = {0};
        cJSON *res;
        int r;

        (void)sd_notify_reloading(); /* systemctl reload → ExecReload=corral reload */
        control_reload_policy(ctl);
        /* A refused corral.json is said, after the store is reconciled all
         * the same (its servers do not depend on it). */
        corral_error cerr = {0};
        int cr = ctl->reload_config ? ctl->reload_config(ctl->reload_ud, &cerr) : 0;
        r = supervisor_reconcile(ctl->sv, &err);
        (void)sd_notify_send("READY=1");
        if (r >= 0 && cr < 0) {
                reply_error(s, id, CORRAL_RPC_UNAVAILABLE, EX_CONFIG,
                            "reload: %s (the running configuration is kept)", cerr.msg);
                return;
        }

        if (r < 0) {
                reply_error(s, id, CORRAL_RPC_UNAVAILABLE, -r, "reload failed: %s", err.msg);
                return;
        }
        log_info("control: reload: %d change%s", r, r == 1 ? "" : "s");
        res = cJSON_CreateObject();
        cJSON_AddNumberToObject(res, "changes", r);
        if (ctl->restart_needed)
                cJSON_AddStringToObject(res, "restart_needed", ctl->restart_needed);
        gateway_session_reply(s, id, res, 0, NULL);
}

void control_reload_policy(control *ctl)
{
        _cleanup_json_ cJSON *config = NULL;
        corral_error err = {0};
        tool_policy fresh;

        if (config_load(&ctl->st->paths, &config, &err) < 0) {
                log_warn("reload: keeping the tool lists and limits: %s", err.msg);
                return;
        }
        if (ctl->limiter) {
                _cleanup_free_ char *db = state_path(&ctl->st->paths);
                if (limiter_load(ctl->limiter, config, db, &err) != 0)
                        log_warn("reload: %s%s", err.code == EX_CONFIG ? "keeping the limits: " : "",
                                 err.msg);
                corral_error_clear(&err);
        }
        if (ctl->mgmt_on) {
                mgmt_settings ms;
                if (mgmt_settings_load(config, &ms, &err) < 0)
                        log_warn("reload: keeping the management settings: %s", err.msg);
                else
                        gateway_set_mgmt(ctl->gw, &control_mgmt_backend, ctl, &ms);
                corral_error_clear(&err);
        }
        if (!ctl->tools)
                return;
        if (tool_policy_load(config, &fresh, &err) < 0) {
                log_warn("reload: keeping the tool lists: %s", err.msg);
                return;
        }
        tool_policy_done(ctl->tools);
        *ctl->tools = fresh;
        {
                const cJSON *now = cJSON_GetObjectItemCaseSensitive(config, "tools");
                bool same = ctl->tools_seen ? now && cJSON_Compare(ctl->tools_seen, now, true)
                                            : !now;
                if (!same) {
                        cJSON_Delete(ctl->tools_seen);
                        ctl->tools_seen = now ? cJSON_Duplicate(now, true) : NULL;
                        /* What a session may list changed with the lists. */
                        gateway_tools_changed(ctl->gw);
                }
        }
}

static bool control_method(void *ud, gateway_session *s, const cJSON *id, const char *method,
                           const cJSON *params)
{
        control *ctl = ud;

        if (strcmp(method, "corral/status") == 0)
                status(ctl, s, id);
        else if (strcmp(method, "corral/start") == 0)
                lifecycle(ctl, s, id, "start", params);
        else if (strcmp(method, "corral/stop") == 0)
                lifecycle(ctl, s, id, "stop", params);
        else if (strcmp(method, "corral/restart") == 0)
                lifecycle(ctl, s, id, "restart", params);
        else if (strcmp(method, "corral/reload") == 0)
                reload(ctl, s, id);
        else if (strcmp(method, "corral/exec") == 0)
                users_exec_request(ctl, s, id, params);
        else if (!control_state_method(ctl, s, id, method, params)) /* src/control_state.c */
                return false;
        return true;
}

const gateway_session_ops control_ops = {.extra_method = control_method};
