/* JSON-RPC 2.0 over newline-delimited streams, as MCP's stdio transport uses
 * it (MCP 2025-11-25 basic/transports §stdio: one message per line, no embedded
 * newlines).  Framing is byte-oriented and copes with split and merged reads;
 * every message is capped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>

#include "corral/strbuf.h"

#define JSONRPC_DEFAULT_MAX_MESSAGE (16u << 20) /* 16 MiB */

/* JSON-RPC 2.0 §5.1 error codes, and corral's own in the -32000..-32099
 * server-error range. */
enum {
        JSONRPC_PARSE_ERROR = -32700,
        JSONRPC_INVALID_REQUEST = -32600,
        JSONRPC_METHOD_NOT_FOUND = -32601,
        JSONRPC_INVALID_PARAMS = -32602,
        JSONRPC_INTERNAL_ERROR = -32603,
        CORRAL_RPC_UNAVAILABLE = -32000, /* the unit is not ready (message names unit and state) */
        CORRAL_RPC_TIMEOUT = -32001,     /* the request timed out */
        MCP_RESOURCE_NOT_FOUND = -32002, /* MCP resources/read */
        CORRAL_RPC_CANCELLED = -32003,   /* the request was cancelled */
        CORRAL_RPC_FAULTY = -32004,      /* the server broke the protocol (oversize, garbage) */
};

typedef struct jsonrpc_framer {
        strbuf buf;
        size_t max;      /* cap on one message, bytes */
        bool discarding; /* skipping the rest of an oversize line */
} jsonrpc_framer;

typedef enum {
        JSONRPC_FRAME_OK = 0,
        JSONRPC_FRAME_OVERSIZE = -1, /* a line exceeded max; it is skipped */
        JSONRPC_FRAME_STOP = -2,     /* the callback asked to stop */
} jsonrpc_frame_result;

/* max = 0 means JSONRPC_DEFAULT_MAX_MESSAGE. */
void jsonrpc_framer_init(jsonrpc_framer *f, size_t max);
void jsonrpc_framer_done(jsonrpc_framer *f);

/* Called once per complete line (without the '\n', trailing '\r' stripped,
 * empty and whitespace-only lines skipped).  line is NUL-terminated and valid
 * only during the call.  Return non-zero to stop feeding. */
typedef int (*jsonrpc_line_cb)(void *ud, const char *line, size_t len);

/* Feeds n bytes.  Calls cb for every line completed; a line longer than max is
 * dropped and JSONRPC_FRAME_OVERSIZE returned (after the remaining complete
 * lines in data have still been delivered).  A line may carry max bytes plus
 * its '\r'.  The rest of an oversize line is skipped across later feeds.  cb
 * must not feed the same framer. */
jsonrpc_frame_result jsonrpc_framer_feed(jsonrpc_framer *f, const char *data, size_t n,
                                         jsonrpc_line_cb cb, void *ud);

/* Parses one message (a line from the framer, or an HTTP body).  Returns the
 * tree (owned) or NULL when the text is not exactly one JSON value (RFC 8259:
 * trailing bytes, a NUL, unescaped control characters in strings) or is not
 * well-formed UTF-8 (RFC 8259 §8.1: such a message is rejected whole, answered
 * by the caller with a parse error, never echoed).  The message's "id",
 * params.requestId and params._meta.progressToken, when strings or numbers,
 * become cJSON raw items holding the exact bytes the peer sent (any escape,
 * integers of any size), so whatever echoes them echoes them byte-for-byte;
 * use jsonrpc_id_type_of()/jsonrpc_id_equal() to inspect them. */
cJSON *jsonrpc_parse(const char *text, size_t len);

/* RFC 8259 §8.1 for what corral reads from the servers it runs: NULL when
 * text[0..len) is well-formed UTF-8, else a copy (owned, NUL-terminated,
 * length in *ret_len) with each ill-formed byte replaced by U+FFFD. */
char *jsonrpc_utf8_repair(const char *text, size_t len, size_t *ret_len);

typedef enum {
        JSONRPC_ID_INVALID, /* absent, or not a string, number or null */
        JSONRPC_ID_STRING,
        JSONRPC_ID_NUMBER,
        JSONRPC_ID_NULL,
} jsonrpc_id_type;

/* The JSON type of an id, parsed or raw (from jsonrpc_parse). */
jsonrpc_id_type jsonrpc_id_type_of(const cJSON *id);
/* A string or number id (JSON-RPC 2.0 §4), parsed or raw. */
bool jsonrpc_id_valid(const cJSON *id);
/* Ids equal: raw ids compare by their exact text, parsed ones by value. */
bool jsonrpc_id_equal(const cJSON *a, const cJSON *b);

typedef enum {
        JSONRPC_REQUEST,      /* has method and id */
        JSONRPC_NOTIFICATION, /* has method, no id */
        JSONRPC_RESPONSE,     /* has id and exactly one of result/error */
        JSONRPC_INVALID,
} jsonrpc_kind;

/* Classifies a parsed message per JSON-RPC 2.0 §4 and §5 ("jsonrpc":"2.0"
 * required; ids are strings or numbers, null only in responses; method a
 * string; params, when present, an object or array; a response has exactly
 * one of result/error; error has an integer code and a string message). */
jsonrpc_kind jsonrpc_classify(const cJSON *msg);

/* Builders; the returned object is owned by the caller.  Arguments named
 * "take" are consumed (may be NULL); id is copied (NULL gives "id":null).
 * jsonrpc_result with NULL gives the empty result {}. */
cJSON *jsonrpc_request(const cJSON *id, const char *method, cJSON *take_params);
cJSON *jsonrpc_notification(const char *method, cJSON *take_params);
cJSON *jsonrpc_result(const cJSON *id, cJSON *take_result);
cJSON *jsonrpc_error(const cJSON *id, int code, const char *message, cJSON *take_data);

/* Compact serialisation plus "\n"; owned.  *ret_len excludes the NUL. */
char *jsonrpc_frame(const cJSON *msg, size_t *ret_len);
