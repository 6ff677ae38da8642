/* `corral reset NAME`: discards what a server wrote over its code (the upper
 * layer of its code overlay, data/NAME/overlay/).  With a daemon running, a
 * running unit is stopped first and started again afterwards: an overlay's
 * layers must not change under it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/paths.h"

#define RESET_RPC_TIMEOUT_MS 30000

/* The unit's state in the running daemon; NULL when no daemon runs or it
 * has no such unit.  Owned. */
static char *unit_state(const cli_ctx *ctx, const char *name)
{
        corral_error err = {0};
        _cleanup_json_ cJSON *res = NULL;
        const cJSON *u;

        if (cli_rpc(ctx, "corral/status", NULL, RESET_RPC_TIMEOUT_MS, &res, &err) < 0) {
                corral_error_clear(&err);
                return NULL;
        }
        cJSON_ArrayForEach(u, json_get_array(res, "units"))
        {
                const char *n = json_get_string(u, "name");
                const char *st = json_get_string(u, "state");
                if (n && st && strcmp(n, name) == 0)
                        return xstrdup(st);
        }
        return NULL;
}

static int lifecycle(const cli_ctx *ctx, const char *method, const char *name)
{
        corral_error err = {0};
        cJSON *params = cJSON_CreateObject();
        _cleanup_json_ cJSON *res = NULL;

        cJSON_AddStringToObject(params, "name", name);
        if (cli_rpc(ctx, method, params, RESET_RPC_TIMEOUT_MS, &res, &err) < 0) {
                int r = cli_fail_error(ctx, &err);
                corral_error_clear(&err);
                return r;
        }
        return 0;
}

int cli_reset(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {}};
        _cleanup_store_ store *s = NULL;
        _cleanup_manifest_ manifest *m = NULL;
        _cleanup_free_ char *data = NULL, *overlay = NULL, *state = NULL;
        corral_error err = {0};
        const char *name;
        struct stat st;
        bool restart;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (c == 'h')
                        return cli_usage(ctx);
                return cli_bad_option(ctx, c, argv);
        }
        if ((r = cli_name_operand(ctx, argc, argv, &name)) != 0)
                return r;
        if (!(s = cli_open_store(ctx, &r)))
                return r;
        if (store_load(s, name, &m, &err) < 0 || store_may_change(s, m, &err) < 0) {
                r = cli_fail_error(ctx, &err);
                corral_error_clear(&err);
                return r;
        }
        data = paths_data_dir(&s->paths, name);
        overlay = path_join(data, "overlay");
        if (lstat(overlay, &st) < 0 && errno == ENOENT) {
                printf("%s: nothing to reset (its code is as installed)\n", name);
                return 0;
        }
        state = unit_state(ctx, name);
        restart = state && strcmp(state, "stopped") != 0 && strcmp(state, "failed") != 0;
        if (restart && (r = lifecycle(ctx, "corral/stop", name)) != 0)
                return r;
        if ((r = rm_rf(overlay)) < 0) {
                r = cli_fail(ctx, EX_CANTCREAT, "cannot remove %s: %s", overlay, strerror(-r));
                if (restart)
                        (void)lifecycle(ctx, "corral/start", name);
                return r;
        }
        if (restart && (r = lifecycle(ctx, "corral/start", name)) != 0)
                return r;
        printf("%s: discarded its changes to its code%s\n", name, restart ? " (restarted)" : "");
        return 0;
}
