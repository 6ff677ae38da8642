/* The HTTP client's response header lines (src/http/client.c): what any
 * server a remote unit's URL names sends back, line by line as libcurl hands
 * them over (status lines of 1xx and redirects included), then looked up as
 * the remote transport does (Content-Type, Mcp-Session-Id, WWW-Authenticate).
 * The first byte picks the byte cap; the rest is cut after each '\n'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/macro.h"
#include "http/internal.h"
#include "remote/transport_internal.h"

static bool owned_by(char *const *lines, const char *v)
{
        for (char *const *l = lines; l && *l; l++)
                if (v >= *l && v <= *l + strlen(*l))
                        return true;
        return false;
}

static void lookup(char *const *lines, const char *name)
{
        const char *v = http_header_find(lines, name);

        if (!v)
                return;
        if (!owned_by(lines, v) || *v == ' ' || *v == '\t')
                abort();
        (void)rt_ct_is(v, "text/event-stream");
        (void)rt_ct_is(v, "application/json");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const size_t caps[] = {16, 256, 4096, 64u << 10};
        char **lines = NULL;
        size_t bytes = 0, i, max, seen = 0;
        bool ok = true;

        if (size == 0)
                return 0;
        max = caps[data[0] % ARRAY_SIZE(caps)];
        for (i = 1; i < size && ok;) {
                const uint8_t *nl = memchr(data + i, '\n', size - i);
                size_t n = nl ? (size_t)(nl - (data + i)) + 1 : size - i;

                ok = http_header_line(&lines, &bytes, max, (const char *)data + i, n);
                seen += n;
                i += n;
        }
        /* The cap counts every byte handed over, and stops exactly past it. */
        if (bytes != seen || ok != (bytes <= max))
                abort();
        for (char **l = lines; l && *l; l++) {
                size_t n = strlen(*l);
                if (n == 0 || **l == ' ' || **l == '\t' || strncmp(*l, "HTTP/", 5) == 0 ||
                    (*l)[n - 1] == ' ' || (*l)[n - 1] == '\t' || n > max)
                        abort();
                for (size_t k = 0; k < n; k++) {
                        unsigned char c = (unsigned char)(*l)[k];
                        if ((c < 0x20 && c != '\t') || c == 0x7f)
                                abort();
                }
                /* Every kept line's own name finds a value. */
                const char *colon = strchr(*l, ':');
                if (colon && colon > *l) {
                        char *name = xstrndup(*l, (size_t)(colon - *l));
                        if (!http_header_find(lines, name))
                                abort();
                        free(name);
                }
        }
        lookup(lines, "Content-Type");
        lookup(lines, "Mcp-Session-Id");
        lookup(lines, "WWW-Authenticate");
        lookup(lines, "");
        strv_free(lines);
        return 0;
}
