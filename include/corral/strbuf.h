/* A growable byte buffer with a hard cap, after curl's dynbuf: anything read
 * from outside (a server's stdout, a socket peer) goes through one of these. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "corral/macro.h"

typedef struct strbuf {
        char *buf;  /* always NUL-terminated when non-NULL */
        size_t len; /* bytes used, excluding the NUL */
        size_t cap; /* bytes allocated */
        size_t max; /* hard limit on len; 0 = unlimited */
} strbuf;

#define STRBUF_INIT(maxlen) ((strbuf){ .max = (maxlen) })

/* Appends n bytes; returns 0, or -1 when len would exceed max (the buffer is
 * then left unchanged). */
int strbuf_append(strbuf *b, const void *data, size_t n);
int strbuf_appendf(strbuf *b, const char *fmt, ...) _printf_(2, 3);
/* Removes the first n bytes. */
void strbuf_consume(strbuf *b, size_t n);
void strbuf_reset(strbuf *b);
/* Hands out the NUL-terminated contents (never NULL) and empties b. */
char *strbuf_steal(strbuf *b);
void strbuf_done(strbuf *b);
