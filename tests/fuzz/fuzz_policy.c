/* corral-sandbox's policy file (include/corral/sandbox.h), which security
 * teams write by hand. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CORRAL_SANDBOX_LAUNCHER_ONLY
#include "../../sandbox/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        sbx_policy p;
        if (sbx_policy_parse(&p, (const char *)data, size) == 0) {
                if (!p.name || !p.cwd || !sbx_policy_path(&p))
                        abort();
        }
        sbx_policy_done(&p);
        return 0;
}
