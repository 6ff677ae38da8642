/* corral.json: the "sandbox" defaults and the "gateway" connection limits. */
#include <stdint.h>
#include <stdlib.h>

#include "corral/config.h"
#include "corral/jsonutil.h"
#include "corral/manifest.h"
#include "gateway/connlimit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        cJSON *j = cJSON_ParseWithLength((const char *)data, size);
        corral_error err = {0};
        connlimit_config g, c;

        if (!j)
                return 0;
        manifest *m = manifest_new("fuzz");
        (void)config_apply_sandbox(j, m, &err);
        corral_error_clear(&err);
        if (connlimit_config_load(j, &g, &c, &err) == 0) {
                if (g.admin_reserved >= g.max_conns || c.admin_reserved >= c.max_conns)
                        abort();
        }
        corral_error_clear(&err);
        manifest_free(m);
        cJSON_Delete(j);
        return 0;
}
