/* The pure parts of the Docker client: image references (table), the 8-byte
 * frame demultiplexer of attach/logs streams, the hardened container
 * configuration, and registry credentials from a docker config file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/strbuf.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- references --------------------------------------------------------- */

typedef struct ref_case {
        const char *in;
        int rc; /* 0 or -EX_USAGE */
        const char *registry, *repository, *tag, *digest;
        const char *tagged; /* docker_ref_tagged() */
} ref_case;

static const ref_case ref_cases[] = {
        {"alpine", 0, "docker.io", "library/alpine", "latest", NULL,
         "docker.io/library/alpine:latest"},
        {"alpine:3.20", 0, "docker.io", "library/alpine", "3.20", NULL,
         "docker.io/library/alpine:3.20"},
        {"mcp/fetch", 0, "docker.io", "mcp/fetch", "latest", NULL, "docker.io/mcp/fetch:latest"},
        {"docker.io/alpine", 0, "docker.io", "library/alpine", "latest", NULL,
         "docker.io/library/alpine:latest"},
        {"index.docker.io/library/alpine:1", 0, "docker.io", "library/alpine", "1", NULL,
         "docker.io/library/alpine:1"},
        {"ghcr.io/owner/some-mcp:v1.2", 0, "ghcr.io", "owner/some-mcp", "v1.2", NULL,
         "ghcr.io/owner/some-mcp:v1.2"},
        {"127.0.0.1:5000/x/y:tag@sha256:" HEX64, 0, "127.0.0.1:5000", "x/y", "tag", "sha256:" HEX64,
         "127.0.0.1:5000/x/y:tag"},
        {"127.0.0.1:5000/x/y", 0, "127.0.0.1:5000", "x/y", "latest", NULL,
         "127.0.0.1:5000/x/y:latest"},
        {"localhost/img", 0, "localhost", "img", "latest", NULL, "localhost/img:latest"},
        {"localhost:5000/a/b/c:1", 0, "localhost:5000", "a/b/c", "1", NULL,
         "localhost:5000/a/b/c:1"},
        {"x/y@sha256:" HEX64, 0, "docker.io", "x/y", NULL, "sha256:" HEX64,
         "docker.io/x/y@sha256:" HEX64},
        {"my_org/a__b.c-d:x_y.z-1", 0, "docker.io", "my_org/a__b.c-d", "x_y.z-1", NULL,
         "docker.io/my_org/a__b.c-d:x_y.z-1"},
        /* bad input */
        {"", -EX_USAGE, NULL, NULL, NULL, NULL, NULL},
        {"Alpine", -EX_USAGE, NULL, NULL, NULL, NULL, NULL},
        {"alpine:", -EX_USAGE, NULL, NULL, NULL, NULL, NULL},
        {"alpine:-x", -EX_USAGE, NULL, NULL, NULL, NULL, NULL},
        {"alpine@sha256:abc", -EX_USAGE, NULL, NULL, NULL, NULL, NULL},
        {"alpine@md5:" HEX64, -EX_USAGE, NULL, NULL, NULL, NULL, NULL},
        {"x//y", -EX_USAGE, NULL, NULL, NULL, NULL, NULL},
        {"-x/y", -EX_USAGE, NULL, NULL, NULL, NULL, NULL},
        {"127.0.0.1:port/x", -EX_USAGE, NULL, NULL, NULL, NULL, NULL},
        {"127.0.0.1:5000/", -EX_USAGE, NULL, NULL, NULL, NULL, NULL},
        {"a/b/", -EX_USAGE, NULL, NULL, NULL, NULL, NULL},
        {"x/a..b", -EX_USAGE, NULL, NULL, NULL, NULL, NULL},
};

static void test_ref_table(void **state)
{
        for (size_t i = 0; i < sizeof(ref_cases) / sizeof(ref_cases[0]); i++) {
                const ref_case *c = &ref_cases[i];
                docker_ref r = {0};
                corral_error err = {0};
                int rc = docker_ref_parse(&r, c->in, &err);

                if (rc != c->rc)
                        fail_msg("'%s': rc %d, expected %d (%s)", c->in, rc, c->rc, err.msg);
                if (rc == 0) {
                        char *tagged = docker_ref_tagged(&r);
                        assert_string_equal(r.registry, c->registry);
                        assert_string_equal(r.repository, c->repository);
                        if (c->tag)
                                assert_string_equal(r.tag, c->tag);
                        else
                                assert_null(r.tag);
                        if (c->digest)
                                assert_string_equal(r.digest, c->digest);
                        else
                                assert_null(r.digest);
                        assert_string_equal(tagged, c->tagged);
                        free(tagged);
                } else {
                        assert_true(err.msg[0] != '\0');
                        assert_null(r.registry);
                }
                docker_ref_done(&r);
        }
}

static void test_ref_pinned_and_repo_digests(void **state)
{
        docker_ref r = {0};
        const char *d = NULL;
        char *pinned;

        assert_int_equal(docker_ref_parse(&r, "alpine:3", NULL), 0);
        pinned = docker_ref_pinned(&r, "sha256:" HEX64);
        assert_string_equal(pinned, "docker.io/library/alpine@sha256:" HEX64);
        free(pinned);
        /* the engine writes docker.io names in their short form */
        assert_true(docker_ref_matches_repo_digest(&r, "alpine@sha256:" HEX64, &d));
        assert_string_equal(d, "sha256:" HEX64);
        assert_true(
                docker_ref_matches_repo_digest(&r, "docker.io/library/alpine@sha256:" HEX64, NULL));
        assert_false(docker_ref_matches_repo_digest(&r, "other/alpine@sha256:" HEX64, NULL));
        assert_false(docker_ref_matches_repo_digest(&r, "alpine:3", NULL));
        assert_false(docker_ref_matches_repo_digest(&r, "alpine@sha256:12", NULL));
        docker_ref_done(&r);

        assert_int_equal(docker_ref_parse(&r, "127.0.0.1:5000/x/y:1", NULL), 0);
        assert_true(docker_ref_matches_repo_digest(&r, "127.0.0.1:5000/x/y@sha256:" HEX64, &d));
        assert_false(docker_ref_matches_repo_digest(&r, "127.0.0.1:5001/x/y@sha256:" HEX64, NULL));
        assert_false(docker_ref_matches_repo_digest(&r, "x/y@sha256:" HEX64, NULL));
        docker_ref_done(&r);
}

/* ---- frame demultiplexing ------------------------------------------------ */

typedef struct sink {
        strbuf out, err;
        unsigned calls;
} sink;

static void collect(void *ud, unsigned stream, const char *data, size_t n)
{
        sink *s = ud;

        s->calls++;
        assert_true(n > 0);
        if (stream == 1)
                assert_int_equal(strbuf_append(&s->out, data, n), 0);
        else if (stream == 2)
                assert_int_equal(strbuf_append(&s->err, data, n), 0);
        else
                fail_msg("unexpected stream %u", stream);
}

static size_t frame(char *buf, unsigned stream, const char *payload)
{
        size_t n = strlen(payload);

        buf[0] = (char)stream;
        buf[1] = buf[2] = buf[3] = 0;
        buf[4] = (char)(n >> 24);
        buf[5] = (char)(n >> 16);
        buf[6] = (char)(n >> 8);
        buf[7] = (char)n;
        memcpy(buf + 8, payload, n);
        return n + 8;
}

static size_t stream_fixture(char *buf)
{
        size_t n = 0;

        n += frame(buf + n, 1, "{\"jsonrpc\":\"2.0\",\"id\":1}\n");
        n += frame(buf + n, 2, "warning: something\n");
        n += frame(buf + n, 1, "");
        n += frame(buf + n, 1, "second");
        n += frame(buf + n, 2, "!");
        return n;
}

static void check_sink(sink *s)
{
        assert_string_equal(s->out.buf, "{\"jsonrpc\":\"2.0\",\"id\":1}\nsecond");
        assert_string_equal(s->err.buf, "warning: something\n!");
}

static void test_demux_merged(void **state)
{
        char buf[512];
        size_t n = stream_fixture(buf);
        sink s = {.out = STRBUF_INIT(4096), .err = STRBUF_INIT(4096)};
        docker_demux d;

        docker_demux_init(&d);
        assert_int_equal(docker_demux_feed(&d, buf, n, collect, &s), 0);
        check_sink(&s);
        assert_int_equal(s.calls, 4); /* the empty frame produces nothing */
        assert_int_equal(d.hdr_len, 0);
        assert_int_equal(d.remaining, 0);
        strbuf_done(&s.out);
        strbuf_done(&s.err);
}

/* Every split point, and byte by byte: headers split inside their 8 bytes. */
static void test_demux_split(void **state)
{
        char buf[512];
        size_t n = stream_fixture(buf);

        for (size_t cut = 0; cut <= n; cut++) {
                sink s = {.out = STRBUF_INIT(4096), .err = STRBUF_INIT(4096)};
                docker_demux d;

                docker_demux_init(&d);
                assert_int_equal(docker_demux_feed(&d, buf, cut, collect, &s), 0);
                assert_int_equal(docker_demux_feed(&d, buf + cut, n - cut, collect, &s), 0);
                check_sink(&s);
                strbuf_done(&s.out);
                strbuf_done(&s.err);
        }
        sink s = {.out = STRBUF_INIT(4096), .err = STRBUF_INIT(4096)};
        docker_demux d;
        docker_demux_init(&d);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(docker_demux_feed(&d, buf + i, 1, collect, &s), 0);
        check_sink(&s);
        strbuf_done(&s.out);
        strbuf_done(&s.err);
}

static void test_demux_bad_header(void **state)
{
        char buf[64];
        size_t n = frame(buf, 1, "ok");
        sink s = {.out = STRBUF_INIT(4096), .err = STRBUF_INIT(4096)};
        docker_demux d;

        n += frame(buf + n, 7, "bad");
        docker_demux_init(&d);
        assert_int_equal(docker_demux_feed(&d, buf, n, collect, &s), -1);
        assert_string_equal(s.out.buf, "ok");
        assert_null(s.err.buf);
        strbuf_done(&s.out);
        strbuf_done(&s.err);
}

/* A large frame: the 32-bit big-endian size is read in full. */
static void test_demux_large(void **state)
{
        size_t len = 70000;
        char *buf = malloc(len + 8);
        sink s = {.out = STRBUF_INIT(1 << 20), .err = STRBUF_INIT(16)};
        docker_demux d;

        buf[0] = 1;
        buf[1] = buf[2] = buf[3] = 0;
        buf[4] = 0;
        buf[5] = (char)(len >> 16);
        buf[6] = (char)(len >> 8);
        buf[7] = (char)len;
        memset(buf + 8, 'x', len);
        docker_demux_init(&d);
        assert_int_equal(docker_demux_feed(&d, buf, 5, collect, &s), 0);
        assert_int_equal(docker_demux_feed(&d, buf + 5, 1000, collect, &s), 0);
        assert_int_equal(docker_demux_feed(&d, buf + 1005, len + 8 - 1005, collect, &s), 0);
        assert_int_equal(s.out.len, len);
        assert_int_equal(d.remaining, 0);
        free(buf);
        strbuf_done(&s.out);
        strbuf_done(&s.err);
}

/* ---- container configuration -------------------------------------------- */

static const char *array_item(const cJSON *a, int i)
{
        const cJSON *it = cJSON_GetArrayItem(a, i);
        return cJSON_IsString(it) ? it->valuestring : NULL;
}

static void test_config_hardened(void **state)
{
        manifest *m = manifest_new("srv");
        cJSON *c, *hc;

        strv_free(m->command);
        m->command = strv_push(strv_push(NULL, "/usr/bin/node"), "/app/index.js");
        m->env = calloc(1, sizeof(*m->env));
        m->env[0].key = xstrdup("A");
        m->env[0].value = xstrdup("b=c");
        m->n_env = 1;
        m->memory_mb = 256;
        m->pids = 64;
        m->cpus = 0.5;

        c = docker_container_config(m, "reg/x@sha256:" HEX64, NULL, "/var/lib/corral/servers");
        assert_string_equal(json_get_string(c, "Image"), "reg/x@sha256:" HEX64);
        assert_string_equal(array_item(json_get_array(c, "Entrypoint"), 0), "/usr/bin/node");
        assert_string_equal(array_item(json_get_array(c, "Entrypoint"), 1), "/app/index.js");
        assert_null(cJSON_GetObjectItem(c, "Cmd"));
        assert_string_equal(array_item(json_get_array(c, "Env"), 0), "A=b=c");
        assert_string_equal(json_get_string(c, "User"), "65534:65534");
        assert_string_equal(json_get_string(json_get_object(c, "Labels"), DOCKER_LABEL_SERVER),
                            "srv");
        assert_string_equal(json_get_string(json_get_object(c, "Labels"), DOCKER_LABEL_ROOT),
                            "/var/lib/corral/servers");
        assert_true(json_get_bool(c, "OpenStdin", false));
        assert_true(json_get_bool(c, "AttachStdin", false));
        assert_true(json_get_bool(c, "StdinOnce", false));
        assert_false(json_get_bool(c, "Tty", true));

        hc = (cJSON *)json_get_object(c, "HostConfig");
        assert_non_null(hc);
        assert_int_equal(cJSON_GetArraySize(json_get_array(hc, "CapDrop")), 1);
        assert_string_equal(array_item(json_get_array(hc, "CapDrop"), 0), "ALL");
        assert_string_equal(array_item(json_get_array(hc, "SecurityOpt"), 0), "no-new-privileges");
        assert_true(json_get_bool(hc, "ReadonlyRootfs", false));
        assert_string_equal(json_get_string(json_get_object(hc, "Tmpfs"), "/tmp"),
                            "rw,noexec,nosuid,size=64m"); /* SANDBOX_DEFAULT_TMP_MB */
        assert_true(json_get_number(hc, "ShmSize", 0) == 1024.0 * 1024);
        assert_string_equal(json_get_string(hc, "NetworkMode"), "none");
        assert_true(json_get_number(hc, "Memory", 0) == 256.0 * 1024 * 1024);
        assert_true(json_get_number(hc, "MemorySwap", 0) == 256.0 * 1024 * 1024);
        assert_true(json_get_number(hc, "NanoCpus", 0) == 500000000.0);
        assert_true(json_get_number(hc, "PidsLimit", 0) == 64.0);
        assert_true(json_get_bool(hc, "Init", false));
        assert_false(json_get_bool(hc, "AutoRemove", true));
        cJSON_Delete(c);

        /* the image's own user is kept; network "host" gets the engine's NAT */
        free(m->network);
        m->network = xstrdup("host");
        c = docker_container_config(m, "img", "node", NULL);
        assert_string_equal(json_get_string(c, "User"), "node");
        hc = (cJSON *)json_get_object(c, "HostConfig");
        assert_string_equal(json_get_string(hc, "NetworkMode"), "bridge");
        assert_null(json_get_string(json_get_object(c, "Labels"), DOCKER_LABEL_ROOT));
        cJSON_Delete(c);
        manifest_free(m);
}

/* sandbox.mounts → HostConfig.Mounts binds, read-only unless ":rw". */
static void test_config_mounts(void **state)
{
        manifest *m = manifest_new("srv");
        corral_error err = {0};
        const cJSON *arr, *o;
        cJSON *c;

        c = docker_container_config(m, "img", NULL, NULL);
        assert_int_equal(docker_config_mounts(c, m->mounts, &err), 0);
        assert_null(json_get_array(json_get_object(c, "HostConfig"), "Mounts"));
        m->mounts = strv_push(m->mounts, "/srv/docs:/data:ro");
        m->mounts = strv_push(m->mounts, "/srv/out:rw");
        m->mounts = strv_push(m->mounts, "/srv/plain");
        assert_int_equal(docker_config_mounts(c, m->mounts, &err), 0);
        arr = json_get_array(json_get_object(c, "HostConfig"), "Mounts");
        assert_int_equal(cJSON_GetArraySize(arr), 3);
        o = cJSON_GetArrayItem(arr, 0);
        assert_string_equal(json_get_string(o, "Type"), "bind");
        assert_string_equal(json_get_string(o, "Source"), "/srv/docs");
        assert_string_equal(json_get_string(o, "Target"), "/data");
        assert_true(json_get_bool(o, "ReadOnly", false));
        assert_string_equal(json_get_string(json_get_object(o, "BindOptions"), "Propagation"),
                            "rprivate");
        o = cJSON_GetArrayItem(arr, 1);
        assert_string_equal(json_get_string(o, "Target"), "/srv/out");
        assert_false(json_get_bool(o, "ReadOnly", true));
        o = cJSON_GetArrayItem(arr, 2);
        assert_string_equal(json_get_string(o, "Target"), "/srv/plain");
        assert_true(json_get_bool(o, "ReadOnly", false));
        cJSON_Delete(c);

        const char *bad[] = {"relative:/x", "/a:b", "/:/x", "/a:/b:/c:ro", "/a:/", NULL};
        for (size_t i = 0; bad[i]; i++) {
                char *v[] = {(char *)bad[i], NULL};
                c = docker_container_config(m, "img", NULL, NULL);
                assert_int_equal(docker_config_mounts(c, v, &err), -EX_DATAERR);
                assert_non_null(strstr(err.msg, bad[i]));
                corral_error_clear(&err);
                cJSON_Delete(c);
        }
        manifest_free(m);
}

/* ---- registry credentials ------------------------------------------------ */

static void test_registry_auth(void **state)
{
        char dir[] = "/tmp/corral-test-docker-XXXXXX";
        char *path, *auth = NULL;
        const char *json;
        unsigned char decoded[512] = {0};
        corral_error err = {0};
        const char *cfg = "{\"auths\": {\"https://127.0.0.1:5000\": {\"auth\": "
                          "\"dXNlcjpwYXNzOndvcmQ=\"}, \"other.io\": {}}}";
        cJSON *j;
        size_t n;

        assert_non_null(mkdtemp(dir));
        path = path_join(dir, "config.json");
        assert_int_equal(write_file_atomic(path, cfg, strlen(cfg), 0600), 0);
        setenv("DOCKER_CONFIG", dir, 1);

        assert_int_equal(docker_registry_auth("127.0.0.1:5000", &auth, &err), 0);
        assert_non_null(auth);
        assert_null(strchr(auth, '+'));
        assert_null(strchr(auth, '/'));
        for (char *p = auth; *p; p++)
                *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
        n = strlen(auth);
        assert_true(EVP_DecodeBlock(decoded, (unsigned char *)auth, (int)n) > 0);
        j = cJSON_Parse((char *)decoded);
        assert_non_null(j);
        assert_string_equal(json_get_string(j, "username"), "user");
        assert_string_equal(json_get_string(j, "password"), "pass:word");
        assert_string_equal(json_get_string(j, "serveraddress"), "127.0.0.1:5000");
        cJSON_Delete(j);
        free(auth);

        /* no entry, and an entry without credentials: anonymous */
        assert_int_equal(docker_registry_auth("127.0.0.1:5001", &auth, &err), 0);
        assert_null(auth);
        assert_int_equal(docker_registry_auth("other.io", &auth, &err), 0);
        assert_null(auth);

        json = "{not json";
        assert_int_equal(write_file_atomic(path, json, strlen(json), 0600), 0);
        assert_int_equal(docker_registry_auth("127.0.0.1:5000", &auth, &err), -EX_CONFIG);
        assert_null(auth);

        unsetenv("DOCKER_CONFIG");
        (void)rm_rf(dir);
        free(path);
}

/* The decoded X-Registry-Auth JSON of a header value (owned). */
static cJSON *decode_auth(char *auth)
{
        unsigned char decoded[1024] = {0};

        for (char *p = auth; *p; p++)
                *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
        assert_true(EVP_DecodeBlock(decoded, (unsigned char *)auth, (int)strlen(auth)) > 0);
        return cJSON_Parse((char *)decoded);
}

static void write_script(const char *dir, const char *name, const char *body)
{
        char *path = path_join(dir, name);

        assert_int_equal(write_file_atomic(path, body, strlen(body), 0755), 0);
        free(path);
}

/* credHelpers over credsStore over auths; then Podman's auth.json; helpers
 * that have nothing, are missing, or hang. */
static void test_registry_auth_helpers(void **state)
{
        char dir[] = "/tmp/corral-test-dockercred-XXXXXX";
        char *cfgpath, *authjson, *newpath, *auth = NULL, *user = NULL, *secret = NULL;
        char *oldpath = getenv("PATH") ? xstrdup(getenv("PATH")) : xstrdup("/usr/bin:/bin");
        corral_error err = {0};
        cJSON *j;

        assert_non_null(mkdtemp(dir));
        /* One helper knows 127.0.0.1:5000 only; the other answers a token. */
        write_script(dir, "docker-credential-corraltest",
                     "#!/bin/sh\nread -r s\n"
                     "if [ \"$s\" = 127.0.0.1:5000 ] && [ \"$1\" = get ]; then\n"
                     "  echo "
                     "'{\"ServerURL\":\"127.0.0.1:5000\",\"Username\":\"hu\",\"Secret\":\"hs\"}'\n"
                     "else echo 'credentials not found in native keychain'; exit 1; fi\n");
        write_script(dir, "docker-credential-corraltoken",
                     "#!/bin/sh\ncat >/dev/null\n"
                     "echo '{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"tok\"}'\n");
        write_script(dir, "docker-credential-corralhang", "#!/bin/sh\nexec sleep 30\n");
        write_script(dir, "docker-credential-corralbad", "#!/bin/sh\necho 'not json'\n");
        newpath = xasprintf("%s:%s", dir, oldpath);
        setenv("PATH", newpath, 1);
        setenv("DOCKER_CONFIG", dir, 1);
        cfgpath = path_join(dir, "config.json");
        authjson = path_join(dir, "auth.json");

#define CFG(text) assert_int_equal(write_file_atomic(cfgpath, text, strlen(text), 0600), 0)
        CFG("{\"credsStore\":\"corraltest\",\"auths\":{\"127.0.0.1:5000\":{\"auth\":"
            "\"dXNlcjpwYXNz\"},\"other.io\":{\"auth\":\"dXNlcjpwYXNz\"}}}");
        assert_int_equal(docker_registry_auth("127.0.0.1:5000", &auth, &err), 0);
        j = decode_auth(auth);
        assert_string_equal(json_get_string(j, "username"), "hu");
        assert_string_equal(json_get_string(j, "password"), "hs");
        cJSON_Delete(j);
        free(auth);
        /* The helper has none for other.io: its auths entry (user:pass). */
        assert_int_equal(docker_registry_auth("other.io", &auth, &err), 0);
        j = decode_auth(auth);
        assert_string_equal(json_get_string(j, "username"), "user");
        cJSON_Delete(j);
        free(auth);
        /* The daemon's variant never runs a helper. */
        assert_int_equal(docker_registry_auth_static("127.0.0.1:5000", &auth, &err), 0);
        j = decode_auth(auth);
        assert_string_equal(json_get_string(j, "username"), "user");
        cJSON_Delete(j);
        free(auth);

        /* credHelpers wins over credsStore; "<token>" is an identity token. */
        CFG("{\"credsStore\":\"corraltest\",\"credHelpers\":{\"127.0.0.1:5000\":\"corraltoken\"}}");
        assert_int_equal(docker_registry_auth("127.0.0.1:5000", &auth, &err), 0);
        j = decode_auth(auth);
        assert_string_equal(json_get_string(j, "identitytoken"), "tok");
        assert_null(json_get_string(j, "username"));
        cJSON_Delete(j);
        free(auth);

        /* Broken helpers are errors naming them, never a silent anonymous pull. */
        CFG("{\"credsStore\":\"corralmissing\"}");
        assert_int_equal(docker_registry_auth("127.0.0.1:5000", &auth, &err), -EX_CONFIG);
        assert_non_null(strstr(err.msg, "docker-credential-corralmissing is not installed"));
        corral_error_clear(&err);
        CFG("{\"credsStore\":\"corralbad\"}");
        assert_int_equal(docker_registry_auth("127.0.0.1:5000", &auth, &err), -EX_CONFIG);
        corral_error_clear(&err);
        CFG("{\"credsStore\":\"../bin/sh\"}");
        assert_int_equal(docker_registry_auth("127.0.0.1:5000", &auth, &err), -EX_CONFIG);
        corral_error_clear(&err);
        assert_int_equal(
                docker_cred_helper_get("corralhang", "127.0.0.1:5000", 300, &user, &secret, &err),
                -EX_TEMPFAIL);
        assert_null(user);
        corral_error_clear(&err);

        /* Podman's auth.json when the docker config has nothing. */
        CFG("{}");
        {
                const char *a = "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"cHU6cHM=\"}}}";
                assert_int_equal(write_file_atomic(authjson, a, strlen(a), 0600), 0);
        }
        setenv("REGISTRY_AUTH_FILE", authjson, 1);
        assert_int_equal(docker_registry_auth("127.0.0.1:5000", &auth, &err), 0);
        j = decode_auth(auth);
        assert_string_equal(json_get_string(j, "username"), "pu");
        assert_string_equal(json_get_string(j, "password"), "ps");
        cJSON_Delete(j);
        free(auth);
        assert_int_equal(docker_registry_auth("other.io", &auth, &err), 0);
        assert_null(auth);
#undef CFG

        unsetenv("REGISTRY_AUTH_FILE");
        unsetenv("DOCKER_CONFIG");
        setenv("PATH", oldpath, 1);
        (void)rm_rf(dir);
        free(oldpath);
        free(newpath);
        free(cfgpath);
        free(authjson);
}

/* DOCKER_HOST other than unix:// is refused before any connection. */
static void test_docker_host(void **state)
{
        docker *d = NULL;
        corral_error err = {0};

        setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
        assert_int_equal(docker_open(&d, &err), -EX_CONFIG);
        assert_non_null(strstr(err.msg, "unix://"));
        corral_error_clear(&err);
        setenv("DOCKER_HOST", "unix:///nonexistent/corral-test.sock", 1);
        assert_int_equal(docker_open(&d, &err), -EX_UNAVAILABLE);
        assert_non_null(strstr(err.msg, "docker engine unavailable"));
        assert_non_null(strstr(err.msg, "/nonexistent/corral-test.sock"));
        assert_null(d);
        unsetenv("DOCKER_HOST");
}

/* User-namespace remapping: Docker's /info, a container's uid_map, and the
 * UsernsMode corral sets for Podman. */
static void test_userns(void **state)
{
        static const struct {
                const char *info;
                bool remap;
        } infos[] = {
                {"{\"SecurityOptions\":[\"name=seccomp,profile=default\"]}", false},
                {"{\"SecurityOptions\":[\"name=seccomp,profile=default\",\"name=userns\"]}", true},
                {"{\"SecurityOptions\":[\"name=userns,foo=bar\"]}", true},
                {"{\"SecurityOptions\":[\"name=usernsx\"]}", false},
                {"{\"SecurityOptions\":\"name=userns\"}", false},
                {"{}", false},
        };
        uint32_t host = 0;
        cJSON *c;
        manifest *m = NULL;

        for (size_t i = 0; i < ARRAY_SIZE(infos); i++) {
                cJSON *j = cJSON_Parse(infos[i].info);
                assert_non_null(j);
                assert_int_equal(docker_info_userns_remap(j), infos[i].remap);
                cJSON_Delete(j);
        }
        assert_true(docker_uid_map_is_identity("         0          0 4294967295\n", &host));
        assert_int_equal(host, 0);
        assert_false(docker_uid_map_is_identity("         0     165536      65536\n", &host));
        assert_int_equal(host, 165536);
        assert_false(docker_uid_map_is_identity("1000 1000 1\n0 231072 1000\n", &host));
        assert_int_equal(host, 231072);
        assert_false(docker_uid_map_is_identity("", &host));
        assert_int_equal(host, UINT32_MAX);

        m = manifest_new("srv");
        c = docker_container_config(m, "img", NULL, NULL);
        assert_null(json_get_string(json_get_object(c, "HostConfig"), "UsernsMode"));
        docker_config_set_userns(c, NULL);
        assert_null(json_get_string(json_get_object(c, "HostConfig"), "UsernsMode"));
        docker_config_set_userns(c, "auto");
        docker_config_set_userns(c, "auto");
        assert_string_equal(json_get_string(json_get_object(c, "HostConfig"), "UsernsMode"),
                            "auto");
        cJSON_Delete(c);
        manifest_free(m);
}

/* The /proc lists replace the engine's: Docker's defaults stay, /proc/pressure
 * is added; Podman gets them as one SecurityOpt mask=.  An engine without
 * its init binary is named by package. */
static void test_proc_paths_and_init(void **state)
{
        manifest *m = manifest_new("srv");
        cJSON *c = docker_container_config(m, "img", NULL, NULL);
        const cJSON *hc = json_get_object(c, "HostConfig");
        _cleanup_free_ char *ro = cJSON_PrintUnformatted(json_get_array(hc, "ReadonlyPaths"));
        _cleanup_free_ char *mp = cJSON_PrintUnformatted(json_get_array(hc, "MaskedPaths"));
        const cJSON *opt, *last = NULL;

        assert_non_null(strstr(ro, "\"/proc/sys\""));
        assert_non_null(strstr(ro, "\"/proc/sysrq-trigger\""));
        assert_non_null(strstr(ro, "\"/proc/pressure\""));
        assert_non_null(strstr(mp, "\"/proc/kcore\""));
        assert_non_null(strstr(mp, "\"/sys/firmware\""));
        docker_config_podman_paths(c);
        cJSON_ArrayForEach(opt, json_get_array(hc, "SecurityOpt")) last = opt;
        assert_non_null(last);
        assert_string_equal(cJSON_GetStringValue(last),
                            "mask=/proc/asound:/proc/acpi:/proc/kcore:/proc/keys:"
                            "/proc/latency_stats:/proc/timer_list:/proc/timer_stats:"
                            "/proc/sched_debug:/proc/scsi:/sys/firmware:/proc/pressure");
        cJSON_Delete(c);
        manifest_free(m);

        assert_non_null(strstr(docker_init_hint("container-init binary not found on the host: "
                                                "stat /usr/libexec/podman/catatonit: no such file"),
                               "catatonit package"));
        assert_non_null(strstr(docker_init_hint("OCI runtime create failed: exec: \"docker-init\": "
                                                "executable file not found in $PATH"),
                               "docker-init"));
        assert_null(docker_init_hint("No such image: x"));
        assert_null(docker_init_hint(NULL));
}

/* corral.json "docker": require_digest refuses tag-only specs; typos and
 * wrong types are errors, never a looser policy. */
static void test_policy(void **state)
{
        static const struct {
                const char *config;
                const char *digest;
                int code;
        } rows[] = {
                {NULL, NULL, 0},
                {"{}", NULL, 0},
                {"{\"docker\":{}}", NULL, 0},
                {"{\"docker\":{\"require_digest\":false}}", NULL, 0},
                {"{\"docker\":{\"require_digest\":true}}", "sha256:" HEX64, 0},
                {"{\"docker\":{\"require_digest\":true}}", NULL, -EX_NOPERM},
                {"{\"docker\":{\"require_digest\":true}}", "", -EX_NOPERM},
                {"{\"docker\":{\"require_digests\":true}}", NULL, -EX_CONFIG},
                {"{\"docker\":{\"require_digest\":1}}", "sha256:" HEX64, -EX_CONFIG},
                {"{\"docker\":{\"require_digest\":\"yes\"}}", NULL, -EX_CONFIG},
                {"{\"docker\":true}", NULL, -EX_CONFIG},
        };

        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                cJSON *c = rows[i].config ? cJSON_Parse(rows[i].config) : NULL;
                corral_error err = {0};
                int r = docker_policy_check(c, "docker:reg/x:1", rows[i].digest, &err);
                if (r != rows[i].code)
                        fail_msg("row %zu (%s): %d, want %d (%s)", i, rows[i].config, r,
                                 rows[i].code, err.msg);
                if (r == -EX_NOPERM)
                        assert_non_null(strstr(err.msg, "docker:reg/x:1 names no digest"));
                cJSON_Delete(c);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ref_table),
                cmocka_unit_test(test_ref_pinned_and_repo_digests),
                cmocka_unit_test(test_demux_merged),
                cmocka_unit_test(test_demux_split),
                cmocka_unit_test(test_demux_bad_header),
                cmocka_unit_test(test_demux_large),
                cmocka_unit_test(test_config_hardened),
                cmocka_unit_test(test_config_mounts),
                cmocka_unit_test(test_registry_auth),
                cmocka_unit_test(test_registry_auth_helpers),
                cmocka_unit_test(test_docker_host),
                cmocka_unit_test(test_userns),
                cmocka_unit_test(test_policy),
                cmocka_unit_test(test_proc_paths_and_init),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
