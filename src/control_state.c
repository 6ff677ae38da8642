/* Control methods that write the state database (issue 15: "written by the
 * daemon only"): `corral token` and `corral limit set|clear` send them while
 * a daemon runs (src/cli/state_route.c), and the daemon writes on its loop.
 * Each is one short transaction on a connection opened for it that waits
 * at most STATE_CONTROL_BUSY_MS for another process's lock (then the caller
 * is told to try again); the loop never waits longer.
 *
 *   corral/token_create {user, level}      → {id, user, level, token}
 *   corral/token_list   {}                 → {tokens: [{id, user, level, created_at}]}
 *   corral/token_revoke {id}               → {}
 *   corral/limit_set    {user, server, tool, calls, period_ms, concurrent} → {}
 *   corral/limit_clear  {user, server|null (all), tool} → {cleared: N}
 *   corral/oauth_forget {name}             → {}  every user's OAuth state of
 *                                             server name (`corral uninstall`)
 *
 * Who may: the store's owner — root, or the user the daemon runs as — as
 * for the files before (tokens.json and state.db are 0600 the owner's).  An
 * admin of the site's group is not: a token names any user, and an HTTP
 * caller with alice's token acts upstream with alice's OAuth tokens. */
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "corral/auth.h"
#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/limits.h"
#include "corral/log.h"
#include "corral/state.h"

#define STATE_CONTROL_BUSY_MS 20

static void reply_fail(gateway_session *s, const cJSON *id, int exit_code, const char *msg)
{
        cJSON *data = cJSON_CreateObject();

        cJSON_AddNumberToObject(data, "exit", exit_code);
        gateway_session_reply_error(s, id, exit_code == EX_USAGE || exit_code == EX_DATAERR
                                                   ? JSONRPC_INVALID_PARAMS
                                                   : CORRAL_RPC_UNAVAILABLE,
                                    msg, data);
}

/* Whether the session's peer is root or the daemon's own user. */
static bool owner_of_store(gateway_session *s)
{
        const char *user = gateway_session_user(s);
        struct passwd pw, *res = NULL;
        char buf[4096];

        if (!user || getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || !res)
                return false;
        return res->pw_uid == 0 || res->pw_uid == geteuid();
}

/* The store's database opened for one write (NULL after answering). */
static state_db *open_for(control *ctl, gateway_session *s, const cJSON *id, bool readonly)
{
        _cleanup_free_ char *path = state_path(&ctl->st->paths);
        corral_error err = {0};
        state_db *db = NULL;
        int r;

        /* SQLite maps the -shm file: a file the kernel will not write back
         * is SIGBUS, not an error (include/corral/state.h). */
        r = readonly ? 0 : state_check_writable(path, &err);
        if (r == 0)
                r = state_open_busy(&db, path, readonly, STATE_CONTROL_BUSY_MS, &err);
        if (r < 0) {
                reply_fail(s, id, -r, err.msg);
                return NULL;
        }
        return db;
}

static void token_create(control *ctl, gateway_session *s, const cJSON *id, const cJSON *params)
{
        const char *user = json_get_string(params, "user");
        corral_level level;
        corral_error err = {0};
        _cleanup_free_ char *token = NULL, *tid = NULL;
        state_db *db;
        cJSON *res;
        int r;

        if (!user || corral_level_parse(json_get_string(params, "level"), &level) < 0) {
                reply_fail(s, id, EX_USAGE,
                           "invalid params: user and level (public, trusted or anchor)");
                return;
        }
        if (!(db = open_for(ctl, s, id, false)))
                return;
        r = auth_token_create_in(db, user, level, &token, &tid, &err);
        state_close(db);
        if (r < 0) {
                reply_fail(s, id, -r, err.msg);
                return;
        }
        log_info("control: API token %s created for %s (%s) by %s", tid, user,
                 corral_level_name(level), gateway_session_user(s));
        res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "id", tid);
        cJSON_AddStringToObject(res, "user", user);
        cJSON_AddStringToObject(res, "level", corral_level_name(level));
        cJSON_AddStringToObject(res, "token", token);
        explicit_bzero(token, strlen(token));
        gateway_session_reply(s, id, res, 0, NULL);
}

static void token_list(control *ctl, gateway_session *s, const cJSON *id)
{
        _cleanup_free_ char *path = state_path(&ctl->st->paths);
        corral_error err = {0};
        cJSON *list = NULL, *res;
        state_db *db = NULL;
        int r = state_open_busy(&db, path, true, STATE_CONTROL_BUSY_MS, &err);

        if (r == -EX_NOINPUT) {
                list = cJSON_CreateArray();
                r = 0;
        } else if (r == 0) {
                r = auth_token_list_in(db, &list, &err);
        }
        state_close(db);
        if (r < 0) {
                reply_fail(s, id, -r, err.msg);
                return;
        }
        res = cJSON_CreateObject();
        cJSON_AddItemToObject(res, "tokens", list);
        gateway_session_reply(s, id, res, 0, NULL);
}

static void token_revoke(control *ctl, gateway_session *s, const cJSON *id, const cJSON *params)
{
        const char *tid = json_get_string(params, "id");
        corral_error err = {0};
        state_db *db;
        int r;

        if (!tid) {
                reply_fail(s, id, EX_USAGE, "invalid params: missing id");
                return;
        }
        if (!(db = open_for(ctl, s, id, false)))
                return;
        r = auth_token_revoke_in(db, tid, &err);
        state_close(db);
        if (r < 0) {
                reply_fail(s, id, -r, err.msg);
                return;
        }
        log_info("control: API token %s revoked by %s", tid, gateway_session_user(s));
        gateway_session_reply(s, id, cJSON_CreateObject(), 0, NULL);
}

static void do_limit_set(control *ctl, gateway_session *s, const cJSON *id, const cJSON *params)
{
        state_limit l = {
                .user = json_get_string(params, "user"),
                .server = json_get_string(params, "server"),
                .tool = json_get_string(params, "tool"),
                .calls = (int64_t)json_get_number(params, "calls", -1),
                .period_ms = (int64_t)json_get_number(params, "period_ms", -1),
                .concurrent = (int64_t)json_get_number(params, "concurrent", -1),
        };
        corral_error err = {0};
        state_db *db;
        int r;

        if (!l.user || !l.server || l.calls < 0 || l.period_ms < 0 || l.concurrent < 0) {
                reply_fail(s, id, EX_USAGE,
                           "invalid params: user, server, calls, period_ms and concurrent");
                return;
        }
        /* The checks the daemon makes when it reads the row back. */
        if (limit_check_setting(&l, &err) < 0) {
                reply_fail(s, id, EX_USAGE, err.msg);
                return;
        }
        if (!(db = open_for(ctl, s, id, false)))
                return;
        r = state_limit_set(db, &l, &err);
        state_close(db);
        if (r < 0) {
                reply_fail(s, id, -r, err.msg);
                return;
        }
        log_info("control: limit set on %s%s%s for %s by %s", l.server, l.tool ? "__" : "",
                 l.tool ? l.tool : "", l.user, gateway_session_user(s));
        control_reload_policy(ctl);
        gateway_session_reply(s, id, cJSON_CreateObject(), 0, NULL);
}

static void do_limit_clear(control *ctl, gateway_session *s, const cJSON *id, const cJSON *params)
{
        const char *user = json_get_string(params, "user");
        const char *server = json_get_string(params, "server");
        const char *tool = json_get_string(params, "tool");
        corral_error err = {0};
        state_db *db;
        cJSON *res;
        int n = 0, r;

        if (!user) {
                reply_fail(s, id, EX_USAGE, "invalid params: missing user");
                return;
        }
        if (!(db = open_for(ctl, s, id, false)))
                return;
        r = state_limit_clear(db, user, server, tool, &n, &err);
        state_close(db);
        if (r < 0) {
                reply_fail(s, id, -r, err.msg);
                return;
        }
        log_info("control: %d limit(s) cleared on %s%s%s for %s by %s", n,
                 server ? server : "every server", tool ? "__" : "", tool ? tool : "", user,
                 gateway_session_user(s));
        if (n > 0)
                control_reload_policy(ctl);
        res = cJSON_CreateObject();
        cJSON_AddNumberToObject(res, "cleared", n);
        gateway_session_reply(s, id, res, 0, NULL);
}

static void oauth_forget(control *ctl, gateway_session *s, const cJSON *id, const cJSON *params)
{
        const char *name = json_get_string(params, "name");
        corral_error err = {0};
        state_db *db;
        int r;

        if (!name) {
                reply_fail(s, id, EX_USAGE, "invalid params: missing name");
                return;
        }
        if (!(db = open_for(ctl, s, id, false)))
                return;
        r = state_oauth_delete(db, (uid_t)-1, name, &err);
        state_close(db);
        if (r < 0) {
                reply_fail(s, id, -r, err.msg);
                return;
        }
        log_info("control: OAuth tokens of %s forgotten (every user's) by %s", name,
                 gateway_session_user(s));
        gateway_session_reply(s, id, cJSON_CreateObject(), 0, NULL);
}

bool control_state_method(control *ctl, gateway_session *s, const cJSON *id, const char *method,
                          const cJSON *params)
{
        static const char *const methods[] = {"corral/token_create", "corral/token_list",
                                              "corral/token_revoke", "corral/limit_set",
                                              "corral/limit_clear", "corral/oauth_forget"};
        bool known = false;

        for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
                known |= strcmp(method, methods[i]) == 0;
        if (!known)
                return false;
        if (!owner_of_store(s)) {
                reply_fail(s, id, EX_NOPERM,
                           strncmp(method, "corral/token", 12) == 0
                                   ? "API tokens are the store owner's to manage (root's on a "
                                     "system store)"
                   : strncmp(method, "corral/limit", 12) == 0
                                   ? "limits are set by the store's owner (root on a system "
                                     "store)"
                                   : "OAuth tokens of every user are the store owner's to "
                                     "forget");
                return true;
        }
        if (strcmp(method, "corral/token_create") == 0)
                token_create(ctl, s, id, params);
        else if (strcmp(method, "corral/token_list") == 0)
                token_list(ctl, s, id);
        else if (strcmp(method, "corral/token_revoke") == 0)
                token_revoke(ctl, s, id, params);
        else if (strcmp(method, "corral/limit_set") == 0)
                do_limit_set(ctl, s, id, params);
        else if (strcmp(method, "corral/oauth_forget") == 0)
                oauth_forget(ctl, s, id, params);
        else
                do_limit_clear(ctl, s, id, params);
        return true;
}
