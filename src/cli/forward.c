/* Issue 15: a user's change to a store that is not theirs goes to the daemon
 * of that store (corral/exec on the control socket), which runs the verb for
 * the caller's user (SO_PEERCRED) with the site's rules; its output and exit
 * code come back here. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/jsonutil.h"
#include "corral/fs.h"
#include "corral/paths.h"

/* The verbs a user may ask the daemon for (the daemon keeps the same list). */
static const char *const forwarded[] = {"install", "uninstall", "enable", "disable",
                                        "access",  "reset",     "logs"};

/* An install may fetch and build for minutes. */
#define FORWARD_TIMEOUT_MS (30u * 60 * 1000)

bool cli_should_forward(const cli_ctx *ctx, const char *verb)
{
        bool listed = false;

        for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
                listed |= strcmp(forwarded[i], verb) == 0;
        return listed && cli_store_needs_daemon(ctx);
}

bool cli_store_needs_daemon(const cli_ctx *ctx)
{
        corral_paths p = {0};
        struct stat st;
        bool yes = false;

        if (geteuid() == 0)
                return false;
        if (paths_init(&p, ctx->root, NULL) < 0)
                return false;
        /* The store is someone else's (a system store) and its daemon runs. */
        yes = access(p.servers, W_OK) < 0 && dir_exists(p.servers) &&
              stat(p.control_sock, &st) == 0 && S_ISSOCK(st.st_mode);
        paths_done(&p);
        return yes;
}

static void write_out(FILE *f, const char *s)
{
        if (s && *s) {
                fputs(s, f);
                fflush(f);
        }
}

/* corral/output of a streamed job (logs -f): written as it comes; < 0 once
 * stdout is gone (the reader quit), which ends the follow. */
static int on_output(void *ud, const char *method, const cJSON *params)
{
        const char *data = json_get_string(params, "data");
        bool to_err = strcmp(json_get_string(params, "stream") ?: "", "stderr") == 0;
        FILE *f = to_err ? stderr : stdout;

        (void)ud;
        if (strcmp(method ?: "", "corral/output") != 0 || !data)
                return 0;
        if (fputs(data, f) == EOF || fflush(f) == EOF)
                return to_err ? 0 : -1;
        return 0;
}

int cli_forward(cli_ctx *ctx, int argc, char **argv)
{
        return cli_forward_with(ctx, argc, argv, NULL, NULL);
}

int cli_forward_with(cli_ctx *ctx, int argc, char **argv, const char *input, char **ret_stdout)
{
        cJSON *params = cJSON_CreateObject(), *args, *res = NULL;
        corral_error err = {0};
        int code;

        bool stream = false;

        if (strcmp(argv[0], "logs") == 0)
                for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                        stream |= strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0;
        if (stream)
                cJSON_AddTrueToObject(params, "stream");
        cJSON_AddStringToObject(params, "verb", argv[0]);
        args = cJSON_AddArrayToObject(params, "args");
        for (int i = 1; i < argc; i++)
                cJSON_AddItemToArray(args, cJSON_CreateString(argv[i]));
        cJSON_AddBoolToObject(params, "json", ctx->json);
        cJSON_AddBoolToObject(params, "yes", ctx->yes);
        cJSON_AddBoolToObject(params, "quiet", ctx->quiet);
        if (input)
                cJSON_AddStringToObject(params, "stdin", input);
        if (cli_rpc_stream(ctx, "corral/exec", params, stream ? 0 : FORWARD_TIMEOUT_MS,
                           on_output, NULL, &res, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (!res)
                return 0; /* our reader went away: stop following */
        if (ret_stdout)
                *ret_stdout = xstrdup(json_get_string(res, "stdout") ?: "");
        else
                write_out(stdout, json_get_string(res, "stdout"));
        write_out(stderr, json_get_string(res, "stderr"));
        code = (int)json_get_number(res, "exit", EX_SOFTWARE);
        cJSON_Delete(res);
        return code;
}
