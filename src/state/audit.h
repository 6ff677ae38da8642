/* The daemon's audit log writer (issue 15): gateway call records buffered on
 * the loop and written to the state database in one transaction per flush. */
#pragma once

#include <cJSON.h>
#include <uv.h>

#include "corral/config.h"
#include "corral/error.h"
#include "corral/gateway.h"
#include "corral/paths.h"

#define AUDIT_MAX_PENDING 10000 /* records held while the database fails */
#define AUDIT_FLUSH_MS 200
#define AUDIT_BUSY_TIMEOUT_MS 20 /* the longest a flush waits for a lock, on the loop */
#define AUDIT_ARGS_DEFAULT 4096  /* bytes of a call's arguments kept ("arguments_max_bytes") */
#define AUDIT_ARGS_MIN 256
#define AUDIT_ARGS_MAX 65536

typedef struct audit_log audit_log;

/* The members of corral.json "audit" (config_validate() checks them too). */
extern const config_key audit_config_keys[];

/* From corral.json "audit": {"enabled": true, "retention_days": 90,
 * "arguments": false, "arguments_max_bytes": 4096} (config may be NULL: on,
 * without arguments).  *ret NULL when disabled.  -EX_CONFIG for a bad key.
 * With "arguments" each call's arguments are kept, redacted of every secret
 * paths' store knows (include/corral/redact.h) and capped; paths is copied.
 * The database (path) is opened at the first flush, so a locked,
 * read-only or corrupt file never stops the daemon: the failure is logged
 * (at most every 10 s), shown by audit_status_json(), and the records wait
 * (up to AUDIT_MAX_PENDING, then they are counted as dropped). */
int audit_new(uv_loop_t *loop, const cJSON *config, const corral_paths *paths, const char *path,
              audit_log **ret, corral_error *err);
/* Whether records should carry arguments (gateway_set_call_arguments()). */
bool audit_wants_arguments(const audit_log *a);
/* Flushes what is pending (once; failures are logged) and frees.  NULL. */
audit_log *audit_free(audit_log *a);
/* gateway_call_observer: ud is the audit_log. */
void audit_record(void *ud, const gateway_call_record *rec);
/* {path, ok, error, written, pending, dropped, arguments, and with them
 * arguments_max_bytes and secrets_known} (owned); NULL a is {enabled: false}. */
cJSON *audit_status_json(const audit_log *a);
