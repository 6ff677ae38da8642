/* The verbs that talk to the running daemon (start, stop, restart, status,
 * reload, tools, call) or are the long-running sides themselves (daemon,
 * serve); `logs` is in logs.c.  Exit codes: sysexits(3) as in DESIGN.md, "CLI
 * conventions".  `call` exits 65 (EX_DATAERR) when the tool answers with
 * isError:true — the tool ran and refused or failed on what it was given,
 * which scripts must tell apart from a server that is down (69) or unknown
 * (66) — after printing what it said as the one-line error. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/daemon.h"
#include "corral/fs.h"
#include "corral/gateway.h"
#include "corral/jsonutil.h"
#include "corral/paths.h"
#include "corral/spec.h"
#include "corral/users.h"
#include "corral/strbuf.h"

#define STATUS_TIMEOUT_MS 30000
#define LIST_TIMEOUT_MS 60000
#define TOOLS_MAX_PAGES 1000
#define CALL_TIMEOUT_SLACK_MS 5000

/* The end of every verb's option switch: --help, or a usage error. */
static int help_or_bad_option(cli_ctx *ctx, int c, char **argv)
{
        return c == 'h' ? cli_usage(ctx) : cli_bad_option(ctx, c, argv);
}

/* Options shared by the simple verbs: --json and --help.  Returns -1 to go
 * on, or the exit code. */
static int simple_opts(cli_ctx *ctx, int argc, char **argv, bool allow_json)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        if (!allow_json)
                                return cli_bad_option(ctx, c, argv);
                        ctx->json = true;
                        break;
                default:
                        return help_or_bad_option(ctx, c, argv);
                }
        }
        return -1;
}

static int rpc_fail(cli_ctx *ctx, corral_error *err)
{
        return cli_fail_error(ctx, err);
}

/* ---- start, stop, restart, reload ---- */

static int lifecycle(cli_ctx *ctx, int argc, char **argv, const char *method)
{
        corral_error err = {0};
        cJSON *params, *res = NULL;
        const char *name = NULL;
        int r = simple_opts(ctx, argc, argv, false);

        if (r >= 0)
                return r;
        r = cli_name_operand(ctx, argc, argv, &name);
        if (r != 0)
                return r;
        params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "name", name);
        if (cli_rpc(ctx, method, params, STATUS_TIMEOUT_MS, &res, &err) < 0)
                return rpc_fail(ctx, &err);
        cJSON_Delete(res);
        /* "corral/start" → "started NAME" (one line; --quiet drops it). */
        printf("%s %s\n",
               strcmp(method, "corral/start") == 0  ? "started"
               : strcmp(method, "corral/stop") == 0 ? "stopped"
                                                    : "restarted",
               name);
        return 0;
}

int cli_start(cli_ctx *ctx, int argc, char **argv)
{
        return lifecycle(ctx, argc, argv, "corral/start");
}

int cli_stop(cli_ctx *ctx, int argc, char **argv)
{
        return lifecycle(ctx, argc, argv, "corral/stop");
}

int cli_restart(cli_ctx *ctx, int argc, char **argv)
{
        return lifecycle(ctx, argc, argv, "corral/restart");
}

int cli_reload(cli_ctx *ctx, int argc, char **argv)
{
        corral_error err = {0};
        _cleanup_json_ cJSON *res = NULL;
        int r = simple_opts(ctx, argc, argv, true);
        int changes;

        if (r >= 0)
                return r;
        if (optind < argc)
                return cli_usage_error(ctx, "too many arguments");
        if (cli_rpc(ctx, "corral/reload", NULL, STATUS_TIMEOUT_MS, &res, &err) < 0)
                return rpc_fail(ctx, &err);
        if (ctx->json) {
                cli_print_json(res);
                return 0;
        }
        changes = (int)json_get_number(res, "changes", 0);
        printf("reloaded: %d change%s\n", changes, changes == 1 ? "" : "s");
        if (json_get_string(res, "restart_needed"))
                printf("corral.json's %s changed: restart the daemon to apply it\n",
                       json_get_string(res, "restart_needed"));
        return 0;
}

/* ---- status ---- */

static const char *or_dash(const char *s)
{
        return s && *s ? s : "-";
}

static void print_collisions(const cJSON *collisions)
{
        const cJSON *c;

        if (cJSON_GetArraySize(collisions) == 0)
                return;
        printf("\nresource collisions (the first-installed server answers):\n");
        cJSON_ArrayForEach(c, collisions)
        {
                const cJSON *sh;
                bool first = true;

                printf("  %s  owner %s, shadows ", or_dash(json_get_string(c, "uri")),
                       or_dash(json_get_string(c, "owner")));
                cJSON_ArrayForEach(sh, json_get_array(c, "shadowed"))
                {
                        if (cJSON_IsString(sh))
                                printf("%s%s", first ? "" : ", ", sh->valuestring);
                        first = false;
                }
                printf("\n");
        }
}

/* HTTP listeners; one without authentication off loopback is a warning in
 * every listing ("http": {"auth": "none"}). */
static void print_http(const cJSON *listeners)
{
        const cJSON *l;

        cJSON_ArrayForEach(l, listeners)
        {
                bool open = strcmp(or_dash(json_get_string(l, "auth")), "none") == 0 &&
                            !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(l, "loopback"));
                printf("%shttp %s%s (port %d, level %s, auth %s)\n",
                       l == listeners->child ? "\n" : "",
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(l, "tls")) ? "https " : "",
                       or_dash(json_get_string(l, "listen")), (int)json_get_number(l, "port", 0),
                       or_dash(json_get_string(l, "level")), or_dash(json_get_string(l, "auth")));
                if (open)
                        printf("warning: %s serves MCP without authentication (\"auth\": "
                               "\"none\")\n",
                               or_dash(json_get_string(l, "listen")));
        }
}

int cli_status(cli_ctx *ctx, int argc, char **argv)
{
        corral_error err = {0};
        _cleanup_json_ cJSON *res = NULL;
        const cJSON *units, *u;
        int r = simple_opts(ctx, argc, argv, true);
        int w = 4;

        if (r >= 0)
                return r;
        if (optind < argc)
                return cli_usage_error(ctx, "too many arguments");
        if (cli_rpc(ctx, "corral/status", NULL, STATUS_TIMEOUT_MS, &res, &err) < 0)
                return rpc_fail(ctx, &err);
        if (ctx->json) {
                cli_print_json(res);
                return 0;
        }
        units = json_get_array(res, "units");
        /* A corral.json the daemon refused on its last reload (it kept the
         * configuration it had). */
        if (json_get_string(res, "config_error"))
                printf("config: refused, the running configuration is kept: %s\n",
                       json_get_string(res, "config_error"));
        /* Keys the daemon reads only when it starts. */
        if (json_get_string(res, "restart_needed"))
                printf("config: corral.json's %s changed: restart the daemon to apply it\n",
                       json_get_string(res, "restart_needed"));
        if (cJSON_GetArraySize(units) == 0) {
                printf("no servers (install one with 'corral install', then 'corral reload')\n");
                print_collisions(json_get_array(res, "collisions"));
                print_http(json_get_array(res, "http"));
                return 0;
        }
        cJSON_ArrayForEach(u, units)
        {
                const char *name = json_get_string(u, "name");
                if (name && (int)strlen(name) > w)
                        w = (int)strlen(name);
        }
        printf("%-*s  %-12s  %-7s  %-8s  %-5s  %-10s  %s\n", w, "NAME", "STATE", "PID", "RESTARTS",
               "TOOLS", "SANDBOX", "LAST-ERROR");
        cJSON_ArrayForEach(u, units)
        {
                int pid = (int)json_get_number(u, "pid", 0);
                char pidtxt[16] = "-";
                const cJSON *tools = cJSON_GetObjectItemCaseSensitive(u, "tools");
                int ntools = cJSON_IsArray(tools) ? cJSON_GetArraySize(tools)
                                                  : (int)json_get_number(u, "tools", 0);
                const char *sandbox = json_get_string(u, "sandbox");

                if (pid > 0)
                        snprintf(pidtxt, sizeof(pidtxt), "%d", pid);
                /* An unconfined server says so in every listing (DESIGN.md,
                 * "Security defaults"): the profile only names a confinement
                 * that is really in place. */
                if (sandbox && (strcmp(sandbox, "none") == 0 ||
                                cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(u, "confined"))))
                        sandbox = "unconfined";
                printf("%-*s  %-12s  %-7s  %-8d  %-5d  %-10s  %s\n", w,
                       or_dash(json_get_string(u, "name")), or_dash(json_get_string(u, "state")),
                       pidtxt, (int)json_get_number(u, "restarts", 0), ntools, or_dash(sandbox),
                       or_dash(json_get_string(u, "last_error")));
        }
        cJSON_ArrayForEach(u, units)
        {
                double dropped = json_get_number(u, "log_lines_dropped", 0);
                if (dropped > 0)
                        printf("%s: %.0f log lines dropped (log write errors: a full disk?)\n",
                               or_dash(json_get_string(u, "name")), dropped);
        }
        /* A per-user remote server's users' own sessions (issue 15). */
        cJSON_ArrayForEach(u, units)
        {
                double n = json_get_number(u, "user_sessions", 0);
                if (n > 0)
                        printf("%s: %.0f user session%s open (each calling user's own)\n",
                               or_dash(json_get_string(u, "name")), n, n == 1 ? "" : "s");
        }
        print_collisions(json_get_array(res, "collisions"));
        print_http(json_get_array(res, "http"));
        return 0;
}

/* ---- tools ---- */

/* The unit of that name in a corral/status result, or NULL. */
static const cJSON *status_unit(const cJSON *status, const char *name)
{
        const cJSON *u;

        cJSON_ArrayForEach(u, json_get_array(status, "units"))
        {
                const char *n = json_get_string(u, "name");
                if (n && strcmp(n, name) == 0)
                        return u;
        }
        return NULL;
}

int cli_tools(cli_ctx *ctx, int argc, char **argv)
{
        corral_error err = {0};
        _cleanup_json_ cJSON *all = cJSON_CreateArray();
        _cleanup_free_ char *cursor = NULL, *prefix = NULL;
        const char *server = NULL;
        const cJSON *t;
        int r = simple_opts(ctx, argc, argv, true);
        int w = 4;

        if (r >= 0)
                return r;
        if (optind + 1 < argc)
                return cli_usage_error(ctx, "too many arguments");
        if (optind < argc) {
                _cleanup_json_ cJSON *status = NULL;
                const cJSON *u;
                const char *state;

                server = argv[optind];
                if (cli_rpc(ctx, "corral/status", NULL, STATUS_TIMEOUT_MS, &status, &err) < 0)
                        return rpc_fail(ctx, &err);
                u = status_unit(status, server);
                if (!u)
                        return cli_fail(ctx, EX_NOINPUT, "no such server '%s'", server);
                state = json_get_string(u, "state");
                if (!state || strcmp(state, "ready") != 0) {
                        const char *why = json_get_string(u, "last_error");
                        return cli_fail(ctx, EX_UNAVAILABLE, "server '%s' is %s%s%s", server,
                                        or_dash(state), why ? ": " : "", why ? why : "");
                }
                prefix = xasprintf("%s__", server);
        }

        for (int page = 0;; page++) {
                _cleanup_json_ cJSON *res = NULL;
                cJSON *params = NULL, *tools;
                const char *next;

                if (page == TOOLS_MAX_PAGES)
                        return cli_fail(ctx, EX_UNAVAILABLE,
                                        "tools/list: more than %d pages; giving up",
                                        TOOLS_MAX_PAGES);
                if (cursor) {
                        params = cJSON_CreateObject();
                        cJSON_AddStringToObject(params, "cursor", cursor);
                }
                if (cli_rpc(ctx, "tools/list", params, LIST_TIMEOUT_MS, &res, &err) < 0)
                        return rpc_fail(ctx, &err);
                tools = cJSON_GetObjectItemCaseSensitive(res, "tools");
                while (cJSON_IsArray(tools) && tools->child) {
                        cJSON *item = cJSON_DetachItemViaPointer(tools, tools->child);
                        const char *name = json_get_string(item, "name");
                        if (name && (!prefix || strncmp(name, prefix, strlen(prefix)) == 0))
                                cJSON_AddItemToArray(all, item);
                        else
                                cJSON_Delete(item);
                }
                next = json_get_string(res, "nextCursor");
                free(cursor);
                cursor = next && *next ? xstrdup(next) : NULL;
                if (!cursor)
                        break;
        }

        if (ctx->json) {
                cli_print_json(all);
                return 0;
        }
        cJSON_ArrayForEach(t, all)
        {
                int len = (int)strlen(json_get_string(t, "name"));
                if (len > w)
                        w = len;
        }
        if (w > 48)
                w = 48;
        cJSON_ArrayForEach(t, all)
        {
                const char *desc = json_get_string(t, "description");
                int dlen = desc ? (int)strcspn(desc, "\r\n") : 0;

                printf("%-*s  %.*s\n", w, json_get_string(t, "name"), dlen, desc ? desc : "");
        }
        return 0;
}

/* ---- call ---- */

/* The tool's arguments from the command line: one JSON object, or KEY=VALUE
 * pairs whose VALUE is JSON when it parses as JSON, else a string. */
static int call_arguments(cli_ctx *ctx, char **args, int n, cJSON **ret)
{
        cJSON *obj;

        if (n >= 1 && (args[0][strspn(args[0], " \t\n")] == '{' ||
                       args[0][strspn(args[0], " \t\n")] == '[')) {
                const char *end = NULL;

                if (n > 1)
                        return cli_fail(ctx, EX_DATAERR,
                                        "invalid JSON arguments: give one JSON object or "
                                        "KEY=VALUE pairs, not both");
                obj = cJSON_ParseWithOpts(args[0], &end, true);
                if (!obj)
                        return cli_fail(ctx, EX_DATAERR,
                                        "invalid JSON arguments: parse error at byte %zu",
                                        end ? (size_t)(end - args[0]) : (size_t)0);
                if (!cJSON_IsObject(obj)) {
                        cJSON_Delete(obj);
                        return cli_fail(ctx, EX_DATAERR,
                                        "invalid JSON arguments: expected an object");
                }
                *ret = obj;
                return 0;
        }
        obj = cJSON_CreateObject();
        for (int i = 0; i < n; i++) {
                const char *eq = strchr(args[i], '=');
                _cleanup_free_ char *key = NULL;
                cJSON *value;

                if (!eq || eq == args[i]) {
                        cJSON_Delete(obj);
                        return cli_fail(ctx, EX_DATAERR,
                                        "invalid JSON arguments: '%s' is neither a JSON object "
                                        "nor KEY=VALUE",
                                        args[i]);
                }
                key = xstrndup(args[i], (size_t)(eq - args[i]));
                value = cJSON_ParseWithOpts(eq + 1, NULL, true);
                if (!value)
                        value = cJSON_CreateString(eq + 1);
                json_set(obj, key, value);
        }
        *ret = obj;
        return 0;
}

/* Text of the content items, joined by newlines; non-text items as a short
 * placeholder.  Owned. */
static char *content_text(const cJSON *result)
{
        strbuf b = STRBUF_INIT(0);
        const cJSON *item;

        cJSON_ArrayForEach(item, json_get_array(result, "content"))
        {
                const char *type = json_get_string(item, "type");
                const char *text = NULL;
                _cleanup_free_ char *placeholder = NULL;

                if (!type)
                        continue;
                if (strcmp(type, "text") == 0) {
                        text = json_get_string(item, "text");
                } else if (strcmp(type, "resource") == 0) {
                        const cJSON *res = json_get_object(item, "resource");
                        text = json_get_string(res, "text");
                        if (!text)
                                placeholder = xasprintf("[resource %s]",
                                                        or_dash(json_get_string(res, "uri")));
                } else if (strcmp(type, "resource_link") == 0) {
                        placeholder = xasprintf("[resource link %s]",
                                                or_dash(json_get_string(item, "uri")));
                } else {
                        const char *data = json_get_string(item, "data");
                        placeholder = xasprintf("[%s %s, %zu bytes base64]", type,
                                                or_dash(json_get_string(item, "mimeType")),
                                                data ? strlen(data) : (size_t)0);
                }
                if (placeholder)
                        text = placeholder;
                if (!text)
                        continue;
                if (b.len && b.buf[b.len - 1] != '\n')
                        (void)strbuf_append(&b, "\n", 1);
                (void)strbuf_append(&b, text, strlen(text));
        }
        if (b.len == 0) {
                const cJSON *sc = cJSON_GetObjectItemCaseSensitive(result, "structuredContent");
                if (sc) {
                        _cleanup_free_ char *j = json_print(sc);
                        (void)strbuf_append(&b, j, strlen(j));
                }
        }
        return strbuf_steal(&b);
}

int cli_call(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"timeout", required_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        corral_error err = {0};
        _cleanup_json_ cJSON *res = NULL;
        _cleanup_free_ char *text = NULL;
        cJSON *params, *arguments = NULL, *meta;
        double timeout_s = 0;
        unsigned rpc_timeout = 0;
        const char *tool;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":ht:", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        ctx->json = true;
                        break;
                case 't': {
                        char *end;
                        errno = 0;
                        timeout_s = strtod(optarg, &end);
                        if (errno || *end || !(timeout_s > 0) || timeout_s > 86400)
                                return cli_usage_error(ctx, "--timeout takes seconds (0 < S <= 86400)");
                        break;
                }
                default:
                        return help_or_bad_option(ctx, c, argv);
                }
        }
        if (optind >= argc)
                return cli_usage_error(ctx, "missing SERVER__TOOL");
        tool = argv[optind];
        if (!gateway_split(tool, NULL, NULL))
                return cli_usage_error(ctx, "tool names are SERVER__TOOL (see 'corral tools')");
        r = call_arguments(ctx, argv + optind + 1, argc - optind - 1, &arguments);
        if (r != 0)
                return r;

        params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "name", tool);
        cJSON_AddItemToObject(params, "arguments", arguments);
        meta = cJSON_AddObjectToObject(params, "_meta");
        if (isatty(STDERR_FILENO))
                cJSON_AddStringToObject(meta, "progressToken", "corral-cli");
        if (timeout_s > 0) {
                double ms = ceil(timeout_s * 1000);
                cJSON_AddNumberToObject(meta, "corral/timeoutMs", ms);
                /* The gateway answers at its timeout; ours only guards against
                 * a daemon that went silent. */
                rpc_timeout = (unsigned)ms + CALL_TIMEOUT_SLACK_MS;
        }
        if (!meta->child)
                cJSON_DeleteItemFromObjectCaseSensitive(params, "_meta");

        if (cli_rpc(ctx, "tools/call", params, rpc_timeout, &res, &err) < 0)
                return rpc_fail(ctx, &err);

        if (ctx->json)
                cli_print_json(res);
        text = content_text(res);
        if (json_get_bool(res, "isError", false)) {
                /* One line, as every corral error is. */
                for (char *p = text; *p; p++)
                        if (*p == '\n' || *p == '\r')
                                *p = ' ';
                return cli_fail(ctx, EX_DATAERR, "tool '%s' failed: %s", tool,
                                *text ? text : "(no message)");
        }
        if (!ctx->json && *text) {
                size_t len = strlen(text);
                fputs(text, stdout);
                if (text[len - 1] != '\n')
                        fputc('\n', stdout);
        }
        return 0;
}

/* ---- daemon, serve ---- */

int cli_daemon(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"http", required_argument, NULL, 'H'},
                {"system", no_argument, NULL, 'S'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        corral_error err = {0};
        _cleanup_store_ store *s = NULL;
        daemon_options dopts = {0};
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                switch (c) {
                case 'H':
                        dopts.http_listen = optarg;
                        break;
                case 'S':
                        dopts.system = true;
                        break;
                default:
                        return help_or_bad_option(ctx, c, argv);
                }
        }
        if (optind < argc)
                return cli_usage_error(ctx, "too many arguments");
        if (dopts.system && geteuid() != 0)
                return cli_fail(ctx, EX_NOPERM, "--system needs root: the system rules give "
                                                "sockets to a group and run servers as others");
        s = cli_open_store(ctx, &r);
        if (!s)
                return r;
        /* Users reach the sockets in run/ (their modes keep out the rest). */
        if (dopts.system && chmod(s->paths.run, 0755) < 0)
                return cli_fail(ctx, EX_CANTCREAT, "cannot open %s to users: %s", s->paths.run,
                                strerror(errno));
        if (daemon_run(s, &dopts, &err) < 0)
                return cli_fail_error(ctx, &err);
        return 0;
}

int cli_serve(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"stdio", no_argument, NULL, 's'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        corral_error err = {0};
        _cleanup_store_ store *s = NULL;
        bool stdio = false;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                        stdio = true;
                        break;
                default:
                        return help_or_bad_option(ctx, c, argv);
                }
        }
        if (optind < argc)
                return cli_usage_error(ctx, "too many arguments");
        if (!stdio)
                return cli_usage_error(ctx, "only --stdio is supported; the HTTP endpoint is not "
                                        "built yet");
        s = cli_open_store(ctx, &r);
        if (!s)
                return r;
        if (serve_stdio(s, &err) < 0)
                return cli_fail_error(ctx, &err);
        return 0;
}
