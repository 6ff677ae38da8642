/* MCP 2026-07-28 on Streamable HTTP (basic/transports/streamable-http
 * §request metadata, §backward compatibility): which POSTs are 2026-07-28
 * ones, the standard headers checked against the body, and the HTTP status
 * of a JSON answer.  The POST handling itself is in http.c. */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "gateway/http_internal.h"

/* ---- 2026-07-28 standard headers (basic/transports/streamable-http
 * §request metadata) ---- */

/* value without the optional whitespace around it (RFC 9110 §5.5), with
 * the =?base64?…?= sentinel decoded; NULL when malformed. */
static char *header_value(const char *v)
{
        size_t n;
        const char *end;

        while (*v == ' ' || *v == '\t')
                v++;
        end = v + strlen(v);
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        n = (size_t)(end - v);
        if (n >= 11 && strncmp(v, "=?base64?", 9) == 0 && strncmp(end - 2, "?=", 2) == 0) {
                size_t b = n - 11, pad = 0;
                _cleanup_free_ unsigned char *out = NULL;
                int got;

                if (b % 4 || b > 65536)
                        return NULL;
                out = xmalloc(b / 4 * 3 + 1);
                got = EVP_DecodeBlock(out, (const unsigned char *)v + 9, (int)b);
                if (got < 0)
                        return NULL;
                if (b && v[9 + b - 1] == '=')
                        pad++;
                if (b > 1 && v[9 + b - 2] == '=')
                        pad++;
                if ((size_t)got < pad || memchr(out, 0, (size_t)got - pad))
                        return NULL;
                return xstrndup((const char *)out, (size_t)got - pad);
        }
        return xstrndup(v, n);
}

/* Checks MCP-Protocol-Version, Mcp-Method and Mcp-Name against the body;
 * NULL when they agree, else why not (static text). */
const char *http_modern_mismatch(struct MHD_Connection *conn, const cJSON *msg,
                                 const char *version)
{
        const char *method = json_get_string(msg, "method");
        const cJSON *params = json_get_object(msg, "params");
        const char *asked = json_get_string(json_get_object(params, "_meta"),
                                            "io.modelcontextprotocol/protocolVersion");
        const char *hm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Method"), *hn = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Name");
        const char *body_name = NULL;
        _cleanup_free_ char *m = NULL, *n = NULL;

        if (!version)
                return "the MCP-Protocol-Version header is missing";
        if (asked && strcmp(asked, version) != 0)
                return "MCP-Protocol-Version does not match _meta's protocolVersion";
        if (!hm)
                return "the Mcp-Method header is missing";
        m = header_value(hm);
        if (!m || strcmp(m, method) != 0)
                return "Mcp-Method does not match the body's method";
        if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0)
                body_name = json_get_string(params, "name");
        else if (strcmp(method, "resources/read") == 0)
                body_name = json_get_string(params, "uri");
        if (!body_name)
                return NULL;
        if (!hn)
                return "the Mcp-Name header is missing";
        n = header_value(hn);
        if (!n || strcmp(n, body_name) != 0)
                return "Mcp-Name does not match the body's name or uri";
        return NULL;
}

/* One argument in its header form (2026-07-28 basic/transports/
 * streamable-http §custom headers): strings as they are, integers in
 * decimal, booleans true/false; NULL for what has no header form. */
static char *param_text(const cJSON *v)
{
        if (cJSON_IsString(v))
                return xstrdup(v->valuestring);
        if (cJSON_IsBool(v))
                return xstrdup(cJSON_IsTrue(v) ? "true" : "false");
        if (cJSON_IsNumber(v))
                return cJSON_PrintUnformatted(v);
        return NULL;
}

const char *http_modern_param_mismatch(struct MHD_Connection *conn, const cJSON *schema,
                                       const cJSON *args)
{
        const cJSON *prop;
        unsigned n = 0;

        cJSON_ArrayForEach(prop, json_get_object(schema, "properties"))
        {
                const char *h = json_get_string(prop, "x-mcp-header");
                const cJSON *v;
                const char *raw;
                _cleanup_free_ char *name = NULL, *want = NULL, *got = NULL;

                if (!h || !prop->string || ++n > 64)
                        continue;
                if (!*h || strlen(h) > 128)
                        continue; /* not a valid header name: clients leave the tool out */
                name = xasprintf("Mcp-Param-%s", h);
                raw = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
                v = cJSON_GetObjectItemCaseSensitive(args, prop->string);
                want = v && !cJSON_IsNull(v) ? param_text(v) : NULL;
                if (!want) {
                        if (raw)
                                return "an Mcp-Param header names an argument the body does not have";
                        continue;
                }
                if (!raw)
                        return "an Mcp-Param header the tool's x-mcp-header asks for is missing";
                got = header_value(raw);
                if (!got || strcmp(got, want) != 0)
                        return "an Mcp-Param header does not match the body's argument";
        }
        return NULL;
}

bool http_is_modern(const cJSON *msg, const char *version)
{
        const char *method = json_get_string(msg, "method");
        const cJSON *meta = json_get_object(json_get_object(msg, "params"), "_meta");

        return (version && strcmp(version, MCP_MODERN_VERSION) == 0) ||
               cJSON_GetObjectItemCaseSensitive(meta, "io.modelcontextprotocol/protocolVersion") ||
               (method && strcmp(method, "server/discover") == 0);
}

/* 2026-07-28 (basic/transports/streamable-http): the HTTP status of a JSON
 * answer follows its JSON-RPC error. */
unsigned http_modern_status(const hsession *s, const char *json, size_t len)
{
        _cleanup_json_ cJSON *m = jsonrpc_parse(json, len);
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(m, "error"), "code");

        if (!cJSON_IsNumber(code))
                return MHD_HTTP_OK;
        /* What a handler or a unit answered stays in-band, but for a
         * missing client capability; protocol-level refusals map. */
        if (!s->gs || !s->gs->ladder)
                return code->valueint == MCP_MISSING_CLIENT_CAPABILITY ? MHD_HTTP_BAD_REQUEST
                                                                       : MHD_HTTP_OK;
        switch (code->valueint) {
        case JSONRPC_METHOD_NOT_FOUND:
                return MHD_HTTP_NOT_FOUND;
        case JSONRPC_INVALID_PARAMS:
        case MCP_HEADER_MISMATCH:
        case MCP_MISSING_CLIENT_CAPABILITY:
        case MCP_UNSUPPORTED_PROTOCOL_VERSION:
                return MHD_HTTP_BAD_REQUEST;
        default:
                return MHD_HTTP_OK;
        }
}

