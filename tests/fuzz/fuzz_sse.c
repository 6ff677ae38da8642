/* The text/event-stream parser of remote units (src/mcp/sse.c): bytes from a
 * remote MCP server in any split.  The first byte picks the event cap; the
 * rest is parsed twice, whole and in pieces whose sizes come from the data,
 * and both must dispatch the same events, end in the same state and stop
 * with the same error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/macro.h"
#include "corral/sse.h"
#include "corral/strbuf.h"

typedef struct run {
        strbuf log; /* every event: type, id, data, lengths */
        size_t max_event, events;
} run;

static int on_event(void *ud, const sse_event *ev)
{
        run *r = ud;

        if (!ev->type || !*ev->type || !ev->data || ev->data[ev->data_len] != '\0' ||
            ev->data_len > r->max_event)
                abort();
        if (ev->id && (strlen(ev->id) > SSE_ID_MAX || strchr(ev->id, '\r') || strchr(ev->id, '\n')))
                abort();
        if (strchr(ev->type, '\r') || strchr(ev->type, '\n'))
                abort();
        r->events++;
        (void)strbuf_appendf(&r->log, "%zu:%s|%s|%zu:", strlen(ev->type), ev->type,
                             ev->id ? ev->id : "-", ev->data_len);
        (void)strbuf_append(&r->log, ev->data, ev->data_len);
        /* A callback may stop the stream: the 200th event does. */
        return r->events == 200 ? -7 : 0;
}

static int parse(const uint8_t *data, size_t size, size_t max_event, bool pieces, run *r,
                 sse_parser *p)
{
        corral_error err = {0};
        size_t i = 0;
        int rc = 0;

        r->log = STRBUF_INIT(64u << 20);
        r->max_event = max_event;
        sse_parser_init(p, max_event);
        while (i < size && rc == 0) {
                size_t n = pieces ? 1 + (size_t)(data[i] % 13) : size;
                if (n > size - i)
                        n = size - i;
                rc = sse_parser_feed(p, (const char *)data + i, n, on_event, r, &err);
                i += n;
        }
        if ((rc == -EX_DATAERR) != (err.code != 0))
                abort();
        corral_error_clear(&err);
        return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const size_t caps[] = {1, 8, 64, 4096};
        run whole = {0}, split = {0};
        sse_parser a, b;
        int ra, rb;
        size_t cap;

        if (size == 0)
                return 0;
        cap = caps[data[0] % ARRAY_SIZE(caps)];
        ra = parse(data + 1, size - 1, cap, false, &whole, &a);
        rb = parse(data + 1, size - 1, cap, true, &split, &b);
        if (ra != rb || whole.events != split.events || whole.log.len != split.log.len ||
            (whole.log.len && memcmp(whole.log.buf, split.log.buf, whole.log.len) != 0))
                abort();
        if (ra == 0) {
                const char *ia = sse_parser_last_id(&a), *ib = sse_parser_last_id(&b);
                if ((ia == NULL) != (ib == NULL) || (ia && strcmp(ia, ib) != 0) ||
                    sse_parser_retry(&a) != sse_parser_retry(&b))
                        abort();
        }
        sse_parser_done(&a);
        sse_parser_done(&b);
        strbuf_done(&whole.log);
        strbuf_done(&split.log);
        return 0;
}
