/* Redaction of the secrets corral knows from JSON it is about to keep
 * (issue 15: tool-call arguments in the audit log, `"audit": {"arguments":
 * true}`).
 *
 * A redact_set holds secret values.  redact_json_text() copies a JSON value
 * and replaces, in every string (and object key):
 *   - each secret of the set wherever it appears (a secret shorter than
 *     REDACT_MIN_SUBSTRING bytes only when it is the whole string: so short
 *     a value would match everywhere);
 *   - `corral token` bearer tokens (corral_<hex id>_<base64url secret>) by
 *     their shape, since only their SHA-256 is kept;
 *   - JSON Web Tokens (eyJ….….…, RFC 7519 §3 compact form) by their shape;
 *   - the credentials after "Bearer " / "Basic " (RFC 6750 §2.1, RFC 7617);
 * and replaces the whole value of a member whose key names a secret
 * (redact_key_is_secret()).  A number whose text holds a secret becomes the
 * string REDACT_MARK too.  Each replacement is the string REDACT_MARK. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <cJSON.h>

#include "corral/paths.h"

#define REDACT_MARK "[redacted]"
#define REDACT_MIN_SUBSTRING 4      /* bytes: shorter secrets match whole strings only */
#define REDACT_MAX_SECRETS 4096     /* values one set holds; more are counted as dropped */
#define REDACT_MAX_SECRET_LEN 16384 /* bytes of one value; longer ones are not kept */
#define REDACT_FILE_MAX (1u << 20)  /* bytes read of one secrets or token file */

typedef struct redact_set redact_set;

redact_set *redact_set_new(void);
/* NULL. */
redact_set *redact_set_free(redact_set *s);
/* Adds a copy of value (ignored when empty, already there or longer than
 * REDACT_MAX_SECRET_LEN; counted as dropped past REDACT_MAX_SECRETS). */
void redact_set_add(redact_set *s, const char *value);
/* Adds the string values in j: every one (all true: a secrets.json), or
 * only those at or under a member whose key redact_key_is_secret() (a
 * token file, corral.json). */
void redact_set_add_json(redact_set *s, const cJSON *j, bool all);
/* Values held, and values refused because the set was full. */
size_t redact_set_count(const redact_set *s);
size_t redact_set_dropped(const redact_set *s);

/* Whether a member named key holds a secret: ignoring case, '-' and '_',
 * it contains password, passwd, passphrase, secret, apikey, privatekey,
 * credential, authorization, cookie or codeverifier, or ends in token
 * (access_token, apiToken, … but not token_endpoint or max_tokens). */
bool redact_key_is_secret(const char *key);

/* j redacted as above, printed compactly (owned; never NULL).  When that is
 * longer than cap bytes (cap >= 64) it is cut there (at a UTF-8 boundary)
 * and the result is one JSON string: the cut text followed by
 * "[truncated, N bytes in all]", N being the bytes of j as given
 * (unredacted, compact).  A secret is replaced before anything is cut, so a
 * cut never leaves part of one. */
char *redact_json_text(const cJSON *j, const redact_set *s, size_t cap);

/* ---- the secrets a store knows (src/state/redact_store.c) -------------- */

/* A fingerprint of every file redact_set_load_store() reads (names, inode,
 * size, mtime): when it is unchanged the set need not be loaded again. */
unsigned long long redact_store_fingerprint(const corral_paths *p);
/* Adds the store's secrets to s: every string of servers/NAME/secrets.json
 * (environment values, headers, query, registry inputs), the secret-named
 * members of the OAuth token files (oauth/UID/NAME.json and the older
 * servers/NAME/oauth.json: access and refresh tokens, client secret, PKCE
 * verifier) and of corral.json (client_secret, smithery_api_key, …).
 * Unreadable files are skipped; each read is capped at REDACT_FILE_MAX. */
void redact_set_load_store(redact_set *s, const corral_paths *p);
