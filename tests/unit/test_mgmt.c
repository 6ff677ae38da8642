/* corral.json "management" (src/gateway/mgmt.c, include/corral/mgmt.h) and
 * its place among config_validate's keys, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "corral/config.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/mgmt.h"

static void test_settings(void **state)
{
        static const struct {
                const char *config;
                int want; /* 0 or -EX_CONFIG */
                bool enabled;
                corral_level level, change;
                const char *msg; /* in the error */
        } cases[] = {
                {"{}", 0, true, CORRAL_LEVEL_TRUSTED, CORRAL_LEVEL_ANCHOR, NULL},
                {"{\"management\":{}}", 0, true, CORRAL_LEVEL_TRUSTED, CORRAL_LEVEL_ANCHOR, NULL},
                {"{\"management\":{\"enabled\":false}}", 0, false, CORRAL_LEVEL_TRUSTED,
                 CORRAL_LEVEL_ANCHOR, NULL},
                {"{\"management\":{\"level\":\"public\",\"change_level\":\"trusted\"}}", 0, true,
                 CORRAL_LEVEL_PUBLIC, CORRAL_LEVEL_TRUSTED, NULL},
                {"{\"management\":{\"enabled\":\"no\"}}", -EX_CONFIG, 0, 0, 0, "management.enabled"},
                {"{\"management\":{\"level\":\"root\"}}", -EX_CONFIG, 0, 0, 0, "management.level"},
                {"{\"management\":{\"change_level\":2}}", -EX_CONFIG, 0, 0, 0,
                 "management.change_level"},
                {"{\"management\":{\"tools\":true}}", -EX_CONFIG, 0, 0, 0,
                 "unknown key management.tools"},
                {"{\"management\":true}", -EX_CONFIG, 0, 0, 0, "must be an object"},
        };

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_json_ cJSON *config = cJSON_Parse(cases[i].config);
                corral_error err = {0}, verr = {0};
                mgmt_settings s = {.enabled = true, .level = 99, .change_level = 99};
                int r = mgmt_settings_load(config, &s, &err);

                assert_non_null(config);
                assert_int_equal(r, cases[i].want);
                /* corral config validate says the same. */
                assert_int_equal(config_validate(config, &verr), cases[i].want);
                if (r == 0) {
                        assert_int_equal(s.enabled, cases[i].enabled);
                        assert_int_equal(s.level, cases[i].level);
                        assert_int_equal(s.change_level, cases[i].change);
                } else {
                        assert_non_null(strstr(err.msg, cases[i].msg));
                        assert_int_equal(s.level, 99); /* untouched on failure */
                }
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_settings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
