/* Naming, pagination and resource ownership for the gateway (DESIGN.md,
 * "Gateway"; MCP 2025-11-25 server/utilities/pagination).  Pure functions:
 * no loop, no supervisor, so they are unit-tested on their own. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "corral/gateway.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "gateway/names.h"

#define SEP "__"
#define CURSOR_PREFIX "o:"

char *gateway_qualify(const char *server, const char *name)
{
        return xasprintf("%s" SEP "%s", server, name);
}

bool gateway_split(const char *qualified, char **ret_server, char **ret_name)
{
        const char *sep;

        if (!qualified)
                return false;
        /* Server names never contain "__", so the first one is the boundary
         * even when the tool's own name has more. */
        sep = strstr(qualified, SEP);
        if (!sep || sep == qualified || sep[strlen(SEP)] == '\0')
                return false;
        if (ret_server)
                *ret_server = xstrndup(qualified, (size_t)(sep - qualified));
        if (ret_name)
                *ret_name = xstrdup(sep + strlen(SEP));
        return true;
}

char *gw_cursor_encode(size_t offset)
{
        return xasprintf(CURSOR_PREFIX "%zu", offset);
}

bool gw_cursor_decode(const char *cursor, size_t *ret_offset)
{
        const char *p;
        uintmax_t v = 0;

        if (!cursor || strncmp(cursor, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) != 0)
                return false;
        p = cursor + strlen(CURSOR_PREFIX);
        if (*p == '\0' || strlen(p) > 19)
                return false;
        /* Only plain digits: no sign, spaces or leading zeros that strtoul
         * would let through, so a cursor has exactly one spelling. */
        if (p[0] == '0' && p[1] != '\0')
                return false;
        for (; *p; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                v = v * 10 + (uintmax_t)(*p - '0');
        }
        if (v > SIZE_MAX)
                return false;
        *ret_offset = (size_t)v;
        return true;
}

cJSON *gw_list_page(const gw_source *src, size_t n, const char *key, bool qualify,
                    const char *cursor, size_t page_size)
{
        size_t offset = 0, idx = 0;
        bool more = false;
        cJSON *page, *arr;

        if (page_size == 0)
                page_size = GATEWAY_PAGE_SIZE;
        if (cursor && !gw_cursor_decode(cursor, &offset))
                return NULL;

        page = cJSON_CreateObject();
        arr = cJSON_AddArrayToObject(page, key);
        if (!page || !arr)
                abort();
        for (size_t i = 0; i < n && !more; i++) {
                const cJSON *item;

                if (!cJSON_IsArray(src[i].items))
                        continue;
                cJSON_ArrayForEach(item, src[i].items)
                {
                        const char *name = json_get_string(item, "name");
                        cJSON *copy;

                        if (qualify && !name)
                                continue;
                        if (idx++ < offset)
                                continue;
                        if ((size_t)cJSON_GetArraySize(arr) == page_size) {
                                more = true;
                                break;
                        }
                        copy = json_dup(item);
                        if (qualify) {
                                _cleanup_free_ char *q = gateway_qualify(src[i].server, name);
                                json_set(copy, "name", cJSON_CreateString(q));
                        }
                        cJSON_AddItemToArray(arr, copy);
                }
        }
        if (more) {
                _cleanup_free_ char *next = gw_cursor_encode(offset + page_size);
                cJSON_AddStringToObject(page, "nextCursor", next);
        }
        return page;
}

/* ---- resource owner table ---- */

typedef struct owner_entry {
        char *key;          /* uri, or uriTemplate */
        size_t order;       /* source index: lower wins */
        const char *server; /* points into gw_owners.servers */
        size_t prefix_len;  /* templates: literal prefix length */
} owner_entry;

typedef struct owner_collision {
        const char *key; /* borrowed from the winning entry */
        const char *owner;
        char **shadowed; /* strv of server names */
} owner_collision;

struct gw_owners {
        char **servers; /* one copy per distinct server name */
        owner_entry *res;
        size_t n_res;
        owner_entry *tpl;
        size_t n_tpl;
        owner_entry *tpl_by_prefix; /* same entries, longest prefix first */
        owner_collision *coll;
        size_t n_coll;
};

static int entry_cmp(const void *a, const void *b)
{
        const owner_entry *x = a, *y = b;
        int c = strcmp(x->key, y->key);

        if (c)
                return c;
        return x->order < y->order ? -1 : x->order > y->order;
}

static int entry_prefix_cmp(const void *a, const void *b)
{
        const owner_entry *x = a, *y = b;

        if (x->prefix_len != y->prefix_len)
                return x->prefix_len > y->prefix_len ? -1 : 1;
        return x->order < y->order ? -1 : x->order > y->order;
}

static const char *intern_server(gw_owners *o, const char *name)
{
        size_t n = strv_length(o->servers);

        for (size_t i = 0; i < n; i++)
                if (strcmp(o->servers[i], name) == 0)
                        return o->servers[i];
        o->servers = strv_push(o->servers, name);
        return o->servers[n];
}

static void collect(gw_owners *o, const gw_source *src, size_t n, const char *field,
                    owner_entry **ret, size_t *ret_n)
{
        size_t count = 0, k = 0;
        owner_entry *e;

        for (size_t i = 0; i < n; i++) {
                const cJSON *item;

                if (!cJSON_IsArray(src[i].items))
                        continue;
                cJSON_ArrayForEach(item, src[i].items)
                {
                        if (json_get_string(item, field))
                                count++;
                }
        }
        e = xcalloc(count ? count : 1, sizeof(*e));
        for (size_t i = 0; i < n; i++) {
                const char *server;
                const cJSON *item;

                if (!cJSON_IsArray(src[i].items))
                        continue;
                server = intern_server(o, src[i].server);
                cJSON_ArrayForEach(item, src[i].items)
                {
                        const char *key = json_get_string(item, field);
                        if (!key)
                                continue;
                        e[k].key = xstrdup(key);
                        e[k].order = i;
                        e[k].server = server;
                        e[k].prefix_len = strcspn(key, "{");
                        k++;
                }
        }
        qsort(e, count, sizeof(*e), entry_cmp);
        *ret = e;
        *ret_n = count;
}

/* Collapses runs of equal keys to their first (winning) entry, recording a
 * collision when another server listed the same key. */
static void dedupe(gw_owners *o, owner_entry *e, size_t *n)
{
        size_t w = 0;

        for (size_t r = 0; r < *n;) {
                size_t end = r + 1;
                char **shadowed = NULL;

                while (end < *n && strcmp(e[end].key, e[r].key) == 0) {
                        bool seen = e[end].server == e[r].server;
                        for (size_t k = 0; !seen && shadowed && shadowed[k]; k++)
                                seen = strcmp(shadowed[k], e[end].server) == 0;
                        if (!seen)
                                shadowed = strv_push(shadowed, e[end].server);
                        free(e[end].key);
                        end++;
                }
                e[w] = e[r];
                if (shadowed) {
                        o->coll = xrealloc(o->coll, (o->n_coll + 1) * sizeof(*o->coll));
                        o->coll[o->n_coll++] = (owner_collision){
                                .key = e[w].key, .owner = e[w].server, .shadowed = shadowed};
                }
                w++;
                r = end;
        }
        *n = w;
}

static int coll_cmp(const void *a, const void *b)
{
        return strcmp(((const owner_collision *)a)->key, ((const owner_collision *)b)->key);
}

gw_owners *gw_owners_build(const gw_source *resources, size_t n_resources,
                           const gw_source *templates, size_t n_templates)
{
        gw_owners *o = xcalloc(1, sizeof(*o));

        collect(o, resources, n_resources, "uri", &o->res, &o->n_res);
        dedupe(o, o->res, &o->n_res);
        collect(o, templates, n_templates, "uriTemplate", &o->tpl, &o->n_tpl);
        dedupe(o, o->tpl, &o->n_tpl);
        o->tpl_by_prefix = xcalloc(o->n_tpl ? o->n_tpl : 1, sizeof(*o->tpl_by_prefix));
        if (o->n_tpl)
                memcpy(o->tpl_by_prefix, o->tpl, o->n_tpl * sizeof(*o->tpl));
        qsort(o->tpl_by_prefix, o->n_tpl, sizeof(*o->tpl_by_prefix), entry_prefix_cmp);
        if (o->n_coll)
                qsort(o->coll, o->n_coll, sizeof(*o->coll), coll_cmp);
        return o;
}

gw_owners *gw_owners_free(gw_owners *o)
{
        if (!o)
                return NULL;
        for (size_t i = 0; i < o->n_res; i++)
                free(o->res[i].key);
        for (size_t i = 0; i < o->n_tpl; i++)
                free(o->tpl[i].key);
        for (size_t i = 0; i < o->n_coll; i++)
                strv_free(o->coll[i].shadowed);
        free(o->res);
        free(o->tpl);
        free(o->tpl_by_prefix);
        free(o->coll);
        strv_free(o->servers);
        free(o);
        return NULL;
}

static const owner_entry *find_exact(const owner_entry *e, size_t n, const char *key)
{
        owner_entry probe = {.key = (char *)key};
        size_t lo = 0, hi = n;

        /* Entries are unique after dedupe, so a plain bsearch on the key. */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(probe.key, e[mid].key);
                if (c == 0)
                        return &e[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

/* RFC 6570 §3.2: what an expression with operator op can expand to.  A
 * variable may be undefined, so every expression can expand to nothing;
 * otherwise the operators other than none and '+' put themselves first, and
 * the rest is a run of characters that expansion can produce: values from
 * the simple, label, path-parameter and form operators never hold '/'
 * (RFC 6570 percent-encodes it; the MCP SDKs' own matchers stop there too),
 * path segments never '?' or '#', queries never '#'. */
static bool expansion_char(char op, unsigned char c)
{
        switch (op) {
        case '+':
        case '#':
                return true;
        case '/':
                return c != '?' && c != '#';
        case '?':
        case '&':
                return c != '#';
        default: /* none, '.', ';' */
                return c != '/' && c != '?' && c != '#';
        }
}

static bool expansion_first(char op, unsigned char c)
{
        if (op && op != '+')
                return c == (unsigned char)op;
        return expansion_char(op, c);
}

bool gw_uri_template_match(const char *tpl, const char *uri, size_t *ret_literal)
{
        size_t n = uri ? strlen(uri) : 0, literal = 0;
        bool ok = false;

        if (!tpl || !uri || n > GW_URI_MATCH_MAX)
                return false;
        /* at[i]: uri[0..i) is an expansion of the template parsed so far. */
        _cleanup_free_ bool *at = xcalloc(n + 1, sizeof(*at));
        _cleanup_free_ bool *nx = xcalloc(n + 1, sizeof(*nx));
        _cleanup_free_ size_t *run = xcalloc(n + 1, sizeof(*run));
        at[0] = true;
        for (const char *p = tpl; *p;) {
                bool any = false;

                memset(nx, 0, (n + 1) * sizeof(*nx));
                if (*p == '{') {
                        const char *end = strchr(p, '}');
                        char op = p[1];
                        size_t reach = 0; /* positions < reach are covered by a run */

                        if (!end || strchr("=,!@|", op))
                                return false; /* malformed or reserved operator */
                        if (!strchr("+#./;?&", op))
                                op = 0;
                        /* run[i]: first position >= i the expansion cannot pass. */
                        run[n] = n;
                        for (size_t i = n; i-- > 0;)
                                run[i] = expansion_char(op, (unsigned char)uri[i]) ? run[i + 1] : i;
                        for (size_t i = 0; i <= n; i++) {
                                if (at[i]) {
                                        nx[i] = true; /* undefined: nothing */
                                        if (i < n && expansion_first(op, (unsigned char)uri[i])) {
                                                size_t last = run[i + 1];
                                                for (size_t j = i + 1 > reach ? i + 1 : reach;
                                                     j <= last; j++)
                                                        nx[j] = true;
                                                if (last + 1 > reach)
                                                        reach = last + 1;
                                        }
                                }
                        }
                        p = end + 1;
                } else {
                        size_t len = strcspn(p, "{");

                        for (size_t i = 0; i + len <= n; i++)
                                if (at[i] && memcmp(uri + i, p, len) == 0)
                                        nx[i + len] = true;
                        literal += len;
                        p += len;
                }
                for (size_t i = 0; i <= n; i++) {
                        at[i] = nx[i];
                        any |= nx[i];
                }
                if (!any)
                        return false;
        }
        ok = at[n];
        if (ok && ret_literal)
                *ret_literal = literal;
        return ok;
}

const char *gw_owners_lookup(const gw_owners *o, const char *uri)
{
        const owner_entry *e, *best = NULL;
        size_t best_literal = 0;

        if (!o || !uri)
                return NULL;
        e = find_exact(o->res, o->n_res, uri);
        if (e)
                return e->server;
        /* The template the URI is an expansion of; of several, the one with
         * the most literal characters (the most specific), then the
         * first-installed server's. */
        for (size_t i = 0; i < o->n_tpl; i++) {
                const owner_entry *t = &o->tpl[i];
                size_t literal = 0;

                if (!gw_uri_template_match(t->key, uri, &literal))
                        continue;
                if (!best || literal > best_literal ||
                    (literal == best_literal && t->order < best->order)) {
                        best = t;
                        best_literal = literal;
                }
        }
        if (best)
                return best->server;
        /* No template matches as RFC 6570 says (a server that puts '/' in
         * a simple value): the longest literal prefix. */
        for (size_t i = 0; i < o->n_tpl; i++) {
                const owner_entry *t = &o->tpl_by_prefix[i];
                if (strncmp(uri, t->key, t->prefix_len) == 0)
                        return t->server;
        }
        return NULL;
}

const char *gw_owners_lookup_ref(const gw_owners *o, const char *uri)
{
        const owner_entry *e;

        if (!o || !uri)
                return NULL;
        e = find_exact(o->tpl, o->n_tpl, uri);
        if (e)
                return e->server;
        return gw_owners_lookup(o, uri);
}

cJSON *gw_owners_collisions_json(const gw_owners *o)
{
        cJSON *arr = cJSON_CreateArray();

        if (!arr)
                abort();
        for (size_t i = 0; o && i < o->n_coll; i++) {
                cJSON *c = cJSON_CreateObject();
                cJSON *sh = cJSON_AddArrayToObject(c, "shadowed");

                cJSON_AddStringToObject(c, "uri", o->coll[i].key);
                cJSON_AddStringToObject(c, "owner", o->coll[i].owner);
                for (char **s = o->coll[i].shadowed; s && *s; s++)
                        cJSON_AddItemToArray(sh, cJSON_CreateString(*s));
                cJSON_AddItemToArray(arr, c);
        }
        return arr;
}
