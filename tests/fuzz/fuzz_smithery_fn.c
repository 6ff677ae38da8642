/* Smithery stdioFunction sources (JavaScript from the Smithery registry,
 * read by resolvers/registry/smithery_fn.c without running it): any bytes
 * either give the documented {command, args, env} shape within its caps or
 * an error, never a crash, a leak or a read past the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = xstrndup((const char *)data, size);
        cJSON *fn = NULL;
        corral_error err = {0};

        if (smithery_read_stdio_function(s, &fn, &err) == 0) {
                const cJSON *a;
                if (!json_get_string(fn, "command"))
                        abort();
                if (cJSON_GetArraySize(json_get_array(fn, "args")) > 64 ||
                    cJSON_GetArraySize(json_get_object(fn, "env")) > 64)
                        abort();
                cJSON_ArrayForEach(a, json_get_array(fn, "args"))
                {
                        if (!cJSON_IsString(a) && !json_get_string(a, "config"))
                                abort();
                }
                cJSON_Delete(fn);
        } else if (fn || !err.code) {
                abort();
        }
        free(s);
        return 0;
}
