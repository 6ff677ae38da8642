/* The verbs that work on the store alone, with or without a daemon:
 * uninstall, list, info, enable, disable (install is in install.c). */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/config.h"
#include "corral/docker.h"
#include "corral/jsonutil.h"
#include "corral/oauth_client.h"
#include "corral/resolver.h"
#include "corral/runtime.h"
#include "corral/strbuf.h"
#include "corral/users.h"

/* ---- NAME verbs ------------------------------------------------------- */

/* Parses [--json] [--yes] [--purge] NAME; the flags a verb does not take are
 * refused as unknown.  Returns 0 with *ret_name set, else the exit code. */
static int parse_name_args(cli_ctx *ctx, int argc, char **argv, bool take_purge, bool *ret_purge,
                           const char **ret_name)
{
        static const struct option with_purge[] = {
                {"json", no_argument, NULL, 'j'},
                {"yes", no_argument, NULL, 'y'},
                {"help", no_argument, NULL, 'h'},
                {"purge", no_argument, NULL, 'p'},
                {},
        };
        static const struct option plain[] = {
                {"json", no_argument, NULL, 'j'},
                {"yes", no_argument, NULL, 'y'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        opterr = 0;
        int c;
        while ((c = getopt_long(argc, argv, ":hy", take_purge ? with_purge : plain, NULL)) != -1) {
                switch (c) {
                case 'j':
                        ctx->json = true;
                        break;
                case 'y':
                        ctx->yes = true;
                        break;
                case 'p':
                        *ret_purge = true;
                        break;
                case 'h':
                        (void)cli_usage(ctx);
                        return -1;
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        return cli_name_operand(ctx, argc, argv, ret_name);
}

/* parse_name_args(), then the store, as cli_open_store() does: NULL with
 * *ret_code set (0 after --help) when the verb ends here. */
static store *open_name_verb(cli_ctx *ctx, int argc, char **argv, bool take_purge, bool *ret_purge,
                             const char **ret_name, int *ret_code)
{
        int r = parse_name_args(ctx, argc, argv, take_purge, ret_purge, ret_name);

        if (r != 0) {
                *ret_code = r < 0 ? 0 : r;
                return NULL;
        }
        return cli_open_store(ctx, ret_code);
}

int cli_uninstall(cli_ctx *ctx, int argc, char **argv)
{
        bool purge = false;
        const char *name = NULL;
        int code = 0;
        _cleanup_store_ store *s = open_name_verb(ctx, argc, argv, true, &purge, &name, &code);
        if (!s)
                return code;
        corral_error err = {0};
        if (store_remove(s, name, purge, &err) < 0)
                return cli_fail_error(ctx, &err);
        /* A remote server's OAuth tokens go with it (every user's), deleted
         * by the daemon when one runs (src/cli/state_route.c). */
        cli_state_forget_oauth(ctx, &s->paths, name);
        printf("uninstalled %s%s\n", name, purge ? " and removed its data" : "");
        fflush(stdout);
        cli_notify_daemon(ctx);
        return 0;
}

static int set_enabled(cli_ctx *ctx, int argc, char **argv, bool enabled)
{
        const char *name = NULL;
        int code = 0;
        _cleanup_store_ store *s = open_name_verb(ctx, argc, argv, false, NULL, &name, &code);
        if (!s)
                return code;
        corral_error err = {0};
        if (store_set_enabled(s, name, enabled, &err) < 0)
                return cli_fail_error(ctx, &err);
        printf("%s %s\n", enabled ? "enabled" : "disabled", name);
        fflush(stdout);
        cli_notify_daemon(ctx);
        return 0;
}

int cli_enable(cli_ctx *ctx, int argc, char **argv)
{
        return set_enabled(ctx, argc, argv, true);
}

int cli_disable(cli_ctx *ctx, int argc, char **argv)
{
        return set_enabled(ctx, argc, argv, false);
}

int cli_info(cli_ctx *ctx, int argc, char **argv)
{
        const char *name = NULL;
        int code = 0;
        _cleanup_store_ store *s = open_name_verb(ctx, argc, argv, false, NULL, &name, &code);
        if (!s)
                return code;
        corral_error err = {0};
        _cleanup_manifest_ manifest *m = NULL;
        if (store_load(s, name, &m, &err) < 0)
                return cli_fail_error(ctx, &err);

        /* The unit as a running daemon sees it (state, last error: a list
         * the server failed to give, say); no daemon leaves it out. */
        _cleanup_json_ cJSON *st = NULL;
        const cJSON *unit = NULL;
        corral_error rerr = {0};
        if (cli_rpc(ctx, "corral/status", NULL, 5000, &st, &rerr) >= 0) {
                const cJSON *u;
                cJSON_ArrayForEach(u, json_get_array(st, "units"))
                {
                        const char *n = json_get_string(u, "name");
                        if (n && strcmp(n, m->name) == 0)
                                unit = u;
                }
        }
        /* A container's user namespace, asked of the engine (docker.h). */
        _cleanup_free_ char *userns = NULL;
        bool remapped = false;
        if (strcmp(m->backend, "docker") == 0) {
                corral_error uerr = {0};
                if (docker_userns_report(m->name, s->paths.servers, &remapped, &userns, &uerr) <
                    0)
                        userns = xasprintf("unknown: %s", uerr.msg);
        }
        if (ctx->json) {
                _cleanup_json_ cJSON *j = manifest_to_json(m);
                if (unit)
                        cJSON_AddItemToObject(j, "status", cJSON_Duplicate(unit, true));
                if (userns) {
                        cJSON *u = cJSON_AddObjectToObject(j, "userns");
                        cJSON_AddBoolToObject(u, "remapped", remapped);
                        cJSON_AddStringToObject(u, "detail", userns);
                }
                cli_print_json(j);
                return 0;
        }
        _cleanup_free_ char *cmd = cli_shell_join(m->command);
        _cleanup_free_ char *dir = paths_server_dir(&s->paths, m->name);
        _cleanup_free_ char *data = paths_data_dir(&s->paths, m->name);
        _cleanup_free_ char *log = paths_log_file(&s->paths, m->name);
        FILE *f = stdout;
        fprintf(f, "%-10s %s\n", "name:", m->name);
        cli_print_source_lines(f, m);
        if (m->resolved_commit)
                fprintf(f, "%-10s %s\n", "commit:", m->resolved_commit);
        if (m->resolved_digest)
                fprintf(f, "%-10s %s\n", "digest:", m->resolved_digest);
        if (m->n_lock)
                fprintf(f, "%-10s %zu packages\n", "locked:", m->n_lock);
        fprintf(f, "%-10s %s\n", "backend:", m->backend);
        fprintf(f, "%-10s %s\n", "command:", cmd);
        fprintf(f, "%-10s %s\n", "cwd:", m->cwd);
        cli_print_env_keys(f, "env:", m);
        cli_print_sandbox_line(f, "sandbox:", m);
        cli_print_run_as(f, m);
        fprintf(f, "%-10s %s\n", "network:", m->network);
        if (userns)
                fprintf(f, "%-10s %s\n", "userns:", userns);
        if (strcmp(m->profile, "none") != 0 && strcmp(m->backend, "native") == 0)
                fprintf(f, "%-10s %s\n", "code:",
                        strcmp(manifest_code(m), "overlay") == 0
                                ? "writable overlay (changes in data/NAME/overlay/; corral reset "
                                  "discards them)"
                                : "read-only");
        for (size_t i = 0; m->mounts && m->mounts[i]; i++)
                fprintf(f, "%-10s %s\n", i ? "" : "mounts:", m->mounts[i]);
        /* MCP roots reach the server as the client gave them (issue 11). */
        if (strcmp(m->backend, "remote") != 0)
                fprintf(f, "%-10s %s\n", "roots:",
                        "clients' roots are passed on as given; paths outside the mounts above "
                        "are not reachable from the server's sandbox");
        fprintf(f, "%-10s %s\n", "restart:", m->restart);
        fprintf(f, "%-10s %s\n", "enabled:", m->enabled ? "yes" : "no");
        fprintf(f, "%-10s %s\n", "access:", corral_level_name(m->access_level));
        for (size_t i = 0; i < m->n_tool_access; i++)
                fprintf(f, "%-10s tool %s: %s\n", "", m->tool_access[i].tool,
                        corral_level_name(m->tool_access[i].level));
        if (m->owner)
                fprintf(f, "%-10s %s\n", "owner:", m->owner);
        fprintf(f, "%-10s %s (corral %s)\n", "installed:", m->installed_at, m->corral_version);
        fprintf(f, "%-10s %s\n", "directory:", dir);
        fprintf(f, "%-10s %s\n", "data:", data);
        fprintf(f, "%-10s %s\n", "log:", log);
        if (unit) {
                fprintf(f, "%-10s %s\n", "state:", json_get_string(unit, "state") ?: "-");
                if (json_get_string(unit, "last_error"))
                        fprintf(f, "%-10s %s\n", "error:", json_get_string(unit, "last_error"));
                if (json_get_number(unit, "log_lines_dropped", 0) > 0)
                        fprintf(f, "%-10s %.0f lines dropped (write errors: a full disk?)\n", "",
                                json_get_number(unit, "log_lines_dropped", 0));
        }
        return 0;
}

/* ---- list ------------------------------------------------------------- */

enum { COL_NAME, COL_KIND, COL_VERSION, COL_ENABLED, COL_BACKEND, COL_SANDBOX, N_COLS };

int cli_list(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        opterr = 0;
        int c;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                switch (c) {
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
                return cli_usage_error(ctx, "list takes no arguments");

        int code = 0;
        _cleanup_store_ store *s = cli_open_store(ctx, &code);
        if (!s)
                return code;
        corral_error err = {0};
        _cleanup_strv_ char **names = NULL;
        if (store_list(s, &names, &err) < 0)
                return cli_fail_error(ctx, &err);

        size_t n = strv_length(names);
        manifest **ms = xcalloc(n + 1, sizeof(*ms));
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
                corral_error e = {0};
                if (store_load(s, names[i], &ms[i], &e) < 0) {
                        /* One broken server must not hide the others. */
                        fprintf(stderr, "corral: %s: warning: %s\n", ctx->verb, e.msg);
                        rc = e.code ? e.code : EX_DATAERR;
                        ms[i] = NULL;
                }
        }

        if (ctx->json) {
                _cleanup_json_ cJSON *arr = cJSON_CreateArray();
                for (size_t i = 0; i < n; i++) {
                        const manifest *m = ms[i];
                        if (!m)
                                continue;
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddStringToObject(o, "name", m->name);
                        cJSON_AddStringToObject(o, "kind", m->kind);
                        if (m->resolved_version)
                                cJSON_AddStringToObject(o, "version", m->resolved_version);
                        else
                                cJSON_AddNullToObject(o, "version");
                        cJSON_AddBoolToObject(o, "enabled", m->enabled);
                        cJSON_AddStringToObject(o, "backend", m->backend);
                        cJSON_AddStringToObject(o, "sandbox", m->profile);
                        cJSON_AddBoolToObject(o, "confined", cli_confined(m));
                        cJSON_AddStringToObject(o, "network", m->network);
                        cJSON *cmd = cJSON_AddArrayToObject(o, "command");
                        for (size_t k = 0; m->command[k]; k++)
                                cJSON_AddItemToArray(cmd, cJSON_CreateString(m->command[k]));
                        cJSON_AddStringToObject(o, "spec", m->spec);
                        cJSON_AddItemToArray(arr, o);
                }
                cli_print_json(arr);
        } else {
                static const char *const head[N_COLS] = {"NAME",    "KIND",    "VERSION",
                                                         "ENABLED", "BACKEND", "SANDBOX"};
                size_t w[N_COLS];
                for (size_t k = 0; k < N_COLS; k++)
                        w[k] = strlen(head[k]);
                const char ***rows = xcalloc(n + 1, sizeof(*rows));
                for (size_t i = 0; i < n; i++) {
                        const manifest *m = ms[i];
                        if (!m)
                                continue;
                        rows[i] = xcalloc(N_COLS, sizeof(char *));
                        rows[i][COL_NAME] = m->name;
                        rows[i][COL_KIND] = m->kind;
                        rows[i][COL_VERSION] = m->resolved_version ? m->resolved_version : "-";
                        rows[i][COL_ENABLED] = m->enabled ? "yes" : "no";
                        rows[i][COL_BACKEND] = m->backend;
                        rows[i][COL_SANDBOX] = cli_sandbox_label(m);
                        for (size_t k = 0; k < N_COLS; k++)
                                if (strlen(rows[i][k]) > w[k])
                                        w[k] = strlen(rows[i][k]);
                }
                printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], head[0], (int)w[1], head[1],
                       (int)w[2], head[2], (int)w[3], head[3], (int)w[4], head[4], head[5]);
                for (size_t i = 0; i < n; i++) {
                        if (!rows[i])
                                continue;
                        printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], rows[i][0],
                               (int)w[1], rows[i][1], (int)w[2], rows[i][2], (int)w[3], rows[i][3],
                               (int)w[4], rows[i][4], rows[i][5]);
                        free(rows[i]);
                }
                free(rows);
        }
        for (size_t i = 0; i < n; i++)
                manifest_free(ms[i]);
        free(ms);
        return rc;
}
