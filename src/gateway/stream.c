/* Helpers shared by the byte-stream adapters (unix.c, stdio.c). */
#include <errno.h>

#include "corral/log.h"
#include "corral/uvwrite.h"
#include "gateway/internal.h"

int gw_stream_send(uv_stream_t *st, size_t *queued, void *owner, const char *data, size_t len,
                   void (*cb)(void *owner, int status))
{
        int r = uvwrite_send(st, queued, GW_WRITE_QUEUE_MAX, data, len, cb, owner);

        if (r == -ENOBUFS)
                log_warn("gateway: dropping a client that does not read (over %u MiB queued)",
                         GW_WRITE_QUEUE_MAX >> 20);
        return r < 0 ? -1 : 0;
}
