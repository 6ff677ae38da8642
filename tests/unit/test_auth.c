/* The bearer-token verifier (src/auth/) against a real authorization server
 * on loopback: npm oauth2-mock-server in tests/fixtures/auth-server.mjs
 * (OIDC discovery, JWKS with RSA, P-256 and Ed25519 keys, introspection).
 * Every refusal the issue lists, with its status and WWW-Authenticate
 * value; key rotation and the refetch rate limit; static API tokens.
 * One authorization server serves the whole run (node starts in seconds);
 * each test starts with its counters reset (POST /test/reset). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/sha.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corral/auth.h"
#include "corral/fs.h"
#include "corral/http_client.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/strbuf.h"

#define RESOURCE "http://127.0.0.1:8080/mcp"
#define META "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"

/* The authorization server, started by group_setup() for every test. */
static struct {
        pid_t pid;
        int stdin_fd;
        char iss[64];
} server = {.pid = -1, .stdin_fd = -1};

typedef struct fixture {
        uv_loop_t loop;
        http_client *http;
        auth *auth;
        char iss[64];
        char root[64];
        corral_paths paths;
        unsigned introspect_cache_s; /* introspection.cache_s in config() */
} fixture;

static int group_setup(void **state)
{
        const char *srcdir = getenv("CORRAL_SRCDIR");
        _cleanup_free_ char *src = path_absolute(srcdir ? srcdir : ".");
        _cleanup_free_ char *js = path_join(src, "tests/fixtures/auth-server.mjs");
        _cleanup_free_ char *mod = NULL;
        const char *fixtures = getenv("CORRAL_FIXTURES_DIR");
        _cleanup_free_ char *fdir = fixtures ? xstrdup(fixtures) : path_join(src, "build/fixtures");
        int in[2], out[2], port = 0;
        char line[64] = "";
        size_t n = 0;

        mod = path_join(fdir, "oauth2-mock-server/node_modules/oauth2-mock-server/package.json");
        if (!path_exists(mod))
                fail_msg("%s missing: run scripts/fetch-fixtures (make check-unit does)", mod);
        assert_int_equal(pipe2(in, O_CLOEXEC), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        server.pid = fork();
        assert_true(server.pid >= 0);
        if (server.pid == 0) {
                (void)dup2(in[0], 0);
                (void)dup2(out[1], 1);
                setenv("CORRAL_FIXTURES_DIR", fdir, 1);
                execlp("node", "node", js, (char *)NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        server.stdin_fd = in[1];
        while (n < sizeof(line) - 1) {
                ssize_t r = read(out[0], line + n, 1);
                if (r <= 0 || line[n] == '\n')
                        break;
                n++;
        }
        close(out[0]);
        assert_int_equal(sscanf(line, "ready %d", &port), 1);
        snprintf(server.iss, sizeof(server.iss), "http://127.0.0.1:%d", port);
        (void)state;
        return 0;
}

static int group_teardown(void **state)
{
        int st;

        (void)state;
        if (server.pid <= 0)
                return 0;
        close(server.stdin_fd);
        (void)kill(server.pid, SIGTERM);
        (void)waitpid(server.pid, &st, 0);
        return 0;
}

static char *fetch(fixture *fx, const char *method, const char *fmt, ...) _printf_(3, 4);

static cJSON *config(const fixture *fx, const char *issuer, unsigned refresh_s)
{
        _cleanup_free_ char *text = xasprintf(
                "{\"auth\": {\"resource\": \"" RESOURCE "\", \"resource_name\": \"test\","
                " \"jwks_min_refresh_s\": %u, \"issuers\": [ { \"issuer\": \"%s\","
                " \"scopes\": [\"mcp\"], \"level_claim\": \"corral_level\","
                " \"introspection\": {\"endpoint\": \"%s/introspect\", \"client_id\": \"corral\","
                " \"client_secret\": \"s3cret\", \"cache_s\": %u} } ] },"
                " \"users\": {\"alice\": \"trusted\", \"carol\": {\"level\": \"anchor\"}} }",
                refresh_s, issuer, issuer, fx->introspect_cache_s);
        cJSON *j = cJSON_Parse(text);
        assert_non_null(j);
        return j;
}

static void auth_make(fixture *fx, const char *issuer, unsigned refresh_s)
{
        _cleanup_json_ cJSON *c = config(fx, issuer, refresh_s);
        corral_error err = {0};

        fx->auth = auth_free(fx->auth);
        assert_int_equal(auth_new(&fx->loop, c, &fx->paths, &fx->auth, &err), 0);
}

static int setup(void **state)
{
        fixture *fx = xcalloc(1, sizeof(*fx));
        corral_error err = {0};

        fx->introspect_cache_s = 60;
        snprintf(fx->iss, sizeof(fx->iss), "%s", server.iss);
        snprintf(fx->root, sizeof(fx->root), "/tmp/corral-test-auth-XXXXXX");
        assert_non_null(mkdtemp(fx->root));
        assert_int_equal(paths_init(&fx->paths, fx->root, &err), 0);
        assert_int_equal(uv_loop_init(&fx->loop), 0);
        assert_int_equal(http_client_new(&fx->loop, &fx->http, &err), 0);
        free(fetch(fx, "POST", "/test/reset"));
        auth_make(fx, fx->iss, 0);
        *state = fx;
        return 0;
}

static int teardown(void **state)
{
        fixture *fx = *state;

        fx->auth = auth_free(fx->auth);
        fx->http = http_client_free(fx->http);
        (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&fx->loop), 0);
        paths_done(&fx->paths);
        (void)rm_rf(fx->root);
        free(fx);
        return 0;
}

/* ---- helpers ------------------------------------------------------------ */

typedef struct fetched {
        bool done;
        long status;
        char *body;
} fetched;

static void on_fetched(void *ud, const http_response *resp)
{
        fetched *f = ud;

        f->done = true;
        f->status = resp->status;
        f->body = xstrndup(resp->body, resp->body_len);
}

static char *fetch(fixture *fx, const char *method, const char *fmt, ...)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *url = NULL;
        corral_error err = {0};
        fetched f = {0};
        va_list ap;

        va_start(ap, fmt);
        assert_true(vasprintf(&path, fmt, ap) >= 0);
        va_end(ap);
        url = xasprintf("%s%s", fx->iss, path);
        http_request_opts o = {.method = method, .url = url, .on_done = on_fetched, .userdata = &f};
        assert_int_equal(http_request_start(fx->http, &o, NULL, &err), 0);
        while (!f.done)
                (void)uv_run(&fx->loop, UV_RUN_ONCE);
        assert_int_equal(f.status, 200);
        return f.body;
}

/* A token from the authorization server: kid, case, scope, extra query. */
static char *mint(fixture *fx, const char *kid, const char *kase, const char *scope,
                  const char *extra)
{
        return fetch(fx, "GET", "/test/token?kid=%s&case=%s&scope=%s&aud=%s%s", kid, kase, scope,
                     RESOURCE, extra ? extra : "");
}

static int stat_of(fixture *fx, const char *key)
{
        _cleanup_free_ char *body = fetch(fx, "GET", "/test/stats");
        _cleanup_json_ cJSON *j = cJSON_Parse(body);
        return (int)json_get_number(j, key, -1);
}

typedef struct verdict {
        bool done;
        bool sync;
        int status;
        char *www;
        char *message;
        char *user;
        corral_level level;
        char *scopes;
        char *issuer;
} verdict;

static void verdict_done(verdict *v)
{
        free(v->www);
        free(v->message);
        free(v->user);
        free(v->scopes);
        free(v->issuer);
        memset(v, 0, sizeof(*v));
}

static void on_verdict(void *ud, const auth_result *res)
{
        verdict *v = ud;

        assert_false(v->done);
        v->done = true;
        v->status = res->status;
        v->www = res->www_authenticate ? xstrdup(res->www_authenticate) : NULL;
        v->message = xstrdup(res->message);
        /* The message never repeats the token. */
        assert_null(strstr(res->message, "eyJ"));
        if (res->identity) {
                strbuf b = STRBUF_INIT(0);
                v->user = xstrdup(res->identity->user);
                v->level = res->identity->level;
                v->issuer = xstrdup(res->identity->issuer);
                for (char *const *s = res->identity->scopes; *s; s++)
                        (void)strbuf_appendf(&b, "%s%s", b.len ? " " : "", *s);
                v->scopes = strbuf_steal(&b);
        }
}

static void verify_extra(fixture *fx, const char *authz, const char *const *extra, verdict *v)
{
        int rc;

        memset(v, 0, sizeof(*v));
        rc = auth_verify(fx->auth, authz, NULL, extra, on_verdict, v, NULL);
        v->sync = rc == 1;
        assert_int_equal(v->done, v->sync);
        while (!v->done)
                (void)uv_run(&fx->loop, UV_RUN_ONCE);
}

static void verify_token(fixture *fx, const char *token, verdict *v)
{
        _cleanup_free_ char *h = xasprintf("Bearer %s", token);
        verify_extra(fx, h, NULL, v);
}

/* Asserts a 401 invalid_token with description why. */
static void expect_invalid(fixture *fx, const char *token, const char *why)
{
        verdict v;
        _cleanup_free_ char *want = xasprintf("Bearer error=\"invalid_token\", scope=\"mcp\", "
                                              "resource_metadata=\"" META "\", "
                                              "error_description=\"%s\"",
                                              why);

        verify_token(fx, token, &v);
        assert_int_equal(v.status, 401);
        assert_string_equal(v.message, why);
        assert_string_equal(v.www, want);
        assert_null(v.user);
        verdict_done(&v);
}

/* ---- tests -------------------------------------------------------------- */

static void test_no_token(void **state)
{
        fixture *fx = *state;
        verdict v;

        verify_extra(fx, NULL, NULL, &v);
        assert_true(v.sync);
        assert_int_equal(v.status, 401);
        /* RFC 6750 §3.1: no error code without credentials; RFC 9728 §5.1. */
        assert_string_equal(v.www, "Bearer scope=\"mcp\", resource_metadata=\"" META "\"");
        verdict_done(&v);
        verify_extra(fx, "Basic YWxpY2U6cHc=", NULL, &v);
        assert_int_equal(v.status, 401);
        assert_string_equal(v.www, "Bearer scope=\"mcp\", resource_metadata=\"" META "\"");
        verdict_done(&v);
        verify_extra(fx, "Bearer a b", NULL, &v);
        assert_int_equal(v.status, 401);
        assert_string_equal(v.message, "malformed bearer token");
        verdict_done(&v);
        /* No network for any of these. */
        assert_int_equal(stat_of(fx, "discovery"), 0);
}

static void test_valid_each_alg(void **state)
{
        fixture *fx = *state;
        const char *kids[] = {"rsa-1", "ec-1", "ed-1"};

        for (size_t i = 0; i < ARRAY_SIZE(kids); i++) {
                _cleanup_free_ char *t = mint(fx, kids[i], "valid", "mcp%20files", NULL);
                verdict v;

                verify_token(fx, t, &v);
                assert_int_equal(v.status, 0);
                assert_null(v.www);
                assert_string_equal(v.user, "alice");
                assert_int_equal(v.level, CORRAL_LEVEL_TRUSTED); /* from "users" */
                assert_string_equal(v.scopes, "mcp files");
                assert_string_equal(v.issuer, fx->iss);
                /* The first needs discovery and the JWKS; then keys are cached. */
                assert_int_equal(v.sync, i > 0);
                verdict_done(&v);
        }
        assert_int_equal(stat_of(fx, "jwks"), 1);
        /* OIDC discovery after RFC 8414's well-known URL answered 404. */
        assert_int_equal(stat_of(fx, "discovery"), 2);
}

static void test_levels(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *t1 = mint(fx, "rsa-1", "valid", "mcp", "&level=anchor&sub=bob");
        _cleanup_free_ char *t2 = mint(fx, "rsa-1", "valid", "mcp", "&sub=bob");
        _cleanup_free_ char *t3 = mint(fx, "rsa-1", "valid", "mcp", "&sub=carol");
        _cleanup_free_ char *t4 = mint(fx, "rsa-1", "valid", "mcp", "&level=root");
        verdict v;

        verify_token(fx, t1, &v);
        assert_int_equal(v.level, CORRAL_LEVEL_ANCHOR); /* the claim wins */
        verdict_done(&v);
        verify_token(fx, t2, &v);
        assert_int_equal(v.status, 0);
        assert_int_equal(v.level, CORRAL_LEVEL_PUBLIC); /* unknown user */
        verdict_done(&v);
        verify_token(fx, t3, &v);
        assert_int_equal(v.level, CORRAL_LEVEL_ANCHOR);
        verdict_done(&v);
        expect_invalid(fx, t4, "token level claim is not a level");
}

static void test_refusals(void **state)
{
        fixture *fx = *state;
        static const struct {
                const char *kid, *kase, *why;
        } cases[] = {
                {"rsa-1", "expired", "token expired"},
                {"ec-1", "nbf", "token not valid yet (nbf)"},
                {"rsa-1", "no-exp", "token has no exp"},
                {"rsa-1", "wrong-iss", "token issuer is not trusted"},
                {"rsa-1", "bad-sig", "token signature is invalid"},
                {"ec-1", "bad-sig", "token signature is invalid"},
                {"ed-1", "bad-sig", "token signature is invalid"},
                {"rsa-1", "alg-none", "token alg 'none' is not accepted"},
                {"rsa-1", "hs256-pubkey", "token alg 'HS256' is not accepted"},
        };

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *t = mint(fx, cases[i].kid, cases[i].kase, "mcp", NULL);
                expect_invalid(fx, t, cases[i].why);
        }
}

static void test_wrong_audience(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *t = fetch(fx, "GET", "/test/token?kid=rsa-1&scope=mcp&aud=%s",
                                       "https://other.example/mcp");
        _cleanup_free_ char *t2 = fetch(fx, "GET", "/test/token?kid=rsa-1&scope=mcp&aud=%s",
                                        "http://127.0.0.1:8080/servers/x/mcp");
        _cleanup_free_ char *h2 = xasprintf("Bearer %s", t2);
        verdict v;

        expect_invalid(fx, t, "token audience is not this resource");
        /* A per-server endpoint's own URL is an accepted audience there. */
        memset(&v, 0, sizeof(v));
        (void)auth_verify(fx->auth, h2, "http://127.0.0.1:8080/servers/x/mcp", NULL, on_verdict, &v,
                          NULL);
        while (!v.done)
                (void)uv_run(&fx->loop, UV_RUN_ONCE);
        assert_int_equal(v.status, 0);
        verdict_done(&v);
        /* …and not at /mcp. */
        expect_invalid(fx, t2, "token audience is not this resource");
}

static void test_scopes(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *t = mint(fx, "ed-1", "valid", "files", NULL);
        _cleanup_free_ char *t2 = mint(fx, "ed-1", "valid", "mcp", NULL);
        _cleanup_free_ char *h2 = xasprintf("Bearer %s", t2);
        const char *admin[] = {"admin", NULL};
        verdict v;

        verify_token(fx, t, &v);
        assert_int_equal(v.status, 403);
        assert_string_equal(v.www, "Bearer error=\"insufficient_scope\", scope=\"mcp\", "
                                   "resource_metadata=\"" META "\", "
                                   "error_description=\"token lacks scope 'mcp'\"");
        verdict_done(&v);
        verify_extra(fx, h2, admin, &v);
        assert_int_equal(v.status, 403);
        assert_non_null(strstr(v.www, "scope=\"mcp admin\""));
        assert_string_equal(v.message, "token lacks scope 'admin'");
        verdict_done(&v);
}

/* An unknown kid makes one JWKS refetch (the issuer rotated its keys);
 * within jwks_min_refresh_s it does not. */
static void test_rotation_and_rate_limit(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *t1 = mint(fx, "rsa-1", "valid", "mcp", NULL);
        _cleanup_free_ char *unk = mint(fx, "rsa-1", "unknown-kid", "mcp", NULL);
        _cleanup_free_ char *kid = NULL;
        _cleanup_free_ char *t2 = NULL;
        verdict v;

        auth_make(fx, fx->iss, 3600);
        verify_token(fx, t1, &v);
        assert_int_equal(v.status, 0);
        verdict_done(&v);
        assert_int_equal(stat_of(fx, "jwks"), 1);
        /* Rate-limited: the keys were fetched just now. */
        verify_token(fx, unk, &v);
        assert_true(v.sync);
        assert_int_equal(v.status, 401);
        assert_string_equal(v.message, "token signed with an unknown key");
        verdict_done(&v);
        assert_int_equal(stat_of(fx, "jwks"), 1);

        /* No rate limit: a rotated-in key is fetched on first sight. */
        auth_make(fx, fx->iss, 0);
        verify_token(fx, t1, &v);
        verdict_done(&v);
        assert_int_equal(stat_of(fx, "jwks"), 2);
        kid = fetch(fx, "POST", "/test/rotate?kid=rsa-2&alg=RS256");
        assert_string_equal(kid, "rsa-2");
        t2 = mint(fx, "rsa-2", "valid", "mcp", NULL);
        verify_token(fx, t2, &v);
        assert_false(v.sync);
        assert_int_equal(v.status, 0);
        verdict_done(&v);
        assert_int_equal(stat_of(fx, "jwks"), 3);
        /* A kid nobody has: one refetch, then refused. */
        expect_invalid(fx, unk, "token signed with an unknown key");
        assert_int_equal(stat_of(fx, "jwks"), 4);
}

/* Many verifications waiting for the same keys share one fetch. */
static void test_concurrent_share_fetch(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *t = mint(fx, "ec-1", "valid", "mcp", NULL);
        _cleanup_free_ char *h = xasprintf("Bearer %s", t);
        verdict v[8];

        memset(v, 0, sizeof(v));
        for (size_t i = 0; i < ARRAY_SIZE(v); i++)
                assert_int_equal(auth_verify(fx->auth, h, NULL, NULL, on_verdict, &v[i], NULL), 0);
        for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
                while (!v[i].done)
                        (void)uv_run(&fx->loop, UV_RUN_ONCE);
                assert_int_equal(v[i].status, 0);
                verdict_done(&v[i]);
        }
        assert_int_equal(stat_of(fx, "jwks"), 1);
}

static void test_unreachable_issuer(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *t =
                fetch(fx, "GET", "/test/token?kid=rsa-1&scope=mcp&aud=%s", RESOURCE);
        verdict v;

        /* The configured issuer is one nobody serves: the token's iss does
         * not match it, so the token is untrusted (401, not 503). */
        auth_make(fx, "http://127.0.0.1:1", 0);
        expect_invalid(fx, t, "token issuer is not trusted");
        /* The right issuer, but its keys cannot be fetched: 503 without
         * WWW-Authenticate (the client is not at fault). */
        {
                _cleanup_free_ char *text =
                        xasprintf("{\"auth\": {\"resource\": \"" RESOURCE
                                  "\", \"issuers\": [{\"issuer\": \"%s\","
                                  " \"jwks_uri\": \"http://127.0.0.1:1/jwks\"}]}}",
                                  fx->iss);
                _cleanup_json_ cJSON *c = cJSON_Parse(text);
                corral_error err = {0};

                fx->auth = auth_free(fx->auth);
                assert_int_equal(auth_new(&fx->loop, c, &fx->paths, &fx->auth, &err), 0);
        }
        verify_token(fx, t, &v);
        assert_false(v.sync);
        assert_int_equal(v.status, 503);
        assert_null(v.www);
        assert_non_null(strstr(v.message, "cannot fetch the keys of"));
        assert_non_null(strstr(v.message, "JWKS http://127.0.0.1:1/jwks"));
        verdict_done(&v);
}

static void test_introspection(void **state)
{
        fixture *fx = *state;
        verdict v;

        verify_token(fx, "opaque-bob", &v);
        assert_false(v.sync);
        assert_int_equal(v.status, 0);
        assert_string_equal(v.user, "bob");
        assert_string_equal(v.scopes, "mcp");
        verdict_done(&v);
        verify_token(fx, "opaque-carol", &v);
        assert_int_equal(v.level, CORRAL_LEVEL_ANCHOR);
        verdict_done(&v);
        expect_invalid(fx, "not-a-known-token", "token is not active");
        assert_int_equal(stat_of(fx, "introspect"), 3);
}

/* Active answers are reused (RFC 7662 §4) until the earlier of the token's
 * exp and introspection.cache_s; the authorization server is asked once. */
static void test_introspection_cache(void **state)
{
        fixture *fx = *state;
        verdict v;

        for (int i = 0; i < 5; i++) {
                verify_token(fx, "opaque-bob", &v);
                assert_int_equal(v.status, 0);
                assert_string_equal(v.user, "bob");
                assert_int_equal(v.sync, i > 0); /* from the cache: answered at once */
                verdict_done(&v);
                verify_token(fx, "opaque-exp2-dave", &v);
                assert_int_equal(v.status, 0);
                assert_string_equal(v.user, "dave");
                verdict_done(&v);
        }
        assert_int_equal(stat_of(fx, "introspect"), 2);
        /* Inactive answers are not cached. */
        expect_invalid(fx, "not-a-known-token", "token is not active");
        expect_invalid(fx, "not-a-known-token", "token is not active");
        assert_int_equal(stat_of(fx, "introspect"), 4);
        /* dave's token expires after 2 s: asked again; bob's is still cached. */
        usleep(2500 * 1000);
        verify_token(fx, "opaque-exp2-dave", &v);
        assert_false(v.sync);
        assert_string_equal(v.user, "dave");
        verdict_done(&v);
        verify_token(fx, "opaque-bob", &v);
        assert_true(v.sync);
        verdict_done(&v);
        assert_int_equal(stat_of(fx, "introspect"), 5);

        /* cache_s bounds the reuse of a token that lives longer; 0 turns it off. */
        fx->introspect_cache_s = 1;
        auth_make(fx, fx->iss, 0);
        verify_token(fx, "opaque-bob", &v);
        verdict_done(&v);
        verify_token(fx, "opaque-bob", &v);
        assert_true(v.sync);
        verdict_done(&v);
        assert_int_equal(stat_of(fx, "introspect"), 6);
        usleep(2100 * 1000);
        verify_token(fx, "opaque-bob", &v);
        assert_false(v.sync);
        verdict_done(&v);
        assert_int_equal(stat_of(fx, "introspect"), 7);
        fx->introspect_cache_s = 0;
        auth_make(fx, fx->iss, 0);
        for (int i = 0; i < 3; i++) {
                verify_token(fx, "opaque-bob", &v);
                assert_false(v.sync);
                verdict_done(&v);
        }
        assert_int_equal(stat_of(fx, "introspect"), 10);
        fx->introspect_cache_s = 60;
}

static void test_static_tokens(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *tok = NULL;
        _cleanup_free_ char *id = NULL;
        _cleanup_free_ char *tok2 = NULL;
        _cleanup_free_ char *file = path_join(fx->root, "state.db");
        _cleanup_free_ char *wal = path_join(fx->root, "state.db-wal");
        _cleanup_free_ char *data = NULL, *wdata = NULL;
        _cleanup_json_ cJSON *list = NULL;
        corral_error err = {0};
        size_t len;
        struct stat st;
        verdict v;

        assert_int_equal(auth_token_create(&fx->paths, "ci", CORRAL_LEVEL_TRUSTED, &tok, &id, &err),
                         0);
        assert_int_equal(
                auth_token_create(&fx->paths, "ops", CORRAL_LEVEL_ANCHOR, &tok2, NULL, &err), 0);
        assert_int_equal(strncmp(tok, "corral_", 7), 0);
        assert_string_not_equal(tok, tok2);
        /* Stored in the state database: hash only, mode 0600. */
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(read_file(file, 8 << 20, &data, &len), 0);
        assert_null(memmem(data, len, tok + 7 + 13, strlen(tok + 7 + 13)));
        assert_null(memmem(data, len, tok2 + 7 + 13, strlen(tok2 + 7 + 13)));
        if (read_file(wal, 8 << 20, &wdata, &len) == 0) {
                assert_null(memmem(wdata, len, tok + 7 + 13, strlen(tok + 7 + 13)));
                assert_null(memmem(wdata, len, tok2 + 7 + 13, strlen(tok2 + 7 + 13)));
        }
        assert_int_equal(auth_token_list(&fx->paths, &list, &err), 0);
        assert_int_equal(cJSON_GetArraySize(list), 2);
        {
                _cleanup_free_ char *text = cJSON_PrintUnformatted(list);
                assert_null(strstr(text, "sha256"));
                assert_non_null(strstr(text, "\"user\":\"ops\""));
        }

        verify_token(fx, tok, &v);
        assert_true(v.sync);
        assert_int_equal(v.status, 0);
        assert_string_equal(v.user, "ci");
        assert_int_equal(v.level, CORRAL_LEVEL_TRUSTED);
        assert_string_equal(v.issuer, "corral");
        verdict_done(&v);
        verify_token(fx, tok2, &v);
        assert_int_equal(v.level, CORRAL_LEVEL_ANCHOR);
        verdict_done(&v);
        {
                /* One character off. */
                _cleanup_free_ char *bad = xstrdup(tok);
                bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
                expect_invalid(fx, bad, "unknown or revoked API token");
        }
        /* Revoked: refused at the next check, no reload needed. */
        assert_int_equal(auth_token_revoke(&fx->paths, id, &err), 0);
        expect_invalid(fx, tok, "unknown or revoked API token");
        verify_token(fx, tok2, &v);
        assert_int_equal(v.status, 0);
        verdict_done(&v);
        assert_int_equal(auth_token_revoke(&fx->paths, id, &err), -EX_NOINPUT);
        corral_error_clear(&err);
        assert_int_equal(
                auth_token_create(&fx->paths, "bad user", CORRAL_LEVEL_PUBLIC, &tok, NULL, &err),
                -EX_USAGE);
        corral_error_clear(&err);
        /* A database that cannot be read keeps the tokens read last; one
         * made meanwhile is not known until it can be read again. */
        {
                _cleanup_free_ char *tok3 = NULL, *moved = path_join(fx->root, "state.db.x");
                assert_int_equal(auth_token_create(&fx->paths, "ci3", CORRAL_LEVEL_PUBLIC, &tok3,
                                                   NULL, &err),
                                 0);
                verify_token(fx, tok3, &v);
                assert_int_equal(v.status, 0);
                verdict_done(&v);
                /* Moved away whole (its WAL with it), a broken file in its place. */
                _cleanup_free_ char *mwal = path_join(fx->root, "state.db.x-wal");
                _cleanup_free_ char *shm = path_join(fx->root, "state.db-shm");
                _cleanup_free_ char *mshm = path_join(fx->root, "state.db.x-shm");
                assert_int_equal(rename(file, moved), 0);
                (void)rename(wal, mwal);
                (void)rename(shm, mshm);
                assert_int_equal(write_file_atomic(file, "not a database, not at all", 26, 0600),
                                 0);
                verify_token(fx, tok2, &v);
                assert_int_equal(v.status, 0);
                assert_string_equal(v.user, "ops");
                verdict_done(&v);
                assert_int_equal(rename(moved, file), 0);
                (void)rename(mwal, wal);
                (void)rename(mshm, shm);
                verify_token(fx, tok3, &v);
                assert_int_equal(v.status, 0);
                verdict_done(&v);
        }
}

/* tokens.json of earlier versions moves into the database once: every
 * entry kept, the file removed, a second import a no-op. */
static void test_static_tokens_import(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *file = path_join(fx->root, "tokens.json");
        _cleanup_free_ char *dbp = path_join(fx->root, "state.db");
        const char *tok = "corral_0123456789ab_legacy-secret-legacy-secret-legacy-secret-x";
        unsigned char h[32];
        char hex[65], json[512];
        _cleanup_json_ cJSON *list = NULL;
        corral_error err = {0};
        state_db *db = NULL;
        unsigned n = 9;
        verdict v;

        (void)SHA256((const unsigned char *)tok, strlen(tok), h);
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", h[i]);
        snprintf(json, sizeof(json),
                 "{\"version\":1,\"tokens\":[{\"id\":\"0123456789ab\",\"user\":\"old\","
                 "\"level\":\"trusted\",\"sha256\":\"%s\",\"created_at\":\"2020-01-01T00:00:00Z\"}]}",
                 hex);
        assert_int_equal(write_file_atomic(file, json, strlen(json), 0600), 0);
        /* Not read by the verifier: only the import reads it. */
        expect_invalid(fx, tok, "unknown or revoked API token");
        assert_int_equal(state_open(&db, dbp, false, &err), 0);
        assert_int_equal(auth_tokens_import(&fx->paths, db, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_false(path_exists(file));
        n = 9;
        assert_int_equal(auth_tokens_import(&fx->paths, db, &n, &err), 0);
        assert_int_equal(n, 0);
        assert_int_equal(auth_token_list_in(db, &list, &err), 0);
        assert_int_equal(cJSON_GetArraySize(list), 1);
        assert_string_equal(json_get_string(cJSON_GetArrayItem(list, 0), "user"), "old");
        db = state_close(db);
        verify_token(fx, tok, &v);
        assert_int_equal(v.status, 0);
        assert_string_equal(v.user, "old");
        assert_int_equal(v.level, CORRAL_LEVEL_TRUSTED);
        verdict_done(&v);
        /* A malformed file stays where it is. */
        assert_int_equal(write_file_atomic(file, "{\"tokens\":[{}]}", 15, 0600), 0);
        assert_int_equal(state_open(&db, dbp, false, &err), 0);
        assert_int_equal(auth_tokens_import(&fx->paths, db, NULL, &err), -EX_DATAERR);
        db = state_close(db);
        assert_true(path_exists(file));
}

static void test_cancel_and_free(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *t = mint(fx, "rsa-1", "valid", "mcp", NULL);
        _cleanup_free_ char *h = xasprintf("Bearer %s", t);
        auth_verify_req *r1, *r2;
        verdict v1 = {0}, v2 = {0}, v3 = {0};

        assert_int_equal(auth_verify(fx->auth, h, NULL, NULL, on_verdict, &v1, &r1), 0);
        assert_int_equal(auth_verify(fx->auth, h, NULL, NULL, on_verdict, &v2, &r2), 0);
        assert_int_equal(
                auth_verify(fx->auth, "Bearer opaque-x", NULL, NULL, on_verdict, &v3, NULL), 0);
        auth_verify_cancel(r1);
        (void)uv_run(&fx->loop, UV_RUN_NOWAIT);
        fx->auth = auth_free(fx->auth); /* r2 and the introspection: dropped */
        (void)uv_run(&fx->loop, UV_RUN_NOWAIT);
        assert_false(v1.done);
        assert_false(v2.done);
        assert_false(v3.done);
}

static void test_metadata(void **state)
{
        fixture *fx = *state;
        _cleanup_json_ cJSON *doc = auth_resource_metadata(fx->auth, NULL);
        _cleanup_json_ cJSON *doc2 =
                auth_resource_metadata(fx->auth, "https://h.example/servers/x/mcp");
        _cleanup_free_ char *u1 = auth_metadata_url(fx->auth, "https://h.example/");
        _cleanup_free_ char *u2 =
                auth_metadata_url(fx->auth, "https://h.example/servers/x/mcp?q=1");
        _cleanup_free_ char *w = auth_www_authenticate(fx->auth, NULL, "invalid_token",
                                                       "bad \"quote\" \\ and\nnewline", NULL);
        const cJSON *as = json_get_array(doc, "authorization_servers");

        assert_string_equal(json_get_string(doc, "resource"), RESOURCE);
        assert_string_equal(json_get_string(doc2, "resource"), "https://h.example/servers/x/mcp");
        assert_int_equal(cJSON_GetArraySize(as), 1);
        assert_string_equal(cJSON_GetArrayItem(as, 0)->valuestring, fx->iss);
        assert_string_equal(
                cJSON_GetArrayItem(json_get_array(doc, "scopes_supported"), 0)->valuestring, "mcp");
        assert_string_equal(
                cJSON_GetArrayItem(json_get_array(doc, "bearer_methods_supported"), 0)->valuestring,
                "header");
        assert_string_equal(json_get_string(doc, "resource_name"), "test");
        assert_string_equal(u1, "https://h.example/.well-known/oauth-protected-resource");
        assert_string_equal(u2,
                            "https://h.example/.well-known/oauth-protected-resource/servers/x/mcp");
        assert_string_equal(w, "Bearer error=\"invalid_token\", resource_metadata=\"" META "\", "
                               "error_description=\"bad \\\"quote\\\" \\\\ andnewline\"");
        assert_true(auth_enabled(fx->auth));
}

static void test_config_errors(void **state)
{
        fixture *fx = *state;
        static const char *const bad[] = {
                "{\"auth\": {\"resource\": \"http://example.com/mcp\"}}",
                "{\"auth\": {\"resource\": \"" RESOURCE
                "\", \"issuers\": [{\"issuer\": \"http://idp.example.com\"}]}}",
                "{\"auth\": {\"resource\": \"" RESOURCE
                "\", \"issuers\": [{\"issuer\": \"https://idp\", \"algorithms\": [\"HS256\"]}]}}",
                "{\"auth\": {\"resource\": \"" RESOURCE
                "\", \"issuers\": [{\"issuer\": \"https://idp\", \"algorithms\": [\"none\"]}]}}",
                "{\"auth\": {\"resource\": \"" RESOURCE
                "\", \"issuers\": [{\"issuer\": \"https://idp\", \"audiense\": \"x\"}]}}",
                "{\"auth\": {\"issuers\": [{\"issuer\": \"https://idp\"}]}}",
                "{\"auth\": {\"clock_skew_s\": 3600}}",
                "{\"users\": {\"bob\": \"root\"}}",
        };

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_json_ cJSON *c = cJSON_Parse(bad[i]);
                corral_error err = {0};
                auth *a = NULL;

                assert_non_null(c);
                assert_int_equal(auth_new(&fx->loop, c, NULL, &a, &err), -EX_CONFIG);
                assert_null(a);
                assert_true(err.msg[0] != '\0');
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_no_token, setup, teardown),
                cmocka_unit_test_setup_teardown(test_valid_each_alg, setup, teardown),
                cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_audience, setup, teardown),
                cmocka_unit_test_setup_teardown(test_scopes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rotation_and_rate_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_concurrent_share_fetch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unreachable_issuer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_introspection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_introspection_cache, setup, teardown),
                cmocka_unit_test_setup_teardown(test_static_tokens_import, setup, teardown),
                cmocka_unit_test_setup_teardown(test_static_tokens, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel_and_free, setup, teardown),
                cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
