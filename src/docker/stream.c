/* The multiplexed stdio stream of attach and logs (Engine API v1.41,
 * "Attach to a container", "Stream format"), and the streamed JSON of image
 * pulls and events (one object per line). */
#include <string.h>

#include "corral/docker.h"
#include "corral/jsonutil.h"
#include "corral/strbuf.h"

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

bool docker_json_lines(strbuf *buf, bool final, bool (*line)(void *ud, const char *text, size_t n),
                       void *ud)
{
        for (;;) {
                char *nl = buf->buf ? memchr(buf->buf, '\n', buf->len) : NULL;
                size_t n;

                if (!nl && !(final && buf->len > 0))
                        return true;
                n = nl ? (size_t)(nl - buf->buf) : buf->len;
                if (n > 0 && buf->buf[n - 1] == '\r')
                        n--;
                if (n > 0) {
                        char saved = buf->buf[n];
                        buf->buf[n] = '\0';
                        bool go = line(ud, buf->buf, n);
                        buf->buf[n] = saved;
                        if (!go) {
                                strbuf_consume(buf, nl ? (size_t)(nl - buf->buf) + 1 : buf->len);
                                return false;
                        }
                }
                strbuf_consume(buf, nl ? (size_t)(nl - buf->buf) + 1 : buf->len);
        }
}

int docker_pull_message(const char *text, size_t n, size_t max_error, cJSON **ret_msg,
                        char **ret_error)
{
        cJSON *msg = cJSON_ParseWithLength(text, n);
        const cJSON *detail;
        const char *e;

        if (!msg)
                return 0;
        detail = json_get_object(msg, "errorDetail");
        e = detail ? json_get_string(detail, "message") : NULL;
        if (!e)
                e = json_get_string(msg, "error");
        /* An error status before the stream starts: {"message": …}. */
        if (!e && !json_get_string(msg, "status"))
                e = json_get_string(msg, "message");
        if (e) {
                *ret_error = xstrndup(e, max_error);
                cJSON_Delete(msg);
                return -1;
        }
        *ret_msg = msg;
        return 1;
}
