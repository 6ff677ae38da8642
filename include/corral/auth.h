/* HTTP caller authentication: corral as an OAuth 2.1 resource server
 * (bearer JWTs from trusted issuers, opaque tokens through RFC 7662
 * introspection) and static API tokens for headless sites (`corral token`).
 * The HTTP adapter hands the Authorization header here and gets back either
 * an identity (user, level, scopes) or the HTTP status and WWW-Authenticate
 * value to answer with.
 *
 * corral.json:
 *
 *   "auth": {
 *     "resource": "https://mcp.example.com/mcp",   canonical URL of /mcp (RFC 8707, RFC 9728 §2)
 *     "resource_name": "corral on mcp.example.com", optional, RFC 9728 §2
 *     "clock_skew_s": 60,                           exp/nbf/iat leeway, 0..300
 *     "jwks_min_refresh_s": 30,                     at most one JWKS refetch per issuer per this
 *     "static_tokens": true,                        accept `corral token` tokens (default true)
 *     "issuers": [ {
 *       "issuer": "https://idp.example.com",        exact "iss"; https:// or loopback http://
 *       "audience": "https://mcp.example.com/mcp",  default: "resource"
 *       "user_claim": "sub",                        default "sub"
 *       "level_claim": "corral_level",              optional: a claim naming the level
 *       "scopes": ["mcp"],                          all required; default none
 *       "algorithms": ["RS256","ES256","EdDSA"],    subset of that allowlist (the default)
 *       "jwks_uri": "…",                            optional: skips discovery
 *       "introspection": { "endpoint": "…", "client_id": "…", "client_secret": "…",
 *                          "cache_s": 60 }    reuse an active answer until min(exp,
 *                                             cache_s); 0..3600, 0 = never (RFC 7662 §4)
 *     } ] },
 *   "users": { "alice": "trusted" }                 user → level (when no level claim)
 *
 * Keys come from each issuer's JWKS, found through RFC 8414 metadata
 * (/.well-known/oauth-authorization-server) or OIDC discovery
 * (/.well-known/openid-configuration), fetched asynchronously with
 * http_client on the loop, cached, and refetched when a token names an
 * unknown `kid` (rate-limited by jwks_min_refresh_s).  Signatures are
 * checked by cjose (RS256, ES256) and OpenSSL (EdDSA/Ed25519); `none` and
 * HS* are never accepted. */
#pragma once

#include <cJSON.h>
#include <stdbool.h>
#include <uv.h>

#include "corral/error.h"
#include "corral/level.h"
#include "corral/paths.h"
#include "corral/state.h"

typedef struct auth auth;
typedef struct auth_verify_req auth_verify_req;

#define AUTH_TOKEN_MAX 8192u /* bytes of a bearer token accepted */

/* Who the caller is.  level is the user's level (from the level claim, the
 * "users" table, or the static token); the adapter applies
 * min(interface level, this). */
typedef struct auth_identity {
        const char *user; /* user claim, or the static token's user */
        corral_level level;
        char *const *scopes;  /* granted scopes, NULL-terminated (may be empty) */
        const char *issuer;   /* "iss", or "corral" for a static token */
        const char *token_id; /* static token id, or NULL */
} auth_identity;

/* The outcome of one verification; valid only during the callback.
 *   status 0:   ok, identity set
 *   status 401: no token, malformed, bad signature, expired, wrong iss/aud …
 *   status 403: valid token without a required scope
 *   status 503: the issuer's keys or introspection could not be fetched
 * www_authenticate is the value for a WWW-Authenticate header on 401/403
 * (RFC 6750 §3, RFC 9728 §5.1), NULL otherwise; message is one line for logs
 * and the response body (never contains the token). */
typedef struct auth_result {
        int status;
        const char *www_authenticate;
        const char *message;
        const auth_identity *identity;
} auth_result;

typedef void (*auth_verify_fn)(void *userdata, const auth_result *res);

/* Builds the verifier from corral.json (config may be NULL: then only
 * static tokens are accepted, when paths is set).  paths locates the static
 * token file (may be NULL: no static tokens).  Starts no I/O yet.
 * 0 and *ret, or -EX_CONFIG naming the key that is wrong. */
int auth_new(uv_loop_t *loop, const cJSON *config, const corral_paths *paths, auth **ret,
             corral_error *err);

/* Cancels pending verifications (their callbacks never run) and fetches;
 * memory goes once the loop ran the close callbacks.  Not from inside a
 * verify callback.  NULL-safe; returns NULL. */
auth *auth_free(auth *a);

/* Verifies the Authorization header value (NULL or "" when absent) for an
 * access to resource (the canonical URL of the endpoint reached, e.g.
 * "https://h/servers/x/mcp"; NULL: the configured "resource").  A token's
 * aud must name the issuer's audience or resource.  extra_scopes (NULL-terminated, may be NULL)
 * are required on top of the issuer's.
 *
 * cb runs exactly once unless cancelled: synchronously, before this returns,
 * when the answer needs no network (static token, cached keys, malformed
 * input) — then the return is 1; otherwise on a later loop turn — return 0
 * and *ret_req (may be NULL) is a handle for auth_verify_cancel, valid until
 * cb runs. */
int auth_verify(auth *a, const char *authorization, const char *resource,
                const char *const *extra_scopes, auth_verify_fn cb, void *userdata,
                auth_verify_req **ret_req);

/* Drops a pending verification; its callback never runs.  NULL-safe. */
void auth_verify_cancel(auth_verify_req *r);

/* The RFC 9728 §3.1 metadata URL of resource (NULL: the configured one):
 * "https://h/p" → "https://h/.well-known/oauth-protected-resource/p".
 * Owned by the caller; NULL when resource is not an absolute http(s) URL. */
char *auth_metadata_url(const auth *a, const char *resource);

/* The RFC 9728 §2 protected-resource metadata document for resource (NULL:
 * the configured one): resource, authorization_servers (the issuers),
 * scopes_supported, bearer_methods_supported ["header"], resource_name.
 * Owned by the caller. */
cJSON *auth_resource_metadata(const auth *a, const char *resource);

/* A WWW-Authenticate value: `Bearer resource_metadata="URL"` plus, when
 * error is set (RFC 6750 §3.1 "invalid_token", "insufficient_scope", …),
 * error="…", error_description="…" and scope="…".  Quotes and backslashes in
 * the parts are escaped, control characters dropped.  Owned by the caller. */
char *auth_www_authenticate(const auth *a, const char *resource, const char *error,
                            const char *description, const char *scope);

/* True when issuers are configured or static tokens are on: the HTTP
 * adapter refuses a non-loopback listener without auth unless "auth": "none". */
bool auth_enabled(const auth *a);

/* ---- static API tokens (src/auth/tokens.c) ------------------------------ */

/* Tokens live in the state database's api_tokens table (schema 3,
 * include/corral/state.h): an id, user, level, creation time and the
 * SHA-256 of the token; the token itself is never stored.  While a daemon
 * runs it is their only writer (corral/token_* on the control socket,
 * src/control_state.c); the CLI writes them itself only when none runs. */

/* tokens.json of p's store (owned): the file earlier versions kept tokens in. */
char *auth_tokens_file(const corral_paths *p);

/* Moves tokens.json (the file of earlier versions, DIR/tokens.json beside
 * servers/) into db: every entry added (one already there is kept as it
 * is), then the file removed.  *ret_n (may be NULL): entries read.  No file
 * is 0; -EX_DATAERR for a malformed file (left where it is), else
 * state_api_token_add()'s errors. */
int auth_tokens_import(const corral_paths *p, state_db *db, unsigned *ret_n, corral_error *err);

/* Creates a token "corral_<id>_<secret>" (secret: 32 random bytes, base64url)
 * for user at level in db.  *ret_token (owned) is shown once; *ret_id
 * (owned, may be NULL) names it for revoke.  -EX_USAGE for a bad user name,
 * -EX_CANTCREAT past 10,000 tokens, else the database's errors. */
int auth_token_create_in(state_db *db, const char *user, corral_level level, char **ret_token,
                         char **ret_id, corral_error *err);
/* The tokens without hashes: [{"id","user","level","created_at"}], owned. */
int auth_token_list_in(state_db *db, cJSON **ret, corral_error *err);
/* Removes token id.  -EX_NOINPUT when there is no such id. */
int auth_token_revoke_in(state_db *db, const char *id, corral_error *err);

/* The same on p's state database, opened here read-write (tokens.json
 * imported first): for when no daemon runs. */
int auth_token_create(const corral_paths *p, const char *user, corral_level level, char **ret_token,
                      char **ret_id, corral_error *err);
int auth_token_list(const corral_paths *p, cJSON **ret, corral_error *err);
int auth_token_revoke(const corral_paths *p, const char *id, corral_error *err);

/* Looks token up in p's state database (constant-time hash compare).  0
 * with *ret_user (owned) and *ret_level, or -EX_NOPERM when it is not a
 * valid token. */
int auth_token_check(const corral_paths *p, const char *token, char **ret_user,
                     corral_level *ret_level, char **ret_id, corral_error *err);
