/* `corral probe URL|NAME [--header 'K: V']… [--transport http|sse]
 * [--call TOOL JSON] [--json]`: connects to an MCP server over HTTP as a
 * client (remote_probe()), prints its info, capabilities and tools, and
 * calls one tool when asked.  With an installed remote server's NAME its
 * headers and stored token are used. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/jsonutil.h"
#include "corral/paths.h"
#include "corral/remote.h"

#define PROBE_TIMEOUT_MS 30000u

int cli_probe(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"header", required_argument, NULL, 'H'},
                {"transport", required_argument, NULL, 'T'},
                {"call", required_argument, NULL, 'c'},
                {"insecure-http", no_argument, NULL, 'I'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_strv_ char **headers = NULL;
        _cleanup_free_ char *query = NULL;
        _cleanup_manifest_ manifest *m = NULL;
        const char *transport = NULL, *tool = NULL, *args = "{}", *target;
        bool insecure = false;
        remote_probe_result res = {0};
        remote_config cfg = {0};
        corral_error err = {0};
        corral_paths p = {0};
        int c, r;

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
        } else {
                if (!remote_url_allowed(target, insecure))
                        return cli_fail(ctx, EX_USAGE,
                                        "refusing plain http:// to %s: use https://, or "
                                        "--insecure-http",
                                        target);
                cfg.url = target;
        }
        cfg.transport = transport && strcmp(transport, "sse") == 0 ? REMOTE_TRANSPORT_SSE
                                                                   : REMOTE_TRANSPORT_HTTP;
        cfg.fallback = true;
        cfg.headers = headers;
        cfg.ca_file = getenv("CORRAL_CA_BUNDLE");
        r = remote_probe(&cfg, PROBE_TIMEOUT_MS, true, tool, args, &res, &err);
        if (r < 0) {
                if (r == -EX_NOPERM && res.challenge) {
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
        if (ctx->json) {
                _cleanup_json_ cJSON *o = cJSON_CreateObject();
                cJSON *info = cJSON_AddObjectToObject(o, "serverInfo");
                if (res.server_name)
                        cJSON_AddStringToObject(info, "name", res.server_name);
                if (res.server_version)
                        cJSON_AddStringToObject(info, "version", res.server_version);
                cJSON_AddStringToObject(o, "protocolVersion", res.protocol_version);
                cJSON_AddStringToObject(o, "transport", res.transport);
                cJSON_AddItemToObject(o, "capabilities",
                                      res.capabilities ? json_dup(res.capabilities)
                                                       : cJSON_CreateObject());
                cJSON_AddItemToObject(o, "tools",
                                      res.tools ? json_dup(res.tools) : cJSON_CreateArray());
                if (res.call)
                        cJSON_AddItemToObject(o, res.call_failed ? "error" : "result",
                                              json_dup(res.call));
                cli_print_json(o);
        } else {
                const cJSON *t;
                printf("server:    %s %s\n", res.server_name ? res.server_name : "(unnamed)",
                       res.server_version ? res.server_version : "");
                printf("protocol:  %s over %s\n", res.protocol_version, res.transport);
                printf("tools:     %d\n", cJSON_GetArraySize(res.tools));
                cJSON_ArrayForEach(t, res.tools)
                {
                        printf("  %s\n", json_get_string(t, "name") ? json_get_string(t, "name")
                                                                    : "?");
                }
                if (res.call) {
                        _cleanup_free_ char *text = cJSON_PrintUnformatted(res.call);
                        printf("%s: %s\n", res.call_failed ? "error" : "result", text);
                }
        }
        r = res.call_failed ? EX_UNAVAILABLE : 0;
        remote_probe_result_done(&res);
        return r;
}
