/* Paths, the store (atomic commit, replace, remove, enable/disable, leftover
 * cleanup) and the local resolver, each against a temporary --root. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "corral/fs.h"
#include "corral/resolver.h"
#include "corral/store.h"

typedef struct fixture {
        char root[64]; /* the --root */
        char src[64];  /* source trees for installs */
        store *s;
} fixture;

static void write_text(const char *dir, const char *rel, const char *text, mode_t mode)
{
        char *path = path_join(dir, rel);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        assert_int_equal(mkdir_p(path, 0755), 0);
        *slash = '/';
        assert_int_equal(write_file_atomic(path, text, strlen(text), mode), 0);
        free(path);
}

static char *src_dir(fixture *f, const char *name)
{
        char *d = path_join(f->src, name);
        assert_int_equal(mkdir_p(d, 0755), 0);
        return d;
}

static size_t count_entries(const char *dir)
{
        char *cmd = xasprintf("ls -A '%s' | wc -l", dir);
        FILE *p = popen(cmd, "r");
        size_t n = 0;
        assert_non_null(p);
        assert_int_equal(fscanf(p, "%zu", &n), 1);
        pclose(p);
        free(cmd);
        return n;
}

static int setup(void **state)
{
        fixture *f = xcalloc(1, sizeof(*f));
        snprintf(f->root, sizeof(f->root), "/tmp/corral-ut-root.XXXXXX");
        snprintf(f->src, sizeof(f->src), "/tmp/corral-ut-src.XXXXXX");
        if (!mkdtemp(f->root) || !mkdtemp(f->src))
                return -1;
        corral_error err = {0};
        if (store_open(&f->s, f->root, &err) < 0) {
                print_error("store_open: %s\n", err.msg);
                return -1;
        }
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        fixture *f = *state;
        store_free(f->s);
        (void)rm_rf(f->root);
        (void)rm_rf(f->src);
        free(f);
        return 0;
}

/* ---- paths ------------------------------------------------------------ */

static void test_paths_root(void **state)
{
        fixture *f = *state;
        corral_paths p = {0};
        corral_error err = {0};

        assert_int_equal(paths_init(&p, f->root, &err), 0);
        assert_int_equal(p.mode, PATHS_ROOT);
        char *want = xasprintf("%s/etc/corral.json", f->root);
        assert_string_equal(p.config, want);
        free(want);
        want = xasprintf("%s/run/mcp.sock", f->root);
        assert_string_equal(p.gateway_sock, want);
        free(want);
        want = xasprintf("%s/run/control.sock", f->root);
        assert_string_equal(p.control_sock, want);
        free(want);
        char *x = paths_manifest(&p, "memory");
        want = xasprintf("%s/servers/memory/manifest.json", f->root);
        assert_string_equal(x, want);
        free(x);
        free(want);
        x = paths_log_file(&p, "memory");
        want = xasprintf("%s/log/memory.log", f->root);
        assert_string_equal(x, want);
        free(x);
        free(want);
        x = paths_pkg_dir(&p, "memory");
        want = xasprintf("%s/servers/memory/pkg", f->root);
        assert_string_equal(x, want);
        free(x);
        free(want);
        x = paths_data_dir(&p, "memory");
        want = xasprintf("%s/data/memory", f->root);
        assert_string_equal(x, want);
        free(x);
        free(want);
        paths_done(&p);

        /* relative roots become absolute, lexically normalised */
        char *cwd = getcwd(NULL, 0);
        assert_int_equal(chdir(f->root), 0);
        assert_int_equal(paths_init(&p, "./a/../b//c/.", &err), 0);
        want = xasprintf("%s/b/c/servers", f->root);
        assert_string_equal(p.servers, want);
        free(want);
        paths_done(&p);
        assert_int_equal(chdir(cwd), 0);
        free(cwd);

        /* $CORRAL_ROOT, below --root in precedence */
        setenv("CORRAL_ROOT", "/tmp/from-env", 1);
        assert_int_equal(paths_init(&p, NULL, &err), 0);
        assert_string_equal(p.servers, "/tmp/from-env/servers");
        paths_done(&p);
        assert_int_equal(paths_init(&p, f->root, &err), 0);
        assert_int_equal(strncmp(p.servers, f->root, strlen(f->root)), 0);
        paths_done(&p);
        unsetenv("CORRAL_ROOT");

        /* a socket path over sun_path's 108 bytes fails up front */
        char longroot[200];
        memset(longroot, 'x', sizeof(longroot));
        longroot[0] = '/';
        longroot[110] = '\0';
        assert_int_equal(paths_init(&p, longroot, &err), -EX_CONFIG);
        assert_non_null(strstr(err.msg, "too long"));
        assert_null(p.servers);
        corral_error_clear(&err);
        assert_int_equal(paths_init(&p, "", &err), -EX_CONFIG);
        corral_error_clear(&err);
        assert_int_equal(paths_init(&p, "/", &err), -EX_CONFIG);

        /* layout created by store_open */
        const char *dirs[] = {"servers", "data", "staging", "cache", "log", "run"};
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                char *d = path_join(f->root, dirs[i]);
                assert_true(dir_exists(d));
                free(d);
        }
        char *run = path_join(f->root, "run");
        struct stat st;
        assert_int_equal(stat(run, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        free(run);
}

/* Both halves run whatever the euid: paths_init_mode picks the layout, and
 * paths_init is checked to pick the one its euid calls for. */
static void test_paths_user_system(void **state)
{
        fixture *f = *state;
        corral_paths p = {0};
        corral_error err = {0};
        unsetenv("CORRAL_ROOT");

        assert_int_equal(paths_init_mode(&p, PATHS_SYSTEM, NULL, &err), 0);
        assert_int_equal(p.mode, PATHS_SYSTEM);
        assert_string_equal(p.config, "/etc/corral/corral.json");
        assert_string_equal(p.servers, "/var/lib/corral/servers");
        assert_string_equal(p.data, "/var/lib/corral/data");
        assert_string_equal(p.staging, "/var/lib/corral/staging");
        assert_string_equal(p.cache, "/var/cache/corral");
        assert_string_equal(p.log, "/var/log/corral");
        assert_string_equal(p.control_sock, "/run/corral/control.sock");
        assert_string_equal(p.gateway_sock, "/run/corral/mcp.sock");
        paths_done(&p);

        setenv("HOME", "/home/u", 1);
        setenv("XDG_DATA_HOME", "/xd", 1);
        setenv("XDG_CONFIG_HOME", "relative/ignored", 1);
        unsetenv("XDG_CACHE_HOME");
        unsetenv("XDG_STATE_HOME");
        setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
        assert_int_equal(paths_init_mode(&p, PATHS_USER, NULL, &err), 0);
        assert_int_equal(p.mode, PATHS_USER);
        assert_string_equal(p.config, "/home/u/.config/corral/corral.json");
        assert_string_equal(p.servers, "/xd/corral/servers");
        assert_string_equal(p.data, "/xd/corral/data");
        assert_string_equal(p.staging, "/xd/corral/staging");
        assert_string_equal(p.cache, "/home/u/.cache/corral");
        assert_string_equal(p.log, "/home/u/.local/state/corral/log");
        assert_string_equal(p.control_sock, "/run/user/1000/corral/control.sock");
        assert_string_equal(p.gateway_sock, "/run/user/1000/corral/mcp.sock");
        paths_done(&p);
        unsetenv("XDG_RUNTIME_DIR");
        assert_int_equal(paths_init_mode(&p, PATHS_USER, NULL, &err), 0);
        assert_string_equal(p.run, "/home/u/.local/state/corral/run");
        paths_done(&p);

        /* Every XDG variable set: each one is used; a relative HOME falls
         * back to the passwd entry's directory. */
        setenv("XDG_CONFIG_HOME", "/xc", 1);
        setenv("XDG_CACHE_HOME", "/xk", 1);
        setenv("XDG_STATE_HOME", "/xs", 1);
        assert_int_equal(paths_init_mode(&p, PATHS_USER, NULL, &err), 0);
        assert_string_equal(p.config, "/xc/corral/corral.json");
        assert_string_equal(p.cache, "/xk/corral");
        assert_string_equal(p.log, "/xs/corral/log");
        assert_string_equal(p.run, "/xs/corral/run");
        paths_done(&p);
        unsetenv("XDG_DATA_HOME");
        setenv("HOME", "relative", 1);
        assert_int_equal(paths_init_mode(&p, PATHS_USER, NULL, &err), 0);
        assert_true(p.servers[0] == '/');
        assert_null(strstr(p.servers, "relative"));
        paths_done(&p);

        /* The user layout is created with a private run/ (the control socket
         * grants full control over the store). */
        {
                char *home = path_join(f->root, "home");
                char *run = NULL;
                struct stat st;

                setenv("HOME", home, 1);
                unsetenv("XDG_CONFIG_HOME");
                unsetenv("XDG_CACHE_HOME");
                unsetenv("XDG_STATE_HOME");
                assert_int_equal(paths_init_mode(&p, PATHS_USER, NULL, &err), 0);
                assert_int_equal(paths_ensure(&p, &err), 0);
                run = path_join(home, ".local/state/corral/run");
                assert_string_equal(p.run, run);
                assert_int_equal(stat(run, &st), 0);
                assert_int_equal(st.st_mode & 0777, 0700);
                assert_int_equal(stat(p.servers, &st), 0);
                assert_true(S_ISDIR(st.st_mode));
                paths_done(&p);
                free(run);
                free(home);
        }

        /* PATHS_ROOT needs a root; an unknown mode is refused. */
        assert_int_equal(paths_init_mode(&p, PATHS_ROOT, NULL, &err), -EX_CONFIG);
        assert_int_equal(paths_init_mode(&p, (paths_mode)42, NULL, &err), -EX_CONFIG);
        assert_int_equal(paths_init_mode(&p, PATHS_ROOT, f->root, &err), 0);
        assert_int_equal(p.mode, PATHS_ROOT);
        paths_done(&p);

        /* paths_init picks the mode by euid. */
        assert_int_equal(paths_init(&p, NULL, &err), 0);
        assert_int_equal(p.mode, geteuid() == 0 ? PATHS_SYSTEM : PATHS_USER);
        paths_done(&p);
}

/* ---- store ------------------------------------------------------------ */

static manifest *simple_manifest(const char *name, const char *arg)
{
        manifest *m = manifest_new(name);
        free(m->spec);
        m->spec = xstrdup("./x");
        m->command = strv_push(m->command, "node");
        m->command = strv_push(m->command, arg);
        return m;
}

/* Stages NAME with pkg/marker containing text and commits it. */
static int commit_one(store *s, const char *name, const char *text, bool replace, corral_error *err)
{
        char *dir = NULL;
        int r = store_stage(s, name, &dir, err);
        if (r < 0)
                return r;
        char *pkg = path_join(dir, "pkg");
        assert_int_equal(mkdir(pkg, 0700), 0);
        write_text(pkg, "marker", text, 0600);
        write_text(pkg, "bin/run", "#!/bin/sh\n", 0700);
        manifest *m = simple_manifest(name, text);
        r = store_commit(s, dir, m, replace, err);
        if (r < 0)
                store_abort(s, dir);
        manifest_free(m);
        free(pkg);
        free(dir);
        return r;
}

static char *read_marker(fixture *f, const char *name)
{
        char *path = xasprintf("%s/servers/%s/pkg/marker", f->root, name);
        char *data = NULL;
        if (read_file(path, 1024, &data, NULL) < 0)
                data = NULL;
        free(path);
        return data;
}

static void test_commit_load_list(void **state)
{
        fixture *f = *state;
        corral_error err = {0};

        assert_int_equal(commit_one(f->s, "beta", "b1", false, &err), 0);
        assert_int_equal(commit_one(f->s, "alpha", "a1", false, &err), 0);
        char *staging = path_join(f->root, "staging");
        assert_int_equal(count_entries(staging), 0);

        /* modes: pkg read-only to the server, exec bit kept; data dir made */
        struct stat st;
        char *p = xasprintf("%s/servers/alpha/pkg/marker", f->root);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        free(p);
        p = xasprintf("%s/servers/alpha/pkg/bin/run", f->root);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        free(p);
        p = xasprintf("%s/servers/alpha", f->root);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        free(p);
        p = xasprintf("%s/servers/alpha/pkg", f->root);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        free(p);
        p = xasprintf("%s/servers/alpha/.lock", f->root);
        assert_false(path_exists(p)); /* the staging lock does not travel */
        free(p);
        p = xasprintf("%s/data/alpha", f->root);
        assert_true(dir_exists(p));
        free(p);

        manifest *m = NULL;
        assert_int_equal(store_load(f->s, "alpha", &m, &err), 0);
        assert_string_equal(m->name, "alpha");
        assert_string_equal(m->command[1], "a1");
        manifest_free(m);

        /* stray entries are not servers */
        p = xasprintf("%s/servers/.hidden", f->root);
        assert_int_equal(mkdir(p, 0755), 0);
        free(p);
        p = xasprintf("%s/servers/Not_A_Name", f->root);
        assert_int_equal(mkdir(p, 0755), 0);
        free(p);
        write_text(f->root, "servers/afile", "x", 0644);

        char **names = NULL;
        assert_int_equal(store_list(f->s, &names, &err), 0);
        assert_int_equal(strv_length(names), 2);
        assert_string_equal(names[0], "alpha");
        assert_string_equal(names[1], "beta");
        strv_free(names);
        free(staging);
}

static void test_duplicate_and_replace(void **state)
{
        fixture *f = *state;
        corral_error err = {0};

        assert_int_equal(commit_one(f->s, "srv", "v1", false, &err), 0);
        assert_int_equal(commit_one(f->s, "srv", "v2", false, &err), -EX_CANTCREAT);
        assert_non_null(strstr(err.msg, "already installed"));
        char *marker = read_marker(f, "srv");
        assert_string_equal(marker, "v1");
        free(marker);

        corral_error_clear(&err);
        assert_int_equal(commit_one(f->s, "srv", "v2", true, &err), 0);
        marker = read_marker(f, "srv");
        assert_string_equal(marker, "v2");
        free(marker);
        manifest *m = NULL;
        assert_int_equal(store_load(f->s, "srv", &m, &err), 0);
        assert_string_equal(m->command[1], "v2");
        manifest_free(m);

        /* replace of a server that is not there is a plain install */
        assert_int_equal(commit_one(f->s, "fresh", "f1", true, &err), 0);

        char *staging = path_join(f->root, "staging");
        assert_int_equal(count_entries(staging), 0);
        free(staging);
}

static void test_remove_enable(void **state)
{
        fixture *f = *state;
        corral_error err = {0};
        manifest *m = NULL;

        assert_int_equal(commit_one(f->s, "one", "x", false, &err), 0);
        assert_int_equal(store_set_enabled(f->s, "one", false, &err), 0);
        assert_int_equal(store_load(f->s, "one", &m, &err), 0);
        assert_false(m->enabled);
        manifest_free(m);
        assert_int_equal(store_set_enabled(f->s, "one", false, &err), 0); /* idempotent */
        assert_int_equal(store_set_enabled(f->s, "one", true, &err), 0);
        assert_int_equal(store_load(f->s, "one", &m, &err), 0);
        assert_true(m->enabled);
        manifest_free(m);
        assert_int_equal(store_set_enabled(f->s, "nope", true, &err), -EX_NOINPUT);

        /* data is kept unless purge */
        write_text(f->root, "data/one/state.json", "{}", 0644);
        corral_error_clear(&err);
        assert_int_equal(store_remove(f->s, "one", false, &err), 0);
        char *p = xasprintf("%s/servers/one", f->root);
        assert_false(path_exists(p));
        free(p);
        p = xasprintf("%s/data/one/state.json", f->root);
        assert_true(path_exists(p));
        free(p);
        assert_int_equal(store_remove(f->s, "one", false, &err), -EX_NOINPUT);
        assert_non_null(strstr(err.msg, "no such server 'one'"));

        corral_error_clear(&err);
        assert_int_equal(commit_one(f->s, "one", "y", false, &err), 0);
        assert_int_equal(store_remove(f->s, "one", true, &err), 0);
        p = xasprintf("%s/data/one", f->root);
        assert_false(path_exists(p));
        free(p);
        char *staging = path_join(f->root, "staging");
        assert_int_equal(count_entries(staging), 0);
        free(staging);

        corral_error_clear(&err);
        assert_int_equal(store_remove(f->s, "../etc", false, &err), -EX_USAGE);
}

static void test_load_errors(void **state)
{
        fixture *f = *state;
        corral_error err = {0};
        manifest *m = NULL;

        assert_int_equal(store_load(f->s, "missing", &m, &err), -EX_NOINPUT);
        assert_string_equal(err.msg, "no such server 'missing'");
        corral_error_clear(&err);
        assert_int_equal(store_load(f->s, "Bad/Name", &m, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "invalid server name"));

        write_text(f->root, "servers/broken/manifest.json", "{not json", 0644);
        corral_error_clear(&err);
        assert_int_equal(store_load(f->s, "broken", &m, &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, "server 'broken'"));

        char *p = xasprintf("%s/servers/empty", f->root);
        assert_int_equal(mkdir(p, 0755), 0);
        free(p);
        corral_error_clear(&err);
        assert_int_equal(store_load(f->s, "empty", &m, &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, "missing"));

        /* a manifest copied under another name */
        assert_int_equal(commit_one(f->s, "orig", "x", false, &err), 0);
        char *from = xasprintf("%s/servers/orig/manifest.json", f->root);
        char *data = NULL;
        size_t len = 0;
        assert_int_equal(read_file(from, 1 << 20, &data, &len), 0);
        write_text(f->root, "servers/copy/manifest.json", data, 0644);
        free(data);
        free(from);
        corral_error_clear(&err);
        assert_int_equal(store_load(f->s, "copy", &m, &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, "does not match"));

        /* list still names them all; loading is the caller's business */
        char **names = NULL;
        assert_int_equal(store_list(f->s, &names, &err), 0);
        assert_int_equal(strv_length(names), 4);
        strv_free(names);

        /* staging outside the store is refused */
        m = simple_manifest("zzz", "x");
        corral_error_clear(&err);
        assert_int_equal(store_commit(f->s, "/tmp", m, false, &err), -EX_SOFTWARE);
        manifest_free(m);
        char *dir = NULL;
        corral_error_clear(&err);
        assert_int_equal(store_stage(f->s, "a__b", &dir, &err), -EX_USAGE);
        assert_null(dir);
}

static void test_leftovers(void **state)
{
        fixture *f = *state;
        corral_error err = {0};
        char *staging = path_join(f->root, "staging");

        /* a dead install: no lock file at all, or a lock nobody holds */
        write_text(staging, "dead.aaaaaa/pkg/file", "x", 0644);
        write_text(staging, "dead2.bbbbbb/.lock", "", 0600);
        write_text(staging, "dead2.bbbbbb/pkg/ro/file", "x", 0444);
        char *ro = path_join(staging, "dead2.bbbbbb/pkg/ro");
        assert_int_equal(chmod(ro, 0555), 0);
        free(ro);

        /* a live one, in this process (another store instance) */
        char *live = NULL;
        assert_int_equal(store_stage(f->s, "live", &live, &err), 0);

        store *other = NULL;
        assert_int_equal(store_open(&other, f->root, &err), 0);
        assert_int_equal(count_entries(staging), 1);
        assert_true(dir_exists(live));

        /* a live one in another process, then SIGKILLed */
        int pipefd[2];
        assert_int_equal(pipe(pipefd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                store *cs = NULL;
                corral_error ce = {0};
                char *d = NULL;
                if (store_open(&cs, f->root, &ce) < 0 || store_stage(cs, "child", &d, &ce) < 0)
                        _exit(1);
                (void)!write(pipefd[1], "k", 1);
                pause();
                _exit(0);
        }
        close(pipefd[1]);
        char c;
        assert_int_equal(read(pipefd[0], &c, 1), 1);
        close(pipefd[0]);
        store *third = NULL;
        assert_int_equal(store_open(&third, f->root, &err), 0);
        assert_int_equal(count_entries(staging), 2); /* live + child's */
        store_free(third);

        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_int_equal(store_open(&third, f->root, &err), 0);
        assert_int_equal(count_entries(staging), 1); /* only ours */
        store_free(third);

        /* while another writer holds the store lock, nothing is touched */
        write_text(staging, "dead3.cccccc/x", "x", 0644);
        assert_int_equal(store_lock(f->s, &err), 0);
        assert_int_equal(store_lock(f->s, &err), 0); /* nests */
        assert_int_equal(store_open(&third, f->root, &err), 0);
        store_free(third);
        assert_int_equal(count_entries(staging), 2);
        store_unlock(f->s);
        store_unlock(f->s);
        store_unlock(f->s); /* extra unlock is harmless */
        assert_int_equal(store_open(&third, f->root, &err), 0);
        store_free(third);
        assert_int_equal(count_entries(staging), 1);

        /* staging dirs never committed are removed with their store */
        store_free(f->s);
        f->s = other;
        assert_false(dir_exists(live));
        assert_int_equal(count_entries(staging), 0);
        free(live);
        free(staging);
}

/* ---- resolver --------------------------------------------------------- */

static int install(fixture *f, const char *spec, const char *name, char **command, char **env,
                   bool force, manifest **ret, corral_error *err)
{
        install_options o = {
                .spec = spec, .name = name, .command = command, .env = env, .force = force};
        return resolver_install(f->s, &o, ret, err);
}

static void assert_store_clean(fixture *f, size_t n_servers)
{
        char *staging = path_join(f->root, "staging");
        assert_int_equal(count_entries(staging), 0);
        free(staging);
        char **names = NULL;
        corral_error err = {0};
        assert_int_equal(store_list(f->s, &names, &err), 0);
        assert_int_equal(strv_length(names), n_servers);
        strv_free(names);
}

static void test_local_bin(void **state)
{
        fixture *f = *state;
        corral_error err = {0};
        manifest *m = NULL;

        char *d = src_dir(f, "mcp-server-notes");
        write_text(d, "package.json",
                   "{\"name\":\"@me/notes\",\"version\":\"1.2.3\",\"bin\":\"./dist//index.js\"}",
                   0644);
        write_text(d, "dist/index.js", "console.log(1)\n", 0644);
        assert_int_equal(install(f, d, NULL, NULL, NULL, false, &m, &err), 0);
        assert_string_equal(m->name, "notes");
        assert_string_equal(m->kind, "local");
        assert_string_equal(m->resolved_url, d);
        assert_string_equal(m->resolved_version, "1.2.3");
        assert_string_equal(m->command[0], "node");
        assert_string_equal(m->command[1], "dist/index.js");
        assert_null(m->command[2]);
        assert_string_equal(m->cwd, "pkg");
        manifest_free(m);
        char *p = xasprintf("%s/servers/notes/pkg/dist/index.js", f->root);
        assert_true(path_exists(p));
        free(p);

        /* same name again: refused, then --force replaces */
        corral_error_clear(&err);
        assert_int_equal(install(f, d, NULL, NULL, NULL, false, NULL, &err), -EX_CANTCREAT);
        assert_non_null(strstr(err.msg, "already installed"));
        write_text(d, "package.json",
                   "{\"name\":\"@me/notes\",\"version\":\"1.2.4\",\"bin\":\"dist/index.js\"}",
                   0644);
        corral_error_clear(&err);
        assert_int_equal(install(f, d, NULL, NULL, NULL, true, &m, &err), 0);
        assert_string_equal(m->resolved_version, "1.2.4");
        manifest_free(m);
        assert_int_equal(store_load(f->s, "notes", &m, &err), 0);
        assert_string_equal(m->resolved_version, "1.2.4");
        manifest_free(m);

        /* bin object: the entry named after the package wins */
        char *d2 = src_dir(f, "multi");
        write_text(d2, "package.json",
                   "{\"name\":\"@x/multi\",\"bin\":{\"helper\":\"h.js\",\"multi\":\"m.js\"}}",
                   0644);
        write_text(d2, "m.js", "", 0644);
        write_text(d2, "h.js", "", 0644);
        assert_int_equal(install(f, d2, "m2", NULL, NULL, false, &m, &err), 0);
        assert_string_equal(m->command[1], "m.js");
        manifest_free(m);
        /* ...and several, none matching, are ambiguous */
        write_text(d2, "package.json",
                   "{\"name\":\"other\",\"bin\":{\"a\":\"h.js\",\"b\":\"m.js\"}}", 0644);
        corral_error_clear(&err);
        assert_int_equal(install(f, d2, "m3", NULL, NULL, false, NULL, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "-- CMD ARGS"));
        assert_non_null(strstr(err.msg, "a, b"));

        /* a bin escaping the package, a missing bin */
        write_text(d2, "package.json", "{\"bin\":\"../../etc/passwd\"}", 0644);
        corral_error_clear(&err);
        assert_int_equal(install(f, d2, "m4", NULL, NULL, false, NULL, &err), -EX_DATAERR);
        write_text(d2, "package.json", "{\"bin\":\"nothere.js\"}", 0644);
        corral_error_clear(&err);
        assert_int_equal(install(f, d2, "m5", NULL, NULL, false, NULL, &err), -EX_DATAERR);
        write_text(d2, "package.json", "{\"bin\":", 0644);
        corral_error_clear(&err);
        assert_int_equal(install(f, d2, "m6", NULL, NULL, false, NULL, &err), -EX_DATAERR);

        assert_store_clean(f, 2);
        free(d);
        free(d2);
}

static void test_local_dependency(void **state)
{
        fixture *f = *state;
        corral_error err = {0};
        manifest *m = NULL;

        /* what `npm install @modelcontextprotocol/server-everything` leaves */
        char *d = src_dir(f, "everything");
        write_text(
                d, "package.json",
                "{\"dependencies\":{\"@modelcontextprotocol/server-everything\":\"^2026.8.31\"}}",
                0644);
        write_text(
                d, "node_modules/@modelcontextprotocol/server-everything/package.json",
                "{\"name\":\"@modelcontextprotocol/server-everything\",\"version\":\"2026.8.31\","
                "\"bin\":{\"mcp-server-everything\":\"dist/index.js\"}}",
                0644);
        write_text(d, "node_modules/@modelcontextprotocol/server-everything/dist/index.js", "",
                   0755);
        write_text(d, "node_modules/zod/package.json", "{\"name\":\"zod\",\"version\":\"3.0.0\"}",
                   0644);
        char *link = path_join(d, "node_modules/.bin");
        assert_int_equal(mkdir(link, 0755), 0);
        char *l2 = path_join(link, "mcp-server-everything");
        assert_int_equal(symlink("../@modelcontextprotocol/server-everything/dist/index.js", l2),
                         0);
        free(l2);
        free(link);

        assert_int_equal(install(f, d, NULL, NULL, NULL, false, &m, &err), 0);
        assert_string_equal(m->name, "everything");
        assert_string_equal(m->command[0], "node");
        assert_string_equal(m->command[1],
                            "node_modules/@modelcontextprotocol/server-everything/dist/index.js");
        assert_string_equal(m->resolved_version, "2026.8.31");
        manifest_free(m);
        /* symlinks are copied as symlinks */
        char *p = xasprintf("%s/servers/everything/pkg/node_modules/.bin/mcp-server-everything",
                            f->root);
        struct stat st;
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        free(p);

        /* a second dependency with a bin makes it ambiguous */
        write_text(d, "package.json",
                   "{\"dependencies\":{\"@modelcontextprotocol/server-everything\":\"*\","
                   "\"other\":\"*\"}}",
                   0644);
        write_text(d, "node_modules/other/package.json", "{\"name\":\"other\",\"bin\":\"o.js\"}",
                   0644);
        corral_error_clear(&err);
        assert_int_equal(install(f, d, "e2", NULL, NULL, false, NULL, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "several dependencies"));

        /* dependencies not installed */
        char *d2 = src_dir(f, "noinst");
        write_text(d2, "package.json", "{\"dependencies\":{\"a\":\"1\"}}", 0644);
        corral_error_clear(&err);
        assert_int_equal(install(f, d2, NULL, NULL, NULL, false, NULL, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "npm install"));
        /* no package.json at all */
        char *d3 = src_dir(f, "plain");
        write_text(d3, "server.py", "print()\n", 0644);
        corral_error_clear(&err);
        assert_int_equal(install(f, d3, NULL, NULL, NULL, false, NULL, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "no package.json"));

        /* ...but any directory works with an explicit command and env */
        char *cmd[] = {"python3", "server.py", "--flag", NULL};
        char *env[] = {"API_URL=http://x/?a=b", "EMPTY=", NULL};
        corral_error_clear(&err);
        assert_int_equal(install(f, d3, NULL, cmd, env, false, &m, &err), 0);
        assert_string_equal(m->name, "plain");
        assert_int_equal(strv_length(m->command), 3);
        assert_string_equal(m->command[2], "--flag");
        assert_int_equal(m->n_env, 2);
        assert_string_equal(m->env[0].key, "API_URL");
        assert_string_equal(m->env[0].value, "http://x/?a=b");
        assert_string_equal(m->env[1].value, "");
        assert_null(m->resolved_version);
        manifest_free(m);
        assert_int_equal(store_load(f->s, "plain", &m, &err), 0);
        assert_int_equal(m->n_env, 2);
        manifest_free(m);

        assert_store_clean(f, 2);
        free(d);
        free(d2);
        free(d3);
}

static int refuse(manifest *m, void *userdata, corral_error *err)
{
        (*(int *)userdata)++;
        assert_string_equal(m->command[0], "true");
        return corral_error_set(err, EX_NOPERM, "no");
}

static void test_resolver_errors(void **state)
{
        fixture *f = *state;
        corral_error err = {0};
        char *cmd[] = {"true", NULL};

        static const struct {
                const char *spec;
                const char *msg;
        } unavailable[] = {
                /* npm and docker have resolvers; their errors are covered by
                 * the integration tests against a registry stand-in and an
                 * engine. */
                /* smithery: and registry: ask their registries: nothing
                 * listens on port 1. */
                {"smithery:exa", "Smithery registry"},
                {"registry:io.github.x/y", "127.0.0.1:1"},
                /* git has its resolver (tests/integration/git.test.mjs); ssh
                 * URLs are refused before any network. */
                {"git@github.com:a/b.git", "git over ssh"},
        };
        setenv("CORRAL_MCP_REGISTRY", "http://127.0.0.1:1", 1);
        setenv("CORRAL_SMITHERY_REGISTRY", "http://127.0.0.1:1", 1);
        for (size_t i = 0; i < ARRAY_SIZE(unavailable); i++) {
                corral_error_clear(&err);
                assert_int_equal(
                        install(f, unavailable[i].spec, NULL, NULL, NULL, false, NULL, &err),
                        -EX_UNAVAILABLE);
                assert_non_null(strstr(err.msg, unavailable[i].msg));
        }
        unsetenv("CORRAL_MCP_REGISTRY");
        unsetenv("CORRAL_SMITHERY_REGISTRY");
        /* A remote server is probed at install: nothing listens on port 1. */
        install_options ro = {.spec = "http://127.0.0.1:1/mcp", .remote = true};
        corral_error_clear(&err);
        assert_int_equal(resolver_install(f->s, &ro, NULL, &err), -EX_UNAVAILABLE);
        assert_non_null(strstr(err.msg, "cannot reach"));
        /* Plain http:// beyond loopback is refused before any request. */
        install_options rp = {.spec = "http://example.com/mcp", .remote = true};
        corral_error_clear(&err);
        assert_int_equal(resolver_install(f->s, &rp, NULL, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "--insecure-http"));

        corral_error_clear(&err);
        assert_int_equal(install(f, "foo:bar", NULL, NULL, NULL, false, NULL, &err), -EX_USAGE);
        corral_error_clear(&err);
        assert_int_equal(install(f, "https://example.com/mcp", NULL, NULL, NULL, false, NULL, &err),
                         -EX_USAGE);
        assert_non_null(strstr(err.msg, "--remote"));

        char *d = src_dir(f, "ok");
        write_text(d, "x", "", 0644);
        corral_error_clear(&err);
        assert_int_equal(install(f, d, "Bad_Name", cmd, NULL, false, NULL, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "invalid server name"));
        corral_error_clear(&err);
        assert_int_equal(install(f, d, "a__b", cmd, NULL, false, NULL, &err), -EX_USAGE);

        char *bad_env[][3] = {
                {"NOEQUALS", NULL, NULL}, {"=v", NULL, NULL},   {"1A=v", NULL, NULL},
                {"A-B=v", NULL, NULL},    {"A=1", "A=2", NULL},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad_env); i++) {
                corral_error_clear(&err);
                assert_int_equal(install(f, d, NULL, cmd, bad_env[i], false, NULL, &err),
                                 -EX_USAGE);
        }
        char *empty_cmd[] = {"", NULL};
        corral_error_clear(&err);
        assert_int_equal(install(f, d, NULL, empty_cmd, NULL, false, NULL, &err), -EX_USAGE);

        install_options so = {.spec = d, .command = cmd, .sandbox = "loose"};
        corral_error_clear(&err);
        assert_int_equal(resolver_install(f->s, &so, NULL, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "sandbox"));
        so.sandbox = "none";
        manifest *m = NULL;
        corral_error_clear(&err);
        assert_int_equal(resolver_install(f->s, &so, &m, &err), 0);
        assert_string_equal(m->profile, "none");
        manifest_free(m);

        /* not there, not a directory */
        char *missing = path_join(f->src, "missing");
        corral_error_clear(&err);
        assert_int_equal(install(f, missing, NULL, cmd, NULL, false, NULL, &err), -EX_NOINPUT);
        assert_non_null(strstr(err.msg, "no such directory"));
        free(missing);
        char *file = path_join(d, "x");
        corral_error_clear(&err);
        assert_int_equal(install(f, file, "file", cmd, NULL, false, NULL, &err), -EX_NOINPUT);
        free(file);

        /* a fifo inside is refused before anything is copied */
        char *d2 = src_dir(f, "withfifo");
        char *fifo = path_join(d2, "pipe");
        assert_int_equal(mkfifo(fifo, 0644), 0);
        corral_error_clear(&err);
        assert_int_equal(install(f, d2, NULL, cmd, NULL, false, NULL, &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, "fifo"));
        free(fifo);

        /* a tree holding the store itself */
        char *inside = path_join(f->root, "servers");
        corral_error_clear(&err);
        assert_int_equal(install(f, f->root, "self", cmd, NULL, false, NULL, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "contains the corral store"));
        free(inside);

        /* the confirmation callback sees the manifest and can refuse */
        int calls = 0;
        install_options co = {.spec = d,
                              .name = "confirmed",
                              .command = cmd,
                              .confirm = refuse,
                              .confirm_userdata = &calls};
        corral_error_clear(&err);
        assert_int_equal(resolver_install(f->s, &co, NULL, &err), -EX_NOPERM);
        assert_int_equal(calls, 1);

        /* "." takes the name of the current directory */
        char *cwd = getcwd(NULL, 0);
        assert_int_equal(chdir(d), 0);
        corral_error_clear(&err);
        assert_int_equal(install(f, ".", NULL, cmd, NULL, true, &m, &err), 0);
        assert_string_equal(m->name, "ok");
        manifest_free(m);
        assert_int_equal(chdir(cwd), 0);
        free(cwd);

        assert_store_clean(f, 1); /* "ok": --sandbox none, then replaced through "." */
        free(d);
        free(d2);
}

int main(void)
{
        unsetenv("CORRAL_ROOT");
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_paths_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_paths_user_system, setup, teardown),
                cmocka_unit_test_setup_teardown(test_commit_load_list, setup, teardown),
                cmocka_unit_test_setup_teardown(test_duplicate_and_replace, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove_enable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_leftovers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_local_bin, setup, teardown),
                cmocka_unit_test_setup_teardown(test_local_dependency, setup, teardown),
                cmocka_unit_test_setup_teardown(test_resolver_errors, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
