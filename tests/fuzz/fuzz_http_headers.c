/* The HTTP adapter's request checks (src/gateway/http_headers.c and the
 * session lookup in http_session.c): the URL route, Origin, Accept,
 * Content-Type, Last-Event-ID, Mcp-Session-Id and MCP-Protocol-Version as a
 * client sends them.  The input is split at '\n' into those fields in that
 * order; a ninth and later fields are the configured origin list. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corral/macro.h"
#include "corral/mcp_client.h"
#include "gateway/http_internal.h"

#define FIELDS 8
#define ORIGINS_MAX 8

static bool all_digits(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return n > 0;
}

static void check_last_event_id(const char *s)
{
        uint64_t stream = 0, seq = 0;
        const char *dash;
        char again[48];

        if (!http_parse_last_event_id(s, &stream, &seq))
                return;
        /* Accepted: exactly DIGITS-DIGITS, both below 2^63. */
        dash = strchr(s, '-');
        if (!dash || !all_digits(s, (size_t)(dash - s)) || !all_digits(dash + 1, strlen(dash + 1)))
                abort();
        if (stream > INT64_MAX || seq > INT64_MAX)
                abort();
        snprintf(again, sizeof(again), "%llu-%llu", (unsigned long long)stream,
                 (unsigned long long)seq);
        {
                uint64_t s2, q2;
                if (!http_parse_last_event_id(again, &s2, &q2) || s2 != stream || q2 != seq)
                        abort();
        }
}

static void check_origin(char *const *origins, const char *origin)
{
        static const char *const loopback[] = {"http://localhost", "https://localhost",
                                               "http://127.0.0.1", "https://127.0.0.1",
                                               "http://[::1]",     "https://[::1]"};
        bool ok = false;

        if (!http_origin_allowed(NULL, origin))
                goto listed;
        /* Loopback only: one of the hosts, then nothing or :PORT. */
        for (size_t i = 0; i < ARRAY_SIZE(loopback) && !ok; i++) {
                size_t n = strlen(loopback[i]);
                if (strncasecmp(origin, loopback[i], n) != 0)
                        continue;
                ok = origin[n] == '\0' || (origin[n] == ':' && strlen(origin + n + 1) <= 5 &&
                                           all_digits(origin + n + 1, strlen(origin + n + 1)));
        }
        if (!ok)
                abort();
listed:
        if (origins && http_origin_allowed(origins, origin)) {
                ok = false;
                for (char *const *o = origins; *o && !ok; o++)
                        ok = strcmp(*o, "*") == 0 || strcasecmp(*o, origin) == 0;
                if (!ok)
                        abort();
        }
}

static void check_route(const char *url)
{
        char *server = NULL;
        http_route rt = http_parse_route(url, &server);

        if (server) {
                size_t n = strlen(server);
                if (rt == HTTP_ROUTE_NONE || rt == HTTP_ROUTE_HEALTH || n == 0 || n > 48 ||
                    strspn(server, "abcdefghijklmnopqrstuvwxyz0123456789-") != n ||
                    server[0] == '-' || strncmp(url, "/servers/", 9) != 0)
                        abort();
                free(server);
        }
}

static void check_session(const char *sid)
{
        gw_http h = {0};
        hsession s = {0};

        /* The lookup compares the whole id: a prefix or an extension of a
         * live session's id finds nothing. */
        memcpy(s.id, "0123456789abcdef0123456789abcdef", 33);
        h.sessions = &s;
        if (hsession_find(&h, sid) != (strcmp(sid, s.id) == 0 ? &s : NULL))
                abort();
        if (hsession_find(&h, NULL))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = xstrndup((const char *)data, size);
        char *field[FIELDS] = {0};
        char *origins[ORIGINS_MAX + 1] = {0};
        size_t nf = 0, no = 0;
        char *p = text;

        while (p) {
                char *nl = strchr(p, '\n');
                if (nl)
                        *nl = '\0';
                if (nf < FIELDS)
                        field[nf++] = p;
                else if (no < ORIGINS_MAX)
                        origins[no++] = p;
                p = nl ? nl + 1 : NULL;
        }
        check_route(field[0] ? field[0] : "");
        if (field[1])
                check_origin(no ? origins : NULL, field[1]);
        else if (!http_origin_allowed(NULL, NULL))
                abort();
        if (http_accepts(field[2], "text/event-stream") && !field[2])
                abort();
        (void)http_accepts(field[2], "application/json");
        if (http_json_content_type(field[3]) && strncasecmp(field[3], "application/json", 16) != 0)
                abort();
        if (field[4])
                check_last_event_id(field[4]);
        if (field[5])
                check_session(field[5]);
        if (field[6] && mcp_protocol_supported(field[6]) && strlen(field[6]) != 10)
                abort();
        free(text);
        return 0;
}
