/* `corral update NAME [VERSION]`: moves a server to what its source offers
 * now.  npm: the spec's range (or VERSION, a new range or tag) is resolved
 * again and the server reinstalled with a new lock by the same atomic swap as
 * install, keeping every setting (install_options.update_from); git: the ref
 * is resolved again and the tree rebuilt; docker: the tag is pulled again and
 * the digest re-pinned in the manifest.  --dry-run only says what would
 * change.  A running daemon is asked to reload, which restarts the unit. */
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/git.h"
#include "corral/jsonutil.h"
#include "corral/npm.h"
#include "corral/resolver.h"

static bool strv_equal(char *const *a, char *const *b)
{
        size_t i;

        for (i = 0; a && b && a[i] && b[i]; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return (!a || !a[i]) && (!b || !b[i]);
}

/* The command the install took from the old image, so an image command can
 * follow the image while a command given after `--` stays.  NULL when the old
 * image is no longer in the engine (the command is then kept). */
static char **old_image_command(const docker_ref *ref, const char *digest)
{
        docker *d = NULL;
        cJSON *info = NULL;
        char **argv = NULL;
        _cleanup_free_ char *pinned = docker_ref_pinned(ref, digest);
        const cJSON *cfg, *it;
        const char *keys[] = {"Entrypoint", "Cmd"};

        if (docker_open(&d, NULL) < 0)
                return NULL;
        if (docker_image_inspect(d, pinned, &info, NULL) == 0) {
                cfg = json_get_object(info, "Config");
                argv = xcalloc(1, sizeof(*argv));
                for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
                        cJSON_ArrayForEach(it, json_get_array(cfg, keys[k]))
                        {
                                if (cJSON_IsString(it))
                                        argv = strv_push(argv, it->valuestring);
                        }
        }
        cJSON_Delete(info);
        docker_free(d);
        return argv;
}

/* One result, as text or --json: what NAME was (old) and is now or would be
 * (new), in the words of its kind ("version", "commit", "digest"). */
static void print_result(const cli_ctx *ctx, const char *name, const char *what, const char *old,
                         const char *new_, bool dry_run)
{
        bool changed = !old || strcmp(old, new_) != 0;

        if (ctx->json) {
                _cleanup_json_ cJSON *j = cJSON_CreateObject();
                _cleanup_free_ char *old_key = xasprintf("old_%s", what);
                cJSON_AddStringToObject(j, "name", name);
                cJSON_AddBoolToObject(j, "updated", changed && !dry_run);
                cJSON_AddBoolToObject(j, "dry_run", dry_run);
                if (old)
                        cJSON_AddStringToObject(j, old_key, old);
                else
                        cJSON_AddNullToObject(j, old_key);
                cJSON_AddStringToObject(j, what, new_);
                cli_print_json(j);
        } else if (!changed) {
                printf("%s is up to date (%s %s)\n", name, what, new_);
        } else {
                printf("%s %s: %s %s -> %s\n", dry_run ? "would update" : "updated", name, what,
                       old ? old : "(none)", new_);
        }
        fflush(stdout);
        if (changed && !dry_run)
                cli_notify_daemon(ctx);
}

/* Git servers: the ref is resolved again and, when it moved, the server is
 * rebuilt at the new commit; the range old..new is shown. */
static int update_git(cli_ctx *ctx, store *s, const char *name, bool dry_run)
{
        _cleanup_free_ char *old = NULL, *new_ = NULL;
        _cleanup_manifest_ manifest *m = NULL;
        corral_error err = {0};

        if (git_update(s, name, isatty(STDERR_FILENO), dry_run, &old, &new_, &m, &err) < 0)
                return cli_fail_error(ctx, &err);
        bool changed = strcmp(old, new_) != 0;
        const char *ref = m->resolved_version ? m->resolved_version : "HEAD";
        if (ctx->json) {
                _cleanup_json_ cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "name", name);
                cJSON_AddBoolToObject(j, "updated", changed && !dry_run);
                cJSON_AddBoolToObject(j, "dry_run", dry_run);
                cJSON_AddStringToObject(j, "ref", ref);
                cJSON_AddStringToObject(j, "old_commit", old);
                cJSON_AddStringToObject(j, "commit", new_);
                cli_print_json(j);
        } else if (changed) {
                printf("%s %s (%s): %.12s..%.12s\n", dry_run ? "would update" : "updated", name, ref,
                       old, new_);
        } else {
                printf("%s is up to date (%s at %.12s)\n", name, ref, new_);
        }
        fflush(stdout);
        if (changed && !dry_run)
                cli_notify_daemon(ctx);
        return 0;
}

/* npm servers: the range is resolved against the registry's packument first;
 * the server is reinstalled only when that gives another version (or a new
 * range was given).  The extra arguments given after `--` at install
 * (command[2…], after `node BIN`) stay. */
static int update_npm(cli_ctx *ctx, store *s, const manifest *m, const char *version,
                      const char *registry, bool dry_run)
{
        _cleanup_(spec_done) source_spec spec = {0};
        _cleanup_free_ char *wanted = NULL, *latest = NULL, *new_spec = NULL;
        _cleanup_manifest_ manifest *fresh = NULL;
        corral_error err = {0};
        int r;

        if ((r = spec_parse(&spec, m->spec, false, &err)) < 0)
                return cli_fail_error(ctx, &err);
        if (version && (strchr(version, '@') || strchr(version, '/')))
                return cli_usage_error(ctx, "VERSION is a version, range or dist-tag of the "
                                            "installed package (e.g. ^2.0.0, latest)");
        const char *range = version ? version : spec.version;
        if ((r = npm_available(s, spec.name, range, registry, &wanted, &latest, &err)) < 0)
                return cli_fail_error(ctx, &err);
        new_spec = version ? xasprintf("npm:%s@%s", spec.name, version) : xstrdup(m->spec);
        bool same = m->resolved_version && strcmp(m->resolved_version, wanted) == 0 &&
                    strcmp(new_spec, m->spec) == 0;
        if (same || dry_run) {
                print_result(ctx, m->name, "version", m->resolved_version, wanted, true);
                return 0;
        }

        bool node_bin = m->command[0] && strcmp(m->command[0], "node") == 0 && m->command[1];
        install_options opt = {
                .spec = new_spec,
                .name = m->name,
                .force = true,
                .update_from = m,
                .registry = registry,
                .command = node_bin && m->command[2] ? m->command + 2 : NULL,
                .progress = isatty(STDERR_FILENO) ? INSTALL_PROGRESS_TTY : INSTALL_PROGRESS_NONE,
        };
        if ((r = resolver_install(s, &opt, &fresh, &err)) < 0)
                return cli_fail_error(ctx, &err);
        print_result(ctx, m->name, "version", m->resolved_version,
                     fresh->resolved_version ? fresh->resolved_version : wanted, false);
        return 0;
}

/* Docker servers: the tag is pulled again and the new digest pinned. */
static int update_docker(cli_ctx *ctx, store *s, const char *name, manifest *m, bool dry_run)
{
        _cleanup_(docker_ref_done) docker_ref ref = {0};
        _cleanup_free_ char *digest = NULL, *old_digest = NULL, *path = NULL;
        _cleanup_strv_ char **cmd = NULL, **old_cmd = NULL;
        corral_error err = {0};
        const char *body = m->spec && strncmp(m->spec, "docker:", 7) == 0 ? m->spec + 7 : m->spec;
        int r;

        if (docker_ref_parse(&ref, body ? body : "", &err) < 0)
                return cli_fail_error(ctx, &err);
        if (ref.digest)
                return cli_fail(ctx, EX_USAGE,
                                "cannot update %s: its spec pins digest %s (reinstall with "
                                "another spec to change it)",
                                name, ref.digest);

        /* The pull runs without the store lock: it may take minutes. */
        r = resolver_docker_resolve(&ref, isatty(STDERR_FILENO), &digest, &cmd, &err);
        if (r < 0)
                return cli_fail_error(ctx, &err);
        if (dry_run) {
                print_result(ctx, name, "digest", m->resolved_digest, digest, true);
                return 0;
        }

        if (store_lock(s, &err) < 0)
                return cli_fail_error(ctx, &err);
        manifest *cur = NULL;
        r = store_load(s, name, &cur, &err);
        if (r == 0 && cur->resolved_digest)
                old_digest = xstrdup(cur->resolved_digest);
        if (r == 0 && (!old_digest || strcmp(old_digest, digest) != 0)) {
                old_cmd = old_digest ? old_image_command(&ref, old_digest) : NULL;
                if (old_cmd && strv_equal(old_cmd, cur->command) && cmd[0]) {
                        strv_free(cur->command);
                        cur->command = strv_copy(cmd);
                }
                free(cur->resolved_digest);
                cur->resolved_digest = xstrdup(digest);
                path = paths_manifest(&s->paths, name);
                r = manifest_save(cur, path, &err);
                if (r == 0) {
                        _cleanup_free_ char *pkg = paths_pkg_dir(&s->paths, name);
                        _cleanup_free_ char *marker = path_join(pkg, "IMAGE");
                        _cleanup_free_ char *pinned = docker_ref_pinned(&ref, digest);
                        _cleanup_free_ char *text = xasprintf("%s\n", pinned);
                        (void)write_file_atomic(marker, text, strlen(text), 0644);
                }
        }
        manifest_free(cur);
        store_unlock(s);
        if (r < 0)
                return cli_fail_error(ctx, &err);
        print_result(ctx, name, "digest", old_digest, digest, false);
        return 0;
}

int cli_update(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"registry", required_argument, NULL, 'r'},
                {"yes", no_argument, NULL, 'y'},
                {"dry-run", no_argument, NULL, 'n'},
                {"set", required_argument, NULL, 'V'},
                {"config", required_argument, NULL, 'C'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_strv_ char **sets = NULL;
        cli_update_inputs inputs = {0};
        _cleanup_store_ store *s = NULL;
        _cleanup_manifest_ manifest *m = NULL;
        corral_error err = {0};
        const char *name, *version = NULL, *registry = NULL;
        bool dry_run = false;
        int c, code = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hynr:", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        ctx->json = true;
                        break;
                case 'r':
                        registry = optarg;
                        break;
                case 'y':
                        ctx->yes = true;
                        break;
                case 'n':
                        dry_run = true;
                        break;
                case 'V':
                        sets = strv_push(sets, optarg);
                        break;
                case 'C':
                        inputs.config_file = optarg;
                        break;
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if (optind >= argc)
                return cli_usage_error(ctx, "missing server name");
        if (optind + 2 < argc)
                return cli_usage_error(ctx, "too many arguments");
        name = argv[optind];
        version = optind + 1 < argc ? argv[optind + 1] : NULL;

        s = cli_open_store(ctx, &code);
        if (!s)
                return code;
        if (store_load(s, name, &m, &err) < 0)
                return cli_fail_error(ctx, &err);
        const char *kind = m->kind ? m->kind : "unknown";
        if ((version && strcmp(kind, "npm") != 0 && strcmp(kind, "registry") != 0) ||
            (registry && strcmp(kind, "npm") != 0))
                return cli_usage_error(ctx, "VERSION and --registry are for npm servers only "
                                            "(docker and git servers follow their spec; "
                                            "registry servers take a VERSION)");
        inputs.sets = sets;
        bool takes_inputs = strcmp(kind, "registry") == 0 || strcmp(kind, "mcpb") == 0 ||
                            strcmp(kind, "smithery") == 0;
        if ((sets || inputs.config_file) && !takes_inputs)
                return cli_usage_error(ctx, "--set and --config are for registry:, smithery: "
                                            "and mcpb: servers");
        if (strcmp(kind, "registry") == 0)
                return cli_update_registry(ctx, s, m, version, &inputs, dry_run);
        if (strcmp(kind, "mcpb") == 0 || strcmp(kind, "smithery") == 0)
                return cli_update_bundle(ctx, s, m, &inputs, dry_run);
        if (strcmp(kind, "npm") == 0)
                return update_npm(ctx, s, m, version, registry, dry_run);
        if (strcmp(kind, "git") == 0)
                return update_git(ctx, s, name, dry_run);
        if (strcmp(kind, "docker") == 0)
                return update_docker(ctx, s, name, m, dry_run);
        return cli_fail(ctx, EX_UNAVAILABLE,
                        "cannot update %s: %s sources have nothing to re-resolve (reinstall with "
                        "corral install --force)",
                        name, kind);
}
