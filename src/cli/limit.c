/* `corral limit set|list|clear` (issue 15): rate-limit settings in the state
 * database (include/corral/limits.h), beside corral.json's "limits".  While
 * a daemon runs, set and clear ask it (corral/limit_set|limit_clear,
 * src/control_state.c), which writes the row and applies it at once; with
 * none running they write the database here, holding the daemon's lock
 * (src/cli/state_route.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/config.h"
#include "corral/jsonutil.h"
#include "corral/limits.h"
#include "corral/state.h"

#define RPC_TIMEOUT_MS 10000

typedef struct limit_args {
        const char *user;
        long long calls, concurrent;
        double per_s;
        bool all, have_calls, have_per, have_conc;
} limit_args;

static int parse_count(const char *s, long long max, long long *ret)
{
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || *end || v < 0 || v > max)
                return -1;
        *ret = v;
        return 0;
}

static int parse_args(cli_ctx *ctx, int argc, char **argv, limit_args *a)
{
        static const struct option opts[] = {
                {"user", required_argument, NULL, 'u'},
                {"calls", required_argument, NULL, 'c'},
                {"per", required_argument, NULL, 'p'},
                {"concurrent", required_argument, NULL, 'C'},
                {"all", no_argument, NULL, 'a'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;

        opterr = 0;
        optind = 0; /* a full reset: main.c parsed its own options */
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                char *end;
                switch (c) {
                case 'u':
                        a->user = optarg;
                        break;
                case 'c':
                        if (parse_count(optarg, LIMITS_MAX_CALLS, &a->calls) < 0)
                                return cli_usage_error(ctx, "--calls is a whole number from 0 "
                                                            "to 1000000");
                        a->have_calls = true;
                        break;
                case 'p':
                        a->per_s = strtod(optarg, &end);
                        if (end == optarg || *end || !(a->per_s >= 0.001) ||
                            a->per_s > (double)(LIMITS_MAX_PERIOD_MS / 1000))
                                return cli_usage_error(ctx, "--per is seconds, 0.001 to 2592000");
                        a->have_per = true;
                        break;
                case 'C':
                        if (parse_count(optarg, LIMITS_MAX_CONCURRENT, &a->concurrent) < 0)
                                return cli_usage_error(ctx, "--concurrent is a whole number from "
                                                            "0 to 65536");
                        a->have_conc = true;
                        break;
                case 'a':
                        a->all = true;
                        break;
                case 'j':
                        ctx->json = true;
                        break;
                case 'h':
                        return cli_usage(ctx) == 0 ? -1 : EX_SOFTWARE;
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        return 0;
}

/* TARGET "SERVER" or "SERVER__TOOL" (globs) → server and tool (owned). */
static void split_target(const char *t, char **ret_server, char **ret_tool)
{
        const char *sep = strstr(t, "__");
        *ret_server = sep ? xstrndup(t, (size_t)(sep - t)) : xstrdup(t);
        *ret_tool = sep ? xstrdup(sep + 2) : NULL;
}

static state_db *open_rw(cli_ctx *ctx, const corral_paths *p, int *ret_code)
{
        corral_error err = {0};
        _cleanup_free_ char *path = state_path(p);
        state_db *db = NULL;

        if (state_open(&db, path, false, &err) < 0) {
                if (err.code == EX_NOPERM)
                        *ret_code = cli_fail(ctx, EX_NOPERM,
                                             "limits are set by the store's owner (root on a "
                                             "system store): %s",
                                             err.msg);
                else
                        *ret_code = cli_fail_error(ctx, &err);
                return NULL;
        }
        return db;
}

static int do_list(cli_ctx *ctx, const corral_paths *p)
{
        corral_error err = {0};
        _cleanup_json_ cJSON *config = NULL, *rows = NULL, *out = NULL;
        _cleanup_free_ char *path = state_path(p);
        limit_set set = {0};
        state_db *db = NULL;
        const cJSON *r;
        int rc;

        if (config_load(p, &config, &err) < 0 || limit_set_from_config(config, &set, &err) < 0)
                return cli_fail_error(ctx, &err);
        rc = state_open(&db, path, true, &err);
        if (rc == 0)
                rc = state_query_limits(db, &rows, &err);
        if (rc == 0)
                rc = limit_set_add_rows(&set, rows, &err);
        state_close(db);
        if (rc < 0 && rc != -EX_NOINPUT) {
                limit_set_done(&set);
                return cli_fail_error(ctx, &err);
        }
        out = cJSON_CreateObject();
        cJSON_AddNumberToObject(out, "max_result_bytes", (double)set.max_result_bytes);
        cJSON_AddItemToObject(out, "rules", limit_set_json(&set));
        limit_set_done(&set);
        if (ctx->json) {
                cli_print_json(out);
                return 0;
        }
        printf("result cap: %.0f bytes%s\n", json_get_number(out, "max_result_bytes", 0),
               json_get_number(out, "max_result_bytes", 0) == 0 ? " (none)" : "");
        if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "rules"))) {
                printf("no limits (set one with 'corral limit set SERVER --calls N --per S')\n");
                return 0;
        }
        printf("%-12s  %-24s  %8s  %9s  %10s  %s\n", "USER", "SERVER__TOOL", "CALLS", "PER S",
               "CONCURRENT", "SOURCE");
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(out, "rules"))
        {
                const char *tool = json_get_string(r, "tool");
                _cleanup_free_ char *name = tool ? xasprintf("%s__%s", json_get_string(r, "server"),
                                                             tool)
                                                 : xstrdup(json_get_string(r, "server"));
                printf("%-12s  %-24s  %8.0f  %9g  %10.0f  %s\n", json_get_string(r, "user"), name,
                       json_get_number(r, "calls", 0), json_get_number(r, "period_s", 0),
                       json_get_number(r, "concurrent", 0), json_get_string(r, "source"));
        }
        return 0;
}

static int do_set(cli_ctx *ctx, const corral_paths *p, const limit_args *a, const char *target)
{
        corral_error err = {0};
        _cleanup_free_ char *server = NULL, *tool = NULL;
        state_limit l;
        state_db *db;
        int code = 0, lock = -1, r;

        if (a->have_calls != a->have_per && !(a->have_calls && a->calls == 0))
                return cli_usage_error(ctx, "--calls and --per go together");
        split_target(target, &server, &tool);
        l = (state_limit){
                .user = a->user ? a->user : "*",
                .server = server,
                .tool = tool,
                .calls = a->calls,
                .period_ms = a->have_per ? (int64_t)(a->per_s * 1000 + 0.5) : 0,
                .concurrent = a->concurrent,
        };
        /* The same checks as the daemon's when it reads the row back. */
        if (limit_check_setting(&l, &err) < 0)
                return cli_fail(ctx, EX_USAGE, "%s", err.msg);
        if (cli_state_writer(ctx, p, &lock) == CLI_STATE_DAEMON) {
                cJSON *params = cJSON_CreateObject(), *res = NULL;
                cJSON_AddStringToObject(params, "user", l.user);
                cJSON_AddStringToObject(params, "server", l.server);
                if (l.tool)
                        cJSON_AddStringToObject(params, "tool", l.tool);
                cJSON_AddNumberToObject(params, "calls", (double)l.calls);
                cJSON_AddNumberToObject(params, "period_ms", (double)l.period_ms);
                cJSON_AddNumberToObject(params, "concurrent", (double)l.concurrent);
                if (cli_rpc(ctx, "corral/limit_set", params, RPC_TIMEOUT_MS, &res, &err) < 0)
                        return cli_fail_error(ctx, &err);
                cJSON_Delete(res);
        } else {
                db = open_rw(ctx, p, &code);
                r = db ? state_limit_set(db, &l, &err) : -code;
                state_close(db);
                if (lock >= 0)
                        (void)close(lock);
                if (!db)
                        return code;
                if (r < 0)
                        return cli_fail_error(ctx, &err);
        }
        if (!ctx->quiet)
                printf("limit set: %s for %s\n", target, l.user);
        return 0;
}

static int do_clear(cli_ctx *ctx, const corral_paths *p, const limit_args *a, const char *target)
{
        corral_error err = {0};
        _cleanup_free_ char *server = NULL, *tool = NULL;
        state_db *db;
        int code = 0, lock = -1, n = 0, r;

        if (target)
                split_target(target, &server, &tool);
        if (cli_state_writer(ctx, p, &lock) == CLI_STATE_DAEMON) {
                cJSON *params = cJSON_CreateObject(), *res = NULL;
                cJSON_AddStringToObject(params, "user", a->user ? a->user : "*");
                if (!a->all)
                        cJSON_AddStringToObject(params, "server", server);
                if (!a->all && tool)
                        cJSON_AddStringToObject(params, "tool", tool);
                if (cli_rpc(ctx, "corral/limit_clear", params, RPC_TIMEOUT_MS, &res, &err) < 0)
                        return cli_fail_error(ctx, &err);
                n = (int)json_get_number(res, "cleared", 0);
                cJSON_Delete(res);
        } else {
                db = open_rw(ctx, p, &code);
                r = db ? state_limit_clear(db, a->user ? a->user : "*", a->all ? NULL : server,
                                           tool, &n, &err)
                       : -code;
                state_close(db);
                if (lock >= 0)
                        (void)close(lock);
                if (!db)
                        return code;
                if (r < 0)
                        return cli_fail_error(ctx, &err);
        }
        if (!a->all && n == 0)
                return cli_fail(ctx, EX_NOINPUT, "no limit set for %s (user %s)", target,
                                a->user ? a->user : "*");
        if (!ctx->quiet)
                printf("limits cleared: %d\n", n);
        return 0;
}

int cli_limit(cli_ctx *ctx, int argc, char **argv)
{
        limit_args a = {0};
        corral_error err = {0};
        corral_paths p = {0};
        const char *op, *target;
        int r;

        if (argc < 2 || argv[1][0] == '-') {
                if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
                        return cli_usage(ctx);
                return cli_usage_error(ctx, "missing set, list or clear");
        }
        op = argv[1];
        if ((r = parse_args(ctx, argc - 1, argv + 1, &a)) != 0)
                return r < 0 ? 0 : r;
        target = optind + 1 < argc ? argv[optind + 1] : NULL;
        if (optind + 2 < argc)
                return cli_usage_error(ctx, "too many arguments");
        if (paths_init(&p, ctx->root, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (strcmp(op, "list") == 0)
                r = target ? cli_usage_error(ctx, "list takes no arguments") : do_list(ctx, &p);
        else if (strcmp(op, "set") == 0)
                r = !target ? cli_usage_error(ctx, "missing SERVER or SERVER__TOOL")
                            : do_set(ctx, &p, &a, target);
        else if (strcmp(op, "clear") == 0)
                r = !target && !a.all ? cli_usage_error(ctx, "missing SERVER[__TOOL] or --all")
                    : target && a.all ? cli_usage_error(ctx, "--all takes no SERVER")
                                      : do_clear(ctx, &p, &a, target);
        else
                r = cli_usage_error(ctx, "the operation is set, list or clear");
        paths_done(&p);
        return r;
}
