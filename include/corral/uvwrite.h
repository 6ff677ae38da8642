/* A capped writer for libuv streams, shared by the runtime backends (a
 * server's stdin) and the gateway (a client's socket or stdout).  Whatever
 * the stream does not take at once is copied and queued; the owner's counter
 * of queued bytes bounds what a peer that stops reading can make us buffer
 * (STYLE.md: every size controlled by outside input has a cap). */
#pragma once

#include <stddef.h>
#include <uv.h>

/* Runs once per queued write, after *queued was decreased, with its libuv
 * status (0, UV_ECANCELED when the stream was closed first, or another
 * error such as UV_EPIPE).  Not called for data written at once. */
typedef void (*uvwrite_done_fn)(void *owner, int status);

/* Writes data[0..len) to st: at once (uv_try_write) when nothing is queued,
 * the rest copied and queued with uv_write.  *queued is the owner's count of
 * bytes queued and not yet written; it and owner must stay valid until every
 * queued write has completed (closing st cancels them: done then runs before
 * st's close callback).  cap bounds *queued.  done may be NULL.
 * Returns 0; -ENOBUFS when len exceeds cap (nothing written) or the remainder
 * would take *queued over cap (nothing of it queued); or a negative libuv error when the stream failed. */
int uvwrite_send(uv_stream_t *st, size_t *queued, size_t cap, const char *data, size_t len,
                 uvwrite_done_fn done, void *owner);
