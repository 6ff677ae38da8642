/* manifest.json as found in the store (written by corral, or tampered with).
 * A manifest that parses serialises and parses back equal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        manifest *m = NULL, *again = NULL;
        corral_error err = {0};

        if (manifest_parse(&m, (const char *)data, size, &err) == 0) {
                char *text = manifest_format(m);
                if (manifest_parse(&again, text, strlen(text), &err) != 0)
                        abort();
                if (!manifest_same_runtime(m, again))
                        abort();
                (void)manifest_code(m);
                manifest_free(again);
                free(text);
                manifest_free(m);
        }
        corral_error_clear(&err);
        return 0;
}
