/* Source specs as users and registries write them (DESIGN.md "Source specs"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/macro.h"
#include "corral/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = xstrndup((const char *)data, size);

        for (int remote = 0; remote < 2; remote++) {
                source_spec spec;
                corral_error err = {0};
                if (spec_parse(&spec, s, remote, &err) == 0)
                        spec_done(&spec);
                corral_error_clear(&err);
        }
        free(s);
        return 0;
}
