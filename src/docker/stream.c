/* The multiplexed stdio stream of attach and logs (Engine API v1.41,
 * "Attach to a container", "Stream format"). */
#include <string.h>

#include "corral/docker.h"

int docker_demux_feed(docker_demux *d, const char *data, size_t n, docker_demux_fn out, void *ud)
{
        while (n > 0) {
                if (d->remaining == 0) {
                        size_t want = sizeof(d->hdr) - d->hdr_len;
                        size_t take = n < want ? n : want;

                        memcpy(d->hdr + d->hdr_len, data, take);
                        d->hdr_len += take;
                        data += take;
                        n -= take;
                        if (d->hdr_len < sizeof(d->hdr))
                                return 0;
                        d->hdr_len = 0;
                        if (d->hdr[0] > 2)
                                return -1;
                        d->stream = d->hdr[0];
                        d->remaining = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 |
                                       (uint32_t)d->hdr[6] << 8 | (uint32_t)d->hdr[7];
                        continue;
                }
                size_t take = n < d->remaining ? n : d->remaining;
                if (out)
                        out(ud, d->stream, data, take);
                d->remaining -= (uint32_t)take;
                data += take;
                n -= take;
        }
        return 0;
}
