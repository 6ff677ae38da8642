/* `corral update NAME [VERSION]` for registry: installs: the registry the
 * manifest records is asked for the server's latest version (or VERSION),
 * and when that is another version the server is installed again from it —
 * the same package type, the values its install was given, every setting
 * kept (install_options.update_from) — by install's atomic swap. */
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/jsonutil.h"
#include "corral/registry.h"
#include "corral/resolver.h"

static void print_version_result(const cli_ctx *ctx, const char *name, const char *old,
                                 const char *new_, bool updated, bool dry_run)
{
        bool changed = !old || strcmp(old, new_) != 0;

        if (ctx->json) {
                _cleanup_json_ cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "name", name);
                cJSON_AddBoolToObject(j, "updated", updated);
                cJSON_AddBoolToObject(j, "dry_run", dry_run);
                if (old)
                        cJSON_AddStringToObject(j, "old_version", old);
                else
                        cJSON_AddNullToObject(j, "old_version");
                cJSON_AddStringToObject(j, "version", new_);
                cli_print_json(j);
        } else if (!changed && !updated) {
                printf("%s is up to date (version %s)\n", name, new_);
        } else {
                printf("%s %s: version %s -> %s\n", updated ? "updated" : "would update", name,
                       old ? old : "(none)", new_);
        }
        fflush(stdout);
}

int cli_update_registry(cli_ctx *ctx, store *s, const manifest *m, const char *version,
                        bool dry_run)
{
        _cleanup_(spec_done) source_spec spec = {0};
        _cleanup_free_ char *wanted = NULL, *latest = NULL, *new_spec = NULL;
        _cleanup_strv_ char **sets = NULL;
        _cleanup_manifest_ manifest *fresh = NULL;
        corral_error err = {0};
        int r;

        if (version && (strchr(version, '@') || strchr(version, '/') || !*version))
                return cli_usage_error(ctx, "VERSION is a version of the registry server "
                                            "(e.g. 1.2.0)");
        if ((r = spec_parse(&spec, m->spec, false, &err)) < 0)
                return cli_fail_error(ctx, &err);
        new_spec = version ? xasprintf("registry:%s@%s", spec.name, version) : xstrdup(m->spec);
        if (version) {
                /* That version must exist before anything moves. */
                _cleanup_(registry_cache_done) registry_cache cache = {0};
                _cleanup_json_ cJSON *server = NULL;
                _cleanup_free_ char *base = NULL;
                char *urls[2] = {m->registry_url, NULL};
                if (!m->registry_url)
                        return cli_fail(ctx, EX_DATAERR,
                                        "cannot update %s: its manifest records no registry",
                                        m->name);
                if ((r = registry_cache_init(&cache, &s->paths, false, &err)) < 0)
                        return cli_fail_error(ctx, &err);
                cache.max_age = 0;
                if ((r = registry_get_server(&cache, urls, spec.name, version, &server, &base,
                                             &err)) < 0)
                        return cli_fail_error(ctx, &err);
                const char *v = json_get_string(server, "version");
                wanted = xstrdup(v ? v : version);
        } else if ((r = registry_available(s, m, &wanted, &latest, &err)) < 0) {
                return cli_fail_error(ctx, &err);
        }
        bool same = m->registry_version && strcmp(m->registry_version, wanted) == 0 &&
                    strcmp(new_spec, m->spec) == 0;
        if (same || dry_run) {
                print_version_result(ctx, m->name, m->registry_version, wanted, false, dry_run);
                return 0;
        }

        sets = registry_update_sets(s, m);
        install_options opt = {
                .spec = new_spec,
                .name = m->name,
                .force = true,
                .update_from = m,
                .package_type = m->registry_package,
                .sets = sets,
                .sets_optional = true,
                .progress = isatty(STDERR_FILENO) ? INSTALL_PROGRESS_TTY : INSTALL_PROGRESS_NONE,
        };
        if ((r = resolver_install(s, &opt, &fresh, &err)) < 0)
                return cli_fail_error(ctx, &err);
        print_version_result(ctx, m->name, m->registry_version,
                             fresh->registry_version ? fresh->registry_version : wanted, true,
                             false);
        cli_notify_daemon(ctx);
        return 0;
}
