/* The OAuth 2.1 client of remote units (MCP 2025-11-25 basic/authorization):
 * discovery of the authorization server from the MCP server's 401
 * (RFC 9728 protected-resource metadata, from the WWW-Authenticate
 * resource_metadata parameter, else the well-known URLs), its metadata
 * (RFC 8414, then OpenID Connect discovery), client registration (a
 * pre-registered client id, else RFC 7591 dynamic registration when the
 * server offers it), the authorization code grant with PKCE S256
 * (RFC 7636), the resource parameter (RFC 8707), the iss check of the
 * authorization response (RFC 9207), and refresh tokens.
 *
 * State lives per server and local user in the state database
 * (include/corral/state.h, schema 3: oauth_tokens, state.db 0600 beside
 * servers/; the oauth/UID/NAME.json files of earlier versions, at
 * remote_token_path(), are read until imported):
 * {"issuer", "token_endpoint", "client_id", "client_secret"?, "resource",
 *  "scope"?, "access_token"?, "refresh_token"?, "expires_at"? (unix s),
 *  "pending"?: {"state", "code_verifier", "redirect_uri"}, "error"?}.
 * Tokens never reach logs, argv or `corral info`.
 *
 * Everything here blocks (a private libuv loop per call): for the CLI.  The
 * daemon refreshes through oauth_refresh_start() on its own loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <cJSON.h>
#include <uv.h>

#include "corral/error.h"
#include "corral/http_client.h"
#include "corral/manifest.h"
#include "corral/paths.h"

#define OAUTH_FILE "oauth.json"
#define OAUTH_DOC_MAX (256u << 10)   /* bytes of a metadata or token document */
#define OAUTH_REFRESH_MARGIN_S 60     /* refresh this long before expiry */
#define OAUTH_DEFAULT_REDIRECT "http://127.0.0.1:33418/callback"

/* Where the tokens of server unit for local user uid live:
 * {store}/oauth/UID/NAME.json, {store} being the directory that holds
 * servers/ (/var/lib/corral, $XDG_DATA_HOME/corral, or --root DIR).  The
 * CLI (`corral auth`) reads and writes the invoking user's (getuid()); the
 * daemon's session to a unit uses remote_token_uid()'s.  Owned. */
char *remote_token_path(const corral_paths *p, const char *unit, uid_t uid);
/* The user whose tokens a unit's session sends: its manifest owner (a uid
 * or a user name, issue 15) when it has one, else the daemon's euid (the
 * store's owner).  (uid_t)-1 for an owner that does not exist. */
uid_t remote_token_uid(const manifest *m);

/* The state of server name for user uid, parsed (NULL when absent or
 * unreadable — a caller that cannot read the state database sees only the
 * files of earlier versions; the store's own user also finds the
 * servers/NAME/oauth.json of earlier versions), and written (one
 * transaction; then the files of earlier versions for it are removed).
 * Errors as state_open(): -EX_NOPERM when the caller may not write the
 * database (a user on the system store: the daemon writes for them, through
 * `corral auth` forwarded as corral/exec), -EX_TEMPFAIL locked, … */
cJSON *oauth_state_load(const corral_paths *paths, const char *name, uid_t uid);
int oauth_state_save(const corral_paths *paths, const char *name, uid_t uid, const cJSON *state,
                     corral_error *err);
/* Removes the state of name for uid (errors as state_open(), -EX_IOERR for
 * a file of an earlier version), or for every user (uninstall; errors
 * ignored). */
int oauth_state_forget(const corral_paths *paths, const char *name, uid_t uid, corral_error *err);
void oauth_state_forget_all(const corral_paths *paths, const char *name);
/* Moves the files of earlier versions (oauth/UID/NAME.json, and
 * servers/NAME/oauth.json as the caller's) into the state database: each
 * row added unless one is there already, and the file removed only once it
 * is committed.  The daemon calls it at its start.  *ret_n rows added;
 * errors as state_open() (the files then stay and are still read). */
int oauth_state_import(const corral_paths *paths, unsigned *ret_n, corral_error *err);

typedef struct oauth_start_options {
        const char *client_id;     /* pre-registered; NULL: CIMD, the stored one, else DCR */
        const char *client_secret; /* with client_id, or NULL */
        const char *client_metadata_url; /* a Client ID Metadata Document URL
                                            (draft-ietf-oauth-client-id-metadata-document),
                                            used as client_id when the server advertises
                                            client_id_metadata_document_supported; or NULL */
        const char *redirect_uri;  /* NULL: OAUTH_DEFAULT_REDIRECT */
        const char *scope;         /* NULL: the challenge's, else scopes_supported */
} oauth_start_options;

/* Whether url can be a Client ID Metadata Document URL: https:// with a
 * path beyond "/" (draft-ietf-oauth-client-id-metadata-document §3), no
 * fragment, at most 2048 bytes. */
bool oauth_client_metadata_url_ok(const char *url);

/* The authorization request for the MCP server at url whose 401 carried
 * challenge (its WWW-Authenticate value, or NULL), in memory: discovers the
 * protected resource and its authorization server (RFC 9728, RFC 8414 /
 * OpenID discovery), picks the client (o->client_id, else
 * o->client_metadata_url when the server fetches metadata documents, else
 * state's client at the same issuer, else RFC 7591 registration) and its
 * token endpoint authentication method, and records all of it with a fresh
 * PKCE verifier and state in state (which the caller owns and may store).
 * 0 with the authorization URL (owned) in *ret_url; -EX_UNAVAILABLE,
 * -EX_PROTOCOL as oauth_start(). */
int oauth_begin(const char *url, const char *challenge, cJSON *state,
                const oauth_start_options *o, char **ret_url, corral_error *err);
/* The redirect (or bare code) of the request oauth_begin() recorded in
 * state: checks state and iss, exchanges the code (PKCE verifier, resource,
 * client authentication) and puts the tokens into state.  Errors as
 * oauth_complete(). */
int oauth_finish(cJSON *state, const char *code_or_url, corral_error *err);

/* `corral auth start` for local user uid: probes m's URL; on a 401 discovers
 * the authorization server, registers when needed, stores the pending
 * request and returns the authorization URL (owned) in *ret_url.  The scope
 * asked for is o->scope, else the step_up_scope a 403 insufficient_scope
 * recorded (what was granted plus what the server asked for), else the
 * challenge's, else scopes_supported.  Returns 0, or -EX_USAGE (the server
 * needs no authorization: err says so), -EX_UNAVAILABLE (a metadata document
 * cannot be fetched), -EX_PROTOCOL (metadata that does not fit: issuer or
 * resource mismatch, no S256, no client id and no registration). */
int oauth_start(const corral_paths *paths, const manifest *m, uid_t uid,
                const oauth_start_options *o, char **ret_url, corral_error *err);

/* `corral auth complete`: code_or_url is the code, or the whole redirect URL
 * (then state and iss are checked, and an error parameter reported).
 * Exchanges the code (with the PKCE verifier and the resource) and stores
 * the tokens.  -EX_USAGE (no pending authorization, state mismatch),
 * -EX_PROTOCOL (iss mismatch, bad token response), -EX_NOPERM (the server
 * refused the code), -EX_UNAVAILABLE. */
int oauth_complete(const corral_paths *paths, const manifest *m, uid_t uid,
                   const char *code_or_url, corral_error *err);

/* A refresh on the daemon's loop: POSTs the refresh_token grant of state
 * (copied) with the resource parameter, and calls done once with the
 * updated state (owned by the callee; NULL on failure, when err_msg says why
 * and invalid_grant tells a refused refresh token from a transient
 * failure).  Returns the refresh (for oauth_refresh_cancel(), valid until
 * done runs), or NULL when there is nothing to refresh with. */
typedef struct oauth_refresh oauth_refresh;
typedef void (*oauth_refresh_fn)(void *ud, cJSON *state, bool invalid_grant, const char *err_msg);
oauth_refresh *oauth_refresh_start(http_client *hc, const cJSON *state, oauth_refresh_fn done,
                                   void *ud);
/* Stops a refresh in flight; done never runs.  Accepts NULL. */
void oauth_refresh_cancel(oauth_refresh *r);

/* Whether state's access token expires within OAUTH_REFRESH_MARGIN_S of now
 * (unix seconds) and a refresh token is there to renew it. */
bool oauth_needs_refresh(const cJSON *state, int64_t now);

/* Scopes as space-separated lists: whether have holds every scope of need
 * (NULL have holds nothing), and the union of a and b in order, each once
 * (owned; NULL when both are empty). */
bool oauth_scope_covers(const char *have, const char *need);
char *oauth_scope_union(const char *a, const char *b);
/* The scope parameter of a WWW-Authenticate Bearer challenge (RFC 6750 §3),
 * owned, or NULL. */
char *oauth_challenge_scope(const char *challenge);
/* Its error parameter ("invalid_token", "insufficient_scope", …), owned, or
 * NULL. */
char *oauth_challenge_error(const char *challenge);

/* The loopback redirect listener of a native app (RFC 8252 §7.3): an HTTP
 * server on 127.0.0.1 at a port the kernel picks, on a private loop, for the
 * CLI.  It answers one redirect to /callback whose state is the one
 * expected, then stops listening (later connections are refused); a
 * redirect with another state is answered 400 and waited past. */
typedef struct oauth_loopback oauth_loopback;
/* Listens; *ret_redirect_uri (owned) is http://127.0.0.1:PORT/callback.
 * 0, or -EX_CANTCREAT (err says why). */
int oauth_loopback_open(oauth_loopback **ret, char **ret_redirect_uri, corral_error *err);
/* Opens url with browser (run as `sh -c 'exec $BROWSER "$1"'`, so it may
 * carry arguments; NULL: nobody opens it) and waits at most timeout_ms for
 * the redirect.  0 with the redirect as a URL (owned, its query re-encoded)
 * for oauth_complete(), or -EX_TEMPFAIL (timed out), -EX_OSERR. */
int oauth_loopback_wait(oauth_loopback *l, const char *browser, const char *url,
                        const char *expected_state, unsigned timeout_ms, char **ret_redirect,
                        corral_error *err);
/* Stops listening and frees.  Accepts NULL; returns NULL. */
oauth_loopback *oauth_loopback_free(oauth_loopback *l);

/* The decoded state parameter of an authorization URL's query, owned, or
 * NULL. */
char *oauth_query_state(const char *query);
