/* A parser for text/event-stream (the WHATWG HTML Living Standard,
 * "Server-sent events", §9.2.6 "Interpreting an event stream"), as MCP's
 * Streamable HTTP and HTTP+SSE transports use it: bytes in any split, events
 * out.  Lines end in CRLF, LF or CR; a leading BOM is dropped; "data" lines
 * are joined with '\n'; "id" sets the last event ID (kept across events, an
 * id containing NUL is ignored); "retry" with only digits sets the
 * reconnection time; comments and unknown fields are ignored.
 *
 * Everything is capped: a line, and an event's data, longer than max_event
 * bytes stop the stream with -EX_DATAERR (an event that never ends cannot
 * grow without bound). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "corral/error.h"
#include "corral/strbuf.h"

#define SSE_EVENT_MAX_DEFAULT (16u << 20) /* the JSON-RPC message cap */
#define SSE_ID_MAX 1024u                  /* longer ids are ignored */

/* One dispatched event; strings borrowed, valid during the callback.  data
 * is NUL-terminated (data_len excludes the NUL).  id: the last event ID after
 * this event (NULL when none was ever set). */
typedef struct sse_event {
        const char *type; /* "message" unless an "event" field said otherwise */
        const char *data;
        size_t data_len;
        const char *id;
} sse_event;

/* Returns 0 to go on, < 0 to stop: sse_parser_feed() returns that value. */
typedef int (*sse_event_fn)(void *ud, const sse_event *ev);

typedef struct sse_parser {
        strbuf line;
        strbuf data;
        char *type;
        char *last_id;
        long retry_ms; /* -1 until a retry field arrives */
        size_t max_event;
        bool started;  /* the BOM check is done */
        bool skip_lf;  /* the last line ended in CR: a following LF belongs to it */
        bool has_data;
} sse_parser;

/* max_event 0 = SSE_EVENT_MAX_DEFAULT. */
void sse_parser_init(sse_parser *p, size_t max_event);
void sse_parser_done(sse_parser *p);

/* Parses n bytes, calling cb for each complete event.  Returns 0, the
 * callback's negative value, or -EX_DATAERR with err set ("event stream line
 * over N bytes", "event over N bytes"); the parser must not be fed again
 * after an error. */
int sse_parser_feed(sse_parser *p, const char *data, size_t n, sse_event_fn cb, void *ud,
                    corral_error *err);

/* The last event ID seen (NULL when none) and the server's retry field in ms
 * (-1 when none). */
const char *sse_parser_last_id(const sse_parser *p);
long sse_parser_retry(const sse_parser *p);
