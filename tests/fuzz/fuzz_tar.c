/* npm tarballs from a registry: gzip + tar through libarchive, with corral's
 * entry checks (traversal, links, devices, caps).  Whatever extracts stays
 * inside the destination directory. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/macro.h"
#include "corral/npm.h"

static char base[64];

/* Is ".." one of p's '/'-separated components?  ("a..b/c" and "..a" are
 * ordinary names; "..", "../x", "x/../y" and "x/.." are not.) */
static bool has_dotdot(const char *p)
{
        for (const char *c = p;; c++) {
                const char *end = strchr(c, '/');
                size_t len = end ? (size_t)(end - c) : strlen(c);
                if (len == 2 && c[0] == '.' && c[1] == '.')
                        return true;
                if (!end)
                        return false;
                c = end;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        npm_limits lim = {.max_unpacked = 1u << 20, .max_entries = 256};
        corral_error err = {0};
        char dest[128];

        if (!base[0]) {
                snprintf(base, sizeof(base), "/tmp/corral-fuzz-tar-XXXXXX");
                if (!mkdtemp(base))
                        abort();
        }
        snprintf(dest, sizeof(dest), "%s/pkg", base);
        (void)npm_extract(data, size, dest, &lim, "fuzz", &err);
        corral_error_clear(&err);
        (void)rm_rf(dest);

        /* The entry check alone, on a path and link split from the input. */
        if (size > 2) {
                char *s = xstrndup((const char *)data + 1, size - 1);
                char *link = strchr(s, '\n');
                char *rel = NULL, *rlink = NULL;
                if (link)
                        *link++ = '\0';
                (void)npm_tar_check_entry(s, (npm_entry_type)(data[0] % 5), link, &rel, &rlink,
                                          &err);
                corral_error_clear(&err);
                if (rel && (rel[0] == '/' || has_dotdot(rel)))
                        abort();
                free(rel);
                free(rlink);
                free(s);
        }
        return 0;
}
