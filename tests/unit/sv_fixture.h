/* A supervisor over a temp --root store with a real child (the MCP server in
 * tests/fixtures/mock-server.mjs run by node), shared by test_supervisor.c
 * and test_native_process.c.  Timings are shortened with
 * CORRAL_TEST_TIMESCALE. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "corral/jsonutil.h"
#include "corral/manifest.h"
#include "corral/store.h"
#include "corral/supervisor.h"

#define WAIT_MS 20000 /* generous: node may start slowly on a loaded machine */

typedef struct fixture {
        char *root;
        char *server_js;
        store *s;
        uv_loop_t loop;
        uv_timer_t tick;
        supervisor *sv;
        /* recorded events */
        unsigned lists_events;
        unsigned lists_bits;
        unsigned removed;
        char removed_name[64];
        unsigned ready_events;
        bool shutdown_done;
        /* a response */
        bool got_response;
        cJSON *response; /* result or error, owned */
        bool response_is_error;
} fixture;

fixture *fixture_new(const char *timescale);
void run_for(fixture *fx, uint64_t ms);
unit *wait_state(fixture *fx, const char *name, unit_state state);
void on_shutdown_done(void *ud);
bool shutdown_finished(fixture *fx, const void *arg);
void fixture_free(fixture *fx);
int reconcile(fixture *fx);
bool pid_reaped(int pid);
bool pid_gone(int pid);
bool has_tool(const cJSON *tools, const char *name);
char *read_log(fixture *fx, const char *name);
bool response_arrived(fixture *fx, const void *arg);
void call_tool(fixture *fx, unit *u, const char *tool, cJSON *args);
bool run_until(fixture *fx, bool (*pred)(fixture *, const void *), const void *arg);
/* Installs NAME running `node mock-server.mjs MODE` (or argv when given). */
void install(fixture *fx, const char *name, const char *mode, const char *installed_at,
             bool replace, void (*edit)(manifest *m));
