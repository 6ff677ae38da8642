/* `corral run NAME`: one installed server, sandboxed, on the caller's stdio,
 * for MCP clients that spawn servers themselves
 * ("command": "corral", "args": ["run", "memory"]).  corral execs
 * corral-sandbox, which stays the parent of the server, so the client's
 * signals and the server's exit status pass straight through. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/fs.h"
#include "corral/expand.h"
#include "corral/manifest.h"
#include "corral/sandbox.h"

extern char **environ;

int cli_run(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        _cleanup_(sandbox_invocation_done) sandbox_invocation inv = {0};
        _cleanup_strv_ char **args = NULL;
        _cleanup_close_ int mfd = -1;
        corral_error err = {0};
        manifest *m = NULL;
        store *s;
        int c, code;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
                if (c == 'h')
                        return cli_usage(ctx);
                return cli_bad_option(ctx, c, argv);
        }
        const char *name;
        if ((code = cli_name_operand(ctx, argc, argv, &name)) != 0)
                return code;
        s = cli_open_store(ctx, &code);
        if (!s)
                return code;
        if (store_load(s, name, &m, &err) < 0) {
                code = cli_fail_error(ctx, &err);
                s = store_free(s);
                return code;
        }
        if (strcmp(m->backend, "native") != 0) {
                code = cli_fail(ctx, EX_UNAVAILABLE,
                                "%s runs on the %s backend: corral run starts native servers only",
                                m->name, m->backend);
                goto out;
        }
        if (strcmp(m->profile, "none") == 0) {
                code = cli_fail(ctx, EX_CONFIG,
                                "%s is installed with --sandbox none: corral run only starts "
                                "sandboxed servers",
                                m->name);
                goto out;
        }
        {
                /* Secrets and ${VAR} references, as the daemon fills them in. */
                manifest *eff = NULL;
                if (expand_manifest(m, &s->paths, &eff, &err) < 0) {
                        code = cli_fail_error(ctx, &err);
                        goto out;
                }
                if (eff) {
                        manifest_free(m);
                        m = eff;
                }
        }
        if (sandbox_invocation_for(m, &s->paths, &inv, &err) < 0) {
                code = cli_fail_error(ctx, &err);
                goto out;
        }
        mfd = memfd_create("corral-policy", 0);
        if (mfd < 0 || write_all(mfd, inv.policy, strlen(inv.policy)) < 0) {
                code = cli_fail(ctx, EX_OSERR, "cannot pass the policy: %s", strerror(errno));
                goto out;
        }
        {
                _cleanup_free_ char *policy = xasprintf("/dev/fd/%d", mfd);
                args = strv_push(args, inv.launcher);
                args = strv_push(args, "--policy");
                args = strv_push(args, policy);
                args = strv_push(args, "--");
                for (size_t i = 0; inv.argv[i]; i++)
                        args = strv_push(args, inv.argv[i]);
        }
        manifest_free(m);
        m = NULL;
        s = store_free(s);
        s = NULL;
        fflush(stdout);
        execve(args[0], args, environ);
        return cli_fail(ctx, errno == ENOENT ? EX_UNAVAILABLE : EX_OSERR, "cannot execute %s: %s",
                        args[0], strerror(errno));
out:
        manifest_free(m);
        s = store_free(s);
        return code;
}
