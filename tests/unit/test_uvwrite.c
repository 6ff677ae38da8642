/* The capped stream writer (src/util/uvwrite.c) on a socketpair whose peer
 * reads only when told to: direct writes, queueing up to the cap, in-order
 * delivery, completion callbacks, cancellation on close and a dead peer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "corral/macro.h"
#include "corral/uvwrite.h"

typedef struct fixture {
        uv_loop_t loop;
        uv_pipe_t pipe; /* our end */
        int peer;       /* the other end, read by hand */
        size_t queued;
        unsigned done_calls;
        int last_status;
} fixture;

static void on_done(void *owner, int status)
{
        fixture *fx = owner;

        fx->done_calls++;
        fx->last_status = status;
}

static void fixture_init(fixture *fx)
{
        int sv[2];

        memset(fx, 0, sizeof(*fx));
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        /* A small buffer makes the queue fill quickly. */
        {
                int sz = 4096;
                (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
                (void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
        }
        assert_int_equal(uv_loop_init(&fx->loop), 0);
        assert_int_equal(uv_pipe_init(&fx->loop, &fx->pipe, 0), 0);
        assert_int_equal(uv_pipe_open(&fx->pipe, sv[0]), 0);
        fx->peer = sv[1];
        assert_int_equal(fcntl(fx->peer, F_SETFL, O_NONBLOCK), 0);
}

static void fixture_done(fixture *fx)
{
        if (!uv_is_closing((uv_handle_t *)&fx->pipe))
                uv_close((uv_handle_t *)&fx->pipe, NULL);
        (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&fx->loop), 0);
        if (fx->peer >= 0)
                (void)close(fx->peer);
}

/* Reads what the peer has into out (up to cap), running the loop so queued
 * writes proceed, until want bytes arrived or nothing moves any more. */
static size_t drain(fixture *fx, char *out, size_t cap, size_t want)
{
        size_t got = 0;
        int idle = 0;

        while (got < want && idle < 200) {
                ssize_t n = read(fx->peer, out + got, cap - got);
                if (n > 0) {
                        got += (size_t)n;
                        idle = 0;
                } else {
                        idle++;
                        (void)uv_run(&fx->loop, UV_RUN_NOWAIT);
                        (void)usleep(1000);
                }
        }
        (void)uv_run(&fx->loop, UV_RUN_NOWAIT);
        return got;
}

static void test_direct_write(void **state)
{
        fixture fx;
        char buf[16] = {0};

        fixture_init(&fx);
        assert_int_equal(uvwrite_send((uv_stream_t *)&fx.pipe, &fx.queued, 1024, "hello", 5,
                                      on_done, &fx),
                         0);
        assert_int_equal(uvwrite_send((uv_stream_t *)&fx.pipe, &fx.queued, 1024, "", 0, on_done,
                                      &fx),
                         0);
        /* An idle stream takes small data at once: nothing queued, no callback. */
        assert_int_equal(fx.queued, 0);
        assert_int_equal(drain(&fx, buf, sizeof(buf), 5), 5);
        assert_memory_equal(buf, "hello", 5);
        assert_int_equal(fx.done_calls, 0);
        fixture_done(&fx);
}

static void test_cap_and_order(void **state)
{
        enum { CHUNK = 1000, CAP = 64 * 1024 };
        fixture fx;
        _cleanup_free_ char *chunk = xmalloc(CHUNK);
        _cleanup_free_ char *in = NULL;
        size_t sent = 0, got;
        unsigned accepted = 0;
        int r = 0;

        fixture_init(&fx);
        /* One write larger than the cap is refused outright. */
        assert_int_equal(uvwrite_send((uv_stream_t *)&fx.pipe, &fx.queued, 10, "0123456789a", 11,
                                      on_done, &fx),
                         -ENOBUFS);
        /* The peer does not read: writes queue until the cap refuses one. */
        for (unsigned i = 0; i < 10000; i++) {
                memset(chunk, 'a' + (int)(i % 26), CHUNK);
                r = uvwrite_send((uv_stream_t *)&fx.pipe, &fx.queued, CAP, chunk, CHUNK, on_done,
                                 &fx);
                if (r < 0)
                        break;
                sent += CHUNK;
                accepted++;
        }
        assert_int_equal(r, -ENOBUFS);
        assert_true(fx.queued > 0);
        assert_true(fx.queued <= CAP);
        assert_true(fx.queued + CHUNK > CAP);
        /* Everything accepted arrives, in order, and the count returns to 0. */
        in = xmalloc(sent + 1);
        got = drain(&fx, in, sent + 1, sent);
        assert_int_equal(got, sent);
        for (unsigned i = 0; i < accepted; i++)
                assert_int_equal(in[(size_t)i * CHUNK], 'a' + (int)(i % 26));
        assert_int_equal(fx.queued, 0);
        assert_true(fx.done_calls > 0);
        assert_int_equal(fx.last_status, 0);
        fixture_done(&fx);
}

static void test_close_cancels(void **state)
{
        enum { CHUNK = 8192 };
        fixture fx;
        _cleanup_free_ char *chunk = xcalloc(1, CHUNK);
        unsigned queued_writes = 0;

        fixture_init(&fx);
        for (unsigned i = 0; i < 64; i++) {
                size_t before = fx.queued;
                assert_int_equal(uvwrite_send((uv_stream_t *)&fx.pipe, &fx.queued, 1 << 20, chunk,
                                              CHUNK, on_done, &fx),
                                 0);
                queued_writes += fx.queued > before;
        }
        assert_true(queued_writes > 0);
        uv_close((uv_handle_t *)&fx.pipe, NULL);
        (void)uv_run(&fx.loop, UV_RUN_DEFAULT);
        assert_int_equal(fx.done_calls, queued_writes);
        assert_int_equal(fx.last_status, UV_ECANCELED);
        assert_int_equal(fx.queued, 0);
        fixture_done(&fx);
}

static void test_dead_peer(void **state)
{
        fixture fx;

        fixture_init(&fx);
        (void)close(fx.peer);
        fx.peer = -1;
        /* EPIPE at once, reported to the caller; nothing queued. */
        assert_true(uvwrite_send((uv_stream_t *)&fx.pipe, &fx.queued, 1024, "x", 1, on_done,
                                 &fx) < 0);
        assert_int_equal(fx.queued, 0);
        assert_int_equal(fx.done_calls, 0);
        fixture_done(&fx);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_direct_write),
                cmocka_unit_test(test_cap_and_order),
                cmocka_unit_test(test_close_cancels),
                cmocka_unit_test(test_dead_peer),
        };

        (void)signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
