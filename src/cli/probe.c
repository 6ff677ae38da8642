/* `corral probe URL|NAME [--header 'K: V']… [--transport http|sse]
 * [--call TOOL JSON] [--json]`: connects to an MCP server over HTTP as a
 * client (remote_probe()), prints its info, capabilities and tools, and
 * calls one tool when asked.  With an installed remote server's NAME its
 * headers and stored token are used.
 *
 * A URL that answers 401 (or 403 insufficient_scope) is authorized with
 * OAuth 2.1 in memory (MCP 2025-11-25 basic/authorization; nothing is
 * stored): the authorization URL goes to stderr and to $BROWSER, the
 * redirect comes back to a loopback listener (RFC 8252 §7.3), and the probe
 * starts again with the token.  A 403 insufficient_scope asking for more
 * than was granted authorizes again for the union (step-up), once per new
 * scope, at most PROBE_AUTH_MAX times in all. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/jsonutil.h"
#include "corral/oauth_client.h"
#include "corral/paths.h"
#include "corral/remote.h"

#define PROBE_TIMEOUT_MS 30000u
#define PROBE_AUTH_MAX 3           /* authorizations of one probe */
#define PROBE_AUTH_TIMEOUT_S 300u  /* waiting for the redirect */
#define CLIENT_SECRET_MAX 4096

typedef struct probe_auth {
        bool enabled;
        const char *client_id;
        char *client_secret;
        const char *client_metadata_url;
        unsigned timeout_s;
        cJSON *state; /* the in-memory OAuth state, once authorizing */
        int rounds;
} probe_auth;

int cli_read_secret_line(const char *what, char **ret, corral_error *err)
{
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, stdin);

        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
        if (n <= 0 || (size_t)n > CLIENT_SECRET_MAX || strpbrk(line, "\r\n"))
                return corral_error_set(err, EX_USAGE, "no %s on stdin (one line)", what);
        *ret = steal_pointer(&line);
        return 0;
}

/* One OAuth authorization for url after challenge; the tokens land in
 * a->state. */
static int authorize(probe_auth *a, const char *url, const char *challenge, corral_error *err)
{
        _cleanup_free_ char *redirect = NULL, *authz = NULL, *got = NULL, *st = NULL,
                              *scope = NULL;
        const char *browser = getenv("BROWSER");
        oauth_start_options o = {0};
        oauth_loopback *lb = NULL;
        int r;

        if (!a->state)
                a->state = cJSON_CreateObject();
        /* Step-up (MCP 2025-11-25 "Scope Challenge Handling"): what was
         * granted plus what the server asks for now. */
        if (json_get_string(a->state, "access_token")) {
                _cleanup_free_ char *need = oauth_challenge_scope(challenge);
                const char *had = json_get_string(a->state, "granted_scope");
                scope = oauth_scope_union(had ? had : json_get_string(a->state, "scope"), need);
        }
        o.client_id = a->client_id;
        o.client_secret = a->client_secret;
        o.client_metadata_url = a->client_metadata_url;
        o.scope = scope;
        if (oauth_loopback_open(&lb, &redirect, err) < 0)
                return -err->code;
        o.redirect_uri = redirect;
        r = oauth_begin(url, challenge, a->state, &o, &authz, err);
        if (r == 0) {
                const char *qm = strchr(authz, '?');
                st = oauth_query_state(qm ? qm + 1 : "");
                fprintf(stderr, "corral: probe: %s asks for authorization; %s\n  %s\n", url,
                        browser && *browser ? "opening" : "open", authz);
                r = oauth_loopback_wait(lb, browser, authz, st, a->timeout_s * 1000u, &got, err);
        }
        lb = oauth_loopback_free(lb);
        if (r == 0)
                r = oauth_finish(a->state, got, err);
        return r;
}

/* Whether the failure r with challenge is worth (another) authorization;
 * err says why not when it is an authorization problem that cannot be
 * fixed by asking again. */
static bool should_authorize(probe_auth *a, int r, const char *challenge, corral_error *err)
{
        _cleanup_free_ char *error = oauth_challenge_error(challenge);
        _cleanup_free_ char *need = oauth_challenge_scope(challenge);
        const char *asked;

        if (!a->enabled || r != -EX_NOPERM)
                return false;
        if (!a->state || !json_get_string(a->state, "access_token"))
                return true;
        asked = json_get_string(a->state, "scope");
        if (!error || strcmp(error, "insufficient_scope") != 0) {
                corral_error_clear(err);
                corral_error_set(err, EX_NOPERM, "the server refused the token it just "
                                                 "authorized");
                return false;
        }
        /* No loop: a scope that authorization already asked for will not
         * come by asking again. */
        if (oauth_scope_covers(asked, need)) {
                corral_error_clear(err);
                corral_error_set(err, EX_NOPERM,
                                 "the server still answers insufficient_scope, asking for "
                                 "'%.200s', after authorization with scope '%.200s'",
                                 need ? need : "", asked ? asked : "");
                return false;
        }
        if (a->rounds >= PROBE_AUTH_MAX) {
                corral_error_clear(err);
                corral_error_set(err, EX_NOPERM, "still unauthorized after %d authorizations",
                                 a->rounds);
                return false;
        }
        return true;
}

static void print_result(cli_ctx *ctx, const remote_probe_result *res)
{
        if (ctx->json) {
                _cleanup_json_ cJSON *o = cJSON_CreateObject();
                cJSON *info = cJSON_AddObjectToObject(o, "serverInfo");
                if (res->server_name)
                        cJSON_AddStringToObject(info, "name", res->server_name);
                if (res->server_version)
                        cJSON_AddStringToObject(info, "version", res->server_version);
                cJSON_AddStringToObject(o, "protocolVersion", res->protocol_version);
                cJSON_AddStringToObject(o, "transport", res->transport);
                cJSON_AddItemToObject(o, "capabilities",
                                      res->capabilities ? json_dup(res->capabilities)
                                                        : cJSON_CreateObject());
                cJSON_AddItemToObject(o, "tools",
                                      res->tools ? json_dup(res->tools) : cJSON_CreateArray());
                if (res->call)
                        cJSON_AddItemToObject(o, res->call_failed ? "error" : "result",
                                              json_dup(res->call));
                cli_print_json(o);
        } else {
                const cJSON *t;
                printf("server:    %s %s\n", res->server_name ? res->server_name : "(unnamed)",
                       res->server_version ? res->server_version : "");
                printf("protocol:  %s over %s\n", res->protocol_version, res->transport);
                printf("tools:     %d\n", cJSON_GetArraySize(res->tools));
                cJSON_ArrayForEach(t, res->tools)
                {
                        printf("  %s\n", json_get_string(t, "name") ? json_get_string(t, "name")
                                                                    : "?");
                }
                if (res->call) {
                        _cleanup_free_ char *text = cJSON_PrintUnformatted(res->call);
                        printf("%s: %s\n", res->call_failed ? "error" : "result", text);
                }
        }
}

int cli_probe(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"header", required_argument, NULL, 'H'},
                {"transport", required_argument, NULL, 'T'},
                {"call", required_argument, NULL, 'c'},
                {"insecure-http", no_argument, NULL, 'I'},
                {"json", no_argument, NULL, 'j'},
                {"no-auth", no_argument, NULL, 'N'},
                {"auth", no_argument, NULL, 'A'},
                {"client-id", required_argument, NULL, 'i'},
                {"client-secret-stdin", no_argument, NULL, 'S'},
                {"client-metadata-url", required_argument, NULL, 'M'},
                {"auth-timeout", required_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_strv_ char **headers = NULL;
        _cleanup_free_ char *query = NULL;
        _cleanup_manifest_ manifest *m = NULL;
        const char *transport = NULL, *tool = NULL, *args = "{}", *target;
        const char *browser = getenv("BROWSER");
        bool insecure = false, secret_stdin = false;
        int auth = -1; /* -1: on a terminal or with $BROWSER */
        probe_auth a = {.timeout_s = PROBE_AUTH_TIMEOUT_S};
        remote_probe_result res = {0};
        remote_config cfg = {0};
        corral_error err = {0};
        corral_paths p = {0};
        int c, r;

        a.client_metadata_url = getenv("CORRAL_OAUTH_CLIENT_METADATA_URL");
        if (a.client_metadata_url && !*a.client_metadata_url)
                a.client_metadata_url = NULL;
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                switch (c) {
                case 'H':
                        if (strv_length(headers) >= REMOTE_HEADERS_MAX)
                                return cli_usage_error(ctx, "too many --header options");
                        headers = strv_push(headers, optarg);
                        break;
                case 'T':
                        transport = optarg;
                        break;
                case 'c':
                        tool = optarg;
                        break;
                case 'I':
                        insecure = true;
                        break;
                case 'j':
                        ctx->json = true;
                        break;
                case 'N':
                case 'A':
                        auth = c == 'A';
                        break;
                case 'i':
                        a.client_id = optarg;
                        break;
                case 'S':
                        secret_stdin = true;
                        break;
                case 'M':
                        a.client_metadata_url = optarg;
                        break;
                case 't': {
                        char *end = NULL;
                        unsigned long t = strtoul(optarg, &end, 10);
                        if (!end || *end || t == 0 || t > 3600)
                                return cli_usage_error(ctx, "--auth-timeout takes 1 to 3600 "
                                                            "seconds");
                        a.timeout_s = (unsigned)t;
                        break;
                }
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if (tool) {
                if (optind + 2 != argc)
                        return cli_usage_error(ctx, "probe takes URL|NAME, and with --call TOOL "
                                                    "the arguments as a JSON object");
                args = argv[optind + 1];
        } else if (optind + 1 != argc) {
                return cli_usage_error(ctx, "probe takes one URL or server name");
        }
        target = argv[optind];
        if (transport && strcmp(transport, "http") != 0 && strcmp(transport, "sse") != 0)
                return cli_usage_error(ctx, "--transport is http or sse");
        if (secret_stdin && !a.client_id)
                return cli_usage_error(ctx, "--client-secret-stdin goes with --client-id");
        if (a.client_metadata_url && !oauth_client_metadata_url_ok(a.client_metadata_url))
                return cli_usage_error(ctx, "a client metadata URL is https:// with a path");
        if (strncmp(target, "http://", 7) != 0 && strncmp(target, "https://", 8) != 0) {
                _cleanup_free_ char *mp = NULL;
                char **h;

                if (paths_init(&p, ctx->root, &err) < 0)
                        return cli_fail_error(ctx, &err);
                mp = paths_manifest(&p, target);
                r = manifest_load(&m, mp, &err);
                if (r < 0 || strcmp(m->backend, "remote") != 0) {
                        paths_done(&p);
                        return r < 0 && err.code != EX_NOINPUT
                                       ? cli_fail_error(ctx, &err)
                                       : cli_fail(ctx, EX_NOINPUT,
                                                  "'%s' is neither a URL nor an installed remote "
                                                  "server",
                                                  target);
                }
                h = remote_unit_headers(m, &p, getuid(), &err);
                query = remote_unit_query(m, &p);
                cfg.query = query;
                paths_done(&p);
                if (!h)
                        return cli_fail_error(ctx, &err);
                for (size_t i = 0; h[i]; i++)
                        headers = strv_push(headers, h[i]);
                strv_free(h);
                cfg.url = m->command[0];
                if (!transport)
                        transport = m->transport;
                auth = 0; /* an installed server authorizes with `corral auth` */
        } else {
                if (!remote_url_allowed(target, insecure))
                        return cli_fail(ctx, EX_USAGE,
                                        "refusing plain http:// to %s: use https://, or "
                                        "--insecure-http",
                                        target);
                cfg.url = target;
                for (char **h = headers; h && *h; h++)
                        if (strncasecmp(*h, "Authorization:", 14) == 0)
                                auth = 0; /* the caller authorizes */
        }
        a.enabled = auth > 0 || (auth < 0 && ((browser && *browser) || isatty(STDIN_FILENO)));
        if (secret_stdin && a.enabled &&
            cli_read_secret_line("client secret", &a.client_secret, &err) < 0)
                return cli_fail_error(ctx, &err);
        cfg.transport = transport && strcmp(transport, "sse") == 0 ? REMOTE_TRANSPORT_SSE
                                                                   : REMOTE_TRANSPORT_HTTP;
        cfg.fallback = true;
        cfg.ca_file = getenv("CORRAL_CA_BUNDLE");
        for (;;) {
                _cleanup_strv_ char **h = strv_copy(headers);
                const char *tok = json_get_string(a.state, "access_token");
                _cleanup_free_ char *challenge = NULL;

                if (tok) {
                        _cleanup_free_ char *line = xasprintf("Authorization: Bearer %s", tok);
                        h = strv_push(h, line);
                }
                cfg.headers = h;
                r = remote_probe(&cfg, PROBE_TIMEOUT_MS, true, tool, args, &res, &err);
                if (r == 0 || !should_authorize(&a, r, res.challenge, &err))
                        break;
                challenge = res.challenge ? xstrdup(res.challenge) : NULL;
                remote_probe_result_done(&res);
                corral_error_clear(&err);
                a.rounds++;
                r = authorize(&a, cfg.url, challenge, &err);
                if (r < 0) {
                        corral_error_prefix(&err, "authorization");
                        break;
                }
        }
        free(a.client_secret);
        cJSON_Delete(a.state);
        if (r < 0) {
                if (r == -EX_NOPERM && res.challenge && !a.rounds) {
                        /* The challenge names the metadata: useful for debugging. */
                        corral_error_prefix(&err, "%s", "authorization required");
                        fprintf(stderr, "corral: probe: %s (WWW-Authenticate: %.300s)\n", err.msg,
                                res.challenge);
                        remote_probe_result_done(&res);
                        return EX_NOPERM;
                }
                remote_probe_result_done(&res);
                return cli_fail_error(ctx, &err);
        }
        print_result(ctx, &res);
        r = res.call_failed ? EX_UNAVAILABLE : 0;
        remote_probe_result_done(&res);
        return r;
}
