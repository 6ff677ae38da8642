/* `corral import FILE|-|--from CLIENT`: a client's MCP server list becomes
 * corral installs (include/corral/importer.h maps the entries; each one is
 * installed through resolver_install(), the path `corral install` takes). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/fs.h"
#include "corral/importer.h"
#include "corral/jsonutil.h"
#include "corral/resolver.h"
#include "corral/strbuf.h"

/* The client's own config on Linux. */
static char *client_path(const char *client, corral_error *err)
{
        const char *home = getenv("HOME");
        const char *xdg = getenv("XDG_CONFIG_HOME");
        _cleanup_free_ char *cfg = NULL;

        if (!home || !*home)
                return corral_error_set(err, EX_CONFIG, "HOME is not set"), NULL;
        cfg = xdg && *xdg == '/' ? xstrdup(xdg) : path_join(home, ".config");
        if (strcmp(client, "claude-desktop") == 0)
                return path_join(cfg, "Claude/claude_desktop_config.json");
        if (strcmp(client, "vscode") == 0) {
                if (path_exists(".vscode/mcp.json"))
                        return xstrdup(".vscode/mcp.json");
                return path_join(cfg, "Code/User/mcp.json");
        }
        if (strcmp(client, "cursor") == 0) {
                if (path_exists(".cursor/mcp.json"))
                        return xstrdup(".cursor/mcp.json");
                return path_join(home, ".cursor/mcp.json");
        }
        if (strcmp(client, "claude-code") == 0) {
                /* ~/.claude.json (user and local scopes) with the project's
                 * .mcp.json merged in by the verb; .mcp.json alone without it. */
                char *p = path_join(home, ".claude.json");
                if (!path_exists(p) && path_exists(".mcp.json")) {
                        free(p);
                        return xstrdup(".mcp.json");
                }
                return p;
        }
        corral_error_set(err, EX_USAGE,
                         "unknown client '%.32s' (claude-desktop, vscode, cursor, claude-code)",
                         client);
        return NULL;
}

/* Reads FILE or stdin ("-"), capped. */
static int read_config(const char *file, char **ret, size_t *ret_len, corral_error *err)
{
        if (strcmp(file, "-") != 0) {
                int r = read_file(file, IMPORT_MAX_BYTES, ret, ret_len);
                if (r == -EFBIG)
                        return corral_error_set(err, EX_DATAERR, "%s: larger than %u bytes", file,
                                                IMPORT_MAX_BYTES);
                if (r < 0)
                        return corral_error_errno(err, r == -ENOENT ? EX_NOINPUT : EX_NOINPUT,
                                                  -r, "cannot read %s", file);
                return 0;
        }
        strbuf b = STRBUF_INIT(IMPORT_MAX_BYTES);
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
                if (strbuf_append(&b, buf, n) < 0) {
                        strbuf_done(&b);
                        return corral_error_set(err, EX_DATAERR,
                                                "stdin: larger than %u bytes", IMPORT_MAX_BYTES);
                }
        *ret_len = b.len;
        *ret = strbuf_steal(&b);
        return 0;
}

/* VS Code inputs: the environment, else a question on the terminal. */
typedef struct input_ud {
        bool can_ask;
} input_ud;

static char *ask_input(void *ud, const char *id, bool password, const char *description)
{
        input_ud *in = ud;
        _cleanup_free_ char *var = importer_input_var(id);
        const char *v = getenv(var);
        struct termios old, quiet;
        char line[4096];
        bool restore = false;

        if (v)
                return xstrdup(v);
        if (!in->can_ask)
                return NULL;
        fprintf(stderr, "%s (input '%s'): ", description ? description : "Value", id);
        fflush(stderr);
        if (password && tcgetattr(STDIN_FILENO, &old) == 0) {
                quiet = old;
                quiet.c_lflag &= ~(tcflag_t)ECHO;
                restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
        char *got = fgets(line, sizeof(line), stdin);
        if (restore) {
                (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
                fputc('\n', stderr);
        }
        if (!got)
                return NULL;
        line[strcspn(line, "\r\n")] = '\0';
        return xstrdup(line);
}

static const char *action_word(import_action a)
{
        switch (a) {
        case IMPORT_INSTALL:
                return "install";
        case IMPORT_SKIP:
                return "not installable";
        case IMPORT_REFUSED:
                return "refused";
        case IMPORT_UNCHANGED:
                return "unchanged";
        case IMPORT_CONFLICT:
                return "conflict";
        }
        return "?";
}

static void print_list(FILE *f, const char *label, char *const *v, bool keys_only)
{
        if (!v || !v[0])
                return;
        fprintf(f, "      %-8s ", label);
        for (size_t i = 0; v[i]; i++) {
                const char *sep = keys_only ? strpbrk(v[i], "=:") : NULL;
                if (sep)
                        fprintf(f, "%s%.*s", i ? ", " : "", (int)(sep - v[i]), v[i]);
                else
                        fprintf(f, "%s%s", i ? " " : "", v[i]);
        }
        fputc('\n', f);
}

static void print_plan(FILE *f, const char *source, const import_plan *p)
{
        fprintf(f, "Import from %s (%s format): %zu server%s\n", source,
                strcmp(p->format, "vscode") == 0 ? "VS Code" : "mcpServers", p->n,
                p->n == 1 ? "" : "s");
        for (size_t i = 0; i < p->n; i++) {
                const import_entry *e = &p->entries[i];
                fprintf(f, "  %-16s %-15s %s\n", e->name, action_word(e->action),
                        e->action == IMPORT_INSTALL || e->action == IMPORT_UNCHANGED
                                ? e->spec
                                : e->reason);
                if (e->action != IMPORT_INSTALL)
                        continue;
                print_list(f, "args:", e->command, false);
                print_list(f, "args:", e->image_args, false);
                print_list(f, "env:", e->env, true);
                print_list(f, "secrets:", e->secret_env, true);
                print_list(f, "headers:", e->headers, true);
                print_list(f, "secret:", e->secret_headers, true);
                print_list(f, "mounts:", e->mounts, false);
                if (e->disabled)
                        fprintf(f, "      %-8s installed disabled (\"disabled\": true)\n", "");
                for (size_t k = 0; e->notes && e->notes[k]; k++)
                        fprintf(f, "      note:    %s\n", e->notes[k]);
        }
}

static cJSON *strv_json(char *const *v, bool keys_only)
{
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; v && v[i]; i++) {
                const char *sep = keys_only ? strpbrk(v[i], "=:") : NULL;
                _cleanup_free_ char *s = sep ? xstrndup(v[i], (size_t)(sep - v[i])) : xstrdup(v[i]);
                cJSON_AddItemToArray(a, cJSON_CreateString(s));
        }
        return a;
}

static cJSON *entry_json(const import_entry *e, const char *result, const char *error)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", e->key);
        cJSON_AddStringToObject(o, "name", e->name);
        cJSON_AddStringToObject(o, "action", action_word(e->action));
        if (e->reason)
                cJSON_AddStringToObject(o, "reason", e->reason);
        if (e->spec)
                cJSON_AddStringToObject(o, "spec", e->spec);
        if (e->kind)
                cJSON_AddStringToObject(o, "kind", e->kind);
        cJSON_AddItemToObject(o, "args", strv_json(e->command ? e->command : e->image_args, false));
        cJSON_AddItemToObject(o, "env", strv_json(e->env, true));
        cJSON_AddItemToObject(o, "secret_env", strv_json(e->secret_env, true));
        cJSON_AddItemToObject(o, "headers", strv_json(e->headers, true));
        cJSON_AddItemToObject(o, "secret_headers", strv_json(e->secret_headers, true));
        cJSON_AddItemToObject(o, "mounts", strv_json(e->mounts, false));
        cJSON_AddItemToObject(o, "notes", strv_json(e->notes, false));
        if (result)
                cJSON_AddStringToObject(o, "result", result);
        if (error)
                cJSON_AddStringToObject(o, "error", error);
        return o;
}

/* Already installed under that name: the same source is a no-op, another
 * one a conflict unless --force. */
static void check_installed(store *s, import_entry *e, bool force)
{
        _cleanup_manifest_ manifest *m = NULL;
        corral_error err = {0};

        if (e->action != IMPORT_INSTALL || store_load(s, e->name, &m, &err) < 0)
                return;
        bool same = strcmp(m->spec, e->spec) == 0 ||
                    (m->resolved_url && strcmp(e->kind, "local") == 0 &&
                     strcmp(m->resolved_url, e->spec) == 0);
        if (same && !force) {
                e->action = IMPORT_UNCHANGED;
                return;
        }
        if (!force) {
                e->action = IMPORT_CONFLICT;
                e->reason = xasprintf("'%s' is installed from %s; --force replaces it", e->name,
                                      m->spec);
        }
}

/* One entry through the install path; 0 or the failure's exit code with
 * err set. */
static int install_entry(const cli_ctx *ctx, store *s, const import_entry *e, bool force,
                         corral_error *err)
{
        install_options opt = {0};
        _cleanup_strv_ char **mounts = NULL;
        int r;

        for (size_t i = 0; e->mounts && e->mounts[i]; i++) {
                char *m = NULL;
                if ((r = cli_mount_normalize(e->mounts[i], &m, err)) < 0)
                        return r;
                mounts = strv_push(mounts, m);
                free(m);
                if ((r = cli_mount_check_idmap(mounts[i], 0, err)) < 0)
                        return r;
        }
        if (strcmp(e->kind, "docker") != 0 && (r = cli_check_path_args(e->spec, e->command, err)) < 0)
                return r;
        opt.spec = e->spec;
        opt.name = e->name;
        opt.force = force;
        opt.remote = e->remote;
        opt.transport = e->transport;
        opt.command = e->command;
        opt.image_args = e->image_args;
        opt.env = e->env;
        opt.secret_env = e->secret_env;
        opt.headers = e->headers;
        opt.secret_headers = e->secret_headers;
        opt.mounts = mounts;
        opt.progress = isatty(STDERR_FILENO) && !ctx->json ? INSTALL_PROGRESS_TTY
                                                           : INSTALL_PROGRESS_NONE;
        if ((r = resolver_install(s, &opt, NULL, err)) < 0)
                return r;
        if (e->disabled && (r = store_set_enabled(s, e->name, false, err)) < 0)
                return r;
        return 0;
}

static bool confirm(void)
{
        char line[64];
        fprintf(stderr, "Import? [y/N] ");
        fflush(stderr);
        if (!fgets(line, sizeof(line), stdin))
                return false;
        return strcmp(line, "y\n") == 0 || strcmp(line, "Y\n") == 0 ||
               strcasecmp(line, "yes\n") == 0;
}

int cli_import(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"from", required_argument, NULL, 'F'},   {"dry-run", no_argument, NULL, 'D'},
                {"yes", no_argument, NULL, 'y'},          {"json", no_argument, NULL, 'j'},
                {"force", no_argument, NULL, 'f'},        {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *from = NULL, *file = NULL;
        bool dry_run = false, force = false;
        _cleanup_free_ char *path = NULL, *text = NULL, *base_dir = NULL;
        _cleanup_free_ char *project_text = NULL, *label = NULL;
        import_plan plan = {0};
        corral_error err = {0};
        size_t len = 0, project_len = 0;
        int c, code = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hy", opts, NULL)) != -1) {
                switch (c) {
                case 'F':
                        from = optarg;
                        break;
                case 'D':
                        dry_run = true;
                        break;
                case 'y':
                        ctx->yes = true;
                        break;
                case 'j':
                        ctx->json = true;
                        break;
                case 'f':
                        force = true;
                        break;
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if (optind < argc)
                file = argv[optind++];
        if (optind < argc)
                return cli_usage_error(ctx, "more than one FILE");
        if (!!file == !!from)
                return cli_usage_error(ctx, "give one FILE, '-' for stdin, or --from CLIENT");
        if (from) {
                path = client_path(from, &err);
                if (!path)
                        return cli_fail_error(ctx, &err);
                file = path;
        }
        if (read_config(file, &text, &len, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (from && strcmp(from, "claude-code") == 0 && strcmp(file, ".mcp.json") != 0 &&
            path_exists(".mcp.json")) {
                /* Claude Code's project scope, between ~/.claude.json's two. */
                if (read_config(".mcp.json", &project_text, &project_len, &err) < 0)
                        return cli_fail_error(ctx, &err);
                label = xasprintf("%s and ./.mcp.json", file);
                base_dir = getcwd(NULL, 0);
        } else if (strcmp(file, "-") != 0) {
                /* Relative paths in the config start at its project. */
                _cleanup_free_ char *abs = path_absolute(file);
                if (abs) {
                        *strrchr(abs, '/') = '\0';
                        size_t n = strlen(abs);
                        if (n >= 8 && (strcmp(abs + n - 8, "/.vscode") == 0 ||
                                       strcmp(abs + n - 8, "/.cursor") == 0))
                                abs[n - 8] = '\0';
                        base_dir = xstrdup(abs[0] ? abs : "/");
                }
        }
        input_ud iu = {.can_ask = strcmp(file, "-") != 0 && isatty(STDIN_FILENO) && !dry_run};
        /* ~/.claude.json keys each project's servers by its directory. */
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        import_context ic = {.input = ask_input, .input_ud = &iu, .base_dir = base_dir,
                             .project = cwd, .project_json = project_text,
                             .project_json_len = project_len};
        if (importer_parse(text, len, &ic, &plan, &err) < 0) {
                corral_error_prefix(&err, "%s",
                                    label ? label : strcmp(file, "-") == 0 ? "stdin" : file);
                return cli_fail_error(ctx, &err);
        }

        _cleanup_store_ store *s = cli_open_store(ctx, &code);
        if (!s) {
                import_plan_done(&plan);
                return code;
        }
        size_t todo = 0;
        for (size_t i = 0; i < plan.n; i++) {
                check_installed(s, &plan.entries[i], force);
                todo += plan.entries[i].action == IMPORT_INSTALL;
        }
        const char *source = label ? label : strcmp(file, "-") == 0 ? "stdin" : file;
        if (dry_run) {
                if (ctx->json) {
                        _cleanup_json_ cJSON *a = cJSON_CreateArray();
                        for (size_t i = 0; i < plan.n; i++)
                                cJSON_AddItemToArray(a, entry_json(&plan.entries[i], NULL, NULL));
                        cli_print_json(a);
                } else {
                        print_plan(stdout, source, &plan);
                        printf("(dry run: nothing installed)\n");
                }
                import_plan_done(&plan);
                return 0;
        }
        if (!ctx->json || !ctx->yes)
                print_plan(stderr, source, &plan);
        if (todo > 0 && !ctx->yes) {
                if (strcmp(file, "-") == 0 || !isatty(STDIN_FILENO)) {
                        import_plan_done(&plan);
                        return cli_fail(ctx, EX_USAGE,
                                        "refusing a non-interactive import without --yes");
                }
                if (!confirm()) {
                        import_plan_done(&plan);
                        fprintf(stderr, "corral: import: cancelled; nothing installed\n");
                        return CLI_EXIT_DECLINED;
                }
        }

        /* Each entry on its own: one that fails leaves the others be. */
        _cleanup_json_ cJSON *results = cJSON_CreateArray();
        size_t done = 0, failed = 0, unchanged = 0, skipped = 0;
        int first_fail = 0;
        for (size_t i = 0; i < plan.n; i++) {
                import_entry *e = &plan.entries[i];
                corral_error ierr = {0};
                const char *result = action_word(e->action);

                switch (e->action) {
                case IMPORT_INSTALL: {
                        int r = install_entry(ctx, s, e, force, &ierr);
                        if (r < 0) {
                                failed++;
                                first_fail = first_fail ? first_fail : (ierr.code ? ierr.code : -r);
                                result = "failed";
                                if (!ctx->json)
                                        printf("failed %s: %s\n", e->name, ierr.msg);
                        } else {
                                done++;
                                result = "imported";
                                if (!ctx->json)
                                        printf("imported %s (%s %s)\n", e->name, e->kind, e->spec);
                        }
                        break;
                }
                case IMPORT_UNCHANGED:
                        unchanged++;
                        break;
                case IMPORT_REFUSED:
                case IMPORT_CONFLICT:
                        failed++;
                        first_fail = first_fail ? first_fail
                                                : (e->action == IMPORT_CONFLICT ? EX_CANTCREAT
                                                                                : EX_DATAERR);
                        break;
                case IMPORT_SKIP:
                        skipped++;
                        break;
                }
                cJSON_AddItemToArray(results, entry_json(e, result, ierr.msg[0] ? ierr.msg : NULL));
        }
        if (ctx->json)
                cli_print_json(results);
        else
                printf("import: %zu imported, %zu unchanged, %zu failed, %zu not installable\n",
                       done, unchanged, failed, skipped);
        fflush(stdout);
        import_plan_done(&plan);
        if (done > 0)
                cli_notify_daemon(ctx);
        if (failed > 0) {
                fprintf(stderr, "corral: import: %zu of %zu server%s not imported (see above)\n",
                        failed, failed + done + unchanged + skipped,
                        failed + done + unchanged + skipped == 1 ? "" : "s");
                return first_fail;
        }
        return 0;
}
