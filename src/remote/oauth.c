/* The OAuth 2.1 client of remote units (include/corral/oauth_client.h):
 * the authorization request, the code exchange and token refresh. */
#include <ctype.h>
#include <curl/curl.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/oauth_client.h"
#include "corral/remote.h"
#include "corral/strbuf.h"
#include "remote/oauth_internal.h"

/* The client to authorize as (MCP 2025-11-25 basic/authorization "Client
 * Registration Approaches", in its order of preference): a pre-registered
 * client id, else a Client ID Metadata Document URL when one is configured
 * and the server says it fetches them
 * (client_id_metadata_document_supported), else the client this state
 * registered before at the same issuer, else dynamic registration. */
static int pick_client(const cJSON *as, const cJSON *state, const char *issuer,
                       const oauth_start_options *o, const char *redirect, const char *scope,
                       char **ret_id, char **ret_secret, char **ret_method, corral_error *err)
{
        const char *reg = json_get_string(as, "registration_endpoint");
        int r;

        if (o && o->client_id) {
                *ret_id = xstrdup(o->client_id);
                *ret_secret = o->client_secret ? xstrdup(o->client_secret) : NULL;
                return 0;
        }
        if (o && o->client_metadata_url &&
            json_get_bool(as, "client_id_metadata_document_supported", false)) {
                *ret_id = xstrdup(o->client_metadata_url);
                *ret_method = xstrdup("none"); /* a CIMD client is public */
                return 0;
        }
        if (json_get_string(state, "client_id") &&
            oauth_str_eq_issuer(json_get_string(state, "issuer"), issuer)) {
                const char *sec = json_get_string(state, "client_secret");
                const char *m = json_get_string(state, "token_endpoint_auth_method");
                *ret_id = xstrdup(json_get_string(state, "client_id"));
                *ret_secret = sec ? xstrdup(sec) : NULL;
                *ret_method = m ? xstrdup(m) : NULL;
                return 0;
        }
        if (!reg)
                return corral_error_set(err, EX_PROTOCOL,
                                        "%s offers no dynamic client registration: pass "
                                        "--client-id with a client registered there%s",
                                        issuer,
                                        json_get_bool(as, "client_id_metadata_document_supported",
                                                      false)
                                                ? ", or --client-metadata-url"
                                                : "");
        r = oauth_register_client(reg, redirect, scope,
                                  json_get_array(as, "token_endpoint_auth_methods_supported"),
                                  ret_id, ret_secret, ret_method, err);
        return r;
}

/* The authorization server's metadata for the MCP server at url (owned;
 * NULL with err set), and its protected resource metadata in *ret_prm (owned,
 * NULL for a 2025-03-26 server): RFC 9728 discovery, the metadata checked to
 * be about this resource, then the first authorization server's RFC 8414 /
 * OpenID metadata; a server with no RFC 9728 metadata at all (none named in
 * the challenge, none at the well-known URLs) gets MCP 2025-03-26's
 * discovery instead. */
static cJSON *discover_server(const char *url, const char *challenge, cJSON **ret_prm,
                              corral_error *err)
{
        _cleanup_json_ cJSON *prm = NULL;
        const char *resource, *issuer;
        cJSON *as;

        *ret_prm = NULL;
        prm = oauth_discover_resource(url, challenge, err);
        if (!prm) {
                _cleanup_free_ char *rm = challenge ? oauth_challenge_param(challenge,
                                                                            "resource_metadata")
                                                    : NULL;
                corral_error legacy = {0};

                if (rm || err->code != EX_UNAVAILABLE)
                        return NULL;
                as = oauth_discover_legacy(url, &legacy);
                if (!as) {
                        corral_error_clear(err);
                        *err = legacy;
                }
                return as;
        }
        /* RFC 9728 §3.3: the metadata must be about this resource. */
        resource = json_get_string(prm, "resource");
        {
                _cleanup_free_ char *o1 = resource ? oauth_origin_of(resource) : NULL;
                _cleanup_free_ char *o2 = oauth_origin_of(url);
                if (!resource || strcasecmp(o1, o2) != 0) {
                        corral_error_set(err, EX_PROTOCOL,
                                         "protected resource metadata is about '%.200s', "
                                         "not %s (RFC 9728 §3.3)",
                                         resource ? resource : "", url);
                        return NULL;
                }
        }
        {
                const cJSON *servers = json_get_array(prm, "authorization_servers");
                const cJSON *first = cJSON_GetArrayItem(servers, 0);
                issuer = cJSON_IsString(first) ? first->valuestring : NULL;
        }
        if (!issuer) {
                corral_error_set(err, EX_PROTOCOL,
                                 "protected resource metadata names no authorization_servers");
                return NULL;
        }
        as = oauth_discover_as(issuer, err);
        if (as)
                *ret_prm = steal_pointer(&prm);
        return as;
}

/* The RFC 8707 resource parameter: the protected resource metadata's
 * "resource" when there was one, else the server's URL. */
static const char *resource_indicator(const cJSON *state)
{
        const char *r = json_get_string(state, "resource_indicator");
        return r ? r : json_get_string(state, "resource");
}

int oauth_begin(const char *url, const char *challenge, cJSON *state,
                const oauth_start_options *o, char **ret_url, corral_error *err)
{
        _cleanup_free_ char *scope = NULL, *verifier = NULL, *challenge_s256 = NULL,
                              *state_tok = NULL, *client_id = NULL, *client_secret = NULL,
                              *method = NULL;
        _cleanup_json_ cJSON *prm = NULL, *as = NULL;
        const char *issuer, *authz, *token_ep, *redirect;
        strbuf q = STRBUF_INIT(0);
        cJSON *pending;
        int r;

        as = discover_server(url, challenge, &prm, err);
        if (!as)
                return err->code ? -err->code : -EX_UNAVAILABLE;
        issuer = json_get_string(as, "issuer");
        authz = json_get_string(as, "authorization_endpoint");
        token_ep = json_get_string(as, "token_endpoint");
        if (!authz || !token_ep)
                return corral_error_set(err, EX_PROTOCOL,
                                        "authorization server metadata lacks the authorization "
                                        "or token endpoint");
        /* MCP basic/authorization: PKCE is required, S256 when the server can. */
        if (!oauth_array_has(json_get_array(as, "code_challenge_methods_supported"), "S256"))
                return corral_error_set(err, EX_PROTOCOL,
                                        "the authorization server does not list PKCE S256 in "
                                        "code_challenge_methods_supported");
        redirect = o && o->redirect_uri ? o->redirect_uri : OAUTH_DEFAULT_REDIRECT;
        /* A step-up asks for what the server wanted plus what was granted. */
        scope = o && o->scope                             ? xstrdup(o->scope)
                : json_get_string(state, "step_up_scope") ? xstrdup(json_get_string(state, "step_up_scope"))
                                                          : oauth_pick_scope(challenge, prm);
        r = pick_client(as, state, issuer, o, redirect, scope, &client_id, &client_secret,
                        &method, err);
        if (r < 0)
                return r;
        if (!method)
                method = oauth_pick_auth_method(
                        json_get_array(as, "token_endpoint_auth_methods_supported"),
                        client_secret != NULL);

        verifier = oauth_random_b64url(32);
        state_tok = oauth_random_b64url(16);
        challenge_s256 = verifier ? oauth_s256(verifier) : NULL;
        if (!verifier || !state_tok || !challenge_s256)
                return corral_error_set(err, EX_SOFTWARE, "cannot make PKCE values");

        oauth_set_str(state, "issuer", issuer);
        oauth_set_str(state, "authorization_endpoint", authz);
        oauth_set_str(state, "token_endpoint", token_ep);
        oauth_set_str(state, "client_id", client_id);
        oauth_set_str(state, "client_secret", client_secret);
        oauth_set_str(state, "token_endpoint_auth_method", method);
        oauth_set_str(state, "resource", url);
        /* The resource indicator as the protected resource metadata
         * publishes it (RFC 9728 §3.3; checked above to be on url's origin),
         * sent as is (RFC 8707); "resource" stays the URL the token is for. */
        oauth_set_str(state, "resource_indicator", json_get_string(prm, "resource"));
        oauth_set_str(state, "scope", scope);
        cJSON_DeleteItemFromObjectCaseSensitive(state, "step_up_scope");
        cJSON_DeleteItemFromObjectCaseSensitive(state, "iss_required");
        if (json_get_bool(as, "authorization_response_iss_parameter_supported", false))
                cJSON_AddBoolToObject(state, "iss_required", true);
        cJSON_DeleteItemFromObjectCaseSensitive(state, "pending");
        pending = cJSON_AddObjectToObject(state, "pending");
        cJSON_AddStringToObject(pending, "state", state_tok);
        cJSON_AddStringToObject(pending, "code_verifier", verifier);
        cJSON_AddStringToObject(pending, "redirect_uri", redirect);

        oauth_form_add(&q, "response_type", "code");
        oauth_form_add(&q, "client_id", client_id);
        oauth_form_add(&q, "redirect_uri", redirect);
        oauth_form_add(&q, "code_challenge", challenge_s256);
        oauth_form_add(&q, "code_challenge_method", "S256");
        oauth_form_add(&q, "state", state_tok);
        oauth_form_add(&q, "resource", resource_indicator(state)); /* RFC 8707 §2 */
        oauth_form_add(&q, "scope", scope);
        *ret_url = xasprintf("%s%c%s", authz, strchr(authz, '?') ? '&' : '?', q.buf);
        strbuf_done(&q);
        return 0;
}

int oauth_start(const corral_paths *paths, const manifest *m, uid_t uid,
                const oauth_start_options *o, char **ret_url, corral_error *err)
{
        _cleanup_free_ char *challenge = NULL, *url = NULL;
        _cleanup_json_ cJSON *state = NULL;
        int r;

        if (strcmp(m->backend, "remote") != 0)
                return corral_error_set(err, EX_USAGE, "%s is not a remote server", m->name);
        r = oauth_probe_challenge(paths, m, &challenge, err);
        if (r < 0)
                return r;
        state = oauth_state_load(paths, m->name, uid);
        if (!state)
                state = cJSON_CreateObject();
        r = oauth_begin(m->command[0], challenge, state, o, &url, err);
        if (r < 0)
                return r;
        r = oauth_state_save(paths, m->name, uid, state, err);
        if (r < 0)
                return r;
        *ret_url = steal_pointer(&url);
        return 0;
}

/* ---- tokens --------------------------------------------------------------- */

/* Folds a token endpoint answer (RFC 6749 §5.1) into state; 0, or
 * -EX_PROTOCOL with err set. */
static int take_tokens(cJSON *state, const char *body, corral_error *err)
{
        _cleanup_json_ cJSON *t = cJSON_Parse(body);
        const char *access = json_get_string(t, "access_token");
        const char *type = json_get_string(t, "token_type");
        const char *refresh = json_get_string(t, "refresh_token");
        const char *scope = json_get_string(t, "scope");
        double expires_in = json_get_number(t, "expires_in", -1);

        if (!access || !*access || strpbrk(access, "\r\n") || strlen(access) > 16384)
                return corral_error_set(err, EX_PROTOCOL, "the token response has no usable "
                                                          "access_token");
        if (type && strcasecmp(type, "Bearer") != 0)
                return corral_error_set(err, EX_PROTOCOL, "token_type '%.32s' is not Bearer",
                                        type);
        oauth_set_str(state, "access_token", access);
        if (refresh && strlen(refresh) <= 16384)
                oauth_set_str(state, "refresh_token", refresh);
        if (scope)
                oauth_set_str(state, "granted_scope", scope);
        cJSON_DeleteItemFromObjectCaseSensitive(state, "expires_at");
        if (expires_in >= 0)
                cJSON_AddNumberToObject(state, "expires_at",
                                        (double)time(NULL) + (expires_in > 1e9 ? 1e9 : expires_in));
        cJSON_DeleteItemFromObjectCaseSensitive(state, "pending");
        cJSON_DeleteItemFromObjectCaseSensitive(state, "error");
        return 0;
}

static char *token_error(const char *body, long status)
{
        _cleanup_json_ cJSON *t = cJSON_Parse(body);
        const char *e = json_get_string(t, "error");
        const char *d = json_get_string(t, "error_description");

        return xasprintf("HTTP %ld%s%.64s%s%.200s", status, e ? ": " : "", e ? e : "",
                         d ? " — " : "", d ? d : "");
}

int oauth_finish(cJSON *state, const char *code_or_url, corral_error *err)
{
        _cleanup_free_ char *code = NULL, *got_state = NULL, *iss = NULL, *error = NULL,
                              *body = NULL, *why = NULL, *basic = NULL;
        const cJSON *pending = json_get_object(state, "pending");
        const char *issuer = json_get_string(state, "issuer");
        const char *extra[2] = {NULL, NULL};
        strbuf form = STRBUF_INIT(0);
        long status = 0;
        int r;

        if (!pending || !issuer || !json_get_string(state, "token_endpoint"))
                return corral_error_set(err, EX_USAGE, "no authorization in progress");
        if (strncmp(code_or_url, "http://", 7) == 0 || strncmp(code_or_url, "https://", 8) == 0) {
                const char *qm = strchr(code_or_url, '?');
                const char *query = qm ? qm + 1 : "";
                code = oauth_query_get(query, "code");
                got_state = oauth_query_get(query, "state");
                iss = oauth_query_get(query, "iss");
                error = oauth_query_get(query, "error");
                if (error) {
                        _cleanup_free_ char *desc = oauth_query_get(query, "error_description");
                        return corral_error_set(err, EX_NOPERM,
                                                "the authorization server refused: %.64s%s%.200s",
                                                error, desc ? " — " : "", desc ? desc : "");
                }
                /* RFC 6749 §10.12: the response must belong to our request. */
                if (!got_state || strcmp(got_state, json_get_string(pending, "state")) != 0)
                        return corral_error_set(err, EX_USAGE,
                                                "the redirect's state does not match the "
                                                "authorization started");
                /* RFC 9207 §2.4: a mix-up defence. */
                if (iss && !oauth_str_eq_issuer(iss, issuer))
                        return corral_error_set(err, EX_PROTOCOL,
                                                "the authorization response comes from issuer "
                                                "'%.200s', not '%.200s' (RFC 9207)",
                                                iss, issuer);
                if (!iss && json_get_bool(state, "iss_required", false))
                        return corral_error_set(err, EX_PROTOCOL,
                                                "the authorization response lacks iss, which "
                                                "%.200s promises (RFC 9207)",
                                                issuer);
        } else {
                code = xstrdup(code_or_url);
        }
        if (!code || !*code || strlen(code) > 4096)
                return corral_error_set(err, EX_USAGE, "no authorization code");

        oauth_form_add(&form, "grant_type", "authorization_code");
        oauth_form_add(&form, "code", code);
        oauth_form_add(&form, "redirect_uri", json_get_string(pending, "redirect_uri"));
        oauth_form_add(&form, "code_verifier", json_get_string(pending, "code_verifier"));
        oauth_form_add(&form, "resource", resource_indicator(state));
        basic = oauth_client_auth(state, &form);
        extra[0] = basic;
        r = oauth_fetch_form(json_get_string(state, "token_endpoint"), form.buf, extra, &status,
                             &body, err);
        strbuf_done(&form);
        if (r < 0)
                return r;
        if (status != 200) {
                why = token_error(body, status);
                return corral_error_set(err, status >= 500 ? EX_UNAVAILABLE : EX_NOPERM,
                                        "the token endpoint refused the code: %s", why);
        }
        return take_tokens(state, body, err);
}

int oauth_complete(const corral_paths *paths, const manifest *m, uid_t uid,
                   const char *code_or_url, corral_error *err)
{
        _cleanup_json_ cJSON *state = oauth_state_load(paths, m->name, uid);
        int r;

        if (!json_get_object(state, "pending"))
                return corral_error_set(err, EX_USAGE,
                                        "no authorization in progress for %s: run `corral auth "
                                        "start %s` first",
                                        m->name, m->name);
        r = oauth_finish(state, code_or_url, err);
        if (r < 0) {
                corral_error_prefix(err, "%s", m->name);
                return r;
        }
        return oauth_state_save(paths, m->name, uid, state, err);
}

bool oauth_needs_refresh(const cJSON *state, int64_t now)
{
        double exp = json_get_number(state, "expires_at", -1);

        if (!json_get_string(state, "refresh_token") || !json_get_string(state, "token_endpoint"))
                return false;
        if (!json_get_string(state, "access_token"))
                return true;
        return exp >= 0 && (double)now + OAUTH_REFRESH_MARGIN_S >= exp;
}

struct oauth_refresh {
        cJSON *state;
        http_request *req;
        oauth_refresh_fn done;
        void *ud;
};
typedef struct oauth_refresh refresh_ctx;

static void refresh_done(void *ud, const http_response *resp)
{
        refresh_ctx *c = ud;
        corral_error err = {0};

        c->req = NULL;
        if (resp->result < 0) {
                _cleanup_free_ char *m = xasprintf("token refresh: %s", resp->error);
                c->done(c->ud, NULL, false, m);
        } else if (resp->status != 200) {
                _cleanup_json_ cJSON *t = cJSON_Parse(resp->body);
                _cleanup_free_ char *why = token_error(resp->body, resp->status);
                _cleanup_free_ char *m = xasprintf("token refresh refused: %s", why);
                const char *e = json_get_string(t, "error");
                c->done(c->ud, NULL, e && strcmp(e, "invalid_grant") == 0, m);
        } else if (take_tokens(c->state, resp->body, &err) < 0) {
                _cleanup_free_ char *m = xasprintf("token refresh: %s", err.msg);
                c->done(c->ud, NULL, false, m);
        } else {
                c->done(c->ud, steal_pointer(&c->state), false, NULL);
        }
        cJSON_Delete(c->state);
        free(c);
}

void oauth_refresh_cancel(oauth_refresh *r)
{
        if (!r)
                return;
        http_request_cancel(r->req);
        cJSON_Delete(r->state);
        free(r);
}

oauth_refresh *oauth_refresh_start(http_client *hc, const cJSON *state, oauth_refresh_fn done,
                                   void *ud)
{
        _cleanup_free_ char *basic = NULL;
        const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                 "Accept: application/json", NULL, NULL};
        const char *ep = json_get_string(state, "token_endpoint");
        const char *rt = json_get_string(state, "refresh_token");
        strbuf form = STRBUF_INIT(0);
        http_request_opts o = {0};
        refresh_ctx *c;
        int r;

        if (!ep || !rt || !remote_url_allowed(ep, false))
                return NULL;
        oauth_form_add(&form, "grant_type", "refresh_token");
        oauth_form_add(&form, "refresh_token", rt);
        oauth_form_add(&form, "resource", resource_indicator(state));
        basic = oauth_client_auth(state, &form);
        headers[2] = basic;
        c = xcalloc(1, sizeof(*c));
        c->state = json_dup(state);
        c->done = done;
        c->ud = ud;
        o.url = ep;
        o.body = form.buf;
        o.body_len = form.len;
        o.headers = headers;
        o.max_body = OAUTH_DOC_MAX;
        o.timeout_ms = FETCH_TIMEOUT_MS;
        o.ca_file = getenv("CORRAL_CA_BUNDLE");
        o.on_done = refresh_done;
        o.userdata = c;
        r = http_request_start(hc, &o, &c->req, NULL);
        strbuf_done(&form);
        if (r < 0) {
                cJSON_Delete(c->state);
                free(c);
                return NULL;
        }
        return c;
}

