/* Internals of the OAuth client (include/corral/oauth_client.h), shared by
 * its files: oauth_util.c (encodings, parsing, blocking HTTP for the CLI),
 * oauth_store.c (the token store), oauth_discover.c (metadata, registration,
 * scopes), oauth.c (the authorization request, code exchange, refresh) and
 * oauth_loopback.c (the loopback redirect listener). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <cJSON.h>

#include "corral/error.h"
#include "corral/manifest.h"
#include "corral/paths.h"
#include "corral/strbuf.h"

#define FETCH_TIMEOUT_MS 30000u

/* ---- oauth_util.c ---- */

/* base64url without padding (RFC 4648 §5) of n bytes; owned. */
char *oauth_b64url(const unsigned char *data, size_t n);
/* bytes (at most 64) random bytes, base64url; owned, NULL on failure. */
char *oauth_random_b64url(size_t bytes);
/* RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))); owned. */
char *oauth_s256(const char *verifier);
/* Appends key=value (application/x-www-form-urlencoded, '&' between pairs);
 * a NULL value adds nothing. */
void oauth_form_add(strbuf *b, const char *key, const char *value);
/* Percent-decodes n bytes ('+' is a space); owned. */
char *oauth_pct_decode(const char *s, size_t n);
/* The decoded value of key in a query string, owned, or NULL. */
char *oauth_query_get(const char *query, const char *key);
/* The first auth-param called name (case-insensitive) in a WWW-Authenticate
 * header (RFC 9110 §11.2, RFC 6750 §3), its quoted-string unescaped; a name
 * inside another parameter's quoted value does not count.  Owned or NULL. */
char *oauth_challenge_param(const char *h, const char *name);
/* scheme://host[:port] of url; owned. */
char *oauth_origin_of(const char *url);
/* The path of url without query or fragment ("" for "/"), a pointer into
 * url with its length in *len. */
const char *oauth_path_of(const char *url, size_t *len);
/* Blocking GET (form and json NULL), or POST of a form or of JSON, on a
 * private loop, capped at OAUTH_DOC_MAX bytes and FETCH_TIMEOUT_MS.  0 with
 * the status and the body (owned); -EX_PROTOCOL for a URL that is not
 * https:// beyond loopback, -EX_UNAVAILABLE when nothing answered. */
int oauth_fetch(const char *url, const char *form, const char *json, long *ret_status,
                char **ret_body, corral_error *err);
/* Blocking POST of a form with extra header lines (NULL-terminated, may be
 * NULL), as oauth_fetch(). */
int oauth_fetch_form(const char *url, const char *form, const char *const *extra,
                     long *ret_status, char **ret_body, corral_error *err);
/* The token endpoint authentication method for a client (RFC 8414 §2
 * token_endpoint_auth_methods_supported, RFC 7591 §2): "none" without a
 * secret, else client_secret_basic when listed or nothing is listed, else
 * client_secret_post.  Owned. */
char *oauth_pick_auth_method(const cJSON *supported, bool has_secret);
/* Authenticates the client of state at the token endpoint (RFC 6749 §2.3.1)
 * by its token_endpoint_auth_method: adds client_id (and client_secret for
 * client_secret_post) to form, or returns the "Authorization: Basic …" header
 * line (owned) for client_secret_basic; NULL when no header is needed. */
char *oauth_client_auth(const cJSON *state, strbuf *form);
/* A JSON object answered with 200 at url, owned; NULL with err set
 * (what names the document in the message). */
cJSON *oauth_fetch_json(const char *url, const char *what, corral_error *err);

/* ---- oauth_store.c ---- */

/* Replaces o's string member key with v (NULL: removes it). */
void oauth_set_str(cJSON *o, const char *key, const char *v);

/* ---- oauth_discover.c ---- */

bool oauth_str_eq_issuer(const char *a, const char *b);
/* MCP 2025-03-26 basic/authorization, for a server without RFC 9728
 * metadata: the authorization base URL is url's origin; its RFC 8414
 * metadata at {origin}/.well-known/oauth-authorization-server (the issuer
 * must be on that origin), else, when that is 404, the default endpoints
 * {origin}/authorize, /token and /register.  Owned; NULL with err set. */
cJSON *oauth_discover_legacy(const char *url, corral_error *err);
/* Whether the JSON array arr holds the string s. */
bool oauth_array_has(const cJSON *arr, const char *s);
/* RFC 9728 §3: the protected resource metadata of url, from the challenge's
 * resource_metadata, else the well-known URLs (with, then without, the
 * path).  Owned; NULL with err set. */
cJSON *oauth_discover_resource(const char *url, const char *challenge, corral_error *err);
/* RFC 8414 §3, then OpenID Connect Discovery; the document's issuer must be
 * issuer (RFC 8414 §3.3).  Owned; NULL with err set. */
cJSON *oauth_discover_as(const char *issuer, corral_error *err);
/* RFC 7591 §3.1: registers a client for the code grant with refresh tokens,
 * public when auth_methods (the server's
 * token_endpoint_auth_methods_supported, or NULL) allows "none".  0 with the
 * client id, its secret (or NULL) and the method the server registered (or
 * NULL when it did not say), owned; or -EX_PROTOCOL. */
int oauth_register_client(const char *endpoint, const char *redirect_uri, const char *scope,
                          const cJSON *auth_methods, char **ret_id, char **ret_secret,
                          char **ret_method, corral_error *err);
/* The scope to ask for: the challenge's scope, else the resource's
 * scopes_supported, space-separated; owned, NULL when neither says. */
char *oauth_pick_scope(const char *challenge, const cJSON *prm);
/* m's URL answered without a token: 0 with its WWW-Authenticate challenge
 * (owned, NULL when the 401 had none), -EX_USAGE when it answers without
 * asking for authorization, or the probe's error. */
int oauth_probe_challenge(const corral_paths *paths, const manifest *m, char **ret_challenge,
                          corral_error *err);
