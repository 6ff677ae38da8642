/* Redaction of secrets from logged arguments (src/state/redact.c,
 * redact_store.c): known values anywhere in strings, keys and numbers;
 * secret-named members; token shapes; the cap never leaving part of a
 * secret; and the secrets a store knows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/redact.h"
#include "corral/strbuf.h"

static char *redact(const char *json, redact_set *s, size_t cap)
{
        _cleanup_json_ cJSON *j = cJSON_Parse(json);
        assert_non_null(j);
        return redact_json_text(j, s, cap);
}

static void test_key_names(void **state)
{
        static const struct {
                const char *key;
                bool secret;
        } cases[] = {
                {"password", true},       {"db_password", true},  {"PASSWD", true},
                {"client_secret", true},  {"secretName", true},   {"api_key", true},
                {"X-Api-Key", true},      {"apiKey", true},       {"private_key", true},
                {"Authorization", true},  {"cookie", true},       {"access_token", true},
                {"refreshToken", true},   {"token", true},        {"id-token", true},
                {"code_verifier", true},  {"credentials", true},  {"passphrase", true},
                {"token_endpoint", false}, {"token_type", false}, {"max_tokens", false},
                {"text", false},          {"path", false},        {"code", false},
                {"tokenizer", false},     {"", false},
        };
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                if (redact_key_is_secret(cases[i].key) != cases[i].secret)
                        fail_msg("redact_key_is_secret(\"%s\") should be %d", cases[i].key,
                                 cases[i].secret);
        }
}

static void test_known_values(void **state)
{
        redact_set *s = redact_set_new();
        _cleanup_free_ char *out = NULL;
        (void)state;

        redact_set_add(s, "hunter2-very-secret");
        redact_set_add(s, "secret"); /* inside the longer one: that one goes first */
        redact_set_add(s, "abc");    /* short: whole strings only */
        redact_set_add(s, "424242");
        redact_set_add(s, "hunter2-very-secret"); /* once */
        assert_int_equal(redact_set_count(s), 4);
        out = redact("{\"q\":\"say hunter2-very-secret twice: hunter2-very-secret\","
                     "\"list\":[\"abc\",\"abcd\",{\"deep\":\"x secret y\"}],"
                     "\"hunter2-very-secret\":1,\"pin\":424242,\"n\":7}",
                     s, 4096);
        assert_null(strstr(out, "hunter2"));
        assert_null(strstr(out, "424242"));
        assert_null(strstr(out, " secret "));
        assert_string_equal(out, "{\"q\":\"say [redacted] twice: [redacted]\","
                                 "\"list\":[\"[redacted]\",\"abcd\",{\"deep\":\"x [redacted] y\"}],"
                                 "\"[redacted]\":\"[redacted]\",\"pin\":\"[redacted]\",\"n\":7}");
        redact_set_free(s);
}

static void test_secret_keys_and_shapes(void **state)
{
        _cleanup_free_ char *out = NULL;
        const char *tok = "corral_0123456789abcdef_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd";
        const char *jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz";
        _cleanup_free_ char *in = NULL;
        (void)state;

        in = xasprintf("{\"password\":{\"nested\":\"x\"},\"headers\":{\"Authorization\":"
                       "\"whatever\"},\"text\":\"use %s now\",\"jwt\":\"%s\",\"h\":\"Bearer "
                       "opaque.Token-123456\",\"b\":\"basic dXNlcjpwYXNzd29yZA==\","
                       "\"plain\":\"a basic idea, eyJ too short\"}",
                       tok, jwt);
        out = redact(in, NULL, 4096);
        assert_string_equal(out, "{\"password\":\"[redacted]\",\"headers\":{\"Authorization\":"
                                 "\"[redacted]\"},\"text\":\"use [redacted] now\",\"jwt\":"
                                 "\"[redacted]\",\"h\":\"Bearer [redacted]\",\"b\":\"basic "
                                 "[redacted]\",\"plain\":\"a basic idea, eyJ too short\"}");
}

static void test_cap(void **state)
{
        redact_set *s = redact_set_new();
        const char *secret = "ZZZZ-the-long-secret-value-ZZZZ";
        cJSON *j;
        (void)state;

        redact_set_add(s, secret);
        /* A secret straddling every possible cut near the cap: none of it
         * (not even its start) may be kept. */
        for (size_t pad = 200; pad < 300; pad++) {
                _cleanup_free_ char *text = NULL, *in = NULL, *a = xcalloc(1, pad + 1);
                memset(a, 'a', pad);
                in = xasprintf("{\"t\":\"%s%s%s\"}", a, secret, a);
                text = redact(in, s, 256);
                assert_true(strlen(text) <= 256);
                assert_null(strstr(text, "ZZZZ"));
                j = cJSON_Parse(text);
                assert_non_null(j);
                if (strlen(in) - strlen(secret) + strlen(REDACT_MARK) > 256) {
                        _cleanup_free_ char *m = xasprintf("[truncated, %zu bytes in all]",
                                                           strlen(in));
                        assert_true(cJSON_IsString(j));
                        assert_non_null(strstr(j->valuestring, m));
                }
                cJSON_Delete(j);
        }
        {
                /* UTF-8 is never cut inside a character. */
                _cleanup_free_ char *text = NULL;
                strbuf b = STRBUF_INIT(0);
                (void)strbuf_append(&b, "[\"", 2);
                for (int i = 0; i < 500; i++)
                        (void)strbuf_append(&b, "\xc3\xa9", 2);
                (void)strbuf_append(&b, "\"]", 2);
                text = redact(b.buf, NULL, 300);
                strbuf_done(&b);
                j = cJSON_Parse(text);
                assert_non_null(j);
                assert_true(cJSON_IsString(j));
                /* Each character whole: the string minus the marker is even. */
                assert_int_equal((strstr(j->valuestring, "[truncated") - j->valuestring - 2) % 2,
                                 0);
                cJSON_Delete(j);
        }
        redact_set_free(s);
}

static void put(const char *dir, const char *rel, const char *text)
{
        _cleanup_free_ char *p = path_join(dir, rel);
        _cleanup_free_ char *parent = xstrdup(p);
        *strrchr(parent, '/') = '\0';
        assert_int_equal(mkdir_p(parent, 0700), 0);
        assert_int_equal(write_file_atomic(p, text, strlen(text), 0600), 0);
}

static void test_store(void **state)
{
        char dir[] = "/tmp/corral-redact-XXXXXX";
        corral_paths p = {0};
        redact_set *s = redact_set_new();
        unsigned long long fp;
        _cleanup_free_ char *out = NULL;
        (void)state;

        assert_non_null(mkdtemp(dir));
        p.servers = path_join(dir, "servers");
        p.config = path_join(dir, "etc/corral.json");
        put(dir, "servers/a/secrets.json",
              "{\"env\":{\"API_KEY\":\"env-secret-1\"},\"headers\":{\"X\":\"hdr-secret-2\"},"
              "\"inputs\":{\"port\":\"port-input-3\"}}");
        put(dir, "servers/b/oauth.json",
              "{\"access_token\":\"old-access-4\",\"issuer\":\"https://idp.example\"}");
        put(dir, "oauth/1000/c.json",
              "{\"access_token\":\"acc-5\",\"refresh_token\":\"ref-6\",\"client_secret\":"
              "\"cs-7\",\"pending\":{\"code_verifier\":\"ver-8\"},\"token_endpoint\":"
              "\"https://idp.example/token\"}");
        put(dir, "etc/corral.json",
              "{\"smithery_api_key\":\"smith-9\",\"auth\":{\"issuers\":[{\"issuer\":"
              "\"https://idp.example\",\"introspection\":{\"client_secret\":\"intro-10\"}}]}}");
        fp = redact_store_fingerprint(&p);
        redact_set_load_store(s, &p);
        assert_int_equal(redact_set_count(s), 10);
        out = redact("[\"env-secret-1\",\"hdr-secret-2\",\"port-input-3\",\"old-access-4\","
                     "\"acc-5\",\"ref-6\",\"cs-7\",\"ver-8\",\"smith-9\",\"intro-10\","
                     "\"https://idp.example/token\"]",
                     s, 4096);
        /* URLs in token files are not secrets. */
        assert_string_equal(out, "[\"[redacted]\",\"[redacted]\",\"[redacted]\",\"[redacted]\","
                                 "\"[redacted]\",\"[redacted]\",\"[redacted]\",\"[redacted]\","
                                 "\"[redacted]\",\"[redacted]\",\"https://idp.example/token\"]");
        /* Unchanged files: the same fingerprint; a new secret file: another. */
        assert_true(redact_store_fingerprint(&p) == fp);
        put(dir, "servers/d/secrets.json", "{\"env\":{\"K\":\"new\"}}");
        assert_true(redact_store_fingerprint(&p) != fp);
        fp = redact_store_fingerprint(&p);
        put(dir, "oauth/1000/c.json", "{\"access_token\":\"acc-11\"}");
        assert_true(redact_store_fingerprint(&p) != fp);

        redact_set_free(s);
        paths_done(&p);
        assert_int_equal(rm_rf(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_key_names),
                cmocka_unit_test(test_known_values),
                cmocka_unit_test(test_secret_keys_and_shapes),
                cmocka_unit_test(test_cap),
                cmocka_unit_test(test_store),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
