/* See sv_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/manifest.h"
#include "corral/runtime.h"
#include "corral/store.h"
#include "corral/strbuf.h"
#include "corral/supervisor.h"
#include "sv_fixture.h"

static void ev_state(void *ud, unit *u, unit_state old_state, unit_state new_state)
{
        fixture *fx = ud;

        if (new_state == UNIT_READY)
                fx->ready_events++;
}

static void ev_lists(void *ud, unit *u, unsigned which)
{
        fixture *fx = ud;

        fx->lists_events++;
        fx->lists_bits |= which;
}

static void ev_removed(void *ud, unit *u)
{
        fixture *fx = ud;

        fx->removed++;
        snprintf(fx->removed_name, sizeof(fx->removed_name), "%s", unit_name(u));
}

static const supervisor_events events = {
        .unit_state = ev_state,
        .unit_lists = ev_lists,
        .unit_removed = ev_removed,
};

static void on_tick(uv_timer_t *t) {}

fixture *fixture_new(const char *timescale)
{
        fixture *fx = xcalloc(1, sizeof(*fx));
        const char *srcdir = getenv("CORRAL_SRCDIR");
        _cleanup_free_ char *src = path_absolute(srcdir ? srcdir : ".");
        char tmpl[] = "/tmp/corral-test-supervisor-XXXXXX";
        corral_error err = {0};

        assert_non_null(src);
        fx->server_js = path_join(src, "tests/fixtures/mock-server.mjs");
        assert_true(path_exists(fx->server_js));
        assert_non_null(mkdtemp(tmpl));
        fx->root = xstrdup(tmpl);
        assert_int_equal(store_open(&fx->s, fx->root, &err), 0);
        assert_int_equal(uv_loop_init(&fx->loop), 0);
        /* Makes UV_RUN_ONCE return often enough to check conditions. */
        assert_int_equal(uv_timer_init(&fx->loop, &fx->tick), 0);
        assert_int_equal(uv_timer_start(&fx->tick, on_tick, 5, 5), 0);
        setenv("CORRAL_TEST_TIMESCALE", timescale, 1);
        fx->sv = supervisor_new(&fx->loop, fx->s, &events, fx);
        return fx;
}

/* Runs the loop until pred(fx, arg) holds or WAIT_MS pass. */
bool run_until(fixture *fx, bool (*pred)(fixture *, const void *), const void *arg)
{
        uint64_t deadline;

        uv_update_time(&fx->loop);
        deadline = uv_now(&fx->loop) + WAIT_MS;
        while (!pred(fx, arg)) {
                if (uv_now(&fx->loop) > deadline)
                        return false;
                (void)uv_run(&fx->loop, UV_RUN_ONCE);
        }
        return true;
}

void run_for(fixture *fx, uint64_t ms)
{
        uint64_t end;

        uv_update_time(&fx->loop);
        end = uv_now(&fx->loop) + ms;
        while (uv_now(&fx->loop) < end)
                (void)uv_run(&fx->loop, UV_RUN_ONCE);
}

typedef struct state_wait {
        const char *name;
        unit_state state;
} state_wait;

static bool unit_in_state(fixture *fx, const void *arg)
{
        const state_wait *w = arg;
        unit *u = supervisor_find(fx->sv, w->name);

        return u && unit_get_state(u) == w->state;
}

unit *wait_state(fixture *fx, const char *name, unit_state state)
{
        state_wait w = {name, state};
        unit *u;

        if (!run_until(fx, unit_in_state, &w)) {
                u = supervisor_find(fx->sv, name);
                fail_msg("%s: wanted state %s, still %s (last error: %s)", name,
                         unit_state_name(state), u ? unit_state_name(unit_get_state(u)) : "gone",
                         u && unit_last_error(u) ? unit_last_error(u) : "none");
        }
        return supervisor_find(fx->sv, name);
}

void on_shutdown_done(void *ud)
{
        fixture *fx = ud;

        fx->shutdown_done = true;
}

bool shutdown_finished(fixture *fx, const void *arg)
{
        return fx->shutdown_done;
}

static void on_close_walk(uv_handle_t *h, void *arg)
{
        unsigned *leaked = arg;

        if (!uv_is_closing(h)) {
                (*leaked)++;
                uv_close(h, NULL);
        }
}

void fixture_free(fixture *fx)
{
        unsigned leaked = 0;

        if (!fx->shutdown_done) {
                supervisor_shutdown(fx->sv, on_shutdown_done, fx);
                assert_true(run_until(fx, shutdown_finished, NULL));
        }
        fx->sv = supervisor_free(fx->sv);
        uv_close((uv_handle_t *)&fx->tick, NULL);
        (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
        /* Any handle still open (even unreferenced) leaked from the code under test. */
        uv_walk(&fx->loop, on_close_walk, &leaked);
        assert_int_equal(leaked, 0);
        (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&fx->loop), 0);
        fx->s = store_free(fx->s);
        assert_int_equal(rm_rf(fx->root), 0);
        cJSON_Delete(fx->response);
        free(fx->root);
        free(fx->server_js);
        free(fx);
}

/* Installs NAME running `node mock-server.mjs MODE` (or argv when given). */
void install(fixture *fx, const char *name, const char *mode, const char *installed_at,
                    bool replace, void (*edit)(manifest *m))
{
        _cleanup_free_ char *staging = NULL, *pkg = NULL;
        corral_error err = {0};
        manifest *m = manifest_new(name);

        assert_int_equal(store_stage(fx->s, name, &staging, &err), 0);
        pkg = path_join(staging, "pkg");
        assert_int_equal(mkdir_p(pkg, 0755), 0);
        free(m->spec);
        m->spec = path_join(fx->root, "src");
        strv_free(m->command);
        m->command = NULL;
        m->command = strv_push(m->command, "node");
        m->command = strv_push(m->command, fx->server_js);
        m->command = strv_push(m->command, mode);
        /* Supervisor logic only: the sandbox has its own integration tests
         * (and the mock server lives outside anything a sandbox binds). */
        free(m->profile);
        m->profile = xstrdup("none");
        if (installed_at) {
                free(m->installed_at);
                m->installed_at = xstrdup(installed_at);
        }
        if (edit)
                edit(m);
        if (store_commit(fx->s, staging, m, replace, &err) < 0)
                fail_msg("store_commit: %s", err.msg);
        manifest_free(m);
}

int reconcile(fixture *fx)
{
        corral_error err = {0};
        int r = supervisor_reconcile(fx->sv, &err);

        if (r < 0)
                fail_msg("reconcile: %s", err.msg);
        return r;
}

/* Our child, reaped: the pid no longer exists. */
bool pid_reaped(int pid)
{
        return pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
}

/* Gone, or a zombie waiting for init (a grandchild, which we do not reap).
 * SIGKILL is delivered asynchronously, so this waits up to 5 s. */
static bool pid_gone_now(int pid);
bool pid_gone(int pid)
{
        for (int i = 0; i < 500; i++) {
                if (pid_gone_now(pid))
                        return true;
                (void)usleep(10000);
        }
        return false;
}

static bool pid_gone_now(int pid)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/stat", pid);
        _cleanup_free_ char *stat = NULL;
        const char *paren;
        size_t len;

        if (pid <= 0)
                return false;
        if (kill(pid, 0) < 0 && errno == ESRCH)
                return true;
        if (read_file(path, 4096, &stat, &len) < 0)
                return true;
        paren = strrchr(stat, ')');
        return paren && paren[1] == ' ' && paren[2] == 'Z';
}

bool has_tool(const cJSON *tools, const char *name)
{
        const cJSON *t;

        cJSON_ArrayForEach(t, tools)
        {
                const char *n = json_get_string(t, "name");
                if (n && strcmp(n, name) == 0)
                        return true;
        }
        return false;
}

char *read_log(fixture *fx, const char *name)
{
        _cleanup_free_ char *path = paths_log_file(&fx->s->paths, name);
        char *data = NULL;
        size_t len;

        if (read_file(path, 1 << 20, &data, &len) < 0)
                return xstrdup("");
        return data;
}

static void on_response(void *ud, const cJSON *result, const cJSON *error)
{
        fixture *fx = ud;

        fx->got_response = true;
        fx->response_is_error = error != NULL;
        cJSON_Delete(fx->response);
        fx->response = json_dup(error ? error : result);
}

bool response_arrived(fixture *fx, const void *arg)
{
        return fx->got_response;
}

void call_tool(fixture *fx, unit *u, const char *tool, cJSON *args)
{
        cJSON *params = cJSON_CreateObject();

        cJSON_AddStringToObject(params, "name", tool);
        cJSON_AddItemToObject(params, "arguments", args ? args : cJSON_CreateObject());
        fx->got_response = false;
        assert_non_null(unit_client(u));
        (void)mcp_client_request(unit_client(u), "tools/call", params, 5000, NULL, on_response, fx);
}

/* ---- tests ----------------------------------------------------------------- */

