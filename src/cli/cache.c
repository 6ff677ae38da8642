/* `corral cache info` and `corral cache clean [--all]`: the download cache's
 * size, entries, cap and location, and emptying it (src/cache.c;
 * include/corral/cache.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "corral/cache.h"
#include "corral/jsonutil.h"
#include "corral/npm.h"

static void print_size(const char *label, uint64_t bytes)
{
        printf("%-10s %.1f MiB (%llu bytes)\n", label, (double)bytes / (1 << 20),
               (unsigned long long)bytes);
}

static cJSON *stats_json(const cache_stats *st)
{
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "bytes", (double)st->bytes);
        cJSON_AddNumberToObject(j, "entries", (double)st->entries);
        cJSON_AddNumberToObject(j, "tarballs", (double)st->tarballs);
        cJSON_AddNumberToObject(j, "unpacked", (double)st->unpacked);
        cJSON_AddNumberToObject(j, "packuments", (double)st->packuments);
        cJSON_AddNumberToObject(j, "git_mirrors", (double)st->git_mirrors);
        cJSON_AddNumberToObject(j, "leftovers", (double)st->leftovers);
        cJSON_AddNumberToObject(j, "leftover_bytes", (double)st->leftover_bytes);
        return j;
}

static int cache_info_verb(cli_ctx *ctx, store *s)
{
        corral_error err = {0};
        uint64_t cap = 0;
        cache_stats st;

        if (cache_max_size(&s->paths, &cap, &err) < 0)
                return cli_fail_error(ctx, &err);
        cache_measure(s->paths.cache, &st);
        if (ctx->json) {
                _cleanup_json_ cJSON *j = stats_json(&st);
                cJSON_AddStringToObject(j, "location", s->paths.cache);
                cJSON_AddNumberToObject(j, "max_size", (double)cap);
                cli_print_json(j);
                return 0;
        }
        printf("%-10s %s\n", "location:", s->paths.cache);
        print_size("size:", st.bytes);
        print_size("cap:", cap);
        printf("%-10s %zu (%zu tarballs, %zu unpacked, %zu packuments, %zu git mirrors)\n",
               "entries:", st.entries, st.tarballs, st.unpacked, st.packuments, st.git_mirrors);
        if (st.leftovers)
                printf("%-10s %zu from interrupted installs (%llu bytes; `corral cache clean` "
                       "removes them)\n",
                       "leftovers:", st.leftovers, (unsigned long long)st.leftover_bytes);
        return 0;
}

/* The cache keys of every installed server's npm lock: what `clean` keeps. */
static int installed_keys(store *s, char ***ret, corral_error *err)
{
        _cleanup_strv_ char **names = NULL;
        char **keys = NULL;
        int r = store_list(s, &names, err);
        if (r < 0)
                return r;
        for (size_t i = 0; names && names[i]; i++) {
                manifest *m = NULL;
                if (store_load(s, names[i], &m, err) < 0) {
                        /* A damaged manifest keeps nothing: warn, go on. */
                        fprintf(stderr, "corral: cache: warning: %s\n", err->msg);
                        corral_error_clear(err);
                        continue;
                }
                for (size_t k = 0; k < m->n_lock; k++) {
                        npm_integrity want;
                        corral_error e2 = {0};
                        if (!m->lock[k].integrity ||
                            npm_integrity_parse(&want, m->lock[k].integrity, NULL, &e2) < 0)
                                continue;
                        _cleanup_free_ char *key = npm_integrity_key(&want);
                        keys = strv_push(keys, key);
                }
                manifest_free(m);
        }
        *ret = keys;
        return 0;
}

static int cache_clean_verb(cli_ctx *ctx, store *s, bool all)
{
        corral_error err = {0};
        _cleanup_strv_ char **keep = NULL;
        cache_stats removed = {0};
        int r;

        if (store_lock(s, &err) < 0)
                return cli_fail_error(ctx, &err);
        r = all ? 0 : installed_keys(s, &keep, &err);
        if (r >= 0)
                r = cache_clean(s->paths.cache, keep, all, &removed, &err);
        store_unlock(s);
        if (r < 0)
                return cli_fail_error(ctx, &err);
        if (ctx->json) {
                _cleanup_json_ cJSON *j = stats_json(&removed);
                cJSON_AddStringToObject(j, "location", s->paths.cache);
                cli_print_json(j);
                return 0;
        }
        printf("removed %zu entries (%.1f MiB) and %zu leftovers from %s\n", removed.entries,
               (double)(removed.bytes + removed.leftover_bytes) / (1 << 20), removed.leftovers,
               s->paths.cache);
        return 0;
}

int cli_cache(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {}};
        _cleanup_store_ store *s = NULL;
        bool all = false;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (c == 'h')
                        return cli_usage(ctx);
                if (c == 'a')
                        all = true;
                else if (c == 'j')
                        ctx->json = true;
                else
                        return cli_bad_option(ctx, c, argv);
        }
        if (optind >= argc)
                return cli_usage_error(ctx, "missing 'info' or 'clean'");
        if (optind + 1 < argc)
                return cli_usage_error(ctx, "too many arguments");
        const char *what = argv[optind];
        bool info = strcmp(what, "info") == 0;
        if (!info && strcmp(what, "clean") != 0)
                return cli_fail(ctx, EX_USAGE, "unknown action '%.64s' (info, clean)", what);
        if (info && all)
                return cli_usage_error(ctx, "--all goes with 'clean'");
        if (!(s = cli_open_store(ctx, &r)))
                return r;
        return info ? cache_info_verb(ctx, s) : cache_clean_verb(ctx, s, all);
}
