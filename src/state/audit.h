/* The daemon's audit log writer (issue 15): gateway call records buffered on
 * the loop and written to the state database in one transaction per flush. */
#pragma once

#include <cJSON.h>
#include <uv.h>

#include "corral/error.h"
#include "corral/gateway.h"

#define AUDIT_MAX_PENDING 10000 /* records held while the database fails */
#define AUDIT_FLUSH_MS 200
#define AUDIT_BUSY_TIMEOUT_MS 20 /* the longest a flush waits for a lock, on the loop */

typedef struct audit_log audit_log;

/* From corral.json "audit": {"enabled": true, "retention_days": 90}
 * (config may be NULL: on).  *ret NULL when disabled.  -EX_CONFIG for a bad
 * key.  The database (path) is opened at the first flush, so a locked,
 * read-only or corrupt file never stops the daemon: the failure is logged
 * (at most every 10 s), shown by audit_status_json(), and the records wait
 * (up to AUDIT_MAX_PENDING, then they are counted as dropped). */
int audit_new(uv_loop_t *loop, const cJSON *config, const char *path, audit_log **ret,
              corral_error *err);
/* Flushes what is pending (once; failures are logged) and frees.  NULL. */
audit_log *audit_free(audit_log *a);
/* gateway_call_observer: ud is the audit_log. */
void audit_record(void *ud, const gateway_call_record *rec);
/* {path, ok, error, written, pending, dropped} (owned); NULL a is {enabled: false}. */
cJSON *audit_status_json(const audit_log *a);
