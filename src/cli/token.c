/* `corral token create|list|revoke`: static API tokens for headless sites
 * (src/auth/tokens.c).  The token is printed once, at creation; only its
 * SHA-256 is stored, in the state database.  While a daemon runs it writes
 * them (corral/token_* on the control socket, src/control_state.c) and its
 * HTTP listeners see a change at the next request; with none running the
 * verb writes the database itself, holding the daemon's lock
 * (src/cli/state_route.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/auth.h"
#include "corral/jsonutil.h"

#define RPC_TIMEOUT_MS 10000

/* The daemon's lock while this run writes the database itself. */
static int lock_fd = -1;

/* Whether a daemon runs and writes the tokens; else the lock is taken. */
static bool via_daemon(cli_ctx *ctx, const corral_paths *p)
{
        return cli_state_writer(ctx, p, &lock_fd) == CLI_STATE_DAEMON;
}

/* The result of a write made here: the lock goes with it. */
static int direct(int r)
{
        if (lock_fd >= 0)
                (void)close(lock_fd);
        lock_fd = -1;
        return r;
}

static int token_create(cli_ctx *ctx, const corral_paths *p, int argc, char **argv)
{
        static const struct option opts[] = {
                {"user", required_argument, NULL, 'u'},
                {"level", required_argument, NULL, 'l'},
                {"json", no_argument, NULL, 'j'},
                {},
        };
        const char *user = NULL, *level_name = NULL;
        corral_level level;
        corral_error err = {0};
        _cleanup_free_ char *token = NULL;
        _cleanup_free_ char *id = NULL;
        int c;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
                switch (c) {
                case 'u':
                        user = optarg;
                        break;
                case 'l':
                        level_name = optarg;
                        break;
                case 'j':
                        ctx->json = true;
                        break;
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if (optind < argc)
                return cli_usage_error(ctx, "token create takes no arguments");
        if (!user || !level_name)
                return cli_usage_error(ctx, "token create needs --user NAME and --level LEVEL");
        if (corral_level_parse(level_name, &level) < 0)
                return cli_usage_error(ctx, "--level must be public, trusted or anchor");
        if (via_daemon(ctx, p)) {
                cJSON *params = cJSON_CreateObject(), *res = NULL;
                cJSON_AddStringToObject(params, "user", user);
                cJSON_AddStringToObject(params, "level", corral_level_name(level));
                if (cli_rpc(ctx, "corral/token_create", params, RPC_TIMEOUT_MS, &res, &err) < 0)
                        return cli_fail_error(ctx, &err);
                if (json_get_string(res, "token") && json_get_string(res, "id")) {
                        token = xstrdup(json_get_string(res, "token"));
                        id = xstrdup(json_get_string(res, "id"));
                }
                cJSON_Delete(res);
                if (!token)
                        return cli_fail(ctx, EX_PROTOCOL, "the daemon sent no token");
        } else if (direct(auth_token_create(p, user, level, &token, &id, &err)) < 0) {
                return cli_fail_error(ctx, &err);
        }
        if (ctx->json) {
                _cleanup_json_ cJSON *j = cJSON_CreateObject();
                (void)cJSON_AddStringToObject(j, "id", id);
                (void)cJSON_AddStringToObject(j, "user", user);
                (void)cJSON_AddStringToObject(j, "level", corral_level_name(level));
                (void)cJSON_AddStringToObject(j, "token", token);
                cli_print_json(j);
        } else {
                printf("%s\n", token);
                fprintf(stderr, "corral: token %s for %s (%s) created; it is shown only once\n", id,
                        user, corral_level_name(level));
        }
        return 0;
}

static int token_list(cli_ctx *ctx, const corral_paths *p, int argc, char **argv)
{
        _cleanup_json_ cJSON *list = NULL;
        corral_error err = {0};

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        ctx->json = true;
                else
                        return cli_usage_error(ctx, "token list takes only --json");
        }
        if (via_daemon(ctx, p)) {
                cJSON *res = NULL;
                if (cli_rpc(ctx, "corral/token_list", NULL, RPC_TIMEOUT_MS, &res, &err) < 0)
                        return cli_fail_error(ctx, &err);
                list = cJSON_DetachItemFromObjectCaseSensitive(res, "tokens");
                cJSON_Delete(res);
                if (!cJSON_IsArray(list))
                        return cli_fail(ctx, EX_PROTOCOL, "the daemon sent no token list");
        } else if (direct(auth_token_list(p, &list, &err)) < 0) {
                return cli_fail_error(ctx, &err);
        }
        if (ctx->json) {
                cli_print_json(list);
                return 0;
        }
        printf("%-14s %-10s %-24s %s\n", "ID", "LEVEL", "CREATED", "USER");
        for (const cJSON *e = list->child; e; e = e->next)
                printf("%-14s %-10s %-24s %s\n", json_get_string(e, "id"),
                       json_get_string(e, "level"), json_get_string(e, "created_at"),
                       json_get_string(e, "user"));
        return 0;
}

static int token_revoke(cli_ctx *ctx, const corral_paths *p, int argc, char **argv)
{
        corral_error err = {0};

        if (argc != 2 || argv[1][0] == '-')
                return cli_usage_error(ctx, "token revoke takes one token ID");
        if (via_daemon(ctx, p)) {
                cJSON *params = cJSON_CreateObject(), *res = NULL;
                cJSON_AddStringToObject(params, "id", argv[1]);
                if (cli_rpc(ctx, "corral/token_revoke", params, RPC_TIMEOUT_MS, &res, &err) < 0)
                        return cli_fail_error(ctx, &err);
                cJSON_Delete(res);
        } else if (direct(auth_token_revoke(p, argv[1], &err)) < 0) {
                return cli_fail_error(ctx, &err);
        }
        return 0;
}

int cli_token(cli_ctx *ctx, int argc, char **argv)
{
        corral_paths p = {0};
        corral_error err = {0};
        int rc;

        if (argc < 2)
                return cli_usage_error(ctx, "token needs create, list or revoke");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
                return cli_usage(ctx);
        if (paths_init(&p, ctx->root, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (strcmp(argv[1], "create") == 0)
                rc = token_create(ctx, &p, argc - 1, argv + 1);
        else if (strcmp(argv[1], "list") == 0)
                rc = token_list(ctx, &p, argc - 1, argv + 1);
        else if (strcmp(argv[1], "revoke") == 0)
                rc = token_revoke(ctx, &p, argc - 1, argv + 1);
        else
                rc = cli_usage_error(ctx, "token needs create, list or revoke");
        paths_done(&p);
        return rc;
}
