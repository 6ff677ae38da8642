/* npm packuments from a registry (resolvers/npm/packument.c): parsed,
 * trimmed to what resolution reads, written to the cache form and read back,
 * then a version picked for ranges and tags (pick.c) and its dependencies
 * built.  The text trimmed before parsing must give what a whole parse gives.
 * Input: the first line is a range or tag, the rest the document. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../resolvers/npm/npm_internal.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/resolver.h"

static void pick(ctx *c, pkgdoc *d, const char *range)
{
        const npm_version *v = NULL;
        corral_error err = {0};
        int r = npm_pick_in(c, d, range, &v, &err);
        if (r > 0) {
                if (!v || !v->version)
                        abort();
                for (size_t i = 0; i < v->n_deps; i++)
                        if (!v->deps[i].name || !v->deps[i].range)
                                abort();
        }
}

/* Where npm_pick_latest() says the latest version answers range, the
 * whole document picks it, and so does a part holding that version alone
 * (the registry's NAME/latest manifest, as packument.c fetches it past a
 * missing optional peer). */
static void part_agrees(ctx *c, pkgdoc *d, const char *range)
{
        if (!npm_pick_latest(c, d, range))
                return;
        const char *latest = json_get_string(json_get_object(d->doc, "dist-tags"), "latest");
        const npm_version *v = NULL;
        corral_error err = {0};
        if (!latest || npm_pick_in(c, d, range, &v, &err) <= 0 || strcmp(v->version, latest) != 0)
                abort();
        cJSON *m = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(d->versions, latest), true);
        if (!m)
                return;
        cJSON_DeleteItemFromObjectCaseSensitive(m, "name");
        cJSON_DeleteItemFromObjectCaseSensitive(m, "version");
        cJSON_AddStringToObject(m, "name", "fuzz");
        cJSON_AddStringToObject(m, "version", latest);
        char *text = cJSON_PrintUnformatted(m);
        cJSON_Delete(m);
        cJSON *part = text ? npm_packument_from_manifest(text, strlen(text), "fuzz") : NULL;
        free(text);
        if (!part)
                abort();
        pkgdoc *pd = xcalloc(1, sizeof(*pd));
        pd->name = xstrdup("fuzz");
        pd->partial = true;
        npm_doc_set(c, pd, part);
        const npm_version *pv = NULL;
        if (!npm_pick_latest(c, pd, range) || npm_pick_in(c, pd, range, &pv, &err) <= 0 ||
            strcmp(pv->version, latest) != 0 || pv->n_deps != v->n_deps)
                abort();
        npm_doc_free(pd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *nl = memchr(data, '\n', size);
        size_t rlen = nl ? (size_t)(nl - (const char *)data) : 0;
        const char *json = nl ? nl + 1 : (const char *)data;
        size_t jlen = size - (nl ? rlen + 1 : 0);

        cJSON *j = npm_packument_parse(json, jlen);
        /* Trimming the text before parsing changes nothing a whole parse
         * accepts (packument_trim.c). */
        cJSON *whole = npm_packument_parse_whole(json, jlen);
        if (whole) {
                /* Printed, not cJSON_Compare(): that one matches duplicate
                 * keys by name and so finds equal trees different. */
                char *a = j ? cJSON_PrintUnformatted(j) : NULL;
                char *b = cJSON_PrintUnformatted(whole);
                if (!j || ((a || b) && (!a || !b || strcmp(a, b) != 0)))
                        abort();
                free(a);
                free(b);
                cJSON_Delete(whole);
        }
        if (!j)
                return 0;
        /* The cache holds the trimmed form: it must parse to itself. */
        char *text = cJSON_PrintUnformatted(j);
        if (text) {
                cJSON *again = npm_packument_parse(text, strlen(text));
                if (!again)
                        abort();
                cJSON_Delete(again);
                free(text);
        }

        install_options opt = {.progress = INSTALL_PROGRESS_NONE};
        static ctx c; /* large (hash buckets): not on the stack */
        memset(&c, 0, sizeof(c));
        c.opt = &opt;
        npm_host_platform(&c);
        c.node_version = xstrdup("22.11.0");
        c.node_fd = -1; /* no `node --version` child: the version above is it */
        c.node_pid = -1;
        pkgdoc *d = xcalloc(1, sizeof(*d));
        d->name = xstrdup("fuzz");
        npm_doc_set(&c, d, j);

        char *range = xstrndup((const char *)data, rlen);
        pick(&c, d, range);
        pick(&c, d, "*");
        pick(&c, d, "latest");
        pick(&c, d, "^1.0.0");
        part_agrees(&c, d, range);
        part_agrees(&c, d, "*");
        part_agrees(&c, d, "latest");
        free(range);
        npm_doc_free(d);
        free(c.node_version);
        strv_free(c.engine_mismatch);
        return 0;
}
