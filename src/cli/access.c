/* `corral access NAME LEVEL [--tool TOOL]`: the permission level a caller
 * needs to reach a server, or one of its tools (DESIGN.md, "Gateway",
 * Identity; manifest "access").  Levels: public < trusted < anchor; stdio and
 * the unix sockets are anchor, HTTP listeners have their configured level. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "corral/level.h"
#include "corral/manifest.h"
#include "corral/paths.h"
#include "corral/store.h"

int cli_set_access(store *s, const char *name, const char *tool, corral_level level,
                   corral_error *err)
{
        manifest *m = NULL;
        int r = store_lock(s, err);

        if (r < 0)
                return r;
        r = store_load(s, name, &m, err);
        if (r >= 0)
                r = store_may_change(s, m, err);
        if (r >= 0) {
                _cleanup_free_ char *path = paths_manifest(&s->paths, name);
                (void)manifest_set_access(m, tool, level);
                r = manifest_save(m, path, err);
        }
        manifest_free(m);
        store_unlock(s);
        return r < 0 ? r : 0;
}

int cli_access(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"tool", required_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *tool = NULL;
        corral_level level;
        corral_error err = {0};
        int c, code = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                switch (c) {
                case 't':
                        if (!*optarg || strlen(optarg) > 128)
                                return cli_usage_error(ctx, "--tool needs a tool name");
                        tool = optarg;
                        break;
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if (argc - optind < 2)
                return cli_usage_error(ctx, "expected NAME LEVEL");
        if (argc - optind > 2)
                return cli_usage_error(ctx, "too many arguments");
        if (corral_level_parse(argv[optind + 1], &level) < 0)
                return cli_usage_error(ctx, "LEVEL is public, trusted or anchor");
        _cleanup_store_ store *s = cli_open_store(ctx, &code);
        if (!s)
                return code;
        if (cli_set_access(s, argv[optind], tool, level, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (tool)
                printf("%s: tool %s needs %s\n", argv[optind], tool, corral_level_name(level));
        else
                printf("%s needs %s\n", argv[optind], corral_level_name(level));
        fflush(stdout);
        cli_notify_daemon(ctx);
        return 0;
}
