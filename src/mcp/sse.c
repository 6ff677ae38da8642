/* text/event-stream parsing (include/corral/sse.h; WHATWG HTML §9.2.6). */
#include <string.h>

#include "corral/sse.h"

#define SSE_FIELD_SLACK 64u /* "data: " and the like on top of the data cap */

void sse_parser_init(sse_parser *p, size_t max_event)
{
        memset(p, 0, sizeof(*p));
        p->max_event = max_event ? max_event : SSE_EVENT_MAX_DEFAULT;
        p->line = STRBUF_INIT(p->max_event + SSE_FIELD_SLACK);
        p->data = STRBUF_INIT(p->max_event);
        p->retry_ms = -1;
}

void sse_parser_done(sse_parser *p)
{
        strbuf_done(&p->line);
        strbuf_done(&p->data);
        free(p->type);
        free(p->last_id);
        p->type = p->last_id = NULL;
}

static int dispatch(sse_parser *p, sse_event_fn cb, void *ud)
{
        sse_event ev;
        int r;

        if (!p->has_data) {
                free(p->type);
                p->type = NULL;
                return 0;
        }
        /* The data buffer ends in the '\n' of its last line: drop it. */
        if (p->data.len > 0 && p->data.buf[p->data.len - 1] == '\n')
                p->data.buf[--p->data.len] = '\0';
        ev.type = p->type && p->type[0] ? p->type : "message";
        ev.data = p->data.buf ? p->data.buf : "";
        ev.data_len = p->data.len;
        ev.id = p->last_id;
        r = cb(ud, &ev);
        strbuf_reset(&p->data);
        p->has_data = false;
        free(p->type);
        p->type = NULL;
        return r;
}

static int process_line(sse_parser *p, const char *line, size_t len, sse_event_fn cb, void *ud,
                        corral_error *err)
{
        const char *colon, *value;
        size_t flen, vlen;

        if (len == 0)
                return dispatch(p, cb, ud);
        if (line[0] == ':')
                return 0; /* comment (keep-alives) */
        colon = memchr(line, ':', len);
        flen = colon ? (size_t)(colon - line) : len;
        value = colon ? colon + 1 : line + len;
        vlen = colon ? len - flen - 1 : 0;
        if (vlen > 0 && value[0] == ' ')
                value++, vlen--;

        if (flen == 4 && memcmp(line, "data", 4) == 0) {
                if (strbuf_append(&p->data, value, vlen) < 0 ||
                    strbuf_append(&p->data, "\n", 1) < 0)
                        return corral_error_set(err, EX_DATAERR, "event over %zu bytes",
                                                p->max_event);
                p->has_data = true;
        } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
                free(p->type);
                p->type = xstrndup(value, vlen);
        } else if (flen == 2 && memcmp(line, "id", 2) == 0) {
                if (!memchr(value, '\0', vlen) && vlen <= SSE_ID_MAX) {
                        free(p->last_id);
                        p->last_id = xstrndup(value, vlen);
                }
        } else if (flen == 5 && memcmp(line, "retry", 5) == 0) {
                long ms = 0;
                size_t i;

                for (i = 0; i < vlen && value[i] >= '0' && value[i] <= '9'; i++)
                        if (ms < 100000000L) /* saturate: a day and more is "a long time" */
                                ms = ms * 10 + (value[i] - '0');
                if (vlen > 0 && i == vlen)
                        p->retry_ms = ms;
        }
        return 0;
}

int sse_parser_feed(sse_parser *p, const char *data, size_t n, sse_event_fn cb, void *ud,
                    corral_error *err)
{
        size_t i = 0;

        if (!p->started && n > 0) {
                /* A UTF-8 BOM may only open the stream; it can arrive split. */
                static const char bom[] = "\xEF\xBB\xBF";
                size_t have = p->line.len;

                while (have < 3 && i < n && data[i] == bom[have]) {
                        if (strbuf_append(&p->line, data + i, 1) < 0)
                                break;
                        have++, i++;
                }
                if (have < 3 && i == n)
                        return 0; /* still could be a BOM */
                if (have == 3)
                        strbuf_reset(&p->line);
                p->started = true;
        }
        while (i < n) {
                const char *start = data + i;
                size_t left = n - i, k;
                int r;

                if (p->skip_lf) {
                        p->skip_lf = false;
                        if (*start == '\n') {
                                i++;
                                continue;
                        }
                }
                for (k = 0; k < left && start[k] != '\n' && start[k] != '\r'; k++)
                        ;
                if (strbuf_append(&p->line, start, k) < 0)
                        return corral_error_set(err, EX_DATAERR,
                                                "event stream line over %zu bytes", p->line.max);
                i += k;
                if (k == left)
                        break; /* the line goes on in the next chunk */
                p->skip_lf = data[i] == '\r';
                i++;
                r = process_line(p, p->line.buf ? p->line.buf : "", p->line.len, cb, ud, err);
                strbuf_reset(&p->line);
                if (r < 0)
                        return r;
        }
        return 0;
}

const char *sse_parser_last_id(const sse_parser *p)
{
        return p->last_id;
}

long sse_parser_retry(const sse_parser *p)
{
        return p->retry_ms;
}
