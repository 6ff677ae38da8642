/* The supervisor against a real child: the MCP server in
 * tests/fixtures/mock-server.mjs run by node, in a temp --root store
 * (sv_fixture.c).  Timings are shortened with CORRAL_TEST_TIMESCALE. */
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

static void test_ready_with_lists(void **state)
{
        fixture *fx = fixture_new("10");
        _cleanup_free_ char *log = NULL;
        _cleanup_json_ cJSON *status = NULL;
        unit *u;
        int pid;

        install(fx, "alpha", "ok", NULL, false, NULL);
        assert_int_equal(reconcile(fx), 1);
        u = wait_state(fx, "alpha", UNIT_READY);
        assert_int_equal(cJSON_GetArraySize(unit_tools(u)), 4);
        assert_true(has_tool(unit_tools(u), "echo"));
        assert_int_equal(cJSON_GetArraySize(unit_prompts(u)), 1);
        assert_int_equal(cJSON_GetArraySize(unit_resources(u)), 1);
        assert_int_equal(cJSON_GetArraySize(unit_resource_templates(u)), 0);
        assert_true(fx->lists_bits & UNIT_LIST_TOOLS);
        pid = unit_pid(u);
        assert_true(pid > 0);
        assert_int_equal(unit_restarts(u), 0);

        status = unit_status_json(u);
        assert_string_equal(json_get_string(status, "state"), "ready");
        assert_string_equal(json_get_string(status, "protocol_version"), MCP_PROTOCOL_LATEST);
        assert_int_equal((int)json_get_number(status, "tools", -1), 4);
        assert_int_equal((int)json_get_number(status, "pid", -1), pid);
        assert_string_equal(json_get_string(status, "sandbox"), "none");
        assert_false(json_get_bool(status, "confined", true));
        assert_string_equal(json_get_string(json_get_object(status, "server_info"), "name"),
                            "mock-server");

        /* The session works through the unit's stdio. */
        call_tool(fx, u, "echo", cJSON_Parse("{\"text\":\"hi there\"}"));
        assert_true(run_until(fx, response_arrived, NULL));
        assert_false(fx->response_is_error);
        assert_string_equal(
                json_get_string(cJSON_GetArrayItem(json_get_array(fx->response, "content"), 0),
                                "text"),
                "hi there");

        /* list_changed → refetched tools and a unit_lists(TOOLS) event. */
        fx->lists_bits = 0;
        call_tool(fx, u, "add-tool", NULL);
        assert_true(run_until(fx, response_arrived, NULL));
        {
                bool got = false;
                for (int i = 0; i < 400 && !got; i++) {
                        run_for(fx, 10);
                        got = (fx->lists_bits & UNIT_LIST_TOOLS) &&
                              cJSON_GetArraySize(unit_tools(u)) == 5;
                }
                assert_true(got);
        }
        assert_true(has_tool(unit_tools(u), "extra"));

        /* stderr and supervisor notes land in log/alpha.log. */
        log = read_log(fx, "alpha");
        assert_non_null(strstr(log, "mock-server: ok pid"));
        assert_non_null(strstr(log, "corral: started pid"));
        assert_non_null(strstr(log, "corral: ready"));

        fixture_free(fx);
        assert_true(pid_reaped(pid));
}

static void test_crash_restarts(void **state)
{
        fixture *fx = fixture_new("10");
        unit *u;
        int pid1, pid2;

        install(fx, "crashy", "ok", NULL, false, NULL);
        assert_int_equal(reconcile(fx), 1);
        u = wait_state(fx, "crashy", UNIT_READY);
        pid1 = unit_pid(u);

        /* The crash tool never answers: its request fails when the session ends. */
        fx->lists_bits = 0;
        call_tool(fx, u, "crash", NULL);
        u = wait_state(fx, "crashy", UNIT_BACKOFF);
        assert_true(fx->got_response);
        assert_true(fx->response_is_error);
        assert_int_equal((int)json_get_number(fx->response, "code", 0), CORRAL_RPC_UNAVAILABLE);
        assert_null(unit_tools(u));
        assert_null(unit_client(u));
        assert_true(fx->lists_bits & UNIT_LIST_TOOLS); /* leaving ready drops the tools */
        assert_string_equal(unit_last_error(u), "exited with status 3");
        assert_true(pid_reaped(pid1));

        u = wait_state(fx, "crashy", UNIT_READY);
        assert_int_equal(unit_restarts(u), 1);
        pid2 = unit_pid(u);
        assert_true(pid2 > 0 && pid2 != pid1);
        assert_int_equal(cJSON_GetArraySize(unit_tools(u)), 4);

        /* kill -9 from outside. */
        assert_int_equal(kill(pid2, SIGKILL), 0);
        u = wait_state(fx, "crashy", UNIT_BACKOFF);
        assert_string_equal(unit_last_error(u), "killed by signal 9");
        u = wait_state(fx, "crashy", UNIT_READY);
        assert_int_equal(unit_restarts(u), 2);

        fixture_free(fx);
}

/* A server that exits 0 by itself while ready was not asked to stop: under
 * on-failure it is restarted like a crash; a requested stop is not. */
static void test_exit_zero_restarts(void **state)
{
        fixture *fx = fixture_new("10");
        cJSON *args = cJSON_CreateObject();
        unit *u;

        cJSON_AddNumberToObject(args, "status", 0);
        install(fx, "quitter0", "ok", NULL, false, NULL);
        assert_int_equal(reconcile(fx), 1);
        u = wait_state(fx, "quitter0", UNIT_READY);
        call_tool(fx, u, "crash", args);
        u = wait_state(fx, "quitter0", UNIT_BACKOFF);
        assert_string_equal(unit_last_error(u), "exited with status 0");
        u = wait_state(fx, "quitter0", UNIT_READY);
        assert_int_equal(unit_restarts(u), 1);

        assert_int_equal(unit_stop(u), 0);
        u = wait_state(fx, "quitter0", UNIT_STOPPED);
        assert_int_equal(unit_restarts(u), 1);
        fixture_free(fx);
}

static void test_exit_at_once_fails(void **state)
{
        fixture *fx = fixture_new("10");
        _cleanup_free_ char *log = NULL;
        corral_error err = {0};
        unit *u;

        install(fx, "quitter", "exit", NULL, false, NULL);
        assert_int_equal(reconcile(fx), 1);
        u = wait_state(fx, "quitter", UNIT_FAILED);
        assert_string_equal(unit_last_error(u),
                            "crash loop: 5 crashes in 60 s; last: exited with status 1");
        assert_int_equal(unit_restarts(u), 4);
        assert_int_equal(unit_pid(u), 0);
        /* Stays failed: no timer brings it back. */
        run_for(fx, 300);
        assert_int_equal(unit_get_state(u), UNIT_FAILED);
        log = read_log(fx, "quitter");
        assert_non_null(strstr(log, "exited with status 1; restarting in"));

        /* A manual restart leaves failed with a fresh crash window, and
         * clears what status shows of the earlier crashes (issue 18). */
        assert_int_equal(unit_restart(u, &err), 0);
        assert_int_not_equal(unit_get_state(u), UNIT_FAILED);
        assert_int_equal(unit_restarts(u), 0);
        assert_null(unit_last_error(u));
        u = wait_state(fx, "quitter", UNIT_FAILED);
        assert_int_equal(unit_restarts(u), 4);
        fixture_free(fx);
}

static bool unit_left_ready(fixture *fx, const void *arg)
{
        unit *u = supervisor_find(fx->sv, arg);
        unit_state st = u ? unit_get_state(u) : UNIT_STOPPED;

        return st == UNIT_BACKOFF || st == UNIT_FAILED;
}

/* Crashes the ready unit name through its crash tool and returns the loop
 * time once the supervisor has handled the exit (backoff or failed). */
static uint64_t crash_now(fixture *fx, const char *name)
{
        unit *u = wait_state(fx, name, UNIT_READY);

        call_tool(fx, u, "crash", NULL);
        assert_true(run_until(fx, unit_left_ready, name));
        uv_update_time(&fx->loop);
        return uv_now(&fx->loop);
}

/* DESIGN.md "Supervisor": 5 crashes within 60 s mark the unit failed, and
 * older crashes drop out of the window.  At timescale 4 the window is 15 s
 * (room for five node starts on a loaded machine). */
static void test_crash_window_expires(void **state)
{
        const uint64_t window = 15000;
        fixture *fx = fixture_new("4");
        uint64_t first, second, last;
        unit *u;

        install(fx, "spread", "ok", NULL, false, NULL);
        assert_int_equal(reconcile(fx), 1);

        /* Five crashes spread past the window: the first has expired when
         * the fifth comes, so the unit is restarted, not failed. */
        first = crash_now(fx, "spread");
        (void)wait_state(fx, "spread", UNIT_READY);
        uv_update_time(&fx->loop);
        if (uv_now(&fx->loop) < first + window + 300)
                run_for(fx, first + window + 300 - uv_now(&fx->loop));
        second = crash_now(fx, "spread");
        for (int i = 3; i <= 5; i++) {
                (void)crash_now(fx, "spread");
                u = supervisor_find(fx->sv, "spread");
                if (unit_get_state(u) != UNIT_BACKOFF)
                        fail_msg("crash %d (the first %llu ms earlier) left the unit %s: %s", i,
                                 (unsigned long long)(uv_now(&fx->loop) - first),
                                 unit_state_name(unit_get_state(u)), unit_last_error(u));
        }
        u = wait_state(fx, "spread", UNIT_READY);
        assert_int_equal(unit_restarts(u), 5);

        /* A sixth: five inside one window (crashes 2 to 6), so failed. */
        last = crash_now(fx, "spread");
        if (last - second >= window)
                fail_msg("crashes 2 to 6 took %llu ms, more than the %llu ms window: the machine "
                         "is too slow for this test",
                         (unsigned long long)(last - second), (unsigned long long)window);
        u = supervisor_find(fx->sv, "spread");
        assert_int_equal(unit_get_state(u), UNIT_FAILED);
        assert_string_equal(unit_last_error(u),
                            "crash loop: 5 crashes in 60 s; last: exited with status 3");
        fixture_free(fx);
}

static void test_shutdown_reaps_everything(void **state)
{
        fixture *fx = fixture_new("10");
        _cleanup_free_ char *log = NULL;
        int pid_a, pid_b;

        install(fx, "polite", "ok", "2026-01-01T00:00:02Z", false, NULL);
        install(fx, "unyielding", "unyielding", "2026-01-01T00:00:01Z", false, NULL);
        assert_int_equal(reconcile(fx), 2);
        pid_a = unit_pid(wait_state(fx, "polite", UNIT_READY));
        pid_b = unit_pid(wait_state(fx, "unyielding", UNIT_READY));
        {
                unit *const *units;
                /* Install order, not name order. */
                assert_int_equal(supervisor_units(fx->sv, &units), 2);
                assert_string_equal(unit_name(units[0]), "unyielding");
                assert_string_equal(unit_name(units[1]), "polite");
        }
        supervisor_shutdown(fx->sv, on_shutdown_done, fx);
        assert_int_equal(unit_get_state(supervisor_find(fx->sv, "polite")), UNIT_STOPPING);
        assert_true(run_until(fx, shutdown_finished, NULL));
        assert_true(pid_reaped(pid_a));
        assert_true(pid_reaped(pid_b));
        assert_int_equal(unit_get_state(supervisor_find(fx->sv, "polite")), UNIT_STOPPED);
        assert_int_equal(unit_get_state(supervisor_find(fx->sv, "unyielding")), UNIT_STOPPED);
        /* The unyielding one ignores stdin EOF and SIGTERM. */
        log = read_log(fx, "unyielding");
        assert_non_null(strstr(log, "sending SIGTERM"));
        assert_non_null(strstr(log, "sending SIGKILL"));
        fixture_free(fx);
}

static void test_shutdown_with_nothing_running(void **state)
{
        fixture *fx = fixture_new("10");

        supervisor_shutdown(fx->sv, on_shutdown_done, fx);
        assert_true(fx->shutdown_done); /* at once */
        fixture_free(fx);
}

static void use_other_text(manifest *m)
{
        m->command = strv_push(m->command, "changed");
}

static void test_reconcile(void **state)
{
        fixture *fx = fixture_new("10");
        corral_error err = {0};
        unit *u;
        int pid, pid2;

        install(fx, "svc", "ok", NULL, false, NULL);
        assert_int_equal(reconcile(fx), 1);
        u = wait_state(fx, "svc", UNIT_READY);
        pid = unit_pid(u);
        assert_int_equal(reconcile(fx), 0); /* nothing changed */

        /* Disabled → stopped. */
        assert_int_equal(store_set_enabled(fx->s, "svc", false, &err), 0);
        assert_int_equal(reconcile(fx), 1);
        u = wait_state(fx, "svc", UNIT_STOPPED);
        assert_true(pid_reaped(pid));
        assert_int_equal(unit_start(u, &err), -EX_UNAVAILABLE);

        /* Enabled again → running. */
        assert_int_equal(store_set_enabled(fx->s, "svc", true, &err), 0);
        assert_int_equal(reconcile(fx), 1);
        u = wait_state(fx, "svc", UNIT_READY);
        pid = unit_pid(u);

        /* A changed command → restarted with the new manifest. */
        install(fx, "svc", "ok", NULL, true, use_other_text);
        assert_int_equal(reconcile(fx), 1);
        {
                bool restarted = false;
                for (int i = 0; i < 2000 && !restarted; i++) {
                        run_for(fx, 10);
                        u = supervisor_find(fx->sv, "svc");
                        restarted = unit_get_state(u) == UNIT_READY && unit_pid(u) != pid;
                }
                assert_true(restarted);
        }
        pid2 = unit_pid(u);
        assert_true(pid_reaped(pid));
        assert_string_equal(unit_manifest(u)->command[3], "changed");

        /* Manual stop and start. */
        assert_int_equal(unit_stop(u), 0);
        u = wait_state(fx, "svc", UNIT_STOPPED);
        assert_true(pid_reaped(pid2));
        assert_int_equal(reconcile(fx), 0); /* a stopped unit stays stopped */
        assert_int_equal(unit_get_state(u), UNIT_STOPPED);
        assert_int_equal(unit_start(u, &err), 0);
        u = wait_state(fx, "svc", UNIT_READY);
        pid = unit_pid(u);

        /* Uninstalled → stopped, then unit_removed and gone. */
        assert_int_equal(store_remove(fx->s, "svc", false, &err), 0);
        assert_int_equal(reconcile(fx), 1);
        {
                bool gone = false;
                for (int i = 0; i < 2000 && !gone; i++) {
                        run_for(fx, 10);
                        gone = supervisor_find(fx->sv, "svc") == NULL;
                }
                assert_true(gone);
        }
        assert_int_equal(fx->removed, 1);
        assert_string_equal(fx->removed_name, "svc");
        assert_true(pid_reaped(pid));
        fixture_free(fx);
}

/* The remote backend with a command that is not a URL: the manifest does
 * not load. */
static void use_docker(manifest *m)
{
        free(m->backend);
        m->backend = xstrdup("remote");
}

static void use_missing_command(manifest *m)
{
        free(m->command[0]);
        m->command[0] = xstrdup("corral-no-such-command");
}

static void test_broken_servers(void **state)
{
        fixture *fx = fixture_new("10");
        _cleanup_free_ char *mpath = NULL;
        unit *u;

        install(fx, "dock", "ok", NULL, false, use_docker);
        install(fx, "nocmd", "ok", NULL, false, use_missing_command);
        install(fx, "broken", "ok", NULL, false, NULL);
        mpath = paths_manifest(&fx->s->paths, "broken");
        assert_int_equal(write_file_atomic(mpath, "{\"manifest_version\": 1,", 23, 0644), 0);

        assert_int_equal(reconcile(fx), 3);
        u = supervisor_find(fx->sv, "dock");
        assert_int_equal(unit_get_state(u), UNIT_FAILED);
        assert_non_null(strstr(unit_last_error(u), "must be [URL] for the remote backend"));
        u = supervisor_find(fx->sv, "nocmd");
        assert_int_equal(unit_get_state(u), UNIT_FAILED);
        assert_string_equal(unit_last_error(u), "command not found: corral-no-such-command");
        u = supervisor_find(fx->sv, "broken");
        assert_int_equal(unit_get_state(u), UNIT_FAILED);
        assert_non_null(unit_last_error(u));
        assert_null(unit_manifest(u));
        {
                _cleanup_json_ cJSON *st = unit_status_json(u);
                assert_string_equal(json_get_string(st, "state"), "failed");
                assert_string_equal(json_get_string(st, "last_error"), unit_last_error(u));
        }
        /* Repaired on disk → started by the next reconcile. */
        install(fx, "broken", "ok", NULL, true, NULL);
        assert_int_equal(reconcile(fx), 1);
        u = wait_state(fx, "broken", UNIT_READY);
        assert_non_null(unit_manifest(u));
        fixture_free(fx);
}

static void test_protocol_faults(void **state)
{
        /* Slow enough that writing 17 MiB fits in the list timeout on a busy
         * machine; 50 makes initialize time out after 600 ms. */
        static const struct {
                const char *mode;
                const char *timescale;
                const char *want; /* prefix of last_error */
        } cases[] = {
                {"garbage", "10", "protocol error: sent a line that is not JSON"},
                {"oversize", "5", "protocol error: sent a message over 16 MiB"},
                {"slow-init", "50", "initialize timed out"},
        };

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                fixture *fx = fixture_new(cases[i].timescale);
                unit *u;
                int pid;

                install(fx, "bad", cases[i].mode, NULL, false, NULL);
                assert_int_equal(reconcile(fx), 1);
                u = wait_state(fx, "bad", UNIT_INITIALIZING);
                pid = unit_pid(u);
                u = wait_state(fx, "bad", UNIT_BACKOFF);
                if (strncmp(unit_last_error(u), cases[i].want, strlen(cases[i].want)) != 0)
                        fail_msg("%s: last_error '%s', want '%s…'", cases[i].mode,
                                 unit_last_error(u), cases[i].want);
                assert_true(pid_reaped(pid));
                fixture_free(fx);
        }
}

static void test_health_check(void **state)
{
        /* 20: ping every 1.5 s, 500 ms timeout. */
        fixture *fx = fixture_new("20");
        unit *u;

        install(fx, "deaf", "no-pong", NULL, false, NULL);
        assert_int_equal(reconcile(fx), 1);
        u = wait_state(fx, "deaf", UNIT_READY);
        u = wait_state(fx, "deaf", UNIT_BACKOFF);
        assert_string_equal(unit_last_error(u), "health check failed: 3 pings missed");
        u = wait_state(fx, "deaf", UNIT_READY);
        assert_int_equal(unit_restarts(u), 1);
        fixture_free(fx);
}

static void no_restart(manifest *m)
{
        free(m->restart);
        m->restart = xstrdup("no");
}

static void test_restart_policy_no(void **state)
{
        fixture *fx = fixture_new("10");
        unit *u;

        install(fx, "once", "exit", NULL, false, no_restart);
        assert_int_equal(reconcile(fx), 1);
        u = wait_state(fx, "once", UNIT_FAILED);
        assert_string_equal(unit_last_error(u), "exited with status 1");
        assert_int_equal(unit_restarts(u), 0);
        fixture_free(fx);
}

/* A docker server whose engine is not there (DOCKER_HOST names a socket
 * nobody listens on). */
static void docker_no_engine(manifest *m)
{
        free(m->backend);
        m->backend = xstrdup("docker");
        free(m->spec);
        m->spec = xstrdup("docker:127.0.0.1:5000/corral/none:1");
}

static size_t count_substr(const char *hay, const char *needle)
{
        size_t n = 0;

        for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
                n++;
        return n;
}

static void test_backend_unavailable(void **state)
{
        /* Retries every 500 ms; "plain" gets 3 s to initialize, enough for
         * node on a loaded machine (at 100, 300 ms were not). */
        fixture *fx = fixture_new("10");
        const char *env = getenv("DOCKER_HOST");
        _cleanup_free_ char *saved = env ? xstrdup(env) : NULL;
        _cleanup_free_ char *sock = path_join(fx->root, "no-engine.sock");
        _cleanup_free_ char *host = xasprintf("unix://%s", sock);
        _cleanup_free_ char *log = NULL;
        _cleanup_json_ cJSON *status = NULL;
        unit *u, *plain;

        assert_int_equal(setenv("DOCKER_HOST", host, 1), 0);
        install(fx, "boxed", "ok", "2026-01-01T00:00:00Z", false, docker_no_engine);
        install(fx, "plain", "ok", "2026-01-02T00:00:00Z", false, NULL);
        assert_int_equal(reconcile(fx), 2);
        u = wait_state(fx, "boxed", UNIT_UNAVAILABLE);
        assert_non_null(strstr(unit_last_error(u), "docker engine unavailable"));
        assert_int_equal(unit_restarts(u), 0);
        assert_int_equal(unit_pid(u), 0);
        assert_null(unit_client(u));
        assert_null(unit_tools(u));
        status = unit_status_json(u);
        assert_string_equal(json_get_string(status, "state"), "unavailable");
        assert_non_null(strstr(json_get_string(status, "last_error"), "docker engine unavailable"));

        /* Other servers are unaffected. */
        plain = wait_state(fx, "plain", UNIT_READY);
        assert_int_equal(unit_restarts(plain), 0);

        /* Far more failed starts than the crash-loop limit: no crash and no
         * restart is counted, and the unit is never failed. */
        run_for(fx, 3500);
        u = supervisor_find(fx->sv, "boxed");
        assert_int_equal(unit_get_state(u), UNIT_UNAVAILABLE);
        assert_int_equal(unit_restarts(u), 0);
        log = read_log(fx, "boxed");
        assert_true(count_substr(log, "cannot start: docker engine unavailable") >= 6);

        /* stop → stopped; start → tried at once, unavailable again. */
        assert_int_equal(unit_stop(u), 0);
        assert_int_equal(unit_get_state(u), UNIT_STOPPED);
        run_for(fx, 200);
        assert_int_equal(unit_get_state(u), UNIT_STOPPED);
        {
                corral_error err = {0};
                assert_int_equal(unit_start(u, &err), 0);
        }
        /* The docker backend finds the engine gone on the loop, not inside
         * start(). */
        u = wait_state(fx, "boxed", UNIT_UNAVAILABLE);
        assert_int_equal(unit_restarts(u), 0);

        assert_int_equal(unit_get_state(plain), UNIT_READY);
        assert_int_equal(unit_restarts(plain), 0);
        if (saved)
                assert_int_equal(setenv("DOCKER_HOST", saved, 1), 0);
        else
                assert_int_equal(unsetenv("DOCKER_HOST"), 0);
        fixture_free(fx);
}

static void test_state_names(void **state)
{
        static const struct {
                unit_state s;
                const char *name;
        } cases[] = {
                {UNIT_STOPPED, "stopped"},   {UNIT_STARTING, "starting"},
                {UNIT_INITIALIZING, "initializing"}, {UNIT_READY, "ready"},
                {UNIT_BACKOFF, "backoff"},   {UNIT_FAILED, "failed"},
                {UNIT_STOPPING, "stopping"}, {UNIT_UNAVAILABLE, "unavailable"},
                {UNIT_PENDING_AUTH, "pending_auth"},
                {(unit_state)99, "unknown"},
        };

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                assert_string_equal(unit_state_name(cases[i].s), cases[i].name);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ready_with_lists),
                cmocka_unit_test(test_crash_restarts),
                cmocka_unit_test(test_exit_zero_restarts),
                cmocka_unit_test(test_exit_at_once_fails),
                cmocka_unit_test(test_crash_window_expires),
                cmocka_unit_test(test_shutdown_reaps_everything),
                cmocka_unit_test(test_shutdown_with_nothing_running),
                cmocka_unit_test(test_reconcile),
                cmocka_unit_test(test_broken_servers),
                cmocka_unit_test(test_protocol_faults),
                cmocka_unit_test(test_health_check),
                cmocka_unit_test(test_restart_policy_no),
                cmocka_unit_test(test_backend_unavailable),
                cmocka_unit_test(test_state_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

