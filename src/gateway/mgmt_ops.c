/* The management tools that change things (issue 15): install, uninstall,
 * enable, disable and the OAuth ones run the CLI verb through the daemon's
 * backend (include/corral/mgmt.h: corral/exec's path), never on the loop;
 * install and enable ask the user first (MCP 2025-11-25
 * client/elicitation, form mode) and report progress
 * (basic/utilities/progress) when the call has a progressToken.
 *
 * An install is always made disabled (`install --disabled`) and enabled only
 * after an accepted confirmation, so nothing the user has not seen runs: a
 * decline, a cancel, a client without elicitation (or a 2026-07-28 request,
 * which has no server requests) leaves it installed but disabled, and the
 * result says how to confirm (`corral enable NAME`). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/manifest.h"
#include "corral/strbuf.h"
#include "gateway/mgmt.h"

static const char *const verb_of[MT_COUNT] = {
        [MT_INSTALL] = "install", [MT_UNINSTALL] = "uninstall",   [MT_ENABLE] = "enable",
        [MT_DISABLE] = "disable", [MT_AUTH_START] = "auth start", [MT_AUTH_COMPLETE] = "auth complete",
        [MT_AUTH_STATUS] = "auth status",
};

static gw_mgmt *mgmt_of(const mgmt_op *op)
{
        return op->gw ? op->gw->mgmt : NULL;
}

static gateway_session *op_session(const mgmt_op *op)
{
        return op->gw ? gateway_find_session(op->gw, op->session) : NULL;
}

static void timer_closed(uv_handle_t *h)
{
        free(h);
}

/* Unlinks and frees op; its verb (if running) finishes unheard, its open
 * question is withdrawn.  s: its session, to count it out (NULL: leave the
 * session alone, it is going away). */
static void op_free(mgmt_op *op, gateway_session *s)
{
        gw_mgmt *m = mgmt_of(op);

        if (m) {
                if (op->job)
                        m->backend->forget(m->ud, op->job);
                if (op->prev)
                        op->prev->next = op->next;
                else
                        m->ops = op->next;
                if (op->next)
                        op->next->prev = op->prev;
                m->n_ops--;
        }
        if (s && op->elicit_open)
                gw_upstream_forget_local(s, op);
        if (op->timer) {
                uv_timer_stop(op->timer);
                uv_close((uv_handle_t *)op->timer, timer_closed);
        }
        cJSON_Delete(op->id);
        cJSON_Delete(op->progress_token);
        cJSON_Delete(op->summary);
        free(op->name);
        free(op);
        if (s && s->n_mgmt > 0) {
                s->n_mgmt--;
                gw_session_check_drained(s);
        }
}

/* The answer goes out (when the caller is still there) and op ends. */
static void op_answer(mgmt_op *op, cJSON *take_structured)
{
        gateway_session *s = op_session(op);

        if (s)
                mgmt_reply(s, op->id, op->modern, take_structured);
        else
                cJSON_Delete(take_structured);
        op_free(op, s);
}

static void op_fail(mgmt_op *op, const char *fmt, ...) _printf_(2, 3);
static void op_fail(mgmt_op *op, const char *fmt, ...)
{
        gateway_session *s = op_session(op);
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (s)
                mgmt_reply_error(s, op->id, op->modern, "%s", msg);
        op_free(op, s);
}

static void op_progress(mgmt_op *op, const char *message)
{
        gateway_session *s = op->progress_token ? op_session(op) : NULL;
        cJSON *p;
        _cleanup_json_ cJSON *n = NULL;

        if (!s)
                return;
        p = cJSON_CreateObject();
        cJSON_AddItemToObject(p, "progressToken", json_dup(op->progress_token));
        cJSON_AddNumberToObject(p, "progress", ++op->progress);
        cJSON_AddStringToObject(p, "message", message);
        n = jsonrpc_notification("notifications/progress", p);
        gw_send_msg(s, n, op->id, false);
}

/* The verb's own error: the last "corral: …" line of its stderr. */
static void verb_error(const char *err, char *buf, size_t size)
{
        const char *best = NULL, *p = err;

        while (p && *p) {
                const char *nl = strchr(p, '\n');
                if (strncmp(p, "corral: ", 8) == 0)
                        best = p;
                p = nl ? nl + 1 : NULL;
        }
        snprintf(buf, size, "%.*s", best ? (int)strcspn(best, "\n") : 6, best ? best : "failed");
}

/* ---- running a verb ---- */

static void on_verb_done(void *ud, int exit_code, const char *out, const char *err);

/* install --json's progress events on stderr → notifications/progress. */
static void on_err_line(void *ud, const char *line)
{
        mgmt_op *op = ud;
        _cleanup_json_ cJSON *ev = NULL;
        const char *what, *phase;
        char msg[160];

        if (!op->progress_token || line[0] != '{')
                return;
        ev = cJSON_Parse(line);
        what = json_get_string(ev, "event");
        if (!what || strcmp(what, "progress") != 0)
                return;
        phase = json_get_string(ev, "phase");
        snprintf(msg, sizeof(msg), "%.32s: %.0f packages, %.0f/%.0f extracted",
                 phase ? phase : "installing", json_get_number(ev, "packages", 0),
                 json_get_number(ev, "extracted", 0), json_get_number(ev, "tarballs", 0));
        op_progress(op, msg);
}

/* Runs verb (e.g. "enable", or "auth status") with args (at most 6); false
 * after answering the error. */
static bool op_exec(mgmt_op *op, gateway_session *s, const char *verb, const char *const *args)
{
        gw_mgmt *m = mgmt_of(op);
        corral_error err = {0};
        _cleanup_free_ char *v = xstrdup(verb);
        char *sub = strchr(v, ' ');
        char *argv[8];
        size_t n = 0;

        if (sub) { /* "auth start": the sub-verb is the first argument */
                *sub++ = '\0';
                argv[n++] = sub;
        }
        for (size_t i = 0; args && args[i] && n + 1 < ARRAY_SIZE(argv); i++)
                argv[n++] = (char *)args[i];
        argv[n] = NULL;
        op->job = m->backend->exec(m->ud, s, v, argv,
                                   &(mgmt_exec_cb){.done = on_verb_done,
                                                   .err_line = on_err_line,
                                                   .ud = op},
                                   &err);
        if (!op->job) {
                op_fail(op, "corral: %s: %s", verb, err.msg);
                return false;
        }
        return true;
}

/* ---- confirmation (install, enable) ---- */

static cJSON *enable_result(mgmt_op *op, gateway_session *s, const char *message)
{
        cJSON *r = cJSON_CreateObject();
        unit *u = s ? mgmt_find(s, op->name) : NULL;
        const manifest *m = u ? unit_manifest(u) : NULL;
        cJSON *sum = m ? mgmt_server_summary(m, u) : NULL;

        cJSON_AddStringToObject(r, "name", op->name);
        cJSON_AddBoolToObject(r, "installed", m != NULL);
        cJSON_AddBoolToObject(r, "enabled", m && m->enabled);
        cJSON_AddStringToObject(r, "state", sum ? json_get_string(sum, "state") : "not_loaded");
        cJSON_AddStringToObject(r, "confirmation", op->confirmation);
        cJSON_AddStringToObject(r, "message", message);
        if (sum)
                cJSON_AddItemToObject(r, "server", sum);
        return r;
}

static void unconfirmed(mgmt_op *op, const char *why, const char *detail)
{
        gateway_session *s = op_session(op);
        char msg[768];

        op->confirmation = why;
        if (strcmp(why, "unavailable") == 0)
                snprintf(msg, sizeof(msg),
                         "'%s' is installed but disabled: this client cannot confirm it through "
                         "MCP elicitation. Check what it runs (corral__list) and confirm with "
                         "`corral enable %s`.",
                         op->name, op->name);
        else
                snprintf(msg, sizeof(msg),
                         "'%s' stays disabled: the confirmation was %s%s%s. Enable it with "
                         "`corral enable %s`.",
                         op->name, strcmp(why, "failed") == 0 ? "not answered" : why,
                         detail ? ": " : "", detail ? detail : "", op->name);
        op_answer(op, enable_result(op, s, msg));
}

static void on_answer(void *ud, const cJSON *result, const cJSON *error)
{
        mgmt_op *op = ud;
        gateway_session *s = op_session(op);
        const char *action = json_get_string(result, "action");
        const cJSON *enable = cJSON_GetObjectItemCaseSensitive(json_get_object(result, "content"),
                                                               "enable");
        const char *name = op->name;

        op->elicit_open = false;
        if (!s) {
                op_free(op, NULL);
                return;
        }
        if (error || !action) {
                unconfirmed(op, "failed",
                            error ? json_get_string(error, "message") : "no action in the answer");
                return;
        }
        if (strcmp(action, "accept") != 0 || cJSON_IsFalse(enable)) {
                unconfirmed(op, strcmp(action, "cancel") == 0 ? "cancelled" : "declined", NULL);
                return;
        }
        op->confirmation = "accepted";
        log_info("gateway: %s confirmed enabling '%s' through elicitation",
                 s->user ? s->user : "anonymous", name);
        op_progress(op, "confirmed; enabling");
        (void)op_exec(op, s, "enable", (const char *const[]){name, NULL});
}

/* Asks s's client to confirm enabling op->name, showing what will run. */
static void ask(mgmt_op *op, gateway_session *s)
{
        unit *u = mgmt_find(s, op->name);
        const manifest *m = u ? unit_manifest(u) : NULL;
        _cleanup_json_ cJSON *params = NULL;
        const char *what;
        cJSON *schema, *props, *en;
        strbuf b = STRBUF_INIT(0);

        if (!m) {
                op->confirmation = "failed";
                op_answer(op, enable_result(op, s, "the server is not in the daemon (yet): run "
                                                   "`corral reload`, then enable it"));
                return;
        }
        params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "mode", "form");
        (void)strbuf_appendf(&b, "Enable the MCP server '%s'? It will run:\n", m->name);
        (void)strbuf_appendf(&b, "source: %s (%s)\n", m->spec ? m->spec : "?",
                             m->kind ? m->kind : "?");
        (void)strbuf_appendf(&b, "version: %s\n",
                             m->resolved_version ? m->resolved_version : "(none)");
        (void)strbuf_appendf(&b, "command:");
        for (size_t i = 0; m->command && m->command[i]; i++)
                (void)strbuf_appendf(&b, " %s", m->command[i]);
        (void)strbuf_appendf(&b, "\nbackend: %s\nsandbox: %s\nnetwork: %s",
                             m->backend ? m->backend : "native",
                             m->profile ? m->profile : "default",
                             m->network ? m->network : "none");
        if (m->owner)
                (void)strbuf_appendf(&b, "\nowner: %s", m->owner);
        cJSON_AddStringToObject(params, "message", b.buf ? b.buf : "");
        strbuf_done(&b);
        schema = cJSON_AddObjectToObject(params, "requestedSchema");
        cJSON_AddStringToObject(schema, "type", "object");
        props = cJSON_AddObjectToObject(schema, "properties");
        en = cJSON_AddObjectToObject(props, "enable");
        cJSON_AddStringToObject(en, "type", "boolean");
        cJSON_AddStringToObject(en, "title", "Enable and start it");
        cJSON_AddBoolToObject(en, "default", false);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(schema, "required"),
                             cJSON_CreateString("enable"));

        if (op->modern || !gw_caps_support(s->client_caps, "elicitation/create", params, &what)) {
                unconfirmed(op, "unavailable", NULL);
                return;
        }
        if (!gw_upstream_ask_local(s, op->id, "elicitation/create", params, on_answer, op)) {
                unconfirmed(op, "failed", "too many requests open to this client");
                return;
        }
        op->elicit_open = true;
        op_progress(op, "waiting for your confirmation");
}

/* ---- after enabling: wait (bounded) for the server to come up ---- */

static void on_tick(uv_timer_t *t)
{
        mgmt_op *op = t->data;
        gateway_session *s = op_session(op);
        unit *u = s ? mgmt_find(s, op->name) : NULL;
        unit_state st = u ? unit_get_state(u) : UNIT_STOPPED;
        const char *why = u ? unit_last_error(u) : NULL;
        char msg[768];

        if (!s) {
                op_free(op, NULL);
                return;
        }
        if (u && st != UNIT_READY && st != UNIT_FAILED && !(st == UNIT_BACKOFF && why) &&
            uv_now(t->loop) < op->deadline)
                return;
        if (u && st == UNIT_READY)
                snprintf(msg, sizeof(msg), "'%s' is enabled and ready: its tools are %s__*",
                         op->name, op->name);
        else
                snprintf(msg, sizeof(msg), "'%s' is enabled; it is %s%s%s", op->name,
                         u ? unit_state_name(st) : "not loaded", why ? ": " : "", why ? why : "");
        op_answer(op, enable_result(op, s, msg));
}

static void wait_ready(mgmt_op *op)
{
        op_progress(op, "enabled; starting");
        op->timer = gw_timer_new(op->gw->loop, op);
        op->deadline = uv_now(op->gw->loop) + MGMT_READY_WAIT_MS;
        uv_timer_start(op->timer, on_tick, 0, MGMT_POLL_MS);
}

/* ---- a verb's end ---- */

static cJSON *done_result(const char *name, const char *state, const char *message)
{
        cJSON *r = cJSON_CreateObject();

        cJSON_AddStringToObject(r, "name", name);
        if (state)
                cJSON_AddStringToObject(r, "state", state);
        cJSON_AddStringToObject(r, "message", message);
        return r;
}

/* auth status --json: one object or an array → the entries s may see. */
static cJSON *auth_entries(gateway_session *s, const char *out)
{
        _cleanup_json_ cJSON *j = cJSON_Parse(out);
        cJSON *r = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(r, "servers");
        const cJSON *e;

        if (cJSON_IsObject(j)) {
                if (mgmt_find(s, json_get_string(j, "name")))
                        cJSON_AddItemToArray(list, json_dup(j));
        } else {
                cJSON_ArrayForEach(e, j) if (mgmt_find(s, json_get_string(e, "name")))
                        cJSON_AddItemToArray(list, json_dup(e));
        }
        return r;
}

static void on_verb_done(void *ud, int exit_code, const char *out, const char *err)
{
        mgmt_op *op = ud;
        gw_mgmt *m = mgmt_of(op);
        gateway_session *s;
        char msg[1024];

        op->job = NULL;
        /* The store changed under the daemon: it follows now, not at the
         * next watch event. */
        if (m && op->tool != MT_AUTH_STATUS)
                m->backend->reconcile(m->ud);
        s = op_session(op);
        if (!s) {
                op_free(op, NULL);
                return;
        }
        if (exit_code != 0) {
                verb_error(err, msg, sizeof(msg));
                op_fail(op, "%s (exit %d)", msg, exit_code);
                return;
        }
        switch (op->tool) {
        case MT_INSTALL:
                if (!op->confirmation) {
                        _cleanup_json_ cJSON *man = cJSON_Parse(out);
                        const char *name = json_get_string(man, "name");

                        if (!name) {
                                op_fail(op, "corral: install: no manifest in its output");
                                return;
                        }
                        free(op->name);
                        op->name = xstrdup(name);
                        snprintf(msg, sizeof(msg), "installed '%s' (disabled)", name);
                        op_progress(op, msg);
                        ask(op, s);
                        return;
                }
                wait_ready(op);
                return;
        case MT_ENABLE:
                wait_ready(op);
                return;
        case MT_UNINSTALL:
                snprintf(msg, sizeof(msg), "uninstalled '%s'", op->name);
                op_answer(op, done_result(op->name, NULL, msg));
                return;
        case MT_DISABLE: {
                unit *u = mgmt_find(s, op->name);
                snprintf(msg, sizeof(msg), "disabled '%s'", op->name);
                op_answer(op, done_result(op->name, u ? "disabled" : NULL, msg));
                return;
        }
        case MT_AUTH_START: {
                cJSON *r = cJSON_CreateObject();
                size_t len = strcspn(out, "\r\n");
                _cleanup_free_ char *url = xstrndup(out, len);

                cJSON_AddStringToObject(r, "name", op->name);
                cJSON_AddStringToObject(r, "authorization_url", url);
                snprintf(msg, sizeof(msg),
                         "Open authorization_url, sign in, then call corral__auth_complete with "
                         "name '%s' and the URL you are sent back to (or its code).",
                         op->name);
                cJSON_AddStringToObject(r, "message", msg);
                op_answer(op, r);
                return;
        }
        case MT_AUTH_COMPLETE:
                snprintf(msg, sizeof(msg), "'%s' is authorized", op->name);
                op_answer(op, done_result(op->name, NULL, msg));
                return;
        case MT_AUTH_STATUS:
                op_answer(op, auth_entries(s, out));
                return;
        default:
                op_fail(op, "corral: internal error: no such management tool");
                return;
        }
}

/* ---- entry ---- */

/* A string argument that cannot pass for an option of the verb. */
static const char *arg(const cJSON *args, const char *key)
{
        const char *v = json_get_string(args, key);
        return v && v[0] && v[0] != '-' ? v : NULL;
}

void mgmt_run(gateway_session *s, const cJSON *id, enum mgmt_tool tool, const cJSON *params)
{
        gw_mgmt *m = s->gw->mgmt;
        const cJSON *args = json_get_object(params, "arguments");
        const cJSON *token = cJSON_GetObjectItemCaseSensitive(json_get_object(params, "_meta"),
                                                              "progressToken");
        const char *name = arg(args, "name"), *verb = verb_of[tool];
        bool modern = s->cur_method != NULL;
        mgmt_op *op;
        unit *u = NULL;

        if (tool == MT_INSTALL) {
                const char *sandbox = json_get_string(args, "sandbox");
                if (!arg(args, "source")) {
                        mgmt_reply_error(s, id, modern, "corral: install: source is a source "
                                                        "spec such as npm:NAME");
                        return;
                }
                if ((json_get_string(args, "name") && !name) ||
                    (sandbox && strcmp(sandbox, "default") != 0 && strcmp(sandbox, "strict") != 0 &&
                     strcmp(sandbox, "log") != 0 && strcmp(sandbox, "none") != 0)) {
                        mgmt_reply_error(s, id, modern, "corral: install: invalid name or sandbox");
                        return;
                }
        } else if (tool != MT_AUTH_STATUS || json_get_string(args, "name")) {
                u = mgmt_find(s, name);
                if (!u) {
                        mgmt_reply_error(s, id, modern, "corral: %s: no such server '%s'", verb,
                                         json_get_string(args, "name")
                                                 ? json_get_string(args, "name")
                                                 : "");
                        return;
                }
        }
        /* auth_* act for the caller: the daemon's child runs `auth` with
         * --as-user (src/users/exec.c), so each user reads and writes their
         * own tokens (root's are the daemon's own). */
        if (tool == MT_AUTH_COMPLETE && !arg(args, "code")) {
                mgmt_reply_error(s, id, modern,
                                 "corral: auth complete: code is the redirect URL or the code");
                return;
        }
        if (m->n_ops >= MGMT_MAX_OPS) {
                mgmt_reply_error(s, id, modern,
                                 "corral: %s: too many management calls in flight: try again",
                                 verb);
                return;
        }

        op = xcalloc(1, sizeof(*op));
        op->gw = s->gw;
        op->session = gateway_session_serial(s);
        op->id = json_dup(id);
        /* Numbers arrive as raw JSON text (ids and tokens keep their exact
         * form, src/mcp/jsonrpc.c). */
        op->progress_token = cJSON_IsString(token) || cJSON_IsNumber(token) || cJSON_IsRaw(token)
                                     ? json_dup(token)
                                     : NULL;
        op->modern = modern;
        op->tool = tool;
        op->name = xstrdup(name ? name : "");
        op->next = m->ops;
        if (m->ops)
                m->ops->prev = op;
        m->ops = op;
        m->n_ops++;
        s->n_mgmt++;

        switch (tool) {
        case MT_INSTALL: {
                const char *av[8];
                size_t n = 0;
                const char *sandbox = json_get_string(args, "sandbox");

                av[n++] = "--disabled"; /* enabled only once confirmed */
                if (name) {
                        av[n++] = "--name";
                        av[n++] = name;
                }
                if (sandbox) {
                        av[n++] = "--sandbox";
                        av[n++] = sandbox;
                }
                av[n++] = arg(args, "source");
                av[n] = NULL;
                op_progress(op, "installing");
                (void)op_exec(op, s, verb, av);
                break;
        }
        case MT_ENABLE:
                /* Not worth a question when the verb would refuse it: a
                 * global server is an admin's (the verb checks again). */
                if (s->gw->system_mode && !s->admin && !unit_manifest(u)->owner) {
                        op_fail(op, "corral: enable: cannot enable '%s': a global server is an "
                                    "admin's to change (exit 77)",
                                name);
                        break;
                }
                if (unit_manifest(u)->enabled) {
                        op->confirmation = "not_needed";
                        op_answer(op, enable_result(op, s, "already enabled"));
                        break;
                }
                ask(op, s);
                break;
        case MT_AUTH_START:
                (void)op_exec(op, s, verb, (const char *const[]){"--no-listen", name, NULL});
                break;
        case MT_AUTH_COMPLETE:
                (void)op_exec(op, s, verb, (const char *const[]){name, arg(args, "code"), NULL});
                break;
        case MT_AUTH_STATUS:
                (void)op_exec(op, s, verb, (const char *const[]){"--json", name, NULL});
                break;
        default: /* uninstall, disable */
                (void)op_exec(op, s, verb, (const char *const[]){name, NULL});
                break;
        }
}

/* A verb still running for a call nobody waits for any more is ended
 * (MCP basic/utilities/cancellation: the work stops, no answer is sent). */
static void op_cancel_job(mgmt_op *op)
{
        gw_mgmt *m = mgmt_of(op);

        if (op->job && m && m->backend->cancel) {
                m->backend->cancel(m->ud, op->job);
                op->job = NULL;
        }
}

bool mgmt_ops_cancel(gateway_session *s, const cJSON *request_id)
{
        for (mgmt_op *op = s->gw->mgmt->ops; op; op = op->next)
                if (op->session == s->serial && jsonrpc_id_equal(op->id, request_id)) {
                        log_info("gateway: %s cancelled by the client%s", verb_of[op->tool]
                                                                        ? verb_of[op->tool]
                                                                        : "management call",
                                 op->job ? " (its verb killed; nothing it staged is kept)" : "");
                        op_cancel_job(op);
                        op_free(op, s);
                        return true;
                }
        return false;
}

void gw_mgmt_session_gone(gateway_session *s)
{
        gw_mgmt *m = s->gw ? s->gw->mgmt : NULL;

        for (mgmt_op *op = m ? m->ops : NULL, *next; op; op = next) {
                next = op->next;
                if (op->session != s->serial)
                        continue;
                op->elicit_open = false; /* its s2c goes with the session */
                op_cancel_job(op);
                op_free(op, NULL);
        }
        s->n_mgmt = 0;
}

void mgmt_ops_free_all(gateway *gw)
{
        while (gw->mgmt->ops) {
                mgmt_op *op = gw->mgmt->ops;
                gateway_session *s = op_session(op);

                /* The question is withdrawn; the session is not counted
                 * down (nor drained): it goes with the gateway. */
                if (s && op->elicit_open)
                        gw_upstream_forget_local(s, op);
                op->elicit_open = false;
                op_free(op, NULL);
        }
}
