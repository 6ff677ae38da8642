/* Capped growable buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "corral/strbuf.h"

static int reserve(strbuf *b, size_t extra)
{
        if (b->max && (extra > b->max || b->len > b->max - extra))
                return -1;
        size_t need = b->len + extra + 1;
        if (need <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
                cap *= 2;
        b->buf = xrealloc(b->buf, cap);
        b->cap = cap;
        return 0;
}

int strbuf_append(strbuf *b, const void *data, size_t n)
{
        if (reserve(b, n) < 0)
                return -1;
        if (n)
                memcpy(b->buf + b->len, data, n);
        b->len += n;
        b->buf[b->len] = '\0';
        return 0;
}

int strbuf_appendf(strbuf *b, const char *fmt, ...)
{
        va_list ap, ap2;
        va_start(ap, fmt);
        va_copy(ap2, ap);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0 || reserve(b, (size_t)n) < 0) {
                va_end(ap2);
                return -1;
        }
        vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap2);
        va_end(ap2);
        b->len += (size_t)n;
        return 0;
}

void strbuf_consume(strbuf *b, size_t n)
{
        if (n >= b->len) {
                strbuf_reset(b);
                return;
        }
        memmove(b->buf, b->buf + n, b->len - n);
        b->len -= n;
        b->buf[b->len] = '\0';
}

void strbuf_reset(strbuf *b)
{
        b->len = 0;
        if (b->buf)
                b->buf[0] = '\0';
}

char *strbuf_steal(strbuf *b)
{
        char *p = b->buf ? b->buf : xstrdup("");
        b->buf = NULL;
        b->len = b->cap = 0;
        return p;
}

void strbuf_done(strbuf *b)
{
        free(b->buf);
        b->buf = NULL;
        b->len = b->cap = 0;
}
