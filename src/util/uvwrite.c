/* The capped stream writer (include/corral/uvwrite.h). */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "corral/macro.h"
#include "corral/uvwrite.h"

typedef struct uvwrite_req {
        uv_write_t req;
        size_t len;
        size_t *queued; /* the owner's counter */
        uvwrite_done_fn done;
        void *owner;
        char data[];
} uvwrite_req;

static void on_written(uv_write_t *req, int status)
{
        uvwrite_req *w = (uvwrite_req *)req;
        uvwrite_done_fn done = w->done;
        void *owner = w->owner;

        *w->queued -= w->len;
        free(w);
        if (done)
                done(owner, status);
}

int uvwrite_send(uv_stream_t *st, size_t *queued, size_t cap, const char *data, size_t len,
                 uvwrite_done_fn done, void *owner)
{
        uvwrite_req *w;
        uv_buf_t buf;
        int r;

        if (len == 0)
                return 0;
        /* Also keeps the length within uv_buf_t's unsigned int. */
        if (len > cap || len > UINT_MAX)
                return -ENOBUFS;
        /* Only with nothing queued: a direct write must not overtake. */
        if (*queued == 0 && uv_stream_get_write_queue_size(st) == 0) {
                buf = uv_buf_init((char *)data, (unsigned)len);
                r = uv_try_write(st, &buf, 1);
                if (r == (int)len)
                        return 0;
                if (r > 0) {
                        data += r;
                        len -= (size_t)r;
                } else if (r != UV_EAGAIN && r != UV_ENOSYS) {
                        return r;
                }
        }
        if (*queued > cap || len > cap - *queued)
                return -ENOBUFS;
        w = xmalloc(sizeof(*w) + len);
        memcpy(w->data, data, len);
        w->len = len;
        w->queued = queued;
        w->done = done;
        w->owner = owner;
        buf = uv_buf_init(w->data, (unsigned)len);
        r = uv_write(&w->req, st, &buf, 1, on_written);
        if (r < 0) {
                free(w);
                return r;
        }
        *queued += len;
        return 0;
}
