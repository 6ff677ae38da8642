/* `corral outdated`: the installed servers whose source offers something
 * newer, like `npm outdated`.  npm servers: WANTED is what the spec's range
 * picks now, LATEST the "latest" dist-tag; git servers: the ref's commit now;
 * docker servers: the tag's digest now (a pull, as `corral update` does; the
 * layers already present are not fetched again).  Servers pinned by version,
 * commit or digest are compared all the same (WANTED is then the pin).
 * registry: servers: the server's version in the registry the manifest
 * records (registry_available()); mcpb: and smithery: servers: the bundle's
 * version (or digest) fetched again (cli_bundle_available()).  Other kinds are not listed.  Exit 0 whether or not something is outdated; a
 * server whose source cannot be reached is reported and the verb exits with
 * that error's code once the others are shown. */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"
#include "corral/docker.h"
#include "corral/git.h"
#include "corral/jsonutil.h"
#include "corral/npm.h"
#include "corral/registry.h"
#include "corral/resolver.h"

typedef struct row {
        const char *name, *kind;
        char *current, *wanted, *latest; /* owned */
} row;

/* 12 hex digits of a commit or "sha256:" digest, as git and docker print them. */
static char *short_id(const char *id)
{
        if (!id)
                return xstrdup("-");
        if (strncmp(id, "sha256:", 7) == 0)
                return xasprintf("sha256:%.12s", id + 7);
        return xasprintf("%.12s", id);
}

static int check_one(store *s, const manifest *m, const char *registry, row *out, corral_error *err)
{
        _cleanup_(spec_done) source_spec spec = {0};
        int r;

        if (strcmp(m->kind, "npm") == 0) {
                if ((r = spec_parse(&spec, m->spec, false, err)) < 0)
                        return r;
                out->current = xstrdup(m->resolved_version ? m->resolved_version : "-");
                return npm_available(s, spec.name, spec.version, registry, &out->wanted,
                                     &out->latest, err);
        }
        if (strcmp(m->kind, "registry") == 0) {
                /* The registry server's version (registry:NAME[@VERSION]). */
                out->current = xstrdup(m->registry_version ? m->registry_version : "-");
                return registry_available(s, m, &out->wanted, &out->latest, err);
        }
        if (strcmp(m->kind, "mcpb") == 0 || strcmp(m->kind, "smithery") == 0) {
                /* Fetched again: the bundle's version (or digest) now. */
                if ((r = cli_bundle_available(s, m, &out->current, &out->wanted, err)) < 0)
                        return r;
                out->latest = xstrdup(out->wanted);
                return 0;
        }
        if (strcmp(m->kind, "git") == 0) {
                _cleanup_free_ char *old = NULL, *new_ = NULL;
                _cleanup_manifest_ manifest *cur = NULL;
                if ((r = git_update(s, m->name, false, true, &old, &new_, &cur, err)) < 0)
                        return r;
                out->current = short_id(old);
                out->wanted = short_id(new_);
                out->latest = xstrdup(out->wanted);
                return 0;
        }
        /* docker */
        _cleanup_(docker_ref_done) docker_ref ref = {0};
        _cleanup_free_ char *digest = NULL;
        const char *body = strncmp(m->spec, "docker:", 7) == 0 ? m->spec + 7 : m->spec;
        if ((r = docker_ref_parse(&ref, body, err)) < 0)
                return r;
        out->current = short_id(m->resolved_digest);
        if (ref.digest) {
                out->wanted = short_id(ref.digest);
        } else {
                if ((r = resolver_docker_resolve(&ref, false, &digest, NULL, err)) < 0)
                        return r;
                out->wanted = short_id(digest);
        }
        out->latest = xstrdup(out->wanted);
        return 0;
}

int cli_outdated(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"registry", required_argument, NULL, 'r'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_strv_ char **names = NULL;
        corral_error err = {0};
        const char *registry = NULL;
        int c, code = 0, rc = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hr:", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        ctx->json = true;
                        break;
                case 'r':
                        registry = optarg;
                        break;
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if (optind < argc)
                return cli_usage_error(ctx, "outdated takes no arguments");
        _cleanup_store_ store *s = cli_open_store(ctx, &code);
        if (!s)
                return code;
        if (store_list(s, &names, &err) < 0)
                return cli_fail_error(ctx, &err);

        size_t n = strv_length(names), n_rows = 0;
        row *rows = xcalloc(n + 1, sizeof(*rows));
        manifest **ms = xcalloc(n + 1, sizeof(*ms));
        for (size_t i = 0; i < n; i++) {
                corral_error e = {0};
                if (store_load(s, names[i], &ms[i], &e) < 0) {
                        fprintf(stderr, "corral: %s: warning: %s\n", ctx->verb, e.msg);
                        rc = rc ? rc : (e.code ? e.code : EX_DATAERR);
                        continue;
                }
                const char *kind = ms[i]->kind ? ms[i]->kind : "";
                if (strcmp(kind, "npm") != 0 && strcmp(kind, "git") != 0 &&
                    strcmp(kind, "docker") != 0 && strcmp(kind, "registry") != 0 &&
                    strcmp(kind, "mcpb") != 0 && strcmp(kind, "smithery") != 0)
                        continue;
                row *w = &rows[n_rows];
                *w = (row){.name = ms[i]->name, .kind = kind};
                if (check_one(s, ms[i], registry, w, &e) < 0) {
                        fprintf(stderr, "corral: %s: %s: %s\n", ctx->verb, ms[i]->name, e.msg);
                        rc = rc ? rc : (e.code ? e.code : EX_UNAVAILABLE);
                        free(w->current);
                        free(w->wanted);
                        free(w->latest);
                        continue;
                }
                n_rows++;
        }

        if (ctx->json) {
                _cleanup_json_ cJSON *arr = cJSON_CreateArray();
                for (size_t i = 0; i < n_rows; i++) {
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddStringToObject(o, "name", rows[i].name);
                        cJSON_AddStringToObject(o, "kind", rows[i].kind);
                        cJSON_AddStringToObject(o, "current", rows[i].current);
                        cJSON_AddStringToObject(o, "wanted", rows[i].wanted);
                        cJSON_AddStringToObject(o, "latest", rows[i].latest);
                        cJSON_AddBoolToObject(o, "outdated",
                                              strcmp(rows[i].current, rows[i].wanted) != 0 ||
                                                      strcmp(rows[i].current, rows[i].latest) != 0);
                        cJSON_AddItemToArray(arr, o);
                }
                cli_print_json(arr);
        } else {
                bool any = false;
                for (size_t i = 0; i < n_rows; i++) {
                        const row *w = &rows[i];
                        if (strcmp(w->current, w->wanted) == 0 &&
                            strcmp(w->current, w->latest) == 0)
                                continue;
                        if (!any)
                                printf("%-24s %-7s %-20s %-20s %s\n", "NAME", "KIND", "CURRENT",
                                       "WANTED", "LATEST");
                        any = true;
                        printf("%-24s %-7s %-20s %-20s %s\n", w->name, w->kind, w->current,
                               w->wanted, w->latest);
                }
                if (!any && rc == 0)
                        printf("every server is up to date\n");
        }
        for (size_t i = 0; i < n_rows; i++) {
                free(rows[i].current);
                free(rows[i].wanted);
                free(rows[i].latest);
        }
        free(rows);
        for (size_t i = 0; i < n; i++)
                manifest_free(ms[i]);
        free(ms);
        return rc;
}
