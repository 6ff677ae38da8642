/* Helpers shared by the verbs: one-line errors, store opening, JSON output. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/jsonutil.h"
#include "corral/config.h"
#include "corral/users.h"

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
        s->as_user = cli_acting_user(ctx, &s->paths);
        return s;
}

const char *cli_acting_user(const cli_ctx *ctx, const corral_paths *p)
{
        static char self[256];
        _cleanup_free_ char *name = NULL;
        _cleanup_json_ cJSON *config = NULL;
        users_site site = {0};
        bool admin;

        if (ctx->as_user)
                return ctx->as_user;
        if (geteuid() == 0 || access(p->servers, W_OK) == 0)
                return NULL;
        /* An admin sees everything (a config it cannot read: the defaults). */
        (void)config_load(p, &config, NULL);
        if (users_site_load(config, &site, NULL) < 0)
                (void)users_site_load(NULL, &site, NULL);
        admin = users_uid_is_admin(&site, getuid());
        users_site_done(&site);
        if (admin)
                return NULL;
        name = users_name_of_uid(getuid());
        /* No passwd entry: a name no manifest can hold. */
        snprintf(self, sizeof(self), "%s", name ? name : "#unknown-user");
        return self;
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
