/* Internals shared by the supervisor's files: the unit and supervisor
 * structures, DESIGN.md's timings, and the calls between the process
 * lifecycle (unit.c), the MCP session on a unit's stdio (session.c) and the
 * supervisor's reconcile and control verbs (supervisor.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

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
/* Per-user sessions to a global remote server (usession.c, issue 15). */
#define USER_SESSIONS_MAX 64u
#define USER_IDLE_MS 600000u /* unused this long: closed */
#define USER_SWEEP_MS 5000u  /* idle and logged-out sessions looked for */
#define USER_RETRY_MS 5000u  /* a session that ended (not for authorization), tried again */

typedef struct usession usession;

typedef struct list_slot {
        const char *method;
        const char *key;        /* in the list result */
        const char *capability; /* in the server's capabilities */
        unsigned bit;
} list_slot;

enum { SLOT_TOOLS, SLOT_PROMPTS, SLOT_RESOURCES, SLOT_TEMPLATES, N_SLOTS };

/* The slots a notifications/{tools,prompts,resources}/list_changed names
 * (resources: the resources and their templates): 0 with *first..*last, or
 * -1 for any other method.  session.c. */
int list_changed_slots(const char *method, int *first, int *last);

extern const list_slot unit_slots[N_SLOTS];

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
        unsigned oom_kills; /* the kernel's OOM kills in ended runs (runtime oom_kills()) */
        uint64_t crashes[CRASH_MAX]; /* loop times of recent crashes, oldest first */
        unsigned n_crashes;
        uint64_t backoff; /* next delay, ms (scaled) */
        uint64_t ready_since;
        uint64_t stop_began; /* loop ms when the last stop began */
        bool stop_killed;    /* that stop needed SIGKILL */
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
        usession *usessions;   /* per-user sessions (usession.c) */
        uv_timer_t *usweep;    /* their idle and logout sweep */
        char *user_why;        /* the last refusal unit_user_client() gave */
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

/* unit.c: helpers */
uv_timer_t *sv_timer_new(uv_loop_t *loop, void *data);
uv_timer_t *sv_timer_free(uv_timer_t *t);
uint64_t sv_scaled(const supervisor *sv, uint64_t ms);
void sv_set_str(char **dst, char *take);
bool unit_enabled(const unit *u);
void unit_clear_lists(unit *u);
void unit_set_state(unit *u, unit_state s);
void unit_set_failed(unit *u, char *take_reason);

/* unit.c: the process lifecycle */
void unit_launch(unit *u);
void unit_stop_process(unit *u);
void unit_reset_crashes(unit *u);
unit *unit_new(supervisor *sv, const char *name);
unit *unit_free(unit *u);
void unit_remove(unit *u);

/* session.c: the MCP session on a unit's stdio, and health pings */
extern const mcp_client_ops unit_client_ops;
void unit_on_initialized(void *ud, const cJSON *result, const cJSON *error);
void unit_on_ping_timer(uv_timer_t *t);

/* usession.c: per-user sessions (issue 15) */
bool unit_per_user(const unit *u);
/* Closes every user's session (the unit stops); frees them (the unit goes). */
void unit_close_user_sessions(unit *u, const char *why);
void unit_free_user_sessions(unit *u);
/* The manifest was read again: the sweep follows its idle time at once. */
void unit_user_sessions_reload(unit *u);

/* supervisor.c */
void supervisor_check_shutdown(supervisor *sv);
