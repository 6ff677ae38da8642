/* The WWW-Authenticate challenge parameters a remote unit reads
 * (oauth_challenge_param() in src/remote/oauth_util.c: resource_metadata
 * and scope, RFC 9110 §11.2, RFC 6750 §3).  Twice: on the raw bytes (any
 * header a server sends), and on a header composed from the input as a
 * list of parameters, where the lookup must give back exactly the value of
 * the first parameter of that name (a name that appears only inside a
 * quoted value is not a parameter).
 *
 * Composed input: per parameter one byte (name index, bit 7: quote even
 * when a token would do), one byte length (0-63), then that many bytes of
 * value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "corral/macro.h"
#include "corral/strbuf.h"
#include "remote/oauth_internal.h"

#define PARAMS_MAX 16

static const char *const names[] = {"scope",   "resource_metadata", "error",
                                    "realm",   "error_description", "Scope",
                                    "x-scope", "resource"};

static bool tchar(unsigned char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

typedef struct param {
        const char *name;
        char value[64];
} param;

static void check(const char *header, const param *ps, size_t n, const char *name)
{
        char *got = oauth_challenge_param(header, name);
        const char *want = NULL;

        for (size_t i = 0; i < n && !want; i++)
                if (strcasecmp(ps[i].name, name) == 0)
                        want = ps[i].value;
        if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0))
                abort();
        free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *raw = xstrndup((const char *)data, size);
        param ps[PARAMS_MAX];
        size_t n = 0, i = 0;
        strbuf h = STRBUF_INIT(1u << 16);

        /* Raw: any bytes, no expectation but memory safety and a bounded answer. */
        for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
                char *v = oauth_challenge_param(raw, names[k]);
                if (v && strlen(v) > size)
                        abort();
                free(v);
        }
        free(raw);

        (void)strbuf_append(&h, "Bearer ", 7);
        while (i + 2 <= size && n < PARAMS_MAX) {
                param *p = &ps[n];
                unsigned sel = data[i], len = data[i + 1] % 64u;
                bool quote = sel & 0x80 || len == 0;
                size_t k = 0;

                i += 2;
                p->name = names[(sel & 0x7f) % ARRAY_SIZE(names)];
                for (; k < len && i < size; i++) {
                        unsigned char c = data[i];
                        /* quoted-string: HTAB, SP, VCHAR, obs-text (no NUL in C) */
                        if (c == 0 || (c < 0x20 && c != '\t') || c == 0x7f)
                                continue;
                        p->value[k++] = (char)c;
                }
                p->value[k] = '\0';
                for (size_t j = 0; j < k && !quote; j++)
                        quote = !tchar((unsigned char)p->value[j]);
                if (k == 0)
                        quote = true;
                (void)strbuf_appendf(&h, "%s%s=", n ? ", " : "", p->name);
                if (quote) {
                        (void)strbuf_append(&h, "\"", 1);
                        for (size_t j = 0; j < k; j++) {
                                if (p->value[j] == '"' || p->value[j] == '\\')
                                        (void)strbuf_append(&h, "\\", 1);
                                (void)strbuf_append(&h, &p->value[j], 1);
                        }
                        (void)strbuf_append(&h, "\"", 1);
                } else {
                        (void)strbuf_append(&h, p->value, k);
                }
                n++;
        }
        check(h.buf, ps, n, "scope");
        check(h.buf, ps, n, "resource_metadata");
        check(h.buf, ps, n, "error");
        check(h.buf, ps, n, "resource");
        strbuf_done(&h);
        return 0;
}
