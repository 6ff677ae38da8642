/* `corral search TEXT`: servers in the configured MCP registries whose name
 * matches TEXT (the registry's own substring search), latest versions only,
 * following the registry's cursor; and in Smithery when it is configured
 * (its own search, following its pages), the two merged in turns. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "corral/jsonutil.h"
#include "corral/registry.h"

#define SEARCH_DEFAULT_LIMIT 100
#define SEARCH_TEXT_MAX 256

int cli_search(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"limit", required_argument, NULL, 'l'},
                {"offline", no_argument, NULL, 'O'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        size_t limit = SEARCH_DEFAULT_LIMIT;
        bool offline = false;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hj", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        ctx->json = true;
                        break;
                case 'l': {
                        char *end = NULL;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (!*optarg || *end || v == 0 || v > REGISTRY_SEARCH_MAX_RESULTS) {
                                char what[96];
                                snprintf(what, sizeof(what), "--limit is a number from 1 to %d",
                                         REGISTRY_SEARCH_MAX_RESULTS);
                                return cli_usage_error(ctx, what);
                        }
                        limit = v;
                        break;
                }
                case 'O':
                        offline = true;
                        break;
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if (optind >= argc)
                return cli_usage_error(ctx, "missing search text");
        if (optind + 1 < argc)
                return cli_usage_error(ctx, "one search text (quote it when it has spaces)");
        const char *text = argv[optind];
        if (strlen(text) > SEARCH_TEXT_MAX)
                return cli_usage_error(ctx, "search text too long");

        int code = 0;
        _cleanup_store_ store *s = cli_open_store(ctx, &code);
        if (!s)
                return code;
        corral_error err = {0}, serr = {0};
        _cleanup_(registry_cache_done) registry_cache cache = {0};
        _cleanup_strv_ char **urls = NULL;
        registry_hit *mh = NULL, *sh = NULL;
        size_t mn = 0, sn = 0;
        if (registry_urls(&s->paths, &urls, &err) < 0 ||
            registry_cache_init(&cache, &s->paths, offline, &err) < 0)
                return cli_fail_error(ctx, &err);
        int mr = registry_search(&cache, urls, text, limit, &mh, &mn, &err);
        int sr = smithery_search(s, &cache, text, limit, &sh, &sn, &serr);
        /* One source that answered is enough; the other is a warning. */
        if (mr < 0 && sr != 0) {
                registry_hits_free(sh, sn);
                return cli_fail_error(ctx, &err);
        }
        if (mr < 0)
                fprintf(stderr, "corral: search: warning: %s\n", err.msg);
        if (sr < 0)
                fprintf(stderr, "corral: search: warning: %s\n", serr.msg);
        /* Merged in turns, so that a full page of one does not hide the other. */
        size_t n = 0;
        registry_hit *hits = xcalloc(mn + sn + 1, sizeof(*hits));
        for (size_t i = 0, j = 0; (i < mn || j < sn) && n < limit;) {
                if (i < mn)
                        hits[n++] = mh[i++];
                if (j < sn && n < limit)
                        hits[n++] = sh[j++];
        }
        /* What was not taken is freed with the lists; what was is moved. */
        for (size_t k = 0; k < n; k++) {
                for (size_t i = 0; i < mn; i++)
                        if (mh[i].name == hits[k].name)
                                mh[i] = (registry_hit){0};
                for (size_t j = 0; j < sn; j++)
                        if (sh[j].name == hits[k].name)
                                sh[j] = (registry_hit){0};
        }
        registry_hits_free(mh, mn);
        registry_hits_free(sh, sn);

        if (ctx->json) {
                _cleanup_json_ cJSON *a = cJSON_CreateArray();
                for (size_t i = 0; i < n; i++) {
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddStringToObject(o, "name", hits[i].name);
                        cJSON_AddStringToObject(o, "version", hits[i].version);
                        cJSON_AddStringToObject(o, "description", hits[i].description);
                        cJSON_AddStringToObject(o, "packages", hits[i].types);
                        cJSON_AddStringToObject(o, "registry", hits[i].registry);
                        cJSON_AddStringToObject(o, "install", hits[i].install);
                        cJSON_AddItemToArray(a, o);
                }
                cli_print_json(a);
        } else if (n == 0) {
                printf("no servers match '%s'\n", text);
        } else {
                /* Say which registry answered when more than one was asked. */
                bool several = urls[1] != NULL || sr == 0;
                printf("%-52s %-12s %-18s %s%s\n", "NAME", "VERSION", "PACKAGES",
                       several ? "REGISTRY  " : "", "DESCRIPTION");
                for (size_t i = 0; i < n; i++)
                        printf("%-52s %-12s %-18s %s%s%.80s\n", hits[i].install, hits[i].version,
                               hits[i].types, several ? hits[i].registry : "",
                               several ? "  " : "", hits[i].description);
        }
        registry_hits_free(hits, n);
        return 0;
}
