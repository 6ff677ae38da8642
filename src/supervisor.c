/* The supervisor (DESIGN.md, "Supervisor"): one unit per installed server,
 * each run through a runtime backend with an MCP client session on its stdio.
 *
 * Lifetimes: a unit's process and session end together in on_proc_exit();
 * every path that kills a server (stop, crash, protocol fault, failed health
 * check) ends there, so state changes after a process dies happen in one
 * place.  libuv handles are separate allocations freed in their close
 * callbacks, so a unit or the supervisor can be freed from inside any
 * callback. */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/logfile.h"
#include "corral/runtime.h"
#include "corral/supervisor.h"

/* DESIGN.md "Supervisor" timings, in ms before CORRAL_TEST_TIMESCALE. */
#define BACKOFF_MIN_MS 200u
#define BACKOFF_MAX_MS 30000u
#define READY_RESET_MS 60000u /* ready this long → backoff starts over */
#define CRASH_WINDOW_MS 60000u
#define CRASH_MAX 5u
#define UNAVAILABLE_RETRY_MS 5000u /* backend service down (docker engine) */
#define STOP_TERM_MS 5000u /* stdin closed → SIGTERM */
#define STOP_KILL_MS 5000u /* SIGTERM → SIGKILL (10 s after the stop) */
#define PING_INTERVAL_MS 30000u
#define PING_TIMEOUT_MS 10000u
#define PING_MISSES 3u
#define INIT_TIMEOUT_MS 30000u
#define LIST_TIMEOUT_MS 30000u
#define TIMESCALE_MAX 100000u

typedef struct list_slot {
        const char *method;
        const char *key;        /* in the list result */
        const char *capability; /* in the server's capabilities */
        unsigned bit;
} list_slot;

enum { SLOT_TOOLS, SLOT_PROMPTS, SLOT_RESOURCES, SLOT_TEMPLATES, N_SLOTS };

static const list_slot slots[N_SLOTS] = {
        [SLOT_TOOLS] = {"tools/list", "tools", "tools", UNIT_LIST_TOOLS},
        [SLOT_PROMPTS] = {"prompts/list", "prompts", "prompts", UNIT_LIST_PROMPTS},
        [SLOT_RESOURCES] = {"resources/list", "resources", "resources", UNIT_LIST_RESOURCES},
        [SLOT_TEMPLATES] = {"resources/templates/list", "resourceTemplates", "resources",
                            UNIT_LIST_RESOURCES},
};

#define UNIT_LIST_ALL (UNIT_LIST_TOOLS | UNIT_LIST_PROMPTS | UNIT_LIST_RESOURCES)

struct unit {
        supervisor *sv;
        char *name;
        manifest *m;      /* the last manifest that loaded; NULL if none ever did */
        char *load_error; /* set while servers/NAME/manifest.json does not load */
        const runtime_backend *be;
        runtime_process *proc;
        mcp_client *client;
        logfile *log;
        unit_state state;
        uv_timer_t *timer; /* backoff delay, or stop escalation */
        uv_timer_t *ping;
        unsigned stop_phase; /* 0: stdin closed, 1: SIGTERM sent */
        unsigned restarts;
        uint64_t crashes[CRASH_MAX]; /* loop times of recent crashes, oldest first */
        unsigned n_crashes;
        uint64_t backoff; /* next delay, ms (scaled) */
        uint64_t ready_since;
        char *last_error;
        char *fault; /* why we killed it; reported instead of the exit status */
        cJSON *lists[N_SLOTS];
        bool fetching[N_SLOTS];
        bool refetch[N_SLOTS];
        bool list_failed[N_SLOTS]; /* last_error is this list's failure */
        unsigned ping_misses;
        bool ping_inflight;
        bool seen;             /* reconcile bookkeeping */
        bool removed;          /* gone from the store: freed once its process is reaped */
        bool start_after_stop; /* restart, or a start asked for while stopping */
        bool fail_after_stop;  /* stopping because the manifest no longer loads */
};

struct supervisor {
        uv_loop_t *loop;
        store *s;
        supervisor_events ev;
        void *ud;
        unit **units;
        size_t n_units;
        unsigned scale;
        bool shutting_down;
        void (*done)(void *ud);
        void *done_ud;
        uv_timer_t *done_timer;
};

static void unit_launch(unit *u);
static void unit_stop_process(unit *u);
static void on_ping_timer(uv_timer_t *t);

/* ---- helpers ------------------------------------------------------------ */

static void free_handle(uv_handle_t *h)
{
        free(h);
}

static uv_timer_t *timer_new(uv_loop_t *loop, void *data)
{
        uv_timer_t *t = xcalloc(1, sizeof(*t));

        (void)uv_timer_init(loop, t);
        t->data = data;
        return t;
}

static uv_timer_t *timer_free(uv_timer_t *t)
{
        if (t)
                uv_close((uv_handle_t *)t, free_handle);
        return NULL;
}

static uint64_t scaled(const supervisor *sv, uint64_t ms)
{
        uint64_t v = ms / sv->scale;

        return v ? v : 1;
}

static void set_str(char **dst, char *take)
{
        free(*dst);
        *dst = take;
}

static bool unit_enabled(const unit *u)
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
        };

        return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "unknown";
}

static void clear_lists(unit *u)
{
        for (unsigned i = 0; i < N_SLOTS; i++) {
                cJSON_Delete(u->lists[i]);
                u->lists[i] = NULL;
                u->fetching[i] = u->refetch[i] = false;
        }
}

static void set_state(unit *u, unit_state s)
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
        if (sv->ev.unit_state)
                sv->ev.unit_state(sv->ud, u, old, s);
        /* The gateway keeps a unit's tools exactly while it is ready. */
        if ((old == UNIT_READY || s == UNIT_READY) && sv->ev.unit_lists)
                sv->ev.unit_lists(sv->ud, u, UNIT_LIST_ALL);
}

static void set_failed(unit *u, char *take_reason)
{
        set_str(&u->last_error, take_reason);
        logfile_note(u->log, "failed: %s", u->last_error);
        log_warn("%s: failed: %s", u->name, u->last_error);
        set_state(u, UNIT_FAILED);
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

/* ---- the session --------------------------------------------------------- */

/* Kills the server because it misbehaved; the exit then counts as a crash
 * reported with this reason. */
static void unit_fault_kill(unit *u, const char *fmt, ...) _printf_(2, 3);
static void unit_fault_kill(unit *u, const char *fmt, ...)
{
        char *why = NULL;
        va_list ap;

        if (u->fault || !u->proc)
                return;
        va_start(ap, fmt);
        if (vasprintf(&why, fmt, ap) < 0)
                abort();
        va_end(ap);
        u->fault = why;
        logfile_note(u->log, "%s; killing it", why);
        log_info("%s: %s; killing it", u->name, why);
        (void)u->be->kill(u->proc, SIGKILL);
}

static void become_ready(unit *u)
{
        supervisor *sv = u->sv;

        u->ready_since = uv_now(sv->loop);
        u->ping_misses = 0;
        u->ping_inflight = false;
        logfile_note(u->log, "ready (protocol %s, %d tools, %d prompts, %d resources)",
                     mcp_client_protocol_version(u->client),
                     u->lists[SLOT_TOOLS] ? cJSON_GetArraySize(u->lists[SLOT_TOOLS]) : 0,
                     u->lists[SLOT_PROMPTS] ? cJSON_GetArraySize(u->lists[SLOT_PROMPTS]) : 0,
                     u->lists[SLOT_RESOURCES] ? cJSON_GetArraySize(u->lists[SLOT_RESOURCES]) : 0);
        (void)uv_timer_start(u->ping, on_ping_timer, scaled(sv, PING_INTERVAL_MS),
                             scaled(sv, PING_INTERVAL_MS));
        set_state(u, UNIT_READY);
}

static void check_init_done(unit *u)
{
        /* A unit being killed for a fault never becomes ready. */
        if (u->state != UNIT_INITIALIZING || u->fault)
                return;
        for (unsigned i = 0; i < N_SLOTS; i++)
                if (u->fetching[i])
                        return;
        become_ready(u);
}

typedef struct fetch_ctx {
        unit *u;
        unsigned slot;
} fetch_ctx;

static void fetch_list(unit *u, unsigned i);

static void on_list(void *ud, const cJSON *result, const cJSON *error)
{
        fetch_ctx *ctx = ud;
        unit *u = ctx->u;
        unsigned i = ctx->slot;
        const cJSON *items;

        free(ctx);
        if (!u->client)
                return; /* the session is gone */
        u->fetching[i] = false;
        if (u->refetch[i]) {
                /* A list_changed arrived meanwhile: this answer may be stale. */
                fetch_list(u, i);
                return;
        }
        cJSON_Delete(u->lists[i]);
        items = result ? json_get_array(result, slots[i].key) : NULL;
        u->lists[i] = items ? json_dup(items) : cJSON_CreateArray();
        if (error) {
                /* The unit stays ready for what works; status and info show
                 * why this list is empty until it loads again. */
                const char *msg = json_get_string(error, "message");
                char *why = xasprintf("%s failed: %s", slots[i].method, msg ? msg : "error");
                logfile_note(u->log, "%s", why);
                log_warn("%s: %s", u->name, why);
                set_str(&u->last_error, why);
                u->list_failed[i] = true;
        } else if (u->list_failed[i]) {
                u->list_failed[i] = false;
                size_t n = strlen(slots[i].method);
                if (u->last_error && strncmp(u->last_error, slots[i].method, n) == 0 &&
                    strncmp(u->last_error + n, " failed: ", 9) == 0)
                        set_str(&u->last_error, NULL);
        }
        if (u->state == UNIT_INITIALIZING)
                check_init_done(u);
        else if (u->state == UNIT_READY && u->sv->ev.unit_lists)
                u->sv->ev.unit_lists(u->sv->ud, u, slots[i].bit);
}

static void fetch_list(unit *u, unsigned i)
{
        fetch_ctx *ctx;

        if (u->fetching[i]) {
                u->refetch[i] = true;
                return;
        }
        u->fetching[i] = true;
        u->refetch[i] = false;
        ctx = xmalloc(sizeof(*ctx));
        ctx->u = u;
        ctx->slot = i;
        /* On a transport failure on_list has already run. */
        (void)mcp_client_list_all(u->client, slots[i].method, slots[i].key,
                                  scaled(u->sv, LIST_TIMEOUT_MS), on_list, ctx);
}

static void on_initialized(void *ud, const cJSON *result, const cJSON *error)
{
        unit *u = ud;
        const cJSON *caps;

        if (!u->client || u->state != UNIT_INITIALIZING)
                return;
        if (error) {
                const char *msg = json_get_string(error, "message");

                if ((int)json_get_number(error, "code", 0) == CORRAL_RPC_TIMEOUT)
                        unit_fault_kill(u, "initialize timed out");
                else
                        unit_fault_kill(u, "protocol error: initialize failed: %s",
                                        msg ? msg : "error");
                return;
        }
        caps = mcp_client_server_capabilities(u->client);
        for (unsigned i = 0; i < N_SLOTS && u->client; i++)
                if (json_get_object(caps, slots[i].capability))
                        fetch_list(u, i);
        if (u->client)
                check_init_done(u);
}

static int client_send(void *ud, const char *data, size_t len)
{
        unit *u = ud;

        if (!u->proc)
                return -1;
        return u->be->write(u->proc, data, len);
}

static void client_notification(void *ud, const char *method, const cJSON *params)
{
        unit *u = ud;
        supervisor *sv = u->sv;
        int first = -1, last = -1;

        if (!u->client)
                return;
        if (strcmp(method, "notifications/tools/list_changed") == 0)
                first = last = SLOT_TOOLS;
        else if (strcmp(method, "notifications/prompts/list_changed") == 0)
                first = last = SLOT_PROMPTS;
        else if (strcmp(method, "notifications/resources/list_changed") == 0)
                first = SLOT_RESOURCES, last = SLOT_TEMPLATES;
        if (first >= 0) {
                /* Before the first fetch there is nothing to refresh: it is coming. */
                for (int i = first; i <= last; i++)
                        if ((u->state == UNIT_READY || u->state == UNIT_INITIALIZING) &&
                            (u->lists[i] || u->fetching[i]))
                                fetch_list(u, (unsigned)i);
                return;
        }
        if (u->state == UNIT_READY && sv->ev.unit_notification)
                sv->ev.unit_notification(sv->ud, u, method, params);
}

static void client_fault(void *ud, mcp_fault kind, const char *why)
{
        unit *u = ud;

        if (!u->client)
                return;
        switch (u->state) {
        case UNIT_STARTING:
        case UNIT_INITIALIZING:
                unit_fault_kill(u, "protocol error: %s", why);
                break;
        case UNIT_READY:
                /* An oversize message may have been a response we now never
                 * match; a stray line costs nothing. */
                if (kind == MCP_FAULT_OVERSIZE)
                        unit_fault_kill(u, "protocol error: %s", why);
                else
                        logfile_note(u->log, "ignored: %s", why);
                break;
        default:
                logfile_note(u->log, "ignored: %s", why);
                break;
        }
}

static const mcp_client_ops client_ops = {
        .send = client_send,
        .on_notification = client_notification,
        .on_fault = client_fault,
};

/* ---- health ------------------------------------------------------------ */

static void on_pong(void *ud, const cJSON *result, const cJSON *error)
{
        unit *u = ud;

        if (!u->client || !u->ping_inflight)
                return;
        u->ping_inflight = false;
        if (u->state != UNIT_READY)
                return;
        /* Only silence is a miss: an error reply still shows a live server. */
        if (error && (int)json_get_number(error, "code", 0) == CORRAL_RPC_TIMEOUT) {
                u->ping_misses++;
                logfile_note(u->log, "ping %u of %u missed", u->ping_misses, PING_MISSES);
                if (u->ping_misses >= PING_MISSES)
                        unit_fault_kill(u, "health check failed: %u pings missed", PING_MISSES);
        } else {
                u->ping_misses = 0;
        }
}

static void on_ping_timer(uv_timer_t *t)
{
        unit *u = t->data;

        if (u->state != UNIT_READY || !u->client || u->ping_inflight || u->fault)
                return;
        u->ping_inflight = true;
        (void)mcp_client_request(u->client, "ping", NULL, scaled(u->sv, PING_TIMEOUT_MS), NULL,
                                 on_pong, u);
}

/* ---- process lifecycle --------------------------------------------------- */

static void check_shutdown(supervisor *sv);
static void unit_remove(unit *u);

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

        set_str(&u->last_error, take_reason);
        if (quiet)
                log_debug("%s: still unavailable: %s", u->name, u->last_error);
        else
                log_warn("%s: unavailable: %s; retrying every %u s", u->name, u->last_error,
                         UNAVAILABLE_RETRY_MS / 1000);
        set_state(u, UNIT_UNAVAILABLE);
        (void)uv_timer_start(u->timer, on_unavailable_retry, scaled(sv, UNAVAILABLE_RETRY_MS), 0);
}

static bool policy_restarts(const unit *u, bool failure)
{
        const char *policy = u->m && u->m->restart ? u->m->restart : "on-failure";

        if (strcmp(policy, "always") == 0)
                return true;
        if (strcmp(policy, "no") == 0)
                return false;
        return failure;
}

static void handle_crash(unit *u, unit_state was, char *take_reason, bool failure)
{
        supervisor *sv = u->sv;
        uint64_t now = uv_now(sv->loop), window = scaled(sv, CRASH_WINDOW_MS), delay;
        unsigned kept = 0;

        set_str(&u->last_error, take_reason);
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
                set_failed(u, xasprintf("crash loop: %u crashes in %u s; last: %s", CRASH_MAX,
                                        CRASH_WINDOW_MS / 1000, u->last_error));
                return;
        }
        if (!policy_restarts(u, failure)) {
                logfile_note(u->log, "%s; not restarting (restart: %s)", u->last_error,
                             u->m->restart);
                set_state(u, failure ? UNIT_FAILED : UNIT_STOPPED);
                return;
        }
        if (was == UNIT_READY && now - u->ready_since >= scaled(sv, READY_RESET_MS))
                u->backoff = scaled(sv, BACKOFF_MIN_MS);
        delay = u->backoff;
        u->backoff =
                delay * 2 > scaled(sv, BACKOFF_MAX_MS) ? scaled(sv, BACKOFF_MAX_MS) : delay * 2;
        logfile_note(u->log, "%s; restarting in %" PRIu64 " ms", u->last_error, delay);
        log_info("%s: %s; restarting in %" PRIu64 " ms", u->name, u->last_error, delay);
        set_state(u, UNIT_BACKOFF);
        (void)uv_timer_start(u->timer, on_backoff_done, delay, 0);
}

/* The unit has no process any more after a stop. */
static void finish_stop(unit *u)
{
        supervisor *sv = u->sv;

        (void)uv_timer_stop(u->timer);
        if (u->fail_after_stop) {
                u->fail_after_stop = false;
                set_failed(u, xstrdup(u->load_error ? u->load_error : "manifest does not load"));
        } else {
                set_state(u, UNIT_STOPPED);
        }
        if (u->removed) {
                unit_remove(u);
                check_shutdown(sv);
                return;
        }
        if (u->start_after_stop && !sv->shutting_down && unit_enabled(u)) {
                u->start_after_stop = false;
                unit_launch(u);
        }
        u->start_after_stop = false;
        check_shutdown(sv);
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

        {
                const char *known = u->be->exit_reason ? u->be->exit_reason(u->proc) : NULL;
                why = known ? xstrdup(known)
                      : term_signal ? xasprintf("killed by signal %d", term_signal)
                                    : xasprintf("exited with status %d", exit_status);
        }
        u->proc = u->be->free(u->proc);
        /* Detach before freeing: the session's pending callbacks (ours and
         * the gateway's) then see a unit without a session. */
        u->client = NULL;
        clear_lists(u);
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

static void unit_launch(unit *u)
{
        supervisor *sv = u->sv;
        corral_error err = {0};
        const runtime_backend *be;
        bool retry = u->state == UNIT_UNAVAILABLE;
        int r;

        if (u->load_error) {
                set_failed(u, xstrdup(u->load_error));
                return;
        }
        unit_open_log(u);
        be = runtime_backend_find(u->m->backend);
        if (!be) {
                set_failed(u, xasprintf("backend '%s' is not available yet", u->m->backend));
                return;
        }
        u->be = be;
        free(u->fault);
        u->fault = NULL;
        u->ping_misses = 0;
        set_state(u, UNIT_STARTING);
        u->client = mcp_client_new(sv->loop, &client_ops, u, 0);
        r = be->start(sv->loop, u->m, &sv->s->paths, &proc_callbacks, u, &u->proc, &err);
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
                        set_failed(u, xstrdup(err.msg));
                return;
        }
        logfile_note(u->log, "started pid %d: %s", be->pid(u->proc), u->m->command[0]);
        log_info("%s: started pid %d", u->name, be->pid(u->proc));
        set_state(u, UNIT_INITIALIZING);
        if (u->state == UNIT_INITIALIZING && u->client)
                (void)mcp_client_initialize(u->client, scaled(sv, INIT_TIMEOUT_MS), on_initialized,
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
                (void)uv_timer_start(u->timer, on_stop_timer, scaled(u->sv, STOP_KILL_MS), 0);
        } else {
                logfile_note(u->log, "still running %u s after SIGTERM; sending SIGKILL",
                             STOP_KILL_MS / 1000);
                (void)u->be->kill(u->proc, SIGKILL);
        }
}

/* Begins stopping whatever runs; a unit without a process settles at once
 * (backoff or unavailable → stopped). */
static void unit_stop_process(unit *u)
{
        switch (u->state) {
        case UNIT_BACKOFF:
        case UNIT_UNAVAILABLE:
                (void)uv_timer_stop(u->timer);
                set_state(u, UNIT_STOPPED);
                break;
        case UNIT_STARTING:
        case UNIT_INITIALIZING:
        case UNIT_READY:
                if (!u->proc)
                        break;
                logfile_note(u->log, "stopping");
                set_state(u, UNIT_STOPPING);
                u->stop_phase = 0;
                u->be->close_stdin(u->proc);
                (void)uv_timer_start(u->timer, on_stop_timer, scaled(u->sv, STOP_TERM_MS), 0);
                break;
        default:
                break;
        }
}

static void reset_crashes(unit *u)
{
        u->n_crashes = 0;
        u->backoff = scaled(u->sv, BACKOFF_MIN_MS);
}

/* ---- units --------------------------------------------------------------- */

static unit *unit_new(supervisor *sv, const char *name)
{
        unit *u = xcalloc(1, sizeof(*u));

        u->sv = sv;
        u->name = xstrdup(name);
        u->state = UNIT_STOPPED;
        u->timer = timer_new(sv->loop, u);
        u->ping = timer_new(sv->loop, u);
        u->backoff = scaled(sv, BACKOFF_MIN_MS);
        sv->units = xrealloc(sv->units, (sv->n_units + 1) * sizeof(*sv->units));
        sv->units[sv->n_units++] = u;
        return u;
}

static unit *unit_free(unit *u)
{
        mcp_client *c;

        if (!u)
                return NULL;
        if (u->proc)
                u->proc = u->be->free(u->proc);
        c = u->client;
        u->client = NULL;
        (void)mcp_client_free(c);
        clear_lists(u);
        u->timer = timer_free(u->timer);
        u->ping = timer_free(u->ping);
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
static void unit_remove(unit *u)
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
        sv->done_timer = timer_new(loop, sv);
        return sv;
}

supervisor *supervisor_free(supervisor *sv)
{
        if (!sv)
                return NULL;
        for (size_t i = 0; i < sv->n_units; i++)
                (void)unit_free(sv->units[i]);
        free(sv->units);
        sv->done_timer = timer_free(sv->done_timer);
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
static void check_shutdown(supervisor *sv)
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
        set_str(&u->load_error, xstrdup(msg));
        u->start_after_stop = false;
        if (u->proc) {
                u->fail_after_stop = true;
                unit_stop_process(u);
        } else {
                (void)uv_timer_stop(u->timer);
                set_failed(u, xstrdup(msg));
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
        reset_crashes(u);
        unit_launch(u);
}

static int reconcile_loaded(unit *u, manifest *m)
{
        manifest *old = u->m;
        bool was_enabled = unit_enabled(u);
        bool same = old && !u->load_error && manifest_same_runtime(old, m);
        bool was_removed = u->removed;

        u->m = m;
        manifest_free(old);
        u->removed = false;
        if (u->load_error) {
                free(u->load_error);
                u->load_error = NULL;
                u->fail_after_stop = false;
                if (u->state == UNIT_FAILED)
                        set_state(u, UNIT_STOPPED);
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
                        set_state(u, UNIT_STOPPED);
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
                set_state(u, UNIT_STOPPED);
        return 0;
}

int unit_restart(unit *u, corral_error *err)
{
        int r = check_startable(u, err);

        if (r < 0)
                return r;
        reset_crashes(u);
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
        cJSON_AddStringToObject(o, "state", unit_state_name(u->state));
        cJSON_AddNumberToObject(o, "pid", unit_pid(u));
        cJSON_AddNumberToObject(o, "restarts", u->restarts);
        cJSON_AddBoolToObject(o, "enabled", u->m && u->m->enabled);
        add_string_or_null(o, "backend", u->m ? u->m->backend : NULL);
        add_string_or_null(o, "sandbox", u->m ? u->m->profile : NULL);
        const runtime_backend *be = u->m ? runtime_backend_find(u->m->backend) : NULL;
        cJSON_AddBoolToObject(o, "confined", be && be->confines && u->m->profile &&
                                                     strcmp(u->m->profile, "none") != 0);
        add_string_or_null(o, "last_error", u->last_error);
        list = unit_tools(u);
        cJSON_AddNumberToObject(o, "tools", list ? cJSON_GetArraySize(list) : 0);
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
