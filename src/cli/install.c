/* `corral install SPEC`: options, the site's rules for a user's install,
 * the confirmation on a TTY, then resolver_install(). */
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
        _cleanup_free_ char *cmd = cli_shell_join(m->command);
        _cleanup_strv_ char **paths = cli_command_paths(m);
        FILE *f = stderr;
        char answer[16];
        int r;

        fprintf(f, "About to install '%s':\n", m->name);
        cli_print_source_lines(f, m);
        if (m->resolved_digest)
                fprintf(f, "%-10s %s\n", "digest:", m->resolved_digest);
        if (m->resolved_commit)
                fprintf(f, "%-10s %s\n", "commit:", m->resolved_commit);
        fprintf(f, "%-10s %s\n", "command:", cmd);
        cli_print_env_keys(f, "env:", m);
        cli_print_sandbox_line(f, "sandbox:", m);
        cli_print_run_as(f, m);
        fprintf(f, "%-10s %s\n", "network:", m->network);
        cli_print_mount_lines(f, m);
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
        bool disabled; /* --disabled: installed, not started until enabled */
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

        if (c->disabled)
                m->enabled = false;

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
                {"sessions", required_argument, NULL, 'U'},
                {"insecure-http", no_argument, NULL, 'I'},
                {"mount", required_argument, NULL, 'm'},
                {"dry-run", no_argument, NULL, 'D'},
                {"quiet", no_argument, NULL, 'q'},
                {"run-as-owner", no_argument, NULL, 'W'},
                {"set", required_argument, NULL, 'V'},
                {"config", required_argument, NULL, 'C'},
                {"package", required_argument, NULL, 'P'},
                {"disabled", no_argument, NULL, 'X'},
                {},
        };
        install_options opt = {0};
        _cleanup_strv_ char **sets = NULL;
        _cleanup_strv_ char **headers = NULL, **secret_names = NULL, **secret_headers = NULL;
        _cleanup_strv_ char **mounts = NULL;
        size_t n_mounts = 0;
        bool run_as_owner = false, disabled = false;
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
                case 'X':
                        disabled = true;
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
                case 'U':
                        opt.sessions = optarg;
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
        if ((headers || secret_names || opt.transport || opt.insecure_http || opt.sessions) &&
            !opt.remote)
                return cli_usage_error(ctx, "--header, --secret-header, --transport, --sessions "
                                            "and --insecure-http are for --remote servers");
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
        check.disabled = disabled;
        if (check.ask || check.user || disabled) {
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
                _cleanup_free_ char *cmd = cli_shell_join(m->command);
                if (strcmp(m->backend, "remote") == 0)
                        printf("installed %s (remote %s over %s)\n", m->name, m->command[0],
                               strcmp(m->transport, "sse") == 0 ? "HTTP+SSE"
                                                                : "Streamable HTTP");
                else
                        printf("installed %s (%s %s): %s\n", m->name, m->kind, m->spec, cmd);
                if (strcmp(m->profile, "none") == 0)
                        printf("warning: %s runs without a sandbox (--sandbox none)\n", m->name);
                if (ctx->yes)
                        cli_print_mount_lines(stdout, m); /* what --yes chose: read-only */
        }
        fflush(stdout);
        cli_notify_daemon(ctx);
        return 0;
}
