/* Helpers shared by the verbs: one-line errors, store opening, JSON output. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "corral/jsonutil.h"

int cli_fail(const cli_ctx *ctx, int code, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        fprintf(stderr, "corral: %s: %s\n", ctx->verb, msg);
        return code;
}

int cli_fail_error(const cli_ctx *ctx, const corral_error *err)
{
        int code = err->code ? err->code : EX_SOFTWARE;
        return cli_fail(ctx, code, "%s", err->msg[0] ? err->msg : "internal error");
}

store *cli_open_store(const cli_ctx *ctx, int *ret_code)
{
        corral_error err = {};
        store *s = NULL;

        if (store_open(&s, ctx->root, &err) < 0) {
                *ret_code = cli_fail_error(ctx, &err);
                return NULL;
        }
        return s;
}

void cli_print_json(const cJSON *j)
{
        char *s = cJSON_Print(j);
        if (!s)
                abort();
        printf("%s\n", s);
        free(s);
}

int cli_usage_error(const cli_ctx *ctx, const char *what)
{
        return cli_fail(ctx, EX_USAGE, "%s (try 'corral %s --help')", what, ctx->verb);
}

int cli_bad_option(const cli_ctx *ctx, int c, char **argv)
{
        const char *opt = optind > 0 ? argv[optind - 1] : "?";
        char what[256];

        if (c == ':')
                snprintf(what, sizeof(what), "option '%.64s' needs a value", opt);
        else if (optopt && strncmp(opt, "--", 2) != 0)
                snprintf(what, sizeof(what), "unknown option '-%c'", optopt);
        else
                snprintf(what, sizeof(what), "unknown option '%.64s'", opt);
        return cli_usage_error(ctx, what);
}

int cli_name_operand(const cli_ctx *ctx, int argc, char **argv, const char **ret_name)
{
        if (optind >= argc)
                return cli_usage_error(ctx, "missing server name");
        if (optind + 1 < argc)
                return cli_usage_error(ctx, "too many arguments");
        *ret_name = argv[optind];
        return 0;
}

void cli_notify_daemon(const cli_ctx *ctx)
{
        cJSON *res = NULL;
        corral_error err = {0};
        int r = cli_rpc(ctx, "corral/reload", NULL, 5000, &res, &err);

        cJSON_Delete(res);
        if (r < 0 && r != -EX_UNAVAILABLE)
                fprintf(stderr, "corral: %s: warning: the daemon did not reload: %s\n", ctx->verb,
                        err.msg);
}
