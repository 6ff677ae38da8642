/* The libcurl-multi-on-libuv client (src/http/client.c) against a real HTTP
 * peer: node's http server in tests/fixtures/http-peer.mjs on 127.0.0.1 and
 * on a unix socket.  Buffered and streamed bodies, headers, methods and
 * bodies, caps, timeouts, redirects, cancellation, many requests at once, and
 * freeing the client from inside a callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/http_client.h"
#include "corral/macro.h"
#include "corral/paths.h"

typedef struct peer {
        pid_t pid;
        int stdin_fd;
        int port;
        char base[64];
        char sock[108];
        char dir[64];
} peer;

static void peer_start(peer *p, bool unix_socket)
{
        const char *srcdir = getenv("CORRAL_SRCDIR");
        _cleanup_free_ char *src = path_absolute(srcdir ? srcdir : ".");
        _cleanup_free_ char *js = path_join(src, "tests/fixtures/http-peer.mjs");
        int in[2], out[2];
        char line[64] = "";
        size_t n = 0;

        memset(p, 0, sizeof(*p));
        assert_true(path_exists(js));
        if (unix_socket) {
                snprintf(p->dir, sizeof(p->dir), "/tmp/corral-test-http-XXXXXX");
                assert_non_null(mkdtemp(p->dir));
                snprintf(p->sock, sizeof(p->sock), "%s/peer.sock", p->dir);
        }
        assert_int_equal(pipe2(in, O_CLOEXEC), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        p->pid = fork();
        assert_true(p->pid >= 0);
        if (p->pid == 0) {
                (void)dup2(in[0], 0);
                (void)dup2(out[1], 1);
                execlp("node", "node", js, unix_socket ? p->sock : (char *)NULL, (char *)NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        p->stdin_fd = in[1];
        while (n < sizeof(line) - 1) {
                ssize_t r = read(out[0], line + n, 1);
                if (r <= 0 || line[n] == '\n')
                        break;
                n++;
        }
        line[n] = '\0';
        close(out[0]);
        assert_int_equal(sscanf(line, "ready %d", &p->port), 1);
        snprintf(p->base, sizeof(p->base), "http://127.0.0.1:%d", p->port);
}

static void peer_stop(peer *p)
{
        int st;

        close(p->stdin_fd);
        (void)kill(p->pid, SIGTERM);
        (void)waitpid(p->pid, &st, 0);
        if (p->dir[0]) {
                (void)unlink(p->sock);
                (void)rmdir(p->dir);
        }
}

typedef struct result {
        bool done;
        int result;
        long status;
        char *body;
        size_t body_len;
        char *error;
        char *x_peer;
        char *ctype;
        unsigned chunks;
        char streamed[256];
} result;

static void result_done(result *r)
{
        free(r->body);
        free(r->error);
        free(r->x_peer);
        free(r->ctype);
}

static void on_done(void *ud, const http_response *resp)
{
        result *r = ud;
        const char *v;

        r->done = true;
        r->result = resp->result;
        r->status = resp->status;
        r->body = xstrndup(resp->body, resp->body_len);
        r->body_len = resp->body_len;
        r->error = resp->error ? xstrdup(resp->error) : NULL;
        if ((v = http_response_header(resp, "x-peer")))
                r->x_peer = xstrdup(v);
        if ((v = http_response_header(resp, "Content-Type")))
                r->ctype = xstrdup(v);
}

typedef struct fixture {
        uv_loop_t loop;
        http_client *client;
        peer peer;
} fixture;

static int setup(void **state)
{
        fixture *fx = xcalloc(1, sizeof(*fx));
        corral_error err = { 0 };

        peer_start(&fx->peer, false);
        assert_int_equal(uv_loop_init(&fx->loop), 0);
        assert_int_equal(http_client_new(&fx->loop, &fx->client, &err), 0);
        *state = fx;
        return 0;
}

static int teardown(void **state)
{
        fixture *fx = *state;

        fx->client = http_client_free(fx->client);
        (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&fx->loop), 0);
        peer_stop(&fx->peer);
        free(fx);
        return 0;
}

static void run_until(fixture *fx, bool *flag)
{
        while (!*flag)
                (void)uv_run(&fx->loop, UV_RUN_ONCE);
}

static void start(fixture *fx, http_request_opts *o, result *r)
{
        corral_error err = { 0 };

        o->on_done = on_done;
        o->userdata = r;
        assert_int_equal(http_request_start(fx->client, o, NULL, &err), 0);
        /* Never answered from inside the call. */
        assert_false(r->done);
}

static char *url(fixture *fx, const char *path)
{
        return xasprintf("%s%s", fx->peer.base, path);
}

static void test_get(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *u = url(fx, "/hello");
        http_request_opts o = { .url = u };
        result r = { 0 };

        start(fx, &o, &r);
        assert_int_equal(http_client_pending(fx->client), 1);
        run_until(fx, &r.done);
        assert_int_equal(r.result, 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "hello");
        assert_string_equal(r.x_peer, "yes");
        assert_string_equal(r.ctype, "text/plain");
        assert_int_equal(http_client_pending(fx->client), 0);
        result_done(&r);
}

static void test_post_echo(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *u = url(fx, "/echo");
        const char *hdrs[] = { "Authorization: Bearer abc", "Content-Type: application/json", NULL };
        http_request_opts o = { .method = "PUT", .url = u, .headers = hdrs,
                                .body = "{\"a\":1}", .body_len = 7 };
        result r = { 0 };

        start(fx, &o, &r);
        run_until(fx, &r.done);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "\"method\":\"PUT\""));
        assert_non_null(strstr(r.body, "\"authorization\":\"Bearer abc\""));
        assert_non_null(strstr(r.body, "\"body\":\"{\\\"a\\\":1}\""));
        /* no 100-continue round trip */
        assert_null(strstr(r.body, "\"expect\""));
        result_done(&r);
}

static void test_status_and_404(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *u1 = url(fx, "/status/503");
        _cleanup_free_ char *u2 = url(fx, "/nothing");
        http_request_opts o1 = { .url = u1 }, o2 = { .url = u2 };
        result r1 = { 0 }, r2 = { 0 };

        start(fx, &o1, &r1);
        start(fx, &o2, &r2);
        run_until(fx, &r1.done);
        run_until(fx, &r2.done);
        /* An HTTP error status is a response, not a transfer failure. */
        assert_int_equal(r1.result, 0);
        assert_int_equal(r1.status, 503);
        assert_string_equal(r1.body, "status 503");
        assert_int_equal(r2.status, 404);
        result_done(&r1);
        result_done(&r2);
}

static void test_body_cap(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *u1 = url(fx, "/big/100000");
        _cleanup_free_ char *u2 = url(fx, "/big/4096");
        http_request_opts o1 = { .url = u1, .max_body = 4096 }, o2 = { .url = u2, .max_body = 4096 };
        result r1 = { 0 }, r2 = { 0 };

        start(fx, &o1, &r1);
        start(fx, &o2, &r2);
        run_until(fx, &r1.done);
        run_until(fx, &r2.done);
        assert_int_equal(r1.result, -EX_DATAERR);
        assert_string_equal(r1.error, "response body exceeds 4096 bytes");
        assert_true(r1.body_len <= 4096);
        assert_int_equal(r2.result, 0);
        assert_int_equal(r2.body_len, 4096);
        result_done(&r1);
        result_done(&r2);
}

static void test_header_cap(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *u = url(fx, "/bigheaders/20000");
        http_request_opts o = { .url = u, .max_headers = 8192 };
        result r = { 0 };

        start(fx, &o, &r);
        run_until(fx, &r.done);
        assert_int_equal(r.result, -EX_DATAERR);
        assert_string_equal(r.error, "response headers exceed 8192 bytes");
        result_done(&r);
}

static void test_timeout(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *u = url(fx, "/slow");
        http_request_opts o = { .url = u, .timeout_ms = 300 };
        result r = { 0 };
        uint64_t t0 = uv_hrtime();

        start(fx, &o, &r);
        run_until(fx, &r.done);
        assert_int_equal(r.result, -EX_TEMPFAIL);
        assert_string_equal(r.error, "timed out after 300 ms");
        assert_true(uv_hrtime() - t0 >= 290u * 1000000u);
        result_done(&r);
}

static void test_refused(void **state)
{
        fixture *fx = *state;
        /* Port 1 on loopback: nothing listens there. */
        http_request_opts o = { .url = "http://127.0.0.1:1/" };
        result r = { 0 };

        start(fx, &o, &r);
        run_until(fx, &r.done);
        assert_int_equal(r.result, -EX_TEMPFAIL);
        assert_int_equal(r.status, 0);
        assert_non_null(r.error);
        result_done(&r);
}

static void test_bad_urls(void **state)
{
        fixture *fx = *state;
        corral_error err = { 0 };
        result r = { 0 };
        http_request_opts o = { .url = "file:///etc/passwd", .on_done = on_done, .userdata = &r };
        http_request_opts o2 = { .url = "http://127.0.0.1/", .https_only = true,
                                 .on_done = on_done, .userdata = &r };

        assert_int_equal(http_request_start(fx->client, &o, NULL, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "not an http(s):// URL"));
        corral_error_clear(&err);
        assert_int_equal(http_request_start(fx->client, &o2, NULL, &err), -EX_USAGE);
        assert_non_null(strstr(err.msg, "not an https:// URL"));
        assert_int_equal(http_client_pending(fx->client), 0);
}

static void test_redirects(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *u = url(fx, "/redirect");
        http_request_opts o1 = { .url = u }, o2 = { .url = u, .max_redirects = 3 };
        result r1 = { 0 }, r2 = { 0 };

        start(fx, &o1, &r1);
        start(fx, &o2, &r2);
        run_until(fx, &r1.done);
        run_until(fx, &r2.done);
        assert_int_equal(r1.status, 302);
        assert_int_equal(r2.status, 200);
        assert_string_equal(r2.body, "hello");
        /* The final response's headers only. */
        assert_string_equal(r2.x_peer, "yes");
        result_done(&r1);
        result_done(&r2);
}

static int on_chunk(void *ud, http_request *req, const char *data, size_t len)
{
        result *r = ud;
        size_t have = strlen(r->streamed);

        assert_int_equal(http_request_status(req), 200);
        assert_string_equal(http_request_header(req, "content-type"), "text/plain");
        r->chunks++;
        if (have + len < sizeof(r->streamed))
                memcpy(r->streamed + have, data, len);
        return strstr(r->streamed, "chunk 2\n") && strstr(data, "chunk 2") ? -1 : 0;
}

static void test_streaming(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *u = url(fx, "/stream/3");
        _cleanup_free_ char *u2 = url(fx, "/stream/10");
        http_request_opts o = { .url = u, .on_data = on_chunk, .timeout_ms = UINT_MAX };
        http_request_opts o2 = { .url = u2, .on_data = on_chunk };
        result r = { 0 }, r2 = { 0 };

        start(fx, &o, &r);
        start(fx, &o2, &r2);
        run_until(fx, &r.done);
        /* Three chunks 20 ms apart arrive as three calls, not one buffer. */
        assert_int_equal(r.result, -EX_TEMPFAIL); /* stopped at chunk 2 */
        assert_string_equal(r.error, "stopped by the consumer");
        assert_string_equal(r.streamed, "chunk 0\nchunk 1\nchunk 2\n");
        assert_int_equal(r.chunks, 3);
        assert_string_equal(r.body, "");
        run_until(fx, &r2.done);
        assert_int_equal(r2.result, -EX_TEMPFAIL);
        assert_string_equal(r2.streamed, "chunk 0\nchunk 1\nchunk 2\n");
        result_done(&r);
        result_done(&r2);
}

static void on_fire(uv_timer_t *t)
{
        *(bool *)t->data = true;
}

static void test_cancel(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *u = url(fx, "/slow");
        _cleanup_free_ char *u2 = url(fx, "/hello");
        corral_error err = { 0 };
        result r = { 0 }, r2 = { 0 };
        http_request_opts o = { .url = u, .on_done = on_done, .userdata = &r };
        http_request_opts o2 = { .url = u2 };
        http_request *req;
        uv_timer_t t;
        bool fired = false;

        assert_int_equal(http_request_start(fx->client, &o, &req, &err), 0);
        start(fx, &o2, &r2);
        run_until(fx, &r2.done);
        /* Let /slow send its headers and first bytes, then cancel mid-body. */
        assert_int_equal(uv_timer_init(&fx->loop, &t), 0);
        t.data = &fired;
        assert_int_equal(uv_timer_start(&t, on_fire, 100, 0), 0);
        run_until(fx, &fired);
        http_request_cancel(req);
        assert_int_equal(http_client_pending(fx->client), 0);
        uv_close((uv_handle_t *)&t, NULL);
        (void)uv_run(&fx->loop, UV_RUN_NOWAIT);
        assert_false(r.done);
        result_done(&r2);
}

/* Many requests at once, all on one thread and one loop. */
static void test_many(void **state)
{
        fixture *fx = *state;
        enum { N = 64 };
        result r[N];
        _cleanup_free_ char *u = url(fx, "/hello");

        memset(r, 0, sizeof(r));
        for (int i = 0; i < N; i++) {
                http_request_opts o = { .url = u };
                start(fx, &o, &r[i]);
        }
        assert_int_equal(http_client_pending(fx->client), N);
        for (int i = 0; i < N; i++) {
                run_until(fx, &r[i].done);
                assert_int_equal(r[i].status, 200);
                assert_string_equal(r[i].body, "hello");
                result_done(&r[i]);
        }
}

typedef struct freeing {
        fixture *fx;
        bool done;
        result other;
} freeing;

static void on_done_free_client(void *ud, const http_response *resp)
{
        freeing *f = ud;

        f->done = true;
        assert_int_equal(resp->status, 200);
        f->fx->client = http_client_free(f->fx->client);
}

/* Freeing the client inside a callback while another request is in flight:
 * the other one is cancelled silently, nothing is used after free. */
static void test_free_in_callback(void **state)
{
        fixture *fx = *state;
        _cleanup_free_ char *u = url(fx, "/hello");
        _cleanup_free_ char *u2 = url(fx, "/slow");
        corral_error err = { 0 };
        freeing f = { .fx = fx };
        http_request_opts o = { .url = u, .on_done = on_done_free_client, .userdata = &f };
        http_request_opts o2 = { .url = u2, .on_done = on_done, .userdata = &f.other };

        assert_int_equal(http_request_start(fx->client, &o2, NULL, &err), 0);
        assert_int_equal(http_request_start(fx->client, &o, NULL, &err), 0);
        run_until(fx, &f.done);
        assert_null(fx->client);
        (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
        assert_false(f.other.done);
}

static void test_unix_socket(void **state)
{
        peer p;
        uv_loop_t loop;
        http_client *c;
        corral_error err = { 0 };
        result r = { 0 };
        http_request_opts o = { .url = "http://localhost/echo", .method = "POST",
                                .body = "over a socket", .body_len = 13 };

        peer_start(&p, true);
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(http_client_new(&loop, &c, &err), 0);
        o.unix_socket = p.sock;
        o.on_done = on_done;
        o.userdata = &r;
        assert_int_equal(http_request_start(c, &o, NULL, &err), 0);
        while (!r.done)
                (void)uv_run(&loop, UV_RUN_ONCE);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "\"body\":\"over a socket\""));
        c = http_client_free(c);
        (void)uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&loop), 0);
        peer_stop(&p);
        result_done(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_get, setup, teardown),
                cmocka_unit_test_setup_teardown(test_post_echo, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_and_404, setup, teardown),
                cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_header_cap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_urls, setup, teardown),
                cmocka_unit_test_setup_teardown(test_redirects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_streaming, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_many, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_in_callback, setup, teardown),
                cmocka_unit_test(test_unix_socket),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
