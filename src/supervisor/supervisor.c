/* The supervisor (DESIGN.md, "Supervisor"): one unit per installed server,
 * reconciled with the store, the control verbs (start, stop, restart),
 * shutdown, and what status and the gateway read from a unit. */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "internal.h"

/* ---- supervisor ---------------------------------------------------------- */

supervisor *supervisor_new(uv_loop_t *loop, store *s, const supervisor_events *ev, void *ud)
{
        supervisor *sv = xcalloc(1, sizeof(*sv));
        const char *e = getenv("CORRAL_TEST_TIMESCALE");

        sv->loop = loop;
        sv->s = s;
        if (ev)
                sv->ev = *ev;
        sv->ud = ud;
        sv->scale = 1;
        if (e && *e) {
                char *end;
                unsigned long v = strtoul(e, &end, 10);

                if (*end == '\0' && v >= 1 && v <= TIMESCALE_MAX)
                        sv->scale = (unsigned)v;
                else
                        log_warn("ignoring CORRAL_TEST_TIMESCALE=%s (want 1..%u)", e,
                                 TIMESCALE_MAX);
        }
        sv->done_timer = sv_timer_new(loop, sv);
        return sv;
}

supervisor *supervisor_free(supervisor *sv)
{
        if (!sv)
                return NULL;
        for (size_t i = 0; i < sv->n_units; i++)
                (void)unit_free(sv->units[i]);
        free(sv->units);
        sv->done_timer = sv_timer_free(sv->done_timer);
        free(sv);
        return NULL;
}

static void on_done_timer(uv_timer_t *t)
{
        supervisor *sv = t->data;
        void (*done)(void *) = sv->done;

        sv->done = NULL;
        if (done)
                done(sv->done_ud); /* may free sv */
}

static bool all_reaped(const supervisor *sv)
{
        for (size_t i = 0; i < sv->n_units; i++)
                if (sv->units[i]->proc)
                        return false;
        return true;
}

/* Called from deep inside process callbacks: done runs from its own timer so
 * that it may free the supervisor. */
void supervisor_check_shutdown(supervisor *sv)
{
        if (sv->shutting_down && sv->done && all_reaped(sv))
                (void)uv_timer_start(sv->done_timer, on_done_timer, 0, 0);
}

void supervisor_shutdown(supervisor *sv, void (*done)(void *ud), void *ud)
{
        sv->shutting_down = true;
        sv->done = done;
        sv->done_ud = ud;
        for (size_t i = 0; i < sv->n_units; i++) {
                sv->units[i]->start_after_stop = false;
                unit_stop_process(sv->units[i]);
        }
        if (all_reaped(sv)) {
                sv->done = NULL;
                if (done)
                        done(ud);
        }
}

size_t supervisor_units(supervisor *sv, unit *const **ret)
{
        *ret = sv->units;
        return sv->n_units;
}

unit *supervisor_find(supervisor *sv, const char *name)
{
        for (size_t i = 0; i < sv->n_units; i++)
                if (strcmp(sv->units[i]->name, name) == 0)
                        return sv->units[i];
        return NULL;
}

static int unit_order(const void *a, const void *b)
{
        const unit *x = *(unit *const *)a, *y = *(unit *const *)b;
        const char *tx = x->m ? x->m->installed_at : NULL;
        const char *ty = y->m ? y->m->installed_at : NULL;
        int c;

        /* Units without a manifest sort last. */
        if (tx && ty) {
                c = strcmp(tx, ty);
                if (c)
                        return c;
        } else if (tx || ty) {
                return tx ? -1 : 1;
        }
        return strcmp(x->name, y->name);
}

/* A server's manifest no longer loads: it is shown as failed with the error. */
static int reconcile_broken(unit *u, const char *msg)
{
        if (u->load_error && strcmp(u->load_error, msg) == 0)
                return 0;
        sv_set_str(&u->load_error, xstrdup(msg));
        u->start_after_stop = false;
        if (u->proc) {
                u->fail_after_stop = true;
                unit_stop_process(u);
        } else {
                (void)uv_timer_stop(u->timer);
                unit_set_failed(u, xstrdup(msg));
        }
        return 1;
}

/* Starts u now, or after its current stop. */
static void start_or_queue(unit *u)
{
        if (u->state == UNIT_STOPPING) {
                u->start_after_stop = true;
                return;
        }
        if (u->proc)
                return;
        (void)uv_timer_stop(u->timer);
        unit_reset_crashes(u);
        unit_launch(u);
}

static int reconcile_loaded(unit *u, manifest *m)
{
        manifest *old = u->m;
        bool was_enabled = unit_enabled(u);
        bool same = old && !u->load_error && manifest_same_runtime(old, m);
        bool was_removed = u->removed;
        /* `install --force` over it: new code under the same name. */
        bool reinstalled = old && old->installed_at && m->installed_at &&
                           strcmp(old->installed_at, m->installed_at) != 0;
        bool access_changed = old && !manifest_same_access(old, m);

        u->m = m;
        manifest_free(old);
        unit_user_sessions_reload(u); /* runtime.session_idle_s may have changed */
        /* `corral access`: what callers of each level reach changed, and
         * connected clients hear list_changed (MCP server/tools §list changed). */
        if (access_changed && u->state == UNIT_READY && u->sv->ev.unit_lists)
                u->sv->ev.unit_lists(u->sv->ud, u, UNIT_LIST_ALL);
        u->removed = false;
        if (reinstalled) {
                unit_reset_crashes(u);
                same = false;
        }
        if (u->load_error) {
                free(u->load_error);
                u->load_error = NULL;
                u->fail_after_stop = false;
                if (u->state == UNIT_FAILED)
                        unit_set_state(u, UNIT_STOPPED);
                if (m->enabled)
                        start_or_queue(u);
                return 1;
        }
        if (!m->enabled) {
                u->start_after_stop = false;
                if (!was_enabled && !was_removed)
                        return 0;
                unit_stop_process(u);
                if (u->state == UNIT_FAILED)
                        unit_set_state(u, UNIT_STOPPED);
                return 1;
        }
        if (!was_enabled || was_removed) {
                start_or_queue(u);
                return 1;
        }
        if (same)
                return 0;
        logfile_note(u->log, "manifest changed; restarting");
        switch (u->state) {
        case UNIT_STARTING:
        case UNIT_INITIALIZING:
        case UNIT_READY:
                u->start_after_stop = true;
                unit_stop_process(u);
                break;
        case UNIT_STOPPING:
                break; /* a stop asked for by the user, or a restart already queued */
        case UNIT_BACKOFF:
        case UNIT_UNAVAILABLE:
        case UNIT_PENDING_AUTH:
        case UNIT_FAILED:
                start_or_queue(u);
                break;
        case UNIT_STOPPED:
                break; /* stopped by the user: stays stopped, with the new manifest */
        }
        return 1;
}

int supervisor_reconcile(supervisor *sv, corral_error *err)
{
        _cleanup_strv_ char **names = NULL;
        int changes = 0, r;

        if (sv->shutting_down)
                return 0;
        r = store_list(sv->s, &names, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sv->n_units; i++)
                sv->units[i]->seen = false;
        for (size_t i = 0; names[i]; i++) {
                corral_error lerr = {0};
                manifest *m = NULL;
                unit *u = supervisor_find(sv, names[i]);

                r = store_load(sv->s, names[i], &m, &lerr);
                if (!u) {
                        u = unit_new(sv, names[i]);
                        u->seen = true;
                        changes++;
                        if (r < 0) {
                                reconcile_broken(u, lerr.msg);
                                continue;
                        }
                        u->m = m;
                        if (m->enabled)
                                unit_launch(u);
                        continue;
                }
                u->seen = true;
                if (r < 0)
                        changes += reconcile_broken(u, lerr.msg);
                else
                        changes += reconcile_loaded(u, m);
        }
        /* Removed from the store; backwards, as units without a process go at once. */
        for (size_t i = sv->n_units; i-- > 0;) {
                unit *u = sv->units[i];

                if (u->seen || u->removed)
                        continue;
                changes++;
                u->removed = true;
                u->start_after_stop = false;
                u->fail_after_stop = false;
                unit_stop_process(u);
                if (!u->proc)
                        unit_remove(u);
        }
        if (sv->n_units > 1) /* qsort(NULL, 0, …) is undefined (UBSan) */
                qsort(sv->units, sv->n_units, sizeof(*sv->units), unit_order);
        return changes;
}

/* ---- manual control ------------------------------------------------------ */

static int check_startable(unit *u, corral_error *err)
{
        if (u->load_error)
                return corral_error_set(err, EX_DATAERR, "%s", u->load_error);
        if (!u->m || !u->m->enabled)
                return corral_error_set(err, EX_UNAVAILABLE, "server '%s' is disabled", u->name);
        if (u->removed)
                return corral_error_set(err, EX_UNAVAILABLE, "server '%s' is being removed",
                                        u->name);
        if (u->sv->shutting_down)
                return corral_error_set(err, EX_UNAVAILABLE, "the supervisor is shutting down");
        return 0;
}

int unit_start(unit *u, corral_error *err)
{
        int r = check_startable(u, err);

        if (r < 0)
                return r;
        switch (u->state) {
        case UNIT_STOPPED:
        case UNIT_FAILED:
        case UNIT_BACKOFF:
        case UNIT_UNAVAILABLE:
        case UNIT_PENDING_AUTH:
        case UNIT_STOPPING:
                start_or_queue(u);
                break;
        default:
                break;
        }
        return 0;
}

int unit_stop(unit *u)
{
        u->start_after_stop = false;
        unit_stop_process(u);
        if (u->state == UNIT_FAILED && !u->load_error)
                unit_set_state(u, UNIT_STOPPED);
        return 0;
}

int unit_restart(unit *u, corral_error *err)
{
        int r = check_startable(u, err);

        if (r < 0)
                return r;
        unit_reset_crashes(u);
        switch (u->state) {
        case UNIT_STARTING:
        case UNIT_INITIALIZING:
        case UNIT_READY:
                logfile_note(u->log, "restart requested");
                u->start_after_stop = true;
                unit_stop_process(u);
                break;
        default:
                start_or_queue(u);
                break;
        }
        return 0;
}

/* ---- accessors ----------------------------------------------------------- */

const char *unit_name(const unit *u)
{
        return u->name;
}
unit_state unit_get_state(const unit *u)
{
        return u->state;
}
const manifest *unit_manifest(const unit *u)
{
        return u->m;
}
mcp_client *unit_client(unit *u)
{
        return u->state == UNIT_READY ? u->client : NULL;
}

mcp_client *unit_session(unit *u)
{
        return u->client;
}

static const cJSON *ready_list(const unit *u, unsigned i)
{
        return u->state == UNIT_READY ? u->lists[i] : NULL;
}

const cJSON *unit_tools(const unit *u)
{
        return ready_list(u, SLOT_TOOLS);
}
const cJSON *unit_prompts(const unit *u)
{
        return ready_list(u, SLOT_PROMPTS);
}
const cJSON *unit_resources(const unit *u)
{
        return ready_list(u, SLOT_RESOURCES);
}
const cJSON *unit_resource_templates(const unit *u)
{
        return ready_list(u, SLOT_TEMPLATES);
}
int unit_pid(const unit *u)
{
        return u->proc ? u->be->pid(u->proc) : 0;
}
unsigned unit_restarts(const unit *u)
{
        return u->restarts;
}

unsigned unit_oom_kills(const unit *u)
{
        /* Earlier runs', and the running one's so far. */
        unsigned live = u->proc && u->be && u->be->oom_kills ? u->be->oom_kills(u->proc) : 0;
        return u->oom_kills + live;
}
const char *unit_last_error(const unit *u)
{
        return u->last_error;
}

static void add_string_or_null(cJSON *o, const char *key, const char *v)
{
        if (v)
                cJSON_AddStringToObject(o, key, v);
        else
                cJSON_AddNullToObject(o, key);
}

cJSON *unit_status_json(const unit *u)
{
        cJSON *o = cJSON_CreateObject();
        const cJSON *info = u->state == UNIT_READY ? mcp_client_server_info(u->client) : NULL;
        const cJSON *list;

        cJSON_AddStringToObject(o, "name", u->name);
        /* Ready for the reset window: earlier crashes are history. */
        bool settled = u->state == UNIT_READY &&
                       uv_now(u->sv->loop) - u->ready_since >= sv_scaled(u->sv, READY_RESET_MS);
        /* A stopped unit the manifest keeps from running is disabled, not
         * merely stopped (issue 18). */
        bool disabled = u->state == UNIT_STOPPED && u->m && !u->m->enabled;

        cJSON_AddStringToObject(o, "state", disabled ? "disabled" : unit_state_name(u->state));
        cJSON_AddNumberToObject(o, "pid", unit_pid(u));
        cJSON_AddNumberToObject(o, "restarts", settled ? 0 : u->restarts);
        cJSON_AddNumberToObject(o, "oom_kills", unit_oom_kills(u));
        cJSON_AddBoolToObject(o, "enabled", u->m && u->m->enabled);
        add_string_or_null(o, "backend", u->m ? u->m->backend : NULL);
        add_string_or_null(o, "sandbox", u->m ? u->m->profile : NULL);
        const runtime_backend *be = u->m ? runtime_backend_find(u->m->backend) : NULL;
        cJSON_AddBoolToObject(o, "confined", be && be->confines && u->m->profile &&
                                                     strcmp(u->m->profile, "none") != 0);
        add_string_or_null(o, "last_error", settled ? NULL : u->last_error);
        /* Lines of its log lost to write errors (a full disk), since the unit
         * was loaded; the log itself says so once writing works again. */
        cJSON_AddNumberToObject(o, "log_lines_dropped", (double)logfile_dropped(u->log));
        list = unit_tools(u);
        cJSON_AddNumberToObject(o, "tools", list ? cJSON_GetArraySize(list) : 0);
        /* Sessions of users to a per-user global remote server (issue 15). */
        if (unit_per_user(u))
                cJSON_AddNumberToObject(o, "user_sessions", unit_user_sessions(u));
        list = unit_prompts(u);
        cJSON_AddNumberToObject(o, "prompts", list ? cJSON_GetArraySize(list) : 0);
        list = unit_resources(u);
        cJSON_AddNumberToObject(o, "resources", list ? cJSON_GetArraySize(list) : 0);
        list = unit_resource_templates(u);
        cJSON_AddNumberToObject(o, "resource_templates", list ? cJSON_GetArraySize(list) : 0);
        add_string_or_null(o, "protocol_version",
                           u->state == UNIT_READY ? mcp_client_protocol_version(u->client) : NULL);
        if (info)
                cJSON_AddItemToObject(o, "server_info", json_dup(info));
        else
                cJSON_AddNullToObject(o, "server_info");
        return o;
}
