/* The verbs that work on the store alone, with or without a daemon:
 * install, uninstall, list, info, enable, disable. */
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

#define MAX_CLI_ENV 256

/* Reports an unknown option or a missing value the way getopt would, but as
 * one corral line, then the usage hint. */
/* Command lines for people: words joined by spaces, quoted when needed. */
static char *shell_join(char *const *argv)
{
        strbuf b = STRBUF_INIT(0);
        for (size_t i = 0; argv && argv[i]; i++) {
                const char *a = argv[i];
                bool plain = a[0] != '\0';
                for (const char *p = a; *p && plain; p++)
                        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789@%+=:,./_-",
                                       *p) != NULL;
                if (i)
                        (void)strbuf_append(&b, " ", 1);
                if (plain) {
                        (void)strbuf_append(&b, a, strlen(a));
                        continue;
                }
                (void)strbuf_append(&b, "'", 1);
                for (const char *p = a; *p; p++) {
                        if (*p == '\'')
                                (void)strbuf_append(&b, "'\\''", 4);
                        else
                                (void)strbuf_append(&b, p, 1);
                }
                (void)strbuf_append(&b, "'", 1);
        }
        return strbuf_steal(&b);
}

static bool confined(const manifest *m)
{
        const runtime_backend *be = runtime_backend_find(m->backend);
        return be && be->confines && strcmp(m->profile, "none") != 0;
}

/* The SANDBOX column: the policy when a backend enforces it, else the truth. */
static const char *sandbox_label(const manifest *m)
{
        return confined(m) ? m->profile : "unconfined";
}

static void print_sandbox_line(FILE *f, const char *label, const manifest *m)
{
        if (strcmp(m->profile, "none") == 0)
                fprintf(f, "%-10s none (the server runs unconfined)\n", label);
        else
                fprintf(f, "%-10s %s (memory %u MiB, %u pids, %g cpus)%s\n", label,
                        m->profile, m->memory_mb, m->pids, m->cpus,
                        confined(m) ? ""
                                    : "; recorded, not enforced: the native backend does not "
                                      "confine servers yet");
}

/* The source and what it resolved to, as install's prompt and info show it. */
static void print_source_lines(FILE *f, const manifest *m)
{
        fprintf(f, "%-10s %s (%s)\n", "source:", m->spec, m->kind);
        if (m->resolved_url)
                fprintf(f, "%-10s %s\n", "from:", m->resolved_url);
        fprintf(f, "%-10s %s\n", "version:", m->resolved_version ? m->resolved_version : "-");
        if (m->resolved_integrity)
                fprintf(f, "%-10s %s\n", "integrity:", m->resolved_integrity);
}

static void print_env_keys(FILE *f, const char *label, const manifest *m)
{
        if (m->n_env == 0)
                return;
        fprintf(f, "%-10s ", label);
        for (size_t i = 0; i < m->n_env; i++)
                fprintf(f, "%s%s", i ? ", " : "", m->env[i].key);
        fprintf(f, " (values not shown)\n");
}

/* The host paths the server will see: its mounts, and the command's
 * arguments naming existing host paths, which are bound read-only. */
/* The absolute paths among a native server's command arguments that exist
 * on the host and have no mount of their own: the sandbox binds them
 * read-only.  Owned, NULL-terminated; NULL when there are none. */
static char **command_paths(const manifest *m)
{
        char **paths = NULL;

        if (strcmp(m->backend, "native") != 0)
                return NULL;
        for (size_t i = 1; m->command && m->command[i]; i++) {
                const char *a = m->command[i];
                bool listed = false;
                struct stat st;

                if (a[0] != '/' || stat(a, &st) < 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
                        continue;
                for (size_t k = 0; m->mounts && m->mounts[k]; k++)
                        listed |= strncmp(m->mounts[k], a, strlen(a)) == 0 &&
                                  m->mounts[k][strlen(a)] == ':';
                if (!listed)
                        paths = strv_push(paths, a);
        }
        return paths;
}

static void print_run_as(FILE *f, const manifest *m)
{
        if (m->run_uid)
                fprintf(f, "%-10s uid %u gid %u (the owner of its read-write mounts, which cannot "
                           "be idmapped; --run-as-owner)\n",
                        "runs as:", m->run_uid, m->run_gid);
}

static void print_mount_lines(FILE *f, const manifest *m)
{
        _cleanup_strv_ char **paths = command_paths(m);
        bool first = true;

        for (size_t i = 0; m->mounts && m->mounts[i]; i++, first = false)
                fprintf(f, "%-10s %s%s\n", first ? "mounts:" : "", m->mounts[i],
                        cli_mount_is_rw(m->mounts[i])
                                ? " (writes belong to the directory's owner; never chowned)"
                                : "");
        for (size_t i = 0; paths && paths[i]; i++, first = false)
                fprintf(f, "%-10s %s:ro (from the command; --mount %s:rw lets the server write "
                           "there)\n",
                        first ? "mounts:" : "", paths[i], paths[i]);
}

/* ---- install ---------------------------------------------------------- */

/* The answer to a question on stdin, lower-cased, without the newline (at
 * most 15 characters; the rest of a longer line is read and dropped). */
static void read_answer(char *buf, size_t size)
{
        size_t n = 0;
        int c;

        while ((c = getchar()) != EOF && c != '\n')
                if (n + 1 < size)
                        buf[n++] = (char)tolower(c);
        buf[n] = '\0';
        if (c == EOF)
                fputc('\n', stderr);
}

/* The install's confirmation on a TTY.  When the command names host paths
 * (bound read-only), "rw" installs with those paths as read-write mounts
 * (idmapped binds, checked here like --mount PATH:rw). */
static int confirm_install(manifest *m, void *userdata, corral_error *err)
{
        _cleanup_free_ char *cmd = shell_join(m->command);
        _cleanup_strv_ char **paths = command_paths(m);
        FILE *f = stderr;
        char answer[16];
        int r;

        fprintf(f, "About to install '%s':\n", m->name);
        print_source_lines(f, m);
        if (m->resolved_digest)
                fprintf(f, "%-10s %s\n", "digest:", m->resolved_digest);
        if (m->resolved_commit)
                fprintf(f, "%-10s %s\n", "commit:", m->resolved_commit);
        fprintf(f, "%-10s %s\n", "command:", cmd);
        print_env_keys(f, "env:", m);
        print_sandbox_line(f, "sandbox:", m);
        print_run_as(f, m);
        fprintf(f, "%-10s %s\n", "network:", m->network);
        print_mount_lines(f, m);
        if (paths)
                fprintf(f, "Install? [y/N, or rw: install and let it write to the paths above] ");
        else
                fprintf(f, "Install? [y/N] ");
        fflush(f);

        read_answer(answer, sizeof(answer));
        if (paths && strcmp(answer, "rw") == 0) {
                for (size_t i = 0; paths[i]; i++) {
                        _cleanup_free_ char *entry = xasprintf("%s:rw", paths[i]);
                        if ((r = cli_mount_check_idmap(entry, m->run_uid, err)) < 0)
                                return r;
                        m->mounts = strv_push(m->mounts, entry);
                        fprintf(f, "%-10s %s (writes belong to the directory's owner; never "
                                   "chowned)\n",
                                "mounts:", entry);
                }
                return 0;
        }
        if (strcmp(answer, "y") != 0 && strcmp(answer, "yes") != 0)
                return corral_error_set(err, CLI_EXIT_DECLINED, "install of '%s' cancelled", m->name);
        return 0;
}

/* What install's confirm hook does: the site's rules for a user's install
 * (issue 15), then the question on a TTY. */
typedef struct install_check {
        cli_ctx *ctx;
        store *s;
        users_site site;
        bool user, ask;
} install_check;

static void install_check_done(install_check *c)
{
        users_site_done(&c->site);
}

static int install_confirm(manifest *m, void *userdata, corral_error *err)
{
        install_check *c = userdata;
        unsigned count = 0, memory = 0;
        int r;

        if (c->user) {
                /* A reinstall of their own server does not count twice. */
                r = store_owned_by(c->s, c->s->as_user, m->name, &count, &memory, err);
                if (r < 0)
                        return r;
                r = users_check_manifest(&c->site, m, count, memory, err);
                if (r < 0)
                        return r;
        }
        return c->ask ? confirm_install(m, c->ctx, err) : 0;
}

/* The site policy (corral.json "site") and the checks on the spec a user's
 * install can make before fetching.  0, or the exit code after the error. */
static int user_check_spec(cli_ctx *ctx, store *s, const install_options *opt,
                           users_site *ret_site)
{
        _cleanup_json_ cJSON *config = NULL;
        corral_error err = {0};
        source_spec spec = {0};
        int r;

        if (config_load(&s->paths, &config, &err) < 0 ||
            users_site_load(config, ret_site, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (opt->remote && !(ret_site->sources & (1u << SPEC_REMOTE)))
                return cli_fail(ctx, EX_NOPERM, "remote servers are for admins on this site "
                                                "(corral.json site.user_sources)");
        if (spec_parse(&spec, opt->spec, opt->remote, &err) < 0)
                return cli_fail_error(ctx, &err);
        r = users_check_spec(ret_site, &spec, opt->command, opt->mounts, &err);
        spec_done(&spec);
        if (r < 0)
                return cli_fail_error(ctx, &err);
        if (opt->sandbox) {
                bool ok = false;
                for (size_t i = 0; ret_site->profiles[i]; i++)
                        ok |= strcmp(ret_site->profiles[i], opt->sandbox) == 0;
                if (!ok)
                        return cli_fail(ctx, EX_NOPERM,
                                        "--sandbox %s is for admins on this site "
                                        "(corral.json site.user_profiles)",
                                        opt->sandbox);
        }
        return 0;
}

int cli_install(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"name", required_argument, NULL, 'n'},
                {"force", no_argument, NULL, 'f'},
                {"env", required_argument, NULL, 'e'},
                {"sandbox", required_argument, NULL, 's'},
                {"remote", no_argument, NULL, 'R'},
                {"yes", no_argument, NULL, 'y'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {"registry", required_argument, NULL, 'G'},
                {"offline", no_argument, NULL, 'O'},
                {"frozen", no_argument, NULL, 'Z'},
                {"allow-scripts", no_argument, NULL, 'S'},
                {"submodules", no_argument, NULL, 'M'},
                {"access", required_argument, NULL, 'A'},
                {"header", required_argument, NULL, 'H'},
                {"secret-header", required_argument, NULL, 'K'},
                {"transport", required_argument, NULL, 'T'},
                {"insecure-http", no_argument, NULL, 'I'},
                {"mount", required_argument, NULL, 'm'},
                {"dry-run", no_argument, NULL, 'D'},
                {"quiet", no_argument, NULL, 'q'},
                {"run-as-owner", no_argument, NULL, 'W'},
                {"set", required_argument, NULL, 'V'},
                {"config", required_argument, NULL, 'C'},
                {"package", required_argument, NULL, 'P'},
                {},
        };
        install_options opt = {0};
        _cleanup_strv_ char **sets = NULL;
        _cleanup_strv_ char **headers = NULL, **secret_names = NULL, **secret_headers = NULL;
        _cleanup_strv_ char **mounts = NULL;
        size_t n_mounts = 0;
        bool run_as_owner = false;
        corral_error merr = {0};
        const char *access = NULL;
        corral_level access_level = CORRAL_LEVEL_DEFAULT;
        _cleanup_strv_ char **env = NULL;
        _cleanup_strv_ char **command = NULL;
        size_t n_env = 0;

        /* Everything after "--" is the server's command, never options. */
        int nopts = argc;
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "--") == 0) {
                        nopts = i;
                        break;
                }
        if (nopts < argc) {
                if (nopts + 1 == argc)
                        return cli_usage_error(ctx, "missing command after --");
                command = strv_copy(argv + nopts + 1);
        }

        opterr = 0;
        int c;
        while ((c = getopt_long(nopts, argv, ":hyq", opts, NULL)) != -1) {
                switch (c) {
                case 'n':
                        opt.name = optarg;
                        break;
                case 'm': {
                        char *entry = NULL;
                        if (++n_mounts > 64)
                                return cli_usage_error(ctx, "too many --mount options");
                        if (cli_mount_normalize(optarg, &entry, &merr) < 0)
                                return cli_fail_error(ctx, &merr);
                        mounts = strv_push(mounts, entry);
                        free(entry);
                        break;
                }
                case 'D':
                        opt.dry_run = true;
                        break;
                case 'W':
                        run_as_owner = true;
                        break;
                case 'V':
                        if (strv_length(sets) >= MAX_CLI_ENV)
                                return cli_usage_error(ctx, "too many --set options");
                        sets = strv_push(sets, optarg);
                        break;
                case 'C':
                        opt.config_file = optarg;
                        break;
                case 'P':
                        opt.package_type = optarg;
                        break;
                case 'q':
                        ctx->quiet = true;
                        break;
                case 'f':
                        opt.force = true;
                        break;
                case 'e':
                        if (++n_env > MAX_CLI_ENV)
                                return cli_usage_error(ctx, "too many --env options");
                        env = strv_push(env, optarg);
                        break;
                case 's':
                        opt.sandbox = optarg;
                        break;
                case 'R':
                        opt.remote = true;
                        break;
                case 'y':
                        ctx->yes = true;
                        break;
                case 'j':
                        ctx->json = true;
                        break;
                case 'G':
                        opt.registry = optarg;
                        break;
                case 'O':
                        opt.offline = true;
                        break;
                case 'Z':
                        /* The lock of the installed server replaces it. */
                        opt.frozen = true;
                        opt.force = true;
                        break;
                case 'S':
                        opt.allow_scripts = true;
                        break;
                case 'M':
                        opt.submodules = true;
                        break;
                case 'A':
                        access = optarg;
                        if (corral_level_parse(access, &access_level) < 0)
                                return cli_usage_error(ctx,
                                                       "--access is public, trusted or anchor");
                        break;
                case 'H':
                        if (strv_length(headers) >= MAX_CLI_ENV)
                                return cli_usage_error(ctx, "too many --header options");
                        headers = strv_push(headers, optarg);
                        break;
                case 'K':
                        /* The value never goes through argv: one line of stdin each. */
                        if (strchr(optarg, ':'))
                                return cli_usage_error(ctx,
                                                       "--secret-header takes a header name; "
                                                       "its value is read from stdin");
                        if (strv_length(secret_names) >= MAX_CLI_ENV)
                                return cli_usage_error(ctx, "too many --secret-header options");
                        secret_names = strv_push(secret_names, optarg);
                        break;
                case 'T':
                        opt.transport = optarg;
                        break;
                case 'I':
                        opt.insecure_http = true;
                        break;
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if ((headers || secret_names || opt.transport || opt.insecure_http) && !opt.remote)
                return cli_usage_error(ctx, "--header, --secret-header, --transport and "
                                            "--insecure-http are for --remote servers");
        for (size_t i = 0; secret_names && secret_names[i]; i++) {
                _cleanup_free_ char *value = NULL;
                size_t cap = 0;
                ssize_t n = getline(&value, &cap, stdin);
                _cleanup_free_ char *line = NULL;

                if (n <= 0)
                        return cli_fail(ctx, EX_USAGE,
                                        "--secret-header %s: no value on stdin (one line per "
                                        "secret header)",
                                        secret_names[i]);
                while (n > 0 && (value[n - 1] == '\n' || value[n - 1] == '\r'))
                        value[--n] = '\0';
                line = xasprintf("%s: %s", secret_names[i], value);
                secret_headers = strv_push(secret_headers, line);
        }
        /* --set KEY=- reads the value from one line of stdin (a secret stays out of argv). */
        for (size_t i = 0; sets && sets[i]; i++) {
                char *eq = strchr(sets[i], '=');
                _cleanup_free_ char *value = NULL;
                size_t cap = 0;
                ssize_t n;

                if (!eq || strcmp(eq, "=-") != 0)
                        continue;
                n = getline(&value, &cap, stdin);
                if (n <= 0)
                        return cli_fail(ctx, EX_USAGE, "--set %.*s=-: no value on stdin",
                                        (int)(eq - sets[i]), sets[i]);
                while (n > 0 && (value[n - 1] == '\n' || value[n - 1] == '\r'))
                        value[--n] = '\0';
                {
                        char *line = xasprintf("%.*s=%s", (int)(eq - sets[i]), sets[i], value);
                        free(sets[i]);
                        sets[i] = line;
                }
        }
        opt.headers = headers;
        opt.secret_headers = secret_headers;
        opt.progress = ctx->json                ? INSTALL_PROGRESS_JSON
                       : isatty(STDERR_FILENO) ? INSTALL_PROGRESS_TTY
                                               : INSTALL_PROGRESS_NONE;
        if (optind >= nopts)
                return cli_usage_error(ctx, "missing source spec");
        if (optind + 1 < nopts)
                return cli_usage_error(ctx, "more than one source spec (put the server's "
                                            "command after --)");
        opt.spec = argv[optind];
        opt.env = env;
        opt.command = command;
        opt.mounts = mounts;
        opt.sets = sets;
        /* Inputs a registry server or bundle needs are asked only of a person. */
        opt.interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);

        int code = 0;
        _cleanup_store_ store *s = cli_open_store(ctx, &code);
        if (!s)
                return code;
        /* A user's install (issue 15): the site's rules, before anything is
         * fetched or any host path is looked at. */
        _cleanup_(install_check_done) install_check check = {.ctx = ctx, .s = s};
        if (s->as_user) {
                int r = run_as_owner ? cli_fail(ctx, EX_NOPERM,
                                                "--run-as-owner is for admins: it runs the "
                                                "server as another uid")
                                     : user_check_spec(ctx, s, &opt, &check.site);
                if (r)
                        return r;
                check.user = true;
        }

        if (run_as_owner) {
                if (opt.remote || strncmp(opt.spec, "docker:", 7) == 0)
                        return cli_usage_error(ctx, "--run-as-owner is for servers in the native "
                                                    "sandbox, not containers or remote servers");
                if (cli_mount_owner(mounts, &opt.run_uid, &opt.run_gid, &merr) < 0)
                        return cli_fail_error(ctx, &merr);
        }
        /* Before anything is fetched: a path that is not there now would
         * only show as a crash loop later. */
        for (size_t i = 0; mounts && mounts[i]; i++)
                if (cli_mount_check_idmap(mounts[i], opt.run_uid, &merr) < 0)
                        return cli_fail_error(ctx, &merr);
        if (cli_check_path_args(opt.spec, command, &merr) < 0)
                return cli_fail_error(ctx, &merr);

        if (!ctx->yes && !opt.dry_run) {
                if (!isatty(STDIN_FILENO))
                        return cli_fail(ctx, EX_USAGE,
                                        "refusing a non-interactive install without --yes");
                check.ask = true;
        }
        if (check.ask || check.user) {
                opt.confirm = install_confirm;
                opt.confirm_userdata = &check;
        }

        corral_error err = {0};
        _cleanup_manifest_ manifest *m = NULL;
        if (resolver_install(s, &opt, &m, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (access) {
                if (cli_set_access(s, m->name, NULL, access_level, &err) < 0)
                        return cli_fail_error(ctx, &err);
                (void)manifest_set_access(m, NULL, access_level);
        }

        if (opt.dry_run) {
                /* The manifest as it would be written; nothing installed. */
                _cleanup_json_ cJSON *j = manifest_to_json(m);
                cli_print_json(j);
                return 0;
        }
        if (ctx->json) {
                _cleanup_json_ cJSON *j = manifest_to_json(m);
                cli_print_json(j);
        } else if (!ctx->quiet) {
                _cleanup_free_ char *cmd = shell_join(m->command);
                if (strcmp(m->backend, "remote") == 0)
                        printf("installed %s (remote %s over %s)\n", m->name, m->command[0],
                               strcmp(m->transport, "sse") == 0 ? "HTTP+SSE"
                                                                : "Streamable HTTP");
                else
                        printf("installed %s (%s %s): %s\n", m->name, m->kind, m->spec, cmd);
                if (strcmp(m->profile, "none") == 0)
                        printf("warning: %s runs without a sandbox (--sandbox none)\n", m->name);
                if (ctx->yes)
                        print_mount_lines(stdout, m); /* what --yes chose: read-only */
        }
        fflush(stdout);
        cli_notify_daemon(ctx);
        return 0;
}

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
        /* A remote server's OAuth tokens go with it (every user's). */
        oauth_state_forget_all(&s->paths, name);
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
        _cleanup_free_ char *cmd = shell_join(m->command);
        _cleanup_free_ char *dir = paths_server_dir(&s->paths, m->name);
        _cleanup_free_ char *data = paths_data_dir(&s->paths, m->name);
        _cleanup_free_ char *log = paths_log_file(&s->paths, m->name);
        FILE *f = stdout;
        fprintf(f, "%-10s %s\n", "name:", m->name);
        print_source_lines(f, m);
        if (m->resolved_commit)
                fprintf(f, "%-10s %s\n", "commit:", m->resolved_commit);
        if (m->resolved_digest)
                fprintf(f, "%-10s %s\n", "digest:", m->resolved_digest);
        if (m->n_lock)
                fprintf(f, "%-10s %zu packages\n", "locked:", m->n_lock);
        fprintf(f, "%-10s %s\n", "backend:", m->backend);
        fprintf(f, "%-10s %s\n", "command:", cmd);
        fprintf(f, "%-10s %s\n", "cwd:", m->cwd);
        print_env_keys(f, "env:", m);
        print_sandbox_line(f, "sandbox:", m);
        print_run_as(f, m);
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
                        cJSON_AddBoolToObject(o, "confined", confined(m));
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
                        rows[i][COL_SANDBOX] = sandbox_label(m);
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
