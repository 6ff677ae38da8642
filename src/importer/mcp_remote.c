/* npx mcp-remote URL … → the remote server it proxies (internal.h). */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Whether an npx command line runs the mcp-remote proxy. */
bool import_runs_mcp_remote(const char *command, const cJSON *args)
{
        const char *slash = strrchr(command, '/');
        const cJSON *a;

        if (strcmp(slash ? slash + 1 : command, "npx") != 0)
                return false;
        cJSON_ArrayForEach(a, args)
        {
                const char *s = cJSON_IsString(a) ? a->valuestring : "";
                if (s[0] == '-')
                        continue;
                return strncmp(s, "mcp-remote", 10) == 0 && (s[10] == '\0' || s[10] == '@');
        }
        return false;
}

/* "Name: value" of mcp-remote's --header "Name:value"; NULL when malformed. */
static char *remote_header(const char *arg)
{
        const char *colon = strchr(arg, ':'), *n = arg, *ne, *val;

        if (!colon)
                return NULL;
        while (*n == ' ' || *n == '\t')
                n++;
        ne = colon;
        while (ne > n && (ne[-1] == ' ' || ne[-1] == '\t'))
                ne--;
        if (ne == n)
                return NULL;
        for (const char *c = n; c < ne; c++)
                if (*c <= ' ' || *c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *c))
                        return NULL;
        val = colon + 1;
        while (*val == ' ' || *val == '\t')
                val++;
        return xasprintf("%.*s: %s", (int)(ne - n), n, val);
}

#define MAX_REMOTE_HEADERS 64

/* npx [-y] mcp-remote URL [PORT] [--header "Name:value"]… [--transport T] …
 * → the remote server itself. */
void import_mcp_remote(import_entry *e, char *const *args, const bool *secret, size_t n)
{
        static const char *const dropped_value[] = {
                "--host", "--resource", "--static-oauth-client-metadata",
                "--static-oauth-client-info", "--auth-timeout", NULL};
        static const char *const dropped_flag[] = {"--debug", "--silent", "--enable-proxy",
                                                   NULL};
        size_t i, positional = 0, n_headers = 0;
        _cleanup_free_ char *url = NULL;
        const char *transport = "http";

        /* npx's own options, then the package */
        for (i = 0; args[i] && args[i][0] == '-'; i++)
                ;
        for (i++; i < n; i++) {
                const char *arg = args[i];
                bool has_value = i + 1 < n;
                if (strcmp(arg, "--header") == 0) {
                        _cleanup_free_ char *h = has_value ? remote_header(args[i + 1]) : NULL;
                        if (!h) {
                                (void)import_refuse(e, IMPORT_REFUSED,
                                                    "mcp-remote --header wants \"Name: value\"");
                                return;
                        }
                        if (++n_headers > MAX_REMOTE_HEADERS) {
                                (void)import_refuse(e, IMPORT_REFUSED,
                                                    "more than %d --header options",
                                                    MAX_REMOTE_HEADERS);
                                return;
                        }
                        _cleanup_free_ char *hname = xstrndup(h, strcspn(h, ":"));
                        if (secret[i + 1] || import_header_is_secret(hname))
                                e->secret_headers = strv_push(e->secret_headers, h);
                        else
                                e->headers = strv_push(e->headers, h);
                        i++;
                } else if (strcmp(arg, "--transport") == 0 && has_value) {
                        const char *t = args[++i];
                        if (strcmp(t, "sse-only") == 0)
                                transport = "sse";
                        else if (strcmp(t, "http-only") != 0 && strcmp(t, "http-first") != 0 &&
                                 strcmp(t, "sse-first") != 0) {
                                (void)import_refuse(e, IMPORT_REFUSED,
                                                    "mcp-remote --transport '%.32s' is not one "
                                                    "corral knows",
                                                    t);
                                return;
                        }
                } else if (strcmp(arg, "--allow-http") == 0) {
                        import_note(e, "--allow-http: dropped (corral takes http:// to loopback "
                                       "only, https:// elsewhere)");
                } else if (strcmp(arg, "--ignore-tool") == 0 && has_value) {
                        import_note(e, "--ignore-tool %.64s: dropped; hide tools with corral.json "
                                       "\"tools\" deny lists",
                                    args[++i]);
                } else if (arg[0] == '-') {
                        bool known = false;
                        for (const char *const *d = dropped_value; *d && !known; d++)
                                known = strcmp(arg, *d) == 0 && has_value;
                        if (known) {
                                import_note(e, "%s: dropped (corral's own OAuth client and "
                                               "transport do this)",
                                            arg);
                                i++;
                                continue;
                        }
                        for (const char *const *d = dropped_flag; *d && !known; d++)
                                known = strcmp(arg, *d) == 0;
                        if (!known) {
                                (void)import_refuse(e, IMPORT_REFUSED,
                                                    "mcp-remote option '%.64s' is not one "
                                                    "corral maps",
                                                    arg);
                                return;
                        }
                        import_note(e, "%s: dropped", arg);
                } else if (positional++ == 0) {
                        if (secret[i]) {
                                (void)import_refuse(e, IMPORT_REFUSED,
                                                    "a secret in the URL: give it in a --header");
                                return;
                        }
                        url = xstrdup(arg);
                } else if (positional == 2 && strspn(arg, "0123456789") == strlen(arg)) {
                        import_note(e, "callback port %s: dropped (corral's OAuth client picks "
                                       "its own)",
                                    arg);
                } else {
                        (void)import_refuse(e, IMPORT_REFUSED,
                                            "mcp-remote argument '%.64s' is not one corral maps",
                                            arg);
                        return;
                }
        }
        if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)) {
                (void)import_refuse(e, IMPORT_REFUSED, "mcp-remote names no http(s) URL");
                return;
        }
        import_set_remote(e, steal_pointer(&url), transport);
        import_note(e, "mcp-remote is not installed: corral connects to the server itself "
                       "(corral auth NAME if it asks to sign in)");
        if (e->env || e->secret_env) {
                import_note(e, "\"env\" used for the arguments only: a remote server runs no "
                               "process here");
                strv_free(e->env);
                strv_free(e->secret_env);
                e->env = e->secret_env = NULL;
        }
}
