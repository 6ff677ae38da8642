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
 * State lives in servers/NAME/oauth.json (mode 0600, written atomically):
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

/* servers/NAME/oauth.json, parsed (NULL when absent or unreadable), and
 * written (0600, atomically; -EX_CANTCREAT). */
cJSON *oauth_state_load(const corral_paths *paths, const char *name);
int oauth_state_save(const corral_paths *paths, const char *name, const cJSON *state,
                     corral_error *err);

typedef struct oauth_start_options {
        const char *client_id;     /* pre-registered; NULL: the stored one, else DCR */
        const char *client_secret; /* with client_id, or NULL */
        const char *redirect_uri;  /* NULL: OAUTH_DEFAULT_REDIRECT */
        const char *scope;         /* NULL: the challenge's, else scopes_supported */
} oauth_start_options;

/* `corral auth start`: probes m's URL; on a 401 discovers the authorization
 * server, registers when needed, stores the pending request and returns the
 * authorization URL (owned) in *ret_url.  Returns 0, or -EX_USAGE (the server
 * needs no authorization: err says so), -EX_UNAVAILABLE (a metadata document
 * cannot be fetched), -EX_PROTOCOL (metadata that does not fit: issuer or
 * resource mismatch, no S256, no client id and no registration). */
int oauth_start(const corral_paths *paths, const manifest *m, const oauth_start_options *o,
                char **ret_url, corral_error *err);

/* `corral auth complete`: code_or_url is the code, or the whole redirect URL
 * (then state and iss are checked, and an error parameter reported).
 * Exchanges the code (with the PKCE verifier and the resource) and stores
 * the tokens.  -EX_USAGE (no pending authorization, state mismatch),
 * -EX_PROTOCOL (iss mismatch, bad token response), -EX_NOPERM (the server
 * refused the code), -EX_UNAVAILABLE. */
int oauth_complete(const corral_paths *paths, const manifest *m, const char *code_or_url,
                   corral_error *err);

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
