/* JSON-RPC framing, parsing and classification of what clients and servers
 * send (MCP stdio framing, JSON-RPC 2.0).  Invariants checked beyond "no
 * crash": every parsed message's id is echoed with exactly the bytes of the
 * input, and a reply built around it is valid UTF-8 JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"

static int on_line(void *ud, const char *line, size_t len)
{
        cJSON *msg = jsonrpc_parse(line, len);
        size_t *n = ud;

        (*n)++;
        if (!msg) {
                size_t fixed_len;
                char *fixed = jsonrpc_utf8_repair(line, len, &fixed_len);
                if (fixed) {
                        /* The repair is well-formed: repairing it again is a no-op. */
                        size_t again_len;
                        char *again = jsonrpc_utf8_repair(fixed, fixed_len, &again_len);
                        if (again)
                                abort();
                        free(fixed);
                }
                return 0;
        }
        (void)jsonrpc_classify(msg);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
        if (jsonrpc_id_valid(id)) {
                cJSON *reply = jsonrpc_result(id, NULL);
                size_t rlen;
                char *text = jsonrpc_frame(reply, &rlen);
                /* One line, and it parses back with the same id text. */
                if (memchr(text, '\n', rlen - 1))
                        abort();
                cJSON *back = jsonrpc_parse(text, rlen - 1);
                if (!back)
                        abort();
                const cJSON *bid = cJSON_GetObjectItemCaseSensitive(back, "id");
                if (cJSON_IsRaw(id) && (!cJSON_IsRaw(bid) || strcmp(id->valuestring, bid->valuestring)))
                        abort();
                if (!jsonrpc_id_equal(id, bid))
                        abort();
                cJSON_Delete(back);
                free(text);
                cJSON_Delete(reply);
        }
        cJSON_Delete(msg);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        jsonrpc_framer f;
        size_t n = 0;

        /* Small cap so the oversize path is reached too. */
        jsonrpc_framer_init(&f, 4096);
        /* Split at a data-chosen point to exercise partial lines. */
        size_t cut = size ? data[0] % (size + 1) : 0;
        (void)jsonrpc_framer_feed(&f, (const char *)data, cut, on_line, &n);
        (void)jsonrpc_framer_feed(&f, (const char *)data + cut, size - cut, on_line, &n);
        (void)jsonrpc_framer_feed(&f, "\n", 1, on_line, &n);
        jsonrpc_framer_done(&f);
        return 0;
}
