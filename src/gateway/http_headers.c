/* The HTTP adapter's checks of request headers and the URL (declared in
 * gateway/http_internal.h): pure functions of the strings a client sent, so
 * that tests/fuzz/fuzz_http_headers.c reaches the same code http.c runs. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "corral/macro.h"
#include "gateway/http_internal.h"

bool http_accepts(const char *accept, const char *type)
{
        return accept && (strcasestr(accept, type) || strstr(accept, "*/*"));
}

bool http_json_content_type(const char *ctype)
{
        return ctype && strncasecmp(ctype, "application/json", 16) == 0;
}

/* ":PORT" (1 to 5 digits) or nothing. */
static bool port_or_end(const char *s)
{
        size_t n;

        if (*s == '\0')
                return true;
        if (*s != ':')
                return false;
        n = strspn(s + 1, "0123456789");
        return n >= 1 && n <= 5 && s[1 + n] == '\0';
}

static bool loopback_origin(const char *origin)
{
        static const char *const hosts[] = {"http://localhost", "https://localhost",
                                            "http://127.0.0.1", "https://127.0.0.1",
                                            "http://[::1]",     "https://[::1]"};

        for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
                size_t n = strlen(hosts[i]);
                if (strncasecmp(origin, hosts[i], n) == 0 && port_or_end(origin + n))
                        return true;
        }
        return false;
}

bool http_origin_allowed(char *const *origins, const char *origin)
{
        if (!origin)
                return true;
        if (!origins)
                return loopback_origin(origin);
        for (char *const *o = origins; *o; o++)
                if (strcmp(*o, "*") == 0 || strcasecmp(*o, origin) == 0)
                        return true;
        return false;
}

/* A decimal number of 1 to 19 digits (below 2^63), no sign, no spaces. */
static bool parse_dec(const char **s, uint64_t *ret)
{
        const char *p = *s;
        uint64_t v = 0;
        size_t n = 0;

        while (*p >= '0' && *p <= '9') {
                if (++n > 19)
                        return false;
                v = v * 10 + (uint64_t)(*p++ - '0');
        }
        if (n == 0 || v > INT64_MAX)
                return false;
        *s = p;
        *ret = v;
        return true;
}

bool http_parse_last_event_id(const char *s, uint64_t *ret_stream, uint64_t *ret_seq)
{
        uint64_t stream, seq;

        if (!s || !parse_dec(&s, &stream) || *s++ != '-' || !parse_dec(&s, &seq) || *s)
                return false;
        *ret_stream = stream;
        *ret_seq = seq;
        return true;
}

static bool valid_server_name(const char *s, size_t n)
{
        if (n == 0 || n > 48 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

http_route http_parse_route(const char *url, char **ret_server)
{
        const char *rest = url;

        *ret_server = NULL;
        if (strcmp(url, "/healthz") == 0)
                return HTTP_ROUTE_HEALTH;
        if (strcmp(url, "/metrics") == 0)
                return HTTP_ROUTE_METRICS;
        if (strncmp(url, HTTP_WELL_KNOWN, strlen(HTTP_WELL_KNOWN)) == 0)
                return HTTP_ROUTE_WELL_KNOWN;
        if (strncmp(url, "/servers/", 9) == 0) {
                const char *name = url + 9, *slash = strchr(name, '/');
                if (!slash || !valid_server_name(name, (size_t)(slash - name)))
                        return HTTP_ROUTE_NONE;
                *ret_server = xstrndup(name, (size_t)(slash - name));
                rest = slash;
        }
        if (strcmp(rest, "/mcp") == 0)
                return HTTP_ROUTE_MCP;
        if (strcmp(rest, "/sse") == 0)
                return HTTP_ROUTE_SSE;
        if (strcmp(rest, "/messages") == 0)
                return HTTP_ROUTE_MESSAGES;
        *ret_server = (free(*ret_server), NULL);
        return HTTP_ROUTE_NONE;
}
