/* The Docker engine's side: attach stream frames (8-byte headers, split and
 * merged at any point) and image references from users and registries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/docker.h"
#include "corral/macro.h"

static void out(void *ud, unsigned stream, const char *data, size_t n)
{
        size_t *total = ud;
        if (stream > 2)
                abort();
        (void)data;
        *total += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        docker_demux d;
        size_t total = 0, i = 0;

        docker_demux_init(&d);
        /* Feed in pieces whose sizes come from the data itself. */
        while (i < size) {
                size_t n = 1 + data[i] % 17;
                if (n > size - i)
                        n = size - i;
                if (docker_demux_feed(&d, (const char *)data + i, n, out, &total) < 0)
                        break;
                i += n;
        }
        if (total > size)
                abort();

        char *s = xstrndup((const char *)data, size);
        docker_ref r;
        corral_error err = {0};
        if (docker_ref_parse(&r, s, &err) == 0)
                docker_ref_done(&r);
        corral_error_clear(&err);
        free(s);
        return 0;
}
