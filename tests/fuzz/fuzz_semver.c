/* node-semver versions and ranges from packuments and package.json files.
 * Input: "RANGE\nVERSION". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/macro.h"
#include "corral/semver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = xstrndup((const char *)data, size);
        char *nl = strchr(s, '\n');
        const char *ver = nl ? nl + 1 : "1.2.3";
        semver_range *r = NULL;
        corral_error err = {0};
        semver v, w;

        if (nl)
                *nl = '\0';
        if (semver_parse(&v, ver, false) == 0) {
                if (semver_compare(&v, &v) != 0)
                        abort();
                if (semver_parse(&w, ver, true) != 0)
                        abort(); /* strict implies loose */
                semver_done(&w);
                semver_done(&v);
        }
        if (semver_range_parse(&r, s, &err) == 0) {
                if (semver_parse(&w, ver, true) == 0) {
                        (void)semver_range_test(r, &w, false);
                        (void)semver_range_test(r, &w, true);
                        semver_done(&w);
                }
                semver_range_free(r);
        }
        corral_error_clear(&err);
        r = NULL;
        if (semver_range_parse_loose(&r, s, &err) == 0)
                semver_range_free(r);
        corral_error_clear(&err);
        (void)semver_satisfies(ver, s, false);
        (void)semver_satisfies_loose(ver, s, true);
        free(s);
        return 0;
}
