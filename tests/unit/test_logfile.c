/* Per-server log files: appending, notes, size rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "corral/fs.h"
#include "corral/logfile.h"
#include "corral/macro.h"

static char *make_tmpdir(void)
{
        char tmpl[] = "/tmp/corral-test-logfile-XXXXXX";

        assert_non_null(mkdtemp(tmpl));
        return xstrdup(tmpl);
}

static char *slurp(const char *path)
{
        char *data = NULL;
        size_t len = 0;

        if (read_file(path, 1 << 20, &data, &len) < 0)
                return NULL;
        return data;
}

static void test_append_and_mode(void **state)
{
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_join(dir, "a.log");
        _cleanup_free_ char *data = NULL;
        struct stat st;
        logfile *lf;

        lf = logfile_open(path, 0, 0);
        assert_non_null(lf);
        logfile_write(lf, "one\n", 4);
        lf = logfile_close(lf);
        assert_null(lf);
        /* Reopening appends rather than truncating. */
        lf = logfile_open(path, 0, 0);
        logfile_write(lf, "two\n", 4);
        lf = logfile_close(lf);
        data = slurp(path);
        assert_string_equal(data, "one\ntwo\n");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0137, 0); /* at most 0640: logs may hold secrets */
        assert_int_equal(rm_rf(dir), 0);
}

static void test_note_is_one_line(void **state)
{
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_join(dir, "n.log");
        _cleanup_free_ char *data = NULL;
        logfile *lf = logfile_open(path, 0, 0);

        logfile_note(lf, "exited with status %d; %s", 1, "bad\nline");
        lf = logfile_close(lf);
        data = slurp(path);
        assert_non_null(data);
        /* "YYYY-MM-DDTHH:MM:SS.mmmZ corral: …\n" */
        assert_int_equal(data[4], '-');
        assert_int_equal(data[10], 'T');
        assert_int_equal(data[23], 'Z');
        assert_non_null(strstr(data, " corral: exited with status 1; bad?line\n"));
        assert_int_equal(strchr(data, '\n') - data, (ptrdiff_t)strlen(data) - 1);
        assert_int_equal(rm_rf(dir), 0);
}

static void test_rotation_keeps_n(void **state)
{
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_join(dir, "r.log");
        logfile *lf = logfile_open(path, 10, 2);
        static const struct {
                const char *suffix;
                const char *want; /* NULL: must not exist */
        } expect[] = {
                {"", "EEEEEEEE"},
                {".1", "DDDDDDDD"},
                {".2", "CCCCCCCC"},
                {".3", NULL},
        };

        assert_non_null(lf);
        /* 8 bytes each: every second write would pass 10 bytes, so each write
         * after the first starts a new file. */
        for (char c = 'A'; c <= 'E'; c++) {
                char buf[8];
                memset(buf, c, sizeof(buf));
                logfile_write(lf, buf, sizeof(buf));
        }
        lf = logfile_close(lf);
        for (size_t i = 0; i < ARRAY_SIZE(expect); i++) {
                _cleanup_free_ char *p = xasprintf("%s%s", path, expect[i].suffix);
                _cleanup_free_ char *data = slurp(p);

                if (expect[i].want)
                        assert_string_equal(data, expect[i].want);
                else
                        assert_false(path_exists(p));
        }
        assert_int_equal(rm_rf(dir), 0);
}

static void test_small_writes_fill_before_rotating(void **state)
{
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_join(dir, "s.log");
        _cleanup_free_ char *p1 = xasprintf("%s.1", path);
        _cleanup_free_ char *cur = NULL, *old = NULL;
        logfile *lf = logfile_open(path, 6, 0);

        for (int i = 0; i < 4; i++)
                logfile_write(lf, "ab\n", 3);
        lf = logfile_close(lf);
        cur = slurp(path);
        old = slurp(p1);
        assert_string_equal(old, "ab\nab\n");
        assert_string_equal(cur, "ab\nab\n");
        assert_int_equal(rm_rf(dir), 0);
}

static void test_null_is_harmless(void **state)
{
        logfile_write(NULL, "x", 1);
        logfile_note(NULL, "x");
        assert_null(logfile_close(NULL));
        assert_null(logfile_open("/nonexistent-dir/x.log", 0, 0));
}

/* Writes that fail (here past RLIMIT_FSIZE: EFBIG, as ENOSPC would) are
 * counted by line; the next write that works is preceded by one notice on
 * a line of its own, and the count stays readable. */
static void test_dropped_lines_counted(void **state)
{
        (void)state;
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_join(dir, "s.log");
        logfile *lf = logfile_open(path, 0, 0);
        struct rlimit old, lim;

        assert_non_null(lf);
        logfile_write(lf, "one\n", 4);
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
        signal(SIGXFSZ, SIG_IGN);
        lim = old;
        lim.rlim_cur = 6; /* "one\ntw" fits, the rest does not */
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        logfile_write(lf, "two\nthree\n", 10); /* torn: "tw" in, "o\n" + "three\n" lost */
        logfile_write(lf, "four\nfive", 9);    /* two lines lost (a fragment counts) */
        assert_int_equal(logfile_dropped(lf), 4);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
        logfile_write(lf, "six\n", 4);
        assert_int_equal(logfile_dropped(lf), 4);
        logfile_write(lf, "seven\n", 6); /* no second notice (checked below) */
        lf = logfile_close(lf);
        signal(SIGXFSZ, SIG_DFL);

        _cleanup_free_ char *text = slurp(path);
        assert_non_null(text);
        char *notice = strstr(text, " corral: 4 log lines dropped (File too large)\n");
        assert_non_null(notice);
        assert_true(strncmp(text, "one\ntw\n2", 8) == 0); /* the notice on its own line */
        assert_string_equal(notice + strlen(" corral: 4 log lines dropped (File too large)\n"),
                            "six\nseven\n");
        (void)rm_rf(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_append_and_mode),
                cmocka_unit_test(test_note_is_one_line),
                cmocka_unit_test(test_rotation_keeps_n),
                cmocka_unit_test(test_small_writes_fill_before_rotating),
                cmocka_unit_test(test_null_is_harmless),
                cmocka_unit_test(test_dropped_lines_counted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
