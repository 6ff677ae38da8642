/* MCP 2026-07-28 Streamable HTTP (basic/transports/streamable-http,
 * "Request Metadata"): the headers a modern POST carries besides its body —
 * MCP-Protocol-Version from the body's _meta, Mcp-Method, Mcp-Name for
 * tools/call, resources/read and prompts/get, and Mcp-Param-{Name} for the
 * tool arguments the server's inputSchema marks with x-mcp-header — and the
 * check of those x-mcp-header annotations on tools/list, which drops a tool
 * whose annotations break the rules ("Schema Extension"). */
#include <ctype.h>
#include <math.h>
#include <openssl/evp.h>

#include "transport_internal.h"

#define XHDR_TOOLS_MAX 10000u /* tools whose annotations are remembered */
#define XHDR_PER_TOOL_MAX 64u /* x-mcp-header annotations of one tool */
#define XHDR_DEPTH_MAX 32u    /* schema nesting walked */
#define JS_SAFE_MAX 9007199254740991.0

/* A header value as 2026-07-28 "Value Encoding" says: as is when it is
 * visible ASCII and spaces without leading or trailing whitespace, else (and
 * when it looks like the sentinel itself) =?base64?…?= of its UTF-8. */
char *rt_header_value(const char *v, size_t n)
{
        bool plain = n > 0 && v[0] != ' ' && v[n - 1] != ' ';
        char *out;

        for (size_t i = 0; plain && i < n; i++)
                if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
                        plain = false;
        if (plain && n >= 11 && strncmp(v, "=?base64?", 9) == 0 && strcmp(v + n - 2, "?=") == 0)
                plain = false;
        if (plain || n == 0)
                return xstrndup(v, n);
        out = xmalloc(9 + 4 * ((n + 2) / 3) + 3);
        memcpy(out, "=?base64?", 9);
        int len = EVP_EncodeBlock((unsigned char *)out + 9, (const unsigned char *)v, (int)n);
        memcpy(out + 9 + len, "?=", 3);
        return out;
}

static bool tchar(char c)
{
        return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

typedef struct walk {
        cJSON *found; /* [{"h": NAME, "p": [KEY…]}] */
        const char *bad;
} walk;

static bool primitive(const cJSON *schema)
{
        const char *t = json_get_string(schema, "type");
        return t && (strcmp(t, "string") == 0 || strcmp(t, "integer") == 0 ||
                     strcmp(t, "boolean") == 0);
}

/* Walks node: on_chain when it is reached from the root through
 * `properties` keys only (path holds them). */
static void walk_schema(walk *w, const cJSON *node, bool on_chain, cJSON *path, unsigned depth)
{
        const cJSON *h, *k;

        if (w->bad || !(cJSON_IsObject(node) || cJSON_IsArray(node)))
                return;
        if (depth > XHDR_DEPTH_MAX) {
                w->bad = "an inputSchema nested too deep";
                return;
        }
        h = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, "x-mcp-header") : NULL;
        if (h) {
                const char *name = cJSON_IsString(h) ? h->valuestring : NULL;
                const cJSON *e;

                if (!on_chain || cJSON_GetArraySize(path) == 0) {
                        w->bad = "x-mcp-header on a property not reached through properties only";
                        return;
                }
                if (!name || !*name) {
                        w->bad = "an empty x-mcp-header";
                        return;
                }
                for (const char *c = name; *c; c++)
                        if (!tchar(*c)) {
                                w->bad = "an x-mcp-header that is not an HTTP field-name token";
                                return;
                        }
                if (!primitive(node)) {
                        w->bad = "x-mcp-header on a property that is not a string, integer or "
                                 "boolean";
                        return;
                }
                cJSON_ArrayForEach(e, w->found) if (strcasecmp(json_get_string(e, "h"), name) == 0)
                {
                        w->bad = "two x-mcp-header annotations with the same name";
                        return;
                }
                if ((unsigned)cJSON_GetArraySize(w->found) >= XHDR_PER_TOOL_MAX) {
                        w->bad = "too many x-mcp-header annotations";
                        return;
                }
                cJSON *rec = cJSON_CreateObject();
                cJSON_AddStringToObject(rec, "h", name);
                cJSON_AddItemToObject(rec, "p", json_dup(path));
                cJSON_AddItemToArray(w->found, rec);
        }
        cJSON_ArrayForEach(k, node)
        {
                if (on_chain && k->string && strcmp(k->string, "properties") == 0 &&
                    cJSON_IsObject(k)) {
                        const cJSON *prop;
                        cJSON_ArrayForEach(prop, k)
                        {
                                cJSON_AddItemToArray(path, cJSON_CreateString(prop->string));
                                walk_schema(w, prop, true, path, depth + 1);
                                cJSON_DeleteItemFromArray(path, cJSON_GetArraySize(path) - 1);
                        }
                        continue;
                }
                walk_schema(w, k, false, path, depth + 1);
        }
}

/* result is a tools/list result from a 2026-07-28 server: tools with broken
 * x-mcp-header annotations leave it (logged); the others' annotations are
 * remembered for their calls.  True when result changed. */
bool rt_modern_tools(remote_session *s, cJSON *result)
{
        cJSON *tools = cJSON_GetObjectItemCaseSensitive(result, "tools");
        bool changed = false;

        if (!cJSON_IsArray(tools))
                return false;
        if (!s->xhdr)
                s->xhdr = cJSON_CreateObject();
        for (cJSON *t = tools->child, *next; t; t = next) {
                const char *name = json_get_string(t, "name");
                _cleanup_json_ cJSON *path = cJSON_CreateArray();
                walk w = {.found = cJSON_CreateArray()};

                next = t->next;
                walk_schema(&w, json_get_object(t, "inputSchema"), true, path, 0);
                if (name)
                        cJSON_DeleteItemFromObjectCaseSensitive(s->xhdr, name);
                if (w.bad) {
                        log_warn("%s: tool '%s' left out: %s (MCP 2026-07-28 x-mcp-header)",
                                 s->url, name ? name : "?", w.bad);
                        cJSON_Delete(cJSON_DetachItemViaPointer(tools, t));
                        cJSON_Delete(w.found);
                        changed = true;
                        continue;
                }
                if (name && cJSON_GetArraySize(w.found) > 0 &&
                    (unsigned)cJSON_GetArraySize(s->xhdr) < XHDR_TOOLS_MAX)
                        cJSON_AddItemToObject(s->xhdr, name, w.found);
                else
                        cJSON_Delete(w.found);
        }
        return changed;
}

/* The value at path in args as a header value, or NULL (absent, null, or
 * not a string, integer or boolean). */
static char *arg_value(const cJSON *args, const cJSON *path)
{
        const cJSON *k, *v = args;
        char buf[32];

        cJSON_ArrayForEach(k, path)
        {
                if (!cJSON_IsObject(v) || !cJSON_IsString(k))
                        return NULL;
                v = cJSON_GetObjectItemCaseSensitive(v, k->valuestring);
        }
        if (cJSON_IsString(v))
                return rt_header_value(v->valuestring, strlen(v->valuestring));
        if (cJSON_IsBool(v))
                return xstrdup(cJSON_IsTrue(v) ? "true" : "false");
        if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
            fabs(v->valuedouble) <= JS_SAFE_MAX) {
                snprintf(buf, sizeof(buf), "%.0f", v->valuedouble);
                return xstrdup(buf);
        }
        return NULL;
}

char **rt_modern_headers(remote_session *s, const cJSON *msg, const char *version)
{
        const char *method = json_get_string(msg, "method");
        const cJSON *params = json_get_object(msg, "params");
        char **h = NULL;
        _cleanup_free_ char *l = xasprintf("MCP-Protocol-Version: %s", version);

        h = strv_push(h, l);
        if (!method)
                return h;
        if (strlen(method) <= 256 && !strpbrk(method, "\r\n")) {
                free(l);
                l = xasprintf("Mcp-Method: %s", method);
                h = strv_push(h, l);
        }
        if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0 ||
            strcmp(method, "resources/read") == 0) {
                const char *name = json_get_string(params, strcmp(method, "resources/read") == 0
                                                                   ? "uri"
                                                                   : "name");
                if (name && strlen(name) <= REMOTE_HEADER_MAX / 2) {
                        _cleanup_free_ char *v = rt_header_value(name, strlen(name));
                        free(l);
                        l = *v ? xasprintf("Mcp-Name: %s", v) : xstrdup("Mcp-Name;");
                        h = strv_push(h, l);
                }
        }
        if (strcmp(method, "tools/call") == 0 && s->xhdr) {
                const cJSON *recs = cJSON_GetObjectItemCaseSensitive(
                        s->xhdr, json_get_string(params, "name") ? json_get_string(params, "name")
                                                                 : "");
                const cJSON *r;
                cJSON_ArrayForEach(r, recs)
                {
                        _cleanup_free_ char *v = arg_value(
                                json_get_object(params, "arguments"),
                                cJSON_GetObjectItemCaseSensitive(r, "p"));
                        if (!v || strlen(v) > REMOTE_HEADER_MAX / 2)
                                continue;
                        free(l);
                        /* "Name;" is how libcurl sends a header with an empty value. */
                        l = *v ? xasprintf("Mcp-Param-%s: %s", json_get_string(r, "h"), v)
                               : xasprintf("Mcp-Param-%s;", json_get_string(r, "h"));
                        h = strv_push(h, l);
                }
        }
        return h;
}
