/* `corral audit` and `corral metrics` (issue 15): the state database's
 * tool-call log and daily aggregates, read directly (read-only). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/jsonutil.h"
#include "corral/state.h"

/* --since: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" (UTC) or N[smhd] ago. */
static int parse_since(const char *s, int64_t *ret_ms)
{
        struct tm tm = {0};
        const char *end;
        char *num_end;
        long long n;

        if ((end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) && !*end)
                goto utc;
        memset(&tm, 0, sizeof(tm));
        if ((end = strptime(s, "%Y-%m-%d", &tm)) && !*end)
                goto utc;
        n = strtoll(s, &num_end, 10);
        if (num_end == s || n < 0 || n > 100LL * 365 * 86400 || strlen(num_end) != 1 ||
            !strchr("smhd", *num_end))
                return -1;
        n *= *num_end == 'm' ? 60 : *num_end == 'h' ? 3600 : *num_end == 'd' ? 86400 : 1;
        *ret_ms = ((int64_t)time(NULL) - n) * 1000;
        return 0;
utc:
        *ret_ms = (int64_t)timegm(&tm) * 1000;
        return 0;
}

static state_db *open_db(cli_ctx *ctx, int *ret_code)
{
        corral_error err = {0};
        corral_paths p = {0};
        _cleanup_free_ char *path = NULL;
        state_db *db = NULL;

        if (paths_init(&p, ctx->root, &err) < 0) {
                *ret_code = cli_fail_error(ctx, &err);
                return NULL;
        }
        path = state_path(&p);
        paths_done(&p);
        if (state_open(&db, path, true, &err) < 0) {
                *ret_code = cli_fail_error(ctx, &err);
                return NULL;
        }
        return db;
}

int cli_audit(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"user", required_argument, NULL, 'u'},  {"server", required_argument, NULL, 's'},
                {"since", required_argument, NULL, 'S'}, {"json", no_argument, NULL, 'j'},
                {"arguments", no_argument, NULL, 'a'},   {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *user = NULL, *server = NULL;
        int64_t since = 0;
        bool show_args = false;
        corral_error err = {0};
        _cleanup_json_ cJSON *rows = NULL;
        const cJSON *row;
        state_db *db;
        int c, code = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                switch (c) {
                case 'u':
                        user = optarg;
                        break;
                case 's':
                        server = optarg;
                        break;
                case 'S':
                        if (parse_since(optarg, &since) < 0)
                                return cli_usage_error(ctx, "--since is YYYY-MM-DD, "
                                                            "YYYY-MM-DDTHH:MM:SSZ or N[smhd]");
                        break;
                case 'j':
                        ctx->json = true;
                        break;
                case 'a':
                        show_args = true;
                        break;
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if (optind < argc)
                return cli_usage_error(ctx, "audit takes no arguments");
        if (!(db = open_db(ctx, &code)))
                return code;
        if (state_query_calls(db, user, server, since, &rows, &err) < 0) {
                state_close(db);
                return cli_fail_error(ctx, &err);
        }
        state_close(db);
        if (ctx->json) {
                cli_print_json(rows);
                return 0;
        }
        printf("%-24s  %-12s  %-6s  %-20s  %-10s  %8s  %s\n", "TIME", "USER", "IFACE",
               "SERVER__TOOL", "OUTCOME", "MS", "BYTES IN/OUT");
        cJSON_ArrayForEach(row, rows)
        {
                _cleanup_free_ char *name = xasprintf("%s__%s", json_get_string(row, "server"),
                                                      json_get_string(row, "tool"));
                const char *u = json_get_string(row, "user");
                printf("%-24s  %-12s  %-6s  %-20s  %-10s  %8.0f  %.0f/%.0f\n",
                       json_get_string(row, "time"), u ? u : "-",
                       json_get_string(row, "interface"), name, json_get_string(row, "outcome"),
                       json_get_number(row, "duration_ms", 0),
                       json_get_number(row, "request_bytes", 0),
                       json_get_number(row, "response_bytes", 0));
                /* Kept only when the site logs arguments (already
                 * redacted and capped by the daemon). */
                if (show_args && cJSON_GetObjectItemCaseSensitive(row, "arguments")) {
                        _cleanup_free_ char *a =
                                json_print(cJSON_GetObjectItemCaseSensitive(row, "arguments"));
                        printf("    arguments: %s\n", a);
                }
        }
        return 0;
}

int cli_metrics(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"day", required_argument, NULL, 'd'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *day = NULL;
        corral_error err = {0};
        _cleanup_json_ cJSON *rows = NULL;
        const cJSON *row;
        struct tm tm = {0};
        state_db *db;
        int c, code = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                switch (c) {
                case 'd': {
                        const char *end = strptime(optarg, "%Y-%m-%d", &tm);
                        if (!end || *end || strlen(optarg) != 10)
                                return cli_usage_error(ctx, "--day is YYYY-MM-DD (UTC)");
                        day = optarg;
                        break;
                }
                case 'j':
                        ctx->json = true;
                        break;
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if (optind < argc)
                return cli_usage_error(ctx, "metrics takes no arguments");
        if (!(db = open_db(ctx, &code)))
                return code;
        if (state_query_daily(db, day, &rows, &err) < 0) {
                state_close(db);
                return cli_fail_error(ctx, &err);
        }
        state_close(db);
        if (ctx->json) {
                cli_print_json(rows);
                return 0;
        }
        printf("%-10s  %-12s  %-24s  %7s  %7s  %9s  %7s\n", "DAY", "USER", "SERVER__TOOL",
               "CALLS", "ERRORS", "AVG MS", "MAX MS");
        cJSON_ArrayForEach(row, rows)
        {
                _cleanup_free_ char *name = xasprintf("%s__%s", json_get_string(row, "server"),
                                                      json_get_string(row, "tool"));
                double calls = json_get_number(row, "calls", 0);
                const char *u = json_get_string(row, "user");
                printf("%-10s  %-12s  %-24s  %7.0f  %7.0f  %9.1f  %7.0f\n",
                       json_get_string(row, "day"), u && *u ? u : "-", name, calls,
                       json_get_number(row, "errors", 0),
                       calls > 0 ? json_get_number(row, "total_ms", 0) / calls : 0.0,
                       json_get_number(row, "max_ms", 0));
        }
        return 0;
}
