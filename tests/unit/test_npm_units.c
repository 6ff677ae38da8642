/* The npm resolver's pure parts: SRI parsing and verification, tar entry
 * checks (table-driven), and hoisted placement on a synthetic registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "corral/npm.h"

/* ---- integrity ----------------------------------------------------------- */

/* sha512("hello") and sha1("hello") */
#define HELLO_SHA512                                                                              \
        "sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw=="
#define HELLO_SHA1_HEX "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"

static void test_integrity(void **state)
{
        npm_integrity in;
        corral_error err = {0};
        assert_int_equal(npm_integrity_parse(&in, HELLO_SHA512, NULL, &err), 0);
        assert_int_equal(in.alg, NPM_HASH_SHA512);
        assert_int_equal(in.len, 64);
        assert_int_equal(npm_integrity_verify(&in, "hello", 5, "t", &err), 0);
        assert_int_equal(npm_integrity_verify(&in, "hellp", 5, "t", &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, "integrity mismatch"));

        /* The strongest of several wins; unknown algorithms are skipped. */
        corral_error_clear(&err);
        assert_int_equal(npm_integrity_parse(&in, "md5-AAAA sha1-qvTGHdzF6KLavt4PO0gs2a6pQ00= " HELLO_SHA512,
                                             NULL, &err),
                         0);
        assert_int_equal(in.alg, NPM_HASH_SHA512);

        /* The shasum only counts when there is no integrity. */
        assert_int_equal(npm_integrity_parse(&in, NULL, HELLO_SHA1_HEX, &err), 0);
        assert_int_equal(in.alg, NPM_HASH_SHA1);
        assert_int_equal(npm_integrity_verify(&in, "hello", 5, "t", &err), 0);
        char *key = npm_integrity_key(&in);
        assert_string_equal(key, "sha1-" HELLO_SHA1_HEX);
        free(key);

        static const char *const bad[] = {
                "", "sha512-", "sha512-!!!!", "sha512-AAAA", "md5-rL0Y20zC+Fzt72VPzMSk2A==",
                "sha256-" /* wrong length: */ "qvTGHdzF6KLavt4PO0gs2a6pQ00=",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                corral_error_clear(&err);
                assert_int_equal(npm_integrity_parse(&in, bad[i], NULL, &err), -EX_DATAERR);
        }
        assert_int_equal(npm_integrity_parse(&in, NULL, "xyz", &err), -EX_DATAERR);
}

/* ---- tar entries ---------------------------------------------------------- */

static void test_tar_entries(void **state)
{
        static const struct {
                const char *path;
                npm_entry_type type;
                const char *link;
                int want; /* 1 ok, 0 skip, -1 refused */
                const char *rel;
                const char *out_link;
        } cases[] = {
                {"package/index.js", NPM_ENTRY_FILE, NULL, 1, "index.js", NULL},
                {"whatever/lib/a.js", NPM_ENTRY_FILE, NULL, 1, "lib/a.js", NULL},
                {"./package//lib/./a.js", NPM_ENTRY_FILE, NULL, 1, "lib/a.js", NULL},
                {"package/", NPM_ENTRY_DIR, NULL, 0, NULL, NULL},
                {"package", NPM_ENTRY_DIR, NULL, 0, NULL, NULL},
                {"package.json", NPM_ENTRY_FILE, NULL, 0, NULL, NULL},
                {"package/lib/", NPM_ENTRY_DIR, NULL, 1, "lib", NULL},
                {"/etc/passwd", NPM_ENTRY_FILE, NULL, -1, NULL, NULL},
                {"package/../../x", NPM_ENTRY_FILE, NULL, -1, NULL, NULL},
                {"package/a/../b", NPM_ENTRY_FILE, NULL, -1, NULL, NULL},
                {"..", NPM_ENTRY_DIR, NULL, -1, NULL, NULL},
                {"", NPM_ENTRY_FILE, NULL, -1, NULL, NULL},
                {"package/l", NPM_ENTRY_SYMLINK, "index.js", 1, "l", "index.js"},
                {"package/a/l", NPM_ENTRY_SYMLINK, "../b/c", 1, "a/l", "../b/c"},
                {"package/a/l", NPM_ENTRY_SYMLINK, "../../x", -1, NULL, NULL},
                {"package/l", NPM_ENTRY_SYMLINK, "..", -1, NULL, NULL},
                {"package/l", NPM_ENTRY_SYMLINK, "/etc/passwd", -1, NULL, NULL},
                {"package/l", NPM_ENTRY_SYMLINK, "", -1, NULL, NULL},
                {"package/a/b/l", NPM_ENTRY_SYMLINK, "./../../c", 1, "a/b/l", "./../../c"},
                {"package/h", NPM_ENTRY_HARDLINK, "package/index.js", 1, "h", "index.js"},
                {"package/h", NPM_ENTRY_HARDLINK, "other/lib/x", 1, "h", "lib/x"},
                {"package/h", NPM_ENTRY_HARDLINK, "../../etc/passwd", -1, NULL, NULL},
                {"package/h", NPM_ENTRY_HARDLINK, "/etc/passwd", -1, NULL, NULL},
                {"package/h", NPM_ENTRY_HARDLINK, "package", -1, NULL, NULL},
                {"package/dev", NPM_ENTRY_OTHER, NULL, -1, NULL, NULL},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                char *rel = NULL, *link = NULL;
                corral_error err = {0};
                int r = npm_tar_check_entry(cases[i].path, cases[i].type, cases[i].link, &rel,
                                            &link, &err);
                if (cases[i].want < 0) {
                        if (r != -EX_DATAERR)
                                fail_msg("case %zu (%s): expected refusal, got %d", i,
                                         cases[i].path, r);
                        assert_true(err.msg[0] != '\0');
                } else {
                        if (r != cases[i].want)
                                fail_msg("case %zu (%s): expected %d, got %d (%s)", i,
                                         cases[i].path, cases[i].want, r, err.msg);
                        if (cases[i].rel)
                                assert_string_equal(rel, cases[i].rel);
                        else
                                assert_null(rel);
                        if (cases[i].out_link)
                                assert_string_equal(link, cases[i].out_link);
                        else
                                assert_null(link);
                }
                free(rel);
                free(link);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_integrity),
                cmocka_unit_test(test_tar_entries),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
