/* `corral export --format claude-desktop|vscode|mcp-json`: a client config
 * that points the client at corral (one `corral serve --stdio` entry, one
 * `corral run NAME` per server, or the HTTP endpoint).  It never holds a
 * secret: an HTTP token is left to the client (a VS Code password input, a
 * ${CORRAL_TOKEN} reference for .mcp.json). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/config.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/runtime.h"

/* This corral, by absolute path: desktop clients do not read the shell's
 * PATH. */
static char *self_path(void)
{
        char buf[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        if (n <= 0)
                return xstrdup("corral");
        buf[n] = '\0';
        return xstrdup(buf);
}

/* The store the client must use: --root, $CORRAL_ROOT, else none (the
 * default store of whoever runs the client). */
static cJSON *base_args(const cli_ctx *ctx)
{
        cJSON *a = cJSON_CreateArray();
        const char *root = ctx->root ? ctx->root : getenv("CORRAL_ROOT");
        if (root && *root) {
                _cleanup_free_ char *abs = path_absolute(root);
                cJSON_AddItemToArray(a, cJSON_CreateString("--root"));
                cJSON_AddItemToArray(a, cJSON_CreateString(abs ? abs : root));
        }
        return a;
}

static cJSON *stdio_entry(const cli_ctx *ctx, bool vscode, const char *exe, const char *verb,
                          const char *arg)
{
        cJSON *e = cJSON_CreateObject();
        cJSON *args = base_args(ctx);
        if (vscode)
                cJSON_AddStringToObject(e, "type", "stdio");
        cJSON_AddStringToObject(e, "command", exe);
        cJSON_AddItemToArray(args, cJSON_CreateString(verb));
        cJSON_AddItemToArray(args, cJSON_CreateString(arg));
        cJSON_AddItemToObject(e, "args", args);
        return e;
}

int cli_export(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"format", required_argument, NULL, 'F'},
                {"per-server", no_argument, NULL, 'P'},
                {"http", required_argument, NULL, 'H'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *format = NULL, *http = NULL;
        bool per_server = false;
        int c, code = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                switch (c) {
                case 'F':
                        format = optarg;
                        break;
                case 'P':
                        per_server = true;
                        break;
                case 'H':
                        http = optarg;
                        break;
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if (optind < argc)
                return cli_usage_error(ctx, "export takes no arguments");
        if (!format)
                return cli_usage_error(ctx, "missing --format claude-desktop|vscode|mcp-json");
        bool vscode = strcmp(format, "vscode") == 0;
        bool mcp_json = strcmp(format, "mcp-json") == 0;
        if (!vscode && !mcp_json && strcmp(format, "claude-desktop") != 0)
                return cli_usage_error(ctx, "--format is claude-desktop, vscode or mcp-json");
        if (http && per_server)
                return cli_usage_error(ctx, "--per-server and --http do not go together (use "
                                            "--http URL/servers/NAME/mcp for one server)");
        if (http && strncmp(http, "http://", 7) != 0 && strncmp(http, "https://", 8) != 0)
                return cli_usage_error(ctx, "--http takes the endpoint's http:// or https:// URL");

        _cleanup_store_ store *s = cli_open_store(ctx, &code);
        if (!s)
                return code;
        _cleanup_free_ char *exe = self_path();
        _cleanup_json_ cJSON *doc = cJSON_CreateObject();
        cJSON *servers = cJSON_AddObjectToObject(doc, vscode ? "servers" : "mcpServers");
        corral_error err = {0};

        if (http) {
                _cleanup_json_ cJSON *config = NULL;
                if (config_load(&s->paths, &config, &err) < 0)
                        return cli_fail_error(ctx, &err);
                bool auth = cJSON_GetObjectItemCaseSensitive(config, "auth") != NULL;
                cJSON *e = cJSON_CreateObject();
                if (vscode || mcp_json)
                        cJSON_AddStringToObject(e, "type", "http");
                cJSON_AddStringToObject(e, "url", http);
                if (auth && vscode) {
                        cJSON *inputs = cJSON_AddArrayToObject(doc, "inputs");
                        cJSON *in = cJSON_CreateObject();
                        cJSON_AddStringToObject(in, "type", "promptString");
                        cJSON_AddStringToObject(in, "id", "corral-token");
                        cJSON_AddStringToObject(in, "description",
                                                "corral API token (corral token create)");
                        cJSON_AddBoolToObject(in, "password", true);
                        cJSON_AddItemToArray(inputs, in);
                        cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "headers"),
                                                "Authorization", "Bearer ${input:corral-token}");
                } else if (auth && mcp_json) {
                        cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "headers"),
                                                "Authorization", "Bearer ${CORRAL_TOKEN}");
                } else if (auth) {
                        fprintf(stderr, "corral: export: note: the endpoint needs a bearer "
                                        "token; add \"headers\": {\"Authorization\": \"Bearer "
                                        "…\"} yourself (corral token create)\n");
                }
                cJSON_AddItemToObject(servers, "corral", e);
        } else if (!per_server) {
                cJSON_AddItemToObject(servers, "corral",
                                      stdio_entry(ctx, vscode, exe, "serve", "--stdio"));
        } else {
                _cleanup_strv_ char **names = NULL;
                if (store_list(s, &names, &err) < 0)
                        return cli_fail_error(ctx, &err);
                for (size_t i = 0; names[i]; i++) {
                        _cleanup_manifest_ manifest *m = NULL;
                        corral_error lerr = {0};
                        if (store_load(s, names[i], &m, &lerr) < 0) {
                                fprintf(stderr, "corral: export: warning: %s\n", lerr.msg);
                                continue;
                        }
                        if (!m->enabled)
                                continue;
                        /* `corral run` starts native, sandboxed servers. */
                        if (strcmp(m->backend, "native") != 0 || strcmp(m->profile, "none") == 0) {
                                fprintf(stderr,
                                        "corral: export: warning: %s left out: corral run "
                                        "starts sandboxed native servers only (it is reachable "
                                        "through the serve --stdio entry)\n",
                                        m->name);
                                continue;
                        }
                        cJSON_AddItemToObject(servers, m->name,
                                              stdio_entry(ctx, vscode, exe, "run", m->name));
                }
        }
        cli_print_json(doc);
        return 0;
}
