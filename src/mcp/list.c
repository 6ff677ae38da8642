/* Fetching a whole paged list from a server (MCP 2025-11-25
 * server/utilities/pagination): pages are followed with nextCursor, under
 * caps on items and pages, and against a server that repeats a cursor. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "mcp/internal.h"

#define LIST_MAX_ITEMS 10000
#define LIST_MAX_PAGES 1000

typedef struct list_state {
        char *method;
        char *key;
        char *cursor; /* the cursor last sent, to catch a server that repeats it */
        uint64_t timeout_ms;
        cJSON *items;
        unsigned pages;
        mcp_response_cb cb;
        void *ud;
} list_state;

static void list_state_free(list_state *ls)
{
        free(ls->method);
        free(ls->key);
        free(ls->cursor);
        cJSON_Delete(ls->items);
        free(ls);
}

static void list_fail(list_state *ls, const char *fmt, ...) _printf_(2, 3);
static void list_fail(list_state *ls, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        _cleanup_json_ cJSON *e = mcpc_error_object(CORRAL_RPC_FAULTY, msg);
        ls->cb(ls->ud, NULL, e);
        list_state_free(ls);
}

static void list_page_done(mcp_client *c, pending *p, const cJSON *result, const cJSON *error)
{
        list_state *ls = p->ctx;

        if (error) {
                ls->cb(ls->ud, NULL, error);
                list_state_free(ls);
                return;
        }
        const cJSON *page = json_get_array(result, ls->key);
        if (!page) {
                list_fail(ls, "%s: result has no '%s' array", ls->method, ls->key);
                return;
        }
        if ((size_t)cJSON_GetArraySize(page) >
            LIST_MAX_ITEMS - (size_t)cJSON_GetArraySize(ls->items)) {
                list_fail(ls, "%s: server listed more than %d items", ls->method, LIST_MAX_ITEMS);
                return;
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, page)
        {
                cJSON_AddItemToArray(ls->items, json_dup(item));
        }
        ls->pages++;

        const char *next = json_get_string(result, "nextCursor");
        if (!next || !*next) {
                cJSON *r = cJSON_CreateObject();
                cJSON_AddItemToObject(r, ls->key, ls->items);
                ls->items = NULL;
                ls->cb(ls->ud, r, NULL);
                cJSON_Delete(r);
                list_state_free(ls);
                return;
        }
        if (ls->pages >= LIST_MAX_PAGES) {
                list_fail(ls, "%s: server sent more than %d pages", ls->method, LIST_MAX_PAGES);
                return;
        }
        if (ls->cursor && strcmp(ls->cursor, next) == 0) {
                list_fail(ls, "%s: server repeated the same cursor", ls->method);
                return;
        }
        free(ls->cursor);
        ls->cursor = xstrdup(next);
        cJSON *params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "cursor", next);
        pending *np = mcpc_pending_new(ls->timeout_ms, NULL, NULL, NULL);
        np->done = list_page_done;
        np->ctx = ls;
        /* On failure mcpc_start() completes np at once, which frees ls. */
        (void)mcpc_start(c, np, ls->method, params);
}

int mcp_client_list_all(mcp_client *c, const char *method, const char *key, uint64_t timeout_ms,
                        mcp_response_cb cb, void *ud)
{
        list_state *ls = xcalloc(1, sizeof(*ls));
        ls->method = xstrdup(method);
        ls->key = xstrdup(key);
        ls->timeout_ms = timeout_ms;
        ls->items = cJSON_CreateArray();
        ls->cb = cb;
        ls->ud = ud;

        pending *p = mcpc_pending_new(timeout_ms, NULL, NULL, NULL);
        p->done = list_page_done;
        p->ctx = ls;
        if (!c) {
                (void)mcpc_start(NULL, p, method, NULL);
                return -EX_UNAVAILABLE;
        }
        mcpc_enter(c);
        uint64_t h = mcpc_start(c, p, method, NULL);
        (void)mcpc_leave(c);
        return h ? 0 : -EX_UNAVAILABLE;
}

