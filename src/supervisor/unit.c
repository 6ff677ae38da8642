/* A unit's process lifecycle (DESIGN.md, "Supervisor"): launch through its
 * runtime backend, crashes and backoff, the staged stop (stdin closed,
 * SIGTERM, SIGKILL), and the unit's own allocation.
 *
 * Lifetimes: a unit's process and session end together in on_proc_exit();
 * every path that kills a server (stop, crash, protocol fault, failed health
 * check) ends there, so state changes after a process dies happen in one
 * place.  libuv handles are separate allocations freed in their close
 * callbacks, so a unit or the supervisor can be freed from inside any
 * callback. */
#include <inttypes.h>
#include <stdio.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/expand.h"
#include "corral/log.h"
#include "internal.h"

/* ---- helpers ------------------------------------------------------------ */

static void free_handle(uv_handle_t *h)
{
        free(h);
}

uv_timer_t *sv_timer_new(uv_loop_t *loop, void *data)
{
        uv_timer_t *t = xcalloc(1, sizeof(*t));

        (void)uv_timer_init(loop, t);
        t->data = data;
        return t;
}

uv_timer_t *sv_timer_free(uv_timer_t *t)
{
        if (t)
                uv_close((uv_handle_t *)t, free_handle);
        return NULL;
}

uint64_t sv_scaled(const supervisor *sv, uint64_t ms)
{
        uint64_t v = ms / sv->scale;

        return v ? v : 1;
}

void sv_set_str(char **dst, char *take)
{
        free(*dst);
        *dst = take;
}

bool unit_enabled(const unit *u)
{
        return u->m && u->m->enabled && !u->load_error;
}

const char *unit_state_name(unit_state s)
{
        static const char *const names[] = {
                [UNIT_STOPPED] = "stopped",           [UNIT_STARTING] = "starting",
                [UNIT_INITIALIZING] = "initializing", [UNIT_READY] = "ready",
                [UNIT_BACKOFF] = "backoff",           [UNIT_FAILED] = "failed",
                [UNIT_STOPPING] = "stopping",         [UNIT_UNAVAILABLE] = "unavailable",
                [UNIT_PENDING_AUTH] = "pending_auth",
        };

        return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "unknown";
}

void unit_clear_lists(unit *u)
{
        for (unsigned i = 0; i < N_SLOTS; i++) {
                cJSON_Delete(u->lists[i]);
                u->lists[i] = NULL;
                u->fetching[i] = u->refetch[i] = false;
        }
}

void unit_set_state(unit *u, unit_state s)
{
        supervisor *sv = u->sv;
        unit_state old = u->state;

        if (old == s)
                return;
        u->state = s;
        if (old == UNIT_READY) {
                (void)uv_timer_stop(u->ping);
                u->ping_inflight = false;
        }
        log_debug("%s: %s -> %s", u->name, unit_state_name(old), unit_state_name(s));
        /* Users' sessions end with the unit (issue 15, usession.c). */
        if (s == UNIT_STOPPING || s == UNIT_STOPPED || s == UNIT_FAILED)
                unit_close_user_sessions(u, unit_state_name(s));
        if (sv->ev.unit_state)
                sv->ev.unit_state(sv->ud, u, old, s);
        /* The gateway keeps a unit's tools exactly while it is ready. */
        if ((old == UNIT_READY || s == UNIT_READY) && sv->ev.unit_lists)
                sv->ev.unit_lists(sv->ud, u, UNIT_LIST_ALL);
}

void unit_set_failed(unit *u, char *take_reason)
{
        sv_set_str(&u->last_error, take_reason);
        logfile_note(u->log, "failed: %s", u->last_error);
        log_warn("%s: failed: %s", u->name, u->last_error);
        unit_set_state(u, UNIT_FAILED);
}

static void unit_open_log(unit *u)
{
        _cleanup_free_ char *path = NULL;

        if (u->log)
                return;
        path = paths_log_file(&u->sv->s->paths, u->name);
        u->log = logfile_open(path, 0, 0);
        if (!u->log)
                log_warn("%s: cannot open log %s: %s", u->name, path, strerror(errno));
}

/* ---- process lifecycle --------------------------------------------------- */


static void on_backoff_done(uv_timer_t *t)
{
        unit *u = t->data;

        if (u->state != UNIT_BACKOFF)
                return;
        u->restarts++;
        unit_launch(u);
}

static void on_unavailable_retry(uv_timer_t *t)
{
        unit *u = t->data;

        if (u->state != UNIT_UNAVAILABLE)
                return;
        unit_launch(u);
}

/* The service the backend runs on (the docker engine) is down: not the
 * server's fault, so neither a crash nor a restart is counted, and the unit
 * is retried every UNAVAILABLE_RETRY_MS until a start succeeds.  quiet: a
 * retry that failed again (the daemon log says it once per outage; the
 * server's log notes every attempt). */
static void set_unavailable(unit *u, char *take_reason, bool quiet)
{
        supervisor *sv = u->sv;

        sv_set_str(&u->last_error, take_reason);
        if (quiet)
                log_debug("%s: still unavailable: %s", u->name, u->last_error);
        else
                log_warn("%s: unavailable: %s; retrying every %u s", u->name, u->last_error,
                         UNAVAILABLE_RETRY_MS / 1000);
        unit_set_state(u, UNIT_UNAVAILABLE);
        (void)uv_timer_start(u->timer, on_unavailable_retry, sv_scaled(sv, UNAVAILABLE_RETRY_MS), 0);
}

/* A remote server wants a person to authorize corral: nothing to retry until
 * `corral auth` asks for a start. */
static void set_pending_auth(unit *u, char *take_reason)
{
        sv_set_str(&u->last_error, take_reason);
        log_warn("%s: pending authorization: %s", u->name, u->last_error);
        (void)uv_timer_stop(u->timer);
        unit_set_state(u, UNIT_PENDING_AUTH);
}

static bool policy_restarts(const unit *u)
{
        const char *policy = u->m && u->m->restart ? u->m->restart : "on-failure";

        if (strcmp(policy, "always") == 0)
                return true;
        if (strcmp(policy, "no") == 0)
                return false;
        /* on-failure: every exit corral did not ask for counts, whatever the
         * status.  A long-running server that stops by itself (exit 0 while
         * corral still holds its stdin, as server-everything does on an
         * oversize line) has stopped serving its clients. */
        return true;
}

static void handle_crash(unit *u, unit_state was, char *take_reason, bool failure)
{
        supervisor *sv = u->sv;
        uint64_t now = uv_now(sv->loop), window = sv_scaled(sv, CRASH_WINDOW_MS), delay;
        unsigned kept = 0;

        sv_set_str(&u->last_error, take_reason);
        for (unsigned i = 0; i < u->n_crashes; i++)
                if (now - u->crashes[i] < window)
                        u->crashes[kept++] = u->crashes[i];
        if (kept == CRASH_MAX) {
                memmove(u->crashes, u->crashes + 1, (CRASH_MAX - 1) * sizeof(u->crashes[0]));
                kept--;
        }
        u->crashes[kept++] = now;
        u->n_crashes = kept;
        if (u->n_crashes >= CRASH_MAX) {
                unit_set_failed(u, xasprintf("crash loop: %u crashes in %u s; last: %s", CRASH_MAX,
                                        CRASH_WINDOW_MS / 1000, u->last_error));
                return;
        }
        if (!policy_restarts(u)) {
                logfile_note(u->log, "%s; not restarting (restart: %s)", u->last_error,
                             u->m->restart);
                unit_set_state(u, failure ? UNIT_FAILED : UNIT_STOPPED);
                return;
        }
        if (was == UNIT_READY && now - u->ready_since >= sv_scaled(sv, READY_RESET_MS))
                u->backoff = sv_scaled(sv, BACKOFF_MIN_MS);
        delay = u->backoff;
        u->backoff =
                delay * 2 > sv_scaled(sv, BACKOFF_MAX_MS) ? sv_scaled(sv, BACKOFF_MAX_MS) : delay * 2;
        logfile_note(u->log, "%s; restarting in %" PRIu64 " ms", u->last_error, delay);
        log_info("%s: %s; restarting in %" PRIu64 " ms", u->name, u->last_error, delay);
        unit_set_state(u, UNIT_BACKOFF);
        (void)uv_timer_start(u->timer, on_backoff_done, delay, 0);
}

/* The unit has no process any more after a stop. */
static void finish_stop(unit *u)
{
        supervisor *sv = u->sv;

        (void)uv_timer_stop(u->timer);
        if (sv->shutting_down) {
                /* Shown by default, as "daemon ready" is: what the daemon
                 * is waiting for while it stops (issue 18). */
                fprintf(stderr, "corral: daemon: %s: stopped in %" PRIu64 " ms%s\n", u->name,
                        uv_now(sv->loop) - u->stop_began,
                        u->stop_killed ? " (needed SIGKILL)" : "");
                logfile_note(u->log, "stopped with the daemon");
        }
        if (u->fail_after_stop) {
                u->fail_after_stop = false;
                unit_set_failed(u, xstrdup(u->load_error ? u->load_error : "manifest does not load"));
        } else {
                unit_set_state(u, UNIT_STOPPED);
        }
        if (u->removed) {
                unit_remove(u);
                supervisor_check_shutdown(sv);
                return;
        }
        if (u->start_after_stop && !sv->shutting_down && unit_enabled(u)) {
                u->start_after_stop = false;
                unit_launch(u);
        }
        u->start_after_stop = false;
        supervisor_check_shutdown(sv);
}

static void on_proc_stdout(void *ud, const char *data, size_t n)
{
        unit *u = ud;

        if (u->client)
                mcp_client_feed(u->client, data, n);
}

static void on_proc_stderr(void *ud, const char *data, size_t n)
{
        unit *u = ud;

        logfile_write(u->log, data, n);
}

static void on_proc_exit(void *ud, int exit_status, int term_signal)
{
        unit *u = ud;
        unit_state was = u->state;
        mcp_client *c = u->client;
        char *why, *reason;
        bool failure, lost = u->be->service_lost && u->be->service_lost(u->proc);
        bool auth = u->be->needs_auth && u->be->needs_auth(u->proc);
        bool fatal = u->be->fatal && u->be->fatal(u->proc);

        {
                const char *known = u->be->exit_reason ? u->be->exit_reason(u->proc) : NULL;
                why = known ? xstrdup(known)
                      : term_signal ? xasprintf("killed by signal %d", term_signal)
                                    : xasprintf("exited with status %d", exit_status);
        }
        /* OOM kills as the kernel counted them (a child's too), not read
         * from the reason's words. */
        if (u->be->oom_kills)
                u->oom_kills += u->be->oom_kills(u->proc);
        u->proc = u->be->free(u->proc);
        /* Detach before freeing: the session's pending callbacks (ours and
         * the gateway's) then see a unit without a session. */
        u->client = NULL;
        unit_clear_lists(u);
        u->ping_inflight = false;
        (void)mcp_client_free(c);
        failure = term_signal != 0 || exit_status != 0 || was != UNIT_READY || u->fault;
        reason = u->fault ? steal_pointer(&u->fault) : NULL;

        if (was == UNIT_STOPPING) {
                logfile_note(u->log, "stopped (%s)", why);
                free(why);
                free(reason);
                finish_stop(u);
                return;
        }
        if (auth || fatal) {
                logfile_note(u->log, "%s", why);
                free(reason);
                if (auth)
                        set_pending_auth(u, why);
                else
                        unit_set_failed(u, why);
                return;
        }
        if (lost) {
                logfile_note(u->log, "%s", why);
                free(reason);
                set_unavailable(u, why, false);
                return;
        }
        if (reason) {
                logfile_note(u->log, "%s", why);
                free(why);
        } else {
                reason = why;
        }
        handle_crash(u, was, reason, failure);
}

static const runtime_callbacks proc_callbacks = {
        .on_stdout = on_proc_stdout,
        .on_stderr = on_proc_stderr,
        .on_exit = on_proc_exit,
};


static bool is_remote(const unit *u)
{
        return u->m && u->m->backend && strcmp(u->m->backend, "remote") == 0;
}

void unit_launch(unit *u)
{
        supervisor *sv = u->sv;
        corral_error err = {0};
        const runtime_backend *be;
        bool retry = u->state == UNIT_UNAVAILABLE;
        int r;

        if (u->load_error) {
                unit_set_failed(u, xstrdup(u->load_error));
                return;
        }
        unit_open_log(u);
        be = runtime_backend_find(u->m->backend);
        if (!be) {
                unit_set_failed(u, xasprintf("backend '%s' is not available yet", u->m->backend));
                return;
        }
        u->be = be;
        free(u->fault);
        u->fault = NULL;
        u->ping_misses = 0;
        unit_set_state(u, UNIT_STARTING);
        /* Secrets and ${VAR} references filled in for this start only. */
        manifest *eff = NULL;
        if (expand_manifest(u->m, &sv->s->paths, &eff, &err) < 0) {
                logfile_note(u->log, "cannot start: %s", err.msg);
                unit_set_failed(u, xstrdup(err.msg));
                return;
        }
        u->client = mcp_client_new(sv->loop, &unit_client_ops, u, 0);
        r = be->start(sv->loop, eff ? eff : u->m, &sv->s->paths, &proc_callbacks, u, &u->proc,
                      &err);
        eff = manifest_free(eff);
        if (r < 0) {
                mcp_client *c = u->client;

                u->client = NULL;
                (void)mcp_client_free(c);
                logfile_note(u->log, "cannot start: %s", err.msg);
                if (r == -EX_UNAVAILABLE) {
                        set_unavailable(u, xstrdup(err.msg), retry);
                        return;
                }
                /* Only a failure of the machine (fork, pipes) may go away by itself. */
                if (r == -EX_OSERR)
                        handle_crash(u, UNIT_STARTING, xstrdup(err.msg), true);
                else
                        unit_set_failed(u, xstrdup(err.msg));
                return;
        }
        logfile_note(u->log, "started pid %d: %s", be->pid(u->proc), u->m->command[0]);
        log_info("%s: started pid %d", u->name, be->pid(u->proc));
        unit_set_state(u, UNIT_INITIALIZING);
        /* A server is probed with server/discover (2026-07-28) and falls
         * back to initialize; a remote one installed for the 2024-11-05
         * HTTP+SSE transport, which 2026-07-28 does not serve, is
         * initialized at once. */
        if (u->state == UNIT_INITIALIZING && u->client && is_remote(u) && u->m->transport &&
            strcmp(u->m->transport, "sse") == 0)
                (void)mcp_client_initialize(u->client, sv_scaled(sv, INIT_TIMEOUT_MS), unit_on_initialized,
                                            u);
        else if (u->state == UNIT_INITIALIZING && u->client)
                (void)mcp_client_connect(u->client, sv_scaled(sv, INIT_TIMEOUT_MS), unit_on_initialized,
                                         u);
}

static void on_stop_timer(uv_timer_t *t)
{
        unit *u = t->data;

        if (u->state != UNIT_STOPPING || !u->proc)
                return;
        if (u->stop_phase == 0) {
                logfile_note(u->log, "still running %u s after stdin closed; sending SIGTERM",
                             STOP_TERM_MS / 1000);
                (void)u->be->kill(u->proc, SIGTERM);
                u->stop_phase = 1;
                (void)uv_timer_start(u->timer, on_stop_timer, sv_scaled(u->sv, STOP_KILL_MS), 0);
        } else {
                logfile_note(u->log, "still running %u s after SIGTERM; sending SIGKILL",
                             STOP_KILL_MS / 1000);
                (void)u->be->kill(u->proc, SIGKILL);
                u->stop_killed = true;
        }
}

/* Begins stopping whatever runs; a unit without a process settles at once
 * (backoff or unavailable → stopped). */
void unit_stop_process(unit *u)
{
        switch (u->state) {
        case UNIT_BACKOFF:
        case UNIT_UNAVAILABLE:
        case UNIT_PENDING_AUTH:
                (void)uv_timer_stop(u->timer);
                unit_set_state(u, UNIT_STOPPED);
                break;
        case UNIT_STARTING:
        case UNIT_INITIALIZING:
        case UNIT_READY:
                if (!u->proc)
                        break;
                logfile_note(u->log, "stopping");
                unit_set_state(u, UNIT_STOPPING);
                u->stop_phase = 0;
                u->stop_began = uv_now(u->sv->loop);
                u->stop_killed = false;
                u->be->close_stdin(u->proc);
                if (u->sv->shutting_down) {
                        /* The daemon is going away: every server gets
                         * SIGTERM now, in parallel, rather than 5 s to
                         * notice its closed stdin; SIGKILL still follows. */
                        logfile_note(u->log, "the daemon is stopping; sending SIGTERM");
                        (void)u->be->kill(u->proc, SIGTERM);
                        u->stop_phase = 1;
                        (void)uv_timer_start(u->timer, on_stop_timer,
                                             sv_scaled(u->sv, STOP_KILL_MS), 0);
                        break;
                }
                (void)uv_timer_start(u->timer, on_stop_timer, sv_scaled(u->sv, STOP_TERM_MS), 0);
                break;
        default:
                break;
        }
}

void unit_reset_crashes(unit *u)
{
        u->n_crashes = 0;
        u->backoff = sv_scaled(u->sv, BACKOFF_MIN_MS);
        /* An admin's start/restart or a reinstall: what status showed of
         * the earlier crashes is history now (issue 18). */
        u->restarts = 0;
        sv_set_str(&u->last_error, NULL);
}

/* ---- units --------------------------------------------------------------- */

unit *unit_new(supervisor *sv, const char *name)
{
        unit *u = xcalloc(1, sizeof(*u));

        u->sv = sv;
        u->name = xstrdup(name);
        u->state = UNIT_STOPPED;
        u->timer = sv_timer_new(sv->loop, u);
        u->ping = sv_timer_new(sv->loop, u);
        u->backoff = sv_scaled(sv, BACKOFF_MIN_MS);
        sv->units = xrealloc(sv->units, (sv->n_units + 1) * sizeof(*sv->units));
        sv->units[sv->n_units++] = u;
        return u;
}

unit *unit_free(unit *u)
{
        mcp_client *c;

        if (!u)
                return NULL;
        unit_free_user_sessions(u);
        if (u->proc)
                u->proc = u->be->free(u->proc);
        c = u->client;
        u->client = NULL;
        (void)mcp_client_free(c);
        unit_clear_lists(u);
        u->timer = sv_timer_free(u->timer);
        u->ping = sv_timer_free(u->ping);
        u->log = logfile_close(u->log);
        manifest_free(u->m);
        free(u->load_error);
        free(u->last_error);
        free(u->fault);
        free(u->name);
        free(u);
        return NULL;
}

/* Fires unit_removed and frees a unit that has no process. */
void unit_remove(unit *u)
{
        supervisor *sv = u->sv;

        for (size_t i = 0; i < sv->n_units; i++)
                if (sv->units[i] == u) {
                        memmove(sv->units + i, sv->units + i + 1,
                                (sv->n_units - i - 1) * sizeof(*sv->units));
                        sv->n_units--;
                        break;
                }
        if (sv->ev.unit_removed)
                sv->ev.unit_removed(sv->ud, u);
        (void)unit_free(u);
}

