/* The native backend alone against `sh -c` children: environment, stdio,
 * exit statuses and signals, on the fixture's loop and store. */
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

/* ---- the native backend alone ------------------------------------------------ */

typedef struct proc_result {
        strbuf out;
        bool exited;
        int status;
        int sig;
        uint64_t exit_time;
        uv_loop_t *loop;
} proc_result;

static void np_stdout(void *ud, const char *data, size_t n)
{
        proc_result *r = ud;

        assert_int_equal(strbuf_append(&r->out, data, n), 0);
}

static void np_exit(void *ud, int status, int sig)
{
        proc_result *r = ud;

        assert_false(r->exited); /* once */
        r->exited = true;
        r->status = status;
        r->sig = sig;
        uv_update_time(r->loop);
        r->exit_time = uv_now(r->loop);
}

static const runtime_callbacks np_callbacks = {.on_stdout = np_stdout, .on_exit = np_exit};

static bool proc_exited(fixture *fx, const void *arg)
{
        return ((const proc_result *)arg)->exited;
}

static bool proc_output_has(fixture *fx, const void *arg)
{
        const proc_result *r = arg;

        return r->out.buf && strstr(r->out.buf, "\n.\n");
}

/* Starts `sh -c script` as server "n" with env FOO=bar. */
static runtime_process *start_sh(fixture *fx, const char *script, proc_result *r)
{
        _cleanup_free_ char *pkg = paths_pkg_dir(&fx->s->paths, "n");
        corral_error err = {0};
        runtime_process *p = NULL;
        manifest *m = manifest_new("n");

        assert_int_equal(mkdir_p(pkg, 0755), 0);
        free(m->profile);
        m->profile = xstrdup("none"); /* the plain fork/exec path */
        strv_free(m->command);
        m->command = NULL;
        m->command = strv_push(m->command, "sh");
        m->command = strv_push(m->command, "-c");
        m->command = strv_push(m->command, script);
        m->env = xcalloc(1, sizeof(*m->env));
        m->env[0].key = xstrdup("FOO");
        m->env[0].value = xstrdup("bar");
        m->n_env = 1;
        *r = (proc_result){.out = STRBUF_INIT(1 << 20), .loop = &fx->loop};
        if (runtime_native.start(&fx->loop, m, &fx->s->paths, &np_callbacks, r, &p, &err) < 0)
                fail_msg("start: %s", err.msg);
        manifest_free(m);
        return p;
}

static void test_native_child_setup(void **state)
{
        fixture *fx = fixture_new("1");
        _cleanup_free_ char *home = paths_data_dir(&fx->s->paths, "n");
        _cleanup_free_ char *pkg = paths_pkg_dir(&fx->s->paths, "n");
        _cleanup_free_ char *want = NULL;
        proc_result r;
        runtime_process *p;
        int pid;

        /* Only stdio is inherited; the environment is the clean one; the cwd
         * is the package; the child leads its own session and group. */
        p = start_sh(fx,
                     /* ls lists its own fds: stdio plus the directory it reads (3). */
                     "ls /proc/self/fd; env | sort | grep -v '^PWD=';"
                     "pwd; cut -d' ' -f1,5,6 /proc/$$/stat; read line; echo \"got $line\"",
                     &r);
        pid = runtime_native.pid(p);
        assert_true(pid > 0);
        assert_int_equal(runtime_native.write(p, "hello\n", 6), 0);
        assert_true(run_until(fx, proc_exited, &r));
        assert_int_equal(r.status, 0);
        assert_int_equal(r.sig, 0);
        assert_int_equal(runtime_native.pid(p), 0);
        want = xasprintf(
                "0\n1\n2\n3\nFOO=bar\nHOME=%s\nLANG=C.UTF-8\n"
                "PATH=/usr/local/bin:/usr/bin:/bin\nTMPDIR=/tmp\n%s\n%d %d %d\ngot hello\n",
                home, pkg, pid, pid, pid);
        assert_string_equal(r.out.buf, want);
        p = runtime_native.free(p);
        strbuf_done(&r.out);
        assert_true(pid_reaped(pid));
        fixture_free(fx);
}

static void test_native_exit_and_signals(void **state)
{
        fixture *fx = fixture_new("1");
        corral_error err = {0};
        proc_result r;
        runtime_process *p;
        manifest *m;
        int grandchild;

        p = start_sh(fx, "exit 7", &r);
        assert_true(run_until(fx, proc_exited, &r));
        assert_int_equal(r.status, 7);
        p = runtime_native.free(p);
        strbuf_done(&r.out);

        /* kill() reaches the whole group: the background sleep dies too. */
        p = start_sh(fx, "sleep 100 & echo $!; echo .; wait", &r);
        assert_true(run_until(fx, proc_output_has, &r));
        grandchild = atoi(r.out.buf);
        assert_true(grandchild > 0);
        assert_int_equal(runtime_native.kill(p, SIGTERM), 0);
        assert_true(run_until(fx, proc_exited, &r));
        assert_int_equal(r.sig, SIGTERM);
        assert_int_equal(runtime_native.kill(p, SIGTERM), -ESRCH);
        assert_int_equal(runtime_native.write(p, "x", 1), -1);
        p = runtime_native.free(p);
        strbuf_done(&r.out);
        assert_true(pid_gone(grandchild));

        /* A grandchild in its own session keeps stdout open: on_exit still
         * comes about 200 ms after the main process is reaped. */
        p = start_sh(fx, "setsid sleep 30 & echo $!; echo .; sleep 0.2; exit 4", &r);
        assert_true(run_until(fx, proc_output_has, &r));
        grandchild = atoi(r.out.buf);
        assert_true(grandchild > 0);
        uv_update_time(&fx->loop);
        {
                uint64_t t0 = uv_now(&fx->loop);
                assert_true(run_until(fx, proc_exited, &r));
                assert_int_equal(r.status, 4);
                assert_true(r.exit_time - t0 < 5000);
        }
        p = runtime_native.free(p);
        strbuf_done(&r.out);
        assert_int_equal(kill(grandchild, SIGKILL), 0);

        /* free() while running kills and reaps synchronously. */
        p = start_sh(fx, "sleep 100", &r);
        {
                int pid = runtime_native.pid(p);
                p = runtime_native.free(p);
                assert_true(pid_reaped(pid));
        }
        assert_false(r.exited); /* no callback after free */
        strbuf_done(&r.out);

        /* Missing commands and directories fail synchronously. */
        m = manifest_new("n");
        free(m->profile);
        m->profile = xstrdup("none");
        m->command = strv_push(m->command, "corral-no-such-command");
        assert_int_equal(
                runtime_native.start(&fx->loop, m, &fx->s->paths, &np_callbacks, &r, &p, &err),
                -EX_NOINPUT);
        assert_string_equal(err.msg, "command not found: corral-no-such-command");
        corral_error_clear(&err);
        free(m->command[0]);
        m->command[0] = xstrdup("sh");
        free(m->cwd);
        m->cwd = xstrdup("missing");
        assert_int_equal(
                runtime_native.start(&fx->loop, m, &fx->s->paths, &np_callbacks, &r, &p, &err),
                -EX_NOINPUT);
        assert_non_null(strstr(err.msg, "chdir"));
        manifest_free(m);
        fixture_free(fx);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_native_child_setup),
                cmocka_unit_test(test_native_exit_and_signals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
