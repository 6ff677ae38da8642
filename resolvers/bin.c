/* Choosing the command of a Node package from its package.json "bin", shared
 * by the local-directory and npm resolvers so both pick the same file. */
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/resolver.h"
#include "corral/strbuf.h"

char *resolver_bin_path(const char *p)
{
        if (!p || p[0] == '/' || strlen(p) > 4096)
                return NULL;
        strbuf b = STRBUF_INIT(0);
        while (*p) {
                size_t n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        strbuf_done(&b);
                        return NULL;
                }
                if (n > 0 && !(n == 1 && p[0] == '.')) {
                        if (b.len)
                                (void)strbuf_append(&b, "/", 1);
                        (void)strbuf_append(&b, p, n);
                }
                p += n;
                while (*p == '/')
                        p++;
        }
        if (b.len == 0) {
                strbuf_done(&b);
                return NULL;
        }
        return strbuf_steal(&b);
}

resolver_bin resolver_pick_bin(const cJSON *pkg, const char *name, char **ret_bin)
{
        const cJSON *bin = cJSON_GetObjectItemCaseSensitive(pkg, "bin");
        *ret_bin = NULL;
        if (cJSON_IsString(bin)) {
                *ret_bin = xstrdup(bin->valuestring);
                return RESOLVER_BIN_ONE;
        }
        if (!cJSON_IsObject(bin) || !bin->child)
                return RESOLVER_BIN_NONE;
        if (!bin->child->next) {
                if (!cJSON_IsString(bin->child))
                        return RESOLVER_BIN_NONE;
                *ret_bin = xstrdup(bin->child->valuestring);
                return RESOLVER_BIN_ONE;
        }
        if (!name)
                name = json_get_string(pkg, "name");
        if (name) {
                const char *slash = strchr(name, '/');
                const char *v = json_get_string(bin, slash ? slash + 1 : name);
                if (v) {
                        *ret_bin = xstrdup(v);
                        return RESOLVER_BIN_ONE;
                }
        }
        strbuf list = STRBUF_INIT(512);
        const cJSON *e;
        cJSON_ArrayForEach(e, bin)
        {
                if (strbuf_appendf(&list, "%s%s", list.len ? ", " : "", e->string) < 0)
                        break;
        }
        *ret_bin = strbuf_steal(&list);
        return RESOLVER_BIN_AMBIGUOUS;
}
