/* VS Code's "envFile": a dotenv file of KEY=VALUE lines (importer.h). */
#include <ctype.h>
#include <string.h>

#include "corral/strbuf.h"
#include "internal.h"

static const char *skip_blank(const char *p, const char *end)
{
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        return p;
}

/* What may follow a value on its line: blanks, then nothing or a comment. */
static bool rest_is_comment(const char *p, const char *end)
{
        p = skip_blank(p, end);
        return p == end || *p == '#';
}

/* One line [p, end) (no newline).  0 and *ret_key NULL for a blank or
 * comment line; 0 with *ret_key and *ret_value (owned) for an assignment;
 * -1 with *why set for anything else. */
static int parse_line(const char *p, const char *end, char **ret_key, char **ret_value,
                      const char **why)
{
        const char *k;
        strbuf v = STRBUF_INIT(IMPORT_ENVFILE_MAX_BYTES);

        *ret_key = *ret_value = NULL;
        if (end > p && end[-1] == '\r')
                end--;
        p = skip_blank(p, end);
        if (p == end || *p == '#')
                return 0;
        if ((size_t)(end - p) > 7 && strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t'))
                p = skip_blank(p + 7, end);
        k = p;
        if (p == end || !(isalpha((unsigned char)*p) || *p == '_')) {
                *why = "a name is letters, digits and '_', not starting with a digit";
                return -1;
        }
        while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
                p++;
        const char *kend = p;
        p = skip_blank(p, end);
        if (p == end || *p != '=') {
                *why = "want NAME=VALUE";
                return -1;
        }
        p = skip_blank(p + 1, end);
        if (p < end && (*p == '"' || *p == '\'')) {
                char q = *p++;
                bool closed = false;
                for (; p < end; p++) {
                        if (*p == q) {
                                closed = true;
                                p++;
                                break;
                        }
                        if (q == '"' && *p == '\\' && p + 1 < end) {
                                char c = *++p;
                                c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
                                if (c != '\\' && c != '"' && c != '\n' && c != '\t' && c != '\r')
                                        (void)strbuf_append(&v, "\\", 1);
                                (void)strbuf_append(&v, &c, 1);
                                continue;
                        }
                        (void)strbuf_append(&v, p, 1);
                }
                if (!closed || !rest_is_comment(p, end)) {
                        strbuf_done(&v);
                        *why = closed ? "text after the closing quote"
                                      : "a quoted value must end on its line";
                        return -1;
                }
        } else {
                /* Unquoted: up to a blank followed by '#', trailing blanks off. */
                const char *s = p, *e = p;
                for (; p < end; p++) {
                        if (*p == '#' && p > s && (p[-1] == ' ' || p[-1] == '\t'))
                                break;
                        e = p + 1;
                }
                while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                (void)strbuf_append(&v, s, (size_t)(e - s));
        }
        *ret_key = xstrndup(k, (size_t)(kend - k));
        *ret_value = strbuf_steal(&v);
        return 0;
}

size_t import_dotenv(const char *text, size_t len, import_dotenv_fn add, void *ud,
                     const char **why)
{
        const char *p = text, *end = text + len;
        size_t line = 0;

        *why = NULL;
        if (memchr(text, '\0', len)) {
                *why = "a NUL byte in the file";
                return 1;
        }
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end;
                _cleanup_free_ char *key = NULL, *value = NULL;

                line++;
                if (parse_line(p, le, &key, &value, why) < 0)
                        return line;
                if (key)
                        add(ud, key, value);
                p = nl ? nl + 1 : end;
        }
        return 0;
}
