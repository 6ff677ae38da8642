/* `corral update NAME [VERSION]` for registry: installs: the registry the
 * manifest records is asked for the server's latest version (or VERSION),
 * and when that is another version the server is installed again from it —
 * the same package type, the values its install was given, every setting
 * kept (install_options.update_from) — by install's atomic swap.  mcpb:
 * and smithery: installs are fetched again (a bundle URL downloaded again, a
 * bundle file read again, the Smithery document asked again) and installed
 * again when the bundle's digest or version, or the package chosen, changed.
 * A required input the new version adds comes from the update's --set or
 * --config, else the terminal; without one the update fails listing it and
 * nothing changes. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/jsonutil.h"
#include "corral/registry.h"
#include "corral/resolver.h"

/* what: "version" or "digest". */
static void print_result(const cli_ctx *ctx, const char *name, const char *what, const char *old,
                         const char *new_, bool updated, bool dry_run)
{
        bool changed = !old || strcmp(old, new_) != 0;

        if (ctx->json) {
                _cleanup_json_ cJSON *j = cJSON_CreateObject();
                _cleanup_free_ char *old_key = xasprintf("old_%s", what);
                cJSON_AddStringToObject(j, "name", name);
                cJSON_AddBoolToObject(j, "updated", updated);
                cJSON_AddBoolToObject(j, "dry_run", dry_run);
                if (old)
                        cJSON_AddStringToObject(j, old_key, old);
                else
                        cJSON_AddNullToObject(j, old_key);
                cJSON_AddStringToObject(j, what, new_);
                cli_print_json(j);
        } else if (!changed && !updated) {
                printf("%s is up to date (%s %s)\n", name, what, new_);
        } else {
                printf("%s %s: %s %s -> %s\n", updated ? "updated" : "would update", name, what,
                       old ? old : "(none)", new_);
        }
        fflush(stdout);
}

static void print_version_result(const cli_ctx *ctx, const char *name, const char *old,
                                 const char *new_, bool updated, bool dry_run)
{
        print_result(ctx, name, "version", old, new_, updated, dry_run);
}

/* The update's own --set values first (the first value of a key wins),
 * then those the install was given. */
static char **update_sets(store *s, const manifest *m, const cli_update_inputs *in)
{
        char **sets = NULL, **kept = registry_update_sets(s, m);
        for (size_t i = 0; in && in->sets && in->sets[i]; i++)
                sets = strv_push(sets, in->sets[i]);
        for (size_t i = 0; kept && kept[i]; i++)
                sets = strv_push(sets, kept[i]);
        strv_free(kept);
        return sets;
}

int cli_update_registry(cli_ctx *ctx, store *s, const manifest *m, const char *version,
                        const cli_update_inputs *in, bool dry_run)
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

        sets = update_sets(s, m, in);
        install_options opt = {
                .spec = new_spec,
                .name = m->name,
                .force = true,
                .update_from = m,
                .package_type = m->registry_package,
                .sets = sets,
                .config_file = in ? in->config_file : NULL,
                .sets_optional = true,
                .interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO),
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

/* ---- mcpb: and smithery: ------------------------------------------------ */

typedef struct fresh_check {
        const manifest *old;
        bool compared, changed;
        const char *what; /* "version" or "digest" */
        char *old_label, *new_label;
} fresh_check;

static void fresh_check_done(fresh_check *c)
{
        free(c->old_label);
        free(c->new_label);
}

static bool same(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A digest as "sha256:" and 12 hex digits, else the package identifier. */
static char *label(const manifest *m, bool by_version)
{
        const char *d = m->resolved_digest;
        if (by_version)
                return xstrdup(m->resolved_version);
        if (d && strncmp(d, "sha256:", 7) == 0)
                return xasprintf("sha256:%.12s", d + 7);
        if (d)
                return xstrdup(d);
        return xstrdup(m->registry_identifier ? m->registry_identifier : "-");
}

/* install_options.confirm: what the fetch gave against what is installed;
 * the same abandons the install (-EX_TEMPFAIL, c->changed false). */
static int compare_fresh(manifest *m, void *userdata, corral_error *err)
{
        fresh_check *c = userdata;
        const manifest *o = c->old;
        bool by_version = o->resolved_version && m->resolved_version &&
                          strcmp(o->resolved_version, m->resolved_version) != 0;

        c->compared = true;
        c->changed = !same(o->resolved_digest, m->resolved_digest) ||
                     !same(o->resolved_version, m->resolved_version) ||
                     !same(o->registry_package, m->registry_package) ||
                     !same(o->registry_identifier, m->registry_identifier);
        c->what = by_version ? "version" : "digest";
        c->old_label = label(o, by_version);
        c->new_label = label(m, by_version);
        if (!c->changed)
                return corral_error_set(err, EX_TEMPFAIL, "unchanged");
        return 0;
}

/* The spec that fetches m's code again: a bundle file by its absolute
 * path (the install's own may be relative to another directory). */
static char *refetch_spec(const manifest *m)
{
        if (strcmp(m->kind, "mcpb") == 0 && m->resolved_url && m->resolved_url[0] == '/')
                return xasprintf("mcpb:%s", m->resolved_url);
        return xstrdup(m->spec);
}

static bool hosted(const manifest *m)
{
        return strcmp(m->kind, "smithery") == 0 && m->registry_package &&
               strcmp(m->registry_package, "remote") == 0;
}

/* One install of m's spec again (dry_run: nothing committed) with c as
 * its confirmation. */
static int refetch(store *s, const manifest *m, const cli_update_inputs *in, bool dry_run,
                   fresh_check *c, manifest **ret, corral_error *err)
{
        _cleanup_free_ char *spec = refetch_spec(m);
        _cleanup_strv_ char **sets = update_sets(s, m, in);
        install_options opt = {
                .spec = spec,
                .name = m->name,
                .force = true,
                .dry_run = dry_run,
                .update_from = m,
                .package_type = m->registry_package,
                .sets = sets,
                .config_file = in ? in->config_file : NULL,
                .sets_optional = true,
                .interactive = in && isatty(STDIN_FILENO) && isatty(STDERR_FILENO),
                .progress = in && isatty(STDERR_FILENO) ? INSTALL_PROGRESS_TTY
                                                        : INSTALL_PROGRESS_NONE,
                .confirm = compare_fresh,
                .confirm_userdata = c,
        };
        c->old = m;
        /* The Smithery document is asked again, not taken from the cache's
         * freshness window (the registry: update does the same). */
        if (strcmp(m->kind, "smithery") == 0)
                (void)setenv("CORRAL_NPM_METADATA_MAX_AGE", "0", 1);
        int r = resolver_install(s, &opt, ret, err);
        if (r < 0 && c->compared && !c->changed) {
                corral_error_clear(err);
                return 0;
        }
        return r;
}

int cli_update_bundle(cli_ctx *ctx, store *s, const manifest *m, const cli_update_inputs *in,
                      bool dry_run)
{
        _cleanup_(fresh_check_done) fresh_check c = {0};
        _cleanup_manifest_ manifest *fresh = NULL;
        corral_error err = {0};

        if (hosted(m)) {
                print_result(ctx, m->name, "version", m->resolved_version ? m->resolved_version : "-",
                             m->resolved_version ? m->resolved_version : "-", false, dry_run);
                return 0;
        }
        if (refetch(s, m, in, dry_run, &c, &fresh, &err) < 0)
                return cli_fail_error(ctx, &err);
        print_result(ctx, m->name, c.what, c.old_label, c.new_label, c.changed && !dry_run,
                     dry_run);
        if (c.changed && !dry_run)
                cli_notify_daemon(ctx);
        return 0;
}

int cli_bundle_available(store *s, const manifest *m, char **ret_current, char **ret_fresh,
                         corral_error *err)
{
        _cleanup_(fresh_check_done) fresh_check c = {0};
        _cleanup_manifest_ manifest *fresh = NULL;
        int r;

        if (hosted(m)) {
                *ret_current = xstrdup(m->resolved_version ? m->resolved_version : "-");
                *ret_fresh = xstrdup(*ret_current);
                return 0;
        }
        if ((r = refetch(s, m, NULL, true, &c, &fresh, err)) < 0)
                return r;
        *ret_current = steal_pointer(&c.old_label);
        *ret_fresh = steal_pointer(&c.new_label);
        return 0;
}
